//! `browserfarm-bench`: the same pages, the same machine, one run, four ways to
//! drive Chromium: A raw chromiumoxide (the floor), B browserfarm with its embedded
//! pool, C browserfarm gateway over three local agents, D Playwright MCP. Every
//! MCP contender is driven over its real stdio interface. Then the sessions row
//! (`sessions.rs`): memory per open browser session and session-open latency at
//! many sessions at once, browserfarm over streamable HTTP against Playwright MCP.
//! Prints markdown tables; see docs/benchmarks.md.

mod corpus;
mod heavy;
mod mcp;
mod micro;
mod raw;
mod rss;
mod sessions;
mod shop;
mod tasks;
mod toollist;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use tokio::process::Child;

use crate::corpus::Corpus;
use crate::mcp::McpClient;
use crate::raw::Raw;
use crate::rss::PeakRss;

/// Playwright MCP version the published figures were taken with.
const PLAYWRIGHT_MCP_VERSION: &str = "0.0.83";

#[derive(Parser)]
#[command(about = "Benchmark browserfarm against raw CDP and Playwright MCP")]
struct Args {
    /// Chromium executable shared by every contender.
    #[arg(long, default_value = "/usr/bin/chromium")]
    chrome: String,
    /// browserfarm binary (default: next to this one, i.e. target/release).
    #[arg(long)]
    browserfarm: Option<String>,
    /// Playwright MCP launcher; default: installed from npm into a cache directory.
    #[arg(long)]
    playwright_mcp: Option<String>,
    #[arg(long)]
    skip_playwright: bool,
    #[arg(long)]
    skip_farm: bool,
    /// Latency samples per measurement.
    #[arg(long, default_value_t = 30)]
    samples: usize,
    /// Distinct URLs per throughput run.
    #[arg(long, default_value_t = 200)]
    urls: usize,
    /// Concurrency levels for throughput.
    #[arg(long, value_delimiter = ',', default_value = "1,4,8")]
    concurrency: Vec<usize>,
    /// Run only the micro-benchmarks (HTML → markdown, breaker, queue): no browser.
    #[arg(long)]
    micro: bool,
    /// Sessions row: how many browser sessions to hold open at once, one
    /// measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    sessions: Vec<usize>,
    /// Sessions row: measure Playwright MCP only up to this many sessions. It
    /// runs one instance and one Chromium a session: 64 took ~12 GiB and over a
    /// minute to open on 2 cores, too much for a default run on a small machine.
    #[arg(long, default_value_t = 16)]
    playwright_max_sessions: usize,
    /// Sessions row: warm opens (one more session beside the others) per level.
    #[arg(long, default_value_t = 10)]
    warm_tries: usize,
    /// Heavy-pages table: reads timed one after another.
    #[arg(long, default_value_t = 10)]
    heavy_samples: usize,
    /// Heavy-pages table: pages in the batch run, read `--heavy-concurrency` at once.
    #[arg(long, default_value_t = 16)]
    heavy_batch: usize,
    #[arg(long, default_value_t = 4)]
    heavy_concurrency: usize,
    /// Task suite: print every tool call and result on stderr.
    #[arg(long)]
    transcript: bool,
    /// Run only one part: the read table, heavy pages, the task suite, the
    /// sessions row or the tool list.
    #[arg(long, value_enum)]
    only: Option<Part>,
    /// Only serve the corpus (prints its base URL) until interrupted: for
    /// profiling a contender by hand.
    #[arg(long)]
    serve: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// Cold start, read and screenshot latency, throughput, bytes, peak memory.
    Read,
    /// Memory per open session and session-open latency at `--sessions`.
    Sessions,
    /// Bytes of `tools/list`, against Playwright MCP's.
    Tools,
    /// Heavy news pages: read p50, batch pages/s, bytes, and whether each read
    /// had the whole content.
    Heavy,
    /// The agent-task suite: tasks done, calls and bytes per task.
    Tasks,
}

#[derive(Default)]
struct Row {
    name: String,
    cold_ms: f64,
    read: Vec<f64>,
    shot: Vec<f64>,
    throughput: Vec<f64>,
    article_bytes: usize,
    listing_bytes: usize,
    /// Bytes of the tool an agent acts from (our `snapshot`, Playwright's
    /// `browser_snapshot`) for the article and the listing; 0 when not measured.
    snapshot_bytes: (usize, usize),
    peak_rss: u64,
    note: String,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.micro {
        micro::run().await;
        return Ok(());
    }
    let corpus = Corpus::start().await?;
    if args.serve {
        println!("{}", corpus.url(""));
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    let browserfarm = args.browserfarm.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("browserfarm")))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "browserfarm".into())
    });
    print_machine(&args.chrome);
    let part = |p: Part| args.only.is_none() || args.only == Some(p);
    if part(Part::Read) {
        read_table(&args, &corpus, &browserfarm).await?;
    }
    if part(Part::Heavy) {
        heavy_table(&args, &corpus, &browserfarm).await?;
    }
    if part(Part::Tasks) {
        let local = vec!["mcp".to_owned(), "--chrome".into(), args.chrome.clone()];
        let ours = tasks::run(
            tasks::Server::Browserfarm,
            &browserfarm,
            &local,
            &corpus,
            args.transcript,
        )
        .await?;
        let theirs = match playwright(&args) {
            Some(launcher) => Some(
                tasks::run(
                    tasks::Server::Playwright,
                    &launcher,
                    &playwright_args(&args.chrome),
                    &corpus,
                    args.transcript,
                )
                .await?,
            ),
            None => None,
        };
        tasks::print(
            &ours,
            theirs.as_deref(),
            &format!("Playwright MCP {PLAYWRIGHT_MCP_VERSION}"),
        );
    }
    if part(Part::Sessions) {
        sessions_table(&args, &corpus, &browserfarm).await?;
    }
    if part(Part::Tools) {
        let launcher = playwright(&args);
        let reference = launcher
            .as_deref()
            .map(|l| (l, playwright_args(&args.chrome)));
        toollist::run(&browserfarm, &args.chrome, reference).await?;
    }
    Ok(())
}

/// Contenders A to D on reads, screenshots and throughput.
async fn read_table(args: &Args, corpus: &Corpus, browserfarm: &str) -> anyhow::Result<()> {
    let mut rows = vec![raw_row(args, corpus).await?];
    eprintln!("A done");
    let local = vec!["mcp".to_owned(), "--chrome".into(), args.chrome.clone()];
    rows.push(
        browserfarm_row(
            "B: browserfarm local",
            browserfarm,
            local,
            &[],
            args,
            corpus,
        )
        .await?,
    );
    eprintln!("B done");
    if !args.skip_farm {
        rows.push(
            farm_row(
                "C: browserfarm farm (3 agents)",
                None,
                browserfarm,
                args,
                corpus,
            )
            .await?,
        );
        eprintln!("C done");
        let dir =
            std::env::temp_dir().join(format!("browserfarm-bench-tls-{}", std::process::id()));
        let certs = browserfarm_testkit::TlsFiles::make(&dir, "bench");
        let tls = farm_row(
            "C': farm over mutual TLS",
            Some(&certs),
            browserfarm,
            args,
            corpus,
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        rows.push(tls?);
        eprintln!("C' done");
    }
    if let Some(launcher) = playwright(args) {
        rows.push(playwright_row(&launcher, args, corpus).await?);
        eprintln!("D done");
    }
    print_table(&rows, args);
    Ok(())
}

/// A gateway over three agents on loopback; with `tls`, every agent serves
/// HTTPS and requires the gateway's client certificate, to show what TLS costs.
async fn farm_row(
    name: &str,
    tls: Option<&browserfarm_testkit::TlsFiles>,
    browserfarm: &str,
    args: &Args,
    corpus: &Corpus,
) -> anyhow::Result<Row> {
    let path = |p: &std::path::Path| p.display().to_string();
    let mut agents = Vec::new();
    let mut gateway = vec!["mcp".to_owned(), "--local-pool=false".into()];
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(files) = tls {
        gateway.extend([
            "--ca-file".to_owned(),
            path(&files.ca),
            "--tls-client-cert".into(),
            path(&files.client_cert),
            "--tls-client-key".into(),
            path(&files.client_key),
        ]);
    }
    for _ in 0..3 {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let mut agent = vec!["agent", "--listen", &listen, "--chrome", &args.chrome];
        let tls_flags: Vec<String> = tls
            .map(|f| {
                vec![
                    "--tls-cert".to_owned(),
                    path(&f.cert),
                    "--tls-key".into(),
                    path(&f.key),
                    "--tls-client-ca".into(),
                    path(&f.ca),
                ]
            })
            .unwrap_or_default();
        agent.extend(tls_flags.iter().map(String::as_str));
        agents.push(serve(browserfarm, &agent, port).await?);
        gateway.extend(["--node".to_owned(), format!("{scheme}://127.0.0.1:{port}")]);
    }
    let agent_pids: Vec<u32> = agents.iter().filter_map(|c| c.id()).collect();
    let row = browserfarm_row(name, browserfarm, gateway, &agent_pids, args, corpus).await;
    for agent in agents {
        terminate(agent).await;
    }
    row
}

/// Heavy pages: raw chromiumoxide, browserfarm (default and `--full-reads`),
/// Playwright MCP.
async fn heavy_table(args: &Args, corpus: &Corpus, browserfarm: &str) -> anyhow::Result<()> {
    let options = heavy::Options {
        samples: args.heavy_samples,
        batch: args.heavy_batch,
        concurrency: args.heavy_concurrency,
    };
    let mut rows = vec![heavy::raw(&args.chrome, corpus, &options).await?];
    let local = |extra: &[&str]| {
        let mut a = vec!["mcp".to_owned(), "--chrome".into(), args.chrome.clone()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    rows.push(
        heavy::browserfarm(
            "B: browserfarm local",
            browserfarm,
            local(&[]),
            3000,
            corpus,
            &options,
        )
        .await?,
    );
    rows.push(
        heavy::browserfarm(
            "B': browserfarm --full-reads",
            browserfarm,
            local(&["--full-reads"]),
            4000,
            corpus,
            &options,
        )
        .await?,
    );
    if let Some(launcher) = playwright(args) {
        let pw_args = playwright_args(&args.chrome);
        rows.push(heavy::playwright(&launcher, pw_args, corpus, &options).await?);
    }
    heavy::print(&rows, &options);
    Ok(())
}

/// browserfarm against Playwright MCP on many open sessions.
async fn sessions_table(args: &Args, corpus: &Corpus, browserfarm: &str) -> anyhow::Result<()> {
    let options = sessions::Options {
        levels: args.sessions.clone(),
        playwright_max: args.playwright_max_sessions,
        warm_tries: args.warm_tries,
    };
    let mut rows = vec![sessions::browserfarm(browserfarm, &args.chrome, corpus, &options).await?];
    if let Some(launcher) = playwright(args) {
        let pw_args = playwright_args(&args.chrome);
        rows.push(sessions::playwright(&launcher, pw_args, corpus, &options).await?);
    }
    sessions::print(&rows, &options);
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("nothing listens on port {port}")
}

/// Starts a server (`program args`, output discarded) and waits until it listens
/// on `port`. Killed if dropped, so a failed run leaves nothing behind.
async fn serve(program: &str, args: &[&str], port: u16) -> anyhow::Result<Child> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    wait_port(port).await?;
    Ok(child)
}

/// SIGTERM, then a bounded wait: a browserfarm server closes its Chromium
/// processes on the way out, which a kill would leave to the next start's reaper.
async fn terminate(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
}

fn print_machine(chrome: &str) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<u64>().ok())
                })
        })
        .unwrap_or(0);
    let version = std::process::Command::new(chrome)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!(
        "Machine: {cores} cores, {:.1} GiB RAM; {version}; Playwright MCP {PLAYWRIGHT_MCP_VERSION}\n",
        mem as f64 / 1024.0 / 1024.0
    );
}

async fn raw_row(args: &Args, corpus: &Corpus) -> anyhow::Result<Row> {
    let own = rss::tree_pss(&[std::process::id()]);
    let peak = PeakRss::watch(vec![std::process::id()]);
    let started = Instant::now();
    let (raw, _) = Raw::launch(&args.chrome).await?;
    let page = raw.page().await?;
    Raw::read(&page, &corpus.url("/p/0")).await?;
    let mut row = Row {
        name: "A: raw chromiumoxide (no MCP)".into(),
        cold_ms: ms(started.elapsed()),
        note: "goto + content(); HTML bytes".into(),
        ..Row::default()
    };
    for i in 0..args.samples {
        let t = Instant::now();
        Raw::read(&page, &corpus.url(&format!("/p/{}", 1000 + i))).await?;
        row.read.push(ms(t.elapsed()));
        let t = Instant::now();
        Raw::screenshot(&page, &corpus.url(&format!("/p/{}", 2000 + i))).await?;
        row.shot.push(ms(t.elapsed()));
    }
    row.article_bytes = Raw::read(&page, &corpus.url("/article")).await?;
    row.listing_bytes = Raw::read(&page, &corpus.url("/listing")).await?;
    for &c in &args.concurrency {
        let mut pages = Vec::new();
        for _ in 0..c {
            pages.push(raw.page().await?);
        }
        let urls: Vec<String> = (0..args.urls)
            .map(|i| corpus.url(&format!("/p/{}", 10_000 * c + i)))
            .collect();
        let t = Instant::now();
        let work = pages.iter().enumerate().map(|(w, page)| {
            let mine: Vec<&String> = urls.iter().skip(w).step_by(c).collect();
            async move {
                for url in mine {
                    Raw::read(page, url).await?;
                }
                anyhow::Ok(())
            }
        });
        for r in futures::future::join_all(work).await {
            r?;
        }
        row.throughput
            .push(args.urls as f64 / t.elapsed().as_secs_f64());
        for page in pages {
            let _ = page.close().await;
        }
    }
    row.peak_rss = peak.peak().saturating_sub(own);
    drop(page);
    raw.close().await;
    Ok(row)
}

async fn browserfarm_row(
    name: &str,
    program: &str,
    args_list: Vec<String>,
    extra_pids: &[u32],
    args: &Args,
    corpus: &Corpus,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let mut client = McpClient::start(program, &args_list).await?;
    let mut pids = extra_pids.to_vec();
    pids.extend(client.pid());
    let peak = PeakRss::watch(pids);
    let first = client
        .call("scrape", json!({"url": corpus.url("/p/0")}))
        .await?;
    anyhow::ensure!(!first.is_error, "{name}: {}", first.first_text);
    let mut row = Row {
        name: name.into(),
        cold_ms: ms(started.elapsed()),
        note: "scrape (markdown of main content); throughput via batch_scrape".into(),
        ..Row::default()
    };
    for i in 0..args.samples {
        let r = client
            .call(
                "scrape",
                json!({"url": corpus.url(&format!("/p/{}", 1000 + i))}),
            )
            .await?;
        row.read.push(ms(r.elapsed));
        let r = client
            .call(
                "screenshot",
                json!({"url": corpus.url(&format!("/p/{}", 2000 + i))}),
            )
            .await?;
        row.shot.push(ms(r.elapsed));
    }
    row.article_bytes = client
        .call("scrape", json!({"url": corpus.url("/article")}))
        .await?
        .text_bytes;
    row.listing_bytes = client
        .call("scrape", json!({"url": corpus.url("/listing")}))
        .await?
        .text_bytes;
    let mut snapshot_of = async |path: &str| -> anyhow::Result<usize> {
        client
            .call("navigate", json!({"url": corpus.url(path)}))
            .await?;
        // Every part of a split snapshot: what an agent pays to see the whole page.
        let first = client.call("snapshot", json!({})).await?;
        let mut bytes = first.text_bytes;
        let parts = first
            .first_text
            .split("[snapshot page 1/")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(1);
        for page in 2..=parts {
            bytes += client
                .call("snapshot", json!({"page": page}))
                .await?
                .text_bytes;
        }
        Ok(bytes)
    };
    row.snapshot_bytes = (
        snapshot_of("/article").await?,
        snapshot_of("/listing").await?,
    );
    for &c in &args.concurrency {
        let urls: Vec<String> = (0..args.urls)
            .map(|i| corpus.url(&format!("/p/{}", 10_000 * c + i)))
            .collect();
        let r = client
            .call("batch_scrape", json!({"urls": urls, "concurrency": c}))
            .await?;
        anyhow::ensure!(
            r.first_text
                .contains(&format!("{} ok, 0 failed", args.urls)),
            "{name}: batch at concurrency {c}: {}",
            r.first_text.lines().next().unwrap_or("")
        );
        row.throughput
            .push(args.urls as f64 / r.elapsed.as_secs_f64());
    }
    row.peak_rss = peak.peak();
    client.stop().await;
    Ok(row)
}

/// Playwright MCP's launcher, or None (said on stderr) when it is skipped or
/// cannot be installed.
fn playwright(args: &Args) -> Option<String> {
    if args.skip_playwright {
        return None;
    }
    playwright_launcher(args)
        .map_err(|e| eprintln!("skipping Playwright MCP: {e:#}"))
        .ok()
}

fn playwright_launcher(args: &Args) -> anyhow::Result<String> {
    if let Some(path) = &args.playwright_mcp {
        return Ok(path.clone());
    }
    let dir = std::env::temp_dir().join(format!(
        "browserfarm-bench-playwright-{PLAYWRIGHT_MCP_VERSION}"
    ));
    let launcher = dir.join("node_modules/.bin/playwright-mcp");
    if !launcher.exists() {
        eprintln!(
            "installing @playwright/mcp@{PLAYWRIGHT_MCP_VERSION} into {}",
            dir.display()
        );
        std::fs::create_dir_all(&dir)?;
        let status = std::process::Command::new("npm")
            .args(["install", "--silent", "--prefix"])
            .arg(&dir)
            .arg(format!("@playwright/mcp@{PLAYWRIGHT_MCP_VERSION}"))
            // Use the system Chromium; never download browsers.
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .status()
            .context("npm is needed to install Playwright MCP")?;
        anyhow::ensure!(status.success(), "npm install @playwright/mcp failed");
    }
    Ok(launcher.display().to_string())
}

fn playwright_args(chrome: &str) -> Vec<String> {
    let mut a: Vec<String> = ["--headless", "--isolated", "--executable-path", chrome]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    }) {
        a.push("--no-sandbox".into());
    }
    a
}

/// Playwright MCP's read: navigate, then snapshot (navigate's reply points to a
/// snapshot file rather than carrying it).
async fn pw_read(client: &mut McpClient, url: &str) -> anyhow::Result<(Duration, usize)> {
    let nav = client.call("browser_navigate", json!({"url": url})).await?;
    anyhow::ensure!(!nav.is_error, "browser_navigate: {}", nav.first_text);
    let snap = client.call("browser_snapshot", json!({})).await?;
    Ok((nav.elapsed + snap.elapsed, nav.text_bytes + snap.text_bytes))
}

async fn playwright_row(launcher: &str, args: &Args, corpus: &Corpus) -> anyhow::Result<Row> {
    let pw_args = playwright_args(&args.chrome);
    let started = Instant::now();
    let mut client = McpClient::start(launcher, &pw_args).await?;
    let peak = PeakRss::watch(client.pid().into_iter().collect());
    pw_read(&mut client, &corpus.url("/p/0")).await?;
    let mut row = Row {
        name: format!("D: Playwright MCP {PLAYWRIGHT_MCP_VERSION}"),
        cold_ms: ms(started.elapsed()),
        note: "browser_navigate + browser_snapshot; N instances for concurrency N".into(),
        ..Row::default()
    };
    for i in 0..args.samples {
        let (d, _) = pw_read(&mut client, &corpus.url(&format!("/p/{}", 1000 + i))).await?;
        row.read.push(ms(d));
        let nav = client
            .call(
                "browser_navigate",
                json!({"url": corpus.url(&format!("/p/{}", 2000 + i))}),
            )
            .await?;
        let shot = client.call("browser_take_screenshot", json!({})).await?;
        row.shot.push(ms(nav.elapsed + shot.elapsed));
    }
    row.article_bytes = pw_read(&mut client, &corpus.url("/article")).await?.1;
    let article_snapshot = client.call("browser_snapshot", json!({})).await?.text_bytes;
    row.listing_bytes = pw_read(&mut client, &corpus.url("/listing")).await?.1;
    let listing_snapshot = client.call("browser_snapshot", json!({})).await?.text_bytes;
    row.snapshot_bytes = (article_snapshot, listing_snapshot);
    let mut peak_all = peak.peak();
    drop(peak);
    client.stop().await;
    for &c in &args.concurrency {
        let mut clients = Vec::new();
        for _ in 0..c {
            let mut cl = McpClient::start(launcher, &pw_args).await?;
            pw_read(&mut cl, &corpus.url("/p/1")).await?; // warm: browser started
            clients.push(cl);
        }
        let watch = PeakRss::watch(clients.iter().filter_map(McpClient::pid).collect());
        let urls: Vec<String> = (0..args.urls)
            .map(|i| corpus.url(&format!("/p/{}", 10_000 * c + i)))
            .collect();
        let t = Instant::now();
        let work = clients.iter_mut().enumerate().map(|(w, cl)| {
            let mine: Vec<String> = urls.iter().skip(w).step_by(c).cloned().collect();
            async move {
                for url in mine {
                    pw_read(cl, &url).await?;
                }
                anyhow::Ok(())
            }
        });
        for r in futures::future::join_all(work).await {
            r?;
        }
        row.throughput
            .push(args.urls as f64 / t.elapsed().as_secs_f64());
        peak_all = peak_all.max(watch.peak());
        drop(watch);
        for cl in clients {
            cl.stop().await;
        }
    }
    row.peak_rss = peak_all;
    Ok(row)
}

fn print_table(rows: &[Row], args: &Args) {
    let b = rows.iter().find(|r| r.name.starts_with("B:"));
    let a = rows.iter().find(|r| r.name.starts_with("A:"));
    let ratio =
        |x: f64, base: Option<f64>| base.map_or(String::new(), |b| format!(" ({:.2}×)", x / b));
    let conc: Vec<String> = args
        .concurrency
        .iter()
        .map(|c| format!("pages/s c={c}"))
        .collect();
    println!(
        "| contender | cold start ms | read p50 ms (×B, ×A) | read p95 ms | screenshot p50 ms | screenshot p95 ms | {} | article bytes | listing bytes | snapshot bytes article / listing | peak PSS MiB |",
        conc.join(" | ")
    );
    println!(
        "|---|---:|---:|---:|---:|---:|{}---:|---:|---:|---:|",
        "---:|".repeat(args.concurrency.len())
    );
    for r in rows {
        let read50 = pct(&r.read, 0.5);
        let thr: Vec<String> = r
            .throughput
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "{t:.1}{}",
                    ratio(*t, b.and_then(|b| b.throughput.get(i).copied()))
                )
            })
            .collect();
        println!(
            "| {} | {:.0} | {:.1}{}{} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {:.0} |",
            r.name,
            r.cold_ms,
            read50,
            ratio(read50, b.map(|b| pct(&b.read, 0.5))),
            ratio(read50, a.map(|a| pct(&a.read, 0.5))),
            pct(&r.read, 0.95),
            pct(&r.shot, 0.5),
            pct(&r.shot, 0.95),
            thr.join(" | "),
            r.article_bytes,
            r.listing_bytes,
            match r.snapshot_bytes {
                (0, 0) => "–".to_owned(),
                (a, l) => format!("{a} / {l}"),
            },
            r.peak_rss as f64 / 1024.0 / 1024.0
        );
    }
    println!();
    for r in rows {
        println!("- {}: {}", r.name, r.note);
    }
    println!(
        "\nRatios: throughput against B; read latency against B, then A. One run; compare within it."
    );
}

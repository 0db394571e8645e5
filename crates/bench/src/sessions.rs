//! The sessions row (issue 18, dense sessions): what an open browser session costs
//! in memory, and how long opening one takes, with N sessions open at once.
//!
//! - browserfarm: one `browserfarm mcp --http` server with default flags, fresh
//!   for each N; N streamable-HTTP MCP sessions (2025-11-25), each of which gets
//!   its own browser session (an incognito context in a shared Chromium).
//! - Playwright MCP: one browser per instance, so N sessions are N instances over
//!   stdio, each with its own Chromium.
//!
//! Open: from a session's first tool call (a navigate to a small corpus page) to
//! its answer. Every handshake is done before the first navigate, and then all N
//! go at once, so the burst times opening browser sessions, not MCP handshakes.
//! Memory: PSS of the whole process trees (server or instances and every
//! Chromium process under them) once all N are open and idle, divided by N.
//! Warm open: with N − 1 sessions open, one more session is opened, timed on its
//! first navigate and closed, several times in a row with a pause before each:
//! the cost a new agent pays on a server that is already running others.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::future::try_join_all;
use serde_json::{Value, json};

use crate::corpus::Corpus;
use crate::mcp::{McpClient, Reply, initialize_params, initialized, result_of};
use crate::rss::{tree_by_kind, tree_cpu};
use crate::{free_port, ms, pct, serve, terminate};

/// The streamable-HTTP revision with protocol sessions (`Mcp-Session-Id`).
const PROTOCOL: &str = "2025-11-25";
/// After the handshakes, before the burst: lets browserfarm's `--min-browsers`
/// process finish warming up (as on a server that has been running a while) and
/// the Playwright instances finish starting Node, so neither is timed.
const SETTLE: Duration = Duration::from_secs(3);
/// After the burst, before reading PSS: the pages are loaded and idle, and
/// Chromium has dropped what it only needed while loading.
const IDLE: Duration = Duration::from_secs(2);
/// Before each warm open: a new agent arrives at a server that has had a moment
/// since the last one, long enough for browserfarm to open its spare context
/// again (it waits for opens to pause, then starts a renderer). Playwright MCP
/// has nothing to prepare; it waits all the same.
const WARM_GAP: Duration = Duration::from_millis(1500);
/// No single request of the bench waits longer than this (mcp.rs's bound too).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

pub struct Options {
    /// Sessions open at once, one measurement each.
    pub levels: Vec<usize>,
    /// Playwright MCP is measured only up to this many sessions: one Chromium
    /// each, which at 64 takes minutes and many GiB on a small machine.
    pub playwright_max: usize,
    /// Warm opens per level.
    pub warm_tries: usize,
}

/// One contender at one level.
struct Level {
    sessions: usize,
    /// First-navigate latency of each of the N sessions opened at once, ms.
    open: Vec<f64>,
    /// First-navigate latency of each warm open, ms.
    warm: Vec<f64>,
    /// Processes and PSS (bytes) by kind with all N open and idle.
    kinds: BTreeMap<String, (usize, u64)>,
    /// CPU time the process trees used for the burst of N opens: spread over
    /// every core, the floor under the burst's latency.
    burst_cpu: Duration,
}

impl Level {
    fn pss(&self) -> u64 {
        self.kinds.values().map(|(_, pss)| pss).sum()
    }

    fn processes(&self) -> usize {
        self.kinds.values().map(|(count, _)| count).sum()
    }
}

/// A contender's measured levels; levels above its cap are left out.
pub struct Row {
    name: String,
    levels: Vec<Level>,
    skipped: Vec<usize>,
}

/// How the level loop opens, drives and closes one contender's sessions.
trait Contender {
    type Session;
    async fn open(&self) -> anyhow::Result<Self::Session>;
    /// Navigates `session` to `url`; the call's latency.
    async fn navigate(&self, session: &mut Self::Session, url: &str) -> anyhow::Result<Duration>;
    async fn close(&self, session: Self::Session);
    /// The roots of the process trees that hold `open`.
    fn roots(&self, open: &[Self::Session]) -> Vec<u32>;
}

/// Measures browserfarm at each level, a fresh server for each so that no level
/// inherits another's processes.
pub async fn browserfarm(
    program: &str,
    chrome: &str,
    corpus: &Corpus,
    options: &Options,
) -> anyhow::Result<Row> {
    let mut levels = Vec::new();
    for &n in &options.levels {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let server = serve(
            program,
            &["mcp", "--http", &listen, "--chrome", chrome],
            port,
        )
        .await?;
        let farm = Farm {
            http: reqwest::Client::new(),
            url: format!("http://{listen}/mcp"),
            server: server.id().context("the server has no pid")?,
        };
        let level = level(&farm, n, corpus, options.warm_tries).await;
        terminate(server).await;
        levels.push(level.with_context(|| format!("browserfarm, {n} sessions"))?);
        eprintln!("sessions: browserfarm {n} done");
    }
    Ok(Row {
        name: "browserfarm (one server)".into(),
        levels,
        skipped: Vec::new(),
    })
}

/// Measures Playwright MCP at each level up to `options.playwright_max`.
pub async fn playwright(
    launcher: &str,
    args: Vec<String>,
    corpus: &Corpus,
    options: &Options,
) -> anyhow::Result<Row> {
    let contender = Playwright {
        launcher: launcher.to_owned(),
        args,
    };
    let (run, skipped): (Vec<usize>, Vec<usize>) = options
        .levels
        .iter()
        .partition(|&&n| n <= options.playwright_max);
    let mut levels = Vec::new();
    for n in run {
        let level = level(&contender, n, corpus, options.warm_tries).await;
        levels.push(level.with_context(|| format!("Playwright MCP, {n} sessions"))?);
        eprintln!("sessions: Playwright MCP {n} done");
    }
    Ok(Row {
        name: format!(
            "Playwright MCP {} (one instance a session)",
            crate::PLAYWRIGHT_MCP_VERSION
        ),
        levels,
        skipped,
    })
}

/// One level: N sessions opened at once, their memory once idle, then warm opens
/// beside N − 1 of them. Every session is closed before returning.
async fn level<C: Contender>(
    contender: &C,
    n: usize,
    corpus: &Corpus,
    warm_tries: usize,
) -> anyhow::Result<Level> {
    let mut open = try_join_all((0..n).map(|_| contender.open())).await?;
    tokio::time::sleep(SETTLE).await;
    let roots = contender.roots(&open);
    let cpu_before = tree_cpu(&roots);
    // Distinct pages, so nothing is served from a cache.
    let burst = open.iter_mut().enumerate().map(|(i, session)| {
        let url = corpus.url(&format!("/p/{}", 100_000 * n + i));
        async move { contender.navigate(session, &url).await }
    });
    let opens = try_join_all(burst).await?;
    let burst_cpu = tree_cpu(&roots).saturating_sub(cpu_before);
    tokio::time::sleep(IDLE).await;
    let kinds = tree_by_kind(&contender.roots(&open));
    // One slot free, so the warm opens fit wherever N sessions do.
    if let Some(last) = open.pop() {
        contender.close(last).await;
    }
    let mut warm = Vec::new();
    for t in 0..warm_tries {
        tokio::time::sleep(WARM_GAP).await;
        let mut session = contender.open().await?;
        let url = corpus.url(&format!("/p/{}", 100_000 * n + 50_000 + t));
        warm.push(ms(contender.navigate(&mut session, &url).await?));
        contender.close(session).await;
    }
    futures::future::join_all(open.into_iter().map(|s| contender.close(s))).await;
    Ok(Level {
        sessions: n,
        open: opens.into_iter().map(ms).collect(),
        warm,
        kinds,
        burst_cpu,
    })
}

/// A browserfarm server reached over streamable HTTP.
struct Farm {
    http: reqwest::Client,
    url: String,
    server: u32,
}

/// One MCP session on a [`Farm`].
struct HttpSession {
    id: String,
    next_id: u64,
}

impl Farm {
    /// A POST of one JSON-RPC message to `/mcp`, in `session` once it has one.
    async fn post(&self, session: Option<&str>, body: &Value) -> anyhow::Result<reqwest::Response> {
        let mut request = self
            .http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .header("MCP-Protocol-Version", PROTOCOL)
            .timeout(REQUEST_TIMEOUT)
            .body(body.to_string());
        if let Some(id) = session {
            request = request.header("Mcp-Session-Id", id);
        }
        let response = request.send().await.context("POST /mcp")?;
        anyhow::ensure!(
            response.status().is_success(),
            "POST /mcp: HTTP {}",
            response.status()
        );
        Ok(response)
    }

    /// Sends a request and returns its result, with the session id the server
    /// answered with (set by `initialize`).
    async fn request(
        &self,
        session: Option<&str>,
        id: u64,
        method: &str,
        params: Value,
    ) -> anyhow::Result<(Value, Option<String>)> {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self.post(session, &body).await?;
        let assigned = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await?;
        let reply = replies(&text)
            .find(|m| m["id"] == json!(id))
            .with_context(|| format!("no reply to {method}"))?;
        Ok((result_of(&reply, method)?, assigned))
    }

    async fn call(
        &self,
        session: &mut HttpSession,
        tool: &str,
        arguments: Value,
    ) -> anyhow::Result<Reply> {
        session.next_id += 1;
        let started = Instant::now();
        let (result, _) = self
            .request(
                Some(&session.id),
                session.next_id,
                "tools/call",
                json!({"name": tool, "arguments": arguments}),
            )
            .await?;
        Ok(Reply::of(&result, started.elapsed()))
    }
}

/// The JSON-RPC messages of a reply body, a JSON object or an SSE stream (whose
/// `data:` lines carry them; other lines are SSE framing and priming events).
fn replies(body: &str) -> impl Iterator<Item = Value> + '_ {
    let json = serde_json::from_str::<Value>(body).ok();
    let events = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok());
    json.into_iter().chain(events)
}

impl Contender for Farm {
    type Session = HttpSession;

    async fn open(&self) -> anyhow::Result<HttpSession> {
        let (_, id) = self
            .request(None, 0, "initialize", initialize_params(PROTOCOL))
            .await?;
        let id = id.context("initialize: no Mcp-Session-Id")?;
        self.post(Some(&id), &initialized()).await?;
        Ok(HttpSession { id, next_id: 0 })
    }

    async fn navigate(&self, session: &mut HttpSession, url: &str) -> anyhow::Result<Duration> {
        let reply = self.call(session, "navigate", json!({"url": url})).await?;
        anyhow::ensure!(!reply.is_error, "navigate: {}", reply.first_text);
        Ok(reply.elapsed)
    }

    /// `close_session` first, which returns once the browser session is gone
    /// (so the next warm open finds the slot free), then DELETE of the MCP
    /// session, which would close it too but without waiting.
    async fn close(&self, mut session: HttpSession) {
        let _ = self.call(&mut session, "close_session", json!({})).await;
        let _ = self
            .http
            .delete(&self.url)
            .header("Mcp-Session-Id", &session.id)
            .header("MCP-Protocol-Version", PROTOCOL)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await;
    }

    fn roots(&self, _open: &[HttpSession]) -> Vec<u32> {
        vec![self.server]
    }
}

/// Playwright MCP instances over stdio, started on demand.
struct Playwright {
    launcher: String,
    args: Vec<String>,
}

impl Contender for Playwright {
    type Session = McpClient;

    async fn open(&self) -> anyhow::Result<McpClient> {
        McpClient::start(&self.launcher, &self.args).await
    }

    /// Its first call also launches the instance's Chromium: that is what
    /// opening a session costs there.
    async fn navigate(&self, session: &mut McpClient, url: &str) -> anyhow::Result<Duration> {
        let reply = session
            .call("browser_navigate", json!({"url": url}))
            .await?;
        anyhow::ensure!(!reply.is_error, "browser_navigate: {}", reply.first_text);
        Ok(reply.elapsed)
    }

    async fn close(&self, session: McpClient) {
        session.stop().await;
    }

    fn roots(&self, open: &[McpClient]) -> Vec<u32> {
        open.iter().filter_map(McpClient::pid).collect()
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

/// The markdown table, the ratios browserfarm ÷ Playwright at each level both
/// ran, and where each level's memory went.
pub fn print(rows: &[Row], options: &Options) {
    println!(
        "| contender | sessions | open p50 ms | open p95 ms | warm open p50 ms | PSS per session MiB | PSS total MiB | processes |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        for l in &row.levels {
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {} |",
                row.name,
                l.sessions,
                pct(&l.open, 0.5),
                pct(&l.open, 0.95),
                pct(&l.warm, 0.5),
                mib(l.pss()) / l.sessions as f64,
                mib(l.pss()),
                l.processes()
            );
        }
        for n in &row.skipped {
            println!(
                "| {} | {n} | not run | | | | | (over --playwright-max-sessions {}) |",
                row.name, options.playwright_max
            );
        }
    }
    println!();
    print_ratios(rows);
    for row in rows {
        for l in &row.levels {
            let parts: Vec<String> = l
                .kinds
                .iter()
                .map(|(kind, (count, pss))| format!("{count} {kind} {:.0} MiB", mib(*pss)))
                .collect();
            println!("- {}, {}: {}", row.name, l.sessions, parts.join(", "));
        }
    }
    // The floor: the burst's CPU time spread over every core, what the opens
    // cannot beat however they are scheduled.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for row in rows {
        for l in &row.levels {
            let floor = l.burst_cpu.as_secs_f64() / cores as f64;
            let p50 = pct(&l.open, 0.5) / 1000.0;
            println!(
                "- {}, {}: the burst of opens used {:.1} s of CPU, a floor of {floor:.1} s on \
                 {cores} cores; open p50 {p50:.1} s is {:.2}× it",
                row.name,
                l.sessions,
                l.burst_cpu.as_secs_f64(),
                if floor > 0.0 { p50 / floor } else { 0.0 }
            );
        }
    }
}

/// browserfarm ÷ Playwright for PSS per session and the open latencies.
fn print_ratios(rows: &[Row]) {
    let [ours, theirs] = rows else {
        return;
    };
    for l in &ours.levels {
        let Some(p) = theirs.levels.iter().find(|p| p.sessions == l.sessions) else {
            continue;
        };
        let per = |x: &Level| x.pss() as f64 / x.sessions as f64;
        println!(
            "- {} sessions, browserfarm ÷ Playwright: PSS per session {:.2}×, open p50 {:.2}×, warm open p50 {:.2}×",
            l.sessions,
            per(l) / per(p),
            pct(&l.open, 0.5) / pct(&p.open, 0.5),
            pct(&l.warm, 0.5) / pct(&p.warm, 0.5)
        );
    }
    println!();
}

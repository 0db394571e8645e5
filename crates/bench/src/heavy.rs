//! The heavy-pages table: the corpus's news page (`/news/{n}`: slow pictures,
//! fonts, an ad frame, third-party scripts, comments rendered from an XHR) read
//! by raw chromiumoxide (`goto` + `content`, which waits for `load`), by
//! browserfarm (default, and `--full-reads`, which waits for `load` too) and by
//! Playwright MCP. Each read is checked for the whole story and the comments:
//! a fast read that lost them would not count.

use std::time::Instant;

use serde_json::json;

use crate::corpus::Corpus;
use crate::mcp::McpClient;
use crate::raw::Raw;
use crate::{PLAYWRIGHT_MCP_VERSION, ms, pct};

/// The last paragraph of the story, in the HTML.
const STORY_END: &str = "Paragraph 23 of the story";
/// A comment, which a script renders from an XHR answered after 250 ms.
const COMMENT: &str = "Two cores were enough";

pub struct Options {
    /// Reads timed one after another.
    pub samples: usize,
    /// Pages in the batch run.
    pub batch: usize,
    /// Pages read at once in the batch run.
    pub concurrency: usize,
}

pub struct Row {
    name: String,
    read: Vec<f64>,
    /// Reads (timed and batch) that had the story's end and the comments.
    complete: usize,
    reads: usize,
    pages_per_s: f64,
    bytes: usize,
    note: &'static str,
}

fn complete(text: &str) -> bool {
    text.contains(STORY_END) && text.contains(COMMENT)
}

/// Distinct page numbers per contender and run, so no contender reads a page
/// another one's cache holds.
fn pages(base: u32, count: usize) -> impl Iterator<Item = u32> {
    (0..count as u32).map(move |i| base + i)
}

pub async fn raw(chrome: &str, corpus: &Corpus, o: &Options) -> anyhow::Result<Row> {
    let (raw, _) = Raw::launch(chrome).await?;
    let page = raw.page().await?;
    let mut row = Row {
        name: "A: raw chromiumoxide (no MCP)".into(),
        read: Vec::new(),
        complete: 0,
        reads: 0,
        pages_per_s: 0.0,
        bytes: 0,
        note: "goto (waits for load) + content(); HTML bytes",
    };
    for n in pages(1000, o.samples) {
        let t = Instant::now();
        page.goto(corpus.url(&format!("/news/{n}"))).await?;
        let html = page.content().await?;
        row.read.push(ms(t.elapsed()));
        row.reads += 1;
        row.complete += usize::from(complete(&html));
        row.bytes = html.len();
    }
    let mut tabs = Vec::new();
    for _ in 0..o.concurrency {
        tabs.push(raw.page().await?);
    }
    let urls: Vec<String> = pages(2000, o.batch)
        .map(|n| corpus.url(&format!("/news/{n}")))
        .collect();
    let t = Instant::now();
    let work = tabs.iter().enumerate().map(|(w, tab)| {
        let mine: Vec<&String> = urls.iter().skip(w).step_by(o.concurrency).collect();
        async move {
            let mut done = 0;
            for url in mine {
                tab.goto(url.as_str()).await?;
                done += usize::from(complete(&tab.content().await?));
            }
            anyhow::Ok(done)
        }
    });
    for r in futures::future::join_all(work).await {
        row.complete += r?;
    }
    row.reads += o.batch;
    row.pages_per_s = o.batch as f64 / t.elapsed().as_secs_f64();
    drop(tabs);
    drop(page);
    raw.close().await;
    Ok(row)
}

pub async fn browserfarm(
    name: &str,
    program: &str,
    args: Vec<String>,
    base: u32,
    corpus: &Corpus,
    o: &Options,
) -> anyhow::Result<Row> {
    let mut client = McpClient::start(program, &args).await?;
    client
        .call("scrape", json!({"url": corpus.url("/p/0")}))
        .await?;
    let mut row = Row {
        name: name.into(),
        read: Vec::new(),
        complete: 0,
        reads: 0,
        pages_per_s: 0.0,
        bytes: 0,
        note: "scrape {url, main_content: false} (markdown of the whole page); batch via batch_scrape",
    };
    for n in pages(base, o.samples) {
        let url = corpus.url(&format!("/news/{n}"));
        let r = client
            .call("scrape", json!({"url": url, "main_content": false}))
            .await?;
        anyhow::ensure!(!r.is_error, "{name}: {}", r.first_text);
        row.read.push(ms(r.elapsed));
        row.reads += 1;
        row.complete += usize::from(complete(&r.first_text));
        row.bytes = r.text_bytes;
    }
    let urls: Vec<String> = pages(base + 1000, o.batch)
        .map(|n| corpus.url(&format!("/news/{n}")))
        .collect();
    let r = client
        .call(
            "batch_scrape",
            // The whole page, so the comments at its end are not cut off.
            json!({"urls": urls, "concurrency": o.concurrency, "main_content": false,
                   "max_chars": 20_000}),
        )
        .await?;
    anyhow::ensure!(
        r.first_text.contains(&format!("{} ok, 0 failed", o.batch)),
        "{name}: batch: {}",
        r.first_text.lines().next().unwrap_or("")
    );
    // The batch's text holds every page: count the pages whose comments came.
    row.complete += r.first_text.matches(COMMENT).count().min(o.batch);
    row.reads += o.batch;
    row.pages_per_s = o.batch as f64 / r.elapsed.as_secs_f64();
    client.stop().await;
    Ok(row)
}

/// Playwright MCP's read: navigate, then snapshot; the text is both replies.
async fn pw_read(client: &mut McpClient, url: &str) -> anyhow::Result<(f64, String, usize)> {
    let nav = client.call("browser_navigate", json!({"url": url})).await?;
    anyhow::ensure!(!nav.is_error, "browser_navigate: {}", nav.first_text);
    let snap = client.call("browser_snapshot", json!({})).await?;
    let text = format!("{}\n{}", nav.first_text, snap.first_text);
    Ok((
        ms(nav.elapsed + snap.elapsed),
        text,
        nav.text_bytes + snap.text_bytes,
    ))
}

pub async fn playwright(
    launcher: &str,
    args: Vec<String>,
    corpus: &Corpus,
    o: &Options,
) -> anyhow::Result<Row> {
    let mut client = McpClient::start(launcher, &args).await?;
    pw_read(&mut client, &corpus.url("/p/0")).await?;
    let mut row = Row {
        name: format!("D: Playwright MCP {PLAYWRIGHT_MCP_VERSION}"),
        read: Vec::new(),
        complete: 0,
        reads: 0,
        pages_per_s: 0.0,
        bytes: 0,
        note: "browser_navigate + browser_snapshot; batch on N instances for concurrency N",
    };
    for n in pages(5000, o.samples) {
        let (elapsed, text, bytes) =
            pw_read(&mut client, &corpus.url(&format!("/news/{n}"))).await?;
        row.read.push(elapsed);
        row.reads += 1;
        row.complete += usize::from(complete(&text));
        row.bytes = bytes;
    }
    client.stop().await;
    let mut clients = Vec::new();
    for _ in 0..o.concurrency {
        let mut c = McpClient::start(launcher, &args).await?;
        pw_read(&mut c, &corpus.url("/p/1")).await?;
        clients.push(c);
    }
    let urls: Vec<String> = pages(6000, o.batch)
        .map(|n| corpus.url(&format!("/news/{n}")))
        .collect();
    let t = Instant::now();
    let work = clients.iter_mut().enumerate().map(|(w, c)| {
        let mine: Vec<String> = urls
            .iter()
            .skip(w)
            .step_by(o.concurrency)
            .cloned()
            .collect();
        async move {
            let mut done = 0;
            for url in mine {
                done += usize::from(complete(&pw_read(c, &url).await?.1));
            }
            anyhow::Ok(done)
        }
    });
    for r in futures::future::join_all(work).await {
        row.complete += r?;
    }
    row.reads += o.batch;
    row.pages_per_s = o.batch as f64 / t.elapsed().as_secs_f64();
    for c in clients {
        c.stop().await;
    }
    Ok(row)
}

pub fn print(rows: &[Row], o: &Options) {
    let pw = rows.iter().find(|r| r.name.starts_with("D:"));
    let b = rows.iter().find(|r| r.name.starts_with("B:"));
    let ratio =
        |x: f64, base: Option<f64>| base.map_or(String::new(), |b| format!(" ({:.2}×)", x / b));
    println!(
        "| contender (heavy page) | read p50 ms (×D) | read p95 ms | complete | pages/s c={} (×B) | bytes |",
        o.concurrency
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let p50 = pct(&r.read, 0.5);
        println!(
            "| {} | {p50:.0}{} | {:.0} | {}/{} | {:.2}{} | {} |",
            r.name,
            ratio(p50, pw.map(|p| pct(&p.read, 0.5))),
            pct(&r.read, 0.95),
            r.complete,
            r.reads,
            r.pages_per_s,
            ratio(r.pages_per_s, b.map(|b| b.pages_per_s)),
            r.bytes
        );
    }
    println!();
    for r in rows {
        println!("- {}: {}", r.name, r.note);
    }
    println!(
        "\n'complete': reads with the story's last paragraph and the XHR-rendered comments. \
         {} timed reads, then a batch of {} pages. One run; compare within it.\n",
        o.samples, o.batch
    );
}

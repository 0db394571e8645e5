//! Per-read latency of this crate against the CDP floor, on this machine.
//!
//! Run: `cargo run --release -p browserfarm-browser --example floor [-- READS]`
//!
//! "raw chromiumoxide" reuses one page and does `goto` + `content()`: the cost of
//! CDP itself. The other rows are `Session::run` with a `scrape` job that loads the
//! URL: `html` (same work as the floor) and `markdown` (readability + htmd on top).
//! Pages are small, distinct and served on 127.0.0.1. Prints a markdown table;
//! compare ratios within one run, not absolute numbers across machines.

use std::time::{Duration, Instant};

use browserfarm_browser::{Pool, PoolConfig, Session, find_chrome};
use browserfarm_protocol::{Operation, ScrapeArgs, ScrapeFormat};
use browserfarm_testkit::Fixtures;
use chromiumoxide::{Browser, BrowserConfig};
use futures::StreamExt;

const WARMUP: usize = 10;

/// Runs `$read` for `WARMUP + $reads` values of `$i`, timing all but the warm-up.
macro_rules! measure {
    ($reads:expr, |$i:ident| $read:block) => {{
        let mut samples = Vec::with_capacity($reads);
        for $i in 0..WARMUP + $reads {
            let started = Instant::now();
            $read
            if $i >= WARMUP {
                samples.push(ms(started.elapsed()));
            }
        }
        samples
    }};
}

#[tokio::main]
async fn main() {
    let reads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let pages = Fixtures::start().await;
    let url = |i: usize| pages.url(&format!("/p/{i}"));

    let floor = raw_chromiumoxide(reads, &url).await;
    let pool = Pool::start(PoolConfig {
        min_browsers: 0,
        ..PoolConfig::default()
    })
    .unwrap();
    let mut session = Session::open(&pool).await.unwrap();
    let mut rows = vec![("raw chromiumoxide goto + content", floor.clone())];
    for (label, format, main) in [
        (
            "browserfarm scrape html (full page)",
            ScrapeFormat::Html,
            false,
        ),
        (
            "browserfarm scrape markdown (main content)",
            ScrapeFormat::Markdown,
            true,
        ),
    ] {
        let samples = measure!(reads, |i| {
            let op = Operation::Scrape(ScrapeArgs {
                url: Some(url(i)),
                format: Some(format),
                main_content: Some(main),
                max_chars: None,
                full: None,
            });
            session.run(&op).await.unwrap();
        });
        rows.push((label, samples));
    }
    session.close().await;
    pool.shutdown().await;

    let floor_p50 = percentile(&floor, 50);
    println!("| contender ({reads} reads) | p50 ms | p90 ms | p50 vs floor |");
    println!("|---|---:|---:|---:|");
    for (label, samples) in rows {
        let (p50, p90) = (percentile(&samples, 50), percentile(&samples, 90));
        println!(
            "| {label} | {p50:.1} | {p90:.1} | {:.2}× |",
            p50 / floor_p50
        );
    }
}

async fn raw_chromiumoxide(reads: usize, url: &impl Fn(usize) -> String) -> Vec<f64> {
    let profile = std::env::temp_dir().join(format!("browserfarm-floor-{}", std::process::id()));
    let config = BrowserConfig::builder()
        .chrome_executable(find_chrome(None).unwrap())
        .user_data_dir(&profile)
        .no_sandbox()
        .args(["disable-gpu", "disable-component-update", "disable-quic"])
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.unwrap();
    let pump = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let page = browser.new_page("about:blank").await.unwrap();
    let samples = measure!(reads, |i| {
        page.goto(url(i)).await.unwrap();
        page.content().await.unwrap();
    });
    browser.close().await.unwrap();
    browser.wait().await.unwrap();
    pump.abort();
    let _ = std::fs::remove_dir_all(profile);
    samples
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(samples: &[f64], p: usize) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[(sorted.len() - 1) * p / 100]
}

//! `browserfarm doctor`: proves the local Chromium install works end to end (find,
//! launch, load a page from a loopback server started here, read it, screenshot it)
//! and prints versions and timings. Exit status 1 with a fix hint on failure.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use browserfarm_browser::{Pool, Session};
use browserfarm_protocol::{JobOutput, NavigateArgs, Operation, ScrapeArgs, ScreenshotArgs};

use crate::flags::BrowserArgs;

const PAGE: &str = "<!doctype html><html><head><title>browserfarm doctor</title></head>\
<body><h1>browserfarm doctor</h1><p>If you can read this, Chromium works.</p></body></html>";

pub async fn run(args: BrowserArgs) -> Result<()> {
    println!("browserfarm {} doctor", env!("CARGO_PKG_VERSION"));
    let mut config = args.pool_config(false)?;
    config.min_browsers = 0; // start Chromium in the timed step below
    let pool = Pool::start(config).context("finding Chromium")?;
    row("chromium", pool.executable().display());
    row("capacity", capacity(&pool));
    let result = checks(&pool).await;
    pool.shutdown().await;
    match result {
        Ok(()) => {
            println!("OK: Chromium starts, loads pages, and browserfarm can drive it.");
            Ok(())
        }
        Err(e) => Err(e.context(
            "Chromium is installed but could not be driven. Try `browserfarm doctor --no-sandbox`, \
             check free memory and /tmp space, and run with RUST_LOG=debug for details",
        )),
    }
}

/// The session limits in force and the memory they come from.
fn capacity(pool: &Pool) -> String {
    const MIB: u64 = 1024 * 1024;
    let config = pool.config();
    let memory = match browserfarm_browser::Memory::read() {
        Some(m) => format!(
            "; memory {} MiB, {} MiB free, {} MiB kept free",
            m.limit / MIB,
            m.available / MIB,
            config.min_free_memory / MIB
        ),
        None => String::new(),
    };
    format!(
        "{} sessions (--max-sessions), {} per browser, up to {} browsers{memory}",
        pool.sessions().max,
        config.sessions_per_browser,
        config.max_browsers,
    )
}

async fn checks(pool: &Pool) -> Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1")?;
    let url = format!("http://{}/", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Html(PAGE) }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let started = Instant::now();
    let mut session = Session::open(pool).await.context("starting Chromium")?;
    timed(
        "launch",
        started.elapsed(),
        "Chromium started, incognito context and tab open",
    );
    row("version", session.browser_version().await?);

    let navigate = Operation::Navigate(NavigateArgs {
        url: Some(url.clone()),
        timeout_ms: Some(10_000),
        ..Default::default()
    });
    for label in ["navigate", "navigate (warm)"] {
        let started = Instant::now();
        let JobOutput::Navigated { page } = session.run(&navigate).await? else {
            bail!("unexpected reply")
        };
        timed(
            label,
            started.elapsed(),
            format!(
                "{} (HTTP {:?}, title {:?})",
                page.url,
                page.status.unwrap_or(0),
                page.title
            ),
        );
    }
    let started = Instant::now();
    let JobOutput::Scraped(s) = session
        .run(&Operation::Scrape(ScrapeArgs::default()))
        .await?
    else {
        bail!("unexpected reply")
    };
    if !s.content.contains("Chromium works") {
        bail!("the page text did not come back: {:?}", s.content);
    }
    timed(
        "scrape",
        started.elapsed(),
        format!("{} chars of markdown", s.content.len()),
    );
    let started = Instant::now();
    let JobOutput::Screenshot { image, .. } = session
        .run(&Operation::Screenshot(ScreenshotArgs::default()))
        .await?
    else {
        bail!("unexpected reply")
    };
    timed(
        "screenshot",
        started.elapsed(),
        format!(
            "{}×{} {}, {} KB",
            image.width,
            image.height,
            image.mime_type,
            image.data_base64.len() * 3 / 4 / 1024
        ),
    );
    session.close().await;
    server.abort();
    Ok(())
}

fn row(label: &str, value: impl std::fmt::Display) {
    println!("  {label:<16} {value}");
}

fn timed(label: &str, took: Duration, detail: impl std::fmt::Display) {
    println!(
        "  {label:<16} {:>7.1} ms  {detail}",
        took.as_secs_f64() * 1000.0
    );
}

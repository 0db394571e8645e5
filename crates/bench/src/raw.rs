//! Contender A: chromiumoxide by hand, no MCP: one browser, a reused page per
//! worker, `goto` + `content()`. The cost of CDP itself, i.e. the floor. (The bench
//! is a measuring tool, not part of the product: the only place besides the
//! `browser` crate that touches chromiumoxide.)

use std::time::{Duration, Instant};

use anyhow::Context;
use chromiumoxide::{Browser, BrowserConfig};
use futures::StreamExt;

pub struct Raw {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Raw {
    pub async fn launch(chrome: &str) -> anyhow::Result<(Raw, Duration)> {
        let started = Instant::now();
        let profile =
            std::env::temp_dir().join(format!("browserfarm-bench-{}", std::process::id()));
        let mut builder = BrowserConfig::builder()
            .chrome_executable(chrome)
            .user_data_dir(&profile)
            .arg("headless=new");
        if nix_is_root() {
            builder = builder.no_sandbox();
        }
        let config = builder.build().map_err(anyhow::Error::msg)?;
        let (browser, mut events) = Browser::launch(config).await.context("launch Chromium")?;
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        Ok((
            Raw {
                browser,
                handler,
                _profile: TempDir(profile),
            },
            started.elapsed(),
        ))
    }

    pub async fn page(&self) -> anyhow::Result<chromiumoxide::Page> {
        Ok(self.browser.new_page("about:blank").await?)
    }

    /// One read: load and return the document's HTML length.
    pub async fn read(page: &chromiumoxide::Page, url: &str) -> anyhow::Result<usize> {
        page.goto(url).await?;
        Ok(page.content().await?.len())
    }

    pub async fn screenshot(page: &chromiumoxide::Page, url: &str) -> anyhow::Result<usize> {
        page.goto(url).await?;
        let png = page
            .screenshot(chromiumoxide::page::ScreenshotParams::builder().build())
            .await?;
        Ok(png.len())
    }

    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

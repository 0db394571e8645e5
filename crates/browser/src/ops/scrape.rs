//! `scrape`: the page's content in the format asked for. One `Runtime.evaluate`
//! reads what the format needs (see [`super::extract::source_js`]); the
//! conversion runs off the async threads.

use std::time::Duration;

use browserfarm_protocol::{
    DEFAULT_MAX_CHARS, JobError, JobOutput, PageInfo, ScrapeArgs, Scraped, WaitUntil,
};

use super::{extract, navigate};
use crate::tab::{OpResult, Tab};

/// Below this many characters of content, a read that skipped things says so.
const SHORT_READ_CHARS: usize = 200;

pub(crate) async fn run(
    tab: Tab<'_>,
    a: &ScrapeArgs,
    nav_timeout: Duration,
    full_reads: bool,
) -> OpResult<JobOutput> {
    let wait = if full_reads || a.full == Some(true) {
        WaitUntil::Load
    } else {
        WaitUntil::Ready
    };
    let status = navigate::load(tab, a.url.as_deref(), wait, nav_timeout).await?;
    let format = a.format.unwrap_or_default();
    let main_content = a.main_content.unwrap_or(true);
    let source: extract::Source = tab
        .eval(
            "reading the page",
            &extract::source_js(format, main_content),
        )
        .await?;
    let max_chars = a.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
    let mut notes = tab.watch.take_notes();
    let skipped = tab.watch.skipped();
    let (page, content, truncated_chars) = tokio::task::spawn_blocking(move || {
        let rendered = extract::render(&source, format, main_content);
        // Skipping changes no text, but a page that is mostly pictures or
        // frames reads as nearly empty: say why, and how to see the rest.
        if skipped > 0 && rendered.trim().chars().count() < SHORT_READ_CHARS {
            notes.push(format!(
                "this page has little text; the read skipped {skipped} images, media, fonts \
                 or frames (pass full=true to load them, or take a screenshot)"
            ));
        }
        let (content, dropped) = extract::truncate(rendered, max_chars);
        (
            PageInfo {
                url: source.url,
                status,
                title: source.title,
                notes,
                changes: None,
            },
            content,
            dropped,
        )
    })
    .await
    .map_err(|e| JobError::internal(format!("content extraction failed: {e}")))?;
    Ok(JobOutput::Scraped(Scraped {
        page,
        format,
        content,
        truncated_chars,
    }))
}

//! `scrape`: the page's content in the format asked for. One `Runtime.evaluate`
//! reads what the format needs (see [`super::extract::source_js`]); the
//! conversion runs off the async threads.

use std::time::Duration;

use browserfarm_protocol::{DEFAULT_MAX_CHARS, JobError, JobOutput, PageInfo, ScrapeArgs, Scraped};

use super::{extract, navigate};
use crate::tab::{OpResult, Tab};

pub(crate) async fn run(
    tab: Tab<'_>,
    a: &ScrapeArgs,
    nav_timeout: Duration,
) -> OpResult<JobOutput> {
    let status = navigate::load(tab, a.url.as_deref(), nav_timeout).await?;
    let format = a.format.unwrap_or_default();
    let main_content = a.main_content.unwrap_or(true);
    let source: extract::Source = tab
        .eval(
            "reading the page",
            &extract::source_js(format, main_content),
        )
        .await?;
    let max_chars = a.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
    let notes = tab.watch.take_notes();
    let (page, content, truncated_chars) = tokio::task::spawn_blocking(move || {
        let rendered = extract::render(&source, format, main_content);
        let (content, dropped) = extract::truncate(rendered, max_chars);
        (
            PageInfo {
                url: source.url,
                status,
                title: source.title,
                notes,
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

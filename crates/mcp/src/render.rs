//! Job results as MCP tool results: short text for the agent, images as image
//! content, failures as `isError` results that say what to do next.

use std::time::Duration;

use browserfarm_protocol::{FarmStatus, JobError, JobOutput, PageInfo, cut_chars, format_tags};
use rmcp::model::{CallToolResult, ContentBlock};

/// Longest `evaluate` result returned, in characters.
pub const MAX_EVALUATE_CHARS: usize = 50_000;

fn page_line(page: &PageInfo) -> String {
    let status = page
        .status
        .map(|s| format!(" (HTTP {s})"))
        .unwrap_or_default();
    let title = if page.title.is_empty() {
        "(no title)"
    } else {
        page.title.as_str()
    };
    format!("{}{status} — {title}", page.url)
}

/// What the caller did, for the one-line summary of interaction results.
pub enum Action<'a> {
    Other,
    Click {
        selector: &'a str,
    },
    Type {
        selector: &'a str,
        chars: usize,
        submitted: bool,
    },
}

pub fn success(output: JobOutput, action: Action<'_>) -> CallToolResult {
    let text = |s: String| CallToolResult::success(vec![ContentBlock::text(s)]);
    match output {
        JobOutput::Navigated { page } => text(format!("Navigated to {}", page_line(&page))),
        JobOutput::Screenshot { page, image } => {
            let caption = format!(
                "Screenshot of {} ({}×{} {})",
                page_line(&page),
                image.width,
                image.height,
                image.mime_type
            );
            CallToolResult::success(vec![
                ContentBlock::image(image.data_base64, image.mime_type),
                ContentBlock::text(caption),
            ])
        }
        JobOutput::Scraped(s) => text(format!("{}\n\n{}", page_line(&s.page), s.content)),
        JobOutput::Clicked { page } | JobOutput::Typed { page } => {
            let what = match action {
                Action::Click { selector } => format!("Clicked '{selector}'"),
                Action::Type {
                    selector,
                    chars,
                    submitted,
                } => format!(
                    "Typed {chars} characters into '{selector}'{}",
                    if submitted { " and pressed Enter" } else { "" }
                ),
                Action::Other => "Done".to_owned(),
            };
            text(format!("{what}. Now at {}", page_line(&page)))
        }
        JobOutput::Evaluated { value } => {
            let json = serde_json::to_string(&value).unwrap_or_else(|_| "null".into());
            let (json, dropped) = cut_chars(json, MAX_EVALUATE_CHARS);
            if dropped > 0 {
                text(format!(
                    "{json}\n…[truncated, {dropped} more chars; return less data, e.g. select \
                     fields or slice arrays]"
                ))
            } else {
                text(json)
            }
        }
    }
}

pub fn failure(error: &JobError) -> CallToolResult {
    failure_text(error.message.clone())
}

pub fn failure_text(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// One section per URL in input order, then nothing is left out silently: every
/// URL has either content or its error.
pub fn batch(
    urls: &[String],
    outcomes: Vec<Result<JobOutput, JobError>>,
    took: Duration,
) -> CallToolResult {
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    let mut out = format!(
        "Batch of {} URLs: {} ok, {failed} failed, {:.1} s.\n",
        urls.len(),
        urls.len() - failed,
        took.as_secs_f64()
    );
    for (i, (url, outcome)) in urls.iter().zip(outcomes).enumerate() {
        match outcome {
            Ok(JobOutput::Scraped(s)) => {
                out.push_str(&format!(
                    "\n## {}. {}\n\n{}\n",
                    i + 1,
                    page_line(&s.page),
                    s.content
                ));
            }
            Ok(_) => out.push_str(&format!(
                "\n## {}. {url}\n\nERROR: unexpected result\n",
                i + 1
            )),
            Err(e) => out.push_str(&format!("\n## {}. {url}\n\nERROR: {}\n", i + 1, e.message)),
        }
    }
    CallToolResult::success(vec![ContentBlock::text(out)])
}

pub fn farm_status(status: &FarmStatus, session_node: Option<&str>) -> CallToolResult {
    let mut out = String::from(
        "| node | state | breaker | in flight | capacity | arch | tags | jobs ok | jobs failed | last error | heartbeat |\n\
         |---|---|---|---:|---:|---|---|---:|---:|---|---|\n",
    );
    for n in &status.nodes {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            n.name,
            n.state,
            n.breaker,
            n.in_flight,
            n.capacity,
            n.arch.as_deref().unwrap_or("?"),
            format_tags(&n.tags),
            n.jobs_ok,
            n.jobs_failed,
            n.last_error.as_deref().unwrap_or("").replace('|', "/"),
            n.last_heartbeat_secs
                .map(|s| format!("{s} s ago"))
                .unwrap_or_default(),
        ));
    }
    if let Some(node) = session_node {
        out.push_str(&format!("\nThis session's browser is on node {node}.\n"));
    }
    CallToolResult::success(vec![ContentBlock::text(out)])
}

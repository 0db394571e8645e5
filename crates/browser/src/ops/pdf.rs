//! `pdf`: the page printed by Chromium (`Page.printToPDF`), size-capped so one
//! call cannot return an unbounded blob.

use std::time::Duration;

use browserfarm_protocol::{ErrorKind, JobError, JobOutput, PdfArgs, WaitUntil};
use serde_json::json;

use crate::tab::cdp::{OpResult, Tab};

/// Largest PDF returned, in bytes (before base64).
pub const MAX_PDF_BYTES: usize = 20 * 1024 * 1024;

/// `pdf`: of the page `args.url` names (loaded first) or the current one.
pub(crate) async fn run(
    tab: Tab<'_>,
    args: &PdfArgs,
    nav_timeout: Duration,
) -> OpResult<JobOutput> {
    let status =
        super::navigate::load(tab, args.url.as_deref(), WaitUntil::Load, nav_timeout).await?;
    let page = super::navigate::page_info(tab, status).await?;
    let (data_base64, bytes) = print(tab, args).await?;
    Ok(JobOutput::Pdf {
        page,
        data_base64,
        bytes,
    })
}

/// Prints the tab; returns the PDF base64-encoded and its size in bytes.
pub(crate) async fn print(tab: Tab<'_>, args: &PdfArgs) -> OpResult<(String, usize)> {
    let (width, height) = args.format.unwrap_or_default().inches();
    // Printing a long page takes far longer than one command.
    let reply = tab
        .exec_within(
            "printing the page",
            tab.cdp_timeout * 4,
            crate::tab::cdp::raw(
                "Page.printToPDF",
                json!({
                    "landscape": args.landscape.unwrap_or(false),
                    "printBackground": true,
                    "paperWidth": width,
                    "paperHeight": height,
                }),
            ),
        )
        .await?;
    let data = reply["data"].as_str().unwrap_or_default().to_owned();
    let bytes = data.len() / 4 * 3;
    if data.is_empty() {
        return Err(JobError::internal("Chromium returned an empty PDF").into());
    }
    if bytes > MAX_PDF_BYTES {
        return Err(JobError::new(
            ErrorKind::InvalidArgument,
            format!(
                "the PDF is about {} MB, more than the {} MB one call may return; print a \
                 shorter page or read it with scrape",
                bytes / 1_000_000,
                MAX_PDF_BYTES / 1_000_000
            ),
        )
        .into());
    }
    Ok((data, bytes))
}

//! Chromium for browserfarm: finding and launching it, a pool of processes, one
//! isolated browser context per session, and the page operations jobs ask for.
//!
//! Chromium is an out-of-process, fallible dependency: it can crash, hang, or leave
//! processes behind. This crate owns all of that. Every CDP command runs under a
//! deadline; a process that stops answering is marked broken and replaced; a tab
//! that hangs is replaced within its context; profiles live under one directory per
//! owning process so leftovers of a killed owner are reaped at the next start.
//!
//! **Architecture invariant:** this is the only crate that knows chromiumoxide. It
//! knows nothing of MCP and serves no HTTP API: it takes
//! [`browserfarm_protocol::Operation`]s and returns
//! [`browserfarm_protocol::JobOutput`]s or [`browserfarm_protocol::JobError`]s. The
//! one piece of HTTP here is the egress proxy (`process/egress.rs`) that the
//! pool's own Chromium connects through under a host policy, on 127.0.0.1.
//!
//! # Layers
//!
//! Bottom up; a module names its own layer and those below it, never one above
//! (`tests/layers.rs` checks it):
//!
//! 1. `process`: Chromium processes: launch, the deadpool of processes and its
//!    [`Lease`], reaping a dead owner's leftovers, the host policy and its
//!    egress proxy, the memory-derived limits, the settings ([`PoolConfig`]).
//! 2. `tab`: one tab: CDP commands under deadlines and the classification
//!    of failures, the watcher task per tab, snapshot refs, a tab handle.
//! 3. `ops`: what each operation does to a tab (navigate, scrape, snapshot,
//!    act, evaluate, emulate, cookies and storage, …), returning protocol
//!    data: facts, never sentences for the agent (the MCP layer words them).
//! 4. `context`: browser contexts and who holds them: sessions' contexts and
//!    their recovery, packing into shared processes, the spare, one-off hosts
//!    and their scratch contexts, downloads, tabs and popups, and the public
//!    [`Pool`] holding the process pool with these books.
//! 5. `jobs`: the dispatcher from an `Operation` to the code that runs it.
//! 6. `session`: the public [`Session`], running jobs on its context and
//!    recovering when Chromium fails under it.

mod context;
mod jobs;
mod ops;
mod process;
mod session;
mod tab;

pub use context::{Pool, SessionOccupancy};
pub use process::capacity::{
    Memory, SESSION_BUDGET, cpu_load_pct, default_max_sessions, default_reserve,
};
pub use process::{
    BlockList, BlockListError, CHROME_CANDIDATES, DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_SCREENSHOT_MAX_BYTES, DEFAULT_SESSIONS_PER_BROWSER, Gate, LaunchError, Lease,
    PoolConfig, PoolStatus, Resolver, default_max_browsers, find_chrome,
};
pub use session::Session;

/// Converts a page's HTML the way `scrape` does (Readability for the main content,
/// then markdown, text or HTML), for callers that already hold the HTML, such as
/// benchmarks.
pub fn convert_html(
    html: &str,
    url: &str,
    format: browserfarm_protocol::ScrapeFormat,
    main_content: bool,
) -> String {
    let source = ops::extract::Source {
        url: url.to_owned(),
        title: String::new(),
        source: ops::extract::SourceBody::Markup(html.to_owned()),
    };
    ops::extract::render(&source, format, main_content)
}

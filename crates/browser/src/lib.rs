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
//! one piece of HTTP here is the egress proxy (`egress.rs`) that the pool's own
//! Chromium connects through under a host policy, on 127.0.0.1.

mod capacity;
mod cdp;
mod chrome;
mod downloads;
mod egress;
mod emulate;
mod extract;
mod gate;
mod interact;
mod jobs;
mod navigate;
mod packing;
mod pdf;
mod pool;
mod reap;
mod screenshot;
mod session;
mod snapshot;
mod spare;
mod stateless;
mod storage;
mod tab;
mod wait;
mod watch;

use std::path::PathBuf;

pub use capacity::{Memory, SESSION_BUDGET, default_max_sessions, default_reserve};
pub use chrome::{CHROME_CANDIDATES, find_chrome};
pub use gate::{Gate, Resolver};
pub use pool::{
    DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_SCREENSHOT_MAX_BYTES, DEFAULT_SESSIONS_PER_BROWSER, Lease,
    Pool, PoolConfig, PoolStatus, SessionOccupancy, default_max_browsers,
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
    let source = extract::Source {
        url: url.to_owned(),
        title: String::new(),
        source: extract::SourceBody::Markup(html.to_owned()),
    };
    extract::render(&source, format, main_content)
}

/// Why Chromium could not be found or started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "no Chromium found on PATH (looked for {}); install it (Debian/Ubuntu: \
         `sudo apt-get install -y chromium`) or pass --chrome /path/to/chromium \
         (env BROWSERFARM_CHROME)",
        CHROME_CANDIDATES.join(", ")
    )]
    ChromeNotFound,
    #[error("{0} is not an executable file; check --chrome / BROWSERFARM_CHROME")]
    ChromeNotExecutable(PathBuf),
    #[error("invalid Chromium configuration: {0}")]
    Config(String),
    #[error("Chromium ({executable}) failed to start: {reason}")]
    Launch { executable: PathBuf, reason: String },
    #[error("cannot prepare the Chromium profile directory {path}: {source}")]
    ProfileDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

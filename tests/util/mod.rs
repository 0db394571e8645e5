//! The one process harness of the end-to-end suite. Scenario files import from
//! here and never from each other: starting the real binary (`process`), an MCP
//! client over its stdio (`stdio`) and over HTTP (`http`), farms of real agent
//! processes (`farm`), Prometheus text (`metrics`), and the outside programs the suite
//! needs (`installed`). Pages come from `browserfarm_testkit::Fixtures`.

pub mod farm;
pub mod http;
pub mod installed;
pub mod metrics;
pub mod process;
pub mod stdio;

pub use farm::{Agent, gateway};
pub use http::{HttpServer, PROTOCOL, Stateless, StreamableSession, content_type, messages};
pub use process::{browserfarm, chromium_of, free_port, repo_path, signal};
pub use stdio::{McpProcess, ToolResult};

/// An `evaluate` expression for the state of the fixture's `/form` page: the
/// text in `#q`, the count `#inc` adds to, and the path.
pub const FORM_STATE: &str = "document.querySelector('#q').value + ' ' + \
    document.getElementById('count').textContent + ' ' + location.pathname";

/// Every tool the server lists.
pub const TOOLS: [&str; 26] = [
    "navigate",
    "screenshot",
    "scrape",
    "snapshot",
    "click",
    "type",
    "fill_form",
    "select_option",
    "hover",
    "press_key",
    "scroll",
    "wait_for",
    "upload_file",
    "handle_dialog",
    "tabs",
    "cookies",
    "storage_state",
    "emulate",
    "console_messages",
    "network_requests",
    "pdf",
    "downloads",
    "evaluate",
    "batch_scrape",
    "farm_status",
    "close_session",
];

/// A result's text without the `session: <handle>` line HTTP results end with
/// (the connection's browser session outlives it, so the model is shown it).
pub fn without_handle(text: &str) -> &str {
    match text.rfind("\n\nsession: ") {
        Some(at) => &text[..at],
        None => text,
    }
}

/// How many tools the binary lists by default (its default tool groups).
pub fn default_tool_count() -> usize {
    browserfarm_mcp::TOOL_GROUPS
        .iter()
        .filter(|g| {
            browserfarm_mcp::DEFAULT_TOOLS
                .split(',')
                .any(|d| d == g.name)
        })
        .map(|g| g.tools.len())
        .sum()
}

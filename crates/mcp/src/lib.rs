//! browserfarm's MCP front end: the tool catalogue an agent sees, the translation
//! of tool calls into [`browserfarm_protocol::Job`]s for an
//! [`browserfarm_gateway::Executor`], and the transports: stdio, streamable HTTP and
//! legacy HTTP+SSE.
//!
//! **Architecture invariant:** this is the only crate that knows rmcp, and it does
//! not know chromiumoxide or where jobs run. Each MCP connection maps to one
//! executor session, opened lazily on the first tool call and closed when the
//! connection ends.

mod activity;
mod audit;
mod cache;
mod dashboard;
mod drain;
mod http;
mod jsonrpc;
mod render;
mod server;
mod stdio;

pub use activity::{Activity, CallTotals, RECENT_CALLS, RecentCall};
pub use audit::AuditLog;
pub use cache::{CacheConfig, ResultCache};
pub use drain::Drain;
pub use http::{DEFAULT_MAX_SESSIONS_PER_CLIENT, HttpOptions, router as http_router, serve_http};
pub use server::{BrowserfarmServer, INSTRUCTIONS};
pub use stdio::{StdioOptions, serve_stdio};

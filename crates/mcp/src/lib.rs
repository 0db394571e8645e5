//! browserfarm's MCP front end: the tool catalogue an agent sees, the translation
//! of tool calls into [`browserfarm_protocol::Job`]s for an
//! [`browserfarm_gateway::Executor`], and the transports: stdio, streamable HTTP and
//! legacy HTTP+SSE; around them the per-connection rate limit (`rate`), the audit
//! log, the result cache, graceful draining, and in HTTP mode the Host/Origin
//! check (`host_check`) and the live dashboard. The bearer token and error
//! responses of HTTP mode are `browserfarm-http`'s, shared with every listener;
//! the metric series are `browserfarm-metrics`'.
//!
//! **Architecture invariant:** this is the only crate that knows rmcp, and it does
//! not know chromiumoxide or where jobs run. Each MCP connection maps to one
//! executor session, opened lazily on the first tool call and closed when the
//! connection ends.

mod activity;
mod arguments;
mod audit;
mod cache;
mod dashboard;
mod drain;
mod handle;
mod host_check;
mod http;
mod instructions;
mod jsonrpc;
mod rate;
mod render;
mod resources;
mod schema;
mod server;
mod session;
mod stdio;
mod structured;
mod toolset;

pub use activity::{Activity, CallTotals, RECENT_CALLS, RecentCall};
pub use audit::AuditLog;
pub use cache::{CacheConfig, ResultCache};
pub use drain::Drain;
pub use handle::{Handles, KeyError, MIN_KEY_BYTES, SessionKey};
pub use http::{DEFAULT_MAX_SESSIONS_PER_CLIENT, HttpOptions, router as http_router, serve_http};
pub use instructions::INSTRUCTIONS;
pub use rate::RateLimit;
pub use resources::{NotHeld, ResourceStore};
pub use server::{BrowserfarmServer, DEFAULT_HANDLE_TTL};
pub use session::DEFAULT_MAX_DETACHED;
pub use stdio::{StdioOptions, serve_stdio};
pub use structured::STRUCTURED_TOOLS;
pub use toolset::{CORE_TOOLS, DEFAULT_TOOLS, TOOL_GROUPS, ToolGroup, Toolset};

//! What every browserfarm HTTP listener shares (the agent's node API, the
//! gateway's registry, MCP over HTTP, the dashboard, `/metrics`): one bearer-token
//! check ([`BearerAuth`]), one error response ([`HttpError`], whose status follows
//! from the failure's [`browserfarm_protocol::ErrorKind`] in one place), and the
//! `/metrics` route ([`metrics_router`]), and how a listener is served
//! ([`serve`]: plain HTTP or TLS with certificates reloaded on change) and how
//! outgoing calls speak TLS ([`ClientTls`]).
//!
//! **Architecture invariant:** this crate knows HTTP, the protocol's error types
//! and the metrics crate's `Exposition` (to serve it), not what a listener
//! serves: no executors, no rmcp, no chromiumoxide.
//! Each listener keeps its own words for a refusal (which flag to check), so the
//! token layer takes them as a parameter.

mod auth;
mod error;
mod metrics;
mod serve;
mod tls;
mod tokens;
mod watch;

pub use auth::{BearerAuth, Principal, RequireBearer};
pub use error::HttpError;
pub use metrics::{metrics_response, metrics_router};
pub use serve::{HEADER_READ_TIMEOUT, OverTls, serve};
pub use tls::{ClientTls, ServerTls, TlsError, describe_failure};
pub use tokens::{DEFAULT_PRINCIPAL, Presented, Tokens, TokensError};

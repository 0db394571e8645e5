//! Where jobs run. The [`Executor`] trait is the seam between the front end (MCP
//! tools) and the machinery that runs browsers: the embedded pool
//! ([`LocalExecutor`]) today, farm nodes behind the same trait tomorrow, so tools
//! never change when the farm grows.
//!
//! **Architecture invariant:** the gateway knows jobs, sessions and nodes, not MCP
//! (no rmcp) and not CDP (no chromiumoxide; the `browser` crate hides it). Remote
//! nodes are reached with plain HTTP/JSON (reqwest) using `browserfarm-protocol`
//! types; every remote call goes through the node's circuit breaker.

mod breaker;
mod discovery;
mod executor;
mod farm;
mod local;
pub mod metrics;
mod node;
mod queue;
mod rate;
mod registry;
mod remote;

pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use discovery::{AddressSource, Changes, DiscoveryError, DnsName, changes, node_url};
pub use executor::Executor;
pub use farm::{FarmConfig, FarmExecutor, LocalMember, NodeSpec};
pub use local::LocalExecutor;
pub use queue::{Admission, QueueConfig, Queued, Slot};
pub use rate::{RateLimit, TokenBucket};
pub use registry::{bearer_matches, registry_router};

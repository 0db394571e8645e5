//! Where jobs run. The [`Executor`] trait is the seam between the front end (MCP
//! tools) and the machinery that runs browsers: the embedded pool
//! ([`LocalExecutor`]) and farm nodes ([`FarmExecutor`]: breakers, placement,
//! failover, membership by registration or DNS) sit behind the same trait, so
//! tools never change when the farm grows. In front of either, [`Queued`] admits
//! jobs to the farm's capacity and each target host's share of it
//! ([`HostLimit`]). The gateway also owns the registry routes agents
//! announce themselves on ([`registry_router`]) and the gauges a metrics scrape
//! samples from its states ([`NodeGauges`], [`PoolGauges`], [`QueueGauges`]).
//!
//! **Architecture invariant:** the gateway knows jobs, sessions and nodes, not MCP
//! (no rmcp) and not CDP (no chromiumoxide; the `browser` crate hides it). Remote
//! nodes are reached with plain HTTP/JSON (reqwest) using `browserfarm-protocol`
//! types; every remote call goes through the node's circuit breaker. What every
//! HTTP listener shares (token check, error responses) is `browserfarm-http`'s,
//! and the series it records are `browserfarm-metrics`'.

mod batch;
mod breaker;
mod discovery;
mod executor;
mod farm;
mod gauges;
mod idle;
mod local;
mod node;
mod politeness;
mod queue;
mod registry;
mod remote;
mod routes;

pub use batch::run_batch;
pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use discovery::{AddressSource, Changes, DiscoveryError, DnsName, changes, node_url};
pub use executor::{Executor, SessionScope};
pub use farm::{FarmConfig, FarmExecutor, HostRule, LocalMember, NodeSpec};
pub use gauges::{NodeGauges, PoolGauges, QueueGauges};
pub use idle::{IdleSessions, sweep_period};
pub use local::LocalExecutor;
pub use politeness::{DEFAULT_MAX_PER_HOST, HostLimit, HostPermit};
pub use queue::{Admission, QueueConfig, Queued, Slot};
pub use registry::registry_router;

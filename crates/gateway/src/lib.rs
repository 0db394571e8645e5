//! Where jobs run. The [`Executor`] trait is the seam between the front end (MCP
//! tools) and the machinery that runs browsers: the embedded pool
//! ([`LocalExecutor`]) today, farm nodes behind the same trait tomorrow, so tools
//! never change when the farm grows.
//!
//! **Architecture invariant:** the gateway knows jobs and sessions, not MCP (no
//! rmcp) and not CDP (no chromiumoxide; the `browser` crate hides it).

mod executor;
mod local;

pub use executor::Executor;
pub use local::LocalExecutor;

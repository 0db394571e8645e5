//! End-to-end tests: the real `browserfarm` binary, driven over stdio and HTTP,
//! with real headless Chromium loading pages served by the test on 127.0.0.1,
//! real agent processes on loopback ports, and the outside programs users run
//! beside it (Prometheus, npx).
//!
//! One test binary: every file beside this one is a scenario module, and
//! everything they share (starting processes, MCP clients, farms, metrics
//! parsing) is in `util/`. A scenario imports only from `util`, never from
//! another scenario.

mod util;

mod cache;
mod corpus;
mod dashboard;
mod failover;
mod farm;
mod http;
mod lifecycle;
mod limits;
mod metrics;
mod npm;
mod policy;
mod prometheus;
mod protocol;
mod replicas;
mod sessions;
mod soak;
mod tls;
mod tokens;
mod tools;
mod toolset;

//! End-to-end tests: the real `browserfarm mcp` binary, driven over stdio and
//! HTTP, with real headless Chromium loading pages served by the test on 127.0.0.1.

mod cache;
mod client;
mod corpus;
mod dashboard;
mod farm;
mod http;
mod lifecycle;
mod limits;
mod metrics;
mod npm;
mod policy;
mod prometheus;
mod protocol;
mod soak;
mod tools;
mod toolset;

//! The agent node HTTP API (`/v1`), shared by `browserfarm agent` and the gateway.
//!
//! - `POST /v1/sessions` → 201 [`SessionOpened`]
//! - `DELETE /v1/sessions/{id}` → 204
//! - `POST /v1/jobs` with a [`crate::Job`] → 200 [`crate::JobOutput`], or 422 with a
//!   [`crate::JobError`] when the job ran and failed (bad page, missing element…)
//! - `GET /health` → 200 [`Health`]
//!
//! Errors always carry a [`crate::JobError`] body. 400: bad request; 401: missing or
//! wrong bearer token; 404: unknown session; 429 with `Retry-After`: node full, go
//! elsewhere; 503: no browser available; 5xx: node trouble.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SessionId;

/// Reply to `POST /v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionOpened {
    pub session: SessionId,
}

/// Reply to `GET /health`: what the gateway schedules on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// "ok" when the node accepts jobs, "draining" during shutdown.
    pub status: String,
    pub version: String,
    /// CPU architecture, e.g. "x86_64" or "aarch64".
    pub arch: String,
    /// Operator-set labels, e.g. region=eu.
    pub tags: BTreeMap<String, String>,
    /// Jobs run at once.
    pub capacity: usize,
    pub in_flight: usize,
    pub queued: usize,
    /// Most jobs waiting before the node answers 429.
    pub max_queue: usize,
    pub browsers_active: usize,
    pub browsers_idle: usize,
    pub sessions: usize,
    pub uptime_secs: u64,
}

/// One node as the gateway sees it (`farm_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeStatus {
    /// Node name (its address, or "local" for the embedded pool).
    pub name: String,
    /// "up", "down" or "unknown" (not checked yet).
    pub state: String,
    /// Circuit breaker: "closed", "half_open" or "open".
    pub breaker: String,
    pub in_flight: usize,
    pub capacity: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub jobs_ok: u64,
    pub jobs_failed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The whole farm (`farm_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FarmStatus {
    pub nodes: Vec<NodeStatus>,
}

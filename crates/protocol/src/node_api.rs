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
    /// The node process's [`Health::instance`], so the gateway knows which
    /// process holds the session (absent from older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
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
    /// Sessions open.
    pub sessions: usize,
    /// The most sessions the node holds at once. The session fields are absent
    /// from older agents; a gateway then places sessions on them as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_max: Option<usize>,
    /// How many more sessions the node takes now; 0: new sessions go elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_free: Option<usize>,
    /// Bytes of memory the host can still give: `MemAvailable`, or what a
    /// cgroup memory limit leaves when that is less.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_available: Option<u64>,
    /// Free memory is below what the node keeps (`--min-free-memory-mib`): it
    /// refuses new sessions, and gateways place work elsewhere while they can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_pressure: Option<bool>,
    /// The host's CPU load: the one-minute load average per core, in percent
    /// (100: every core busy), where the system tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_load_pct: Option<u32>,
    pub uptime_secs: u64,
    /// Random id the node process minted when it started: another one means
    /// the node restarted and its sessions are gone (absent from older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// One node as the gateway sees it (`farm_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeStatus {
    /// Node name (its address, or "local" for the embedded pool).
    pub name: String,
    /// "up", "down", "offline" (a registered node that missed three heartbeats) or
    /// "unknown" (not checked yet).
    pub state: String,
    /// Circuit breaker: "closed", "half_open" or "open".
    pub breaker: String,
    pub in_flight: usize,
    pub capacity: usize,
    /// Sessions open on the node and the most it holds, as of its last health
    /// check and the sessions this gateway placed since (absent while unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_max: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub jobs_ok: u64,
    pub jobs_failed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// For self-registered nodes: seconds since the last heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_secs: Option<u64>,
    /// Sessions this gateway moved off the node to another one (the node died,
    /// was cut off by its breaker, or restarted), and why the latest moved.
    #[serde(default)]
    pub sessions_moved: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_move: Option<String>,
    /// The node is short of memory: it gets new work only when every other
    /// node that could take it is too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub memory_pressure: bool,
    /// The node's CPU load per core, in percent, as of its last health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_load_pct: Option<u32>,
}

/// The whole farm (`farm_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FarmStatus {
    pub nodes: Vec<NodeStatus>,
    /// Sessions (browser contexts held for MCP sessions) open at the gateway.
    #[serde(default)]
    pub sessions: usize,
}

/// `POST /v1/nodes` on the gateway's registry: an agent announcing itself. Sent
/// again every `heartbeat_secs` as the heartbeat; three missed ones mark the node
/// offline. `DELETE /v1/nodes` with the same body takes it out (agent shutdown).
///
/// Unknown fields are ignored, so a newer agent's heartbeat still registers
/// with this gateway. Gateways built before `resources` existed refuse unknown
/// fields; agents then go on without them (see [`Registration::resources`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Registration {
    /// Where the gateway reaches the agent, e.g. `http://10.0.0.7:9301`.
    pub url: String,
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// Relative share of load (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// What the node has left as of this heartbeat, so the gateway places by
    /// it without waiting for its next health check. Absent from older
    /// agents, and from heartbeats to gateways that refused the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// The figures of [`Health`] that change between health checks and decide
/// placement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    pub sessions: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_free: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_available: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_pressure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_load_pct: Option<u32>,
}

impl Resources {
    pub fn of(health: &Health) -> Resources {
        Resources {
            sessions: health.sessions,
            sessions_free: health.sessions_free,
            memory_available: health.memory_available,
            memory_pressure: health.memory_pressure,
            cpu_load_pct: health.cpu_load_pct,
        }
    }

    /// Puts these figures into `health` (the last one checked), keeping
    /// those this heartbeat does not carry.
    pub fn apply_to(&self, health: &mut Health) {
        health.sessions = self.sessions;
        health.sessions_free = self.sessions_free.or(health.sessions_free);
        health.memory_available = self.memory_available.or(health.memory_available);
        health.memory_pressure = self.memory_pressure.or(health.memory_pressure);
        health.cpu_load_pct = self.cpu_load_pct.or(health.cpu_load_pct);
    }
}

fn default_heartbeat_secs() -> u64 {
    5
}

/// Tags as `k=v,k=v`, the way they are written on the command line.
pub fn format_tags(tags: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// Whether a node with `tags` (and CPU `arch`) satisfies a job's `required` tags:
/// every required key must be present with the same value. The key `arch` also
/// matches the node's architecture unless the node sets an `arch` tag itself.
pub fn tags_match(
    required: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
    arch: Option<&str>,
) -> bool {
    required.iter().all(|(key, want)| match tags.get(key) {
        Some(have) => have == want,
        None => key == "arch" && arch == Some(want.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn health_of_an_agent_without_session_capacity_still_parses() {
        let old = r#"{"status":"ok","version":"0.1.0","arch":"x86_64","tags":{},
            "capacity":4,"in_flight":0,"queued":0,"max_queue":16,
            "browsers_active":1,"browsers_idle":0,"sessions":2,"uptime_secs":9}"#;
        let health: Health = serde_json::from_str(old).unwrap();
        assert_eq!(health.sessions, 2);
        assert_eq!(health.sessions_max, None);
        assert_eq!(health.sessions_free, None);
        assert_eq!(health.memory_available, None);
        let now = Health {
            sessions_max: Some(64),
            sessions_free: Some(62),
            memory_available: Some(1 << 30),
            ..health
        };
        let text = serde_json::to_string(&now).unwrap();
        assert!(
            text.contains(r#""sessions_max":64,"sessions_free":62"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Health>(&text).unwrap(), now);
    }

    #[test]
    fn every_required_tag_must_match() {
        let node = tags(&[("region", "eu"), ("gpu", "no")]);
        assert!(tags_match(&tags(&[]), &node, None));
        assert!(tags_match(&tags(&[("region", "eu")]), &node, None));
        assert!(!tags_match(&tags(&[("region", "us")]), &node, None));
        assert!(!tags_match(
            &tags(&[("region", "eu"), ("disk", "ssd")]),
            &node,
            None
        ));
    }

    #[test]
    fn arch_matches_the_nodes_architecture() {
        let none = tags(&[]);
        assert!(tags_match(
            &tags(&[("arch", "aarch64")]),
            &none,
            Some("aarch64")
        ));
        assert!(!tags_match(
            &tags(&[("arch", "aarch64")]),
            &none,
            Some("x86_64")
        ));
        assert!(!tags_match(&tags(&[("arch", "aarch64")]), &none, None));
        let labelled = tags(&[("arch", "arm")]);
        assert!(tags_match(
            &tags(&[("arch", "arm")]),
            &labelled,
            Some("aarch64")
        ));
    }
}

//! A job: one operation, optionally inside a session, with a deadline.

use serde::{Deserialize, Serialize};

use crate::Operation;

/// Identifies a session: one isolated browser context (own cookies, storage and
/// current page) that lives across jobs until closed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One unit of work for an executor (embedded pool or farm node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Job {
    /// Session to run in; `None` runs in a throw-away context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    pub operation: Operation,
}

impl Job {
    pub fn new(session: Option<SessionId>, operation: Operation) -> Self {
        Job { session, operation }
    }
}

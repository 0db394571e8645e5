//! A job: one operation, optionally inside a session, with placement wishes.

use std::collections::BTreeMap;

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

/// How a session can be reached: the id a session handle carries so that any
/// gateway of the farm can route the session's next call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRoute {
    /// An id the executor that made this route resolves without remembering the
    /// session (a farm node's session is named by node and the node's own id).
    pub id: SessionId,
    /// Whether another gateway with the same nodes can serve it too; false for a
    /// session in one gateway's embedded pool.
    pub portable: bool,
}

/// Which waiting job the gateway starts first when browsers are scarce.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    /// 0 for high, 1 for normal, 2 for low: an index into per-priority queues.
    pub fn rank(self) -> usize {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }
}

/// Node labels a job needs, e.g. `region=eu`; see [`crate::tags_match`].
pub type NodeTags = BTreeMap<String, String>;

/// One unit of work for an executor (embedded pool or farm node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Job {
    /// Session to run in; `None` runs in a throw-away context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    pub operation: Operation,
    /// Only nodes carrying all these tags may run the job (the gateway matches
    /// them; nodes ignore the field).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_tags: NodeTags,
    /// Nodes carrying all these tags are preferred while any of them can take
    /// the job; else it runs elsewhere and its result says where (regions).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefer_tags: NodeTags,
    #[serde(default)]
    pub priority: Priority,
    /// One-off jobs of one group may run at the same time as tabs of one browser
    /// context, sharing its cookies while they run (much faster than a process
    /// each); jobs of different groups never share a context. The MCP server
    /// gives each `batch_scrape` call a group of its own. Ignored by session jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl Job {
    pub fn new(session: Option<SessionId>, operation: Operation) -> Self {
        Job {
            session,
            operation,
            node_tags: NodeTags::new(),
            prefer_tags: NodeTags::new(),
            priority: Priority::Normal,
            group: None,
        }
    }

    /// Lets this one-off job share a browser context with the group's others.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    pub fn with_placement(mut self, node_tags: NodeTags, priority: Priority) -> Self {
        self.node_tags = node_tags;
        self.priority = priority;
        self
    }

    /// Prefers nodes carrying `prefer_tags` (see [`Job::prefer_tags`]).
    pub fn preferring(mut self, prefer_tags: NodeTags) -> Self {
        self.prefer_tags = prefer_tags;
        self
    }
}

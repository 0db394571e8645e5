//! The `Executor` trait.

use async_trait::async_trait;
use browserfarm_protocol::{FarmStatus, Job, JobError, JobOutput, NodeTags, SessionId};

/// Runs jobs and keeps sessions. Implementations must be safe to call
/// concurrently; jobs of one session run one at a time, in arrival order.
#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Opens an isolated session (own cookies, storage and tab) on a node carrying
    /// `node_tags` (empty: anywhere).
    async fn open_session(&self, node_tags: &NodeTags) -> Result<SessionId, JobError>;

    /// Closes a session and frees its browser context. Unknown ids are an error.
    async fn close_session(&self, id: &SessionId) -> Result<(), JobError>;

    /// Runs one job, in its session if it names one, else in a throw-away context.
    async fn run(&self, job: Job) -> Result<JobOutput, JobError>;

    /// Where jobs run: one entry per node (the embedded pool reports itself as one).
    async fn status(&self) -> FarmStatus;

    /// Name of the node serving a session, if the session exists.
    async fn session_node(&self, id: &SessionId) -> Option<String>;

    /// Closes every session and browser; bounded in time. Later calls fail.
    async fn shutdown(&self);
}

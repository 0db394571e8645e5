//! The `Executor` trait.

use async_trait::async_trait;
use browserfarm_protocol::{
    FarmStatus, Job, JobError, JobOutput, NodeTags, SessionId, SessionRoute,
};

/// Who a session belongs to, which decides how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionScope {
    /// One client connection's (stdio, a 2025-11-25 HTTP session, legacy SSE):
    /// the front end closes it when the connection ends, and shutdown closes
    /// it too.
    Connection,
    /// Reached through a session handle, possibly from other gateways: it
    /// outlives this gateway (shutdown leaves it to its node) and ends when
    /// closed or after `idle` without a job.
    Handle { idle: std::time::Duration },
}

/// Runs jobs and keeps sessions. Implementations must be safe to call
/// concurrently; jobs of one session run one at a time, in arrival order.
#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Opens an isolated session (own cookies, storage and tab) on a node carrying
    /// `node_tags` (empty: anywhere), on one carrying `prefer_tags` too while
    /// any such node has room.
    async fn open_session(
        &self,
        node_tags: &NodeTags,
        prefer_tags: &NodeTags,
        scope: SessionScope,
    ) -> Result<SessionId, JobError>;

    /// Closes a session and frees its browser context. Unknown ids are an error.
    async fn close_session(&self, id: &SessionId) -> Result<(), JobError>;

    /// Runs one job, in its session if it names one, else in a throw-away context.
    async fn run(&self, job: Job) -> Result<JobOutput, JobError>;

    /// Where jobs run: one entry per node (the embedded pool reports itself as one).
    async fn status(&self) -> FarmStatus;

    /// Name of the node serving a session, if the session exists.
    async fn session_node(&self, id: &SessionId) -> Option<String>;

    /// How the session can be reached now (it may have moved since it was
    /// opened): an id this executor, or one like it on another gateway, resolves
    /// without having seen the session before. `None` for an unknown session.
    async fn session_route(&self, id: &SessionId) -> Option<SessionRoute>;

    /// Closes every session and browser; bounded in time. Later calls fail.
    async fn shutdown(&self);

    /// Whether a job's `node_tags` and `priority` choose anything here: a farm,
    /// or an embedded pool with labels of its own. The front end lists those
    /// arguments only then (it accepts them always).
    fn offers_placement(&self) -> bool {
        false
    }

    /// Jobs waiting because their target host is at `--max-per-host`, for a
    /// batch's progress.
    fn host_waits(&self) -> usize {
        0
    }
}

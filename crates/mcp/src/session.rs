//! Which browser session a tool call runs in.
//!
//! - A call with a `session` argument runs in the session its handle names
//!   ([`crate::handle`]), whichever connection or gateway it comes through;
//!   `session: "new"` opens another session, so one connection can drive
//!   several browsers.
//! - Otherwise, a call on a connection with a session of its own (stdio, a
//!   2025-11-25 HTTP session with `Mcp-Session-Id`, legacy SSE) runs in the
//!   connection's session, opened on first use and closed with the connection.
//! - Otherwise the request stands alone (MCP 2026-07-28 over HTTP has no
//!   protocol session): it opens a new session, which lives until it is closed
//!   or idles past the handle TTL, and its result carries the handle.

use std::sync::Arc;

use browserfarm_gateway::{Executor, SessionScope};
use browserfarm_protocol::{ErrorKind, JobError, NodeTags, SessionId};
use tokio::sync::Mutex;

use crate::handle::{HandleError, Handles};

/// The connection's executor session, closed when the last clone of the server
/// goes away: transports that drop the handler when an MCP session ends (HTTP
/// session expiry, SSE disconnect) release the browser without a hook of their own.
pub(crate) struct ConnectionSession {
    executor: Arc<dyn Executor>,
    id: Mutex<Option<SessionId>>,
}

impl ConnectionSession {
    pub(crate) fn new(executor: Arc<dyn Executor>) -> ConnectionSession {
        ConnectionSession {
            executor,
            id: Mutex::new(None),
        }
    }

    /// The session, if opened.
    pub(crate) async fn current(&self) -> Option<SessionId> {
        self.id.lock().await.clone()
    }

    /// The session id, opening the session on first use (on a node carrying
    /// `node_tags`).
    async fn get_or_open(
        &self,
        node_tags: &NodeTags,
        prefer_tags: &NodeTags,
    ) -> Result<SessionId, JobError> {
        let mut slot = self.id.lock().await;
        if let Some(id) = slot.as_ref() {
            return Ok(id.clone());
        }
        let id = self
            .executor
            .open_session(node_tags, prefer_tags, SessionScope::Connection)
            .await?;
        *slot = Some(id.clone());
        Ok(id)
    }

    /// Forgets the session if it is `id` (closed by its handle), so the next
    /// call opens a new one instead of failing in a closed session.
    pub(crate) async fn forget(&self, id: &SessionId) {
        let mut slot = self.id.lock().await;
        if slot.as_ref() == Some(id) {
            *slot = None;
        }
    }

    /// Closes the session, if one was opened; the next call opens a new one.
    pub(crate) async fn close(&self) -> bool {
        let Some(id) = self.id.lock().await.take() else {
            return false;
        };
        if let Err(e) = self.executor.close_session(&id).await {
            tracing::debug!(session = %id, error = %e, "closing session");
        }
        true
    }
}

impl Drop for ConnectionSession {
    fn drop(&mut self) {
        let Some(id) = self.id.get_mut().take() else {
            return;
        };
        let executor = self.executor.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = executor.close_session(&id).await {
                    tracing::debug!(session = %id, error = %e, "closing session");
                }
            });
        }
    }
}

/// The `session` argument that asks for another, new browser session, so one
/// connection can drive several.
pub(crate) const NEW: &str = "new";

/// The session a call runs in, and how the caller named it.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub id: SessionId,
    /// The caller addressed it by handle, or it was opened for a call that
    /// stands alone: the handle goes into the result's text, since the model
    /// must pass it back. A connection's own session needs no such line.
    pub by_handle: bool,
}

/// What the call said about its session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Requested {
    /// The `session` argument.
    pub handle: Option<String>,
    /// The request has no connection-scoped session to fall back on.
    pub stands_alone: bool,
}

/// The sessions of one connection, and the handles every connection shares.
#[derive(Clone)]
pub(crate) struct Sessions {
    pub executor: Arc<dyn Executor>,
    pub connection: Arc<ConnectionSession>,
    pub handles: Arc<Handles>,
    /// Who calls (the name of the token presented, `default` for `--token`),
    /// whom handles are bound to.
    pub principal: Option<String>,
}

impl Sessions {
    pub(crate) async fn resolve(
        &self,
        requested: &Requested,
        node_tags: &NodeTags,
        prefer_tags: &NodeTags,
    ) -> Result<Resolved, JobError> {
        let new = requested.handle.as_deref() == Some(NEW);
        if let Some(handle) = requested.handle.as_deref().filter(|_| !new) {
            let id = self.open_handle(handle)?;
            return Ok(Resolved {
                id,
                by_handle: true,
            });
        }
        if new || requested.stands_alone {
            let idle = self.handles.ttl();
            let id = self
                .executor
                .open_session(node_tags, prefer_tags, SessionScope::Handle { idle })
                .await?;
            return Ok(Resolved {
                id,
                by_handle: true,
            });
        }
        Ok(Resolved {
            id: self.connection.get_or_open(node_tags, prefer_tags).await?,
            by_handle: false,
        })
    }

    /// The session a handle names, or an error the agent can act on.
    pub(crate) fn open_handle(&self, handle: &str) -> Result<SessionId, JobError> {
        self.handles
            .open(handle, self.principal.as_deref())
            .map_err(|e| JobError::new(handle_error_kind(&e), e.to_string()))
    }

    /// The handle that reaches `id` now (from this or any other gateway of the
    /// farm), or `None` if the session is gone; `presented` (the call's own)
    /// while it still serves.
    pub(crate) async fn handle_for(
        &self,
        id: &SessionId,
        presented: Option<&str>,
    ) -> Option<String> {
        let route = self.executor.session_route(id).await?;
        Some(
            self.handles
                .renew(&route, self.principal.as_deref(), presented),
        )
    }
}

fn handle_error_kind(e: &HandleError) -> ErrorKind {
    match e {
        HandleError::Unknown | HandleError::OtherGateway => ErrorKind::SessionNotFound,
    }
}

/// A failure of a call addressed by handle, in the handle's words: the session
/// it named no longer exists (closed, expired on its node).
pub(crate) fn gone(error: JobError) -> JobError {
    if error.kind == ErrorKind::SessionNotFound {
        JobError::new(ErrorKind::SessionNotFound, HandleError::Unknown.to_string())
    } else {
        error
    }
}

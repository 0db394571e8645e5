//! Which browser session a tool call runs in.
//!
//! - A call with a `session` argument runs in the session its handle names
//!   ([`crate::handle`]), whichever connection or gateway it comes through;
//!   `session: "new"` opens another session, so one connection can drive
//!   several browsers.
//! - Otherwise, a call on a connection with a session of its own (stdio, a
//!   2025-11-25 HTTP session with `Mcp-Session-Id`, legacy SSE) runs in the
//!   connection's session, opened on first use. Over stdio it closes with the
//!   connection. Over HTTP its results show the handle too, and it outlives
//!   its MCP session ([`Detached`]): clients such as LangChain's default open
//!   an MCP session per tool call, and their model carries the browser on by
//!   the handle. It then ends by idling past the handle TTL, or as the oldest
//!   of too many such sessions of one client.
//! - Otherwise the request stands alone (MCP 2026-07-28 over HTTP has no
//!   protocol session): it opens a new session, which lives until it is closed
//!   or idles past the handle TTL, and its result carries the handle.

use std::sync::Arc;
use std::time::Duration;

use browserfarm_gateway::{Executor, SessionScope};
use browserfarm_protocol::{ErrorKind, JobError, NodeTags, SessionId};
use tokio::sync::Mutex;

use crate::handle::{HandleError, Handles};

/// The connection's executor session, closed when the last clone of the server
/// goes away: transports that drop the handler when an MCP session ends (HTTP
/// session expiry, SSE disconnect) release the browser without a hook of their
/// own; with [`Detach`] (HTTP), the session is handed to [`Detached`] instead.
pub(crate) struct ConnectionSession {
    executor: Arc<dyn Executor>,
    id: Mutex<Option<SessionId>>,
    detach: Option<Detach>,
}

/// Where a connection's session goes when the connection ends, and how long
/// it may idle there.
#[derive(Clone)]
pub(crate) struct Detach {
    pub detached: Arc<Detached>,
    /// The client it counts against (principal, else address).
    pub client: String,
    pub idle: Duration,
}

impl ConnectionSession {
    pub(crate) fn new(executor: Arc<dyn Executor>, detach: Option<Detach>) -> ConnectionSession {
        ConnectionSession {
            executor,
            id: Mutex::new(None),
            detach,
        }
    }

    /// Where the session goes when the connection ends, if it outlives the
    /// connection (HTTP), so results show its handle.
    pub(crate) fn detached(&self) -> Option<&Arc<Detached>> {
        self.detach.as_ref().map(|d| &d.detached)
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
        // A session that outlives its connection ends by idling, as one
        // reached by handle does.
        let scope = match &self.detach {
            Some(detach) => SessionScope::Handle { idle: detach.idle },
            None => SessionScope::Connection,
        };
        let id = self
            .executor
            .open_session(node_tags, prefer_tags, scope)
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
        let detach = self.detach.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                match detach {
                    Some(detach) => detach.detached.keep(&detach.client, id).await,
                    None => {
                        if let Err(e) = executor.close_session(&id).await {
                            tracing::debug!(session = %id, error = %e, "closing session");
                        }
                    }
                }
            });
        }
    }
}

/// Default for the sessions one client may keep past their connections
/// (`--max-detached-sessions`).
pub const DEFAULT_MAX_DETACHED: usize = 8;

/// How many closed sessions are remembered, so their next use says why.
const CLOSED_REMEMBERED: usize = 4096;

/// Sessions of HTTP connections that ended, kept for their handles: per
/// client, at most `max`, the least recently used closed first to make room.
pub(crate) struct Detached {
    executor: Arc<dyn Executor>,
    max: usize,
    state: std::sync::Mutex<DetachedState>,
}

#[derive(Default)]
struct DetachedState {
    /// Each client's kept sessions, least recently used first.
    by_client: std::collections::HashMap<String, std::collections::VecDeque<SessionId>>,
    /// Sessions closed to make room, newest last.
    closed: std::collections::VecDeque<SessionId>,
}

impl Detached {
    pub(crate) fn new(executor: Arc<dyn Executor>, max: usize) -> Detached {
        Detached {
            executor,
            max: max.max(1),
            state: Default::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, DetachedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `id`, whose connection ended, for `client`; closes that client's
    /// least recently used kept sessions past the bound. Sessions that ended
    /// meanwhile (idle expiry, `close_session`) are dropped first.
    pub(crate) async fn keep(&self, client: &str, id: SessionId) {
        let kept: Vec<SessionId> = {
            let mut state = self.state();
            let queue = state.by_client.entry(client.to_owned()).or_default();
            queue.retain(|s| *s != id);
            queue.push_back(id);
            queue.iter().cloned().collect()
        };
        let mut gone = Vec::new();
        if kept.len() > self.max {
            for id in &kept {
                if self.executor.session_route(id).await.is_none() {
                    gone.push(id.clone());
                }
            }
        }
        let evicted: Vec<SessionId> = {
            let mut state = self.state();
            let Some(queue) = state.by_client.get_mut(client) else {
                return;
            };
            queue.retain(|s| !gone.contains(s));
            let over = queue.len().saturating_sub(self.max);
            let evicted: Vec<SessionId> = queue.drain(..over).collect();
            if queue.is_empty() {
                state.by_client.remove(client);
            }
            for id in &evicted {
                state.closed.push_back(id.clone());
            }
            while state.closed.len() > CLOSED_REMEMBERED {
                state.closed.pop_front();
            }
            evicted
        };
        for id in evicted {
            tracing::info!(session = %id, client, max = self.max,
                "closing the least recently used session kept past its connection");
            if let Err(e) = self.executor.close_session(&id).await {
                tracing::debug!(session = %id, error = %e, "closing session");
            }
        }
    }

    /// `id` was used by handle: it is now its client's most recently used.
    pub(crate) fn touch(&self, id: &SessionId) {
        let mut state = self.state();
        for queue in state.by_client.values_mut() {
            if let Some(at) = queue.iter().position(|s| s == id) {
                if let Some(id) = queue.remove(at) {
                    queue.push_back(id);
                }
                return;
            }
        }
    }

    /// Why `id` is gone, if it was closed to make room.
    pub(crate) fn closed_why(&self, id: &SessionId) -> Option<String> {
        self.state().closed.contains(id).then(|| {
            format!(
                "this browser session was closed: its client kept more than {} sessions \
                 after their MCP connections ended (--max-detached-sessions), and it was the \
                 least recently used. Call without `session` to start a new one (its result \
                 carries the new handle), then redo the steps that led here.",
                self.max
            )
        })
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
    /// stands alone.
    pub by_handle: bool,
    /// The handle goes into the result's text, since the model must pass it
    /// back: a session reached by handle, or one that outlives its connection.
    /// A stdio connection's own session needs no such line.
    pub shown: bool,
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
            if let Some(detached) = self.connection.detached() {
                detached.touch(&id);
            }
            return Ok(Resolved {
                id,
                by_handle: true,
                shown: true,
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
                shown: true,
            });
        }
        Ok(Resolved {
            id: self.connection.get_or_open(node_tags, prefer_tags).await?,
            by_handle: false,
            shown: self.connection.detached().is_some(),
        })
    }

    /// A failure of a call addressed by handle, in the handle's words: the
    /// session it named no longer exists (closed, expired on its node, or
    /// closed to make room among its client's detached sessions).
    pub(crate) fn gone(&self, id: &SessionId, error: JobError) -> JobError {
        if error.kind != ErrorKind::SessionNotFound {
            return error;
        }
        let message = self
            .connection
            .detached()
            .and_then(|d| d.closed_why(id))
            .unwrap_or_else(|| HandleError::Unknown.to_string());
        JobError::new(ErrorKind::SessionNotFound, message)
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

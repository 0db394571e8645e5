//! Session bookkeeping on the node: when each session was last used, so sessions a
//! gateway forgot (crashed, partitioned) are closed after the TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use browserfarm_gateway::Executor;
use browserfarm_protocol::SessionId;

use crate::Node;

#[derive(Default)]
pub(crate) struct Sessions {
    last_used: Mutex<HashMap<SessionId, Instant>>,
}

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Instant>> {
        self.last_used.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn touch(&self, id: &SessionId) {
        self.map().insert(id.clone(), Instant::now());
    }

    pub fn forget(&self, id: &SessionId) {
        self.map().remove(id);
    }

    pub fn count(&self) -> usize {
        self.map().len()
    }
}

/// Closes sessions idle longer than the TTL; runs for the node's lifetime.
pub(crate) async fn expire_idle(node: Arc<Node>) {
    let ttl = node.config.session_ttl;
    let period = (ttl / 4).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(30),
    );
    loop {
        tokio::time::sleep(period).await;
        let expired: Vec<SessionId> = {
            let mut map = node.sessions.map();
            let expired: Vec<SessionId> = map
                .iter()
                .filter(|(_, t)| t.elapsed() >= ttl)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &expired {
                map.remove(id);
            }
            expired
        };
        for id in expired {
            tracing::info!(session = %id, "closing session idle past its TTL");
            let _ = node.executor.close_session(&id).await;
        }
    }
}

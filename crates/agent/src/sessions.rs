//! Sessions a gateway forgot (crashed, partitioned, or a handle nobody passes
//! back) are closed after the node's TTL; the bookkeeping is the gateway crate's
//! [`browserfarm_gateway::IdleSessions`].

use std::sync::Arc;

use browserfarm_gateway::{Executor, sweep_period};

use crate::Node;

/// Closes sessions idle longer than the TTL; runs for the node's lifetime.
pub(crate) async fn expire_idle(node: Arc<Node>) {
    let period = sweep_period(node.config.session_ttl);
    loop {
        tokio::time::sleep(period).await;
        for id in node.sessions.take_expired() {
            tracing::info!(session = %id, "closing session idle past its TTL");
            let _ = node.executor.close_session(&id).await;
        }
    }
}

//! The gateway's states as the Prometheus gauges a scrape samples
//! ([`browserfarm_metrics::Gauges`]): each node's health and breaker, the
//! embedded pool's browsers and contexts, the admission queue's depth. The
//! metrics crate cannot know these types (the gateway records into it), so
//! the binary hands these to its `Exposition`.

use std::sync::Arc;

use async_trait::async_trait;
use browserfarm_metrics::Gauges;

use crate::{Admission, Executor, LocalExecutor};

/// Up/down and breaker state of every node the executor reports (a farm's
/// members, or the embedded pool as its one node).
pub struct NodeGauges(pub Arc<dyn Executor>);

/// Chromium processes and session contexts of this process's pool.
pub struct PoolGauges(pub Arc<LocalExecutor>);

/// Jobs waiting in the gateway's admission queue.
pub struct QueueGauges(pub Arc<Admission>);

#[async_trait]
impl Gauges for NodeGauges {
    async fn sample(&self) {
        browserfarm_metrics::nodes(&self.0.status().await);
    }
}

#[async_trait]
impl Gauges for PoolGauges {
    async fn sample(&self) {
        let running = self.0.pool().status().running;
        browserfarm_metrics::browsers(running, self.0.status().await.sessions);
    }
}

#[async_trait]
impl Gauges for QueueGauges {
    async fn sample(&self) {
        browserfarm_metrics::queue_depth(self.0.queued());
    }
}

//! Graceful stop: every tool call a client sent gets an answer.
//!
//! On SIGTERM the server stops starting tool calls (new ones are answered with
//! "shutting down"), lets the running ones finish for a grace period, and then
//! cuts those still running: each answers with an error that says so, instead of
//! the connection closing under it. Only after that does the transport close and
//! the browsers go.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long answers of cut calls get to reach the transport before it closes.
const SETTLE: Duration = Duration::from_millis(200);

/// Shared by every connection of a server; cheap to clone.
#[derive(Clone, Default)]
pub struct Drain {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("closing", &self.inner.closing.is_cancelled())
            .field("running", &self.inner.running.load(Ordering::Relaxed))
            .finish()
    }
}

#[derive(Default)]
struct Inner {
    /// Set when the stop begins: no call starts after it.
    closing: CancellationToken,
    /// Set when the grace period is over: running calls give up.
    cut: CancellationToken,
    running: AtomicUsize,
    idle: Notify,
}

/// A running tool call; the drain waits for it.
pub(crate) struct Running(Arc<Inner>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    pub fn new() -> Drain {
        Drain::default()
    }

    /// Stops new calls, waits up to `grace` for running ones, then cuts the rest
    /// and waits until their answers are out. Returns how many calls were cut.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.inner.closing.cancel();
        let finished = tokio::time::timeout(grace, self.idle()).await.is_ok();
        let cut = if finished {
            0
        } else {
            self.inner.running.load(Ordering::Acquire)
        };
        if cut > 0 {
            tracing::warn!(
                calls = cut,
                "tool calls still running after the {grace:?} grace period; answering them \
                 with an error"
            );
        }
        self.inner.cut.cancel();
        let _ = tokio::time::timeout(SETTLE, self.idle()).await;
        tokio::time::sleep(SETTLE).await;
        cut
    }

    async fn idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.inner.running.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Counts a call as running; `None` once the stop has begun.
    pub(crate) fn enter(&self) -> Option<Running> {
        if self.inner.closing.is_cancelled() {
            return None;
        }
        self.inner.running.fetch_add(1, Ordering::AcqRel);
        Some(Running(self.inner.clone()))
    }

    /// Resolves when running calls must give up.
    pub(crate) async fn cut(&self) {
        self.inner.cut.cancelled().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_running_calls_then_refuses_new_ones() {
        let drain = Drain::new();
        let call = drain.enter().expect("open");
        let stopping = tokio::spawn({
            let drain = drain.clone();
            async move { drain.drain(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(drain.enter().is_none(), "no call starts once draining");
        assert!(!stopping.is_finished(), "waits for the running call");
        drop(call);
        assert_eq!(stopping.await.unwrap(), 0);
    }

    #[tokio::test]
    async fn cuts_calls_that_outlive_the_grace_period() {
        let drain = Drain::new();
        let call = drain.enter().expect("open");
        let cut = tokio::spawn({
            let drain = drain.clone();
            async move {
                drain.cut().await;
                drop(call);
            }
        });
        assert_eq!(drain.drain(Duration::from_millis(50)).await, 1);
        cut.await.unwrap();
    }
}

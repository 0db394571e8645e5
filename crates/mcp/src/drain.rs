//! Graceful stop: every tool call a client sent gets an answer.
//!
//! On SIGTERM the server stops starting tool calls (new ones are answered with
//! "shutting down"), lets the running ones finish for a grace period, and then
//! cuts those still running: each answers with an error that says so, instead of
//! the connection closing under it. Only after that does the transport close and
//! the browsers go.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// How long answers of cut calls get to reach the transport before it closes.
const SETTLE: Duration = Duration::from_millis(200);

/// Shared by every connection of a server; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    /// Holds one token per running call; closed when the stop begins, after
    /// which no call starts.
    running: TaskTracker,
    /// Set when the grace period is over: running calls give up.
    cut: CancellationToken,
}

/// A running tool call; the drain waits for it.
pub(crate) type Running = TaskTrackerToken;

impl Drain {
    pub fn new() -> Drain {
        Drain::default()
    }

    /// Stops new calls, waits up to `grace` for running ones, then cuts the rest
    /// and waits until their answers are out. Returns how many calls were cut.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.running.close();
        let finished = tokio::time::timeout(grace, self.running.wait())
            .await
            .is_ok();
        let cut = if finished { 0 } else { self.running.len() };
        if cut > 0 {
            tracing::warn!(
                calls = cut,
                "tool calls still running after the {grace:?} grace period; answering them \
                 with an error"
            );
        }
        self.cut.cancel();
        let _ = tokio::time::timeout(SETTLE, self.running.wait()).await;
        tokio::time::sleep(SETTLE).await;
        cut
    }

    /// Counts a call as running; `None` once the stop has begun.
    pub(crate) fn enter(&self) -> Option<Running> {
        (!self.running.is_closed()).then(|| self.running.token())
    }

    /// Resolves when running calls must give up.
    pub(crate) async fn cut(&self) {
        self.cut.cancelled().await
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

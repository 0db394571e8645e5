//! The gateway's admission queue: at most as many jobs in flight as the farm
//! can run (its nodes' capacity), the rest waiting in a bounded queue served
//! high priority first (first come, first served within a priority). Without it
//! every job would be sent at once and nodes would sort it out with 429s,
//! ignoring priorities.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use browserfarm_protocol::{
    ErrorKind, FarmStatus, Job, JobError, JobOutput, NodeTags, Priority, SessionId, SessionRoute,
};
use tokio::sync::oneshot;

use crate::{Executor, HostLimit, SessionScope};

/// Queue settings (`--max-queue`, `--queue-wait-secs`).
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// Most jobs waiting at once; more are refused as busy.
    pub max_queue: usize,
    /// Longest a job waits for a free slot before it is refused as busy.
    pub max_wait: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_queue: 1000,
            max_wait: Duration::from_secs(60),
        }
    }
}

struct State {
    running: usize,
    /// 0 means unknown (no node up yet): jobs pass straight through and the
    /// executor explains why nothing can run them.
    capacity: usize,
    /// One FIFO per priority rank.
    waiting: [VecDeque<oneshot::Sender<()>>; 3],
}

impl State {
    /// Waiters still waiting; those that gave up are dropped here, so they never
    /// hold a queue place.
    fn queued(&mut self) -> usize {
        for queue in &mut self.waiting {
            queue.retain(|tx| !tx.is_closed());
        }
        self.waiting.iter().map(VecDeque::len).sum()
    }

    /// Hands free slots to waiters, highest priority first. A waiter that gave
    /// up (dropped its receiver) is skipped.
    fn hand_over(&mut self) {
        while self.capacity == 0 || self.running < self.capacity {
            let Some(next) = self.waiting.iter_mut().find_map(VecDeque::pop_front) else {
                return;
            };
            if next.send(()).is_ok() {
                self.running += 1;
            }
        }
    }
}

/// Slots and the priority queue. Cheap to share.
pub struct Admission {
    state: Mutex<State>,
    config: QueueConfig,
}

/// A job's right to run; frees its slot (to the next waiter) on drop.
pub struct Slot {
    admission: Arc<Admission>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        state.running = state.running.saturating_sub(1);
        state.hand_over();
    }
}

impl Admission {
    pub fn new(config: QueueConfig) -> Arc<Admission> {
        Arc::new(Admission {
            state: Mutex::new(State {
                running: 0,
                capacity: 0,
                waiting: Default::default(),
            }),
            config,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the farm's size as nodes come and go.
    pub fn set_capacity(&self, capacity: usize) {
        let mut state = self.lock();
        state.capacity = capacity;
        state.hand_over();
    }

    pub fn queued(&self) -> usize {
        self.lock().queued()
    }

    pub fn running(&self) -> usize {
        self.lock().running
    }

    /// Waits for a slot; refuses at once when the queue is full, and after
    /// `max_wait` in the queue.
    pub async fn admit(self: &Arc<Self>, priority: Priority) -> Result<Slot, JobError> {
        let mut rx = {
            let mut state = self.lock();
            if state.capacity == 0 || state.running < state.capacity {
                state.running += 1;
                return Ok(Slot {
                    admission: self.clone(),
                });
            }
            let queued = state.queued();
            if queued >= self.config.max_queue {
                return Err(JobError::new(
                    ErrorKind::Busy,
                    format!(
                        "the gateway queue is full ({queued} jobs waiting; {} run at once); \
                         retry later or lower batch concurrency",
                        state.capacity
                    ),
                ));
            }
            let (tx, rx) = oneshot::channel();
            state.waiting[priority.rank()].push_back(tx);
            rx
        };
        match tokio::time::timeout(self.config.max_wait, &mut rx).await {
            Ok(Ok(())) => Ok(Slot {
                admission: self.clone(),
            }),
            _ => {
                // A slot handed over just as the wait ended is still ours.
                rx.close();
                if rx.try_recv().is_ok() {
                    return Ok(Slot {
                        admission: self.clone(),
                    });
                }
                Err(JobError::new(
                    ErrorKind::Busy,
                    format!(
                        "no browser came free within {} s; the farm is saturated, retry later",
                        self.config.max_wait.as_secs()
                    ),
                ))
            }
        }
    }
}

/// An executor whose jobs pass through [`Admission`] first; everything else is
/// delegated. Capacity is refreshed from `capacity` every half second.
pub struct Queued {
    inner: Arc<dyn Executor>,
    admission: Arc<Admission>,
    /// Jobs that load a page take their host's share first (`--max-per-host`).
    hosts: Arc<HostLimit>,
    refresh: tokio::task::AbortHandle,
}

impl Queued {
    pub fn new(
        inner: Arc<dyn Executor>,
        config: QueueConfig,
        capacity: impl Fn() -> usize + Send + Sync + 'static,
    ) -> Queued {
        let admission = Admission::new(config);
        admission.set_capacity(capacity());
        let watched = Arc::downgrade(&admission);
        let refresh = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let Some(admission) = watched.upgrade() else {
                    return;
                };
                admission.set_capacity(capacity());
            }
        })
        .abort_handle();
        Queued {
            inner,
            admission,
            hosts: HostLimit::new(0),
            refresh,
        }
    }

    /// At most `per_host` jobs loading pages of one host at once (0: no limit).
    pub fn with_max_per_host(mut self, per_host: usize) -> Queued {
        self.hosts = HostLimit::new(per_host);
        self
    }

    pub fn admission(&self) -> &Arc<Admission> {
        &self.admission
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.refresh.abort();
    }
}

#[async_trait]
impl Executor for Queued {
    fn offers_placement(&self) -> bool {
        self.inner.offers_placement()
    }

    async fn open_session(
        &self,
        node_tags: &NodeTags,
        prefer_tags: &NodeTags,
        scope: SessionScope,
    ) -> Result<SessionId, JobError> {
        self.inner.open_session(node_tags, prefer_tags, scope).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), JobError> {
        self.inner.close_session(id).await
    }

    async fn run(&self, job: Job) -> Result<JobOutput, JobError> {
        job.operation.validate()?;
        // The host before the slot: a job waiting for its host holds no
        // browser, so pages of other hosts pass it. Only one-off reads (batch
        // pages, calls that stand alone) wait: a session's navigation is an
        // agent's own step, like a person's click, and is never held back.
        let one_off = job.session.is_none();
        let _host = match job.operation.url().filter(|_| one_off) {
            Some(url) => tokio::time::timeout(self.admission.config.max_wait, self.hosts.take(url))
                .await
                .map_err(|_| {
                    JobError::new(
                        ErrorKind::Busy,
                        format!(
                            "this host's pages held all of its --max-per-host places for {} s; \
                             retry later or read fewer of its pages at once",
                            self.admission.config.max_wait.as_secs()
                        ),
                    )
                })?,
            None => None,
        };
        let _slot = self.admission.admit(job.priority).await?;
        self.inner.run(job).await
    }

    fn host_waits(&self) -> usize {
        self.hosts.waiting()
    }

    async fn status(&self) -> FarmStatus {
        self.inner.status().await
    }

    async fn session_node(&self, id: &SessionId) -> Option<String> {
        self.inner.session_node(id).await
    }

    async fn session_route(&self, id: &SessionId) -> Option<SessionRoute> {
        self.inner.session_route(id).await
    }

    async fn shutdown(&self) {
        self.refresh.abort();
        self.inner.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(capacity: usize, max_queue: usize) -> Arc<Admission> {
        let a = Admission::new(QueueConfig {
            max_queue,
            max_wait: Duration::from_secs(60),
        });
        a.set_capacity(capacity);
        a
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_jobs_start_by_priority_then_arrival() {
        let a = admission(1, 10);
        let first = a.admit(Priority::Normal).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, p) in [
            ("low", Priority::Low),
            ("normal-1", Priority::Normal),
            ("high", Priority::High),
            ("normal-2", Priority::Normal),
        ] {
            let (a, order) = (a.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = a.admit(p).await.unwrap();
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }));
            tokio::task::yield_now().await;
        }
        assert_eq!(a.queued(), 4);
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["high", "normal-1", "normal-2", "low"]
        );
        assert_eq!(a.running(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_at_once_and_waits_are_bounded() {
        let a = admission(1, 1);
        let _held = a.admit(Priority::Normal).await.unwrap();
        let waiter = tokio::spawn({
            let a = a.clone();
            async move { a.admit(Priority::High).await.map(drop) }
        });
        tokio::task::yield_now().await;
        let refused = a.admit(Priority::High).await.err().unwrap();
        assert_eq!(refused.kind, ErrorKind::Busy);
        assert!(
            refused.message.contains("queue is full"),
            "{}",
            refused.message
        );
        // The queued one gives up after max_wait, and its place is not leaked.
        let timed_out = waiter.await.unwrap().err().unwrap();
        assert!(
            timed_out.message.contains("within 60 s"),
            "{}",
            timed_out.message
        );
        assert_eq!(a.queued(), 0);
        assert_eq!(a.running(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn more_capacity_starts_waiting_jobs() {
        let a = admission(1, 10);
        let _held = a.admit(Priority::Normal).await.unwrap();
        let waiter = tokio::spawn({
            let a = a.clone();
            async move { a.admit(Priority::Normal).await.map(drop) }
        });
        tokio::task::yield_now().await;
        assert_eq!(a.queued(), 1);
        a.set_capacity(2);
        waiter.await.unwrap().unwrap();
        assert_eq!(a.queued(), 0);
    }
}

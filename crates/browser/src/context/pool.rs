//! The pool other crates use: the process pool with the books the context
//! layer keeps over it. One-off hosts by group ([`super::oneoff`]), the
//! processes sessions are packed into ([`super::packing`]), the spare context
//! ([`super::spare`]), and the warm-up that starts `min_browsers` processes with
//! a context and tab opened ahead in each ([`super::scratch`]).

use std::sync::Arc;

use browserfarm_protocol::JobError;

use super::oneoff::Hosts;
use super::packing::SessionHosts;
use super::scratch::Scratch;
use super::spare::{self, Spare};
use crate::process::{LaunchError, Lease, PoolConfig, PoolStatus, ProcessPool};

/// Point-in-time occupancy of the pool by sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOccupancy {
    pub open: usize,
    /// Processes holding at least one session (none of them free for one-off jobs).
    pub processes: usize,
    pub max: usize,
    /// Contexts opened ahead for the next new sessions (0 or 1; see `spare`).
    pub ready: usize,
}

/// Cheap to clone handle to the pool.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    processes: ProcessPool,
    config: PoolConfig,
    background: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
    /// Processes running one-off jobs right now, by group.
    hosts: Hosts,
    /// Processes holding sessions, and how many each holds.
    session_hosts: SessionHosts,
    /// The context opened ahead for the next new session.
    spare: Spare,
    /// True once the processes started at start are up (or failed to start).
    warm_done: tokio::sync::watch::Receiver<bool>,
    /// Set by shutdown: clean-up that only readies a process for its next
    /// user (wiping a host's context) is skipped, since there is none.
    stopping: std::sync::atomic::AtomicBool,
}

impl Pool {
    /// Finds Chromium, reaps leftovers of dead owners, and starts warming up
    /// `min_browsers` processes in the background. Fails fast when no Chromium is
    /// found, so a misconfigured server says so at start, not at the first call.
    pub fn start(config: PoolConfig) -> Result<Pool, LaunchError> {
        let processes = ProcessPool::start(&config)?;
        let (warmed, warm_done) = tokio::sync::watch::channel(false);
        let warm_count = config.min_browsers.min(config.max_browsers);
        let inner = Arc::new(Inner {
            processes,
            config,
            background: Default::default(),
            hosts: Default::default(),
            session_hosts: Default::default(),
            spare: Default::default(),
            warm_done,
            stopping: Default::default(),
        });
        let warm = tokio::spawn(warm_up(inner.clone(), warm_count, warmed));
        let keeper = tokio::spawn(spare::keep(Arc::downgrade(&inner)));
        inner
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend([warm.abort_handle(), keeper.abort_handle()]);
        Ok(Pool { inner })
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Pool {
        Pool { inner }
    }

    pub(crate) fn spare(&self) -> &Spare {
        &self.inner.spare
    }

    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// The Chromium executable in use.
    pub fn executable(&self) -> &std::path::Path {
        self.inner.processes.executable()
    }

    /// Leases a healthy process, starting one if there is room, waiting up to
    /// `acquire_timeout` otherwise.
    pub async fn lease(&self) -> Result<Lease, JobError> {
        // A call arriving while the first processes start would find none idle
        // and start one more: on two cores, two Chromiums starting at once each
        // take twice as long. Waiting for the warm-up is quicker (bounded by the
        // launch timeout, which bounds the warm-up itself).
        let mut warm_done = self.inner.warm_done.clone();
        if !*warm_done.borrow() {
            let _ = tokio::time::timeout(
                self.inner.config.launch_timeout + self.inner.config.cdp_timeout,
                warm_done.wait_for(|done| *done),
            )
            .await;
        }
        self.inner.processes.lease().await
    }

    pub fn status(&self) -> PoolStatus {
        self.inner.processes.status()
    }

    pub(crate) fn hosts(&self) -> &Hosts {
        &self.inner.hosts
    }

    /// Whether shutdown has begun.
    pub(crate) fn stopping(&self) -> bool {
        self.inner
            .stopping
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn session_hosts(&self) -> &SessionHosts {
        &self.inner.session_hosts
    }

    /// Sessions open now, the processes they occupy, and the most sessions the
    /// pool can hold at once.
    pub fn sessions(&self) -> SessionOccupancy {
        let (processes, open) = self.inner.session_hosts.occupancy();
        let config = &self.inner.config;
        SessionOccupancy {
            open,
            processes,
            max: config.max_sessions.clamp(
                1,
                config.max_browsers.max(1) * config.sessions_per_browser.max(1),
            ),
            ready: usize::from(self.inner.spare.is_ready()),
        }
    }

    /// Whether the machine (or its cgroup) has less free memory than the pool
    /// keeps (`--min-free-memory-mib`): new sessions are refused while it does.
    pub fn memory_pressure(&self) -> bool {
        crate::process::capacity::memory_refusal(self.inner.config.min_free_memory).is_some()
    }

    /// Runs clean-up work that holds a lease; shutdown waits for it (bounded).
    pub(crate) fn spawn_tracked(
        &self,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.inner.processes.spawn_tracked(work);
    }

    /// Closes every process and waits (bounded) until they are gone, including
    /// those still leased when shutdown starts (a session closing, a scratch tab
    /// being wiped): they are closed as they come back. Idempotent.
    pub async fn shutdown(&self) {
        self.inner
            .stopping
            .store(true, std::sync::atomic::Ordering::Release);
        for task in self
            .inner
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            task.abort();
        }
        self.inner.spare.clear();
        self.inner.processes.shutdown().await;
    }
}

/// Starts `count` processes, each with a context and tab opened ahead for the
/// first job, then says so on `done`. Leases from the process pool directly:
/// [`Pool::lease`] waits for this.
async fn warm_up(inner: Arc<Inner>, count: usize, done: tokio::sync::watch::Sender<bool>) {
    let deadline = inner.config.cdp_timeout;
    let warm_one = || async {
        let lease = inner.processes.lease().await.map_err(|e| e.message)?;
        let started = std::time::Instant::now();
        let scratch = Scratch::open_ahead(&lease, deadline).await?;
        tracing::debug!(pid = lease.pid(), elapsed = ?started.elapsed(), "opened a context ahead");
        scratch.park(&lease);
        Ok::<_, String>(())
    };
    let warmed = futures::future::join_all((0..count).map(|_| warm_one())).await;
    for result in warmed {
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not pre-start a browser");
        }
    }
    done.send_replace(true);
}

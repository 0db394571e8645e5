//! The pool of Chromium processes (deadpool, managed).
//!
//! A [`Lease`] is one process held exclusively, by a session for its whole life or by
//! a one-off job. Processes are recycled after opening `max_leases` browser contexts
//! (one per session; one-off jobs share a scratch context per 50 jobs; Chromium leaks
//! memory over time and deadpool has no max lifetime), replaced when they crash or
//! hang, closed after `idle_timeout` unused (down to `min_browsers`), and all closed
//! (close, wait, kill if needed) on [`Pool::shutdown`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use browserfarm_protocol::{ErrorKind, JobError};
use deadpool::managed::{self, Metrics, PoolError, RecycleError, RecycleResult};
use tokio_util::task::TaskTracker;

use crate::LaunchError;
use crate::chrome::{ChromeProcess, LaunchOptions, find_chrome};
use crate::reap::{owner_dir_name, reap_stale};

/// Default screenshot budget: about 1 MB, which a 1280×720 PNG of an ordinary
/// page stays well under, and which keeps a full-page capture from flooding an
/// agent's context.
pub const DEFAULT_SCREENSHOT_MAX_BYTES: usize = 1_000_000;

/// Default cap on one downloaded file.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 20_000_000;

/// Pool settings. Every field is a documented CLI flag / env var in the binary.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Chromium executable; `None` searches `PATH`.
    pub chrome: Option<PathBuf>,
    /// Processes kept running even when idle (started in the background at start).
    pub min_browsers: usize,
    /// Most processes at once (sessions and one-off jobs together).
    pub max_browsers: usize,
    /// Most sessions (incognito contexts) packed into one process.
    pub sessions_per_browser: usize,
    /// Most sessions open at once (and never more than `max_browsers` times
    /// `sessions_per_browser`); see [`crate::capacity`] for the default.
    pub max_sessions: usize,
    /// Free memory, in bytes, below which new sessions are refused (0: never).
    pub min_free_memory: u64,
    /// A process is replaced after opening this many browser contexts (sessions).
    pub max_leases: usize,
    /// Idle processes beyond `min_browsers` are closed after this long unused.
    pub idle_timeout: Duration,
    /// How long a caller waits for a free process before getting an error.
    pub acquire_timeout: Duration,
    /// How long Chromium may take to start.
    pub launch_timeout: Duration,
    /// Deadline for any single CDP command.
    pub cdp_timeout: Duration,
    /// Page-load deadline when a call gives no `timeout_ms`.
    pub navigation_timeout: Duration,
    /// How long `evaluate` may run before V8 terminates the script.
    pub script_timeout: Duration,
    /// Viewport in CSS pixels, width × height.
    pub viewport: (u32, u32),
    /// Run Chromium without its sandbox even when not root.
    pub no_sandbox: bool,
    /// Directory `upload_file` may take files from; `None` turns uploads off.
    pub upload_dir: Option<PathBuf>,
    /// Largest screenshot returned, in bytes; larger captures are re-encoded as
    /// JPEG and scaled down until they fit.
    pub screenshot_max_bytes: usize,
    /// Let sessions' pages download files (saved per session, capped at
    /// `max_download_bytes` each); off refuses downloads and tells the agent.
    pub downloads: bool,
    /// Largest file a download may grow to before it is cancelled.
    pub max_download_bytes: u64,
    /// Hosts pages may reach; `None` lets them reach any.
    pub gate: Option<std::sync::Arc<crate::Gate>>,
    /// Let pages open popups: script-opened windows are allowed, and popups
    /// become tabs of the session. Off, Chromium's popup blocker stops script
    /// popups and a popup a click opens is closed at once (the agent is told).
    pub popups: bool,
    /// Most tabs one session may hold.
    pub max_tabs: usize,
}

impl Default for PoolConfig {
    /// Limits sized for this machine's memory (see [`crate::capacity`]).
    fn default() -> Self {
        let memory = crate::capacity::Memory::read();
        let max_sessions = crate::capacity::default_max_sessions(memory);
        PoolConfig {
            chrome: None,
            min_browsers: 1,
            max_browsers: default_max_browsers(max_sessions, DEFAULT_SESSIONS_PER_BROWSER),
            sessions_per_browser: DEFAULT_SESSIONS_PER_BROWSER,
            max_sessions,
            min_free_memory: crate::capacity::default_reserve(memory),
            max_leases: 100,
            idle_timeout: Duration::from_secs(300),
            acquire_timeout: Duration::from_secs(30),
            launch_timeout: Duration::from_secs(20),
            cdp_timeout: Duration::from_secs(10),
            navigation_timeout: Duration::from_millis(browserfarm_protocol::DEFAULT_TIMEOUT_MS),
            script_timeout: Duration::from_secs(10),
            viewport: (1280, 720),
            no_sandbox: false,
            upload_dir: None,
            screenshot_max_bytes: DEFAULT_SCREENSHOT_MAX_BYTES,
            downloads: false,
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
            gate: None,
            popups: false,
            max_tabs: browserfarm_protocol::MAX_TABS,
        }
    }
}

/// Default for [`PoolConfig::sessions_per_browser`]: 16 sessions of simple pages
/// cost a process far less than 16 processes, and a crash or hang of one
/// process still ends only a sixteenth of a full pool's sessions.
pub const DEFAULT_SESSIONS_PER_BROWSER: usize = 16;

/// Default for [`PoolConfig::max_browsers`]: enough processes for
/// `max_sessions` sessions, `per_browser` in each, and at least two, so one-off
/// jobs have a process while sessions fill another. Processes start only when
/// needed, so a high limit costs nothing while idle.
pub fn default_max_browsers(max_sessions: usize, per_browser: usize) -> usize {
    max_sessions.div_ceil(per_browser.max(1)).clamp(2, 256)
}

/// Point-in-time pool occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Processes running (leased or idle).
    pub running: usize,
    /// Processes idle in the pool.
    pub idle: usize,
    /// Callers waiting for a process.
    pub waiting: usize,
    pub max: usize,
}

/// How full the pool is of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOccupancy {
    pub open: usize,
    /// Processes holding at least one session (none of them free for one-off jobs).
    pub processes: usize,
    pub max: usize,
    /// Contexts opened ahead for the next new sessions (0 or 1; see `spare`).
    pub ready: usize,
}

/// A Chromium process leased from the pool; returned on drop, or closed then if
/// it broke or is due for recycling (a process idle in the pool is only
/// recycled when next leased, and one that has opened `max_leases` contexts
/// should not linger that long).
pub struct Lease(Option<managed::Object<Manager>>);

impl std::ops::Deref for Lease {
    type Target = ChromeProcess;
    fn deref(&self) -> &ChromeProcess {
        self.0
            .as_ref()
            .expect("a lease holds its process until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(process) = self.0.take() else { return };
        let max_leases = managed::Object::pool(&process).map(|p| p.manager().max_leases);
        let due = !process.is_healthy()
            || max_leases.is_some_and(|max| process.contexts_opened.load(Ordering::Relaxed) >= max);
        if due {
            // Taken out of the pool, the manager's detach closes it.
            drop(managed::Object::take(process));
        }
    }
}

impl Lease {
    /// Takes the process's warm scratch context, if it has one.
    pub(crate) fn take_scratch(&self) -> Option<crate::stateless::Scratch> {
        self.scratch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Hands a wiped scratch context back to the process for the next one-off job.
    pub(crate) fn keep_scratch(&self, scratch: crate::stateless::Scratch) {
        *self.scratch.lock().unwrap_or_else(|e| e.into_inner()) = Some(scratch);
    }
}

/// Cheap to clone handle to the pool.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pool: managed::Pool<Manager>,
    config: PoolConfig,
    executable: PathBuf,
    closing: TaskTracker,
    profile_root: PathBuf,
    background: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
    /// Processes running one-off jobs right now, by group.
    hosts: crate::stateless::Hosts,
    /// Processes holding sessions, and how many each holds.
    session_hosts: crate::packing::SessionHosts,
    /// The context opened ahead for the next new session.
    spare: crate::spare::Spare,
    /// True once the processes started at start are up (or failed to start).
    warm_done: tokio::sync::watch::Receiver<bool>,
    /// The proxy Chromium goes through when a host policy is set.
    _egress: Option<crate::egress::Egress>,
}

impl Pool {
    /// Finds Chromium, reaps leftovers of dead owners, and starts warming up
    /// `min_browsers` processes in the background. Fails fast when no Chromium is
    /// found, so a misconfigured server says so at start, not at the first call.
    pub fn start(config: PoolConfig) -> Result<Pool, LaunchError> {
        let executable = find_chrome(config.chrome.as_deref())?;
        let root = std::env::temp_dir().join("browserfarm");
        reap_stale(&root, std::process::id());
        let profile_root = root.join(owner_dir_name(std::process::id()));
        std::fs::create_dir_all(&profile_root).map_err(|source| LaunchError::ProfileDir {
            path: profile_root.clone(),
            source,
        })?;

        let gate = config.gate.clone().filter(|g| g.policy().is_active());
        let egress = match &gate {
            Some(gate) => Some(crate::egress::Egress::start(gate.clone()).map_err(|e| {
                LaunchError::Config(format!("cannot start the egress proxy on 127.0.0.1: {e}"))
            })?),
            None => None,
        };
        let closing = TaskTracker::new();
        let manager = Manager {
            opts: LaunchOptions {
                executable: executable.clone(),
                viewport: config.viewport,
                launch_timeout: config.launch_timeout,
                no_sandbox: config.no_sandbox,
                popups: config.popups,
                proxy: egress.as_ref().map(crate::egress::Egress::addr),
            },
            profile_root: profile_root.clone(),
            max_leases: config.max_leases.max(1),
            closing: closing.clone(),
            gate,
        };
        let pool = managed::Pool::builder(manager)
            .max_size(config.max_browsers.max(1))
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.launch_timeout + Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| LaunchError::Config(e.to_string()))?;

        let (warmed, warm_done) = tokio::sync::watch::channel(false);
        let warm = tokio::spawn(warm_up(
            pool.clone(),
            config.min_browsers.min(config.max_browsers),
            config.cdp_timeout,
            warmed,
        ));
        let reaper = tokio::spawn(close_idle(
            pool.clone(),
            config.min_browsers,
            config.idle_timeout,
        ));
        let inner = Arc::new(Inner {
            pool,
            config,
            executable,
            closing,
            profile_root,
            background: std::sync::Mutex::new(vec![warm.abort_handle(), reaper.abort_handle()]),
            hosts: Default::default(),
            session_hosts: Default::default(),
            spare: Default::default(),
            warm_done,
            _egress: egress,
        });
        let keeper = tokio::spawn(crate::spare::keep(Arc::downgrade(&inner)));
        inner
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(keeper.abort_handle());
        Ok(Pool { inner })
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Pool {
        Pool { inner }
    }

    pub(crate) fn spare(&self) -> &crate::spare::Spare {
        &self.inner.spare
    }

    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// The Chromium executable in use.
    pub fn executable(&self) -> &std::path::Path {
        &self.inner.executable
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
        self.inner
            .pool
            .get()
            .await
            .map(|process| Lease(Some(process)))
            .map_err(|e| match e {
                PoolError::Timeout(managed::TimeoutType::Wait) => JobError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "all {} browsers are busy (max_browsers); retry shortly, or start the \
                     server with a larger --max-browsers",
                        self.inner.config.max_browsers
                    ),
                ),
                PoolError::Timeout(_) => JobError::new(
                    ErrorKind::Unavailable,
                    "Chromium did not start in time; the machine may be overloaded",
                ),
                PoolError::Backend(e) => JobError::new(ErrorKind::Unavailable, e.to_string()),
                PoolError::Closed => {
                    JobError::new(ErrorKind::Unavailable, "the browser pool is shutting down")
                }
                other => JobError::internal(format!("browser pool: {other}")),
            })
    }

    pub fn status(&self) -> PoolStatus {
        let s = self.inner.pool.status();
        PoolStatus {
            running: s.size,
            idle: s.available,
            waiting: s.waiting,
            max: s.max_size,
        }
    }

    pub(crate) fn hosts(&self) -> &crate::stateless::Hosts {
        &self.inner.hosts
    }

    pub(crate) fn session_hosts(&self) -> &crate::packing::SessionHosts {
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

    /// Runs clean-up work that holds a lease; shutdown waits for it (bounded).
    pub(crate) fn spawn_tracked(
        &self,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.inner.closing.spawn(work);
    }

    /// Closes every process and waits (bounded) until they are gone, including
    /// those still leased when shutdown starts (a session closing, a scratch tab
    /// being wiped): they are closed as they come back. Idempotent.
    pub async fn shutdown(&self) {
        const GRACE: Duration = Duration::from_secs(10);
        const RETURN_WAIT: Duration = Duration::from_secs(5);
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
        // Detach (and so close) the idle ones first: closing the pool would drop
        // them without a goodbye. Once closed (max size 0), leases coming back are
        // detached too; wait for them, so their closing is waited for below.
        self.inner.pool.retain(|_, _| false);
        self.inner.pool.close();
        let until = tokio::time::Instant::now() + RETURN_WAIT;
        while self.inner.pool.status().size > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.inner.closing.close();
        if tokio::time::timeout(GRACE, self.inner.closing.wait())
            .await
            .is_err()
        {
            tracing::warn!("some Chromium processes did not close within {GRACE:?}");
        }
        // Other pools of this process may still use the directory: remove it only
        // when empty (each closed browser removed its own profile).
        let _ = std::fs::remove_dir(&self.inner.profile_root);
    }
}

/// Starts `count` processes, each with a context and tab opened ahead for the
/// first job, then says so on `done`.
async fn warm_up(
    pool: managed::Pool<Manager>,
    count: usize,
    deadline: Duration,
    done: tokio::sync::watch::Sender<bool>,
) {
    let warm_one = |pool: managed::Pool<Manager>| async move {
        let lease = Lease(Some(pool.get().await.map_err(|e| e.to_string())?));
        let started = std::time::Instant::now();
        let scratch = crate::stateless::Scratch::open_ahead(&lease, deadline).await?;
        tracing::debug!(pid = lease.pid(), elapsed = ?started.elapsed(), "opened a context ahead");
        lease.keep_scratch(scratch);
        Ok::<_, String>(())
    };
    let warmed = futures::future::join_all((0..count).map(|_| warm_one(pool.clone()))).await;
    for result in warmed {
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not pre-start a browser");
        }
    }
    done.send_replace(true);
}

async fn close_idle(pool: managed::Pool<Manager>, min: usize, idle: Duration) {
    let period = (idle / 2).clamp(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        let status = pool.status();
        let in_use = status.size - status.available;
        let mut keep_anyway = min.saturating_sub(in_use);
        let removed = pool.retain(|_, m| {
            if m.last_used() < idle {
                true
            } else if keep_anyway > 0 {
                keep_anyway -= 1;
                true
            } else {
                false
            }
        });
        if !removed.removed.is_empty() {
            tracing::debug!(closed = removed.removed.len(), "closed idle browsers");
        }
    }
}

/// deadpool's view of Chromium processes. Public only because [`Lease`] names it.
pub struct Manager {
    opts: LaunchOptions,
    profile_root: PathBuf,
    max_leases: usize,
    closing: TaskTracker,
    gate: Option<std::sync::Arc<crate::Gate>>,
}

impl managed::Manager for Manager {
    type Type = ChromeProcess;
    type Error = LaunchError;

    async fn create(&self) -> Result<ChromeProcess, LaunchError> {
        // Process-wide, so pools sharing the per-process directory never collide.
        static NEXT_PROFILE: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_PROFILE.fetch_add(1, Ordering::Relaxed);
        let dir = self.profile_root.join(format!("chrome-{id}"));
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| LaunchError::ProfileDir {
                path: dir.clone(),
                source,
            })?;
        let started = std::time::Instant::now();
        let mut process = ChromeProcess::launch(&self.opts, dir).await?;
        process.gate = self.gate.clone();
        tracing::debug!(id, pid = process.pid(), elapsed = ?started.elapsed(), "started Chromium");
        Ok(process)
    }

    async fn recycle(&self, p: &mut ChromeProcess, _: &Metrics) -> RecycleResult<LaunchError> {
        if !p.is_healthy() {
            return Err(RecycleError::message("Chromium crashed or hung"));
        }
        if p.contexts_opened.load(Ordering::Relaxed) >= self.max_leases {
            return Err(RecycleError::message(
                "Chromium retired after max_leases leases",
            ));
        }
        Ok(())
    }

    fn detach(&self, p: &mut ChromeProcess) {
        let Some(closing) = p.take_for_close() else {
            return;
        };
        // Called from sync contexts (drops); without a runtime the process is still
        // killed by chromiumoxide's kill-on-drop.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            self.closing.spawn_on(closing.close(), &rt);
        }
    }
}

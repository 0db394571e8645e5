//! The pool of Chromium processes (deadpool, managed).
//!
//! A [`Lease`] is one process held exclusively by whoever leased it (the
//! context layer shares it among the sessions or one-off jobs it packs into
//! it). Processes are recycled after opening `max_leases` browser contexts
//! (Chromium leaks memory over time and deadpool has no max lifetime),
//! replaced when they crash or hang, closed after `idle_timeout` unused (down
//! to `min_browsers`), and all closed (close, wait, kill if needed) on
//! [`ProcessPool::shutdown`].
//!
//! Knows processes only: what runs in them (contexts, sessions, scratch tabs,
//! the spare) is the context layer's, which keeps its own books (by lease) or
//! parks a value in the process ([`ChromeProcess::park`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use browserfarm_protocol::{ErrorKind, JobError};
use deadpool::managed::{self, Metrics, PoolError, RecycleError, RecycleResult};
use tokio_util::task::TaskTracker;

use super::chrome::{ChromeProcess, LaunchError, LaunchOptions};
use super::config::PoolConfig;
use super::egress::Egress;
use super::gate::Gate;
use super::locate::find_chrome;
use super::reap::{owner_dir_name, reap_stale};

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
        let due =
            !process.is_healthy() || max_leases.is_some_and(|max| process.contexts_opened() >= max);
        if due {
            // Taken out of the pool, the manager's detach closes it.
            drop(managed::Object::take(process));
        }
    }
}

/// The processes, the task closing idle ones, and the egress proxy they go
/// through when a host policy is set.
pub(crate) struct ProcessPool {
    pool: managed::Pool<Manager>,
    executable: PathBuf,
    max_browsers: usize,
    closing: TaskTracker,
    profiles: Profiles,
    profile_root: PathBuf,
    reaper: tokio::task::AbortHandle,
    /// The proxy Chromium goes through when a host policy is set.
    _egress: Option<Egress>,
}

impl ProcessPool {
    /// Finds Chromium, reaps leftovers of dead owners, prepares this owner's
    /// profile directory and starts the egress proxy when a host policy is set.
    /// Starts no process: they start when leased.
    pub(crate) fn start(config: &PoolConfig) -> Result<ProcessPool, LaunchError> {
        let executable = find_chrome(config.chrome.as_deref())?;
        let root = std::env::temp_dir().join("browserfarm");
        reap_stale(&root, std::process::id());
        let profile_root = root.join(owner_dir_name(std::process::id()));
        super::os::create_private_dir(&profile_root).map_err(|source| LaunchError::ProfileDir {
            path: profile_root.clone(),
            source,
        })?;

        // Requests are paused and checked when there is anything to check; the
        // proxy pins addresses, which only a host policy needs.
        let gate = config.gate.clone().filter(|g| g.filters());
        let egress = match &gate {
            Some(gate) if gate.policy().is_active() => {
                Some(Egress::start(gate.clone()).map_err(|e| {
                    LaunchError::Config(format!("cannot start the egress proxy on 127.0.0.1: {e}"))
                })?)
            }
            _ => None,
        };
        let closing = TaskTracker::new();
        let manager = Manager {
            opts: LaunchOptions {
                executable: executable.clone(),
                viewport: config.viewport,
                launch_timeout: config.launch_timeout,
                no_sandbox: config.no_sandbox,
                popups: config.popups,
                proxy: egress.as_ref().map(Egress::addr),
            },
            profile_root: profile_root.clone(),
            max_leases: config.max_leases.max(1),
            closing: closing.clone(),
            gate,
            profiles: Default::default(),
        };
        let profiles = manager.profiles.clone();
        let pool = managed::Pool::builder(manager)
            .max_size(config.max_browsers.max(1))
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.launch_timeout + Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| LaunchError::Config(e.to_string()))?;
        let reaper = tokio::spawn(close_idle(
            pool.clone(),
            config.min_browsers,
            config.idle_timeout,
        ));
        Ok(ProcessPool {
            pool,
            executable,
            max_browsers: config.max_browsers,
            closing,
            profiles,
            profile_root,
            reaper: reaper.abort_handle(),
            _egress: egress,
        })
    }

    /// The Chromium executable in use.
    pub(crate) fn executable(&self) -> &Path {
        &self.executable
    }

    /// Leases a healthy process, starting one if there is room, waiting up to
    /// `acquire_timeout` otherwise.
    pub(crate) async fn lease(&self) -> Result<Lease, JobError> {
        self.pool
            .get()
            .await
            .map(|process| Lease(Some(process)))
            .map_err(|e| match e {
                PoolError::Timeout(managed::TimeoutType::Wait) => JobError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "all {} browsers are busy (max_browsers); retry shortly, or start the \
                     server with a larger --max-browsers",
                        self.max_browsers
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

    pub(crate) fn status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            running: s.size,
            idle: s.available,
            waiting: s.waiting,
            max: s.max_size,
        }
    }

    /// Runs clean-up work that holds a lease; shutdown waits for it (bounded).
    pub(crate) fn spawn_tracked(
        &self,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.closing.spawn(work);
    }

    /// Closes every process and waits (bounded) until they are gone, including
    /// those still leased when shutdown starts: they are closed as they come
    /// back. Idempotent.
    pub(crate) async fn shutdown(&self) {
        const GRACE: Duration = Duration::from_secs(15);
        const POLL: Duration = Duration::from_millis(20);
        self.reaper.abort();
        // Detach (and so close) the idle ones first: closing the pool would drop
        // them without a goodbye. Once closed (max size 0), leases coming back are
        // detached too, their close tracked in `closing` as they come back.
        self.pool.retain(|_, _| false);
        self.pool.close();
        // Done when no lease is out and no close is running. A lease coming
        // back (a session's clean-up finishing, say) starts its close only
        // then, so neither count alone says so: waiting for `closing` alone
        // once returned while a lease was still out, and its Chromium was
        // then killed at exit with its profile left behind. Both must hold
        // on two polls in a row, as the two counts change one after the other.
        let until = tokio::time::Instant::now() + GRACE;
        let mut quiet = 0;
        while quiet < 2 && tokio::time::Instant::now() < until {
            tokio::time::sleep(POLL).await;
            if self.pool.status().size == 0 && self.closing.is_empty() {
                quiet += 1;
            } else {
                quiet = 0;
            }
        }
        if quiet < 2 {
            tracing::warn!(
                leased = self.pool.status().size,
                closing = self.closing.len(),
                "some Chromium processes did not close within {GRACE:?}"
            );
        }
        self.closing.close();
        // A process closed gracefully removed its own profile; one still out
        // (killed at exit by its drop) did not.
        let left: Vec<PathBuf> =
            std::mem::take(&mut *self.profiles.lock().unwrap_or_else(|e| e.into_inner()));
        for dir in left.into_iter().filter(|d| d.exists()) {
            tracing::debug!(dir = %dir.display(), "removing a profile its process left");
            super::chrome::remove_profile(dir).await;
        }
        // Other pools of this process may still use the directory: remove it only
        // when empty.
        let _ = std::fs::remove_dir(&self.profile_root);
    }
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
    gate: Option<std::sync::Arc<Gate>>,
    /// Every profile directory this pool made, so shutdown can remove any a
    /// process left behind (one killed at exit rather than closed).
    profiles: Profiles,
}

/// The profile directories of one pool's processes.
type Profiles = std::sync::Arc<std::sync::Mutex<Vec<PathBuf>>>;

/// A profile directory for a Chromium being launched: removed if the launch
/// fails or is dropped half way (its caller cancelled, the server stopping),
/// when nothing else would remove it; shutdown waits for the removal.
struct NewProfile {
    dir: Option<PathBuf>,
    closing: TaskTracker,
}

impl NewProfile {
    fn keep(mut self) -> PathBuf {
        self.dir.take().expect("kept once")
    }
}

impl Drop for NewProfile {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                self.closing
                    .spawn_on(super::chrome::remove_profile(dir), &rt);
            }
            Err(_) => {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
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
        let profile = NewProfile {
            dir: Some(dir.clone()),
            closing: self.closing.clone(),
        };
        let started = std::time::Instant::now();
        let mut process = ChromeProcess::launch(&self.opts, dir).await?;
        let dir = profile.keep();
        let mut profiles = self.profiles.lock().unwrap_or_else(|e| e.into_inner());
        profiles.retain(|p| p.exists());
        profiles.push(dir);
        drop(profiles);
        process.gate = self.gate.clone();
        tracing::debug!(id, pid = process.pid(), elapsed = ?started.elapsed(), "started Chromium");
        Ok(process)
    }

    async fn recycle(&self, p: &mut ChromeProcess, _: &Metrics) -> RecycleResult<LaunchError> {
        if !p.is_healthy() {
            return Err(RecycleError::message("Chromium crashed or hung"));
        }
        if p.contexts_opened() >= self.max_leases {
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

//! `LocalExecutor`: jobs run in this process, on the embedded browser pool.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use browserfarm_browser::{Pool, Session};
use browserfarm_protocol::{
    ErrorKind, FarmStatus, Health, Job, JobError, JobOutput, NodeStatus, NodeTags, SessionId,
    SessionRoute, format_tags, tags_match,
};
use tokio::sync::Mutex;

use crate::{Executor, IdleSessions, SessionScope};

/// How often idle handle sessions are closed and sessions let go of dead
/// processes (see [`LocalExecutor::start_upkeep`]); within the TTLs' precision
/// and well within the time a replacement process takes to start.
const UPKEEP_PERIOD: Duration = Duration::from_millis(500);

/// How long shutdown waits for a session's running job before abandoning it.
const SESSION_CLOSE_GRACE: Duration = Duration::from_secs(5);

type SessionMap = std::sync::Mutex<HashMap<SessionId, Arc<Mutex<Session>>>>;

pub struct LocalExecutor {
    pool: Pool,
    sessions: Arc<SessionMap>,
    /// Sessions reached by handle, which no connection closes: closed when idle
    /// past their TTL by the upkeep task.
    handles: Arc<IdleSessions>,
    sweeper: std::sync::OnceLock<tokio::task::AbortHandle>,
    jobs_ok: AtomicU64,
    jobs_failed: AtomicU64,
    /// Jobs running now, against `capacity`.
    in_flight: AtomicUsize,
    /// Jobs run at once (`--max-jobs`; one-off jobs of a batch share a browser).
    capacity: usize,
    /// Labels jobs' `node_tags` are matched against (besides `arch`).
    tags: NodeTags,
    started: std::time::Instant,
    /// Minted at start and reported in `/health`: a gateway that sees another
    /// one knows this process's sessions are gone (a restarted agent).
    instance: String,
}

/// How the embedded pool names itself in `farm_status`.
const LOCAL_NODE: &str = "local";

impl LocalExecutor {
    pub fn new(pool: Pool) -> Self {
        let capacity = pool.config().max_browsers;
        LocalExecutor {
            pool,
            sessions: Default::default(),
            handles: Default::default(),
            sweeper: std::sync::OnceLock::new(),
            jobs_ok: AtomicU64::new(0),
            jobs_failed: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            capacity,
            tags: NodeTags::new(),
            started: std::time::Instant::now(),
            instance: format!("{:016x}", rand::random::<u64>()),
        }
    }

    /// How many jobs this pool runs at once, as reported to a gateway (default:
    /// one per browser).
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Labels this pool carries for jobs' `node_tags`.
    pub fn with_tags(mut self, tags: NodeTags) -> Self {
        self.tags = tags;
        self
    }

    /// How many more sessions the pool takes now: the most it holds, less the
    /// open ones, counted as the pool's contexts or the sessions held here,
    /// whichever is more (a session whose process died holds no context until
    /// its next call opens one).
    pub fn sessions_free(&self) -> usize {
        let occupancy = self.pool.sessions();
        occupancy
            .max
            .saturating_sub(occupancy.open.max(self.session_count()))
    }

    /// This process's id for `/health` and opened sessions ([`Health::instance`]).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn session_count(&self) -> usize {
        self.sessions.lock().expect("session map poisoned").len()
    }

    /// The pool's health as an agent would report it.
    pub fn health(&self, tags: NodeTags) -> Health {
        let pool = self.pool.status();
        Health {
            status: "ok".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            tags,
            capacity: self.capacity,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            queued: pool.waiting,
            max_queue: 0,
            browsers_active: pool.running - pool.idle,
            browsers_idle: pool.idle,
            sessions: self.session_count(),
            sessions_max: Some(self.pool.sessions().max),
            sessions_free: Some(self.sessions_free()),
            memory_available: browserfarm_browser::Memory::read().map(|m| m.available),
            memory_pressure: Some(self.pool.memory_pressure()),
            cpu_load_pct: browserfarm_browser::cpu_load_pct(),
            uptime_secs: self.started.elapsed().as_secs(),
            instance: Some(self.instance.clone()),
        }
    }

    fn check_tags(&self, required: &NodeTags) -> Result<(), JobError> {
        if tags_match(required, &self.tags, Some(std::env::consts::ARCH)) {
            return Ok(());
        }
        let have = format_tags(&self.tags);
        Err(JobError::new(
            ErrorKind::Unavailable,
            format!(
                "no node carries node_tags {}: only the embedded pool runs here (arch={}{}{have})",
                format_tags(required),
                std::env::consts::ARCH,
                if have.is_empty() { "" } else { ", " },
            ),
        ))
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    fn session(&self, id: &SessionId) -> Result<Arc<Mutex<Session>>, JobError> {
        self.sessions
            .lock()
            .expect("session map poisoned")
            .get(id)
            .cloned()
            .ok_or_else(|| {
                JobError::new(
                    ErrorKind::SessionNotFound,
                    format!("session '{id}' does not exist or was closed"),
                )
            })
    }

    /// Until shutdown stops it, every [`UPKEEP_PERIOD`]: closes handle
    /// sessions idle past their TTL, and lets sessions on a crashed or hung
    /// process let go of it, so its place in the pool goes to a replacement
    /// (sessions share processes, and a dead one stays leased until its last
    /// session lets go). Started with the first session.
    fn start_upkeep(&self) {
        let (sessions, handles) = (self.sessions.clone(), self.handles.clone());
        self.sweeper.get_or_init(|| {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(UPKEEP_PERIOD).await;
                    let open: Vec<_> = sessions
                        .lock()
                        .expect("session map poisoned")
                        .values()
                        .cloned()
                        .collect();
                    for session in open {
                        // A session running a job finds out itself.
                        if let Ok(mut session) = session.try_lock() {
                            session.release_if_broken();
                        }
                    }
                    for id in handles.take_expired() {
                        let session = sessions.lock().expect("session map poisoned").remove(&id);
                        if let Some(session) = session {
                            tracing::info!(session = %id, "closing session idle past its TTL");
                            session.lock().await.close().await;
                        }
                    }
                }
            })
            .abort_handle()
        });
    }

    async fn run_job(&self, job: Job) -> Result<JobOutput, JobError> {
        match &job.session {
            Some(id) => {
                let session = self.session(id)?;
                self.handles.touch(id);
                let output = session.lock().await.run(&job.operation).await;
                // The TTL counts from the end of the last job, not its start.
                self.handles.touch(id);
                output
            }
            None => Session::run_once(&self.pool, &job.operation, job.group.as_deref()).await,
        }
    }

    /// Process id of the Chromium serving a session (diagnostics and tests).
    pub async fn browser_pid(&self, id: &SessionId) -> Option<u32> {
        self.session(id).ok()?.lock().await.browser_pid()
    }
}

#[async_trait]
impl Executor for LocalExecutor {
    fn offers_placement(&self) -> bool {
        !self.tags.is_empty()
    }

    async fn open_session(
        &self,
        node_tags: &NodeTags,
        // One pool: nothing to prefer among.
        _prefer_tags: &NodeTags,
        scope: SessionScope,
    ) -> Result<SessionId, JobError> {
        self.check_tags(node_tags)?;
        let session = Session::open(&self.pool).await?;
        // Random, not counted: a handle outlives this process, and a restarted
        // pool (here or on an agent) must not hand its old ids to new sessions.
        let id = SessionId(format!("local-{:016x}", rand::random::<u64>()));
        self.sessions
            .lock()
            .expect("session map poisoned")
            .insert(id.clone(), Arc::new(Mutex::new(session)));
        if let SessionScope::Handle { idle } = scope {
            self.handles.track(&id, idle);
        }
        self.start_upkeep();
        Ok(id)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), JobError> {
        let session = self.session(id)?;
        self.sessions
            .lock()
            .expect("session map poisoned")
            .remove(id);
        self.handles.forget(id);
        // Waits for a running job of this session to finish first.
        session.lock().await.close().await;
        Ok(())
    }

    async fn run(&self, job: Job) -> Result<JobOutput, JobError> {
        job.operation.validate()?;
        self.check_tags(&job.node_tags)?;
        let started = std::time::Instant::now();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        // Counted down also when the call is dropped half way (cancelled).
        let _running = scopeguard(&self.in_flight);
        let result = self.run_job(job).await;
        let (counter, status) = if result.is_ok() {
            (&self.jobs_ok, "ok")
        } else {
            (&self.jobs_failed, "failed")
        };
        counter.fetch_add(1, Ordering::Relaxed);
        browserfarm_metrics::job(LOCAL_NODE, status, started.elapsed());
        result
    }

    async fn status(&self) -> FarmStatus {
        FarmStatus {
            sessions: self.session_count(),
            nodes: vec![NodeStatus {
                name: LOCAL_NODE.to_owned(),
                state: "up".to_owned(),
                breaker: "closed".to_owned(),
                in_flight: self.in_flight.load(Ordering::Relaxed),
                capacity: self.capacity,
                sessions: Some(self.session_count()),
                sessions_max: Some(self.pool.sessions().max),
                arch: Some(std::env::consts::ARCH.to_owned()),
                tags: self.tags.clone(),
                jobs_ok: self.jobs_ok.load(Ordering::Relaxed),
                jobs_failed: self.jobs_failed.load(Ordering::Relaxed),
                last_error: None,
                last_heartbeat_secs: None,
                sessions_moved: 0,
                last_move: None,
                memory_pressure: self.pool.memory_pressure(),
                cpu_load_pct: browserfarm_browser::cpu_load_pct(),
            }],
        }
    }

    async fn session_node(&self, id: &SessionId) -> Option<String> {
        self.session(id).ok().map(|_| LOCAL_NODE.to_owned())
    }

    /// Only this process holds its sessions.
    async fn session_route(&self, id: &SessionId) -> Option<SessionRoute> {
        self.session(id).ok().map(|_| SessionRoute {
            id: id.clone(),
            portable: false,
        })
    }

    async fn shutdown(&self) {
        if let Some(sweeper) = self.sweeper.get() {
            sweeper.abort();
        }
        let sessions: Vec<_> = self
            .sessions
            .lock()
            .expect("session map poisoned")
            .drain()
            .map(|(_, s)| s)
            .collect();
        for session in sessions {
            match tokio::time::timeout(SESSION_CLOSE_GRACE, session.lock_owned()).await {
                Ok(mut guard) => guard.close().await,
                Err(_) => tracing::warn!("a job was still running at shutdown; abandoning it"),
            }
        }
        self.pool.shutdown().await;
    }
}

impl Drop for LocalExecutor {
    fn drop(&mut self) {
        if let Some(sweeper) = self.sweeper.get() {
            sweeper.abort();
        }
    }
}

/// Decrements `counter` when dropped.
fn scopeguard(counter: &AtomicUsize) -> impl Drop + '_ {
    struct Guard<'a>(&'a AtomicUsize);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    Guard(counter)
}

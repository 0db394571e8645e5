//! One member of the farm as the scheduler sees it: a remote agent node or the
//! embedded local pool, with its breaker, load, health and counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use browserfarm_protocol::{
    ErrorKind, Health, Job, JobError, JobOutput, NodeStatus, NodeTags, Resources, SessionId,
    SessionOpened, tags_match,
};

use crate::breaker::Breaker;
use crate::local::LocalExecutor;
use crate::remote::{CallError, NodeClient};
use crate::{BreakerState, Executor, SessionScope};

/// Where a member's jobs run.
pub(crate) enum Backend {
    Remote(NodeClient),
    Local(Arc<LocalExecutor>),
}

/// A job failing on the local pool is a page or browser problem, never a
/// connection one: it is returned (or retried elsewhere when transient).
fn local_error(e: JobError) -> CallError {
    match e.kind {
        ErrorKind::Busy | ErrorKind::Unavailable => CallError::Busy(e),
        _ => CallError::Rejected(e),
    }
}

impl Backend {
    async fn health(&self, tags: &NodeTags) -> Result<Health, CallError> {
        match self {
            Backend::Remote(client) => client.health().await,
            Backend::Local(local) => Ok(local.health(tags.clone())),
        }
    }

    /// A remote node ends a session a gateway forgot by its own idle expiry,
    /// whatever the scope; the embedded pool needs to be told.
    async fn open_session(&self, scope: SessionScope) -> Result<SessionOpened, CallError> {
        match self {
            Backend::Remote(client) => client.open_session().await,
            Backend::Local(local) => local
                .open_session(&NodeTags::new(), &NodeTags::new(), scope)
                .await
                .map(|session| SessionOpened {
                    session,
                    instance: Some(local.instance().to_owned()),
                })
                .map_err(local_error),
        }
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), CallError> {
        match self {
            Backend::Remote(client) => client.close_session(id).await,
            Backend::Local(local) => local.close_session(id).await.map_err(local_error),
        }
    }

    pub(crate) async fn run(&self, job: &Job) -> Result<JobOutput, CallError> {
        // The farm matched the tags already (including tags from its config that
        // the node does not know about): the node must not match them again.
        let mut job = job.clone();
        job.node_tags.clear();
        match self {
            Backend::Remote(client) => client.run(&job).await,
            Backend::Local(local) => local.run(job).await.map_err(local_error),
        }
    }
}

/// Self-registered nodes: when the last heartbeat came and how often they beat.
pub(crate) struct Heartbeat {
    pub(crate) last: Mutex<Instant>,
    pub(crate) every: Duration,
}

/// Heartbeats a registered node may miss before it is taken offline.
const MISSED_HEARTBEATS: u32 = 3;

pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) backend: Backend,
    weight: Mutex<f64>,
    pub(crate) breaker: Breaker,
    in_flight: AtomicUsize,
    /// Tags from configuration; they override what the node reports.
    config_tags: NodeTags,
    /// None until the first health check answered or failed.
    up: Mutex<Option<bool>>,
    health: Mutex<Option<Health>>,
    last_error: Mutex<Option<String>>,
    jobs_ok: AtomicU64,
    jobs_failed: AtomicU64,
    /// Sessions moved off this node, and why the latest went.
    sessions_moved: AtomicU64,
    last_move: Mutex<Option<String>>,
    pub(crate) heartbeat: Option<Heartbeat>,
    /// Woken when a health check finds the node down, so the jobs it holds fail
    /// over now instead of waiting out the job timeout (a hung node answers
    /// nothing, not even an error).
    went_down: tokio::sync::Notify,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Node {
    pub(crate) fn new(
        name: String,
        backend: Backend,
        weight: f64,
        tags: NodeTags,
        breaker: Breaker,
        heartbeat: Option<Heartbeat>,
    ) -> Node {
        Node {
            name,
            backend,
            weight: Mutex::new(positive(weight)),
            breaker,
            in_flight: AtomicUsize::new(0),
            config_tags: tags,
            up: Mutex::new(None),
            health: Mutex::new(None),
            last_error: Mutex::new(None),
            jobs_ok: AtomicU64::new(0),
            jobs_failed: AtomicU64::new(0),
            sessions_moved: AtomicU64::new(0),
            last_move: Mutex::new(None),
            heartbeat,
            went_down: tokio::sync::Notify::new(),
        }
    }

    /// Whether this is the remote node at `url` (a base URL without trailing slash).
    pub(crate) fn is_at(&self, url: &str) -> bool {
        matches!(&self.backend, Backend::Remote(c) if c.base() == url)
    }

    pub(crate) fn set_weight(&self, weight: f64) {
        *lock(&self.weight) = positive(weight);
    }

    /// Up, breaker not open, and carrying every required tag.
    pub(crate) fn usable_for(&self, required: &NodeTags) -> bool {
        self.is_up() && self.breaker.state() != BreakerState::Open && self.matches(required)
    }

    pub(crate) fn matches(&self, required: &NodeTags) -> bool {
        if required.is_empty() {
            return true;
        }
        let health = lock(&self.health);
        let arch = health.as_ref().map(|h| h.arch.as_str());
        tags_match(required, &self.tags_with(health.as_ref()), arch)
    }

    fn tags_with(&self, health: Option<&Health>) -> NodeTags {
        let mut tags: BTreeMap<String, String> = health.map(|h| h.tags.clone()).unwrap_or_default();
        tags.extend(self.config_tags.clone());
        tags
    }

    pub(crate) fn is_up(&self) -> bool {
        lock(&self.up).unwrap_or(false) && !self.missed_heartbeats()
    }

    /// Capacity reported by the last health check (0 while unknown or down).
    pub(crate) fn capacity(&self) -> usize {
        if !self.is_up() {
            return 0;
        }
        lock(&self.health).as_ref().map_or(0, |h| h.capacity)
    }

    fn missed_heartbeats(&self) -> bool {
        self.heartbeat
            .as_ref()
            .is_some_and(|h| lock(&h.last).elapsed() > h.every * MISSED_HEARTBEATS)
    }

    pub(crate) fn beat(&self) {
        if let Some(h) = &self.heartbeat {
            *lock(&h.last) = Instant::now();
        }
    }

    pub(crate) fn load(&self) -> f64 {
        let (capacity, cpu) = lock(&self.health)
            .as_ref()
            .map_or((1, None), |h| (h.capacity.max(1), h.cpu_load_pct));
        let jobs = (self.in_flight.load(Ordering::Relaxed) as f64 + 1.0)
            / (capacity as f64 * *lock(&self.weight));
        // A host whose CPUs are already over-committed (by others' work, or
        // its own pages' scripts) runs a job slower than its slots say.
        let overcommitted = cpu.map_or(0.0, |pct| f64::from(pct.saturating_sub(100)) / 100.0);
        jobs + overcommitted
    }

    /// Whether the node said at its last health check that it is short of
    /// memory (it refuses new sessions until it is not).
    pub(crate) fn memory_pressure(&self) -> bool {
        lock(&self.health)
            .as_ref()
            .and_then(|h| h.memory_pressure)
            .unwrap_or(false)
    }

    /// A heartbeat's figures, newer than the last health check's: placement
    /// goes by them until the next check.
    pub(crate) fn take_resources(&self, resources: &Resources) {
        if let Some(health) = lock(&self.health).as_mut() {
            resources.apply_to(health);
        }
    }

    /// Free session slots as of the last health check, less the sessions
    /// placed here since (`None`: unknown, from a node that does not say).
    pub(crate) fn sessions_free(&self) -> Option<usize> {
        lock(&self.health).as_ref().and_then(|h| h.sessions_free)
    }

    /// Opens a session through the breaker. Until the next health check, the
    /// node's last health counts it, and a full node (429) counts as having
    /// no free slot, so sessions placed meanwhile go by what this gateway did.
    pub(crate) async fn open_session(
        &self,
        scope: SessionScope,
    ) -> Result<SessionOpened, CallError> {
        let result = self.call(self.backend.open_session(scope)).await;
        match &result {
            Ok(opened) => {
                self.count_session(1);
                // The node just said which process it is: newer than the last
                // health check, which may predate a restart. Left stale, the
                // session's next call would take the restart for its own.
                if let Some(instance) = &opened.instance
                    && let Some(health) = lock(&self.health).as_mut()
                {
                    health.instance = Some(instance.clone());
                }
            }
            // Only the node's own "full" (429) says so: a 503 is a browser
            // that failed to open a context this once.
            Err(CallError::Busy(e)) if e.kind == ErrorKind::Busy => {
                if let Some(health) = lock(&self.health).as_mut() {
                    health.sessions_free = health.sessions_free.map(|_| 0);
                }
            }
            Err(_) => {}
        }
        result
    }

    /// Best effort, bypassing the breaker: the node may be gone, and a session
    /// it forgot ends by its idle expiry anyway.
    pub(crate) async fn close_session(&self, id: &SessionId) -> Result<(), CallError> {
        let result = self.backend.close_session(id).await;
        if result.is_ok() {
            self.count_session(-1);
        }
        result
    }

    fn count_session(&self, change: isize) {
        if let Some(health) = lock(&self.health).as_mut() {
            health.sessions = health.sessions.saturating_add_signed(change);
            // From the count, not by decrementing the reported free slots: a
            // health check answered while this session was being opened has
            // already counted it there.
            health.sessions_free = match (health.sessions_free, health.sessions_max) {
                (Some(_), Some(max)) => Some(max.saturating_sub(health.sessions)),
                (free, _) => free.map(|free| free.saturating_add_signed(-change)),
            };
        }
    }

    /// The process id the node reported last ([`Health::instance`]).
    pub(crate) fn instance(&self) -> Option<String> {
        lock(&self.health).as_ref().and_then(|h| h.instance.clone())
    }

    /// A session of this node moved to another one; `why` says it for people.
    pub(crate) fn note_move(&self, reason: &'static str, why: &str) {
        self.sessions_moved.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_move) = Some(why.to_owned());
        browserfarm_metrics::session_moved(&self.name, reason);
    }

    fn note_error(&self, message: &str) {
        *lock(&self.last_error) = Some(message.to_owned());
    }

    pub(crate) async fn check_health(&self) {
        if self.missed_heartbeats() {
            let was = lock(&self.up).replace(false);
            if was != Some(false) {
                tracing::warn!(node = %self.name, "node missed {MISSED_HEARTBEATS} heartbeats; offline");
            }
            self.note_error(&format!("missed {MISSED_HEARTBEATS} heartbeats"));
            return;
        }
        let Some(permit) = self.breaker.acquire() else {
            *lock(&self.up) = Some(false);
            return;
        };
        match self.backend.health(&self.config_tags).await {
            Ok(health) => {
                permit.success();
                let was = lock(&self.up).replace(health.status == "ok");
                if was != Some(true) && health.status == "ok" {
                    tracing::info!(node = %self.name, capacity = health.capacity, "node up");
                }
                *lock(&self.health) = Some(health);
            }
            Err(e) => {
                if matches!(e, CallError::Failed(_)) {
                    permit.failure();
                }
                let was = lock(&self.up).replace(false);
                if was != Some(false) {
                    tracing::warn!(node = %self.name, error = e.message(), "node down");
                    self.went_down.notify_waiters();
                }
                self.note_error(e.message());
            }
        }
    }

    /// Runs a job through [`Node::call`] and records it per node. The embedded
    /// pool records its own jobs (it runs them for agents and the local gateway
    /// too), so only remote members are recorded here.
    pub(crate) async fn run(&self, job: &Job) -> Result<JobOutput, CallError> {
        let started = Instant::now();
        let result = self.call(self.backend.run(job)).await;
        if matches!(self.backend, Backend::Remote(_)) {
            let status = match &result {
                Ok(_) => "ok",
                Err(CallError::Rejected(_)) => "failed",
                Err(CallError::Busy(_)) => "busy",
                Err(CallError::CutOff(_)) => "cut_off",
                Err(CallError::Failed(_)) => "node_failed",
                Err(CallError::Unauthorized(_)) => "unauthorized",
            };
            browserfarm_metrics::job(&self.name, status, started.elapsed());
        }
        result
    }

    /// Runs one call through the breaker, keeping counts and the in-flight gauge.
    pub(crate) async fn call<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let Some(permit) = self.breaker.acquire() else {
            return Err(CallError::CutOff(format!(
                "node {} is cut off by its circuit breaker",
                self.name
            )));
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = if matches!(self.backend, Backend::Remote(_)) {
            let went_down = self.went_down.notified();
            tokio::select! {
                result = work => result,
                () = went_down => Err(CallError::Failed(format!(
                    "node {} stopped answering its health checks while holding this job",
                    self.name
                ))),
            }
        } else {
            work.await
        };
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        match &result {
            Ok(_) | Err(CallError::Rejected(_)) => {
                permit.success();
                self.jobs_ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(CallError::Failed(message)) => {
                permit.failure();
                self.jobs_failed.fetch_add(1, Ordering::Relaxed);
                self.note_error(message);
            }
            Err(CallError::Busy(_) | CallError::CutOff(_)) => drop(permit),
            Err(CallError::Unauthorized(e)) => {
                drop(permit);
                self.note_error(&e.message);
            }
        }
        result
    }

    pub(crate) fn status(&self) -> NodeStatus {
        let health = lock(&self.health).clone();
        let state = if self.missed_heartbeats() {
            "offline"
        } else {
            match *lock(&self.up) {
                Some(true) => "up",
                Some(false) => "down",
                None => "unknown",
            }
        };
        NodeStatus {
            name: self.name.clone(),
            state: state.to_owned(),
            breaker: self.breaker.state().as_str().to_owned(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            capacity: health.as_ref().map_or(0, |h| h.capacity),
            sessions: health.as_ref().map(|h| h.sessions),
            sessions_max: health.as_ref().and_then(|h| h.sessions_max),
            arch: health.as_ref().map(|h| h.arch.clone()),
            tags: self.tags_with(health.as_ref()),
            jobs_ok: self.jobs_ok.load(Ordering::Relaxed),
            jobs_failed: self.jobs_failed.load(Ordering::Relaxed),
            last_error: lock(&self.last_error).clone(),
            last_heartbeat_secs: self
                .heartbeat
                .as_ref()
                .map(|h| lock(&h.last).elapsed().as_secs()),
            sessions_moved: self.sessions_moved.load(Ordering::Relaxed),
            last_move: lock(&self.last_move).clone(),
            memory_pressure: health
                .as_ref()
                .and_then(|h| h.memory_pressure)
                .unwrap_or(false),
            cpu_load_pct: health.as_ref().and_then(|h| h.cpu_load_pct),
        }
    }
}

fn positive(weight: f64) -> f64 {
    if weight.is_finite() && weight > 0.0 {
        weight
    } else {
        1.0
    }
}

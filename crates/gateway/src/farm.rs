//! `FarmExecutor`: jobs run on agent nodes over HTTP.
//!
//! Placement: among nodes that are up and whose breaker lets a call through, two
//! are drawn at random and the less loaded one (in-flight per weighted capacity)
//! wins: power of two choices, which spreads load without a global view. A job
//! of a group (the pages of one `batch_scrape`) goes where the group's latest
//! job went when that node is no busier, so a batch keeps its agent's warm tabs.
//! A new session goes to a node with the most free session slots (`/health`'s
//! `sessions_free`, less the sessions placed there since), full nodes skipped,
//! ties by the same two choices; when every node is full, it waits for a slot up
//! to `session_wait`, then the error says so.
//! Sessions are sticky: a session lives on one node and every job of it goes there.
//! Failures: a stateless job is retried on other nodes (up to `attempts`, jittered
//! backoff; a busy or cut-off node is skipped without counting against it). A
//! session moves on its first call once its node is lost ([`Move`]: down, cut
//! off, failing, or restarted as another process), never failing call after call
//! for the length of an outage: a call that loads its own page runs in the new
//! session and its result says the page state was lost; any other is told so
//! once. Nothing is dropped silently: every job ends in a result or an error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use browserfarm_protocol::{
    ErrorKind, FarmStatus, Job, JobError, JobOutput, NodeStatus, NodeTags, Registration, SessionId,
    SessionRoute, format_tags,
};
use rand::Rng;

use crate::breaker::{Breaker, BreakerConfig};
use crate::node::{Backend, Heartbeat, Node, lock};
use crate::remote::{CallError, NodeClient};
use crate::routes::Routes;
use crate::{BreakerState, Executor, LocalExecutor, SessionScope};

/// One node as configured.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub url: String,
    /// This node's own token; `None` presents the farm's ([`FarmConfig::token`]).
    pub token: Option<String>,
    /// Relative share of load (default 1.0).
    pub weight: f64,
    /// Labels added to (and overriding) those the node reports.
    pub tags: NodeTags,
    /// The name the node's TLS certificate carries when `url` is
    /// `https://IP:PORT` (see [`NodeClient::new`]); `None`: the URL's host.
    pub server_name: Option<String>,
}

/// The embedded pool as a farm member (`--local-pool`).
pub struct LocalMember {
    pub executor: Arc<LocalExecutor>,
    pub tags: NodeTags,
}

/// Farm settings; every field is a documented flag of `browserfarm mcp`.
#[derive(Debug, Clone)]
pub struct FarmConfig {
    pub nodes: Vec<NodeSpec>,
    pub breaker: BreakerConfig,
    /// How often each node's `/health` is polled.
    pub health_interval: Duration,
    /// Deadline for one job on a node, network included.
    pub job_timeout: Duration,
    /// Tries for a stateless job, each on a different node.
    pub attempts: usize,
    /// Token the gateway presents to nodes without one of their own (listed,
    /// registered or found in DNS); re-read from `--token-file` as it changes.
    pub token: browserfarm_http::Presented,
    /// After start, how long a job waits for a first usable node to register
    /// before failing (zero without a registry: configured nodes are checked
    /// before `start` returns).
    pub registration_grace: Duration,
    /// How long a new session waits for a free slot when every node is full
    /// (`--queue-wait-secs`, as jobs wait in the queue).
    pub session_wait: Duration,
    /// Target hosts to the nodes their one-off reads prefer (`farm.toml`'s
    /// `[[rule]]`s), first match wins; a job's own `prefer_tags` go first.
    pub rules: Vec<HostRule>,
    /// How `https://` nodes are reached: CAs trusted, client certificate.
    pub tls: browserfarm_http::ClientTls,
}

/// `hosts = ["*.de", "example.org"]` → `prefer = { region = "eu" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRule {
    /// Exact host names, or `*.suffix` for the suffix's subdomains and itself.
    pub hosts: Vec<String>,
    pub prefer: NodeTags,
}

impl HostRule {
    fn matches(&self, host: &str) -> bool {
        self.hosts
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(suffix) => {
                    host == suffix
                        || host
                            .strip_suffix(suffix)
                            .is_some_and(|rest| rest.ends_with('.'))
                }
                None => host == pattern,
            })
    }
}

/// The tags the first rule matching `url`'s host prefers.
fn rule_for<'a>(rules: &'a [HostRule], url: Option<&str>) -> Option<&'a NodeTags> {
    let url = reqwest::Url::parse(url?).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    rules.iter().find(|r| r.matches(&host)).map(|r| &r.prefer)
}

/// `require` and `prefer` together: the nodes a preference looks for first.
fn with_preference(require: &NodeTags, prefer: &NodeTags) -> NodeTags {
    let mut both = prefer.clone();
    both.extend(require.iter().map(|(k, v)| (k.clone(), v.clone())));
    both
}

/// Said in a result that ran outside the nodes it preferred.
fn fallback_note(prefer: &NodeTags, node: &str) -> String {
    format!(
        "Ran on node {node}: no node with {} could take it.",
        browserfarm_protocol::format_tags(prefer)
    )
}

impl Default for FarmConfig {
    fn default() -> Self {
        FarmConfig {
            nodes: Vec::new(),
            breaker: BreakerConfig::default(),
            health_interval: Duration::from_secs(2),
            job_timeout: Duration::from_secs(150),
            attempts: 3,
            token: Default::default(),
            registration_grace: Duration::ZERO,
            session_wait: Duration::from_secs(60),
            rules: Vec::new(),
            tls: Default::default(),
        }
    }
}

/// Where a session lives: a node and the node's own id for it.
struct Placement {
    node: Arc<Node>,
    remote: SessionId,
    /// The node process that opened it ([`browserfarm_protocol::Health::instance`]):
    /// once the node reports another, the session is gone with the old process.
    instance: Option<String>,
    /// A connection's session is closed when this gateway shuts down; one
    /// reached by handle outlives it, and its node's idle expiry ends it.
    scope: SessionScope,
    /// Said once, in the result of the session's next job: it was placed
    /// outside the nodes it preferred.
    note: Option<String>,
}

impl Placement {
    /// The session's route, `<node's session id>@<node>`: any gateway with the
    /// same nodes finds the session from it alone ([`FarmExecutor::cell`]).
    fn route(&self) -> SessionRoute {
        SessionRoute {
            id: SessionId(format!("{}@{}", self.remote, self.node.name)),
            portable: !matches!(self.node.backend, Backend::Local(_)),
        }
    }
}

type Cell = Arc<tokio::sync::Mutex<Placement>>;

pub struct FarmExecutor {
    /// Grows when agents register; registered nodes that go away stay listed
    /// (offline) so operators see them.
    nodes: RwLock<Vec<Arc<Node>>>,
    config: FarmConfig,
    /// Sessions by route. A moved session is listed under its first route and
    /// its current one, both naming the same cell.
    sessions: Mutex<Routes<tokio::sync::Mutex<Placement>>>,
    /// Health polling and DNS discovery: stopped on shutdown, so nothing probes
    /// or adds nodes once the gateway is going away.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    stopped: AtomicBool,
    started: Instant,
    /// The node each group's latest job was sent to (see [`FarmExecutor::pick`]).
    groups: Mutex<HashMap<String, (String, Instant)>>,
    /// Woken when this gateway closes a session, for sessions waiting for room.
    room: tokio::sync::Notify,
}

/// How long a session another gateway opened may idle once it moves into this
/// gateway's embedded pool (on agents, the agent's own TTL applies).
const ADOPTED_IDLE: Duration = Duration::from_secs(600);

/// How long the gateway remembers where a group's jobs went.
const GROUP_MEMORY: Duration = Duration::from_secs(10);

impl FarmExecutor {
    /// Builds the farm (configured nodes plus, optionally, the local pool) and
    /// checks every node once before returning, so the first jobs are placed on
    /// nodes known to be up. An empty farm is allowed: agents may register later.
    pub async fn start(
        config: FarmConfig,
        local: Option<LocalMember>,
    ) -> Result<FarmExecutor, String> {
        let mut nodes = Vec::new();
        if let Some(local) = local {
            nodes.push(Arc::new(Node::new(
                "local".to_owned(),
                Backend::Local(local.executor),
                1.0,
                local.tags,
                Breaker::new("local".to_owned(), config.breaker),
                None,
            )));
        }
        for spec in &config.nodes {
            nodes.push(Arc::new(remote_node(&config, spec, None)?));
        }
        let nodes = RwLock::new(nodes);
        let farm_nodes = snapshot(&nodes);
        check_all(&farm_nodes).await;
        Ok(FarmExecutor {
            nodes,
            config,
            sessions: Mutex::new(Routes::default()),
            tasks: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            started: Instant::now(),
            groups: Mutex::new(HashMap::new()),
            room: tokio::sync::Notify::new(),
        })
    }

    /// Starts polling every node's health in the background.
    pub fn watch(self: &Arc<Self>) {
        let farm = Arc::downgrade(self);
        let interval = self.config.health_interval;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(farm) = farm.upgrade() else { return };
                let nodes = farm.nodes();
                drop(farm);
                check_all(&nodes).await;
            }
        });
        self.keep_task(task.abort_handle());
    }

    /// A background task of this farm, aborted on shutdown.
    pub(crate) fn keep_task(&self, task: tokio::task::AbortHandle) {
        lock(&self.tasks).push(task);
    }

    fn nodes(&self) -> Vec<Arc<Node>> {
        snapshot(&self.nodes)
    }

    /// Jobs the usable nodes run at once, summed (0 when none is up).
    pub fn capacity(&self) -> usize {
        self.nodes().iter().map(|n| n.capacity()).sum()
    }

    /// An agent announced itself (or sent its heartbeat): add it, or refresh it.
    /// Returns whether the node is new.
    pub async fn register(&self, registration: &Registration) -> Result<bool, String> {
        self.join(registration, None).await
    }

    /// [`FarmExecutor::register`], reaching a new node's TLS listener under
    /// `server_name` (discovery's Service name).
    pub(crate) async fn join(
        &self,
        registration: &Registration,
        server_name: Option<&str>,
    ) -> Result<bool, String> {
        let url = registration.url.trim_end_matches('/');
        let every = Duration::from_secs(registration.heartbeat_secs.clamp(1, 3600));
        let known = self.nodes().into_iter().find(|n| n.is_at(url));
        if let Some(node) = known {
            let was_offline = !node.is_up();
            node.beat();
            if let Some(resources) = &registration.resources {
                node.take_resources(resources);
            }
            if let Some(weight) = registration.weight {
                node.set_weight(weight);
            }
            if was_offline {
                node.breaker.probe_now();
                node.check_health().await;
            }
            return Ok(false);
        }
        let spec = NodeSpec {
            url: url.to_owned(),
            token: None,
            weight: registration.weight.unwrap_or(1.0),
            tags: NodeTags::new(),
            server_name: server_name.map(str::to_owned),
        };
        let heartbeat = Heartbeat {
            last: Mutex::new(Instant::now()),
            every,
        };
        let node = Arc::new(remote_node(&self.config, &spec, Some(heartbeat))?);
        node.check_health().await;
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        if nodes.iter().any(|n| n.name == node.name) {
            return Ok(false);
        }
        tracing::info!(node = %node.name, "node registered");
        nodes.push(node);
        Ok(true)
    }

    /// An agent is leaving: stop placing work on it now rather than after three
    /// missed heartbeats. Its sessions move on their next call.
    pub fn deregister(&self, url: &str) -> bool {
        let url = url.trim_end_matches('/');
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        let before = nodes.len();
        nodes.retain(|n| !(n.heartbeat.is_some() && n.is_at(url)));
        let removed = nodes.len() < before;
        if removed {
            tracing::info!(node = url, "node deregistered");
        }
        removed
    }

    /// Power of two choices among usable nodes carrying `tags`, not in `exclude`;
    /// `prefer` wins when it is usable and no more loaded than that choice. A
    /// group's jobs prefer the node its latest job went to: a batch read a page
    /// at a time then stays on that agent's warm tabs instead of opening a
    /// browser on a random node per page, while jobs running side by side still
    /// spread (the preferred node is busier by then).
    fn pick(&self, exclude: &[String], tags: &NodeTags, prefer: Option<&str>) -> Option<Arc<Node>> {
        let chosen = self.two_choices(exclude, tags)?;
        let preferred = prefer.filter(|p| *p != chosen.name).and_then(|p| {
            self.nodes().into_iter().find(|n| {
                n.name == p
                    && !exclude.contains(&n.name)
                    && n.usable_for(tags)
                    && !n.memory_pressure()
            })
        });
        Some(match preferred {
            Some(node) if node.load() <= chosen.load() => node,
            _ => chosen,
        })
    }

    fn two_choices(&self, exclude: &[String], tags: &NodeTags) -> Option<Arc<Node>> {
        less_loaded_of_two(&self.usable(exclude, tags))
    }

    /// Nodes a job carrying `tags` may go to, other than those in `exclude`;
    /// of those, nodes short of memory only when all are.
    fn usable(&self, exclude: &[String], tags: &NodeTags) -> Vec<Arc<Node>> {
        let mut usable: Vec<Arc<Node>> = self
            .nodes()
            .into_iter()
            .filter(|n| !exclude.contains(&n.name) && n.usable_for(tags))
            .collect();
        if usable.iter().any(|n| !n.memory_pressure()) {
            usable.retain(|n| !n.memory_pressure());
        }
        usable
    }

    /// Where a new session goes: among the usable nodes, those with the most
    /// free session slots ([`roomiest`]), then the less loaded of two of them.
    fn pick_for_session(&self, exclude: &[String], tags: &NodeTags) -> Option<Arc<Node>> {
        less_loaded_of_two(&roomiest(self.usable(exclude, tags), |n| n.sessions_free()))
    }

    /// The node `group`'s latest job went to, if recently.
    fn group_node(&self, group: &str) -> Option<String> {
        lock(&self.groups)
            .get(group)
            .filter(|(_, at)| at.elapsed() < GROUP_MEMORY)
            .map(|(node, _)| node.clone())
    }

    fn remember_group(&self, group: &str, node: &str) {
        let mut groups = lock(&self.groups);
        // Groups end without saying so (a batch is done): forget old ones as
        // new ones come, so the map stays the size of the recent groups.
        if groups.len() >= 256 {
            groups.retain(|_, (_, at)| at.elapsed() < GROUP_MEMORY);
        }
        groups.insert(group.to_owned(), (node.to_owned(), Instant::now()));
    }

    /// The error when every usable node (tags and `exclude` as for placement)
    /// says it has no free session slot; `None` when some node may have one.
    fn all_full(&self, exclude: &[String], tags: &NodeTags) -> Option<JobError> {
        let usable = self.usable(exclude, tags);
        if usable.is_empty() || usable.iter().any(|n| n.sessions_free() != Some(0)) {
            return None;
        }
        let full: Vec<String> = usable
            .iter()
            .map(|n| match n.status() {
                NodeStatus {
                    sessions: Some(open),
                    sessions_max: Some(max),
                    ..
                } => format!("{} {open}/{max}", n.name),
                _ => n.name.clone(),
            })
            .collect();
        let others: Vec<String> = self
            .nodes()
            .iter()
            .filter(|n| !usable.iter().any(|u| u.name == n.name))
            .map(|n| describe(n))
            .collect();
        Some(JobError::new(
            ErrorKind::Unavailable,
            format!(
                "no farm node has room for another browser session ({} node{}, all full: {} \
                 sessions{}); close a session (close_session) or retry shortly",
                usable.len(),
                if usable.len() == 1 { "" } else { "s" },
                full.join(", "),
                if others.is_empty() {
                    String::new()
                } else {
                    format!("; other nodes: {}", others.join(", "))
                }
            ),
        ))
    }

    fn no_node(&self, tried: &[String], tags: &NodeTags, last: Option<&CallError>) -> JobError {
        let nodes = self.nodes();
        if nodes.is_empty() {
            return JobError::new(
                ErrorKind::Unavailable,
                "the farm has no nodes yet: start agents with `browserfarm agent \
                 --register-with <gateway registry URL>`, pass --node, or check that \
                 --nodes-dns resolves",
            );
        }
        let summary: Vec<String> = nodes.iter().map(|n| describe(n)).collect();
        let last = last
            .map(|e| format!("; last error: {}", e.message()))
            .unwrap_or_default();
        if !tags.is_empty() && !nodes.iter().any(|n| n.matches(tags)) {
            return JobError::new(
                ErrorKind::Unavailable,
                format!(
                    "no farm node carries node_tags {} (nodes: {})",
                    format_tags(tags),
                    summary.join(", ")
                ),
            );
        }
        JobError::new(
            ErrorKind::Unavailable,
            format!(
                "no farm node could take the job (tried {}; nodes: {}){last}",
                if tried.is_empty() {
                    "none".to_owned()
                } else {
                    tried.join(", ")
                },
                summary.join(", ")
            ),
        )
    }

    /// Right after start, agents may not have registered yet (they beat every few
    /// seconds): give them until the grace period ends rather than fail the first
    /// calls of a freshly started gateway.
    async fn await_first_node(&self, tags: &NodeTags) {
        let until = self.started + self.config.registration_grace;
        while Instant::now() < until && self.two_choices(&[], tags).is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a session on some node carrying `tags`, other than those in
    /// `exclude`. When every node is full it waits for room up to
    /// `session_wait`, as a job waits in the queue for a browser.
    async fn place_session(
        &self,
        exclude: &[String],
        tags: &NodeTags,
        scope: SessionScope,
    ) -> Result<Placement, JobError> {
        self.await_first_node(tags).await;
        let until = Instant::now() + self.config.session_wait;
        loop {
            let room = self.room.notified();
            let error = match self.try_place(exclude, tags, scope).await {
                Ok(placement) => return Ok(placement),
                Err(error) => error,
            };
            let Some(full) = self.all_full(exclude, tags) else {
                return Err(error);
            };
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(JobError::new(
                    full.kind,
                    format!(
                        "{}; waited {} s in the gateway queue for one to close \
                         (--queue-wait-secs)",
                        full.message,
                        seconds(self.config.session_wait)
                    ),
                ));
            }
            // A session closed here wakes the wait; one closed by another
            // gateway or expired on its node shows in the next health check.
            let poll = self.config.health_interval.min(left);
            let _ = tokio::time::timeout(poll, room).await;
        }
    }

    /// One pass over the nodes with room, best first.
    async fn try_place(
        &self,
        exclude: &[String],
        tags: &NodeTags,
        scope: SessionScope,
    ) -> Result<Placement, JobError> {
        let mut tried = exclude.to_vec();
        let mut last = None;
        for _ in 0..self.nodes().len() {
            let Some(node) = self.pick_for_session(&tried, tags) else {
                break;
            };
            match node.open_session(scope).await {
                Ok(opened) => {
                    return Ok(Placement {
                        node,
                        remote: opened.session,
                        instance: opened.instance,
                        scope,
                        note: None,
                    });
                }
                Err(CallError::Rejected(e)) => return Err(e),
                Err(e) => {
                    tried.push(node.name.clone());
                    last = Some(e);
                }
            }
        }
        Err(self
            .all_full(exclude, tags)
            .unwrap_or_else(|| self.no_node(&tried, tags, last.as_ref())))
    }

    async fn run_stateless(&self, job: Job) -> Result<JobOutput, JobError> {
        let mut tried: Vec<String> = Vec::new();
        self.await_first_node(&job.node_tags).await;
        let mut last: Option<CallError> = None;
        let mut attempt = 0;
        let prefer = match job.prefer_tags.is_empty() {
            false => Some(&job.prefer_tags),
            true => rule_for(&self.config.rules, job.operation.url()),
        };
        let preferred = prefer.map(|p| with_preference(&job.node_tags, p));
        while attempt < self.config.attempts.max(1) {
            let group_node = job.group.as_deref().and_then(|g| self.group_node(g));
            // The preferred nodes while any is left to try, then the rest.
            let pick = |tags: &NodeTags| self.pick(&tried, tags, group_node.as_deref());
            let Some(node) = preferred
                .as_ref()
                .and_then(pick)
                .or_else(|| pick(&job.node_tags))
            else {
                break;
            };
            if let Some(group) = &job.group {
                self.remember_group(group, &node.name);
            }
            let fell_back =
                prefer.filter(|_| preferred.as_ref().is_some_and(|tags| !node.matches(tags)));
            match node.run(&job).await {
                Ok(mut output) => {
                    if let (Some(prefer), Some(page)) = (fell_back, output.page_mut()) {
                        page.notes.push(fallback_note(prefer, &node.name));
                    }
                    return Ok(output);
                }
                Err(CallError::Rejected(e)) if !e.kind.is_transient() => return Err(e),
                Err(e) => {
                    tracing::info!(node = %node.name, error = e.message(), "job failed on node; trying another");
                    tried.push(node.name.clone());
                    // A busy or cut-off node is not a failed attempt; a failed
                    // one earns backoff.
                    if !matches!(e, CallError::Busy(_) | CallError::CutOff(_)) {
                        attempt += 1;
                        let jitter = rand::rng().random_range(25..100);
                        tokio::time::sleep(Duration::from_millis(jitter * attempt as u64)).await;
                    }
                    last = Some(e);
                }
            }
        }
        match last {
            Some(CallError::Rejected(e)) => Err(e),
            Some(CallError::Unauthorized(e)) => Err(e),
            other => Err(self.no_node(&tried, &job.node_tags, other.as_ref())),
        }
    }

    /// The session `id` names: one this gateway knows, or one it learns from
    /// the route (opened by another gateway, or by this one before a restart).
    fn cell(&self, id: &SessionId) -> Result<Cell, JobError> {
        if let Some(cell) = lock(&self.sessions).get(id) {
            return Ok(cell);
        }
        let Some((remote, node)) = id.0.split_once('@') else {
            return Err(JobError::new(
                ErrorKind::SessionNotFound,
                format!("session '{id}' does not exist"),
            ));
        };
        let node = self
            .nodes()
            .into_iter()
            .find(|n| n.name == node)
            .ok_or_else(|| {
                JobError::new(
                    ErrorKind::SessionNotFound,
                    format!(
                        "session '{id}' lives on node {node}, which this gateway does not know \
                         (every gateway of a farm needs the same nodes)"
                    ),
                )
            })?;
        // The node's current process is taken for the one that opened it: a
        // session it does not know is told so by the node itself.
        let instance = node.instance();
        let cell = Arc::new(tokio::sync::Mutex::new(Placement {
            node,
            remote: SessionId(remote.to_owned()),
            instance,
            scope: SessionScope::Handle { idle: ADOPTED_IDLE },
            note: None,
        }));
        Ok(lock(&self.sessions).get_or_insert(id, cell, false))
    }

    async fn run_in_session(&self, id: &SessionId, job: Job) -> Result<JobOutput, JobError> {
        let cell = self.cell(id)?;
        let mut placement = cell.lock().await;
        let node = placement.node.clone();
        let why = match gone(&placement, &job.node_tags) {
            Some(why) => why,
            None => {
                let mut remote_job = job.clone();
                remote_job.session = Some(placement.remote.clone());
                match node.run(&remote_job).await {
                    Ok(mut output) => {
                        if let Some(page) = output.page_mut()
                            && let Some(note) = placement.note.take()
                        {
                            page.notes.push(note);
                        }
                        return Ok(output);
                    }
                    Err(CallError::Rejected(e)) if e.kind != ErrorKind::SessionNotFound => {
                        return Err(e);
                    }
                    Err(CallError::Busy(e)) | Err(CallError::Unauthorized(e)) => return Err(e),
                    Err(CallError::Rejected(_)) => {
                        // A node that forgot the session may have restarted
                        // since its last health check: ask it now, so the
                        // caller is told which of the two happened.
                        node.check_health().await;
                        gone(&placement, &job.node_tags).unwrap_or(Move::UnknownSession)
                    }
                    Err(CallError::CutOff(_)) => Move::CutOff,
                    Err(CallError::Failed(m)) => Move::Failed(m),
                }
            }
        };
        let because = why.describe(&node.name);
        tracing::warn!(node = %node.name, because, "session lost its node; moving it");
        let scope = placement.scope;
        // A node that restarted or forgot the session is fine to open the new
        // one on; a dead or failing one is not.
        let exclude = if why.node_failed() {
            vec![node.name.clone()]
        } else {
            Vec::new()
        };
        let moved = self
            .place_session(&exclude, &job.node_tags, scope)
            .await
            .map_err(|e| {
                JobError::new(
                    e.kind,
                    format!(
                        "this session's browser was lost because {because}, and no other node \
                         could take it: {}",
                        e.message
                    ),
                )
            })?;
        node.note_move(why.label(), &because);
        let old = std::mem::replace(&mut *placement, moved);
        // Known by its new route too, for the handle the caller gets next.
        let kept = placement.scope == SessionScope::Connection;
        lock(&self.sessions).insert(placement.route().id, cell.clone(), kept);
        let new_node = placement.node.name.clone();
        tokio::spawn(async move {
            // Best effort: the old node may be dead, or forget the session by TTL.
            let _ = old.node.close_session(&old.remote).await;
        });
        let went = if new_node == node.name {
            format!("was replaced by a new one on node {new_node}")
        } else {
            format!("moved to node {new_node}")
        };
        let lost = format!(
            "This session's browser {went} because {because}: its page state (tabs, \
             cookies, form input) was lost."
        );
        if job.operation.url().is_some() {
            // The job loads its own page: run it where the session now lives,
            // and say what the agent lost.
            let mut retry = job;
            retry.session = Some(placement.remote.clone());
            let node = placement.node.clone();
            let mut output = node.run(&retry).await.map_err(|e| match e {
                CallError::Failed(m) | CallError::CutOff(m) => {
                    JobError::new(ErrorKind::NodeFailed, format!("{lost} Then {m}"))
                }
                CallError::Rejected(e) | CallError::Busy(e) | CallError::Unauthorized(e) => {
                    JobError::new(e.kind, format!("{lost} Then: {}", e.message))
                }
            })?;
            if let Some(page) = output.page_mut() {
                page.notes.push(format!(
                    "{lost} This page was loaded there; redo any earlier steps it needs."
                ));
            }
            return Ok(output);
        }
        Err(JobError::new(
            ErrorKind::BrowserCrashed,
            format!(
                "{lost} This call needs that state, so it did not run. Navigate again, then \
                 redo the steps that led here."
            ),
        ))
    }
}

/// Why a session's node no longer serves it.
enum Move {
    /// The node failed its health checks or missed its heartbeats.
    Down(Option<String>),
    CutOff,
    /// The node answers as another process than the one holding the session.
    Restarted,
    /// A call to the node failed (connection, timeout, 5xx).
    Failed(String),
    /// The node does not know the session (it expired or was closed there).
    UnknownSession,
    /// The call asks for `node_tags` the node does not carry.
    Tags,
}

impl Move {
    /// For the metric's `reason` label: a few fixed words.
    fn label(&self) -> &'static str {
        match self {
            Move::Down(_) => "down",
            Move::CutOff => "cut_off",
            Move::Restarted => "restarted",
            Move::Failed(_) => "failed",
            Move::UnknownSession => "unknown_session",
            Move::Tags => "tags",
        }
    }

    /// Whether the node itself is failing, so the session must go elsewhere.
    fn node_failed(&self) -> bool {
        matches!(self, Move::Down(_) | Move::CutOff | Move::Failed(_))
    }

    fn describe(&self, node: &str) -> String {
        match self {
            Move::Down(Some(error)) => format!("node {node} is down ({error})"),
            Move::Down(None) => format!("node {node} is down"),
            Move::CutOff => format!("node {node} is cut off by its circuit breaker"),
            Move::Restarted => format!("node {node} restarted"),
            Move::Failed(error) => format!("node {node} failed ({error})"),
            Move::UnknownSession => format!("node {node} no longer knows the session"),
            Move::Tags => format!("node {node} does not carry the requested node_tags"),
        }
    }
}

/// Whether the session's node can no longer serve it, before calling it: the
/// node is down, cut off, restarted, or lacks the call's tags. A session must
/// not wait out its node's outage call by call: its next call moves it.
fn gone(placement: &Placement, tags: &NodeTags) -> Option<Move> {
    let node = &placement.node;
    if !node.matches(tags) {
        return Some(Move::Tags);
    }
    let now = node.instance();
    if placement.instance.is_some() && now.is_some() && now != placement.instance {
        return Some(Move::Restarted);
    }
    if !node.is_up() {
        return Some(Move::Down(node.status().last_error));
    }
    if node.breaker.state() == BreakerState::Open {
        return Some(Move::CutOff);
    }
    None
}

/// A node's state, breaker and last error, for error messages.
fn describe(node: &Node) -> String {
    let status = node.status();
    let why = status
        .last_error
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    format!(
        "{} {}, breaker {}{why}",
        node.name, status.state, status.breaker
    )
}

/// `d` in seconds for people: whole when it is, else to a tenth.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

/// Power of two choices: two of `nodes` drawn at random, the less loaded wins.
fn less_loaded_of_two(nodes: &[Arc<Node>]) -> Option<Arc<Node>> {
    let mut rng = rand::rng();
    match nodes.len() {
        0 => None,
        1 => Some(nodes[0].clone()),
        len => {
            let a = rng.random_range(0..len);
            let mut b = rng.random_range(0..len - 1);
            if b >= a {
                b += 1;
            }
            let (a, b) = (&nodes[a], &nodes[b]);
            Some(if a.load() <= b.load() {
                a.clone()
            } else {
                b.clone()
            })
        }
    }
}

/// The candidates with the most free session slots as `free` tells them. One
/// with none free is left out; one that does not say (an older agent, `None`)
/// is kept only when no candidate says it has room.
fn roomiest<T>(candidates: Vec<T>, free: impl Fn(&T) -> Option<usize>) -> Vec<T> {
    let most = candidates.iter().map(&free).filter(|f| *f != Some(0)).max();
    match most {
        None => Vec::new(),
        Some(most) => candidates.into_iter().filter(|c| free(c) == most).collect(),
    }
}

fn snapshot(nodes: &RwLock<Vec<Arc<Node>>>) -> Vec<Arc<Node>> {
    nodes.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn remote_node(
    config: &FarmConfig,
    spec: &NodeSpec,
    heartbeat: Option<Heartbeat>,
) -> Result<Node, String> {
    let token = match &spec.token {
        Some(own) => browserfarm_http::Presented::from(Some(own.clone())),
        None => config.token.clone(),
    };
    let client = NodeClient::new(
        &spec.url,
        spec.server_name.as_deref(),
        token,
        config.job_timeout,
        &config.tls,
    )?;
    // The address alone, so a route names the node whatever the scheme.
    let base = client.base();
    let name = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .unwrap_or(base)
        .to_owned();
    Ok(Node::new(
        name.clone(),
        Backend::Remote(client),
        spec.weight,
        spec.tags.clone(),
        Breaker::new(name, config.breaker),
        heartbeat,
    ))
}

/// Checks every node's health concurrently.
async fn check_all(nodes: &[Arc<Node>]) {
    let mut set = tokio::task::JoinSet::new();
    for node in nodes {
        let node = node.clone();
        set.spawn(async move { node.check_health().await });
    }
    while set.join_next().await.is_some() {}
}

#[async_trait]
impl Executor for FarmExecutor {
    fn offers_placement(&self) -> bool {
        true
    }

    async fn open_session(
        &self,
        node_tags: &NodeTags,
        prefer_tags: &NodeTags,
        scope: SessionScope,
    ) -> Result<SessionId, JobError> {
        // One pass over the preferred nodes (no waiting for room there), then
        // anywhere the requirement allows, waiting as usual.
        let preferred = match prefer_tags.is_empty() {
            true => None,
            false => {
                let tags = with_preference(node_tags, prefer_tags);
                self.try_place(&[], &tags, scope).await.ok()
            }
        };
        let mut placement = match preferred {
            Some(placement) => placement,
            None => self.place_session(&[], node_tags, scope).await?,
        };
        if !prefer_tags.is_empty() && !placement.node.matches(prefer_tags) {
            tracing::info!(node = %placement.node.name, prefer = %browserfarm_protocol::format_tags(prefer_tags),
                "no preferred node had room for the session; placed elsewhere");
            placement.note = Some(fallback_note(prefer_tags, &placement.node.name));
        }
        let id = placement.route().id;
        tracing::debug!(session = %id, node = %placement.node.name, "session placed");
        let kept = placement.scope == SessionScope::Connection;
        let cell = Arc::new(tokio::sync::Mutex::new(placement));
        lock(&self.sessions).insert(id.clone(), cell, kept);
        Ok(id)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), JobError> {
        let cell = self.cell(id)?;
        lock(&self.sessions).remove(&cell);
        let placement = cell.lock().await;
        let _ = placement.node.close_session(&placement.remote).await;
        self.room.notify_waiters();
        Ok(())
    }

    async fn run(&self, job: Job) -> Result<JobOutput, JobError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(JobError::new(
                ErrorKind::Unavailable,
                "the gateway is shutting down",
            ));
        }
        job.operation.validate()?;
        match job.session.clone() {
            Some(id) => self.run_in_session(&id, job).await,
            None => self.run_stateless(job).await,
        }
    }

    async fn status(&self) -> FarmStatus {
        FarmStatus {
            nodes: self.nodes().iter().map(|n| n.status()).collect(),
            sessions: lock(&self.sessions).distinct().len(),
        }
    }

    /// Which node serves a session (for `farm_status` and tests).
    async fn session_node(&self, id: &SessionId) -> Option<String> {
        let cell = lock(&self.sessions).get(id)?;
        let placement = cell.lock().await;
        Some(placement.node.name.clone())
    }

    async fn session_route(&self, id: &SessionId) -> Option<SessionRoute> {
        let cell = lock(&self.sessions).get(id)?;
        let placement = cell.lock().await;
        Some(placement.route())
    }

    async fn shutdown(&self) {
        self.stopped.store(true, Ordering::Release);
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        let cells = lock(&self.sessions).take();
        for cell in cells {
            let placement = cell.lock().await;
            if placement.scope == SessionScope::Connection {
                let _ = placement.node.close_session(&placement.remote).await;
            }
        }
        for node in self.nodes() {
            if let Backend::Local(local) = &node.backend {
                local.shutdown().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::roomiest;

    /// Candidates as (name, free slots), and the names `roomiest` keeps.
    fn kept(candidates: &[(&'static str, Option<usize>)]) -> Vec<&'static str> {
        roomiest(candidates.to_vec(), |c| c.1)
            .into_iter()
            .map(|c| c.0)
            .collect()
    }

    #[test]
    fn sessions_go_where_most_slots_are_free() {
        assert_eq!(
            kept(&[("a", Some(1)), ("b", Some(5)), ("c", Some(2))]),
            ["b"]
        );
        assert_eq!(
            kept(&[("a", Some(3)), ("b", Some(1)), ("c", Some(3))]),
            ["a", "c"],
            "ties are left to the load"
        );
    }

    #[test]
    fn full_nodes_are_skipped_and_silent_ones_come_last() {
        assert_eq!(kept(&[("a", Some(0)), ("b", Some(1))]), ["b"]);
        assert_eq!(kept(&[("a", Some(0)), ("b", Some(0))]), Vec::<&str>::new());
        assert_eq!(kept(&[]), Vec::<&str>::new());
        assert_eq!(kept(&[("old", None), ("new", Some(1))]), ["new"]);
        assert_eq!(
            kept(&[("old", None), ("full", Some(0)), ("older", None)]),
            ["old", "older"],
            "nodes that do not report their slots still take sessions"
        );
    }
}

//! `browserfarm agent`: one farm node. An axum HTTP server (`/v1`, JSON, types from
//! `browserfarm-protocol`) around a local Chromium pool, run by the gateway's
//! `LocalExecutor`. See [`browserfarm_protocol::Health`] and the protocol crate's
//! `node_api` module for the endpoints.
//!
//! Cross-cutting behaviour stays out of handlers: the bearer-token check
//! (`browserfarm_http::BearerAuth`) is a layer over every route, `/health` and
//! `/metrics` included since they reveal capacity; failures answer through
//! `browserfarm_http::HttpError`, so their status follows from their kind in one
//! place; admission control (`admission`) bounds running and queued jobs; idle
//! sessions expire (`sessions`); `register` announces the node to each gateway.
//!
//! **Architecture invariant:** no rmcp (the node speaks HTTP, not MCP) and no
//! chromiumoxide (the `browser` crate hides it, behind the gateway's
//! `LocalExecutor`).

mod admission;
mod register;
mod routes;
mod sessions;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use browserfarm_gateway::{Executor, LocalExecutor};
use browserfarm_metrics::Exposition;
use tokio_util::sync::CancellationToken;

pub use admission::Admission;
pub use register::Registrar;

/// Node settings. Every field is a documented flag of `browserfarm agent`.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Bearer token callers must present; `None` allows anyone (loopback only: the
    /// binary refuses to bind elsewhere without one).
    pub token: Option<String>,
    /// Labels reported in `/health` for job placement, e.g. region=eu.
    pub tags: BTreeMap<String, String>,
    /// Jobs run at once; defaults to the pool's max browsers.
    pub capacity: usize,
    /// Jobs allowed to wait for a slot before the node answers 429.
    pub max_queue: usize,
    /// Sessions unused this long are closed.
    pub session_ttl: Duration,
    /// Backstop deadline for one job (operations have their own, shorter ones).
    pub job_timeout: Duration,
    /// How long SIGTERM waits for in-flight jobs before closing browsers.
    pub drain_timeout: Duration,
    /// Announce this node to each of these gateways and keep sending them
    /// heartbeats, each independently; empty for none.
    pub register: Vec<Registrar>,
    /// Served at `GET /metrics` (behind the token, like every route); without
    /// it the route answers 404.
    pub metrics: Option<Arc<Exposition>>,
    /// Serve the node API over HTTPS (`--tls-cert`, `--tls-key`, and
    /// `--tls-client-ca` to require gateways' client certificates).
    pub tls: Option<browserfarm_http::ServerTls>,
    /// Named tokens accepted besides `token` (`--tokens-file`).
    pub tokens: Option<Arc<browserfarm_http::Tokens>>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            token: None,
            tags: BTreeMap::new(),
            capacity: 4,
            max_queue: 16,
            session_ttl: Duration::from_secs(600),
            job_timeout: Duration::from_secs(120),
            drain_timeout: Duration::from_secs(30),
            register: Vec::new(),
            metrics: None,
            tls: None,
            tokens: None,
        }
    }
}

/// Shared state of the node's handlers.
pub(crate) struct Node {
    pub executor: Arc<LocalExecutor>,
    pub config: AgentConfig,
    pub admission: Admission,
    pub sessions: browserfarm_gateway::IdleSessions,
    pub started: Instant,
    pub draining: std::sync::atomic::AtomicBool,
}

/// Serves the node API on `listener` until `shutdown` is cancelled, then drains
/// in-flight requests (bounded by `drain_timeout`) and closes every browser.
pub async fn serve(
    listener: tokio::net::TcpListener,
    executor: Arc<LocalExecutor>,
    config: AgentConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let node = Arc::new(Node {
        admission: Admission::new(config.capacity, config.max_queue),
        sessions: Default::default(),
        executor: executor.clone(),
        started: Instant::now(),
        draining: Default::default(),
        config,
    });
    let sweeper = tokio::spawn(sessions::expire_idle(node.clone()));
    let figures: register::Figures = {
        let node = node.clone();
        Arc::new(move || {
            browserfarm_protocol::Resources::of(&node.executor.health(BTreeMap::new()))
        })
    };
    let heartbeats = tokio::spawn(register::run_each(
        node.config.register.clone(),
        figures,
        shutdown.clone(),
    ));
    let app = routes::router(node.clone());
    let drain = node.config.drain_timeout;
    let stop = shutdown.clone();
    let server = browserfarm_http::serve(listener, app, node.config.tls.clone(), async move {
        stop.cancelled().await;
    });
    let mut server = std::pin::pin!(server);
    let result = tokio::select! {
        r = &mut server => r,
        _ = async {
            shutdown.cancelled().await;
            node.draining.store(true, std::sync::atomic::Ordering::Release);
            tokio::time::sleep(drain).await;
        } => {
            tracing::warn!("in-flight jobs did not finish within {drain:?}; closing anyway");
            Ok(())
        }
    };
    sweeper.abort();
    let _ = heartbeats.await;
    executor.shutdown().await;
    result
}

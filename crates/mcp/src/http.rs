//! MCP over the network: streamable HTTP at `/mcp` (rmcp's service), the legacy
//! HTTP+SSE transport for older clients (`GET /sse` opens the event stream and
//! announces the `endpoint`; `POST /message?sessionId=…` carries requests), and
//! `GET /health` for load balancers, `GET /v1/farm` (the farm's JSON status,
//! for `browserfarm status`) and `GET /metrics` (Prometheus text, when the binary
//! installed a recorder); the live dashboard's routes are in [`crate::dashboard`].
//!
//! `/metrics` checks only the bearer token, as on agents: Prometheus scrapes by
//! pod or host address, which the Host allow-list would refuse. Without a token
//! (loopback only) a page reaching it by DNS rebinding could read counters,
//! which carry no page content or arguments.
//!
//! Every other route but `/health` passes the same gate, in this order: the
//! `Host`/`Origin` check ([`crate::host_check`], 403), the bearer token when one is
//! set ([`BearerAuth`], 401), then the limit of MCP sessions per client address
//! (429). Refusals are [`HttpError`]s, a `JobError` JSON body as on every other
//! listener. Each MCP session, on either
//! transport, gets its own [`BrowserfarmServer`] and so its own browser session,
//! released when the MCP session ends (DELETE on `/mcp`, idle expiry, SSE
//! disconnect).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use browserfarm_gateway::Executor;
use browserfarm_http::{BearerAuth, HttpError, metrics_router};
use browserfarm_metrics::Exposition;
use browserfarm_protocol::ErrorKind;
use futures::{Stream, StreamExt};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::host_check::HostCheck;
use crate::{BrowserfarmServer, RateLimit};

/// What a caller of `/mcp`, `/sse`, `/message` or `/v1/farm` without the token is
/// told.
const REFUSAL: &str = "missing or wrong bearer token: send `Authorization: Bearer <token>` with \
     the server's --token";

#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Extra host names (without port) accepted in `Host` and `Origin`, for a
    /// server reached by name (`--allowed-hosts`).
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins accepted, e.g. `https://app.example.com`
    /// (`--allowed-origins`).
    pub allowed_origins: Vec<String>,
    /// Bearer token every request must carry (`--token`).
    pub token: Option<String>,
    /// Signs the session handles results carry (`--session-key-file`); shared
    /// by every request, since a 2026-07-28 request gets a server of its own.
    pub handles: Arc<crate::Handles>,
    /// An MCP session idle this long is closed with its browser session.
    pub session_idle: Duration,
    pub rate_limit: Option<RateLimit>,
    /// Where each tool call is recorded (`--audit-log`).
    pub audit: Option<Arc<crate::AuditLog>>,
    /// Result cache for one-shot reads, shared by all sessions (`--result-cache`).
    pub cache: Option<Arc<crate::ResultCache>>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Serve the live dashboard at `/dashboard` (`--dashboard`).
    pub dashboard: bool,
    /// Served at `GET /metrics`; without it the route is absent (404).
    pub metrics: Option<Arc<Exposition>>,
    /// Lets running calls finish (or answer) before the server stops.
    pub drain: crate::Drain,
    /// Most URLs one batch_scrape call may carry.
    pub max_batch_urls: usize,
    /// Most characters of text one tool result may carry.
    pub max_output_chars: usize,
    /// Most MCP sessions (streamable HTTP or SSE) open at once from one client
    /// address; 0 means no limit.
    pub max_sessions_per_client: usize,
    /// Which tools are listed (`--tools`).
    pub toolset: crate::Toolset,
    /// Most browser sessions one client keeps past the MCP connections that
    /// opened them (`--max-detached-sessions`); the least recently used goes.
    pub max_detached_sessions: usize,
    /// Large binary results as links, readable from any request of the same
    /// principal (`--resource-links-over`).
    pub links: Option<Arc<crate::ResourceStore>>,
    /// Serve HTTPS (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
    pub tls: Option<browserfarm_http::ServerTls>,
    /// Named tokens accepted besides `token` (`--tokens-file`); when set, they
    /// and `token` are what the listener accepts.
    pub tokens: Option<Arc<browserfarm_http::Tokens>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            token: None,
            handles: crate::Handles::shared_default(),
            session_idle: Duration::from_secs(300),
            rate_limit: None,
            audit: None,
            cache: None,
            max_body_bytes: 4 * 1024 * 1024,
            dashboard: true,
            metrics: None,
            drain: crate::Drain::new(),
            max_batch_urls: browserfarm_protocol::MAX_BATCH_URLS,
            max_output_chars: browserfarm_protocol::DEFAULT_MAX_OUTPUT_CHARS,
            max_sessions_per_client: DEFAULT_MAX_SESSIONS_PER_CLIENT,
            toolset: crate::Toolset::all(),
            max_detached_sessions: crate::session::DEFAULT_MAX_DETACHED,
            links: None,
            tls: None,
            tokens: None,
        }
    }
}

/// Default for [`HttpOptions::max_sessions_per_client`]; the binary applies it
/// to servers listening beyond loopback.
pub const DEFAULT_MAX_SESSIONS_PER_CLIENT: usize = 16;

tokio::task_local! {
    /// The address of the client whose request is being served, for counting
    /// the sessions it opens (rmcp makes a session's server inside the request).
    static PEER: IpAddr;
    /// The name of the token the request presented (`--tokens-file`, or
    /// `default` for `--token`), for the rate limit, handles and the audit log.
    static PRINCIPAL: Option<String>;
}

/// Open MCP sessions per client address.
#[derive(Default)]
struct Clients(std::sync::Mutex<HashMap<IpAddr, usize>>);

impl Clients {
    fn open(&self, ip: IpAddr) -> usize {
        *self
            .0
            .lock()
            .expect("client map poisoned")
            .get(&ip)
            .unwrap_or(&0)
    }
}

/// One session counted against its client; uncounted when the session's server
/// (every clone of it) is gone.
pub(crate) struct ClientSlot {
    clients: Arc<Clients>,
    ip: IpAddr,
}

impl ClientSlot {
    fn take(clients: &Arc<Clients>, ip: IpAddr) -> ClientSlot {
        *clients
            .0
            .lock()
            .expect("client map poisoned")
            .entry(ip)
            .or_default() += 1;
        ClientSlot {
            clients: clients.clone(),
            ip,
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self.clients.0.lock().expect("client map poisoned");
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

#[derive(Clone)]
struct Shared {
    executor: Arc<dyn Executor>,
    options: Arc<HttpOptions>,
    shutdown: CancellationToken,
    /// Legacy SSE sessions: id → the inbox of that session's server.
    sse: Arc<Mutex<HashMap<String, mpsc::Sender<Bytes>>>>,
    activity: crate::Activity,
    clients: Arc<Clients>,
    hosts: Arc<HostCheck>,
    auth: BearerAuth,
    tokens: Arc<browserfarm_http::Tokens>,
    /// `--rate-limit` per client (principal or address), across its sessions.
    rates: Option<Arc<crate::rate::RateBuckets>>,
    /// Browser sessions of MCP connections that ended, kept for their handles.
    detached: Arc<crate::session::Detached>,
}

impl Shared {
    fn server(&self) -> BrowserfarmServer {
        let peer = PEER.try_with(|ip| *ip).ok();
        let slot = peer.map(|ip| ClientSlot::take(&self.clients, ip));
        let principal = PRINCIPAL.try_with(Clone::clone).ok().flatten();
        // The client is its principal when there is a token, else its address.
        let client = match (&principal, peer) {
            (Some(principal), _) => Some(format!("principal:{principal}")),
            (None, Some(ip)) => Some(format!("ip:{ip}")),
            (None, None) => None,
        };
        let bucket = self
            .rates
            .as_ref()
            .zip(client.clone())
            .map(|(r, c)| r.of(&c));
        BrowserfarmServer::new(self.executor.clone())
            .with_detached(
                self.detached.clone(),
                client.unwrap_or_else(|| "local".into()),
                self.options.session_idle,
            )
            .with_client_slot(slot)
            .with_rate_limit(self.options.rate_limit)
            .with_bucket(bucket)
            .with_audit(self.options.audit.clone())
            .with_activity(self.options.dashboard.then(|| self.activity.clone()))
            .with_cache(self.options.cache.clone())
            .with_drain(self.options.drain.clone())
            .with_max_batch_urls(self.options.max_batch_urls)
            .with_max_output_chars(self.options.max_output_chars)
            .with_handles(self.options.handles.clone())
            .with_principal(principal)
            .with_toolset(&self.options.toolset)
            .with_resource_links(self.options.links.clone())
    }
}

/// Serves until `shutdown` is cancelled.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    executor: Arc<dyn Executor>,
    options: HttpOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let tls = options.tls.clone();
    let app = router(executor, options, shutdown.clone());
    browserfarm_http::serve(
        listener,
        app,
        tls,
        async move { shutdown.cancelled().await },
    )
    .await
}

pub fn router(
    executor: Arc<dyn Executor>,
    options: HttpOptions,
    shutdown: CancellationToken,
) -> Router {
    let hosts = Arc::new(HostCheck {
        allowed_hosts: options.allowed_hosts.clone(),
        allowed_origins: options.allowed_origins.clone(),
    });
    let options_rates = options
        .rate_limit
        .map(|limit| Arc::new(crate::rate::RateBuckets::new(limit)));
    let tokens = options
        .tokens
        .clone()
        .unwrap_or_else(|| browserfarm_http::Tokens::fixed(options.token.as_deref()));
    let detached = Arc::new(crate::session::Detached::new(
        executor.clone(),
        options.max_detached_sessions,
    ));
    let shared = Shared {
        detached,
        executor,
        auth: BearerAuth::with_tokens(tokens.clone(), REFUSAL),
        tokens,
        options: Arc::new(options),
        shutdown,
        sse: Default::default(),
        activity: Default::default(),
        clients: Default::default(),
        hosts,
        rates: options_rates,
    };
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(shared.options.session_idle);
    // The gate below checks Host and Origin for every route, so rmcp's own
    // checks stay off rather than run a second time on the same headers.
    let mut config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    config.cancellation_token = shared.shutdown.child_token();
    config.max_request_body_bytes = shared.options.max_body_bytes;
    let factory = shared.clone();
    let streamable =
        StreamableHttpService::new(move || Ok(factory.server()), Arc::new(sessions), config);
    let gated = Router::new()
        .nest_service("/mcp", streamable)
        .layer(middleware::from_fn(session_closed_is_ok))
        .layer(middleware::from_fn_with_state(shared.clone(), well_formed))
        .route("/v1/farm", get(farm_status))
        .route("/sse", get(open_sse))
        .route("/message", post(post_message))
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(DefaultBodyLimit::max(shared.options.max_body_bytes));
    let metrics = shared.options.metrics.clone();
    let tokens = shared.tokens.clone();
    let mut app = Router::new().route("/health", get(health)).merge(gated);
    if shared.options.dashboard {
        app = app.merge(crate::dashboard::router(
            shared.executor.clone(),
            shared.activity.clone(),
            shared.hosts.clone(),
            tokens.clone(),
            shared.shutdown.clone(),
        ));
    }
    let app = app.with_state(shared);
    match metrics {
        Some(exposition) => app.merge(metrics_router(exposition, tokens)),
        None => app,
    }
}

/// rmcp answers a session DELETE with 202 Accepted; clients such as the Python SDK
/// expect 200 for a session that was terminated, and warn otherwise.
/// Answers a POST to /mcp whose body is not one JSON-RPC 2.0 message with 400 and
/// a JSON-RPC error (-32700 or -32600), as the spec asks; rmcp would answer 415
/// with plain text.
async fn well_formed(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, shared.options.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let reply = crate::jsonrpc::error_reply(
                -32600,
                &format!(
                    "message exceeds the {}-byte limit",
                    shared.options.max_body_bytes
                ),
                None,
            );
            return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(reply)).into_response();
        }
    };
    if let Err(reply) = crate::jsonrpc::check(&bytes) {
        return (StatusCode::BAD_REQUEST, axum::Json(reply)).into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

async fn session_closed_is_ok(request: Request, next: Next) -> Response {
    let delete = request.method() == axum::http::Method::DELETE;
    let mut response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

async fn health(State(shared): State<Shared>) -> Response {
    let status = shared.executor.status().await;
    let up = status.nodes.iter().filter(|n| n.state == "up").count();
    let code = if up > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        axum::Json(json!({
            "status": if up > 0 { "ok" } else { "no_nodes" },
            "version": env!("CARGO_PKG_VERSION"),
            "nodes_up": up,
            "nodes": status.nodes.len(),
            "sessions": status.sessions,
        })),
    )
        .into_response()
}

/// The farm's JSON status (`browserfarm status` reads it); behind the gate.
async fn farm_status(State(shared): State<Shared>) -> Response {
    axum::Json(shared.executor.status().await).into_response()
}

async fn gate(
    State(shared): State<Shared>,
    request: Request,
    next: Next,
) -> Result<Response, HttpError> {
    shared.hosts.check(request.headers())?;
    let principal = shared.auth.check(request.headers())?.map(|p| p.0);
    let Some(peer) = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return Ok(PRINCIPAL.scope(principal, next.run(request)).await);
    };
    let max = shared.options.max_sessions_per_client;
    if max > 0 && opens_session(&request) && shared.clients.open(peer) >= max {
        return Err(HttpError::new(
            ErrorKind::Busy,
            format!(
                "this client already has {max} MCP sessions open, the most one client may \
                 hold (--max-sessions-per-client); reuse one or close one (DELETE /mcp with \
                 its Mcp-Session-Id) first"
            ),
        ));
    }
    Ok(PRINCIPAL
        .scope(principal, PEER.scope(peer, next.run(request)))
        .await)
}

/// A request that would open an MCP session: a POST to `/mcp` without a session
/// id (initialize), or a legacy SSE stream.
fn opens_session(request: &Request) -> bool {
    let path = request.uri().path();
    (request.method() == axum::http::Method::POST
        && path == "/mcp"
        && !request.headers().contains_key("mcp-session-id"))
        || (request.method() == axum::http::Method::GET && path == "/sse")
}

fn session_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes a legacy SSE session and stops its server when the client goes away
/// (the event stream, which owns this, is dropped).
struct SseGuard {
    id: String,
    sessions: Arc<Mutex<HashMap<String, mpsc::Sender<Bytes>>>>,
    stop: CancellationToken,
}

impl Drop for SseGuard {
    fn drop(&mut self) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        self.stop.cancel();
        tracing::debug!(session = %self.id, "SSE client disconnected");
    }
}

async fn open_sse(
    State(shared): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    const PIPE: usize = 256 * 1024;
    let id = session_id();
    let (mut to_rmcp, rmcp_in) = tokio::io::duplex(PIPE);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(PIPE);
    let (inbox_tx, mut inbox) = mpsc::channel::<Bytes>(64);
    let stop = shared.shutdown.child_token();

    let server = shared.server();
    let serving = stop.clone();
    tokio::spawn(async move {
        match server.serve_with_ct((rmcp_in, rmcp_out), serving).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::debug!(error = %e, "SSE session ended before initialization"),
        }
    });
    tokio::spawn(async move {
        while let Some(message) = inbox.recv().await {
            if to_rmcp.write_all(&message).await.is_err() || to_rmcp.write_all(b"\n").await.is_err()
            {
                break;
            }
        }
    });
    shared
        .sse
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), inbox_tx);
    tracing::debug!(session = %id, "SSE client connected");

    let guard = SseGuard {
        id: id.clone(),
        sessions: shared.sse.clone(),
        stop,
    };
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/message?sessionId={id}"));
    let lines = BufReader::new(from_rmcp).lines();
    let messages = futures::stream::unfold((lines, guard), |(mut lines, guard)| async move {
        match lines.next_line().await {
            Ok(Some(line)) => Some((
                Ok(Event::default().event("message").data(line)),
                (lines, guard),
            )),
            _ => None,
        }
    });
    Sse::new(futures::stream::once(async { Ok(endpoint) }).chain(messages))
        .keep_alive(KeepAlive::default())
}

#[derive(serde::Deserialize)]
struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

async fn post_message(
    State(shared): State<Shared>,
    Query(query): Query<MessageQuery>,
    body: Bytes,
) -> Response {
    let inbox = shared
        .sse
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&query.session_id)
        .cloned();
    let Some(inbox) = inbox else {
        return HttpError::new(
            ErrorKind::SessionNotFound,
            "unknown or closed SSE session; open a new one with GET /sse",
        )
        .into_response();
    };
    // rmcp reads one message per line: re-encode compactly (no raw newlines).
    let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body) else {
        let error = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32700, "message": "parse error: the body is not valid JSON" }
        });
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    };
    match inbox.send(Bytes::from(message.to_string())).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(_) => HttpError::new(ErrorKind::SessionNotFound, "the SSE session has ended")
            .with_status(StatusCode::GONE)
            .into_response(),
    }
}

//! The live dashboard of HTTP mode: `GET /dashboard`, one page whose script and
//! style are embedded in the binary (no build step, nothing fetched from
//! elsewhere), showing the farm's nodes, the last tool calls and totals, kept
//! current by `GET /events`, a Server-Sent Events stream of full snapshots.
//!
//! The routes pass the same Host/Origin check as the rest of HTTP mode
//! ([`crate::host_check`]). With a token they also need it, as a bearer header
//! ([`BearerAuth`]) or as the sign-in cookie of [`login`]; that cookie opens these
//! read-only routes and nothing else. The dashboard knows only these two checks
//! and the executor, not the MCP transports it is served beside. Every
//! response carries a strict Content-Security-Policy: the page runs only its own
//! script and writes data into the DOM as text, so a node's error message cannot
//! become markup.

mod login;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware::map_response};
use browserfarm_gateway::Executor;
use browserfarm_http::BearerAuth;
use browserfarm_protocol::FarmStatus;
use futures::Stream;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::activity::{Activity, RecentCall};
use crate::host_check::HostCheck;
use login::Logins;

const PAGE: &str = include_str!("assets/index.html");
const LOGIN_PAGE: &str = include_str!("assets/login.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// The farm is re-read at least this often for each open event stream; a
/// snapshot is sent when it differs from the last one sent.
const POLL: Duration = Duration::from_secs(1);

/// After a tool call finishes, wait this long for others to finish too, so a
/// busy server sends a few snapshots a second rather than one per call.
const COALESCE: Duration = Duration::from_millis(200);

/// An unchanged snapshot is sent again after this long, so the page can tell a
/// quiet farm from a dead connection.
const RESEND: Duration = Duration::from_secs(5);

/// SSE comment lines keep idle proxies from closing the stream.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// How long the browser waits before reconnecting a dropped stream.
const RETRY: Duration = Duration::from_secs(1);

/// Routes that need no token: the stylesheet of the sign-in page and the
/// sign-in itself.
const PUBLIC: &[&str] = &["/dashboard/app.css", "/dashboard/login"];

/// Content-Security-Policy of every dashboard response: own script, style and
/// event stream only; no inline code, no framing, forms post only here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

/// What a caller of a dashboard route without the token or a sign-in is told.
const REFUSAL: &str = "sign in at /dashboard, or send `Authorization: Bearer <token>` with the \
     server's --token";

#[derive(Clone)]
struct Dashboard {
    executor: Arc<dyn Executor>,
    activity: Activity,
    hosts: Arc<HostCheck>,
    auth: BearerAuth,
    shutdown: CancellationToken,
    logins: Arc<Logins>,
}

impl Dashboard {
    /// The bearer token, or the cookie of a live sign-in.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        self.auth.allows(headers) || self.logins.valid(headers)
    }
}

/// What the page shows, sent whole in every `snapshot` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Snapshot {
    pub farm: FarmStatus,
    pub totals: Totals,
    /// Finished tool calls, newest first.
    pub recent: Vec<RecentCall>,
    /// Whether the server has a token (the page then offers sign-out).
    pub auth: bool,
    pub version: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Totals {
    pub calls_ok: u64,
    pub calls_failed: u64,
    pub sessions: usize,
    pub nodes: usize,
    pub nodes_up: usize,
}

/// The dashboard's routes, behind `hosts` and, when set, `token`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    executor: Arc<dyn Executor>,
    activity: Activity,
    hosts: Arc<HostCheck>,
    tokens: Arc<browserfarm_http::Tokens>,
    shutdown: CancellationToken,
) -> Router<S> {
    let dashboard = Dashboard {
        executor,
        activity,
        hosts,
        auth: BearerAuth::with_tokens(tokens, REFUSAL),
        shutdown,
        logins: Default::default(),
    };
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/app.js", get(script))
        .route("/dashboard/app.css", get(style))
        .route("/dashboard/login", post(sign_in))
        .route("/dashboard/logout", post(sign_out))
        .route("/events", get(events))
        .layer(middleware::from_fn_with_state(dashboard.clone(), gate))
        .layer(map_response(harden))
        // Only a sign-in form is ever posted here.
        .layer(DefaultBodyLimit::max(4096))
        .with_state(dashboard)
}

async fn gate(State(dashboard): State<Dashboard>, request: Request, next: Next) -> Response {
    if let Err(refused) = dashboard.hosts.check(request.headers()) {
        return refused.into_response();
    }
    let path = request.uri().path();
    if PUBLIC.contains(&path) || dashboard.authorized(request.headers()) {
        return next.run(request).await;
    }
    if path == "/dashboard" && request.method() == Method::GET {
        let failed = request.uri().query() == Some("signin=failed");
        return login_page(StatusCode::UNAUTHORIZED, failed);
    }
    dashboard.auth.refusal().into_response()
}

async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        // Not no-referrer: with it Chromium posts the sign-in form with
        // `Origin: null`, which the Origin check rightly refuses.
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn login_page(status: StatusCode, failed: bool) -> Response {
    let page = if failed {
        LOGIN_PAGE.replace(
            "<!--error-->",
            "<p class=\"error\" role=\"alert\">Wrong token.</p>",
        )
    } else {
        LOGIN_PAGE.to_owned()
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// Back to the page, relative so a reverse proxy's path prefix survives (and
/// the page's own relative links keep working).
fn to_page(location: &'static str) -> [(header::HeaderName, HeaderValue); 1] {
    [(header::LOCATION, HeaderValue::from_static(location))]
}

/// A wrong token is answered this late, to slow down guessing.
const WRONG_TOKEN_DELAY: Duration = Duration::from_millis(500);

#[derive(serde::Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    tls: Option<axum::Extension<browserfarm_http::OverTls>>,
    Form(form): Form<SignIn>,
) -> Response {
    if !dashboard.auth.is_required() {
        return (StatusCode::SEE_OTHER, to_page("../dashboard")).into_response();
    }
    if !dashboard.auth.accepts(&form.token) {
        tracing::warn!("dashboard sign-in with a wrong token");
        tokio::time::sleep(WRONG_TOKEN_DELAY).await;
        return (StatusCode::SEE_OTHER, to_page("../dashboard?signin=failed")).into_response();
    }
    let id = dashboard.logins.issue();
    (
        StatusCode::SEE_OTHER,
        to_page("../dashboard"),
        [(
            header::SET_COOKIE,
            login::set_cookie(&id, &headers, tls.is_some()),
        )],
    )
        .into_response()
}

async fn sign_out(State(dashboard): State<Dashboard>, headers: HeaderMap) -> Response {
    dashboard.logins.revoke(&headers);
    (
        StatusCode::SEE_OTHER,
        to_page("../dashboard"),
        [(header::SET_COOKIE, login::clear_cookie())],
    )
        .into_response()
}

async fn snapshot(dashboard: &Dashboard) -> Snapshot {
    let farm = dashboard.executor.status().await;
    let (recent, calls) = dashboard.activity.recent();
    Snapshot {
        totals: Totals {
            calls_ok: calls.ok,
            calls_failed: calls.failed,
            sessions: farm.sessions,
            nodes: farm.nodes.len(),
            nodes_up: farm.nodes.iter().filter(|n| n.state == "up").count(),
        },
        farm,
        recent,
        auth: dashboard.auth.is_required(),
        version: env!("CARGO_PKG_VERSION"),
    }
}

struct EventStream {
    dashboard: Dashboard,
    changes: tokio::sync::watch::Receiver<u64>,
    last: Option<(Snapshot, tokio::time::Instant)>,
}

/// A `snapshot` event at once, then whenever the snapshot changes (within
/// [`POLL`], or [`COALESCE`] after a tool call) and every [`RESEND`] regardless.
/// Ends when the server shuts down, so graceful shutdown does not wait on it.
async fn events(
    State(dashboard): State<Dashboard>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let state = EventStream {
        changes: dashboard.activity.subscribe(),
        dashboard,
        last: None,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        loop {
            if state.last.is_some() {
                let shutdown = state.dashboard.shutdown.clone();
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    changed = state.changes.changed() => {
                        // Err (no sender) cannot happen while the dashboard holds
                        // the activity; wait anyway rather than spin.
                        tokio::time::sleep(if changed.is_ok() { COALESCE } else { POLL }).await;
                    }
                    () = tokio::time::sleep(POLL) => {}
                }
                if state.dashboard.shutdown.is_cancelled() {
                    return None;
                }
            }
            let now = tokio::time::Instant::now();
            let snapshot = snapshot(&state.dashboard).await;
            let due = match &state.last {
                None => true,
                Some((last, sent)) => *last != snapshot || now - *sent >= RESEND,
            };
            if !due {
                continue;
            }
            let mut event = Event::default().event("snapshot");
            if state.last.is_none() {
                event = event.retry(RETRY);
            }
            let event = event
                .json_data(&snapshot)
                .unwrap_or_else(|_| Event::default().comment("snapshot not serialisable"));
            state.last = Some((snapshot, now));
            return Some((Ok(event), state));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

#[cfg(test)]
mod tests;

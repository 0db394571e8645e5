//! The `/v1` routes, `/health` and `/metrics`. Handlers are small: the bearer
//! token is a layer over every route ([`BearerAuth`]), admission is one call, and
//! a failure is an [`HttpError`], whose status follows from its kind in one place.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use browserfarm_gateway::{Executor, SessionScope};
use browserfarm_http::{BearerAuth, HttpError, metrics_response};
use browserfarm_protocol::{ErrorKind, Health, Job, JobError, SessionId, SessionOpened};

use crate::Node;

/// Largest request body accepted (a job is a few hundred bytes).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What a caller without the node's token is told.
const REFUSAL: &str = "missing or wrong bearer token for this node; check the gateway's --token / \
     BROWSERFARM_TOKEN against the agent's";

pub(crate) fn router(node: Arc<Node>) -> Router {
    // `/health` and `/metrics` too: they reveal capacity.
    let auth = match &node.config.tokens {
        Some(tokens) => BearerAuth::with_tokens(tokens.clone(), REFUSAL),
        None => BearerAuth::new(node.config.token.as_deref(), REFUSAL),
    };
    Router::new()
        .route("/v1/sessions", post(open_session))
        .route("/v1/sessions/{id}", delete(close_session))
        .route("/v1/jobs", post(run_job))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(auth)
        .with_state(node)
}

fn busy(node: &Node) -> JobError {
    JobError::new(
        ErrorKind::Busy,
        format!(
            "node is full ({} running, {} queued); try another node",
            node.admission.in_flight(),
            node.admission.queued()
        ),
    )
}

fn draining() -> JobError {
    JobError::new(ErrorKind::Busy, "node is shutting down; try another node")
}

/// Refuse at once, rather than let the call wait for the acquire timeout, and
/// let the gateway place it elsewhere: a new session when the pool holds all the
/// sessions it can; a one-off job when sessions occupy every process (a one-off
/// job needs a process of its own). Browsers leased briefly (a running one-off
/// job, the wipe after one) are not counted: admission bounds those, and a job
/// waits a moment for them rather than being bounced.
fn no_room_for_sessions(node: &Node) -> bool {
    node.executor.sessions_free() == 0
}

fn no_room_for_one_off_jobs(node: &Node) -> bool {
    node.executor.pool().sessions().processes >= node.executor.pool().status().max
}

async fn open_session(State(node): State<Arc<Node>>) -> Result<Response, HttpError> {
    if node.draining.load(Ordering::Acquire) {
        return Err(draining().into());
    }
    if no_room_for_sessions(&node) {
        return Err(busy(&node).into());
    }
    let session = node
        .executor
        .open_session(
            &Default::default(),
            &Default::default(),
            SessionScope::Connection,
        )
        .await?;
    node.sessions.track(&session, node.config.session_ttl);
    let instance = Some(node.executor.instance().to_owned());
    Ok((
        StatusCode::CREATED,
        Json(SessionOpened { session, instance }),
    )
        .into_response())
}

async fn close_session(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    let id = SessionId(id);
    node.sessions.forget(&id);
    node.executor.close_session(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn run_job(
    State(node): State<Arc<Node>>,
    Json(job): Json<Job>,
) -> Result<Response, HttpError> {
    if node.draining.load(Ordering::Acquire) {
        return Err(draining().into());
    }
    if job.session.is_none() && no_room_for_one_off_jobs(&node) {
        return Err(busy(&node).into());
    }
    let Some(_slot) = node.admission.admit().await else {
        return Err(busy(&node).into());
    };
    if let Some(id) = &job.session {
        node.sessions.touch(id);
    }
    let op = job.operation.name();
    match tokio::time::timeout(node.config.job_timeout, node.executor.run(job)).await {
        Ok(output) => Ok(Json(output?).into_response()),
        Err(_) => {
            tracing::warn!(op, "job overran the node's job deadline");
            // Not the 422 of a page that timed out: the node itself overran, which
            // the gateway counts against it.
            Err(HttpError::new(
                ErrorKind::Timeout,
                format!(
                    "the job did not finish within {:?} on this node",
                    node.config.job_timeout
                ),
            )
            .with_status(StatusCode::GATEWAY_TIMEOUT))
        }
    }
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    match &node.config.metrics {
        Some(exposition) => {
            browserfarm_metrics::queue_depth(node.admission.queued());
            metrics_response(exposition).await
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The pool's health (sessions, browsers, memory) with this node's status and
/// admission in place of the pool's own.
async fn health(State(node): State<Arc<Node>>) -> Json<Health> {
    let status = if node.draining.load(Ordering::Acquire) {
        "draining"
    } else {
        "ok"
    };
    Json(Health {
        status: status.to_owned(),
        capacity: node.admission.capacity(),
        in_flight: node.admission.in_flight(),
        queued: node.admission.queued(),
        max_queue: node.admission.max_queue(),
        uptime_secs: node.started.elapsed().as_secs(),
        ..node.executor.health(node.config.tags.clone())
    })
}

//! The `/v1` routes, `/health` and `/metrics`. Handlers are small: auth and admission are
//! layers or one call, errors become responses in one place ([`error_response`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router, middleware};
use browserfarm_gateway::{Executor, metrics};
use browserfarm_protocol::{ErrorKind, Health, Job, JobError, SessionId, SessionOpened};

use crate::Node;
use crate::auth::require_token;

/// Largest request body accepted (a job is a few hundred bytes).
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub(crate) fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/v1/sessions", post(open_session))
        .route("/v1/sessions/{id}", delete(close_session))
        .route("/v1/jobs", post(run_job))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(node.clone(), require_token))
        .with_state(node)
}

/// The HTTP status for a failure, chosen so the gateway knows what to do: 4xx the
/// caller's problem, 422 the job ran and failed, 429 go elsewhere, 5xx node trouble.
fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidArgument | ErrorKind::UrlRefused => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::SessionNotFound => StatusCode::NOT_FOUND,
        ErrorKind::Busy => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::NodeFailed => StatusCode::BAD_GATEWAY,
        // A job that hit an unexpected Chromium reply still ran on a working node:
        // 5xx would count against the node's breaker and move its sessions.
        ErrorKind::Internal
        | ErrorKind::Navigation
        | ErrorKind::Timeout
        | ErrorKind::ElementNotFound
        | ErrorKind::Script
        | ErrorKind::BrowserCrashed
        | ErrorKind::PageCrashed => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub(crate) fn error_response(error: &JobError) -> Response {
    let status = status_for(error.kind);
    let mut response = (status, Json(error)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
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

/// Sessions hold every browser (one each, for their whole life): a new session
/// or one-shot job would only wait for the acquire timeout, so refuse at once and
/// let the gateway place it elsewhere. Browsers leased briefly (a running job, the
/// wipe after a one-shot job) are not counted: admission bounds those, and a job
/// waits a moment for them rather than being bounced.
fn all_browsers_taken(node: &Node) -> bool {
    node.sessions.count() >= node.executor.pool().status().max
}

async fn open_session(State(node): State<Arc<Node>>) -> Response {
    if node.draining.load(Ordering::Acquire) {
        return error_response(&draining());
    }
    if all_browsers_taken(&node) {
        return error_response(&busy(&node));
    }
    match node.executor.open_session(&Default::default()).await {
        Ok(session) => {
            node.sessions.touch(&session);
            (StatusCode::CREATED, Json(SessionOpened { session })).into_response()
        }
        Err(e) => error_response(&e),
    }
}

async fn close_session(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Response {
    let id = SessionId(id);
    node.sessions.forget(&id);
    match node.executor.close_session(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(&e),
    }
}

async fn run_job(State(node): State<Arc<Node>>, Json(job): Json<Job>) -> Response {
    if node.draining.load(Ordering::Acquire) {
        return error_response(&draining());
    }
    if job.session.is_none() && all_browsers_taken(&node) {
        return error_response(&busy(&node));
    }
    let Some(_slot) = node.admission.admit().await else {
        return error_response(&busy(&node));
    };
    if let Some(id) = &job.session {
        node.sessions.touch(id);
    }
    let op = job.operation.name();
    match tokio::time::timeout(node.config.job_timeout, node.executor.run(job)).await {
        Ok(Ok(output)) => Json(output).into_response(),
        Ok(Err(e)) => error_response(&e),
        Err(_) => {
            tracing::warn!(op, "job overran the node's job deadline");
            let e = JobError::new(
                ErrorKind::Timeout,
                format!(
                    "the job did not finish within {:?} on this node",
                    node.config.job_timeout
                ),
            );
            (StatusCode::GATEWAY_TIMEOUT, Json(e)).into_response()
        }
    }
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    match &node.config.metrics {
        Some(exposition) => {
            metrics::queue_depth(node.admission.queued());
            exposition.response().await
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn health(State(node): State<Arc<Node>>) -> Json<Health> {
    let pool = node.executor.pool().status();
    let status = if node.draining.load(Ordering::Acquire) {
        "draining"
    } else {
        "ok"
    };
    Json(Health {
        status: status.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        tags: node.config.tags.clone(),
        capacity: node.admission.capacity(),
        in_flight: node.admission.in_flight(),
        queued: node.admission.queued(),
        max_queue: node.admission.max_queue(),
        browsers_active: pool.running - pool.idle,
        browsers_idle: pool.idle,
        sessions: node.sessions.count(),
        uptime_secs: node.started.elapsed().as_secs(),
    })
}

//! The gateway's registry API, where agents started with `--register-with`
//! announce themselves and send heartbeats:
//!
//! - `POST /v1/nodes` with a [`Registration`] → 200 `{"registered": true|false}`
//!   (true the first time; later posts are heartbeats)
//! - `DELETE /v1/nodes` with the same body → 204, or 404 if unknown
//! - `GET /v1/farm` → the [`browserfarm_protocol::FarmStatus`] of every node
//!
//! Bearer token as on agents: when the gateway has one, every request needs it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use browserfarm_protocol::{ErrorKind, JobError, Registration};

use crate::{Executor, FarmExecutor};

/// Whether the request carries `Authorization: Bearer <expected>`, compared in
/// constant time so response timing leaks nothing about the token.
pub fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes())
}

#[derive(Clone)]
struct Registry {
    farm: Arc<FarmExecutor>,
    token: Option<Arc<str>>,
}

pub fn registry_router(farm: Arc<FarmExecutor>, token: Option<String>) -> Router {
    let state = Registry {
        farm,
        token: token.map(Arc::from),
    };
    Router::new()
        .route("/v1/nodes", post(register).delete(deregister))
        .route("/v1/farm", get(farm_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
}

fn error(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Response {
    (status, Json(JobError::new(kind, message))).into_response()
}

async fn require_token(State(registry): State<Registry>, request: Request, next: Next) -> Response {
    match &registry.token {
        Some(token) if !bearer_matches(request.headers(), token) => error(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Unauthorized,
            "missing or wrong bearer token for this gateway; the agent's --token must match \
             the gateway's",
        ),
        _ => next.run(request).await,
    }
}

async fn register(
    State(registry): State<Registry>,
    Json(registration): Json<Registration>,
) -> Response {
    match registry.farm.register(&registration).await {
        Ok(new) => Json(serde_json::json!({ "registered": new })).into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, ErrorKind::InvalidArgument, message),
    }
}

async fn deregister(
    State(registry): State<Registry>,
    Json(registration): Json<Registration>,
) -> Response {
    if registry.farm.deregister(&registration.url) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            ErrorKind::InvalidArgument,
            format!("no registered node at {}", registration.url),
        )
    }
}

async fn farm_status(State(registry): State<Registry>) -> Response {
    Json(registry.farm.status().await).into_response()
}

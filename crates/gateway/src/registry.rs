//! The gateway's registry API, where agents started with `--register-with`
//! announce themselves and send heartbeats:
//!
//! - `POST /v1/nodes` with a [`Registration`] → 200 `{"registered": true|false}`
//!   (true the first time; later posts are heartbeats)
//! - `DELETE /v1/nodes` with the same body → 204, or 404 if unknown
//! - `GET /v1/farm` → the [`browserfarm_protocol::FarmStatus`] of every node
//!
//! Bearer token as on agents ([`BearerAuth`]): when the gateway has one, every
//! request needs it. Failures are [`HttpError`]s, a `JobError` body as agents send.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, extract::State};
use browserfarm_http::{BearerAuth, HttpError};
use browserfarm_protocol::{ErrorKind, Registration};

use crate::{Executor, FarmExecutor};

const REFUSAL: &str = "missing or wrong bearer token for this gateway; the agent's --token must \
     match the gateway's";

pub fn registry_router(farm: Arc<FarmExecutor>, tokens: Arc<browserfarm_http::Tokens>) -> Router {
    Router::new()
        .route("/v1/nodes", post(register).delete(deregister))
        .route("/v1/farm", get(farm_status))
        .layer(BearerAuth::with_tokens(tokens, REFUSAL))
        .with_state(farm)
}

async fn register(
    State(farm): State<Arc<FarmExecutor>>,
    Json(registration): Json<Registration>,
) -> Result<Response, HttpError> {
    let new = farm
        .register(&registration)
        .await
        .map_err(|message| HttpError::new(ErrorKind::InvalidArgument, message))?;
    Ok(Json(serde_json::json!({ "registered": new })).into_response())
}

async fn deregister(
    State(farm): State<Arc<FarmExecutor>>,
    Json(registration): Json<Registration>,
) -> Result<StatusCode, HttpError> {
    if farm.deregister(&registration.url) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        // No kind names an unknown node: the request is wrong, and 404 says why.
        Err(HttpError::new(
            ErrorKind::InvalidArgument,
            format!("no registered node at {}", registration.url),
        )
        .with_status(StatusCode::NOT_FOUND))
    }
}

async fn farm_status(State(farm): State<Arc<FarmExecutor>>) -> Response {
    Json(farm.status().await).into_response()
}

//! Bearer-token check, as a middleware layer. Tokens are compared in constant time
//! and never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use browserfarm_protocol::{ErrorKind, JobError};

use crate::Node;
use crate::routes::error_response;

pub(crate) async fn require_token(
    State(node): State<Arc<Node>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = node.config.token.as_deref() else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        next.run(request).await
    } else {
        error_response(&JobError::new(
            ErrorKind::Unauthorized,
            "missing or wrong bearer token for this node; check the gateway's --token / \
             BROWSERFARM_TOKEN against the agent's",
        ))
    }
}

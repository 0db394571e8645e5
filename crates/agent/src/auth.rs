//! Bearer-token check, as a middleware layer. Tokens are compared in constant time
//! and never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use browserfarm_gateway::bearer_matches;
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
    if bearer_matches(request.headers(), expected) {
        next.run(request).await
    } else {
        error_response(&JobError::new(
            ErrorKind::Unauthorized,
            "missing or wrong bearer token for this node; check the gateway's --token / \
             BROWSERFARM_TOKEN against the agent's",
        ))
    }
}

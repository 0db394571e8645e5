//! The one error response of every listener: a [`JobError`] as JSON
//! (`{"kind": …, "message": …}`, which the gateway parses back from agents), with
//! the HTTP status its [`ErrorKind`] calls for.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use browserfarm_protocol::{ErrorKind, JobError};

/// A failure on its way to becoming a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct HttpError {
    status: StatusCode,
    error: JobError,
}

impl HttpError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> HttpError {
        JobError::new(kind, message).into()
    }

    /// Answers with `status` rather than the kind's, for the few responses no kind
    /// names (a refused Host or Origin is 403, an agent's job overrunning the
    /// node's deadline 504).
    pub fn with_status(mut self, status: StatusCode) -> HttpError {
        self.status = status;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn error(&self) -> &JobError {
        &self.error
    }
}

impl From<JobError> for HttpError {
    fn from(error: JobError) -> HttpError {
        HttpError {
            status: status_for(error.kind),
            error,
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.error)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            // Full now, likely free in a moment (a job takes seconds).
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn parts(error: HttpError) -> (StatusCode, Option<HeaderValue>, JobError) {
        let response = error.into_response();
        let status = response.status();
        let retry = response.headers().get(header::RETRY_AFTER).cloned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn the_body_is_the_job_error_and_the_status_follows_its_kind() {
        let (status, retry, body) = parts(JobError::new(ErrorKind::Script, "threw").into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(retry, None);
        assert_eq!(body, JobError::new(ErrorKind::Script, "threw"));
    }

    #[tokio::test]
    async fn busy_asks_to_retry_after_a_second() {
        let (status, retry, _) = parts(HttpError::new(ErrorKind::Busy, "full")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry, Some(HeaderValue::from_static("1")));
    }

    #[tokio::test]
    async fn an_explicit_status_keeps_the_kind_in_the_body() {
        let error =
            HttpError::new(ErrorKind::Timeout, "late").with_status(StatusCode::GATEWAY_TIMEOUT);
        let (status, _, body) = parts(error).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(body.kind, ErrorKind::Timeout);
    }
}

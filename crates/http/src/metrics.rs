//! The `/metrics` route: the Prometheus text of an [`Exposition`], for a
//! listener of its own (stdio mode's `--metrics-listen`) or merged into another
//! (MCP over HTTP), behind the bearer token when one is set. Prometheus scrapes
//! by address, so the route checks the token only, never `Host`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use browserfarm_metrics::{Exposition, TEXT_FORMAT};

use crate::BearerAuth;

const REFUSAL: &str = "missing or wrong bearer token for /metrics";

/// A router serving only `GET /metrics`, behind `tokens` when any is set.
pub fn metrics_router(exposition: Arc<Exposition>, tokens: Arc<crate::Tokens>) -> Router {
    Router::new()
        .route("/metrics", get(serve))
        .layer(BearerAuth::with_tokens(tokens, REFUSAL))
        .with_state(exposition)
}

async fn serve(State(exposition): State<Arc<Exposition>>) -> Response {
    metrics_response(&exposition).await
}

/// The `/metrics` response: the sampled and rendered series, in the text format.
pub async fn metrics_response(exposition: &Exposition) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        exposition.render().await,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::StatusCode;
    use browserfarm_metrics::tool_call;
    use browserfarm_protocol::{ErrorKind, JobError};
    use metrics_exporter_prometheus::PrometheusBuilder;
    use tower::ServiceExt;

    fn exposition() -> Arc<Exposition> {
        // A local recorder: the global one is the binary's to install.
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            tool_call("scrape", None, Duration::from_millis(30));
            tool_call("scrape", Some(ErrorKind::Timeout), Duration::from_secs(1));
        });
        Arc::new(Exposition::new(handle))
    }

    async fn get(app: Router, token: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::get("/metrics");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn tool_calls_are_counted_by_tool_and_status() {
        let (status, text) = get(
            metrics_router(exposition(), crate::Tokens::fixed(None)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            text.contains(r#"browserfarm_tool_calls_total{tool="scrape",status="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"browserfarm_errors_total{kind="timeout"} 1"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_token_guards_metrics_when_set() {
        let app = metrics_router(exposition(), crate::Tokens::fixed(Some("s3cret")));
        assert_eq!(get(app.clone(), None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            get(app.clone(), Some("wrong")).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(get(app, Some("s3cret")).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_refusal_is_a_job_error() {
        let app = metrics_router(exposition(), crate::Tokens::fixed(Some("s3cret")));
        let (_, body) = get(app, Some("wrong")).await;
        let error: JobError = serde_json::from_str(&body).unwrap();
        assert_eq!(error, JobError::new(ErrorKind::Unauthorized, REFUSAL));
    }
}

//! HTTP client for one agent node's `/v1` API, and the classification of what
//! went wrong: the breaker and the scheduler act on [`CallError`], not on HTTP.

use std::time::Duration;

use browserfarm_http::ClientTls;
use browserfarm_protocol::{ErrorKind, Health, Job, JobError, JobOutput, SessionId, SessionOpened};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

/// Why a node call did not produce a result.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The node worked and said no: the job failed on the page, the request was
    /// bad, or the session is unknown. Return it; do not retry elsewhere.
    Rejected(JobError),
    /// The node is full (429) or draining: go elsewhere, not a breaker failure.
    Busy(JobError),
    /// Wrong or missing token (401): a configuration error, not node health.
    Unauthorized(JobError),
    /// Connection error, timeout or 5xx: counts against the node's breaker.
    Failed(String),
    /// Not sent: the node's breaker is open after failures of its own. A
    /// stateless job goes elsewhere; a session living there moves.
    CutOff(String),
}

impl CallError {
    pub fn message(&self) -> &str {
        match self {
            CallError::Rejected(e) | CallError::Busy(e) | CallError::Unauthorized(e) => &e.message,
            CallError::Failed(m) | CallError::CutOff(m) => m,
        }
    }
}

/// Deadline for `POST /v1/sessions`: covers a Chromium launch on a slow node.
const SESSION_OPEN_TIMEOUT: Duration = Duration::from_secs(30);

pub struct NodeClient {
    /// The node's URL as configured: its identity.
    base: String,
    /// Where requests go: `base`, or with a TLS server name, that name (which
    /// the client resolves to `base`'s address).
    target: String,
    token: browserfarm_http::Presented,
    http: reqwest::Client,
    job_timeout: Duration,
    control_timeout: Duration,
}

impl NodeClient {
    /// A client for the node at `base`. With `server_name`, `base` must be
    /// `https://IP:PORT`: the connection goes to that address and the node's
    /// certificate is checked for `server_name` (sent as SNI), as for pods
    /// behind one Service name whose certificates carry that name, not their
    /// pod addresses.
    pub fn new(
        base: &str,
        server_name: Option<&str>,
        token: browserfarm_http::Presented,
        job_timeout: Duration,
        tls: &ClientTls,
    ) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "node URL '{base}' must start with http:// or https://"
            ));
        }
        let mut builder = tls
            .reqwest()
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(60));
        let mut target = base.clone();
        if let Some(name) = server_name {
            let address = base
                .strip_prefix("https://")
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .ok_or_else(|| {
                    format!(
                        "a TLS server name ({name}) needs a node URL https://IP:PORT, not '{base}'"
                    )
                })?;
            builder = builder.resolve(name, address);
            target = format!("https://{name}:{}", address.port());
        }
        let http = builder.build().map_err(|e| e.to_string())?;
        Ok(NodeClient {
            base,
            target,
            token,
            http,
            job_timeout,
            control_timeout: Duration::from_secs(5),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.target))
            .timeout(timeout);
        if let Some(token) = self.token.get() {
            req = req.bearer_auth(token);
        }
        req
    }

    pub async fn health(&self) -> Result<Health, CallError> {
        let req = self.request(reqwest::Method::GET, "/health", self.control_timeout);
        send(req).await
    }

    pub async fn open_session(&self) -> Result<SessionOpened, CallError> {
        // Opening a session may start a Chromium on the node (seconds on a Pi).
        let req = self.request(reqwest::Method::POST, "/v1/sessions", SESSION_OPEN_TIMEOUT);
        send::<SessionOpened>(req).await
    }

    pub async fn close_session(&self, id: &SessionId) -> Result<(), CallError> {
        let path = format!("/v1/sessions/{id}");
        let req = self.request(reqwest::Method::DELETE, &path, self.control_timeout);
        match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(classify_status(r.status(), r.json::<JobError>().await.ok())),
            Err(e) => Err(CallError::Failed(describe(&e))),
        }
    }

    pub async fn run(&self, job: &Job) -> Result<JobOutput, CallError> {
        let req = self
            .request(reqwest::Method::POST, "/v1/jobs", self.job_timeout)
            .json(job);
        send(req).await
    }
}

async fn send<T: DeserializeOwned>(req: reqwest::RequestBuilder) -> Result<T, CallError> {
    let response = req
        .send()
        .await
        .map_err(|e| CallError::Failed(describe(&e)))?;
    let status = response.status();
    if status.is_success() {
        return response
            .json::<T>()
            .await
            .map_err(|e| CallError::Failed(format!("unreadable reply: {e}")));
    }
    let body = response.json::<JobError>().await.ok();
    Err(classify_status(status, body))
}

fn classify_status(status: StatusCode, body: Option<JobError>) -> CallError {
    let error = body.unwrap_or_else(|| {
        JobError::new(
            ErrorKind::NodeFailed,
            format!("node answered HTTP {status}"),
        )
    });
    match status {
        StatusCode::TOO_MANY_REQUESTS => CallError::Busy(error),
        StatusCode::UNAUTHORIZED => CallError::Unauthorized(error),
        s if s.is_server_error() && error.kind != ErrorKind::Unavailable => {
            CallError::Failed(format!("HTTP {status}: {}", error.message))
        }
        // 503 Unavailable: the node is healthy but has no browser to give.
        s if s.is_server_error() => CallError::Busy(error),
        _ => CallError::Rejected(error),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if let Some(tls) = browserfarm_http::describe_failure(e) {
        format!("TLS to the node failed: {tls}")
    } else if e.is_timeout() {
        "the node did not answer in time".to_owned()
    } else if e.is_connect() {
        "cannot connect to the node".to_owned()
    } else {
        format!("request to the node failed: {e}")
    }
}

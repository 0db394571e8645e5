//! Self-registration: with `--register-with`, the agent announces itself to the
//! gateway's registry and repeats the announcement as a heartbeat; the gateway
//! takes it offline after three missed beats. On shutdown it deregisters first,
//! so the gateway stops sending work before the node drains.

use std::time::Duration;

use browserfarm_protocol::Registration;
use tokio_util::sync::CancellationToken;

/// Where and how to register (`--register-with`, `--advertise`, `--heartbeat-secs`).
#[derive(Debug, Clone)]
pub struct Registrar {
    /// The gateway registry's base URL, e.g. `http://10.0.0.2:9300`.
    pub gateway: String,
    /// What the gateway should call this node at.
    pub advertise: String,
    pub token: Option<String>,
    pub heartbeat: Duration,
    pub weight: Option<f64>,
}

impl Registrar {
    fn body(&self) -> Registration {
        Registration {
            url: self.advertise.clone(),
            heartbeat_secs: self.heartbeat.as_secs().max(1),
            weight: self.weight,
        }
    }

    fn request(&self, http: &reqwest::Client, method: reqwest::Method) -> reqwest::RequestBuilder {
        let url = format!("{}/v1/nodes", self.gateway.trim_end_matches('/'));
        let mut req = http
            .request(method, url)
            .timeout(Duration::from_secs(5))
            .json(&self.body());
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    /// Beats until `stop`, then deregisters (bounded by the request timeout).
    pub async fn run(self, stop: CancellationToken) {
        let http = reqwest::Client::new();
        let mut registered = None;
        loop {
            let outcome = match self.request(&http, reqwest::Method::POST).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    Err(format!("gateway answered {status}: {body}"))
                }
                Err(e) => Err(e.to_string()),
            };
            // Log state changes only: a heartbeat every few seconds is not news.
            match (&outcome, registered) {
                (Ok(()), Some(true)) => {}
                (Ok(()), _) => {
                    tracing::info!(gateway = %self.gateway, advertise = %self.advertise, "registered with the gateway");
                }
                (Err(e), Some(false)) => tracing::debug!(error = %e, "heartbeat failed"),
                (Err(e), _) => {
                    tracing::warn!(gateway = %self.gateway, error = %e, "cannot register with the gateway; retrying");
                }
            }
            registered = Some(outcome.is_ok());
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.heartbeat) => {}
            }
        }
        if registered == Some(true) {
            let _ = self.request(&http, reqwest::Method::DELETE).send().await;
            tracing::info!(gateway = %self.gateway, "deregistered from the gateway");
        }
    }
}

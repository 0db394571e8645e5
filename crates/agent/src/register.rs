//! Self-registration: with `--register-with`, the agent announces itself to the
//! gateway's registry and repeats the announcement as a heartbeat; the gateway
//! takes it offline after three missed beats. On shutdown it deregisters first,
//! so the gateway stops sending work before the node drains.
//!
//! With several gateways (replicas of one farm, each with its own registry) there
//! is one [`Registrar`] per gateway, each beating on its own: a gateway that is
//! down or hangs delays only its own heartbeats, never the others'.
//!
//! Each heartbeat carries the node's [`Resources`] (free session slots, memory,
//! CPU load), so gateways place by them between health checks. A gateway built
//! before that field existed refuses it as unknown; the registrar then beats
//! without it to that gateway, which still polls `/health` for the figures.

use std::sync::Arc;
use std::time::Duration;

use browserfarm_protocol::{Registration, Resources};
use tokio_util::sync::CancellationToken;

/// The node's figures as of now, read for each heartbeat.
pub(crate) type Figures = Arc<dyn Fn() -> Resources + Send + Sync>;

/// Where and how to register with one gateway (one `--register-with`, and
/// `--advertise`, `--heartbeat-secs`).
#[derive(Debug, Clone)]
pub struct Registrar {
    /// The gateway registry's base URL, e.g. `http://10.0.0.2:9300`.
    pub gateway: String,
    /// What the gateway should call this node at.
    pub advertise: String,
    /// Re-read from `--token-file` as it changes.
    pub token: browserfarm_http::Presented,
    pub heartbeat: Duration,
    pub weight: Option<f64>,
    /// How an `https://` gateway is reached.
    pub tls: browserfarm_http::ClientTls,
}

/// Why a heartbeat did not register.
enum Refusal {
    /// The gateway does not know a field of the heartbeat (one built before
    /// it existed): send the heartbeat without it.
    UnknownField(String),
    Other(String),
}

impl Registrar {
    fn body(&self, resources: Option<Resources>) -> Registration {
        Registration {
            url: self.advertise.clone(),
            heartbeat_secs: self.heartbeat.as_secs().max(1),
            weight: self.weight,
            resources,
        }
    }

    fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        resources: Option<Resources>,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}/v1/nodes", self.gateway.trim_end_matches('/'));
        let mut req = http
            .request(method, url)
            .timeout(Duration::from_secs(5))
            .json(&self.body(resources));
        if let Some(token) = self.token.get() {
            req = req.bearer_auth(token);
        }
        req
    }

    async fn beat(
        &self,
        http: &reqwest::Client,
        resources: Option<Resources>,
    ) -> Result<(), Refusal> {
        let response = self
            .request(http, reqwest::Method::POST, resources)
            .send()
            .await
            .map_err(|e| Refusal::Other(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let message = format!("gateway answered {status}: {body}");
        // serde's words for a `deny_unknown_fields` type, in axum's rejection.
        if status.is_client_error() && body.contains("unknown field") {
            Err(Refusal::UnknownField(message))
        } else {
            Err(Refusal::Other(message))
        }
    }

    /// Beats until `stop`, then deregisters (bounded by the request timeout).
    /// Each heartbeat carries `figures()` while the gateway takes them.
    pub(crate) async fn run(self, figures: Figures, stop: CancellationToken) {
        let http = match self.tls.reqwest().and_then(|b| {
            b.build()
                .map_err(|e| browserfarm_http::TlsError::Config(e.to_string()))
        }) {
            Ok(http) => http,
            Err(e) => {
                tracing::error!(gateway = %self.gateway, error = %e, "cannot set up TLS to the gateway; not registering");
                return;
            }
        };
        let mut registered = None;
        let mut with_resources = true;
        loop {
            let outcome = match self.beat(&http, with_resources.then(|| figures())).await {
                Err(Refusal::UnknownField(e)) if with_resources => {
                    tracing::info!(gateway = %self.gateway, answer = %e, "the gateway predates resource figures in heartbeats; beating without them (it still reads /health)");
                    with_resources = false;
                    self.beat(&http, None).await
                }
                outcome => outcome,
            }
            .map_err(|(Refusal::UnknownField(e) | Refusal::Other(e))| e);
            // Log state changes only: a heartbeat every few seconds is not news.
            match (&outcome, registered) {
                (Ok(()), Some(true)) => {}
                (Ok(()), _) => {
                    tracing::info!(gateway = %self.gateway, advertise = %self.advertise, "registered with the gateway");
                }
                (Err(e), Some(false)) => {
                    tracing::debug!(gateway = %self.gateway, error = %e, "heartbeat failed");
                }
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
            let _ = self
                .request(&http, reqwest::Method::DELETE, None)
                .send()
                .await;
            tracing::info!(gateway = %self.gateway, "deregistered from the gateway");
        }
    }
}

/// Runs every registrar at once, each in its own task, until `stop`; returns
/// when each has deregistered (or given up).
pub(crate) async fn run_each(
    registrars: Vec<Registrar>,
    figures: Figures,
    stop: CancellationToken,
) {
    let mut beating = tokio::task::JoinSet::new();
    for registrar in registrars {
        beating.spawn(registrar.run(figures.clone(), stop.clone()));
    }
    while beating.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::routing::post;

    use super::*;

    /// Registrations and deregistrations a fake gateway registry received.
    #[derive(Default)]
    struct Seen {
        beats: AtomicUsize,
        goodbyes: AtomicUsize,
    }

    /// A registry on a loopback port that answers every call.
    async fn registry() -> (String, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let (on_post, on_delete) = (seen.clone(), seen.clone());
        let app = Router::new().route(
            "/v1/nodes",
            post(move || async move {
                on_post.beats.fetch_add(1, Ordering::SeqCst);
            })
            .delete(move || async move {
                on_delete.goodbyes.fetch_add(1, Ordering::SeqCst);
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    fn registrar(gateway: &str) -> Registrar {
        Registrar {
            gateway: gateway.to_owned(),
            advertise: "http://127.0.0.1:9301".to_owned(),
            token: Default::default(),
            heartbeat: Duration::from_millis(50),
            weight: None,
            tls: Default::default(),
        }
    }

    fn figures() -> Figures {
        Arc::new(|| Resources {
            sessions: 3,
            sessions_free: Some(61),
            memory_pressure: Some(true),
            ..Default::default()
        })
    }

    async fn until(what: &str, done: impl Fn() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{what} never happened");
    }

    #[tokio::test]
    async fn a_hung_gateway_does_not_hold_up_heartbeats_to_the_others() {
        let (a, seen_a) = registry().await;
        let (b, seen_b) = registry().await;
        // Accepts connections (the kernel does) but never answers: each heartbeat
        // to it waits out the request timeout.
        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hung = format!("http://{}", hung.local_addr().unwrap());
        let stop = CancellationToken::new();
        let running = tokio::spawn(run_each(
            vec![registrar(&hung), registrar(&a), registrar(&b)],
            figures(),
            stop.clone(),
        ));
        // Ten beats each at 50 ms, well within the hung gateway's first timeout.
        until("ten heartbeats to each answering gateway", || {
            seen_a.beats.load(Ordering::SeqCst) >= 10 && seen_b.beats.load(Ordering::SeqCst) >= 10
        })
        .await;
        stop.cancel();
        until("a goodbye to each answering gateway", || {
            seen_a.goodbyes.load(Ordering::SeqCst) == 1
                && seen_b.goodbyes.load(Ordering::SeqCst) == 1
        })
        .await;
        // The hung gateway's heartbeat still waits out its timeout; not this test's.
        running.abort();
    }

    /// The heartbeat a gateway built before `resources` took: it refused
    /// unknown fields.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct OlderRegistration {
        url: String,
        heartbeat_secs: u64,
        weight: Option<f64>,
    }

    #[tokio::test]
    async fn heartbeats_carry_the_figures_and_fall_back_for_a_gateway_that_refuses_them() {
        let current: Arc<std::sync::Mutex<Vec<Registration>>> = Default::default();
        let older = Arc::new(AtomicUsize::new(0));
        let (seen_current, seen_older) = (current.clone(), older.clone());
        let app = Router::new()
            .route(
                "/current/v1/nodes",
                post(move |axum::Json(r): axum::Json<Registration>| async move {
                    seen_current.lock().unwrap().push(r);
                }),
            )
            .route(
                "/older/v1/nodes",
                post(
                    move |axum::Json(_): axum::Json<OlderRegistration>| async move {
                        seen_older.fetch_add(1, Ordering::SeqCst);
                    },
                ),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });

        let stop = CancellationToken::new();
        let running = tokio::spawn(run_each(
            vec![
                registrar(&format!("{base}/current")),
                registrar(&format!("{base}/older")),
            ],
            figures(),
            stop.clone(),
        ));
        until("five heartbeats to each gateway", || {
            current.lock().unwrap().len() >= 5 && older.load(Ordering::SeqCst) >= 5
        })
        .await;
        stop.cancel();
        running.await.unwrap();
        let beats = current.lock().unwrap();
        assert!(
            beats.iter().all(|b| b.resources.as_ref().is_some_and(|r| {
                r.sessions_free == Some(61) && r.memory_pressure == Some(true)
            })),
            "{beats:?}"
        );
    }
}

//! The server's host policy applied inside Chromium: every request a tab makes
//! (navigations, redirects, subresources, fetches) is paused with CDP `Fetch`,
//! its host checked against the allow/block lists and, after DNS resolution,
//! against the private ranges, then continued or failed (`BlockedByClient`).
//! Navigation tools also check their URL up front, for a clear error.
//!
//! Known limit: Chromium resolves the name again itself, so a DNS answer that
//! changes between the two lookups (rebinding with a tiny TTL) is not caught.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use browserfarm_protocol::{HostPolicy, JobError};

/// How long a host's verdict is reused.
const VERDICT_TTL: Duration = Duration::from_secs(30);
/// Deadline for resolving a host.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Verdicts kept; the cache is cleared when it grows past this.
const MAX_VERDICTS: usize = 4_096;

/// Host and port → when it was judged and the verdict.
type Verdicts = HashMap<(String, u16), (Instant, Result<(), JobError>)>;

/// A host policy and its recent verdicts (so a page's hundred requests to one
/// host cost one DNS lookup).
pub struct Gate {
    policy: HostPolicy,
    verdicts: Mutex<Verdicts>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("policy", &self.policy)
            .finish()
    }
}

impl Gate {
    pub fn new(policy: HostPolicy) -> Gate {
        Gate {
            policy,
            verdicts: Mutex::default(),
        }
    }

    pub fn policy(&self) -> &HostPolicy {
        &self.policy
    }

    /// Whether `url` may be requested. Schemes without a network host (data:,
    /// blob:, about:) pass; Chromium itself keeps pages off file: and chrome:.
    pub(crate) async fn check_url(&self, url: &str) -> Result<(), JobError> {
        let Ok(parsed) = url::Url::parse(url) else {
            return Ok(());
        };
        if !matches!(parsed.scheme(), "http" | "https" | "ws" | "wss") {
            return Ok(());
        }
        let Some(host) = parsed.host_str() else {
            return Ok(());
        };
        let port = parsed.port_or_known_default().unwrap_or(80);
        let key = (host.to_owned(), port);
        if let Some((at, verdict)) = self.lock().get(&key)
            && at.elapsed() < VERDICT_TTL
        {
            return verdict.clone();
        }
        let verdict = self.decide(host, port).await;
        let mut verdicts = self.lock();
        if verdicts.len() >= MAX_VERDICTS {
            verdicts.clear();
        }
        verdicts.insert(key, (Instant::now(), verdict.clone()));
        verdict
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Verdicts> {
        self.verdicts.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn decide(&self, host: &str, port: u16) -> Result<(), JobError> {
        self.policy.check_name(host)?;
        if !self.policy.block_private {
            return Ok(());
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, port)))
                    .await
                {
                    Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                    // Refuse what cannot be checked: Chromium might resolve it.
                    _ => {
                        return Err(JobError::new(
                            browserfarm_protocol::ErrorKind::UrlRefused,
                            format!(
                                "could not resolve {host} to check it against \
                                 --block-private-networks"
                            ),
                        ));
                    }
                }
            }
        };
        // `localhost` and `*.localhost` never leave the machine, whatever DNS says.
        if bare == "localhost" || bare.ends_with(".localhost") {
            return self
                .policy
                .check_address(host, IpAddr::from([127, 0, 0, 1]));
        }
        addresses
            .into_iter()
            .try_for_each(|ip| self.policy.check_address(host, ip))
    }
}

//! The server's host policy applied inside Chromium: every request a tab makes
//! (navigations, redirects, subresources, fetches) is paused with CDP `Fetch`,
//! its host checked against the allow/block lists and, after DNS resolution,
//! against the private ranges, then continued or failed (`BlockedByClient`).
//! Navigation tools also check their URL up front, for a clear error.
//!
//! `Fetch` alone cannot pin an address (Chromium resolves the name again itself)
//! nor pause a popup's first request, so the pool also puts Chromium behind
//! [`super::egress`], which connects only to addresses [`Gate::admit`] checked.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use browserfarm_protocol::{HostPolicy, JobError};

use super::blocklist::BlockList;

/// How long a host's verdict is reused.
const VERDICT_TTL: Duration = Duration::from_secs(30);
/// Deadline for resolving a host.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Verdicts kept; the cache is cleared when it grows past this.
const MAX_VERDICTS: usize = 4_096;

/// Host and port → when it was judged and the verdict.
type Verdicts = HashMap<(String, u16), (Instant, Result<(), JobError>)>;

/// Resolves a host and port to socket addresses (the system resolver unless
/// [`Gate::with_resolver`] says otherwise).
pub type Resolver =
    Arc<dyn Fn(String, u16) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> + Send + Sync>;

/// A host policy and its recent verdicts (so a page's hundred requests to one
/// host cost one DNS lookup).
pub struct Gate {
    policy: HostPolicy,
    verdicts: Mutex<Verdicts>,
    resolver: Resolver,
    /// Ad and tracker rules, checked before the host policy.
    block_list: Option<Arc<BlockList>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("policy", &self.policy)
            .field("block_list", &self.block_list)
            .finish()
    }
}

impl Gate {
    pub fn new(policy: HostPolicy) -> Gate {
        Gate {
            policy,
            verdicts: Mutex::default(),
            block_list: None,
            resolver: Arc::new(|host, port| {
                Box::pin(async move {
                    tokio::net::lookup_host((host.as_str(), port))
                        .await
                        .map(Iterator::collect)
                })
            }),
        }
    }

    /// Resolves names with `resolver` instead of the system's: for tests, and
    /// for embedders that resolve names their own way.
    pub fn with_resolver(mut self, resolver: Resolver) -> Gate {
        self.resolver = resolver;
        self
    }

    /// Also fails the requests `list` blocks (ads, trackers).
    pub fn with_block_list(mut self, list: Arc<BlockList>) -> Gate {
        self.block_list = Some(list);
        self
    }

    pub fn policy(&self) -> &HostPolicy {
        &self.policy
    }

    /// Whether any request can be refused: a host rule, or a block list.
    pub fn filters(&self) -> bool {
        self.policy.is_active() || self.block_list.is_some()
    }

    /// Whether the block list refuses a request for `url` of `kind` (an
    /// `adblock` request type) made by the page at `page_url`.
    pub(crate) fn blocks(&self, url: &str, page_url: &str, kind: &str) -> bool {
        self.block_list
            .as_ref()
            .is_some_and(|list| list.blocks(url, page_url, kind))
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
        self.resolve_checked(host, port).await.map(drop)
    }

    /// The addresses a connection to `host:port` may use: the name passes the
    /// host lists, and with private networks blocked every address it resolves
    /// to is public. Never cached: what this returns is what gets connected to.
    pub(crate) async fn admit(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, JobError> {
        self.policy.check_name(host)?;
        self.resolve_checked(host, port).await
    }

    async fn resolve_checked(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, JobError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        // `localhost` and `*.localhost` never leave the machine, whatever DNS says.
        if bare == "localhost" || bare.ends_with(".localhost") {
            self.policy
                .check_address(host, IpAddr::from([127, 0, 0, 1]))?;
        }
        let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => {
                let lookup = (self.resolver)(bare.to_owned(), port);
                match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                    Ok(Ok(found)) if !found.is_empty() => found,
                    // Refuse what cannot be checked: Chromium might resolve it.
                    _ => {
                        return Err(JobError::new(
                            browserfarm_protocol::ErrorKind::UrlRefused,
                            format!("could not resolve {host} to check it against the host policy"),
                        ));
                    }
                }
            }
        };
        for address in &addresses {
            self.policy.check_address(host, address.ip())?;
        }
        Ok(addresses)
    }
}

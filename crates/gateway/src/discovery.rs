//! Farm membership from DNS (`browserfarm mcp --nodes-dns HOST:PORT`): every
//! address the name resolves to is an agent node at `http://IP:PORT`. This is what
//! a Kubernetes headless Service publishes (one A/AAAA record per ready pod), and
//! works as well with any DNS server that lists a pool of hosts under one name.
//!
//! With `https://HOST:PORT` the nodes are `https://IP:PORT`, each reached at its
//! own address but with HOST as the TLS server name: the agents' certificates
//! carry the Service's name, which stays put, not pod addresses, which do not.
//!
//! Discovered nodes join and leave through the same door as self-registering
//! agents ([`FarmExecutor::register`] and [`FarmExecutor::deregister`]): every
//! resolution that still lists a node is its heartbeat. One membership system, so
//! breakers, health checks, `farm_status` and session moves treat both alike.
//!
//! A failed or slow lookup keeps the nodes already known: a DNS hiccup must not
//! empty a working farm. Nodes that really died are caught by their health checks
//! and breakers in the meantime.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use browserfarm_protocol::Registration;

use crate::FarmExecutor;

/// Why discovery could not produce a list of nodes.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "'{0}' is not HOST:PORT or https://HOST:PORT (e.g. agents.browserfarm.svc.cluster.local:9301)"
    )]
    BadName(String),
    #[error("cannot resolve {name}: {source}")]
    Resolve {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("resolving {name} took longer than {after:?}")]
    Timeout { name: String, after: Duration },
}

/// Where the addresses of the farm's nodes come from. DNS in production; tests
/// substitute a list they control.
#[async_trait]
pub trait AddressSource: Send + Sync + 'static {
    async fn addresses(&self) -> Result<Vec<SocketAddr>, DiscoveryError>;
    /// How to name the source in logs.
    fn describe(&self) -> String;
    /// The TLS server name the nodes' certificates carry: `Some` makes them
    /// `https://` nodes checked against it; `None`, plain `http://` nodes.
    fn tls_name(&self) -> Option<&str> {
        None
    }
}

/// A `HOST:PORT` whose addresses are the nodes, resolved with the system resolver
/// (tokio's `lookup_host`), which honours `/etc/hosts` and the search domains of
/// `/etc/resolv.conf` as every other program on the host does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsName {
    /// `host:port`, as the resolver takes it.
    target: String,
    /// The host, when the nodes speak TLS (`https://` given).
    tls_host: Option<String>,
}

impl DnsName {
    /// Accepts `host:port` and `[v6-literal]:port`, optionally after `http://`
    /// or `https://`; the port is required because DNS A/AAAA records carry none.
    pub fn parse(given: &str) -> Result<DnsName, DiscoveryError> {
        let given = given.trim();
        let bad = || DiscoveryError::BadName(given.to_owned());
        let (tls, target) = match given.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            Some(_) => return Err(bad()),
            None => (false, given),
        };
        let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || host.contains(['/', ' ']) {
            return Err(bad());
        }
        Ok(DnsName {
            target: target.to_owned(),
            tls_host: tls.then(|| host.to_owned()),
        })
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tls_host.is_some() {
            f.write_str("https://")?;
        }
        f.write_str(&self.target)
    }
}

#[async_trait]
impl AddressSource for DnsName {
    async fn addresses(&self) -> Result<Vec<SocketAddr>, DiscoveryError> {
        tokio::net::lookup_host(self.target.as_str())
            .await
            .map(Iterator::collect)
            .map_err(|source| DiscoveryError::Resolve {
                name: self.target.clone(),
                source,
            })
    }

    fn describe(&self) -> String {
        self.to_string()
    }

    fn tls_name(&self) -> Option<&str> {
        self.tls_host.as_deref()
    }
}

/// The node URL for a resolved address; IPv6 comes out bracketed
/// (`http://[fd00::7]:9301`), as `SocketAddr` displays it.
pub fn node_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

/// What one resolution changes in the farm.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Listed now, not before: register.
    pub added: BTreeSet<String>,
    /// Listed before, gone now: deregister.
    pub removed: BTreeSet<String>,
}

/// The difference between the nodes known from the last resolution and those
/// resolved now.
pub fn changes(known: &BTreeSet<String>, resolved: &BTreeSet<String>) -> Changes {
    Changes {
        added: resolved.difference(known).cloned().collect(),
        removed: known.difference(resolved).cloned().collect(),
    }
}

/// Slack on top of two refresh intervals before a discovered node counts as
/// offline: a refresh resolves for up to one interval, then health-checks new
/// nodes (5 s at most) before the next wait starts. Only a stuck discovery loop
/// ever takes a node offline this way; DNS failures keep renewing the known set.
const REFRESH_SLACK_SECS: u64 = 5;

impl FarmExecutor {
    /// Takes the farm's remote nodes from `source`: resolves once before returning
    /// (so the first jobs find the nodes), then every `interval` in the background
    /// until shutdown. Discovered nodes use the farm's token.
    pub async fn discover(self: &Arc<Self>, source: impl AddressSource, interval: Duration) {
        let interval = interval.max(Duration::from_millis(10));
        let mut known = BTreeSet::new();
        refresh(self, &source, interval, &mut known).await;
        let farm = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(farm) = farm.upgrade() else { return };
                refresh(&farm, &source, interval, &mut known).await;
            }
        });
        self.keep_task(task.abort_handle());
    }
}

/// One resolution applied to the farm; `known` becomes the nodes now listed.
async fn refresh(
    farm: &Arc<FarmExecutor>,
    source: &dyn AddressSource,
    interval: Duration,
    known: &mut BTreeSet<String>,
) {
    let resolved = match tokio::time::timeout(interval, source.addresses()).await {
        Ok(Ok(addrs)) => addrs
            .into_iter()
            .map(|a| node_url(a, source.tls_name().is_some()))
            .collect(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, known = known.len(), "node discovery failed; keeping the nodes already known");
            known.clone()
        }
        Err(_) => {
            let e = DiscoveryError::Timeout {
                name: source.describe(),
                after: interval,
            };
            tracing::warn!(error = %e, known = known.len(), "node discovery failed; keeping the nodes already known");
            known.clone()
        }
    };
    let diff = changes(known, &resolved);
    for url in &diff.removed {
        tracing::info!(node = %url, name = %source.describe(), "node gone from DNS");
        farm.deregister(url);
    }
    for url in &diff.added {
        tracing::info!(node = %url, name = %source.describe(), "node found in DNS");
    }
    let heartbeat_secs = 2 * interval.as_secs().max(1) + REFRESH_SLACK_SECS;
    // Registering a listed node again is its heartbeat; new nodes are checked
    // concurrently so one unreachable address does not hold up the others.
    let mut registrations = tokio::task::JoinSet::new();
    for url in &resolved {
        let farm = farm.clone();
        let registration = Registration {
            url: url.clone(),
            heartbeat_secs,
            weight: None,
            resources: None,
        };
        let tls_name = source.tls_name().map(str::to_owned);
        registrations.spawn(async move {
            let result = farm.join(&registration, tls_name.as_deref()).await;
            (registration.url, result)
        });
    }
    known.clear();
    while let Some(joined) = registrations.join_next().await {
        let Ok((url, result)) = joined else { continue };
        match result {
            Ok(_) => {
                known.insert(url);
            }
            Err(e) => tracing::warn!(node = %url, error = %e, "cannot add discovered node"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(urls: &[&str]) -> BTreeSet<String> {
        urls.iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn changes_add_new_addresses_and_remove_vanished_ones() {
        let known = set(&["http://10.0.0.1:9301", "http://10.0.0.2:9301"]);
        let resolved = set(&["http://10.0.0.2:9301", "http://10.0.0.3:9301"]);
        assert_eq!(
            changes(&known, &resolved),
            Changes {
                added: set(&["http://10.0.0.3:9301"]),
                removed: set(&["http://10.0.0.1:9301"]),
            }
        );
    }

    #[test]
    fn changes_of_an_unchanged_set_are_empty() {
        let known = set(&["http://10.0.0.1:9301"]);
        assert_eq!(changes(&known, &known.clone()), Changes::default());
        assert_eq!(changes(&set(&[]), &set(&[])), Changes::default());
    }

    #[test]
    fn an_empty_resolution_removes_everything() {
        let known = set(&["http://10.0.0.1:9301", "http://10.0.0.2:9301"]);
        let diff = changes(&known, &set(&[]));
        assert!(diff.added.is_empty());
        assert_eq!(diff.removed, known);
    }

    #[test]
    fn ipv6_node_urls_are_bracketed() {
        assert_eq!(
            node_url("[fd00::7]:9301".parse().unwrap(), false),
            "http://[fd00::7]:9301"
        );
        assert_eq!(
            node_url("10.0.0.7:9301".parse().unwrap(), true),
            "https://10.0.0.7:9301"
        );
    }

    #[test]
    fn dns_names_need_a_host_and_a_port() {
        assert!(DnsName::parse("agents.farm.svc.cluster.local:9301").is_ok());
        assert!(DnsName::parse("localhost:1").is_ok());
        assert!(DnsName::parse("[::1]:9301").is_ok());
        let tls = DnsName::parse("https://agents.farm.svc:9301").unwrap();
        assert_eq!(tls.tls_name(), Some("agents.farm.svc"));
        assert_eq!(tls.to_string(), "https://agents.farm.svc:9301");
        assert_eq!(
            DnsName::parse("http://agents:9301").unwrap().tls_name(),
            None
        );
        for bad in [
            "agents",
            "agents:",
            ":9301",
            "agents:0",
            "agents:http",
            "agents:70000",
            "ftp://agents:9301",
            "https://agents:9301/v1",
        ] {
            assert!(DnsName::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}

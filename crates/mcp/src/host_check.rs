//! The DNS-rebinding defence every route of HTTP mode shares but `/health` and
//! `/metrics` (the MCP gate in `http.rs` and the dashboard's gate both run it
//! first): a request must name an allowed host in `Host`, and a present `Origin`
//! must be an allowed one, following the MCP transport security guidance. A web
//! page that rebinds its own name to 127.0.0.1 still sends its own name in both.

use axum::http::{HeaderMap, StatusCode, header};
use browserfarm_http::HttpError;
use browserfarm_protocol::ErrorKind;

/// Host names always accepted in `Host` (and as `Origin` hosts).
const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// The hosts and origins a server accepts beyond loopback.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostCheck {
    /// Host names (without port) accepted in `Host` and `Origin`
    /// (`--allowed-hosts`).
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted, e.g. `https://app.example.com`
    /// (`--allowed-origins`).
    pub allowed_origins: Vec<String>,
}

impl HostCheck {
    /// `Ok` for a request with an allowed `Host` and no `Origin` or an allowed
    /// one; else the 403 that says which flag would accept it.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), HttpError> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !self.host_allowed(host_of(host)) {
            return Err(forbidden(format!(
                "Host '{host}' is not allowed; start the server with --allowed-hosts to \
                 accept it"
            )));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.origin_allowed(origin) {
                return Err(forbidden(format!(
                    "Origin '{origin}' is not allowed; start the server with \
                     --allowed-origins to accept it"
                )));
            }
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        LOOPBACK_HOSTS.contains(&host.as_str())
            || self
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&host))
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        if self
            .allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
        {
            return true;
        }
        match origin.split_once("://") {
            Some(("http" | "https", authority)) => self.host_allowed(host_of(authority)),
            _ => false,
        }
    }
}

/// A refused Host or Origin: the request is wrong (retrying it cannot succeed),
/// but no error kind names "forbidden", so the status is given explicitly.
fn forbidden(message: String) -> HttpError {
    HttpError::new(ErrorKind::InvalidArgument, message).with_status(StatusCode::FORBIDDEN)
}

/// The host part of a `Host` header or origin authority: `[::1]:80` → `::1`.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let options = HostCheck {
            allowed_hosts: vec!["farm.example".into()],
            allowed_origins: vec!["https://app.example.com".into()],
        };
        assert!(options.host_allowed(host_of("127.0.0.1:8931")));
        assert!(options.host_allowed(host_of("[::1]:8931")));
        assert!(options.host_allowed(host_of("LOCALHOST")));
        assert!(options.host_allowed(host_of("farm.example:80")));
        assert!(!options.host_allowed(host_of("evil.example:8931")));
        assert!(!options.host_allowed(host_of("")));

        assert!(options.origin_allowed("http://localhost:3000"));
        assert!(options.origin_allowed("https://app.example.com"));
        assert!(options.origin_allowed("https://farm.example"));
        assert!(!options.origin_allowed("https://evil.example"));
        assert!(!options.origin_allowed("null"));
        assert!(!options.origin_allowed("file://"));
    }
}

//! Which hosts a browser may reach: allow and block lists of host globs, and
//! whether private address ranges are off limits. The rules here are pure; the
//! browser crate applies them to navigations, redirects and subresources after
//! resolving names (so a public name pointing at a private address is caught).

use std::net::IpAddr;

use crate::{ErrorKind, JobError};

/// A server's host rules. The default allows everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPolicy {
    /// When not empty, only hosts matching one of these globs are reachable.
    pub allow: Vec<String>,
    /// Hosts matching one of these globs are never reachable (checked first).
    pub block: Vec<String>,
    /// Refuse loopback, private (RFC 1918, unique-local), link-local (including
    /// cloud metadata at 169.254.169.254) and other non-public addresses.
    pub block_private: bool,
}

impl HostPolicy {
    /// Whether any rule is set (so requests need checking at all).
    pub fn is_active(&self) -> bool {
        !self.allow.is_empty() || !self.block.is_empty() || self.block_private
    }

    /// Checks a host name against the lists (not its addresses); the error says
    /// which rule refused it.
    pub fn check_name(&self, host: &str) -> Result<(), JobError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Some(rule) = self.block.iter().find(|g| glob_matches(g, host)) {
            return Err(refused(format!(
                "the host {host} is blocked on this server (--block-hosts {rule})"
            )));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|g| glob_matches(g, host)) {
            return Err(refused(format!(
                "the host {host} is not on this server's allow list (--allow-hosts {})",
                self.allow.join(",")
            )));
        }
        Ok(())
    }

    /// Checks one address the host resolved to.
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), JobError> {
        if self.block_private && !is_public(ip) {
            return Err(refused(format!(
                "{host} resolves to {ip}, a private, loopback or link-local address, which \
                 this server does not let pages reach (--block-private-networks)"
            )));
        }
        Ok(())
    }
}

fn refused(message: String) -> JobError {
    JobError::new(ErrorKind::UrlRefused, message)
}

/// Case-insensitive glob where `*` matches any run of characters, so
/// `*.example.com` matches `a.example.com` (not `example.com` itself).
pub fn glob_matches(glob: &str, host: &str) -> bool {
    let glob = glob.to_ascii_lowercase();
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == host;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !host.starts_with(first) || !host.ends_with(last) || host.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &host[first.len()..host.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `ip` is an ordinary public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                // Carrier-grade NAT, 100.64.0.0/10.
                || (a == 100 && (64..128).contains(&b))
                // Benchmarking, 198.18.0.0/15, and reserved 240.0.0.0/4.
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7 and link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_hosts_and_subdomains() {
        assert!(glob_matches("*.example.com", "a.b.example.com"));
        assert!(!glob_matches("*.example.com", "example.com"));
        assert!(glob_matches(
            "example.com",
            "EXAMPLE.com".to_ascii_lowercase().as_str()
        ));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("intra*.corp", "intranet.corp"));
        assert!(!glob_matches("*.example.com", "example.com.evil.net"));
    }

    #[test]
    fn private_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn block_wins_over_allow_and_messages_name_the_rule() {
        let p = HostPolicy {
            allow: vec!["*.example.com".into()],
            block: vec!["secret.example.com".into()],
            block_private: true,
        };
        assert!(p.check_name("www.example.com").is_ok());
        let e = p.check_name("secret.example.com").unwrap_err();
        assert!(
            e.message.contains("--block-hosts secret.example.com"),
            "{}",
            e.message
        );
        assert!(
            p.check_name("other.net")
                .unwrap_err()
                .message
                .contains("allow list")
        );
        assert!(p.check_address("x", "10.0.0.1".parse().unwrap()).is_err());
        assert!(
            p.check_address("x", "93.184.216.34".parse().unwrap())
                .is_ok()
        );
        assert!(!HostPolicy::default().is_active());
    }
}

//! Session handles: the `session` argument a client passes back so that any
//! gateway holding the farm key can route its call (MCP 2026-07-28 has no
//! protocol sessions, SEP-2567).
//!
//! A handle is `bf1.<payload>.<mac>`: the payload (base64url JSON) names the
//! executor's route to the session (for a farm node, the node and the node's
//! own session id), when it expires, the principal it belongs to, and, for a
//! session that lives in one gateway's embedded pool, that gateway. The MAC is
//! HMAC-SHA256 over the payload with the farm key, cut to 128 bits. Nothing is
//! stored on the request path: verifying the MAC is the whole lookup, which is
//! what lets replicas serve each other's sessions and survive each other's
//! deaths.
//!
//! Handles are signed, not encrypted: a client can decode which node serves
//! it, but cannot make a handle for a session it was not given.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use browserfarm_protocol::{SessionId, SessionRoute};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const PREFIX: &str = "bf1.";

/// Bytes of the HMAC kept in a handle: 128 bits, as much as an attacker
/// would have to guess, and 22 characters instead of 43 in every result.
const MAC_BYTES: usize = 16;

/// Shortest farm key accepted from a file.
pub const MIN_KEY_BYTES: usize = 16;

/// The secret that signs handles. Replicas serving one farm share it
/// (`--session-key-file`); a single gateway without one makes a random key at
/// start, so its handles die with it.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the session key is {0} bytes long; it needs at least {MIN_KEY_BYTES} (for example `head -c 32 /dev/urandom | base64 > key`)"
    )]
    TooShort(usize),
}

impl SessionKey {
    pub fn random() -> SessionKey {
        SessionKey(rand::random())
    }

    /// A key from a secret of any length (a key file's content, surrounding
    /// whitespace removed), stretched through SHA-256 so every replica that
    /// read the same file signs alike.
    pub fn from_secret(secret: &[u8]) -> Result<SessionKey, KeyError> {
        let secret = secret.trim_ascii();
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(secret.len()));
        }
        Ok(SessionKey(Sha256::digest(secret).into()))
    }

    fn mac(&self, payload: &[u8]) -> [u8; MAC_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut cut = [0u8; MAC_BYTES];
        cut.copy_from_slice(&full[..MAC_BYTES]);
        cut
    }
}

/// What a handle says, once its MAC checks out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    /// The executor's route to the session.
    #[serde(rename = "r")]
    route: String,
    /// Expiry, Unix seconds.
    #[serde(rename = "x")]
    expires: u64,
    /// The gateway whose embedded pool holds the session, when only it can.
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
    /// The principal the session belongs to, when calls carry a token.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    principal: Option<String>,
}

/// Why a handle was refused. Messages are for the agent: what happened and
/// what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error(
        "unknown or expired session handle; call the tool without `session` to start a new \
         browser session (its result carries the new handle)"
    )]
    Unknown,
    #[error(
        "this session lives in the embedded browser pool of another gateway replica, which \
         only that gateway can serve; call without `session` to start a new one here \
         (replicated gateways should run with --local-pool=false)"
    )]
    OtherGateway,
}

/// Mints and opens handles for one gateway process.
#[derive(Debug, Clone)]
pub struct Handles {
    key: SessionKey,
    /// This process, for handles to sessions only it can serve.
    gateway: String,
    /// How long a handle stays valid after the call that returned it.
    ttl: Duration,
}

impl Handles {
    pub fn new(key: SessionKey, ttl: Duration) -> Handles {
        let id: [u8; 8] = rand::random();
        Handles {
            key,
            gateway: URL_SAFE_NO_PAD.encode(id),
            ttl,
        }
    }

    /// Handles with a random key and the default TTL: what a lone gateway uses
    /// without `--session-key-file` (its handles die with it).
    pub fn shared_default() -> std::sync::Arc<Handles> {
        std::sync::Arc::new(Handles::new(
            SessionKey::random(),
            crate::DEFAULT_HANDLE_TTL,
        ))
    }

    /// How long a handle, and a session opened for a call that stands alone,
    /// stays valid after its last call.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The handle for `route`, valid for the TTL from now, for `principal`.
    pub fn mint(&self, route: &SessionRoute, principal: Option<&str>) -> String {
        let payload = Payload {
            route: route.id.0.clone(),
            expires: unix_now().saturating_add(self.ttl.as_secs()),
            gateway: (!route.portable).then(|| self.gateway.clone()),
            principal: principal.map(str::to_owned),
        };
        let json = serde_json::to_vec(&payload).expect("a payload serialises");
        let body = URL_SAFE_NO_PAD.encode(&json);
        let mac = URL_SAFE_NO_PAD.encode(self.key.mac(body.as_bytes()));
        format!("{PREFIX}{body}.{mac}")
    }

    /// The handle for `route` after a call that came with `presented`: the same
    /// string while it names this route and has more than half its TTL left, so
    /// an agent sees one handle call after call; a fresh one otherwise.
    pub fn renew(
        &self,
        route: &SessionRoute,
        principal: Option<&str>,
        presented: Option<&str>,
    ) -> String {
        let keep = presented
            .and_then(|h| self.verify(h, principal).ok())
            .is_some_and(|p| {
                p.route == route.id.0
                    && p.gateway.is_some() != route.portable
                    && p.expires > unix_now().saturating_add(self.ttl.as_secs() / 2)
            });
        match presented {
            Some(handle) if keep => handle.trim().to_owned(),
            _ => self.mint(route, principal),
        }
    }

    /// The session a handle names, if it is ours, unexpired, for `principal`,
    /// and servable by this gateway.
    pub fn open(&self, handle: &str, principal: Option<&str>) -> Result<SessionId, HandleError> {
        let payload = self.verify(handle, principal)?;
        if let Some(gateway) = &payload.gateway
            && *gateway != self.gateway
        {
            return Err(HandleError::OtherGateway);
        }
        Ok(SessionId(payload.route))
    }

    /// A handle's payload, if its MAC checks out and it is unexpired and
    /// `principal`'s.
    fn verify(&self, handle: &str, principal: Option<&str>) -> Result<Payload, HandleError> {
        let (body, mac) = handle
            .trim()
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .ok_or(HandleError::Unknown)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| HandleError::Unknown)?;
        // Constant time: timing must not tell how much of a forged MAC was right.
        if !constant_time_eq::constant_time_eq(&mac, &self.key.mac(body.as_bytes())) {
            return Err(HandleError::Unknown);
        }
        let payload: Payload = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(HandleError::Unknown)?;
        if payload.expires < unix_now() || payload.principal.as_deref() != principal {
            return Err(HandleError::Unknown);
        }
        Ok(payload)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(id: &str, portable: bool) -> SessionRoute {
        SessionRoute {
            id: SessionId(id.to_owned()),
            portable,
        }
    }

    fn handles() -> Handles {
        Handles::new(
            SessionKey::from_secret(b"a farm key of enough length").unwrap(),
            Duration::from_secs(300),
        )
    }

    #[test]
    fn a_minted_handle_opens_to_its_route() {
        let h = handles();
        let handle = h.mint(&route("s-1@node-a:9301", true), None);
        assert!(handle.starts_with("bf1."), "{handle}");
        assert_eq!(
            h.open(&handle, None),
            Ok(SessionId("s-1@node-a:9301".into()))
        );
    }

    #[test]
    fn replicas_with_the_same_key_open_each_others_portable_handles() {
        let (a, b) = (handles(), handles());
        let handle = a.mint(&route("s-1@node-a:9301", true), None);
        assert_eq!(
            b.open(&handle, None),
            Ok(SessionId("s-1@node-a:9301".into()))
        );
        let pinned = a.mint(&route("local-7", false), None);
        assert_eq!(a.open(&pinned, None), Ok(SessionId("local-7".into())));
        assert_eq!(b.open(&pinned, None), Err(HandleError::OtherGateway));
    }

    #[test]
    fn forged_modified_foreign_and_expired_handles_are_unknown() {
        let h = handles();
        let handle = h.mint(&route("s-1@node-a:9301", true), Some("alice"));
        // Another principal.
        assert_eq!(h.open(&handle, Some("bob")), Err(HandleError::Unknown));
        assert_eq!(h.open(&handle, None), Err(HandleError::Unknown));
        // Another key.
        let other = Handles::new(
            SessionKey::from_secret(b"some other farm's key").unwrap(),
            Duration::from_secs(300),
        );
        assert_eq!(
            other.open(&handle, Some("alice")),
            Err(HandleError::Unknown)
        );
        // A payload rewritten to name another route, MAC kept.
        let (_, mac) = handle.rsplit_once('.').unwrap();
        let forged_body =
            URL_SAFE_NO_PAD.encode(br#"{"r":"s-2@node-a:9301","x":99999999999,"u":"alice"}"#);
        let forged = format!("bf1.{forged_body}.{mac}");
        assert_eq!(h.open(&forged, Some("alice")), Err(HandleError::Unknown));
        // Garbage.
        for junk in ["", "bf1.", "bf1..", "session-1", "bf1.!!.??"] {
            assert_eq!(h.open(junk, None), Err(HandleError::Unknown), "{junk:?}");
        }
        // Expired.
        let short = Handles {
            ttl: Duration::ZERO,
            ..h.clone()
        };
        let mut stale = Payload {
            route: "s-1@node-a:9301".into(),
            expires: unix_now() - 1,
            gateway: None,
            principal: None,
        };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&stale).unwrap());
        let mac = URL_SAFE_NO_PAD.encode(short.key.mac(body.as_bytes()));
        assert_eq!(
            short.open(&format!("bf1.{body}.{mac}"), None),
            Err(HandleError::Unknown)
        );
        stale.expires = unix_now() + 60;
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&stale).unwrap());
        let mac = URL_SAFE_NO_PAD.encode(short.key.mac(body.as_bytes()));
        assert!(short.open(&format!("bf1.{body}.{mac}"), None).is_ok());
    }

    #[test]
    fn a_handle_is_kept_while_it_names_the_route_and_has_life_left() {
        let h = handles();
        let here = route("s-1@node-a:9301", true);
        let first = h.mint(&here, None);
        assert_eq!(h.renew(&here, None, Some(&first)), first, "kept");
        let moved = route("s-9@node-b:9301", true);
        let after_move = h.renew(&moved, None, Some(&first));
        assert_ne!(
            after_move, first,
            "a moved session gets a handle to its new route"
        );
        assert_eq!(h.open(&after_move, None), Ok(moved.id.clone()));
        let aging = Handles {
            ttl: Duration::from_secs(10_000),
            ..h.clone()
        };
        assert_ne!(
            aging.renew(&here, None, Some(&first)),
            first,
            "with less than half of its TTL left it is renewed"
        );
        assert!(
            h.renew(&here, None, Some("bf1.forged.x"))
                .starts_with("bf1.")
        );
    }

    #[test]
    fn short_keys_are_refused_and_whitespace_is_ignored() {
        assert!(matches!(
            SessionKey::from_secret(b"  short \n"),
            Err(KeyError::TooShort(5))
        ));
        let a = SessionKey::from_secret(b"0123456789abcdef\n").unwrap();
        let b = SessionKey::from_secret(b"0123456789abcdef").unwrap();
        assert_eq!(a.mac(b"x"), b.mac(b"x"));
    }
}

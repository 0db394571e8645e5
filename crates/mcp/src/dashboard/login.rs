//! Dashboard sign-in for a server with a token.
//!
//! A browser cannot put an `Authorization` header on a page load or on an
//! `EventSource`, so a visitor posts the token once (`POST /dashboard/login`, a
//! form body, never the URL: URLs end up in history, proxy logs and `Referer`)
//! and gets a cookie instead. The cookie holds a random id, never the token, and
//! the dashboard's gate is the only one that accepts it: it shows the farm but
//! cannot drive a browser through `/mcp`. It is `HttpOnly` (page scripts cannot
//! read it), `SameSite=Strict` (other sites cannot make the browser send it), and
//! lives until [`LOGIN_TTL`], sign-out, or a server restart.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};

/// Name of the dashboard's cookie.
pub const COOKIE: &str = "browserfarm_dashboard";

/// How long a sign-in lasts.
pub const LOGIN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Sign-ins kept at once; the oldest is dropped beyond, so a flood of sign-ins
/// cannot grow memory.
const MAX_LOGINS: usize = 64;

/// The ids of signed-in dashboard visitors.
#[derive(Default)]
pub struct Logins {
    ids: Mutex<VecDeque<(String, Instant)>>,
}

impl Logins {
    /// A new sign-in; returns the cookie's id.
    pub fn issue(&self) -> String {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.retain(|(_, expires)| *expires > Instant::now());
        if ids.len() >= MAX_LOGINS {
            ids.pop_front();
        }
        ids.push_back((id.clone(), Instant::now() + LOGIN_TTL));
        id
    }

    /// Whether the request carries the cookie of a live sign-in.
    pub fn valid(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = cookie(headers, COOKIE) else {
            return false;
        };
        let now = Instant::now();
        let ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        // Every id is compared, in constant time, so timing says nothing about
        // which prefix matched.
        ids.iter().fold(false, |found, (id, expires)| {
            let same = constant_time_eq::constant_time_eq(id.as_bytes(), presented.as_bytes());
            found | (same && *expires > now)
        })
    }

    /// Ends the sign-in the request carries, if any.
    pub fn revoke(&self, headers: &HeaderMap) {
        if let Some(presented) = cookie(headers, COOKIE) {
            let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
            ids.retain(|(id, _)| id != presented);
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// `Set-Cookie` for a sign-in. `Secure` when the visitor came over HTTPS, to
/// this listener (`over_tls`) or through a proxy (plain-HTTP loopback would
/// otherwise refuse the cookie).
pub fn set_cookie(id: &str, headers: &HeaderMap, over_tls: bool) -> HeaderValue {
    let https = over_tls
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let secure = if https { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LOGIN_TTL.as_secs()
    );
    HeaderValue::from_str(&value).expect("hex id and fixed attributes")
}

/// `Set-Cookie` that removes the sign-in cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("browserfarm_dashboard=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn an_issued_id_signs_in_until_revoked() {
        let logins = Logins::default();
        let id = logins.issue();
        let headers = with_cookie(&format!("theme=dark; {COOKIE}={id}"));
        assert!(logins.valid(&headers));
        assert!(!logins.valid(&with_cookie(&format!("{COOKIE}=nope"))));
        assert!(!logins.valid(&with_cookie(&format!("{COOKIE}x={id}"))));
        assert!(!logins.valid(&HeaderMap::new()));
        logins.revoke(&headers);
        assert!(!logins.valid(&headers));
    }

    #[test]
    fn sign_ins_are_bounded() {
        let logins = Logins::default();
        let first = logins.issue();
        for _ in 0..MAX_LOGINS {
            logins.issue();
        }
        assert!(!logins.valid(&with_cookie(&format!("{COOKIE}={first}"))));
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let value = set_cookie("abc", &HeaderMap::new(), false);
        let value = value.to_str().unwrap();
        assert!(value.contains("HttpOnly") && value.contains("SameSite=Strict"));
        assert!(!value.contains("Secure"));
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(
            set_cookie("abc", &proxied, false)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        let direct = set_cookie("abc", &HeaderMap::new(), true);
        assert!(direct.to_str().unwrap().ends_with("; Secure"), "over TLS");
    }
}

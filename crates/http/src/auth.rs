//! The bearer-token check of every listener: a request must carry
//! `Authorization: Bearer <token>` when the listener has a token. Tokens are
//! compared in constant time, so response timing leaks nothing about them, and
//! never logged: [`BearerAuth`]'s `Debug` says only whether one is set.
//!
//! Most listeners put [`BearerAuth`] in front of their routes as a tower layer;
//! gates that accept something else too (the dashboard's sign-in cookie) or check
//! more first (MCP's Host/Origin check) call [`BearerAuth::allows`] or
//! [`BearerAuth::check`] themselves, so the comparison is written once.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Request};
use axum::response::{IntoResponse, Response};
use browserfarm_protocol::ErrorKind;
use futures::future::{Either, Ready, ready};
use tower::{Layer, Service};

use crate::HttpError;
use crate::tokens::Tokens;

/// Who called: the name of the token the request presented (`default` for
/// `--token`), as a request extension behind [`BearerAuth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

/// A listener's tokens and the words of its refusal.
#[derive(Clone)]
pub struct BearerAuth {
    tokens: Arc<Tokens>,
    /// The 401's message: which flag the caller should check. Each listener has
    /// its own, since the fix differs (the gateway's --token, the agent's, …).
    hint: &'static str,
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("token", &self.tokens.is_required().then_some("<set>"))
            .field("hint", &self.hint)
            .finish()
    }
}

impl BearerAuth {
    /// Requests must present `token`; without one anyone may call (the binary
    /// allows that only on loopback). `hint` is the refusal's message.
    pub fn new(token: Option<&str>, hint: &'static str) -> BearerAuth {
        BearerAuth::with_tokens(Tokens::fixed(token), hint)
    }

    /// Requests must present one of `tokens` (named, reloadable).
    pub fn with_tokens(tokens: Arc<Tokens>, hint: &'static str) -> BearerAuth {
        BearerAuth { tokens, hint }
    }

    /// Whether requests need a token at all.
    pub fn is_required(&self) -> bool {
        self.tokens.is_required()
    }

    /// Whether a caller presenting `presented` may call (always, without a token).
    pub fn accepts(&self, presented: &str) -> bool {
        !self.is_required() || self.tokens.principal(presented).is_some()
    }

    /// Whether the request carries `Authorization: Bearer <token>` (always true
    /// without a token).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        self.admit(headers).is_ok()
    }

    /// The caller's principal (`None` without tokens), or `Err` when the
    /// request does not carry an accepted token.
    fn admit(&self, headers: &HeaderMap) -> Result<Option<Principal>, ()> {
        if !self.is_required() {
            return Ok(None);
        }
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        self.tokens
            .principal(presented)
            .map(|p| Some(Principal(p)))
            .ok_or(())
    }

    /// The 401 this listener answers a request it does not allow.
    pub fn refusal(&self) -> HttpError {
        HttpError::new(ErrorKind::Unauthorized, self.hint)
    }

    /// The caller's principal when the request is allowed, else
    /// [`BearerAuth::refusal`].
    pub fn check(&self, headers: &HeaderMap) -> Result<Option<Principal>, HttpError> {
        self.admit(headers).map_err(|()| self.refusal())
    }
}

impl<S> Layer<S> for BearerAuth {
    type Service = RequireBearer<S>;

    fn layer(&self, inner: S) -> RequireBearer<S> {
        RequireBearer {
            auth: self.clone(),
            inner,
        }
    }
}

/// The service [`BearerAuth`] wraps routes in: refuses a request without the
/// token before it reaches them.
#[derive(Debug, Clone)]
pub struct RequireBearer<S> {
    auth: BearerAuth,
    inner: S,
}

impl<S, B> Service<Request<B>> for RequireBearer<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match self.auth.admit(request.headers()) {
            Ok(principal) => {
                if let Some(principal) = principal {
                    request.extensions_mut().insert(principal);
                }
                Either::Right(self.inner.call(request))
            }
            Err(()) => Either::Left(ready(Ok(self.auth.refusal().into_response()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_the_exact_bearer_token_is_allowed() {
        let auth = BearerAuth::new(Some("s3cret"), "check --token");
        assert!(auth.allows(&bearer("Bearer s3cret")));
        assert!(!auth.allows(&bearer("Bearer s3cre")));
        assert!(!auth.allows(&bearer("Bearer s3cret2")));
        assert!(!auth.allows(&bearer("bearer s3cret")));
        assert!(!auth.allows(&bearer("s3cret")));
        assert!(!auth.allows(&HeaderMap::new()));
        assert_eq!(auth.check(&HeaderMap::new()), Err(auth.refusal()));
        assert_eq!(
            auth.check(&bearer("Bearer s3cret")),
            Ok(Some(Principal("default".into())))
        );
    }

    #[test]
    fn without_a_token_everyone_is_allowed() {
        let auth = BearerAuth::new(None, "check --token");
        assert!(!auth.is_required());
        assert!(auth.allows(&HeaderMap::new()));
        assert!(auth.accepts("anything"));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let auth = BearerAuth::new(Some("s3cret"), "check --token");
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<set>"),
            "{shown}"
        );
    }
}

//! How a job fails. One error type crosses every boundary (browser → gateway → node
//! API → MCP), so its message is written for the end reader, an AI agent: say what
//! went wrong and what to do next.

use serde::{Deserialize, Serialize};

/// Broad class of a failure; lets callers decide whether to retry elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The arguments are wrong; retrying the same call cannot succeed.
    InvalidArgument,
    /// The URL is refused by policy (scheme or host).
    UrlRefused,
    /// The page could not be loaded (DNS failure, refused connection, TLS error…).
    Navigation,
    /// The job or page load ran past its deadline.
    Timeout,
    /// No element matches the selector on the current page.
    ElementNotFound,
    /// Page JavaScript threw or the value could not be returned.
    Script,
    /// The Chromium process crashed or hung and was replaced; page state is lost.
    BrowserCrashed,
    /// The tab crashed or hung and was replaced by a blank one; cookies are kept.
    PageCrashed,
    /// No browser is available (none installed, launch failed, pool exhausted).
    Unavailable,
    /// The session id is unknown or already closed.
    SessionNotFound,
    /// A farm node refused the call: missing or wrong bearer token.
    Unauthorized,
    /// A farm node is at capacity; try another node or later.
    Busy,
    /// A farm node could not be reached or failed (connection, timeout, 5xx).
    NodeFailed,
    /// A bug or an unexpected reply from Chromium.
    Internal,
}

impl ErrorKind {
    /// The snake_case name, as serialized (logs and metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::UrlRefused => "url_refused",
            ErrorKind::Navigation => "navigation",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ElementNotFound => "element_not_found",
            ErrorKind::Script => "script",
            ErrorKind::BrowserCrashed => "browser_crashed",
            ErrorKind::PageCrashed => "page_crashed",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::SessionNotFound => "session_not_found",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Busy => "busy",
            ErrorKind::NodeFailed => "node_failed",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether the same job may succeed if simply run again (possibly elsewhere).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout
                | ErrorKind::BrowserCrashed
                | ErrorKind::PageCrashed
                | ErrorKind::Unavailable
                | ErrorKind::Busy
                | ErrorKind::NodeFailed
        )
    }
}

/// A failed job: a kind for programs and a message for the agent.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, thiserror::Error,
)]
#[error("{message}")]
pub struct JobError {
    pub kind: ErrorKind,
    pub message: String,
}

impl JobError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        JobError {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kind_names_match_their_serialized_form() {
        for kind in [
            ErrorKind::InvalidArgument,
            ErrorKind::UrlRefused,
            ErrorKind::Navigation,
            ErrorKind::Timeout,
            ErrorKind::ElementNotFound,
            ErrorKind::Script,
            ErrorKind::BrowserCrashed,
            ErrorKind::PageCrashed,
            ErrorKind::Unavailable,
            ErrorKind::SessionNotFound,
            ErrorKind::Unauthorized,
            ErrorKind::Busy,
            ErrorKind::NodeFailed,
            ErrorKind::Internal,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}

//! Named bearer tokens, rotated without restarts.
//!
//! A listener accepts `--token` (principal `default`) and every line of
//! `--tokens-file` (`NAME TOKEN`, `#` comments): during a rotation the file
//! holds the old token and the new one, then only the new. The file is re-read
//! when it changes (polled every two seconds) and on SIGHUP; a file that does
//! not parse is logged and the tokens already loaded stay in force. The name of
//! the token a caller presented is its principal: the audit log, the rate limit
//! and session handles go by it, so a rotation keeps a caller who it is.
//!
//! The token this process presents to others (`--token-file`) is a
//! [`Presented`], re-read the same way, so a gateway switches to the new token
//! while agents accept both.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::watch::{self, Reloaded};

/// The principal of `--token`.
pub const DEFAULT_PRINCIPAL: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("cannot read the tokens file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}:{line}: {reason}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// What a listener accepts. Cheap to share; reloads in place.
pub struct Tokens {
    fixed: Option<Arc<str>>,
    file: Option<PathBuf>,
    named: RwLock<Vec<(String, String)>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("fixed", &self.fixed.as_ref().map(|_| "<set>"))
            .field("file", &self.file)
            .finish()
    }
}

impl Tokens {
    /// `--token` alone.
    pub fn fixed(token: Option<&str>) -> Arc<Tokens> {
        Arc::new(Tokens {
            fixed: token.map(Arc::from),
            file: None,
            named: RwLock::new(Vec::new()),
        })
    }

    /// `--token` and `--tokens-file`, the file read now (a bad file is an
    /// error at start, not a listener that refuses everyone).
    pub fn new(token: Option<&str>, file: Option<&Path>) -> Result<Arc<Tokens>, TokensError> {
        let named = match file {
            Some(path) => parse(path, &read(path)?)?,
            None => Vec::new(),
        };
        Ok(Arc::new(Tokens {
            fixed: token.map(Arc::from),
            file: file.map(Path::to_owned),
            named: RwLock::new(named),
        }))
    }

    /// Whether callers need a token: with `--token` or a tokens file (even an
    /// empty one: every token was withdrawn).
    pub fn is_required(&self) -> bool {
        self.fixed.is_some() || self.file.is_some()
    }

    /// The principal whose token `presented` is. Every token is compared, in
    /// constant time, so timing says nothing about which one matched.
    pub fn principal(&self, presented: &str) -> Option<String> {
        let same = |token: &str| {
            constant_time_eq::constant_time_eq(presented.as_bytes(), token.as_bytes())
        };
        let mut found = None;
        if let Some(fixed) = &self.fixed
            && same(fixed)
        {
            found = Some(DEFAULT_PRINCIPAL.to_owned());
        }
        for (name, token) in self.named.read().unwrap_or_else(|e| e.into_inner()).iter() {
            if same(token) && found.is_none() {
                found = Some(name.clone());
            }
        }
        found
    }

    /// Reads the file again; on error the tokens in force stay.
    pub fn reload(&self) -> Result<usize, TokensError> {
        let Some(path) = &self.file else {
            return Ok(0);
        };
        let named = parse(path, &read(path)?)?;
        let count = named.len();
        *self.named.write().unwrap_or_else(|e| e.into_inner()) = named;
        Ok(count)
    }

    /// Re-reads the file whenever it changes, until the process ends.
    pub fn watch(self: &Arc<Self>) {
        let Some(path) = self.file.clone() else {
            return;
        };
        let tokens = Arc::downgrade(self);
        // A file that does not parse is said once per change, not every tick.
        watch::on_change(vec![path], move || match tokens.upgrade() {
            Some(tokens) => {
                tokens.reload_logged();
                Reloaded::Done
            }
            None => Reloaded::Stop,
        });
    }

    /// [`Tokens::reload`], saying what happened (SIGHUP and file changes).
    pub fn reload_logged(&self) {
        match self.reload() {
            Ok(count) => tracing::info!(tokens = count, "tokens file re-read"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-read the tokens file; keeping the tokens in force")
            }
        }
    }
}

fn read(path: &Path) -> Result<String, TokensError> {
    std::fs::read_to_string(path).map_err(|error| TokensError::Read {
        path: path.to_owned(),
        error,
    })
}

fn parse(path: &Path, text: &str) -> Result<Vec<(String, String)>, TokensError> {
    let mut named: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| TokensError::Line {
            path: path.to_owned(),
            line: i + 1,
            reason: reason.to_owned(),
        };
        let mut parts = line.split_whitespace();
        let (Some(name), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected `NAME TOKEN`"));
        };
        if name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(bad("a name is 1 to 64 letters, digits, '.', '_' or '-'"));
        }
        if token.len() < 16 {
            return Err(bad("a token needs at least 16 characters"));
        }
        if named.iter().any(|(n, _)| n == name) {
            return Err(bad("this name is already given to another token"));
        }
        if named.iter().any(|(_, t)| t == token) {
            return Err(bad("this token is already listed under another name"));
        }
        named.push((name.to_owned(), token.to_owned()));
    }
    Ok(named)
}

/// The token this process presents to others: fixed, or read from a file and
/// re-read when it changes. Cheap to clone; clones see the same token.
#[derive(Clone, Default)]
pub struct Presented(Arc<RwLock<Option<String>>>);

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.get().is_some() {
            "Presented(<set>)"
        } else {
            "Presented(none)"
        })
    }
}

impl From<Option<String>> for Presented {
    fn from(token: Option<String>) -> Presented {
        Presented(Arc::new(RwLock::new(token.filter(|t| !t.is_empty()))))
    }
}

impl Presented {
    pub fn get(&self) -> Option<String> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Follows `path` (its first line, trimmed), checking it every two seconds;
    /// an unreadable or empty file keeps the token in force.
    pub fn follow(&self, path: PathBuf) {
        let token = Arc::downgrade(&self.0);
        watch::on_change(vec![path.clone()], move || {
            let Some(token) = token.upgrade() else {
                return Reloaded::Stop;
            };
            match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => {
                    let first = text.lines().next().unwrap_or("").trim().to_owned();
                    *token.write().unwrap_or_else(|e| e.into_inner()) = Some(first);
                    tracing::info!(file = %path.display(), "token file re-read; presenting its token");
                }
                Ok(_) => {
                    tracing::warn!(file = %path.display(), "the token file is empty; keeping the token in force")
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "cannot re-read the token file; keeping the token in force")
                }
            }
            Reloaded::Done
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("bf-tokens-{name}-{}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn names_tokens_and_reloads_keeping_the_old_on_a_bad_file() {
        let path = file(
            "a",
            "# rotation\nci-bot aaaaaaaaaaaaaaaaaaaa\nalice bbbbbbbbbbbbbbbbbbbb\n",
        );
        let tokens = Tokens::new(Some("fixed-token-0000000"), Some(&path)).unwrap();
        assert!(tokens.is_required());
        assert_eq!(
            tokens.principal("bbbbbbbbbbbbbbbbbbbb").as_deref(),
            Some("alice")
        );
        assert_eq!(
            tokens.principal("fixed-token-0000000").as_deref(),
            Some("default")
        );
        assert_eq!(tokens.principal("nope"), None);
        std::fs::write(&path, "alice cccccccccccccccccccc\n").unwrap();
        assert_eq!(tokens.reload().unwrap(), 1);
        assert_eq!(
            tokens.principal("bbbbbbbbbbbbbbbbbbbb"),
            None,
            "the old one is gone"
        );
        assert_eq!(
            tokens.principal("cccccccccccccccccccc").as_deref(),
            Some("alice")
        );
        std::fs::write(&path, "alice short\n").unwrap();
        let err = tokens.reload().unwrap_err().to_string();
        assert!(err.contains(":1: a token needs at least 16"), "{err}");
        assert_eq!(
            tokens.principal("cccccccccccccccccccc").as_deref(),
            Some("alice"),
            "kept"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn mistakes_name_their_line() {
        let dup = file("b", "a aaaaaaaaaaaaaaaaaaaa\na bbbbbbbbbbbbbbbbbbbb\n");
        assert!(
            Tokens::new(None, Some(&dup))
                .unwrap_err()
                .to_string()
                .contains(":2: this name")
        );
        let three = file("c", "a aaaaaaaaaaaaaaaaaaaa extra\n");
        assert!(
            Tokens::new(None, Some(&three))
                .unwrap_err()
                .to_string()
                .contains("NAME TOKEN")
        );
        let empty = file("d", "# nobody\n");
        let none = Tokens::new(None, Some(&empty)).unwrap();
        assert!(none.is_required(), "an emptied file still requires a token");
        assert_eq!(none.principal(""), None);
        for p in [dup, three, empty] {
            let _ = std::fs::remove_file(p);
        }
    }
}

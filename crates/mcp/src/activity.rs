//! Recent traffic for the dashboard: a bounded ring of the last finished tool
//! calls and running totals, fed from the same [`AuditEntry`] the audit log
//! writes (so a call is described once), plus a change signal the dashboard's
//! event stream waits on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use browserfarm_protocol::ErrorKind;
use serde::Serialize;
use tokio::sync::watch;

use crate::audit::AuditEntry;

/// Finished calls kept for the dashboard; older ones fall off.
pub const RECENT_CALLS: usize = 100;

/// One finished tool call as the dashboard shows it: the audit entry without the
/// session id and the per-tool counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentCall {
    pub time: String,
    pub tool: String,
    pub client: Option<String>,
    /// The name of the caller's token.
    pub principal: Option<String>,
    pub host: Option<String>,
    pub node: Option<String>,
    /// "ok", "error", or "cancelled" (by the client, mid-call).
    pub status: &'static str,
    pub duration_ms: u64,
    pub error_kind: Option<ErrorKind>,
}

impl From<&AuditEntry> for RecentCall {
    fn from(entry: &AuditEntry) -> Self {
        RecentCall {
            time: entry.time.clone(),
            tool: entry.tool.clone(),
            client: entry.client.clone(),
            principal: entry.principal.clone(),
            host: entry.host.clone(),
            node: entry.node.clone(),
            status: entry.status,
            duration_ms: entry.duration_ms,
            error_kind: entry.error_kind,
        }
    }
}

/// Calls finished since the server started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallTotals {
    pub ok: u64,
    pub failed: u64,
}

#[derive(Default)]
struct Ring {
    calls: VecDeque<RecentCall>,
    totals: CallTotals,
}

/// Shared by every MCP session of one HTTP server; cheap to clone.
#[derive(Clone)]
pub struct Activity {
    ring: Arc<Mutex<Ring>>,
    /// Bumped on every recorded call; watchers coalesce bursts by reading only
    /// the latest value.
    changed: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Activity")
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            ring: Default::default(),
            changed: Arc::new(watch::channel(0).0),
        }
    }
}

impl Activity {
    pub(crate) fn record(&self, entry: &AuditEntry) {
        {
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            if entry.status == "ok" {
                ring.totals.ok += 1;
            } else {
                ring.totals.failed += 1;
            }
            if ring.calls.len() == RECENT_CALLS {
                ring.calls.pop_front();
            }
            ring.calls.push_back(entry.into());
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The kept calls, newest first, and the totals.
    pub fn recent(&self) -> (Vec<RecentCall>, CallTotals) {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        (ring.calls.iter().rev().cloned().collect(), ring.totals)
    }

    /// Resolves `changed()` after each recorded call (several calls between two
    /// reads are seen once).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tool: &str, status: &'static str) -> AuditEntry {
        AuditEntry {
            time: "2026-11-26T01:02:03.456Z".into(),
            session: Some("s1".into()),
            client: None,
            principal: None,
            tool: tool.into(),
            host: Some("example.org".into()),
            node: Some("local".into()),
            status,
            duration_ms: 12,
            error_kind: None,
            text_chars: None,
            urls: None,
        }
    }

    #[test]
    fn keeps_the_last_calls_newest_first_and_counts_all() {
        let activity = Activity::default();
        for i in 0..RECENT_CALLS + 5 {
            activity.record(&entry(&format!("t{i}"), "ok"));
        }
        activity.record(&entry("last", "error"));
        let (calls, totals) = activity.recent();
        assert_eq!(calls.len(), RECENT_CALLS);
        assert_eq!(calls[0].tool, "last");
        assert_eq!(calls[0].status, "error");
        assert_eq!(calls[RECENT_CALLS - 1].tool, "t6");
        assert_eq!(
            totals,
            CallTotals {
                ok: RECENT_CALLS as u64 + 5,
                failed: 1
            }
        );
    }

    #[tokio::test]
    async fn watchers_wake_on_a_recorded_call() {
        let activity = Activity::default();
        let mut changes = activity.subscribe();
        activity.record(&entry("navigate", "ok"));
        activity.record(&entry("scrape", "ok"));
        tokio::time::timeout(std::time::Duration::from_secs(1), changes.changed())
            .await
            .expect("woken")
            .unwrap();
        assert!(!changes.has_changed().unwrap(), "a burst is seen once");
    }
}

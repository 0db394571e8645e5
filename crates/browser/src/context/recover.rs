//! What a browser fault cost, found out before it is reported, so the caller
//! learns what was lost. A timed-out command leads to a probe of the tab, then
//! of the browser: a slow but healthy tab gives `timeout`; a hung or crashed tab
//! is replaced in its context (`page_crashed`, cookies kept); a hung or dead
//! browser is marked broken, never leased again, and the context is lost
//! (`browser_crashed`): its owner opens a fresh one. A second stall of one
//! browser within `STALL_WINDOW` marks it broken too (see the process layer).

use std::time::Duration;

use browserfarm_protocol::{ErrorKind, JobError};
use chromiumoxide::cdp::browser_protocol::browser::GetVersionParams;

use super::live::Live;
use crate::ops::evaluate::EVALUATING;
use crate::tab::{Fault, Tab};

/// Deadline for the probes that tell a hung tab from a hung browser.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of [`Live::recover`]: the error to report, and whether the
/// context survived it.
pub(crate) enum Recovery {
    /// The context is usable (its tab may have been replaced).
    Kept(JobError),
    /// The browser is gone with the context: let go of it.
    Lost(JobError),
}

impl Live {
    /// Diagnoses a browser fault, repairs what it can, and explains the outcome.
    pub(crate) async fn recover(
        &mut self,
        during: &'static str,
        fault: Fault,
        cdp_timeout: Duration,
    ) -> Recovery {
        let live = self;
        let detail = match &fault {
            Fault::Disconnected(reason) => format!(" ({reason})"),
            _ => String::new(),
        };
        let tab_gone = match &fault {
            Fault::Disconnected(_) => false,
            Fault::TabCrashed => true,
            Fault::Protocol(msg) => {
                let gone = [
                    "Target closed",
                    "No target with given id",
                    "Session with given id",
                ];
                if !gone.iter().any(|g| msg.contains(g)) {
                    return Recovery::Kept(JobError::internal(format!(
                        "Chromium reported an error while {during}: {msg}; retry the call"
                    )));
                }
                true
            }
            Fault::Timeout => {
                let tab: Tab<'_> = live.tab().tab(PROBE_TIMEOUT);
                let answers = tab
                    .eval::<serde_json::Value>("probing the tab", "1")
                    .await
                    .is_ok();
                // A browser can keep answering scripts while it no longer paints
                // or opens tabs (seen after some of its helper processes were
                // killed): screenshots and tab resets then wait out their deadline
                // while reads still work. A second such stall within
                // STALL_WINDOW replaces the browser below.
                let stalled_before = answers && during != EVALUATING && live.lease.stalled();
                if stalled_before {
                    live.lease.mark_broken();
                }
                if answers && !stalled_before {
                    let message = if during == EVALUATING {
                        "the expression did not settle in time (a promise that never \
                         resolves?); the page is still usable"
                            .to_owned()
                    } else {
                        format!(
                            "Chromium took longer than {} ms while {during}; the tab is \
                             responsive again, so retrying may work",
                            cdp_timeout.as_millis()
                        )
                    };
                    return Recovery::Kept(JobError::new(ErrorKind::Timeout, message));
                }
                true
            }
        };
        let browser_alive = tab_gone
            && live.lease.is_healthy()
            && live
                .lease
                .exec(PROBE_TIMEOUT, GetVersionParams {})
                .await
                .is_ok();
        if browser_alive && live.replace_tab(cdp_timeout).await.is_ok() {
            tracing::warn!(during, ?fault, "tab crashed or hung; replaced it");
            return Recovery::Kept(JobError::new(
                ErrorKind::PageCrashed,
                format!(
                    "the tab crashed or stopped responding while {during} (a page script may \
                     be stuck); it was replaced by a blank tab, cookies kept. Navigate again, \
                     then retry."
                ),
            ));
        }
        tracing::warn!(
            during,
            ?fault,
            pid = live.lease.pid(),
            "Chromium crashed or hung; replacing it"
        );
        live.lease.mark_broken();
        Recovery::Lost(JobError::new(
            ErrorKind::BrowserCrashed,
            format!(
                "Chromium crashed or stopped responding while {during}{detail}; it has been replaced, \
                 but this session's page and cookies were lost. Navigate again, then retry."
            ),
        ))
    }
}

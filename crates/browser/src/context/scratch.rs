//! The warm scratch context of a process: a context and its tabs that one-off
//! hosts reuse (see [`super::oneoff`]), parked in the process between hosts.
//! The warm-up opens one ahead in each process it starts, and a session may
//! take one nobody used yet: it is then as fresh as a new context.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::emulation::SetScriptExecutionDisabledParams;

use super::downloads::Downloads;
use super::live::{dispose_context, open_context};
use crate::process::Lease;
use crate::tab::TabHandle;

/// A process's warm scratch context, parked in the process between hosts.
pub(crate) struct Scratch {
    pub(crate) context: BrowserContextId,
    pub(crate) tabs: Vec<TabHandle>,
    /// Jobs run in the context; 0 for one opened ahead that nobody used yet.
    pub(crate) uses: u32,
}

impl Scratch {
    /// Takes the scratch context parked in `lease`'s process, if it has one.
    pub(crate) fn take(lease: &Lease) -> Option<Scratch> {
        lease.unpark::<Scratch>()
    }

    /// Parks the scratch context in `lease`'s process for the next one-off
    /// host (or session) there; it closes with the process.
    pub(crate) fn park(self, lease: &Lease) {
        lease.park(self);
    }

    /// A context and tab opened ahead of any job, while a warming process has
    /// nothing else to do: the first job on it, one-off or a session's, then
    /// starts at its page load instead of at a renderer start. Downloads are
    /// refused, as in every scratch context; a session taking it sets its own.
    pub(crate) async fn open_ahead(lease: &Lease, deadline: Duration) -> Result<Scratch, String> {
        let (context, tab) = open_context(lease, deadline).await?;
        Downloads::deny(lease, &context, deadline).await?;
        Ok(Scratch {
            context,
            tabs: vec![tab],
            uses: 0,
        })
    }

    /// Takes `lease`'s parked scratch context for a session if no job ever ran
    /// in it (it is then as fresh as a new one), with its tab thawed. A used one
    /// stays parked for the next host.
    pub(crate) async fn take_unused(
        lease: &Lease,
        deadline: Duration,
    ) -> Option<(BrowserContextId, TabHandle)> {
        let scratch = Scratch::take(lease)?;
        if scratch.uses > 0 {
            scratch.park(lease);
            return None;
        }
        let mut tabs = scratch.tabs.into_iter();
        let first = tabs.next();
        for tab in tabs {
            tab.close(deadline).await;
        }
        match first {
            Some(tab) if thaw(&tab, deadline).await => Some((scratch.context, tab)),
            _ => {
                dispose_context(lease, scratch.context, deadline).await;
                None
            }
        }
    }
}

/// Lets a parked page run scripts again; false when the tab no longer answers.
pub(crate) async fn thaw(tab: &TabHandle, deadline: Duration) -> bool {
    tab.tab(deadline)
        .exec(
            "thawing the page",
            SetScriptExecutionDisabledParams::new(false),
        )
        .await
        .is_ok()
}

//! One-off jobs (no session) on a warm tab.
//!
//! Opening an incognito context and a tab starts a renderer: several times the
//! cost of reading a small page, so a batch of one-off reads would spend most of
//! its time there. Instead each Chromium process keeps one *scratch* context and
//! tab for one-off jobs. A job leases a process and runs in its scratch tab; after
//! the result is returned, the page is frozen (its scripts disabled; leaving it for
//! `about:blank` would cost the next job a fresh renderer) and the context wiped
//! (every cookie, and all storage of the origins the job opened) before the
//! process is returned to the pool. A scratch context is disposed after
//! [`SCRATCH_USES`] jobs, which bounds what a wipe cannot reach (storage of
//! third-party frames, the HTTP cache). Work that needs a context nobody used
//! before runs in a session.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::emulation::SetScriptExecutionDisabledParams;
use chromiumoxide::cdp::browser_protocol::storage::{ClearCookiesParams, ClearDataForOriginParams};

use crate::pool::Lease;
use crate::session::Live;
use crate::tab::TabHandle;

/// Jobs a scratch context serves before it is disposed and a fresh one made.
pub(crate) const SCRATCH_USES: u32 = 50;

/// Storage a wipe clears per origin (cookies are cleared for the whole context).
const STORAGE_TYPES: &str =
    "local_storage,indexeddb,websql,file_systems,service_workers,cache_storage";

/// A process's warm context for one-off jobs, parked in the process between jobs.
pub(crate) struct Scratch {
    context: BrowserContextId,
    tab: TabHandle,
    uses: u32,
}

impl Scratch {
    /// Thaws the parked tab for the next job; gives the lease back when the tab no
    /// longer answers (the caller opens a fresh context instead).
    pub(crate) async fn resume(
        self,
        lease: Lease,
        deadline: Duration,
        viewport: (u32, u32),
    ) -> Result<Live, Lease> {
        let thawed = self
            .tab
            .tab(deadline)
            .exec(
                "thawing the page",
                SetScriptExecutionDisabledParams::new(false),
            )
            .await;
        match thawed {
            Ok(_) => {
                // Notes and logs of the previous job are not this job's.
                self.tab.watch.reset();
                Ok(Live {
                    lease,
                    context: self.context,
                    tabs: vec![self.tab],
                    current: 0,
                    uses: self.uses,
                    emulation: Default::default(),
                    viewport,
                    downloads: crate::downloads::Downloads::none(),
                })
            }
            Err(_) => Err(lease),
        }
    }
}

/// Wipes the context a one-off job ran in and parks it in its process for the
/// next one; disposes it instead when it is worn out or cannot be wiped. Holds
/// the lease until done, so no job sees a half-wiped context.
pub(crate) async fn wipe(live: Live, requested: String, deadline: Duration) {
    if !live.lease.is_healthy() {
        return;
    }
    if live.uses >= SCRATCH_USES {
        live.close(deadline).await;
        return;
    }
    // The page's own URL first: after redirects it may be another origin.
    let current = live.tab().page.url().await.ok().flatten();
    let mut origins: Vec<String> = [current, Some(requested)]
        .into_iter()
        .flatten()
        .filter_map(|u| origin_of(&u))
        .collect();
    // Two at most, so neighbours are all there is to compare.
    origins.dedup();
    // A one-off job acts on one tab; one that ended with more (a popup) is not
    // worth parking.
    if live.tabs.len() != 1 {
        live.close(deadline).await;
        return;
    }
    match clear(&live, &origins, deadline).await {
        Ok(()) => {
            let Live {
                mut lease,
                context,
                mut tabs,
                uses,
                ..
            } = live;
            let tab = tabs.pop().expect("one tab");
            lease.keep_scratch(Scratch { context, tab, uses });
        }
        Err(during) => {
            tracing::debug!(during, "could not wipe a scratch context; disposing it");
            live.close(deadline).await;
        }
    }
}

async fn clear(live: &Live, origins: &[String], deadline: Duration) -> Result<(), &'static str> {
    let tab = live.tab().tab(deadline);
    // Freeze the page first, so none of its scripts writes after the wipe. The
    // page itself stays: leaving it for about:blank would cost the next job a
    // fresh renderer, several times the price of the job itself.
    tab.exec(
        "freezing the page",
        SetScriptExecutionDisabledParams::new(true),
    )
    .await
    .map_err(|_| "freezing the page")?;
    let cookies = ClearCookiesParams {
        browser_context_id: Some(live.context.clone()),
    };
    live.lease
        .exec(deadline, cookies)
        .await
        .map_err(|_| "clearing cookies")?;
    for origin in origins {
        let params = ClearDataForOriginParams::new(origin.clone(), STORAGE_TYPES);
        tab.exec("clearing storage", params)
            .await
            .map_err(|_| "clearing storage")?;
    }
    Ok(())
}

/// `scheme://host[:port]` of an http(s) URL; `None` for about:blank and the like,
/// which have no storage to clear.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_of_web_urls_only() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/a/b?c#d").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            origin_of("https://example.com/").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(origin_of("about:blank"), None);
        assert_eq!(origin_of("not a url"), None);
    }
}

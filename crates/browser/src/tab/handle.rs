//! One browser tab as a context holds it: the chromiumoxide page, the watcher that
//! answers its dialogs and logs its console and network, and the snapshot refs
//! handed out for it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::target::CreateTargetParams;

use super::cdp::Tab;
use super::refs::RefMap;
use super::watch::{PageWatch, Watcher, watch};
use crate::process::{ChromeProcess, Gate};

pub(crate) struct TabHandle {
    pub(crate) page: Page,
    pub(crate) watch: Arc<PageWatch>,
    pub(crate) refs: Mutex<RefMap>,
    gate: Option<Arc<Gate>>,
    _watcher: Watcher,
}

impl TabHandle {
    /// Starts watching `page` (a tab we opened, or one the page opened), and
    /// filtering its requests through `gate` when there is one.
    pub(crate) async fn attach(
        page: Page,
        deadline: Duration,
        gate: Option<Arc<Gate>>,
    ) -> Result<TabHandle, String> {
        let state = Arc::new(PageWatch::default());
        let watcher = watch(&page, state.clone(), deadline, gate.clone()).await?;
        Ok(TabHandle {
            page,
            watch: state,
            refs: Mutex::new(RefMap::default()),
            gate,
            _watcher: watcher,
        })
    }

    /// Opens a blank tab in `context`, watched and filtered by the process's gate.
    pub(crate) async fn open(
        process: &ChromeProcess,
        context: BrowserContextId,
        deadline: Duration,
    ) -> Result<TabHandle, String> {
        Self::open_with(process, context, deadline, process.gate.clone()).await
    }

    /// Opens a blank tab whose requests we answer ourselves (no gate).
    pub(crate) async fn open_unfiltered(
        process: &ChromeProcess,
        context: BrowserContextId,
        deadline: Duration,
    ) -> Result<TabHandle, String> {
        Self::open_with(process, context, deadline, None).await
    }

    async fn open_with(
        process: &ChromeProcess,
        context: BrowserContextId,
        deadline: Duration,
        gate: Option<Arc<Gate>>,
    ) -> Result<TabHandle, String> {
        let mut params = CreateTargetParams::new("about:blank");
        params.browser_context_id = Some(context);
        let page = match tokio::time::timeout(deadline, process.browser().new_page(params)).await {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("Chromium did not open a tab in time".into()),
        };
        match TabHandle::attach(page.clone(), deadline, gate).await {
            Ok(tab) => Ok(tab),
            Err(e) => {
                let _ = tokio::time::timeout(deadline, page.close()).await;
                Err(e)
            }
        }
    }

    /// Makes the tab's next loads skip what a reader does not need (images,
    /// media, fonts, subframes), or load everything. With a host policy every
    /// request is paused already; otherwise the first skipping read asks
    /// Chromium to pause those kinds (one round trip per tab).
    pub(crate) async fn skip_for_reading(
        &self,
        skip: bool,
        deadline: Duration,
    ) -> Result<(), String> {
        use std::sync::atomic::Ordering;
        self.watch.set_skipping(skip);
        if !skip || self.gate.is_some() || self.watch.pausing_skippable.load(Ordering::Acquire) {
            return Ok(());
        }
        let enable = super::cdp::raw("Fetch.enable", super::watch::skippable_patterns());
        match tokio::time::timeout(deadline, self.page.execute(enable)).await {
            Ok(Ok(_)) => {
                self.watch.pausing_skippable.store(true, Ordering::Release);
                Ok(())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("Chromium did not enable request filtering in time".into()),
        }
    }

    /// The tab as operations see it.
    pub(crate) fn tab(&self, cdp_timeout: Duration) -> Tab<'_> {
        Tab {
            page: &self.page,
            cdp_timeout,
            watch: &self.watch,
            refs: &self.refs,
            gate: self.gate.as_deref(),
        }
    }

    pub(crate) async fn close(self, deadline: Duration) {
        let _ = tokio::time::timeout(deadline, self.page.close()).await;
    }
}

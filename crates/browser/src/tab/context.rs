//! A browser context as tab-level code sees it: the process serving it and the
//! context's id. Commands scoped to one context that go to the browser rather
//! than to a tab (its cookie jar, a new tab in it, its pages' targets) go
//! through here, so operations reach them without knowing processes or the
//! context layer's books.

use std::time::Duration;

use browserfarm_protocol::{ErrorKind, JobError};
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use serde_json::Value;

use super::cdp::raw;
use super::handle::TabHandle;
use crate::process::ChromeProcess;
use crate::process::chrome::BrowserCallError;

#[derive(Clone, Copy)]
pub(crate) struct ContextRef<'a> {
    pub process: &'a ChromeProcess,
    pub id: &'a BrowserContextId,
}

impl ContextRef<'_> {
    /// Runs a browser-level command as plain JSON under `deadline`; a failure is
    /// the caller's error, naming what was being done (`during`).
    pub(crate) async fn call(
        &self,
        deadline: Duration,
        during: &str,
        method: &'static str,
        params: Value,
    ) -> Result<Value, JobError> {
        self.process
            .exec(deadline, raw(method, params))
            .await
            .map_err(|e| match e {
                BrowserCallError::Refused(e) => JobError::new(
                    ErrorKind::Internal,
                    format!("Chromium refused {during}: {e}"),
                ),
                BrowserCallError::Timeout => JobError::new(
                    ErrorKind::Timeout,
                    format!("Chromium did not finish {during} in time"),
                ),
            })
    }

    /// Opens a blank tab in this context whose requests we answer ourselves
    /// (no gate).
    pub(crate) async fn open_unfiltered_tab(
        &self,
        deadline: Duration,
    ) -> Result<TabHandle, String> {
        TabHandle::open_unfiltered(self.process, self.id.clone(), deadline).await
    }
}

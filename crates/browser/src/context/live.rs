//! A session's hold on Chromium ([`Live`]): one incognito browser context in a
//! process it may share with other sessions (see [`super::packing`]), and its
//! tabs. Opening one admits it against the session limit and the memory
//! guard, seats it in a process with room, and opens its context and first tab
//! (or takes the spare, or a scratch context nobody used). Cookies and storage
//! never cross contexts; the tabs persist across jobs so an agent can
//! navigate, then click, then read.
//!
//! A one-off host's context is a `Live` too (no seat, no downloads), lent to
//! one job at a time (see [`super::oneoff`]).

use std::sync::Arc;
use std::time::Duration;

use browserfarm_protocol::{EmulateArgs, ErrorKind, JobError, JobOutput};
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::target::CreateBrowserContextParams;

use super::downloads::Downloads;
use super::packing::{Admission, Seat};
use super::pool::Pool;
use super::scratch::Scratch;
use crate::ops::{emulate, navigate};
use crate::process::{Lease, capacity};
use crate::tab::{ContextRef, OpResult, TabHandle};

/// A session's hold on Chromium: the leased process, its context and tabs.
pub(crate) struct Live {
    /// Shared with the other sessions of its process (see [`super::packing`]),
    /// or with the other jobs of a one-off host (see [`super::oneoff`]).
    pub(crate) lease: Arc<Lease>,
    /// A session's place in its process (or the spare's), given up when it is
    /// dropped; none for a one-off host's context.
    pub(crate) seat: Option<Seat>,
    pub(crate) context: BrowserContextId,
    /// Never empty; `tabs[current]` is the tab jobs act on.
    pub(crate) tabs: Vec<TabHandle>,
    pub(crate) current: usize,
    /// Jobs run in this context (counts toward retiring a scratch context).
    pub(crate) uses: u32,
    /// What `emulate` set, applied to every tab including later ones.
    pub(crate) emulation: EmulateArgs,
    /// The pool's viewport, what `emulate` returns to on reset.
    pub(crate) viewport: (u32, u32),
    /// Files the context's pages downloaded.
    pub(crate) downloads: Downloads,
}

impl Live {
    /// Opens a fresh context and tab in a process with room for one more
    /// session, leasing one when none has, or takes a context opened ahead that
    /// no job used.
    pub(crate) async fn open(pool: &Pool) -> Result<Live, JobError> {
        let config = pool.config();
        let deadline = config.cdp_timeout;
        let per_browser = config.sessions_per_browser.max(1);
        let admission = match pool.spare().take(admit(pool)?, per_browser) {
            Ok(spare) => {
                tracing::debug!(
                    pid = spare.lease.pid(),
                    "session opened on the spare context"
                );
                return Ok(spare);
            }
            Err(admission) => admission,
        };
        // A process can die between leases without the pool noticing; one retry on
        // a fresh process hides that from the caller.
        let mut last_error = None;
        let mut admission = Some(admission);
        for _ in 0..2 {
            let admission = match admission.take() {
                Some(admission) => admission,
                None => admit(pool)?,
            };
            let (lease, seat) = seat(pool, admission).await?;
            let opening = seat.opening().await;
            let context = match Scratch::take_unused(&lease, deadline).await {
                Some(opened_ahead) => Ok(opened_ahead),
                None => open_context(&lease, deadline).await,
            };
            let opened = match context {
                Ok((context, tab)) => {
                    Downloads::start(&lease, &context, &tab.page, pool.config(), deadline)
                        .await
                        .map(|downloads| (context, tab, downloads))
                }
                Err(e) => Err(e),
            };
            drop(opening);
            match opened {
                Ok((context, tab, downloads)) => {
                    return Ok(Live::new(pool, lease, Some(seat), context, tab, downloads));
                }
                Err(e) => {
                    // A process of its own that cannot open a tab is suspect; one
                    // shared with other sessions may only be busy, and they
                    // should not pay for this one's deadline.
                    if seat.alone() {
                        lease.mark_broken();
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(no_tab(last_error))
    }

    /// A session's hold on a context just opened with its first tab.
    pub(crate) fn new(
        pool: &Pool,
        lease: Arc<Lease>,
        seat: Option<Seat>,
        context: BrowserContextId,
        tab: TabHandle,
        downloads: Downloads,
    ) -> Live {
        Live {
            lease,
            seat,
            context,
            tabs: vec![tab],
            current: 0,
            uses: 0,
            emulation: EmulateArgs::default(),
            viewport: pool.config().viewport,
            downloads,
        }
    }

    /// Whether no other session shares this one's process (for the spare:
    /// no session at all).
    pub(crate) fn alone(&self) -> bool {
        self.seat.as_ref().is_some_and(Seat::alone)
    }

    /// Whether this one's process holds as many sessions as it may.
    pub(crate) fn crowded(&self, pool: &Pool) -> bool {
        self.seat
            .as_ref()
            .is_some_and(|seat| seat.full(pool.config().sessions_per_browser.max(1)))
    }

    /// The tab jobs act on.
    pub(crate) fn tab(&self) -> &TabHandle {
        &self.tabs[self.current]
    }

    /// The context as operations see it (its cookie jar, new tabs in it).
    pub(crate) fn context_ref(&self) -> ContextRef<'_> {
        ContextRef {
            process: &self.lease,
            id: &self.context,
        }
    }

    /// `emulate`: merges `args` over what the session emulates, applies the
    /// result to every tab, and keeps it for tabs opened later.
    pub(crate) async fn emulate(
        &mut self,
        args: &EmulateArgs,
        deadline: Duration,
    ) -> OpResult<JobOutput> {
        let merged = args.merged_over(&self.emulation);
        for tab in &self.tabs {
            emulate::apply(tab.tab(deadline), &merged, self.viewport).await?;
        }
        let effect = emulate::effect(&merged, self.viewport);
        self.emulation = merged;
        let page = navigate::page_info(self.tab().tab(deadline), None).await?;
        Ok(JobOutput::Acted { page, effect })
    }

    /// Opens a tab in this context with the session's emulation applied.
    pub(crate) async fn open_tab(&self, deadline: Duration) -> Result<TabHandle, String> {
        let tab = TabHandle::open(&self.lease, self.context.clone(), deadline).await?;
        if self.emulation != EmulateArgs::default()
            && emulate::apply(tab.tab(deadline), &self.emulation, self.viewport)
                .await
                .is_err()
        {
            tab.close(deadline).await;
            return Err("could not apply the session's emulation to a new tab".into());
        }
        Ok(tab)
    }

    /// Replaces the current tab with a blank one (same context, cookies kept).
    pub(crate) async fn replace_tab(&mut self, deadline: Duration) -> Result<(), String> {
        let tab = self.open_tab(deadline).await?;
        let old = std::mem::replace(&mut self.tabs[self.current], tab);
        old.close(deadline).await;
        Ok(())
    }

    pub(crate) async fn close(self, deadline: Duration) {
        dispose_context(&self.lease, self.context, deadline).await;
    }
}

/// Admits one more session: refused past `max_sessions` or while memory is
/// short. Even a seat in a running process costs a renderer, so a machine
/// short of memory takes no new session at all (reading /proc/meminfo is cheap).
fn admit(pool: &Pool) -> Result<Admission, JobError> {
    let admission = pool
        .session_hosts()
        .admit(pool.sessions().max)
        .ok_or_else(|| full(pool))?;
    match capacity::memory_refusal(pool.config().min_free_memory) {
        Some(refusal) => Err(JobError::new(ErrorKind::Unavailable, refusal)),
        None => Ok(admission),
    }
}

/// A place for one more session, admitted by `admission`: in a process that
/// has room, or in one leased for it.
async fn seat(pool: &Pool, admission: Admission) -> Result<(Arc<Lease>, Seat), JobError> {
    let config = pool.config();
    let (per_browser, max_leases) = (config.sessions_per_browser.max(1), config.max_leases.max(1));
    let hosts = pool.session_hosts();
    let admission = match hosts.seat(per_browser, max_leases, admission) {
        Ok(seated) => return Ok(seated),
        Err(admission) => admission,
    };
    let _leasing = hosts.leasing().await;
    let admission = match hosts.seat(per_browser, max_leases, admission) {
        Ok(seated) => return Ok(seated),
        Err(admission) => admission,
    };
    let lease = pool.lease().await.map_err(|e| {
        if e.kind == ErrorKind::Unavailable && e.message.contains("max_browsers") {
            full(pool)
        } else {
            e
        }
    })?;
    let lease = Arc::new(lease);
    let seat = hosts.add(&lease, admission);
    Ok((lease, seat))
}

/// The error of a session that found no room: the server holds as many
/// sessions as its limits allow (or every process is busy with one-off jobs),
/// so the limits to raise are named.
fn full(pool: &Pool) -> JobError {
    let sessions = pool.sessions();
    let config = pool.config();
    JobError::new(
        ErrorKind::Unavailable,
        format!(
            "no room for another browser session: {} sessions are open in {} browsers, and \
             this server holds at most {} (--max-sessions {}, --max-browsers {} × \
             --sessions-per-browser {}); close a session (close_session) or retry shortly",
            sessions.open,
            sessions.processes,
            sessions.max,
            config.max_sessions,
            config.max_browsers,
            config.sessions_per_browser
        ),
    )
}

/// Disposes a browser context with its tabs. A context we cannot dispose may
/// keep cookies alive in its process: the process is then retired rather than
/// handed to anyone else.
pub(crate) async fn dispose_context(lease: &Lease, context: BrowserContextId, deadline: Duration) {
    if !lease.is_healthy() {
        return;
    }
    let disposed =
        tokio::time::timeout(deadline, lease.browser().dispose_browser_context(context)).await;
    if !matches!(disposed, Ok(Ok(()))) {
        lease.mark_broken();
    }
}

/// Why no tab could be opened after the retries of a fresh lease.
pub(crate) fn no_tab(last_error: Option<String>) -> JobError {
    JobError::new(
        ErrorKind::Unavailable,
        format!(
            "could not open a browser tab: {}",
            last_error.unwrap_or_else(|| "unknown error".into())
        ),
    )
}

pub(crate) async fn open_context(
    lease: &Lease,
    deadline: Duration,
) -> Result<(BrowserContextId, TabHandle), String> {
    let browser = lease.browser();
    lease.count_context();
    let params = CreateBrowserContextParams {
        dispose_on_detach: Some(true),
        ..Default::default()
    };
    let context = match tokio::time::timeout(deadline, browser.create_browser_context(params)).await
    {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("Chromium did not create a context in time".into()),
    };
    let tab = TabHandle::open(lease, context.clone(), deadline).await?;
    Ok((context, tab))
}

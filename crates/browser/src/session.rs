//! A session: one incognito browser context in a Chromium it may share with
//! other sessions (see [`crate::packing`]), and its tabs. Cookies and storage
//! never cross sessions; the tab persists across jobs so an agent can navigate,
//! then click, then read.
//!
//! When Chromium misbehaves the session recovers and tells the caller plainly: a
//! crashed or hung tab is replaced within the same context (cookies kept); a
//! crashed or hung browser is marked broken and the session moves to a fresh one
//! on its next job (page and cookies lost).

use std::sync::Arc;
use std::time::Duration;

use browserfarm_protocol::{EmulateArgs, ErrorKind, JobError, JobOutput, Operation};
use chromiumoxide::cdp::browser_protocol::browser::{BrowserContextId, GetVersionParams};
use chromiumoxide::cdp::browser_protocol::target::CreateBrowserContextParams;

use crate::cdp::{Fault, OpError, Tab};
use crate::downloads::Downloads;
use crate::pool::{Lease, Pool};
use crate::tab::TabHandle;
use crate::{emulate, jobs};

use crate::jobs::EVALUATING;

/// Deadline for the probes that tell a hung tab from a hung browser.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Session {
    pool: Pool,
    live: Option<Live>,
    /// The browser died between jobs; the next job that needs page state is told.
    lost_state: bool,
    closed: bool,
}

/// A session's hold on Chromium: the leased process, its context and tabs.
pub(crate) struct Live {
    /// Shared with the other sessions of its process (see [`crate::packing`]),
    /// or with the other jobs of a one-off host (see [`crate::stateless`]).
    pub(crate) lease: Arc<Lease>,
    /// A session's place in its process (or the spare's), given up when it is
    /// dropped; none for a one-off host's context.
    pub(crate) seat: Option<crate::packing::Seat>,
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

impl Session {
    /// Leases a browser and opens a fresh incognito context with one blank tab.
    pub async fn open(pool: &Pool) -> Result<Session, JobError> {
        let live = Live::open(pool).await?;
        Ok(Session::with(pool, live))
    }

    pub(crate) fn with(pool: &Pool, live: Live) -> Session {
        Session {
            pool: pool.clone(),
            live: Some(live),
            lost_state: false,
            closed: false,
        }
    }

    /// Runs one operation outside any session. One that loads its own page runs
    /// on a warm tab of a scratch context, shared with the jobs of the same
    /// `group` running at that moment and wiped once they are all done (see
    /// [`crate::stateless`]); anything else gets a fresh context of its own.
    pub async fn run_once(
        pool: &Pool,
        op: &Operation,
        group: Option<&str>,
    ) -> Result<JobOutput, JobError> {
        op.validate()?;
        // Only a job that loads its own page may reuse a tab: anything else would
        // act on the page the previous job left behind.
        let Some(url) = op.url() else {
            let mut session = Session::open(pool).await?;
            let result = session.run(op).await;
            session.close().await;
            return result;
        };
        crate::stateless::run(pool, op, url, group).await
    }

    /// Takes the session's hold on Chromium, leaving it closed.
    pub(crate) fn take_live(&mut self) -> Option<Live> {
        self.closed = true;
        self.live.take()
    }

    /// Process id of the Chromium serving this session (for diagnostics and tests).
    pub fn browser_pid(&self) -> Option<u32> {
        self.live.as_ref().and_then(|l| l.lease.pid())
    }

    /// Chromium's product string, e.g. `Chrome/156.0.8078.108` (for diagnostics).
    pub async fn browser_version(&self) -> Result<String, JobError> {
        let live = self
            .live
            .as_ref()
            .ok_or_else(|| JobError::internal("session is closed"))?;
        match tokio::time::timeout(PROBE_TIMEOUT, live.lease.browser().version()).await {
            Ok(Ok(v)) => Ok(v.product),
            Ok(Err(e)) => Err(JobError::new(ErrorKind::Unavailable, e.to_string())),
            Err(_) => Err(JobError::new(
                ErrorKind::Timeout,
                "Chromium did not report its version",
            )),
        }
    }

    /// Runs one operation in this session's tab.
    pub async fn run(&mut self, op: &Operation) -> Result<JobOutput, JobError> {
        op.validate()?;
        if self.closed {
            return Err(JobError::new(
                ErrorKind::SessionNotFound,
                "this session was closed",
            ));
        }
        if self.live.as_ref().is_some_and(|l| !l.lease.is_healthy()) {
            self.live = None;
            self.lost_state = true;
        }
        if self.live.is_none() {
            self.live = Some(Live::open(&self.pool).await?);
        }
        if std::mem::take(&mut self.lost_state) && op.url().is_none() {
            return Err(JobError::new(
                ErrorKind::BrowserCrashed,
                "the browser behind this session crashed and was replaced; the current page \
                 and cookies were lost. Navigate again, then retry this call.",
            ));
        }
        let live = self.live.as_mut().expect("opened above");
        let limits = self.pool.config();
        // A renderer that crashed between calls would only time out the next
        // command: replace its tab now, and say so unless the call loads a page.
        if live.tab().watch.crashed() {
            if live.replace_tab(limits.cdp_timeout).await.is_err() {
                return Err(self
                    .recover("replacing a crashed tab", Fault::TabCrashed)
                    .await);
            }
            if op.url().is_none() {
                return Err(JobError::new(
                    ErrorKind::PageCrashed,
                    "the tab crashed since the last call (its page may have run out of memory); \
                     it was replaced by a blank tab, cookies kept. Navigate again, then retry.",
                ));
            }
        }
        let live = self.live.as_mut().expect("opened above");
        let started = std::time::Instant::now();
        let result = jobs::execute(live, op, limits).await;
        if let Some(live) = self.live.as_mut() {
            live.uses += 1;
        }
        tracing::debug!(op = op.name(), elapsed = ?started.elapsed(), ok = result.is_ok(), "job");
        match result {
            Ok(output) => Ok(output),
            Err(OpError::Job(e)) => Err(e),
            Err(OpError::ResetTab(e)) => {
                let cdp_timeout = limits.cdp_timeout;
                let live = self.live.as_mut().expect("opened above");
                match live.replace_tab(cdp_timeout).await {
                    Ok(()) => Err(e),
                    Err(_) => Err(self.recover("resetting a stuck tab", Fault::Timeout).await),
                }
            }
            Err(OpError::Fault { during, fault }) => Err(self.recover(during, fault).await),
        }
    }

    /// Lets go of a process that crashed or hung, so its place in the pool goes
    /// to a replacement without waiting for this session's next call (which
    /// then opens a fresh context and says the page state was lost). Cheap: the
    /// owner of many sessions calls it on each of them periodically, since a
    /// dead process stays leased until its last session lets go.
    pub fn release_if_broken(&mut self) -> bool {
        if self.live.as_ref().is_some_and(|l| !l.lease.is_healthy()) {
            self.live = None;
            self.lost_state = true;
            return true;
        }
        false
    }

    /// Disposes the context (closing its tabs) and returns the browser to the pool.
    /// Idempotent; later jobs in this session fail with `SessionNotFound`.
    pub async fn close(&mut self) {
        self.closed = true;
        if let Some(live) = self.live.take() {
            live.close(self.pool.config().cdp_timeout).await;
        }
        self.pool.spare().let_go_if_unused(&self.pool).await;
    }

    /// Diagnoses a browser fault, repairs what it can, and explains the outcome.
    async fn recover(&mut self, during: &'static str, fault: Fault) -> JobError {
        let Some(live) = self.live.as_mut() else {
            return JobError::internal(format!("browser fault while {during} with no browser"));
        };
        let cdp_timeout = self.pool.config().cdp_timeout;
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
                    return JobError::internal(format!(
                        "Chromium reported an error while {during}: {msg}; retry the call"
                    ));
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
                    return JobError::new(ErrorKind::Timeout, message);
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
            return JobError::new(
                ErrorKind::PageCrashed,
                format!(
                    "the tab crashed or stopped responding while {during} (a page script may \
                     be stuck); it was replaced by a blank tab, cookies kept. Navigate again, \
                     then retry."
                ),
            );
        }
        tracing::warn!(
            during,
            ?fault,
            pid = live.lease.pid(),
            "Chromium crashed or hung; replacing it"
        );
        live.lease.mark_broken();
        self.live = None;
        JobError::new(
            ErrorKind::BrowserCrashed,
            format!(
                "Chromium crashed or stopped responding while {during}{detail}; it has been replaced, \
                 but this session's page and cookies were lost. Navigate again, then retry."
            ),
        )
    }
}

impl Live {
    /// Opens a fresh context and tab in a process with room for one more
    /// session, leasing one when none has, or takes a context opened ahead that
    /// no job used.
    async fn open(pool: &Pool) -> Result<Live, JobError> {
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
            let context = match crate::stateless::Scratch::take_unused(&lease, deadline).await {
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
        seat: Option<crate::packing::Seat>,
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
        self.seat.as_ref().is_some_and(crate::packing::Seat::alone)
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
fn admit(pool: &Pool) -> Result<crate::packing::Admission, JobError> {
    let admission = pool
        .session_hosts()
        .admit(pool.sessions().max)
        .ok_or_else(|| full(pool))?;
    match crate::capacity::memory_refusal(pool.config().min_free_memory) {
        Some(refusal) => Err(JobError::new(ErrorKind::Unavailable, refusal)),
        None => Ok(admission),
    }
}

/// A place for one more session, admitted by `admission`: in a process that
/// has room, or in one leased for it.
async fn seat(
    pool: &Pool,
    admission: crate::packing::Admission,
) -> Result<(Arc<Lease>, crate::packing::Seat), JobError> {
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
    lease
        .contexts_opened
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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

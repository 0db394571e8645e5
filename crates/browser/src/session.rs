//! A session: one leased Chromium, one incognito browser context in it, one tab.
//! Cookies and storage never cross sessions; the tab persists across jobs so an
//! agent can navigate, then click, then read.
//!
//! When Chromium misbehaves the session recovers and tells the caller plainly: a
//! crashed or hung tab is replaced within the same context (cookies kept); a
//! crashed or hung browser is marked broken and the session moves to a fresh one
//! on its next job (page and cookies lost).

use std::time::Duration;

use browserfarm_protocol::{
    DEFAULT_MAX_CHARS, ErrorKind, JobError, JobOutput, Operation, PageInfo, Scraped, WaitUntil,
};
use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::{BrowserContextId, GetVersionParams};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};

use crate::cdp::{Fault, OpError, OpResult, Tab};
use crate::pool::{Lease, Pool};
use crate::{extract, interact, navigate, screenshot};

/// What `evaluate` is doing, as named in fault messages.
const EVALUATING: &str = "evaluating the expression";

/// Deadline for the probes that tell a hung tab from a hung browser.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Session {
    pool: Pool,
    live: Option<Live>,
    /// The browser died between jobs; the next job that needs page state is told.
    lost_state: bool,
    closed: bool,
}

/// A session's hold on Chromium: the leased process, its context and tab.
pub(crate) struct Live {
    pub(crate) lease: Lease,
    pub(crate) context: BrowserContextId,
    pub(crate) page: Page,
    /// Jobs run in this context (counts toward retiring a scratch context).
    pub(crate) uses: u32,
}

impl Session {
    /// Leases a browser and opens a fresh incognito context with one blank tab.
    pub async fn open(pool: &Pool) -> Result<Session, JobError> {
        let live = Live::open(pool, false).await?;
        Ok(Session::with(pool, live))
    }

    fn with(pool: &Pool, live: Live) -> Session {
        Session {
            pool: pool.clone(),
            live: Some(live),
            lost_state: false,
            closed: false,
        }
    }

    /// Runs one operation outside any session, on a leased process's warm scratch
    /// tab, which is wiped after the result is in (see [`crate::stateless`]).
    pub async fn run_once(pool: &Pool, op: &Operation) -> Result<JobOutput, JobError> {
        op.validate()?;
        // Only a job that loads its own page may reuse a tab: anything else would
        // act on the page the previous job left behind.
        let Some(url) = op.url() else {
            let mut session = Session::open(pool).await?;
            let result = session.run(op).await;
            session.close().await;
            return result;
        };
        let mut session = Session::with(pool, Live::open(pool, true).await?);
        let result = session.run(op).await;
        if let Some(live) = session.live.take() {
            let wipe = crate::stateless::wipe(live, url.to_owned(), pool.config().cdp_timeout);
            pool.spawn_tracked(wipe);
        }
        result
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
            self.live = Some(Live::open(&self.pool, false).await?);
        }
        if std::mem::take(&mut self.lost_state) && op.url().is_none() {
            return Err(JobError::new(
                ErrorKind::BrowserCrashed,
                "the browser behind this session crashed and was replaced; the current page \
                 and cookies were lost. Navigate again, then retry this call.",
            ));
        }
        let live = self.live.as_ref().expect("opened above");
        let limits = self.pool.config();
        let tab = Tab {
            page: &live.page,
            cdp_timeout: limits.cdp_timeout,
        };
        let started = std::time::Instant::now();
        let result = execute(tab, op, limits).await;
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

    /// Disposes the context (closing its tabs) and returns the browser to the pool.
    /// Idempotent; later jobs in this session fail with `SessionNotFound`.
    pub async fn close(&mut self) {
        self.closed = true;
        if let Some(live) = self.live.take() {
            live.close(self.pool.config().cdp_timeout).await;
        }
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
                let tab = Tab {
                    page: &live.page,
                    cdp_timeout: PROBE_TIMEOUT,
                };
                if tab
                    .eval::<serde_json::Value>("probing the tab", "1")
                    .await
                    .is_ok()
                {
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
            && tokio::time::timeout(
                PROBE_TIMEOUT,
                live.lease.browser().execute(GetVersionParams {}),
            )
            .await
            .is_ok_and(|r| r.is_ok());
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
    /// Leases a process and opens a fresh context and tab in it, or, with
    /// `scratch`, takes over the process's warm scratch tab when it has one.
    async fn open(pool: &Pool, scratch: bool) -> Result<Live, JobError> {
        let deadline = pool.config().cdp_timeout;
        // A process can die between leases without the pool noticing; one retry on
        // a fresh process hides that from the caller.
        let mut last_error = None;
        for _ in 0..2 {
            let mut lease = pool.lease().await?;
            if scratch && let Some(warm) = lease.take_scratch() {
                match warm.resume(lease, deadline).await {
                    Ok(live) => return Ok(live),
                    Err(back) => lease = back,
                }
            }
            match open_context(&lease, deadline).await {
                Ok((context, page)) => {
                    return Ok(Live {
                        lease,
                        context,
                        page,
                        uses: 0,
                    });
                }
                Err(e) => {
                    lease.mark_broken();
                    last_error = Some(e);
                }
            }
        }
        Err(JobError::new(
            ErrorKind::Unavailable,
            format!(
                "could not open a browser tab: {}",
                last_error.unwrap_or_else(|| "unknown error".into())
            ),
        ))
    }

    pub(crate) async fn replace_tab(&mut self, deadline: Duration) -> Result<(), String> {
        let page = new_tab(&self.lease, self.context.clone(), deadline).await?;
        let old = std::mem::replace(&mut self.page, page);
        let _ = tokio::time::timeout(deadline, old.close()).await;
        Ok(())
    }

    pub(crate) async fn close(self, deadline: Duration) {
        if !self.lease.is_healthy() {
            return;
        }
        let disposed = tokio::time::timeout(
            deadline,
            self.lease.browser().dispose_browser_context(self.context),
        )
        .await;
        if !matches!(disposed, Ok(Ok(()))) {
            // A context we cannot dispose may keep cookies alive in this process:
            // retire the process rather than hand it to another session.
            self.lease.mark_broken();
        }
    }
}

async fn open_context(
    lease: &Lease,
    deadline: Duration,
) -> Result<(BrowserContextId, Page), String> {
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
    let page = new_tab(lease, context.clone(), deadline).await?;
    Ok((context, page))
}

async fn new_tab(
    lease: &Lease,
    context: BrowserContextId,
    deadline: Duration,
) -> Result<Page, String> {
    let mut params = CreateTargetParams::new("about:blank");
    params.browser_context_id = Some(context);
    match tokio::time::timeout(deadline, lease.browser().new_page(params)).await {
        Ok(Ok(page)) => Ok(page),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("Chromium did not open a tab in time".into()),
    }
}

/// The tab's current URL for messages, without a CDP round trip (chromiumoxide
/// tracks it from frame events).
async fn current_url(tab: Tab<'_>) -> String {
    match tokio::time::timeout(PROBE_TIMEOUT, tab.page.url()).await {
        Ok(Ok(Some(url))) => url,
        _ => "the current page".to_owned(),
    }
}

fn timeout_or(ms: Option<u64>, default: Duration) -> Duration {
    ms.map(Duration::from_millis).unwrap_or(default)
}

async fn execute(tab: Tab<'_>, op: &Operation, limits: &crate::PoolConfig) -> OpResult<JobOutput> {
    let nav_timeout = limits.navigation_timeout;
    match op {
        Operation::Navigate(a) => {
            let wait = a.wait_until.unwrap_or_default();
            let status =
                navigate::navigate(tab, &a.url, wait, timeout_or(a.timeout_ms, nav_timeout))
                    .await?;
            Ok(JobOutput::Navigated {
                page: navigate::page_info(tab, status).await?,
            })
        }
        Operation::Screenshot(a) => {
            let status = match &a.url {
                Some(url) => navigate::navigate(tab, url, WaitUntil::Load, nav_timeout).await?,
                None => None,
            };
            let page = navigate::page_info(tab, status).await?;
            let image = screenshot::capture(tab, a, &page.url).await?;
            Ok(JobOutput::Screenshot { page, image })
        }
        Operation::Scrape(a) => {
            let status = match &a.url {
                Some(url) => navigate::navigate(tab, url, WaitUntil::Load, nav_timeout).await?,
                None => None,
            };
            let format = a.format.unwrap_or_default();
            let main_content = a.main_content.unwrap_or(true);
            let source: extract::Source = tab
                .eval(
                    "reading the page",
                    &extract::source_js(format, main_content),
                )
                .await?;
            let max_chars = a.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
            let (page, content, truncated_chars) = tokio::task::spawn_blocking(move || {
                let rendered = extract::render(&source, format, main_content);
                let (content, dropped) = extract::truncate(rendered, max_chars);
                (
                    PageInfo {
                        url: source.url,
                        status,
                        title: source.title,
                    },
                    content,
                    dropped,
                )
            })
            .await
            .map_err(|e| JobError::internal(format!("content extraction failed: {e}")))?;
            Ok(JobOutput::Scraped(Scraped {
                page,
                format,
                content,
                truncated_chars,
            }))
        }
        Operation::Click(a) => {
            let url = current_url(tab).await;
            interact::click(tab, &a.selector, &url, nav_timeout).await?;
            Ok(JobOutput::Clicked {
                page: navigate::page_info(tab, None).await?,
            })
        }
        Operation::Type(a) => {
            let url = current_url(tab).await;
            let submit = a.submit.unwrap_or(false);
            interact::type_text(tab, &a.selector, &a.text, submit, &url, nav_timeout).await?;
            Ok(JobOutput::Typed {
                page: navigate::page_info(tab, None).await?,
            })
        }
        Operation::Evaluate(a) => {
            let started = std::time::Instant::now();
            let result = tab
                .eval_value(EVALUATING, &a.expression, Some(limits.script_timeout))
                .await;
            // V8 reports a script stopped by the CDP timeout as a bare internal error.
            let overran = started.elapsed() >= limits.script_timeout;
            match result {
                Err(OpError::Fault {
                    fault: Fault::Protocol(_),
                    ..
                }) if overran => Err(script_timed_out(limits.script_timeout).into()),
                Ok(value) => Ok(JobOutput::Evaluated { value }),
                Err(OpError::Job(e)) if e.kind == ErrorKind::Script => {
                    Err(script_error(e, limits.script_timeout).into())
                }
                Err(OpError::Fault {
                    fault: Fault::Protocol(msg),
                    ..
                }) => Err(JobError::new(
                    ErrorKind::Script,
                    format!(
                        "the result could not be returned ({msg}); return plain JSON data, \
                         e.g. wrap it in JSON.parse(JSON.stringify(...)) or pick fields"
                    ),
                )
                .into()),
                Err(other) => Err(other),
            }
        }
    }
}

fn script_timed_out(script_timeout: Duration) -> JobError {
    JobError::new(
        ErrorKind::Timeout,
        format!(
            "the script ran longer than {} ms and was stopped; the page is still usable",
            script_timeout.as_millis()
        ),
    )
}

fn script_error(e: JobError, script_timeout: Duration) -> JobError {
    if e.message.contains("Execution was terminated") {
        script_timed_out(script_timeout)
    } else {
        JobError::new(
            ErrorKind::Script,
            format!("JavaScript error: {}", e.message),
        )
    }
}

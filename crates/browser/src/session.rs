//! The top of the crate: a session as other crates use it. It runs each job
//! through the dispatcher ([`crate::jobs`]) on its context ([`Live`]) and
//! turns what went wrong into an answer: a crashed or hung tab is replaced
//! within the same context (cookies kept); a crashed or hung browser is marked
//! broken and the session moves to a fresh one on its next job (page and
//! cookies lost). One-off jobs ([`Session::run_once`]) run the same way on a
//! one-off host's context.

use browserfarm_protocol::{ErrorKind, JobError, JobOutput, Operation};

use crate::context::live::Live;
use crate::context::oneoff;
use crate::context::pool::Pool;
use crate::context::recover::{PROBE_TIMEOUT, Recovery};
use crate::jobs;
use crate::tab::{Fault, OpError};

/// A browser session: one context of its own, kept across jobs, recovered
/// when Chromium fails under it.
pub struct Session {
    pool: Pool,
    live: Option<Live>,
    /// The browser died between jobs; the next job that needs page state is told.
    lost_state: bool,
    closed: bool,
    /// Runs one job and is thrown away ([`Session::run_once`]).
    one_off: bool,
}

impl Session {
    /// Leases a browser and opens a fresh incognito context with one blank tab.
    pub async fn open(pool: &Pool) -> Result<Session, JobError> {
        let live = Live::open(pool).await?;
        Ok(Session::with(pool, live))
    }

    fn with(pool: &Pool, live: Live) -> Session {
        Session {
            pool: pool.clone(),
            live: Some(live),
            lost_state: false,
            closed: false,
            one_off: false,
        }
    }

    /// Runs one operation outside any session. One that loads its own page runs
    /// on a warm tab of a scratch context, shared with the jobs of the same
    /// `group` running at that moment and wiped once they are all done (see
    /// [`crate::context::oneoff`]); anything else gets a fresh context of its own.
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
        let joined = oneoff::join(pool, group);
        let result = match joined.checkout().await {
            Ok(live) => {
                let mut session = Session::with(pool, live);
                session.one_off = true;
                let result = session.run(op).await;
                joined.give_back(session.take_live(), url).await;
                result
            }
            Err(e) => Err(e),
        };
        joined.finish();
        result
    }

    /// Takes the session's hold on Chromium, leaving it closed.
    fn take_live(&mut self) -> Option<Live> {
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
        let result = jobs::execute(live, op, limits, self.one_off).await;
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

    /// Diagnoses a browser fault, repairs what it can, and explains the outcome;
    /// lets go of the context when the browser went with it.
    async fn recover(&mut self, during: &'static str, fault: Fault) -> JobError {
        let Some(live) = self.live.as_mut() else {
            return JobError::internal(format!("browser fault while {during} with no browser"));
        };
        match live
            .recover(during, fault, self.pool.config().cdp_timeout)
            .await
        {
            Recovery::Kept(e) => e,
            Recovery::Lost(e) => {
                self.live = None;
                e
            }
        }
    }
}

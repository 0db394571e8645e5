//! One-off jobs (no session) on warm tabs, several at once in one process: the
//! hosts they run on. What a job runs is not this module's business: it takes a
//! place ([`join`]), a context and tab ([`Joined::checkout`]), and gives back
//! what it leaves ([`Joined::give_back`]).
//!
//! Opening an incognito context and a tab starts a renderer: several times the
//! cost of reading a small page. And Chromium reads pages far faster as several
//! tabs of one process than as one tab in each of several processes (measured on
//! two cores: 8 tabs of one context read about 2.5× the pages per second of 8
//! single-tab processes; 8 tabs in 8 contexts of one process are no better, each
//! context bringing its own window). So one-off jobs run on a *host*: one leased
//! process, one scratch context in it, and up to [`TABS_PER_HOST`] tabs.
//!
//! Jobs share a host only when they carry the same group (the MCP server gives
//! each `batch_scrape` call its own): they then share the context's cookies while
//! they run, like tabs of one browser. A job without a group has a host to itself.
//! When a host's last job ends, its pages are frozen (scripts disabled; leaving a
//! page for `about:blank` would cost the next job a fresh renderer) and the context
//! wiped (every cookie, and all storage of the origins its jobs opened); its tabs
//! are then parked in the process for the next host, and the process goes back to
//! the pool. A host ending with a context that has served [`SCRATCH_USES`] jobs
//! disposes it instead, which bounds what a wipe cannot reach (storage of
//! third-party frames, the HTTP cache). Work that needs a context nobody used
//! before runs in a session.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use browserfarm_protocol::JobError;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::emulation::SetScriptExecutionDisabledParams;
use chromiumoxide::cdp::browser_protocol::storage::{ClearCookiesParams, ClearDataForOriginParams};
use tokio::sync::OnceCell;

use super::downloads::Downloads;
use super::live::{Live, dispose_context, no_tab, open_context};
use super::pool::Pool;
use super::scratch::{Scratch, thaw};
use crate::process::Lease;
use crate::tab::TabHandle;

/// Jobs a scratch context serves before it is disposed and a fresh one made.
pub(crate) const SCRATCH_USES: u32 = 50;

/// Most jobs one host runs at once (tabs of one process). Past 8, pages of one
/// process no longer read faster on two cores; more jobs of the group open
/// another host in another process.
pub(crate) const TABS_PER_HOST: usize = 8;

/// How long a host whose jobs are all done waits for more of its group before
/// it is wiped and its process handed back.
const LINGER: Duration = Duration::from_millis(50);

/// Storage a wipe clears per origin (cookies are cleared for the whole context).
const STORAGE_TYPES: &str =
    "local_storage,indexeddb,websql,file_systems,service_workers,cache_storage";

/// The hosts serving groups right now, by group.
#[derive(Default)]
pub(crate) struct Hosts(Mutex<HashMap<String, Vec<Arc<Host>>>>);

impl Hosts {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Arc<Host>>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A host for one more job of `group`: one of the group's with room, or a
    /// new one (registered so the group's next jobs join it).
    fn join(&self, group: Option<&str>) -> Arc<Host> {
        let Some(group) = group else {
            return Arc::new(Host::new(None));
        };
        let mut hosts = self.lock();
        let of_group = hosts.entry(group.to_owned()).or_default();
        for host in of_group.iter() {
            // A host whose process failed to open or broke fails every job sent
            // to it; the group's next jobs start another.
            let usable = match host.ready.get() {
                Some(Ok(ready)) => ready.lease.is_healthy(),
                Some(Err(_)) => false,
                None => true,
            };
            if !usable {
                continue;
            }
            let mut state = host.state();
            if state.active < TABS_PER_HOST {
                state.active += 1;
                return host.clone();
            }
        }
        let host = Arc::new(Host::new(Some(group.to_owned())));
        of_group.push(host.clone());
        host
    }

    /// Whether `host` has no jobs; if so it is taken out of service (no job
    /// joins it any more) and must be retired.
    fn close_if_idle(&self, host: &Arc<Host>) -> bool {
        let mut hosts = self.lock();
        {
            let mut state = host.state();
            // Each job's leaving asks; only the first to find it idle retires it.
            if state.active > 0 || state.closed {
                return false;
            }
            state.closed = true;
        }
        if let Some(group) = &host.group
            && let Some(of_group) = hosts.get_mut(group)
        {
            of_group.retain(|h| !Arc::ptr_eq(h, host));
            if of_group.is_empty() {
                hosts.remove(group);
            }
        }
        true
    }
}

/// One process and its scratch context, running some jobs of one group.
struct Host {
    group: Option<String>,
    /// Leased and made ready by the first job; the group's others wait for it.
    ready: OnceCell<Result<Ready, JobError>>,
    state: Mutex<HostState>,
}

struct Ready {
    lease: Arc<Lease>,
    context: BrowserContextId,
}

#[derive(Default)]
struct HostState {
    /// Jobs that joined and have not left.
    active: usize,
    /// Tabs no job is using (thawed when taken).
    parked: Vec<TabHandle>,
    /// Jobs run in the context (retires it at [`SCRATCH_USES`]).
    uses: u32,
    /// Origins the host's jobs opened: what the wipe clears.
    origins: BTreeSet<String>,
    /// Out of service: being retired.
    closed: bool,
    /// A job was dropped half way, leaving a tab behind: dispose the context.
    tainted: bool,
}

impl Host {
    /// A host with its first job joined.
    fn new(group: Option<String>) -> Host {
        Host {
            group,
            ready: OnceCell::new(),
            state: Mutex::new(HostState {
                active: 1,
                ..Default::default()
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leases a process and takes over its parked scratch context, or opens one.
    /// A process can die between leases without the pool noticing; one retry on
    /// a fresh process hides that from the caller.
    async fn open(&self, pool: &Pool) -> Result<Ready, JobError> {
        let deadline = pool.config().cdp_timeout;
        let mut last_error = None;
        for _ in 0..2 {
            let lease = pool.lease().await?;
            tracing::debug!(group = ?self.group, pid = lease.pid(), "one-off host opened");
            if let Some(scratch) = Scratch::take(&lease) {
                // One thawed tab proves the process still answers.
                let mut tabs = scratch.tabs.into_iter();
                if let Some(tab) = tabs.next()
                    && thaw(&tab, deadline).await
                {
                    let mut state = self.state();
                    state.parked = std::iter::once(tab).chain(tabs).collect();
                    state.uses = scratch.uses;
                    return Ok(Ready {
                        lease: Arc::new(lease),
                        context: scratch.context,
                    });
                }
            }
            let opened = match open_context(&lease, deadline).await {
                // Nobody could fetch a one-off job's downloads: refuse them.
                Ok((context, tab)) => Downloads::deny(&lease, &context, deadline)
                    .await
                    .map(|()| (context, tab)),
                Err(e) => Err(e),
            };
            match opened {
                Ok((context, tab)) => {
                    self.state().parked.push(tab);
                    return Ok(Ready {
                        lease: Arc::new(lease),
                        context,
                    });
                }
                Err(e) => {
                    lease.mark_broken();
                    last_error = Some(e);
                }
            }
        }
        Err(no_tab(last_error))
    }

    /// A tab for one job: a parked one, thawed, or a new one.
    async fn take_tab(&self, ready: &Ready, deadline: Duration) -> Result<TabHandle, JobError> {
        loop {
            let parked = self.state().parked.pop();
            let Some(tab) = parked else { break };
            if thaw(&tab, deadline).await {
                // Notes and logs of the previous job are not this job's.
                tab.watch.reset();
                return Ok(tab);
            }
            tab.close(deadline).await;
        }
        TabHandle::open(&ready.lease, ready.context.clone(), deadline)
            .await
            .map_err(|e| no_tab(Some(e)))
    }

    /// Takes back what a job leaves: its tab for the group's next job, and the
    /// origins it opened for the wipe. A job that ended with other tabs (a popup)
    /// or on another process (its browser crashed) gives nothing back.
    async fn give_back(&self, ready: &Ready, live: Live, requested: &str, deadline: Duration) {
        let ours = Arc::ptr_eq(&live.lease, &ready.lease) && live.context == ready.context;
        if !ours {
            live.close(deadline).await;
            return;
        }
        // The page's own URL too: after redirects it may be another origin.
        let current = live.tab().page.url().await.ok().flatten();
        {
            let mut state = self.state();
            state.uses += 1;
            let origins = [current.as_deref(), Some(requested)];
            state
                .origins
                .extend(origins.into_iter().flatten().filter_map(origin_of));
        }
        let Live { mut tabs, .. } = live;
        if tabs.len() == 1 {
            self.state().parked.extend(tabs.pop());
            return;
        }
        for tab in tabs {
            tab.close(deadline).await;
        }
    }

    /// After the last job: wipes the context and parks it in its process for the
    /// next host; disposes it instead when it is worn out or cannot be wiped. Holds
    /// the lease until done, so no job sees a half-wiped context.
    async fn retire(&self, deadline: Duration) {
        let Some(Ok(ready)) = self.ready.get() else {
            return;
        };
        if !ready.lease.is_healthy() {
            return;
        }
        let (tabs, uses, origins, tainted) = {
            let mut state = self.state();
            let origins: Vec<String> = std::mem::take(&mut state.origins).into_iter().collect();
            let tabs = std::mem::take(&mut state.parked);
            (tabs, state.uses, origins, state.tainted)
        };
        let worn = uses >= SCRATCH_USES || tabs.is_empty() || tainted;
        let wiped = !worn && clear(ready, &tabs, &origins, deadline).await;
        if wiped {
            let scratch = Scratch {
                context: ready.context.clone(),
                tabs,
                uses,
            };
            scratch.park(&ready.lease);
            return;
        }
        dispose_context(&ready.lease, ready.context.clone(), deadline).await;
    }
}

/// Takes a place for one job on a host of `group` (see the module doc): one of
/// the group's with room, or a new one.
pub(crate) fn join<'a>(pool: &'a Pool, group: Option<&str>) -> Joined<'a> {
    Joined {
        pool,
        host: pool.hosts().join(group),
        finished: false,
    }
}

/// A job's place on its host. Leaving it, also when the job is dropped half way
/// (its call cancelled, the server stopping), lets the host retire once idle.
/// The job runs on [`Joined::checkout`]'s context and tab, gives back what it
/// leaves with [`Joined::give_back`], and then [`Joined::finish`]es.
pub(crate) struct Joined<'a> {
    pool: &'a Pool,
    host: Arc<Host>,
    finished: bool,
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.host.state();
            state.active -= 1;
            if !self.finished {
                // The job's tab went with it, unfrozen and untracked: its context
                // must not be parked for anyone else.
                state.tainted = true;
            }
        }
        let (pool, host) = (self.pool.clone(), self.host.clone());
        let deadline = pool.config().cdp_timeout;
        let retire = async move {
            // A group's next job usually follows at once (a batch at concurrency
            // 1): it should find the host, not lease another process while this
            // one is being wiped.
            if host.group.is_some() {
                tokio::time::sleep(LINGER).await;
            }
            // While the pool stops, the host's process is closed whole: a
            // wipe or dispose would only hold its lease (up to the CDP
            // deadline each) for a next user there will not be.
            if pool.hosts().close_if_idle(&host) && !pool.stopping() {
                host.retire(deadline).await;
            }
        };
        // Without a runtime (it is shutting down) the lease simply drops.
        if tokio::runtime::Handle::try_current().is_ok() {
            self.pool.spawn_tracked(retire);
        }
    }
}

impl Joined<'_> {
    /// The host's context with a warm tab for this job (the host is made ready
    /// by its first job; the group's others wait for it).
    pub(crate) async fn checkout(&self) -> Result<Live, JobError> {
        let (pool, host) = (self.pool, &self.host);
        let deadline = pool.config().cdp_timeout;
        let ready = match host.ready.get_or_init(|| host.open(pool)).await {
            Ok(ready) => ready,
            Err(e) => return Err(e.clone()),
        };
        let tab = host.take_tab(ready, deadline).await?;
        Ok(Live {
            lease: ready.lease.clone(),
            seat: None,
            context: ready.context.clone(),
            tabs: vec![tab],
            current: 0,
            uses: 0,
            emulation: Default::default(),
            viewport: pool.config().viewport,
            downloads: Downloads::none(),
        })
    }

    /// Takes back what the job left of its context (none when its browser
    /// failed): its tab for the group's next job, and `url`'s origin for the wipe.
    pub(crate) async fn give_back(&self, live: Option<Live>, url: &str) {
        let (Some(live), Some(Ok(ready))) = (live, self.host.ready.get()) else {
            return;
        };
        let deadline = self.pool.config().cdp_timeout;
        self.host.give_back(ready, live, url, deadline).await;
    }

    /// The job is over and left nothing behind untracked.
    pub(crate) fn finish(mut self) {
        self.finished = true;
    }
}

async fn clear(ready: &Ready, tabs: &[TabHandle], origins: &[String], deadline: Duration) -> bool {
    let result: Result<(), &str> = async {
        // Freeze the pages first, so none of their scripts writes after the wipe.
        // The pages themselves stay: leaving them for about:blank would cost the
        // next jobs fresh renderers, several times the price of the jobs.
        for tab in tabs {
            tab.tab(deadline)
                .exec(
                    "freezing the page",
                    SetScriptExecutionDisabledParams::new(true),
                )
                .await
                .map_err(|_| "freezing a page")?;
        }
        let cookies = ClearCookiesParams {
            browser_context_id: Some(ready.context.clone()),
        };
        ready
            .lease
            .exec(deadline, cookies)
            .await
            .map_err(|_| "clearing cookies")?;
        let tab = tabs[0].tab(deadline);
        for origin in origins {
            let params = ClearDataForOriginParams::new(origin.clone(), STORAGE_TYPES);
            tab.exec("clearing storage", params)
                .await
                .map_err(|_| "clearing storage")?;
        }
        Ok(())
    }
    .await;
    if let Err(during) = result {
        tracing::debug!(during, "could not wipe a scratch context; disposing it");
    }
    result.is_ok()
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

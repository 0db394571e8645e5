//! Navigation with explicit load milestones.
//!
//! We issue `Page.navigate` ourselves and watch lifecycle events for the new
//! loader, instead of chromiumoxide's `goto`: it always waits for `load`, cannot
//! report the HTTP status cheaply, and has no deadline of its own. A read costs one
//! navigation plus one evaluate, the floor for CDP.

use std::time::Duration;

use browserfarm_protocol::{
    ErrorKind, JobError, JobOutput, NavAction, NavigateArgs, PageInfo, WaitUntil,
};
use chromiumoxide::cdp::IntoEventKind;
use chromiumoxide::cdp::browser_protocol::inspector::EventTargetCrashed;
use chromiumoxide::cdp::browser_protocol::network::{
    EventLoadingFailed, EventLoadingFinished, EventRequestWillBeSent, EventResponseReceived,
    ResourceType,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventFrameRequestedNavigation, EventFrameStartedLoading, EventFrameStoppedLoading,
    EventLifecycleEvent, NavigateParams,
};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::error::CdpError;
use chromiumoxide::listeners::EventStream;
use futures::{FutureExt, StreamExt};
use std::sync::atomic::Ordering;
use tokio::time::Instant;

use super::settle;
use crate::tab::cdp::{Fault, OpError, OpResult, Tab};

/// `navigate`: to a URL, or back, forward or reload in the tab's history.
pub(crate) async fn run(
    tab: Tab<'_>,
    a: &NavigateArgs,
    nav_timeout: Duration,
) -> OpResult<JobOutput> {
    let timeout = a
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(nav_timeout);
    let status = match (a.action.unwrap_or_default(), &a.url) {
        (NavAction::Goto, Some(url)) => {
            navigate(tab, url, a.wait_until.unwrap_or_default(), timeout).await?
        }
        (NavAction::Goto, None) => unreachable!("validated"),
        (action, _) => {
            let offset = match action {
                NavAction::Back => -1,
                NavAction::Forward => 1,
                _ => 0,
            };
            history(tab, offset, timeout).await?;
            None
        }
    };
    Ok(JobOutput::Navigated {
        page: page_info(tab, status).await?,
    })
}

/// Loads `url` first when a reading operation names one (waiting for `wait`);
/// otherwise reads the page the tab is on.
pub(crate) async fn load(
    tab: Tab<'_>,
    url: Option<&str>,
    wait: WaitUntil,
    timeout: Duration,
) -> OpResult<Option<u16>> {
    match url {
        Some(url) => navigate(tab, url, wait, timeout).await,
        None => Ok(None),
    }
}

/// JavaScript returning the tab's [`PageInfo`] minus the status.
const PAGE_INFO_JS: &str = "({url: location.href, title: document.title})";

#[derive(serde::Deserialize)]
struct UrlTitle {
    url: String,
    title: String,
}

/// Reads the tab's URL and title (one round trip).
pub(crate) async fn url_title(tab: Tab<'_>) -> OpResult<(String, String)> {
    let UrlTitle { url, title } = tab.eval("reading the page title", PAGE_INFO_JS).await?;
    Ok((url, title))
}

/// The tab's URL and title, and the notes it gathered since the last call.
pub(crate) async fn page_info(tab: Tab<'_>, status: Option<u16>) -> OpResult<PageInfo> {
    let (url, title) = url_title(tab).await?;
    Ok(PageInfo {
        url,
        status,
        title,
        notes: tab.watch.take_notes(),
        changes: None,
    })
}

pub(crate) async fn listen<T: IntoEventKind + Unpin>(tab: Tab<'_>) -> OpResult<EventStream<T>> {
    match tokio::time::timeout(tab.cdp_timeout, tab.page.event_listener::<T>()).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(OpError::Fault {
            during: "subscribing to page events",
            fault: Fault::Disconnected(e.to_string()),
        }),
        Err(_) => Err(OpError::Fault {
            during: "subscribing to page events",
            fault: Fault::Timeout,
        }),
    }
}

fn lifecycle_name(wait: WaitUntil) -> &'static str {
    match wait {
        WaitUntil::Ready => "ready",
        WaitUntil::Load => "load",
        WaitUntil::Domcontentloaded => "DOMContentLoaded",
        WaitUntil::Networkidle => "networkIdle",
    }
}

/// Loads `url` in the tab and waits for `wait`; returns the main document's HTTP
/// status. Network failures are caller-facing errors and leave the tab usable; a
/// load that overruns `timeout` resets the tab.
///
/// chromiumoxide intercepts `Page.navigate`: it answers only once the frame and
/// its children fired `load`, and queues later navigations of the tab behind it.
/// So `load` is simply that answer; `domcontentloaded` returns at that lifecycle
/// event of the new document (the next navigation may wait for the pending `load`);
/// `networkidle` waits for `load`, then for the `networkIdle` lifecycle event. A
/// load that never finishes would block the tab's queue, which is why an overrun
/// replaces the tab. `ready` returns once the content is ready
/// ([`super::settle`]), possibly before `load`: the tab then keeps loading the
/// rest (images a later screenshot shows), and the next navigation stops that
/// load first, so it does not queue behind it.
pub(crate) async fn navigate(
    tab: Tab<'_>,
    url: &str,
    wait: WaitUntil,
    timeout: Duration,
) -> OpResult<Option<u16>> {
    if let Some(gate) = tab.gate {
        gate.check_url(url).await?;
    }
    let by_script = still_loading(tab).await?;
    let deadline = Instant::now() + timeout;
    let mut lifecycle = listen::<EventLifecycleEvent>(tab).await?;
    let mut responses = listen::<EventResponseReceived>(tab).await?;
    let mut crashed = listen::<EventTargetCrashed>(tab).await?;
    let mut sent = listen::<EventRequestWillBeSent>(tab).await?;
    let mut finished = listen::<EventLoadingFinished>(tab).await?;
    let mut failed = listen::<EventLoadingFailed>(tab).await?;
    let mut requests = settle::Requests::default();
    // For `ready`: when the new document reached DOMContentLoaded, the quiet
    // probe running in it (and when it started), and when the last probe that
    // found the DOM quiet started.
    let mut parsed_at: Option<Instant> = None;
    let mut probe: Option<Probe<'_>> = None;
    let mut quiet_since: Option<Instant> = None;
    let mut retry_at: Option<Instant> = None;
    let main = tab.page.target_id().inner().clone();
    let wanted = lifecycle_name(wait);

    let mut statuses: Vec<(String, u16)> = Vec::new();
    let mut events: Vec<(String, String)> = Vec::new();
    // The loader of the new document: known from its `init` lifecycle event, or
    // from chromiumoxide's answer once the load completed.
    let mut new_loader: Option<String> = None;
    // chromiumoxide answered: the frame and its children fired `load`.
    let mut loaded = false;
    // chromiumoxide stops waiting after its fixed 30 s; past that we rely on the
    // lifecycle events alone, up to our own deadline.
    let mut answered = by_script;
    let mut request = std::pin::pin!(tab.page.execute(NavigateParams::new(url)));
    if by_script {
        // Not `Page.navigate`: chromiumoxide would hold it until the previous
        // page's `load`. Stopping first frees the connections the old page's
        // loads hold (six per host). A failure shows as the document request
        // failing.
        let go = format!(
            "window.stop(); location.assign({}); 0",
            serde_json::Value::from(url)
        );
        tab.eval::<serde_json::Value>("navigating", &go).await?;
    }
    loop {
        if let Some(loader) = &new_loader {
            // Lifecycle events alone count only for a document that got an HTTP
            // response: a failed load shows Chromium's error page, which fires
            // them too, and only chromiumoxide's answer carries the error.
            let trusted = loaded || statuses.iter().any(|(l, _)| l == loader);
            let reached =
                |name: &str| trusted && events.iter().any(|(l, n)| l == loader && n == name);
            let load = loaded || reached("load");
            let done = match wait {
                WaitUntil::Load => load,
                WaitUntil::Domcontentloaded => load || reached(wanted),
                WaitUntil::Networkidle => load && reached(wanted),
                WaitUntil::Ready if !(load || reached("DOMContentLoaded")) => false,
                WaitUntil::Ready => {
                    // The requests already sent count before deciding: the
                    // select below takes lifecycle events and chromiumoxide's
                    // answer as they come, so `load` can be seen while the
                    // page's earlier requests still wait in their stream, and
                    // a page with requests would pass for one without.
                    while let Some(Some(ev)) = sent.next().now_or_never() {
                        requests.sent(&ev, &main);
                    }
                    let now = Instant::now();
                    let since = *parsed_at.get_or_insert(now);
                    let pending = requests.pending(loader);
                    let quiet = quiet_since.is_some_and(|t| requests.none_ended_after(loader, t));
                    if pending == 0 && (quiet || (load && !requests.made_any(loader))) {
                        true
                    } else if now >= (since + settle::SETTLE_MAX).min(deadline) {
                        tab.watch.note(settle::still_changing_note(pending));
                        true
                    } else {
                        if pending == 0 && probe.is_none() && retry_at.is_none_or(|t| now >= t) {
                            let bound = (since + settle::SETTLE_MAX).min(deadline);
                            probe = Some(Probe::start(tab, bound - now));
                        }
                        false
                    }
                }
            };
            if done {
                if !load {
                    tab.watch.loading.store(true, Ordering::Release);
                }
                return Ok(statuses
                    .iter()
                    .rev()
                    .find(|(l, _)| l == loader)
                    .map(|(_, s)| *s));
            }
        }
        tokio::select! {
            // Events first: a document's response and lifecycle events precede
            // chromiumoxide's answer and may already be queued.
            biased;
            ev = responses.next() => {
                let Some(ev) = ev else { return Err(disconnected()) };
                if ev.r#type == ResourceType::Document
                    && ev.frame_id.as_ref().is_some_and(|f| f.inner() == &main)
                    && let Ok(status) = u16::try_from(ev.response.status)
                {
                    statuses.push((ev.loader_id.inner().clone(), status));
                }
            }
            ev = lifecycle.next() => {
                let Some(ev) = ev else { return Err(disconnected()) };
                if ev.frame_id.inner() == &main {
                    if ev.name == "init" && !loaded {
                        new_loader = Some(ev.loader_id.inner().clone());
                        // A script redirect: the settling starts over.
                        parsed_at = None;
                        quiet_since = None;
                    }
                    events.push((ev.loader_id.inner().clone(), ev.name.clone()));
                }
            }
            _ = crashed.next() => return Err(OpError::Fault { during: "navigating", fault: Fault::TabCrashed }),
            Some(ev) = sent.next() => requests.sent(&ev, &main),
            Some(ev) = finished.next() => requests.ended(ev.request_id.inner()),
            Some(ev) = failed.next() => {
                if by_script && requests.is_document(ev.request_id.inner()) && ev.canceled != Some(true) {
                    return Err(navigation_failed(url, &ev.error_text).into());
                }
                requests.ended(ev.request_id.inner());
            }
            quiet = async { probe.as_mut().expect("guarded").run().await }, if probe.is_some() => {
                let started = probe.take().expect("guarded").started;
                match quiet {
                    Ok(true) => quiet_since = Some(started),
                    // Changing up to the bound: the check above notes it.
                    Ok(false) => {}
                    // The document is being replaced: probe the next one soon.
                    Err(OpError::Fault { fault: Fault::Protocol(m), .. }) if is_navigation_race(&m) => {
                        retry_at = Some(Instant::now() + settle::QUIET);
                    }
                    Err(e) => return Err(e),
                }
            }
            _ = tokio::time::sleep_until(wake(parsed_at, retry_at, deadline)), if parsed_at.is_some() && Instant::now() < deadline => {}
            answer = &mut request, if !answered => {
                answered = true;
                let nav = match answer {
                    Ok(resp) => resp.result,
                    Err(CdpError::Timeout) => continue,
                    Err(e) => return Err(OpError::Fault { during: "navigating", fault: Fault::Protocol(e.to_string()) }),
                };
                if let Some(error) = nav.error_text {
                    return Err(navigation_failed(url, &error).into());
                }
                loaded = true;
                match nav.loader_id {
                    Some(loader) => new_loader = Some(loader.inner().clone()),
                    // A same-document navigation (fragment, history API): done.
                    None => return Ok(None),
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                let hint = match wait {
                    WaitUntil::Ready | WaitUntil::Domcontentloaded => "Try a larger timeout_ms.",
                    _ => "Try wait_until=\"ready\" or a larger timeout_ms.",
                };
                return Err(OpError::ResetTab(JobError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{url} did not reach '{wanted}' within {} ms; the tab was reset to a \
                         blank page (cookies kept). {hint}",
                        timeout.as_millis()
                    ),
                )));
            }
        }
    }
}

/// When a `ready` wait must look again with no event: at its bound, or when a
/// probe may be retried.
fn wake(parsed_at: Option<Instant>, retry_at: Option<Instant>, deadline: Instant) -> Instant {
    let bound = parsed_at.map_or(deadline, |t| (t + settle::SETTLE_MAX).min(deadline));
    retry_at.map_or(bound, |r| r.min(bound))
}

/// The quiet probe running in the new document.
struct Probe<'a> {
    started: Instant,
    run: std::pin::Pin<Box<dyn std::future::Future<Output = OpResult<bool>> + Send + 'a>>,
}

impl<'a> Probe<'a> {
    fn start(tab: Tab<'a>, max: Duration) -> Probe<'a> {
        let mut params = EvaluateParams::new(settle::quiet_probe_js(max.as_millis()));
        params.return_by_value = Some(true);
        params.await_promise = Some(true);
        let run = Box::pin(async move {
            let reply = tab
                .exec_within(
                    "waiting for the page to settle",
                    max + tab.cdp_timeout,
                    params,
                )
                .await?;
            Ok(reply.result.value.and_then(|v| v.as_bool()).unwrap_or(true))
        });
        Probe {
            started: Instant::now(),
            run,
        }
    }

    async fn run(&mut self) -> OpResult<bool> {
        (&mut self.run).await
    }
}

/// Whether the page a `ready` navigation returned early from is still loading.
/// chromiumoxide holds each `Page.navigate` until the one before it saw `load`
/// in the frame and all its subframes (and a stopped load never fires it), so
/// such a tab navigates by script until a page of it loads fully.
async fn still_loading(tab: Tab<'_>) -> OpResult<bool> {
    if !tab.watch.loading.load(Ordering::Acquire) {
        return Ok(false);
    }
    let state = tab
        .eval::<String>("checking the previous page's load", "document.readyState")
        .await;
    match state {
        Ok(state) if state == "complete" => {
            tab.watch.loading.store(false, Ordering::Release);
            Ok(false)
        }
        Ok(_) => Ok(true),
        Err(OpError::Fault {
            fault: Fault::Protocol(m),
            ..
        }) if is_navigation_race(&m) => Ok(true),
        Err(e) => Err(e),
    }
}

fn disconnected() -> OpError {
    OpError::Fault {
        during: "waiting for the page to load",
        fault: Fault::Disconnected("event stream closed".into()),
    }
}

fn navigation_failed(url: &str, error: &str) -> JobError {
    let hint = match error {
        "net::ERR_CONNECTION_REFUSED" => "nothing is listening at that host and port",
        "net::ERR_NAME_NOT_RESOLVED" => "the host name does not resolve",
        "net::ERR_ADDRESS_UNREACHABLE" | "net::ERR_INTERNET_DISCONNECTED" => {
            "the host cannot be reached from this machine"
        }
        "net::ERR_CONNECTION_TIMED_OUT" | "net::ERR_TIMED_OUT" => "the host did not answer",
        "net::ERR_ABORTED" => "the load was aborted (the URL may be a file download)",
        e if e.starts_with("net::ERR_CERT") => "the site's TLS certificate is not trusted",
        "net::ERR_TOO_MANY_REDIRECTS" => "the site redirects in a loop",
        "net::ERR_BLOCKED_BY_CLIENT" => {
            "a redirect or request went to a host this server's URL policy refuses \
             (--allow-hosts, --block-hosts, --block-private-networks)"
        }
        _ => "check the URL",
    };
    JobError::new(
        ErrorKind::Navigation,
        format!("could not load {url}: {error} ({hint})"),
    )
}

/// Chromium's answers when a command meets a document that is being replaced.
pub(crate) fn is_navigation_race(message: &str) -> bool {
    [
        "Inspected target navigated or closed",
        "Execution context was destroyed",
        "Cannot find context",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Watches for a navigation that an action (click, Enter) may start, so the action
/// returns only once the new page has loaded. Subscribe before the action.
pub(crate) struct NavigationWatch {
    requested: EventStream<EventFrameRequestedNavigation>,
    started: EventStream<EventFrameStartedLoading>,
    stopped: EventStream<EventFrameStoppedLoading>,
    crashed: EventStream<EventTargetCrashed>,
}

impl NavigationWatch {
    pub(crate) async fn start(tab: Tab<'_>) -> OpResult<Self> {
        Ok(NavigationWatch {
            requested: listen(tab).await?,
            started: listen(tab).await?,
            stopped: listen(tab).await?,
            crashed: listen(tab).await?,
        })
    }

    /// After the action: if the main frame began navigating, waits for it to stop
    /// loading, up to `timeout`. Returns whether a navigation happened.
    pub(crate) async fn settle(mut self, tab: Tab<'_>, timeout: Duration) -> OpResult<bool> {
        let main = tab.page.target_id().inner().clone();
        let is_main = |frame: &str| frame == main;
        // A cheap round trip orders us after any navigation request the action made.
        // If the document is already going away, that is the navigation itself.
        let barrier = tab
            .eval::<serde_json::Value>("settling after the action", "0")
            .await;
        let mut pending = match barrier {
            Ok(_) => false,
            Err(OpError::Fault {
                fault: Fault::Protocol(msg),
                ..
            }) if is_navigation_race(&msg) => true,
            Err(e) => return Err(e),
        };
        while let Some(Some(ev)) = self.requested.next().now_or_never() {
            pending |= is_main(ev.frame_id.inner());
        }
        while let Some(Some(ev)) = self.started.next().now_or_never() {
            pending |= is_main(ev.frame_id.inner());
        }
        if !pending {
            return Ok(false);
        }
        let deadline = Instant::now() + timeout;
        loop {
            tokio::select! {
                ev = self.stopped.next() => {
                    let Some(ev) = ev else { return Err(disconnected()) };
                    if is_main(ev.frame_id.inner()) {
                        return Ok(true);
                    }
                }
                _ = self.crashed.next() => {
                    return Err(OpError::Fault { during: "loading the next page", fault: Fault::TabCrashed });
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(OpError::ResetTab(JobError::new(
                        ErrorKind::Timeout,
                        format!(
                            "the action started a page load that did not finish within {} ms; \
                             the tab was reset to a blank page (cookies kept)",
                            timeout.as_millis()
                        ),
                    )));
                }
            }
        }
    }
}

/// Goes back or forward in the tab's history (`offset` -1 or 1), or reloads
/// (`offset` 0), and waits for the resulting load. Pages restored from the
/// back/forward cache fire no load; they are simply there.
pub(crate) async fn history(tab: Tab<'_>, offset: i64, timeout: Duration) -> OpResult<()> {
    use chromiumoxide::cdp::browser_protocol::page::{
        GetNavigationHistoryParams, NavigateToHistoryEntryParams, ReloadParams,
    };
    let watch = NavigationWatch::start(tab).await?;
    if offset == 0 {
        tab.exec("reloading", ReloadParams::default()).await?;
    } else {
        let history = tab
            .exec("reading the tab's history", GetNavigationHistoryParams {})
            .await?;
        let index = history.current_index + offset;
        let Some(entry) = usize::try_from(index)
            .ok()
            .and_then(|i| history.entries.get(i))
        else {
            let which = if offset < 0 { "previous" } else { "next" };
            return Err(JobError::invalid_argument(format!(
                "there is no {which} page in this tab's history"
            ))
            .into());
        };
        tab.exec(
            "moving through history",
            NavigateToHistoryEntryParams::new(entry.id),
        )
        .await?;
    }
    watch.settle(tab, timeout).await.map(drop)
}

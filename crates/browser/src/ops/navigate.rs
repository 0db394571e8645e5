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
use chromiumoxide::cdp::browser_protocol::network::{EventResponseReceived, ResourceType};
use chromiumoxide::cdp::browser_protocol::page::{
    EventFrameRequestedNavigation, EventFrameStartedLoading, EventFrameStoppedLoading,
    EventLifecycleEvent, NavigateParams,
};
use chromiumoxide::error::CdpError;
use chromiumoxide::listeners::EventStream;
use futures::{FutureExt, StreamExt};

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

/// Loads `url` first when a reading operation names one (waiting for `load`);
/// otherwise reads the page the tab is on.
pub(crate) async fn load(
    tab: Tab<'_>,
    url: Option<&str>,
    timeout: Duration,
) -> OpResult<Option<u16>> {
    match url {
        Some(url) => navigate(tab, url, WaitUntil::Load, timeout).await,
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
/// replaces the tab.
pub(crate) async fn navigate(
    tab: Tab<'_>,
    url: &str,
    wait: WaitUntil,
    timeout: Duration,
) -> OpResult<Option<u16>> {
    if let Some(gate) = tab.gate {
        gate.check_url(url).await?;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut lifecycle = listen::<EventLifecycleEvent>(tab).await?;
    let mut responses = listen::<EventResponseReceived>(tab).await?;
    let mut crashed = listen::<EventTargetCrashed>(tab).await?;
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
    let mut answered = false;
    let mut request = std::pin::pin!(tab.page.execute(NavigateParams::new(url)));
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
            };
            if done {
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
                    }
                    events.push((ev.loader_id.inner().clone(), ev.name.clone()));
                }
            }
            _ = crashed.next() => return Err(OpError::Fault { during: "navigating", fault: Fault::TabCrashed }),
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
                return Err(OpError::ResetTab(JobError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{url} did not reach '{wanted}' within {} ms; the tab was reset to a \
                         blank page (cookies kept). Try wait_until=\"domcontentloaded\" or a \
                         larger timeout_ms.",
                        timeout.as_millis()
                    ),
                )));
            }
        }
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
        let deadline = tokio::time::Instant::now() + timeout;
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

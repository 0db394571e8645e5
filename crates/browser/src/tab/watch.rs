//! What happens in a tab between calls: JavaScript dialogs (answered at once, so
//! a page can never block on `alert()`), console messages and network requests
//! (kept in bounded rings for `console_messages` and `network_requests`), and
//! notes for the agent's next result.
//!
//! One task per tab listens to the tab's CDP events; it ends with the tab (its
//! event streams close) or when the [`Watcher`] is dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use browserfarm_protocol::{ConsoleEntry, ConsoleLevel, HandleDialogArgs, RequestEntry, cut_chars};
use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::fetch::EventRequestPaused;
use chromiumoxide::cdp::browser_protocol::inspector::EventTargetCrashed;
use chromiumoxide::cdp::browser_protocol::network::{
    EventLoadingFailed, EventRequestWillBeSent, EventResponseReceived,
};
use chromiumoxide::cdp::browser_protocol::page::{
    DialogType, EventJavascriptDialogOpening, HandleJavaScriptDialogParams,
};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown, RemoteObject,
};
use futures::StreamExt;

use super::cdp::raw;
use crate::process::Gate;

/// Console messages kept per tab.
const CONSOLE_RING: usize = 500;
/// Network requests kept per tab.
const REQUEST_RING: usize = 500;
/// Longest console message kept, in characters.
const CONSOLE_TEXT_CHARS: usize = 1_000;
/// Longest URL kept in the network log, in characters.
const URL_CHARS: usize = 500;
/// Notes kept for the next result; an `alert()` storm must not flood it.
const MAX_NOTES: usize = 5;

/// A tab's collected events, shared between its watcher task and the jobs.
#[derive(Default)]
pub(crate) struct PageWatch {
    state: Mutex<State>,
    /// The tab's renderer crashed (`Inspector.targetCrashed`).
    crashed: std::sync::atomic::AtomicBool,
    crash: tokio::sync::Notify,
    /// Requests a reader does not need (images, media, fonts, subframes) fail
    /// at once instead of loading: set for one-off reads, see [`skippable`].
    skipping: AtomicBool,
    /// How many requests were skipped since skipping was last set.
    skipped: AtomicUsize,
    /// `Fetch` pauses the skippable kinds for us (enabled on the first skipping
    /// read). Without it and without a gate, paused requests are not ours to
    /// answer: a tab opened unfiltered answers its own (`storage_state` import).
    pub(crate) pausing_skippable: AtomicBool,
    /// A `ready` load returned before the page's `load` event: the tab may still
    /// be loading, and the next navigation must stop it first.
    pub(crate) loading: AtomicBool,
}

#[derive(Default)]
struct State {
    console: VecDeque<ConsoleEntry>,
    console_seq: u64,
    requests: VecDeque<RequestEntry>,
    request_seq: u64,
    /// CDP request id → our entry id, for attaching responses and failures.
    request_ids: HashMap<String, u64>,
    /// How the agent asked to answer the next dialog.
    dialog: Option<HandleDialogArgs>,
    notes: Vec<String>,
    notes_dropped: usize,
}

impl PageWatch {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn crashed(&self) -> bool {
        self.crashed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Resolves once the tab's renderer has crashed (at once if it already has),
    /// so a command to a dead tab fails now instead of at its deadline.
    pub(crate) async fn crash_signal(&self) {
        loop {
            let notified = self.crash.notified();
            if self.crashed() {
                return;
            }
            notified.await;
        }
    }

    /// Turns skipping of what readers do not need on or off for the next load,
    /// and restarts the count of what the current page is missing.
    pub(crate) fn set_skipping(&self, on: bool) {
        self.skipping.store(on, Ordering::Release);
        self.skipped.store(0, Ordering::Release);
    }

    /// Stops skipping after a job, keeping the count for the page it loaded.
    pub(crate) fn stop_skipping(&self) {
        self.skipping.store(false, Ordering::Release);
    }

    /// How many requests were skipped since skipping was last set.
    pub(crate) fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Acquire)
    }

    /// Forgets everything (a scratch tab handed to the next one-off job).
    pub(crate) fn reset(&self) {
        *self.state() = State::default();
    }

    /// Takes the notes gathered since the last call.
    pub(crate) fn take_notes(&self) -> Vec<String> {
        let mut s = self.state();
        let mut notes = std::mem::take(&mut s.notes);
        let dropped = std::mem::take(&mut s.notes_dropped);
        if dropped > 0 {
            notes.push(format!("…and {dropped} more like these"));
        }
        notes
    }

    pub(crate) fn note(&self, note: String) {
        let mut s = self.state();
        if s.notes.len() < MAX_NOTES {
            s.notes.push(note);
        } else {
            s.notes_dropped += 1;
        }
    }

    /// Arms the answer to the next dialog; returns the one it replaces, if any.
    pub(crate) fn arm_dialog(&self, answer: HandleDialogArgs) -> Option<HandleDialogArgs> {
        self.state().dialog.replace(answer)
    }

    /// Console entries after `since` at `level` or above, the newest `max` of them,
    /// and how many older matches were left out.
    pub(crate) fn console(
        &self,
        level: Option<ConsoleLevel>,
        since: Option<u64>,
        max: usize,
    ) -> (Vec<ConsoleEntry>, usize) {
        let s = self.state();
        newest(
            s.console
                .iter()
                .filter(|e| since.is_none_or(|n| e.id > n) && level.is_none_or(|l| e.level >= l))
                .cloned(),
            max,
        )
    }

    /// Requests after `since` matching `filter`, the newest `max` of them, and how
    /// many older matches were left out.
    pub(crate) fn requests(
        &self,
        filter: Option<&str>,
        failed_only: bool,
        since: Option<u64>,
        max: usize,
    ) -> (Vec<RequestEntry>, usize) {
        let s = self.state();
        newest(
            s.requests
                .iter()
                .filter(|e| {
                    since.is_none_or(|n| e.id > n)
                        && filter.is_none_or(|f| e.url.contains(f))
                        && (!failed_only || e.failed())
                })
                .cloned(),
            max,
        )
    }

    fn push_console(&self, level: ConsoleLevel, text: String, source: Option<String>) {
        let mut s = self.state();
        s.console_seq += 1;
        let id = s.console_seq;
        let (text, dropped) = cut_chars(text, CONSOLE_TEXT_CHARS);
        let text = if dropped > 0 {
            format!("{text}…[{dropped} more chars]")
        } else {
            text
        };
        if s.console.len() == CONSOLE_RING {
            s.console.pop_front();
        }
        s.console.push_back(ConsoleEntry {
            id,
            level,
            text,
            source,
        });
    }

    fn request_sent(&self, ev: &EventRequestWillBeSent) {
        let mut s = self.state();
        let key = ev.request_id.inner().clone();
        // A redirect reuses the request id: the hop before it ends with the
        // redirect's status.
        if let (Some(prev), Some(redirect)) =
            (s.request_ids.get(&key).copied(), &ev.redirect_response)
            && let Some(entry) = s.requests.iter_mut().rev().find(|e| e.id == prev)
        {
            entry.status = u16::try_from(redirect.status).ok();
        }
        s.request_seq += 1;
        let id = s.request_seq;
        s.request_ids.insert(key, id);
        if s.requests.len() == REQUEST_RING
            && let Some(old) = s.requests.pop_front()
        {
            s.request_ids.retain(|_, v| *v != old.id);
        }
        s.requests.push_back(RequestEntry {
            id,
            method: ev.request.method.clone(),
            url: cut_chars(ev.request.url.clone(), URL_CHARS).0,
            resource: ev
                .r#type
                .as_ref()
                .map(|t| t.as_ref().to_owned())
                .unwrap_or_else(|| "Other".into()),
            status: None,
            failure: None,
        });
    }

    fn update_request(&self, request_id: &str, f: impl FnOnce(&mut RequestEntry)) {
        let mut s = self.state();
        if let Some(id) = s.request_ids.get(request_id).copied()
            && let Some(entry) = s.requests.iter_mut().rev().find(|e| e.id == id)
        {
            f(entry);
        }
    }

    /// Decides how to answer a dialog and what to tell the agent about it.
    fn answer_dialog(&self, ev: &EventJavascriptDialogOpening) -> HandleJavaScriptDialogParams {
        let kind = ev.r#type.as_ref().to_owned();
        let (message, cut) = cut_chars(ev.message.clone(), 200);
        let message = if cut > 0 {
            format!("{message}…")
        } else {
            message
        };
        let armed = self.state().dialog.take();
        let (accept, prompt_text, note) = match armed {
            Some(a) => {
                let verb = if a.accept { "accepted" } else { "dismissed" };
                let note = format!("the {kind} dialog \"{message}\" was {verb} as asked");
                (a.accept, a.prompt_text, note)
            }
            // Leaving a page must not be blocked by it.
            None if ev.r#type == DialogType::Beforeunload => (
                true,
                None,
                format!(
                    "a beforeunload dialog (\"{message}\") was accepted so the page could be left"
                ),
            ),
            None => (
                false,
                None,
                format!(
                    "a {kind} dialog \"{message}\" was dismissed automatically; to answer it \
                     otherwise, call handle_dialog before the action that opens it"
                ),
            ),
        };
        self.note(note);
        let mut params = HandleJavaScriptDialogParams::new(accept);
        params.prompt_text = prompt_text;
        params
    }
}

fn newest<T>(matches: impl Iterator<Item = T>, max: usize) -> (Vec<T>, usize) {
    let mut all: Vec<T> = matches.collect();
    let omitted = all.len().saturating_sub(max);
    all.drain(..omitted);
    (all, omitted)
}

fn console_level(kind: &ConsoleApiCalledType) -> ConsoleLevel {
    match kind {
        ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert => ConsoleLevel::Error,
        ConsoleApiCalledType::Warning => ConsoleLevel::Warning,
        ConsoleApiCalledType::Debug => ConsoleLevel::Debug,
        _ => ConsoleLevel::Info,
    }
}

fn describe(arg: &RemoteObject) -> String {
    match &arg.value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => arg
            .description
            .clone()
            .unwrap_or_else(|| arg.r#type.as_ref().to_owned()),
    }
}

/// What a read skips: images, media and fonts change no text, a subframe's
/// content is not part of what `scrape` or `snapshot` return, and what
/// Chromium types "Other", "Prefetch", "Manifest" or "Ping" (the favicon,
/// prefetches of pages the reader will not open, a web app manifest, beacons) is a
/// request the site sees and the reader never uses: it would double what a
/// crawl asks of a site (`--max-per-host` counts pages).
fn skippable(ev: &EventRequestPaused, main_frame: &str) -> bool {
    use chromiumoxide::cdp::browser_protocol::network::ResourceType;
    match ev.resource_type {
        ResourceType::Image
        | ResourceType::Media
        | ResourceType::Font
        | ResourceType::Other
        | ResourceType::Prefetch
        | ResourceType::Manifest
        | ResourceType::Ping => true,
        ResourceType::Document => ev.frame_id.inner() != main_frame,
        _ => false,
    }
}

/// The site's icon at its well-known path: Chromium fetches it after `load`,
/// once a read may be over, and no tool shows it (headless has no tab strip),
/// so a tab that pauses requests never lets it out.
fn is_favicon(ev: &EventRequestPaused) -> bool {
    use chromiumoxide::cdp::browser_protocol::network::ResourceType;
    ev.resource_type == ResourceType::Other
        && url::Url::parse(&ev.request.url).is_ok_and(|u| u.path() == "/favicon.ico")
}

/// A paused request's type in the terms of `adblock`'s filter options.
fn request_kind(ev: &EventRequestPaused, main_frame: &str) -> &'static str {
    use chromiumoxide::cdp::browser_protocol::network::ResourceType;
    match ev.resource_type {
        ResourceType::Document if ev.frame_id.inner() == main_frame => "main_frame",
        ResourceType::Document => "sub_frame",
        ResourceType::Stylesheet => "stylesheet",
        ResourceType::Image => "image",
        ResourceType::Media => "media",
        ResourceType::Font => "font",
        ResourceType::Script => "script",
        ResourceType::Xhr | ResourceType::Fetch | ResourceType::EventSource => "xhr",
        ResourceType::WebSocket => "websocket",
        ResourceType::Ping | ResourceType::CspViolationReport => "ping",
        _ => "other",
    }
}

/// The `Fetch` patterns that pause the kinds [`skippable`] may refuse.
pub(crate) fn skippable_patterns() -> serde_json::Value {
    // Chromium's Fetch refuses filters on "Prefetch" and "Manifest" ("Unknown
    // resource type in fetch filter"), and one refused type fails them all.
    let patterns: Vec<_> = ["Image", "Media", "Font", "Document", "Other", "Ping"]
    .iter()
    .map(|t| serde_json::json!({"urlPattern": "*", "resourceType": t, "requestStage": "Request"}))
    .collect();
    serde_json::json!({ "patterns": patterns })
}

/// Keeps a tab's watcher task alive; aborts it when dropped.
pub(crate) struct Watcher(tokio::task::JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Subscribes to the tab's events and starts its watcher task. Subscribing is a
/// message to chromiumoxide's handler, not a CDP round trip, and happens before
/// this returns, so no dialog can slip past.
pub(crate) async fn watch(
    page: &Page,
    watch: std::sync::Arc<PageWatch>,
    deadline: Duration,
    gate: Option<std::sync::Arc<Gate>>,
) -> Result<Watcher, String> {
    let subscribe = async {
        Ok::<_, chromiumoxide::error::CdpError>((
            page.event_listener::<EventJavascriptDialogOpening>()
                .await?,
            page.event_listener::<EventConsoleApiCalled>().await?,
            page.event_listener::<EventExceptionThrown>().await?,
            page.event_listener::<EventRequestWillBeSent>().await?,
            page.event_listener::<EventResponseReceived>().await?,
            page.event_listener::<EventLoadingFailed>().await?,
            page.event_listener::<EventTargetCrashed>().await?,
        ))
    };
    let (
        mut dialogs,
        mut console,
        mut exceptions,
        mut sent,
        mut responses,
        mut failures,
        mut crashes,
    ) = match tokio::time::timeout(deadline, subscribe).await {
        Ok(Ok(streams)) => streams,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("Chromium did not accept event subscriptions in time".into()),
    };
    // Requests are paused only once `Fetch` is enabled: for every request with a
    // host policy (here), for the skippable kinds once a read skips them
    // ([`intercept_skippable`]).
    let intercept = async {
        let stream = page.event_listener::<EventRequestPaused>().await?;
        if gate.is_some() {
            page.execute(raw(
                "Fetch.enable",
                serde_json::json!({"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
            ))
            .await?;
        }
        Ok::<_, chromiumoxide::error::CdpError>(stream)
    };
    let mut paused = match tokio::time::timeout(deadline, intercept).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("Chromium did not enable request filtering in time".into()),
    };
    let page = page.clone();
    let main_frame = page.target_id().inner().clone();
    let task = tokio::spawn(async move {
        // The tab's document, the "page" a block list's third-party rules
        // compare a request's site with.
        let mut page_url = String::new();
        loop {
            tokio::select! {
                Some(ev) = paused.next() => {
                    if gate.is_none() && !watch.pausing_skippable.load(Ordering::Acquire) {
                        continue;
                    }
                    let kind = request_kind(&ev, &main_frame);
                    if kind == "main_frame" {
                        page_url.clone_from(&ev.request.url);
                    }
                    let skip = watch.skipping.load(Ordering::Acquire) && skippable(&ev, &main_frame);
                    // Counted for the read's note: what could have changed its
                    // text or picture (not a favicon or a prefetch).
                    if skip && kind != "other" && kind != "ping" {
                        watch.skipped.fetch_add(1, Ordering::AcqRel);
                    }
                    // Listed ads and trackers fail like skipped requests, quietly:
                    // the network log shows them.
                    let skip = skip
                        || is_favicon(&ev)
                        || gate.as_ref().is_some_and(|g| g.blocks(&ev.request.url, &page_url, kind));
                    let (gate, page, watch) = (gate.clone(), page.clone(), watch.clone());
                    // Each decision may wait for DNS: never hold up the other events.
                    tokio::spawn(async move {
                        let verdict = match (&gate, skip) {
                            (_, true) => Err(None),
                            (Some(gate), false) => gate.check_url(&ev.request.url).await.map_err(Some),
                            (None, false) => Ok(()),
                        };
                        let reply = match verdict {
                            Ok(()) => raw(
                                "Fetch.continueRequest",
                                serde_json::json!({"requestId": ev.request_id}),
                            ),
                            Err(refused) => {
                                if let Some(e) = refused {
                                    watch.note(format!("a request was blocked: {}", e.message));
                                }
                                raw(
                                    "Fetch.failRequest",
                                    serde_json::json!({"requestId": ev.request_id, "errorReason": "BlockedByClient"}),
                                )
                            }
                        };
                        let _ = tokio::time::timeout(deadline, page.execute(reply)).await;
                    });
                }
                Some(ev) = dialogs.next() => {
                    let answer = watch.answer_dialog(&ev);
                    // The page is blocked until this answer lands; a deadline keeps a
                    // dead tab from holding the task.
                    let _ = tokio::time::timeout(deadline, page.execute(answer)).await;
                }
                Some(ev) = console.next() => {
                    let text = ev.args.iter().map(describe).collect::<Vec<_>>().join(" ");
                    let source = ev.stack_trace.as_ref().and_then(|t| t.call_frames.first()).map(|f| {
                        format!("{}:{}", f.url, f.line_number + 1)
                    });
                    watch.push_console(console_level(&ev.r#type), text, source);
                }
                Some(ev) = exceptions.next() => {
                    let d = &ev.exception_details;
                    let text = d
                        .exception
                        .as_ref()
                        .and_then(|e| e.description.clone())
                        .unwrap_or_else(|| d.text.clone());
                    let source = d.url.as_ref().map(|u| format!("{u}:{}", d.line_number + 1));
                    watch.push_console(ConsoleLevel::Error, format!("Uncaught {text}"), source);
                }
                Some(ev) = sent.next() => {
                    // A page loaded in full (a click's, say) replaces one a read
                    // loaded without pictures: nothing of it was skipped.
                    let document = ev.r#type
                        == Some(chromiumoxide::cdp::browser_protocol::network::ResourceType::Document);
                    if document
                        && ev.frame_id.as_ref().is_some_and(|f| f.inner() == &main_frame)
                        && !watch.skipping.load(Ordering::Acquire)
                    {
                        watch.skipped.store(0, Ordering::Release);
                    }
                    watch.request_sent(&ev);
                }
                Some(_) = crashes.next() => {
                    watch.crashed.store(true, std::sync::atomic::Ordering::Release);
                    watch.crash.notify_waiters();
                }
                Some(ev) = responses.next() => {
                    watch.update_request(ev.request_id.inner(), |e| {
                        e.status = u16::try_from(ev.response.status).ok();
                    });
                }
                Some(ev) = failures.next() => {
                    watch.update_request(ev.request_id.inner(), |e| {
                        let canceled = ev.canceled == Some(true);
                        // A body nobody read is dropped once the response is in:
                        // the status is the news, not the cancel.
                        if canceled && e.status.is_some() {
                            return;
                        }
                        e.failure = Some(if canceled {
                            "canceled".to_owned()
                        } else {
                            ev.error_text.clone()
                        });
                    });
                }
                else => break,
            }
        }
    });
    Ok(Watcher(task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_keeps_the_tail_and_says_if_more_matched() {
        let (kept, more) = newest([1, 2, 3, 4].into_iter(), 2);
        assert_eq!((kept, more), (vec![3, 4], 2));
        let (kept, more) = newest([1, 2].into_iter(), 5);
        assert_eq!((kept, more), (vec![1, 2], 0));
    }

    #[test]
    fn notes_are_capped_and_drained() {
        let w = PageWatch::default();
        for i in 0..8 {
            w.note(format!("n{i}"));
        }
        let notes = w.take_notes();
        assert_eq!(notes.len(), MAX_NOTES + 1);
        assert!(notes.last().unwrap().contains("3 more"));
        assert!(w.take_notes().is_empty());
    }
}

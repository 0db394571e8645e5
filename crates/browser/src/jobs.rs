//! What each operation does, given a session's live browser state. Operations on
//! the session as a whole (tabs, cookies, storage, emulation) take the whole
//! [`Live`]; the rest act on the current tab.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use browserfarm_protocol::{
    CookieAction, DEFAULT_LOG_ENTRIES, DEFAULT_MAX_CHARS, DEFAULT_WAIT_MS, ElementTarget,
    ErrorKind, JobError, JobOutput, NavAction, Operation, PageInfo, Scraped, StorageAction,
    TabAction, TabInfo, TabsArgs, WaitUntil, wire_name,
};
use chromiumoxide::cdp::browser_protocol::target::TargetId;
use serde_json::{Value, json};

use crate::cdp::{Fault, OpError, OpResult, Tab};
use crate::session::Live;
use crate::tab::TabHandle;
use crate::{emulate, extract, interact, navigate, pdf, screenshot, snapshot, storage, wait};

/// What `evaluate` is doing, as named in fault messages.
pub(crate) const EVALUATING: &str = "evaluating the expression";

/// Deadline for reading one tab's URL and title when listing tabs.
const TAB_INFO_TIMEOUT: Duration = Duration::from_secs(2);

fn timeout_or(ms: Option<u64>, default: Duration) -> Duration {
    ms.map(Duration::from_millis).unwrap_or(default)
}

fn done(page: PageInfo, message: impl Into<String>) -> JobOutput {
    JobOutput::Done {
        page,
        message: message.into(),
    }
}

fn target(element: &Option<String>, selector: &Option<String>) -> Result<ElementTarget, JobError> {
    ElementTarget::from_args(element.as_deref(), selector.as_deref())
}

pub(crate) async fn execute(
    live: &mut Live,
    op: &Operation,
    limits: &crate::PoolConfig,
) -> OpResult<JobOutput> {
    let deadline = limits.cdp_timeout;
    match op {
        Operation::Tabs(a) => tabs(live, a, limits).await,
        Operation::Emulate(a) => {
            let merged = a.merged_over(&live.emulation);
            for tab in &live.tabs {
                emulate::apply(tab.tab(deadline), &merged, live.viewport).await?;
            }
            let message = emulate::describe(&merged, live.viewport);
            live.emulation = merged;
            let page = navigate::page_info(live.tab().tab(deadline), None).await?;
            Ok(done(page, message))
        }
        Operation::Cookies(a) => {
            let domain = a.domain.as_deref();
            match a.action.unwrap_or_default() {
                CookieAction::Get => Ok(JobOutput::Cookies {
                    cookies: storage::get(&live.lease, &live.context, domain, deadline).await?,
                }),
                CookieAction::Set => {
                    let cookies = a.cookies.as_deref().unwrap_or_default();
                    storage::set(&live.lease, &live.context, cookies, deadline).await?;
                    let page = navigate::page_info(live.tab().tab(deadline), None).await?;
                    Ok(done(page, format!("Set {} cookie(s)", cookies.len())))
                }
                CookieAction::Clear => {
                    let n =
                        storage::clear(&live.lease, &live.context, live.tab(), domain, deadline)
                            .await?;
                    let page = navigate::page_info(live.tab().tab(deadline), None).await?;
                    Ok(done(page, format!("Deleted {n} cookie(s)")))
                }
            }
        }
        Operation::StorageState(a) => match (a.action.unwrap_or_default(), &a.state) {
            (StorageAction::Import, Some(state)) => {
                storage::import(&live.lease, &live.context, state, deadline).await?;
                let page = navigate::page_info(live.tab().tab(deadline), None).await?;
                Ok(done(
                    page,
                    format!(
                        "Imported {} cookie(s) and the localStorage of {} origin(s); navigate \
                         to the site to use them",
                        state.cookies.len(),
                        state.origins.len()
                    ),
                ))
            }
            _ => Ok(JobOutput::StorageState {
                state: storage::export(&live.lease, &live.context, &live.tabs, deadline).await?,
            }),
        },
        Operation::Downloads(a) => match a.index {
            None => Ok(JobOutput::Downloads {
                downloads: live.downloads.list(),
                enabled: live.downloads.enabled(),
            }),
            Some(i) => {
                let (info, file) = live.downloads.read(i).await?;
                Ok(JobOutput::File { info, file })
            }
        },
        Operation::Click(_) => {
            let output = on_tab(live.tab().tab(deadline), op, limits).await?;
            // A click may open a popup: adopt it so `tabs` can reach it.
            let before = live.tabs.len();
            let closed = adopt_popups(live, limits).await;
            if live.tabs.len() > before {
                live.tab().watch.note(format!(
                    "the click opened a new tab (index {}); call tabs with action=\"select\" to \
                     use it",
                    live.tabs.len() - 1
                ));
            }
            let why = if limits.popups {
                format!("this session is at its limit of {} tabs", limits.max_tabs)
            } else {
                "this server does not allow popups (--popups)".to_owned()
            };
            for url in closed {
                live.tab().watch.note(format!(
                    "the click opened {url} in a new tab, which was closed: {why}; navigate to it \
                     instead"
                ));
            }
            Ok(output)
        }
        _ => on_tab(live.tab().tab(deadline), op, limits).await,
    }
    .map(|output| with_late_notes(output, live))
}

/// Adds the notes that arrived after the output's page line was read (a tab a
/// click opened, a download it started) to an output that names a page.
fn with_late_notes(mut output: JobOutput, live: &Live) -> JobOutput {
    let Some(page) = output.page_mut() else {
        return output;
    };
    page.notes.extend(live.tab().watch.take_notes());
    page.notes.extend(live.downloads.take_notes());
    output
}

async fn on_tab(tab: Tab<'_>, op: &Operation, limits: &crate::PoolConfig) -> OpResult<JobOutput> {
    let nav_timeout = limits.navigation_timeout;
    match op {
        Operation::Navigate(a) => {
            let status = match (a.action.unwrap_or_default(), &a.url) {
                (NavAction::Goto, Some(url)) => {
                    let wait = a.wait_until.unwrap_or_default();
                    navigate::navigate(tab, url, wait, timeout_or(a.timeout_ms, nav_timeout))
                        .await?
                }
                (NavAction::Goto, None) => unreachable!("validated"),
                (action, _) => {
                    let offset = match action {
                        NavAction::Back => -1,
                        NavAction::Forward => 1,
                        _ => 0,
                    };
                    navigate::history(tab, offset, timeout_or(a.timeout_ms, nav_timeout)).await?;
                    None
                }
            };
            Ok(JobOutput::Navigated {
                page: navigate::page_info(tab, status).await?,
            })
        }
        Operation::Screenshot(a) => {
            let status = load(tab, a.url.as_deref(), nav_timeout).await?;
            let mut page = navigate::page_info(tab, status).await?;
            let (image, note) =
                screenshot::capture(tab, a, &page.url, limits.screenshot_max_bytes).await?;
            page.notes.extend(note);
            Ok(JobOutput::Screenshot { page, image })
        }
        Operation::Pdf(a) => {
            let status = load(tab, a.url.as_deref(), nav_timeout).await?;
            let page = navigate::page_info(tab, status).await?;
            let (data_base64, bytes) = pdf::print(tab, a).await?;
            Ok(JobOutput::Pdf {
                page,
                data_base64,
                bytes,
            })
        }
        Operation::Scrape(a) => {
            let status = load(tab, a.url.as_deref(), nav_timeout).await?;
            let format = a.format.unwrap_or_default();
            let main_content = a.main_content.unwrap_or(true);
            let source: extract::Source = tab
                .eval(
                    "reading the page",
                    &extract::source_js(format, main_content),
                )
                .await?;
            let max_chars = a.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
            let notes = tab.watch.take_notes();
            let (page, content, truncated_chars) = tokio::task::spawn_blocking(move || {
                let rendered = extract::render(&source, format, main_content);
                let (content, dropped) = extract::truncate(rendered, max_chars);
                (
                    PageInfo {
                        url: source.url,
                        status,
                        title: source.title,
                        notes,
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
        Operation::Snapshot(a) => {
            let snap = snapshot::snapshot(tab, a.selector.as_deref(), a.max_chars, a.page).await?;
            Ok(JobOutput::Snapshot {
                page: navigate::page_info(tab, None).await?,
                text: snap.text,
                part: snap.part,
                parts: snap.parts,
            })
        }
        Operation::Click(a) => {
            interact::click(tab, &a.target()?, a.double == Some(true), nav_timeout).await?;
            Ok(JobOutput::Clicked {
                page: navigate::page_info(tab, None).await?,
            })
        }
        Operation::Type(a) => {
            let submit = a.submit.unwrap_or(false);
            interact::type_text(tab, &a.target()?, &a.text, submit, nav_timeout).await?;
            Ok(JobOutput::Typed {
                page: navigate::page_info(tab, None).await?,
            })
        }
        Operation::Hover(a) => {
            let t = target(&a.element, &a.selector)?;
            interact::hover(tab, &t).await?;
            let page = navigate::page_info(tab, None).await?;
            Ok(done(page, format!("Hovered over {}", t.describe())))
        }
        Operation::SelectOption(a) => {
            let t = target(&a.element, &a.selector)?;
            let selected = interact::select_option(tab, &t, &a.values).await?;
            let page = navigate::page_info(tab, None).await?;
            Ok(done(
                page,
                format!("Selected {} in {}", quote_list(&selected), t.describe()),
            ))
        }
        Operation::PressKey(a) => {
            let navigated = interact::press_key(tab, &a.key, nav_timeout).await?;
            let page = navigate::page_info(tab, None).await?;
            let then = if navigated {
                " and a new page loaded"
            } else {
                ""
            };
            Ok(done(page, format!("Pressed {}{then}", a.key)))
        }
        Operation::Scroll(a) => {
            let t = match (&a.element, &a.selector) {
                (None, None) => None,
                _ => Some(target(&a.element, &a.selector)?),
            };
            let direction = a.direction.unwrap_or_default();
            let position = interact::scroll(tab, t.as_ref(), direction, a.amount).await?;
            let page = navigate::page_info(tab, None).await?;
            let what = match &t {
                Some(t) => format!("Scrolled {} into view", t.describe()),
                None => format!("Scrolled {}", wire_name(&direction)),
            };
            Ok(done(page, format!("{what}; {position}")))
        }
        Operation::FillForm(a) => {
            let lines = interact::fill_form(tab, &a.fields).await?;
            let page = navigate::page_info(tab, None).await?;
            Ok(done(
                page,
                format!("Filled {} field(s):\n{}", lines.len(), lines.join("\n")),
            ))
        }
        Operation::UploadFile(a) => {
            let t = target(&a.element, &a.selector)?;
            let files = upload_paths(limits.upload_dir.as_deref(), &a.paths)?;
            interact::upload(tab, &t, &files).await?;
            let page = navigate::page_info(tab, None).await?;
            Ok(done(
                page,
                format!("Attached {} file(s) to {}", files.len(), t.describe()),
            ))
        }
        Operation::WaitFor(a) => {
            let condition = a.condition()?;
            let timeout = Duration::from_millis(a.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
            let took = wait::wait_for(tab, &condition, timeout).await?;
            let page = navigate::page_info(tab, None).await?;
            Ok(done(
                page,
                format!("The condition held after {} ms", took.as_millis()),
            ))
        }
        Operation::HandleDialog(a) => {
            let replaced = tab.watch.arm_dialog(a.clone());
            let page = navigate::page_info(tab, None).await?;
            let verb = if a.accept { "accepted" } else { "dismissed" };
            let again = if replaced.is_some() {
                " (replacing the previous instruction)"
            } else {
                ""
            };
            Ok(done(
                page,
                format!(
                    "The next dialog in this tab will be {verb}{again}; now run the action that \
                     opens it"
                ),
            ))
        }
        Operation::ConsoleMessages(a) => {
            let (entries, omitted) = tab.watch.console(
                a.level,
                a.since,
                a.max_entries.unwrap_or(DEFAULT_LOG_ENTRIES),
            );
            Ok(JobOutput::Console { entries, omitted })
        }
        Operation::NetworkRequests(a) => {
            let (entries, omitted) = tab.watch.requests(
                a.filter.as_deref(),
                a.failed_only == Some(true),
                a.since,
                a.max_entries.unwrap_or(DEFAULT_LOG_ENTRIES),
            );
            Ok(JobOutput::Requests { entries, omitted })
        }
        Operation::Evaluate(a) => evaluate(tab, &a.expression, limits.script_timeout).await,
        Operation::Tabs(_)
        | Operation::Emulate(_)
        | Operation::Cookies(_)
        | Operation::StorageState(_)
        | Operation::Downloads(_) => unreachable!("session-wide operations run in execute"),
    }
}

async fn load(tab: Tab<'_>, url: Option<&str>, timeout: Duration) -> OpResult<Option<u16>> {
    match url {
        Some(url) => navigate::navigate(tab, url, WaitUntil::Load, timeout).await,
        None => Ok(None),
    }
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves upload paths inside `dir`, refusing anything that escapes it.
fn upload_paths(dir: Option<&Path>, paths: &[String]) -> Result<Vec<String>, JobError> {
    let Some(dir) = dir else {
        return Err(JobError::invalid_argument(
            "uploads are off on this server; start it with --upload-dir DIR and put the files \
             there",
        ));
    };
    let root = dir.canonicalize().map_err(|e| {
        JobError::new(
            ErrorKind::Unavailable,
            format!("the upload directory is unusable: {e}"),
        )
    })?;
    paths
        .iter()
        .map(|p| {
            let rel = Path::new(p);
            if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(JobError::invalid_argument(format!(
                    "'{p}' must be a plain file name relative to the upload directory (no /, \
                     .. or absolute paths)"
                )));
            }
            let full: PathBuf = root.join(rel);
            let real = full.canonicalize().map_err(|_| {
                JobError::invalid_argument(format!("'{p}' is not in the upload directory"))
            })?;
            if !real.starts_with(&root) || !real.is_file() {
                return Err(JobError::invalid_argument(format!(
                    "'{p}' is not a file inside the upload directory"
                )));
            }
            Ok(real.to_string_lossy().into_owned())
        })
        .collect()
}

async fn evaluate(tab: Tab<'_>, expression: &str, script_timeout: Duration) -> OpResult<JobOutput> {
    let started = std::time::Instant::now();
    let result = tab
        .eval_value(EVALUATING, expression, Some(script_timeout))
        .await;
    // V8 reports a script stopped by the CDP timeout as a bare internal error.
    let overran = started.elapsed() >= script_timeout;
    match result {
        Err(OpError::Fault {
            fault: Fault::Protocol(_),
            ..
        }) if overran => Err(script_timed_out(script_timeout).into()),
        Ok(value) => Ok(JobOutput::Evaluated { value }),
        Err(OpError::Job(e)) if e.kind == ErrorKind::Script => {
            Err(script_error(e, script_timeout).into())
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

/// Takes in tabs the pages opened in this context (popups, `target=_blank`
/// links) that the session does not hold yet; when the server allows no popups
/// (or the session is at its tab limit), closes them instead and returns their
/// URLs.
async fn adopt_popups(live: &mut Live, limits: &crate::PoolConfig) -> Vec<String> {
    let deadline = limits.cdp_timeout;
    let Ok(reply) = live
        .lease
        .exec(deadline, crate::cdp::raw("Target.getTargets", json!({})))
        .await
    else {
        return Vec::new();
    };
    let ours = live.context.inner().clone();
    let fresh: Vec<(String, String)> = reply
        .get("targetInfos")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "page" && t["browserContextId"].as_str() == Some(ours.as_str()))
        .filter_map(|t| {
            let id = t["targetId"].as_str()?.to_owned();
            let url = t["url"].as_str().unwrap_or("").to_owned();
            Some((id, url))
        })
        .filter(|(id, _)| !live.tabs.iter().any(|h| h.page.target_id().inner() == id))
        .collect();
    let mut closed = Vec::new();
    for (id, url) in fresh {
        if !limits.popups || live.tabs.len() >= limits.max_tabs {
            let url = committed_url(live, &id, url, deadline).await;
            let close = crate::cdp::raw("Target.closeTarget", json!({ "targetId": id }));
            let _ = live.lease.exec(deadline, close).await;
            closed.push(if url.is_empty() || url == "about:blank" {
                "a page".to_owned()
            } else {
                url
            });
            continue;
        }
        let page =
            tokio::time::timeout(deadline, live.lease.browser().get_page(TargetId::new(id))).await;
        if let Ok(Ok(page)) = page
            && let Ok(tab) = TabHandle::attach(page, deadline, live.lease.gate.clone()).await
        {
            live.tabs.push(tab);
        }
    }
    closed
}

/// How long a popup about to be closed may take to show where it leads: a
/// busy machine reports a fresh popup as `about:blank` for a moment.
const POPUP_URL_WAIT: Duration = Duration::from_millis(500);

/// A new target's URL once it is more than `about:blank`, or what it was after
/// [`POPUP_URL_WAIT`] (a popup may really be blank).
async fn committed_url(live: &Live, id: &str, mut url: String, deadline: Duration) -> String {
    let until = tokio::time::Instant::now() + POPUP_URL_WAIT;
    while (url.is_empty() || url == "about:blank") && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let info = crate::cdp::raw("Target.getTargetInfo", json!({ "targetId": id }));
        match live.lease.exec(deadline, info).await {
            Ok(reply) => {
                url = reply["targetInfo"]["url"].as_str().unwrap_or("").to_owned();
            }
            Err(_) => break,
        }
    }
    url
}

async fn tab_info(tab: &TabHandle, index: usize, current: bool) -> TabInfo {
    let read = navigate::url_title(tab.tab(TAB_INFO_TIMEOUT)).await;
    let (url, title) = match read {
        Ok(read) => read,
        Err(_) => (
            tab.page
                .url()
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| "(unknown)".into()),
            "(not responding)".into(),
        ),
    };
    TabInfo {
        index,
        url,
        title,
        current,
    }
}

async fn tabs(live: &mut Live, a: &TabsArgs, limits: &crate::PoolConfig) -> OpResult<JobOutput> {
    let deadline = limits.cdp_timeout;
    adopt_popups(live, limits).await;
    let count = live.tabs.len();
    let bad_index = |i: usize| {
        JobError::invalid_argument(format!(
            "there is no tab {i}; this session has tabs 0 to {}",
            count - 1
        ))
    };
    let message = match a.action.unwrap_or_default() {
        TabAction::List => format!("{count} tab(s)"),
        TabAction::New => {
            if count >= limits.max_tabs {
                return Err(JobError::invalid_argument(format!(
                    "this session already has {count} tabs, the most it may hold \
                     (--max-tabs); close one first"
                ))
                .into());
            }
            let tab = live.open_tab(deadline).await.map_err(|e| {
                JobError::new(ErrorKind::Unavailable, format!("could not open a tab: {e}"))
            })?;
            live.tabs.push(tab);
            live.current = live.tabs.len() - 1;
            if let Some(url) = &a.url {
                navigate::navigate(
                    live.tab().tab(deadline),
                    url,
                    WaitUntil::Load,
                    limits.navigation_timeout,
                )
                .await?;
            }
            format!("Opened tab {} and made it current", live.current)
        }
        TabAction::Select => {
            let i = a.index.expect("validated");
            if i >= count {
                return Err(bad_index(i).into());
            }
            live.current = i;
            format!("Tab {i} is now current")
        }
        TabAction::Close => {
            let i = a.index.unwrap_or(live.current);
            if i >= count {
                return Err(bad_index(i).into());
            }
            if count == 1 {
                live.replace_tab(deadline).await.map_err(|e| {
                    JobError::new(ErrorKind::Unavailable, format!("could not open a tab: {e}"))
                })?;
                "Closed the only tab; a blank one took its place".to_owned()
            } else {
                let closed = live.tabs.remove(i);
                closed.close(deadline).await;
                if live.current > i || live.current == live.tabs.len() {
                    live.current = live.current.saturating_sub(1);
                }
                format!("Closed tab {i}; tab {} is current", live.current)
            }
        }
    };
    let mut list = Vec::with_capacity(live.tabs.len());
    for (i, tab) in live.tabs.iter().enumerate() {
        list.push(tab_info(tab, i, i == live.current).await);
    }
    Ok(JobOutput::Tabs {
        tabs: list,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_stay_inside_the_upload_directory() {
        let dir = std::env::temp_dir().join(format!("bf-upload-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "a").unwrap();
        assert!(upload_paths(None, &["a.txt".into()]).is_err());
        let ok = upload_paths(Some(&dir), &["a.txt".into()]).unwrap();
        assert!(ok[0].ends_with("a.txt"));
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "sub",
            "missing.txt",
            "./a.txt",
        ] {
            assert!(upload_paths(Some(&dir), &[bad.into()]).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

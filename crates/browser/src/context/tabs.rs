//! A session's tabs: the `tabs` operation (list, new, select, close) and the
//! pages a context opens by itself (popups, `target=_blank` links), which are
//! taken in as tabs only with `--popups` and below `--max-tabs`, and otherwise
//! closed at once with a note for the agent.

use std::time::Duration;

use browserfarm_protocol::{
    ErrorKind, JobError, JobOutput, TabAction, TabChange, TabInfo, TabsArgs, WaitUntil,
};
use chromiumoxide::cdp::browser_protocol::target::TargetId;
use serde_json::{Value, json};

use super::live::Live;
use crate::ops::navigate;
use crate::process::PoolConfig;
use crate::tab::cdp::raw;
use crate::tab::{OpResult, TabHandle};

/// Deadline for reading one tab's URL and title when listing tabs.
const TAB_INFO_TIMEOUT: Duration = Duration::from_secs(2);

/// After a click: takes in the tab it opened, or closes it when popups are off
/// or the session is at its tab limit, and notes either for the agent.
pub(crate) async fn adopt_after_click(live: &mut Live, limits: &PoolConfig) {
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
}

/// Takes in tabs the pages opened in this context (popups, `target=_blank`
/// links) that the session does not hold yet; when the server allows no popups
/// (or the session is at its tab limit), closes them instead and returns their
/// URLs.
async fn adopt_popups(live: &mut Live, limits: &PoolConfig) -> Vec<String> {
    let deadline = limits.cdp_timeout;
    let Ok(reply) = live
        .lease
        .exec(deadline, raw("Target.getTargets", json!({})))
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
            let close = raw("Target.closeTarget", json!({ "targetId": id }));
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
        let info = raw("Target.getTargetInfo", json!({ "targetId": id }));
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

/// `tabs`: list, open, select or close the session's tabs (popups it opened
/// are taken in first).
pub(crate) async fn run(live: &mut Live, a: &TabsArgs, limits: &PoolConfig) -> OpResult<JobOutput> {
    let deadline = limits.cdp_timeout;
    adopt_popups(live, limits).await;
    let count = live.tabs.len();
    let bad_index = |i: usize| {
        JobError::invalid_argument(format!(
            "there is no tab {i}; this session has tabs 0 to {}",
            count - 1
        ))
    };
    let change = match a.action.unwrap_or_default() {
        TabAction::List => TabChange::Listed,
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
            TabChange::Opened {
                index: live.current,
            }
        }
        TabAction::Select => {
            let i = a.index.expect("validated");
            if i >= count {
                return Err(bad_index(i).into());
            }
            live.current = i;
            TabChange::Selected { index: i }
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
                TabChange::ReplacedOnly
            } else {
                let closed = live.tabs.remove(i);
                closed.close(deadline).await;
                if live.current > i || live.current == live.tabs.len() {
                    live.current = live.current.saturating_sub(1);
                }
                TabChange::Closed {
                    index: i,
                    current: live.current,
                }
            }
        }
    };
    let mut list = Vec::with_capacity(live.tabs.len());
    for (i, tab) in live.tabs.iter().enumerate() {
        list.push(tab_info(tab, i, i == live.current).await);
    }
    Ok(JobOutput::Tabs { tabs: list, change })
}

//! `cookies` and `storage_state`: a session's cookie jar (its browser context's,
//! via the browser-level `Storage` domain) and the localStorage of its origins,
//! exported so an agent can log in once and import the state into later sessions.

use std::time::Duration;

use base64::Engine;
use browserfarm_protocol::{
    Cookie, CookieAction, CookiesArgs, Effect, ErrorKind, JobError, JobOutput, OriginStorage,
    StorageAction, StorageState, StorageStateArgs, cookie_domain_matches,
};
use chromiumoxide::cdp::browser_protocol::fetch::EventRequestPaused;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::tab::cdp::OpResult;
use crate::tab::{ContextRef, TabHandle};

/// Deadline for loading an origin's empty stand-in page during an import.
const ORIGIN_LOAD: Duration = Duration::from_secs(10);

/// `cookies`: get, set or clear the context's cookies; `tab` is the current
/// tab (the page line, and per-domain deletes).
pub(crate) async fn cookies(
    context: ContextRef<'_>,
    tab: &TabHandle,
    a: &CookiesArgs,
    deadline: Duration,
) -> OpResult<JobOutput> {
    let domain = a.domain.as_deref();
    let effect = match a.action.unwrap_or_default() {
        CookieAction::Get => {
            return Ok(JobOutput::Cookies {
                cookies: get(context, domain, deadline).await?,
            });
        }
        CookieAction::Set => {
            let cookies = a.cookies.as_deref().unwrap_or_default();
            set(context, cookies, deadline).await?;
            Effect::CookiesSet {
                count: cookies.len(),
            }
        }
        CookieAction::Clear => Effect::CookiesDeleted {
            count: clear(context, tab, domain, deadline).await?,
        },
    };
    let page = super::navigate::page_info(tab.tab(deadline), None).await?;
    Ok(JobOutput::Acted { page, effect })
}

/// `storage_state`: export the context's cookies and its tabs' localStorage,
/// or import a state exported before; `tabs[current]` gives the page line.
pub(crate) async fn storage_state(
    context: ContextRef<'_>,
    tabs: &[TabHandle],
    current: usize,
    a: &StorageStateArgs,
    deadline: Duration,
) -> OpResult<JobOutput> {
    match (a.action.unwrap_or_default(), &a.state) {
        (StorageAction::Import, Some(state)) => {
            import(context, state, deadline).await?;
            let page = super::navigate::page_info(tabs[current].tab(deadline), None).await?;
            let effect = Effect::StorageImported {
                cookies: state.cookies.len(),
                origins: state.origins.len(),
            };
            Ok(JobOutput::Acted { page, effect })
        }
        _ => Ok(JobOutput::StorageState {
            state: export(context, tabs, deadline).await?,
        }),
    }
}

fn from_cdp(c: &Value) -> Cookie {
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let session = c.get("session").and_then(Value::as_bool) == Some(true);
    Cookie {
        name: s("name").unwrap_or_default(),
        value: s("value").unwrap_or_default(),
        domain: s("domain"),
        url: None,
        path: s("path"),
        expires: c
            .get("expires")
            .and_then(Value::as_f64)
            .filter(|e| !session && *e > 0.0),
        http_only: c.get("httpOnly").and_then(Value::as_bool),
        secure: c.get("secure").and_then(Value::as_bool),
        same_site: s("sameSite"),
    }
}

fn to_cdp(c: &Cookie) -> Value {
    let mut v = json!({"name": c.name, "value": c.value});
    let mut put = |k: &str, x: Option<Value>| {
        if let Some(x) = x {
            v[k] = x;
        }
    };
    put("url", c.url.clone().map(Value::from));
    put("domain", c.domain.clone().map(Value::from));
    put(
        "path",
        Some(Value::from(c.path.clone().unwrap_or_else(|| "/".into()))),
    );
    put("expires", c.expires.map(Value::from));
    put("httpOnly", c.http_only.map(Value::from));
    put("secure", c.secure.map(Value::from));
    put("sameSite", c.same_site.clone().map(Value::from));
    v
}

/// The context's cookies, optionally only those sent to `domain`.
pub(crate) async fn get(
    context: ContextRef<'_>,
    domain: Option<&str>,
    deadline: Duration,
) -> Result<Vec<Cookie>, JobError> {
    let reply = context
        .call(
            deadline,
            "reading cookies",
            "Storage.getCookies",
            json!({"browserContextId": context.id}),
        )
        .await?;
    Ok(reply["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(from_cdp)
        .filter(|c| {
            domain.is_none_or(|d| {
                c.domain
                    .as_deref()
                    .is_some_and(|cd| cookie_domain_matches(cd, d))
            })
        })
        .collect())
}

pub(crate) async fn set(
    context: ContextRef<'_>,
    cookies: &[Cookie],
    deadline: Duration,
) -> Result<(), JobError> {
    context
        .call(
        deadline,
        "setting cookies",
        "Storage.setCookies",
        json!({"browserContextId": context.id, "cookies": cookies.iter().map(to_cdp).collect::<Vec<_>>()}),
    )
    .await
    .map_err(|e| {
        JobError::invalid_argument(format!(
            "{}; check each cookie's domain/url, path and same_site (SameSite=None needs secure)",
            e.message
        ))
    })
    .map(drop)
}

/// Deletes the context's cookies, or only those of `domain`; returns how many.
pub(crate) async fn clear(
    context: ContextRef<'_>,
    tab: &TabHandle,
    domain: Option<&str>,
    deadline: Duration,
) -> Result<usize, JobError> {
    let doomed = get(context, domain, deadline).await?;
    if domain.is_none() {
        context
            .call(
                deadline,
                "clearing cookies",
                "Storage.clearCookies",
                json!({"browserContextId": context.id}),
            )
            .await?;
        return Ok(doomed.len());
    }
    let t = tab.tab(deadline);
    for c in &doomed {
        t.raw(
            "deleting a cookie",
            "Network.deleteCookies",
            json!({"name": c.name, "domain": c.domain, "path": c.path}),
        )
        .await
        .map_err(|_| JobError::internal("Chromium did not delete a cookie"))?;
    }
    Ok(doomed.len())
}

/// Cookies plus the localStorage of every open tab's origin.
pub(crate) async fn export(
    context: ContextRef<'_>,
    tabs: &[TabHandle],
    deadline: Duration,
) -> OpResult<StorageState> {
    let cookies = get(context, None, deadline).await?;
    let mut origins: Vec<OriginStorage> = Vec::new();
    for tab in tabs {
        let reply: Value = tab
            .tab(deadline)
            .eval(
                "reading localStorage",
                "(() => { if (!/^https?:$/.test(location.protocol)) return null; \
                 try { return {origin: location.origin, items: Object.entries(localStorage)}; } \
                 catch (e) { return null; } })()",
            )
            .await?;
        let (Some(origin), Some(items)) = (reply["origin"].as_str(), reply["items"].as_array())
        else {
            continue;
        };
        if origins.iter().any(|o| o.origin == origin) {
            continue;
        }
        let local_storage = items
            .iter()
            .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), pair[1].as_str()?.to_owned())))
            .collect();
        origins.push(OriginStorage {
            origin: origin.to_owned(),
            local_storage,
        });
    }
    Ok(StorageState { cookies, origins })
}

/// Sets the cookies, then writes each origin's localStorage from a temporary tab
/// whose requests are answered with an empty page, so nothing is fetched from
/// the origin itself.
pub(crate) async fn import(
    context: ContextRef<'_>,
    state: &StorageState,
    deadline: Duration,
) -> OpResult<()> {
    if !state.cookies.is_empty() {
        set(context, &state.cookies, deadline).await?;
    }
    for origin in state.origins.iter().filter(|o| !o.local_storage.is_empty()) {
        let tab = context.open_unfiltered_tab(deadline).await.map_err(|e| {
            JobError::new(ErrorKind::Unavailable, format!("could not open a tab: {e}"))
        })?;
        let result = seed_origin(&tab, origin, deadline).await;
        tab.close(deadline).await;
        result?;
    }
    Ok(())
}

async fn seed_origin(tab: &TabHandle, origin: &OriginStorage, deadline: Duration) -> OpResult<()> {
    let t = tab.tab(deadline);
    let mut paused = super::navigate::listen::<EventRequestPaused>(t).await?;
    t.raw(
        "intercepting requests",
        "Fetch.enable",
        json!({"patterns": [{"urlPattern": "*"}]}),
    )
    .await?;
    let url = format!("{}/", origin.origin.trim_end_matches('/'));
    let mut navigation =
        std::pin::pin!(t.raw("opening the origin", "Page.navigate", json!({"url": url})));
    let empty = base64::engine::general_purpose::STANDARD.encode("<!doctype html><title></title>");
    let give_up = tokio::time::sleep(ORIGIN_LOAD);
    tokio::pin!(give_up);
    loop {
        tokio::select! {
            Some(ev) = paused.next() => {
                t.raw(
                    "answering a request",
                    "Fetch.fulfillRequest",
                    json!({
                        "requestId": ev.request_id,
                        "responseCode": 200,
                        "responseHeaders": [{"name": "Content-Type", "value": "text/html"}],
                        "body": empty,
                    }),
                )
                .await?;
            }
            done = &mut navigation => {
                done?;
                break;
            }
            _ = &mut give_up => {
                return Err(JobError::new(
                    ErrorKind::Timeout,
                    format!("could not open {} to restore its localStorage", origin.origin),
                )
                .into());
            }
        }
    }
    let js = format!(
        "(() => {{ for (const [k, v] of {}) localStorage.setItem(k, v); return location.origin; }})()",
        serde_json::to_string(&origin.local_storage).expect("strings serialise")
    );
    let landed: String = t.eval("restoring localStorage", &js).await?;
    if landed != origin.origin.trim_end_matches('/') {
        return Err(JobError::invalid_argument(format!(
            "origin {} is not a plain scheme://host[:port] origin (it loaded as {landed})",
            origin.origin
        ))
        .into());
    }
    Ok(())
}

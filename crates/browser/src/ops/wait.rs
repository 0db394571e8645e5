//! `wait_for`: one in-page promise that polls for the condition, so waiting costs
//! one round trip, not one per poll. A navigation that replaces the document
//! mid-wait restarts the wait in the new document, within the same deadline.

use std::time::Duration;

use browserfarm_protocol::{
    DEFAULT_WAIT_MS, Effect, ErrorKind, JobError, JobOutput, WaitCondition, WaitForArgs,
};
use serde_json::{Value, json};

use crate::tab::cdp::{Fault, OpError, OpResult, Tab, js_str};

/// How often the page checks the condition, in milliseconds.
const POLL_MS: u64 = 100;

fn check_js(condition: &WaitCondition) -> String {
    match condition {
        WaitCondition::Selector(s) => format!(
            "const el = document.querySelector({}); \
             return !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';",
            js_str(s)
        ),
        WaitCondition::Text(t) => format!(
            "return !!document.body && document.body.innerText.includes({});",
            js_str(t)
        ),
        WaitCondition::TextGone(t) => format!(
            "return !document.body || !document.body.innerText.includes({});",
            js_str(t)
        ),
    }
}

/// `wait_for`: until the condition holds, up to the call's timeout.
pub(crate) async fn run(tab: Tab<'_>, a: &WaitForArgs) -> OpResult<JobOutput> {
    let condition = a.condition()?;
    let timeout = Duration::from_millis(a.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
    let took = wait_for(tab, &condition, timeout).await?;
    let page = super::navigate::page_info(tab, None).await?;
    let elapsed_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    Ok(JobOutput::Acted {
        page,
        effect: Effect::Waited { elapsed_ms },
    })
}

/// Waits until `condition` holds; returns how long it took.
pub(crate) async fn wait_for(
    tab: Tab<'_>,
    condition: &WaitCondition,
    timeout: Duration,
) -> OpResult<Duration> {
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let js = format!(
            "new Promise(resolve => {{ const until = Date.now() + {ms}; \
             const check = () => {{ {check} }}; \
             const tick = () => {{ let ok; \
               try {{ ok = check(); }} catch (e) {{ resolve({{error: 'invalid CSS selector: ' + e.message}}); return; }} \
               if (ok) resolve({{ok: true}}); \
               else if (Date.now() >= until) resolve({{timeout: true}}); \
               else setTimeout(tick, {POLL_MS}); }}; \
             tick(); }})",
            ms = left.as_millis(),
            check = check_js(condition)
        );
        let reply = tab
            .exec_within(
                "waiting for the condition",
                left + tab.cdp_timeout,
                crate::tab::cdp::raw(
                    "Runtime.evaluate",
                    json!({"expression": js, "awaitPromise": true, "returnByValue": true}),
                ),
            )
            .await;
        match reply {
            Ok(v) => {
                let value = &v["result"]["value"];
                if value.get("ok") == Some(&Value::Bool(true)) {
                    return Ok(started.elapsed());
                }
                if let Some(e) = value.get("error").and_then(Value::as_str) {
                    return Err(JobError::invalid_argument(e.to_owned()).into());
                }
                if value.get("timeout").is_some() || tokio::time::Instant::now() >= deadline {
                    return Err(timed_out(condition, timeout).into());
                }
            }
            // The document went away mid-wait (a navigation): wait in the new one.
            Err(OpError::Fault {
                fault: Fault::Protocol(msg),
                ..
            }) if super::navigate::is_navigation_race(&msg) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(timed_out(condition, timeout).into());
                }
                tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn timed_out(condition: &WaitCondition, timeout: Duration) -> JobError {
    let what = match condition {
        WaitCondition::Selector(s) => format!("an element matching '{s}' to be visible"),
        WaitCondition::Text(t) => format!("the text \"{t}\" to appear"),
        WaitCondition::TextGone(t) => format!("the text \"{t}\" to disappear"),
    };
    JobError::new(
        ErrorKind::Timeout,
        format!(
            "waited {} ms for {what}; it did not happen. Check with snapshot or scrape, or \
             wait longer with timeout_ms",
            timeout.as_millis()
        ),
    )
}

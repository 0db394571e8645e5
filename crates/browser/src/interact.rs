//! Clicking and typing with real input events (CDP `Input.*`), so pages see what a
//! user would produce: trusted mouse and keyboard events, not synthetic `click()`.

use std::time::Duration;

use browserfarm_protocol::{ErrorKind, JobError};
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton,
};

use crate::cdp::{OpResult, Tab, js_str};
use crate::navigate::NavigationWatch;

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Target {
    Point { x: f64, y: f64 },
    Missing { error: String },
}

/// JavaScript that finds the first match of `selector`, brings it into view and
/// runs `then` (a function body over `el` returning the reply object).
fn locate_js(selector: &str, then: &str) -> String {
    format!(
        "(() => {{ let el; try {{ el = document.querySelector({sel}); }} \
         catch (e) {{ return {{error: 'invalid CSS selector: ' + e.message}}; }} \
         if (!el) return {{error: 'none'}}; \
         el.scrollIntoView({{block: 'center', inline: 'center'}}); {then} }})()",
        sel = js_str(selector)
    )
}

fn located(target: Target, selector: &str, url: &str) -> Result<(f64, f64), JobError> {
    match target {
        Target::Point { x, y } => Ok((x, y)),
        Target::Missing { error } if error == "none" => Err(JobError::new(
            ErrorKind::ElementNotFound,
            format!(
                "no element matches selector '{selector}' on {url}; call scrape with \
                 format=\"links\" or \"html\" to see what is there, or check the selector"
            ),
        )),
        Target::Missing { error } if error == "hidden" => Err(JobError::new(
            ErrorKind::ElementNotFound,
            format!(
                "the element matching '{selector}' on {url} is not visible (zero size); \
                 it may be hidden until something else is clicked"
            ),
        )),
        Target::Missing { error } => Err(JobError::invalid_argument(error)),
    }
}

/// Clicks the centre of the first element matching `selector`. If the click starts
/// a page load, waits for it (up to `nav_timeout`). Returns whether it navigated.
pub(crate) async fn click(
    tab: Tab<'_>,
    selector: &str,
    url: &str,
    nav_timeout: Duration,
) -> OpResult<bool> {
    let js = locate_js(
        selector,
        "const r = el.getBoundingClientRect(); \
         if (r.width === 0 || r.height === 0) return {error: 'hidden'}; \
         return {x: r.left + r.width / 2, y: r.top + r.height / 2};",
    );
    let (x, y) = located(tab.eval("finding the element", &js).await?, selector, url)?;
    let watch = NavigationWatch::start(tab).await?;
    for kind in [
        DispatchMouseEventType::MousePressed,
        DispatchMouseEventType::MouseReleased,
    ] {
        let mut ev = DispatchMouseEventParams::new(kind, x, y);
        ev.button = Some(MouseButton::Left);
        ev.click_count = Some(1);
        tab.exec("clicking", ev).await?;
    }
    watch.settle(tab, nav_timeout).await
}

/// Focuses the first element matching `selector`, types `text` at the end of its
/// content, and optionally presses Enter (waiting for a resulting page load).
pub(crate) async fn type_text(
    tab: Tab<'_>,
    selector: &str,
    text: &str,
    submit: bool,
    url: &str,
    nav_timeout: Duration,
) -> OpResult<bool> {
    let focus = "el.focus(); \
         if (document.activeElement !== el && !el.isContentEditable) return {error: 'notfocusable'}; \
         try { const n = (el.value || '').length; el.setSelectionRange(n, n); } catch (e) {} \
         return {x: 0, y: 0};";
    let js = locate_js(selector, focus);
    match tab.eval::<Target>("focusing the element", &js).await? {
        Target::Missing { error } if error == "notfocusable" => {
            return Err(JobError::invalid_argument(format!(
                "the element matching '{selector}' on {url} cannot take keyboard input; \
                 select an input, textarea or contenteditable element"
            ))
            .into());
        }
        other => {
            located(other, selector, url)?;
        }
    }
    if !text.is_empty() {
        tab.exec("typing", InsertTextParams::new(text)).await?;
    }
    if !submit {
        return Ok(false);
    }
    let watch = NavigationWatch::start(tab).await?;
    for kind in [DispatchKeyEventType::KeyDown, DispatchKeyEventType::KeyUp] {
        let is_down = kind == DispatchKeyEventType::KeyDown;
        let mut ev = DispatchKeyEventParams::new(kind);
        ev.key = Some("Enter".into());
        ev.code = Some("Enter".into());
        ev.windows_virtual_key_code = Some(13);
        ev.native_virtual_key_code = Some(13);
        if is_down {
            ev.text = Some("\r".into());
            ev.unmodified_text = Some("\r".into());
        }
        tab.exec("pressing Enter", ev).await?;
    }
    watch.settle(tab, nav_timeout).await
}

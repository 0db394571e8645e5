//! Acting on elements with real input events (CDP `Input.*`), so pages see what a
//! user would produce: trusted mouse and keyboard events, not synthetic `click()`.
//! Elements are addressed by snapshot ref or CSS selector ([`ElementTarget`]).

use std::time::Duration;

use browserfarm_protocol::{
    Element, ElementTarget, ErrorKind, FilledField, FilledValue, FormField, JobError, Modifier,
    ScrollDirection, ScrollPosition, parse_key_combo,
};
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton,
};
use serde_json::{Value, json};

use super::navigate::NavigationWatch;
use super::snapshot;
use crate::tab::cdp::{OpResult, Tab, js_str};

/// Runs `body`, a JavaScript function body in which `el` is the target element,
/// and returns its JSON result. A body reports a problem as `{error: "..."}`.
async fn on_element(
    tab: Tab<'_>,
    target: &ElementTarget,
    during: &'static str,
    body: &str,
) -> OpResult<Value> {
    let reply = match target {
        ElementTarget::Selector(selector) => {
            let js = format!(
                "(() => {{ let el; try {{ el = document.querySelector({sel}); }} \
                 catch (e) {{ return {{error: 'invalid CSS selector: ' + e.message}}; }} \
                 if (!el) return {{error: 'none'}}; \
                 return (function (el) {{ {body} }})(el); }})()",
                sel = js_str(selector)
            );
            tab.raw(
                during,
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true, "userGesture": true}),
            )
            .await?
        }
        ElementTarget::Ref(r) => {
            let object = snapshot::resolve(tab, r).await?;
            tab.raw(
                during,
                "Runtime.callFunctionOn",
                json!({
                    "objectId": object,
                    "functionDeclaration": format!("function () {{ const el = this; {body} }}"),
                    "returnByValue": true,
                    "awaitPromise": true,
                    "userGesture": true,
                }),
            )
            .await?
        }
    };
    if let Some(ex) = reply.get("exceptionDetails") {
        let detail = ex["exception"]["description"]
            .as_str()
            .or(ex["text"].as_str())
            .unwrap_or("unknown error");
        return Err(
            JobError::internal(format!("page script failed while {during}: {detail}")).into(),
        );
    }
    let value = reply["result"].get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return Err(element_error(error, target, &page_url(tab).await).into());
    }
    Ok(value)
}

/// The tab's URL for messages, without a CDP round trip (chromiumoxide tracks it
/// from frame events).
async fn page_url(tab: Tab<'_>) -> String {
    match tokio::time::timeout(Duration::from_secs(1), tab.page.url()).await {
        Ok(Ok(Some(url))) => url,
        _ => "this page".to_owned(),
    }
}

fn element_error(error: &str, target: &ElementTarget, url: &str) -> JobError {
    let what = match target {
        ElementTarget::Selector(s) => format!("selector '{s}'"),
        ElementTarget::Ref(r) => format!("ref {r}"),
    };
    match error {
        "none" => JobError::new(
            ErrorKind::ElementNotFound,
            format!(
                "no element matches {what} on {url}; call snapshot to see the page's \
                 elements and their refs, or check the selector"
            ),
        ),
        "hidden" => JobError::new(
            ErrorKind::ElementNotFound,
            format!(
                "the element {what} is not visible (zero size); it may appear only after \
                 something else is clicked or hovered"
            ),
        ),
        "notfocusable" => JobError::invalid_argument(format!(
            "the element {what} cannot take keyboard input; pick an input, textarea or \
             contenteditable element"
        )),
        other => JobError::invalid_argument(format!("{what}: {other}")),
    }
}

/// Scrolls the element into view and returns its centre in viewport coordinates.
const CENTRE: &str = "el.scrollIntoView({block: 'center', inline: 'center'}); \
     const r = el.getBoundingClientRect(); \
     if (r.width === 0 || r.height === 0) return {error: 'hidden'}; \
     return {x: r.left + r.width / 2, y: r.top + r.height / 2};";

async fn centre(tab: Tab<'_>, target: &ElementTarget) -> OpResult<(f64, f64)> {
    let v = on_element(tab, target, "finding the element", CENTRE).await?;
    match (v["x"].as_f64(), v["y"].as_f64()) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(JobError::internal(format!("unexpected element position: {v}")).into()),
    }
}

async fn mouse(
    tab: Tab<'_>,
    kind: DispatchMouseEventType,
    (x, y): (f64, f64),
    clicks: i64,
) -> OpResult<()> {
    let mut ev = DispatchMouseEventParams::new(kind.clone(), x, y);
    if kind != DispatchMouseEventType::MouseMoved {
        ev.button = Some(MouseButton::Left);
        ev.click_count = Some(clicks);
    }
    tab.exec("moving the mouse", ev).await?;
    Ok(())
}

/// Clicks (or double-clicks) the element's centre. If the click starts a page
/// load, waits for it (up to `nav_timeout`). Returns whether it navigated.
pub(crate) async fn click(
    tab: Tab<'_>,
    target: &ElementTarget,
    double: bool,
    nav_timeout: Duration,
) -> OpResult<bool> {
    let at = centre(tab, target).await?;
    let watch = NavigationWatch::start(tab).await?;
    mouse(tab, DispatchMouseEventType::MouseMoved, at, 0).await?;
    for clicks in 1..=if double { 2 } else { 1 } {
        mouse(tab, DispatchMouseEventType::MousePressed, at, clicks).await?;
        mouse(tab, DispatchMouseEventType::MouseReleased, at, clicks).await?;
    }
    watch.settle(tab, nav_timeout).await
}

/// Moves the mouse over the element's centre.
pub(crate) async fn hover(tab: Tab<'_>, target: &ElementTarget) -> OpResult<()> {
    let at = centre(tab, target).await?;
    mouse(tab, DispatchMouseEventType::MouseMoved, at, 0).await
}

/// Focuses the element; with `replace`, selects its current content so typing
/// replaces it, else puts the caret at the end.
async fn focus(tab: Tab<'_>, target: &ElementTarget, replace: bool) -> OpResult<()> {
    let caret = if replace {
        "if (el.isContentEditable) { document.execCommand('selectAll'); } \
         else { try { el.select(); } catch (e) {} }"
    } else {
        "try { const n = (el.value || '').length; el.setSelectionRange(n, n); } catch (e) {}"
    };
    let body = format!(
        "el.scrollIntoView({{block: 'center', inline: 'center'}}); el.focus(); \
         if (document.activeElement !== el && !el.isContentEditable) return {{error: 'notfocusable'}}; \
         {caret} return {{}};"
    );
    on_element(tab, target, "focusing the element", &body).await?;
    Ok(())
}

/// Focuses the element, types `text` at the end of its content, and optionally
/// presses Enter (waiting for a resulting page load).
pub(crate) async fn type_text(
    tab: Tab<'_>,
    target: &ElementTarget,
    text: &str,
    submit: bool,
    nav_timeout: Duration,
) -> OpResult<bool> {
    focus(tab, target, false).await?;
    if !text.is_empty() {
        tab.exec("typing", InsertTextParams::new(text)).await?;
    }
    if !submit {
        return Ok(false);
    }
    press_key(tab, "Enter", nav_timeout).await
}

/// Selects options of a `<select>` by value or visible label; returns the labels
/// now selected.
pub(crate) async fn select_option(
    tab: Tab<'_>,
    target: &ElementTarget,
    values: &[String],
) -> OpResult<Vec<String>> {
    let body = format!(
        "if (el.tagName !== 'SELECT') return {{error: 'is a ' + el.tagName.toLowerCase() + ', not a select; use click for custom dropdowns'}}; \
         const wanted = {values}; const opts = [...el.options]; \
         const pick = wanted.map(w => opts.find(o => o.value === w) || opts.find(o => o.label.trim() === w.trim())); \
         const missing = wanted.filter((w, i) => !pick[i]); \
         if (missing.length) return {{error: 'no option ' + JSON.stringify(missing) + '; the options are ' + JSON.stringify(opts.slice(0, 30).map(o => o.label.trim() || o.value))}}; \
         if (!el.multiple && wanted.length > 1) return {{error: 'allows only one option; pass one value'}}; \
         if (el.disabled) return {{error: 'is disabled'}}; \
         opts.forEach(o => {{ o.selected = pick.includes(o); }}); \
         el.dispatchEvent(new Event('input', {{bubbles: true}})); \
         el.dispatchEvent(new Event('change', {{bubbles: true}})); \
         return {{selected: opts.filter(o => o.selected).map(o => o.label.trim() || o.value)}};",
        values = serde_json::to_string(values).expect("strings serialise")
    );
    let v = on_element(tab, target, "selecting options", &body).await?;
    Ok(serde_json::from_value(v["selected"].clone()).unwrap_or_default())
}

/// Sets each field: text replaces the content (typed, so input handlers run),
/// selects pick an option, checkboxes and radios are clicked into the wanted
/// state. Returns what each field was set to.
pub(crate) async fn fill_form(tab: Tab<'_>, fields: &[FormField]) -> OpResult<Vec<FilledField>> {
    let mut done = Vec::with_capacity(fields.len());
    for field in fields {
        let target = ElementTarget::from_args(field.element.as_deref(), field.selector.as_deref())?;
        let kind = on_element(
            tab,
            &target,
            "inspecting the field",
            "const t = (el.type || '').toLowerCase(); \
             if (el.tagName === 'SELECT') return {kind: 'select'}; \
             if (t === 'checkbox' || t === 'radio') return {kind: 'check', checked: el.checked}; \
             if (t === 'file') return {error: 'is a file input; use upload_file'}; \
             return {kind: 'text'};",
        )
        .await?;
        let what = target.describe();
        match kind["kind"].as_str() {
            Some("select") => {
                let picked =
                    select_option(tab, &target, std::slice::from_ref(&field.value)).await?;
                done.push(FilledField {
                    target: Element::from(&target),
                    value: FilledValue::Selected { values: picked },
                });
            }
            Some("check") => {
                let want = match field.value.trim().to_ascii_lowercase().as_str() {
                    "true" | "on" | "yes" | "checked" | "1" => true,
                    "false" | "off" | "no" | "unchecked" | "0" | "" => false,
                    other => {
                        return Err(JobError::invalid_argument(format!(
                            "{what} is a checkbox or radio button: value must be \"true\" or \
                             \"false\", got \"{other}\""
                        ))
                        .into());
                    }
                };
                if kind["checked"].as_bool() != Some(want) {
                    click(tab, &target, false, Duration::from_secs(5)).await?;
                }
                done.push(FilledField {
                    target: Element::from(&target),
                    value: FilledValue::Checked { checked: want },
                });
            }
            _ => {
                focus(tab, &target, true).await?;
                if field.value.is_empty() {
                    press(tab, &[], "Delete").await?;
                } else {
                    tab.exec("typing", InsertTextParams::new(field.value.as_str()))
                        .await?;
                }
                done.push(FilledField {
                    target: Element::from(&target),
                    value: FilledValue::Typed {
                        chars: field.value.chars().count(),
                    },
                });
            }
        }
    }
    Ok(done)
}

/// The US-keyboard definition of `key`, preferring the main block over the
/// numeric keypad.
fn key_definition(key: &str) -> Option<&'static chromiumoxide::keys::KeyDefinition> {
    let layout = &chromiumoxide::keys::USKEYBOARD_LAYOUT;
    layout
        .iter()
        .find(|k| k.key == key && !k.code.starts_with("Numpad"))
        .or_else(|| layout.iter().find(|k| k.key == key))
}

async fn press(tab: Tab<'_>, modifiers: &[Modifier], key: &str) -> OpResult<()> {
    let def = key_definition(key).ok_or_else(|| {
        JobError::invalid_argument(format!(
            "unknown key '{key}'; use KeyboardEvent.key names such as Enter, Tab, Escape, \
             ArrowDown, Backspace, PageDown, Home, F5 or a single character"
        ))
    })?;
    let bits: i64 = modifiers.iter().map(|m| m.cdp_bit()).sum();
    // Shortcuts (Control+A) send no text; Shift is already in the key's case.
    let shortcut = modifiers
        .iter()
        .any(|m| matches!(m, Modifier::Control | Modifier::Meta | Modifier::Alt));
    let text = match def.text {
        Some(t) => Some(t.to_owned()),
        None if key.chars().count() == 1 => Some(key.to_owned()),
        None => None,
    }
    .filter(|_| !shortcut);
    let event = |kind: DispatchKeyEventType, key: &str, code: &str, key_code: i64| {
        let mut ev = DispatchKeyEventParams::new(kind);
        ev.key = Some(key.to_owned());
        ev.code = Some(code.to_owned());
        ev.windows_virtual_key_code = Some(key_code);
        ev.native_virtual_key_code = Some(key_code);
        ev.modifiers = Some(bits);
        ev
    };
    for m in modifiers {
        let d = key_definition(m.key()).expect("modifiers are on the layout");
        tab.exec(
            "pressing a key",
            event(DispatchKeyEventType::RawKeyDown, d.key, d.code, d.key_code),
        )
        .await?;
    }
    let mut down = event(
        if text.is_some() {
            DispatchKeyEventType::KeyDown
        } else {
            DispatchKeyEventType::RawKeyDown
        },
        def.key,
        def.code,
        def.key_code,
    );
    down.text = text.clone();
    down.unmodified_text = text;
    // Editing shortcuts need their command named, or Chromium ignores them.
    if shortcut && modifiers.contains(&Modifier::Control) {
        let command = match key.to_ascii_lowercase().as_str() {
            "a" => Some("selectAll"),
            "c" => Some("copy"),
            "x" => Some("cut"),
            "v" => Some("paste"),
            "z" => Some("undo"),
            _ => None,
        };
        down.commands = command.map(|c| vec![c.to_owned()]);
    }
    tab.exec("pressing a key", down).await?;
    tab.exec(
        "pressing a key",
        event(DispatchKeyEventType::KeyUp, def.key, def.code, def.key_code),
    )
    .await?;
    for m in modifiers.iter().rev() {
        let d = key_definition(m.key()).expect("modifiers are on the layout");
        tab.exec(
            "pressing a key",
            event(DispatchKeyEventType::KeyUp, d.key, d.code, d.key_code),
        )
        .await?;
    }
    Ok(())
}

/// Presses a key combination on the focused element; waits for a page load it
/// starts (Enter in a form). Returns whether it navigated.
pub(crate) async fn press_key(tab: Tab<'_>, combo: &str, nav_timeout: Duration) -> OpResult<bool> {
    let (modifiers, key) = parse_key_combo(combo)?;
    let watch = NavigationWatch::start(tab).await?;
    press(tab, &modifiers, &key).await?;
    watch.settle(tab, nav_timeout).await
}

/// Scrolls with the mouse wheel over the middle of the viewport (so scrollable
/// panes under it move too), or brings an element into view. Returns the page's
/// scroll position afterwards.
pub(crate) async fn scroll(
    tab: Tab<'_>,
    target: Option<&ElementTarget>,
    direction: ScrollDirection,
    amount: Option<u32>,
) -> OpResult<ScrollPosition> {
    if let Some(target) = target {
        on_element(tab, target, "scrolling to the element", CENTRE).await?;
    } else {
        #[derive(serde::Deserialize)]
        struct View {
            w: f64,
            h: f64,
        }
        let view: View = tab
            .eval(
                "measuring the viewport",
                "({w: innerWidth, h: innerHeight})",
            )
            .await?;
        let step = |size: f64| amount.map(f64::from).unwrap_or(size * 0.8);
        let (dx, dy) = match direction {
            ScrollDirection::Down => (0.0, step(view.h)),
            ScrollDirection::Up => (0.0, -step(view.h)),
            ScrollDirection::Right => (step(view.w), 0.0),
            ScrollDirection::Left => (-step(view.w), 0.0),
        };
        let mut ev = DispatchMouseEventParams::new(
            DispatchMouseEventType::MouseWheel,
            view.w / 2.0,
            view.h / 2.0,
        );
        ev.delta_x = Some(dx);
        ev.delta_y = Some(dy);
        tab.exec("scrolling", ev).await?;
    }
    // The wheel scrolls asynchronously; one frame later the position is settled.
    let position: Position = tab
        .eval(
            "reading the scroll position",
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r({x: scrollX, y: scrollY, \
             max_y: Math.max(0, document.documentElement.scrollHeight - innerHeight)}))))",
        )
        .await?;
    Ok(ScrollPosition {
        x: position.x,
        y: position.y,
        max_y: position.max_y,
    })
}

/// The page's scroll position as the page script reports it.
#[derive(serde::Deserialize)]
struct Position {
    x: f64,
    y: f64,
    max_y: f64,
}

/// Puts files into a file input (`DOM.setFileInputFiles`); `files` are absolute
/// paths already checked against the upload directory.
pub(crate) async fn upload(tab: Tab<'_>, target: &ElementTarget, files: &[String]) -> OpResult<()> {
    let check = "if (el.tagName !== 'INPUT' || el.type !== 'file') \
                 return {error: 'is not a file input (<input type=file>)'}; \
                 if (el.disabled) return {error: 'is disabled'}; return {};";
    on_element(tab, target, "finding the file input", check).await?;
    let object = match target {
        ElementTarget::Ref(r) => snapshot::resolve(tab, r).await?,
        ElementTarget::Selector(s) => {
            let reply = tab
                .raw(
                    "finding the file input",
                    "Runtime.evaluate",
                    json!({"expression": format!("document.querySelector({})", js_str(s))}),
                )
                .await?;
            reply["result"]["objectId"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| element_error("none", target, "this page"))?
        }
    };
    tab.raw(
        "setting the files",
        "DOM.setFileInputFiles",
        json!({"files": files, "objectId": object}),
    )
    .await?;
    Ok(())
}

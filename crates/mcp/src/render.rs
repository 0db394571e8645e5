//! Job results as MCP tool results: short text for the agent, images as image
//! content, failures as `isError` results that say what to do next.

use std::time::Duration;

use browserfarm_protocol::{
    ConsoleEntry, ConsoleLevel, Effect, Element, ElementTarget, FarmStatus, FilledValue, JobError,
    JobOutput, PageChanges, PageInfo, RequestEntry, TabChange, cut_chars, format_tags, wire_name,
};
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// Longest cookie list returned, in characters.
pub const MAX_COOKIE_CHARS: usize = 50_000;
/// Longest exported storage state returned, in characters. Cutting it would make
/// it useless for import, so a larger one is refused instead.
pub const MAX_STORAGE_STATE_CHARS: usize = 1_000_000;

/// The page line plus the notes the page left for the agent.
fn page_block(page: &PageInfo) -> String {
    let mut out = page_line(page);
    for note in &page.notes {
        out.push_str("\nNote: ");
        out.push_str(note);
    }
    if let Some(changes) = &page.changes {
        out.push('\n');
        out.push_str(&changes_block(changes));
    }
    out
}

/// What an action changed: a diff of the snapshot outline, or the new page's.
fn changes_block(changes: &PageChanges) -> String {
    let mut out = if changes.new_page {
        "The new page shows:".to_owned()
    } else if changes.lines.is_empty() && changes.omitted == 0 {
        return "Nothing on the page changed.".to_owned();
    } else {
        // The markers are a unified diff's (`~`: changed in place), which the
        // instructions name once.
        "Changes on the page:".to_owned()
    };
    for line in &changes.lines {
        out.push('\n');
        out.push_str(line);
    }
    if changes.omitted > 0 {
        out.push_str(&format!(
            "\n[{} more lines; call snapshot for the rest]",
            changes.omitted
        ));
    }
    out
}

fn page_line(page: &PageInfo) -> String {
    let status = page
        .status
        .map(|s| format!(" (HTTP {s})"))
        .unwrap_or_default();
    let title = if page.title.is_empty() {
        "(no title)"
    } else {
        page.title.as_str()
    };
    format!("{}{status} — {title}", page.url)
}

/// How results name an element: as the caller did (`ref e12`, `'#id'`).
fn element(e: &Element) -> String {
    ElementTarget::from(e.clone()).describe()
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sentence saying what an action without a result of its own did.
fn effect_line(effect: &Effect) -> String {
    match effect {
        Effect::Emulated {
            viewport,
            device,
            user_agent,
            color_scheme,
            locale,
        } => {
            let mut parts = vec![format!("viewport {}×{}", viewport.width, viewport.height)];
            if let Some(d) = device {
                parts.push(format!("device {}", wire_name(d)));
            }
            if *user_agent {
                parts.push("custom user agent".into());
            }
            if let Some(c) = color_scheme {
                parts.push(format!("color scheme {}", wire_name(c)));
            }
            if let Some(l) = locale {
                parts.push(format!("locale {l}"));
            }
            format!(
                "Emulating {} in every tab of this session",
                parts.join(", ")
            )
        }
        Effect::CookiesSet { count } => format!("Set {count} cookie(s)"),
        Effect::CookiesDeleted { count } => format!("Deleted {count} cookie(s)"),
        Effect::StorageImported { cookies, origins } => format!(
            "Imported {cookies} cookie(s) and the localStorage of {origins} origin(s); navigate \
             to the site to use them"
        ),
        Effect::Hovered { target } => format!("Hovered over {}", element(target)),
        Effect::Selected { target, values } => {
            format!("Selected {} in {}", quote_list(values), element(target))
        }
        Effect::Pressed { key, navigated } => {
            let then = if *navigated {
                " and a new page loaded"
            } else {
                ""
            };
            format!("Pressed {key}{then}")
        }
        Effect::Scrolled {
            target,
            direction,
            position,
        } => {
            let what = match target {
                Some(t) => format!("Scrolled {} into view", element(t)),
                None => format!("Scrolled {}", wire_name(direction)),
            };
            format!(
                "{what}; scroll position x={:.0}, y={:.0} of {:.0}",
                position.x, position.y, position.max_y
            )
        }
        Effect::FormFilled { fields } => {
            let lines: Vec<String> = fields
                .iter()
                .map(|f| {
                    let what = element(&f.target);
                    match &f.value {
                        FilledValue::Selected { values } => {
                            format!("{what}: selected {}", values.join(", "))
                        }
                        FilledValue::Checked { checked } => {
                            format!("{what}: {}", if *checked { "checked" } else { "unchecked" })
                        }
                        FilledValue::Typed { chars } => format!("{what}: {chars} characters"),
                    }
                })
                .collect();
            format!("Filled {} field(s):\n{}", lines.len(), lines.join("\n"))
        }
        Effect::Uploaded { target, files } => {
            format!("Attached {files} file(s) to {}", element(target))
        }
        Effect::Waited { elapsed_ms } => format!("The condition held after {elapsed_ms} ms"),
        Effect::DialogArmed { accept, replaced } => {
            let verb = if *accept { "accepted" } else { "dismissed" };
            let again = if *replaced {
                " (replacing the previous instruction)"
            } else {
                ""
            };
            format!(
                "The next dialog in this tab will be {verb}{again}; now run the action that \
                 opens it"
            )
        }
    }
}

/// The sentence saying what a `tabs` call changed, before the list of `count` tabs.
fn tabs_line(change: TabChange, count: usize) -> String {
    match change {
        TabChange::Listed => format!("{count} tab(s)"),
        TabChange::Opened { index } => format!("Opened tab {index} and made it current"),
        TabChange::Selected { index } => format!("Tab {index} is now current"),
        TabChange::ReplacedOnly => "Closed the only tab; a blank one took its place".to_owned(),
        TabChange::Closed { index, current } => {
            format!("Closed tab {index}; tab {current} is current")
        }
    }
}

/// What the caller did, for the one-line summary of interaction results.
pub enum Action {
    Other,
    Evaluate {
        max_chars: usize,
    },
    Click {
        target: String,
    },
    Type {
        target: String,
        chars: usize,
        submitted: bool,
    },
}

pub fn success(output: JobOutput, action: Action) -> CallToolResult {
    let text = |s: String| CallToolResult::success(vec![ContentBlock::text(s)]);
    match output {
        JobOutput::Navigated { page } => text(format!("Navigated to {}", page_block(&page))),
        JobOutput::Screenshot { page, image } => {
            let caption = format!(
                "Screenshot of {} ({}×{} {})",
                page_block(&page),
                image.width,
                image.height,
                image.mime_type
            );
            CallToolResult::success(vec![
                ContentBlock::image(image.data_base64, image.mime_type),
                ContentBlock::text(caption),
            ])
        }
        JobOutput::Scraped(s) => text(format!("{}\n\n{}", page_block(&s.page), s.content)),
        JobOutput::Clicked { page } | JobOutput::Typed { page } => {
            let what = match action {
                Action::Click { target } => format!("Clicked {target}"),
                Action::Type {
                    target,
                    chars,
                    submitted,
                } => format!(
                    "Typed {chars} characters into {target}{}",
                    if submitted { " and pressed Enter" } else { "" }
                ),
                Action::Other | Action::Evaluate { .. } => "Done".to_owned(),
            };
            text(format!("{what}. Now at {}", page_block(&page)))
        }
        JobOutput::Snapshot {
            page,
            text: outline,
            part,
            parts,
        } => {
            let mut out = format!("{}\n\n", page_block(&page));
            if parts > 1 {
                out.push_str(&format!("[snapshot page {part}/{parts}]\n"));
            }
            out.push_str(&outline);
            if part < parts {
                out.push_str(&format!(
                    "[page {part}/{parts}; call snapshot {{\"page\": {}}} for the next part, or \
                     pass selector to snapshot one region]",
                    part + 1
                ));
            }
            text(out)
        }
        JobOutput::Acted { page, effect } => text(format!(
            "{}. Now at {}",
            effect_line(&effect),
            page_block(&page)
        )),
        JobOutput::Tabs { tabs, change } => {
            let mut out = format!("{}:\n", tabs_line(change, tabs.len()));
            for t in &tabs {
                let title = if t.title.is_empty() {
                    "(no title)"
                } else {
                    &t.title
                };
                out.push_str(&format!(
                    "- [{}]{} {} — {}\n",
                    t.index,
                    if t.current { " (current)" } else { "" },
                    t.url,
                    title
                ));
            }
            text(out)
        }
        JobOutput::Cookies { cookies } => {
            if cookies.is_empty() {
                return text("No cookies.".into());
            }
            let json = serde_json::to_string(&cookies).unwrap_or_default();
            let (json, dropped) = cut_chars(json, MAX_COOKIE_CHARS);
            let mut out = format!("{} cookie(s):\n{json}", cookies.len());
            if dropped > 0 {
                out.push_str(&format!(
                    "\n…[truncated, {dropped} more chars; pass domain to list fewer]"
                ));
            }
            text(out)
        }
        JobOutput::StorageState { state } => {
            let json = serde_json::to_string(&state).unwrap_or_default();
            if json.chars().count() > MAX_STORAGE_STATE_CHARS {
                return failure_text(format!(
                    "the storage state is larger than {MAX_STORAGE_STATE_CHARS} characters; \
                     close tabs of origins you do not need, or clear cookies of other domains"
                ));
            }
            text(format!(
                "Storage state ({} cookie(s), {} origin(s)); pass this object as state to \
                 storage_state with action=\"import\":\n{json}",
                state.cookies.len(),
                state.origins.len()
            ))
        }
        JobOutput::Downloads { downloads, enabled } => {
            if !enabled {
                return text(
                    "Downloads are off on this server (start it with --downloads); pages that \
                     try to download are refused and the result of that call says so."
                        .into(),
                );
            }
            if downloads.is_empty() {
                return text("No downloads in this session yet.".into());
            }
            let mut out = format!("{} download(s):\n", downloads.len());
            for d in &downloads {
                out.push_str(&format!(
                    "- [{}] {} — {}, {} bytes, from {}\n",
                    d.index, d.name, d.state, d.bytes, d.url
                ));
            }
            out.push_str("Call downloads with index to read one.");
            text(out)
        }
        JobOutput::File { info, file } => {
            let uri = format!(
                "browserfarm://downloads/{}/{}",
                info.index,
                safe_name(&file.name)
            );
            CallToolResult::success(vec![
                ContentBlock::resource(
                    ResourceContents::blob(file.data_base64, uri.clone())
                        .with_mime_type(file.mime_type.clone()),
                ),
                ContentBlock::text(format!(
                    "{} ({}, {} bytes, downloaded from {}) as resource {uri}",
                    file.name, file.mime_type, file.bytes, info.url
                )),
            ])
        }
        JobOutput::Console { entries, omitted } => text(console(&entries, omitted)),
        JobOutput::Requests { entries, omitted } => text(requests(&entries, omitted)),
        JobOutput::Pdf {
            page,
            data_base64,
            bytes,
        } => {
            let uri = format!("browserfarm://pdf/{}.pdf", safe_name(&page.url));
            CallToolResult::success(vec![
                ContentBlock::resource(
                    ResourceContents::blob(data_base64, uri.clone())
                        .with_mime_type("application/pdf"),
                ),
                ContentBlock::text(format!(
                    "PDF of {} ({bytes} bytes) as resource {uri}",
                    page_block(&page)
                )),
            ])
        }
        JobOutput::Evaluated { value } => {
            let max_chars = match action {
                Action::Evaluate { max_chars } => max_chars,
                _ => browserfarm_protocol::DEFAULT_EVALUATE_CHARS,
            };
            let json = serde_json::to_string(&value).unwrap_or_else(|_| "null".into());
            let (json, dropped) = cut_chars(json, max_chars);
            if dropped > 0 {
                text(format!(
                    "{json}\n…[truncated, {dropped} more chars; return less data, e.g. select \
                     fields or slice arrays, or raise max_chars]"
                ))
            } else {
                text(json)
            }
        }
    }
}

/// A URI-safe file name from a URL or a suggested name.
fn safe_name(url: &str) -> String {
    let stem: String = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if stem.is_empty() { "page".into() } else { stem }
}

fn more(omitted: usize, what: &str) -> String {
    if omitted == 0 {
        String::new()
    } else {
        format!(
            " ({omitted} older {what} not shown; raise max_entries or narrow with since/filter)"
        )
    }
}

fn console(entries: &[ConsoleEntry], omitted: usize) -> String {
    if entries.is_empty() {
        return "No console messages match. (Messages are collected from the moment the tab \
                opened; pass since to see only new ones.)"
            .into();
    }
    let mut out = format!(
        "{} message(s){}:\n",
        entries.len(),
        more(omitted, "messages")
    );
    for e in entries {
        let level = match e.level {
            ConsoleLevel::Debug => "debug",
            ConsoleLevel::Info => "info",
            ConsoleLevel::Warning => "warning",
            ConsoleLevel::Error => "error",
        };
        out.push_str(&format!("#{} [{level}] {}", e.id, e.text));
        if let Some(src) = &e.source {
            out.push_str(&format!(" ({src})"));
        }
        out.push('\n');
    }
    out
}

fn requests(entries: &[RequestEntry], omitted: usize) -> String {
    if entries.is_empty() {
        return "No network requests match.".into();
    }
    let mut out = format!(
        "{} request(s){}:\n",
        entries.len(),
        more(omitted, "requests")
    );
    for e in entries {
        let outcome = match (&e.failure, e.status) {
            (Some(f), Some(s)) => format!("{s} FAILED {f}"),
            (Some(f), None) => format!("FAILED {f}"),
            (None, Some(s)) => s.to_string(),
            (None, None) => "pending".into(),
        };
        out.push_str(&format!(
            "#{} {} {outcome} {} {}\n",
            e.id, e.method, e.resource, e.url
        ));
    }
    out
}

pub fn failure(error: &JobError) -> CallToolResult {
    failure_text(error.message.clone())
}

pub fn failure_text(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// One section per URL in input order, then nothing is left out silently: every
/// URL has either content or its error.
pub fn batch(
    urls: &[String],
    outcomes: Vec<Result<JobOutput, JobError>>,
    took: Duration,
) -> CallToolResult {
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    let mut out = format!(
        "Batch of {} URLs: {} ok, {failed} failed, {:.1} s.\n",
        urls.len(),
        urls.len() - failed,
        took.as_secs_f64()
    );
    for (i, (url, outcome)) in urls.iter().zip(outcomes).enumerate() {
        match outcome {
            Ok(JobOutput::Scraped(s)) => {
                out.push_str(&format!(
                    "\n## {}. {}\n\n{}\n",
                    i + 1,
                    page_block(&s.page),
                    s.content
                ));
            }
            Ok(_) => out.push_str(&format!(
                "\n## {}. {url}\n\nERROR: unexpected result\n",
                i + 1
            )),
            Err(e) => out.push_str(&format!("\n## {}. {url}\n\nERROR: {}\n", i + 1, e.message)),
        }
    }
    CallToolResult::success(vec![ContentBlock::text(out)])
}

pub fn farm_status(status: &FarmStatus, session_node: Option<&str>) -> CallToolResult {
    let mut out = String::from(
        "| node | state | breaker | in flight | capacity | sessions | arch | tags | jobs ok | jobs failed | last error | heartbeat |\n\
         |---|---|---|---:|---:|---:|---|---|---:|---:|---|---|\n",
    );
    for n in &status.nodes {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            n.name,
            if n.memory_pressure {
                format!("{}, memory low", n.state)
            } else {
                n.state.clone()
            },
            n.breaker,
            n.in_flight,
            n.capacity,
            match (n.sessions, n.sessions_max) {
                (Some(open), Some(max)) => format!("{open}/{max}"),
                (open, _) => open.map(|o| o.to_string()).unwrap_or_default(),
            },
            n.arch.as_deref().unwrap_or("?"),
            format_tags(&n.tags),
            n.jobs_ok,
            n.jobs_failed,
            n.last_error.as_deref().unwrap_or("").replace('|', "/"),
            n.last_heartbeat_secs
                .map(|s| format!("{s} s ago"))
                .unwrap_or_default(),
        ));
    }
    let moved: Vec<String> = status
        .nodes
        .iter()
        .filter(|n| n.sessions_moved > 0)
        .map(|n| match &n.last_move {
            Some(why) => format!("{} {} (latest: {why})", n.name, n.sessions_moved),
            None => format!("{} {}", n.name, n.sessions_moved),
        })
        .collect();
    if !moved.is_empty() {
        out.push_str(&format!(
            "\nSessions moved to another node, by the node they left: {}.\n",
            moved.join("; ")
        ));
    }
    if let Some(node) = session_node {
        out.push_str(&format!("\nThis session's browser is on node {node}.\n"));
    }
    CallToolResult::success(vec![ContentBlock::text(out)])
}

/// The result `_meta` key that names the session a call ran in.
pub const SESSION_META: &str = "browserfarm/session";

/// Names the session a call ran in: in the result's `_meta` under
/// [`SESSION_META`] always (for programs), and where the model must pass it
/// back as a last text line `session: <handle>`, said in the structured result
/// too when there is one (some clients show their model only that).
pub fn with_session(result: &mut CallToolResult, handle: &str, in_text: bool) {
    result
        .meta
        .get_or_insert_with(Default::default)
        .0
        .insert(SESSION_META.into(), handle.into());
    if !in_text {
        return;
    }
    if let Some(serde_json::Value::Object(structured)) = &mut result.structured_content {
        structured.insert("session".into(), handle.into());
    }
    // One text block where there is one: clients that get several show the
    // model a list of blocks, or only the first.
    let line = format!("session: {handle}");
    match result.content.iter_mut().rev().find_map(|b| match b {
        ContentBlock::Text(text) => Some(text),
        _ => None,
    }) {
        Some(text) => {
            text.text.push_str("\n\n");
            text.text.push_str(&line);
        }
        None => result.content.push(ContentBlock::text(line)),
    }
}

/// Cuts the text blocks of `result` to `max_chars` characters in all, saying so
/// at the cut (`--max-output-chars`). Images and files have byte caps of their
/// own.
pub fn cap_text(result: &mut CallToolResult, max_chars: usize) {
    let mut left = max_chars;
    for block in &mut result.content {
        let ContentBlock::Text(text) = block else {
            continue;
        };
        let (kept, dropped) = cut_chars(std::mem::take(&mut text.text), left);
        left -= kept.chars().count();
        text.text = kept;
        if dropped > 0 {
            text.text.push_str(&format!(
                "\n\n[{dropped} more characters cut: this server returns at most {max_chars} \
                 characters per result (--max-output-chars); ask for less, e.g. a smaller \
                 max_chars, fewer URLs or a snapshot page]"
            ));
        }
    }
}

#[cfg(test)]
mod cap_tests {
    use rmcp::model::{CallToolResult, ContentBlock};

    fn texts(result: &CallToolResult) -> Vec<String> {
        result
            .content
            .iter()
            .filter_map(|b| b.as_text().map(|t| t.text.clone()))
            .collect()
    }

    #[test]
    fn text_past_the_cap_is_cut_and_says_so() {
        let mut result = CallToolResult::success(vec![
            ContentBlock::text("abcdef"),
            ContentBlock::text("ghij"),
        ]);
        super::cap_text(&mut result, 8);
        let t = texts(&result);
        assert_eq!(t[0], "abcdef");
        assert!(t[1].starts_with("gh\n\n[2 more characters cut"), "{}", t[1]);
        assert!(t[1].contains("--max-output-chars"));

        let mut small = CallToolResult::success(vec![ContentBlock::text("short")]);
        super::cap_text(&mut small, 8);
        assert_eq!(texts(&small), ["short"]);
    }
}

#[cfg(test)]
mod effect_tests {
    use browserfarm_protocol::{
        Device, Effect, Element, FilledField, FilledValue, ScrollDirection, ScrollPosition,
        TabChange, Viewport,
    };

    use super::{effect_line, tabs_line};

    #[test]
    fn effects_read_as_the_sentences_agents_know() {
        let by_ref = || Element::Ref("e12".into());
        let cases = [
            (
                Effect::Emulated {
                    viewport: Viewport {
                        width: 393,
                        height: 852,
                    },
                    device: Some(Device::Iphone15),
                    user_agent: false,
                    color_scheme: None,
                    locale: Some("de-DE".into()),
                },
                "Emulating viewport 393×852, device iphone-15, locale de-DE in every tab of \
                 this session",
            ),
            (
                Effect::Selected {
                    target: Element::Selector("#size".into()),
                    values: vec!["m".into(), "l".into()],
                },
                "Selected \"m\", \"l\" in '#size'",
            ),
            (
                Effect::Pressed {
                    key: "Enter".into(),
                    navigated: true,
                },
                "Pressed Enter and a new page loaded",
            ),
            (
                Effect::Scrolled {
                    target: None,
                    direction: ScrollDirection::Down,
                    position: ScrollPosition {
                        x: 0.0,
                        y: 576.4,
                        max_y: 2000.0,
                    },
                },
                "Scrolled down; scroll position x=0, y=576 of 2000",
            ),
            (
                Effect::FormFilled {
                    fields: vec![
                        FilledField {
                            target: by_ref(),
                            value: FilledValue::Typed { chars: 5 },
                        },
                        FilledField {
                            target: Element::Selector("#ok".into()),
                            value: FilledValue::Checked { checked: false },
                        },
                    ],
                },
                "Filled 2 field(s):\nref e12: 5 characters\n'#ok': unchecked",
            ),
            (
                Effect::DialogArmed {
                    accept: true,
                    replaced: true,
                },
                "The next dialog in this tab will be accepted (replacing the previous \
                 instruction); now run the action that opens it",
            ),
        ];
        for (effect, sentence) in cases {
            assert_eq!(effect_line(&effect), sentence);
        }
        assert_eq!(
            tabs_line(
                TabChange::Closed {
                    index: 1,
                    current: 0
                },
                1
            ),
            "Closed tab 1; tab 0 is current"
        );
        assert_eq!(tabs_line(TabChange::Listed, 3), "3 tab(s)");
    }
}

//! `snapshot`: the page as an agent acts on it. Chromium's accessibility tree
//! (one `Accessibility.getFullAXTree` round trip), with ignored and purely
//! structural nodes folded away, rendered as an indented outline in which every
//! element an agent can act on carries a ref (`e12`). Interaction tools resolve a
//! ref back to its DOM node with `DOM.resolveNode`.
//!
//! Refs are per tab and never reused: a ref from before a navigation is refused
//! as stale instead of silently naming another element.

use std::collections::HashMap;

use browserfarm_protocol::{
    DEFAULT_SNAPSHOT_CHARS, ErrorKind, JobError, JobOutput, SnapshotArgs, cut_chars,
};
use serde_json::{Value, json};

use crate::tab::cdp::{OpError, OpResult, Tab, js_str};
use crate::tab::{Outline, RefMap};

/// Longest accessible name or value shown, in characters.
const NAME_CHARS: usize = 100;

/// Roles whose elements an agent acts on: they get refs.
const INTERACTIVE: &[&str] = &[
    "button",
    "checkbox",
    "combobox",
    "link",
    "listbox",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "option",
    "radio",
    "searchbox",
    "slider",
    "spinbutton",
    "switch",
    "tab",
    "textbox",
    "treeitem",
];

/// Roles that only group other nodes; shown only when they have a name.
const STRUCTURAL: &[&str] = &[
    "generic",
    "none",
    "presentation",
    "paragraph",
    "GenericContainer",
    "LayoutTable",
    "LayoutTableRow",
    "LayoutTableCell",
    "Section",
    "group",
    "Iframe",
];

/// Roles folded even when named: the page itself (its title is in the header
/// line) and labels (their text names the control inside them).
const ALWAYS_FOLDED: &[&str] = &["RootWebArea", "WebArea", "LabelText"];

/// AX properties worth showing, as `[name]` or `[name=value]`.
const SHOWN_PROPERTIES: &[&str] = &[
    "level", "checked", "pressed", "selected", "expanded", "disabled", "required", "invalid",
];

/// One line of the outline and the lines under it.
struct Item {
    line: String,
    /// The accessible name (or text) the line shows, for pruning repeats.
    name: String,
    children: Vec<Item>,
}

fn text_of(v: Option<&Value>) -> String {
    let raw = match v.and_then(|v| v.get("value")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let squashed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let (mut cut, dropped) = cut_chars(squashed, NAME_CHARS);
    if dropped > 0 {
        cut.push('…');
    }
    cut
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

struct Tree<'a> {
    nodes: HashMap<&'a str, &'a Value>,
}

impl<'a> Tree<'a> {
    fn new(nodes: &'a [Value]) -> Self {
        let nodes = nodes
            .iter()
            .filter_map(|n| Some((n.get("nodeId")?.as_str()?, n)))
            .collect();
        Tree { nodes }
    }

    fn children(&self, node: &'a Value) -> impl Iterator<Item = &'a Value> + '_ {
        node.get("childIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|id| self.nodes.get(id.as_str()?).copied())
    }

    /// Renders `node` into `out`; `parent_name` is the name of the nearest shown
    /// ancestor, whose text children would only repeat it.
    fn render(&self, node: &'a Value, parent_name: &str, refs: &mut RefMap, out: &mut Vec<Item>) {
        let role = node
            .get("role")
            .and_then(|r| r.get("value"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let ignored = node.get("ignored").and_then(Value::as_bool) == Some(true);
        if matches!(role, "InlineTextBox" | "LineBreak" | "ListMarker") {
            return;
        }
        if role == "StaticText" {
            let text = text_of(node.get("name"));
            // Text inside a named element is usually that name, or part of it.
            if !text.is_empty() && !parent_name.contains(&text) && !ignored {
                out.push(Item {
                    line: format!("text {}", quoted(&text)),
                    name: text,
                    children: Vec::new(),
                });
            }
            return;
        }
        let name = text_of(node.get("name"));
        if ALWAYS_FOLDED.contains(&role) {
            let mut inner = Vec::new();
            for child in self.children(node) {
                self.render(child, parent_name, refs, &mut inner);
            }
            // A label's text is already the name of the control it labels.
            let named: Vec<String> = inner
                .iter()
                .filter(|i| !i.line.starts_with("text "))
                .map(|i| i.line.clone())
                .collect();
            inner.retain(|i| match i.line.strip_prefix("text ") {
                Some(text) => !named.iter().any(|line| line.contains(text)),
                None => true,
            });
            out.extend(inner);
            return;
        }
        if ignored || (STRUCTURAL.contains(&role) && name.is_empty()) || role.is_empty() {
            for child in self.children(node) {
                self.render(child, parent_name, refs, out);
            }
            return;
        }
        let mut line = role.to_owned();
        if !name.is_empty() {
            line.push(' ');
            line.push_str(&quoted(&name));
        }
        let mut focusable = false;
        for p in node
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let pname = p.get("name").and_then(Value::as_str).unwrap_or("");
            let value = p.get("value").and_then(|v| v.get("value"));
            if pname == "focusable" {
                focusable = value == Some(&Value::Bool(true));
            }
            // Nesting depth already shows in the indentation, except for headings.
            if !SHOWN_PROPERTIES.contains(&pname) || (pname == "level" && role != "heading") {
                continue;
            }
            match value {
                Some(Value::Bool(true)) => line.push_str(&format!(" [{pname}]")),
                Some(Value::Bool(false)) | None => {
                    if pname == "expanded" {
                        line.push_str(" [expanded=false]");
                    }
                }
                Some(Value::String(s)) if s == "false" => {}
                Some(Value::String(s)) if s == "true" => line.push_str(&format!(" [{pname}]")),
                Some(v) => line.push_str(&format!(
                    " [{pname}={}]",
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                )),
            }
        }
        let backend = node.get("backendDOMNodeId").and_then(Value::as_i64);
        if let Some(b) = backend
            && (INTERACTIVE.contains(&role) || focusable)
        {
            line.push_str(&format!(" [ref=e{}]", refs.ref_for(b)));
        }
        let value = text_of(node.get("value"));
        if !value.is_empty() && value != name {
            line.push_str(&format!(": {}", quoted(&value)));
        }
        let mut children = Vec::new();
        // Text inside a text field is its value, already shown.
        if !matches!(role, "textbox" | "searchbox" | "combobox") {
            for child in self.children(node) {
                self.render(child, &name, refs, &mut children);
            }
        }
        // Plain leaves (an image, a caption) whose name is part of this node's
        // name say nothing new: a link named "Product 7 Red shoes" need not list
        // its image "Product 7".
        if !name.is_empty() {
            let repeats = |c: &Item| {
                c.children.is_empty()
                    && !c.line.contains("[ref=")
                    && !c.name.is_empty()
                    && name.contains(&c.name)
            };
            children.retain(|c| !repeats(c));
        }
        // A list item holding one element is that element: the list around
        // it says it is one of many.
        if role == "listitem" && name.is_empty() && line == role && children.len() == 1 {
            out.extend(children);
            return;
        }
        // A node whose only content is one text line reads best on one line.
        if children.len() == 1
            && children[0].children.is_empty()
            && !line.contains(": ")
            && let Some(text) = children[0].line.strip_prefix("text ")
        {
            line.push_str(": ");
            line.push_str(text);
            children.clear();
        }
        out.push(Item {
            line,
            name,
            children,
        });
    }
}

fn write(items: &[Item], depth: usize, lines: &mut Vec<String>) {
    for item in items {
        lines.push(format!("{}- {}", "  ".repeat(depth), item.line));
        write(&item.children, depth + 1, lines);
    }
}

/// Splits the outline into parts of at most `budget` characters, on line
/// boundaries (a single longer line is cut).
fn paginate(lines: Vec<String>, budget: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for line in lines {
        let (line, _) = cut_chars(line, budget.saturating_sub(1));
        if !current.is_empty() && current.chars().count() + line.chars().count() + 1 > budget {
            parts.push(std::mem::take(&mut current));
        }
        current.push_str(&line);
        current.push('\n');
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

/// The backend node id of the first element matching `selector`.
async fn backend_of(tab: Tab<'_>, selector: &str) -> OpResult<i64> {
    let js = format!(
        "(() => {{ try {{ return document.querySelector({}); }} catch (e) {{ return 'invalid CSS selector: ' + e.message; }} }})()",
        js_str(selector)
    );
    let reply = tab
        .raw(
            "finding the element",
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": false}),
        )
        .await?;
    let result = &reply["result"];
    if let Some(msg) = result.get("value").and_then(Value::as_str) {
        return Err(JobError::invalid_argument(msg.to_owned()).into());
    }
    let Some(object) = result.get("objectId").and_then(Value::as_str) else {
        return Err(JobError::new(
            ErrorKind::ElementNotFound,
            format!("no element matches selector '{selector}'; call snapshot without a selector"),
        )
        .into());
    };
    let node = tab
        .raw(
            "describing the element",
            "DOM.describeNode",
            json!({"objectId": object}),
        )
        .await?;
    node["node"]["backendNodeId"]
        .as_i64()
        .ok_or_else(|| JobError::internal("Chromium described no node").into())
}

/// `snapshot`: one page of the current page's outline, with the page line.
pub(crate) async fn run(tab: Tab<'_>, a: &SnapshotArgs) -> OpResult<JobOutput> {
    let snap = snapshot(
        tab,
        a.selector.as_deref(),
        a.max_chars,
        a.page,
        a.full == Some(true),
    )
    .await?;
    Ok(JobOutput::Snapshot {
        page: super::navigate::page_info(tab, None).await?,
        text: snap.text,
        part: snap.part,
        parts: snap.parts,
    })
}

/// One page of the snapshot, its number and the number of pages.
pub(crate) struct Snapshot {
    pub text: String,
    pub part: usize,
    pub parts: usize,
}

pub(crate) async fn snapshot(
    tab: Tab<'_>,
    selector: Option<&str>,
    max_chars: Option<usize>,
    page: Option<usize>,
    full: bool,
) -> OpResult<Snapshot> {
    let scope = match selector {
        Some(s) => Some(backend_of(tab, s).await?),
        None => None,
    };
    let mut outline = outline(tab, scope).await?;
    let mut lines = outline.lines.clone();
    if scope.is_none() {
        let mut refs = tab.refs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(before) = refs.page_before(outline.document).cloned() {
            lines = super::shared::fold(&before, &mut outline, &mut refs, full);
        }
        // What the agent has now seen: the next action's changes are against it.
        refs.shown(outline);
    }
    if lines.is_empty() {
        lines.push(NOTHING_SHOWN.into());
    }
    let parts = paginate(lines, max_chars.unwrap_or(DEFAULT_SNAPSHOT_CHARS));
    let part = page.unwrap_or(1);
    let count = parts.len();
    let Some(text) = parts.into_iter().nth(part - 1) else {
        return Err(JobError::invalid_argument(format!(
            "the snapshot has {count} page(s) at this max_chars; page {part} does not exist"
        ))
        .into());
    };
    Ok(Snapshot {
        text,
        part,
        parts: count,
    })
}

/// What a snapshot of a page with no readable content says.
pub(crate) const NOTHING_SHOWN: &str =
    "(the page shows nothing an assistive technology would read)";

/// The whole outline of the tab's document, or of the element `scope` (a
/// backend node id), handing out refs for what it shows.
pub(crate) async fn outline(tab: Tab<'_>, scope: Option<i64>) -> OpResult<Outline> {
    let reply = tab
        .raw(
            "reading the accessibility tree",
            "Accessibility.getFullAXTree",
            json!({}),
        )
        .await?;
    let nodes = reply
        .get("nodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let tree = Tree::new(&nodes);
    let root = match scope {
        None => nodes.first(),
        Some(b) => nodes
            .iter()
            .find(|n| n.get("backendDOMNodeId").and_then(Value::as_i64) == Some(b)),
    };
    let Some(root) = root else {
        return Err(match scope {
            Some(_) => JobError::new(
                ErrorKind::ElementNotFound,
                "the element has no accessibility node (it may be hidden); call snapshot \
                 without a selector",
            ),
            None => JobError::internal("Chromium returned an empty accessibility tree"),
        }
        .into());
    };
    let document = nodes
        .first()
        .and_then(|n| n.get("backendDOMNodeId"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut items = Vec::new();
    {
        let mut refs = tab.refs.lock().unwrap_or_else(|e| e.into_inner());
        refs.begin(document);
        tree.render(root, "", &mut refs, &mut items);
    }
    let mut lines = Vec::new();
    write(&items, 0, &mut lines);
    Ok(Outline { document, lines })
}

/// Resolves a ref to a JavaScript object id for `Runtime.callFunctionOn`.
pub(crate) async fn resolve(tab: Tab<'_>, r: &str) -> OpResult<String> {
    let node = tab
        .refs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .node(r)
        .ok_or_else(|| stale(r))?;
    let reply = tab
        .raw(
            "finding the element",
            "DOM.resolveNode",
            json!({"backendNodeId": node}),
        )
        .await;
    match reply {
        Ok(v) => v["object"]["objectId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| stale(r).into()),
        // The node is gone: removed from the page or a new document loaded.
        Err(OpError::Fault {
            fault: crate::tab::cdp::Fault::Protocol(_),
            ..
        }) => Err(stale(r).into()),
        Err(e) => Err(e),
    }
}

fn stale(r: &str) -> JobError {
    JobError::new(
        ErrorKind::ElementNotFound,
        format!(
            "ref {r} is not on the current page (the page changed since the snapshot that \
             gave it, or it never existed); call snapshot again and use a fresh ref"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ax(id: &str, role: &str, name: &str, backend: i64, children: &[&str]) -> Value {
        json!({
            "nodeId": id, "ignored": false,
            "role": {"type": "role", "value": role},
            "name": {"type": "computedString", "value": name},
            "backendDOMNodeId": backend,
            "childIds": children,
        })
    }

    fn render(nodes: &[Value], refs: &mut RefMap) -> String {
        let tree = Tree::new(nodes);
        let mut items = Vec::new();
        refs.begin(nodes[0]["backendDOMNodeId"].as_i64().unwrap());
        tree.render(&nodes[0], "", refs, &mut items);
        let mut lines = Vec::new();
        write(&items, 0, &mut lines);
        lines.join("\n")
    }

    #[test]
    fn folds_structure_and_gives_refs_to_controls() {
        let nodes = vec![
            ax("1", "RootWebArea", "Page", 1, &["2"]),
            ax("2", "generic", "", 2, &["3", "5", "7", "9"]),
            ax("3", "heading", "Welcome", 3, &["4"]),
            ax("4", "StaticText", "Welcome", 4, &[]),
            ax("5", "link", "Home", 5, &["6"]),
            ax("6", "StaticText", "Home", 6, &[]),
            ax("7", "paragraph", "", 7, &["8"]),
            ax("8", "StaticText", "Some  words", 8, &[]),
            ax("9", "LabelText", "", 9, &["10", "11"]),
            ax("10", "StaticText", "Email", 10, &[]),
            ax("11", "textbox", "Email", 11, &[]),
        ];
        let mut refs = RefMap::default();
        let out = render(&nodes, &mut refs);
        assert_eq!(
            out,
            "- heading \"Welcome\"\n- link \"Home\" [ref=e1]\n- text \"Some words\"\n\
             - textbox \"Email\" [ref=e2]"
        );
        assert_eq!(refs.node("e1"), Some(5));
        // The same document keeps its refs; a new one drops them for good.
        render(&nodes, &mut refs);
        assert_eq!(refs.node("e1"), Some(5));
        let mut other = nodes.clone();
        other[0]["backendDOMNodeId"] = json!(100);
        let out = render(&other, &mut refs);
        assert!(out.contains("[ref=e3]"), "{out}");
        assert_eq!(refs.node("e1"), None);
    }

    #[test]
    fn repeats_of_a_name_and_list_markers_are_pruned() {
        let mut item = ax("2", "listitem", "", 2, &["3", "4", "7"]);
        item["properties"] = json!([{"name": "level", "value": {"type": "integer", "value": 1}}]);
        let nodes = vec![
            ax("1", "RootWebArea", "Shop", 1, &["2"]),
            item,
            ax("3", "ListMarker", "•", 3, &[]),
            ax("4", "link", "Product 0 Red shoes", 4, &["5", "6"]),
            ax("5", "image", "Product 0", 5, &[]),
            ax("6", "StaticText", "Red shoes", 6, &[]),
            ax("7", "StaticText", "€10", 7, &[]),
        ];
        let out = render(&nodes, &mut RefMap::default());
        assert_eq!(
            out,
            "- listitem\n  - link \"Product 0 Red shoes\" [ref=e1]\n  - text \"€10\""
        );
    }

    #[test]
    fn a_list_item_of_one_element_is_that_element() {
        let nodes = vec![
            ax("1", "RootWebArea", "Shop", 1, &["2"]),
            ax("2", "list", "", 2, &["3", "5"]),
            ax("3", "listitem", "", 3, &["4"]),
            ax("4", "link", "Popular pick 0", 4, &[]),
            ax("5", "listitem", "", 5, &["6", "7"]),
            ax("6", "link", "Popular pick 1", 6, &[]),
            ax("7", "StaticText", "new", 7, &[]),
        ];
        let out = render(&nodes, &mut RefMap::default());
        assert_eq!(
            out,
            "- list\n  - link \"Popular pick 0\" [ref=e1]\n  - listitem\n    \
             - link \"Popular pick 1\" [ref=e2]\n    - text \"new\""
        );
    }

    #[test]
    fn pages_split_on_lines_within_budget() {
        let lines: Vec<String> = (0..100).map(|i| format!("- line {i:03}")).collect();
        let parts = paginate(lines, 250);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.chars().count() <= 250));
        assert_eq!(parts.concat().lines().count(), 100);
    }
}

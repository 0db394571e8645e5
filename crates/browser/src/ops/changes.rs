//! What an action changed on the page, so an agent need not read a whole
//! snapshot after every click to learn it. Before the action the tab's outline
//! is the one the agent last saw (a snapshot, or the last action's changes),
//! else it is read then; after the action, once the DOM is quiet, it is read
//! again and the two are compared line by line. Refs of unchanged elements stay
//! the same (they are per document and per node), so lines that did not change
//! compare equal and the agent can act on the changed ones directly.
//!
//! On the same document the result is a unified diff of the outline under
//! [`CHANGES_CHARS`]; on a new document (the action navigated) it is the new
//! page's outline under the same budget, with the parts it shares with the page
//! before named in a line each (`shared.rs`). Either way the rest is one
//! `snapshot` away.

use browserfarm_protocol::PageChanges;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use super::settle;
use super::snapshot::outline;
use crate::tab::{OpResult, Outline, Tab};

/// Most characters of changes shown after an action.
pub(crate) const CHANGES_CHARS: usize = 2_000;

/// Longest wait for the DOM to go quiet after an action, in milliseconds.
const QUIET_MAX_MS: u128 = 1_000;

/// The outline an action's changes are measured against.
pub(crate) async fn before(tab: Tab<'_>) -> OpResult<Outline> {
    let shown = tab
        .refs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .last_shown()
        .cloned();
    match shown {
        Some(outline) => Ok(outline),
        None => outline(tab, None).await,
    }
}

/// What changed since `before`, once the page is quiet; the outline read now
/// becomes what the agent last saw.
pub(crate) async fn after(tab: Tab<'_>, before: Outline) -> OpResult<PageChanges> {
    // A click's effect is often rendered a moment later (a handler's timer, a
    // response): wait for the DOM to stop changing, briefly.
    let probe = settle::quiet_probe_js(QUIET_MAX_MS);
    let _ = tab
        .raw(
            "waiting for the page to settle",
            "Runtime.evaluate",
            serde_json::json!({"expression": probe, "awaitPromise": true, "returnByValue": true}),
        )
        .await;
    let mut now = outline(tab, None).await?;
    let mut refs = tab.refs.lock().unwrap_or_else(|e| e.into_inner());
    let changes = if now.document == before.document {
        diff(&before.lines, &now.lines, CHANGES_CHARS)
    } else {
        // A new page: shown whole but for the parts it shares with the last
        // page the agent saw.
        let lines = match refs.page_before(now.document).cloned() {
            Some(seen) => super::shared::fold(&seen, &mut now, &mut refs, false),
            None => now.lines.clone(),
        };
        new_page(&lines, CHANGES_CHARS)
    };
    refs.shown(now);
    Ok(changes)
}

/// The number of the ref a line carries (`[ref=e12]`), if any.
fn ref_of(line: &str) -> Option<u64> {
    super::shared::ref_in(line).map(|(_, _, n)| n)
}

fn depth(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// A unified diff of two outlines of one document: `+` appeared, `-` went,
/// `~` changed in place (same ref), and before each run of changes its nearest
/// unchanged parent (` `) so the agent knows where on the page it is.
pub(crate) fn diff(old: &[String], new: &[String], budget: usize) -> PageChanges {
    let mut lines: Vec<String> = Vec::new();
    let mut parents_shown = std::collections::HashSet::new();
    for op in capture_diff_slices(Algorithm::Myers, old, new) {
        let (removed, added, at) = match op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (&old[old_index..old_index + old_len], &new[0..0], new_index),
            DiffOp::Insert {
                new_index, new_len, ..
            } => (&old[0..0], &new[new_index..new_index + new_len], new_index),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (
                &old[old_index..old_index + old_len],
                &new[new_index..new_index + new_len],
                new_index,
            ),
        };
        let first = added.first().or(removed.first()).map_or(0, |l| depth(l));
        if first > 0
            && let Some(parent) = new[..at].iter().rposition(|l| depth(l) < first)
            && parents_shown.insert(parent)
        {
            lines.push(format!(" {}", new[parent]));
        }
        // A line whose ref is on both sides changed in place.
        let kept_refs: std::collections::HashSet<u64> =
            added.iter().filter_map(|l| ref_of(l)).collect();
        let changed: std::collections::HashSet<u64> = removed
            .iter()
            .filter_map(|l| ref_of(l))
            .filter(|r| kept_refs.contains(r))
            .collect();
        for line in removed {
            if !ref_of(line).is_some_and(|r| changed.contains(&r)) {
                lines.push(format!("-{line}"));
            }
        }
        for line in added {
            let mark = if ref_of(line).is_some_and(|r| changed.contains(&r)) {
                '~'
            } else {
                '+'
            };
            lines.push(format!("{mark}{line}"));
        }
    }
    cut(lines, budget, false)
}

/// A new document's outline, as the changes of an action that navigated.
pub(crate) fn new_page(lines: &[String], budget: usize) -> PageChanges {
    let lines = if lines.is_empty() {
        vec![super::snapshot::NOTHING_SHOWN.to_owned()]
    } else {
        lines.to_vec()
    };
    cut(lines, budget, true)
}

/// Keeps whole lines up to `budget` characters.
fn cut(lines: Vec<String>, budget: usize, new_page: bool) -> PageChanges {
    let mut used = 0;
    let mut kept = Vec::new();
    let total = lines.len();
    for line in lines {
        let cost = line.chars().count() + 1;
        if used + cost > budget {
            break;
        }
        used += cost;
        kept.push(line);
    }
    PageChanges {
        new_page,
        omitted: total - kept.len(),
        lines: kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn nothing_changed_is_an_empty_diff() {
        let page = lines("- heading \"Shop\"\n- button \"Go\" [ref=e1]");
        let changes = diff(&page, &page, CHANGES_CHARS);
        assert!(changes.lines.is_empty() && changes.omitted == 0 && !changes.new_page);
    }

    #[test]
    fn appeared_went_and_changed_lines_with_their_parent() {
        let old = lines(
            "- heading \"Shop\"\n- region \"Basket\"\n  - text \"Empty\"\n\
             - textbox \"Qty\" [ref=e2]: \"1\"\n- button \"Add\" [ref=e3]",
        );
        let new = lines(
            "- heading \"Shop\"\n- region \"Basket\"\n  - text \"1 item\"\n  \
             - link \"Checkout\" [ref=e4]\n- textbox \"Qty\" [ref=e2]: \"2\"\n- button \"Add\" [ref=e3]",
        );
        let changes = diff(&old, &new, CHANGES_CHARS);
        assert_eq!(
            changes.lines,
            lines(
                " - region \"Basket\"\n-  - text \"Empty\"\n+  - text \"1 item\"\n+  \
                 - link \"Checkout\" [ref=e4]\n~- textbox \"Qty\" [ref=e2]: \"2\""
            )
        );
    }

    #[test]
    fn the_budget_keeps_whole_lines_and_counts_the_rest() {
        let old = Vec::new();
        let new: Vec<String> = (0..100)
            .map(|i| format!("- link \"Item {i}\" [ref=e{i}]"))
            .collect();
        let changes = diff(&old, &new, 200);
        assert!(changes.lines.iter().map(|l| l.len() + 1).sum::<usize>() <= 200);
        assert_eq!(changes.lines.len() + changes.omitted, 100);
        let page = new_page(&new, 200);
        assert!(page.new_page && page.lines[0] == new[0] && page.omitted > 0);
    }
}

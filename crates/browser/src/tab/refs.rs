//! The snapshot refs handed out for one tab (`e12` → a DOM node's backend id).
//! Kept with the tab rather than with the snapshot operation that fills it,
//! since every tab carries one and several operations read it.
//!
//! Refs are per tab and per document and never reused: a ref from before a
//! navigation is refused as stale instead of silently naming another element.
//!
//! The map also keeps the outline the agent last saw of the tab (a snapshot,
//! or the page an action's changes were shown against), so the next action can
//! say what changed since, and the one it saw of the page before, so parts a
//! new page shares with it (a site's header, navigation, footer) are named
//! rather than repeated. The refs of such a part carry over to the new page
//! ([`RefMap::carry_over`]): the same ref names the same-looking element of the
//! same part, never an unrelated one.

use std::collections::HashMap;

/// The refs handed out for one tab's current document.
#[derive(Default)]
pub(crate) struct RefMap {
    /// The document the refs belong to (its backend node id).
    document: Option<i64>,
    by_node: HashMap<i64, u64>,
    by_ref: HashMap<u64, i64>,
    /// Never reset, so a stale ref cannot name a new element.
    next: u64,
    /// The outline the agent last saw of this tab.
    shown: Option<Outline>,
    /// The last outline the agent saw of the page before `shown`'s.
    previous: Option<Outline>,
}

/// A tab's page as a snapshot renders it: its lines (indented, with refs)
/// and the document they belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outline {
    pub(crate) document: i64,
    pub(crate) lines: Vec<String>,
}

impl RefMap {
    /// Starts handing out refs for `document`, forgetting those of any other.
    pub(crate) fn begin(&mut self, document: i64) {
        if self.document != Some(document) {
            self.document = Some(document);
            self.by_node.clear();
            self.by_ref.clear();
        }
    }

    /// The ref of `node`, a new one if it has none yet.
    pub(crate) fn ref_for(&mut self, node: i64) -> u64 {
        if let Some(r) = self.by_node.get(&node) {
            return *r;
        }
        self.next += 1;
        self.by_node.insert(node, self.next);
        self.by_ref.insert(self.next, node);
        self.next
    }

    /// Remembers `outline` as what the agent last saw.
    pub(crate) fn shown(&mut self, outline: Outline) {
        if let Some(old) = self.shown.take()
            && old.document != outline.document
        {
            self.previous = Some(old);
        }
        self.shown = Some(outline);
    }

    /// What the agent last saw of the tab's current page, if anything.
    pub(crate) fn last_shown(&self) -> Option<&Outline> {
        self.shown.as_ref()
    }

    /// The last outline the agent saw of another page than `document`: what
    /// shared parts are measured against.
    pub(crate) fn page_before(&self, document: i64) -> Option<&Outline> {
        [self.shown.as_ref(), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|o| o.document != document)
    }

    /// The agent opened a page itself (a URL, or a move in history): what
    /// comes next is new work, perhaps in a conversation that never saw the
    /// earlier pages, so nothing is measured or folded against them.
    pub(crate) fn start_over(&mut self) {
        self.shown = None;
        self.previous = None;
    }

    /// Makes the element behind `new` answer to the ref `old` from the page
    /// before, the ref it had there. `old` must not name anything on this page.
    pub(crate) fn carry_over(&mut self, new: u64, old: u64) -> bool {
        if self.by_ref.contains_key(&old) {
            return false;
        }
        let Some(node) = self.by_ref.remove(&new) else {
            return false;
        };
        self.by_ref.insert(old, node);
        self.by_node.insert(node, old);
        true
    }

    /// The backend node id behind `e12`, if this tab's current refs hold it.
    pub(crate) fn node(&self, r: &str) -> Option<i64> {
        let n: u64 = r.strip_prefix('e')?.parse().ok()?;
        self.by_ref.get(&n).copied()
    }
}

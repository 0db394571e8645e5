//! The snapshot refs handed out for one tab (`e12` → a DOM node's backend id).
//! Kept with the tab rather than with the snapshot operation that fills it,
//! since every tab carries one and several operations read it.
//!
//! Refs are per tab and per document and never reused: a ref from before a
//! navigation is refused as stale instead of silently naming another element.

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

    /// The backend node id behind `e12`, if this tab's current refs hold it.
    pub(crate) fn node(&self, r: &str) -> Option<i64> {
        let n: u64 = r.strip_prefix('e')?.parse().ok()?;
        self.by_ref.get(&n).copied()
    }
}

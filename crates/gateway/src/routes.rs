//! The farm's sessions by route. For a session reached by handle this is only a
//! cache (a route alone finds its session: `FarmExecutor::cell`), so an entry
//! nobody used for [`FORGET_AFTER`] is dropped: its node expired the session long
//! before, and a replica serving many handles keeps bounded memory. A
//! connection's session is kept until it is closed: its connection holds the id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use browserfarm_protocol::SessionId;

/// How long an unused handle session stays listed: well past agents' default
/// session TTL, so only sessions their node has ended are forgotten.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// Look for forgettable entries once every this many insertions.
const SWEEP_EVERY: usize = 64;

struct Entry<C> {
    cell: Arc<C>,
    used: Instant,
    /// A connection's session: never forgotten, only removed.
    kept: bool,
}

pub(crate) struct Routes<C> {
    map: HashMap<SessionId, Entry<C>>,
    inserted: usize,
}

impl<C> Default for Routes<C> {
    fn default() -> Self {
        Routes {
            map: HashMap::new(),
            inserted: 0,
        }
    }
}

impl<C> Routes<C> {
    /// The session listed under `id`, marked used.
    pub(crate) fn get(&mut self, id: &SessionId) -> Option<Arc<C>> {
        let entry = self.map.get_mut(id)?;
        entry.used = Instant::now();
        Some(entry.cell.clone())
    }

    /// Lists `cell` under `id` unless something is listed there already;
    /// returns what is listed.
    pub(crate) fn get_or_insert(&mut self, id: &SessionId, cell: Arc<C>, kept: bool) -> Arc<C> {
        if let Some(listed) = self.get(id) {
            return listed;
        }
        self.insert(id.clone(), cell.clone(), kept);
        cell
    }

    /// Lists `cell` under `id` (a new session, or a moved one's new route).
    pub(crate) fn insert(&mut self, id: SessionId, cell: Arc<C>, kept: bool) {
        self.inserted += 1;
        if self.inserted.is_multiple_of(SWEEP_EVERY) {
            self.map
                .retain(|_, e| e.kept || e.used.elapsed() < FORGET_AFTER);
        }
        let used = Instant::now();
        self.map.insert(id, Entry { cell, used, kept });
    }

    /// Removes every route of `cell`.
    pub(crate) fn remove(&mut self, cell: &Arc<C>) {
        self.map.retain(|_, e| !Arc::ptr_eq(&e.cell, cell));
    }

    /// Each session once, though a moved one is listed under two routes.
    pub(crate) fn distinct(&self) -> Vec<Arc<C>> {
        let mut cells: Vec<Arc<C>> = Vec::new();
        for entry in self.map.values() {
            if !cells.iter().any(|c| Arc::ptr_eq(c, &entry.cell)) {
                cells.push(entry.cell.clone());
            }
        }
        cells
    }

    /// Empties the list; returns each session once.
    pub(crate) fn take(&mut self) -> Vec<Arc<C>> {
        let cells = self.distinct();
        self.map.clear();
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SessionId {
        SessionId(s.to_owned())
    }

    #[test]
    fn a_moved_session_is_one_session_under_two_routes() {
        let mut routes = Routes::default();
        let cell = Arc::new(());
        routes.insert(id("a@n1"), cell.clone(), false);
        routes.insert(id("b@n2"), cell.clone(), false);
        assert_eq!(routes.distinct().len(), 1);
        assert!(Arc::ptr_eq(&routes.get(&id("b@n2")).unwrap(), &cell));
        let other = routes.get_or_insert(&id("a@n1"), Arc::new(()), false);
        assert!(Arc::ptr_eq(&other, &cell), "what is listed stays");
        routes.remove(&cell);
        assert!(routes.get(&id("a@n1")).is_none() && routes.get(&id("b@n2")).is_none());
    }

    #[test]
    fn unused_handle_sessions_are_forgotten_and_connection_sessions_kept() {
        let mut routes = Routes::default();
        routes.insert(id("old@n"), Arc::new(()), false);
        routes.insert(id("conn@n"), Arc::new(()), true);
        for entry in routes.map.values_mut() {
            entry.used -= FORGET_AFTER;
        }
        for i in 0..SWEEP_EVERY {
            routes.insert(id(&format!("new{i}@n")), Arc::new(()), false);
        }
        assert!(routes.get(&id("old@n")).is_none(), "forgotten");
        assert!(routes.get(&id("conn@n")).is_some(), "kept");
        assert!(routes.get(&id("new0@n")).is_some());
    }
}

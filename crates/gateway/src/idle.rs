//! When each session was last used, for closing the ones nobody came back to:
//! an agent's sessions whose gateway went away, and the embedded pool's
//! sessions reached by handle, which no connection closes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use browserfarm_protocol::SessionId;

/// Sessions with the time of their last use and how long each may idle.
#[derive(Debug, Default)]
pub struct IdleSessions {
    map: Mutex<HashMap<SessionId, (Instant, Duration)>>,
}

impl IdleSessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, (Instant, Duration)>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts tracking `id`, which may idle for `ttl`.
    pub fn track(&self, id: &SessionId, ttl: Duration) {
        self.map().insert(id.clone(), (Instant::now(), ttl));
    }

    /// Marks `id` used now, if tracked.
    pub fn touch(&self, id: &SessionId) {
        if let Some((last, _)) = self.map().get_mut(id) {
            *last = Instant::now();
        }
    }

    pub fn forget(&self, id: &SessionId) {
        self.map().remove(id);
    }

    pub fn count(&self) -> usize {
        self.map().len()
    }

    /// Stops tracking, and returns, the sessions idle past their TTL.
    pub fn take_expired(&self) -> Vec<SessionId> {
        let mut map = self.map();
        let expired: Vec<SessionId> = map
            .iter()
            .filter(|(_, (last, ttl))| last.elapsed() >= *ttl)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            map.remove(id);
        }
        expired
    }
}

/// How often to look for expired sessions when the shortest TTL is `ttl`:
/// often enough to end them near their time, rarely enough to cost nothing.
pub fn sweep_period(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_by_their_own_ttl_and_a_touch_renews() {
        let idle = IdleSessions::default();
        let (short, long) = (SessionId("a".into()), SessionId("b".into()));
        idle.track(&short, Duration::ZERO);
        idle.track(&long, Duration::from_secs(3600));
        assert_eq!(idle.take_expired(), vec![short.clone()]);
        assert_eq!(idle.count(), 1);
        idle.touch(&short);
        assert_eq!(
            idle.count(),
            1,
            "touching an untracked session tracks nothing"
        );
        idle.forget(&long);
        assert!(idle.take_expired().is_empty());
        assert_eq!(idle.count(), 0);
    }
}

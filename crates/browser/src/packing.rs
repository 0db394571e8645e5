//! Sessions packed into shared processes. A session is an incognito browser
//! context, Chromium's own isolation unit (cookies, storage, cache,
//! permissions), not a process: up to `sessions_per_browser` sessions share one
//! leased Chromium, which goes back to the pool when its last session ends. A
//! new session joins the fullest process that still has room (fewest processes
//! for the memory), and a process starts only when none has.
//!
//! A process that faults is marked broken and takes no more sessions; each of
//! its sessions learns on its next call and moves to a healthy process (see
//! `Session::run`), so a crash costs only the sessions of that process. One due
//! for recycling (it has opened `max_leases` contexts) takes no more sessions
//! either, and retires when its last session leaves, never cutting one off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::pool::Lease;

/// Contexts one process opens at once for new sessions. Opening one starts a
/// renderer; a burst of them at once makes each slower than the deadline of
/// one CDP call, so the rest of a burst waits its turn.
const OPENING_AT_ONCE: usize = 2;

/// A process leased for sessions, and how many sit in it.
struct Host {
    lease: Weak<Lease>,
    sessions: Arc<AtomicUsize>,
    opening: Arc<tokio::sync::Semaphore>,
}

/// The processes sessions are packed into.
#[derive(Default)]
pub(crate) struct SessionHosts {
    hosts: Mutex<Vec<Host>>,
    /// Held by the one session opener starting a process, so a burst of new
    /// sessions starts one process and fills it rather than each waiting for a
    /// process of its own.
    leasing: tokio::sync::Mutex<()>,
}

/// A session's place in a process; gives it up when dropped.
pub(crate) struct Seat {
    sessions: Arc<AtomicUsize>,
    opening: Arc<tokio::sync::Semaphore>,
}

impl Seat {
    /// The right to open this session's context now (see [`OPENING_AT_ONCE`]).
    pub(crate) async fn opening(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.opening.acquire().await.ok()
    }

    /// Whether this is the only session of its process.
    pub(crate) fn alone(&self) -> bool {
        self.sessions.load(Ordering::Acquire) == 1
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.sessions.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SessionHosts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Host>> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the right to start a process for sessions; look for a seat
    /// again once it is granted, since the opener before may have made room.
    pub(crate) async fn leasing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.leasing.lock().await
    }

    /// A seat in a process that has room for one more session: healthy, not due
    /// for recycling, with fewer than `per_browser` sessions; the fullest such.
    pub(crate) fn seat(&self, per_browser: usize, max_leases: usize) -> Option<(Arc<Lease>, Seat)> {
        let mut hosts = self.lock();
        hosts.retain(|h| h.lease.strong_count() > 0);
        let (lease, host) = hosts
            .iter()
            .filter_map(|h| Some((h.lease.upgrade()?, h)))
            .filter(|(lease, host)| {
                lease.is_healthy()
                    && lease.contexts_opened.load(Ordering::Relaxed) < max_leases
                    && host.sessions.load(Ordering::Acquire) < per_browser
            })
            .max_by_key(|(_, host)| host.sessions.load(Ordering::Acquire))?;
        host.sessions.fetch_add(1, Ordering::AcqRel);
        let seat = Seat {
            sessions: host.sessions.clone(),
            opening: host.opening.clone(),
        };
        Some((lease, seat))
    }

    /// Starts packing sessions into `lease`, a process just leased for one;
    /// returns that first session's seat.
    pub(crate) fn add(&self, lease: &Arc<Lease>) -> Seat {
        let host = Host {
            lease: Arc::downgrade(lease),
            sessions: Arc::new(AtomicUsize::new(1)),
            opening: Arc::new(tokio::sync::Semaphore::new(OPENING_AT_ONCE)),
        };
        let seat = Seat {
            sessions: host.sessions.clone(),
            opening: host.opening.clone(),
        };
        self.lock().push(host);
        seat
    }

    /// Processes holding sessions, and the sessions in them.
    pub(crate) fn occupancy(&self) -> (usize, usize) {
        let hosts = self.lock();
        hosts
            .iter()
            .filter(|h| h.lease.strong_count() > 0)
            .fold((0, 0), |(p, s), h| {
                (p + 1, s + h.sessions.load(Ordering::Acquire))
            })
    }
}

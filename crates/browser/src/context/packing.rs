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
//!
//! Besides its sessions a process may hold the pool's spare context (see
//! [`super::spare`]), counted apart so that it never takes a session's room.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::process::Lease;

/// Contexts one process opens at once for new sessions. Opening one starts a
/// renderer; a burst of them at once makes each slower than the deadline of
/// one CDP call, so the rest of a burst waits its turn.
const OPENING_AT_ONCE: usize = 2;

/// A process leased for sessions, and how many sit in it.
struct Host {
    lease: Weak<Lease>,
    counts: Arc<Counts>,
    opening: Arc<tokio::sync::Semaphore>,
}

/// What sits in one process.
#[derive(Default)]
struct Counts {
    sessions: AtomicUsize,
    /// 0 or 1: the pool's spare context.
    spares: AtomicUsize,
}

impl Counts {
    fn sessions(&self) -> usize {
        self.sessions.load(Ordering::Acquire)
    }
}

/// The processes sessions are packed into.
#[derive(Default)]
pub(crate) struct SessionHosts {
    hosts: Mutex<Vec<Host>>,
    /// Held by the one session opener starting a process, so a burst of new
    /// sessions starts one process and fills it rather than each waiting for a
    /// process of its own.
    leasing: tokio::sync::Mutex<()>,
    /// Sessions admitted (seated or about to be), against `max_sessions`.
    admitted: Arc<AtomicUsize>,
}

/// One of the `max_sessions` places, taken before a seat is looked for so that
/// a burst of opens cannot overshoot the limit; given back when dropped.
pub(crate) struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session's place in a process (or the spare's); gives it up when dropped.
pub(crate) struct Seat {
    counts: Arc<Counts>,
    opening: Arc<tokio::sync::Semaphore>,
    /// None for the spare context, which holds a seat without being a session
    /// until one takes it.
    admission: Option<Admission>,
}

impl Seat {
    /// The right to open this session's context now (see [`OPENING_AT_ONCE`]).
    pub(crate) async fn opening(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.opening.acquire().await.ok()
    }

    /// Whether no other session shares this process (the spare aside).
    pub(crate) fn alone(&self) -> bool {
        let others = usize::from(self.admission.is_some());
        self.counts.sessions() <= others
    }

    /// Whether its process holds `per_browser` sessions.
    pub(crate) fn full(&self, per_browser: usize) -> bool {
        self.counts.sessions() >= per_browser
    }

    /// Makes the spare's seat the seat of the session `admission` admitted,
    /// if its process still has room for one more session.
    pub(crate) fn admit(
        &mut self,
        admission: Admission,
        per_browser: usize,
    ) -> Result<(), Admission> {
        let room = self.admission.is_none()
            && self
                .counts
                .sessions
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < per_browser).then_some(n + 1)
                })
                .is_ok();
        if !room {
            return Err(admission);
        }
        self.counts.spares.fetch_sub(1, Ordering::AcqRel);
        self.admission = Some(admission);
        Ok(())
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let count = match self.admission {
            Some(_) => &self.counts.sessions,
            None => &self.counts.spares,
        };
        count.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SessionHosts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Host>> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits one more session while fewer than `max` are.
    pub(crate) fn admit(&self, max: usize) -> Option<Admission> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Admission(self.admitted.clone()))
    }

    /// Waits for the right to start a process for sessions; look for a seat
    /// again once it is granted, since the opener before may have made room.
    pub(crate) async fn leasing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.leasing.lock().await
    }

    /// The fullest healthy process not due for recycling that `fits`, given
    /// its sessions and spares, with its spares (`spare`) or sessions raised by one.
    fn place(
        &self,
        max_leases: usize,
        fits: impl Fn(usize, usize) -> bool,
        spare: bool,
    ) -> Option<(Arc<Lease>, Seat)> {
        let mut hosts = self.lock();
        hosts.retain(|h| h.lease.strong_count() > 0);
        let (lease, host) = hosts
            .iter()
            .filter_map(|h| Some((h.lease.upgrade()?, h)))
            .filter(|(lease, host)| {
                lease.is_healthy()
                    && lease.contexts_opened() < max_leases
                    && fits(
                        host.counts.sessions(),
                        host.counts.spares.load(Ordering::Acquire),
                    )
            })
            .max_by_key(|(_, host)| host.counts.sessions())?;
        let count = if spare {
            &host.counts.spares
        } else {
            &host.counts.sessions
        };
        count.fetch_add(1, Ordering::AcqRel);
        let seat = Seat {
            counts: host.counts.clone(),
            opening: host.opening.clone(),
            admission: None,
        };
        Some((lease, seat))
    }

    /// A seat in a process that has room for one more session: healthy, not due
    /// for recycling, with fewer than `per_browser` sessions; the fullest such.
    /// Gives `admission` back when there is none.
    pub(crate) fn seat(
        &self,
        per_browser: usize,
        max_leases: usize,
        admission: Admission,
    ) -> Result<(Arc<Lease>, Seat), Admission> {
        match self.place(max_leases, |sessions, _| sessions < per_browser, false) {
            Some((lease, mut seat)) => {
                seat.admission = Some(admission);
                Ok((lease, seat))
            }
            None => Err(admission),
        }
    }

    /// A seat for the spare context: in the fullest process with room for
    /// another session and no spare yet.
    pub(crate) fn seat_for_spare(
        &self,
        per_browser: usize,
        max_leases: usize,
    ) -> Option<(Arc<Lease>, Seat)> {
        let fits = |sessions, spares| sessions < per_browser && spares == 0;
        self.place(max_leases, fits, true)
    }

    /// Whether a process that holds sessions has room for one more.
    pub(crate) fn room_beside_sessions(&self, per_browser: usize, max_leases: usize) -> bool {
        self.lock().iter().any(|h| {
            h.lease.upgrade().is_some_and(|lease| {
                lease.is_healthy()
                    && lease.contexts_opened() < max_leases
                    && (1..per_browser).contains(&h.counts.sessions())
            })
        })
    }

    /// Sessions open or opening.
    pub(crate) fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Starts packing sessions into `lease`, a process just leased for one;
    /// returns that first session's seat.
    pub(crate) fn add(&self, lease: &Arc<Lease>, admission: Admission) -> Seat {
        self.add_host(lease, Some(admission))
    }

    /// Starts packing sessions into `lease`, a process just leased for the
    /// spare context; returns the spare's seat.
    pub(crate) fn add_for_spare(&self, lease: &Arc<Lease>) -> Seat {
        self.add_host(lease, None)
    }

    fn add_host(&self, lease: &Arc<Lease>, admission: Option<Admission>) -> Seat {
        let counts = Counts::default();
        match admission {
            Some(_) => &counts.sessions,
            None => &counts.spares,
        }
        .store(1, Ordering::Release);
        let host = Host {
            lease: Arc::downgrade(lease),
            counts: Arc::new(counts),
            opening: Arc::new(tokio::sync::Semaphore::new(OPENING_AT_ONCE)),
        };
        let seat = Seat {
            counts: host.counts.clone(),
            opening: host.opening.clone(),
            admission,
        };
        self.lock().push(host);
        seat
    }

    /// Processes holding sessions, and the sessions open or opening (not
    /// counting the spare context).
    pub(crate) fn occupancy(&self) -> (usize, usize) {
        let processes = self
            .lock()
            .iter()
            .filter(|h| h.lease.strong_count() > 0 && h.counts.sessions() > 0)
            .count();
        (processes, self.admitted.load(Ordering::Acquire))
    }
}

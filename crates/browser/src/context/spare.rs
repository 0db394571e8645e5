//! A session context opened ahead, so a new session starts at its first page
//! load rather than at a renderer start.
//!
//! Opening a context and its tab costs a renderer start, several times what
//! loading a small page costs (measured on two cores: ~250 ms against ~60 ms).
//! So while sessions are open, one context with a blank tab waits where the
//! next new session would go: in the fullest process with room, or, when every
//! process holding sessions is full, in one leased for it. The next new
//! session takes it, and the keeper opens another once no session has opened
//! for a moment (a burst of opens has no use for it). The spare lives only
//! while sessions do, and alone in a process only while no process holding
//! sessions has room: otherwise it is let go, so its process goes back to the
//! pool (and idles out) as it would without it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::downloads::Downloads;
use super::live::{Live, dispose_context, open_context};
use super::packing::Admission;
use super::pool::{Inner, Pool};
use crate::process::capacity;

/// How often the keeper looks at the spare: a process whose last session
/// ended lets its spare go within this.
const KEEPER_PERIOD: Duration = Duration::from_millis(250);

/// How long after a session opens no spare is opened: the new session's first
/// page load would share two cores with the spare's renderer start (measured:
/// 200 ms instead of 60 ms), and a burst of opens has no use for spares.
const QUIET_AFTER_OPEN: Duration = Duration::from_millis(500);

/// The pool's one spare context.
#[derive(Default)]
pub(crate) struct Spare {
    slot: Mutex<Option<Live>>,
    /// When a session last opened (on the spare or not).
    last_open: Mutex<Option<std::time::Instant>>,
    /// Held while the keeper tends the spare, which may hold a process
    /// before the spare is in `slot`.
    tending: tokio::sync::Mutex<()>,
}

impl Spare {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Live>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the spare for a new session admitted by `admission`, if there is
    /// a healthy one; gives `admission` back otherwise.
    /// A spare whose process has filled up meanwhile stays for the keeper to
    /// drop.
    pub(crate) fn take(&self, admission: Admission, per_browser: usize) -> Result<Live, Admission> {
        *self.last_open.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
        let mut slot = self.lock();
        let Some(live) = slot.as_mut().filter(|live| live.lease.is_healthy()) else {
            return Err(admission);
        };
        match live.seat.as_mut() {
            Some(seat) => seat.admit(admission, per_browser)?,
            None => return Err(admission),
        }
        Ok(slot.take().expect("checked above"))
    }

    /// Lets the spare go at once when no session is open any more, so its
    /// process is back in the pool when the last session's close returns.
    pub(crate) async fn let_go_if_unused(&self, pool: &Pool) {
        if pool.session_hosts().admitted() > 0 {
            return;
        }
        let _tending = self.tending.lock().await;
        let unused = {
            let mut slot = self.lock();
            slot.take_if(|_| pool.session_hosts().admitted() == 0)
        };
        let Some(live) = unused else { return };
        dispose_context(&live.lease, live.context.clone(), pool.config().cdp_timeout).await;
    }

    /// Whether a spare is open.
    pub(crate) fn is_ready(&self) -> bool {
        self.lock().is_some()
    }

    /// Lets the spare go (at shutdown: its process is closing anyway).
    pub(crate) fn clear(&self) {
        drop(self.lock().take());
    }
}

/// Keeps one spare context open while sessions are, until the pool is dropped.
/// Holds the pool only weakly between rounds, so a pool dropped without
/// `shutdown` is not kept alive by its keeper.
pub(crate) async fn keep(pool: std::sync::Weak<Inner>) {
    loop {
        tokio::time::sleep(KEEPER_PERIOD).await;
        let Some(inner) = pool.upgrade() else { return };
        if let Err(e) = tend(&Pool::from_inner(inner)).await {
            tracing::debug!(error = %e, "could not open a spare session context");
        }
    }
}

impl Spare {
    /// Whether a session opened within [`QUIET_AFTER_OPEN`].
    fn just_opened(&self) -> bool {
        self.last_open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < QUIET_AFTER_OPEN)
    }
}

/// Drops a spare that is no longer where it should be (its process broke or
/// filled up, or it sits alone while sessions elsewhere have room, or no
/// session is open at all), and opens one where the next session would go.
async fn tend(pool: &Pool) -> Result<(), String> {
    let _tending = pool.spare().tending.lock().await;
    let config = pool.config();
    let deadline = config.cdp_timeout;
    let (per_browser, max_leases) = (config.sessions_per_browser.max(1), config.max_leases.max(1));
    let hosts = pool.session_hosts();
    let stale = {
        let mut slot = pool.spare().lock();
        let misplaced = |live: &Live| {
            !live.lease.is_healthy()
                || live.crowded(pool)
                || (live.alone()
                    && (hosts.admitted() == 0
                        || hosts.room_beside_sessions(per_browser, max_leases)))
        };
        match slot.as_ref() {
            Some(live) if !misplaced(live) => return Ok(()),
            Some(_) => slot.take(),
            None => None,
        }
    };
    if let Some(live) = stale {
        dispose_context(&live.lease, live.context.clone(), deadline).await;
        return Ok(());
    }
    if hosts.admitted() == 0 || pool.spare().just_opened() {
        return Ok(());
    }
    let (lease, seat) = match hosts.seat_for_spare(per_browser, max_leases) {
        Some(placed) => placed,
        None => {
            // Every process holding sessions is full: the next session needs
            // a process, so lease it now, unless that would wait for one or
            // memory is short.
            let _leasing = hosts.leasing().await;
            match hosts.seat_for_spare(per_browser, max_leases) {
                Some(placed) => placed,
                None => {
                    // Never the last process to be had: one-off jobs, and
                    // sessions that find the spare taken, need one too.
                    let status = pool.status();
                    let in_use = status.running.saturating_sub(status.idle);
                    if in_use + 2 > status.max
                        || capacity::memory_refusal(config.min_free_memory).is_some()
                    {
                        return Ok(());
                    }
                    let lease = Arc::new(pool.lease().await.map_err(|e| e.message)?);
                    let seat = hosts.add_for_spare(&lease);
                    (lease, seat)
                }
            }
        }
    };
    let opening = seat.opening().await;
    let (context, tab) = open_context(&lease, deadline).await?;
    let downloads = match Downloads::start(&lease, &context, &tab.page, config, deadline).await {
        Ok(downloads) => downloads,
        Err(e) => {
            dispose_context(&lease, context, deadline).await;
            return Err(e);
        }
    };
    drop(opening);
    let live = Live::new(pool, lease, Some(seat), context, tab, downloads);
    // The last session may have ended meanwhile.
    let unwanted = {
        let mut slot = pool.spare().lock();
        if hosts.admitted() == 0 {
            Some(live)
        } else {
            slot.replace(live)
        }
    };
    if let Some(other) = unwanted {
        dispose_context(&other.lease, other.context.clone(), deadline).await;
    }
    Ok(())
}

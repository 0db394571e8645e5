//! A circuit breaker per farm node.
//!
//! CLOSED: calls flow; `failure_threshold` consecutive failures open it.
//! OPEN: calls are refused at once (the scheduler picks another node) until
//! `open_for` has passed. HALF_OPEN: exactly one probe call is let through; its
//! success closes the breaker, its failure opens it again for another `open_for`.
//!
//! Hand-written because it is small and central: the rules above are the whole of
//! it, and they are unit-tested on tokio's paused clock. Only what the caller
//! reports counts: timeouts, connection errors and 5xx are failures; a 4xx caused
//! by the request, or a 429 (node busy), is neither.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Breaker settings.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before letting one probe through.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(60),
        }
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    /// "closed", "half_open" or "open", as in `farm_status`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }

    /// Numeric form for metrics: 0 closed, 1 half-open, 2 open.
    pub fn as_number(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Instant,
    probe_in_flight: bool,
}

/// One node's breaker. Shared by reference; all methods are cheap.
#[derive(Debug)]
pub struct Breaker {
    name: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Permission to make one call. Report its outcome with [`Permit::success`] or
/// [`Permit::failure`]; dropping it unreported (cancelled call, 4xx, 429) counts
/// as neither, and frees the half-open probe slot.
#[must_use = "report the call's outcome, or drop the permit if it does not count"]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
}

impl Breaker {
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        Breaker {
            name: name.into(),
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_at: Instant::now(),
                probe_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current state, moving OPEN to HALF_OPEN once `open_for` has passed.
    pub fn state(&self) -> BreakerState {
        let mut inner = self.lock();
        self.advance(&mut inner);
        inner.state
    }

    /// Skips the rest of the OPEN wait: the node announced it is back (it
    /// registered again), so the next call is the half-open probe.
    pub fn probe_now(&self) {
        let mut inner = self.lock();
        if inner.state == BreakerState::Open {
            self.transition(&mut inner, BreakerState::HalfOpen);
        }
    }

    fn advance(&self, inner: &mut Inner) {
        if inner.state == BreakerState::Open && inner.opened_at.elapsed() >= self.config.open_for {
            self.transition(inner, BreakerState::HalfOpen);
        }
    }

    fn transition(&self, inner: &mut Inner, to: BreakerState) {
        if inner.state != to {
            tracing::warn!(node = %self.name, from = ?inner.state, to = ?to, "circuit breaker");
            inner.state = to;
        }
        if to == BreakerState::Open {
            inner.opened_at = Instant::now();
        }
    }

    /// Asks to make a call: always granted when closed, never when open, and to
    /// one caller at a time when half-open.
    pub fn acquire(&self) -> Option<Permit<'_>> {
        let mut inner = self.lock();
        self.advance(&mut inner);
        match inner.state {
            BreakerState::Closed => Some(Permit {
                breaker: self,
                probe: false,
            }),
            BreakerState::Open => None,
            BreakerState::HalfOpen if inner.probe_in_flight => None,
            BreakerState::HalfOpen => {
                inner.probe_in_flight = true;
                Some(Permit {
                    breaker: self,
                    probe: true,
                })
            }
        }
    }

    fn on_success(&self, probe: bool) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        if probe {
            inner.probe_in_flight = false;
        }
        if inner.state == BreakerState::HalfOpen && probe {
            self.transition(&mut inner, BreakerState::Closed);
        }
    }

    fn on_failure(&self, probe: bool) {
        let mut inner = self.lock();
        if probe {
            inner.probe_in_flight = false;
            self.transition(&mut inner, BreakerState::Open);
            return;
        }
        inner.consecutive_failures += 1;
        if inner.state == BreakerState::Closed
            && inner.consecutive_failures >= self.config.failure_threshold
        {
            self.transition(&mut inner, BreakerState::Open);
        }
    }
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.breaker.on_success(std::mem::take(&mut self.probe));
        std::mem::forget(self);
    }

    pub fn failure(mut self) {
        self.breaker.on_failure(std::mem::take(&mut self.probe));
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.breaker.lock().probe_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(
            "test",
            BreakerConfig {
                failure_threshold: 3,
                open_for: Duration::from_secs(60),
            },
        )
    }

    fn fail(b: &Breaker) {
        b.acquire().expect("call allowed").failure();
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_only() {
        let b = breaker();
        fail(&b);
        fail(&b);
        b.acquire().unwrap().success(); // resets the count
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.acquire().is_none(), "open breaker refuses calls");
    }

    #[tokio::test(start_paused = true)]
    async fn half_opens_after_the_wait_with_a_single_probe() {
        let b = breaker();
        (0..3).for_each(|_| fail(&b));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.acquire().expect("one probe");
        assert!(b.acquire().is_none(), "only one probe at a time");
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.acquire().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn failed_probe_reopens_for_another_full_wait() {
        let b = breaker();
        (0..3).for_each(|_| fail(&b));
        tokio::time::advance(Duration::from_secs(60)).await;
        b.acquire().expect("probe").failure();
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn unreported_probe_frees_the_slot() {
        let b = breaker();
        (0..3).for_each(|_| fail(&b));
        tokio::time::advance(Duration::from_secs(60)).await;
        drop(b.acquire().expect("probe")); // e.g. a 429: does not count
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.acquire().is_some(), "another probe may go");
    }

    #[tokio::test(start_paused = true)]
    async fn neutral_outcomes_do_not_open() {
        let b = breaker();
        for _ in 0..10 {
            drop(b.acquire().unwrap());
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_node_that_announces_itself_is_probed_at_once() {
        let b = breaker();
        for _ in 0..3 {
            fail(&b);
        }
        assert_eq!(b.state(), BreakerState::Open);
        b.probe_now();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.acquire().expect("the probe");
        assert!(b.acquire().is_none(), "one probe at a time");
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed);
        // Closed stays closed.
        b.probe_now();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}

//! Per-client rate limit (`--rate-limit`, `--rate-burst`): a token bucket per
//! client, taken by every tool call and batch page in `server.rs`. A client
//! may make `burst` calls at once, then `per_sec` calls a second on average.
//! Over HTTP a client is the caller's principal (its token) or, without a
//! token, its address, whatever number of MCP sessions it opens
//! ([`RateBuckets`]); over stdio it is the one connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// `--rate-limit` and `--rate-burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_sec: f64,
    pub burst: u32,
}

pub struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(limit: RateLimit) -> TokenBucket {
        TokenBucket {
            limit,
            tokens: f64::from(limit.burst.max(1)),
            last: Instant::now(),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes one token, or says how long until one is available.
    pub fn try_take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let burst = f64::from(self.limit.burst.max(1));
        let refill = now.duration_since(self.last).as_secs_f64() * self.limit.per_sec;
        self.tokens = (self.tokens + refill).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - self.tokens;
        Err(Duration::from_secs_f64(
            missing / self.limit.per_sec.max(1e-9),
        ))
    }
}

/// A client's bucket, shared by its MCP sessions.
pub type SharedBucket = Arc<Mutex<TokenBucket>>;

/// The buckets of an HTTP listener's clients, by principal or address.
pub struct RateBuckets {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, SharedBucket>>,
}

/// Buckets kept before idle ones (no session holds them) are dropped: an idle
/// client's bucket is full anyway, so dropping it changes nothing.
const KEPT: usize = 4096;

impl RateBuckets {
    pub fn new(limit: RateLimit) -> RateBuckets {
        RateBuckets {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The bucket of `client` (a principal, or an address).
    pub fn of(&self, client: &str) -> SharedBucket {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= KEPT && !buckets.contains_key(client) {
            buckets.retain(|_, b| Arc::strong_count(b) > 1);
        }
        buckets
            .entry(client.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(TokenBucket::new(self.limit))))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_shares_one_bucket_across_sessions() {
        let buckets = RateBuckets::new(RateLimit {
            per_sec: 0.001,
            burst: 2,
        });
        let (a, b) = (buckets.of("ip:10.0.0.1"), buckets.of("ip:10.0.0.1"));
        a.lock().unwrap().try_take().unwrap();
        b.lock().unwrap().try_take().unwrap();
        assert!(
            a.lock().unwrap().try_take().is_err(),
            "the burst is the client's"
        );
        assert!(buckets.of("ip:10.0.0.2").lock().unwrap().try_take().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_steady_rate() {
        let mut bucket = TokenBucket::new(RateLimit {
            per_sec: 2.0,
            burst: 3,
        });
        for _ in 0..3 {
            bucket.try_take().unwrap();
        }
        let wait = bucket.try_take().unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(500)).await;
        bucket.try_take().unwrap();
        assert!(bucket.try_take().is_err());
        // Idle time refills up to the burst, not beyond.
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            bucket.try_take().unwrap();
        }
        assert!(bucket.try_take().is_err());
    }
}

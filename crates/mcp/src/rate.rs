//! Per-client rate limit (`--rate-limit`, `--rate-burst`): a token bucket per MCP
//! connection, taken by every tool call and batch page in `server.rs`. A client
//! may make `burst` calls at once, then `per_sec` calls a second on average.

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

#[cfg(test)]
mod tests {
    use super::*;

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

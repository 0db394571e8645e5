//! Politeness toward the sites the farm reads (`--max-per-host`): at most N
//! one-off jobs that load a page of one host (batch pages, reads that stand
//! alone) run at once through this gateway, however many batches and browsers
//! ask. Without it a `batch_scrape` of one site opens as many connections to it
//! as the farm has tabs. Sessions' navigations are agents' own steps and pass.
//!
//! The limit is per gateway process: replicas behind a load balancer each keep
//! their own. Jobs waiting for a host hold no farm slot (the host is taken
//! before the admission queue), so other sites' pages pass them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Jobs loading one host at once by default: the batch's own default
/// concurrency, so one default batch runs at full speed and a second batch of
/// the same site, or a bigger concurrency, waits its turn.
pub const DEFAULT_MAX_PER_HOST: usize = 8;

/// One semaphore per host in use; a host's entry goes when its last job ends.
#[derive(Debug)]
pub struct HostLimit {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    waiting: AtomicUsize,
}

/// The right to load a page of one host; frees it on drop.
pub struct HostPermit {
    limit: Arc<HostLimit>,
    host: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut hosts = self.limit.lock();
        // Only the map holds the semaphore now: nobody runs or waits on it.
        if hosts
            .get(&self.host)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            hosts.remove(&self.host);
        }
    }
}

impl HostLimit {
    /// `per_host` jobs per host at once; 0 means no limit.
    pub fn new(per_host: usize) -> Arc<HostLimit> {
        Arc::new(HostLimit {
            per_host,
            hosts: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Semaphore>>> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Jobs waiting for a host at its limit now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Waits until `url`'s host has room; `None` without a limit or for a URL
    /// without a host. The caller's own deadline bounds the wait (a dropped
    /// future leaves the queue).
    pub async fn take(self: &Arc<Self>, url: &str) -> Option<HostPermit> {
        if self.per_host == 0 {
            return None;
        }
        let host = reqwest::Url::parse(url)
            .ok()?
            .host_str()?
            .to_ascii_lowercase();
        let semaphore = self
            .lock()
            .entry(host.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone();
        let permit = match semaphore.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.waiting.fetch_add(1, Ordering::Relaxed);
                let _counted = Uncount(&self.waiting);
                semaphore
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed")
            }
        };
        drop(semaphore);
        Some(HostPermit {
            limit: self.clone(),
            host,
            permit: Some(permit),
        })
    }
}

/// Takes a waiter off the count when its wait ends, also by cancellation.
struct Uncount<'a>(&'a AtomicUsize);

impl Drop for Uncount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_host_at_its_limit_waits_and_other_hosts_pass() {
        let limit = HostLimit::new(2);
        let a1 = limit.take("http://a.test/1").await.unwrap();
        let _a2 = limit.take("http://A.test/2").await.unwrap();
        let _b = tokio::time::timeout(Duration::from_secs(1), limit.take("http://b.test/"))
            .await
            .expect("another host passes");
        let third = tokio::spawn({
            let limit = limit.clone();
            async move { limit.take("http://a.test/3").await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(limit.waiting(), 1, "the third job of a.test waits");
        assert!(!third.is_finished());
        drop(a1);
        tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("freed")
            .unwrap();
        assert_eq!(limit.waiting(), 0);
    }

    #[tokio::test]
    async fn hosts_are_forgotten_when_idle_and_zero_means_unlimited() {
        let limit = HostLimit::new(1);
        drop(limit.take("http://a.test/").await);
        assert!(limit.lock().is_empty(), "no entry left behind");
        let cancelled = tokio::time::timeout(Duration::from_millis(20), async {
            let _held = limit.take("http://a.test/").await;
            limit.take("http://a.test/").await
        })
        .await;
        assert!(cancelled.is_err(), "the second waits");
        assert_eq!(limit.waiting(), 0, "a cancelled wait is uncounted");
        assert!(limit.lock().is_empty());
        let unlimited = HostLimit::new(0);
        assert!(unlimited.take("http://a.test/").await.is_none());
    }
}

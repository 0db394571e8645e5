//! Admission control: at most `capacity` jobs run at once, at most `max_queue` wait;
//! beyond that the node answers 429 at once so the gateway can go elsewhere.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

pub struct Admission {
    slots: Semaphore,
    capacity: usize,
    queued: AtomicUsize,
    max_queue: usize,
}

impl Admission {
    pub fn new(capacity: usize, max_queue: usize) -> Self {
        let capacity = capacity.max(1);
        Admission {
            slots: Semaphore::new(capacity),
            capacity,
            queued: AtomicUsize::new(0),
            max_queue,
        }
    }

    /// A slot to run one job, waiting in the queue if there is room; `None` when
    /// the queue is full too.
    pub async fn admit(&self) -> Option<SemaphorePermit<'_>> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Some(permit);
        }
        let queued = self.queued.fetch_add(1, Ordering::AcqRel);
        if queued >= self.max_queue {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let permit = self.slots.acquire().await.ok();
        self.queued.fetch_sub(1, Ordering::AcqRel);
        permit
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn in_flight(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    pub fn max_queue(&self) -> usize {
        self.max_queue
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_runs_one_waits_the_next_is_refused() {
        let admission = Arc::new(Admission::new(1, 1));
        let running = admission.admit().await.expect("free slot");
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.admit().await.is_some() })
        };
        while admission.queued() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            admission.admit().await.is_none(),
            "queue full: refused at once"
        );
        assert_eq!((admission.in_flight(), admission.queued()), (1, 1));
        drop(running);
        assert!(
            waiter.await.unwrap(),
            "the queued job ran once the slot freed"
        );
        assert_eq!(admission.queued(), 0);
    }
}

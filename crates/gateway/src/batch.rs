//! A batch: many one-off jobs (the pages of one `batch_scrape` call) run side
//! by side and answered in input order. The jobs share a group, so the pool or
//! the farm may run them as tabs of one browser context (much faster than a
//! process each, see the browser crate's `stateless.rs`).

use std::future::Future;

use browserfarm_protocol::{Job, JobError, JobOutput};
use futures::StreamExt;

/// Runs `jobs`, at most `concurrency` at once, each through `run` (which may
/// answer from a cache or pace itself), and tells `finished` the number done
/// after each; returns every job's outcome in input order.
///
/// Jobs start as soon as any running one ends, so a slow page never holds back
/// the start of the next ones (`buffered` would count finished pages waiting
/// behind it as in flight).
pub async fn run_batch<R, RF, P, PF>(
    jobs: Vec<Job>,
    concurrency: usize,
    run: R,
    mut finished: P,
) -> Vec<Result<JobOutput, JobError>>
where
    R: Fn(Job) -> RF,
    RF: Future<Output = Result<JobOutput, JobError>>,
    P: FnMut(usize, &Result<JobOutput, JobError>) -> PF,
    PF: Future<Output = ()>,
{
    let total = jobs.len();
    // Random, since a farm node serves many gateways.
    let group = format!("batch-{:016x}", rand::random::<u64>());
    let mut outcomes = futures::stream::iter(jobs.into_iter().enumerate().map(|(i, job)| {
        let page = run(job.in_group(group.clone()));
        async move { (i, page.await) }
    }))
    .buffer_unordered(concurrency.max(1));
    let mut slots: Vec<Option<Result<JobOutput, JobError>>> =
        std::iter::repeat_with(|| None).take(total).collect();
    let mut done = 0;
    while let Some((i, outcome)) = outcomes.next().await {
        done += 1;
        finished(done, &outcome).await;
        slots[i] = Some(outcome);
    }
    slots
        .into_iter()
        .map(|slot| slot.expect("the stream yields every job once"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use browserfarm_protocol::{Operation, ScrapeArgs};
    use std::time::Duration;

    fn job(i: u64) -> Job {
        Job::new(
            None,
            Operation::Scrape(ScrapeArgs {
                url: Some(format!("http://127.0.0.1/{i}")),
                ..Default::default()
            }),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_come_back_in_input_order_with_one_group_and_progress() {
        let jobs: Vec<Job> = (0..6).map(job).collect();
        let mut progress = Vec::new();
        let groups = std::sync::Mutex::new(Vec::new());
        let outcomes = run_batch(
            jobs,
            3,
            |job| {
                groups.lock().unwrap().push(job.group.clone());
                async move {
                    let url = job.operation.url().unwrap().to_owned();
                    let i: u64 = url.rsplit('/').next().unwrap().parse().unwrap();
                    // Later pages finish first.
                    tokio::time::sleep(Duration::from_millis(100 * (6 - i))).await;
                    Err(JobError::internal(url))
                }
            },
            |done, _| {
                progress.push(done);
                async {}
            },
        )
        .await;
        let urls: Vec<String> = outcomes
            .into_iter()
            .map(|o| o.unwrap_err().message)
            .collect();
        assert_eq!(
            urls,
            (0..6)
                .map(|i| format!("http://127.0.0.1/{i}"))
                .collect::<Vec<_>>()
        );
        assert_eq!(progress, vec![1, 2, 3, 4, 5, 6]);
        let groups = groups.into_inner().unwrap();
        assert!(groups[0].as_deref().unwrap().starts_with("batch-"));
        assert!(groups.iter().all(|g| *g == groups[0]), "{groups:?}");
    }
}

//! Files a process re-reads when they change (certificates, tokens): one
//! polling loop, since inotify does not see a Kubernetes secret's symlink swap
//! and two seconds is soon enough for a renewal or a rotation.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

const EVERY: Duration = Duration::from_secs(2);

/// What a reload made of the files' new state.
pub(crate) enum Reloaded {
    /// Taken in, or given up on: wait for the next change.
    Done,
    /// Not usable yet (half written): try again at the next tick.
    Retry,
    /// Nobody needs the files any more: stop watching.
    Stop,
}

/// Calls `reload` whenever one of `files` changes (modification time or size),
/// checking every two seconds.
pub(crate) fn on_change(
    files: Vec<PathBuf>,
    mut reload: impl FnMut() -> Reloaded + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stamps = || -> Vec<Option<(SystemTime, u64)>> {
            files
                .iter()
                .map(|f| {
                    let meta = std::fs::metadata(f).ok()?;
                    Some((meta.modified().ok()?, meta.len()))
                })
                .collect()
        };
        let mut seen = stamps();
        loop {
            tokio::time::sleep(EVERY).await;
            let now = stamps();
            if now == seen {
                continue;
            }
            match reload() {
                Reloaded::Done => seen = now,
                Reloaded::Retry => {}
                Reloaded::Stop => return,
            }
        }
    })
}

//! Cleanup of Chromium processes and profiles left behind by a browserfarm process
//! that died without closing them (SIGKILL, OOM kill, power loss, a closed
//! console window on Windows).
//!
//! Every browserfarm process keeps its profiles under `<root>/pid-<pid>/`. At start
//! we look for directories whose owner is gone, kill any Chromium still using them,
//! and delete them. Chromium's own command line names its profile directory, which
//! is how its processes are found.

use std::path::Path;

use super::os;

/// Directory name holding the profiles of the process `pid`.
pub(crate) fn owner_dir_name(pid: u32) -> String {
    format!("pid-{pid}")
}

/// Removes the leftovers of dead owners under `root`. Best effort: failures are
/// logged, never fatal.
pub(crate) fn reap_stale(root: &Path, own_pid: u32) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("pid-")?.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own_pid || os::exists(pid) {
            continue;
        }
        let dir = entry.path();
        let killed = kill_processes_using(&dir);
        if killed > 0 {
            tracing::warn!(dir = %dir.display(), killed, "killed Chromium orphaned by a dead browserfarm process");
        }
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::debug!(dir = %dir.display(), error = %e, "could not remove stale profile directory");
        }
    }
}

/// Kills every process whose command line mentions `dir` and a path separator
/// (so `chrome-1` does not match `chrome-10`); returns how many.
fn kill_processes_using(dir: &Path) -> usize {
    let mut needle = dir.as_os_str().as_encoded_bytes().to_vec();
    needle.push(std::path::MAIN_SEPARATOR as u8);
    os::pids_naming(&needle)
        .into_iter()
        .filter(|&pid| os::kill(pid))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs_of_dead_owners_are_removed_and_live_ones_kept() {
        let root = std::env::temp_dir().join(format!("bf-reap-test-{}", std::process::id()));
        let own = std::process::id();
        // pid 0x7fff_fff0 is above pid_max, so it is never alive.
        let dead = root.join(owner_dir_name(0x7fff_fff0)).join("chrome-0");
        let live = root.join(owner_dir_name(own)).join("chrome-0");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::create_dir_all(&live).unwrap();
        reap_stale(&root, own);
        assert!(!dead.exists());
        assert!(live.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}

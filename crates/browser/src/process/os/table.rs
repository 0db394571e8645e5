//! The process table through `sysinfo`, where there is no `/proc` to read
//! (macOS, Windows, BSDs). Each call asks the OS afresh: these run once a
//! second per browser at most, and at start when reaping.

use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};

/// `f` of the process `pid` as the OS sees it now; `None` if there is none.
pub(crate) fn with_process<T>(pid: u32, f: impl FnOnce(&sysinfo::Process) -> T) -> Option<T> {
    let pid = Pid::from_u32(pid);
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing(),
    );
    system.process(pid).map(f)
}

/// True while `pid` exists and is not a zombie awaiting its exit status.
pub(crate) fn alive(pid: u32) -> bool {
    with_process(pid, sysinfo::Process::status)
        .is_some_and(|s| !matches!(s, ProcessStatus::Zombie | ProcessStatus::Dead))
}

/// True while `pid` exists, zombie or not.
pub(crate) fn exists(pid: u32) -> bool {
    with_process(pid, |_| ()).is_some()
}

/// The processes whose command line contains `needle`.
pub(crate) fn pids_naming(needle: &[u8]) -> Vec<u32> {
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always),
    );
    system
        .processes()
        .iter()
        .filter(|(_, process)| {
            let line: Vec<u8> = process
                .cmd()
                .iter()
                .flat_map(|arg| arg.as_encoded_bytes().iter().copied().chain([0]))
                .collect();
            line.windows(needle.len()).any(|w| w == needle)
        })
        .map(|(pid, _)| pid.as_u32())
        .collect()
}

/// Total and available memory in bytes.
pub(crate) fn memory() -> Option<(u64, u64)> {
    let mut system = System::new();
    system.refresh_memory();
    let total = system.total_memory();
    (total > 0).then(|| (total, system.available_memory()))
}

/// The one-minute load average; Windows keeps none.
pub(crate) fn load_average() -> Option<f64> {
    if cfg!(windows) {
        return None;
    }
    Some(System::load_average().one)
}

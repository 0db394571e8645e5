//! How many sessions this machine holds, and whether it can take one more now.
//!
//! Sessions cost memory, not cores: an idle one is a renderer of a few tens of
//! MiB. So the default session limit is the memory the machine (or its cgroup,
//! in a container) has, less a reserve, divided by a per-session budget; and a
//! new session is refused while free memory is below the reserve, before the
//! kernel swaps or its OOM killer picks a Chromium (or this server) to end.
//!
//! Memory is read from Linux's `/proc/meminfo` and cgroup files, and from the
//! OS through `sysinfo` elsewhere; where it cannot be read the limits fall back
//! to fixed numbers and the guard is off.

use std::path::Path;

const MIB: u64 = 1024 * 1024;

/// Memory budgeted per session when deriving the default `max_sessions`: an
/// idle session of a simple page measures about 20 MiB beyond its process's
/// share (docs/benchmarks.md); real pages take more while they run.
pub const SESSION_BUDGET: u64 = 64 * MIB;

/// Most sessions a default limit allows, however large the machine: past this
/// the CDP connections of a few processes, not memory, are what runs out.
const MAX_DEFAULT_SESSIONS: usize = 1024;

/// Sessions allowed when memory cannot be read.
const FALLBACK_SESSIONS: usize = 64;

/// The smallest default reserve of free memory.
const MIN_RESERVE: u64 = 512 * MIB;

/// The machine's memory as it applies to this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Total memory, or the cgroup's limit when that is lower.
    pub limit: u64,
    /// Memory that can be used without swapping: `MemAvailable`, or what is
    /// left under the cgroup's limit when that is less.
    pub available: u64,
}

impl Memory {
    /// Reads the memory of this machine (and on Linux of the cgroup this
    /// process runs in); `None` where it cannot be read.
    #[cfg(not(target_os = "linux"))]
    pub fn read() -> Option<Memory> {
        let (limit, available) = super::os::memory()?;
        Some(Memory { limit, available })
    }

    /// Reads the memory of this machine and of the cgroup this process runs in;
    /// `None` where `/proc/meminfo` cannot be read.
    #[cfg(target_os = "linux")]
    pub fn read() -> Option<Memory> {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let host = Memory {
            limit: meminfo_kib(&meminfo, "MemTotal")? * 1024,
            available: meminfo_kib(&meminfo, "MemAvailable")? * 1024,
        };
        Some(match cgroup_memory(Path::new("/")) {
            Some((limit, used)) if limit < host.limit => Memory {
                limit,
                available: host.available.min(limit.saturating_sub(used)),
            },
            _ => host,
        })
    }
}

/// The default reserve of free memory below which new sessions are refused:
/// a twentieth of the limit, at least [`MIN_RESERVE`].
pub fn default_reserve(memory: Option<Memory>) -> u64 {
    memory.map_or(0, |m| (m.limit / 20).max(MIN_RESERVE))
}

/// The default most sessions at once: what fits in the memory above the reserve
/// at [`SESSION_BUDGET`] each.
pub fn default_max_sessions(memory: Option<Memory>) -> usize {
    let Some(memory) = memory else {
        return FALLBACK_SESSIONS;
    };
    let budget = memory.limit.saturating_sub(default_reserve(Some(memory)));
    usize::try_from(budget / SESSION_BUDGET)
        .unwrap_or(usize::MAX)
        .clamp(1, MAX_DEFAULT_SESSIONS)
}

/// Why a new session cannot be had now, if memory says so: free memory is below
/// `reserve` (0 turns the guard off).
/// The one-minute load average per core, in percent; `None` where the system
/// keeps no load average (Windows).
pub fn cpu_load_pct() -> Option<u32> {
    let one_minute = super::os::load_average()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Some((one_minute / cores as f64 * 100.0).round() as u32)
}

pub(crate) fn memory_refusal(reserve: u64) -> Option<String> {
    if reserve == 0 {
        return None;
    }
    let memory = Memory::read()?;
    (memory.available < reserve).then(|| {
        format!(
            "not enough free memory for another browser session: {} MiB available of {} MiB, \
             below the {} MiB kept free (--min-free-memory-mib); close a session \
             (close_session), retry once others end, or give the machine more memory",
            memory.available / MIB,
            memory.limit / MIB,
            reserve / MIB,
        )
    })
}

/// A `/proc/meminfo` field in KiB.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn meminfo_kib(meminfo: &str, field: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// The memory limit and usage of this process's cgroup, under `root` (the
/// filesystem root; a test's directory): cgroup v2 `memory.max` and
/// `memory.current`, else v1 `memory.limit_in_bytes` and `memory.usage_in_bytes`.
/// `None` when there is no limit.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn cgroup_memory(root: &Path) -> Option<(u64, u64)> {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
    let number = |s: Option<String>| s.and_then(|s| s.trim().parse::<u64>().ok());
    let own = read("proc/self/cgroup").unwrap_or_default();
    // v2: one line `0::/path`.
    if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) {
        let dir = format!("sys/fs/cgroup{}", path.trim_end_matches('/'));
        if let Some(limit) = number(read(&format!("{dir}/memory.max"))) {
            return Some((limit, number(read(&format!("{dir}/memory.current")))?));
        }
    }
    // v1: a huge number means no limit.
    let limit = number(read("sys/fs/cgroup/memory/memory.limit_in_bytes"))?;
    let used = number(read("sys/fs/cgroup/memory/memory.usage_in_bytes"))?;
    (limit < 1 << 60).then_some((limit, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_fields_are_read_in_kib() {
        let meminfo =
            "MemTotal:       24579800 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(meminfo_kib(meminfo, "MemTotal"), Some(24_579_800));
        assert_eq!(meminfo_kib(meminfo, "MemAvailable"), Some(20_000_000));
        assert_eq!(meminfo_kib(meminfo, "Mem"), None);
    }

    #[test]
    fn the_default_limit_follows_memory() {
        let gib = |n: u64| {
            Some(Memory {
                limit: n * 1024 * MIB,
                available: n * 1024 * MIB,
            })
        };
        // 24 GiB less a twentieth, at 64 MiB a session.
        assert_eq!(default_max_sessions(gib(24)), 364);
        // A 4 GiB Pi keeps 512 MiB free.
        assert_eq!(default_max_sessions(gib(4)), 56);
        assert_eq!(default_max_sessions(gib(1024)), MAX_DEFAULT_SESSIONS);
        assert_eq!(default_max_sessions(None), FALLBACK_SESSIONS);
        assert_eq!(default_reserve(gib(4)), MIN_RESERVE);
        assert_eq!(default_reserve(None), 0);
    }

    /// A directory holding `files`, standing in for the filesystem root.
    struct Root(std::path::PathBuf);

    impl Root {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn cgroup_root(files: &[(&str, &str)]) -> Root {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = Root(std::env::temp_dir().join(format!(
            "browserfarm-cgroup-test-{}-{n}",
            std::process::id()
        )));
        for (path, text) in files {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        root
    }

    #[test]
    fn a_cgroup_v2_limit_is_found_by_the_process_cgroup() {
        let root = cgroup_root(&[
            ("proc/self/cgroup", "0::/pod/agent\n"),
            ("sys/fs/cgroup/pod/agent/memory.max", "2147483648\n"),
            ("sys/fs/cgroup/pod/agent/memory.current", "1073741824\n"),
        ]);
        assert_eq!(cgroup_memory(root.path()), Some((2 << 30, 1 << 30)));
        // `max` is no limit.
        let root = cgroup_root(&[
            ("proc/self/cgroup", "0::/\n"),
            ("sys/fs/cgroup/memory.max", "max\n"),
            ("sys/fs/cgroup/memory.current", "1073741824\n"),
        ]);
        assert_eq!(cgroup_memory(root.path()), None);
    }

    #[test]
    fn a_cgroup_v1_limit_counts_only_when_set() {
        let root = cgroup_root(&[
            ("proc/self/cgroup", "4:memory:/docker/abc\n"),
            ("sys/fs/cgroup/memory/memory.limit_in_bytes", "1073741824\n"),
            ("sys/fs/cgroup/memory/memory.usage_in_bytes", "536870912\n"),
        ]);
        assert_eq!(cgroup_memory(root.path()), Some((1 << 30, 1 << 29)));
        let root = cgroup_root(&[
            ("proc/self/cgroup", "4:memory:/\n"),
            (
                "sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            ("sys/fs/cgroup/memory/memory.usage_in_bytes", "536870912\n"),
        ]);
        assert_eq!(cgroup_memory(root.path()), None);
    }

    #[test]
    fn the_guard_is_off_at_zero_and_refuses_past_the_machine() {
        assert_eq!(memory_refusal(0), None);
        if Memory::read().is_some() {
            let refusal = memory_refusal(u64::MAX).expect("no machine has that much free");
            assert!(refusal.contains("--min-free-memory-mib"), "{refusal}");
        }
    }
}

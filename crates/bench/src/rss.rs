//! Peak memory of a process tree (a server and its Chromium children), sampled
//! from /proc. Proportional set size (PSS): Chromium's processes share much of
//! their memory, which plain RSS would count once per process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Sum of PSS over `roots` and all their descendants, in bytes. Reads PSS only
/// for processes in the trees: reading `smaps_rollup` walks a process's page
/// tables, which is not free and briefly stalls the process it reads, so every
/// other process is left alone.
pub fn tree_pss(roots: &[u32]) -> u64 {
    tree(roots).into_iter().map(pss).sum()
}

/// PSS of the trees of `roots` by kind of process (Chromium's `--type=`, else
/// the program's name): how many of each and their PSS in bytes. Says where the
/// memory goes (browser processes, renderers, the server itself).
pub fn tree_by_kind(roots: &[u32]) -> BTreeMap<String, (usize, u64)> {
    let mut kinds: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for pid in tree(roots) {
        let entry = kinds.entry(kind(pid)).or_default();
        entry.0 += 1;
        entry.1 += pss(pid);
    }
    kinds
}

/// CPU time used so far by `roots` and all their descendants (user and
/// system, including children they reaped), from `/proc/PID/stat`.
pub fn tree_cpu(roots: &[u32]) -> Duration {
    // /proc reports in USER_HZ, which the kernel's ABI fixes at 100 a second.
    const TICKS_PER_SEC: u64 = 100;
    let ticks: u64 = tree(roots)
        .into_iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // After the name: state is field 3, so utime..cstime (14..17) sit
            // at 11..14 here.
            Some(
                fields
                    .get(11..15)?
                    .iter()
                    .filter_map(|f| f.parse::<u64>().ok())
                    .sum::<u64>(),
            )
        })
        .sum();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SEC)
}

/// `roots` and all their descendants, from one read of the process table.
fn tree(roots: &[u32]) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the ")" that closes the command name: state, ppid, ...
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        let ppid = rest.get(1).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        children.entry(ppid).or_default().push(pid);
    }
    let mut all = Vec::new();
    let mut stack = roots.to_vec();
    while let Some(pid) = stack.pop() {
        all.push(pid);
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    all
}

/// A process's kind: the value of Chromium's `--type=` switch (renderer,
/// zygote, gpu-process, utility), else its program's file name. Chromium's
/// children rewrite their command line into one space-separated string, so the
/// words are split on NULs and spaces alike.
fn kind(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    let mut words = cmdline.split_whitespace();
    if let Some(t) = words.clone().find_map(|w| w.strip_prefix("--type=")) {
        return t.to_owned();
    }
    let program = words.next().unwrap_or("?");
    program.rsplit('/').next().unwrap_or(program).to_owned()
}

/// A process's PSS in bytes (0 when unreadable).
fn pss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Pss:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<u64>().ok())
            })
        })
        .map_or(0, |kib| kib * 1024)
}

/// Samples the trees of `roots` every 200 ms until dropped; `peak()` is the
/// highest sum seen. Samples on a thread of its own: the reads block, and on the
/// async runtime they would delay the very calls being timed.
pub struct PeakRss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl PeakRss {
    pub fn watch(roots: Vec<u32>) -> PeakRss {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                seen.fetch_max(tree_pss(&roots), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        PeakRss { peak, stop }
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

//! What differs between operating systems in handling Chromium processes:
//! whether a file can be run, whether we run as root, whether a process is alive,
//! killing one, finding the processes that name a profile directory, keeping
//! profiles private, and the host's memory and load that size the pool. Each
//! function keeps the same promise everywhere; the rest of `process` calls only
//! these, so no orphaned Chromium and no wait without a deadline on any system.
//!
//! The process table is read from `/proc` on Linux (cheap enough to check every
//! browser every second) and through `sysinfo` elsewhere (macOS, Windows, BSDs);
//! signals and file modes are POSIX on Unix and their Win32 counterparts on
//! Windows.

#[cfg(target_os = "linux")]
mod procfs;
#[cfg(target_os = "linux")]
pub(crate) use procfs::{alive, exists, load_average, pids_naming};

#[cfg(not(target_os = "linux"))]
mod table;
#[cfg(not(target_os = "linux"))]
pub(crate) use table::{alive, exists, load_average, memory, pids_naming};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{create_private_dir, is_executable, kill, running_as_root};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{create_private_dir, is_executable, kill, running_as_root};

// The sysinfo table, built on Linux too in tests, so its logic runs here
// against the same processes as the /proc one.
#[cfg(all(test, target_os = "linux"))]
#[path = "table.rs"]
mod table;

#[cfg(test)]
mod tests {
    use super::{create_private_dir, is_executable, kill};

    /// The process-table tests, for each implementation this system builds.
    macro_rules! process_table_tests {
        ($($table:ident),+) => {$(
            mod $table {
                use crate::process::os::$table::{alive, exists, pids_naming};
                use super::{kill, sleeper};

                #[test]
                fn this_process_is_alive_and_named_by_its_own_arguments() {
                    let own = std::process::id();
                    assert!(alive(own));
                    assert!(exists(own));
                    // pid 0x7fff_fff0 is above every system's pid limit: never alive.
                    assert!(!alive(0x7fff_fff0));
                    assert!(!exists(0x7fff_fff0));
                    let exe = std::env::current_exe().unwrap();
                    let name = exe.file_name().unwrap().as_encoded_bytes();
                    assert!(pids_naming(name).contains(&own));
                    assert!(!pids_naming(b"no process has this in its command line \x01")
                        .contains(&own));
                }

                #[test]
                fn a_killed_child_is_gone_once_reaped() {
                    let mut child = sleeper();
                    let pid = child.id();
                    assert!(alive(pid));
                    assert!(kill(pid));
                    let status = child.wait().unwrap();
                    assert!(!status.success());
                    assert!(!alive(pid));
                    assert!(!exists(pid));
                }
            }
        )+};
    }

    #[cfg(target_os = "linux")]
    process_table_tests!(procfs, table);
    #[cfg(not(target_os = "linux"))]
    process_table_tests!(table);

    #[test]
    fn the_table_reads_memory_and_load() {
        let (total, available) = super::table::memory().expect("memory");
        assert!(total > 0 && available <= total, "{available} of {total}");
        assert_eq!(super::table::load_average().is_some(), cfg!(unix));
    }

    #[test]
    fn executables_are_told_from_other_files() {
        let exe = std::env::current_exe().unwrap();
        assert!(is_executable(&exe));
        let dir = std::env::temp_dir();
        assert!(!is_executable(&dir), "a directory is not executable");
        let plain = dir.join(format!("bf-os-plain-{}.txt", std::process::id()));
        std::fs::write(&plain, "not a program").unwrap();
        assert!(!is_executable(&plain));
        std::fs::remove_file(plain).unwrap();
    }

    #[test]
    fn private_dirs_are_the_owners_alone() {
        let dir = std::env::temp_dir()
            .join(format!("bf-os-private-{}", std::process::id()))
            .join("profile");
        create_private_dir(&dir).unwrap();
        create_private_dir(&dir).unwrap(); // again: already there is fine
        assert!(dir.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{mode:o}");
        }
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[cfg(unix)]
    fn sleeper() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap()
    }

    #[cfg(windows)]
    fn sleeper() -> std::process::Child {
        std::process::Command::new("ping")
            .args(["-n", "30", "127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }
}

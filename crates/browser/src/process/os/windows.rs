//! Windows: `.exe` files, no root, TerminateProcess (through `sysinfo`).

use std::path::Path;

/// A regular file named `*.exe` (Windows runs files by extension, not mode).
pub(crate) fn is_executable(path: &Path) -> bool {
    let exe = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("exe"));
    exe && std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Chromium's sandbox works for an administrator too; nothing to turn off.
pub(crate) fn running_as_root() -> bool {
    false
}

/// Terminates `pid` at once (the SIGKILL of Windows); whether it was done.
pub(crate) fn kill(pid: u32) -> bool {
    super::table::with_process(pid, sysinfo::Process::kill).unwrap_or(false)
}

/// Creates `dir` (and its parents). The temporary directory on Windows is in
/// the user's profile, whose ACL already keeps other users out.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

//! POSIX: file modes, the effective uid, SIGKILL.

use std::path::Path;

/// A regular file with an execute bit.
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Chromium refuses to start its sandbox as root.
pub(crate) fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// SIGKILLs `pid`; whether the signal was sent.
pub(crate) fn kill(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .is_ok()
}

/// Creates `dir` (and its parents) readable by this user only: profiles hold
/// cookies and storage, and the temporary directory is shared with others.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // An existing directory keeps the mode it was made with.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

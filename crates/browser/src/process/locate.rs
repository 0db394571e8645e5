//! Finding Chromium: an explicit path, else a known name on `PATH`, else where
//! each system's installers put Chrome or Chromium (a macOS app bundle is not on
//! `PATH`, nor is a Windows install).

use std::path::{Path, PathBuf};

use super::chrome::LaunchError;
use super::os;

/// Executable names tried on `PATH`, in order, when no path is configured.
#[cfg(not(windows))]
pub const CHROME_CANDIDATES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];
/// Executable names tried on `PATH`, in order, when no path is configured.
#[cfg(windows)]
pub const CHROME_CANDIDATES: &[&str] = &["chrome.exe", "chromium.exe"];

/// How to get a Chromium, said when none is found.
#[cfg(target_os = "macos")]
pub(crate) const INSTALL_HINT: &str = "install Google Chrome (https://www.google.com/chrome/) or \
     Chromium (`brew install --cask chromium`)";
#[cfg(windows)]
pub(crate) const INSTALL_HINT: &str = "install Google Chrome (https://www.google.com/chrome/)";
#[cfg(not(any(target_os = "macos", windows)))]
pub(crate) const INSTALL_HINT: &str =
    "install it (Debian/Ubuntu: `sudo apt-get install -y chromium`)";

/// Where [`install_paths`] looks, said when none is found.
#[cfg(target_os = "macos")]
pub(crate) const INSTALL_PLACES: &str = "/Applications and ~/Applications";
#[cfg(windows)]
pub(crate) const INSTALL_PLACES: &str = "%LOCALAPPDATA%, %ProgramFiles% and %ProgramFiles(x86)%";
#[cfg(not(any(target_os = "macos", windows)))]
pub(crate) const INSTALL_PLACES: &str = "no other place";

/// Finds the Chromium executable: the explicit path if given (it must exist),
/// otherwise the first of [`CHROME_CANDIDATES`] on `PATH`, otherwise the first
/// of this system's install locations that exists.
pub fn find_chrome(explicit: Option<&Path>) -> Result<PathBuf, LaunchError> {
    if let Some(path) = explicit {
        return if os::is_executable(path) {
            Ok(path.to_path_buf())
        } else {
            Err(LaunchError::ChromeNotExecutable(path.to_path_buf()))
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let on_path = CHROME_CANDIDATES.iter().flat_map(|name| {
        std::env::split_paths(&path_var)
            .map(move |dir| dir.join(name))
            .collect::<Vec<_>>()
    });
    on_path
        .chain(install_paths())
        .find(|candidate| os::is_executable(candidate))
        .ok_or(LaunchError::ChromeNotFound)
}

/// The app bundles' executables, system-wide and the user's own.
#[cfg(target_os = "macos")]
fn install_paths() -> Vec<PathBuf> {
    const BUNDLES: &[&str] = &[
        "Google Chrome.app/Contents/MacOS/Google Chrome",
        "Chromium.app/Contents/MacOS/Chromium",
        "Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
    ];
    let mut roots = vec![PathBuf::from("/Applications")];
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(home).join("Applications"));
    }
    roots
        .iter()
        .flat_map(|root| BUNDLES.iter().map(move |b| root.join(b)))
        .collect()
}

/// Chrome's per-user and machine-wide installs, then Chromium's.
#[cfg(windows)]
fn install_paths() -> Vec<PathBuf> {
    const INSTALLS: &[&str] = &[
        r"Google\Chrome\Application\chrome.exe",
        r"Chromium\Application\chrome.exe",
    ];
    let roots: Vec<PathBuf> = ["LOCALAPPDATA", "ProgramFiles", "ProgramFiles(x86)"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .collect();
    INSTALLS
        .iter()
        .flat_map(|install| roots.iter().map(move |root| root.join(install)))
        .collect()
}

/// Linux and BSD packages put Chromium on `PATH`.
#[cfg(not(any(target_os = "macos", windows)))]
fn install_paths() -> Vec<PathBuf> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_path_must_be_an_executable_file() {
        let dir = std::env::temp_dir();
        assert!(matches!(
            find_chrome(Some(&dir)),
            Err(LaunchError::ChromeNotExecutable(_))
        ));
        let exe = std::env::current_exe().unwrap();
        assert_eq!(find_chrome(Some(&exe)).unwrap(), exe);
    }

    #[test]
    fn the_not_found_error_says_where_it_looked_and_how_to_get_one() {
        let message = LaunchError::ChromeNotFound.to_string();
        assert!(message.contains(CHROME_CANDIDATES[0]), "{message}");
        assert!(message.contains(INSTALL_HINT), "{message}");
        assert!(message.contains("--chrome"), "{message}");
    }
}

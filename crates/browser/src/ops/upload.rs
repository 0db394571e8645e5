//! Where `upload_file` may take files from: plain names inside the server's
//! upload directory (`--upload-dir`), resolved and checked so that no path
//! escapes it (no `..`, no absolute paths, no symlink out).

use std::path::{Component, Path, PathBuf};

use browserfarm_protocol::{ErrorKind, JobError};

/// Resolves upload paths inside `dir`, refusing anything that escapes it.
pub(crate) fn paths(dir: Option<&Path>, paths: &[String]) -> Result<Vec<String>, JobError> {
    let Some(dir) = dir else {
        return Err(JobError::invalid_argument(
            "uploads are off on this server; start it with --upload-dir DIR and put the files \
             there",
        ));
    };
    let root = dir.canonicalize().map_err(|e| {
        JobError::new(
            ErrorKind::Unavailable,
            format!("the upload directory is unusable: {e}"),
        )
    })?;
    paths
        .iter()
        .map(|p| {
            let rel = Path::new(p);
            if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(JobError::invalid_argument(format!(
                    "'{p}' must be a plain file name relative to the upload directory (no /, \
                     .. or absolute paths)"
                )));
            }
            let full: PathBuf = root.join(rel);
            let real = full.canonicalize().map_err(|_| {
                JobError::invalid_argument(format!("'{p}' is not in the upload directory"))
            })?;
            if !real.starts_with(&root) || !real.is_file() {
                return Err(JobError::invalid_argument(format!(
                    "'{p}' is not a file inside the upload directory"
                )));
            }
            Ok(real.to_string_lossy().into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::paths;

    #[test]
    fn uploads_stay_inside_the_upload_directory() {
        let dir = std::env::temp_dir().join(format!("bf-upload-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "a").unwrap();
        assert!(paths(None, &["a.txt".into()]).is_err());
        let ok = paths(Some(&dir), &["a.txt".into()]).unwrap();
        assert!(ok[0].ends_with("a.txt"));
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "sub",
            "missing.txt",
            "./a.txt",
        ] {
            assert!(paths(Some(&dir), &[bad.into()]).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

//! Outside programs some scenarios need (npm, Prometheus). On a developer
//! machine without one, its scenarios say so and pass; with `CI=true` (set by
//! `.ci/run` and by every common CI service) a missing program fails the test
//! with the install hint, so a CI run that lost an install step cannot stay
//! green.

use std::path::PathBuf;

/// Whether `program` can be run. When it cannot: panics under `CI=true`,
/// otherwise prints that `test` is skipped and returns false.
#[track_caller]
pub fn require(program: &str, install: &str, test: &str) -> bool {
    if on_path(program).is_some() {
        return true;
    }
    let missing = format!("{program} is not on PATH; install it with `{install}`");
    if in_ci() {
        panic!("{test}: {missing} (CI=true, so this fails instead of skipping)");
    }
    eprintln!("skipping {test}: {missing}");
    false
}

/// `CI` set to anything but empty, `0` or `false`, as CI services set it.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

//! Tidy test: the crate's layers import only downwards.
//!
//! `src/` is built in layers, bottom up: `process` (Chromium processes and
//! their pool) → `tab` (one tab and CDP under deadlines) → `ops` (what each
//! operation does to a tab) → `context` (sessions' and one-off hosts'
//! contexts, the public `Pool`) → `jobs` (the dispatcher) → `session` (the
//! public `Session`). A module may name its own layer and those below it,
//! never one above; `lib.rs` is the crate root and may name them all. Paths
//! go through a module, not the root's re-exports (`crate::Gate`), so that
//! every import can be ranked.
//!
//! Like rust-analyzer's tidy tests this reads the sources as text: it sees
//! `crate::…` paths in code (comments are skipped), including grouped ones
//! (`use crate::{ops, tab}`), and `super::super`, which would climb out of a
//! layer's directory.

use std::path::{Path, PathBuf};

/// The layers, bottom first.
const LAYERS: &[&str] = &["process", "tab", "ops", "context", "jobs", "session"];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

#[test]
fn layers_import_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    let mut files = Vec::new();
    collect(&src, &mut files);
    assert!(
        files.len() > 10,
        "found only {} files in {}",
        files.len(),
        src.display()
    );
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        if relative == Path::new("lib.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let shown = relative.display().to_string();
        problems.extend(check(&shown, &text));
    }
    assert!(
        problems.is_empty(),
        "layer violations (bottom up: {}):\n{}",
        LAYERS.join(" → "),
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_an_upward_import() {
    let bad = "use std::sync::Arc;\n\
               use crate::tab::TabHandle;\n\
               // crate::session in a comment is fine\n\
               use crate::{\n    process::Lease,\n    ops::{act, wait},\n    context::pool::Pool,\n};\n\
               fn f() -> crate::Gate { super::super::jobs::run() }\n";
    let problems = check("process/pool.rs", bad);
    let joined = problems.join("\n");
    for expected in [
        "crate::tab",
        "crate::ops",
        "crate::context",
        "crate::Gate",
        "super::super",
    ] {
        assert!(joined.contains(expected), "missed {expected}:\n{joined}");
    }
    assert!(!joined.contains("crate::session"), "{joined}");
    assert!(
        check(
            "context/live.rs",
            "use crate::tab::Tab;\nuse crate::ops::navigate;\n"
        )
        .is_empty()
    );
    assert!(!check("ops/act.rs", "use crate::jobs::execute;\n").is_empty());
    assert!(!check("ops/act.rs", "use crate::widgets::Thing;\n").is_empty());
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The violations in one file, `relative` to `src/` (its first component names
/// its layer).
fn check(relative: &str, text: &str) -> Vec<String> {
    let layer = relative
        .split('/')
        .next()
        .unwrap_or(relative)
        .trim_end_matches(".rs");
    let Some(own) = rank(layer) else {
        return vec![format!(
            "{relative}: module `{layer}` is in no layer; add it to LAYERS in tests/layers.rs"
        )];
    };
    // Comment lines become empty lines, so offsets still give line numbers.
    let code: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut problems = Vec::new();
    for (offset, _) in code.match_indices("super::super") {
        problems.push(format!(
            "{relative}:{}: `super::super` climbs out of the layer; name the module with crate::",
            line_of(offset)
        ));
    }
    for (offset, named) in crate_paths(&code) {
        let at = format!("{relative}:{}", line_of(offset));
        match rank(&named) {
            Some(r) if r <= own => {}
            Some(_) => problems.push(format!(
                "{at}: `{layer}` names the higher layer `crate::{named}`"
            )),
            None if named.starts_with(char::is_uppercase) => problems.push(format!(
                "{at}: `crate::{named}` goes through the crate root; name its module"
            )),
            None => problems.push(format!("{at}: `crate::{named}` is in no layer")),
        }
    }
    problems
}

/// The first segment of every `crate::` path, with its offset; a group names
/// each of its members (`crate::{a, b::{c, d}}` names `a` and `b`).
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (offset, _) in code.match_indices("crate::") {
        // `browserfarm_crate::x` or `my_crate::x` are not this crate.
        let before = code[..offset].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[offset + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.push((offset, ident(rest)));
            continue;
        };
        let mut depth = 0;
        let mut start = 0;
        for (j, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    names.push((offset, ident(&group[start..j])));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.push((offset, ident(&group[start..j])));
                    start = j + 1;
                }
                _ => {}
            }
        }
    }
    names.retain(|(_, n)| !n.is_empty());
    names
}

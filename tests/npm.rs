//! The npm packages: `scripts/npm-pack.sh` packs the launcher and this platform's
//! binary package, and `npx` runs them offline from the tarballs, over stdio; it
//! packs the other platforms' packages too, and `npm install` picks the one for
//! the os and cpu it is told, while the launcher names what it cannot find.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::util::{installed, repo_path};

/// The platform packages, `browserfarm-<os>-<cpu>`, in npm's `<os>-<cpu>` form.
const PLATFORMS: [&str; 5] = [
    "darwin-arm64",
    "darwin-x64",
    "linux-arm64",
    "linux-x64",
    "win32-x64",
];

/// `scripts/npm-pack.sh` with `binary` into `out`, for `platform` (this
/// machine's when `None`): the platform package's tarball, then the launcher's.
async fn pack(binary: &Path, out: &Path, platform: Option<&str>) -> Vec<String> {
    let mut cmd = Command::new(repo_path("scripts/npm-pack.sh"));
    cmd.arg(binary).arg(out);
    if let Some(platform) = platform {
        cmd.arg(platform);
    }
    let packed = cmd
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("run npm-pack.sh");
    assert!(packed.status.success(), "npm-pack.sh {platform:?} failed");
    let tarballs: Vec<String> = String::from_utf8(packed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tarballs.len(), 2, "{tarballs:?}");
    tarballs
}

/// `npx` over the two tarballs, with a cache of its own: nothing comes from a
/// registry or an earlier install.
fn npx(tarballs: &[String], cache: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("npx");
    cmd.args(["--yes", "--offline"]);
    for t in tarballs {
        cmd.args(["--package", t]);
    }
    cmd.arg("--").arg("browserfarm").args(args);
    cmd.env("npm_config_cache", cache)
        .env("npm_config_update_notifier", "false")
        .env_remove("BROWSERFARM_BINARY");
    cmd
}

#[tokio::test]
async fn npx_runs_the_packed_packages_offline() {
    if !installed::require(
        "npm",
        "apt-get install npm",
        "npx_runs_the_packed_packages_offline",
    ) {
        return;
    }
    let work = std::env::temp_dir().join(format!("browserfarm-npm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let tarballs = pack(
        Path::new(env!("CARGO_BIN_EXE_browserfarm")),
        &work.join("out"),
        None,
    )
    .await;
    let cache = work.join("cache");

    let version = npx(&tarballs, &cache, &["--version"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&version.stdout);
    assert!(version.status.success(), "{printed}");
    assert!(
        printed.contains(env!("CARGO_PKG_VERSION")),
        "npx printed {printed}"
    );

    // The launcher passes stdio through: a whole MCP exchange works.
    let mut child = npx(&tarballs, &cache, &["mcp", "--min-browsers", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ] {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let tools = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("a reply");
            let reply: Value = serde_json::from_str(&line).unwrap();
            if reply["id"] == 2 {
                return reply["result"]["tools"].as_array().unwrap().len();
            }
        }
    })
    .await
    .expect("tools/list answered through the launcher");
    // The launcher runs the binary as a client would: its default tool groups.
    assert_eq!(tools, crate::util::default_tool_count());
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits when stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&work);
}

/// `npm install` of the launcher tarball into `dir` as npm would install it on
/// `platform`, offline: `overrides` points every platform package's name at its
/// tarball, so npm, not the test, chooses among them by their os/cpu fields.
/// (Naming a platform tarball on the command line would not do: npm refuses a
/// direct dependency for another platform, whatever `--os`/`--cpu` say.)
async fn install_as(dir: &Path, cache: &Path, platform: &str, launcher: &str, overrides: &Value) {
    std::fs::create_dir_all(dir).unwrap();
    let manifest = json!({"name": "npm-e2e", "private": true, "overrides": overrides});
    std::fs::write(dir.join("package.json"), manifest.to_string()).unwrap();
    let (os, cpu) = platform.split_once('-').unwrap();
    let installed = Command::new("npm")
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .arg(format!("--os={os}"))
        .arg(format!("--cpu={cpu}"))
        .arg(launcher)
        .current_dir(dir)
        .env("npm_config_cache", cache)
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run npm install");
    assert!(
        installed.status.success(),
        "npm install for {platform}: {}",
        String::from_utf8_lossy(&installed.stderr)
    );
}

/// `node <launcher> --version` in the install in `dir`. With `platform`, a
/// `--require`d prelude first redefines `process.platform` and `process.arch`,
/// which is all the launcher knows of the machine; with `binary`, it is given as
/// `BROWSERFARM_BINARY`.
async fn launch(
    dir: &Path,
    prelude: &Path,
    platform: Option<&str>,
    binary: Option<&str>,
) -> std::process::Output {
    let mut cmd = Command::new("node");
    if let Some(platform) = platform {
        cmd.arg("--require").arg(prelude);
        cmd.env("BROWSERFARM_TEST_PLATFORM", platform);
    }
    cmd.arg("node_modules/browserfarm/bin/browserfarm.js")
        .arg("--version")
        .current_dir(dir)
        .env_remove("BROWSERFARM_BINARY")
        .stdin(Stdio::null());
    if let Some(binary) = binary {
        cmd.env("BROWSERFARM_BINARY", binary);
    }
    cmd.output().await.expect("run node")
}

#[tokio::test]
async fn npm_installs_the_platform_package_for_the_os_and_cpu() {
    if !installed::require(
        "npm",
        "apt-get install npm",
        "npm_installs_the_platform_package_for_the_os_and_cpu",
    ) {
        return;
    }
    let work =
        std::env::temp_dir().join(format!("browserfarm-npm-platforms-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    // Each platform package holds a stand-in for its binary, a shell script that
    // names the platform: what is under test is the packages' layout and npm's
    // choice between them, not the binary inside (and a script packs in a blink
    // where the debug binary takes seconds and hundreds of megabytes).
    let stand_ins = work.join("stand-in");
    std::fs::create_dir_all(&stand_ins).unwrap();
    let mut overrides = serde_json::Map::new();
    let mut launcher = String::new();
    for platform in PLATFORMS {
        let stand_in = stand_ins.join(platform);
        std::fs::write(
            &stand_in,
            format!("#!/bin/sh\necho \"browserfarm stand-in for {platform}\"\n"),
        )
        .unwrap();
        let tarballs = pack(&stand_in, &work.join("out"), Some(platform)).await;
        overrides.insert(
            format!("browserfarm-{platform}"),
            json!(format!("file:{}", tarballs[0])),
        );
        launcher = tarballs[1].clone();
    }
    let overrides = Value::Object(overrides);
    let cache = work.join("cache");

    for platform in PLATFORMS {
        let dir = work.join(platform);
        install_as(&dir, &cache, platform, &launcher, &overrides).await;
        let modules = dir.join("node_modules");
        let exe = if platform.starts_with("win32-") {
            "browserfarm.exe"
        } else {
            "browserfarm"
        };
        let binary = modules.join(format!("browserfarm-{platform}/bin/{exe}"));
        assert!(binary.is_file(), "{platform}: no {}", binary.display());
        for other in PLATFORMS.iter().filter(|p| **p != platform) {
            assert!(
                !modules.join(format!("browserfarm-{other}")).exists(),
                "npm installed browserfarm-{other} for {platform}"
            );
        }
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(modules.join("browserfarm/package.json")).unwrap(),
        )
        .unwrap();
        let optional = manifest["optionalDependencies"].as_object().unwrap();
        assert_eq!(optional.len(), PLATFORMS.len(), "{optional:?}");
        for p in PLATFORMS {
            assert_eq!(
                optional[&format!("browserfarm-{p}")],
                env!("CARGO_PKG_VERSION"),
                "{optional:?}"
            );
        }
    }

    let prelude = work.join("platform.js");
    std::fs::write(
        &prelude,
        "const [os, cpu] = process.env.BROWSERFARM_TEST_PLATFORM.split(\"-\");\n\
         Object.defineProperty(process, \"platform\", { value: os });\n\
         Object.defineProperty(process, \"arch\", { value: cpu });\n",
    )
    .unwrap();
    let version = env!("CARGO_PKG_VERSION");

    // An x64 Linux machine whose install holds only the arm64 package.
    let arm64 = work.join("linux-arm64");
    let missing = launch(&arm64, &prelude, Some("linux-x64"), None).await;
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the package browserfarm-linux-x64 is not installed")
            && stderr.contains("./install.sh"),
        "{stderr}"
    );

    // BROWSERFARM_BINARY runs a binary from elsewhere, on this very machine.
    let own = launch(
        &arm64,
        &prelude,
        None,
        Some(env!("CARGO_BIN_EXE_browserfarm")),
    )
    .await;
    let stdout = String::from_utf8_lossy(&own.stdout);
    assert!(
        own.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&own.stderr)
    );
    assert!(stdout.contains(version), "{stdout}");

    // On Windows the launcher runs the win32 package's bin/browserfarm.exe (the
    // stand-in script, which runs here, on Unix, whatever its name).
    let windows = launch(&work.join("win32-x64"), &prelude, Some("win32-x64"), None).await;
    let stdout = String::from_utf8_lossy(&windows.stdout);
    assert!(
        windows.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&windows.stderr)
    );
    assert!(
        stdout.contains("browserfarm stand-in for win32-x64"),
        "{stdout}"
    );

    // A platform without a package: the launcher says which there are.
    let unsupported = launch(&arm64, &prelude, Some("freebsd-x64"), None).await;
    let stderr = String::from_utf8_lossy(&unsupported.stderr);
    assert_eq!(unsupported.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no prebuilt binary for freebsd-x64")
            && stderr.contains(&PLATFORMS.join(", "))
            && stderr.contains("./install.sh"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&work);
}

#!/usr/bin/env node
// Launcher: runs the browserfarm binary from the platform package npm installed
// (an optional dependency, browserfarm-<os>-<cpu>, chosen by npm's os/cpu
// fields), passing arguments, stdio (the MCP protocol in stdio mode), signals
// and the exit status through.
//
// BROWSERFARM_BINARY=/path/to/browserfarm runs that binary instead of the
// platform package's, e.g. one built from source (`cargo build --release`) on a
// platform without a prebuilt package, or a debug build under test.
"use strict";

const { spawn } = require("node:child_process");
const path = require("node:path");

const SUPPORTED = ["darwin-arm64", "darwin-x64", "linux-arm64", "linux-x64", "win32-x64"];
const windows = process.platform === "win32";
const platform = `${process.platform}-${process.arch}`;
const pkg = `browserfarm-${platform}`;

function binaryPath() {
  const override = process.env.BROWSERFARM_BINARY;
  if (override) {
    return override;
  }
  try {
    const manifest = require.resolve(`${pkg}/package.json`);
    return path.join(path.dirname(manifest), "bin", windows ? "browserfarm.exe" : "browserfarm");
  } catch {
    return null;
  }
}

const binary = binaryPath();
if (!binary) {
  const why = SUPPORTED.includes(platform)
    ? `the package ${pkg} is not installed (was it skipped, e.g. by --no-optional or --omit=optional?)`
    : `there is no prebuilt binary for ${platform} (supported: ${SUPPORTED.join(", ")})`;
  process.stderr.write(
    `browserfarm: cannot start: ${why}.\n` +
      "Build from source instead: git clone https://github.com/browserfarm/browserfarm && ./install.sh\n" +
      "(or point BROWSERFARM_BINARY at a browserfarm binary you built).\n",
  );
  process.exit(1);
}

const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });

// Signals: on Unix, forward SIGINT, SIGTERM and SIGHUP so the server shuts down
// cleanly. Windows has no POSIX signals: child.kill() can only terminate the
// child outright, and throws for SIGHUP. Ctrl+C there reaches every process on
// the console, the child included, so the launcher only has to outlive it and
// report its exit status; SIGTERM (never raised by Windows itself) terminates it.
const forwarded = windows ? ["SIGINT", "SIGTERM"] : ["SIGINT", "SIGTERM", "SIGHUP"];
for (const signal of forwarded) {
  process.on(signal, () => {
    if (windows && signal === "SIGINT") {
      return;
    }
    try {
      child.kill(signal);
    } catch {
      // The child is gone or cannot take this signal; its exit ends the launcher.
    }
  });
}
child.on("error", (err) => {
  process.stderr.write(`browserfarm: cannot run ${binary}: ${err.message}\n`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal && !windows) {
    // Die of the same signal, as a shell would report it: without our handler,
    // which would otherwise swallow it.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});

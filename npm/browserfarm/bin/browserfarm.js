#!/usr/bin/env node
// Launcher: runs the browserfarm binary from the platform package npm installed
// (an optional dependency chosen by npm's os/cpu fields), passing arguments,
// stdio (the MCP protocol in stdio mode), signals and the exit status through.
"use strict";

const { spawn } = require("node:child_process");
const path = require("node:path");

const SUPPORTED = ["linux-x64", "linux-arm64"];
const platform = `${process.platform}-${process.arch}`;
const pkg = `browserfarm-${platform}`;

function binaryPath() {
  try {
    const manifest = require.resolve(`${pkg}/package.json`);
    return path.join(path.dirname(manifest), "bin", "browserfarm");
  } catch {
    return null;
  }
}

const binary = binaryPath();
if (!binary) {
  const why = SUPPORTED.includes(platform)
    ? `the package ${pkg} is not installed (was it skipped, e.g. by --no-optional?)`
    : `there is no prebuilt binary for ${platform} (available: ${SUPPORTED.join(", ")})`;
  process.stderr.write(
    `browserfarm: cannot start: ${why}.\n` +
      "Build from source instead: git clone https://github.com/browserfarm/browserfarm && ./install.sh\n",
  );
  process.exit(1);
}

const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (err) => {
  process.stderr.write(`browserfarm: cannot run ${binary}: ${err.message}\n`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});

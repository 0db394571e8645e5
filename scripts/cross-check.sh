#!/usr/bin/env bash
# Keeps the code portable to the systems the release pipeline builds on
# (.github/workflows/release.yml), which this Linux x86_64 machine cannot run:
#   1. clippy for macOS (aarch64-apple-darwin) and Windows (x86_64-pc-windows-gnu),
#      tests included for Windows, so code that only builds on Unix or only on
#      Linux cannot land. zig (PyPI `ziglang`, driven by `cargo-zigbuild`, in a
#      venv under the cargo target dir) is the C compiler the crypto crate's C
#      parts need for those targets.
#   2. A Linux arm64 (Raspberry Pi) binary, linked by zig with the `cross` profile,
#      run under qemu-user (Debian's qemu-user-static, with the arm64 C library
#      from libc6-arm64-cross): `--version`, and a stdio `tools/list` that must
#      list the same tools as the native binary given as $1.
# What is not done here: linking for macOS (its frameworks come only with Apple's
# SDK), the MSVC Windows target (its C runtime comes only from Microsoft), and
# running either; the release pipeline does those on native runners.
# Usage: scripts/cross-check.sh path/to/native/browserfarm
set -euo pipefail
cd "$(dirname "$0")/.."

native="${1:?usage: $0 path/to/browserfarm (the native build, e.g. target/debug/browserfarm)}"
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
venv="$(cd "$target" && pwd)/cross-venv"
# Pinned: a new zig can change what links.
zigbuild_version="0.24.1"
zig_version="0.17.1"
if ! "$venv/bin/cargo-zigbuild" --version 2>/dev/null | grep -q "$zigbuild_version" ||
    ! "$venv/bin/python" -m ziglang version >/dev/null 2>&1; then
    echo "--- installing cargo-zigbuild $zigbuild_version and ziglang $zig_version (PyPI)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "cargo-zigbuild==$zigbuild_version" "ziglang==$zig_version"
fi
export PATH="$venv/bin:$PATH"
rustup target add aarch64-apple-darwin x86_64-pc-windows-gnu aarch64-unknown-linux-gnu >/dev/null

echo "--- clippy for macOS (aarch64-apple-darwin)"
cargo-zigbuild clippy --workspace --locked --target aarch64-apple-darwin -- -D warnings
echo "--- clippy for Windows (x86_64-pc-windows-gnu), tests included"
cargo-zigbuild clippy --workspace --all-targets --locked --target x86_64-pc-windows-gnu -- -D warnings

echo "--- Linux arm64 binary under qemu"
cargo-zigbuild build --locked --target aarch64-unknown-linux-gnu --profile cross -p browserfarm
arm="$target/aarch64-unknown-linux-gnu/cross/browserfarm"
file "$arm" 2>/dev/null || true
run_arm() { qemu-aarch64-static -L /usr/aarch64-linux-gnu "$arm" "$@"; }
version="$(run_arm --version)"
echo "$version"
[ "$version" = "$("$native" --version)" ] || {
    echo "error: the arm64 binary says '$version', the native one '$("$native" --version)'" >&2
    exit 1
}
# initialize, initialized, tools/list; stdin closing ends the server.
exchange='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"cross-check","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
tool_names() {
    python3 -c '
import json, sys
for line in sys.stdin:
    reply = json.loads(line)
    if reply.get("id") == 2:
        print(" ".join(t["name"] for t in reply["result"]["tools"]))
'
}
arm_tools="$(printf '%s\n' "$exchange" | timeout 120 qemu-aarch64-static -L /usr/aarch64-linux-gnu "$arm" mcp --min-browsers 0 2>/dev/null | tool_names)"
native_tools="$(printf '%s\n' "$exchange" | timeout 60 "$native" mcp --min-browsers 0 2>/dev/null | tool_names)"
[ -n "$arm_tools" ] && [ "$arm_tools" = "$native_tools" ] || {
    echo "error: tools/list differs: arm64 '$arm_tools', native '$native_tools'" >&2
    exit 1
}
echo "arm64 tools/list under qemu: $(wc -w <<<"$arm_tools") tools, as native"

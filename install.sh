#!/usr/bin/env bash
# Installs browserfarm on Debian/Ubuntu (amd64 or arm64): Chromium from the
# distribution if missing, then the release binary built from this checkout into
# $PREFIX/bin (default ~/.local/bin). Safe to run again. Ends with
# `browserfarm doctor` and the Claude Desktop configuration to paste.
set -euo pipefail
cd "$(dirname "$0")"

PREFIX="${PREFIX:-$HOME/.local}"
BIN_DIR="$PREFIX/bin"
MIN_RUST="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (run as root or install sudo)"; fi
}

have_chromium() {
  if [ -n "${BROWSERFARM_CHROME:-}" ]; then [ -x "$BROWSERFARM_CHROME" ]; return; fi
  for c in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$c" >/dev/null 2>&1 && return 0
  done
  return 1
}

# 1. Chromium.
if have_chromium; then
  say "Chromium found"
else
  command -v apt-get >/dev/null 2>&1 \
    || die "no Chromium found and no apt-get: install Chromium with your package manager, or set BROWSERFARM_CHROME"
  say "installing Chromium from the distribution (apt-get install chromium)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update
  as_root apt-get install -y chromium
fi

# 2. A Rust toolchain new enough for the workspace.
command -v cargo >/dev/null 2>&1 \
  || die "cargo not found: browserfarm needs Rust $MIN_RUST or newer; install it with rustup, then run ./install.sh again"
found="$(cargo --version | awk '{print $2}')"
if [ "$(printf '%s\n%s\n' "$MIN_RUST" "$found" | sort -V | head -n 1)" != "$MIN_RUST" ]; then
  die "Rust $found is too old: browserfarm needs $MIN_RUST or newer (run: rustup update stable)"
fi
say "Rust $found (need $MIN_RUST or newer)"

# 3. Build and install.
say "building the release binary (a few minutes on small machines)"
cargo build --release --locked -p browserfarm
mkdir -p "$BIN_DIR"
install -m 0755 "${CARGO_TARGET_DIR:-target}/release/browserfarm" "$BIN_DIR/browserfarm"
say "installed $BIN_DIR/browserfarm"
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) say "note: $BIN_DIR is not on your PATH; add it, e.g. export PATH=\"$BIN_DIR:\$PATH\"" ;;
esac

# 4. Check that it really drives Chromium.
say "running browserfarm doctor"
"$BIN_DIR/browserfarm" doctor

# 5. How to connect an MCP client.
cat <<SNIPPET

Done. Start the server with:  browserfarm mcp   (MCP clients start it for you)

Claude Desktop: add this to claude_desktop_config.json, then restart Claude Desktop:
{
  "mcpServers": {
    "browserfarm": {
      "command": "$BIN_DIR/browserfarm",
      "args": ["mcp"]
    }
  }
}
SNIPPET

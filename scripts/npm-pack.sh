#!/usr/bin/env bash
# Packs the npm packages: `browserfarm` (the launcher) and the platform package for
# this machine (`browserfarm-linux-x64` or `browserfarm-linux-arm64`) holding the
# given binary. Prints the two tarball paths. Usage:
#   scripts/npm-pack.sh [BINARY] [OUT_DIR]
# BINARY defaults to a fresh release build; OUT_DIR to target/npm.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-}
OUT=${2:-${CARGO_TARGET_DIR:-target}/npm}
if [ -z "$BIN" ]; then
    cargo build --release --locked -p browserfarm >&2
    BIN=${CARGO_TARGET_DIR:-target}/release/browserfarm
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
case "$(uname -m)" in
    x86_64) CPU=x64 ;;
    aarch64 | arm64) CPU=arm64 ;;
    *) echo "npm-pack: no npm platform package for $(uname -m)" >&2; exit 1 ;;
esac
NAME="browserfarm-linux-$CPU"
grep -q "\"version\": \"$VERSION\"" npm/browserfarm/package.json || {
    echo "npm-pack: npm/browserfarm/package.json is not at version $VERSION" >&2
    exit 1
}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/$NAME/bin"
install -m 0755 "$BIN" "$STAGE/$NAME/bin/browserfarm"
cat > "$STAGE/$NAME/package.json" <<JSON
{
  "name": "$NAME",
  "version": "$VERSION",
  "description": "The browserfarm binary for Linux $CPU (installed by the browserfarm package)",
  "license": "MIT OR Apache-2.0",
  "repository": { "type": "git", "url": "git+https://github.com/browserfarm/browserfarm.git" },
  "os": ["linux"],
  "cpu": ["$CPU"],
  "files": ["bin/browserfarm"]
}
JSON
(cd "$STAGE/$NAME" && npm pack --silent --pack-destination "$OUT" >/dev/null)
(cd npm/browserfarm && npm pack --silent --pack-destination "$OUT" >/dev/null)
echo "$OUT/$NAME-$VERSION.tgz"
echo "$OUT/browserfarm-$VERSION.tgz"

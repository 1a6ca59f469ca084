#!/usr/bin/env bash
# This crate and MSAL Python side by side (issue 10): the same scenarios, one run, one
# local HTTPS authority (msal-testkit), one table with ratios and targets.
#
#   bench/compare.sh [--json FILE]
#
# MSAL Python comes from the project's environment (.venv, made by scripts/setup.sh);
# the Redis rows need redis-server on PATH (also installed by scripts/setup.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${MSAL_BENCH_PYTHON:-$root/.venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "no Python at $python: run scripts/setup.sh (or set MSAL_BENCH_PYTHON)" >&2
    exit 1
fi
"$python" -c 'import msal, msal_extensions; print("MSAL Python", msal.__version__)' >&2
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
exec cargo bench --features redis --bench compare -- --python "$python" "$@"

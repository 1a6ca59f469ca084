#!/usr/bin/env bash
# This crate and MSAL Python side by side (issue 10): the same scenarios, one run, one
# local HTTPS authority (msal-testkit), one table with ratios and targets.
#
#   bench/compare.sh [--json FILE] [--first-app-only]
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
# The first app of a process depends on the TLS back-end. The run below is the default
# build (native-tls); build this bench once more for each other back-end, and the run
# times the first app through those builds too (one table row each).
others=()
for features in rustls rustls-ring; do
    exe="$(cargo bench --no-default-features --features "$features,redis" --bench compare \
        --no-run --message-format=json | "$python" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "compare" and m.get("executable"):
        print(m["executable"])
')" || exe=""
    if [ -n "$exe" ]; then
        others+=(--other-tls-child "$exe")
    else
        echo "could not build the bench with --features $features: its first-app row is skipped" >&2
    fi
done
exec cargo bench --features redis --bench compare -- --python "$python" "${others[@]}" "$@"

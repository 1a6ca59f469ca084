#!/usr/bin/env bash
# Runs every check and every test, as CI does. Installs what the tests need first:
# OpenSSL headers, redis-server and chromium (Debian), MSAL Python (PyPI, in a venv),
# oidc-provider and playwright-core (npm).
set -euo pipefail
cd "$(dirname "$0")/.."

# Belt and braces: nothing here may ever reach the Azure metadata address. Any region
# discovery that forgets its own IMDS endpoint lands on a closed loopback port instead.
export MSAL_IMDS_ENDPOINT="http://127.0.0.1:9/metadata/instance/compute"
# Managed identity: a client that would use the default metadata address errors instead.
export MSAL_FORBID_DEFAULT_IMDS=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# CI builds once from scratch: incremental compilation only costs time and disk there.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# `--all-targets` also builds the benchmarks (msal-runtime/benches) and runs each once.
echo "== cargo test"
cargo test --workspace --all-targets
echo "== doc tests"
cargo test --workspace --doc
echo "== quickstart (README's first command)"
cargo run -q --example quickstart

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
# Features: the suite builds once with every feature of every crate (`--all-features`: the
# Redis cache, both TLS back-ends, and whatever optional integrations the crates declare), so
# every test and example compiles and runs in one build. `native-tls` wins when both TLS
# back-ends are on; rustls gets its own run below, and the feature sets users build with are
# checked to compile on their own.
echo "== cargo clippy (all features)"
cargo clippy --workspace --all-targets --all-features -- -D warnings
# `--all-targets` also builds the benchmarks (msal-runtime/benches) and runs each once.
echo "== cargo test (all features)"
cargo test --workspace --all-targets --all-features
echo "== doc tests"
cargo test --workspace --doc --all-features
echo "== feature sets: the default, and rustls without native-tls"
cargo check -p msal
cargo check -p msal --no-default-features --features rustls
cargo check -p msal --no-default-features --features rustls-ring
echo "== rustls: HTTPS against msal-testkit"
cargo test -p msal-runtime --no-default-features --features rustls --test tls_backends
echo "== rustls on ring: HTTPS against msal-testkit"
cargo test -p msal-runtime --no-default-features --features rustls-ring --test tls_backends
echo "== quickstart (README's first command; the build above, all features)"
cargo run -q --all-features --example quickstart

#!/usr/bin/env bash
# kazasu's test command: installs what the tests need, then checks formatting and lints and runs
# every unit, property, snapshot and end-to-end test. Run from anywhere: ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked

#!/usr/bin/env bash
# kazasu's test command: installs what the tests need, then checks formatting and lints, runs
# every unit, property, snapshot and end-to-end test, runs the bundled suite from the release
# binary, opens its HTML report in a headless browser, and checks interoperability with real
# PC/SC clients through pcscd + vpcd (started here, stopped at the end). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== the bundled suite, release build"
cargo build --release --locked
target/release/kazasu run --junit target/kazasu-junit.xml --json target/kazasu.json --html target/kazasu.html
echo "== the HTML report in a browser"
ci/html-check.sh target/release/kazasu
echo "== the real stack: pcscd + vpcd, OpenSC and pcsc-tools"
trap 'ci/pcscd.sh stop' EXIT
ci/pcscd.sh start
ci/interop.sh target/release/kazasu

#!/usr/bin/env bash
# kazasu's test command: installs what the tests need (Debian packages), checks formatting and
# lints, starts pcscd with vsmartcard's vpcd driver, runs every unit, property, snapshot,
# end-to-end and real-stack test, runs the bundled suite in-process (with every report; its pcapng
# read by tshark), builds
# the book (docs/) with mdBook and checks its pages and links, opens the HTML report in a headless
# browser, checks a signed certification bundle, walks the onboarding service (scenarios, its
# HTML pages in headless Chromium), checks interoperability with real PC/SC clients (OpenSC,
# pcsc-tools, a pyscard walk of the card's other applications), runs every command the guide pages show as printed (docs that run: among them the
# bundled suite through pcscd, the foreign JPKI clients myna-card and jpki-cli, a reader
# calibrated and certified), runs the README's tour, replays a pcscd capture of OpenSC as the card
# while OpenSC runs again, fuzzes host programs with `kazasu fuzz-host` (a crashing and a hanging
# test host, OpenSC, pcsc-tools), runs the bundled suite through pcscd on kazasu's own reader
# driver against vpcd, and restarts and stops pcscd under a running suite.
# pcscd is stopped at the end. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export KAZASU_PCSC=1   # real-stack tests must not skip here
# A clean build gains nothing from incremental compilation, which keeps a second copy of every
# crate's intermediate state: without it the target folder is gigabytes smaller.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
step() { echo "== [$(printf '%4d' "$SECONDS") s] $*"; }   # each step with the time it starts at
disk() { echo "   disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free here; target/ $(du -sh target 2>/dev/null | cut -f1 || echo 0)"; }

ci/install-deps.sh pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools opensc
disk

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
step "cargo test --no-run: every test and the kazasu binary built (ci/pcscd.sh runs its kazasu stack up)"
cargo test --workspace --features kazasu/pcsc --locked --no-run
step "pcscd + vpcd (kazasu stack up)"
trap 'ci/pcscd.sh stop' EXIT
ci/pcscd.sh start
step "cargo test (with the real-stack backend)"
cargo test --workspace --features kazasu/pcsc --locked
# The scripts below run the kazasu that `cargo test` built (test profile: optimised dependencies,
# with the real-stack backend): the bundled suite takes as long with it as with a release build,
# and CI does not compile the whole tree a third time.
kazasu=target/debug/kazasu
disk
step "the bundled suite in-process, every report"
"$kazasu" run --junit target/kazasu-junit.xml --json target/kazasu.json --html target/kazasu.html
step "the bundled suite as pcapng (run --pcap), read by Debian's tshark against the JSON report"
ci/pcap-check.sh "$kazasu"
step "reader profiles against kazasu schema --profile reader, by Debian's python3-jsonschema"
ci/profile-schema.sh "$kazasu"
step "the book: mdbook build of docs/, every page listed and every link between pages"
ci/book.sh
step "the HTML report in a browser"
ci/html-check.sh "$kazasu"
step "certification: a signed bundle checked with openssl and kazasu, a forgery refused, the certificate in a browser"
ci/certify.sh "$kazasu"
step "onboarding: the scenarios (embedded and --target), the guide's walkthrough, the pages in a browser"
ci/onboarding.sh "$kazasu"
ci/onboarding-browser.sh "$kazasu"
step "interoperability: OpenSC, pcsc-tools and a pyscard walk of every application against served cards (a fresh pcscd)"
ci/pcscd.sh stop
ci/pcscd.sh start
ci/interop.sh "$kazasu"
ci/interop-apps.sh "$kazasu"
step "the guides, every command as printed: the bundled suite through pcscd + vpcd, foreign JPKI clients, a reader calibrated and certified, a field failure replayed, a host fuzzed"
ci/guides.sh "$kazasu"
step "the README's 60-second tour, run as printed"
ci/readme-tour.sh "$kazasu"
step "the examples: each examples/*/ci.sh run as written in a folder outside the repository"
ci/examples.sh "$kazasu"
step "a field failure's round trip: capture with pcscd, import, replay as the card under OpenSC"
ci/replay-e2e.sh "$kazasu"
step "kazasu fuzz-host: a crashing and a hanging host found, minimized, replayed; OpenSC and pcsc-tools fuzzed"
ci/fuzz-host.sh "$kazasu"
step "kazasu's own pcscd driver: the bundled suite through pcscd on it and on vpcd, in the same run"
ci/driver-check.sh "$kazasu"
step "the real stack failing: pcscd restarted mid-suite, pcscd gone"
ci/failures.sh "$kazasu"
step "kazasu stack up/down from the binary alone: pcscd started with its vpcd slots, a served card read, stopped"
ci/stack.sh "$kazasu"
step "ci/pcscd.sh beside a pcscd of another namespace"
ci/pcscd-foreign.sh
disk
step "all passed"

# kazasu's fuzz targets and how each is run: sourced by ci/fuzz-smoke.sh and
# ci/fuzz-campaign.sh. libFuzzer through cargo-fuzz, on the nightly toolchain beside stable
# (or stable with RUSTC_BOOTSTRAP=1 where no nightly is installed).

FUZZ_TARGETS=(apdu_codec card_os frames vpcd_link trace_import capture_binary scenario_load onboarding_forms bundle_verify)

# Longest input a target is given: the text targets' seeds are captures and suites of a few
# KB; longer inputs only slow the search.
fuzz_max_len() {
    case "$1" in
        trace_import | scenario_load | capture_binary) echo 4096 ;;
        *) echo 2048 ;;
    esac
}

# The dictionary of a target.
fuzz_dict() {
    case "$1" in
        apdu_codec | card_os | frames | vpcd_link) echo fuzz/dict/apdu.dict ;;
        trace_import) echo fuzz/dict/trace.dict ;;
        capture_binary) echo fuzz/dict/capture.dict ;;
        scenario_load) echo fuzz/dict/yaml.dict ;;
        onboarding_forms) echo fuzz/dict/forms.dict ;;
        bundle_verify) echo fuzz/dict/bundle.dict ;;
        *) echo "unknown fuzz target $1" >&2; return 1 ;;
    esac
}

# `cargo fuzz` on nightly when one is installed, else on stable with nightly features unlocked.
fuzz_cargo() {
    if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        cargo +nightly fuzz "$@"
    else
        RUSTC_BOOTSTRAP=1 cargo fuzz "$@"
    fi
}

# cargo-fuzz itself, installed once into ~/.cargo/bin.
ensure_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "== installing cargo-fuzz"
        cargo install cargo-fuzz --version 0.13.2 --locked
    fi
}

# Runs target $1 for $2 seconds on its committed corpus (read only) plus the writable corpus
# folder $3; extra libFuzzer flags follow. Crashes are written under target/fuzz-artifacts/.
# Sanitizer none: kazasu forbids unsafe code; what the fuzzer hunts here is panics, hangs and
# memory blow-ups, which libFuzzer's -timeout / -rss_limit_mb / -malloc_limit_mb catch.
fuzz_run() {
    local t="$1" secs="$2" corpus="$3"
    shift 3
    mkdir -p "$corpus" "fuzz/corpus/$t" "target/fuzz-artifacts/$t"
    fuzz_cargo run -s none "$t" "$corpus" "fuzz/corpus/$t" -- \
        -dict="$(fuzz_dict "$t")" -max_len="$(fuzz_max_len "$t")" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="target/fuzz-artifacts/$t/" "$@"
}

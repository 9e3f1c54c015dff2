//! The scenario loader: YAML text → parsed, checked and expanded scenarios, as `kazasu
//! validate` does it. No panic, and bounded time and memory (libFuzzer's -timeout and
//! -rss_limit_mb end a run that overruns): an alias bomb, deep nesting or a huge matrix is an
//! error, not a crash. A scenario that passes the checks expands to at most the case bound.
#![no_main]

use kazasu::scenario::suite;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kazasu_fuzz::planted(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenarios) = suite::parse(text, "fuzzed.yaml") else {
        return;
    };
    if suite::check(&scenarios, "fuzzed.yaml").is_err() {
        return;
    }
    // A checked scenario's profiles load: expansion never fails after the checks passed.
    let cases = suite::expand(&scenarios, "fuzzed.yaml", &suite::Overrides::NONE)
        .expect("a checked scenario expands");
    assert!(
        cases.len() <= scenarios.len() * suite::MAX_CASES_PER_SCENARIO,
        "{} cases from {} scenarios",
        cases.len(),
        scenarios.len()
    );
});

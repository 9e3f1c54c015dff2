//! What kazasu's fuzz targets share: the planted panic that shows a smoke run fails on a
//! crash, and the cards and readers the targets drive.

use kazasu_sim::{Card, CardProfile, Fixtures};
use std::sync::Arc;

/// With `KAZASU_FUZZ_PLANTED_PANIC=1` in the environment, panics on an input holding the byte
/// `K` (0x4B), which the fuzzer reaches at once: `ci/fuzz-smoke.sh --self-test` shows with it
/// that a crashing target fails the smoke run. Otherwise does nothing.
pub fn planted(data: &[u8]) {
    static PLANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let on = *PLANTED
        .get_or_init(|| std::env::var_os("KAZASU_FUZZ_PLANTED_PANIC").is_some_and(|v| v == "1"));
    if on && data.contains(&b'K') {
        panic!("planted panic (KAZASU_FUZZ_PLANTED_PANIC=1)");
    }
}

/// The built-in card profiles, in a fixed order.
pub fn card_profiles() -> &'static [(&'static str, &'static str)] {
    kazasu_sim::platform::profile::BUILTIN_CARD_PROFILES
}

/// A powered card of the `index`-th built-in profile (modulo their number).
pub fn card(index: usize, seed: u64) -> Card {
    let (name, _) = card_profiles()[index % card_profiles().len()];
    let profile = Arc::new(CardProfile::builtin(name).expect("a built-in profile loads"));
    let subject = Fixtures::embedded().default_subject();
    let mut card = Card::new(profile, subject, seed).expect("a built-in card builds");
    card.power_on();
    card
}

/// An imported capture must be a scenario kazasu itself loads and checks: an import never
/// writes a scenario kazasu refuses. Panics (a finding) otherwise.
pub fn import_reads_back(trace: &kazasu::capture::trace::Trace) {
    let options = kazasu::capture::import::ImportOptions {
        name: "fuzzed capture".into(),
        source: "fuzz".into(),
        card: None,
        identity: None,
        reader: None,
        keep_secrets: false,
        notes: Default::default(),
    };
    let yaml = kazasu::capture::import::to_scenario(trace, &options);
    let scenarios = kazasu::scenario::suite::parse(&yaml, "imported.yaml")
        .unwrap_or_else(|e| panic!("an import kazasu cannot read back: {e}\n{yaml}"));
    kazasu::scenario::suite::check(&scenarios, "imported.yaml")
        .unwrap_or_else(|e| panic!("an import kazasu refuses: {e}\n{yaml}"));
}

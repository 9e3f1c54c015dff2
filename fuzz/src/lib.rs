//! What kazasu's fuzz targets share: the planted panic that shows a smoke run fails on a
//! crash, and the cards and readers the targets drive.

use kazasu_sim::{Card, CardProfile, Fixtures};
use std::sync::Arc;

/// With the `planted-panic` feature, panics on an input holding the byte `K` (0x4B): the
/// committed corpora hold it, so the fuzzer reaches it at once. Without it, does nothing.
pub fn planted(data: &[u8]) {
    if cfg!(feature = "planted-panic") && data.contains(&b'K') {
        panic!("planted panic (the planted-panic feature is on)");
    }
}

/// The built-in card profiles, in a fixed order.
pub fn card_profiles() -> &'static [(&'static str, &'static str)] {
    kazasu_sim::profile::BUILTIN_CARD_PROFILES
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

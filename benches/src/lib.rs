//! Shared set-up for kazasu's benchmarks: cards and flows built the way the runner builds them.

use kazasu_sim::{Card, CardProfile, Fixtures};
use std::sync::Arc;

/// A powered card of a built-in profile for the first test identity.
pub fn powered_card(profile: &str) -> Card {
    let profile = Arc::new(CardProfile::builtin(profile).expect("built-in profile"));
    let mut card =
        Card::new(profile, Fixtures::embedded().default_subject(), 1).expect("valid profile");
    card.power_on();
    card
}

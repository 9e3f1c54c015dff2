//! Shared set-up for kazasu's benchmarks: cards, readers and flows built the way the runner
//! builds them, and a same-run comparison of a flow against a baseline.

pub mod null_responder;
pub mod targets;

use kazasu::host::flows::{self, Host, ReadMode};
use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, ReaderProfile, SimDuration};
use rand_core::SeedableRng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A powered card of a built-in profile for the first test identity.
pub fn powered_card(profile: &str) -> Card {
    let profile = Arc::new(CardProfile::builtin(profile).expect("built-in profile"));
    let mut card =
        Card::new(profile, Fixtures::embedded().default_subject(), 1).expect("valid profile");
    card.power_on();
    card
}

/// An in-process reader of a built-in profile holding a card of a built-in profile (not tapped).
pub fn reader(reader: &str, card: &str) -> Reader {
    let profile = Arc::new(CardProfile::builtin(card).expect("built-in profile"));
    let card =
        Card::new(profile, Fixtures::embedded().default_subject(), 1).expect("valid profile");
    Reader::new(
        Arc::new(ReaderProfile::builtin(reader).expect("built-in reader")),
        card,
        FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    )
}

/// One whole eligibility-check read as a clinic does it: approve (iPhone), tap, the auth flow,
/// remove. Returns the simulated time from the tap to the end of the last APDU.
pub fn auth_flow_from_tap(r: &mut Reader, nonce: &[u8]) -> SimDuration {
    let device = r.card().profile().device;
    if r.card().profile().approval.is_some() {
        r.approve();
    }
    let start = r.now();
    r.tap().expect("tap");
    let pin = r.card().subject().identity.pins.auth.clone();
    let mut host = Host::new(r);
    let out = flows::jpki_auth_flow(&mut host, device, &pin, nonce, ReadMode::Chunked)
        .expect("auth flow");
    std::hint::black_box(out.signature);
    let took = r.now().since(start);
    r.remove();
    took
}

/// Median wall time per operation of `op`, measured in `rounds` batches of `batch` calls that
/// alternate with the batches of `baseline` (so both see the same machine load), and the
/// baseline's median.
pub fn alternate(
    rounds: usize,
    batch: usize,
    mut op: impl FnMut(),
    mut baseline: impl FnMut(),
) -> (Duration, Duration) {
    let mut ops = Vec::with_capacity(rounds);
    let mut bases = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            op();
        }
        ops.push(t.elapsed() / batch as u32);
        let t = Instant::now();
        for _ in 0..batch {
            baseline();
        }
        bases.push(t.elapsed() / batch as u32);
    }
    ops.sort();
    bases.sort();
    (ops[rounds / 2], bases[rounds / 2])
}

//! Prints the frame log of the Android auth flow at a reader profile:
//! `cargo run --example frames -- [reader] [card]`.

use kazasu::host::flows::{self, Host, ReadMode};
use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, ReaderProfile};
use rand_core::SeedableRng;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reader = args.get(1).map_or("typical-424k", String::as_str);
    let card = args.get(2).map_or("android-jpki", String::as_str);
    let profile = Arc::new(CardProfile::builtin(card).unwrap());
    let card = Card::new(profile.clone(), Fixtures::embedded().default_subject(), 1).unwrap();
    let mut r = Reader::new(
        Arc::new(ReaderProfile::builtin(reader).unwrap()),
        card,
        FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    );
    if profile.approval.is_some() {
        r.approve();
    }
    r.tap().unwrap();
    for f in r.last_frames() {
        println!("{f}");
    }
    let pin = r.card().subject().identity.pins.auth.clone();
    let mut host = Host::new(&mut r);
    let out = flows::jpki_auth_flow(&mut host, profile.device, &pin, b"nonce", ReadMode::Chunked)
        .unwrap();
    println!("{:#}", host.transcript);
    println!(
        "signature {} bytes, total {}",
        out.signature.len(),
        host.transcript.total()
    );
}

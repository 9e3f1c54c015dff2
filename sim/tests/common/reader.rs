//! Readers with cards for the reader tests.
#![allow(dead_code)]

use kazasu_sim::reader::fault::Fault;
use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, ReaderProfile};
use rand_core::SeedableRng;
use std::sync::Arc;

/// A reader of a built-in profile with a built-in card, faults given as YAML (or empty).
pub fn reader(reader: &str, card: &str, faults: &str) -> Reader {
    reader_with(
        ReaderProfile::builtin(reader).unwrap(),
        CardProfile::builtin(card).unwrap(),
        faults,
        1,
    )
}

/// A reader from profiles, with faults and a seed.
pub fn reader_with(reader: ReaderProfile, card: CardProfile, faults: &str, seed: u64) -> Reader {
    let card = Card::new(Arc::new(card), Fixtures::embedded().default_subject(), seed).unwrap();
    let faults: Vec<Fault> = if faults.is_empty() {
        Vec::new()
    } else {
        serde_saphyr::from_str(faults).unwrap()
    };
    for f in &faults {
        f.check().unwrap();
    }
    let rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Reader::new(Arc::new(reader), card, FaultPlan::new(faults, rng))
}

/// Transmits hex; (data, SW hex) or the link error.
pub fn send(r: &mut Reader, hex: &str) -> Result<(Vec<u8>, String), kazasu_sim::LinkError> {
    let t = r.transmit(&kazasu_sim::parse_hex(hex).unwrap())?;
    let n = t.response.len();
    Ok((
        t.response[..n - 2].to_vec(),
        kazasu_sim::hex_spaced(&t.response[n - 2..]).replace(' ', ""),
    ))
}

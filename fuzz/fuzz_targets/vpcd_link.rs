//! The vpcd link, card side: an arbitrary byte stream cut into arbitrary chunks goes through the
//! frame decoder; every request goes to a served slot (a virtual reader with a card of any
//! built-in profile). No panic; the decoder never holds more than one frame's worth of bytes;
//! every reply is one well-framed payload (length prefix equal to what follows), and an ATR or
//! a response APDU is never empty.
#![no_main]

use arbitrary::Arbitrary;
use kazasu_sim::vpcd::{Decoder, MAX_PAYLOAD, Reply, Request, Slot, encode};
use kazasu_sim::{FaultPlan, Reader, ReaderProfile};
use libfuzzer_sys::fuzz_target;
use rand_core::SeedableRng;
use std::sync::Arc;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    card: u8,
    reader: u8,
    chunks: Vec<&'a [u8]>,
}

fuzz_target!(|input: Input<'_>| {
    let readers = kazasu_sim::reader::profile::BUILTIN_READER_PROFILES;
    let (reader, _) = readers[usize::from(input.reader) % readers.len()];
    let card = kazasu_fuzz::card(usize::from(input.card), 1);
    let rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut slot = Slot::new(Reader::new(
        Arc::new(ReaderProfile::builtin(reader).expect("a built-in reader")),
        card,
        FaultPlan::none(rng),
    ));
    if slot.connected().is_err() {
        return;
    }
    let mut decoder = Decoder::default();
    for chunk in input.chunks.iter().take(128) {
        kazasu_fuzz::planted(chunk);
        decoder.push(chunk);
        while let Some(request) = decoder.next_request() {
            let Ok(request) = request else {
                // The link ends on a protocol error; the slot must still answer afresh.
                continue;
            };
            match slot.handle(&request) {
                Reply::Send { frame, .. } => {
                    assert!(frame.len() >= 2);
                    let len = usize::from(u16::from_be_bytes([frame[0], frame[1]]));
                    assert_eq!(len, frame.len() - 2, "a reply whose length prefix lies");
                    if matches!(request, Request::GetAtr | Request::Apdu(_)) {
                        assert!(len > 0, "an empty answer to {request:?}");
                    }
                    let mut back = Decoder::default();
                    back.push(&frame);
                    assert!(back.next_request().is_some(), "a reply that does not frame");
                }
                Reply::Nothing => {}
                Reply::Close => {
                    slot.disconnected();
                    if slot.connected().is_err() {
                        return;
                    }
                }
            }
        }
        assert!(
            decoder.pending() < 2 + MAX_PAYLOAD,
            "the decoder holds {} bytes",
            decoder.pending()
        );
    }
    assert!(encode(&vec![0; MAX_PAYLOAD + 1]).is_err());
});

//! ISO/IEC 14443-4 frame streams. Three ways in:
//! - a reader and a card exchanging echo commands of arbitrary sizes (chaining both ways, every
//!   built-in reader profile) under frame loss, corruption, WTX storms and slow answers: every
//!   block number follows the standard's rules (the reference model of the numbering tests),
//!   and the host gets the right answer or a transport error — never a wrong one;
//! - an activated card fed arbitrary frames: no panic, and every frame it sends back has a good
//!   CRC, parses as a block and fits the reader's frame size;
//! - a reader fed arbitrary frames in answer to a command: no panic, and it ends (answer or
//!   failure) within a bounded number of frames.
#![no_main]

#[path = "../../sim/tests/common/numbering.rs"]
mod numbering;

use arbitrary::Arbitrary;
use kazasu_sim::applets::readertest::pattern;
use kazasu_sim::iso14443::frame::{Block, append_crc, check_crc};
use kazasu_sim::iso14443::pcd::{Pcd, PcdAction};
use kazasu_sim::iso14443::picc::{Phase, Picc};
use kazasu_sim::platform::profile::NfcType;
use kazasu_sim::reader::fault::Fault;
use kazasu_sim::{CardProfile, FaultPlan, Reader, ReaderProfile, SimTime};
use libfuzzer_sys::fuzz_target;
use rand_core::SeedableRng;
use std::sync::Arc;

#[derive(Arbitrary, Debug)]
enum Cmd {
    Echo { data: u8, answer: u8 },
    Verify,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Exchanges {
        reader: u8,
        type_b: bool,
        seed: u64,
        /// Loss and corruption probability, in 1/1000 (capped at 250 and 150).
        loss: u16,
        corrupt: u16,
        wtx_storm: Option<u8>,
        slow: Option<u8>,
        cmds: Vec<Cmd>,
    },
    CardFrames {
        type_b: bool,
        fsdi: u8,
        frames: Vec<(bool, Vec<u8>)>,
    },
    ReaderFrames {
        type_b: bool,
        fsc: u8,
        fwi: u8,
        apdu: Vec<u8>,
        frames: Vec<(bool, Vec<u8>)>,
    },
}

/// The reader-test card, as Type A (its profile) or Type B.
fn readertest(type_b: bool) -> CardProfile {
    let mut p = CardProfile::builtin("readertest").expect("the reader-test card profile");
    p.contactless.nfc_type.value = nfc(type_b);
    if type_b {
        // Type B carries 4 bytes of ATQB application data where Type A has historical bytes.
        p.contactless.historical_bytes.value.0 = vec![0x00, 0x00, 0x00, 0x00];
    }
    p.check("the reader-test card").expect("a valid profile");
    p
}

fn nfc(type_b: bool) -> NfcType {
    if type_b { NfcType::B } else { NfcType::A }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Exchanges {
            reader,
            type_b,
            seed,
            loss,
            corrupt,
            wtx_storm,
            slow,
            cmds,
        } => {
            let readers = kazasu_sim::reader::profile::BUILTIN_READER_PROFILES;
            let (name, _) = readers[usize::from(reader) % readers.len()];
            let mut yaml = format!(
                "- {{ when: {{ probability: {} }}, do: frame_lost }}\n- {{ when: {{ probability: {} }}, do: crc_error }}\n",
                f64::from(loss.min(250)) / 1000.0,
                f64::from(corrupt.min(150)) / 1000.0
            );
            if let Some(n) = wtx_storm {
                yaml.push_str(&format!(
                    "- {{ when: {{ exchange: 3 }}, do: {{ wtx_storm: {} }} }}\n",
                    n % 40
                ));
            }
            if let Some(n) = slow {
                yaml.push_str(&format!(
                    "- {{ when: {{ exchange: 2 }}, do: {{ slow_card: {} }} }}\n",
                    1 + n % 20
                ));
            }
            let faults: Vec<Fault> = serde_saphyr_free_parse(&yaml);
            let card = kazasu_sim::Card::new(
                Arc::new(readertest(type_b)),
                kazasu_sim::Fixtures::embedded().default_subject(),
                seed,
            )
            .expect("a reader-test card");
            let rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut r = Reader::new(
                Arc::new(ReaderProfile::builtin(name).expect("a built-in reader")),
                card,
                FaultPlan::new(faults, rng),
            );
            if r.tap().is_err() {
                return;
            }
            let mut model = numbering::Model::new();
            let mut selected = false;
            for c in cmds.iter().take(24) {
                if !selected {
                    match r.transmit(&[
                        0x00, 0xA4, 0x04, 0x00, 0x06, 0xA0, 0x00, 0x00, 0x00, 0x18, 0xFF,
                    ]) {
                        Ok(t) => {
                            assert_eq!(t.response, [0x90, 0x00]);
                            selected = true;
                        }
                        Err(e) => assert!(is_transport_error(e), "{e:?}"),
                    }
                    model.check(r.last_frames()).unwrap();
                    continue;
                }
                let before = r.card().side_channel().pin_comparisons;
                let (bytes, expect) = match c {
                    Cmd::Echo { data, answer } => {
                        let mut b = vec![0x80, 0x36, 0x00, *answer, *data];
                        b.extend_from_slice(&pattern(usize::from(*data)));
                        b.push(*answer);
                        if *data == 0 {
                            // Case 2: no Lc.
                            b = vec![0x80, 0x36, 0x00, *answer, *answer];
                        }
                        let mut e = pattern(usize::from(*answer));
                        e.extend_from_slice(&[0x90, 0x00]);
                        (b, e)
                    }
                    Cmd::Verify => (
                        vec![0x80, 0x20, 0x00, 0x00, 0x03, 0x31, 0x32, 0x33],
                        vec![0x90, 0x00],
                    ),
                };
                kazasu_fuzz::planted(&bytes);
                let result = r.transmit(&bytes);
                model.check(r.last_frames()).unwrap();
                let compared = r.card().side_channel().pin_comparisons - before;
                match result {
                    Ok(t) => {
                        if matches!(c, Cmd::Echo { .. }) && t.response.ends_with(&[0x90, 0x00]) {
                            assert_eq!(t.response, expect, "never a wrong answer");
                        }
                        if matches!(c, Cmd::Verify) {
                            assert_eq!(compared, 1, "an answered VERIFY ran exactly once");
                        }
                    }
                    Err(e) => {
                        assert!(is_transport_error(e), "{e:?}");
                        assert!(compared <= 1, "a failed VERIFY ran at most once");
                        selected = false;
                    }
                }
            }
        }
        Input::CardFrames {
            type_b,
            fsdi,
            frames,
        } => {
            let mut card = kazasu_sim::Card::new(
                Arc::new(readertest(type_b)),
                kazasu_sim::Fixtures::embedded().default_subject(),
                1,
            )
            .expect("a reader-test card");
            let mut picc = Picc::new(&card);
            picc.field_on(&mut card);
            let nfc = card.profile().contactless.nfc_type.value;
            match nfc {
                NfcType::A => {
                    picc.reqa(&card);
                    for level in 1..=3 {
                        if picc.select(&card, level) & 0x04 == 0 {
                            break;
                        }
                    }
                    picc.rats(&card, fsdi % 9);
                }
                NfcType::B => {
                    picc.reqb(&card);
                    picc.attrib(fsdi % 9);
                }
            }
            assert_eq!(picc.phase(), Phase::Active);
            let fsd = kazasu_sim::iso14443::atr::frame_size(fsdi % 9);
            let mut now = SimTime::START;
            for (with_crc, frame) in frames.iter().take(64) {
                kazasu_fuzz::planted(frame);
                let mut frame = frame.clone();
                if *with_crc {
                    append_crc(nfc, &mut frame);
                }
                let (reply, _) = picc.on_frame(&mut card, &frame, now);
                now += kazasu_sim::SimDuration::from_micros(500);
                if let Some(reply) = reply {
                    assert!(
                        reply.frame.len() <= fsd,
                        "a {}-byte frame for an FSD of {fsd}",
                        reply.frame.len()
                    );
                    let body = check_crc(nfc, &reply.frame).expect("the card's CRC is right");
                    Block::parse(body).expect("the card sends blocks");
                }
            }
        }
        Input::ReaderFrames {
            type_b,
            fsc,
            fwi,
            apdu,
            frames,
        } => {
            kazasu_fuzz::planted(&apdu);
            let nfc = nfc(type_b);
            let fsc = kazasu_sim::iso14443::atr::frame_size(fsc % 9);
            let mut pcd = Pcd::new(nfc, fsc, fwi % 15, 2, Some(20));
            let mut action = pcd.start(&apdu);
            let mut frames = frames.into_iter().take(256);
            // Until the reader answers the host or gives up, or the frames run out.
            while let PcdAction::Send { frame, .. } = action {
                assert!(
                    frame.len() <= fsc,
                    "a {}-byte frame for an FSC of {fsc}",
                    frame.len()
                );
                let body = check_crc(nfc, &frame).expect("the reader's CRC is right");
                Block::parse(body).expect("the reader sends blocks");
                let Some((with_crc, mut answer)) = frames.next() else {
                    break;
                };
                if with_crc {
                    append_crc(nfc, &mut answer);
                }
                action = pcd.on_frame(&answer);
            }
        }
    }
});

fn is_transport_error(e: kazasu_sim::LinkError) -> bool {
    matches!(
        e,
        kazasu_sim::LinkError::NoAnswer | kazasu_sim::LinkError::TooManyWtx
    )
}

/// The fault YAML this target builds is fixed in form; a parse error is a bug of the target.
fn serde_saphyr_free_parse(yaml: &str) -> Vec<Fault> {
    let faults: Vec<Fault> = serde_saphyr::from_str(yaml).expect("the target's fault YAML");
    for f in &faults {
        f.check().expect("the target's faults are valid");
    }
    faults
}

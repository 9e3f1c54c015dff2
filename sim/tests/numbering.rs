//! The block-numbering rules hold under random frame loss and corruption: a reference model
//! replays the frame log and checks every block's number against ISO/IEC 14443-4's rules for
//! the reader (A, B) and the card (C, D, E, 10–13). And the host never sees a wrong answer:
//! every exchange gives the right response or a transport error, and a command the card
//! answered was executed exactly once.

#[path = "common/reader.rs"]
mod common;
#[path = "common/numbering.rs"]
mod numbering;

use common::*;
use kazasu_sim::LinkError;
use kazasu_sim::applets::readertest::pattern;
use kazasu_sim::iso14443::frame::BlockKind;
use kazasu_sim::reader::{Direction, Fate, FrameRecord, FrameWhat};
use numbering::Model;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Cmd {
    Echo(usize, usize),
    Verify,
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        4 => (1usize..300, 0usize..300).prop_map(|(a, b)| Cmd::Echo(a, b)),
        1 => Just(Cmd::Verify),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn numbering_holds_and_answers_are_right_under_random_loss(
        seed in any::<u64>(),
        loss in 0.0f64..0.25,
        corrupt in 0.0f64..0.15,
        cmds in proptest::collection::vec(cmd(), 1..25),
    ) {
        let faults = format!(
            "- {{ when: {{ probability: {loss} }}, do: frame_lost }}\n- {{ when: {{ probability: {corrupt} }}, do: crc_error }}"
        );
        let mut r = reader_with(
            kazasu_sim::ReaderProfile::builtin("basic-106k").unwrap(),
            kazasu_sim::CardProfile::builtin("readertest").unwrap(),
            &faults,
            seed,
        );
        prop_assume!(r.tap().is_ok());
        let mut model = Model::new();
        let mut selected = false;
        for c in &cmds {
            if !selected {
                // Re-select after a tap or a reader reset (the card started afresh).
                match send(&mut r, "00 A4 04 00 06 A0 00 00 00 18 FF") {
                    Ok((_, sw)) => { prop_assert_eq!(sw, "9000"); selected = true; }
                    Err(e) => { prop_assert_eq!(e, LinkError::NoAnswer); }
                }
                model.check(r.last_frames()).map_err(TestCaseError::fail)?;
                continue;
            }
            let before = r.card().side_channel().pin_comparisons;
            let (bytes, expect): (Vec<u8>, Vec<u8>) = match c {
                Cmd::Echo(data, answer) => {
                    let mut b = vec![0x80, 0x36, 0x00, *answer as u8, *data as u8];
                    let data = (*data).min(255);
                    b[4] = data as u8;
                    b.extend_from_slice(&pattern(data));
                    b.push(*answer as u8);
                    let n = if *answer as u8 == 0 { 0 } else { *answer as u8 as usize };
                    let mut e = pattern(n);
                    e.extend_from_slice(&[0x90, 0x00]);
                    (b, e)
                }
                Cmd::Verify => (vec![0x80, 0x20, 0x00, 0x00, 0x03, 0x31, 0x32, 0x33], vec![0x90, 0x00]),
            };
            let result = r.transmit(&bytes);
            model.check(r.last_frames()).map_err(TestCaseError::fail)?;
            let compared = r.card().side_channel().pin_comparisons - before;
            match result {
                Ok(t) => {
                    prop_assert_eq!(&t.response, &expect, "never a wrong answer");
                    if matches!(c, Cmd::Verify) {
                        prop_assert_eq!(compared, 1, "an answered VERIFY ran exactly once");
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e, LinkError::NoAnswer, "the card stayed in the field");
                    prop_assert!(compared <= 1, "a failed VERIFY ran at most once");
                    selected = false;
                }
            }
        }
    }
}

#[test]
fn the_model_catches_a_wrong_number() {
    let good = FrameRecord {
        start: kazasu_sim::SimTime::START,
        end: kazasu_sim::SimTime::START,
        dir: Direction::ToCard,
        what: FrameWhat::Block {
            kind: BlockKind::I { chaining: false },
            number: false,
        },
        len: 5,
        kbps: 106,
        fate: Fate::Delivered,
    };
    let mut bad = good;
    bad.what = FrameWhat::Block {
        kind: BlockKind::I { chaining: false },
        number: true,
    };
    assert!(Model::new().check(&[good]).is_ok());
    assert!(Model::new().check(&[bad]).is_err());
}

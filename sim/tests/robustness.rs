//! Random and mutated APDU streams: the card never panics, always answers a well-formed
//! response with a status word of the reference, and stays usable.

mod common;

use common::*;
use kazasu_sim::{CardReply, SimTime, StatusWord};
use proptest::prelude::*;

/// Status words the My Number card model may answer: the rows of the simulator's status-word
/// table marked as the card's (`docs/jpki.md`).
fn jpki_status(sw: StatusWord) -> bool {
    kazasu_sim::STATUS_WORDS
        .iter()
        .any(|n| n.jpki && n.matches(sw))
}

/// Real commands of the JPKI flows, to be mutated.
const SEEDS: &[&str] = &[
    SELECT_JPKI,
    SELECT_CARD_INFO,
    "00 A4 02 0C 02 00 0A",
    "00 A4 02 0C 02 00 18",
    "00 A4 02 0C 02 00 17",
    "00 A4 00 00",
    "00 B0 00 00 04",
    "00 B0 8A 00 04",
    "00 B0 8A 04 00 03 00",
    "00 B0 01 00 00",
    "00 20 00 80",
    "00 20 00 98 04 31 32 33 34",
    "00 20 00 9B 06 41 42 43 44 45 46",
    "00 24 01 98 04 31 32 33 34",
    "80 2A 00 97 05 01 02 03 04 05 00",
    "80 2A 00 80 05 01 02 03 04 05 00",
    "80 FC 00 00",
];

#[derive(Debug, Clone)]
enum Step {
    Seed(usize, Vec<(usize, u8)>),
    Random(Vec<u8>),
    PowerCycle,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..SEEDS.len(), proptest::collection::vec((0usize..16, any::<u8>()), 0..3)).prop_map(|(i, m)| Step::Seed(i, m)),
        3 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::Random),
        1 => Just(Step::PowerCycle),
    ]
}

fn run_stream(profile: &str, steps: &[Step], check_jpki_words: bool) -> Result<(), TestCaseError> {
    let mut c = card(profile);
    for s in steps {
        let bytes = match s {
            Step::PowerCycle => {
                c.power_off();
                c.power_on();
                continue;
            }
            Step::Random(b) => b.clone(),
            Step::Seed(i, muts) => {
                let mut b = kazasu_sim::parse_hex(SEEDS[*i]).unwrap();
                for (pos, val) in muts {
                    if !b.is_empty() {
                        let p = pos % b.len();
                        b[p] = *val;
                    }
                }
                b
            }
        };
        match c.process(&bytes, SimTime::START) {
            CardReply::Answered(a) => {
                let sw = a.response.sw;
                if check_jpki_words {
                    prop_assert!(
                        jpki_status(sw),
                        "{profile}: {} answered {sw:?}",
                        kazasu_sim::hex_spaced(&bytes)
                    );
                }
                if !sw.is_ok() && sw.sw1() != 0x61 {
                    prop_assert!(a.response.data.is_empty(), "refusals carry no data");
                }
            }
            other => prop_assert!(false, "{profile}: powered card gave {other:?}"),
        }
    }
    // Still usable: select the AP and read the token info.
    let select = if profile == "readertest" {
        "00 A4 04 00 06 A0 00 00 00 18 FF"
    } else {
        SELECT_JPKI
    };
    prop_assert_eq!(sw(&mut c, select), "9000");
    if profile != "readertest" {
        prop_assert_eq!(sw(&mut c, "00 B0 86 00 20"), "9000");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn mynumber_card_survives_random_streams(steps in proptest::collection::vec(step(), 1..60)) {
        run_stream("mynumber-card", &steps, true)?;
    }

    #[test]
    fn android_survives_random_streams(steps in proptest::collection::vec(step(), 1..60)) {
        run_stream("android-jpki", &steps, true)?;
    }

    #[test]
    fn iphone_survives_random_streams(steps in proptest::collection::vec(step(), 1..60)) {
        run_stream("iphone-jpki", &steps, true)?;
    }

    #[test]
    fn readertest_survives_random_streams(steps in proptest::collection::vec(step(), 1..60)) {
        run_stream("readertest", &steps, false)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for profile in ["mynumber-card", "athena-ext-case2", "readertest"] {
            let mut c = card(profile);
            tx(&mut c, SELECT_JPKI);
            prop_assert!(matches!(c.process(&bytes, SimTime::START), CardReply::Answered(_)));
        }
    }
}

//! The card OS under arbitrary command sequences, for every built-in card profile. After each
//! command: no panic; the answer is a status word the card's reference allows; refusals carry
//! no data; a PIN's tries never go up except by an answered VERIFY / CHANGE / RESET, and a
//! blocked PIN stays blocked; a signature the card hands out opens with one of its public keys
//! to the padding of the scheme asked for; and the card still selects its application at the end.
#![no_main]

use arbitrary::Arbitrary;
use kazasu_sim::platform::profile::AppletName;
use kazasu_sim::{CardReply, SimTime, StatusWord, applets::card_info, applets::jpki};
use libfuzzer_sys::fuzz_target;
use openssl::rsa::{Padding, Rsa};
use std::sync::OnceLock;

/// Commands of the JPKI and card-info flows, to be mutated.
const SEEDS: &[&[u8]] = &[
    &[
        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
    ],
    &[
        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08,
    ],
    &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A],
    &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17],
    &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18],
    &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1A],
    &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1B],
    &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x11],
    &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x13],
    &[0x00, 0xB0, 0x00, 0x00, 0x04],
    &[0x00, 0xB0, 0x8A, 0x00, 0x00],
    &[0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x00, 0x20, 0x00, 0x80],
    &[0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34],
    &[0x00, 0x20, 0x00, 0x80, 0x04, 0x30, 0x30, 0x30, 0x30],
    &[
        0x00, 0x20, 0x00, 0x80, 0x06, 0x41, 0x42, 0x43, 0x31, 0x32, 0x33,
    ],
    &[0x00, 0x24, 0x01, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34],
    &[
        0x80, 0x2A, 0x00, 0x80, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05, 0x00,
    ],
    &[
        0x80, 0x2A, 0x04, 0x80, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 0x00,
    ],
    &[0x00, 0x84, 0x00, 0x00, 0x08],
    &[0x00, 0xCA, 0x5F, 0x51, 0x00],
    &[0x80, 0xFC, 0x00, 0x00],
];

/// Status words the JPKI and card-info APs answer (docs/jpki.md), and the reader-test card's.
fn allowed(sw: StatusWord) -> bool {
    matches!(
        sw.0,
        0x9000
            | 0x6984
            | 0x6982
            | 0x6A82
            | 0x6A86
            | 0x6B00
            | 0x6700
            | 0x6D00
            | 0x6E00
            | 0x6881
            | 0x6A80
            | 0x6882
            | 0x69FC
            | 0x6A88
            | 0x6A81
            | 0x6985
            | 0x6986
            | 0x6A87
            | 0x6F00
    ) || sw.tries_left().is_some()
        || sw.sw1() == 0x61
        || sw.sw1() == 0x6C
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A real command with some bytes replaced and maybe cut or lengthened.
    Seed {
        index: u8,
        changes: Vec<(u8, u8)>,
        cut: Option<u8>,
        tail: Vec<u8>,
    },
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// Power off and on.
    PowerCycle,
}

#[derive(Arbitrary, Debug)]
struct Input {
    profile: u8,
    seed: u64,
    steps: Vec<Step>,
}

/// Every PIN of the card: (AID, EF).
const PINS: &[(&[u8], u16)] = &[
    (&jpki::AID, jpki::ef::AUTH_PIN),
    (&jpki::AID, jpki::ef::SIGN_PIN),
    (&card_info::AID, card_info::ef::PIN),
    (&card_info::AID, card_info::ef::CHECK_CODE_A),
    (&card_info::AID, card_info::ef::CHECK_CODE_B),
];

/// The public keys of the default test identity (auth, sign, card-info AP).
fn public_keys() -> &'static [Rsa<openssl::pkey::Public>] {
    static KEYS: OnceLock<Vec<Rsa<openssl::pkey::Public>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let s = kazasu_sim::Fixtures::embedded().default_subject();
        [&s.keys.auth_key, &s.keys.sign_key, &s.keys.card_info_key]
            .iter()
            .map(|k| Rsa::public_key_from_pem(&k.public_pem()).expect("a public key"))
            .collect()
    })
}

/// Whether `signature` opens with one of the card's keys to a PKCS#1 v1.5 type 1 block
/// (P1 00..03) or an RSASSA-PSS encoded message ending in BC (P1 04, 05).
fn signature_opens(signature: &[u8], pss: bool) -> bool {
    public_keys().iter().any(|key| {
        if signature.len() != key.size() as usize {
            return false;
        }
        let mut block = vec![0; key.size() as usize];
        let Ok(n) = key.public_decrypt(signature, &mut block, Padding::NONE) else {
            return false;
        };
        let block = &block[..n];
        if pss {
            block.last() == Some(&0xBC)
        } else {
            block.len() > 11
                && block[0] == 0
                && block[1] == 1
                && block[2..10].iter().all(|b| *b == 0xFF)
        }
    })
}

fuzz_target!(|input: Input| {
    let mut card = kazasu_fuzz::card(usize::from(input.profile), input.seed);
    let jpki_os = card.profile().device != kazasu_sim::platform::profile::Device::TestCard;
    let tries = |card: &kazasu_sim::Card| -> Vec<Option<u8>> {
        PINS.iter()
            .map(|(aid, fid)| card.tries_left(aid, *fid))
            .collect()
    };
    for step in input.steps.iter().take(64) {
        let bytes = match step {
            Step::PowerCycle => {
                card.power_off();
                card.power_on();
                continue;
            }
            Step::Raw(b) => b.clone(),
            Step::Seed {
                index,
                changes,
                cut,
                tail,
            } => {
                let mut b = SEEDS[usize::from(*index) % SEEDS.len()].to_vec();
                for (at, value) in changes.iter().take(4) {
                    let at = usize::from(*at) % b.len();
                    b[at] = *value;
                }
                if let Some(cut) = cut {
                    b.truncate(usize::from(*cut) % (b.len() + 1));
                }
                b.extend(tail.iter().take(300));
                b
            }
        };
        kazasu_fuzz::planted(&bytes);
        let before = tries(&card);
        let reply = card.process(&bytes, SimTime::START);
        let CardReply::Answered(answer) = reply else {
            panic!("a powered card without a power-loss fault gave {reply:?}");
        };
        let sw = answer.response.sw;
        if jpki_os {
            assert!(
                allowed(sw),
                "{} answered {sw:?}",
                kazasu_sim::hex_spaced(&bytes)
            );
        }
        if !sw.is_ok() && sw.sw1() != 0x61 {
            assert!(answer.response.data.is_empty(), "a refusal carried data");
        }
        let after = tries(&card);
        let ins = bytes.get(1).copied();
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            let (Some(b), Some(a)) = (b, a) else { continue };
            if a > b {
                assert!(
                    sw.is_ok() && matches!(ins, Some(0x20 | 0x24 | 0x2C)),
                    "PIN {i}'s tries went from {b} to {a} on {} ({sw:?})",
                    kazasu_sim::hex_spaced(&bytes)
                );
            }
            if *b == 0 && !matches!(ins, Some(0x2C)) {
                assert_eq!(
                    *a,
                    0,
                    "blocked PIN {i} unblocked by {}",
                    kazasu_sim::hex_spaced(&bytes)
                );
            }
        }
        if jpki_os
            && sw.is_ok()
            && bytes.len() > 4
            && bytes[0] == 0x80
            && bytes[1] == 0x2A
            && !answer.response.data.is_empty()
        {
            let pss = matches!(bytes[2], 0x04 | 0x05);
            assert!(
                signature_opens(&answer.response.data, pss),
                "a signature that no key of the card opens: {}",
                kazasu_sim::hex_spaced(&bytes)
            );
        }
    }
    // Still usable: the card's application answers.
    let applets = &card.profile().applets;
    let probe: &[u8] = if applets.contains(&AppletName::Jpki) {
        SEEDS[0]
    } else if applets.contains(&AppletName::Readertest) {
        &[
            0x00, 0xA4, 0x04, 0x00, 0x06, 0xA0, 0x00, 0x00, 0x00, 0x18, 0xFF,
        ]
    } else {
        // Athena: 16 bytes of 0x41, no SELECT needed.
        &[0x80, 0x00, 0x04, 0x41, 0x00, 0x00, 0x10]
    };
    let sw = card
        .process(probe, SimTime::START)
        .answer()
        .map(|a| a.response.sw);
    assert_eq!(
        sw,
        Some(StatusWord::OK),
        "the card no longer answers its application"
    );
});

//! Tearing: a power loss at any point of VERIFY or CHANGE REFERENCE DATA never restores a try
//! and never leaves a PIN other than the old or the new one.

mod common;

use common::*;
use kazasu_sim::{Card, CardReply, SimTime, applets::card_info, applets::jpki};

struct Pin {
    profile: &'static str,
    select: &'static str,
    aid: &'static [u8],
    fid: u16,
    p2: u8,
    right: &'static str,
    wrong: &'static str,
    max: u8,
}

const PINS: &[Pin] = &[
    Pin {
        profile: "mynumber-card",
        select: SELECT_JPKI,
        aid: &jpki::AID,
        fid: 0x18,
        p2: 0x98,
        right: "1234",
        wrong: "4321",
        max: 3,
    },
    Pin {
        profile: "mynumber-card",
        select: SELECT_JPKI,
        aid: &jpki::AID,
        fid: 0x1B,
        p2: 0x9B,
        right: "YAMADA2026",
        wrong: "YAMADA2027",
        max: 5,
    },
    Pin {
        profile: "mynumber-card",
        select: SELECT_CARD_INFO,
        aid: &card_info::AID,
        fid: 0x11,
        p2: 0x91,
        right: "1234",
        wrong: "0000",
        max: 3,
    },
    Pin {
        profile: "android-jpki",
        select: SELECT_JPKI,
        aid: &jpki::AID,
        fid: 0x18,
        p2: 0x98,
        right: "1234",
        wrong: "9999",
        max: 3,
    },
];

fn verify_bytes(p2: u8, pin: &str) -> Vec<u8> {
    let mut v = vec![0x00, 0x20, 0x00, p2, pin.len() as u8];
    v.extend_from_slice(pin.as_bytes());
    v
}

/// A card of the PIN's profile with `tries` tries left on that PIN.
fn card_with_tries(pin: &Pin, tries: u8) -> Card {
    let mut c = card(pin.profile);
    tx(&mut c, pin.select);
    for _ in tries..pin.max {
        tx_bytes(&mut c, &verify_bytes(pin.p2, pin.wrong));
    }
    assert_eq!(c.tries_left(pin.aid, pin.fid), Some(tries));
    c
}

#[test]
fn a_power_loss_at_any_point_of_verify_never_gives_a_free_guess() {
    let mut cases = 0;
    for pin in PINS {
        for tries in 1..=pin.max {
            for right in [false, true] {
                let guess = if right { pin.right } else { pin.wrong };
                // A VERIFY commits at most twice (decrement, then reset); try every point.
                for k in 0..=2 {
                    cases += 1;
                    let mut c = card_with_tries(pin, tries);
                    let compared_before = c.side_channel().pin_comparisons;
                    c.arm_power_loss(k);
                    let reply = c.process(&verify_bytes(pin.p2, guess), SimTime::START);
                    let compared = c.side_channel().pin_comparisons > compared_before;
                    c.power_off();
                    c.power_on();
                    let after = c.tries_left(pin.aid, pin.fid).unwrap();
                    let what = format!(
                        "{} PIN {:04X}, {tries} tries, {} guess, power loss at commit {k}",
                        pin.profile,
                        pin.fid,
                        if right { "right" } else { "wrong" }
                    );
                    // Never more tries than before, never two spent by one command.
                    assert!(
                        after <= tries.max(if right { pin.max } else { 0 }),
                        "{what}: {after}"
                    );
                    assert!(after + 1 >= tries, "{what}: {after}");
                    if compared && !right {
                        assert_eq!(
                            after,
                            tries - 1,
                            "{what}: a compared wrong guess must cost a try"
                        );
                    }
                    if compared && right && after != pin.max {
                        assert_eq!(after, tries - 1, "{what}");
                    }
                    match &reply {
                        CardReply::PowerLost => {}
                        CardReply::Answered(a) => {
                            // No power loss struck: the ordinary answer.
                            let expect = if right {
                                "9000".to_string()
                            } else {
                                format!("63C{}", tries - 1)
                            };
                            assert_eq!(a.response.sw.to_string(), expect, "{what}");
                        }
                        CardReply::Unpowered => panic!("{what}: card was unpowered"),
                    }
                    // A comparison only ever happens after the decrement is committed.
                    if k == 0 {
                        assert!(
                            !compared,
                            "{what}: compared before the decrement was committed"
                        );
                        assert_eq!(reply, CardReply::PowerLost, "{what}");
                        assert_eq!(after, tries, "{what}: nothing committed, nothing learned");
                    }
                }
            }
        }
    }
    assert!(cases > 50);
}

#[test]
fn a_power_loss_during_change_reference_data_keeps_old_or_new_pin() {
    for k in 0..=1 {
        let mut c = card("mynumber-card");
        tx(&mut c, SELECT_JPKI);
        assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
        c.arm_power_loss(k);
        let reply = c.process(
            &kazasu_sim::parse_hex("00 24 01 98 04 35 36 37 38").unwrap(),
            SimTime::START,
        );
        c.power_off();
        c.power_on();
        tx(&mut c, SELECT_JPKI);
        let old = sw(&mut c, "00 20 00 98 04 31 32 33 34");
        let new = sw(&mut c, "00 20 00 98 04 35 36 37 38");
        match reply {
            CardReply::PowerLost => assert_eq!(
                (old.as_str(), new.as_str()),
                ("9000", "63C2"),
                "k={k}: old PIN kept"
            ),
            _ => assert_eq!(
                (old.as_str(), new.as_str()),
                ("63C2", "9000"),
                "k={k}: new PIN set"
            ),
        }
    }
}

#[test]
fn a_power_loss_leaves_the_card_unpowered_and_usable_after_a_new_tap() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    c.arm_power_loss(0);
    assert_eq!(
        c.process(&verify_bytes(0x98, "1234"), SimTime::START),
        CardReply::PowerLost
    );
    assert!(!c.is_powered());
    assert_eq!(
        c.process(&verify_bytes(0x98, "1234"), SimTime::START),
        CardReply::Unpowered
    );
    c.power_on();
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
}

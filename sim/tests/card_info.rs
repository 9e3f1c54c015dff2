//! The 券面事項入力補助AP of the physical card.

mod common;

use common::*;
use kazasu_sim::{Fixtures, card_info, my_number};

#[test]
fn my_number_and_basic_four_need_a_pin() {
    let mut c = card("mynumber-card");
    assert_eq!(sw(&mut c, SELECT_CARD_INFO), "9000");
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 01"), "9000");
    assert_eq!(
        sw(&mut c, "00 B0 00 00 00"),
        "6982",
        "My Number before the PIN"
    );
    assert_eq!(
        sw(&mut c, "00 B0 82 00 00"),
        "6982",
        "basic four before the PIN"
    );
    tx(&mut c, "00 A4 02 0C 02 00 11");
    assert_eq!(sw(&mut c, "00 20 00 80"), "63C3");
    assert_eq!(sw(&mut c, &verify_apdu("1234")), "9000");
    let (mn, s) = tx(&mut c, "00 B0 81 00 11");
    assert_eq!(s.to_string(), "9000");
    assert_eq!(mn.len(), 17);
    assert_eq!(mn[..3], [0xFF, 0x10, 0x0C]);
    assert_eq!(mn[15..], [0xFF, 0xFF], "filler");
    let number = std::str::from_utf8(&mn[3..15]).unwrap();
    assert!(my_number::is_valid(number));
    assert_eq!(number, "999900000011");
    let (b4, s) = tx(&mut c, "00 B0 82 00 00");
    assert_eq!(s.to_string(), "9000");
    assert_eq!(b4[..2], [0xFF, 0x20]);
    let subject = Fixtures::embedded().subject("yamada-taro").unwrap();
    assert_eq!(b4, card_info::basic_four_file(&subject));
    let text = String::from_utf8_lossy(&b4);
    assert!(
        text.contains("山田 太郎") && text.contains("19800401") && text.contains("東京都千代田区")
    );
    // Digests are free to read.
    assert_eq!(sw(&mut c, "00 B0 83 00 00"), "9000");
}

#[test]
fn check_codes_a_and_b_unlock_the_files_too() {
    let mut c = card_for("mynumber-card", "suzuki-hanako");
    tx(&mut c, SELECT_CARD_INFO);
    // 照合番号A: the My Number itself; 10 tries (reported).
    assert_eq!(sw(&mut c, "00 20 00 94"), "63CA");
    assert_eq!(
        sw(
            &mut c,
            &format!("00 20 00 94 0C {}", kazasu_sim::hex_spaced(b"999900000011"))
        ),
        "63C9"
    );
    assert_eq!(
        sw(
            &mut c,
            &format!("00 20 00 94 0C {}", kazasu_sim::hex_spaced(b"999900000020"))
        ),
        "9000"
    );
    assert_eq!(sw(&mut c, "00 B0 81 00 11"), "9000");
    // 照合番号B: the birth date with its Japanese-era year (1992-11-23 is 平成4: 041123), the
    // expiry year and the security code. The western year is refused.
    let mut c = card_for("mynumber-card", "suzuki-hanako");
    tx(&mut c, SELECT_CARD_INFO);
    let western = "921123".to_string() + "2034" + "0815";
    assert_eq!(
        sw(
            &mut c,
            &format!(
                "00 20 00 95 {:02X} {}",
                western.len(),
                kazasu_sim::hex_spaced(western.as_bytes())
            )
        ),
        "63C9"
    );
    let b = "041123".to_string() + "2034" + "0815";
    assert_eq!(
        sw(
            &mut c,
            &format!(
                "00 20 00 95 {:02X} {}",
                b.len(),
                kazasu_sim::hex_spaced(b.as_bytes())
            )
        ),
        "9000"
    );
    assert_eq!(sw(&mut c, "00 B0 82 00 04"), "9000");
}

#[test]
fn card_info_pin_blocks_after_its_tries() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_CARD_INFO);
    for left in ["63C2", "63C1", "63C0"] {
        assert_eq!(sw(&mut c, "00 20 00 91 04 39 39 39 39"), left);
    }
    assert_eq!(sw(&mut c, "00 20 00 91 04 31 32 33 34"), "6984");
    // The JPKI auth PIN is a different PIN object.
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 20 00 98"), "63C3");
}

//! Helpers shared by the card tests.
#![allow(dead_code)]

use kazasu_sim::{Card, CardProfile, CardReply, Fixtures, SimTime, StatusWord, parse_hex};
use std::sync::Arc;

/// A powered card of a built-in profile for the first test identity.
pub fn card(profile: &str) -> Card {
    card_for(profile, "yamada-taro")
}

/// A powered card of a built-in profile for a given identity.
pub fn card_for(profile: &str, identity: &str) -> Card {
    let profile = Arc::new(CardProfile::builtin(profile).unwrap());
    let subject = Fixtures::embedded().subject(identity).unwrap();
    let mut card = Card::new(profile, subject, 7).unwrap();
    card.power_on();
    card
}

/// Sends hex, returns (data, SW).
pub fn tx(card: &mut Card, apdu: &str) -> (Vec<u8>, StatusWord) {
    tx_bytes(card, &parse_hex(apdu).unwrap())
}

/// Sends bytes, returns (data, SW); panics if the card gives no answer.
pub fn tx_bytes(card: &mut Card, apdu: &[u8]) -> (Vec<u8>, StatusWord) {
    match card.process(apdu, SimTime::START) {
        CardReply::Answered(a) => (a.response.data, a.response.sw),
        other => panic!("no answer to {}: {other:?}", kazasu_sim::hex_spaced(apdu)),
    }
}

/// Sends hex and returns the SW as 4 hex digits.
pub fn sw(card: &mut Card, apdu: &str) -> String {
    tx(card, apdu).1.to_string()
}

pub const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";
pub const SELECT_CARD_INFO: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08";

/// `00 20 00 80 Lc <ascii>`.
pub fn verify_apdu(pin: &str) -> String {
    format!(
        "00 20 00 80 {:02X} {}",
        pin.len(),
        kazasu_sim::hex_spaced(pin.as_bytes())
    )
}

/// The SHA-256 DigestInfo of `data`, hex.
pub fn digest_info_hex(data: &[u8]) -> String {
    let mut v = vec![
        0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    v.extend_from_slice(&openssl::sha::sha256(data));
    kazasu_sim::hex_spaced(&v)
}

/// `80 2A 00 80 Lc <digest info> 00`.
pub fn sign_apdu(data: &[u8]) -> String {
    format!("80 2A 00 80 33 {} 00", digest_info_hex(data))
}

/// Reads a whole transparent EF by its short file id (`p1` = 80 | SFI): the first 256 bytes by
/// SFI, the rest by offset until the card has no more.
pub fn read_whole_at(card: &mut Card, p1: u8) -> Vec<u8> {
    let (mut data, s) = tx(card, &format!("00 B0 {p1:02X} 00 00"));
    assert_eq!(s.to_string(), "9000", "READ BINARY by SFI {p1:02X}");
    let mut last = data.len();
    while last == 256 {
        let off = data.len();
        let (chunk, s) = tx(
            card,
            &format!("00 B0 {:02X} {:02X} 00", off >> 8, off & 0xFF),
        );
        if s.to_string() == "6B00" {
            break;
        }
        assert_eq!(s.to_string(), "9000");
        last = chunk.len();
        data.extend(chunk);
    }
    data
}

//! # kazasu-sim — the other side: simulated cards, phones and readers
//!
//! This crate is fully deterministic. It contains no networking code, starts no threads and
//! never reads the operating system's clock: time is passed in as [`SimTime`] and models hand
//! back durations; every random choice comes from a seed. Thin IO shells elsewhere (the vpcd
//! link, the harness) drive it.
//!
//! - [`apdu`] and [`status`]: the APDU codec and named status words.
//! - [`Card`]: a virtual My Number card, Android or iPhone JPKI, or reader-test card, built from
//!   a [`CardProfile`] and a test [`Subject`] of the committed [`Fixtures`].
//! - [`jpki`], [`card_info`]: the applications' AIDs, files and formats; [`signature`]: the
//!   card's signature schemes (COMPUTE DIGITAL SIGNATURE P1 00..05).
//! - [`pki`]: the test PKI generator behind `kazasu gen-test-pki`.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod apdu;
mod athena;
pub mod atr;
mod card;
pub mod card_info;
pub mod fault;
pub mod frame;
pub mod identity;
pub mod jpki;
pub mod my_number;
mod nvm;
mod os;
pub mod pcd;
pub mod picc;
pub mod pki;
pub mod profile;
pub mod reader;
pub mod reader_profile;
pub mod readertest;
pub mod secret;
pub mod signature;
pub mod status;
pub mod time;
pub mod timing;
pub mod tlv;
pub mod vpcd;

pub use apdu::{ApduError, Command, Response, carries_secret, secret_bearing_ins};
pub use card::{Answer, Card, CardReply};
pub use fault::{Fault, FaultPlan};
pub use identity::{Fixtures, Identity, Subject};
pub use nvm::PowerLost;
pub use os::{Approval, SideChannel, Work};
pub use profile::{CardProfile, ProfileError};
pub use reader::{FrameRecord, LinkError, Reader, Transmitted};
pub use reader_profile::ReaderProfile;
pub use secret::Secret;
pub use status::StatusWord;
pub use time::{SimDuration, SimTime};

/// Hex with a space between bytes, upper case: `00 A4 04 0C`.
pub fn hex_spaced(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    s
}

/// Parses hex that may contain spaces, colons or newlines between bytes.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&compact).map_err(|e| format!("`{text}` is not hex bytes ({e})"))
}

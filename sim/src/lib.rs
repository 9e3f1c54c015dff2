//! # kazasu-sim — the other side: simulated cards, phones and readers
//!
//! This crate is fully deterministic. It contains no networking code, starts no threads and
//! never reads the operating system's clock: time is passed in as [`SimTime`] and models hand
//! back durations; every random choice comes from a seed. Thin IO shells elsewhere (the vpcd
//! link, the harness) drive it.
//!
//! The crate is laid out in floors; a module imports only from its own floor or below
//! (`ARCHITECTURE.md`):
//!
//! 1. [`time`], [`secret`], hex helpers — the ground floor.
//! 2. [`iso7816`]: the APDU codec, named status words, BER-TLV and the card's non-volatile memory.
//! 3. [`platform`]: what a card is made of — its [`CardProfile`], the test identities and keys,
//!    the signature schemes, the test PKI and the card OS with its files and PINs.
//! 4. [`applets`]: the applications built on that OS (JPKI, card-info, readertest, Athena).
//! 5. [`Card`]: a virtual My Number card, Android or iPhone JPKI, or reader-test card, built
//!    from a profile and a test [`Subject`] of the committed [`Fixtures`].
//! 6. [`iso14443`]: the contactless protocol — frames, timing, ATR/ATS, the card's and the
//!    reader's halves of ISO/IEC 14443-4.
//! 7. [`reader`]: the virtual PC/SC reader with its profile and fault plan; [`vpcd`]: the codec
//!    of vsmartcard's vpcd socket protocol.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod applets;
mod card;
pub mod iso14443;
pub mod iso7816;
pub mod platform;
pub mod reader;
pub mod secret;
pub mod time;
pub mod vpcd;

pub use card::{Answer, Card, CardReply};
pub use iso7816::apdu::{
    ApduError, Command, Response, carries_secret, secret_bearing_header, secret_bearing_ins,
};
pub use iso7816::nvm::PowerLost;
pub use iso7816::status::{NAMED as STATUS_WORDS, Named as NamedStatus, StatusWord};
pub use platform::bit_rate::{BitRate, NotABitRate};
pub use platform::identity::{Fixtures, Identity, Subject};
pub use platform::os::{Approval, SideChannel, Work};
pub use platform::profile::{CardProfile, ProfileError};
pub use reader::fault::{Fault, FaultPlan};
pub use reader::profile::ReaderProfile;
pub use reader::{FrameRecord, LinkError, Reader, Transmitted};
pub use secret::Secret;
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

/// Text that is not hex bytes.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`{text}` is not hex bytes ({reason})")]
pub struct NotHex {
    /// The text.
    pub text: String,
    /// Where it breaks.
    pub reason: hex::FromHexError,
}

/// Parses hex that may contain spaces, colons or newlines between bytes.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, NotHex> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&compact).map_err(|reason| NotHex {
        text: text.to_owned(),
        reason,
    })
}

//! Status words (SW1 SW2) with the names that `jpki.md` and ISO/IEC 7816-4 give them.

use std::fmt;

/// A status word: SW1 in the high byte, SW2 in the low byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// 90 00: success.
    pub const OK: StatusWord = StatusWord(0x9000);
    /// 67 00: wrong length (Lc or Le).
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    /// 68 81: logical channel not supported (only the basic channel 0 exists).
    pub const LOGICAL_CHANNEL_NOT_SUPPORTED: StatusWord = StatusWord(0x6881);
    /// 69 81: command incompatible with the file structure (READ of the MF's EF 001E).
    pub const INCOMPATIBLE_WITH_FILE: StatusWord = StatusWord(0x6981);
    /// 69 82: security status not satisfied (PIN not verified, no approval).
    pub const SECURITY_STATUS_NOT_SATISFIED: StatusWord = StatusWord(0x6982);
    /// 69 84: reference data not usable — the PIN is blocked.
    pub const PIN_BLOCKED: StatusWord = StatusWord(0x6984);
    /// 69 85: conditions of use not satisfied (GET CHALLENGE with an extended Le).
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
    /// 6A 80: incorrect data in the command data field (e.g. a new PIN of the wrong form).
    pub const WRONG_DATA: StatusWord = StatusWord(0x6A80);
    /// 6A 82: file or application not found.
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6A82);
    /// 6A 88: referenced data not found (GET DATA of an unknown tag).
    pub const DATA_NOT_FOUND: StatusWord = StatusWord(0x6A88);
    /// 6A 83: record not found (READ RECORD of a record the file does not have).
    pub const RECORD_NOT_FOUND: StatusWord = StatusWord(0x6A83);
    /// 66 F1: the card's answer to SET SESSION KEY (`80 AE`) in an application that offers no
    /// secure messaging (reported for the 共通カードAP and the 券面事項確認AP; not an ISO 7816-4
    /// status word).
    pub const NO_SESSION_KEY: StatusWord = StatusWord(0x66F1);
    /// 6A 86: incorrect P1-P2.
    pub const WRONG_P1P2: StatusWord = StatusWord(0x6A86);
    /// 6B 00: offset beyond the end of the file.
    pub const OFFSET_BEYOND_END: StatusWord = StatusWord(0x6B00);
    /// 6D 00: instruction not supported.
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
    /// 6E 00: class not supported.
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);
    /// 68 82: secure messaging not supported.
    pub const SM_NOT_SUPPORTED: StatusWord = StatusWord(0x6882);
    /// 69 FC: the JPKI card's answer to a READ BINARY or VERIFY with a secure-messaging CLA
    /// (reported; not an ISO 7816-4 status word).
    pub const SM_REFUSED: StatusWord = StatusWord(0x69FC);
    /// 6A 81: function not supported (a reader's pseudo-APDU with an unknown P1).
    pub const FUNCTION_NOT_SUPPORTED: StatusWord = StatusWord(0x6A81);

    /// 63 Cx: wrong PIN, `tries_left` tries left (x is capped at 15).
    pub const fn verify_failed(tries_left: u8) -> StatusWord {
        let x = if tries_left > 0x0F { 0x0F } else { tries_left };
        StatusWord(0x63C0 | x as u16)
    }
    /// 61 xx: `xx` more bytes waiting for GET RESPONSE (T=0 style).
    pub const fn bytes_remaining(xx: u8) -> StatusWord {
        StatusWord(0x6100 | xx as u16)
    }
    /// 6A xx as the readertest applet uses it: `xx` is the index of the first wrong byte.
    pub const fn readertest_wrong_byte(index: u8) -> StatusWord {
        StatusWord(0x6A00 | index as u16)
    }

    /// SW1.
    pub const fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// SW2.
    pub const fn sw2(self) -> u8 {
        self.0 as u8
    }
    /// The two bytes as sent on the wire.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
    /// From the two bytes on the wire.
    pub const fn from_bytes(sw1: u8, sw2: u8) -> StatusWord {
        StatusWord(((sw1 as u16) << 8) | sw2 as u16)
    }
    /// `true` for 90 00.
    pub const fn is_ok(self) -> bool {
        self.0 == 0x9000
    }
    /// The tries left when this is a 63 Cx answer.
    pub const fn tries_left(self) -> Option<u8> {
        if self.0 & 0xFFF0 == 0x63C0 {
            Some((self.0 & 0x0F) as u8)
        } else {
            None
        }
    }

    /// A short English name, for transcripts and reports: the meaning of the first row of
    /// [`NAMED`] it matches.
    pub fn name(self) -> &'static str {
        NAMED
            .iter()
            .find(|n| n.matches(self))
            .map_or("unnamed status", |n| n.meaning)
    }
}

/// A status word kazasu names: one row of [`NAMED`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named {
    /// Four hex digits, `x` for any nibble (`63Cx`: any tries-left count).
    pub pattern: &'static str,
    /// What it means, in the words transcripts, reports and the coverage map show.
    pub meaning: &'static str,
    /// Whether the JPKI card model answers it (the coverage map lists these, and a JPKI device
    /// answering any other fails kazasu's own tests).
    pub jpki: bool,
}

impl Named {
    /// Whether `sw` is this status word (`x` matches any nibble).
    pub fn matches(&self, sw: StatusWord) -> bool {
        let digits = format!("{:04X}", sw.0);
        self.pattern.len() == 4
            && self
                .pattern
                .chars()
                .zip(digits.chars())
                .all(|(p, d)| p == 'x' || p.eq_ignore_ascii_case(&d))
    }
}

const fn named(pattern: &'static str, meaning: &'static str, jpki: bool) -> Named {
    Named {
        pattern,
        meaning,
        jpki,
    }
}

/// kazasu's status-word table — the one list of names, read first row first: the simulator's
/// answers, transcripts, reports and the coverage map all take their words from it.
pub const NAMED: &[Named] = &[
    named("9000", "success", true),
    named("63Cx", "wrong PIN", true),
    named("66F1", "no secure messaging in this application", true),
    named("6700", "wrong length", true),
    named("6881", "logical channel not supported", true),
    named("6882", "secure messaging not supported", true),
    named("6981", "command incompatible with the file structure", true),
    named("6982", "security status not satisfied", true),
    named("6984", "PIN blocked", true),
    named("6985", "conditions of use not satisfied", true),
    named("69FC", "secure messaging refused", true),
    named("6A80", "wrong data", true),
    named("6A81", "function not supported", false),
    named("6A82", "file not found", true),
    named("6A83", "record not found", true),
    named("6A86", "wrong P1-P2", true),
    named("6A88", "referenced data not found", true),
    named("6B00", "offset beyond the end of the file", true),
    named("6D00", "INS not supported", true),
    named("6E00", "CLA not supported", true),
    named("61xx", "bytes remaining", false),
    named("6Cxx", "wrong Le: the exact length is SW2", true),
    named(
        "6Axx",
        "wrong data (readertest: index of first wrong byte)",
        false,
    ),
];

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.0, self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_failed_encodes_tries() {
        assert_eq!(StatusWord::verify_failed(2).0, 0x63C2);
        assert_eq!(StatusWord::verify_failed(0).0, 0x63C0);
        assert_eq!(StatusWord(0x63C4).tries_left(), Some(4));
        assert_eq!(StatusWord::OK.tries_left(), None);
    }

    #[test]
    fn names_and_display() {
        assert_eq!(StatusWord::FILE_NOT_FOUND.to_string(), "6A82");
        assert_eq!(
            format!("{:?}", StatusWord::PIN_BLOCKED),
            "6984 (PIN blocked)"
        );
        assert_eq!(StatusWord::from_bytes(0x90, 0x00), StatusWord::OK);
    }

    #[test]
    fn every_status_word_takes_its_name_from_the_first_row_it_matches() {
        assert_eq!(StatusWord(0x63C2).name(), "wrong PIN");
        assert_eq!(StatusWord(0x6A82).name(), "file not found", "before 6Axx");
        assert_eq!(StatusWord(0x6A05).name(), NAMED[NAMED.len() - 1].meaning);
        assert_eq!(StatusWord(0x6110).name(), "bytes remaining");
        assert_eq!(StatusWord(0x6F00).name(), "unnamed status");
        let constants = [
            StatusWord::OK,
            StatusWord::WRONG_LENGTH,
            StatusWord::LOGICAL_CHANNEL_NOT_SUPPORTED,
            StatusWord::INCOMPATIBLE_WITH_FILE,
            StatusWord::SECURITY_STATUS_NOT_SATISFIED,
            StatusWord::PIN_BLOCKED,
            StatusWord::CONDITIONS_NOT_SATISFIED,
            StatusWord::WRONG_DATA,
            StatusWord::FILE_NOT_FOUND,
            StatusWord::DATA_NOT_FOUND,
            StatusWord::WRONG_P1P2,
            StatusWord::OFFSET_BEYOND_END,
            StatusWord::INS_NOT_SUPPORTED,
            StatusWord::CLA_NOT_SUPPORTED,
            StatusWord::SM_NOT_SUPPORTED,
            StatusWord::SM_REFUSED,
            StatusWord::FUNCTION_NOT_SUPPORTED,
            StatusWord::RECORD_NOT_FOUND,
            StatusWord::NO_SESSION_KEY,
        ];
        for sw in constants {
            let row = NAMED.iter().find(|n| n.matches(sw)).expect("named");
            assert_eq!(row.pattern, sw.to_string(), "{sw}: a row of its own");
        }
        for n in NAMED {
            assert!(
                n.pattern.len() == 4
                    && n.pattern.chars().all(|c| c == 'x' || c.is_ascii_hexdigit()),
                "{}",
                n.pattern
            );
        }
    }
}

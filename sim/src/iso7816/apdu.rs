//! The APDU codec: command APDUs of ISO/IEC 7816-4 cases 1–4 (short and extended) and responses.
//!
//! Like smoltcp's `wire` layer, a [`Command`] is a parsed representation that borrows its data
//! from the bytes it was parsed from; [`Command::parse`] and [`Command::emit`] are inverses.
//! Malformed bytes are an [`ApduError`], never a panic.

use crate::iso7816::status::StatusWord;
use std::fmt;

/// Why bytes are not a well-formed command APDU.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    /// Fewer than the four header bytes.
    #[error("an APDU needs at least 4 header bytes (CLA INS P1 P2), got {0}")]
    TooShort(usize),
    /// The body's length bytes do not match the number of bytes present.
    #[error("the APDU body is inconsistent: {0}")]
    BadBody(&'static str),
    /// A field does not fit its encoding (e.g. more than 65,535 data bytes).
    #[error("the APDU cannot be encoded: {0}")]
    Unencodable(&'static str),
    /// A response needs at least the two status bytes.
    #[error("a response needs at least SW1 SW2, got {0} bytes")]
    ResponseTooShort(usize),
}

/// The ISO/IEC 7816-4 case of a command: whether it carries data and whether it expects data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Case {
    /// No data, no response data.
    Case1,
    /// No data; response data expected (Le).
    Case2,
    /// Data (Lc); no response data.
    Case3,
    /// Data and response data.
    Case4,
}

/// A command APDU.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command<'a> {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (empty for cases 1 and 2).
    pub data: &'a [u8],
    /// Expected response length Ne: `None` (cases 1 and 3), 1..=256 (short) or 1..=65536
    /// (extended). An Le byte `00` means 256, extended `00 00` means 65536.
    pub le: Option<u32>,
    /// Whether the length fields use the extended (3-byte Lc / 2- or 3-byte Le) encoding.
    pub extended: bool,
}

impl<'a> Command<'a> {
    /// A case 1 command; add data and Le with the `with_*` methods.
    pub const fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: &[],
            le: None,
            extended: false,
        }
    }
    /// The same command with data.
    pub const fn with_data(mut self, data: &'a [u8]) -> Self {
        self.data = data;
        self
    }
    /// The same command with an expected length (1..=65536; 256 is `Le = 00`).
    pub const fn with_le(mut self, le: u32) -> Self {
        self.le = Some(le);
        self
    }
    /// The same command in the extended-length encoding.
    pub const fn extended(mut self) -> Self {
        self.extended = true;
        self
    }

    /// Its ISO case.
    pub fn case(&self) -> Case {
        match (self.data.is_empty(), self.le.is_some()) {
            (true, false) => Case::Case1,
            (true, true) => Case::Case2,
            (false, false) => Case::Case3,
            (false, true) => Case::Case4,
        }
    }

    /// The logical channel the class byte encodes, or `None` for a class byte that ISO/IEC
    /// 7816-4 reserves (0x20–0x3F, 0xA0–0xBF, 0xFF). Bits 1–0 for the first interindustry classes
    /// (and the proprietary 0x8X–0x9X classes built the same way), 4 + bits 3–0 for the further
    /// interindustry classes 0x40–0x7F (and 0xC0–0xFE). 0 is the basic channel.
    pub fn logical_channel(&self) -> Option<u8> {
        match self.cla {
            0x00..=0x1F | 0x80..=0x9F => Some(self.cla & 0x03),
            0x40..=0x7F | 0xC0..=0xFE => Some(4 + (self.cla & 0x0F)),
            _ => None,
        }
    }

    /// Parses the bytes of a command APDU.
    pub fn parse(bytes: &'a [u8]) -> Result<Command<'a>, ApduError> {
        if bytes.len() < 4 {
            return Err(ApduError::TooShort(bytes.len()));
        }
        let (cla, ins, p1, p2) = (bytes[0], bytes[1], bytes[2], bytes[3]);
        let body = &bytes[4..];
        let head = Command::new(cla, ins, p1, p2);
        let short_le = |b: u8| if b == 0 { 256 } else { u32::from(b) };
        let ext_le = |hi: u8, lo: u8| match u32::from(u16::from_be_bytes([hi, lo])) {
            0 => 65536,
            n => n,
        };
        match body.len() {
            // Case 1.
            0 => Ok(head),
            // Case 2 short.
            1 => Ok(head.with_le(short_le(body[0]))),
            _ if body[0] != 0 => {
                // Case 3 or 4 short: Lc = body[0].
                let lc = usize::from(body[0]);
                match body.len() - 1 {
                    n if n == lc => Ok(head.with_data(&body[1..])),
                    n if n == lc + 1 => Ok(head
                        .with_data(&body[1..1 + lc])
                        .with_le(short_le(body[1 + lc]))),
                    n if n < lc => Err(ApduError::BadBody("Lc announces more data than present")),
                    _ => Err(ApduError::BadBody(
                        "more bytes after the data than one Le byte",
                    )),
                }
            }
            // body[0] == 0 from here on: extended, or a short case 2/3 ambiguity.
            2 => Err(ApduError::BadBody(
                "an extended length needs two bytes after the 00",
            )),
            3 => Ok(head.with_le(ext_le(body[1], body[2])).extended()),
            _ => {
                let lc = usize::from(u16::from_be_bytes([body[1], body[2]]));
                if lc == 0 {
                    return Err(ApduError::BadBody(
                        "extended Lc of 0 followed by more bytes",
                    ));
                }
                let rest = &body[3..];
                match rest.len() {
                    n if n == lc => Ok(head.with_data(rest).extended()),
                    n if n == lc + 2 => Ok(head
                        .with_data(&rest[..lc])
                        .with_le(ext_le(rest[lc], rest[lc + 1]))
                        .extended()),
                    n if n < lc => Err(ApduError::BadBody(
                        "extended Lc announces more data than present",
                    )),
                    _ => Err(ApduError::BadBody(
                        "bytes after the data are not a two-byte extended Le",
                    )),
                }
            }
        }
    }

    /// The encoded length of this command.
    pub fn encoded_len(&self) -> usize {
        let lc_len = match (self.data.is_empty(), self.extended) {
            (true, _) => 0,
            (false, false) => 1,
            (false, true) => 3,
        };
        let le_len = match (self.le, self.extended, self.data.is_empty()) {
            (None, _, _) => 0,
            (Some(_), false, _) => 1,
            (Some(_), true, true) => 3,
            (Some(_), true, false) => 2,
        };
        4 + lc_len + self.data.len() + le_len
    }

    /// Appends the encoded command to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), ApduError> {
        let max_data = if self.extended { 65535 } else { 255 };
        if self.data.len() > max_data {
            return Err(ApduError::Unencodable(
                "too much data for the length encoding",
            ));
        }
        let max_le = if self.extended { 65536 } else { 256 };
        if let Some(le) = self.le
            && (le == 0 || le > max_le)
        {
            return Err(ApduError::Unencodable(
                "Le out of range for the length encoding",
            ));
        }
        out.reserve(self.encoded_len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            if self.extended {
                out.push(0);
                out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
            } else {
                out.push(self.data.len() as u8);
            }
            out.extend_from_slice(self.data);
        }
        if let Some(le) = self.le {
            let le = le & 0xFFFF; // 65536 → 0000, 256 → 00
            if self.extended {
                if self.data.is_empty() {
                    out.push(0);
                }
                out.extend_from_slice(&(le as u16).to_be_bytes());
            } else {
                out.push(le as u8);
            }
        }
        Ok(())
    }

    /// The encoded bytes.
    pub fn to_vec(&self) -> Result<Vec<u8>, ApduError> {
        let mut v = Vec::new();
        self.emit(&mut v)?;
        Ok(v)
    }
}

impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02X} {:02X} {:02X} {:02X}",
            self.cla, self.ins, self.p1, self.p2
        )?;
        if !self.data.is_empty() {
            write!(
                f,
                " Lc={} [{}]",
                self.data.len(),
                crate::hex_spaced(self.data)
            )?;
        }
        if let Some(le) = self.le {
            write!(f, " Le={le}")?;
        }
        if self.extended {
            write!(f, " (extended)")?;
        }
        Ok(())
    }
}

/// A response APDU: data followed by the status word.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Response {
    /// Response data (may be empty).
    pub data: Vec<u8>,
    /// The status word.
    pub sw: StatusWord,
}

impl Response {
    /// A response with no data.
    pub fn status(sw: StatusWord) -> Self {
        Response {
            data: Vec::new(),
            sw,
        }
    }
    /// `data` followed by 90 00.
    pub fn ok(data: Vec<u8>) -> Self {
        Response {
            data,
            sw: StatusWord::OK,
        }
    }
    /// Parses `data ‖ SW1 SW2`.
    pub fn parse(bytes: &[u8]) -> Result<Response, ApduError> {
        let n = bytes.len();
        if n < 2 {
            return Err(ApduError::ResponseTooShort(n));
        }
        Ok(Response {
            data: bytes[..n - 2].to_vec(),
            sw: StatusWord::from_bytes(bytes[n - 2], bytes[n - 1]),
        })
    }
    /// Appends `data ‖ SW1 SW2` to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
    }
    /// `data ‖ SW1 SW2`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.data.len() + 2);
        self.emit(&mut v);
        v
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.data.is_empty() {
            write!(f, "[{} bytes] ", self.data.len())?;
        }
        write!(f, "{:?}", self.sw)
    }
}

/// The longest command APDU ISO/IEC 7816-4 allows: a 4-byte header, an extended Lc (3 bytes),
/// 65,535 data bytes and an extended Le (2 bytes).
pub const MAX_COMMAND_LEN: usize = 4 + 3 + 65_535 + 2;
/// The longest response APDU: 65,536 data bytes and the status word.
pub const MAX_RESPONSE_LEN: usize = 65_536 + 2;

/// The instructions whose command data is a secret: VERIFY (20, 21 — PINs, and the card-info
/// AP's 照合番号A/B, which are VERIFYs too), CHANGE REFERENCE DATA (24, 25), RESET RETRY COUNTER
/// (2C, 2D — an unblocking code and a new PIN). Every output of kazasu (transcripts, serve's
/// JSON lines, imported scenarios, replay reports) hides the data of these commands, and of
/// JICSAP's CHANGE KEY (see [`secret_bearing_header`]).
pub const SECRET_BEARING_INS: [u8; 6] = [0x20, 0x21, 0x24, 0x25, 0x2C, 0x2D];

/// Whether `ins` is one of [`SECRET_BEARING_INS`].
pub fn secret_bearing_ins(ins: u8) -> bool {
    SECRET_BEARING_INS.contains(&ins)
}

/// Whether a command with this header (CLA INS P1 P2) carries a secret in its data: an
/// instruction of [`SECRET_BEARING_INS`], or JICSAP's CHANGE KEY `80 32 00 <80 | PIN>` (a new
/// PIN, in the 共通カードAP and the 住基AP) — told from the readertest applet's `80 32 00 00`
/// by its P2.
pub fn secret_bearing_header(header: &[u8]) -> bool {
    match header {
        [0x80, 0x32, 0x00, p2, ..] => p2 & 0x80 != 0,
        [_, ins, ..] => secret_bearing_ins(*ins),
        _ => false,
    }
}

/// Whether the command `apdu` carries secret data: a secret-bearing header with data after it.
/// (A VERIFY without data — a retry-counter query — carries none.)
pub fn carries_secret(apdu: &[u8]) -> bool {
    apdu.len() > 5 && secret_bearing_header(apdu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn change_key_hides_its_new_pin_and_the_readertest_command_does_not() {
        assert!(carries_secret(&hex("80 32 00 80 04 31 32 33 34")));
        assert!(carries_secret(&hex("80 32 00 9C 04 31 32 33 34")));
        assert!(!carries_secret(&hex("80 32 00 00 05 00 01 02 03 04")));
        assert!(carries_secret(&hex("00 20 00 80 04 31 32 33 34")));
        assert!(!carries_secret(&hex("00 20 00 80")));
    }

    #[test]
    fn parses_the_jpki_forms() {
        let sel = hex("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01");
        let c = Command::parse(&sel).unwrap();
        assert_eq!((c.cla, c.ins, c.p1, c.p2), (0x00, 0xA4, 0x04, 0x0C));
        assert_eq!(c.case(), Case::Case3);
        assert_eq!(c.data.len(), 10);

        let read = hex("00 B0 8A 00 04");
        let c = Command::parse(&read).unwrap();
        assert_eq!((c.case(), c.le, c.extended), (Case::Case2, Some(4), false));

        let read256 = hex("00 B0 00 00 00");
        assert_eq!(Command::parse(&read256).unwrap().le, Some(256));

        let ext = hex("00 B0 8A 04 00 06 7C");
        let c = Command::parse(&ext).unwrap();
        assert_eq!(
            (c.case(), c.le, c.extended),
            (Case::Case2, Some(0x067C), true)
        );

        let sign = hex("80 2A 00 80 03 01 02 03 00");
        let c = Command::parse(&sign).unwrap();
        assert_eq!(
            (c.case(), c.data, c.le),
            (Case::Case4, &[1u8, 2, 3][..], Some(256))
        );

        let ext4 = hex("80 2A 00 80 00 00 02 AA BB 00 00");
        let c = Command::parse(&ext4).unwrap();
        assert_eq!(
            (c.case(), c.data, c.le, c.extended),
            (Case::Case4, &[0xAAu8, 0xBB][..], Some(65536), true)
        );
    }

    #[test]
    fn malformed_bytes_are_errors() {
        assert_eq!(Command::parse(&[0x00, 0xA4]), Err(ApduError::TooShort(2)));
        assert!(matches!(
            Command::parse(&hex("00 A4 04 0C 05 01 02")),
            Err(ApduError::BadBody(_))
        ));
        assert!(matches!(
            Command::parse(&hex("00 A4 04 0C 01 01 02 03")),
            Err(ApduError::BadBody(_))
        ));
        assert!(matches!(
            Command::parse(&hex("00 B0 00 00 00 01")),
            Err(ApduError::BadBody(_))
        ));
        assert!(matches!(
            Command::parse(&hex("00 B0 00 00 00 00 00 01")),
            Err(ApduError::BadBody(_))
        ));
        assert!(Response::parse(&[0x90]).is_err());
    }

    #[test]
    fn emit_rejects_what_cannot_be_encoded() {
        let data = vec![0u8; 256];
        assert!(
            Command::new(0, 0xD6, 0, 0)
                .with_data(&data)
                .to_vec()
                .is_err()
        );
        assert!(
            Command::new(0, 0xD6, 0, 0)
                .with_data(&data)
                .extended()
                .to_vec()
                .is_ok()
        );
        assert!(Command::new(0, 0xB0, 0, 0).with_le(257).to_vec().is_err());
        assert!(Command::new(0, 0xB0, 0, 0).with_le(0).to_vec().is_err());
    }

    fn any_command() -> impl Strategy<Value = (u8, u8, u8, u8, Vec<u8>, Option<u32>, bool)> {
        (any::<bool>()).prop_flat_map(|extended| {
            let max_data = if extended { 1200 } else { 255 };
            let max_le = if extended { 65536u32 } else { 256 };
            (
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..=max_data),
                proptest::option::of(1..=max_le),
                Just(extended),
            )
        })
    }

    proptest! {
        #[test]
        fn emit_then_parse_is_identity((cla, ins, p1, p2, data, le, extended) in any_command()) {
            let mut cmd = Command::new(cla, ins, p1, p2).with_data(&data);
            cmd.le = le;
            // A command with neither data nor Le has no length field: it is never "extended".
            cmd.extended = extended && (le.is_some() || !data.is_empty());
            let bytes = cmd.to_vec().unwrap();
            prop_assert_eq!(bytes.len(), cmd.encoded_len());
            let back = Command::parse(&bytes).unwrap();
            prop_assert_eq!(back, cmd);
        }

        #[test]
        fn parse_then_emit_is_identity(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(cmd) = Command::parse(&bytes) {
                prop_assert_eq!(cmd.to_vec().unwrap(), bytes);
            }
        }

        #[test]
        fn responses_round_trip(data in proptest::collection::vec(any::<u8>(), 0..600), sw in any::<u16>()) {
            let r = Response { data, sw: StatusWord(sw) };
            prop_assert_eq!(Response::parse(&r.to_vec()).unwrap(), r);
        }
    }
}

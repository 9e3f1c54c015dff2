//! Reading a whole file sized by its DER header: the one read loop of kazasu's host. The strict
//! flows (a certificate for the auth flow) and the runner's `read_file` step (which reports
//! whatever the card answered) both read through it, each with its own exchange.

use super::apdu::{self, OffsetTooFar};
use kazasu_sim::Command;

/// A header with no DER length in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no DER length in header {}", kazasu_sim::hex_spaced(.0))]
pub struct NoDerLength(pub Vec<u8>);

/// The length of a BER-TLV object from its first bytes, or why it cannot be known: a tag of one
/// byte (`30`, a certificate) or of several (`FF 20`, `7F 21`: the My Number card's own files),
/// then a definite length of one to four bytes.
pub fn der_total_length(header: &[u8]) -> Result<usize, NoDerLength> {
    let no_length = || NoDerLength(header.to_vec());
    let tag_len = match header.first() {
        None => return Err(no_length()),
        Some(first) if first & 0x1F != 0x1F => 1,
        // A multi-byte tag: the bytes after the first up to one with bit 8 clear.
        Some(_) => {
            let more = header[1..].iter().position(|b| b & 0x80 == 0);
            2 + more.ok_or_else(no_length)?
        }
    };
    let (length_len, value_len) = match header.get(tag_len..).unwrap_or_default() {
        [len @ 0..=0x7F, ..] => (1, usize::from(*len)),
        [0x81, l, ..] => (2, usize::from(*l)),
        [0x82, h, l, ..] => (3, usize::from(u16::from_be_bytes([*h, *l]))),
        [0x83, a, b, c, ..] => (
            4,
            usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c),
        ),
        _ => return Err(no_length()),
    };
    Ok(tag_len + length_len + value_len)
}

/// How a whole-file read ended.
#[derive(Debug, PartialEq, Eq)]
pub enum FileRead<S> {
    /// The file, cut to the length its DER header gives.
    Whole(Vec<u8>),
    /// The exchange stopped the read (a status other than 90 00, a link failure, a malformed
    /// answer: whatever the caller's exchange makes of it), after `data`.
    Stopped {
        /// What was read before.
        data: Vec<u8>,
        /// Why the exchange stopped.
        at: S,
    },
    /// The first bytes are no DER header.
    NoHeader(NoDerLength),
    /// A READ BINARY answered 90 00 with no data before the end of the file.
    Empty {
        /// What was read before.
        data: Vec<u8>,
    },
    /// The file is longer than READ BINARY's offsets reach.
    TooFar {
        /// The length the header gives.
        total: usize,
        /// The offset no command reaches.
        reason: OffsetTooFar,
    },
}

/// Reads a whole file: `header` first (a READ BINARY of the first 4 bytes, of the selected EF or
/// by short EF id), then READ BINARY from where the data ends until the DER length is reached —
/// short reads of at most 256 bytes, or one extended read of the rest. `exchange(offset, cmd)`
/// sends a command (offset 0 is the header) and gives its data when the card answered 90 00, or
/// why the read stops.
pub fn read_whole<S>(
    header: Command<'static>,
    extended: bool,
    mut exchange: impl FnMut(usize, Command<'static>) -> Result<Vec<u8>, S>,
) -> FileRead<S> {
    let mut data = match exchange(0, header) {
        Ok(d) => d,
        Err(at) => {
            return FileRead::Stopped {
                data: Vec::new(),
                at,
            };
        }
    };
    // A header of a multi-byte tag and a long length (`FF 20 82 0B F9`) can outgrow the first
    // read: read a few bytes more, once.
    if der_total_length(&data).is_err() && data.len() >= 4 && data[0] & 0x1F == 0x1F {
        match apdu::read_at(data.len(), 4, false).map(|cmd| exchange(data.len(), cmd)) {
            Ok(Ok(more)) => data.extend(more),
            Ok(Err(at)) => return FileRead::Stopped { data, at },
            Err(_) => {}
        }
    }
    let total = match der_total_length(&data) {
        Ok(t) => t,
        Err(e) => return FileRead::NoHeader(e),
    };
    while data.len() < total {
        let offset = data.len();
        let cmd = match apdu::read_at(offset, total - offset, extended) {
            Ok(c) => c,
            Err(reason) => return FileRead::TooFar { total, reason },
        };
        match exchange(offset, cmd) {
            Ok(chunk) if chunk.is_empty() => return FileRead::Empty { data },
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(at) => return FileRead::Stopped { data, at },
        }
    }
    data.truncate(total);
    FileRead::Whole(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A card whose selected file is `file`, answering READ BINARY of at most `max` bytes.
    fn card(
        file: Vec<u8>,
        max: usize,
    ) -> impl FnMut(usize, Command<'static>) -> Result<Vec<u8>, ()> {
        move |_, cmd| {
            let bytes = cmd.to_vec().expect("encodes");
            let offset = usize::from(u16::from_be_bytes([bytes[2] & 0x7F, bytes[3]]));
            let le = match bytes.len() {
                5 if bytes[4] == 0 => 256,
                5 => usize::from(bytes[4]),
                7 if bytes[5..7] == [0, 0] => 65_536,
                7 => usize::from(u16::from_be_bytes([bytes[5], bytes[6]])),
                _ => panic!("no Le in {bytes:02X?}"),
            };
            let end = file.len().min(offset + le.min(max));
            Ok(file.get(offset..end).unwrap_or_default().to_vec())
        }
    }

    fn der(len: usize) -> Vec<u8> {
        let mut v = vec![0x30, 0x82];
        v.extend_from_slice(&(len as u16).to_be_bytes());
        v.extend((0..len).map(|i| i as u8));
        v
    }

    #[test]
    fn lengths_follow_one_and_two_byte_tags() {
        assert_eq!(der_total_length(&[0x30, 0x82, 0x06, 0x2E]), Ok(4 + 0x62E));
        assert_eq!(der_total_length(&[0xFF, 0x20, 0x82, 0x0B, 0xF9]), Ok(3_070));
        assert_eq!(der_total_length(&[0x7F, 0x21, 0x82, 0x02, 0x33]), Ok(568));
        assert_eq!(der_total_length(&[0xFF, 0x10, 0x0C]), Ok(15));
        assert!(der_total_length(&[0xFF, 0x20, 0x82, 0x0B]).is_err());
        assert!(der_total_length(&[0x5F]).is_err());
        assert!(der_total_length(&[]).is_err());
    }

    #[test]
    fn a_two_byte_tag_with_a_long_length_reads_whole() {
        let mut file = vec![0xFF, 0x20, 0x82, 0x03, 0x00];
        file.extend((0..0x300).map(|i| i as u8));
        let got = read_whole(apdu::read_header(None), false, card(file.clone(), 256));
        assert_eq!(got, FileRead::Whole(file));
    }

    #[test]
    fn a_file_is_read_to_its_der_length_and_no_further() {
        let mut file = der(1_000);
        file.extend_from_slice(&[0xFF; 50]); // padding after the object
        let mut reads = 0;
        let mut inner = card(file.clone(), 256);
        let got = read_whole(apdu::read_header(None), false, |o, c| {
            reads += 1;
            inner(o, c)
        });
        assert_eq!(got, FileRead::Whole(der(1_000)));
        assert_eq!(
            reads,
            1 + 4,
            "the header, then 256-byte chunks for 1,000 bytes"
        );
        let mut reads = 0;
        let mut inner = card(file.clone(), 65_536);
        let got = read_whole(apdu::read_header(None), true, |o, c| {
            reads += 1;
            inner(o, c)
        });
        assert_eq!(got, FileRead::Whole(der(1_000)));
        assert_eq!(reads, 2, "the header, then one extended read");
    }

    #[test]
    fn the_exchange_decides_where_a_read_stops_and_keeps_what_came_before() {
        let mut inner = card(der(600), 256);
        let got = read_whole(apdu::read_header(None), false, |offset, cmd| {
            if offset >= 260 {
                return Err("6982 at 260");
            }
            inner(offset, cmd).map_err(|()| "never")
        });
        match got {
            FileRead::Stopped { data, at } => {
                assert_eq!((data.len(), at), (260, "6982 at 260"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_header_an_empty_answer_and_an_unreachable_offset_are_told_apart() {
        let got = read_whole(apdu::read_header(None), false, |_, _| {
            Ok::<_, ()>(vec![0x30])
        });
        assert!(matches!(got, FileRead::NoHeader(_)), "{got:?}");
        let mut first = true;
        let got = read_whole(apdu::read_header(None), false, |_, _| {
            Ok::<_, ()>(if std::mem::take(&mut first) {
                vec![0x30, 0x82, 0x01, 0x00]
            } else {
                Vec::new()
            })
        });
        assert_eq!(
            got,
            FileRead::Empty {
                data: vec![0x30, 0x82, 0x01, 0x00]
            }
        );
        let got = read_whole(apdu::read_header(None), false, card(der(40_000), 65_536));
        assert!(
            matches!(
                got,
                FileRead::TooFar {
                    total: 40_004,
                    reason: OffsetTooFar(32_772)
                }
            ),
            "{got:?}"
        );
    }
}

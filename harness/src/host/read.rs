//! Reading a whole file sized by its DER header: the one read loop of kazasu's host. The strict
//! flows (a certificate for the auth flow) and the runner's `read_file` step (which reports
//! whatever the card answered) both read through it, each with its own exchange.

use super::apdu::{self, OffsetTooFar};
use kazasu_sim::Command;

/// A header with no DER length in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no DER length in header {}", kazasu_sim::hex_spaced(.0))]
pub struct NoDerLength(pub Vec<u8>);

/// The length of a DER object from its first bytes (tag, length), or why it cannot be known.
pub fn der_total_length(header: &[u8]) -> Result<usize, NoDerLength> {
    match header {
        [_, len @ 0..=0x7F, ..] => Ok(2 + usize::from(*len)),
        [_, 0x81, l, ..] => Ok(3 + usize::from(*l)),
        [_, 0x82, h, l, ..] => Ok(4 + usize::from(u16::from_be_bytes([*h, *l]))),
        [_, 0x83, a, b, c, ..] => {
            Ok(5 + (usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c)))
        }
        _ => Err(NoDerLength(header.to_vec())),
    }
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

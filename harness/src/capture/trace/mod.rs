//! Traces captured in the field, read from the formats of `docs/traces.md` into one
//! shape: the ATR, then command/response pairs with their timing, and card events (insertion,
//! removal, an exchange that got no answer or an error). A line that cannot be read is an error
//! naming its line number — never a silent skip or a guess.
//!
//! Formats: pcscd's `--debug --apdu` log (deltas in microseconds, interleaved lines, TTY colour
//! codes, syslog lines without deltas), pcsc-spy raw FIFO lines and `pcsc-spy -n` output, apdu4j /
//! GlobalPlatformPro dumps, OpenSC debug logs (`OPENSC_DEBUG=9`) and kazasu's own `serve`
//! JSONL transcripts. Captures that show several readers are narrowed to one with a reader filter.

pub use self::air::AirFrame;
use self::apdu4j::parse_apdu4j_raw;
pub use self::ccid::UsbIdentity;
use self::kazasu::parse_kazasu_raw;
use self::model::RawTrace;
use self::model::err;
pub use self::model::{ExchangeOutcome, Format, ParseError, Position, Trace, TraceEvent, What};
use self::opensc::parse_opensc_raw;
use self::pcscd::parse_pcscd_raw;
use self::spy::{parse_spy_decoded, parse_spy_raw};

mod model;

mod air;
mod apdu4j;
mod ccid;
mod kazasu;
mod opensc;
mod pcap;
mod pcscd;
mod proxmark;
mod spy;

/// Reads a capture in `format`; with `reader`, keeps only what happened on the reader whose name
/// contains it (needed when the capture shows APDUs for more than one reader).
pub fn parse(format: Format, text: &str, reader: Option<&str>) -> Result<Trace, ParseError> {
    parse_bytes(format, text.as_bytes(), reader)
}

/// [`parse`] of a file's bytes: pcap and pcapng are binary; the text formats are read as text
/// regardless of stray bytes (a binary dump, a cut line).
pub fn parse_bytes(
    format: Format,
    bytes: &[u8],
    reader: Option<&str>,
) -> Result<Trace, ParseError> {
    // Binary captures count packets or records, not lines: errors and events say which.
    let binary = |raw: Result<RawTrace, ParseError>, position: Position| {
        let named = |e: ParseError| match e.line {
            0 => e,
            n => err(0, format!("{} {n}: {}", position.word(), e.message)),
        };
        let mut trace = raw.and_then(|r| r.narrow(reader)).map_err(named)?;
        trace.position = position;
        Ok(trace)
    };
    if format == Format::Pcap || (format == Format::Auto && pcap::looks_like_pcap(bytes)) {
        return binary(pcap::parse_pcap_raw(bytes), Position::Packet);
    }
    if format == Format::Proxmark {
        return binary(proxmark::parse_proxmark_raw(bytes), Position::Record);
    }
    let text = String::from_utf8_lossy(bytes);
    let format = match format {
        Format::Auto => Format::detect(&text).ok_or_else(|| {
            err(
                0,
                "cannot tell the capture's format; name it (pcscd, pcsc-spy, pcsc-spy-decoded, apdu4j, opensc, kazasu, pcap)",
            )
        })?,
        f => f,
    };
    let raw = match format {
        Format::Pcscd => parse_pcscd_raw(&text)?,
        Format::PcscSpy => parse_spy_raw(&text)?,
        Format::PcscSpyDecoded => parse_spy_decoded(&text)?,
        Format::Apdu4j => parse_apdu4j_raw(&text)?,
        Format::Opensc => parse_opensc_raw(&text)?,
        Format::Kazasu => parse_kazasu_raw(&text)?,
        Format::Auto | Format::Pcap | Format::Proxmark => unreachable!("resolved above"),
    };
    raw.narrow(reader)
}

/// Whether a capture of `format` starting with `head` (its first 8 bytes) can hold air frames:
/// a Proxmark3 trace, or a pcap or pcapng file — told without reading the rest.
pub fn may_show_air(format: Format, head: &[u8]) -> bool {
    match format {
        Format::Proxmark => true,
        Format::Pcap | Format::Auto => pcap::looks_like_pcap(head),
        _ => false,
    }
}

/// The ISO 14443 air frames of a capture (pcap or pcapng: its air interface, or the one named
/// like `reader`; a Proxmark3 trace: every record), for what the frames themselves show.
pub fn air_frames(
    format: Format,
    bytes: &[u8],
    reader: Option<&str>,
) -> Result<Vec<AirFrame>, ParseError> {
    match format {
        Format::Proxmark => proxmark::proxmark_frames(bytes),
        Format::Pcap | Format::Auto if pcap::looks_like_pcap(bytes) => {
            pcap::pcap_air_frames(bytes, reader)
        }
        _ => Err(err(
            0,
            "only a pcap or pcapng file with ISO 14443 frames (link type 264) or a Proxmark3 trace shows the air",
        )),
    }
}

/// The CCID reader a USB capture shows the descriptors of: the one whose name (`usb 1.5`)
/// `reader` names part of (a slot's name, `usb 1.5 slot 0`, names its device), or the only one.
/// `None` for a file that is not a pcap, or shows no such reader or several.
pub fn usb_identity(bytes: &[u8], reader: Option<&str>) -> Option<UsbIdentity> {
    if !pcap::looks_like_pcap(bytes) {
        return None;
    }
    let mut found: Vec<UsbIdentity> = pcap::pcap_usb_identities(bytes)
        .ok()?
        .into_iter()
        .filter(|u| reader.is_none_or(|r| r.contains(&u.device) || u.device.contains(r)))
        .collect();
    (found.len() == 1).then(|| found.remove(0))
}

/// Reads a pcscd `--foreground --debug --apdu` log (one reader's APDUs, or fails naming them).
pub fn parse_pcscd(text: &str) -> Result<Trace, ParseError> {
    parse(Format::Pcscd, text, None)
}

/// Reads an apdu4j / GlobalPlatformPro dump.
pub fn parse_apdu4j(text: &str) -> Result<Trace, ParseError> {
    parse(Format::Apdu4j, text, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::trace::model::tests::exchanges;
    use proptest::prelude::*;

    const ALL: [Format; 6] = [
        Format::Pcscd,
        Format::PcscSpy,
        Format::PcscSpyDecoded,
        Format::Apdu4j,
        Format::Opensc,
        Format::Kazasu,
    ];

    #[test]
    fn two_readers_need_a_choice() {
        let log = "Received command: CONNECT from client 1 \n\
                   Attempting Connect to Reader A using protocol: 3\n\
                   Received command: CONNECT from client 2 \n\
                   Attempting Connect to Reader B using protocol: 3\n\
                   Received command: TRANSMIT from client 1 \n\
                   APDU: 00 B0 00 00 01\nSW: 90 00\n\
                   Received command: TRANSMIT from client 2 \n\
                   APDU: 00 B0 00 00 02\nSW: 90 00\n";
        let e = parse(Format::Pcscd, log, None).unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("--reader"), "{e}");
        let t = parse(Format::Pcscd, log, Some("B")).unwrap();
        assert_eq!(exchanges(&t)[0].0, [0x00, 0xB0, 0x00, 0x00, 0x02]);
        assert!(parse(Format::Pcscd, log, Some("C")).is_err());
    }

    proptest! {
        #[test]
        fn importers_never_panic(text in "\\PC{0,400}") {
            for f in ALL {
                if let Err(e) = parse(f, &text, None) {
                    prop_assert!(e.line <= text.lines().count());
                }
            }
            let _ = parse(Format::Auto, &text, Some("x"));
        }

        /// Clocks that run backwards or overflow (threads, midnight, garbage) never panic.
        #[test]
        fn odd_clocks_never_panic(t in proptest::collection::vec("[0-9]{1,25}", 4)) {
            let opensc = format!(
                "P:1; T:0x1 {}:{}:00.{} [t] x: reader 'R'\nOutgoing APDU (1 bytes):\n00\nP:1; T:0x1 00:00:00.000 [t] x\nIncoming APDU (2 bytes):\n90 00\n",
                t[0], t[1], t[2]
            );
            let _ = parse(Format::Opensc, &opensc, None);
            let spy = format!(
                "7F@>|{}|{}|SCardTransmit\n7F@0x1\n7F@00 \n7F@90 00 \n7F@<|0|0|SCardTransmit|0x00000000\n7F@>|0|0|SCardTransmit\n7F@0x1\n7F@00 \n7F@90 00 \n7F@<|{}|0|SCardTransmit|0x00000000\n",
                t[0], t[1], t[3]
            );
            let _ = parse(Format::PcscSpy, &spy, None);
        }
    }
}

//! The one shape every capture format is read into: the trace's events (the ATR, exchanges with
//! their outcome and timing, card events), the raw form before a reader is chosen, and the error
//! that names the line a capture cannot be read at.

//! Traces captured in the field, read from the formats of `docs/traces.md` into one
//! shape: the ATR, then command/response pairs with their timing, and card events (insertion,
//! removal, an exchange that got no answer or an error). A line that cannot be read is an error
//! naming its line number — never a silent skip or a guess.
//!
//! Formats: pcscd's `--debug --apdu` log (deltas in microseconds, interleaved lines, TTY colour
//! codes, syslog lines without deltas), pcsc-spy raw FIFO lines and `pcsc-spy -n` output, apdu4j /
//! GlobalPlatformPro dumps, OpenSC debug logs (`OPENSC_DEBUG=9`) and kazasu's own `serve`
//! JSONL transcripts. Captures that show several readers are narrowed to one with a reader filter.

use std::fmt;

/// The capture formats kazasu reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tell the format from the text.
    Auto,
    /// `pcscd --foreground --debug --apdu` output.
    Pcscd,
    /// pcsc-spy raw lines (`THREAD@…`, what libpcscspy writes to its FIFO).
    PcscSpy,
    /// `pcsc-spy -n` decoded output.
    PcscSpyDecoded,
    /// apdu4j / GlobalPlatformPro APDU dump.
    Apdu4j,
    /// OpenSC debug log (`OPENSC_DEBUG=9`).
    Opensc,
    /// kazasu `serve --transcript` JSONL.
    Kazasu,
    /// pcap or pcapng: ISO 14443 air frames (Proxmark3, NFCGate, Flipper Zero, `kazasu run
    /// --pcap`), exported ISO 7816 PDUs, USB captures of CCID readers (USBPcap, usbmon).
    Pcap,
    /// Proxmark3 `trace save` file (`.trace`): ISO 14443 air frames in carrier periods.
    Proxmark,
}

/// How many lines of a capture format detection reads.
pub(super) const DETECT_LINES: usize = 100_000;

impl Format {
    /// The format a capture is in, from its first lines.
    pub fn detect(text: &str) -> Option<Format> {
        // A capture's first exchange may come after a long start: pcscd's debug log of a machine
        // with many readers, say, polls them all before anything is read.
        let head: Vec<&str> = text.lines().take(DETECT_LINES).collect();
        let any = |f: &dyn Fn(&str) -> bool| head.iter().any(|l| f(l));
        if any(&|l| l.trim_start().starts_with('{') && l.contains("\"event\"")) {
            Some(Format::Kazasu)
        } else if any(&|l| l.contains("@>|") || l.contains("@<|")) {
            Some(Format::PcscSpy)
        } else if any(&|l| l.starts_with(" i ") || l.starts_with(" => ")) {
            Some(Format::PcscSpyDecoded)
        } else if any(&|l| {
            l.contains("Outgoing APDU (") || (l.starts_with("P:") && l.contains("; T:"))
        }) {
            Some(Format::Opensc)
        } else if any(&|l| l.contains("APDU: ") || l.contains("Card ATR: ")) {
            Some(Format::Pcscd)
        } else if any(&|l| l.starts_with('#')) {
            Some(Format::Apdu4j)
        } else {
            None
        }
    }
}

/// How an exchange ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExchangeOutcome {
    /// A response: data ‖ SW1 SW2.
    Response(Vec<u8>),
    /// Nothing came back (a 0-byte response: the card left or the link broke).
    Nothing,
    /// The stack reported an error, e.g. `SCARD_W_REMOVED_CARD`, `SCARD_E_NOT_TRANSACTED`.
    Error(String),
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// A command and how it ended.
    Exchange {
        /// Command APDU. When `redacted`, the data bytes are unknown (shown as zero).
        command: Vec<u8>,
        /// The capture hid the command's data (a PIN in a kazasu transcript).
        redacted: bool,
        /// The capture hid the answer's data, because it echoed a secret (a kazasu transcript
        /// of the readertest card's dump): its bytes are unknown (zero), only its length holds.
        answer_hidden: bool,
        /// The response or failure.
        outcome: ExchangeOutcome,
        /// How long until the response, µs (when the format says).
        took_us: Option<u64>,
    },
    /// The card entered the field (with its ATR when the capture shows it).
    Inserted {
        /// The ATR.
        atr: Option<Vec<u8>>,
    },
    /// The card left the field.
    Removed,
}

/// One event with where it is in the capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// 1-based line in the capture.
    pub line: usize,
    /// When it started, µs since the start of the capture (when the format says).
    pub at_us: Option<u64>,
    /// What happened.
    pub what: What,
}

impl TraceEvent {
    /// The command, for an exchange.
    pub fn command(&self) -> Option<&[u8]> {
        match &self.what {
            What::Exchange { command, .. } => Some(command),
            _ => None,
        }
    }
}

/// What a trace event's `line` counts: a text capture's lines, a pcap file's packets, a
/// Proxmark3 trace's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Position {
    /// Lines of text.
    #[default]
    Line,
    /// Packets of a pcap or pcapng file.
    Packet,
    /// Records of a Proxmark3 trace.
    Record,
}

impl Position {
    /// The word, as in "line 12" or "packet 12".
    pub fn word(self) -> &'static str {
        match self {
            Position::Line => "line",
            Position::Packet => "packet",
            Position::Record => "record",
        }
    }
}

/// A trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// What the events' `line` counts.
    pub position: Position,
    /// The ATR, if the capture shows one.
    pub atr: Option<Vec<u8>>,
    /// The reader the trace was taken on, if the capture names it.
    pub reader: Option<String>,
    /// Events in order.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// The number of command/response exchanges.
    pub fn exchanges(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e.what, What::Exchange { .. }))
            .count()
    }
}

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number (0: the capture as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

pub(super) fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

pub(super) fn hex_of(text: &str, line: usize, what: &str) -> Result<Vec<u8>, ParseError> {
    decode_hex(text).ok_or_else(|| err(line, format!("{what} is not hex bytes: `{}`", text.trim())))
}

/// Hex bytes with any spaces or colons between them (`90 00`, `9000`, `3b:88`); `None` for
/// anything else or an odd number of digits.
pub(super) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    /// A character's nibble; `SKIP` between bytes, `BAD` for anything else.
    const SKIP: u8 = 0x10;
    const BAD: u8 = 0xFF;
    const CLASS: [u8; 256] = {
        let mut t = [BAD; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t[b' ' as usize] = SKIP;
        t[b'\t' as usize] = SKIP;
        t[b':' as usize] = SKIP;
        t[b'\r' as usize] = SKIP;
        t
    };
    let mut out = Vec::with_capacity(text.len() / 3 + 1);
    // The common shape first, `HH HH HH `: two digits and a space at a time.
    let bytes = text.as_bytes();
    let mut spaced = bytes.chunks_exact(3);
    for c in spaced.by_ref() {
        let (h, l) = (CLASS[c[0] as usize], CLASS[c[1] as usize]);
        // Digits are below SKIP, so one comparison sees a non-digit in either.
        if (h | l) >= SKIP || c[2] != b' ' {
            out.clear();
            break;
        }
        out.push(h << 4 | l);
    }
    if out.len() * 3 == bytes.len() - spaced.remainder().len() {
        match *spaced.remainder() {
            [] => return Some(out),
            [h, l] if CLASS[h as usize] < SKIP && CLASS[l as usize] < SKIP => {
                out.push(CLASS[h as usize] << 4 | CLASS[l as usize]);
                return Some(out);
            }
            _ => {}
        }
        if !out.is_empty() {
            out.clear();
        }
    }
    let mut high: Option<u8> = None;
    for b in text.bytes() {
        let nibble = match CLASS[b as usize] {
            SKIP => continue,
            BAD => return None,
            n => n,
        };
        match high.take() {
            None => high = Some(nibble),
            Some(h) => out.push(h << 4 | nibble),
        }
    }
    high.is_none().then_some(out)
}

/// A trace before it is narrowed to one reader: every event with the reader it happened on
/// (an index into `readers`: a long capture names its reader on every exchange, and a name
/// held once is compared and copied once).
#[derive(Default)]
pub(super) struct RawTrace {
    pub(super) events: Vec<(Option<u32>, TraceEvent)>,
    /// The readers named, in the order first seen.
    readers: Vec<String>,
    /// ATRs by reader (`None`: the capture does not say which reader).
    pub(super) atrs: Vec<(Option<String>, Vec<u8>)>,
}

impl RawTrace {
    /// An empty trace with room for `events`.
    pub(super) fn with_capacity(events: usize) -> Self {
        RawTrace {
            events: Vec::with_capacity(events),
            ..Default::default()
        }
    }

    /// The index of a reader's name (the last one looked up is checked first).
    fn reader_index(&mut self, name: &str) -> u32 {
        if let Some(i) = self.readers.iter().rposition(|r| r == name) {
            return i as u32;
        }
        self.readers.push(name.to_string());
        (self.readers.len() - 1) as u32
    }

    /// Whether the last event happened on `reader`.
    pub(super) fn last_event_on(&self, reader: Option<&str>) -> bool {
        self.events
            .last()
            .is_some_and(|(r, _)| r.map(|i| self.readers[i as usize].as_str()) == reader)
    }

    pub(super) fn push(
        &mut self,
        reader: Option<&str>,
        line: usize,
        at_us: Option<u64>,
        what: What,
    ) {
        let reader = reader.map(|r| self.reader_index(r));
        self.events.push((reader, TraceEvent { line, at_us, what }));
    }

    pub(super) fn exchange(
        &mut self,
        reader: Option<&str>,
        line: usize,
        at_us: Option<u64>,
        command: Vec<u8>,
        outcome: ExchangeOutcome,
        took_us: Option<u64>,
    ) {
        self.push(
            reader,
            line,
            at_us,
            What::Exchange {
                command,
                redacted: false,
                answer_hidden: false,
                outcome,
                took_us,
            },
        );
    }

    pub(super) fn narrow(self, wanted: Option<&str>) -> Result<Trace, ParseError> {
        let matches = |r: &str| wanted.is_none_or(|w| r.contains(w));
        // The readers that saw APDUs, with the line of the first.
        let mut readers: Vec<(u32, usize)> = Vec::new();
        for (r, e) in &self.events {
            if let (Some(r), What::Exchange { .. }) = (r, &e.what)
                && !readers.iter().any(|(x, _)| x == r)
                && matches(&self.readers[*r as usize])
            {
                readers.push((*r, e.line));
            }
        }
        if readers.len() > 1 {
            let names: Vec<String> = readers
                .iter()
                .map(|(r, _)| format!("`{}`", self.readers[*r as usize]))
                .collect();
            return Err(err(
                readers[1].1,
                format!(
                    "the capture has APDUs for {} readers ({}); choose one with --reader",
                    readers.len(),
                    names.join(", ")
                ),
            ));
        }
        if let (Some(w), true) = (wanted, readers.is_empty())
            && self.events.iter().any(|(r, _)| r.is_some())
        {
            return Err(err(0, format!("no APDUs on a reader named like `{w}`")));
        }
        let index = readers.first().map(|(r, _)| *r);
        let reader = index.map(|r| self.readers[r as usize].clone());
        let keep = |r: &Option<u32>| r.is_none() || index.is_none() || *r == index;
        // The ATR: the last one for the reader seen before its first exchange, else any.
        let atr = self
            .atrs
            .iter()
            .rev()
            .find(|(r, _)| r.is_some() && *r == reader)
            .or_else(|| self.atrs.iter().rev().find(|(r, _)| r.is_none()))
            .or_else(|| {
                if reader.is_none() {
                    self.atrs.last()
                } else {
                    None
                }
            })
            .map(|(_, a)| a.clone());
        let events = self
            .events
            .into_iter()
            .filter(|(r, _)| keep(r))
            .map(|(_, e)| e)
            .collect::<Vec<TraceEvent>>();
        // A transmit without command bytes never reaches a card (PC/SC refuses it): a capture
        // showing one is cut or garbled, and replaying it would test nothing.
        if let Some(e) = events
            .iter()
            .find(|e| matches!(&e.what, What::Exchange { command, .. } if command.is_empty()))
        {
            return Err(err(
                e.line,
                "a command of 0 bytes: no host can send an empty APDU, so the capture is cut or garbled here; fix or remove the exchange",
            ));
        }
        Ok(Trace {
            position: Position::Line,
            atr,
            reader,
            events,
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use clap::ValueEnum;
        let v = self.to_possible_value().expect("no skipped variants");
        f.write_str(v.get_name())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The spaced fast path decodes as the plain reading does: the digits in order, with
        /// spaces, tabs, colons and CRs ignored; anything else or an odd count refused.
        #[test]
        fn hex_decodes_the_same_by_either_path(text in "[0-9a-fA-F :\\tx\\r]{0,24}|([0-9A-F]{2} ){0,8}[0-9A-F]{0,2}") {
            let digits: Vec<u8> = text
                .chars()
                .filter(|c| !matches!(c, ' ' | ':' | '\t' | '\r'))
                .map(|c| c.to_digit(16).map(|d| d as u8).unwrap_or(0xFF))
                .collect();
            let want = (digits.len().is_multiple_of(2) && !digits.contains(&0xFF))
                .then(|| digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect::<Vec<u8>>());
            prop_assert_eq!(decode_hex(&text), want);
        }
    }

    /// The exchanges of a trace with their outcomes.
    pub(in crate::capture::trace) fn exchanges(t: &Trace) -> Vec<(Vec<u8>, ExchangeOutcome)> {
        t.events
            .iter()
            .filter_map(|e| match &e.what {
                What::Exchange {
                    command, outcome, ..
                } => Some((command.clone(), outcome.clone())),
                _ => None,
            })
            .collect()
    }

    fn sample(name: &str) -> String {
        let path = format!("{}/../scenarios/traces/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn every_sample_capture_is_told_by_its_text() {
        for (file, format) in [
            ("opensc-read-cert.pcscd.log", Format::Pcscd),
            ("opensc-read-cert.opensc.log", Format::Opensc),
            ("opensc-read-cert.apdu4j.dump", Format::Apdu4j),
            ("pkcs11-sign.kazasu.jsonl", Format::Kazasu),
            ("scriptor-readertest.pcsc-spy.log", Format::PcscSpy),
            (
                "scriptor-readertest.pcsc-spy-decoded.txt",
                Format::PcscSpyDecoded,
            ),
        ] {
            assert_eq!(Format::detect(&sample(file)), Some(format), "{file}");
        }
        assert_eq!(Format::detect("hello\nworld\n"), None);
    }

    #[test]
    fn a_trace_counts_its_exchanges_and_only_they_have_a_command() {
        let exchange = |line| TraceEvent {
            line,
            at_us: None,
            what: What::Exchange {
                command: vec![0x00, 0xA4, 0x04, 0x0C],
                redacted: false,
                answer_hidden: false,
                outcome: ExchangeOutcome::Nothing,
                took_us: None,
            },
        };
        let removed = TraceEvent {
            line: 3,
            at_us: Some(10),
            what: What::Removed,
        };
        assert_eq!(removed.command(), None);
        assert_eq!(exchange(1).command(), Some(&[0x00, 0xA4, 0x04, 0x0C][..]));
        let trace = Trace {
            events: vec![exchange(1), removed, exchange(5)],
            ..Trace::default()
        };
        assert_eq!(trace.exchanges(), 2);
    }
}

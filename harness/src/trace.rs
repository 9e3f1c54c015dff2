//! Traces captured in the field, read from the formats of `shared/reference/traces.md` into one
//! shape: the ATR, then command/response pairs with their timing, and card events. A line that
//! cannot be read is an error naming its line number — never a silent skip or a guess.
//!
//! Read so far: pcscd's `--debug --apdu` log (deltas in microseconds, interleaved lines, TTY
//! colour codes, syslog lines without deltas) and apdu4j / GlobalPlatformPro dumps.

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A command and its response (data ‖ SW; empty when the stack got nothing back).
    Exchange {
        /// Command APDU.
        command: Vec<u8>,
        /// Response APDU.
        response: Vec<u8>,
        /// When the command went out, µs since the start of the trace (when the format says).
        at_us: Option<u64>,
        /// How long until the response, µs (when the format says).
        took_us: Option<u64>,
    },
    /// The card answered nothing (a 0-byte response: the card left or the link broke).
    NoResponse {
        /// The command that got nothing.
        command: Vec<u8>,
    },
}

/// A trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The ATR, if the capture shows one.
    pub atr: Option<Vec<u8>>,
    /// Events in order.
    pub events: Vec<TraceEvent>,
}

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn hex_of(text: &str, line: usize, what: &str) -> Result<Vec<u8>, ParseError> {
    kazasu_sim::parse_hex(text.trim()).map_err(|_| ParseError {
        line,
        message: format!("{what} is not hex bytes: `{}`", text.trim()),
    })
}

/// Removes ANSI colour sequences (pcscd on a colour terminal).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads a pcscd `--foreground --debug --apdu` log.
pub fn parse_pcscd(text: &str) -> Result<Trace, ParseError> {
    let mut trace = Trace::default();
    let mut clock: u64 = 0;
    let mut pending: Option<(Vec<u8>, u64, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_ansi(raw);
        // `%.8d message`: the delta in µs since the previous line (absent through syslog).
        let (delta, msg) = match line.split_once(' ') {
            Some((d, rest)) if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) => {
                (d.parse::<u64>().ok(), rest)
            }
            _ => (None, line.as_str()),
        };
        clock += delta.unwrap_or(0);
        // Through syslog: `Nov 28 10:00:00 host pcscd[812]: APDU: …` or `pcscd: APDU: …`.
        let msg = match msg.find("pcscd") {
            Some(p) => match msg[p..].find(": ") {
                Some(c) => &msg[p + c + 2..],
                None => msg,
            },
            None => msg,
        };
        // A thread tag on colour terminals: `[140…] APDU: …`.
        let msg = msg.trim_start();
        let msg = match msg.strip_prefix('[').and_then(|m| m.split_once("] ")) {
            Some((_, rest)) => rest,
            None => msg,
        };
        if let Some(h) = msg.strip_prefix("APDU: ") {
            if let Some((_, _, at)) = &pending {
                return Err(ParseError {
                    line: n,
                    message: format!("a second APDU before the SW of the one on line {at}"),
                });
            }
            pending = Some((hex_of(h, n, "the APDU")?, clock, n));
        } else if let Some(h) = msg
            .strip_prefix("SW: ")
            .or_else(|| (msg.trim_end() == "SW:").then_some(""))
        {
            let Some((command, sent, _)) = pending.take() else {
                return Err(ParseError {
                    line: n,
                    message: "an SW line without an APDU before it".into(),
                });
            };
            let response = hex_of(h, n, "the SW")?;
            let timed = delta.is_some();
            trace.events.push(if response.is_empty() {
                TraceEvent::NoResponse { command }
            } else {
                TraceEvent::Exchange {
                    command,
                    response,
                    at_us: timed.then_some(sent),
                    took_us: timed.then_some(clock - sent),
                }
            });
        } else if let Some(h) = msg.strip_prefix("Card ATR: ") {
            trace.atr = Some(hex_of(h, n, "the ATR")?);
        }
        // Every other line is pcscd talking about something else: not part of the trace.
    }
    if let Some((_, _, at)) = pending {
        return Err(ParseError {
            line: at,
            message: "an APDU without an SW line after it (the capture ends)".into(),
        });
    }
    Ok(trace)
}

/// Reads an apdu4j / GlobalPlatformPro dump: `# ATR: …` and other comments, then alternating
/// hex lines (command, response).
pub fn parse_apdu4j(text: &str) -> Result<Trace, ParseError> {
    let mut trace = Trace::default();
    let mut pending: Option<(Vec<u8>, usize)> = None;
    let mut took: Option<u64> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let c = comment.trim();
            if let Some(h) = c.strip_prefix("ATR:") {
                trace.atr = Some(hex_of(h, n, "the ATR")?);
            } else if let Some(ms) = c
                .strip_prefix("Received in ")
                .and_then(|r| r.strip_suffix("ms"))
            {
                took = ms
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .map(|m| m.saturating_mul(1000));
            }
            continue;
        }
        let bytes = hex_of(line, n, "the line")?;
        match pending.take() {
            None => pending = Some((bytes, n)),
            Some((command, _)) => {
                if bytes.len() < 2 {
                    return Err(ParseError {
                        line: n,
                        message: "a response needs at least SW1 SW2".into(),
                    });
                }
                trace.events.push(TraceEvent::Exchange {
                    command,
                    response: bytes,
                    at_us: None,
                    took_us: took.take(),
                });
            }
        }
    }
    if let Some((_, at)) = pending {
        return Err(ParseError {
            line: at,
            message: "a command without a response after it".into(),
        });
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pcscd_log_from_the_reference() {
        let log = "00000005 Card ATR: 3B 95 13 81 01 80 73 FF 01 00 0B \n\
                   00000012 winscard.c:1596:SCardTransmit() Send Protocol: T=1\n\
                   00000003 APDU: 00 84 00 00 08 \n\
                   00043848 SW: 33 14 B2 61 BA 38 9B 7D 90 00 \n\
                   00000002 winscard_svc.c:694:ContextThread() TRANSMIT for client 9, rv=SCARD_S_SUCCESS\n\
                   00000003 APDU: 00 A4 04 0C 02 00 0A \n\
                   00000135 SW: \n";
        let t = parse_pcscd(log).unwrap();
        assert_eq!(
            t.atr.unwrap(),
            [
                0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B
            ]
        );
        assert_eq!(t.events.len(), 2);
        match &t.events[0] {
            TraceEvent::Exchange {
                command,
                response,
                at_us,
                took_us,
            } => {
                assert_eq!(command, &[0x00, 0x84, 0x00, 0x00, 0x08]);
                assert_eq!(response.len(), 10);
                assert_eq!((*at_us, *took_us), (Some(20), Some(43848)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            t.events[1],
            TraceEvent::NoResponse {
                command: vec![0x00, 0xA4, 0x04, 0x0C, 0x02, 0x00, 0x0A]
            }
        );
    }

    #[test]
    fn colour_codes_and_syslog_lines() {
        let tty = "00000003 \u{1b}[32m[140234] APDU: 00 B0 00 00 04 \u{1b}[0m\n00000100 \u{1b}[32m[140234] SW: 30 82 03 65 90 00 \u{1b}[0m\n";
        let t = parse_pcscd(tty).unwrap();
        assert_eq!(t.events.len(), 1);
        let syslog = "pcscd: APDU: 00 B0 00 00 04\nAPDU: 00 B0 00 00 04\nSW: 90 00\n";
        let e = parse_pcscd(syslog).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(parse_pcscd("00000001 SW: 90 00\n").unwrap_err().line, 1);
        assert_eq!(
            parse_pcscd("x\n00000001 APDU: 00 ZZ\n").unwrap_err().line,
            2
        );
        assert_eq!(
            parse_pcscd("00000001 APDU: 00 A4 00 00\n")
                .unwrap_err()
                .line,
            1
        );
        assert!(
            parse_apdu4j("# ATR: 3B 00\n00 A4 04 00\n")
                .unwrap_err()
                .message
                .contains("without a response")
        );
    }

    #[test]
    fn apdu4j_dump() {
        let dump = "# ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F\n# PROTOCOL: T=1\n#\n# Sent\n00A4040C0AD392F000260100000001\n# Received in 24ms\n9000\n";
        let t = parse_apdu4j(dump).unwrap();
        assert_eq!(t.atr.unwrap().len(), 13);
        assert_eq!(
            t.events,
            [TraceEvent::Exchange {
                command: kazasu_sim::parse_hex("00A4040C0AD392F000260100000001").unwrap(),
                response: vec![0x90, 0x00],
                at_us: None,
                took_us: Some(24_000),
            }]
        );
    }

    proptest! {
        #[test]
        fn importers_never_panic(text in "\\PC{0,400}") {
            let _ = parse_pcscd(&text);
            let _ = parse_apdu4j(&text);
        }

        #[test]
        fn pcscd_lines_never_panic(lines in proptest::collection::vec("(0000[0-9]{4} )?(APDU: |SW: |Card ATR: )?[0-9A-F ]{0,20}", 0..20)) {
            let _ = parse_pcscd(&lines.join("\n"));
        }
    }
}

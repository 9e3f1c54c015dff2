//! pcscd's debug log (`pcscd -f -d`, with or without colours): the APDUs its
//! IFD handler sent and received, with the card events and timestamps around them.

use super::model::{ExchangeOutcome, ParseError, RawTrace, TraceEvent, What, err, hex_of};
use std::collections::HashMap;

/// Removes ANSI colour sequences (pcscd on a colour terminal).
pub(super) fn strip_ansi(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('\u{1b}') {
        return std::borrow::Cow::Borrowed(line);
    }
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
    std::borrow::Cow::Owned(out)
}

/// The text after `key` up to `until` (or the end).
pub(super) fn between<'a>(text: &'a str, key: &str, until: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    Some(rest.find(until).map_or(rest, |e| &rest[..e]).trim())
}

pub(super) fn parse_pcscd_raw(text: &str) -> Result<RawTrace, ParseError> {
    let mut raw = RawTrace::default();
    let mut clock: u64 = 0;
    let mut timed = false;
    // (command, sent at, line, reader)
    let mut pending: Option<(Vec<u8>, u64, usize, Option<String>)> = None;
    let mut client_reader: HashMap<String, String> = HashMap::new();
    let mut connecting: Option<String> = None;
    let mut current: Option<String> = None;
    let mut atr_reader: Option<String> = None;
    for (i, raw_line) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_ansi(raw_line);
        // `%.8d message`: the delta in µs since the previous line (absent through syslog).
        let (delta, msg) = match line.split_once(' ') {
            Some((d, rest)) if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) => {
                (d.parse::<u64>().ok(), rest)
            }
            _ => (None, &*line),
        };
        if let Some(d) = delta {
            clock = clock.saturating_add(d);
            timed = true;
        }
        // Through syslog (no delta): `Nov 28 10:00:00 host pcscd[812]: APDU: …` or `pcscd: …`.
        let msg = match msg.find("pcscd").filter(|_| delta.is_none()) {
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
        let at = timed.then_some(clock);
        if let Some(h) = msg.strip_prefix("APDU: ") {
            if let Some((_, _, first, _)) = &pending {
                return Err(err(
                    n,
                    format!("a second APDU before the SW of the one on line {first}"),
                ));
            }
            pending = Some((hex_of(h, n, "the APDU")?, clock, n, current.clone()));
        } else if let Some(h) = msg
            .strip_prefix("SW: ")
            .or_else(|| (msg.trim_end() == "SW:").then_some(""))
        {
            let Some((command, sent, first, reader)) = pending.take() else {
                return Err(err(n, "an SW line without an APDU before it"));
            };
            let response = hex_of(h, n, "the SW")?;
            let outcome = if response.is_empty() {
                ExchangeOutcome::Nothing
            } else if response.len() < 2 {
                return Err(err(n, "a response needs at least SW1 SW2"));
            } else {
                ExchangeOutcome::Response(response)
            };
            raw.exchange(
                reader.as_deref(),
                first,
                timed.then_some(sent),
                command,
                outcome,
                timed.then_some(clock - sent),
            );
        } else if let Some(h) = msg.strip_prefix("Card ATR: ") {
            let atr = hex_of(h, n, "the ATR")?;
            raw.atrs.push((atr_reader.clone(), atr.clone()));
            // The ATR of an insertion event belongs to that event.
            if let Some((r, TraceEvent { what, .. })) = raw.events.last_mut()
                && let What::Inserted { atr: slot @ None } = what
                && *r == atr_reader
            {
                *slot = Some(atr);
            }
        } else {
            // `file.c:line:Function() text`: what pcscd says, after the function's name.
            let text = msg.split_once("() ").map_or(msg, |(_, t)| t);
            pcscd_context(
                text,
                n,
                at,
                &mut raw,
                &mut PcscdState {
                    connecting: &mut connecting,
                    client_reader: &mut client_reader,
                    current: &mut current,
                    atr_reader: &mut atr_reader,
                },
            );
            if text.starts_with("TRANSMIT for client ")
                && let Some(rv) = between(text, "rv=", " ")
                && rv != "SCARD_S_SUCCESS"
                && let Some((command, sent, first, reader)) = pending.take()
            {
                raw.exchange(
                    reader.as_deref(),
                    first,
                    timed.then_some(sent),
                    command,
                    ExchangeOutcome::Error(rv.to_string()),
                    timed.then_some(clock - sent),
                );
            }
        }
        // Every other line is pcscd talking about something else: not part of the trace.
    }
    if let Some((_, _, first, _)) = pending {
        return Err(err(
            first,
            "an APDU without an SW line after it (the capture ends)",
        ));
    }
    Ok(raw)
}

/// What pcscd's context lines tell about which reader an APDU goes to.
pub(super) struct PcscdState<'a> {
    /// The client whose CONNECT is in progress.
    connecting: &'a mut Option<String>,
    /// The reader each client connected to.
    client_reader: &'a mut HashMap<String, String>,
    /// The reader of the TRANSMIT in progress.
    current: &'a mut Option<String>,
    /// The reader the next `Card ATR:` line belongs to.
    atr_reader: &'a mut Option<String>,
}

/// Reads one of pcscd's context lines (`text` is what follows the function's name).
pub(super) fn pcscd_context(
    text: &str,
    n: usize,
    at: Option<u64>,
    raw: &mut RawTrace,
    st: &mut PcscdState<'_>,
) {
    let word = |t: &str| t.split(' ').next().unwrap_or("").to_string();
    if let Some(client) = text.strip_prefix("Received command: TRANSMIT from client ") {
        *st.current = st.client_reader.get(client.trim_end()).cloned();
    } else if let Some(client) = text.strip_prefix("Received command: CONNECT from client ") {
        *st.connecting = Some(word(client.trim_end()));
    } else if let Some(rest) = text.strip_prefix("Attempting Connect to ") {
        let reader = rest.split(" using protocol").next().unwrap_or(rest).trim();
        if let Some(c) = st.connecting.take() {
            st.client_reader.insert(c, reader.to_string());
        }
        *st.atr_reader = Some(reader.to_string());
    } else if let Some(reader) = text.strip_prefix("Card inserted into ") {
        let reader = reader.trim();
        *st.atr_reader = Some(reader.to_string());
        raw.push(Some(reader), n, at, What::Inserted { atr: None });
    } else if let Some(reader) = text.strip_prefix("Card Removed From ") {
        raw.push(Some(reader.trim()), n, at, What::Removed);
    }
}

#[cfg(test)]
mod tests {

    use crate::capture::trace::model::tests::exchanges;
    use crate::capture::trace::{ExchangeOutcome, What, parse_apdu4j, parse_pcscd};
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
            t.atr.clone().unwrap(),
            [
                0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B
            ]
        );
        assert_eq!(t.events.len(), 2);
        assert_eq!(t.events[0].line, 3);
        assert_eq!(t.events[0].at_us, Some(20));
        match &t.events[0].what {
            What::Exchange {
                command,
                outcome: ExchangeOutcome::Response(response),
                took_us,
                ..
            } => {
                assert_eq!(command, &[0x00, 0x84, 0x00, 0x00, 0x08]);
                assert_eq!(response.len(), 10);
                assert_eq!(*took_us, Some(43848));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(exchanges(&t)[1].1, ExchangeOutcome::Nothing);
    }

    #[test]
    fn pcscd_attributes_apdus_to_readers_and_sees_removals() {
        let log = "00000003 eventhandler.c:423:EHStatusHandlerThread() Card inserted into Virtual PCD 00 01\n\
                   00000005 Card ATR: 3B 8A 80 01 52 45 41 44 45 52 54 45 53 54 18 \n\
                   00000003 eventhandler.c:423:EHStatusHandlerThread() Card inserted into Virtual PCD 00 00\n\
                   00000005 Card ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F \n\
                   00000066 winscard_svc.c:361:ContextThread() Received command: CONNECT from client 12\n\
                   00000003 winscard.c:258:SCardConnect() Attempting Connect to Virtual PCD 00 00 using protocol: 3\n\
                   00000181 winscard_svc.c:361:ContextThread() Received command: TRANSMIT from client 12\n\
                   00000003 APDU: 00 A4 04 00 07 62 76 01 FF 00 00 00 \n\
                   00000117 SW: 6A 82 \n\
                   00000181 winscard_svc.c:361:ContextThread() Received command: TRANSMIT from client 12\n\
                   00000003 APDU: 00 B0 00 00 04 \n\
                   00000002 winscard_svc.c:694:ContextThread() TRANSMIT for client 12, rv=SCARD_W_REMOVED_CARD\n\
                   00000040 eventhandler.c:400:EHStatusHandlerThread() Card Removed From Virtual PCD 00 00\n";
        let t = parse_pcscd(log).unwrap();
        assert_eq!(t.reader.as_deref(), Some("Virtual PCD 00 00"));
        assert_eq!(t.atr.as_ref().unwrap().len(), 13, "the ATR of reader 00 00");
        let kinds: Vec<String> = t
            .events
            .iter()
            .map(|e| match &e.what {
                What::Inserted { atr } => format!("in {}", atr.as_ref().map_or(0, Vec::len)),
                What::Removed => "out".into(),
                What::Exchange { outcome, .. } => format!("{outcome:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "in 13",
                "Response([106, 130])",
                "Error(\"SCARD_W_REMOVED_CARD\")",
                "out"
            ]
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

    proptest! {
        #[test]
        fn pcscd_lines_never_panic(lines in proptest::collection::vec("(0000[0-9]{4} )?(APDU: |SW: |Card ATR: |Card Removed From |Received command: TRANSMIT from client )?[0-9A-F ]{0,20}", 0..20)) {
            let _ = parse_pcscd(&lines.join("\n"));
        }

        /// A pcscd log made of real exchanges reads back as those exchanges, with the line of
        /// the first broken one reported when one is broken.
        #[test]
        fn pcscd_round_trip(cmds in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 4..20), 1..20), broken in any::<prop::sample::Index>()) {
            let mut log = String::new();
            for c in &cmds {
                log.push_str(&format!("00000003 APDU: {} \n00000100 SW: 90 00 \n", kazasu_sim::hex_spaced(c)));
            }
            let t = parse_pcscd(&log).unwrap();
            prop_assert_eq!(t.exchanges(), cmds.len());
            let k = broken.index(cmds.len());
            let mut lines: Vec<String> = log.lines().map(str::to_string).collect();
            lines[2 * k + 1] = "00000100 SW: 9G 00".into();
            let e = parse_pcscd(&lines.join("\n")).unwrap_err();
            prop_assert_eq!(e.line, 2 * k + 2);
        }
    }
}

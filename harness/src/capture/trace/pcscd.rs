//! pcscd's debug log (`pcscd -f -d`, with or without colours): the APDUs its
//! IFD handler sent and received, with the card events and timestamps around them.

use super::model::{ExchangeOutcome, ParseError, RawTrace, TraceEvent, What, err, hex_of};
use std::collections::HashMap;
use std::rc::Rc;

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

/// An APDU waiting for its SW line: (command, sent at, line, reader).
type Pending = (Vec<u8>, u64, usize, Option<Rc<str>>);

pub(super) fn parse_pcscd_raw(text: &str) -> Result<RawTrace, ParseError> {
    // A debug log spends 600–700 bytes on an exchange: room for most events at once.
    let mut raw = RawTrace::with_capacity(text.len() / 1024);
    let mut clock: u64 = 0;
    let mut timed = false;
    let mut pending: Option<Pending> = None;
    let mut client_reader: HashMap<String, Rc<str>> = HashMap::new();
    let mut connecting: Option<String> = None;
    let mut current: Option<Rc<str>> = None;
    let mut atr_reader: Option<String> = None;
    // A removal logged while a command waits for its SW line: pcscd's event thread saw the card
    // go while the transmit thread still had the answer to log (a driver that reports card events
    // itself, as libccid and kazasu's do). The answer belongs to the command; the removal follows.
    let mut removed_meanwhile: Vec<(String, usize, Option<u64>)> = Vec::new();
    // Colours are looked for once in the whole log, not on every line.
    let coloured = memchr::memchr(0x1b, text.as_bytes()).is_some();
    for (i, raw_line) in lines(text).enumerate() {
        let n = i + 1;
        let line = if coloured {
            strip_ansi(raw_line)
        } else {
            std::borrow::Cow::Borrowed(raw_line)
        };
        // `%.8d message`: the delta in µs since the previous line (absent through syslog).
        let (delta, msg) = match line.as_bytes().get(8) {
            Some(b' ') if line.as_bytes()[..8].iter().all(u8::is_ascii_digit) => {
                let d = line.as_bytes()[..8]
                    .iter()
                    .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
                (Some(d), &line[9..])
            }
            _ => (None, &*line),
        };
        if let Some(d) = delta {
            clock = clock.saturating_add(d);
            timed = true;
        }
        // Through syslog (no delta): `Nov 28 10:00:00 host pcscd[812]: APDU: …` or `pcscd: …`.
        let msg = match delta.is_none().then(|| msg.find("pcscd")).flatten() {
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
        // The first letter tells the few kinds of line apart before any longer comparison:
        // most lines of a long log are none of them.
        let first = msg.as_bytes().first().copied();
        let apdu = if first == Some(b'A') {
            msg.strip_prefix("APDU: ")
        } else {
            None
        };
        let sw = if first == Some(b'S') {
            msg.strip_prefix("SW: ")
                .or_else(|| (msg.trim_end() == "SW:").then_some(""))
        } else {
            None
        };
        let atr = if first == Some(b'C') {
            msg.strip_prefix("Card ATR: ")
        } else {
            None
        };
        if let Some(h) = apdu {
            if let Some((_, _, first, _)) = &pending {
                return Err(err(
                    n,
                    format!("a second APDU before the SW of the one on line {first}"),
                ));
            }
            pending = Some((hex_of(h, n, "the APDU")?, clock, n, current.clone()));
        } else if let Some(h) = sw {
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
            for (reader, n, at) in removed_meanwhile.drain(..) {
                raw.push(Some(&reader), n, at, What::Removed);
            }
        } else if let Some(h) = atr {
            let atr = hex_of(h, n, "the ATR")?;
            raw.atrs.push((atr_reader.clone(), atr.clone()));
            // The ATR of an insertion event belongs to that event.
            let on_reader = raw.last_event_on(atr_reader.as_deref());
            if let Some((_, TraceEvent { what, .. })) = raw.events.last_mut()
                && let What::Inserted { atr: slot @ None } = what
                && on_reader
            {
                *slot = Some(atr);
            }
        } else {
            // `file.c:line:Function() text`: what pcscd says, after the function's name.
            let text = after_function(msg);
            if pending.is_some()
                && let Some(reader) = text.strip_prefix("Card Removed From ")
            {
                removed_meanwhile.push((reader.trim().to_string(), n, at));
                continue;
            }
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
            // A failed transmit: the APDU waits for an SW line no more (after an answer,
            // nothing is pending and the line is not looked at).
            if pending.is_some()
                && text.starts_with("TRANSMIT for client ")
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
                for (reader, n, at) in removed_meanwhile.drain(..) {
                    raw.push(Some(&reader), n, at, What::Removed);
                }
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

/// The lines of a text as `str::lines` gives them (without `\n` or `\r\n`), found with a
/// vectorised byte search: a long log spends most of its reading time finding line ends.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', text.as_bytes());
    std::iter::from_fn(move || {
        let line = match ends.next() {
            Some(end) => {
                let line = &text[start..end];
                start = end + 1;
                line.strip_suffix('\r').unwrap_or(line)
            }
            None if start < text.len() => {
                let line = &text[start..];
                start = text.len();
                line
            }
            None => return None,
        };
        Some(line)
    })
}

/// What follows the function's name in `file.c:line:Function() text` (the whole line when there
/// is none): found by its `)`, which a long log reaches faster than a search for `() `.
fn after_function(msg: &str) -> &str {
    let bytes = msg.as_bytes();
    memchr::memchr_iter(b')', bytes)
        .find(|&at| at > 0 && bytes[at - 1] == b'(' && bytes.get(at + 1) == Some(&b' '))
        .map_or(msg, |at| &msg[at + 2..])
}

/// What pcscd's context lines tell about which reader an APDU goes to.
pub(super) struct PcscdState<'a> {
    /// The client whose CONNECT is in progress.
    connecting: &'a mut Option<String>,
    /// The reader each client connected to.
    client_reader: &'a mut HashMap<String, Rc<str>>,
    /// The reader of the TRANSMIT in progress.
    current: &'a mut Option<Rc<str>>,
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
    // Most lines of a long log say something else: their first letter rules them out.
    if !matches!(text.as_bytes().first(), Some(b'R' | b'A' | b'C')) {
        return;
    }
    if let Some(client) = text.strip_prefix("Received command: TRANSMIT from client ") {
        *st.current = st.client_reader.get(client.trim_end()).cloned();
    } else if let Some(client) = text.strip_prefix("Received command: CONNECT from client ") {
        *st.connecting = Some(word(client.trim_end()));
    } else if let Some(rest) = text.strip_prefix("Attempting Connect to ") {
        let reader = rest.split(" using protocol").next().unwrap_or(rest).trim();
        if let Some(c) = st.connecting.take() {
            st.client_reader.insert(c, Rc::from(reader));
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

    proptest! {
        /// The fast line splitter gives what `str::lines` gives, on any text of line-ish bytes.
        #[test]
        fn lines_are_split_as_str_lines_splits_them(text in "[a()\\r\\n ]{0,40}") {
            let fast: Vec<&str> = super::lines(&text).collect();
            let std: Vec<&str> = text.lines().collect();
            prop_assert_eq!(fast, std);
        }
    }

    #[test]
    fn the_function_name_is_found_by_its_parentheses() {
        assert_eq!(
            super::after_function("winscard.c:12:SCardConnect() Attempting x"),
            "Attempting x"
        );
        assert_eq!(
            super::after_function("a (b) c.c:1:F() text (more)"),
            "text (more)"
        );
        assert_eq!(
            super::after_function("no function here)"),
            "no function here)"
        );
        assert_eq!(super::after_function("()"), "()");
    }

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
    fn a_removal_logged_before_the_answer_follows_the_exchange() {
        // A driver that reports card events itself: the event thread logs the removal while the
        // transmit thread still has the answer to log.
        let log = "00000003 eventhandler.c:423:EHStatusHandlerThread() Card inserted into Virtual PCD 00 00\n\
                   00000005 Card ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F \n\
                   00000066 winscard_svc.c:361:ContextThread() Received command: CONNECT from client 12\n\
                   00000003 winscard.c:258:SCardConnect() Attempting Connect to Virtual PCD 00 00 using protocol: 3\n\
                   00000181 winscard_svc.c:361:ContextThread() Received command: TRANSMIT from client 12\n\
                   00000003 APDU: 00 B0 03 00 00 \n\
                   00000144 eventhandler.c:358:EHStatusHandlerThread() Card Removed From Virtual PCD 00 00\n\
                   00000004 SW: BA E8 90 00 \n\
                   00000181 winscard_svc.c:361:ContextThread() Received command: TRANSMIT from client 12\n\
                   00000003 APDU: 00 B0 04 00 00 \n\
                   00000002 winscard_svc.c:694:ContextThread() TRANSMIT for client 12, rv=SCARD_W_REMOVED_CARD\n";
        let t = parse_pcscd(log).unwrap();
        let kinds: Vec<String> = t
            .events
            .iter()
            .map(|e| match &e.what {
                What::Inserted { .. } => "in".into(),
                What::Removed => "out".into(),
                What::Exchange { outcome, .. } => format!("{outcome:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "in",
                "Response([186, 232, 144, 0])",
                "out",
                "Error(\"SCARD_W_REMOVED_CARD\")"
            ]
        );
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

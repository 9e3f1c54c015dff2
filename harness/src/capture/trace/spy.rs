//! pcsc-spy's logs, raw (the spy's pipe format) and decoded (its text): SCard calls with
//! their arguments and results, card events from SCardGetStatusChange.

use super::model::{ExchangeOutcome, ParseError, RawTrace, What, err, hex_of};
use super::pcscd::between;
use std::collections::HashMap;

/// A PC/SC return code as text: `SCARD_W_REMOVED_CARD` for the codes that matter to a replay.
pub(super) fn scard_name(code: u32) -> String {
    match code {
        0x8010_0069 => "SCARD_W_REMOVED_CARD".into(),
        0x8010_0016 => "SCARD_E_NOT_TRANSACTED".into(),
        0x8010_000C => "SCARD_E_NO_SMARTCARD".into(),
        0x8010_0068 => "SCARD_W_RESET_CARD".into(),
        0x8010_0066 => "SCARD_W_UNRESPONSIVE_CARD".into(),
        0x8010_000A => "SCARD_E_TIMEOUT".into(),
        0x8010_0017 => "SCARD_E_READER_UNAVAILABLE".into(),
        0x8010_0009 => "SCARD_E_UNKNOWN_READER".into(),
        0x8010_0003 => "SCARD_E_INVALID_HANDLE".into(),
        0x8010_0008 => "SCARD_E_INSUFFICIENT_BUFFER".into(),
        0x8010_000F => "SCARD_E_PROTO_MISMATCH".into(),
        other => format!("0x{other:08X}"),
    }
}

/// Whether an error means the card is gone.
pub(super) fn means_removal(error: &str) -> bool {
    error.contains("REMOVED") || error.contains("NO_SMARTCARD")
}

/// One call as pcsc-spy shows it: the function, its argument lines, its return code.
pub(super) struct SpyCall {
    function: String,
    line: usize,
    entered_us: u64,
    args: Vec<String>,
}

pub(super) fn parse_spy_raw(text: &str) -> Result<RawTrace, ParseError> {
    let mut raw = RawTrace::default();
    // Calls in progress by thread.
    let mut open: HashMap<String, SpyCall> = HashMap::new();
    let mut card_reader: HashMap<String, String> = HashMap::new();
    let mut first_us: Option<u64> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((thread, body)) = line.split_once('@') else {
            return Err(err(n, "a pcsc-spy line is `THREAD@…`; this one has no `@`"));
        };
        if thread.is_empty() || !thread.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(n, format!("`{thread}` is not a thread id")));
        }
        let time = |sec: &str, usec: &str| -> Result<u64, ParseError> {
            let s: u64 = sec
                .parse()
                .map_err(|_| err(n, format!("`{sec}` is not seconds")))?;
            let u: u64 = usec
                .parse()
                .map_err(|_| err(n, format!("`{usec}` is not microseconds")))?;
            Ok(s.saturating_mul(1_000_000).saturating_add(u))
        };
        if let Some(entry) = body.strip_prefix(">|") {
            let parts: Vec<&str> = entry.split('|').collect();
            if parts.len() != 3 {
                return Err(err(n, "a function entry is `>|sec|usec|Function`"));
            }
            let t = time(parts[0], parts[1])?;
            first_us.get_or_insert(t);
            open.insert(
                thread.to_string(),
                SpyCall {
                    function: parts[2].to_string(),
                    line: n,
                    entered_us: t,
                    args: Vec::new(),
                },
            );
        } else if let Some(exit) = body.strip_prefix("<|") {
            let parts: Vec<&str> = exit.split('|').collect();
            // `<|sec|usec|Fn|text|0xRV` (1.9.9) or `<|sec|usec|Fn|0xRV` (2.2.0 on).
            if parts.len() < 4 {
                return Err(err(n, "a function exit is `<|sec|usec|Function|…|0xCODE`"));
            }
            let t = time(parts[0], parts[1])?;
            let code_text = parts[parts.len() - 1];
            let code = code_text
                .strip_prefix("0x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| err(n, format!("`{code_text}` is not a return code")))?;
            let Some(call) = open.remove(thread) else {
                return Err(err(n, format!("{} returns but never started", parts[2])));
            };
            if call.function != parts[2] {
                return Err(err(
                    n,
                    format!(
                        "{} returns while {} (line {}) is open on this thread",
                        parts[2], call.function, call.line
                    ),
                ));
            }
            let at = call
                .entered_us
                .saturating_sub(first_us.unwrap_or(call.entered_us));
            spy_call(&mut raw, &mut card_reader, call, code, t, at)?;
        } else {
            let Some(call) = open.get_mut(thread) else {
                return Err(err(n, "an argument line outside any call"));
            };
            call.args.push(body.to_string());
        }
    }
    if let Some(call) = open.values().min_by_key(|c| c.line) {
        return Err(err(
            call.line,
            format!("{} never returns (the capture ends)", call.function),
        ));
    }
    Ok(raw)
}

/// Turns one pcsc-spy call into trace events.
pub(super) fn spy_call(
    raw: &mut RawTrace,
    card_reader: &mut HashMap<String, String>,
    call: SpyCall,
    code: u32,
    exit_us: u64,
    at: u64,
) -> Result<(), ParseError> {
    let longs: Vec<&String> = call.args.iter().filter(|a| a.starts_with("0x")).collect();
    let buffers: Vec<(usize, &String)> = call
        .args
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.starts_with("0x") && a.as_str() != "NULL")
        .collect();
    let line = call.line;
    match call.function.as_str() {
        "SCardConnect" => {
            // hContext, reader, share mode, protocols, (in) hCard, (in) protocol, hCard, protocol.
            if code == 0
                && let (Some(reader), Some(card)) =
                    (call.args.get(1), longs.get(longs.len().wrapping_sub(2)))
            {
                card_reader.insert((*card).clone(), reader.clone());
            }
        }
        "SCardTransmit" => {
            let card = call.args.first().cloned().unwrap_or_default();
            let reader = card_reader.get(&card).cloned();
            let Some((_, send)) = buffers.first() else {
                return Err(err(line, "SCardTransmit without a send buffer"));
            };
            let command = hex_of(send, line, "the send buffer")?;
            let took = Some(exit_us.saturating_sub(call.entered_us));
            let outcome = if code != 0 {
                ExchangeOutcome::Error(scard_name(code))
            } else {
                match buffers.get(1) {
                    Some((_, r)) => {
                        let resp = hex_of(r, line, "the receive buffer")?;
                        if resp.is_empty() {
                            ExchangeOutcome::Nothing
                        } else {
                            ExchangeOutcome::Response(resp)
                        }
                    }
                    None => ExchangeOutcome::Nothing,
                }
            };
            let removal = matches!(&outcome, ExchangeOutcome::Error(e) if means_removal(e));
            raw.exchange(reader.as_deref(), line, Some(at), command, outcome, took);
            if removal {
                raw.push(reader.as_deref(), line, Some(at), What::Removed);
            }
        }
        "SCardStatus" if code == 0 => {
            // hCard, reader name(s), …, ATR buffer, ATR length: the last hex buffer is the ATR.
            let card = call.args.first().cloned().unwrap_or_default();
            if let Some((_, atr)) = buffers.iter().rev().find(|(_, b)| {
                !b.trim().is_empty() && kazasu_sim::parse_hex(b.trim()).is_ok_and(|a| a.len() >= 2)
            }) {
                raw.atrs.push((
                    card_reader.get(&card).cloned(),
                    hex_of(atr, line, "the ATR")?,
                ));
            }
        }
        "SCardReconnect" if code == 0 => {
            let card = call.args.first().cloned().unwrap_or_default();
            // dwInitialization (the 4th argument) 1 = SCARD_RESET_CARD, 2 = SCARD_UNPOWER_CARD.
            if call
                .args
                .get(3)
                .is_some_and(|a| a == "0x00000001" || a == "0x00000002")
            {
                raw.push(
                    card_reader.get(&card).map(String::as_str),
                    line,
                    Some(at),
                    What::Inserted { atr: None },
                );
            }
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn parse_spy_decoded(text: &str) -> Result<RawTrace, ParseError> {
    #[derive(Default)]
    struct Call {
        function: String,
        line: usize,
        card: Option<String>,
        reader: Option<String>,
        send_len: Option<usize>,
        recv_len: Option<usize>,
        send: Vec<u8>,
        recv: Vec<u8>,
        /// 'i' or 'o': which buffer the dump lines fill.
        dumping: Option<char>,
    }
    let mut raw = RawTrace::default();
    let mut call: Option<Call> = None;
    let mut card_reader: HashMap<String, String> = HashMap::new();
    let mut clock: u64 = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        // `pcsc-spy -t` puts the thread first: `(1) SCardTransmit`.
        let line = line.trim_end();
        let line = match line.strip_prefix('(').and_then(|l| l.split_once(") ")) {
            Some((t, rest)) if t.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => line,
        };
        if line.is_empty() {
            continue;
        }
        if line.starts_with("SCard") && !line.contains(' ') {
            call = Some(Call {
                function: line.to_string(),
                line: n,
                ..Call::default()
            });
            continue;
        }
        if line.starts_with("Thread ") || line.starts_with("Results sorted") {
            // The statistics at the end.
            break;
        }
        let Some(c) = call.as_mut() else {
            if line.starts_with(' ') {
                return Err(err(n, "an argument line outside any call"));
            }
            continue;
        };
        if let Some(ret) = line.strip_prefix(" => ") {
            let code = between(ret, "[0x", "]")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| err(n, "a result line is ` => text (NAME [0xCODE])  [seconds]`"))?;
            // The time in seconds after the result, when pcsc-spy printed one.
            let tail = ret.rsplit_once(')').map_or("", |(_, t)| t.trim());
            let took = if tail.is_empty() {
                None
            } else {
                let secs = tail
                    .strip_prefix('[')
                    .and_then(|s| s.strip_suffix(']'))
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e6)
                    .ok_or_else(|| {
                        err(
                            n,
                            format!(
                                "`{tail}` after the result is not a time in seconds like [0.000123]"
                            ),
                        )
                    })?;
                Some((secs * 1e6).round() as u64)
            };
            let at = clock;
            clock = clock.saturating_add(took.unwrap_or(0));
            let c = call.take().expect("a call is open");
            match c.function.as_str() {
                "SCardConnect" if code == 0 => {
                    if let (Some(card), Some(reader)) = (c.card, c.reader) {
                        card_reader.insert(card, reader);
                    }
                }
                "SCardTransmit" => {
                    let reader = c.card.as_ref().and_then(|k| card_reader.get(k)).cloned();
                    if c.send_len.is_some_and(|l| l != c.send.len()) {
                        return Err(err(
                            c.line,
                            format!(
                                "the send buffer has {} bytes, bSendLength says {}",
                                c.send.len(),
                                c.send_len.unwrap_or(0)
                            ),
                        ));
                    }
                    let outcome = if code != 0 {
                        ExchangeOutcome::Error(scard_name(code))
                    } else if c.recv.is_empty() {
                        ExchangeOutcome::Nothing
                    } else {
                        ExchangeOutcome::Response(c.recv)
                    };
                    let removal = matches!(&outcome, ExchangeOutcome::Error(e) if means_removal(e));
                    raw.exchange(reader.as_deref(), c.line, Some(at), c.send, outcome, took);
                    if removal {
                        raw.push(reader.as_deref(), c.line, Some(at), What::Removed);
                    }
                }
                _ => {}
            }
            continue;
        }
        let Some((dir, rest)) = line
            .strip_prefix(" i ")
            .map(|r| ('i', r))
            .or_else(|| line.strip_prefix(" o ").map(|r| ('o', r)))
        else {
            return Err(err(
                n,
                format!("`{line}` is not an argument line (` i …`, ` o …`) or a result (` => …`)"),
            ));
        };
        if let Some(dump) = rest.strip_prefix(' ') {
            // ` i  0000 00 A4 …   ascii`: offset, up to 16 bytes, then the bytes as text.
            let Some(which) = c.dumping.filter(|d| *d == dir) else {
                return Err(err(n, "a hex dump line without a buffer before it"));
            };
            let (buf, want) = if which == 'i' {
                (&mut c.send, c.send_len)
            } else {
                (&mut c.recv, c.recv_len)
            };
            let mut words = dump.split_whitespace();
            let offset = words.next().unwrap_or("");
            if offset.len() != 4 || !offset.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(n, format!("`{offset}` is not a dump offset")));
            }
            let room = want.map_or(16, |w| w.saturating_sub(buf.len()).min(16));
            for w in words.take(room) {
                match (w.len(), u8::from_str_radix(w, 16)) {
                    (2, Ok(b)) => buf.push(b),
                    _ => break,
                }
            }
            continue;
        }
        c.dumping = None;
        let number =
            |r: &str| -> Option<usize> { between(r, "(", ")").and_then(|d| d.parse().ok()) };
        if let Some(card) = rest.strip_prefix("hCard: ") {
            c.card = Some(card.trim().to_string());
        } else if let Some(card) = rest.strip_prefix("phCard ") {
            if dir == 'o' {
                c.card = card.split_whitespace().next().map(str::to_string);
            }
        } else if let Some(reader) = rest.strip_prefix("szReader ") {
            c.reader = Some(reader.trim().to_string());
        } else if rest.starts_with("bSendLength") {
            c.send_len = number(rest);
        } else if rest.starts_with("bRecvLength") {
            c.recv_len = number(rest);
        } else if rest == "bSendBuffer" || rest == "bRecvBuffer" {
            c.dumping = Some(dir);
        }
    }
    if let Some(c) = call.filter(|c| c.function == "SCardTransmit") {
        return Err(err(
            c.line,
            "SCardTransmit without a result (the capture ends)",
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {

    use crate::capture::trace::model::tests::exchanges;
    use crate::capture::trace::{ExchangeOutcome, Format, What, parse};
    use proptest::prelude::*;

    const SPY_RAW: &str = "7FF952AC5B80@>|1795885137|382511|SCardConnect
7FF952AC5B80@0x70FCB0B0
7FF952AC5B80@Virtual PCD 00 01
7FF952AC5B80@0x00000002
7FF952AC5B80@0x00000003
7FF952AC5B80@0x00000000
7FF952AC5B80@0x00000000
7FF952AC5B80@0x678CA2E5
7FF952AC5B80@0x00000002
7FF952AC5B80@<|1795885137|382827|SCardConnect|Command successful.|0x00000000
7FF952AC5B80@>|1795885137|382885|SCardTransmit
7FF952AC5B80@0x678CA2E5
7FF952AC5B80@0x00000002
7FF952AC5B80@0x00000010
7FF952AC5B80@0x0000000B
7FF952AC5B80@00 A4 04 00 06 A0 00 00 00 18 FF 
7FF952AC5B80@0x00000001
7FF952AC5B80@0x00000010
7FF952AC5B80@0x00000002
7FF952AC5B80@90 00 
7FF952AC5B80@<|1795885137|383083|SCardTransmit|Command successful.|0x00000000
7FF952AC5B80@>|1795885137|383141|SCardTransmit
7FF952AC5B80@0x678CA2E5
7FF952AC5B80@0x00000002
7FF952AC5B80@0x00000010
7FF952AC5B80@0x00000004
7FF952AC5B80@80 30 00 00 
7FF952AC5B80@0x00000001
7FF952AC5B80@0x00000010
7FF952AC5B80@0x00000000
7FF952AC5B80@
7FF952AC5B80@<|1795885137|383301|SCardTransmit|0x80100069
";

    #[test]
    fn pcsc_spy_raw_lines() {
        let t = parse(Format::PcscSpy, SPY_RAW, None).unwrap();
        assert_eq!(t.reader.as_deref(), Some("Virtual PCD 00 01"));
        let x = exchanges(&t);
        assert_eq!(x.len(), 2);
        assert_eq!(x[0].1, ExchangeOutcome::Response(vec![0x90, 0x00]));
        assert_eq!(
            x[1].1,
            ExchangeOutcome::Error("SCARD_W_REMOVED_CARD".into())
        );
        assert_eq!(t.events[0].at_us, Some(374));
        assert!(matches!(t.events.last().unwrap().what, What::Removed));
        assert_eq!(Format::detect(SPY_RAW), Some(Format::PcscSpy));
        let cut: String = SPY_RAW.lines().take(25).collect::<Vec<_>>().join("\n");
        assert_eq!(parse(Format::PcscSpy, &cut, None).unwrap_err().line, 22);
    }

    #[test]
    fn pcsc_spy_decoded() {
        let text = "SCardConnect
 i hContext: 0x70FCB0B0
 i szReader Virtual PCD 00 01
 o phCard 0x678CA2E5 (1737269989)
 => Command successful. (SCARD_S_SUCCESS [0x00000000])  [0.000316]
SCardTransmit
 i hCard: 0x678CA2E5
 i bSendLength 0x00000014 (20)
 i bSendBuffer
 i  0000 00 A4 04 00 0F D2 33 00 00 00 45 73 74 45 49 44  ......3...EstEID
 i  0010 20 76 33 35                                       v35
 o bRecvLength 0x00000002 (2)
 o bRecvBuffer
 o  0000 90 00                                           ..
 => Command successful. (SCARD_S_SUCCESS [0x00000000])  [0.000198]

Thread 1/1
";
        assert_eq!(Format::detect(text), Some(Format::PcscSpyDecoded));
        let t = parse(Format::PcscSpyDecoded, text, None).unwrap();
        let x = exchanges(&t);
        assert_eq!(x[0].0.len(), 20, "the ASCII column is not read as bytes");
        assert_eq!(x[0].0[16..], [0x20, 0x76, 0x33, 0x35]);
        assert_eq!(x[0].1, ExchangeOutcome::Response(vec![0x90, 0x00]));
        let bad = text.replace(" i  0010 20 76 33 35", " i  0010 20 76");
        let e = parse(Format::PcscSpyDecoded, &bad, None).unwrap_err();
        assert!(e.message.contains("bSendLength"), "{e}");
        // A time that does not read is an error at its line, not a zero.
        let garbled = text.replace("[0.000198]", "[0.0x0198]");
        let e = parse(Format::PcscSpyDecoded, &garbled, None).unwrap_err();
        assert_eq!(e.line, 15, "{e}");
        assert!(e.message.contains("[0.0x0198]"), "{e}");
        // No time at all is read as an exchange without one.
        let untimed = text.replace("  [0.000198]", "");
        assert!(parse(Format::PcscSpyDecoded, &untimed, None).is_ok());
    }

    proptest! {
        #[test]
        fn spy_lines_never_panic(lines in proptest::collection::vec("(7F@)?(>\\||<\\|)?[0-9|]{0,12}(SCardTransmit|SCardConnect|SCardStatus)?(\\|0x[0-9A-F]{8})?[0-9A-F ]{0,12}", 0..30)) {
            let text = lines.join("\n");
            let _ = parse(Format::PcscSpy, &text, None);
            let _ = parse(Format::PcscSpyDecoded, &text.replace("7F@", " i "), None);
        }
    }
}

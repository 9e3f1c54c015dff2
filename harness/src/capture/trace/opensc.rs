//! OpenSC's debug log (`debug = 3`): the APDUs `sc_transmit` sent and the answers it got.

use super::model::{ExchangeOutcome, ParseError, RawTrace, What, err, hex_of};
use super::pcscd::between;

pub(super) fn parse_opensc_raw(text: &str) -> Result<RawTrace, ParseError> {
    struct Dump {
        outgoing: bool,
        want: usize,
        bytes: Vec<u8>,
        line: usize,
    }
    let mut raw = RawTrace::default();
    let mut reader: Option<String> = None;
    let mut dump: Option<Dump> = None;
    // (command, line, at)
    let mut pending: Option<(Vec<u8>, usize, Option<u64>)> = None;
    let mut now_us: Option<u64> = None;
    let mut first_us: Option<u64> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(d) = dump.as_mut() {
            if d.bytes.len() < d.want {
                let mut any = false;
                for w in line.split_whitespace() {
                    if d.bytes.len() == d.want {
                        break;
                    }
                    match (w.len(), u8::from_str_radix(w, 16)) {
                        (2, Ok(b)) => {
                            d.bytes.push(b);
                            any = true;
                        }
                        _ => break,
                    }
                }
                if !any {
                    return Err(err(
                        n,
                        format!(
                            "the APDU of line {} has {} of its {} bytes",
                            d.line,
                            d.bytes.len(),
                            d.want
                        ),
                    ));
                }
            }
            if d.bytes.len() == d.want {
                let d = dump.take().expect("a dump is open");
                if d.outgoing {
                    if let Some((_, first, _)) = &pending {
                        return Err(err(
                            d.line,
                            format!("a second outgoing APDU before the answer to line {first}"),
                        ));
                    }
                    pending = Some((d.bytes, d.line, now_us));
                } else {
                    let Some((command, first, sent)) = pending.take() else {
                        return Err(err(d.line, "an incoming APDU without an outgoing one"));
                    };
                    let at = sent.map(|s| s.saturating_sub(first_us.unwrap_or(s)));
                    let took = sent.zip(now_us).map(|(s, t)| t.saturating_sub(s));
                    let outcome = if d.bytes.is_empty() {
                        ExchangeOutcome::Nothing
                    } else {
                        ExchangeOutcome::Response(d.bytes)
                    };
                    raw.exchange(reader.as_deref(), first, at, command, outcome, took);
                }
            }
            continue;
        }
        // `P:1986; T:0x1398… 16:58:14.971 [tool] file.c:line:function: message`
        if line.starts_with("P:") {
            if let Some(clock) = line.split_whitespace().nth(2) {
                now_us = opensc_time(clock);
                if let Some(t) = now_us {
                    first_us.get_or_insert(t);
                }
            }
            let msg = line.split_once("] ").map_or(line, |(_, m)| m);
            if let Some(r) = between(msg, "pcsc_transmit: reader '", "'") {
                reader = Some(r.to_string());
            } else if let Some(a) = between(msg, "match_atr_table: ATR     : ", "\u{0}") {
                raw.atrs.push((None, hex_of(a, n, "the ATR")?));
            } else if let Some((command, first, sent)) = pending.take() {
                // A transmit that failed: the command never got an Incoming APDU.
                if msg.contains("transmit: returning with: -") || msg.contains("transmit failed") {
                    let why = between(msg, "(", ")").unwrap_or(msg).to_string();
                    let at = sent.map(|s| s.saturating_sub(first_us.unwrap_or(s)));
                    let removal = why.to_ascii_lowercase().contains("removed");
                    raw.exchange(
                        reader.as_deref(),
                        first,
                        at,
                        command,
                        ExchangeOutcome::Error(why),
                        None,
                    );
                    if removal {
                        raw.push(reader.as_deref(), n, at, What::Removed);
                    }
                } else {
                    pending = Some((command, first, sent));
                }
            }
            continue;
        }
        for (key, outgoing) in [("Outgoing APDU (", true), ("Incoming APDU (", false)] {
            if let Some(len) = between(line, key, " bytes)") {
                let want: usize = len
                    .parse()
                    .map_err(|_| err(n, format!("`{len}` is not a byte count")))?;
                let most = if outgoing {
                    kazasu_sim::iso7816::apdu::MAX_COMMAND_LEN
                } else {
                    kazasu_sim::iso7816::apdu::MAX_RESPONSE_LEN
                };
                if want > most {
                    return Err(err(
                        n,
                        format!(
                            "an APDU of {want} bytes: no APDU is longer than {most} bytes \
                             (an extended {}); the log is damaged here",
                            if outgoing { "command" } else { "response" }
                        ),
                    ));
                }
                dump = Some(Dump {
                    outgoing,
                    want,
                    bytes: Vec::with_capacity(want),
                    line: n,
                });
            }
        }
        if let Some(d) = dump.as_ref().filter(|d| d.want == 0) {
            // A 0-byte APDU: nothing to read after it.
            let (outgoing, at_line) = (d.outgoing, d.line);
            dump = None;
            if outgoing {
                return Err(err(at_line, "an outgoing APDU of 0 bytes"));
            }
            let Some((command, first, sent)) = pending.take() else {
                return Err(err(at_line, "an incoming APDU without an outgoing one"));
            };
            let at = sent.map(|s| s.saturating_sub(first_us.unwrap_or(s)));
            raw.exchange(
                reader.as_deref(),
                first,
                at,
                command,
                ExchangeOutcome::Nothing,
                None,
            );
        }
    }
    if let Some(d) = dump {
        return Err(err(
            d.line,
            format!(
                "the APDU has {} of its {} bytes (the capture ends)",
                d.bytes.len(),
                d.want
            ),
        ));
    }
    if let Some((_, first, _)) = pending {
        return Err(err(
            first,
            "an outgoing APDU without an answer (the capture ends)",
        ));
    }
    Ok(raw)
}

/// `HH:MM:SS.mmm` as µs since midnight.
pub(super) fn opensc_time(clock: &str) -> Option<u64> {
    let (hms, ms) = clock.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    let ms: u64 = ms.parse().ok()?;
    h.checked_mul(60)?
        .checked_add(m)?
        .checked_mul(60)?
        .checked_add(s)?
        .checked_mul(1_000_000)?
        .checked_add(ms.checked_mul(1_000)?)
}

#[cfg(test)]
mod tests {

    use crate::capture::trace::model::tests::exchanges;
    use crate::capture::trace::{ExchangeOutcome, Format, What, parse};
    use proptest::prelude::*;

    #[test]
    fn opensc_debug_log() {
        let text = "P:1986; T:0x1398 16:58:14.967 [pkcs15-tool] card.c:1234:match_atr_table: ATR     : 3b:88:80:01:00:00:05:e0:b3:81:a1:00:7f
P:1986; T:0x1398 16:58:14.971 [pkcs15-tool] reader-pcsc.c:325:pcsc_transmit: reader 'Virtual PCD 00 00'
P:1986; T:0x1398 16:58:14.971 [pkcs15-tool] reader-pcsc.c:326:pcsc_transmit: 
Outgoing APDU (20 bytes):
00 A4 04 0C 0F D2 33 00 00 00 45 73 74 45 49 44 ......3...EstEID
20 76 33 35  v35

P:1986; T:0x1398 16:58:14.974 [pkcs15-tool] reader-pcsc.c:335:pcsc_transmit: 
Incoming APDU (2 bytes):
6A 82 j.

";
        assert_eq!(Format::detect(text), Some(Format::Opensc));
        // pcscd's debug log of a machine with 16 readers: OpenSC lists them all (about 500
        // lines) before its first APDU; the format is still told.
        let mut busy = String::new();
        for i in 0..600 {
            busy.push_str(&format!(
                "00000004 readerfactory.c:866:RFReaderInfoById() RefReader() count was: {i}\n"
            ));
        }
        busy.push_str("00000003 APDU: 00 A4 04 00 07 62 76 01 FF 00 00 00\n00000003 SW: 90 00\n");
        assert_eq!(Format::detect(&busy), Some(Format::Pcscd));
        let t = parse(Format::Opensc, text, None).unwrap();
        assert_eq!(t.atr.as_ref().unwrap().len(), 13);
        assert_eq!(t.reader.as_deref(), Some("Virtual PCD 00 00"));
        let x = exchanges(&t);
        assert_eq!(x[0].0.len(), 20);
        assert_eq!(x[0].1, ExchangeOutcome::Response(vec![0x6A, 0x82]));
        // A declared length no APDU can have is an error at its line — never an allocation of
        // that size (a panic on capacity overflow, or an abort out of memory).
        for (huge, line) in [
            ("18446744073709551615", 4),
            ("40000000000", 4),
            ("65545", 4),
        ] {
            let damaged = text.replace(
                "Outgoing APDU (20 bytes)",
                &format!("Outgoing APDU ({huge} bytes)"),
            );
            let e = parse(Format::Opensc, &damaged, None).unwrap_err();
            assert_eq!(e.line, line, "{e}");
            assert!(
                e.message.contains("no APDU is longer than 65544 bytes"),
                "{e}"
            );
        }
        let damaged = text.replace("Incoming APDU (2 bytes)", "Incoming APDU (65539 bytes)");
        let e = parse(Format::Opensc, &damaged, None).unwrap_err();
        assert!(e.message.contains("65538"), "{e}");
        match &t.events[0].what {
            What::Exchange { took_us, .. } => assert_eq!(*took_us, Some(3000)),
            other => panic!("{other:?}"),
        }
        let cut = text.replace("20 76 33 35  v35\n", "");
        assert_eq!(parse(Format::Opensc, &cut, None).unwrap_err().line, 6);
    }

    proptest! {
        #[test]
        fn opensc_lines_never_panic(lines in proptest::collection::vec("(P:1; T:0x1 1[0-9]:[0-5][0-9]:[0-5][0-9]\\.[0-9]{3} \\[t\\] )?(Outgoing APDU \\(|Incoming APDU \\()?[0-9]{0,2}( bytes\\):)?[0-9A-F ]{0,12}", 0..30)) {
            let _ = parse(Format::Opensc, &lines.join("\n"), None);
        }
    }
}

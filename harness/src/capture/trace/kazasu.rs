//! kazasu's own JSON-lines transcripts (`serve --transcript`) read back as a trace.

use super::model::{ExchangeOutcome, ParseError, RawTrace, What, err, hex_of};

pub(super) fn parse_kazasu_raw(text: &str) -> Result<RawTrace, ParseError> {
    use crate::serve::line::{ServedEvent, ServedLine};
    let mut raw = RawTrace::default();
    for (i, text_line) in text.lines().enumerate() {
        let n = i + 1;
        if text_line.trim().is_empty() {
            continue;
        }
        let l = ServedLine::parse(text_line).map_err(|e| err(n, e.to_string()))?;
        let reader = kazasu_sim::vpcd::reader_name(l.slot);
        let at = (l.t_ms.is_finite() && l.t_ms >= 0.0).then_some((l.t_ms * 1000.0) as u64);
        match l.event {
            ServedEvent::CardInserted { .. } => {
                raw.push(Some(&reader), n, at, What::Inserted { atr: None })
            }
            ServedEvent::CardRemoved { .. } => raw.push(Some(&reader), n, at, What::Removed),
            ServedEvent::GetAtr { atr } => {
                if !atr.is_empty() {
                    raw.atrs.push((Some(reader), hex_of(&atr, n, "the ATR")?));
                }
            }
            ServedEvent::Apdu {
                command: command_text,
                response,
                sw,
                sim_ns,
            } => {
                if command_text.contains('…') {
                    return Err(err(
                        n,
                        "the command was shortened in this transcript; record it again with this kazasu",
                    ));
                }
                let redacted = command_text.contains("**");
                let command = hex_of(&command_text.replace("**", "00"), n, "the command")?;
                // An answer that echoed a secret is written as `**` per byte: its length holds.
                let answer_hidden = response.contains("**");
                let mut response = hex_of(&response.replace("**", "00"), n, "the response")?;
                let sw = hex_of(&sw, n, "the SW")?;
                let outcome = match sw.len() {
                    0 if response.is_empty() => ExchangeOutcome::Nothing,
                    // An answer shorter than a status word, as the card sent it.
                    0 => ExchangeOutcome::Response(response),
                    2 => {
                        response.extend_from_slice(&sw);
                        ExchangeOutcome::Response(response)
                    }
                    _ => {
                        return Err(err(
                            n,
                            "`sw` must be two bytes, or empty (no answer, or one shorter than a status word)",
                        ));
                    }
                };
                raw.push(
                    Some(&reader),
                    n,
                    at,
                    What::Exchange {
                        command,
                        redacted,
                        answer_hidden,
                        outcome,
                        took_us: sim_ns.map(|ns| ns / 1000),
                    },
                );
            }
            // Power on/off and reset carry no APDU; the reader's own requests (a PIN pad's
            // command among them) are not the card's exchanges.
            ServedEvent::PowerOn
            | ServedEvent::PowerOff
            | ServedEvent::Reset
            | ServedEvent::Control { .. }
            | ServedEvent::Attribute { .. } => {}
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {

    use crate::capture::trace::model::tests::exchanges;
    use crate::capture::trace::{ExchangeOutcome, Format, What, parse};

    #[test]
    fn kazasu_transcript() {
        let text = r#"{"event":"card_inserted","slot":0,"t_ms":1.9}
{"event":"getatr","slot":0,"t_ms":147.5,"atr":"3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F"}
{"command":"00 20 00 80 04 ** ** ** **","event":"apdu","response":"","sim_ns":4321000,"slot":0,"sw":"9000","t_ms":200.0}
{"command":"00 B0 00 00 04","event":"apdu","response":"","sim_ns":0,"slot":0,"sw":"","t_ms":210.0}
{"event":"card_removed","slot":0,"t_ms":211.0,"why":"the card left the field during the exchange"}
"#;
        assert_eq!(Format::detect(text), Some(Format::Kazasu));
        let t = parse(Format::Kazasu, text, None).unwrap();
        assert_eq!(t.atr.as_ref().unwrap().len(), 13);
        match &t.events[1].what {
            What::Exchange {
                redacted, took_us, ..
            } => assert_eq!((*redacted, *took_us), (true, Some(4321))),
            other => panic!("{other:?}"),
        }
        assert_eq!(exchanges(&t)[1].1, ExchangeOutcome::Nothing);
        assert!(matches!(t.events[3].what, What::Removed));
        let e = parse(Format::Kazasu, "{\"event\":\"apdu\"}\n", None).unwrap_err();
        assert_eq!(e.line, 1);
    }
}

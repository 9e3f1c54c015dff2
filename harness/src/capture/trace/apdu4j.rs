//! apdu4j's dumps (`apdu4j -d` / `--dump`): `>>`/`<<` lines with the time of each answer.

use super::model::{ExchangeOutcome, ParseError, RawTrace, err, hex_of};

/// apdu4j's `24ms` or, past a second, `1s234ms`, as µs.
pub(super) fn apdu4j_time(text: &str) -> Option<u64> {
    let t = text.trim().strip_suffix("ms")?;
    let (s, ms) = match t.split_once('s') {
        Some((s, ms)) => (s.parse::<u64>().ok()?, ms.parse::<u64>().ok()?),
        None => (0, t.parse::<u64>().ok()?),
    };
    Some(
        s.saturating_mul(1_000_000)
            .saturating_add(ms.saturating_mul(1000)),
    )
}

pub(super) fn parse_apdu4j_raw(text: &str) -> Result<RawTrace, ParseError> {
    let mut raw = RawTrace::default();
    // `# Using READER` (apdu4j's header): the reader of every exchange after it.
    let mut reader: Option<String> = None;
    let mut pending: Option<(Vec<u8>, usize)> = None;
    let mut took: Option<u64> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let c = comment.trim();
            if let Some(h) = c.strip_prefix("ATR:") {
                raw.atrs.push((reader.clone(), hex_of(h, n, "the ATR")?));
            } else if let Some(t) = c.strip_prefix("Received in ") {
                took = apdu4j_time(t);
            } else if let Some(r) = c.strip_prefix("Using ") {
                reader = Some(r.trim().to_string());
            }
            continue;
        }
        let bytes = hex_of(line, n, "the line")?;
        match pending.take() {
            None => pending = Some((bytes, n)),
            Some((command, first)) => {
                if bytes.len() < 2 {
                    return Err(err(n, "a response needs at least SW1 SW2"));
                }
                raw.exchange(
                    reader.as_deref(),
                    first,
                    None,
                    command,
                    ExchangeOutcome::Response(bytes),
                    took.take(),
                );
            }
        }
    }
    if let Some((_, at)) = pending {
        return Err(err(at, "a command without a response after it"));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {

    use crate::capture::trace::{ExchangeOutcome, Format, TraceEvent, What, parse_apdu4j};

    #[test]
    fn apdu4j_dump() {
        let dump = "# ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F\n# PROTOCOL: T=1\n#\n# Sent\n00A4040C0AD392F000260100000001\n# Received in 24ms\n9000\n";
        let t = parse_apdu4j(dump).unwrap();
        assert_eq!(t.atr.unwrap().len(), 13);
        assert_eq!(
            t.events,
            [TraceEvent {
                line: 5,
                at_us: None,
                what: What::Exchange {
                    command: kazasu_sim::parse_hex("00A4040C0AD392F000260100000001").unwrap(),
                    redacted: false,
                    answer_hidden: false,
                    outcome: ExchangeOutcome::Response(vec![0x90, 0x00]),
                    took_us: Some(24_000),
                }
            }]
        );
    }

    #[test]
    fn apdu4j_header_and_long_times() {
        let dump = "# Generated on Sat, 28 Nov 2026 10:00:00 +0900 by apdu4j/20.05\n# Using Virtual PCD 00 00\n# ATR: 3B8880010000 05E0B381A1007F\n# PROTOCOL: T=1\n#\n# Sent\n00A4040C0AD392F000260100000001\n# Received in 1s234ms\n9000\n# Sent\n00B0000004\n# Received\n308203659000\n";
        assert_eq!(Format::detect(dump), Some(Format::Apdu4j));
        let t = parse_apdu4j(dump).unwrap();
        assert_eq!(t.reader.as_deref(), Some("Virtual PCD 00 00"));
        assert_eq!(t.atr.as_ref().map(Vec::len), Some(13));
        let took: Vec<Option<u64>> = t
            .events
            .iter()
            .map(|e| match e.what {
                What::Exchange { took_us, .. } => took_us,
                _ => None,
            })
            .collect();
        assert_eq!(took, [Some(1_234_000), None]);
    }
}

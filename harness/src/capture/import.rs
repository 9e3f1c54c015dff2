//! `kazasu import`: a trace turned into a scenario that reproduces it — the recorded host
//! commands as `apdu` steps, the recorded card answers as their expectations (by class where the
//! data legitimately differs), the host's pauses as `wait` steps, and the recorded removals as
//! steps or faults. PINs become `${secrets.NAME}` placeholders unless asked to keep them.

use crate::capture::replay::{ResponseClass, selected_ef};
use crate::capture::trace::{ExchangeOutcome, Trace, What};
use crate::record::carries_secret;
use kazasu_sim::{Card, Fixtures, hex_spaced};
use std::fmt::Write as _;

/// How to write the scenario.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The scenario's name.
    pub name: String,
    /// Where the trace came from (shown in the header).
    pub source: String,
    /// Card profile; guessed from the ATR when `None`.
    pub card: Option<String>,
    /// Identity on the card.
    pub identity: Option<String>,
    /// Reader profile (default typical-424k).
    pub reader: Option<String>,
    /// Write PINs as they were recorded.
    pub keep_secrets: bool,
    /// A note for a step's comment, by the exchange's position in the capture (what an air
    /// capture shows of the card: its time and S(WTX)).
    pub notes: std::collections::BTreeMap<usize, String>,
}

/// The built-in card profile whose ATR is `atr`.
pub fn profile_for_atr(atr: &[u8]) -> Option<String> {
    let fixtures = Fixtures::embedded();
    kazasu_sim::platform::profile::BUILTIN_CARD_PROFILES
        .iter()
        .find(|(name, _)| {
            crate::profiles::card_profile(name, None)
                .ok()
                .and_then(|p| Card::new(std::sync::Arc::new(p), fixtures.default_subject(), 0).ok())
                .is_some_and(|c| c.atr() == atr)
        })
        .map(|(name, _)| name.to_string())
}

/// Where a command's data field lies (start, end), by ISO/IEC 7816-4's cases: short Lc at byte
/// 4, or extended (a zero byte, then two bytes of Lc); `None` when the command has no data
/// (cases 1 and 2) or its lengths do not add up.
fn data_span(command: &[u8]) -> Option<(usize, usize)> {
    match command {
        [_, _, _, _, 0, hi, lo, ..] if command.len() > 7 => {
            let lc = usize::from(u16::from_be_bytes([*hi, *lo]));
            let end = 7 + lc;
            (lc > 0 && (end == command.len() || end + 2 == command.len())).then_some((7, end))
        }
        [_, _, _, _, lc, ..] if *lc != 0 && command.len() > 5 => {
            let end = 5 + usize::from(*lc);
            (end == command.len() || end + 1 == command.len()).then_some((5, end))
        }
        _ => None,
    }
}

/// The name a PIN placeholder gets, from the PIN EF selected before the VERIFY.
fn secret_name(ef: Option<u16>, unnamed: &mut usize) -> String {
    match ef {
        Some(kazasu_sim::applets::jpki::ef::AUTH_PIN) => "auth_pin".into(),
        Some(kazasu_sim::applets::jpki::ef::SIGN_PIN) => "sign_pin".into(),
        Some(kazasu_sim::applets::card_info::ef::PIN) => "card_info_pin".into(),
        _ => {
            *unnamed += 1;
            format!("pin_{unnamed}")
        }
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// Text from a capture made safe for a YAML comment: a control character (a line break above
/// all, which would end the comment and start YAML) is written as its escape, `\u{0}`.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A profile name or path as a YAML value: bare when plainly safe, else quoted.
fn value(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if plain { text.to_string() } else { quote(text) }
}

fn ms(us: u64) -> String {
    if us >= 10_000 {
        format!("{}ms", us / 1000)
    } else {
        format!("{:.3}ms", us as f64 / 1000.0)
    }
}

/// Writes the scenario for `trace`.
pub fn to_scenario(trace: &Trace, opts: &ImportOptions) -> String {
    let guessed = trace.atr.as_deref().and_then(profile_for_atr);
    let card = opts
        .card
        .clone()
        .or(guessed.clone())
        .unwrap_or_else(|| "mynumber-card".into());
    let mut y = String::new();
    let _ = writeln!(y, "# Imported by kazasu from {}.", comment(&opts.source));
    let _ = writeln!(
        y,
        "# {} exchanges{}{}.",
        trace.exchanges(),
        trace
            .reader
            .as_deref()
            .map(|r| format!(" on {}", comment(r)))
            .unwrap_or_default(),
        trace
            .atr
            .as_deref()
            .map(|a| format!(", ATR {}", hex_spaced(a)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        y,
        "# Each step's comment gives its {} in the capture and the recorded response time;",
        trace.position.word()
    );
    let _ = writeln!(
        y,
        "# `wait` steps reproduce the host's pauses between commands."
    );
    if opts.card.is_none() && guessed.is_none() {
        let _ = writeln!(
            y,
            "# The ATR matched no built-in card profile: mynumber-card is a guess (choose with --card)."
        );
    }
    let _ = writeln!(y, "name: {}", quote(&opts.name));
    let _ = writeln!(
        y,
        "description: {}",
        quote(&format!(
            "Replays the exchanges of {} against a virtual card and expects the recorded answers.",
            opts.source
        ))
    );
    let _ = writeln!(y, "tags: [imported]");
    let _ = writeln!(y, "card: {}", value(&card));
    if let Some(id) = &opts.identity {
        let _ = writeln!(y, "identity: {}", value(id));
    }
    let _ = writeln!(
        y,
        "reader: {}",
        value(opts.reader.as_deref().unwrap_or("typical-424k"))
    );
    let mut steps = String::new();
    let mut faults = String::new();
    let mut exchange_no = 0u32;
    let mut ef: Option<u16> = None;
    let mut unnamed = 0usize;
    let mut host_free_at: Option<u64> = None;
    let mut in_field = true;
    let _ = writeln!(steps, "  - tap");
    for e in &trace.events {
        match &e.what {
            What::Inserted { .. } => {
                if !in_field {
                    let _ = writeln!(steps, "  - tap  # {} {}", trace.position.word(), e.line);
                    in_field = true;
                }
            }
            What::Removed => {
                if in_field {
                    let _ = writeln!(steps, "  - remove  # {} {}", trace.position.word(), e.line);
                    in_field = false;
                }
            }
            What::Exchange {
                command,
                redacted,
                answer_hidden,
                outcome,
                took_us,
            } => {
                let answered = matches!(outcome, ExchangeOutcome::Response(r) if r.len() >= 2);
                if !in_field && answered {
                    // The card answers again: it is back in the field.
                    let _ = writeln!(steps, "  - tap");
                    in_field = true;
                }
                // The host's pause since the last answer.
                if let (Some(at), Some(free)) = (e.at_us, host_free_at) {
                    let gap = at.saturating_sub(free);
                    let longest = crate::scenario::suite::MAX_WAIT.as_nanos() / 1_000;
                    if gap > longest {
                        // A clock jump in the capture: the longest pause a scenario holds.
                        let _ = writeln!(
                            steps,
                            "  - wait: {}  # recorded pause of {} s, longer than a scenario's longest wait",
                            ms(longest),
                            gap / 1_000_000
                        );
                    } else if gap >= 1_000 {
                        let _ = writeln!(steps, "  - wait: {}", ms(gap));
                    }
                }
                host_free_at = e.at_us.map(|a| a.saturating_add(took_us.unwrap_or(0)));
                exchange_no += 1;
                let secret = *redacted || carries_secret(command);
                let apdu = match data_span(command) {
                    Some((start, end)) if secret && (*redacted || !opts.keep_secrets) => {
                        // The header and every length byte stay as recorded (short or extended
                        // Lc, a trailing Le); only the data becomes the placeholder.
                        let name = secret_name(ef, &mut unnamed);
                        let after = if end < command.len() {
                            format!(" {}", hex_spaced(&command[end..]))
                        } else {
                            String::new()
                        };
                        format!(
                            "{} ${{secrets.{name}}}{after}",
                            hex_spaced(&command[..start])
                        )
                    }
                    _ => hex_spaced(command),
                };
                if let Some(f) = selected_ef(command) {
                    ef = Some(f);
                }
                let mut timing = took_us
                    .map(|t| format!(", answered in {}", ms(t)))
                    .unwrap_or_default();
                if let Some(note) = opts.notes.get(&e.line) {
                    timing.push_str(&format!(" ({note})"));
                }
                let _ = writeln!(
                    steps,
                    "  - apdu: {apdu}  # {} {}{timing}",
                    trace.position.word(),
                    e.line
                );
                match outcome {
                    ExchangeOutcome::Response(r) if r.len() >= 2 => {
                        let (data, sw) = r.split_at(r.len() - 2);
                        let mut expect = format!("sw: \"{}\"", hex_spaced(sw).replace(' ', ""));
                        if !data.is_empty() {
                            match ResponseClass::of(command) {
                                // The capture hid the answer (it echoed a secret): its length.
                                _ if *answer_hidden => {
                                    let _ = write!(expect, ", data_len: {}", data.len());
                                }
                                ResponseClass::Exact => {
                                    let _ =
                                        write!(expect, ", data: \"{}\"", hex::encode_upper(data));
                                }
                                _ => {
                                    let _ = write!(expect, ", data_len: {}", data.len());
                                }
                            }
                        }
                        let _ = writeln!(steps, "    expect: {{ {expect} }}");
                    }
                    ExchangeOutcome::Response(_)
                    | ExchangeOutcome::Nothing
                    | ExchangeOutcome::Error(_) => {
                        let why = match outcome {
                            ExchangeOutcome::Error(e) => comment(e),
                            _ => "no answer".into(),
                        };
                        if in_field {
                            // The card left during this exchange.
                            let _ = writeln!(
                                faults,
                                "  - {{ when: {{ exchange: {exchange_no} }}, do: field_off }}  # recorded: {why}"
                            );
                            let _ =
                                writeln!(steps, "    expect: {{ transport_error: card_removed }}");
                            in_field = false;
                        } else {
                            // The host kept sending to a card that had gone.
                            let _ = writeln!(
                                steps,
                                "    expect: {{ transport_error: any }}  # recorded: {why}"
                            );
                        }
                    }
                }
            }
        }
    }
    if !faults.is_empty() {
        let _ = writeln!(y, "faults:");
        y.push_str(&faults);
    }
    let _ = writeln!(y, "steps:");
    y.push_str(&steps);
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::trace::{Format, parse};

    #[test]
    fn a_pcscd_log_becomes_a_scenario_without_the_pin() {
        let log = "00000005 Card ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F \n\
                   00000003 APDU: 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01 \n\
                   00000100 SW: 90 00 \n\
                   00000003 APDU: 00 A4 02 0C 02 00 18 \n\
                   00000100 SW: 90 00 \n\
                   00005000 APDU: 00 20 00 80 04 31 32 33 34 \n\
                   00000100 SW: 90 00 \n\
                   00000003 APDU: 00 2A 00 80 03 01 02 03 \n\
                   00000100 SW: AA BB 90 00 \n\
                   00000003 APDU: 00 B0 00 00 02 \n\
                   00000100 SW: \n";
        let t = parse(Format::Pcscd, log, None).unwrap();
        let opts = ImportOptions {
            name: "counter".into(),
            source: "field.log".into(),
            ..ImportOptions::default()
        };
        let y = to_scenario(&t, &opts);
        assert!(y.contains("card: mynumber-card"), "{y}");
        assert!(
            y.contains("- apdu: 00 20 00 80 04 ${secrets.auth_pin}"),
            "{y}"
        );
        assert!(!y.contains("31 32 33 34"), "the PIN stays out: {y}");
        assert!(y.contains("- wait: 5.000ms"), "{y}");
        assert!(y.contains("data_len: 2"), "{y}");
        assert!(
            y.contains("{ when: { exchange: 5 }, do: field_off }"),
            "{y}"
        );
        let kept = to_scenario(
            &t,
            &ImportOptions {
                keep_secrets: true,
                ..opts
            },
        );
        assert!(kept.contains("00 20 00 80 04 31 32 33 34"));
        // What it writes is a valid scenario.
        let parsed: crate::scenario::Scenario = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(parsed.steps.len(), 7);
    }

    /// A serve transcript hides the readertest card's dump of a VERIFY (it echoes the PIN):
    /// the import expects its length, never bytes, and writes no PIN.
    #[test]
    fn an_answer_the_capture_hid_is_expected_by_its_length() {
        let text = r#"{"event":"card_inserted","slot":0,"t_ms":1.0}
{"command":"00 A4 04 00 06 A0 00 00 00 18 FF","event":"apdu","response":"","sim_ns":1000,"slot":0,"sw":"9000","t_ms":2.0}
{"command":"80 20 00 00 04 ** ** ** **","event":"apdu","response":"","sim_ns":1000,"slot":0,"sw":"9000","t_ms":3.0}
{"command":"80 40 00 00 00","event":"apdu","response":"** ** ** ** ** ** ** ** **","sim_ns":1000,"slot":0,"sw":"9000","t_ms":4.0}
"#;
        let t = parse(Format::Kazasu, text, None).unwrap();
        let y = to_scenario(
            &t,
            &ImportOptions {
                name: "dump".into(),
                card: Some("readertest".into()),
                ..ImportOptions::default()
            },
        );
        assert!(y.contains("- apdu: 80 40 00 00 00"), "{y}");
        assert!(y.contains("expect: { sw: \"9000\", data_len: 9 }"), "{y}");
        assert!(!y.contains("data: \"0000"), "no invented bytes: {y}");
        let parsed: crate::scenario::Scenario = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(parsed.steps.len(), 4);
    }

    #[test]
    fn every_apdu_form_keeps_its_length_bytes_around_the_placeholder() {
        assert_eq!(data_span(&[0, 0x20, 0, 0x80, 4, 1, 2, 3, 4]), Some((5, 9)));
        assert_eq!(
            data_span(&[0, 0x20, 0, 0x80, 4, 1, 2, 3, 4, 0]),
            Some((5, 9))
        );
        assert_eq!(
            data_span(&[0, 0x20, 0, 0x80, 0, 0, 4, 1, 2, 3, 4]),
            Some((7, 11))
        );
        assert_eq!(
            data_span(&[0, 0x20, 0, 0x80, 0, 0, 4, 1, 2, 3, 4, 0, 0]),
            Some((7, 11))
        );
        assert_eq!(data_span(&[0, 0x20, 0, 0x80]), None);
        assert_eq!(data_span(&[0, 0x20, 0, 0x80, 0]), None);
        assert_eq!(data_span(&[0, 0x20, 0, 0x80, 9, 1]), None);
        let log = "00000005 Card ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F \n\
                   00000003 APDU: 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01 \n\
                   00000100 SW: 90 00 \n\
                   00000003 APDU: 00 A4 02 0C 02 00 18 \n\
                   00000100 SW: 90 00 \n\
                   00000003 APDU: 00 20 00 80 00 00 04 31 32 33 34 \n\
                   00000100 SW: 90 00 \n\
                   00000003 APDU: 00 A4 02 0C 02 00 18 \n\
                   00000100 SW: 90 00 \n";
        let t = parse(Format::Pcscd, log, None).unwrap();
        let y = to_scenario(
            &t,
            &ImportOptions {
                name: "extended".into(),
                source: "field.log".into(),
                ..ImportOptions::default()
            },
        );
        assert!(
            y.contains("- apdu: 00 20 00 80 00 00 04 ${secrets.auth_pin}  #"),
            "{y}"
        );
        assert!(!y.contains("31 32 33 34"), "{y}");
        // Replayed against the card model with the identity's PIN, every recorded 90 00 holds.
        let scenarios = crate::scenario::suite::parse(&y, "extended.yaml").unwrap();
        let cases = crate::scenario::suite::expand(
            &scenarios,
            "extended.yaml",
            &crate::scenario::suite::Overrides::NONE,
        )
        .unwrap();
        let r = crate::run::run_case(&cases[0], 1);
        assert_eq!(r.status, crate::run::Status::Passed, "{:?}\n{y}", r.failure);
    }

    proptest::proptest! {
        /// Whatever a capture holds — long pauses, huge deltas, odd commands, failures — the
        /// import writes a scenario that loads and checks, and a recorded card can be made of it.
        #[test]
        fn every_readable_capture_imports_to_a_loadable_scenario(
            steps in proptest::collection::vec(
                (0u64..100_000_000_000, proptest::collection::vec(proptest::prelude::any::<u8>(), 1..12), proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 2..8))),
                1..12,
            )
        ) {
            let mut log = String::new();
            for (delta, cmd, resp) in &steps {
                log.push_str(&format!("{:08} APDU: {} \n", delta % 100_000_000, hex_spaced(cmd)));
                let r = resp.as_deref().map(hex_spaced).unwrap_or_default();
                log.push_str(&format!("{:08} SW: {r} \n", delta / 1000 % 100_000_000));
            }
            let t = parse(Format::Pcscd, &log, None).unwrap();
            let y = to_scenario(&t, &ImportOptions { name: "p".into(), source: "p.log".into(), ..ImportOptions::default() });
            let scenarios = crate::scenario::suite::parse(&y, "p.yaml").map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}\n{y}")))?;
            crate::scenario::suite::check(&scenarios, "p.yaml").map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}\n{y}")))?;
            let _ = crate::capture::replay::RecordedCard::new(&t, crate::capture::replay::Mode::Strict, None);
        }
    }
}

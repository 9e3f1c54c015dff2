//! Replay as the host: [`replay_as_host`] sends the recorded commands to a virtual card and
//! compares its answers with the recorded ones, row by row, matching data that legitimately differs
//! (signatures, random challenges, UIDs) by class rather than by bytes.

use super::card::redact_recorded;
use super::matching::ResponseClass;
use crate::capture::trace::{ExchangeOutcome, Trace, What};
use crate::link::backend::Backend;
use kazasu_sim::{LinkError, Subject, hex_spaced};

/// How one replayed exchange compares with the recording.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "why")]
pub enum Verdict {
    /// The same bytes.
    Same,
    /// Equal by class (a signature, a challenge, a UID).
    SameClass(String),
    /// Not the same: another status word, or an answer against none.
    Differs(String),
    /// The same status word, other data.
    DataDiffers(String),
    /// Not sent: the capture hid a secret the replay does not know.
    NotSent(String),
}

impl Verdict {
    /// Whether the answers differ.
    pub fn differs(&self) -> bool {
        matches!(self, Verdict::Differs(_) | Verdict::DataDiffers(_))
    }
}

/// One row of a host replay.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HostRow {
    /// 1-based exchange number.
    pub exchange: usize,
    /// Line in the capture.
    pub line: usize,
    /// The command, secrets redacted.
    pub command: String,
    /// The recorded answer.
    pub recorded: String,
    /// The virtual card's answer.
    pub replayed: String,
    /// How they compare.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The result of replaying a trace as the host.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HostReport {
    /// One row per recorded exchange.
    pub rows: Vec<HostRow>,
}

impl HostReport {
    /// The first exchange whose answer differs.
    pub fn first_difference(&self) -> Option<&HostRow> {
        self.rows.iter().find(|r| r.verdict.differs())
    }
    /// Rows that differ.
    pub fn differences(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict.differs()).count()
    }
}

pub(super) fn outcome_text(o: &ExchangeOutcome) -> String {
    match o {
        ExchangeOutcome::Response(r) if r.len() > 34 => format!(
            "{} … ({} bytes) {}",
            hex_spaced(&r[..16]),
            r.len() - 2,
            hex_spaced(&r[r.len() - 2..])
        ),
        ExchangeOutcome::Response(r) => hex_spaced(r),
        ExchangeOutcome::Nothing => "(nothing)".into(),
        ExchangeOutcome::Error(e) => format!("({e})"),
    }
}

/// An answer that echoes a secret, shown without its data: its length and status word.
pub(super) fn hidden_text(o: &ExchangeOutcome) -> String {
    match o {
        ExchangeOutcome::Response(r) if r.len() >= 2 => format!(
            "** ({} bytes that echo a secret) {}",
            r.len() - 2,
            hex_spaced(&r[r.len() - 2..])
        ),
        other => outcome_text(other),
    }
}

/// Compares an answer that echoes a secret with the recorded one: status word and length.
pub fn compare_hidden(recorded: &ExchangeOutcome, replayed: &ExchangeOutcome) -> Verdict {
    match (recorded, replayed) {
        (ExchangeOutcome::Response(a), ExchangeOutcome::Response(b))
            if a.len() >= 2 && b.len() >= 2 =>
        {
            if a[a.len() - 2..] != b[b.len() - 2..] {
                Verdict::Differs(format!(
                    "status word {} ≠ recorded {}",
                    hex_spaced(&b[b.len() - 2..]),
                    hex_spaced(&a[a.len() - 2..])
                ))
            } else if a.len() != b.len() {
                Verdict::DataDiffers(format!(
                    "{} data bytes ≠ recorded {}",
                    b.len() - 2,
                    a.len() - 2
                ))
            } else {
                Verdict::SameClass("an answer that echoes a secret: same length".into())
            }
        }
        _ => Verdict::Differs(format!(
            "{} ≠ recorded {}",
            hidden_text(replayed),
            hidden_text(recorded)
        )),
    }
}

/// Compares a replayed outcome with the recorded one.
pub fn compare(command: &[u8], recorded: &ExchangeOutcome, replayed: &ExchangeOutcome) -> Verdict {
    match (recorded, replayed) {
        (ExchangeOutcome::Response(a), ExchangeOutcome::Response(b)) => {
            let sw = |r: &[u8]| r.len().checked_sub(2).map(|n| r[n..].to_vec());
            if a == b {
                return Verdict::Same;
            }
            if sw(a) != sw(b) {
                return Verdict::Differs(format!(
                    "status word {} ≠ recorded {}",
                    sw(b).map_or("-".into(), |s| hex_spaced(&s)),
                    sw(a).map_or("-".into(), |s| hex_spaced(&s))
                ));
            }
            let class = ResponseClass::of(command);
            if a.len() != b.len() {
                return Verdict::DataDiffers(format!(
                    "{} data bytes ≠ recorded {}",
                    b.len() - 2,
                    a.len() - 2
                ));
            }
            if class == ResponseClass::Exact {
                let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
                Verdict::DataDiffers(format!("the data differ from byte {at} on"))
            } else {
                Verdict::SameClass(class.name().into())
            }
        }
        (ExchangeOutcome::Response(_), _) | (_, ExchangeOutcome::Response(_)) => {
            Verdict::Differs(format!(
                "{} ≠ recorded {}",
                outcome_text(replayed),
                outcome_text(recorded)
            ))
        }
        // Both failed: the card was gone both times, whatever the words.
        _ => Verdict::SameClass("the card was gone both times".into()),
    }
}

/// How strictly a host replay compares answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Compare {
    /// Bytes, except data that differs by nature (signatures, challenges, UIDs): by class.
    #[default]
    Class,
    /// Status words only (and whether there was an answer): for a real device that holds
    /// another person's data than the virtual card.
    Sw,
}

/// The report with data differences forgiven where `compare` says so.
pub fn relax(report: &HostReport, compare: Compare) -> HostReport {
    let mut out = report.clone();
    if compare == Compare::Sw {
        for r in &mut out.rows {
            if let Verdict::DataDiffers(_) = &r.verdict {
                r.verdict = Verdict::SameClass("the same status word (data not compared)".into());
            }
        }
    }
    out
}

/// A row for a recorded exchange the replay did not send, and why.
pub(super) fn not_sent(
    exchange: usize,
    line: usize,
    command: String,
    recorded: &ExchangeOutcome,
    why: &str,
) -> HostRow {
    HostRow {
        exchange,
        line,
        command,
        recorded: outcome_text(recorded),
        replayed: String::new(),
        verdict: Verdict::NotSent(why.into()),
    }
}

/// The PIN a hidden VERIFY was for, from the EF selected before it.
pub(super) fn pin_for(subject: &Subject, selected_ef: Option<u16>) -> Option<String> {
    let pins = &subject.identity.pins;
    match selected_ef? {
        kazasu_sim::applets::jpki::ef::AUTH_PIN => Some(pins.auth.expose().clone()),
        kazasu_sim::applets::jpki::ef::SIGN_PIN => Some(pins.sign.expose().clone()),
        kazasu_sim::applets::card_info::ef::PIN => Some(pins.card_info.expose().clone()),
        _ => None,
    }
}

/// The EF a SELECT by FID (`00 A4 02 0C 02 FID`) selects.
pub fn selected_ef(command: &[u8]) -> Option<u16> {
    match command {
        [_, 0xA4, 0x02, _, 0x02, hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// Sends the recorded commands to `card` (a virtual card behind a reader model) and compares
/// each answer with the recorded one. PINs a capture hid are taken from `subject` by the PIN EF
/// selected before them.
pub fn replay_as_host(trace: &Trace, card: &mut dyn Backend, subject: &Subject) -> HostReport {
    let mut report = HostReport::default();
    // The secrets sent so far (the recorded ones and the identity's PINs put in for hidden
    // ones): an answer that echoes one is shown as hidden, never as bytes.
    let echoes = crate::serve::line::Echoes::default();
    let mut ef: Option<u16> = None;
    let mut in_field = card.tap().is_ok();
    for e in &trace.events {
        match &e.what {
            What::Inserted { .. } => {
                if !in_field {
                    in_field = card.tap().is_ok();
                }
            }
            What::Removed => {
                card.remove();
                in_field = false;
            }
            What::Exchange {
                command,
                redacted,
                answer_hidden,
                outcome,
                ..
            } => {
                let exchange = report.rows.len() + 1;
                let shown = redact_recorded(command, *redacted);
                if !matches!(outcome, ExchangeOutcome::Response(_)) {
                    // The recorded card left the field here: so does the virtual one, and the
                    // command is not the card's to answer.
                    if in_field {
                        card.remove();
                        in_field = false;
                    }
                    report.rows.push(not_sent(
                        exchange,
                        e.line,
                        shown,
                        outcome,
                        "the card had left the field in the recording",
                    ));
                    continue;
                }
                let mut sent = command.clone();
                if *redacted {
                    match pin_for(subject, ef) {
                        Some(pin) if command.len() >= 5 => {
                            sent.truncate(4);
                            sent.push(pin.len() as u8);
                            sent.extend_from_slice(pin.as_bytes());
                        }
                        _ => {
                            report.rows.push(not_sent(
                                exchange,
                                e.line,
                                shown,
                                outcome,
                                "the capture hid this command's data and no PIN of the identity belongs to the EF selected before it",
                            ));
                            continue;
                        }
                    }
                }
                if let Some(f) = selected_ef(command) {
                    ef = Some(f);
                }
                echoes.note(&sent);
                if !in_field {
                    in_field = card.tap().is_ok();
                }
                let replayed = match card.transmit(&sent) {
                    Ok(t) => ExchangeOutcome::Response(t.response),
                    Err(LinkError::CardRemoved) | Err(LinkError::NoCard) => {
                        in_field = false;
                        ExchangeOutcome::Error(LinkError::CardRemoved.to_string())
                    }
                    Err(other) => ExchangeOutcome::Error(other.to_string()),
                };
                let echoed = |o: &ExchangeOutcome| matches!(o, ExchangeOutcome::Response(r) if echoes.hides(&r[..r.len().saturating_sub(2)]));
                let hidden = *answer_hidden || echoed(&replayed);
                let verdict = if hidden {
                    compare_hidden(outcome, &replayed)
                } else {
                    compare(command, outcome, &replayed)
                };
                let text = |o: &ExchangeOutcome, hide: bool| {
                    if hide {
                        hidden_text(o)
                    } else {
                        outcome_text(o)
                    }
                };
                report.rows.push(HostRow {
                    exchange,
                    line: e.line,
                    command: shown,
                    recorded: text(outcome, hidden),
                    replayed: text(&replayed, hidden),
                    verdict,
                });
            }
        }
    }
    card.finish();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capture of the readertest card's dump after a VERIFY holds the PIN twice (the command
    /// and the echo); the host replay report shows neither, and compares the echo by length.
    #[test]
    fn a_replayed_answer_that_echoes_a_secret_is_never_shown() {
        use crate::capture::trace::{Format, parse};
        use rand_core::SeedableRng;
        let log = "00000005 Card ATR: 3B 8A 80 01 52 45 41 44 45 52 54 45 53 54 18 \n\
                   00000003 APDU: 80 A4 04 00 06 A0 00 00 00 18 FF \n\
                   00000100 SW: 6E 00 \n\
                   00000003 APDU: 00 A4 04 00 06 A0 00 00 00 18 FF \n\
                   00000100 SW: 90 00 \n\
                   00000003 APDU: 80 20 00 00 04 31 32 33 34 \n\
                   00000100 SW: 90 00 \n\
                   00000003 APDU: 80 40 00 00 00 \n\
                   00000100 SW: 80 20 00 00 04 31 32 33 34 90 00 \n";
        let trace = parse(Format::Pcscd, log, None).unwrap();
        let subject = kazasu_sim::Fixtures::embedded().default_subject();
        let card = kazasu_sim::Card::new(
            std::sync::Arc::new(kazasu_sim::CardProfile::builtin("readertest").unwrap()),
            subject.clone(),
            1,
        )
        .unwrap();
        let mut reader = kazasu_sim::Reader::new(
            std::sync::Arc::new(kazasu_sim::ReaderProfile::builtin("typical-424k").unwrap()),
            card,
            kazasu_sim::FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
        );
        let report = replay_as_host(&trace, &mut reader, &subject);
        let shown = serde_json::to_string(&report).unwrap();
        assert!(!shown.contains("31 32 33 34"), "{shown}");
        let dump = report.rows.last().unwrap();
        assert!(dump.replayed.starts_with("** (9 bytes"), "{dump:?}");
        assert_eq!(
            dump.verdict,
            Verdict::SameClass("an answer that echoes a secret: same length".into())
        );
    }

    #[test]
    fn signatures_match_by_class_and_read_data_by_bytes() {
        assert_eq!(
            compare(
                &[0x80, 0x2A, 0x00, 0x80],
                &ExchangeOutcome::Response(vec![1, 2, 0x90, 0x00]),
                &ExchangeOutcome::Response(vec![3, 4, 0x90, 0x00])
            ),
            Verdict::SameClass("a signature: same length".into())
        );
        assert!(matches!(
            compare(
                &[0x00, 0xB0, 0x00, 0x00],
                &ExchangeOutcome::Response(vec![1, 2, 0x90, 0x00]),
                &ExchangeOutcome::Response(vec![1, 3, 0x90, 0x00])
            ),
            Verdict::DataDiffers(_)
        ));
    }
}

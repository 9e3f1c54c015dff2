//! The coverage map: which protocol families, JPKI commands and JPKI status words a run really
//! exercised, and with what result. Families follow the public structure of ISO/IEC 10373-6
//! (PCD/PICC test methods) and of EMVCo's PCD digital test families: activation, error-free
//! exchange at each frame waiting time, chaining, WTX, R-block recovery, invalid blocks,
//! DESELECT, removal, timing. A case counts for a family only when its recorded frames, events
//! and answers show it — never because of its name or tags.

use crate::record::Event;
use crate::run::{CaseResult, Status};
use crate::scenario::suite::Case;
use kazasu_sim::LinkError;
use kazasu_sim::iso14443::frame::BlockKind;
use kazasu_sim::reader::{Direction, Fate, FrameWhat};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the coverage rules see of one case.
struct Seen<'a> {
    result: &'a CaseResult,
    case: Option<&'a Case>,
    /// The card profile's FWI and device, when its profile resolves.
    fwi: Option<u8>,
    jpki: bool,
}

impl Seen<'_> {
    fn frames(&self) -> impl Iterator<Item = &kazasu_sim::reader::FrameRecord> {
        self.result
            .transcript
            .entries
            .iter()
            .flat_map(|e| e.frames.iter())
    }
    fn any_frame(&self, f: impl Fn(&kazasu_sim::reader::FrameRecord) -> bool) -> bool {
        self.frames().any(f)
    }
    fn block(&self, f: impl Fn(BlockKind) -> bool) -> bool {
        self.any_frame(|r| matches!(r.what, FrameWhat::Block { kind, .. } if f(kind)))
    }
    fn chained(&self, dir: Direction) -> impl Iterator<Item = &kazasu_sim::reader::FrameRecord> {
        self.frames().filter(move |r| {
            r.dir == dir
                && matches!(
                    r.what,
                    FrameWhat::Block {
                        kind: BlockKind::I { chaining: true },
                        ..
                    }
                )
        })
    }
    fn max_cascade(&self) -> u8 {
        self.frames()
            .filter_map(|r| match r.what {
                FrameWhat::Select(level) => Some(level),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
    /// Whether an exchange or a tap of the case failed with `kind` (read from the recorded
    /// type, never from a message's wording).
    fn link_failed(&self, kind: LinkError) -> bool {
        self.result
            .transcript
            .entries
            .iter()
            .any(|e| e.link_error() == Some(&kind))
    }
    fn event(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.result
            .transcript
            .entries
            .iter()
            .any(|e| e.event.as_ref().is_some_and(&f))
    }
    fn exchanged(&self) -> bool {
        self.block(|k| matches!(k, BlockKind::I { .. }))
    }
}

/// A family: its group, its name, and the rule that says a case exercised it.
struct Family {
    group: &'static str,
    name: &'static str,
    exercised: fn(&Seen<'_>) -> bool,
}

const FAMILIES: &[Family] = &[
    Family {
        group: "activation",
        name: "Type A: REQA/ATQA, anticollision, SELECT/SAK, RATS/ATS",
        exercised: |s| s.any_frame(|r| r.what == FrameWhat::Ats),
    },
    Family {
        group: "activation",
        name: "Type A: single-size UID (4 bytes, one cascade level)",
        exercised: |s| s.max_cascade() == 1,
    },
    Family {
        group: "activation",
        name: "Type A: double-size UID (7 bytes, two cascade levels)",
        exercised: |s| s.max_cascade() == 2,
    },
    Family {
        group: "activation",
        name: "Type B: REQB/ATQB, ATTRIB and its answer",
        exercised: |s| s.any_frame(|r| r.what == FrameWhat::AttribAnswer),
    },
    Family {
        group: "activation",
        name: "bit rate above 106 kbit/s after activation",
        exercised: |s| s.any_frame(|r| r.kbps > 106),
    },
    Family {
        group: "activation",
        name: "two cards in the field (collision resolved or refused)",
        exercised: |s| {
            s.link_failed(LinkError::Collision)
                || s.result.transcript.entries.iter().any(|e| {
                    e.frames
                        .iter()
                        .filter(|r| r.what == FrameWhat::Anticollision(1))
                        .count()
                        > 1
                })
        },
    },
    Family {
        group: "error-free exchange",
        name: "at FWI 7 or less (phones' secure elements)",
        exercised: |s| s.exchanged() && s.fwi.is_some_and(|f| f <= 7),
    },
    Family {
        group: "error-free exchange",
        name: "at FWI 8 to 10",
        exercised: |s| s.exchanged() && s.fwi.is_some_and(|f| (8..=10).contains(&f)),
    },
    Family {
        group: "error-free exchange",
        name: "at FWI 11 to 14",
        exercised: |s| s.exchanged() && s.fwi.is_some_and(|f| f >= 11),
    },
    Family {
        group: "chaining",
        name: "card to reader (PICC chaining, R(ACK) from the reader)",
        exercised: |s| s.chained(Direction::ToReader).next().is_some(),
    },
    Family {
        group: "chaining",
        name: "reader to card (PCD chaining, R(ACK) from the card)",
        exercised: |s| s.chained(Direction::ToCard).next().is_some(),
    },
    Family {
        group: "chaining",
        name: "in frames of 64 bytes or less",
        exercised: |s| {
            s.chained(Direction::ToReader).any(|r| r.len <= 64)
                || s.chained(Direction::ToCard).any(|r| r.len <= 64)
        },
    },
    Family {
        group: "chaining",
        name: "in frames of more than 64 bytes",
        exercised: |s| {
            s.chained(Direction::ToReader).any(|r| r.len > 64)
                || s.chained(Direction::ToCard).any(|r| r.len > 64)
        },
    },
    Family {
        group: "WTX",
        name: "S(WTX) request and answer",
        exercised: |s| s.block(|k| matches!(k, BlockKind::Wtx { .. })),
    },
    Family {
        group: "WTX",
        name: "WTX in an exchange with chained blocks",
        exercised: |s| {
            s.result.transcript.entries.iter().any(|e| {
                let mut chaining = false;
                e.frames.iter().any(|r| match r.what {
                    FrameWhat::Block {
                        kind: BlockKind::I { chaining: true },
                        ..
                    } => {
                        chaining = true;
                        false
                    }
                    FrameWhat::Block {
                        kind: BlockKind::Wtx { .. },
                        ..
                    } => chaining,
                    _ => false,
                })
            })
        },
    },
    Family {
        group: "WTX",
        name: "the reader's WTX limit ends the exchange",
        exercised: |s| s.link_failed(LinkError::TooManyWtx),
    },
    Family {
        group: "recovery",
        name: "R(NAK) after a lost or corrupted block, and the block again",
        exercised: |s| s.block(|k| k == BlockKind::RNak),
    },
    Family {
        group: "recovery",
        name: "retry limit reached: a transport error, not a wrong answer",
        exercised: |s| s.link_failed(LinkError::NoAnswer),
    },
    Family {
        group: "invalid blocks",
        name: "a lost frame (the reader times out)",
        exercised: |s| s.any_frame(|r| r.fate == Fate::Lost || r.what == FrameWhat::Timeout),
    },
    Family {
        group: "invalid blocks",
        name: "a corrupted frame (CRC error)",
        exercised: |s| s.any_frame(|r| r.fate == Fate::Corrupted),
    },
    Family {
        group: "DESELECT",
        name: "S(DESELECT) and re-activation",
        exercised: |s| s.block(|k| k == BlockKind::Deselect),
    },
    Family {
        group: "removal",
        name: "field off in the middle of an exchange",
        exercised: |s| s.any_frame(|r| r.fate == Fate::FieldOff),
    },
    Family {
        group: "removal",
        name: "removal between commands, then a new tap",
        exercised: |s| {
            use crate::scenario::{CardAction, Step};
            // The steps that ran, by their kind (never by their labels' wording).
            let Some(case) = s.case else { return false };
            let ran = &case.scenario.steps[..s.result.steps.len().min(case.scenario.steps.len())];
            let is = |step: &Step, want: fn(&CardAction) -> bool| matches!(step, Step::Card(c) if want(&c.action));
            ran.iter()
                .position(|x| is(x, |a| matches!(a, CardAction::Remove)))
                .is_some_and(|i| {
                    ran[i..]
                        .iter()
                        .any(|x| is(x, |a| matches!(a, CardAction::Tap)))
                })
        },
    },
    Family {
        group: "removal",
        name: "the reader unplugged in the middle of an exchange",
        exercised: |s| s.link_failed(LinkError::ReaderUnplugged),
    },
    Family {
        group: "timing",
        name: "a budget for the whole case (the patient's hold)",
        exercised: |s| s.case.is_some_and(|c| c.scenario.budget.is_some()),
    },
    Family {
        group: "the reader",
        name: "its PC/SC part 10 features (SCardControl)",
        exercised: |s| s.event(|e| matches!(e, Event::Control { .. })),
    },
    Family {
        group: "the reader",
        name: "its attributes (SCardGetAttrib)",
        exercised: |s| s.event(|e| matches!(e, Event::Attribute { .. })),
    },
    Family {
        group: "the reader",
        name: "a PIN entered on its PIN pad (VERIFY PIN DIRECT)",
        exercised: |s| {
            s.event(|e| {
                matches!(e, Event::Control { code, answered: Ok(_), .. }
                    if *code == kazasu_sim::reader::pcsc::code::feature(
                        kazasu_sim::reader::pcsc::code::VERIFY_PIN_DIRECT))
            })
        },
    },
];

/// The commands of the My Number card model (CLA INS) in all its applications, as
/// `docs/jpki.md` lists them.
const JPKI_COMMANDS: &[([u8; 2], &str)] = &[
    ([0x00, 0xA4], "SELECT"),
    ([0x00, 0xB0], "READ BINARY"),
    ([0x00, 0xB2], "READ RECORD (共通カードAP, 住基AP)"),
    ([0x00, 0x20], "VERIFY"),
    ([0x00, 0x24], "CHANGE REFERENCE DATA"),
    ([0x80, 0x32], "CHANGE KEY (共通カードAP, 住基AP)"),
    ([0x80, 0x2A], "COMPUTE DIGITAL SIGNATURE"),
    ([0x00, 0x84], "GET CHALLENGE"),
    ([0x00, 0x88], "INTERNAL AUTHENTICATE"),
    ([0x80, 0xAE], "SET SESSION KEY (refused)"),
    ([0x00, 0xCA], "GET DATA"),
    ([0x80, 0xFC], "last-command indicator (phones)"),
    (
        [0xFF, 0xCA],
        "GET DATA answered by the reader (PC/SC part 3)",
    ),
];

/// The status words the JPKI card model answers (`63Cx`: any tries-left count): the rows of
/// the simulator's status-word table marked `jpki`.
pub fn jpki_status_words() -> impl Iterator<Item = &'static kazasu_sim::NamedStatus> {
    kazasu_sim::STATUS_WORDS.iter().filter(|n| n.jpki)
}

/// One row of the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// `protocol`, `JPKI command` or `JPKI status word`.
    pub kind: String,
    /// The family's group (`activation`, `chaining` …; for JPKI rows the code).
    pub group: String,
    /// The family.
    pub name: String,
    /// The cases that exercised it.
    pub cases: Vec<String>,
    /// How many of them passed.
    pub passed: usize,
}

impl Row {
    /// The row's result in one word: `none` (no case), `passed`, or `N failed`.
    pub fn result(&self) -> String {
        match (
            self.cases.len(),
            self.cases.len().saturating_sub(self.passed),
        ) {
            (0, _) => "none".into(),
            (_, 0) => "passed".into(),
            (_, bad) => format!("{bad} not passed"),
        }
    }
}

/// The coverage map of `results` (with `cases`, the cases that produced them, for what only
/// the scenario says: its budget).
pub fn map(results: &[CaseResult], cases: &[Case]) -> Vec<Row> {
    let by_name: BTreeMap<&str, &Case> = cases.iter().map(|c| (c.name.as_str(), c)).collect();
    let seen: Vec<Seen<'_>> = results
        .iter()
        .filter(|r| r.status != Status::NotApplicable && r.status != Status::Skipped)
        .map(|r| {
            let case = by_name.get(r.name.as_str()).copied();
            let profile = case.map(|c| {
                (
                    c.card.contactless.fwi.value,
                    c.card.device != kazasu_sim::platform::profile::Device::TestCard,
                )
            });
            Seen {
                result: r,
                case,
                fwi: profile.map(|p| p.0),
                jpki: profile.is_some_and(|p| p.1),
            }
        })
        .collect();
    let row = |kind: &str, group: String, name: String, hit: &dyn Fn(&Seen<'_>) -> bool| {
        let hits: Vec<&Seen<'_>> = seen.iter().filter(|s| hit(s)).collect();
        Row {
            kind: kind.to_string(),
            group,
            name,
            passed: hits
                .iter()
                .filter(|s| s.result.status == Status::Passed)
                .count(),
            cases: hits.iter().map(|s| s.result.name.clone()).collect(),
        }
    };
    let mut rows = Vec::new();
    for f in FAMILIES {
        rows.push(row("protocol", f.group.into(), f.name.into(), &|s| {
            (f.exercised)(s)
        }));
    }
    for (prefix, name) in JPKI_COMMANDS {
        rows.push(row(
            "JPKI command",
            kazasu_sim::hex_spaced(prefix),
            (*name).into(),
            &|s| {
                s.jpki
                    && s.result
                        .transcript
                        .entries
                        .iter()
                        .any(|e| e.command.cla_ins() == Some(*prefix))
            },
        ));
    }
    for named in jpki_status_words() {
        rows.push(row(
            "JPKI status word",
            named.pattern.into(),
            named.meaning.into(),
            &|s| {
                s.jpki
                    && s.result
                        .transcript
                        .entries
                        .iter()
                        .any(|e| e.sw.is_some_and(|x| named.matches(x)))
            },
        ));
    }
    rows
}

/// The map as a text table (`kazasu coverage`, `coverage.txt` of a certification bundle).
pub fn text(rows: &[Row]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mut last_kind = "";
    for r in rows {
        if r.kind != last_kind {
            let _ = writeln!(
                s,
                "\n{:<18} {:<62} {:>5}  result",
                r.kind, "family", "cases"
            );
            last_kind = &r.kind;
        }
        let label = format!("{}: {}", r.group, r.name);
        let _ = writeln!(s, "  {label:<78} {:>5}  {}", r.cases.len(), r.result());
    }
    let empty = rows.iter().filter(|r| r.cases.is_empty()).count();
    let _ = writeln!(
        s,
        "\n{} families, commands and status words; {} without a case",
        rows.len(),
        empty
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{self, RunOptions};
    use crate::scenario::suite;

    fn run_yaml(yaml: &str) -> Vec<Row> {
        let scenarios = suite::parse(yaml, "t.yaml").expect("scenario");
        let cases = suite::expand(&scenarios, "t.yaml", &suite::Overrides::NONE).expect("cases");
        let results = run::run_with(&cases, &RunOptions::default(), &run::inproc, &|_| {});
        map(&results, &cases)
    }

    fn row<'r>(rows: &'r [Row], kind: &str, group: &str) -> &'r Row {
        rows.iter()
            .find(|r| r.kind == kind && r.group == group)
            .unwrap_or_else(|| panic!("no row {kind} {group}"))
    }

    #[test]
    fn a_row_counts_the_cases_whose_answers_show_it_and_how_they_ended() {
        let rows = run_yaml(
            "- name: a file that is not there\n  steps:\n    - tap\n    - select: jpki\n    - select_ef: 'FFFF'\n      expect: { sw: 6A82 }\n\
             - name: the same, expected wrongly\n  steps:\n    - tap\n    - select: jpki\n    - select_ef: 'FFFF'\n      expect: { sw: 9000 }\n",
        );
        let not_found = row(&rows, "JPKI status word", "6A82");
        assert_eq!(not_found.cases.len(), 2);
        assert_eq!(
            (not_found.passed, not_found.result()),
            (1, "1 not passed".to_string())
        );
        assert_eq!(row(&rows, "JPKI status word", "6984").result(), "none");
        assert!(row(&rows, "JPKI command", "00 A4").cases.len() == 2);
        let shown = text(&rows);
        assert!(shown.contains("6A82: file not found"), "{shown}");
        let empty = rows.iter().filter(|r| r.cases.is_empty()).count();
        assert!(
            shown.ends_with(&format!("{empty} without a case\n")),
            "{shown}"
        );
    }
}

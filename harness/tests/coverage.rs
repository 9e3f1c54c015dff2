//! The coverage map of the bundled suite: every protocol family, JPKI command and JPKI status
//! word of the card model is exercised by at least one case, as its recorded frames and
//! answers show. A family left without a case fails here.

use kazasu::report::coverage;
use kazasu::run::{self, RunOptions};
use kazasu::scenario::suite;

mod common;
use common::kazasu;

fn bundled_suite() -> (Vec<suite::Case>, Vec<run::CaseResult>) {
    let files = suite::load(&[]).unwrap();
    let cases: Vec<_> = files
        .iter()
        .flat_map(|(f, s)| suite::expand(s, f, &suite::Overrides::NONE).expect("profiles load"))
        .collect();
    let results = run::run_with(&cases, &RunOptions::default(), &run::inproc, &|_| {});
    (cases, results)
}

/// The map is made from what the cases did — recorded types: frames, link failures as enums,
/// status words, command headers — never from text. Every text a result holds (failure
/// messages, onboarding lines, reader names in events, notes) is replaced here, and every link
/// failure is an enum without text: the map of the bundled suite stays the same, row for row.
#[test]
fn rewording_every_message_leaves_the_coverage_map_unchanged() {
    use kazasu::record::Event;
    let (cases, results) = bundled_suite();
    let before = coverage::map(&results, &cases);
    let reworded: Vec<run::CaseResult> = results
        .iter()
        .cloned()
        .map(|mut r| {
            for e in &mut r.transcript.entries {
                e.event = e.event.take().map(|ev| match ev {
                    Event::Onboarding(_) => Event::Onboarding("reworded".into()),
                    Event::CommissionTap { .. } => Event::CommissionTap {
                        reader: "reworded".into(),
                    },
                    other => other,
                });
            }
            if let Some(f) = &mut r.failure {
                f.expected = "reworded".into();
                f.actual = "reworded".into();
                f.context = "reworded".into();
            }
            r.note = r.note.map(|_| "reworded".into());
            for s in &mut r.steps {
                s.label = "reworded".into();
            }
            r
        })
        .collect();
    let after = coverage::map(&reworded, &cases);
    for (a, b) in before.iter().zip(&after) {
        let gone: Vec<_> = a.cases.iter().filter(|c| !b.cases.contains(c)).collect();
        let new: Vec<_> = b.cases.iter().filter(|c| !a.cases.contains(c)).collect();
        assert!(
            a == b,
            "{}: {}: cases no longer counted {gone:?}, newly counted {new:?}, passed {} then {}",
            a.group,
            a.name,
            a.passed,
            b.passed
        );
    }
    assert_eq!(after.len(), before.len());
    // The rows that rest on link failures are among those that have cases.
    for name in [
        "two cards in the field (collision resolved or refused)",
        "the reader's WTX limit ends the exchange",
        "retry limit reached: a transport error, not a wrong answer",
    ] {
        let row = before.iter().find(|r| r.name == name).expect(name);
        assert!(!row.cases.is_empty(), "{name}");
    }
}

#[test]
fn every_family_command_and_status_word_has_a_passing_case() {
    let (cases, results) = bundled_suite();
    let rows = coverage::map(&results, &cases);
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let empty: Vec<String> = rows
        .iter()
        .filter(|r| r.cases.is_empty())
        .map(|r| format!("{} {}: {}", r.kind, r.group, r.name))
        .collect();
    assert_eq!(empty, Vec::<String>::new(), "families without a case");
    for r in &rows {
        assert_eq!(r.result(), "passed", "{}: {}", r.group, r.name);
    }
    for sw in coverage::jpki_status_words() {
        assert!(
            rows.iter().any(|r| r.kind == "JPKI status word"
                && r.group == sw.pattern
                && !r.cases.is_empty()),
            "{}",
            sw.pattern
        );
    }
    // The list of status words is the card model's: every status word a JPKI device answered
    // in the suite is on it.
    let listed = |sw: kazasu_sim::StatusWord| coverage::jpki_status_words().any(|n| n.matches(sw));
    for r in &results {
        if ![
            "mynumber-card",
            "mynumber-card-fwi13",
            "mynumber-card-41e0",
            "mynumber-card-106k",
            "android-jpki",
            "android-jpki-extended",
            "iphone-jpki",
            "iphone-jpki-extended",
            "iphone-jpki-type-b",
        ]
        .contains(&r.card.as_str())
        {
            continue;
        }
        for e in &r.transcript.entries {
            // FF CA is answered by the reader, not the card (6A81 is the reader's).
            if let Some(sw) = e.sw
                && e.command.cla_ins() != Some([0xFF, 0xCA])
            {
                assert!(listed(sw), "{}: {} answered {sw}", r.name, e.command);
            }
        }
    }
}

#[test]
fn the_map_is_printed_and_part_of_the_json_report() {
    let (code, out, err) = kazasu(&["coverage"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("chaining: reader to card"), "{out}");
    assert!(out.contains("6984: PIN blocked"), "{out}");
    assert!(out.contains("; 0 without a case"), "{out}");
    let json = std::env::temp_dir().join(format!("kazasu-coverage-{}.json", std::process::id()));
    let (code, _, err) = kazasu(&["run", "--tag", "wtx", "--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["coverage"].as_array().unwrap();
    let wtx = rows
        .iter()
        .find(|r| r["name"] == "S(WTX) request and answer")
        .unwrap();
    assert!(!wtx["cases"].as_array().unwrap().is_empty());
    // A run of only WTX cases leaves other families empty, and says so.
    assert!(
        rows.iter()
            .any(|r| r["cases"].as_array().unwrap().is_empty())
    );
}

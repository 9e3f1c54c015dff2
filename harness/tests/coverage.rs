//! The coverage map of the bundled suite: every protocol family, JPKI command and JPKI status
//! word of the card model is exercised by at least one case, as its recorded frames and
//! answers show. A family left without a case fails here.

use kazasu::report::coverage;
use kazasu::run::{self, RunOptions};
use kazasu::scenario::suite;

mod common;
use common::kazasu;

#[test]
fn every_family_command_and_status_word_has_a_passing_case() {
    let files = suite::load(&[]).unwrap();
    let cases: Vec<_> = files
        .iter()
        .flat_map(|(f, s)| {
            suite::expand(s, f, &kazasu::scenario::suite::Overrides::NONE).expect("profiles load")
        })
        .collect();
    let results = run::run_with(&cases, &RunOptions::default(), &run::inproc, &|_| {});
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
    for sw in coverage::JPKI_STATUS_WORDS {
        assert!(
            rows.iter()
                .any(|r| r.kind == "JPKI status word" && r.group == sw.0 && !r.cases.is_empty()),
            "{}",
            sw.0
        );
    }
    // The list of status words is the card model's: every status word a JPKI device answered
    // in the suite is on it.
    let listed = |sw: &str| {
        coverage::JPKI_STATUS_WORDS.iter().any(|(p, _)| {
            p.strip_suffix('x')
                .map_or(*p == sw, |pre| sw.starts_with(pre))
        })
    };
    for r in &results {
        if ![
            "mynumber-card",
            "mynumber-card-fwi13",
            "android-jpki",
            "iphone-jpki",
            "iphone-jpki-type-b",
        ]
        .contains(&r.card.as_str())
        {
            continue;
        }
        for e in &r.transcript.entries {
            // FF CA is answered by the reader, not the card (6A81, 6Cxx are the reader's).
            if !e.sw.is_empty() && !e.command.starts_with("FF CA") {
                assert!(listed(&e.sw), "{}: {} answered {}", r.name, e.command, e.sw);
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

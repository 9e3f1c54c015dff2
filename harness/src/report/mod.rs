//! Reports of a run: the console summary a person reads at a glance, JUnit XML that CI systems
//! render (each case's transcript attached), and a JSON document with a stable schema.

pub mod coverage;
pub mod html;

use crate::run::{CaseResult, Status, sim_time};
use kazasu_sim::SimDuration;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Counts of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    /// Cases run or skipped.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed an expectation.
    pub failed: usize,
    /// Could not run.
    pub error: usize,
    /// Not run (fail-fast).
    pub skipped: usize,
    /// Not run: about another kind of reader than the one under test.
    pub not_applicable: usize,
    /// Simulated time of all cases, nanoseconds.
    pub sim_time_ns: u64,
    /// Wall time of the run, nanoseconds.
    pub wall_time_ns: u64,
}

impl Summary {
    /// Counts `results`; `wall` is the run's wall time.
    pub fn of(results: &[CaseResult], wall: std::time::Duration) -> Summary {
        let mut s = Summary {
            total: results.len(),
            wall_time_ns: wall.as_nanos() as u64,
            ..Summary::default()
        };
        for r in results {
            match r.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed += 1,
                Status::Error => s.error += 1,
                Status::Skipped => s.skipped += 1,
                Status::NotApplicable => s.not_applicable += 1,
            }
            s.sim_time_ns += r.sim_time_ns;
        }
        s
    }
    /// Whether everything that ran passed.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.error == 0
    }
}

/// The JSON report (schema documented in README.md; fields are only ever added).
#[derive(Serialize)]
pub struct JsonReport<'a> {
    /// Format version of this document.
    pub schema_version: u32,
    /// kazasu's version.
    pub kazasu_version: &'static str,
    /// The git commit kazasu was built from (`unknown` outside a checkout).
    pub kazasu_commit: &'static str,
    /// The run's seed (`--seed` reproduces the run).
    pub seed: u64,
    /// `inproc` or `pcsc`.
    pub backend: &'a str,
    /// Counts and times.
    pub summary: Summary,
    /// Every case.
    pub scenarios: &'a [CaseResult],
    /// The coverage map: protocol families, JPKI commands and status words, with the cases
    /// that exercised each (absent when the run did not compute it).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub coverage: &'a [coverage::Row],
}

/// The JSON report as text.
pub fn json(
    results: &[CaseResult],
    summary: Summary,
    seed: u64,
    backend: &str,
    coverage: &[coverage::Row],
) -> String {
    let report = JsonReport {
        schema_version: 1,
        kazasu_version: env!("CARGO_PKG_VERSION"),
        kazasu_commit: env!("KAZASU_COMMIT"),
        seed,
        backend,
        summary,
        scenarios: results,
        coverage,
    };
    serde_json::to_string_pretty(&report).expect("reports serialise") + "\n"
}

/// JUnit XML: a test suite per scenario file, a test case per case, transcripts as system-out.
pub fn junit(results: &[CaseResult], summary: Summary, seed: u64) -> String {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("kazasu");
    report.set_time(std::time::Duration::from_nanos(summary.wall_time_ns));
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for r in results {
        let suite = suites.entry(r.file.as_str()).or_insert_with(|| {
            let mut s = TestSuite::new(r.file.clone());
            s.add_property(Property::new("seed", seed.to_string()));
            s
        });
        let status = match r.status {
            Status::Passed => TestCaseStatus::success(),
            Status::Skipped => TestCaseStatus::skipped(),
            Status::NotApplicable => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(format!(
                    "not applicable: {}",
                    r.note.as_deref().unwrap_or_default()
                ));
                st
            }
            Status::Failed | Status::Error => {
                let kind = if r.status == Status::Failed {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut st = TestCaseStatus::non_success(kind);
                if let Some(f) = &r.failure {
                    st.set_message(format!(
                        "step {} {}: expected {}, got {}",
                        f.step, f.label, f.expected, f.actual
                    ));
                    st.set_type(if r.status == Status::Failed {
                        "expectation"
                    } else {
                        "error"
                    });
                    st.set_description(failure_text(r));
                }
                st
            }
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname(r.file.trim_end_matches(".yaml").replace('/', "."));
        case.set_time(std::time::Duration::from_nanos(r.wall_time_ns));
        case.add_property(Property::new("card", r.card.clone()));
        case.add_property(Property::new("reader", r.reader.clone()));
        case.add_property(Property::new("sim_time_ns", r.sim_time_ns.to_string()));
        case.add_property(Property::new("seed", r.seed.to_string()));
        case.set_system_out(format!("{:#}", r.transcript));
        suite.add_test_case(case);
    }
    for (_, s) in suites {
        report.add_test_suite(s);
    }
    report.to_string().unwrap_or_default()
}

/// A failure as a person reads it: the step, expected and actual, and the exchanges before it.
pub fn failure_text(r: &CaseResult) -> String {
    let Some(f) = &r.failure else {
        return String::new();
    };
    let mut s = String::new();
    let where_ = if f.step == 0 {
        f.label.clone()
    } else {
        format!("step {} ({})", f.step, f.label)
    };
    let _ = writeln!(s, "  at {where_}   [{}]", r.file);
    let _ = writeln!(s, "  expected: {}", f.expected);
    let _ = writeln!(s, "    actual: {}", f.actual);
    if !f.context.is_empty() {
        let _ = writeln!(s, "  last exchanges:");
        for line in f.context.lines() {
            let _ = writeln!(s, "    {line}");
        }
    }
    // A scenario file of the user's by its absolute path (a bundled one by its name, which
    // the binary finds anywhere): the line runs from any folder.
    let file = match std::path::Path::new(&r.file) {
        p if p.is_relative()
            && p.is_file()
            && crate::scenario::suite::bundled_named(p).is_empty() =>
        {
            std::fs::canonicalize(p).map_or_else(|_| r.file.clone(), |p| p.display().to_string())
        }
        _ => r.file.clone(),
    };
    let _ = write!(
        s,
        "  reproduce: kazasu run {} --filter {} --seed {}",
        shell_quote(&file),
        shell_quote(&r.name),
        r.run_seed
    );
    for arg in &r.reproduce_with {
        let _ = write!(s, " {}", shell_quote(arg));
    }
    s.push('\n');
    s
}

/// A word a POSIX shell reads back as exactly `text`: bare when it is plainly safe, else in
/// single quotes with each `'` written as `'\''` ("the patient's hold").
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@".contains(&b));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The status word a person reads in the console.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "PASS",
        Status::Failed => "FAIL",
        Status::Error => "ERROR",
        Status::Skipped => "SKIP",
        Status::NotApplicable => "N/A",
    }
}

/// Percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Simulated-time latency per (card, reader) profile pair of the cases that passed and used a
/// card (onboarding-only cases take no simulated time and have no card latency to show).
pub fn latency_by_profile(results: &[CaseResult]) -> Vec<(String, String, Vec<u64>)> {
    let mut m: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for r in results
        .iter()
        .filter(|r| r.status == Status::Passed && r.sim_time_ns > 0)
    {
        m.entry((r.card.clone(), r.reader.clone()))
            .or_default()
            .push(r.sim_time_ns);
    }
    m.into_iter()
        .map(|((c, rd), mut v)| {
            v.sort_unstable();
            (c, rd, v)
        })
        .collect()
}

/// The summary table and the closing line.
pub fn console_summary(results: &[CaseResult], summary: &Summary) -> String {
    let mut s = String::new();
    let rows = latency_by_profile(results);
    if !rows.is_empty() {
        // Columns as wide as the longest profile name (at least the built-in names' 16 and 14).
        let cw = rows
            .iter()
            .map(|r| r.0.chars().count())
            .max()
            .unwrap_or(0)
            .max(16);
        let rw = rows
            .iter()
            .map(|r| r.1.chars().count())
            .max()
            .unwrap_or(0)
            .max(14);
        let _ = writeln!(
            s,
            "\n{:<cw$} {:<rw$} {:>5} {:>11} {:>11} {:>11}",
            "card", "reader", "cases", "p50 sim", "p90 sim", "max sim"
        );
        for (card, reader, v) in &rows {
            let ms = |ns: u64| format!("{:.1} ms", ns as f64 / 1e6);
            let _ = writeln!(
                s,
                "{card:<cw$} {reader:<rw$} {:>5} {:>11} {:>11} {:>11}",
                v.len(),
                ms(percentile(v, 50.0)),
                ms(percentile(v, 90.0)),
                ms(*v.last().unwrap_or(&0))
            );
        }
    }
    let failed: Vec<&CaseResult> = results
        .iter()
        .filter(|r| matches!(r.status, Status::Failed | Status::Error))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "\nfailed:");
        for r in failed {
            let _ = writeln!(s, "  {} {}", status_word(r.status), r.name);
        }
    }
    let plural = |n: usize, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let _ = writeln!(
        s,
        "\n{} in {:.2} s wall, {} simulated; {}",
        plural(summary.total, "case"),
        summary.wall_time_ns as f64 / 1e9,
        SimDuration::from_nanos(summary.sim_time_ns),
        plural(summary.error, "error")
    );
    let mut skipped = if summary.skipped > 0 {
        format!(", {} skipped", summary.skipped)
    } else {
        String::new()
    };
    if summary.not_applicable > 0 {
        skipped.push_str(&format!(
            ", {} not applicable to this reader",
            summary.not_applicable
        ));
    }
    let _ = writeln!(
        s,
        "{} passed, {} failed{skipped}",
        summary.passed,
        summary.failed + summary.error
    );
    s
}

/// The line printed per case.
pub fn case_line(r: &CaseResult) -> String {
    let mut line = format!(
        "{:>5} [{:>10.3} ms sim] {}",
        status_word(r.status),
        sim_time(r).as_millis_f64(),
        r.name
    );
    if let Some(note) = &r.note {
        line.push_str(&format!(" — {note}"));
    }
    line
}

#[cfg(test)]
mod shell_tests {
    use super::shell_quote;

    /// What `sh` reads the quoted word back as.
    fn through_sh(word: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {word}"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn reproduce_lines_survive_a_shell() {
        for text in [
            "auth flow fits the patient's hold [card=mynumber-card, reader=typical-424k]",
            "scenarios/conformance/auth-flow.yaml",
            "it's '' $HOME `x` \"y\" \\ *",
            "plain-name_1.yaml",
        ] {
            assert_eq!(through_sh(&shell_quote(text)), text);
        }
    }
}

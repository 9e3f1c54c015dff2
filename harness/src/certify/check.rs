//! Rechecking a bundle: the files against their hashes, and every number the bundle states
//! against the one fact it rests on — the list of cases with their steps and failures in
//! report.json. Counts are recomputed, never read; junit.xml, coverage.txt, certificate.html and
//! manifest.json must agree with the recomputation case by case.

use super::manifest::{
    CERTIFICATE, COVERAGE, Counts, Manifest, PROFILE_FILE, REPORT_HTML, REPORT_JSON, REPORT_JUNIT,
    sha256_hex,
};
use super::view::ReportView;
use crate::run::Status;
use crate::text::shown;
use std::collections::{BTreeMap, BTreeSet};

/// The cases of a run on `seed` with the seeds the runner gives them: what a bundle's case
/// list must be.
pub fn expected_cases(cases: &[crate::scenario::suite::Case], seed: u64) -> Vec<ExpectedCase> {
    cases
        .iter()
        .map(|c| ExpectedCase {
            name: c.name.clone(),
            seed: crate::run::case_seed(c, seed),
        })
        .collect()
}

/// A case this kazasu's suite has, with the seed it would give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedCase {
    /// Its name.
    pub name: String,
    /// Its seed under the bundle's run seed.
    pub seed: u64,
}

/// One way a bundle disagrees with itself or with its manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discrepancy {
    /// A listed file's content changed.
    Changed(String),
    /// A listed file is gone.
    Missing(String),
    /// A file in the bundle that the manifest does not list.
    Unlisted(String),
    /// The manifest names a file that it does not hash.
    NotCovered(String),
    /// A file that must parse does not.
    Unreadable {
        /// The file.
        file: String,
        /// Why.
        why: String,
    },
    /// A file states a value that the recheck gives otherwise.
    Disagrees {
        /// The file that states it.
        file: &'static str,
        /// What it is.
        what: String,
        /// What the file states.
        stated: String,
        /// What the recheck gives.
        rechecked: String,
    },
    /// A case whose record contradicts itself.
    Inconsistent {
        /// The case.
        case: String,
        /// How.
        why: String,
    },
    /// A case of the bundle that this kazasu's suite does not have, or the other way round.
    CaseList {
        /// The case.
        case: String,
        /// Whether it is in the bundle (and not in the suite) or the other way round.
        in_bundle: bool,
    },
}

impl std::fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Changed(p) => write!(
                f,
                "{}: changed since the bundle was written (SHA-256 differs)",
                shown(p)
            ),
            Self::Missing(p) => write!(f, "{}: listed in the manifest but missing", shown(p)),
            Self::Unlisted(p) => write!(
                f,
                "{}: not in the manifest (added after the bundle was written)",
                shown(p)
            ),
            Self::NotCovered(p) => write!(
                f,
                "{}: a bundle's file that the manifest does not hash",
                shown(p)
            ),
            Self::Unreadable { file, why } => write!(f, "{}: {}", shown(file), shown(why)),
            Self::Disagrees {
                file,
                what,
                stated,
                rechecked,
            } => write!(
                f,
                "{file} states {} as {}; the recheck gives {}",
                shown(what),
                shown(stated),
                shown(rechecked)
            ),
            Self::Inconsistent { case, why } => {
                write!(f, "{REPORT_JSON}: case `{}`: {}", shown(case), shown(why))
            }
            Self::CaseList { case, in_bundle } => {
                if *in_bundle {
                    write!(
                        f,
                        "{REPORT_JSON}: case `{}` is not in this kazasu's suite",
                        shown(case)
                    )
                } else {
                    write!(
                        f,
                        "{REPORT_JSON}: this kazasu's suite has case `{}`, the bundle does not",
                        shown(case)
                    )
                }
            }
        }
    }
}

/// Checks a bundle's files (relative path → content; the manifest and its signature excluded)
/// against `manifest` and against themselves. `suite`: this kazasu's cases with their seeds, when
/// it is the commit that wrote the bundle (then the case list must be the same). Empty when
/// everything agrees.
pub fn check(
    manifest: &Manifest,
    files: &BTreeMap<String, Vec<u8>>,
    suite: Option<&[ExpectedCase]>,
) -> Vec<Discrepancy> {
    let mut found = Vec::new();
    if manifest.format != super::manifest::FORMAT {
        found.push(Discrepancy::Disagrees {
            file: super::manifest::MANIFEST,
            what: "the format".into(),
            stated: manifest.format.to_string(),
            rechecked: format!(
                "{} (the format this kazasu checks)",
                super::manifest::FORMAT
            ),
        });
    }
    for (path, hash) in &manifest.files {
        match files.get(path) {
            None => found.push(Discrepancy::Missing(path.clone())),
            Some(bytes) if sha256_hex(bytes) != *hash => {
                found.push(Discrepancy::Changed(path.clone()))
            }
            Some(_) => {}
        }
    }
    for path in files.keys() {
        if !manifest.files.contains_key(path) {
            found.push(Discrepancy::Unlisted(path.clone()));
        }
    }
    for named in [
        manifest.reader_profile.as_str(),
        REPORT_JSON,
        REPORT_HTML,
        REPORT_JUNIT,
        COVERAGE,
        CERTIFICATE,
    ] {
        if !manifest.files.contains_key(named) {
            found.push(Discrepancy::NotCovered(named.to_string()));
        }
    }
    if manifest.reader_profile != PROFILE_FILE {
        found.push(Discrepancy::Disagrees {
            file: super::manifest::MANIFEST,
            what: "the reader profile's file".into(),
            stated: manifest.reader_profile.clone(),
            rechecked: PROFILE_FILE.into(),
        });
    }
    let profile = files.get(PROFILE_FILE).map(|bytes| {
        std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                kazasu_sim::ReaderProfile::from_yaml(t, PROFILE_FILE).map_err(|e| e.to_string())
            })
    });
    match &profile {
        Some(Ok(p)) if p.name != manifest.reader => found.push(Discrepancy::Disagrees {
            file: super::manifest::MANIFEST,
            what: "the reader".into(),
            stated: manifest.reader.clone(),
            rechecked: format!("{} (the `name:` of {PROFILE_FILE})", p.name),
        }),
        Some(Err(why)) => found.push(Discrepancy::Unreadable {
            file: PROFILE_FILE.into(),
            why: format!("not a reader profile: {why}"),
        }),
        _ => {}
    }
    let Some(report_bytes) = files.get(REPORT_JSON) else {
        return found;
    };
    let report: ReportView = match serde_json::from_slice(report_bytes) {
        Ok(r) => r,
        Err(e) => {
            found.push(Discrepancy::Unreadable {
                file: REPORT_JSON.into(),
                why: format!("not a kazasu JSON report: {e}"),
            });
            return found;
        }
    };
    let counts = Counts::of(report.scenarios.iter().map(|c| &c.status));
    check_report(manifest, &report, counts, &mut found);
    if let Some(suite) = suite {
        check_case_list(&report, suite, &mut found);
    }
    match files.get(REPORT_JUNIT).map(|b| junit_cases(b)) {
        Some(Ok(junit)) => check_junit(&report, counts, &junit, &mut found),
        Some(Err(why)) => found.push(Discrepancy::Unreadable {
            file: REPORT_JUNIT.into(),
            why,
        }),
        None => {}
    }
    check_coverage(&report, files.get(COVERAGE), &mut found);
    if let (Some(Ok(profile)), Some(page)) = (&profile, files.get(CERTIFICATE)) {
        let rendered = super::page::render(manifest, &report, profile);
        if rendered.as_bytes() != page.as_slice() {
            found.push(Discrepancy::Disagrees {
                file: CERTIFICATE,
                what: "the page".into(),
                stated: "what it shows".into(),
                rechecked: "another page from the manifest and the case list".into(),
            });
        }
    }
    found
}

fn counts_differ(
    file: &'static str,
    stated: Counts,
    rechecked: Counts,
    found: &mut Vec<Discrepancy>,
) {
    if stated != rechecked {
        found.push(Discrepancy::Disagrees {
            file,
            what: "the counts".into(),
            stated: stated.to_string(),
            rechecked: format!("{rechecked} (from the case list)"),
        });
    }
}

fn check_report(
    manifest: &Manifest,
    report: &ReportView,
    counts: Counts,
    found: &mut Vec<Discrepancy>,
) {
    let s = report.summary;
    counts_differ(
        REPORT_JSON,
        Counts {
            total: s.total,
            passed: s.passed,
            failed: s.failed,
            error: s.error + s.skipped,
            not_applicable: s.not_applicable,
        },
        counts,
        found,
    );
    counts_differ(super::manifest::MANIFEST, manifest.summary, counts, found);
    let mut same = |file: &'static str, what: &str, stated: String, rechecked: String| {
        if stated != rechecked {
            found.push(Discrepancy::Disagrees {
                file,
                what: what.into(),
                stated,
                rechecked,
            });
        }
    };
    same(
        REPORT_JSON,
        "the seed",
        report.seed.to_string(),
        manifest.seed.to_string(),
    );
    same(
        REPORT_JSON,
        "kazasu's version",
        report.kazasu_version.clone(),
        manifest.kazasu_version.clone(),
    );
    same(
        REPORT_JSON,
        "kazasu's commit",
        report.kazasu_commit.clone().unwrap_or_default(),
        manifest.kazasu_commit.clone(),
    );
    let mut names = BTreeSet::new();
    for c in &report.scenarios {
        let bad = |why: String| Discrepancy::Inconsistent {
            case: c.name.clone(),
            why,
        };
        if !names.insert(c.name.as_str()) {
            found.push(bad("listed twice".into()));
        }
        if c.run_seed != manifest.seed {
            found.push(bad(format!(
                "run with seed {}, the bundle's seed is {}",
                c.run_seed, manifest.seed
            )));
        }
        let service_only = c.card == "onboarding" && c.reader == "-";
        if !service_only && c.reader != manifest.reader {
            found.push(bad(format!(
                "ran on the reader `{}`, the bundle certifies `{}`",
                c.reader, manifest.reader
            )));
        }
        let failed_steps = c
            .steps
            .iter()
            .filter(|s| s.status != Status::Passed)
            .count();
        match c.status {
            Status::Passed if c.failure.is_some() => {
                found.push(bad("passed, yet it records a failure".into()))
            }
            Status::Passed if failed_steps > 0 => found.push(bad(format!(
                "passed, yet {failed_steps} of its steps did not"
            ))),
            Status::Failed | Status::Error if c.failure.is_none() => found.push(bad(format!(
                "{}, yet it records no failure",
                status_word(c.status)
            ))),
            Status::Failed | Status::Error => {
                // A case stops at its failing step: every step before it passed; a failure of
                // the case as a whole (step 0: its budget, its faults) comes after steps that
                // all passed.
                let step = c.failure.as_ref().map_or(0, |f| f.step);
                let shape_holds = if step == 0 {
                    failed_steps == 0
                } else {
                    c.steps.len() == step
                        && c.steps[..step - 1]
                            .iter()
                            .all(|s| s.status == Status::Passed)
                        && c.steps[step - 1].status == c.status
                };
                if !shape_holds {
                    found.push(bad(format!(
                        "{} at step {step}, which its steps do not show",
                        status_word(c.status)
                    )));
                }
            }
            Status::NotApplicable
                if c.note.is_none() || !c.steps.is_empty() || c.failure.is_some() =>
            {
                found.push(bad(
                    "not applicable, yet it ran steps, records a failure or says no reason".into(),
                ))
            }
            Status::Skipped => found.push(bad(
                "skipped: a certification runs every case (no fail-fast)".into(),
            )),
            _ => {}
        }
    }
}

fn check_case_list(report: &ReportView, suite: &[ExpectedCase], found: &mut Vec<Discrepancy>) {
    let expected: BTreeMap<&str, u64> = suite.iter().map(|c| (c.name.as_str(), c.seed)).collect();
    let recorded: BTreeMap<&str, u64> = report
        .scenarios
        .iter()
        .map(|c| (c.name.as_str(), c.seed))
        .collect();
    for (name, seed) in &recorded {
        match expected.get(name) {
            None => found.push(Discrepancy::CaseList {
                case: name.to_string(),
                in_bundle: true,
            }),
            Some(s) if s != seed => found.push(Discrepancy::Inconsistent {
                case: name.to_string(),
                why: format!("recorded with seed {seed}; the bundle's run seed gives it {s}"),
            }),
            Some(_) => {}
        }
    }
    for name in expected.keys() {
        if !recorded.contains_key(name) {
            found.push(Discrepancy::CaseList {
                case: name.to_string(),
                in_bundle: false,
            });
        }
    }
}

/// A test case of junit.xml.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JunitCase {
    /// Its name.
    pub name: String,
    /// `passed`, `failed`, `error` or `skipped`.
    pub status: &'static str,
    /// Its `reader` property.
    pub reader: String,
    /// Its `seed` property.
    pub seed: String,
}

/// The test cases of a JUnit document.
pub fn junit_cases(bytes: &[u8]) -> Result<Vec<JunitCase>, String> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut cases = Vec::new();
    let mut current: Option<JunitCase> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not JUnit XML: {e}"))?;
        let (element, closes) = match &event {
            Event::Start(e) => (e.clone(), false),
            Event::Empty(e) => (e.clone(), true),
            Event::End(e) => {
                if e.name().as_ref() == b"testcase" {
                    cases.extend(current.take());
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let attr = |key: &[u8]| -> Result<String, String> {
            for a in element.attributes() {
                let a = a.map_err(|e| format!("not JUnit XML: {e}"))?;
                if a.key.as_ref() == key {
                    return a
                        .decoded_and_normalized_value(
                            quick_xml::XmlVersion::Implicit1_0,
                            reader.decoder(),
                        )
                        .map(|v| v.into_owned())
                        .map_err(|e| format!("not JUnit XML: {e}"));
                }
            }
            Ok(String::new())
        };
        match element.name().as_ref() {
            b"testcase" => {
                let case = JunitCase {
                    name: attr(b"name")?,
                    status: "passed",
                    ..JunitCase::default()
                };
                if closes {
                    cases.push(case);
                } else {
                    current = Some(case);
                }
            }
            b"failure" | b"error" | b"skipped" => {
                if let Some(c) = &mut current {
                    c.status = match element.name().as_ref() {
                        b"failure" => "failed",
                        b"error" => "error",
                        _ => "skipped",
                    };
                }
            }
            b"property" => {
                if let Some(c) = &mut current {
                    match attr(b"name")?.as_str() {
                        "reader" => c.reader = attr(b"value")?,
                        "seed" => c.seed = attr(b"value")?,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(cases)
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Error => "error",
        Status::Skipped | Status::NotApplicable => "skipped",
    }
}

fn check_junit(
    report: &ReportView,
    counts: Counts,
    junit: &[JunitCase],
    found: &mut Vec<Discrepancy>,
) {
    let stated = Counts::of(
        junit
            .iter()
            .map(|c| match c.status {
                "passed" => &Status::Passed,
                "failed" => &Status::Failed,
                "error" => &Status::Error,
                _ => &Status::NotApplicable,
            })
            .collect::<Vec<_>>(),
    );
    counts_differ(REPORT_JUNIT, stated, counts, found);
    let by_name: BTreeMap<&str, &JunitCase> = junit.iter().map(|c| (c.name.as_str(), c)).collect();
    for c in &report.scenarios {
        let Some(j) = by_name.get(c.name.as_str()) else {
            found.push(Discrepancy::Disagrees {
                file: REPORT_JUNIT,
                what: format!("case `{}`", c.name),
                stated: "absent".into(),
                rechecked: status_word(c.status).into(),
            });
            continue;
        };
        let mut same = |what: &str, stated: &str, rechecked: String| {
            if stated != rechecked {
                found.push(Discrepancy::Disagrees {
                    file: REPORT_JUNIT,
                    what: format!("{what} of case `{}`", c.name),
                    stated: stated.to_string(),
                    rechecked,
                });
            }
        };
        same("the status", j.status, status_word(c.status).into());
        same("the reader", &j.reader, c.reader.clone());
        same("the seed", &j.seed, c.seed.to_string());
    }
}

fn check_coverage(report: &ReportView, text: Option<&Vec<u8>>, found: &mut Vec<Discrepancy>) {
    let status: BTreeMap<&str, Status> = report
        .scenarios
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    for row in &report.coverage {
        let passed = row
            .cases
            .iter()
            .filter(|c| status.get(c.as_str()) == Some(&Status::Passed))
            .count();
        if let Some(c) = row.cases.iter().find(|c| !status.contains_key(c.as_str())) {
            found.push(Discrepancy::Disagrees {
                file: REPORT_JSON,
                what: format!("the coverage row `{}: {}`", row.group, row.name),
                stated: format!("a case `{c}`"),
                rechecked: "no such case".into(),
            });
        }
        if passed != row.passed {
            found.push(Discrepancy::Disagrees {
                file: REPORT_JSON,
                what: format!(
                    "passed cases of the coverage row `{}: {}`",
                    row.group, row.name
                ),
                stated: row.passed.to_string(),
                rechecked: passed.to_string(),
            });
        }
    }
    if let Some(text) = text
        && text.as_slice() != crate::report::coverage::text(&report.coverage).as_bytes()
    {
        found.push(Discrepancy::Disagrees {
            file: COVERAGE,
            what: "the coverage map".into(),
            stated: "its table".into(),
            rechecked: "another table from report.json's rows".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_cases_are_read_with_their_status_reader_and_seed() {
        let xml = br#"<?xml version="1.0"?>
<testsuites><testsuite name="kazasu">
  <testcase name="a &amp; b"><properties><property name="reader" value="acme-r10"/><property name="seed" value="7"/></properties></testcase>
  <testcase name="c"><failure message="x"/></testcase>
  <testcase name="d"><skipped/></testcase>
  <testcase name="e"/>
</testsuite></testsuites>"#;
        let cases = junit_cases(xml).expect("JUnit");
        let got: Vec<(&str, &str, &str, &str)> = cases
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.status,
                    c.reader.as_str(),
                    c.seed.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a & b", "passed", "acme-r10", "7"),
                ("c", "failed", "", ""),
                ("d", "skipped", "", ""),
                ("e", "passed", "", ""),
            ]
        );
        assert!(junit_cases(b"<testsuite><testcase name=\"x\"></testsuite>").is_err());
        assert!(
            junit_cases(&[0xFF, 0xFE])
                .unwrap_err()
                .contains("not UTF-8")
        );
        assert_eq!(status_word(Status::NotApplicable), "skipped");
    }
}

//! A certification bundle's manifest: what kazasu ran (version, commit, command line, seed,
//! date, the reader profile) and the SHA-256 of every file it wrote, so that whoever receives the
//! bundle can check that nothing in it changed (`kazasu certify --verify`) and run it again.
//! Building and checking a manifest is pure; the CLI reads and writes the files.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The manifest's file name inside a bundle.
pub const MANIFEST: &str = "manifest.json";

/// The manifest's format version (fields are only ever added).
pub const FORMAT: u32 = 1;

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The kazasu version that wrote the bundle.
    pub kazasu_version: String,
    /// The git commit kazasu was built from (`unknown` outside a git checkout).
    pub kazasu_commit: String,
    /// The command line, as run.
    pub command_line: Vec<String>,
    /// The run's seed.
    pub seed: u64,
    /// When the bundle was written, RFC 3339 UTC.
    pub date: String,
    /// The reader profile's name, and the file in the bundle that holds it.
    pub reader: String,
    /// The reader profile's file in the bundle.
    pub reader_profile: String,
    /// The run's counts, as in the JSON report.
    pub summary: ManifestSummary,
    /// Every other file of the bundle: relative path → SHA-256 (lower-case hex).
    pub files: BTreeMap<String, String>,
}

/// The counts a certification states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSummary {
    /// Cases in the suite.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Could not run.
    pub error: usize,
    /// About another kind of reader.
    pub not_applicable: usize,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One way a bundle differs from its manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discrepancy {
    /// A listed file's content changed.
    Changed(String),
    /// A listed file is gone.
    Missing(String),
    /// A file in the bundle that the manifest does not list.
    Unlisted(String),
    /// The manifest's counts differ from the JSON report's.
    SummaryDiffers {
        /// In the manifest.
        manifest: ManifestSummary,
        /// In `report.json`.
        report: ManifestSummary,
    },
    /// The manifest names a file that it does not list (reader profile, reports).
    NotCovered(String),
}

impl std::fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Changed(p) => write!(
                f,
                "{p}: changed since the bundle was written (SHA-256 differs)"
            ),
            Self::Missing(p) => write!(f, "{p}: listed in the manifest but missing"),
            Self::Unlisted(p) => write!(
                f,
                "{p}: not in the manifest (added after the bundle was written)"
            ),
            Self::SummaryDiffers { manifest, report } => write!(
                f,
                "manifest.json states {} passed, {} failed, {} errors, {} not applicable of {}, report.json {} passed, {} failed, {} errors, {} not applicable of {}",
                manifest.passed,
                manifest.failed,
                manifest.error,
                manifest.not_applicable,
                manifest.total,
                report.passed,
                report.failed,
                report.error,
                report.not_applicable,
                report.total
            ),
            Self::NotCovered(p) => write!(f, "{p}: named by the manifest but not hashed in it"),
        }
    }
}

/// The report file names of a bundle.
pub const REPORT_JSON: &str = "report.json";
/// The HTML report.
pub const REPORT_HTML: &str = "report.html";
/// The JUnit report.
pub const REPORT_JUNIT: &str = "junit.xml";
/// The coverage map.
pub const COVERAGE: &str = "coverage.txt";

/// Checks the bundle's files (relative path → content, the manifest excluded) against
/// `manifest`; empty when they match.
pub fn verify(manifest: &Manifest, files: &BTreeMap<String, Vec<u8>>) -> Vec<Discrepancy> {
    let mut found = Vec::new();
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
    ] {
        if !manifest.files.contains_key(named) {
            found.push(Discrepancy::NotCovered(named.to_string()));
        }
    }
    if let Some(report) = files
        .get(REPORT_JSON)
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
    {
        let n = |k: &str| report["summary"][k].as_u64().unwrap_or(u64::MAX) as usize;
        let stated = ManifestSummary {
            total: n("total"),
            passed: n("passed"),
            failed: n("failed"),
            error: n("error"),
            not_applicable: n("not_applicable"),
        };
        if stated != manifest.summary {
            found.push(Discrepancy::SummaryDiffers {
                manifest: manifest.summary,
                report: stated,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> (Manifest, BTreeMap<String, Vec<u8>>) {
        let mut files = BTreeMap::new();
        files.insert(
            REPORT_JSON.to_string(),
            br#"{"summary":{"total":3,"passed":2,"failed":1,"error":0,"not_applicable":0}}"#
                .to_vec(),
        );
        files.insert(REPORT_HTML.to_string(), b"<html></html>".to_vec());
        files.insert(REPORT_JUNIT.to_string(), b"<testsuites/>".to_vec());
        files.insert("reader-profile.yaml".to_string(), b"name: r\n".to_vec());
        files.insert(COVERAGE.to_string(), b"families\n".to_vec());
        let manifest = Manifest {
            format: FORMAT,
            kazasu_version: "0.1.0".into(),
            kazasu_commit: "abc".into(),
            command_line: vec!["kazasu".into(), "certify".into()],
            seed: 1,
            date: "2026-12-03T00:00:00Z".into(),
            reader: "r".into(),
            reader_profile: "reader-profile.yaml".into(),
            summary: ManifestSummary {
                total: 3,
                passed: 2,
                failed: 1,
                error: 0,
                not_applicable: 0,
            },
            files: files
                .iter()
                .map(|(p, b)| (p.clone(), sha256_hex(b)))
                .collect(),
        };
        (manifest, files)
    }

    #[test]
    fn an_untouched_bundle_verifies() {
        let (m, files) = bundle();
        assert_eq!(verify(&m, &files), []);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_kind_of_tampering_is_named() {
        let (m, files) = bundle();
        let mut changed = files.clone();
        changed.get_mut(REPORT_HTML).unwrap().push(b' ');
        assert_eq!(
            verify(&m, &changed),
            [Discrepancy::Changed(REPORT_HTML.into())]
        );
        let mut missing = files.clone();
        missing.remove(REPORT_JUNIT);
        assert_eq!(
            verify(&m, &missing),
            [Discrepancy::Missing(REPORT_JUNIT.into())]
        );
        let mut added = files.clone();
        added.insert("extra.txt".into(), vec![]);
        assert_eq!(
            verify(&m, &added),
            [Discrepancy::Unlisted("extra.txt".into())]
        );
        // A manifest edited to state a better result than the report.
        let mut better = m.clone();
        better.summary.passed = 3;
        better.summary.failed = 0;
        assert!(matches!(
            verify(&better, &files)[..],
            [Discrepancy::SummaryDiffers { .. }]
        ));
        // A manifest that stops hashing the reports.
        let mut unhashed = m.clone();
        unhashed.files.remove(REPORT_JSON);
        let found = verify(&unhashed, &files);
        assert!(
            found.contains(&Discrepancy::NotCovered(REPORT_JSON.into())),
            "{found:?}"
        );
    }
}

//! A certification bundle's manifest: the files it lists with their hashes, who and what was
//! certified (reader, device, kazasu's version and commit), and the counts it states — which a
//! check recomputes from report.json, never reads.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The manifest's file name inside a bundle.
pub const MANIFEST: &str = "manifest.json";

/// The detached signature of the manifest (raw Ed25519, 64 bytes).
pub const SIGNATURE: &str = "manifest.json.sig";

/// The reader profile's file in a bundle.
pub const PROFILE_FILE: &str = "reader-profile.yaml";

/// The JSON report.
pub const REPORT_JSON: &str = "report.json";

/// The HTML report.
pub const REPORT_HTML: &str = "report.html";

/// The JUnit report.
pub const REPORT_JUNIT: &str = "junit.xml";

/// The coverage map.
pub const COVERAGE: &str = "coverage.txt";

/// The page a person reads.
pub const CERTIFICATE: &str = "certificate.html";

/// The manifest's format version: 2 adds the commit to the cross-checks, the device, the
/// signing key and the certificate page.
pub const FORMAT: u32 = 2;

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// The reader profile's name (its `name:`).
    pub reader: String,
    /// The reader profile's file in the bundle.
    pub reader_profile: String,
    /// The physical reader and card, for a bundle made with `--device`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceRecord>,
    /// The run's counts, as recomputed from the case list.
    pub summary: Counts,
    /// SHA-256 (lower-case hex) of the DER public key whose private key signed
    /// `manifest.json.sig`, when the bundle is signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_sha256: Option<String>,
    /// Every other file of the bundle: relative path → SHA-256 (lower-case hex).
    pub files: BTreeMap<String, String>,
}

/// The physical reader a `--device` bundle ran on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRecord {
    /// The PC/SC reader's name.
    pub name: String,
    /// The ATR of the card on it, hex.
    pub atr: String,
}

/// The counts a certification states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Cases in the run.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Could not run.
    pub error: usize,
    /// About another kind of reader or card.
    pub not_applicable: usize,
}

impl Counts {
    /// The counts of these statuses.
    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a crate::run::Status>) -> Counts {
        use crate::run::Status;
        let mut c = Counts::default();
        for s in statuses {
            c.total += 1;
            match s {
                Status::Passed => c.passed += 1,
                Status::Failed => c.failed += 1,
                Status::Error | Status::Skipped => c.error += 1,
                Status::NotApplicable => c.not_applicable += 1,
            }
        }
        c
    }
    /// Whether everything that ran passed.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.error == 0
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} errors, {} not applicable of {}",
            self.passed, self.failed, self.error, self.not_applicable, self.total
        )
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn counts_count_every_status() {
        use crate::run::Status::*;
        let c = Counts::of(&[Passed, Failed, Error, NotApplicable, Passed]);
        assert_eq!(
            c,
            Counts {
                total: 5,
                passed: 2,
                failed: 1,
                error: 1,
                not_applicable: 1
            }
        );
        assert!(!c.ok());
    }
}

//! A certification bundle: what kazasu ran (version, commit, command line, seed, date, the reader
//! profile, the device when there was one), what it got (reports, coverage map, a certificate a
//! person reads) and the SHA-256 of every file, optionally signed with an Ed25519 key.
//!
//! A bundle records facts it can recheck, not claims: `verify` recomputes every count from the
//! case list and compares it with what report.json, junit.xml, coverage.txt, certificate.html
//! and manifest.json state, checks each case's status against its own steps and failure, each
//! case's reader and seed against the manifest, and — when this kazasu is the commit that wrote
//! the bundle — the case list against the suite. Building and checking is pure; the CLI reads
//! and writes the files ([`files`] does it safely).

pub mod check;
pub mod files;
pub mod manifest;
pub mod page;
pub mod sign;
pub mod view;

pub use check::{Discrepancy, ExpectedCase, check, expected_cases};
pub use manifest::{
    CERTIFICATE, COVERAGE, Counts, DeviceRecord, FORMAT, MANIFEST, Manifest, PROFILE_FILE,
    REPORT_HTML, REPORT_JSON, REPORT_JUNIT, SIGNATURE, sha256_hex,
};

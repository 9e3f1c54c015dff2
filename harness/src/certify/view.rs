//! What a bundle's checks read of report.json: the fields that are claims, nothing else (other
//! fields are not claims a bundle makes). Both the check and the certificate page read it.

use crate::report::coverage::Row;
use crate::run::Status;
use serde::Deserialize;

/// What verification reads of report.json (other fields are not claims a bundle makes).
#[derive(Clone, Debug, Deserialize)]
pub struct ReportView {
    /// kazasu's version.
    pub kazasu_version: String,
    /// kazasu's commit.
    #[serde(default)]
    pub kazasu_commit: Option<String>,
    /// The run's seed.
    pub seed: u64,
    /// The stated counts.
    pub summary: crate::report::Summary,
    /// Every case.
    pub scenarios: Vec<CaseView>,
    /// The coverage map.
    #[serde(default)]
    pub coverage: Vec<Row>,
}

/// One case of report.json.
#[derive(Clone, Debug, Deserialize)]
pub struct CaseView {
    /// Its name.
    pub name: String,
    /// Its card profile's name.
    pub card: String,
    /// Its reader profile's name.
    pub reader: String,
    /// How it ended.
    pub status: Status,
    /// Its seed.
    pub seed: u64,
    /// The run's seed.
    pub run_seed: u64,
    /// Its steps.
    pub steps: Vec<StepView>,
    /// Why it failed.
    pub failure: Option<FailureView>,
    /// Why it did not apply.
    #[serde(default)]
    pub note: Option<String>,
}

/// One step of a case.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct StepView {
    /// How it ended.
    pub status: Status,
}

/// A case's failure.
#[derive(Clone, Debug, Deserialize)]
pub struct FailureView {
    /// 1-based step (0: the case as a whole).
    pub step: usize,
    /// The step's label.
    pub label: String,
    /// What was expected.
    pub expected: String,
    /// What happened.
    pub actual: String,
}

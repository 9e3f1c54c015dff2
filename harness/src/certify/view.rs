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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Summary, coverage, json};
    use crate::run::{self, RunOptions};
    use crate::scenario::suite;

    #[test]
    fn the_claims_of_a_report_kazasu_wrote_read_back_case_by_case() {
        let yaml = "- name: passes\n  steps: [tap]\n\
                    - name: fails\n  steps:\n    - tap\n    - select_ef: 'FFFF'\n      expect: { sw: 9000 }\n";
        let scenarios = suite::parse(yaml, "t.yaml").expect("scenario");
        let cases = suite::expand(&scenarios, "t.yaml", &suite::Overrides::NONE).expect("cases");
        let results = run::run_with(&cases, &RunOptions::default(), &run::inproc, &|_| {});
        let rows = coverage::map(&results, &cases);
        let summary = Summary::of(&results, std::time::Duration::ZERO);
        let text = json(&results, summary, 7, "inproc", &rows);
        let view: ReportView = serde_json::from_str(&text).expect("a report reads as claims");
        assert_eq!(view.seed, 7);
        assert_eq!(view.coverage, rows);
        let by_name = |n: &str| view.scenarios.iter().find(|c| c.name == n).expect("case");
        assert_eq!(by_name("passes").status, Status::Passed);
        let failed = by_name("fails");
        assert_eq!(failed.status, Status::Failed);
        let failure = failed.failure.as_ref().expect("its failure");
        assert_eq!((failure.step, failure.expected.as_str()), (2, "SW 9000"));
        assert_eq!(failed.steps.last().map(|s| s.status), Some(Status::Failed));
    }
}

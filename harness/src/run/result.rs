//! A case's result: how it ended, its steps with their simulated time, the failure with what
//! was expected and what happened, and the transcript — the one fact every report renders.

use crate::record::Transcript;
use crate::scenario::suite::Case;
use crate::scenario::{OnboardingAction, Step};
use kazasu_sim::SimDuration;
use serde::Serialize;
use std::time::Duration;

/// How a case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every expectation held.
    Passed,
    /// An expectation did not hold.
    Failed,
    /// The case could not run (bad profile, unknown saved value, …).
    Error,
    /// Not run (fail-fast stopped the run).
    Skipped,
    /// Not run: the case is about another kind of reader than the one under test (its
    /// `applies_to`); `note` says what it needs.
    NotApplicable,
}

/// One step's result.
#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    /// 1-based index.
    pub index: usize,
    /// The step's keyword and name.
    pub label: String,
    /// How it ended.
    pub status: Status,
    /// Simulated time it took, nanoseconds.
    pub sim_time_ns: u64,
    /// Transcript entries (APDUs) it produced, as a range of indexes.
    pub apdus: (usize, usize),
}

/// Why a case failed.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// 1-based step index (0: the case as a whole, e.g. its budget).
    pub step: usize,
    /// The step's keyword and name.
    pub label: String,
    /// What was expected.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// The exchanges up to the failure, with their frames.
    pub context: String,
}

/// A case's result.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Scenario file.
    pub file: String,
    /// Card profile.
    pub card: String,
    /// Reader profile.
    pub reader: String,
    /// Tags.
    pub tags: Vec<String>,
    /// How it ended.
    pub status: Status,
    /// The case's seed (derived from the run's seed and the case name unless the scenario fixes it).
    pub seed: u64,
    /// The run's seed: `--seed` with it reproduces the case.
    pub run_seed: u64,
    /// Simulated time of the whole case, nanoseconds.
    pub sim_time_ns: u64,
    /// Wall time, nanoseconds.
    pub wall_time_ns: u64,
    /// Steps.
    pub steps: Vec<StepResult>,
    /// The failure, if any.
    pub failure: Option<Failure>,
    /// Every exchange, secrets redacted.
    pub transcript: Transcript,
    /// Why a case is not applicable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The run's options the case's reproduce line carries (`--reader FILE`, `--backend pcsc` …),
    /// as arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reproduce_with: Vec<String>,
    /// What the case put on its links, whole and with secrets out, when the run captures
    /// (`run --pcap`).
    #[serde(skip)]
    pub capture: Option<crate::pcapng::tap::CaseCapture>,
}

pub(super) fn blank(case: &Case, seed: u64, run_seed: u64, status: Status) -> CaseResult {
    // A case that only talks to the onboarding service uses no card and no reader.
    // Commissioning reads the case's card through its reader: such a case uses both.
    let service_only = !case.scenario.steps.is_empty()
        && case.scenario.steps.iter().all(|s| {
            matches!(s, Step::Onboarding(o) if !matches!(o.action, OnboardingAction::Commission))
        });
    let (card, reader) = if service_only {
        ("onboarding".to_string(), "-".to_string())
    } else {
        (case.card.name.clone(), case.reader.name.clone())
    };
    CaseResult {
        name: case.name.clone(),
        file: case.file.clone(),
        card,
        reader,
        tags: case.scenario.tags.clone(),
        status,
        seed,
        run_seed,
        sim_time_ns: 0,
        wall_time_ns: 0,
        steps: Vec::new(),
        failure: None,
        transcript: Transcript::default(),
        note: None,
        reproduce_with: Vec::new(),
        capture: None,
    }
}

/// Simulated time of a result as a duration.
pub fn sim_time(r: &CaseResult) -> SimDuration {
    SimDuration::from_nanos(r.sim_time_ns)
}

/// Wall time of a result as a duration.
pub fn wall_time(r: &CaseResult) -> Duration {
    Duration::from_nanos(r.wall_time_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::cases;

    #[test]
    fn a_case_that_only_talks_to_the_service_names_no_card_or_reader() {
        let service = cases("- name: s\n  steps:\n    - account_status\n");
        let r = blank(&service[0], 5, 1, Status::Passed);
        assert_eq!((r.card.as_str(), r.reader.as_str()), ("onboarding", "-"));
        let card = cases("- name: c\n  matrix: { card: [android-jpki] }\n  steps: [tap]\n");
        let r = blank(&card[0], 5, 1, Status::Skipped);
        assert_eq!(r.card, "android-jpki");
        assert_eq!((r.seed, r.run_seed, r.status), (5, 1, Status::Skipped));
    }

    #[test]
    fn times_read_back_as_durations() {
        let mut r = blank(
            &cases("- name: c\n  steps: [tap]\n")[0],
            1,
            1,
            Status::Passed,
        );
        r.sim_time_ns = 1_500_000;
        r.wall_time_ns = 2_000;
        assert_eq!(sim_time(&r), SimDuration::from_micros(1_500));
        assert_eq!(wall_time(&r), Duration::from_micros(2));
    }
}

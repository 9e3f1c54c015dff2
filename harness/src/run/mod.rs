//! The runner: each case in its own deterministic virtual world (a reader with a card), steps
//! executed against the backend, expectations checked, results with per-step simulated time,
//! the APDU/frame transcript and — on failure — the step, what was expected, what happened and
//! the exchanges around it. Cases run in parallel; no retries: a flaky scenario is a bug.

pub mod budget;
mod card_steps;
mod case;
mod error;
mod expect;
mod onboarding_steps;
mod pool;
mod reader_steps;
mod result;
mod world;

pub use case::{BackendFactory, case_seed, inproc, run_case, run_case_on};
pub use error::StepError;
pub use pool::{RunOptions, run, run_with};
pub use result::{CaseResult, Failure, Status, StepResult, sim_time, wall_time};

/// Cases made from scenario YAML, for the unit tests of the runner's files.
#[cfg(test)]
pub(crate) fn cases(yaml: &str) -> Vec<crate::scenario::suite::Case> {
    let scenarios = crate::scenario::suite::parse(yaml, "unit.yaml").expect("valid scenario");
    crate::scenario::suite::expand(
        &scenarios,
        "unit.yaml",
        &crate::scenario::suite::Overrides::NONE,
    )
    .expect("built-in profiles")
}

//! The worker pool: cases run in parallel, each on a backend its worker makes, results in the
//! cases' order, fail-fast that skips what has not started.

use super::case::{BackendFactory, case_seed, inproc, run_case_on};
use super::result::{CaseResult, Status, blank};
use crate::scenario::suite::Case;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Options of a run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The run's seed; each case derives its own from it and its name.
    pub seed: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Stop starting cases after the first failure.
    pub fail_fast: bool,
    /// Run onboarding steps against this service (`http://host:port`) instead of a fresh
    /// embedded one per case.
    pub target: Option<String>,
    /// The options every case's reproduce line carries, as arguments (see
    /// [`CaseResult::reproduce_with`]).
    pub reproduce_with: Vec<String>,
    /// Keep every case's packets for a pcapng file ([`CaseResult::capture`]).
    pub capture: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 1,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fail_fast: false,
            target: None,
            reproduce_with: Vec::new(),
            capture: false,
        }
    }
}

/// Runs cases in parallel in-process; `progress` is called after each case finishes.
pub fn run(
    cases: &[Case],
    opts: &RunOptions,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    run_with(cases, opts, &inproc, progress)
}

/// Runs cases in parallel on the backend `factory` makes; `progress` is called after each case.
pub fn run_with(
    cases: &[Case],
    opts: &RunOptions,
    factory: &BackendFactory,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Vec<std::sync::Mutex<Option<CaseResult>>> =
        cases.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for worker in 0..opts.jobs.max(1).min(cases.len().max(1)) {
            let (next, stop, results) = (&next, &stop, &results);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= cases.len() {
                        break;
                    }
                    let mut result = if stop.load(Ordering::SeqCst) {
                        skipped(&cases[i], opts.seed)
                    } else {
                        run_case_on(
                            &cases[i],
                            opts.seed,
                            worker,
                            factory,
                            opts.target.as_deref(),
                            opts.capture,
                        )
                    };
                    result.reproduce_with = opts.reproduce_with.clone();
                    if opts.fail_fast && matches!(result.status, Status::Failed | Status::Error) {
                        stop.store(true, Ordering::SeqCst);
                    }
                    progress(&result);
                    *results[i]
                        .lock()
                        .expect("no worker panics while holding it") = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("not poisoned")
                .expect("every case ran")
        })
        .collect()
}

fn skipped(case: &Case, run_seed: u64) -> CaseResult {
    blank(case, case_seed(case, run_seed), run_seed, Status::Skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::cases;

    const THREE: &str = "
- name: first
  steps: [tap, { select: jpki }]
- name: second fails
  steps:
    - tap
    - apdu: 00 A4 04 0C 02 FF FF
      expect: { sw: '9000' }
- name: third
  steps: [tap]
";

    #[test]
    fn results_keep_the_cases_order_whatever_the_workers_do() {
        let cases = cases(THREE);
        for jobs in [1, 2, 8] {
            let opts = RunOptions {
                jobs,
                ..RunOptions::default()
            };
            let names: Vec<String> = run(&cases, &opts, &|_| {})
                .into_iter()
                .map(|r| r.name)
                .collect();
            assert_eq!(names, ["first", "second fails", "third"], "jobs {jobs}");
        }
    }

    #[test]
    fn fail_fast_skips_the_cases_not_yet_started() {
        let opts = RunOptions {
            jobs: 1,
            fail_fast: true,
            ..RunOptions::default()
        };
        let seen = AtomicUsize::new(0);
        let statuses: Vec<Status> = run(&cases(THREE), &opts, &|_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .into_iter()
        .map(|r| r.status)
        .collect();
        assert_eq!(statuses, [Status::Passed, Status::Failed, Status::Skipped]);
        assert_eq!(
            seen.load(Ordering::SeqCst),
            3,
            "progress hears of every case"
        );
    }
}

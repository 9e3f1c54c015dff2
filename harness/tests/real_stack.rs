//! The bundled scenarios through the real reading stack: pcscd with vsmartcard's vpcd driver,
//! reached with the `pcsc` crate. Needs pcscd running (`ci/pcscd.sh start`). Without pcscd the
//! tests say so and pass — except under `CI=true` or `KAZASU_PCSC=1`, where a missing pcscd is
//! a failure.
#![cfg(feature = "pcsc")]

use kazasu::link::pcsc::{PcscBackend, Timeouts};
use kazasu::link::vpcd::Pace;
use kazasu::run::{self, RunOptions, Status};
use kazasu::scenario::suite;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The vpcd slots are shared: one test at a time.
static SLOTS: Mutex<()> = Mutex::new(());

fn pcscd_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("KAZASU_PCSC").is_ok_and(|v| v == "1")
}

/// Whether pcscd with the vpcd readers is reachable; fails the test when it must be.
fn stack_available() -> bool {
    let ok = pcsc::Context::establish(pcsc::Scope::User)
        .ok()
        .and_then(|ctx| {
            let mut buf = vec![0u8; 4096];
            ctx.list_readers(&mut buf).ok().map(|r| {
                r.map(|n| n.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
        })
        .is_some_and(|names| names.iter().any(|n| n == "Virtual PCD 00 00"));
    if !ok {
        assert!(
            !pcscd_required(),
            "pcscd with the vpcd readers is not running; start it with ci/pcscd.sh start"
        );
        eprintln!(
            "pcscd with the vpcd readers is not running: real-stack test not run (set KAZASU_PCSC=1 to require it)"
        );
    }
    ok
}

fn cases(filter: &str) -> Vec<suite::Case> {
    let files = suite::load(&[]).unwrap();
    let all: Vec<_> = files
        .iter()
        .flat_map(|(f, s)| suite::expand(s, f, None, None))
        .collect();
    suite::Selection {
        filters: vec![filter.to_string()],
        ..Default::default()
    }
    .apply(all)
}

fn run_on_pcscd(cases: &[suite::Case], timeouts: Timeouts) -> Vec<run::CaseResult> {
    let opts = RunOptions {
        seed: 1,
        jobs: 2,
        fail_fast: false,
        target: None,
    };
    let factory = move |worker: usize, model: kazasu_sim::Reader| {
        PcscBackend::new(worker as u16, model, Pace::Fast, timeouts)
            .map(|b| Box::new(b) as Box<dyn kazasu::link::backend::Backend>)
    };
    run::run_with(cases, &opts, &factory, &|_| {})
}

#[test]
fn the_auth_flow_passes_through_pcscd_on_every_card_and_reader() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() {
        return;
    }
    let cases = cases("auth flow fits");
    assert_eq!(cases.len(), 9);
    let results = run_on_pcscd(&cases, Timeouts::default());
    for r in &results {
        assert_eq!(r.status, Status::Passed, "{}: {:?}", r.name, r.failure);
        assert!(r.wall_time_ns > 0 && r.sim_time_ns > 0);
    }
}

#[test]
fn a_removal_mid_read_is_a_transport_error_and_the_card_comes_back() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() {
        return;
    }
    let results = run_on_pcscd(&cases("removal in the middle"), Timeouts::default());
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.status, Status::Passed, "{}: {:?}", r.name, r.failure);
        let errors: Vec<_> = r
            .transcript
            .entries
            .iter()
            .filter_map(|e| e.error.as_deref())
            .collect();
        assert!(
            !errors.is_empty(),
            "{}: the real stack reported the removal",
            r.name
        );
    }
}

#[test]
fn a_card_that_never_answers_fails_within_the_time_out() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() {
        return;
    }
    // A signature a thousand times slower than the profile, paced in real time, would keep the
    // link quiet for minutes: our watchdog drops the link after the transmit time-out instead.
    let mut case = cases("a slow secure element").remove(0);
    case.scenario.faults[0].action = kazasu_sim::fault::Action::SlowCard(1000.0);
    case.scenario.budget = None;
    let timeouts = Timeouts {
        presence: Duration::from_secs(5),
        transmit: Duration::from_secs(2),
    };
    let opts = RunOptions {
        seed: 1,
        jobs: 1,
        fail_fast: false,
        target: None,
    };
    let factory = move |worker: usize, model: kazasu_sim::Reader| {
        PcscBackend::new(worker as u16, model, Pace::Realtime, timeouts)
            .map(|b| Box::new(b) as Box<dyn kazasu::link::backend::Backend>)
    };
    let started = Instant::now();
    let results = run::run_with(std::slice::from_ref(&case), &opts, &factory, &|_| {});
    let took = started.elapsed();
    assert_eq!(
        results[0].status,
        Status::Failed,
        "{:?}",
        results[0].failure
    );
    let f = results[0].failure.as_ref().unwrap();
    assert!(f.actual.contains("transport error"), "{f:?}");
    assert!(
        took < Duration::from_secs(15),
        "gave up within its time-out: {took:?}"
    );
}

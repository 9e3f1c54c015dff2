//! The whole bundled conformance suite, in-process, as `cargo run --release -- run` runs it
//! (parallel on the machine's cores). Target: the suite's simulated time at least 1,000 × its
//! wall time — what makes a conformance run in CI cost milliseconds for a minute at the counter.
//!
//! `cargo bench -p kazasu-benches --bench suite`

use criterion::Criterion;
use kazasu::run::{self, RunOptions, Status};
use kazasu::scenario::suite;
use std::time::Instant;

fn bundled_cases() -> Vec<suite::Case> {
    let files = suite::load(&[]).expect("the bundled suite loads");
    files
        .iter()
        .flat_map(|(file, scenarios)| suite::expand(scenarios, file, None, None))
        .collect()
}

fn main() {
    let cases = bundled_cases();
    let opts = RunOptions::default();
    let mut c = Criterion::default().sample_size(10).configure_from_args();
    c.bench_function("bundled suite, in-process", |b| {
        b.iter(|| {
            let results = run::run(&cases, &opts, &|_| {});
            assert!(results.iter().all(|r| r.status == Status::Passed));
        })
    });
    c.final_summary();
    // Same-run summary: load + expand + run, as the CLI does, median of 9; the simulated time
    // of the cases over the wall time of the run.
    let mut runs: Vec<(f64, f64)> = (0..9)
        .map(|_| {
            let t = Instant::now();
            let cases = bundled_cases();
            let results = run::run(&cases, &opts, &|_| {});
            let wall = t.elapsed().as_secs_f64();
            let simulated: u64 = results.iter().map(|r| r.sim_time_ns).sum();
            std::hint::black_box(results);
            (wall, simulated as f64 / 1e9)
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (wall, simulated) = runs[runs.len() / 2];
    let speedup = simulated / wall;
    println!(
        "\n== bundled suite: {} cases, {} jobs: median {:.1} ms wall (load + run) for {:.1} s simulated: {:.0} × faster than the counter; target ≥ 1000 ×: {}",
        cases.len(),
        opts.jobs,
        wall * 1e3,
        simulated,
        speedup,
        if speedup >= 1000.0 { "PASS" } else { "MISS" }
    );
}

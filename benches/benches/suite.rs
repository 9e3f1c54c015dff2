//! The whole bundled conformance suite, in-process, as `cargo run --release -- run` runs it
//! (parallel on the machine's cores). Target: under 3 s of wall time on this 2-core machine.
//!
//! `cargo bench -p kazasu-benches --bench suite`

use criterion::Criterion;
use kazasu::runner::{self, RunOptions, Status};
use kazasu::suite;
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
            let results = runner::run(&cases, &opts, &|_| {});
            assert!(results.iter().all(|r| r.status == Status::Passed));
        })
    });
    c.final_summary();
    // Same-run summary: load + expand + run, as the CLI does, median of 9.
    let mut walls: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            let cases = bundled_cases();
            let results = runner::run(&cases, &opts, &|_| {});
            std::hint::black_box(results);
            t.elapsed().as_secs_f64()
        })
        .collect();
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    println!(
        "\n== bundled suite: {} cases, {} jobs: median {:.1} ms wall (load + run), target < 3 s: {}",
        cases.len(),
        opts.jobs,
        median * 1e3,
        if median < 3.0 { "PASS" } else { "MISS" }
    );
}

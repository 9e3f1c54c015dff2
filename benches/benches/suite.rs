//! The whole bundled conformance suite, in-process, as `cargo run --release -- run` runs it
//! (parallel on the machine's cores). Target, against a baseline of the same run: on one core the
//! suite costs at most 12 × the bare RSA-2048 signatures it makes. The cards' signatures are
//! real; everything else — loading the YAML, building the cards and readers, the models, the
//! checks — is kazasu's own overhead, today about 8 × the signatures, and this guards it.
//!
//! `cargo bench -p kazasu-benches --bench suite`

use criterion::Criterion;
use kazasu::run::{self, RunOptions, Status};
use kazasu::scenario::suite;
use kazasu_benches::targets::SUITE_OVER_SIGNATURES;
use std::time::Instant;

fn bundled_cases() -> Vec<suite::Case> {
    let files = suite::load(&[]).expect("the bundled suite loads");
    files
        .iter()
        .flat_map(|(file, scenarios)| {
            suite::expand(scenarios, file, &suite::Overrides::NONE).expect("profiles load")
        })
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
    // Same-run summary, one core, median of 9 alternating rounds: load + expand + run as the CLI
    // does, against as many bare signatures as the suite made.
    let one_core = RunOptions {
        jobs: 1,
        ..RunOptions::default()
    };
    let results = run::run(&cases, &one_core, &|_| {});
    let signatures = results
        .iter()
        .flat_map(|r| &r.transcript.entries)
        .filter(|e| {
            e.command.cla_ins() == Some([0x80, 0x2A]) && e.sw == Some(kazasu_sim::StatusWord::OK)
        })
        .count();
    let simulated: u64 = results.iter().map(|r| r.sim_time_ns).sum();
    let subject = kazasu_sim::Fixtures::embedded().default_subject();
    let digest = kazasu::host::flows::digest_info_sha256(b"nonce");
    let mut load = Vec::new();
    let mut rounds: Vec<(f64, f64)> = (0..9)
        .map(|_| {
            let t = Instant::now();
            let cases = bundled_cases();
            load.push(t.elapsed().as_secs_f64());
            std::hint::black_box(run::run(&cases, &one_core, &|_| {}));
            let suite = t.elapsed().as_secs_f64();
            let t = Instant::now();
            for _ in 0..signatures {
                std::hint::black_box(subject.keys.auth_key.sign_pkcs1(&digest).unwrap());
            }
            (suite, t.elapsed().as_secs_f64())
        })
        .collect();
    rounds.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let (suite, bare) = rounds[rounds.len() / 2];
    let ratio = suite / bare;
    load.sort_by(f64::total_cmp);
    println!(
        "\n== bundled suite: {} cases on one core: median {:.1} ms wall (load {:.1} ms + run) for {:.1} s simulated ({:.0} ×); {} bare RSA-2048 signatures {:.1} ms; suite ÷ signatures {:.2} (target {}: {})",
        cases.len(),
        suite * 1e3,
        load[load.len() / 2] * 1e3,
        simulated as f64 / 1e9,
        simulated as f64 / 1e9 / suite,
        signatures,
        bare * 1e3,
        ratio,
        SUITE_OVER_SIGNATURES.bound,
        SUITE_OVER_SIGNATURES.verdict(ratio)
    );
}

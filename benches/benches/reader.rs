//! Through the in-process reader: simple APDU round trips per second, full JPKI auth flows per
//! second (RSA-2048 signature included), the flow's cost as a ratio to one bare signature of
//! the same library measured in the same run, and simulated time against wall time.
//!
//! `cargo bench -p kazasu-benches --bench reader`
//!
//! Targets (one core): ≥ 1,000,000 simple round trips/s; ≥ 800 auth flows/s; flow ≤ 1.2 × one
//! bare signature; simulated time ≥ 1,000 × faster than wall time. The summary at the end
//! prints each figure with PASS or MISS.

use criterion::{Criterion, Throughput};
use kazasu_benches::targets::{FLOW_OVER_SIGNATURE, READER_OVER_CARD};
use kazasu_benches::{alternate, auth_flow_from_tap, reader};
use kazasu_sim::{Fixtures, SimDuration};
use std::hint::black_box;
use std::time::Duration;

const SELECT_JPKI: [u8; 15] = [
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];

fn criterion_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("reader");
    g.throughput(Throughput::Elements(1));
    let mut r = reader("typical-424k", "mynumber-card");
    r.tap().unwrap();
    g.bench_function("SELECT JPKI AP round trip", |b| {
        b.iter(|| black_box(r.transmit(black_box(&SELECT_JPKI)).unwrap()))
    });
    let mut r2 = reader("typical-424k", "mynumber-card");
    r2.tap().unwrap();
    r2.transmit(&SELECT_JPKI).unwrap();
    let status = [0x00, 0x20, 0x00, 0x98];
    g.bench_function("VERIFY counter query (2-byte answer)", |b| {
        b.iter(|| black_box(r2.transmit(black_box(&status)).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("auth flow");
    g.throughput(Throughput::Elements(1));
    let subject = Fixtures::embedded().default_subject();
    let digest = kazasu::host::flows::digest_info_sha256(b"nonce");
    g.bench_function("bare RSA-2048 signature (baseline)", |b| {
        b.iter(|| {
            black_box(
                subject
                    .keys
                    .auth_key
                    .sign_pkcs1(black_box(&digest))
                    .unwrap(),
            )
        })
    });
    for card in ["android-jpki", "iphone-jpki", "mynumber-card"] {
        let mut r = reader("typical-424k", card);
        g.bench_function(format!("{card} at typical-424k, tap to remove"), |b| {
            b.iter(|| black_box(auth_flow_from_tap(&mut r, b"nonce")))
        });
    }
    g.finish();
}

/// A figure in absolute terms: shown, not judged (it follows the machine's load).
fn absolute(ok: bool) -> &'static str {
    if ok { "met" } else { "not met on this run" }
}

fn same_run_summary() {
    println!("\n== same-run summary (medians of alternating batches, one core) ==");
    // Simple APDUs: the reader against the card alone.
    let mut r = reader("typical-424k", "mynumber-card");
    r.tap().unwrap();
    let mut card = kazasu_benches::powered_card("mynumber-card");
    let (through_reader, card_alone) = alternate(
        21,
        20_000,
        || {
            black_box(r.transmit(black_box(&SELECT_JPKI)).unwrap());
        },
        || {
            black_box(card.process(black_box(&SELECT_JPKI), kazasu_sim::SimTime::START));
        },
    );
    let per_s = 1.0 / through_reader.as_secs_f64();
    let overhead = through_reader.as_secs_f64() / card_alone.as_secs_f64();
    println!(
        "simple APDU through the in-process reader: {:.0} ns ({:.2} M/s, ≥ 1 M/s {}); card alone {:.0} ns; reader ÷ card {:.1} (target {}: {})",
        through_reader.as_nanos(),
        per_s / 1e6,
        absolute(per_s >= 1e6),
        card_alone.as_nanos(),
        overhead,
        READER_OVER_CARD.bound,
        READER_OVER_CARD.verdict(overhead)
    );
    // Auth flows against one bare signature of the same library.
    let subject = Fixtures::embedded().default_subject();
    let digest = kazasu::host::flows::digest_info_sha256(b"nonce");
    for card_name in ["android-jpki", "iphone-jpki", "mynumber-card"] {
        let mut r = reader("typical-424k", card_name);
        let mut sim = SimDuration::ZERO;
        let (flow, sign) = alternate(
            15,
            40,
            || sim = auth_flow_from_tap(&mut r, b"nonce"),
            || {
                black_box(
                    subject
                        .keys
                        .auth_key
                        .sign_pkcs1(black_box(&digest))
                        .unwrap(),
                );
            },
        );
        let flows_per_s = 1.0 / flow.as_secs_f64();
        let ratio = flow.as_secs_f64() / sign.as_secs_f64();
        let speedup = sim.as_nanos() as f64 / flow.as_nanos() as f64;
        println!(
            "{card_name:<14} auth flow at typical-424k (tap to remove): {:.0} µs wall, {} simulated; \
             {:.0} flows/s (≥ 800 {}); simulated time {:.0} × faster than wall (≥ 1000 {}); \
             {:.2} × a bare signature of {:.0} µs (target {}: {})",
            micros(flow),
            sim,
            flows_per_s,
            absolute(flows_per_s >= 800.0),
            speedup,
            absolute(speedup >= 1000.0),
            ratio,
            micros(sign),
            FLOW_OVER_SIGNATURE.bound,
            FLOW_OVER_SIGNATURE.verdict(ratio),
        );
    }
}

fn micros(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e3
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
    same_run_summary();
}

//! Importing a long field capture: a 100,000-exchange pcscd `--debug --apdu` log, with the
//! unrelated lines pcscd writes around every APDU (9 lines an exchange, every fourth answer 255 bytes: 78 MB), as
//! `kazasu import pcscd` reads it. Target: under 1 s in release mode. The same-run baseline is
//! counting the log's lines: what any reader of the file must at least do.
//!
//! `cargo bench -p kazasu-benches --bench import`

use criterion::{Criterion, Throughput};
use kazasu::capture::trace::{Format, parse};
use kazasu_benches::targets::IMPORT_OVER_LINES;
use std::time::Instant;

const EXCHANGES: usize = 100_000;

/// A pcscd log of `n` exchanges shaped like a real one (a READ BINARY loop over a certificate,
/// one client, the log lines of `ci/capture-traces.sh`'s samples around each APDU).
fn pcscd_log(n: usize) -> String {
    let mut log = String::with_capacity(n * 700);
    log.push_str("00000050 debuglog.c:411:DebugLogSetCategory() Debug options: APDU\n");
    log.push_str("00000003 eventhandler.c:423:EHStatusHandlerThread() Card inserted into Virtual PCD 00 00\n");
    log.push_str("00000005 Card ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F \n");
    log.push_str(
        "00000066 winscard_svc.c:361:ContextThread() Received command: CONNECT from client 12\n",
    );
    log.push_str("00000003 winscard.c:258:SCardConnect() Attempting Connect to Virtual PCD 00 00 using protocol: 3\n");
    let chunk: String = (0..255u8).map(|b| format!("{b:02X} ")).collect();
    for i in 0..n {
        let offset = (i % 16) as u16 * 0xFF;
        log.push_str("00000181 winscard_svc.c:361:ContextThread() Received command: TRANSMIT from client 12\n");
        log.push_str("00000009 readerfactory.c:866:RFReaderInfoById() RefReader() count was: 1\n");
        log.push_str("00000002 winscard.c:1596:SCardTransmit() Send Protocol: T=1\n");
        log.push_str(&format!(
            "00000003 APDU: 00 B0 {:02X} {:02X} FF \n",
            offset >> 8,
            offset & 0xFF
        ));
        if i % 4 == 0 {
            log.push_str(&format!("00000076 SW: {chunk}90 00 \n"));
        } else {
            log.push_str("00000076 SW: 6A 82 \n");
        }
        log.push_str("00000002 winscard.c:1649:SCardTransmit() UnrefReader() count was: 2\n");
        log.push_str("00000002 winscard_svc.c:694:ContextThread() TRANSMIT for client 12, rv=SCARD_S_SUCCESS\n");
        log.push_str("00000140 winscard_svc.c:361:ContextThread() Received command: END_TRANSACTION from client 12\n");
        log.push_str("00000001 winscard.c:1235:SCardEndTransaction() Status: rv=SCARD_S_SUCCESS\n");
    }
    log
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let log = pcscd_log(EXCHANGES);
    let trace = parse(Format::Pcscd, &log, None).expect("the generated log parses");
    assert_eq!(trace.exchanges(), EXCHANGES);
    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let mut g = c.benchmark_group("import");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.bench_function("pcscd log, 100,000 exchanges", |b| {
        b.iter(|| parse(Format::Pcscd, std::hint::black_box(&log), None).unwrap())
    });
    g.bench_function("baseline: count the lines", |b| {
        b.iter(|| std::hint::black_box(&log).lines().count())
    });
    g.finish();
    c.final_summary();
    // Same-run summary, median of 7 each.
    let import = median(
        (0..7)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(parse(Format::Pcscd, &log, None).unwrap());
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let lines = median(
        (0..7)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(log.lines().count());
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let ratio = import / lines;
    println!(
        "\n== import: {} exchanges, {:.1} MB of pcscd log: median {:.0} ms (< 1 s {}); counting its lines {:.0} ms; import ÷ counting {:.1} (target {}: {})",
        EXCHANGES,
        log.len() as f64 / 1e6,
        import * 1e3,
        if import < 1.0 {
            "met"
        } else {
            "not met on this run"
        },
        lines * 1e3,
        ratio,
        IMPORT_OVER_LINES.bound,
        IMPORT_OVER_LINES.verdict(ratio)
    );
}

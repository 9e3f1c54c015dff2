//! Through the real stack (pcscd + vsmartcard's vpcd): APDU round trips per second for
//! (a) kazasu's virtual card behind its vpcd link and (b) a null responder that answers 90 00
//! with the same socket settings — the floor of the stack — measured side by side in one run
//! (alternating batches), with their ratio; and (c) the bundled suite's wall time through the
//! real stack. Needs pcscd with the vpcd readers (`ci/pcscd.sh start`).
//!
//! `cargo bench -p kazasu-benches --features pcsc --bench real_stack`
//! Target: kazasu's card at ≥ 0.9 × the null responder's rate.

use kazasu::link::pcsc::{PcscBackend, Timeouts};
use kazasu::link::vpcd::{self, LinkConfig, Pace};
use kazasu::run::{self, RunOptions, Status};
use kazasu_benches::targets::REAL_STACK_OVER_NULL;
use kazasu_benches::{null_responder, reader};
use kazasu_sim::vpcd::Slot;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SELECT_JPKI: [u8; 15] = [
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];

fn connect(ctx: &pcsc::Context, name: &str) -> pcsc::Card {
    let name = CString::new(name).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(c) => return c,
            Err(e) if Instant::now() > deadline => panic!("cannot connect to {name:?}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn batch(card: &pcsc::Card, n: usize) -> Duration {
    let mut buf = [0u8; 300];
    let t = Instant::now();
    for _ in 0..n {
        let r = card.transmit(&SELECT_JPKI, &mut buf).expect("transmit");
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
    }
    t.elapsed()
}

fn main() {
    let ctx = match pcsc::Context::establish(pcsc::Scope::User) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "real-stack benchmark: pcscd is not reachable ({e}); start it with ci/pcscd.sh start"
            );
            std::process::exit(2);
        }
    };
    // (a) kazasu's card on slot 0, (b) the null responder on slot 1.
    let mut model = reader("typical-424k", "mynumber-card");
    model.tap().unwrap();
    let slot = Arc::new(Mutex::new(Slot::new(model)));
    let (control, link) = vpcd::spawn(slot, LinkConfig::slot(0), Arc::new(|_| {}));
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let null = std::thread::spawn(move || null_responder::run(LinkConfig::slot(1).addr, s2));
    let kazasu_card = connect(&ctx, "Virtual PCD 00 00");
    let null_card = connect(&ctx, "Virtual PCD 00 01");
    batch(&kazasu_card, 500);
    batch(&null_card, 500);
    let (rounds, n) = (15, 1000);
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(batch(&kazasu_card, n).as_secs_f64() / n as f64);
        floor.push(batch(&null_card, n).as_secs_f64() / n as f64);
    }
    ours.sort_by(f64::total_cmp);
    floor.sort_by(f64::total_cmp);
    let (o, f) = (ours[rounds / 2], floor[rounds / 2]);
    let ratio = f / o;
    println!(
        "== real stack (pcscd + vpcd), SELECT round trips, medians of {rounds} alternating batches of {n}:"
    );
    println!(
        "kazasu's virtual card: {:.0} APDU/s ({:.1} µs per round trip)",
        1.0 / o,
        o * 1e6
    );
    println!(
        "null responder:        {:.0} APDU/s ({:.1} µs per round trip)",
        1.0 / f,
        f * 1e6
    );
    println!(
        "kazasu ÷ null responder: {ratio:.3} (target {}: {})",
        REAL_STACK_OVER_NULL.bound,
        REAL_STACK_OVER_NULL.verdict(ratio)
    );
    drop(kazasu_card);
    drop(null_card);
    control.stop();
    stop.store(true, Ordering::SeqCst);
    let _ = link.join();
    let _ = null.join();

    // (c) The bundled suite through the real stack: on two slots (Debian's default vpcd
    // configuration), then on every slot pcscd has (16 with ci/pcscd.sh).
    let files = kazasu::scenario::suite::load(&[]).unwrap();
    let cases: Vec<_> = files
        .iter()
        .flat_map(|(f, s)| {
            kazasu::scenario::suite::expand(s, f, &kazasu::scenario::suite::Overrides::NONE)
                .expect("profiles load")
        })
        .collect();
    let configured = kazasu::link::pcsc::configured_slots().expect("vpcd slots");
    for slots in [2, configured] {
        let opts = RunOptions {
            seed: 1,
            jobs: usize::from(slots),
            fail_fast: false,
            ..RunOptions::default()
        };
        let factory = |worker: usize, model: kazasu_sim::Reader| {
            PcscBackend::new(worker as u16, model, Pace::Fast, Timeouts::default())
                .map(|b| Box::new(b) as Box<dyn kazasu::link::backend::Backend>)
        };
        let t = Instant::now();
        let results = run::run_with(&cases, &opts, &factory, &|_| {});
        let wall = t.elapsed();
        let passed = results
            .iter()
            .filter(|r| r.status == Status::Passed)
            .count();
        println!(
            "bundled suite through the real stack: {} cases, {passed} passed, {:.1} s wall ({slots} vpcd slots)",
            cases.len(),
            wall.as_secs_f64()
        );
    }
}

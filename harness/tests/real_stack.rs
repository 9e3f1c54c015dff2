//! The bundled scenarios through the real reading stack: pcscd with vsmartcard's vpcd driver,
//! reached with the `pcsc` crate. Needs pcscd running (`ci/pcscd.sh start`). Without pcscd the
//! tests say so and pass — except under `CI=true` or `KAZASU_PCSC=1`, where a missing pcscd is
//! a failure.
#![cfg(feature = "pcsc")]

mod common;

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
        .flat_map(|(f, s)| suite::expand(s, f, &suite::Overrides::NONE).expect("profiles load"))
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
        ..RunOptions::default()
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
            .filter_map(|e| e.error.as_ref())
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
    case.scenario.faults[0].action = kazasu_sim::reader::fault::Action::SlowCard(1000.0);
    case.scenario.budget = None;
    let timeouts = Timeouts {
        presence: Duration::from_secs(5),
        transmit: Duration::from_secs(2),
    };
    let opts = RunOptions {
        seed: 1,
        jobs: 1,
        fail_fast: false,
        ..RunOptions::default()
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

/// A fresh virtual card behind the typical reader, as a backend's model.
fn model(seed: u64) -> kazasu_sim::Reader {
    use std::sync::Arc;
    kazasu_sim::Reader::new(
        Arc::new(kazasu_sim::ReaderProfile::builtin("typical-424k").unwrap()),
        kazasu_sim::Card::new(
            Arc::new(kazasu_sim::CardProfile::builtin("mynumber-card").unwrap()),
            kazasu_sim::Fixtures::embedded().default_subject(),
            seed,
        )
        .unwrap(),
        kazasu_sim::FaultPlan::none(rand_core::SeedableRng::seed_from_u64(seed)),
    )
}

/// ci/pcscd.sh configures pcscd's limit of 16 vpcd slots; each carries its own card at the same
/// time, under the name kazasu gives it.
#[test]
fn sixteen_slots_each_carry_a_card_at_the_same_time() {
    use kazasu::link::backend::Backend;
    use kazasu::link::transport::Transport;
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() {
        return;
    }
    let configured = kazasu::link::pcsc::configured_slots().unwrap();
    if std::env::var("KAZASU_VPCD_SLOTS").is_err() {
        assert_eq!(configured, 16, "ci/pcscd.sh configures 16 vpcd slots");
    }
    let threads: Vec<_> = (0..configured)
        .map(|slot| {
            std::thread::spawn(move || {
                let mut b = PcscBackend::new(
                    slot,
                    model(u64::from(slot)),
                    Pace::Fast,
                    Timeouts::default(),
                )
                .unwrap_or_else(|e| panic!("slot {slot}: {e}"));
                b.tap().unwrap_or_else(|e| panic!("slot {slot}: {e:?}"));
                // SELECT the JPKI AP, then read the first bytes of the auth certificate.
                let sel = b
                    .transmit(&[
                        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00,
                        0x00, 0x00, 0x01,
                    ])
                    .unwrap_or_else(|e| panic!("slot {slot}: {e:?}"));
                assert_eq!(sel.response, [0x90, 0x00], "slot {slot}");
                let read = b
                    .transmit(&[0x00, 0xB0, 0x8A, 0x00, 0x04])
                    .unwrap_or_else(|e| panic!("slot {slot}: {e:?}"));
                assert_eq!(&read.response[..2], [0x30, 0x82], "slot {slot}");
                b.remove();
                b.finish();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// `serve --vpcd HOST:PORT` reaches a vpcd by name and port, as it reaches one on another
/// machine: here pcscd's own vpcd on loopback, port 0x8C7D (slot 2, "Virtual PCD 1 00 00").
#[test]
fn serve_reaches_a_vpcd_by_host_and_port() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() || kazasu::link::pcsc::configured_slots().unwrap() < 3 {
        assert!(!pcscd_required(), "ci/pcscd.sh configures slot 2");
        return;
    }
    // Only vpcd listens on a port: on kazasu's driver (ci/pcscd.sh's default) there is no vpcd
    // to reach. ci/driver-check.sh runs this test again on vpcd with KAZASU_VPCD=1, where a
    // missing vpcd fails it.
    let listening = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|t| kazasu::stack::listening_ports(&t))
        .any(|p| p == 0x8C7D);
    if !listening {
        assert!(
            std::env::var_os("KAZASU_VPCD").is_none(),
            "KAZASU_VPCD=1: pcscd must have vpcd's slot 2 listening on port 0x8C7D"
        );
        eprintln!("not on vpcd (kazasu's driver serves the slots): nothing to reach by port");
        return;
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "serve",
            "--card",
            "mynumber-card",
            "--vpcd",
            "localhost:0x8C7D",
            "--duration",
            "30s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(kazasu_sim::vpcd::reader_name(2)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let card = loop {
        match ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "no card on {name:?}: {e}; serve said: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    };
    let mut buf = [0u8; 258];
    let answer = card
        .transmit(
            &[
                0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00,
                0x01,
            ],
            &mut buf,
        )
        .unwrap()
        .to_vec();
    drop(card);
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(answer, [0x90, 0x00]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("the vpcd at 127.0.0.1:35965"), "{said}");
}

/// `kazasu serve` on slot `slot` with `args`, as the "physical" card of a --device run.
fn serve_on(slot: u16, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "serve",
            "--card",
            "mynumber-card",
            "--slot",
            &slot.to_string(),
        ])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn scenario_file(name: &str) -> String {
    format!("{}/../scenarios/serve/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A scenario with tap and remove runs on a card on a PC/SC reader (`--device`): kazasu serve
/// plays the physical card, its script the operator who taps, takes off and taps again; the
/// prompts name the reader, and a case with faults or about another card is not applicable. `--unattended` fails the
/// case at the tap it cannot cause.
#[test]
fn a_device_run_waits_for_the_operators_taps_and_unattended_fails_cleanly() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() || kazasu::link::pcsc::configured_slots().unwrap() < 5 {
        assert!(!pcscd_required(), "ci/pcscd.sh configures slot 4");
        return;
    }
    let device = kazasu_sim::vpcd::reader_name(4);
    let scenario = scenario_file("device-tap-remove.yaml");
    let script = scenario_file("operator-taps-twice.yaml");
    let mut served = serve_on(4, &["--script", &script, "--duration", "30s"]);
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "run",
            "--backend",
            "pcsc",
            "--device",
            &device,
            &scenario,
            "-v",
        ])
        .output()
        .unwrap();
    let _ = served.kill();
    let _ = served.wait();
    let (out, err) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert_eq!(run.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains("PASS") && out.contains("the card is read, taken off and read again"),
        "{out}"
    );
    assert!(
        out.contains("1 passed, 0 failed, 2 not applicable"),
        "{out}"
    );
    assert!(out.contains("needs faults injected"), "{out}");
    assert!(out.contains("needs the card `iphone-jpki`"), "{out}");
    assert!(
        err.contains(&format!("Hold the test card on {device} now")),
        "the operator is told what to do: {err}"
    );
    // The card stays on the reader and no one is there: the second tap cannot happen.
    let mut served = serve_on(4, &["--duration", "30s"]);
    std::thread::sleep(Duration::from_millis(1500));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "run",
            "--backend",
            "pcsc",
            "--device",
            &device,
            "--unattended",
            &scenario,
        ])
        .output()
        .unwrap();
    let _ = served.kill();
    let _ = served.wait();
    let (out, err) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert_eq!(run.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("at step 6 (tap)"), "{out}");
    assert!(
        err.contains("--unattended: the case needs the card taken off"),
        "{err}"
    );
    // A name that matches no reader is bad input, with the readers listed.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "run",
            "--backend",
            "pcsc",
            "--device",
            "ACS ACR1252",
            &scenario,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no PC/SC reader's name contains `ACS ACR1252`")
            && err.contains("Virtual PCD 00 00"),
        "{err}"
    );
}

/// `kazasu calibrate`, closed loop: a readertest card served behind typical-424k at real-time
/// pace is measured through pcscd, with a card served at once (fast pace) on the next slot as
/// the stack's own cost; the profile's host overhead (1 ms) and bit rate (424 kbit/s) come back
/// within 10 %, and the profile written loads with its values marked measured.
#[test]
fn calibrate_recovers_a_served_readers_timing_within_ten_percent() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() || kazasu::link::pcsc::configured_slots().unwrap() < 8 {
        assert!(!pcscd_required(), "ci/pcscd.sh configures slots 6 and 7");
        return;
    }
    let serve = |slot: &str, pace: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
            .args([
                "serve",
                "--card",
                "readertest",
                "--reader",
                "typical-424k",
                "--slot",
                slot,
                "--pace",
                pace,
                "--duration",
                "120s",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut measured = serve("6", "realtime");
    let mut null = serve("7", "fast");
    std::thread::sleep(Duration::from_millis(1500));
    let out = std::env::temp_dir().join(format!("kazasu-calibrated-{}.yaml", std::process::id()));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "calibrate",
            "--device",
            &kazasu_sim::vpcd::reader_name(6),
            "--baseline",
            &kazasu_sim::vpcd::reader_name(7),
            "--name",
            "served-typical",
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    for c in [&mut measured, &mut null] {
        let _ = c.kill();
        let _ = c.wait();
    }
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{err}");
    let number_after = |label: &str| -> f64 {
        let rest =
            &err[err.find(label).unwrap_or_else(|| panic!("{label}: {err}")) + label.len()..];
        rest.trim_start()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let overhead_us = number_after("host overhead");
    let kbps = number_after("effective bit rate");
    assert!(
        (overhead_us - 1000.0).abs() <= 100.0,
        "host overhead {overhead_us} µs: {err}"
    );
    assert!(
        (kbps - 424.0).abs() <= 42.4,
        "bit rate {kbps} kbit/s: {err}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let p = kazasu_sim::ReaderProfile::from_yaml(&text, "calibrated").unwrap();
    assert_eq!(p.name, "served-typical");
    assert_eq!(p.bit_rates.value, vec![106, 212, 424]);
    assert_eq!(
        p.extended_apdus.value,
        kazasu_sim::reader::profile::ExtendedApdus::Supported
    );
    for key in ["bit_rates", "host_overhead", "extended_apdus"] {
        let line = text.lines().find(|l| l.starts_with(key)).unwrap();
        assert!(
            line.contains("sure: measured") && line.contains("Virtual PCD 3 00 00"),
            "{line}"
        );
    }
}

/// `kazasu certify --device`: kazasu serve plays the physical card resting on a physical
/// reader. Only cases that never send a wrong PIN, change or block one, or need the card taken
/// off run; the PIN tries left are the same before and after, and the right PINs still verify.
/// Unattended with no card on the reader, every case that needs it fails at its tap, cleanly.
#[test]
fn certify_on_a_device_leaves_the_pins_as_they_were() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() || kazasu::link::pcsc::configured_slots().unwrap() < 5 {
        assert!(!pcscd_required(), "ci/pcscd.sh configures slot 4");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kazasu-certify-device-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let device = kazasu_sim::vpcd::reader_name(4);
    let counters_yaml = dir.join("counters.yaml");
    std::fs::write(
        &counters_yaml,
        "- name: the PIN tries left, then the right PINs\n  card: mynumber-card\n  destructive: false\n  steps:\n    - tap\n    - select: jpki\n    - verify_pin: { ef: \"0018\" }\n      expect: { sw: \"63Cx\" }\n    - verify_pin: { ef: \"001B\" }\n      expect: { sw: \"63Cx\" }\n    - verify_pin: { ef: \"0018\", pin: \"${secrets.auth_pin}\" }\n      expect: { sw: \"9000\" }\n    - verify_pin: { ef: \"001B\", pin: \"${secrets.sign_pin}\" }\n      expect: { sw: \"9000\" }\n",
    )
    .unwrap();
    let counters = |name: &str| -> Vec<String> {
        let json = dir.join(format!("{name}.json"));
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
            .args([
                "run",
                "--backend",
                "pcsc",
                "--device",
                &device,
                "--unattended",
            ])
            .arg(&counters_yaml)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        report["scenarios"][0]["transcript"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["command"].as_str().unwrap().starts_with("00 20"))
            .map(|e| e["sw"].as_str().unwrap().to_string())
            .collect()
    };
    /// A served card that ends with the test, whatever happens in it.
    struct Served(std::process::Child);
    impl Drop for Served {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let served = Served(serve_on(4, &["--duration", "300s"]));
    std::thread::sleep(Duration::from_millis(1500));
    let before = counters("before");
    assert_eq!(before, ["63C3", "63C5", "9000", "9000"]);
    let out = dir.join("bundle");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(["certify", "--device", &device, "--unattended", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout).into_owned(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    );
    let after = counters("after");
    drop(served);
    assert_eq!(run.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(after, before, "the PINs' tries and values are unchanged");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["device"]["name"], device.as_str());
    assert!(
        m["device"]["atr"].as_str().unwrap().starts_with("3B"),
        "{m}"
    );
    let passed = m["summary"]["passed"].as_u64().unwrap();
    assert!(passed >= 10, "{stdout}");
    let (code, out_text, err) = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(["certify", "--verify"])
        .arg(&out)
        .output()
        .map(|o| {
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, Some(0), "{out_text}{err}");
    // No card on the reader and no operator: the cases that need the card fail at their tap.
    let script = dir.join("nobody.yaml");
    std::fs::write(&script, "start_in_field: false\nevents: []\n").unwrap();
    let mut served = serve_on(
        4,
        &["--script", script.to_str().unwrap(), "--duration", "120s"],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(["certify", "--device", &device, "--unattended", "-o"])
        .arg(dir.join("nobody-bundle"))
        .output()
        .unwrap();
    let _ = served.kill();
    let _ = served.wait();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert_eq!(run.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("--unattended: the case needs the card tapped on"),
        "{stderr}"
    );
}

/// `FF CA 00 00 00` through pcscd on `slot`, once a card answers it (retried until `deadline`).
fn pupi_on(slot: u16, deadline: Instant) -> Vec<u8> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(kazasu_sim::vpcd::reader_name(slot)).unwrap();
    let mut buf = [0u8; 258];
    loop {
        let answer = ctx
            .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .and_then(|card| {
                card.transmit(&[0xFF, 0xCA, 0x00, 0x00, 0x00], &mut buf)
                    .map(<[u8]>::to_vec)
            });
        match answer {
            Ok(a) if a.ends_with(&[0x90, 0x00]) => return a[..a.len() - 2].to_vec(),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("no PUPI on {name:?}: {other:02X?}"),
        }
    }
}

/// The PUPIs `profile` served on `slot` answers through pcscd at two taps (its serve script
/// takes the card away after the first command and brings it back 5 s in, well after the first
/// read).
fn pupis_of_two_taps(profile: &str, slot: u16) -> (Vec<u8>, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("kazasu-pupi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("two-taps.yaml");
    std::fs::write(
        &script,
        "start_in_field: true\nevents:\n  - { after_apdus: 1, do: remove }\n  - { at: 5s, do: tap }\n",
    )
    .unwrap();
    let mut served = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "serve",
            "--card",
            profile,
            "--slot",
            &slot.to_string(),
            "--duration",
            "30s",
            "--script",
        ])
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let first = pupi_on(slot, Instant::now() + Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(1_500)); // pcscd sees the card leave
    let second = pupi_on(slot, Instant::now() + Duration::from_secs(20));
    let _ = served.kill();
    let _ = served.wait();
    let _ = std::fs::remove_dir_all(&dir);
    (first, second)
}

/// A physical card draws a new random PUPI at every activation: two taps of the same served
/// card answer `FF CA 00 00 00` differently through pcscd; a profile that pins the PUPI
/// (`uid: fixed`) answers the same both times.
#[test]
fn two_taps_give_two_pupis_unless_the_profile_pins_one() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() || kazasu::link::pcsc::configured_slots().unwrap() < 6 {
        assert!(!pcscd_required(), "ci/pcscd.sh configures slots 3 and 5");
        return;
    }
    // Each serve on a slot of its own: vpcd takes a while to accept a new card on a slot whose
    // last one was killed.
    let (a, b) = pupis_of_two_taps("mynumber-card", 3);
    assert_eq!((a.len(), b.len()), (4, 4));
    assert_ne!(a, b, "a new PUPI at the second tap");
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(["profiles", "mynumber-card"])
        .output()
        .unwrap();
    let yaml = String::from_utf8(shown.stdout).unwrap();
    let pinned = yaml
        .lines()
        .map(|l| match l.trim_start().starts_with("uid:") {
            true => "  uid: { value: fixed, sure: modelled }",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("name: mynumber-card", "name: mynumber-card-pinned");
    let path = std::env::temp_dir().join(format!("kazasu-pinned-{}.yaml", std::process::id()));
    std::fs::write(&path, pinned).unwrap();
    let (a, b) = pupis_of_two_taps(path.to_str().unwrap(), 5);
    let _ = std::fs::remove_file(&path);
    assert_eq!(a, b, "a pinned PUPI stays");
    assert_eq!(a, [0x5A, 0x5A, 0x00, 0x01]);
}

/// Another program on the PC resets the card (`warm_reset` in a serve script:
/// `SCardReconnect(…, SCARD_RESET_CARD)` through pcscd): the reading software's next command
/// gets `SCARD_W_RESET_CARD`; once it reconnects, the card still has the PIN verified, as a
/// real card keeps it across a warm reset, and signs.
#[test]
fn a_warm_reset_by_another_program_keeps_the_pin_verified() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() || kazasu::link::pcsc::configured_slots().unwrap() < 7 {
        assert!(!pcscd_required(), "ci/pcscd.sh configures slot 6");
        return;
    }
    let slot = 6;
    let dir = std::env::temp_dir().join(format!("kazasu-reset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("reset.yaml");
    std::fs::write(&script, "events:\n  - { after_apdus: 3, do: warm_reset }\n").unwrap();
    let mut served = serve_on(
        slot,
        &["--duration", "30s", "--script", script.to_str().unwrap()],
    );
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(kazasu_sim::vpcd::reader_name(slot)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut card = loop {
        match ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(card) => break card,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("no card on {name:?}: {e}"),
        }
    };
    let mut buf = [0u8; 300];
    let mut send = |card: &pcsc::Card, hex: &str| {
        let apdu = kazasu_sim::parse_hex(hex).unwrap();
        card.transmit(&apdu, &mut buf).map(<[u8]>::to_vec)
    };
    let select = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";
    assert_eq!(send(&card, select).unwrap(), [0x90, 0x00]);
    assert_eq!(send(&card, "00 A4 02 0C 02 00 18").unwrap(), [0x90, 0x00]);
    assert_eq!(
        send(&card, "00 20 00 80 04 31 32 33 34").unwrap(),
        [0x90, 0x00]
    );
    // The serve script resets the card after these three commands.
    let reset_seen = Instant::now() + Duration::from_secs(10);
    loop {
        match send(&card, select) {
            Err(pcsc::Error::ResetCard) => break,
            Ok(_) if Instant::now() < reset_seen => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("expected SCARD_W_RESET_CARD after the reset, got {other:02X?}"),
        }
    }
    card.reconnect(
        pcsc::ShareMode::Shared,
        pcsc::Protocols::ANY,
        pcsc::Disposition::LeaveCard,
    )
    .unwrap();
    assert_eq!(send(&card, select).unwrap(), [0x90, 0x00]);
    assert_eq!(send(&card, "00 A4 02 0C 02 00 17").unwrap(), [0x90, 0x00]);
    let digest_info = "30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20 \
        00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F";
    let signed = send(&card, &format!("80 2A 00 80 33 {digest_info} 00")).unwrap();
    assert_eq!(
        (signed.len(), &signed[256..]),
        (258, &[0x90, 0x00][..]),
        "signs: the PIN survived the warm reset"
    );
    drop(card);
    let _ = served.kill();
    let _ = served.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `serve --ready-file` writes its file only once pcscd has powered the card: a script that
/// waits for the file can connect at once, never racing pcscd's presence poll.
#[test]
fn the_ready_file_appears_once_pcscd_has_the_card() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() || kazasu::link::pcsc::configured_slots().unwrap() < 9 {
        assert!(!pcscd_required(), "ci/pcscd.sh configures slot 8");
        return;
    }
    let slot = 8;
    let ready = std::env::temp_dir().join(format!("kazasu-ready-{}", std::process::id()));
    let _ = std::fs::remove_file(&ready);
    let mut served = serve_on(
        slot,
        &["--duration", "30s", "--ready-file", ready.to_str().unwrap()],
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "no ready file within 15 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let name = kazasu_sim::vpcd::reader_name(slot);
    assert_eq!(
        std::fs::read_to_string(&ready).unwrap(),
        format!("{name}\n")
    );
    // At once: pcscd has the card.
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let reader = std::ffi::CString::new(name).unwrap();
    let card = ctx
        .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .expect("the card is there when the ready file is");
    drop(card);
    let _ = served.kill();
    let _ = served.wait();
    let _ = std::fs::remove_file(&ready);
}

/// A failure through pcscd prints a reproduce line with `--backend pcsc`; run as printed from
/// another folder it fails the same way through pcscd again.
#[test]
fn a_real_stack_reproduce_line_runs_through_pcscd_from_any_folder() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() {
        return;
    }
    let base = std::env::temp_dir().join(format!("kazasu-pcsc-repro-{}", std::process::id()));
    let (here, elsewhere) = (base.join("project"), base.join("elsewhere"));
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        here.join("fails.yaml"),
        "name: expects the wrong answer through pcscd\nsteps:\n  - tap\n  - select: jpki\n  - apdu: 00 B0 8A 00 04\n    expect: { sw: \"6A82\" }\n",
    )
    .unwrap();
    let (code, out) = common::run_in(
        &here,
        "kazasu",
        &["run", "fails.yaml", "--backend", "pcsc", "--slots", "2"],
    );
    assert_eq!(code, Some(1), "{out}");
    let line = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce: "))
        .unwrap_or_else(|| panic!("no reproduce line: {out}"));
    assert!(line.contains("--backend pcsc"), "{line}");
    let (again, out_again) = common::run_in(&elsewhere, "sh", &["-c", line]);
    assert_eq!(again, Some(1), "`{line}`: {out_again}");
    let actual = |o: &str| {
        o.lines()
            .find(|l| l.contains("actual:"))
            .map(str::to_string)
    };
    assert_eq!(actual(&out), actual(&out_again), "{line}");
}

/// `serve --pcap` writes what a PC/SC client did to the served card as it happens: the air of
/// the slot (the field on, the activation, the I-blocks) and every APDU, the PIN masked; the
/// file is whole once serve stops on Ctrl-C.
#[test]
fn serve_writes_the_slots_air_and_apdus_as_pcapng() {
    let _slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !stack_available() || kazasu::link::pcsc::configured_slots().unwrap() < 11 {
        assert!(!pcscd_required(), "ci/pcscd.sh configures slot 10");
        return;
    }
    let slot = 10;
    let dir = std::env::temp_dir().join(format!("kazasu-served-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pcap, ready) = (dir.join("served.pcapng"), dir.join("ready"));
    let mut served = serve_on(
        slot,
        &[
            "--pcap",
            pcap.to_str().unwrap(),
            "--duration",
            "60s",
            "--ready-file",
            ready.to_str().unwrap(),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "no ready file within 15 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pin = kazasu_sim::Fixtures::embedded()
        .default_subject()
        .identity
        .pins
        .auth
        .expose()
        .clone();
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let reader = std::ffi::CString::new(kazasu_sim::vpcd::reader_name(slot)).unwrap();
    let card = ctx
        .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .expect("the served card");
    let mut verify = vec![0x00, 0x20, 0x00, 0x80, pin.len() as u8];
    verify.extend_from_slice(pin.as_bytes());
    let mut buf = [0u8; 300];
    for apdu in [
        kazasu_sim::parse_hex("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01").unwrap(),
        kazasu_sim::parse_hex("00 A4 02 0C 02 00 18").unwrap(),
        verify,
    ] {
        let answer = card.transmit(&apdu, &mut buf).expect("an answer");
        assert_eq!(answer, [0x90, 0x00], "{apdu:02X?}");
    }
    drop(card);
    let _ = std::process::Command::new("kill")
        .args(["-INT", &served.id().to_string()])
        .status();
    let _ = served.wait();
    let bytes = std::fs::read(&pcap).expect("serve wrote the file");
    assert!(
        !bytes.windows(pin.len()).any(|w| w == pin.as_bytes()),
        "the PIN is in the file"
    );
    let file = kazasu::pcapng::block::read(&bytes).expect("a whole pcapng file");
    let names: Vec<_> = file.interfaces.iter().map(|i| i.name.clone()).collect();
    assert_eq!(
        names,
        [
            Some("slot 10 air".to_string()),
            Some("slot 10 apdu".to_string())
        ]
    );
    let commands: Vec<Vec<u8>> = file
        .packets
        .iter()
        .filter(|p| p.interface == 1)
        .filter_map(|p| match kazasu::pcapng::pdu::read_apdu(&p.data) {
            Some((kazasu::pcapng::pdu::ApduWay::Command, a)) => Some(a.to_vec()),
            _ => None,
        })
        .collect();
    // pcscd may ask more of its own; the client's three are there, the VERIFY masked.
    let verify = commands.iter().find(|c| c[1] == 0x20).expect("the VERIFY");
    assert!(verify[5..].iter().all(|b| *b == b'*'), "{verify:02X?}");
    assert!(
        commands
            .iter()
            .any(|c| c[..5] == [0x00, 0xA4, 0x04, 0x0C, 0x0A])
    );
    let air: Vec<u8> = file
        .packets
        .iter()
        .filter(|p| p.interface == 0)
        .map(|p| p.data[1])
        .collect();
    assert_eq!(air.first(), Some(&0xFC), "the field switches on first");
    assert!(
        air.contains(&0xFE) && air.contains(&0xFF),
        "frames both ways"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

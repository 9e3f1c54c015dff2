//! `kazasu fuzz-host` in-process: hosts written against kazasu's host API, one that panics on a
//! certificate that does not start like DER and one that retries without a limit, are found,
//! classified, recorded, shrunk, and their recordings replay to the same failure. (The same
//! through pcscd, with real programs, is `ci/fuzz-host.sh`.)

use kazasu::fuzz::host::InProcessHost;
use kazasu::fuzz::{self, Options, Target};
use kazasu::link::backend::Backend;
use kazasu::serve::CardSpec;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::kazasu;

const SELECT_JPKI: &[u8] = &[
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];
const SELECT_AUTH_CERT: &[u8] = &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A];
const READ_4: &[u8] = &[0x00, 0xB0, 0x00, 0x00, 0x04];

/// Reads the certificate's first bytes and panics (like a parser without checks) unless they
/// are `30 82`.
struct TrustingParser;

impl InProcessHost for TrustingParser {
    fn run(&self, mut card: Box<dyn Backend>) -> Result<(), String> {
        card.tap().map_err(|e| e.to_string())?;
        for apdu in [SELECT_JPKI, SELECT_AUTH_CERT] {
            card.transmit(apdu).map_err(|e| e.to_string())?;
        }
        let r = card.transmit(READ_4).map_err(|e| e.to_string())?;
        assert!(r.response.starts_with(&[0x30, 0x82]), "not a certificate");
        Ok(())
    }
}

/// Selects the application; on any other answer than 90 00 it waits, without a time-out, for
/// the card to be taken away and presented again.
struct EndlessWait;

impl InProcessHost for EndlessWait {
    fn run(&self, mut card: Box<dyn Backend>) -> Result<(), String> {
        card.tap().map_err(|e| e.to_string())?;
        match card.transmit(SELECT_JPKI) {
            Ok(r) if r.response == [0x90, 0x00] => Ok(()),
            _ => {
                // kazasu takes the card away after the time-out, which ends this loop.
                while card.atr().is_ok() {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err("the card left".into())
            }
        }
    }
}

fn campaign(host: Arc<dyn InProcessHost>, name: &str, runs: u32) -> (fuzz::Summary, Target) {
    let out_dir =
        std::env::temp_dir().join(format!("kazasu-fuzz-host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let target = Target::InProcess {
        host,
        timeout: Duration::from_millis(300),
        expect_exit: None,
    };
    let opts = Options {
        card: fuzz::LoadedCard::load(card()).unwrap(),
        reader: Arc::new(kazasu_sim::ReaderProfile::builtin("typical-424k").unwrap()),
        runs,
        seed: 11,
        out_dir,
        minimize: true,
        kinds: Vec::new(),
    };
    let summary = fuzz::campaign(&opts, &target, None, &|_| {}).unwrap();
    (summary, target)
}

fn card() -> CardSpec {
    CardSpec {
        profile: "mynumber-card".into(),
        identity: None,
    }
}

fn check_finding(summary: &fuzz::Summary, target: &Target, key: &str) {
    let f = summary
        .findings
        .iter()
        .find(|f| f.key == key)
        .unwrap_or_else(|| panic!("no `{key}` among {:?}", summary.findings));
    assert!(f.first_run > 0, "the run without mutation passed");
    let min = f.minimized.as_ref().expect("a minimized recording");
    let (n, full) = (f.minimized_apdus.unwrap(), f.recording_apdus);
    assert!(n >= 1 && n <= full, "minimized to {n} of {full} APDUs");
    for path in [&f.recording, min] {
        let text = std::fs::read_to_string(path).unwrap();
        let again =
            fuzz::replay(&text, &fuzz::LoadedCard::load(card()).unwrap(), 11, target).unwrap();
        assert_eq!(
            again.outcome.key(),
            key,
            "{} replays to the same failure",
            path.display()
        );
    }
    assert!(f.reproduce.contains("--replay") && f.reproduce.contains(".min.jsonl"));
}

#[test]
fn a_panicking_host_is_found_shrunk_and_replayed() {
    let (summary, target) = campaign(Arc::new(TrustingParser), "panic", 60);
    check_finding(&summary, &target, "crash (panic)");
    assert!(summary.passed > 0, "some mutations leave the host alone");
    assert_eq!(summary.baseline_apdus, 3);
}

#[test]
fn a_host_that_waits_for_ever_is_a_hang() {
    let (summary, target) = campaign(Arc::new(EndlessWait), "hang", 40);
    check_finding(&summary, &target, "hang");
}

#[test]
fn the_cli_fuzzes_a_scenario_host_and_its_reproduce_command_replays_it() {
    let dir = std::env::temp_dir().join(format!("kazasu-fuzz-host-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("host.yaml");
    std::fs::write(
        &scenario,
        "name: read the certificate header\ncard: mynumber-card\nsteps:\n  - tap\n  - apdu: 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01\n    expect: { sw: \"9000\" }\n  - apdu: 00 A4 02 0C 02 00 0A\n    expect: { sw: \"9000\" }\n  - apdu: 00 B0 00 00 04\n    expect: { sw: \"9000\", data_prefix: \"3082\" }\n",
    )
    .unwrap();
    let out = dir.join("findings");
    let json = dir.join("summary.json");
    let junit = dir.join("summary.xml");
    let (code, stdout, stderr) = kazasu(&[
        "fuzz-host",
        "--backend",
        "inproc",
        "--scenario",
        scenario.to_str().unwrap(),
        "--runs",
        "50",
        "--seed",
        "4",
        "--timeout",
        "2s",
        "--expect-exit",
        "0",
        "-o",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "failures found: {stdout}{stderr}");
    assert!(stdout.contains("50 runs (seed 4)"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // A failure with the card in the field, and the host giving up after the card was taken
    // away: two classes, the second named for what happened.
    assert_eq!(summary["findings"][0]["key"], "exit 1");
    assert_eq!(
        summary["findings"][1]["key"],
        "exit 1 after the card left the field"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"2\""), "{xml}");
    // Not a terminal: progress lines in the log as the runs go.
    assert!(stderr.contains("fuzz-host: 10/50 runs"), "{stderr}");
    // The printed reproduce command, run as printed from another folder, replays the failure.
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce: "))
        .expect("a reproduce line");
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let (code, output) = common::run_in(&elsewhere, "sh", &["-c", line]);
    assert_eq!(
        code,
        Some(1),
        "the replay fails the same way: `{line}` {output}"
    );
    assert!(
        output.contains("exited 1, not an expected code"),
        "{output}"
    );
    // Without mutation the host passes: the failure is the mutation's.
    assert_eq!(summary["baseline_apdus"], 3);
    assert!(summary["findings"][0]["first_run"].as_u64().unwrap() > 0);
    // Removals left out: no finding of that class, and every plan keeps to the kinds chosen.
    let (code, stdout, stderr) = kazasu(&[
        "fuzz-host",
        "--backend",
        "inproc",
        "--scenario",
        scenario.to_str().unwrap(),
        "--runs",
        "50",
        "--seed",
        "4",
        "--mutations",
        "status-word,truncate,corrupt-der",
        "--expect-exit",
        "0",
        "-o",
        out.to_str().unwrap(),
        "--verbose",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stdout.contains("after the card left"), "{stdout}");
    assert!(
        !stderr.contains("leaves the field") && !stderr.contains("answered after"),
        "{stderr}"
    );
}

//! The sample captures under `scenarios/traces/` — recorded with pcscd, OpenSC, pcsc-spy and
//! kazasu serve against kazasu's own cards (ci/capture-traces.sh) — read, imported, and replayed
//! both ways, as a field engineer's capture would be.

use kazasu::capture::replay::{Mode, Verdict};
use kazasu::capture::session::{CardReplay, HostReplay, TraceFile, import, import_options};
use kazasu::capture::trace::{Format, What};
use kazasu::serve::CardSpec;
use std::path::{Path, PathBuf};

mod common;
use common::kazasu;

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/traces")
}

/// (capture, format, reader filter, card the capture was made with)
const SAMPLES: &[(&str, Format, Option<&str>, &str)] = &[
    (
        "opensc-read-cert.pcscd.log",
        Format::Pcscd,
        Some("PCD 00 00"),
        "mynumber-card:yamada-taro",
    ),
    (
        "opensc-read-cert.opensc.log",
        Format::Opensc,
        None,
        "mynumber-card:yamada-taro",
    ),
    (
        "opensc-read-cert.apdu4j.dump",
        Format::Apdu4j,
        None,
        "mynumber-card:yamada-taro",
    ),
    (
        "scriptor-readertest.pcsc-spy.log",
        Format::PcscSpy,
        None,
        "readertest",
    ),
    (
        "scriptor-readertest.pcsc-spy-decoded.txt",
        Format::PcscSpyDecoded,
        None,
        "readertest",
    ),
    (
        "pkcs11-sign.kazasu.jsonl",
        Format::Kazasu,
        None,
        "mynumber-card:yamada-taro",
    ),
    (
        "phone-pulled-away.pcscd.log",
        Format::Pcscd,
        Some("PCD 00 00"),
        "mynumber-card:yamada-taro",
    ),
];

fn file(name: &str, format: Format, reader: Option<&str>) -> TraceFile {
    TraceFile {
        path: traces().join(name),
        format,
        reader: reader.map(str::to_string),
    }
}

/// A host replay against a virtual card `PROFILE[:IDENTITY]` behind the typical reader.
fn host(card: &str, seed: u64) -> HostReplay {
    HostReplay {
        card: card.parse().unwrap(),
        reader_model: "typical-424k".into(),
        seed,
        compare: Default::default(),
    }
}

fn yaml_of(name: &str) -> PathBuf {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    traces().join(format!("{stem}.yaml"))
}

#[test]
fn every_sample_reads_and_auto_detection_agrees() {
    for (name, format, reader, _) in SAMPLES {
        let t = file(name, *format, *reader).load().unwrap();
        assert!(t.exchanges() >= 4, "{name}: {} exchanges", t.exchanges());
        let auto = file(name, Format::Auto, *reader).load().unwrap();
        assert_eq!(auto, t, "{name}: auto-detected differently");
    }
}

/// The same OpenSC session read from pcscd's log, OpenSC's log and the apdu4j dump: the same
/// commands and answers in the same order.
#[test]
fn three_formats_of_one_session_agree() {
    let exchanges = |name: &str, format: Format, reader: Option<&str>| {
        file(name, format, reader)
            .load()
            .unwrap()
            .events
            .into_iter()
            .filter_map(|e| match e.what {
                What::Exchange {
                    command, outcome, ..
                } => Some((command, outcome)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let pcscd = exchanges(
        "opensc-read-cert.pcscd.log",
        Format::Pcscd,
        Some("PCD 00 00"),
    );
    assert_eq!(pcscd.len(), 44);
    assert_eq!(
        exchanges("opensc-read-cert.opensc.log", Format::Opensc, None),
        pcscd
    );
    assert_eq!(
        exchanges("opensc-read-cert.apdu4j.dump", Format::Apdu4j, None),
        pcscd
    );
}

#[test]
fn committed_scenarios_are_what_import_writes_now() {
    for (name, format, reader, card) in SAMPLES {
        let f = file(name, *format, *reader);
        let spec: CardSpec = card.parse().unwrap();
        let (text, _) = import(&f, import_options(&f, Some(&spec))).unwrap();
        let committed = std::fs::read_to_string(yaml_of(name)).unwrap();
        assert_eq!(
            text, committed,
            "{name}: the committed scenario is stale; run ci/capture-traces.sh (or its import lines)"
        );
    }
}

#[test]
fn imported_scenarios_pass_against_the_card_they_were_captured_from() {
    let paths: Vec<PathBuf> = SAMPLES.iter().map(|(n, ..)| yaml_of(n)).collect();
    let files = kazasu::scenario::suite::load(&paths).unwrap();
    let mut cases = Vec::new();
    for (f, scenarios) in &files {
        cases.extend(
            kazasu::scenario::suite::expand(
                scenarios,
                f,
                &kazasu::scenario::suite::Overrides::NONE,
            )
            .expect("profiles load"),
        );
    }
    assert_eq!(cases.len(), SAMPLES.len());
    let results = kazasu::run::run(&cases, &Default::default(), &|_| {});
    for r in &results {
        assert_eq!(
            r.status,
            kazasu::run::Status::Passed,
            "{}: {}",
            r.name,
            kazasu::report::failure_text(r)
        );
    }
}

#[test]
fn no_pin_in_what_import_writes() {
    // The kazasu transcript hides the PIN; the scenario names it as the identity's auth PIN.
    let text = std::fs::read_to_string(yaml_of("pkcs11-sign.kazasu.jsonl")).unwrap();
    assert!(text.contains("${secrets.auth_pin}"));
    assert!(!text.contains("31 32 33 34"));
    // A pcscd log shows the PIN in clear; the import leaves it out unless told.
    let log = "00000003 APDU: 00 A4 02 0C 02 00 18 \n00000100 SW: 90 00 \n\
               00000003 APDU: 00 20 00 80 04 31 32 33 34 \n00000100 SW: 90 00 \n";
    let dir = std::env::temp_dir().join(format!("kazasu-traces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("verify.log");
    std::fs::write(&p, log).unwrap();
    let f = TraceFile {
        path: p,
        format: Format::Pcscd,
        reader: None,
    };
    let (text, _) = import(&f, import_options(&f, None)).unwrap();
    assert!(
        text.contains("00 20 00 80 04 ${secrets.auth_pin}"),
        "{text}"
    );
    assert!(!text.contains("31 32 33 34"), "{text}");
}

#[test]
fn host_replay_matches_the_device_and_finds_a_different_one() {
    let t = file(SAMPLES[0].0, SAMPLES[0].1, SAMPLES[0].2)
        .load()
        .unwrap();
    let same = host("mynumber-card:yamada-taro", 1);
    let report = same.run(&t).unwrap();
    assert_eq!(report.differences(), 0);
    // Another person's card: the certificate bytes differ, found at the first READ BINARY of it.
    let other = host("mynumber-card:suzuki-hanako", 1);
    let report = other.run(&t).unwrap();
    let first = report.first_difference().unwrap();
    assert!(first.command.starts_with("00 B0"), "{first:?}");
    // The signature of the PKCS#11 sample matches by class, not by bytes.
    let t = file("pkcs11-sign.kazasu.jsonl", Format::Kazasu, None)
        .load()
        .unwrap();
    let report = host("mynumber-card:yamada-taro", 7).run(&t).unwrap();
    assert_eq!(report.differences(), 0);
    // PKCS#1 v1.5 signatures are deterministic: the same key over the same digest gives the
    // same bytes. With `--compare sw`, another person's card matches on status words alone.
    let sign = report
        .rows
        .iter()
        .find(|r| r.command.starts_with("80 2A"))
        .expect("the sample signs");
    assert_eq!(sign.verdict, Verdict::Same);
    let lenient = host("mynumber-card:suzuki-hanako", 7);
    let strict_report = lenient.run(&t).unwrap();
    assert!(strict_report.differences() > 0);
    let sw_only =
        kazasu::capture::replay::relax(&strict_report, kazasu::capture::replay::Compare::Sw);
    assert_eq!(sw_only.differences(), 0);
    assert!(sw_only.rows.iter().any(|r| matches!(
        &r.verdict,
        Verdict::SameClass(w) if w.contains("status word")
    )));
}

#[test]
fn the_recorded_removal_is_replayed() {
    let f = file(
        "phone-pulled-away.pcscd.log",
        Format::Pcscd,
        Some("PCD 00 00"),
    );
    let t = f.load().unwrap();
    let failed = t
        .events
        .iter()
        .filter(|e| matches!(&e.what, What::Exchange { outcome, .. } if !matches!(outcome, kazasu::capture::trace::ExchangeOutcome::Response(_))))
        .count();
    assert!(failed > 0, "the capture shows exchanges that got nothing");
    assert!(t.events.iter().any(|e| matches!(e.what, What::Removed)));
    let text = std::fs::read_to_string(yaml_of("phone-pulled-away.pcscd.log")).unwrap();
    assert_eq!(text.matches("do: field_off").count(), 1, "{text}");
    // As the card, in-process: the imported steps run against the recording and it ends there.
    let (results, outcome) = CardReplay {
        mode: Mode::Strict,
        model: None,
        seed: 1,
    }
    .in_process(&f, &t, None, false)
    .unwrap();
    assert_eq!(results[0].status, kazasu::run::Status::Passed);
    assert!(outcome.ok(), "{}", outcome.describe());
}

#[test]
fn card_replay_modes_when_the_host_deviates() {
    let f = file(SAMPLES[0].0, SAMPLES[0].1, SAMPLES[0].2);
    let t = f.load().unwrap();
    // kazasu's own auth flow is not the sequence OpenSC sent.
    let host =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/conformance/auth-flow.yaml");
    let strict = CardReplay {
        mode: Mode::Strict,
        model: None,
        seed: 1,
    };
    let (_, outcome) = strict.in_process(&f, &t, Some(&host), false).unwrap();
    let d = outcome.divergence.clone().expect("a divergence");
    assert!(d.line > 0 && d.expected.is_some(), "{d}");
    assert!(outcome.describe().contains("the host sent"));
    // With the model answering what the recording lacks, the host gets its answers.
    let model = CardReplay {
        mode: Mode::Model,
        model: Some("mynumber-card:yamada-taro".parse().unwrap()),
        seed: 1,
    };
    let (_, outcome) = model.in_process(&f, &t, Some(&host), false).unwrap();
    assert!(outcome.divergence.is_none());
    assert!(outcome.by_model > 0);
}

#[test]
fn minimizing_keeps_the_few_commands_that_show_the_difference() {
    let t = file(SAMPLES[0].0, SAMPLES[0].1, SAMPLES[0].2)
        .load()
        .unwrap();
    let host = host("android-jpki:suzuki-hanako", 1);
    let before = host.run(&t).unwrap();
    let wanted = before.first_difference().unwrap().clone();
    let (small, _) = host.minimize(&t).unwrap().expect("the replay fails");
    assert!(small.events.len() <= 4, "{} events", small.events.len());
    let after = host.run(&small).unwrap();
    let got = after.first_difference().unwrap();
    assert_eq!(
        (&got.command, &got.verdict),
        (&wanted.command, &wanted.verdict)
    );
}

#[test]
fn the_cli_names_the_bad_line_and_the_way_out() {
    let dir = std::env::temp_dir().join(format!("kazasu-traces-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.log");
    std::fs::write(
        &bad,
        "00000003 APDU: 00 B0 00 00 04 \n00000100 SW: 9G 00 \n",
    )
    .unwrap();
    let (code, _, err) = kazasu(&["import", "pcscd", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.log:2:"), "{err}");
    let (code, _, err) = kazasu(&["import", "pcscd", dir.join("missing.log").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read") && err.contains("missing.log"),
        "{err}"
    );
    let out = dir.join("s.yaml");
    let (code, _, err) = kazasu(&[
        "import",
        "kazasu",
        traces().join("pkcs11-sign.kazasu.jsonl").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("${secrets.auth_pin}"), "{err}");
    // A host replay against another person's card fails with exit code 1 and shows the rows.
    let (code, stdout, _) = kazasu(&[
        "replay",
        traces()
            .join("opensc-read-cert.opensc.log")
            .to_str()
            .unwrap(),
        "--as",
        "host",
        "--card",
        "mynumber-card:suzuki-hanako",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("≠ #"), "{stdout}");
    let (code, stdout, _) = kazasu(&[
        "replay",
        traces()
            .join("opensc-read-cert.opensc.log")
            .to_str()
            .unwrap(),
        "--as",
        "card",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("replayed 44/44"), "{stdout}");
}

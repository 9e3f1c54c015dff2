//! `kazasu run --pcap`: the file a user opens in Wireshark holds every APDU of the run (as many
//! as the JSON report), the air of each case from the field switching on to off, the step that
//! sent them, and never a PIN; the same seed writes the same bytes.

mod common;

use kazasu::pcapng::block::{self, linktype};
use kazasu::pcapng::pdu::{self, ApduWay};
use kazasu_sim::Fixtures;

const SCENARIO: &str = "- name: read and sign
  steps:
    - tap
    - select: jpki
    - verify_pin: { ef: \"0018\", pin: \"${secrets.auth_pin}\" }
    - read_file: { ef: \"000A\" }
    - remove
- name: a command the phone never answers
  faults:
    - { when: { exchange: 2 }, do: field_off }
  steps:
    - tap
    - select: jpki
    - apdu: 00 B0 8A 00 04
      expect: { transport_error: card_removed }
";

/// A fresh folder for test `tag` with the scenario in it as `s.yaml`.
fn folder(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kazasu-pcap-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s.yaml"), SCENARIO).unwrap();
    dir
}

/// `kazasu ARGS` in `dir`, which must succeed; what it printed.
fn kazasu_ok(dir: &std::path::Path, args: &[&str]) -> String {
    let (code, out) = common::run_in(dir, "kazasu", args);
    assert_eq!(code, Some(0), "kazasu {}: {out}", args.join(" "));
    out
}

/// Runs the scenario with --pcap and --json in a fresh folder; (pcapng bytes, JSON report).
fn run(tag: &str) -> (Vec<u8>, serde_json::Value) {
    let dir = folder(tag);
    let (code, out) = common::run_in(
        &dir,
        "kazasu",
        &[
            "run",
            "s.yaml",
            "--pcap",
            "out/run.pcapng",
            "--json",
            "run.json",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("pcap: 2 cases,"), "{out}");
    let file = std::fs::read(dir.join("out/run.pcapng")).unwrap();
    let json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (file, json)
}

#[test]
fn the_file_holds_every_apdu_the_air_and_the_steps_and_no_pin() {
    let (bytes, json) = run("a");
    let file = block::read(&bytes).expect("kazasu reads its own file back");
    let names: Vec<_> = file
        .interfaces
        .iter()
        .map(|i| i.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["case 1 air", "case 1 apdu", "case 2 air", "case 2 apdu"]
    );
    let links: Vec<u16> = file.interfaces.iter().map(|i| i.linktype).collect();
    assert_eq!(
        links,
        [linktype::ISO_14443, linktype::WIRESHARK_UPPER_PDU, 264, 252]
    );

    // As many commands as the report, per case; a command that lost the card has no answer.
    for (case, (air, apdu)) in [(0, 1), (2, 3)].into_iter().enumerate() {
        let reported: Vec<String> = json["scenarios"][case]["transcript"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["command"].as_str().unwrap().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        let apdus: Vec<(ApduWay, Vec<u8>)> = file
            .packets
            .iter()
            .filter(|p| p.interface == apdu)
            .map(|p| {
                let (w, a) = pdu::read_apdu(&p.data).expect("an exported ISO 7816 PDU");
                (w, a.to_vec())
            })
            .collect();
        let commands: Vec<_> = apdus
            .iter()
            .filter(|(w, _)| *w == ApduWay::Command)
            .collect();
        assert_eq!(commands.len(), reported.len(), "case {}", case + 1);
        let air: Vec<_> = file.packets.iter().filter(|p| p.interface == air).collect();
        assert_eq!(
            air.first().map(|p| p.data[1]),
            Some(0xFC),
            "the field switches on first"
        );
        assert_eq!(air.last().map(|p| p.data[1]), Some(0xFD), "and off last");
        if case == 1 {
            assert_eq!(
                apdus.last().map(|(w, _)| *w),
                Some(ApduWay::Command),
                "no answer after the card left"
            );
            assert!(air.iter().any(|p| {
                p.comment
                    .as_deref()
                    .is_some_and(|c| c.contains("the card left the field"))
            }));
        }
    }

    // The step that sent the first packet of each step.
    let comments: Vec<&str> = file
        .packets
        .iter()
        .filter_map(|p| p.comment.as_deref())
        .collect();
    assert!(
        comments.contains(&"read and sign, step 3: verify_pin"),
        "{comments:?}"
    );

    // The VERIFY went out with its data masked, on the air too; the PIN is nowhere.
    let pin = Fixtures::embedded()
        .default_subject()
        .identity
        .pins
        .auth
        .expose()
        .clone();
    assert!(
        !bytes.windows(pin.len()).any(|w| w == pin.as_bytes()),
        "the PIN is in the file"
    );
    let verify = file
        .packets
        .iter()
        .filter_map(|p| pdu::read_apdu(&p.data))
        .find(|(w, a)| *w == ApduWay::Command && a[1] == 0x20)
        .expect("the VERIFY");
    assert_eq!(verify.1[5..], vec![b'*'; pin.len()][..]);
}

#[test]
fn the_same_seed_writes_the_same_file() {
    assert_eq!(run("b").0, run("c").0);
}

/// What `kazasu run --pcap` wrote comes back through `import pcap` and `replay --as card`, by its
/// APDU interface and by its air interface alike (the air's I-blocks joined into the same APDUs),
/// and the scenario imported from the air puts as many frames on the air when it runs.
#[test]
fn an_export_imports_back_and_replays_as_the_card_by_either_interface() {
    let dir = folder("round");
    let (code, out) = common::run_in(
        &dir,
        "kazasu",
        &[
            "run",
            "s.yaml",
            "--filter",
            "read and sign",
            "--pcap",
            "run.pcapng",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let file = block::read(&std::fs::read(dir.join("run.pcapng")).unwrap()).unwrap();
    let commands = file
        .packets
        .iter()
        .filter(|p| p.interface == 1)
        .filter(|p| matches!(pdu::read_apdu(&p.data), Some((ApduWay::Command, _))))
        .count();
    for interface in ["case 1 apdu", "case 1 air"] {
        let (code, out) = common::run_in(
            &dir,
            "kazasu",
            &[
                "import",
                "pcap",
                "run.pcapng",
                "--reader",
                interface,
                "-o",
                "back.yaml",
            ],
        );
        assert_eq!(code, Some(0), "{interface}: {out}");
        assert!(
            out.contains(&format!("{commands} exchanges")),
            "{interface}: {out}"
        );
        let back = std::fs::read_to_string(dir.join("back.yaml")).unwrap();
        assert!(
            back.contains("${secrets."),
            "{interface}: the VERIFY comes back as a secret\n{back}"
        );
        let (code, out) = common::run_in(
            &dir,
            "kazasu",
            &[
                "replay",
                "run.pcapng",
                "--format",
                "pcap",
                "--reader",
                interface,
                "--as",
                "card",
            ],
        );
        assert_eq!(code, Some(0), "{interface}: {out}");
        assert!(
            out.contains(&format!("replayed {commands}/{commands}")),
            "{interface}: {out}"
        );
    }
    // The scenario imported from the air runs again to the same air: as many frames.
    kazasu_ok(
        &dir,
        &[
            "import",
            "pcap",
            "run.pcapng",
            "--reader",
            "air",
            "-o",
            "again.yaml",
        ],
    );
    kazasu_ok(&dir, &["run", "again.yaml", "--pcap", "again.pcapng"]);
    let frames = |name: &str| {
        let f = block::read(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        f.packets
            .iter()
            .filter(|p| f.interfaces[p.interface].linktype == linktype::ISO_14443)
            .filter(|p| matches!(p.data[1], 0xFE | 0xFF))
            .count()
    };
    assert_eq!(frames("run.pcapng"), frames("again.pcapng"));
    // Both interfaces at once: which one is the user's to say.
    let (code, out) = common::run_in(&dir, "kazasu", &["import", "pcap", "run.pcapng"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("choose one with --reader"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--pcap-usb` writes the run as a USB CCID reader's traffic: it imports back to the scenario
/// the air interface of `--pcap` gives (taps and removals included), step for step, and replays
/// as the card.
#[test]
fn the_usb_view_imports_back_to_the_same_scenario() {
    let dir = folder("usb");
    let run = |flag: &str, file: &str| {
        let args = ["run", "s.yaml", "--filter", "read and sign", flag, file];
        let (code, out) = common::run_in(&dir, "kazasu", &args);
        assert_eq!(code, Some(0), "{out}");
        out
    };
    let out = run("--pcap-usb", "usb.pcapng");
    assert!(out.contains("pcap-usb: 1 case, 12 APDUs"), "{out}");
    run("--pcap", "both.pcapng");
    let steps = |args: &[&str]| {
        let (code, out) = common::run_in(&dir, "kazasu", args);
        assert_eq!(code, Some(0), "{out}");
        let text = std::fs::read_to_string(dir.join("back.yaml")).unwrap();
        // The steps and expectations, without their comments (packet numbers differ) and the
        // host's pauses (on the air a command starts when its first frame does, on USB when
        // the host hands it over).
        text.lines()
            .skip_while(|l| !l.starts_with("steps:"))
            .filter(|l| !l.trim_start().starts_with("- wait:"))
            .map(|l| {
                l.split("  #")
                    .next()
                    .unwrap_or_default()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let from_usb = steps(&["import", "pcap", "usb.pcapng", "-o", "back.yaml"]);
    let from_air = steps(&[
        "import",
        "pcap",
        "both.pcapng",
        "--reader",
        "air",
        "-o",
        "back.yaml",
    ]);
    assert_eq!(from_usb, from_air);
    assert_eq!(from_usb.last().map(String::as_str), Some("  - remove"));
    assert!(
        from_usb.iter().filter(|l| l.contains("- apdu:")).count() == 12,
        "{from_usb:?}"
    );
    let (code, out) = common::run_in(&dir, "kazasu", &["replay", "usb.pcapng", "--as", "card"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("replayed 12/12"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The closed loop: a phone profile with its own timing (and an FWI short enough that signing
/// needs waiting-time extensions) runs the auth flow with `--pcap`; `calibrate --from-capture`
/// on that file gives back its type, frame size, FWI and every processing time the flow uses
/// within 10 %, and says the card asked for WTX while signing.
#[test]
fn calibrate_from_capture_recovers_a_served_profile_within_ten_percent() {
    let dir = folder("cal");
    let (code, base, err) = common::kazasu(&["profiles", "android-jpki"]);
    assert_eq!(code, 0, "{err}");
    let set = |text: String, key: &str, value: &str| -> String {
        let prefix = format!("  {key}: ");
        let mut found = false;
        let out: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with(&prefix) {
                    found = true;
                    format!("{prefix}{{ value: {value}, sure: modelled }}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(found, "no `{key}` in the profile");
        out.join("\n") + "\n"
    };
    let mut shifted = base.replace("name: android-jpki", "name: shifted-phone");
    for (key, value) in [
        ("select", "7ms"),
        ("read", "5ms"),
        ("read_per_kib", "9ms"),
        ("verify", "33ms"),
        ("sign", "420ms"),
        ("fsci", "6"),
        ("fwi", "6"),
    ] {
        shifted = set(shifted, key, value);
    }
    std::fs::write(dir.join("shifted.yaml"), &shifted).unwrap();
    std::fs::write(
        dir.join("flow.yaml"),
        "name: flow\nsteps:\n  - tap\n  - jpki_auth_flow\n  - remove\n",
    )
    .unwrap();
    let (code, out) = common::run_in(
        &dir,
        "kazasu",
        &[
            "run",
            "flow.yaml",
            "--card",
            "shifted.yaml",
            "--pcap",
            "flow.pcapng",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = common::run_in(
        &dir,
        "kazasu",
        &[
            "calibrate",
            "--from-capture",
            "flow.pcapng",
            "-o",
            "calibrated.yaml",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sign: 1 of 1 commands with S(WTX)"), "{out}");
    let text = std::fs::read_to_string(dir.join("calibrated.yaml")).unwrap();
    let got = kazasu_sim::CardProfile::from_yaml(&text, "calibrated").expect("it loads");
    let want = kazasu_sim::CardProfile::from_yaml(&shifted, "shifted").unwrap();
    assert_eq!(
        got.contactless.nfc_type.value,
        want.contactless.nfc_type.value
    );
    assert_eq!(got.contactless.fsci.value, 6);
    assert_eq!(got.contactless.fwi.value, 6);
    let (g, w) = (&got.processing, &want.processing);
    for (name, got, want) in [
        ("select", &g.select, &w.select),
        ("read", &g.read, &w.read),
        ("read_per_kib", &g.read_per_kib, &w.read_per_kib),
        ("verify", &g.verify, &w.verify),
        ("sign", &g.sign, &w.sign),
    ] {
        let (got, want) = (
            got.value.0.as_nanos() as f64,
            want.value.0.as_nanos() as f64,
        );
        assert!(
            (got - want).abs() <= 0.1 * want,
            "{name}: calibrated {got} ns, the profile has {want} ns\n{text}"
        );
    }
    assert!(text.contains("sure: measured"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `replay --as card --pcap` writes the replay's APDUs: every recorded command the host sent.
#[test]
fn a_replay_as_the_card_writes_its_apdus() {
    let dir = folder("replay");
    let (code, out) = common::run_in(
        &dir,
        "kazasu",
        &[
            "replay",
            "scenarios/traces/phone-pulled-away.pcscd.log",
            "--reader",
            "PCD 00 00",
            "--as",
            "card",
            "--mode",
            "skip",
            "--pcap",
            "replay.pcapng",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("replayed 47/47"), "{out}");
    let file = block::read(&std::fs::read(dir.join("replay.pcapng")).unwrap()).unwrap();
    let commands = file
        .packets
        .iter()
        .filter(|p| matches!(pdu::read_apdu(&p.data), Some((ApduWay::Command, _))))
        .count();
    assert_eq!(commands, 47);
    assert!(
        out.contains("pcap: 1 case, 47 APDUs, 0 air frames"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An air capture replays as the card through kazasu's air model: a phone's read and signature
/// (chained answers, S(WTX) during the signature) exported, then replayed as the card from that
/// file, puts the same frames on the air — the same blocks, bytes and order, each within a few
/// microseconds of the original (a trace keeps whole microseconds: 14 exchanges' rounding adds
/// up to 2 µs) — and not merely the same APDUs.
#[test]
fn an_air_capture_replays_as_the_card_frame_for_frame() {
    let dir = folder("air");
    std::fs::write(
        dir.join("phone.yaml"),
        "- name: phone auth flow\n  card: android-jpki\n  reader: typical-424k\n  steps:\n    - tap\n    - jpki_auth_flow\n    - remove\n",
    )
    .unwrap();
    kazasu_ok(&dir, &["run", "phone.yaml", "--pcap", "run.pcapng"]);
    let out = kazasu_ok(
        &dir,
        &[
            "replay",
            "run.pcapng",
            "--reader",
            "case 1 air",
            "--as",
            "card",
            "--pcap",
            "replay.pcapng",
        ],
    );
    assert!(out.contains("through the air model"), "{out}");
    assert!(out.contains("Type A, FSCI 8, FWI 8, 424 kbit/s"), "{out}");
    // The imported scenario says what the air showed: the signature's S(WTX).
    let imported = kazasu_ok(
        &dir,
        &["import", "pcap", "run.pcapng", "--reader", "case 1 air"],
    );
    assert!(imported.contains("after 1 S(WTX) of WTXM 2)"), "{imported}");
    let air = |name: &str| {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        kazasu::capture::trace::air_frames(
            kazasu::capture::trace::Format::Pcap,
            &bytes,
            Some("case 1 air"),
        )
        .unwrap()
    };
    let (recorded, replayed) = (air("run.pcapng"), air("replay.pcapng"));
    let blocks = |frames: &[kazasu::capture::trace::AirFrame]| {
        frames
            .iter()
            .skip_while(|f| f.bytes.first() != Some(&0xE0)) // activation up to RATS
            .skip(2)
            .filter(|f| matches!(f.event, 0xFE | 0xFF))
            .map(|f| (f.event, f.bytes.clone(), f.at_us))
            .collect::<Vec<_>>()
    };
    let (a, b) = (blocks(&recorded), blocks(&replayed));
    let wtx = a.iter().filter(|(_, f, _)| f[0] & 0xF7 == 0xF2).count();
    let chained = a.iter().filter(|(_, f, _)| f[0] & 0xF0 == 0x10).count();
    assert!(
        wtx >= 2 && chained >= 5,
        "the phone's air shows WTX and chaining"
    );
    assert_eq!(a.len(), b.len(), "as many frames after the activation");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.0, &x.1), (y.0, &y.1), "the same frame at {} µs", x.2);
        assert!(x.2.abs_diff(y.2) <= 5, "{} µs against {} µs", x.2, y.2);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A reader's profile from a USB capture: the readertest session `calibrate --device` sends
/// (GET DATA FF CA, the answer-length sweep), run through a reader and exported as the USB CCID
/// traffic a sniffer records, gives back that reader's host overhead and bit rate within 10 %
/// and the USB identity and sizes its descriptors carry (a profile's own, or the synthetic
/// reader's) — and a USB capture of anything else is refused saying what it lacks.
#[test]
fn calibrate_from_a_usb_capture_recovers_the_readers_overhead_bit_rate_and_usb_identity() {
    let dir = folder("usb-calibrate");
    let typical = kazasu_sim::reader::profile::BUILTIN_READER_PROFILES
        .iter()
        .find(|(n, _)| *n == "typical-424k")
        .unwrap()
        .1;
    std::fs::write(
        dir.join("pasori.yaml"),
        typical.replace("name: typical-424k", "name: pasori-like")
            + "usb: { value: { id: \"054c:0dc8\", max_message: 271, max_ifsd: 254 }, sure: reported }\n",
    )
    .unwrap();
    for reader in ["basic-106k", "fast-848k", "pasori.yaml"] {
        let mut steps = String::from(
            "    - tap\n    - apdu: 00 A4 04 00 07 A0 00 00 00 18 FF 01\n      expect: { sw: \"9000\" }\n",
        );
        for _ in 0..3 {
            steps.push_str("    - apdu: FF CA 00 00 00\n");
            for n in kazasu::calibrate::SWEEP {
                steps.push_str(&format!("    - apdu: 80 34 00 {n:02X} {n:02X}\n"));
            }
        }
        std::fs::write(
            dir.join("sweep.yaml"),
            format!("- name: sweep\n  card: readertest\n  reader: {reader}\n  steps:\n{steps}    - remove\n"),
        )
        .unwrap();
        kazasu_ok(&dir, &["run", "sweep.yaml", "--pcap-usb", "usb.pcapng"]);
        let out = kazasu_ok(
            &dir,
            &["calibrate", "--from-capture", "usb.pcapng", "-o", "r.yaml"],
        );
        assert!(out.contains("calibrated the reader of usb.pcapng"), "{out}");
        let text = std::fs::read_to_string(dir.join("r.yaml")).unwrap();
        let got = kazasu_sim::ReaderProfile::from_yaml(&text, "r.yaml").unwrap();
        let want = kazasu::profiles::reader_profile(reader, Some(&dir)).unwrap();
        assert_eq!(got.usb(), want.usb(), "{reader}: the descriptors' values");
        assert!(
            got.usb
                .is_some_and(|u| u.sure == kazasu_sim::platform::profile::Sureness::Measured)
        );
        let (g, w) = (
            got.host_overhead.value.0.as_nanos() as f64,
            want.host_overhead.value.0.as_nanos() as f64,
        );
        assert!(
            (g - w).abs() <= 0.1 * w,
            "{reader}: overhead {g} ns, not {w}"
        );
        assert_eq!(
            got.bit_rates.value.last(),
            want.bit_rates.value.last(),
            "{reader}"
        );
        assert!(text.contains("host_overhead: { value:") && text.contains("sure: measured"));
    }
    // A USB capture of a session without the sweep: refused, saying why.
    kazasu_ok(
        &dir,
        &[
            "run",
            "s.yaml",
            "--filter",
            "read and sign",
            "--pcap-usb",
            "other.pcapng",
        ],
    );
    let (code, out) = common::run_in(
        &dir,
        "kazasu",
        &["calibrate", "--from-capture", "other.pcapng"],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no GET DATA FF CA"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

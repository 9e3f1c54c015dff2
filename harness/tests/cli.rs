//! The `kazasu` binary as a user runs it.

use std::path::PathBuf;

mod common;
use common::kazasu;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kazasu-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn closing_counts(out: &str) -> (usize, usize) {
    let line = out
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .expect("a closing line");
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

#[test]
fn run_passes_the_bundled_suite_and_writes_every_report() {
    let dir = temp("reports");
    let (junit, json, html) = (dir.join("r.xml"), dir.join("r.json"), dir.join("r.html"));
    let (code, out, err) = kazasu(&[
        "run",
        "--seed",
        "7",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (passed, failed) = closing_counts(&out);
    assert!(passed >= 60, "at least 60 cases: {out}");
    assert_eq!(failed, 0);
    // JSON: the documented fields.
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["seed"], 7);
    assert_eq!(j["summary"]["passed"].as_u64().unwrap() as usize, passed);
    let cases = j["scenarios"].as_array().unwrap();
    assert_eq!(cases.len(), passed);
    for c in cases {
        for field in [
            "name",
            "file",
            "status",
            "sim_time_ns",
            "wall_time_ns",
            "steps",
            "card",
            "reader",
        ] {
            assert!(!c[field].is_null(), "{field} in {c}");
        }
        assert_eq!(c["status"], "passed");
        assert!(
            c["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["sim_time_ns"].is_u64())
        );
    }
    // JUnit and HTML.
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(
        x.contains("<testsuites")
            && x.contains("<testcase")
            && x.contains(&format!("tests=\"{passed}\"")),
        "{}",
        &x[..300]
    );
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(
        h.starts_with("<!DOCTYPE html>")
            && h.contains("<svg class=\"waterfall\"")
            && h.contains("Latency per profile")
    );
    // No secret anywhere: the identity's PINs never appear, in ASCII or as VERIFY data.
    for text in [&out, &x, &h, &std::fs::read_to_string(&json).unwrap()] {
        assert!(!text.contains("YAMADA2026"), "the signature PIN leaked");
        assert!(
            !text.contains("59 41 4D 41 44 41 32 30 32 36"),
            "the signature PIN leaked as hex"
        );
        assert!(
            !text.contains("00 20 00 80 04 31 32 33 34"),
            "the auth PIN leaked in a VERIFY"
        );
    }
    assert!(h.contains("00 20 00 80 04 ** ** ** **") || x.contains("00 20 00 80 04 ** ** ** **"));
}

#[test]
fn a_broken_scenario_fails_with_a_readable_diff() {
    let dir = temp("broken");
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "name: expects the wrong status\ncard: android-jpki\nsteps:\n  - tap\n  - select: jpki\n  - apdu: 00 A4 02 0C 02 00 0A\n    expect: { sw: \"6A82\" }\n",
    )
    .unwrap();
    let (code, out, _) = kazasu(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL") && out.contains("expects the wrong status"),
        "{out}"
    );
    assert!(out.contains("at step 3 (apdu)"), "{out}");
    assert!(out.contains("expected: SW 6A82"), "{out}");
    assert!(out.contains("actual: SW 9000 (success)"), "{out}");
    assert!(
        out.contains("> 00 A4 02 0C 02 00 0A"),
        "shows the exchange: {out}"
    );
    assert!(out.contains("reproduce: kazasu run"), "{out}");
    assert_eq!(closing_counts(&out), (0, 1));
}

#[test]
fn malformed_yaml_exits_2_with_file_line_column() {
    let dir = temp("malformed");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, "name: x\nsteps:\n  - tap\n  - apdu: [unclosed\n").unwrap();
    let (code, _, err) = kazasu(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let prefix = format!("{}:", file.display());
    assert!(err.contains(&prefix), "{err}");
    let after = &err[err.find(&prefix).unwrap() + prefix.len()..];
    let mut parts = after.split(':');
    assert!(parts.next().unwrap().parse::<u32>().is_ok(), "line: {err}");
    assert!(
        parts.next().unwrap().parse::<u32>().is_ok(),
        "column: {err}"
    );
    assert!(err.contains("hint:"), "{err}");
    // An unknown field names the field and the place.
    std::fs::write(
        &file,
        "name: x\nsteps:\n  - tap\n  - verify_pin: { ef: \"0018\", pni: \"1234\" }\n",
    )
    .unwrap();
    let (code, _, err) = kazasu(&["validate", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(":4:") && err.contains("pni"), "{err}");
    // A profile that does not exist.
    std::fs::write(&file, "name: x\ncard: nokia-3310\nsteps: [tap]\n").unwrap();
    let (code, _, err) = kazasu(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("nokia-3310") && err.contains("android-jpki") && err.contains("hint:"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:2:7:"),
        "the profile's line and column: {err}"
    );
}

/// Errors found after parsing (bad hex in a step, a fault that makes no sense, a profile that
/// does not exist, a name used twice, a bit rate) point at the line and column of what they are
/// about, in a list of scenarios too — they once named only the file.
#[test]
fn errors_found_after_parsing_point_at_their_line() {
    let dir = temp("checked");
    let file = dir.join("suite.yaml");
    let at = |yaml: &str| {
        std::fs::write(&file, yaml).unwrap();
        let (code, _, err) = kazasu(&["validate", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        let prefix = format!("{}:", file.display());
        let after = &err[err.find(&prefix).expect(&err) + prefix.len()..];
        let mut parts = after.splitn(3, ':');
        let line: u32 = parts.next().unwrap().parse().expect(&err);
        let col: u32 = parts.next().unwrap().parse().expect(&err);
        (line, col)
    };
    let first = "- name: ok\n  steps: [tap]\n";
    assert_eq!(
        at(&format!(
            "{first}- name: hex\n  steps:\n    - tap\n    - apdu: 00 A4 ZZ\n"
        )),
        (6, 7)
    );
    assert_eq!(
        at(&format!(
            "{first}- name: fault\n  faults:\n    - {{ when: {{ tap: 1 }}, do: {{ wtx_storm: 3 }} }}\n  steps: [tap]\n"
        )),
        (5, 7)
    );
    assert_eq!(at(&format!("{first}- name: ok\n  steps: [tap]\n")), (3, 9));
    assert_eq!(
        at(&format!(
            "{first}- name: rate\n  bit_rate: 300\n  steps: [tap]\n"
        )),
        (4, 13)
    );
    assert_eq!(
        at("name: m\nmatrix:\n  reader: [basic-106k, no-such-reader]\nsteps: [tap]\n"),
        (3, 11)
    );
    assert_eq!(at("name: empty\nsteps: []\n"), (2, 8));
}

#[test]
fn validate_reports_the_bundled_suite_as_valid() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/conformance");
    let (code, out, err) = kazasu(&["validate", suite]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().all(|l| l.starts_with("ok ")), "{out}");
}

#[test]
fn partitions_split_the_suite_exactly() {
    let names = |args: &[&str]| -> Vec<String> {
        let (code, out, _) = kazasu(args);
        assert_eq!(code, 0);
        let mut v: Vec<String> = out
            .lines()
            .filter(|l| !l.ends_with(" cases"))
            .map(|l| l.split("  ").next().unwrap().trim().to_string())
            .collect();
        v.sort();
        v
    };
    let all = names(&["list"]);
    for kind in ["count", "hash"] {
        let mut union = Vec::new();
        for k in 1..=3 {
            let part = names(&["list", "--partition", &format!("{kind}:{k}/3")]);
            assert!(!part.is_empty(), "{kind}:{k}/3 is empty");
            for n in &part {
                assert!(!union.contains(n), "{n} in two shards");
            }
            union.extend(part);
        }
        union.sort();
        assert_eq!(union, all, "{kind} shards cover the suite");
    }
    assert_eq!(
        names(&["list", "--partition", "hash:2/3"]),
        names(&["list", "--partition", "hash:2/3"]),
        "deterministic"
    );
    let (code, _, err) = kazasu(&["list", "--partition", "4/3"]);
    assert_eq!(code, 2);
    assert!(err.contains("count:K/N"), "{err}");
}

#[test]
fn filters_tags_and_a_manufacturers_reader() {
    let (code, out, _) = kazasu(&[
        "run",
        "--tag",
        "smoke",
        "--reader",
        "basic-106k",
        "--verbose",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .filter(|l| l.contains("PASS"))
            .all(|l| l.contains("reader=basic-106k")),
        "{out}"
    );
    let (code, out, _) = kazasu(&["run", "--filter", "no such case"]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn fail_fast_stops_starting_cases() {
    let dir = temp("failfast");
    let file = dir.join("ff.yaml");
    let mut yaml = String::from(
        "- name: fails first\n  steps: [tap, {apdu: 00 A4 00 00, expect: {sw: \"9000\"}}]\n",
    );
    for i in 0..30 {
        yaml.push_str(&format!("- name: later {i}\n  steps: [tap]\n"));
    }
    std::fs::write(&file, yaml).unwrap();
    let (code, out, _) = kazasu(&["run", "--jobs", "1", "--fail-fast", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("30 skipped"), "{out}");
}

/// The reader-profile reference page is what `kazasu schema --profile reader --markdown` makes.
#[test]
fn the_reader_profile_reference_is_current() {
    let (code, out, err) = kazasu(&["schema", "--profile", "reader", "--markdown"]);
    assert_eq!(code, 0, "{err}");
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/reference/reader-profiles.md"
    ))
    .unwrap();
    assert_eq!(
        out, committed,
        "run `cargo run -- schema --profile reader --markdown > docs/reference/reader-profiles.md`"
    );
    let (code, schema, _) = kazasu(&["schema", "--profile", "reader"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(
        v["additionalProperties"],
        serde_json::json!(false),
        "{schema}"
    );
}

#[test]
fn the_committed_schema_is_current() {
    let (code, out, _) = kazasu(&["schema"]);
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/schema.json"
    ))
    .unwrap();
    assert_eq!(
        out, committed,
        "run `cargo run -- schema > scenarios/schema.json`"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.to_string().contains("jpki_auth_flow"));
}

#[test]
fn every_conformance_file_is_bundled() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/conformance");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") {
            let path = format!("conformance/{name}");
            assert!(
                kazasu::scenario::suite::BUNDLED
                    .iter()
                    .any(|(p, _)| *p == path),
                "{path} is not in suite.rs's bundled list"
            );
        }
    }
}

#[test]
fn profiles_lists_and_shows() {
    let (code, out, _) = kazasu(&["profiles"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("iphone-jpki") && out.contains("typical-424k"),
        "{out}"
    );
    let (code, out, _) = kazasu(&["profiles", "mynumber-card"]);
    assert_eq!(code, 0);
    assert!(out.contains("JPKIAPICCTOKEN2"), "{out}");
}

#[test]
fn a_fault_that_never_strikes_is_reported() {
    let dir = temp("missed-fault");
    let file = dir.join("missed.yaml");
    std::fs::write(
        &file,
        "name: fault after the last exchange\nfaults:\n  - { when: { exchange: 9 }, do: { slow_card: 2.0 } }\nsteps:\n  - tap\n  - select: jpki\n",
    )
    .unwrap();
    let (code, out, _) = kazasu(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ERROR")
            && out.contains("never struck")
            && out.contains("SlowCard(2.0) at exchange 9"),
        "{out}"
    );
}

#[test]
fn the_committed_sureness_report_is_current() {
    let (code, out, _) = kazasu(&["profiles", "--sureness"]);
    assert_eq!(code, 0);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/sureness.md"))
            .unwrap();
    assert_eq!(
        out, committed,
        "run `cargo run -- profiles --sureness > docs/sureness.md`"
    );
    // Every built-in profile has its row, and a modelled value says so.
    for name in ["mynumber-card", "iphone-jpki-type-b", "basic-106k (reader)"] {
        assert!(out.contains(&format!("| `{name}` |")), "{name}");
    }
    assert!(out.contains("| `mynumber-card` | `contactless.uid_bytes` |"));
    assert!(
        !out.contains("| `mynumber-card` | `contact_atr` |"),
        "reported, not modelled"
    );
    // The book's models page shows the counts table as generated.
    let counts = &out[out.find("| profile | confirmed").unwrap()..out.find("## Modelled").unwrap()];
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/reference/models.md"
    ))
    .unwrap();
    assert!(
        page.contains(counts.trim()),
        "docs/reference/models.md's sureness table is stale: copy it from `kazasu profiles --sureness`"
    );
}

/// `${saved.NAME}` (and `verify_with`) need an earlier step that saves the name: `validate`
/// says so at the step's line, as `run` would only find out when the case ran.
#[test]
fn a_saved_name_used_before_any_step_saves_it_does_not_validate() {
    let dir = temp("saved");
    let file = dir.join("saved.yaml");
    for (yaml, name, line) in [
        (
            "- name: never saved\n  steps:\n    - tap\n    - select: jpki\n    - apdu: 00 B0 00 00 ${saved.never}\n",
            "${saved.never}",
            5,
        ),
        (
            "- name: saved too late\n  steps:\n    - tap\n    - select: jpki\n    - apdu: 00 84 00 00 08\n      expect: { data: \"${saved.nonce}\" }\n    - apdu: 00 84 00 00 08\n      save: nonce\n",
            "${saved.nonce}",
            5,
        ),
        (
            "- name: no certificate\n  steps:\n    - tap\n    - select: jpki\n    - sign: { key: \"0017\", digest_of: nonce, verify_with: auth_cert }\n",
            "auth_cert",
            5,
        ),
    ] {
        std::fs::write(&file, yaml).unwrap();
        let (code, out, err) = kazasu(&["validate", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            err.contains(&format!("`{name}` is used before any step saves it")),
            "{err}"
        );
        assert!(
            err.contains(&format!("{}:{line}:", file.display())),
            "{err}"
        );
        assert!(!err.contains("Nodes {") && !err.contains("Some("), "{err}");
    }
    // Saved by an earlier step: valid.
    std::fs::write(
        &file,
        "- name: saved first\n  steps:\n    - tap\n    - select: jpki\n    - read_file: { ef: \"000A\", save: auth_cert }\n    - apdu: 00 B0 00 00 01\n      expect: { data_prefix: \"${saved.auth_cert}\" }\n      name: prefix\n",
    )
    .unwrap();
    let (code, out, err) = kazasu(&["validate", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
}

/// `serve` with no vpcd to reach does not serve in silence: within its `--connect-timeout` it
/// stops with an error that names vpcd, its address and port, and how to start it.
#[test]
fn serve_without_vpcd_stops_with_an_error_naming_it() {
    let started = std::time::Instant::now();
    // Port 1 on loopback: nothing listens there.
    let (code, _, err) = kazasu(&[
        "serve",
        "--vpcd",
        "127.0.0.1:1",
        "--connect-timeout",
        "1s",
        "--duration",
        "30s",
    ]);
    let took = started.elapsed();
    assert_ne!(code, 0, "{err}");
    assert!(took < std::time::Duration::from_secs(15), "took {took:?}");
    assert!(
        err.contains("vpcd at 127.0.0.1:1 did not answer within 1s"),
        "{err}"
    );
    assert!(err.contains("pcscd"), "says what to start: {err}");
    assert!(
        err.contains("yamada-taro, the default identity (auth PIN 1234, sign PIN YAMADA2026"),
        "names the identity and its PINs: {err}"
    );
}

/// `kazasu identities` lists every test identity a card can carry with its PINs, the default
/// first.
#[test]
fn identities_lists_every_identity_with_its_pins() {
    let (code, out, err) = kazasu(&["identities"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("identity"), "{out}");
    assert!(
        lines[1].starts_with("yamada-taro")
            && lines[1].contains("1234  YAMADA2026")
            && lines[1].ends_with("(the default)"),
        "{out}"
    );
    assert!(
        out.contains("suzuki-hanako") && out.contains("HANAKO1992X"),
        "{out}"
    );
    assert!(err.contains("--card PROFILE:IDENTITY"), "{err}");
}

/// A serve script event for a slot no card is served on is refused before serving, with the
/// slots that are served.
#[test]
fn a_script_event_for_an_unserved_slot_is_refused() {
    let dir = temp("unserved-slot");
    let script = dir.join("s.yaml");
    std::fs::write(&script, "events:\n  - { at: 1s, slot: 3, do: remove }\n").unwrap();
    let (code, _, err) = kazasu(&[
        "serve",
        "--script",
        script.to_str().unwrap(),
        "--duration",
        "2s",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("event 1 is for slot 3, but the cards are served on slots 0 to 0"),
        "{err}"
    );
}

/// The bundled suites run by name from any folder (no checkout): the onboarding suites, a
/// conformance file by the name reports give it, and by `bundled:`.
#[test]
fn bundled_suites_run_by_name_from_any_folder() {
    let dir = std::env::temp_dir().join(format!("kazasu-nowhere-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| common::run_in(&dir, "kazasu", args);
    let (code, out) = run(&["run", "scenarios/onboarding/"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("onboarding") && out.contains(" passed, 0 failed"),
        "{out}"
    );
    let (code, out) = run(&["run", "scenarios/conformance/pin.yaml"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["list", "bundled:conformance/transport.yaml"]);
    assert_eq!(code, Some(0), "{out}");
    let listed: Vec<&str> = out.lines().filter(|l| l.contains("scenarios/")).collect();
    assert!(
        !listed.is_empty()
            && listed
                .iter()
                .all(|l| l.ends_with("scenarios/conformance/transport.yaml")),
        "only the named file: {out}"
    );
    let (code, out) = run(&["run", "scenarios/nope.yaml"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("scenarios/onboarding/"),
        "the hint names what is built in: {out}"
    );
}

/// A failure's reproduce line runs as printed from another folder and gives the same verdict:
/// the scenario file by its absolute path, the reader profile file it ran with (once dropped),
/// the card override.
#[test]
fn reproduce_lines_run_from_any_folder_with_the_options_used() {
    let base = std::env::temp_dir().join(format!("kazasu-repro-{}", std::process::id()));
    let (here, elsewhere) = (base.join("project"), base.join("elsewhere"));
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        here.join("fails.yaml"),
        "name: expects the wrong answer\nsteps:\n  - tap\n  - select: jpki\n  - apdu: 00 B0 8A 00 04\n    expect: { sw: \"6A82\" }\n",
    )
    .unwrap();
    let (_, profile, _) = kazasu(&["profiles", "basic-106k"]);
    std::fs::write(
        here.join("acme.yaml"),
        profile.replace("basic-106k", "acme-r10"),
    )
    .unwrap();
    for extra in [
        vec![],
        vec!["--reader", "acme.yaml"],
        vec!["--card", "android-jpki", "--reader", "fast-848k"],
    ] {
        let mut args = vec!["run", "fails.yaml"];
        args.extend(&extra);
        let (code, out) = common::run_in(&here, "kazasu", &args);
        assert_eq!(code, Some(1), "{out}");
        let line = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("reproduce: "))
            .unwrap_or_else(|| panic!("no reproduce line: {out}"));
        for e in &extra {
            if e.ends_with(".yaml") {
                assert!(
                    line.contains(&format!("{}", here.join(e).display())),
                    "{line}"
                );
            } else {
                assert!(line.contains(e), "{extra:?} not carried: {line}");
            }
        }
        let (again, out_again) = common::run_in(&elsewhere, "sh", &["-c", line]);
        assert_eq!(again, Some(1), "`{line}` from another folder: {out_again}");
        let verdict = |o: &str| {
            o.lines()
                .find(|l| l.contains("actual:"))
                .map(str::to_string)
        };
        assert_eq!(verdict(&out), verdict(&out_again), "{line}");
        assert!(out_again.contains("1 failed"), "{out_again}");
    }
}

/// A capture of another person's card replays with differences in the data only: replay says
/// how to go on (status words only, or the capture's identity), and `--compare sw` passes.
#[test]
fn a_replay_differing_in_data_only_suggests_compare_sw_or_the_identity() {
    let trace = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/traces/opensc-read-cert.pcscd.log"
    );
    let (code, out, err) = kazasu(&[
        "replay",
        "--as",
        "host",
        trace,
        "--card",
        "mynumber-card:suzuki-hanako",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("--compare sw") && err.contains("--card mynumber-card:IDENTITY"),
        "{err}"
    );
    let (code, out, err) = kazasu(&[
        "replay",
        "--as",
        "host",
        trace,
        "--card",
        "mynumber-card:suzuki-hanako",
        "--compare",
        "sw",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("hint"), "{err}");
}

/// The HTML report says which reader profile was tested, with each value, its sureness and note,
/// and which card profiles.
#[test]
fn the_html_report_shows_the_reader_profile_tested() {
    let dir = std::env::temp_dir().join(format!("kazasu-html-prof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_, profile, _) = kazasu(&["profiles", "basic-106k"]);
    let reader = dir.join("acme.yaml");
    std::fs::write(
        &reader,
        profile.replace("name: basic-106k", "name: acme-r10"),
    )
    .unwrap();
    let html = dir.join("r.html");
    let (code, out, err) = kazasu(&[
        "run",
        "--reader",
        reader.to_str().unwrap(),
        "--filter",
        "auth flow fits",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<h3>reader <code>acme-r10</code></h3>"),
        "{page}"
    );
    assert!(
        page.contains("<tr><td><code>fsdi</code></td><td>5</td><td>modelled</td>"),
        "{page}"
    );
    assert!(page.contains(">android-jpki</code>"), "{page}");
}

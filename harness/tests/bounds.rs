//! Every size the input controls has a bound with a clear error and exit code 2: matrices,
//! `wait`, fault sizes, profile files (even an endless one), command-line profiles.

mod common;
use common::kazasu;
use std::time::Instant;

fn scenario_file(name: &str, yaml: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kazasu-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, yaml).unwrap();
    p
}

/// Runs `validate` and `run` on a file: both exit 2, quickly, saying `want`.
fn refused(name: &str, yaml: &str, want: &str) {
    let p = scenario_file(name, yaml);
    for cmd in ["validate", "run"] {
        let started = Instant::now();
        let (code, out, err) = kazasu(&[cmd, p.to_str().unwrap()]);
        assert_eq!(code, 2, "{cmd} {name}: {out}{err}");
        assert!(err.contains(want), "{cmd} {name}: {err}");
        assert!(
            started.elapsed().as_secs() < 10,
            "{cmd} {name} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_matrix_that_expands_beyond_the_bound_is_refused_at_load() {
    let cards: Vec<String> = (0..1_001).map(|i| format!("card-{i}.yaml")).collect();
    refused(
        "huge-matrix.yaml",
        &format!(
            "name: huge\nmatrix: {{ card: [{}] }}\nsteps:\n  - tap\n",
            cards.join(", ")
        ),
        "expands to 1001 cases, more than 1000",
    );
    // 10^8 combinations from three dimensions of repeated values: refused, not expanded.
    let many = vec!["mynumber-card"; 500].join(", ");
    refused(
        "repeated-matrix.yaml",
        &format!("name: repeated\nmatrix: {{ card: [{many}] }}\nsteps:\n  - tap\n"),
        "matrix.card lists `mynumber-card` twice",
    );
}

#[test]
fn absurd_waits_and_fault_sizes_are_refused_at_load() {
    refused(
        "wait.yaml",
        "name: wait\nsteps:\n  - tap\n  - wait: 100000000h\n",
        "the simulated clock would saturate",
    );
    refused(
        "slow.yaml",
        "name: slow\nfaults:\n  - { when: { exchange: 1 }, do: { slow_card: 1e9 } }\nsteps:\n  - tap\n  - apdu: 00 84 00 00 08\n",
        "slow_card factor 1000000000 is above 1000",
    );
    refused(
        "storm.yaml",
        "name: storm\nfaults:\n  - { when: { exchange: 1 }, do: { wtx_storm: 4000000000 } }\nsteps:\n  - tap\n  - apdu: 00 84 00 00 08\n",
        "wtx_storm of 4000000000 requests is above 10000",
    );
}

#[test]
fn an_endless_profile_file_is_an_error_after_its_bound() {
    refused(
        "endless-profile.yaml",
        "name: endless\ncard: /dev/zero\nsteps:\n  - tap\n",
        "/dev/zero is longer than 1 MiB",
    );
}

#[test]
fn a_wrong_profile_on_the_command_line_is_bad_input() {
    let (code, _, err) = kazasu(&["run", "--card", "nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--card nonexistent") && err.contains("no card profile"),
        "{err}"
    );
    let (code, _, err) = kazasu(&["run", "--reader", "nonexistent"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_command_longer_than_any_apdu_is_a_step_error() {
    let long = "00 ".repeat(65_545);
    let p = scenario_file(
        "long-apdu.yaml",
        &format!("name: long apdu\nsteps:\n  - tap\n  - apdu: {long}\n"),
    );
    let (code, out, _) = kazasu(&["run", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no APDU is longer than 65544"), "{out}");
}

/// A malformed vpcd frame ends the link with a message on serve's stderr, not only in its
/// transcript.
#[test]
fn serve_reports_a_vpcd_protocol_error_on_stderr() {
    use std::io::Write;
    // Play vpcd's side: slot 41 is port 35963 + 41, far from a real vpcd's.
    let listener = std::net::TcpListener::bind(("127.0.0.1", 35963 + 41)).unwrap();
    let serve = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "serve",
            "--card",
            "mynumber-card",
            "--slot",
            "41",
            "--duration",
            "3s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.write_all(&common::frame(&[0x09])).unwrap(); // no such control byte
    let out = serve.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("slot 41: the vpcd link broke: protocol error"),
        "{err}"
    );
}

/// An alias bomb (nine levels of nine), deep nesting and a 50 MB file end in exit 2 within
/// seconds, with bounded memory (the file bound; typed parsing stops at the first wrong node).
#[test]
fn alias_bombs_deep_nesting_and_huge_files_end_quickly() {
    let mut defs = vec!["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]".to_string()];
    for i in 1..10 {
        defs.push(format!(
            "&a{i} [{}]",
            vec![format!("*a{}", i - 1); 9].join(", ")
        ));
    }
    refused(
        "bomb.yaml",
        &format!(
            "- name: ok\n  steps: [tap]\n- name: bomb\n  steps: [tap]\n  matrix:\n    card: [{}]\n",
            defs.join(", ")
        ),
        "bomb.yaml:6",
    );
    refused(
        "deep.yaml",
        &format!(
            "name: deep\nsteps: [tap]\nmatrix: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        "deep.yaml",
    );
    // Longer than any scenario file (a sparse file: the bound is found without writing it).
    let huge = scenario_file("huge.yaml", "name: huge\nsteps: [tap]\n");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    for cmd in ["validate", "run"] {
        let (code, _, err) = kazasu(&[cmd, huge.to_str().unwrap()]);
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(err.contains("is longer than 256 MiB"), "{cmd}: {err}");
    }
    // Many tiny nodes: more than the file's length allows, in words (it once printed
    // `budget breached: Nodes { nodes: 250001 }`).
    let tiny = format!(
        "name: tiny\nsteps: [tap]\ntags: [{}]\n",
        vec!["a"; 600_000].join(",")
    );
    refused("tiny.yaml", &tiny, "the file has more than");
    let p = scenario_file("tiny2.yaml", &tiny);
    let (_, _, err) = kazasu(&["validate", p.to_str().unwrap()]);
    assert!(
        !err.contains("Nodes {") && !err.contains("breached"),
        "{err}"
    );
}

/// A scenario as long as an import of a long capture writes (here 70,000 exchanges: about
/// 630,000 YAML nodes, past serde-saphyr's default 250,000) loads and runs: the loader's counts
/// grow with the file's length. Such an import once failed with "the imported scenario does not
/// load (a kazasu bug): … Nodes { nodes: 250001 }".
#[test]
fn a_scenario_as_long_as_a_long_import_loads() {
    let mut yaml = String::from(
        "name: long\ncard: mynumber-card\nsteps:\n  - tap\n  - select: jpki\n  - apdu: 00 A4 02 0C 02 00 0A\n    expect: { sw: \"9000\" }\n",
    );
    // Half as an import writes them (a comment a step), half as compact as YAML allows.
    for i in 0..70_000 {
        let comment = if i % 2 == 0 {
            format!("  # line {i}, answered in 0.076ms")
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "  - apdu: 00 B0 00 00 10{comment}\n    expect: {{ sw: \"9000\", data_len: 16 }}\n"
        ));
    }
    let p = scenario_file("long.yaml", &yaml);
    let (code, out, err) = kazasu(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kazasu(&["run", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 passed"), "{out}");
}

/// A card profile's processing times are bounded: `18446744073709551615s` for a SELECT once
/// ran until the process aborted at 4 GB, and `31d` was accepted. Now both are bad input with
/// the value named, before any case runs.
#[test]
fn a_card_profile_that_takes_for_ever_is_refused() {
    let (_, card, _) = kazasu(&["profiles", "mynumber-card"]);
    let dir = std::env::temp_dir().join(format!("kazasu-slow-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = scenario_file(
        "one-select.yaml",
        "name: one select\nsteps:\n  - tap\n  - select: jpki\n",
    );
    let select_line = card
        .lines()
        .find(|l| l.trim_start().starts_with("select:"))
        .expect("the profile has a select time")
        .to_string();
    let indent = &select_line[..select_line.len() - select_line.trim_start().len()];
    for value in ["18446744073709551615s", "31d", "61s"] {
        let slow = card.replace(
            &select_line,
            &format!("{indent}select: {{ value: {value}, sure: modelled }}"),
        );
        let path = dir.join(format!("slow-{}.yaml", value.len()));
        std::fs::write(&path, slow).unwrap();
        let started = Instant::now();
        let (code, out, err) = kazasu(&[
            "run",
            scenario.to_str().unwrap(),
            "--card",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{value}: {out}{err}");
        assert!(
            err.contains("processing.select") || err.contains("duration"),
            "{value}: {err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}

/// Budgets are per case, in total: a WTX storm on every exchange over 200 SELECTs (3.5 KB of
/// YAML) once took 2.1 GB and wrote a 2 GB report. The case now ends as an error at the step
/// that crossed its frame budget, naming it, and the report stays small.
#[test]
fn a_case_ends_at_the_step_that_crosses_its_budget() {
    let mut yaml = String::from(
        "name: storm on every exchange\nfaults:\n  - { when: { probability: 1.0 }, do: { wtx_storm: 10000 } }\nsteps:\n  - tap\n",
    );
    for _ in 0..200 {
        yaml.push_str("  - select: jpki\n");
    }
    let scenario = scenario_file("storm.yaml", &yaml);
    let json = std::env::temp_dir().join(format!("kazasu-storm-{}.json", std::process::id()));
    let started = Instant::now();
    let (code, out, err) = kazasu(&[
        "run",
        scenario.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("crossed its budget of 250000 frames"), "{out}");
    let report = std::fs::metadata(&json).unwrap().len();
    assert!(report < 160 << 20, "the report is {report} bytes");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let step = v["scenarios"][0]["failure"]["step"].as_u64().unwrap();
    assert!((2..=200).contains(&step), "ended at step {step}");
}

/// A legal capture of more exchanges than a hand-written scenario has imports into a scenario
/// kazasu loads (an apdu4j dump of 100,000 reads once imported into one the loader refused).
#[test]
fn a_long_capture_imports_into_a_scenario_that_loads() {
    let mut dump = String::from("# Using Virtual PCD 00 00\n# ATR: 3B888001000005E0B381A1007F\n");
    for i in 0..100_000u32 {
        dump.push_str(&format!(
            "# Sent\n00B0{:04X}00\n# Received in 1ms\n6A82\n",
            i % 0x7FFF
        ));
    }
    let capture = scenario_file("reads.apdu4j", &dump);
    let out = capture.with_extension("yaml");
    let (code, stdout, err) = kazasu(&[
        "import",
        "apdu4j",
        capture.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let (code, stdout, err) = kazasu(&["validate", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{err}");
}

//! The data of every secret-bearing command (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER,
//! the card-info AP's code VERIFYs) never reaches an output: the runner's reports and
//! transcripts, a served card's JSON-lines transcript, and a scenario imported from it.

mod common;
use common::{frame, read_frame};
use kazasu::report::{self, Summary};
use kazasu::run::run_case;
use kazasu::scenario::suite;
use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

/// Data no output may show, in any of the spellings outputs use.
const MARKER: [u8; 6] = [0xC0, 0xFF, 0xEE, 0x5E, 0xC2, 0xE7];

fn assert_no_marker(what: &str, text: &str) {
    let spaced = kazasu_sim::hex_spaced(&MARKER);
    for form in [
        spaced.clone(),
        spaced.to_lowercase(),
        hex::encode_upper(MARKER),
        hex::encode(MARKER),
        "C0:FF:EE".into(),
        "c0:ff:ee".into(),
    ] {
        assert!(
            !text.contains(&form),
            "{what} shows secret data ({form}):\n{text}"
        );
    }
}

/// Each secret-bearing instruction, with the card-info AP's code VERIFYs (P2 = 0x14, 0x15).
fn secret_commands() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // VERIFY (20, 21), CHANGE REFERENCE DATA (24, 25), RESET RETRY COUNTER (2C, 2D).
    for ins in [0x20, 0x21, 0x24, 0x25, 0x2C, 0x2D] {
        for p2 in [0x80, 0x14, 0x15] {
            let mut c = vec![0x00, ins, 0x00, p2, MARKER.len() as u8];
            c.extend_from_slice(&MARKER);
            out.push(c);
        }
    }
    out
}

#[test]
fn reports_and_transcripts_never_show_secret_command_data() {
    let mut yaml = String::from("name: secrets\nsteps:\n  - tap\n  - select: card-info\n");
    for c in secret_commands() {
        yaml.push_str(&format!(
            "  - apdu: {}\n    expect: {{ sw: [\"9000\", \"6xxx\"] }}\n",
            kazasu_sim::hex_spaced(&c)
        ));
    }
    // The last step fails, so that the failure's context (the exchanges before it) is printed.
    yaml.push_str("  - apdu: 00 84 00 00 08\n    expect: { sw: \"6F00\" }\n");
    let scenarios = suite::parse(&yaml, "secrets.yaml").unwrap();
    let cases =
        suite::expand(&scenarios, "secrets.yaml", &suite::Overrides::NONE).expect("profiles load");
    let result = run_case(&cases[0], 1);
    assert_eq!(
        result.failure.as_ref().map(|f| f.step),
        Some(3 + secret_commands().len()),
        "{:?}",
        result.failure
    );
    assert_eq!(
        result
            .transcript
            .entries
            .iter()
            .filter(|e| e.command.to_string().contains("**"))
            .count(),
        secret_commands().len(),
        "every secret-bearing command is in the transcript, redacted"
    );
    let results = vec![result];
    let summary = Summary::of(&results, Duration::from_secs(1));
    assert_no_marker("the transcript", &format!("{:#}", results[0].transcript));
    assert_no_marker("the console", &report::failure_text(&results[0]));
    assert_no_marker(
        "the JSON report",
        &report::json(&results, summary, 1, "inproc", &[]),
    );
    assert_no_marker("the JUnit report", &report::junit(&results, summary, 1));
    assert_no_marker(
        "the HTML report",
        &report::html::render(&results, &summary, 1, "inproc", &[], &[]),
    );
}

#[test]
fn a_served_card_and_its_import_never_show_secret_command_data() {
    let dir = std::env::temp_dir().join(format!("kazasu-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let transcript = dir.join("served.jsonl");
    // Play vpcd's side of the socket: slot 40 is port 35963 + 40, far from a real vpcd's.
    let listener = TcpListener::bind(("127.0.0.1", 35963 + 40)).unwrap();
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "serve",
            "--card",
            "mynumber-card",
            "--slot",
            "40",
            "--duration",
            "20s",
        ])
        .arg("--transcript")
        .arg(&transcript)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&frame(&[0x04])).unwrap(); // GET ATR
    read_frame(&mut s);
    s.write_all(&frame(&[0x01])).unwrap(); // power on
    let select = [
        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08,
    ];
    s.write_all(&frame(&select)).unwrap();
    assert_eq!(read_frame(&mut s), [0x90, 0x00]);
    for c in secret_commands() {
        s.write_all(&frame(&c)).unwrap();
        assert!(read_frame(&mut s).len() >= 2);
    }
    drop(s);
    // The transcript is written as the exchanges happen; wait until the last one is there.
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&transcript).unwrap_or_default();
        if text.matches("\"command\"").count() > secret_commands().len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    serve.kill().ok();
    serve.wait().ok();
    assert!(
        text.matches("**").count() >= secret_commands().len(),
        "every secret-bearing command is in the served transcript, redacted:\n{text}"
    );
    assert_no_marker("serve's transcript", &text);

    let imported = dir.join("imported.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(["import", "kazasu"])
        .arg(&transcript)
        .arg("-o")
        .arg(&imported)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scenario = std::fs::read_to_string(&imported).unwrap();
    assert_no_marker("the imported scenario", &scenario);
    assert_no_marker("import's output", &String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
}

/// An expectation made from a secret that fails shows the template, not the secret: in the
/// console, JSON, JUnit and HTML reports.
#[test]
fn a_failed_expectation_made_from_a_secret_shows_no_secret() {
    let secret = "K4ZA5U";
    let yaml = format!(
        "name: secret expectation\nsecrets: {{ code: \"{secret}\" }}\nsteps:\n  - tap\n  - apdu: 00 84 00 00 06\n    expect: {{ data: \"${{secrets.code}}\" }}\n"
    );
    let scenarios = suite::parse(&yaml, "secret-expect.yaml").unwrap();
    let cases = suite::expand(&scenarios, "secret-expect.yaml", &suite::Overrides::NONE)
        .expect("profiles load");
    let result = run_case(&cases[0], 1);
    let failure = result
        .failure
        .as_ref()
        .expect("a random challenge is not the secret");
    assert_eq!(failure.step, 2);
    let text = report::failure_text(&result);
    assert!(text.contains("*** (${secrets.code})"), "{text}");
    let results = vec![result];
    let summary = Summary::of(&results, Duration::from_secs(1));
    let spaced = kazasu_sim::hex_spaced(secret.as_bytes());
    for (what, out) in [
        ("the console", text.clone()),
        (
            "the JSON report",
            report::json(&results, summary, 1, "inproc", &[]),
        ),
        ("the JUnit report", report::junit(&results, summary, 1)),
        (
            "the HTML report",
            report::html::render(&results, &summary, 1, "inproc", &[], &[]),
        ),
    ] {
        for form in [
            spaced.clone(),
            hex::encode_upper(secret),
            secret.to_string(),
        ] {
            assert!(
                !out.contains(&form),
                "{what} shows the secret ({form}):\n{out}"
            );
        }
    }
}

/// An invitation code written literally in a raw `http: body:` is hidden in every report.
#[test]
fn a_literal_invitation_code_in_a_raw_body_is_hidden() {
    let yaml = "name: literal code\nsteps:\n  - http: { method: POST, path: /api/registrations, body: \"{\\\"name\\\": \\\"x\\\", \\\"invitation_code\\\": \\\"ZZ9QX7\\\"}\" }\n    expect: { status: 201 }\n";
    let scenarios = suite::parse(yaml, "literal.yaml").unwrap();
    let cases =
        suite::expand(&scenarios, "literal.yaml", &suite::Overrides::NONE).expect("profiles load");
    let result = run_case(&cases[0], 1);
    assert!(result.failure.is_some(), "an unknown code is refused");
    let text = report::failure_text(&result);
    assert!(text.contains("\"invitation_code\":\"***\""), "{text}");
    let results = vec![result];
    let summary = Summary::of(&results, Duration::from_secs(1));
    for (what, out) in [
        ("the console", text),
        (
            "the JSON report",
            report::json(&results, summary, 1, "inproc", &[]),
        ),
        ("the JUnit report", report::junit(&results, summary, 1)),
        (
            "the HTML report",
            report::html::render(&results, &summary, 1, "inproc", &[], &[]),
        ),
    ] {
        assert!(!out.contains("ZZ9QX7"), "{what} shows the code:\n{out}");
    }
}

/// A card that echoes stored data: the readertest card's dump (`80 40`) answers with the last
/// VERIFY as it received it. Once a `${secrets.…}` PIN went to the card, an answer that holds it
/// is never shown — not on the console, in the JSON, JUnit or HTML report, nor in the failure
/// text — while the step's expectations still see the real bytes.
#[test]
fn an_answer_that_echoes_a_secret_is_never_shown() {
    let dir = std::env::temp_dir().join(format!("kazasu-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("echo.yaml");
    std::fs::write(
        &scenario,
        "- name: the dump echoes the PIN\n  card: readertest\n  secrets: { pin: \"1234\" }\n  steps:\n    - tap\n    - select: readertest\n    - apdu: 80 20 00 00 04 ${secrets.pin}\n    - apdu: 80 40 00 00 00\n      expect: { data: \"80 20 00 00 04 ${secrets.pin}\" }\n    - apdu: 80 40 00 00 00\n      expect: { data_len: 1 }\n",
    )
    .unwrap();
    let (json, junit, html) = (dir.join("r.json"), dir.join("r.xml"), dir.join("r.html"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .arg("run")
        .arg(&scenario)
        .args(["--verbose", "--transcripts", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    let console =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The first dump matched the secret expectation; the second fails (data_len), so the
    // failure text describes the answer.
    assert_eq!(out.status.code(), Some(1), "{console}");
    assert!(console.contains("at step 5"), "{console}");
    assert!(console.contains("hold a secret the case sent"), "{console}");
    for (what, text) in [
        ("the console", console),
        ("the JSON report", std::fs::read_to_string(&json).unwrap()),
        ("the JUnit report", std::fs::read_to_string(&junit).unwrap()),
        ("the HTML report", std::fs::read_to_string(&html).unwrap()),
    ] {
        for shown in ["31 32 33 34", "31323334"] {
            assert!(!text.contains(shown), "{what} shows the PIN: {text}");
        }
    }
}

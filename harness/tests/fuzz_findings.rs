//! Regression tests for what the fuzz targets (`fuzz/`) found: each reads the input that made
//! a target fail, committed under `fuzz/corpus/<target>/finding-*`, and checks that kazasu now
//! answers it the way a user needs.

use kazasu::capture::trace::{Format, parse};
use std::path::Path;

/// A committed finding of a fuzz target.
fn finding(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// trace_import: a pcsc-spy capture with an SCardTransmit whose send buffer is missing was
/// imported as an `apdu:` step without bytes — a scenario kazasu itself then refused. It is now
/// an error at the exchange's line.
#[test]
fn an_exchange_without_command_bytes_is_an_error_at_its_line() {
    let input = finding("trace_import", "finding-empty-command");
    let text = std::str::from_utf8(&input[1..]).unwrap();
    let e = parse(Format::Auto, text, None).expect_err("an empty command is refused");
    assert_eq!(e.line, 6, "{e}");
    assert!(e.to_string().contains("0 bytes"), "{e}");
}

/// fuzz-host: a card that answers one byte (shorter than a status word) was recorded in a
/// transcript that kazasu could not read back, so the failure it caused could not be replayed.
/// The answer now reads back as sent.
#[test]
fn a_recorded_answer_shorter_than_a_status_word_reads_back() {
    let text = concat!(
        r#"{"t_ms":0.1,"slot":0,"event":"card_inserted"}"#,
        "\n",
        r#"{"t_ms":0.2,"slot":0,"event":"apdu","command":"00 B0 00 00 04","response":"90","sw":"","sim_ns":1000}"#,
        "\n"
    );
    let trace = parse(Format::Kazasu, text, None).expect("the recording reads");
    let answers: Vec<_> = trace
        .events
        .iter()
        .filter_map(|e| match &e.what {
            kazasu::capture::trace::What::Exchange { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        answers,
        [kazasu::capture::trace::ExchangeOutcome::Response(vec![
            0x90
        ])]
    );
}

/// trace_import: a capture whose reader name holds a control character was imported with the
/// name in a YAML comment, where the character made the whole scenario unreadable (and a line
/// break in it would have started YAML of the capture's choosing). Such characters are now
/// written as escapes, and the scenario loads.
#[test]
fn a_reader_name_with_control_characters_stays_inside_its_comment() {
    use kazasu::capture::import::{ImportOptions, to_scenario};
    let input = finding("trace_import", "finding-control-character-in-reader-name");
    let text = std::str::from_utf8(&input[1..]).unwrap();
    let trace = parse(Format::PcscSpyDecoded, text, None).expect("the capture reads");
    assert!(trace.reader.as_deref().is_some_and(|r| r.contains('\0')));
    let opts = |source: &str| ImportOptions {
        name: "finding".into(),
        source: source.into(),
        card: None,
        identity: None,
        reader: None,
        keep_secrets: false,
        notes: Default::default(),
    };
    let steps = |trace: &kazasu::capture::trace::Trace, source: &str| {
        let yaml = to_scenario(trace, &opts(source));
        let scenarios = kazasu::scenario::suite::parse(&yaml, "imported.yaml")
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        kazasu::scenario::suite::check(&scenarios, "imported.yaml").unwrap();
        scenarios[0].steps.len()
    };
    let mut plain = trace.clone();
    plain.reader = Some("PCD 00 00".into());
    let want = steps(&plain, "capture");
    let mut injected = trace.clone();
    injected.reader = Some("PCD\nsteps: [remove]".into());
    assert_eq!(steps(&trace, "capture"), want);
    assert_eq!(
        steps(&injected, "capture\nsteps: []"),
        want,
        "the capture's text added no steps"
    );
}

/// trace_import: a pcsc-spy capture whose clock jumps (one timestamp years after the last) was
/// imported with a `wait` too long for a scenario, which kazasu itself then refused. The pause is
/// now the longest wait a scenario holds, with the recorded length in a comment.
#[test]
fn a_clock_jump_in_a_capture_imports_as_the_longest_wait() {
    use kazasu::capture::import::{ImportOptions, to_scenario};
    let input = finding("trace_import", "finding-clock-jump");
    let text = std::str::from_utf8(&input[1..]).unwrap();
    let trace = parse(Format::Auto, text, None).expect("the capture reads");
    let yaml = to_scenario(
        &trace,
        &ImportOptions {
            name: "finding".into(),
            source: "capture".into(),
            card: None,
            identity: None,
            reader: None,
            keep_secrets: false,
            notes: Default::default(),
        },
    );
    let scenarios = kazasu::scenario::suite::parse(&yaml, "imported.yaml")
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    kazasu::scenario::suite::check(&scenarios, "imported.yaml")
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert!(
        yaml.contains("  - wait: 2592000000ms  # recorded pause of "),
        "{yaml}"
    );
}

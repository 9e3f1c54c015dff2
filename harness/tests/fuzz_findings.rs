//! Regression tests for what the fuzz targets (`fuzz/`) found: each reads the input that made
//! a target fail, committed under `fuzz/corpus/<target>/finding-*`, and checks that kazasu now
//! answers it the way a user needs.

use kazasu::field::trace::{Format, parse};
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
            kazasu::field::trace::What::Exchange { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        answers,
        [kazasu::field::trace::Outcome::Response(vec![0x90])]
    );
}

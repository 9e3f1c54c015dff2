//! `kazasu run --reader X.yaml`: the bundled suite judges the reader under test by what that
//! reader declares. A case about another kind of reader (a short-APDU reader, one that limits
//! WTX, one that refuses two cards, one product) is reported "not applicable", never failed;
//! a case whose expectation the reader really misses still fails.

use std::path::PathBuf;

mod common;
use common::kazasu;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kazasu-rut-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The built-in profile `builtin` as a user copies it: renamed, optionally edited.
fn copy_of(builtin: &str, edit: impl Fn(String) -> String) -> String {
    let (code, text, err) = kazasu(&["profiles", builtin]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains(&format!("name: {builtin}\n")), "{text}");
    edit(text.replace(
        &format!("name: {builtin}\n"),
        &format!("name: my-{builtin}\n"),
    ))
}

/// Runs the bundled suite with `profile` as the reader; the JSON report's cases.
fn run_with(name: &str, profile: &str) -> Vec<serde_json::Value> {
    let dir = temp(name);
    let (path, json) = (dir.join("reader.yaml"), dir.join("r.json"));
    std::fs::write(&path, profile).unwrap();
    let (code, out, err) = kazasu(&[
        "run",
        "--reader",
        path.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["scenarios"].as_array().unwrap().clone();
    let failed = cases.iter().filter(|c| c["status"] != "passed").count();
    assert_eq!(
        code,
        if cases.iter().any(|c| c["status"] == "failed") {
            1
        } else {
            0
        },
        "{out}{err}"
    );
    assert!(failed < cases.len(), "{out}");
    cases
}

fn with_status<'a>(cases: &'a [serde_json::Value], status: &str) -> Vec<&'a str> {
    cases
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[test]
fn a_copy_of_any_builtin_reader_passes_the_whole_suite() {
    for builtin in ["basic-106k", "typical-424k", "fast-848k"] {
        let cases = run_with(builtin, &copy_of(builtin, |t| t));
        assert_eq!(
            with_status(&cases, "failed"),
            Vec::<&str>::new(),
            "{builtin}"
        );
        assert_eq!(
            with_status(&cases, "error"),
            Vec::<&str>::new(),
            "{builtin}"
        );
        assert!(with_status(&cases, "passed").len() >= 100, "{builtin}");
        // The cases about one product's reader do not apply to a copy under another name,
        // and each says what it needs.
        let na: Vec<_> = cases
            .iter()
            .filter(|c| c["status"] == "not_applicable")
            .collect();
        assert!(!na.is_empty(), "{builtin}");
        for c in na {
            let note = c["note"].as_str().unwrap_or_default();
            assert!(note.starts_with("needs "), "{builtin}: {c}");
        }
    }
}

#[test]
fn a_reader_without_extended_apdus_is_not_failed_for_other_readers_cases() {
    let profile = copy_of("typical-424k", |t| {
        t.replace(
            "extended_apdus: { value: supported,",
            "extended_apdus: { value: transport-error,",
        )
    });
    let cases = run_with("noext", &profile);
    assert_eq!(with_status(&cases, "failed"), Vec::<&str>::new());
    let na = with_status(&cases, "not_applicable");
    // Cases about a reader that carries extended APDUs do not apply…
    assert!(
        na.iter()
            .any(|n| n.starts_with("auth certificate read with one extended READ BINARY")),
        "{na:?}"
    );
    // …and the case about a short-APDU reader now runs on it, and passes.
    let passed = with_status(&cases, "passed");
    assert!(
        passed
            .iter()
            .any(|n| n.starts_with("a reader without extended APDUs fails the transmit")),
        "{passed:?}"
    );
}

#[test]
fn a_reader_that_limits_wtx_fails_only_the_storm_it_really_gives_up_on() {
    // Ten extensions at most: a card that asks for thirty (the "WTX storm is honoured" case)
    // really is not read by such a reader; the case about a reader giving up on 101 applies
    // to it and passes.
    let profile = copy_of("typical-424k", |t| {
        format!("{t}max_wtx: {{ value: 10, sure: modelled }}\n")
    });
    let cases = run_with("wtx10", &profile);
    let failed = with_status(&cases, "failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with("a WTX storm is honoured"),
        "{failed:?}"
    );
    let passed = with_status(&cases, "passed");
    assert!(
        passed
            .iter()
            .any(|n| n.starts_with("a reader that limits WTX gives up on a storm")),
        "{passed:?}"
    );
}

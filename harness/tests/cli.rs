//! The `kazasu` binary as a user runs it.

use std::process::Command;

fn kazasu(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_passes_every_builtin_profile() {
    let (code, out, err) = kazasu(&["run", "--quiet"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("7 passed, 0 failed"), "{out}");
    for p in [
        "mynumber-card",
        "android-jpki",
        "iphone-jpki",
        "readertest",
        "athena-ext-case3",
    ] {
        assert!(out.contains(&format!("PASS {p}")), "{out}");
    }
    assert!(out.contains("signature verified"), "{out}");
}

#[test]
fn run_prints_transcripts_without_secrets() {
    let (code, out, _) = kazasu(&[
        "run",
        "--card",
        "android-jpki",
        "--identity",
        "suzuki-hanako",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("> 00 20 00 80 04 ** ** ** **"), "{out}");
    assert!(
        !out.contains("35 36 37 38"),
        "the PIN 5678 must not appear: {out}"
    );
}

#[test]
fn unknown_profiles_and_identities_are_input_errors() {
    let (code, _, err) = kazasu(&["run", "--card", "nokia-3310"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no card profile named `nokia-3310`") && err.contains("android-jpki"),
        "{err}"
    );
    let (code, _, err) = kazasu(&["run", "--identity", "nobody"]);
    assert_eq!(code, 2);
    assert!(err.contains("yamada-taro"), "lists known identities: {err}");
    let (code, _, err) = kazasu(&["run", "--card", "/nonexistent/profile.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/profile.yaml"), "{err}");
}

#[test]
fn profiles_lists_and_shows() {
    let (code, out, _) = kazasu(&["profiles"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("iphone-jpki") && out.contains("iphone"),
        "{out}"
    );
    let (code, out, _) = kazasu(&["profiles", "mynumber-card"]);
    assert_eq!(code, 0);
    assert!(out.contains("JPKIAPICCTOKEN2"), "{out}");
}

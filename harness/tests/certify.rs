//! `kazasu certify`: a bundle a manufacturer hands over, and `certify --verify`, which notices
//! any change to it.

use std::path::{Path, PathBuf};

mod common;
use common::kazasu;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kazasu-certify-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A bundle for a copy of typical-424k that limits WTX to 10 (so it has one real failure).
fn bundle(dir: &Path) -> PathBuf {
    let (_, profile, _) = kazasu(&["profiles", "typical-424k"]);
    let profile = profile.replace("name: typical-424k\n", "name: acme-r10\n")
        + "max_wtx: { value: 10, sure: reported, note: \"ACME R10 firmware 2.1\" }\n";
    let path = dir.join("acme-r10.yaml");
    std::fs::write(&path, &profile).unwrap();
    let out = dir.join("bundle");
    let (code, stdout, err) = kazasu(&[
        "certify",
        "--reader",
        path.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--seed",
        "9",
    ]);
    assert_eq!(code, 1, "one case fails on this reader: {stdout}{err}");
    assert!(stdout.contains("1 failed"), "{stdout}");
    out
}

fn verify(bundle: &Path) -> (i32, String) {
    let (code, out, err) = kazasu(&["certify", "--verify", bundle.to_str().unwrap()]);
    (code, out + &err)
}

#[test]
fn a_bundle_holds_the_reports_the_profile_and_a_manifest_that_verifies() {
    let dir = temp("whole");
    let b = bundle(&dir);
    for f in [
        "manifest.json",
        "report.json",
        "report.html",
        "junit.xml",
        "reader-profile.yaml",
        "coverage.txt",
    ] {
        assert!(b.join(f).is_file(), "{f}");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["seed"], 9);
    assert_eq!(m["reader"], "acme-r10");
    assert_eq!(m["summary"]["failed"], 1);
    assert!(m["command_line"].as_array().unwrap().len() >= 6);
    assert!(m["date"].as_str().unwrap().ends_with('Z'));
    assert_eq!(m["files"].as_object().unwrap().len(), 5);
    // The profile in the bundle is the one that ran, byte for byte.
    assert!(
        std::fs::read_to_string(b.join("reader-profile.yaml"))
            .unwrap()
            .contains("ACME R10 firmware 2.1")
    );
    let (code, out) = verify(&b);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok "), "{out}");
    // Moved elsewhere, it still verifies, and a new run gives every case the same result.
    let moved = dir.join("handed-over");
    std::fs::rename(&b, &moved).unwrap();
    let (code, out, err) = kazasu(&["certify", "--verify", moved.to_str().unwrap(), "--rerun"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("a new run gives every case the same result"),
        "{out}"
    );
}

#[test]
fn tampering_with_any_file_is_detected() {
    let dir = temp("tamper");
    let original = bundle(&dir);
    let fresh = |name: &str| {
        let copy = dir.join(name);
        std::fs::create_dir_all(&copy).unwrap();
        for e in std::fs::read_dir(&original).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
        }
        copy
    };
    // Every file but the manifest: one changed byte is named.
    for file in [
        "report.json",
        "report.html",
        "junit.xml",
        "reader-profile.yaml",
        "coverage.txt",
    ] {
        let b = fresh(&format!("changed-{file}"));
        let mut bytes = std::fs::read(b.join(file)).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x01;
        std::fs::write(b.join(file), bytes).unwrap();
        let (code, out) = verify(&b);
        assert_eq!(code, 1, "{file}: {out}");
        assert!(out.contains(&format!("FAIL {file}: changed")), "{out}");
    }
    // A file removed, a file added.
    let b = fresh("removed");
    std::fs::remove_file(b.join("junit.xml")).unwrap();
    let (code, out) = verify(&b);
    assert_eq!(code, 1);
    assert!(
        out.contains("junit.xml: listed in the manifest but missing"),
        "{out}"
    );
    let b = fresh("added");
    std::fs::write(b.join("extra-evidence.txt"), "trust me").unwrap();
    let (code, out) = verify(&b);
    assert_eq!(code, 1);
    assert!(
        out.contains("extra-evidence.txt: not in the manifest"),
        "{out}"
    );
    // The manifest itself: a better result stated than the report holds, or a report's hash
    // replaced to match an edited report.
    let b = fresh("manifest-summary");
    let text = std::fs::read_to_string(b.join("manifest.json")).unwrap();
    std::fs::write(
        b.join("manifest.json"),
        text.replace("\"failed\": 1", "\"failed\": 0"),
    )
    .unwrap();
    let (code, out) = verify(&b);
    assert_eq!(code, 1);
    assert!(out.contains("manifest.json states"), "{out}");
    // A report edited to hide the failure, and its hash in the manifest updated to match: the
    // report no longer agrees with the manifest's counts.
    let b = fresh("manifest-hash");
    let report = std::fs::read_to_string(b.join("report.json")).unwrap();
    let edited = report.replacen("\"failed\": 1", "\"failed\": 0", 1);
    assert_ne!(edited, report, "the report states its counts");
    std::fs::write(b.join("report.json"), &edited).unwrap();
    let old_hash = {
        use sha2::Digest;
        sha2::Sha256::digest(report.as_bytes())
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let new_hash = {
        use sha2::Digest;
        sha2::Sha256::digest(edited.as_bytes())
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let text = std::fs::read_to_string(b.join("manifest.json")).unwrap();
    std::fs::write(b.join("manifest.json"), text.replace(&old_hash, &new_hash)).unwrap();
    let (code, out) = verify(&b);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("manifest.json states"), "{out}");
}

#[test]
fn a_folder_without_a_manifest_is_bad_input() {
    let dir = temp("empty");
    let (code, out) = verify(&dir);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("is") && out.contains("a kazasu certification bundle"),
        "{out}"
    );
    // And certify does not write over a folder that holds something else.
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let (code, _, err) = kazasu(&[
        "certify",
        "--reader",
        "typical-424k",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds no earlier bundle"), "{err}");
    assert!(dir.join("notes.txt").is_file());
}

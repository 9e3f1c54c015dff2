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
        "certificate.html",
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
    assert_eq!(m["files"].as_object().unwrap().len(), 6);
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
        out.contains("a new run gives every case and every total the same result"),
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
        "certificate.html",
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
    assert!(out.contains("report.json states the counts"), "{out}");
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
    assert!(err.contains("is not empty"), "{err}");
    assert!(dir.join("notes.txt").is_file());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Copies a bundle's folder.
fn copy_of(original: &Path, to: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(original).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to.to_path_buf()
}

/// Writes every file's SHA-256 into the bundle's manifest again, as a forger would.
fn rehash(bundle: &Path) {
    let path = bundle.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let names: Vec<String> = m["files"].as_object().unwrap().keys().cloned().collect();
    for name in names {
        m["files"][&name] = sha256_hex(&std::fs::read(bundle.join(&name)).unwrap()).into();
    }
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

#[test]
fn every_built_in_reader_and_its_exported_copy_certify_without_an_error() {
    let dir = temp("built-in");
    for reader in ["basic-106k", "typical-424k", "fast-848k"] {
        let (_, yaml, _) = kazasu(&["profiles", reader]);
        let copy = dir.join(format!("{reader}.yaml"));
        std::fs::write(&copy, yaml).unwrap();
        let mut verdicts = Vec::new();
        for (spec, out) in [
            (reader.to_string(), dir.join(format!("{reader}-bundle"))),
            (
                copy.to_str().unwrap().to_string(),
                dir.join(format!("{reader}-copy-bundle")),
            ),
        ] {
            let (code, stdout, err) =
                kazasu(&["certify", "--reader", &spec, "-o", out.to_str().unwrap()]);
            assert_eq!(code, 0, "{spec}: {stdout}{err}");
            assert!(stdout.contains(" 0 failed"), "{spec}: {stdout}");
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                    .unwrap();
            assert_eq!(report["summary"]["error"], 0, "{spec}");
            let cases: Vec<(String, String, u64)> = report["scenarios"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_string(),
                        c["status"].as_str().unwrap().to_string(),
                        c["seed"].as_u64().unwrap(),
                    )
                })
                .collect();
            verdicts.push(cases);
            let (code, out) = verify(&out);
            assert_eq!(code, 0, "{spec}: {out}");
        }
        // The path is where the profile was read from; its name is what it is.
        assert_eq!(verdicts[0], verdicts[1], "{reader}");
        // And `kazasu run --reader` gives the same cases, seeds and results both ways.
        let mut runs = Vec::new();
        for (spec, json) in [
            (reader.to_string(), dir.join(format!("{reader}-run.json"))),
            (
                copy.to_str().unwrap().to_string(),
                dir.join(format!("{reader}-copy-run.json")),
            ),
        ] {
            let (code, out, err) =
                kazasu(&["run", "--reader", &spec, "--json", json.to_str().unwrap()]);
            assert_eq!(code, 0, "{spec}: {out}{err}");
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            let cases: Vec<String> = report["scenarios"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    format!(
                        "{} {} {} {}",
                        c["name"], c["status"], c["seed"], c["reader"]
                    )
                })
                .collect();
            runs.push(cases);
        }
        assert_eq!(
            runs[0], runs[1],
            "{reader}: run --reader NAME and --reader copy.yaml"
        );
        assert_eq!(runs[0].len(), verdicts[0].len());
    }
}

/// One failure turned into a pass, the counts of report.json, junit.xml and manifest.json
/// edited to match, every hash recomputed: `--verify` and `--verify --rerun` both refuse it.
#[test]
fn a_relabelled_bundle_fails_verify_and_rerun() {
    let dir = temp("relabel");
    let original = bundle(&dir);
    let b = copy_of(&original, &dir.join("relabelled"));
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("report.json")).unwrap()).unwrap();
    let failed = report["scenarios"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["status"] == "failed")
        .unwrap();
    failed["status"] = "passed".into();
    let name = failed["name"].as_str().unwrap().to_string();
    report["summary"]["failed"] = 0.into();
    report["summary"]["passed"] = (report["summary"]["passed"].as_u64().unwrap() + 1).into();
    std::fs::write(
        b.join("report.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    let junit = std::fs::read_to_string(b.join("junit.xml")).unwrap();
    std::fs::write(
        b.join("junit.xml"),
        junit.replacen("failures=\"1\"", "failures=\"0\"", 2),
    )
    .unwrap();
    let manifest = std::fs::read_to_string(b.join("manifest.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    m["summary"]["failed"] = 0.into();
    m["summary"]["passed"] = (m["summary"]["passed"].as_u64().unwrap() + 1).into();
    std::fs::write(
        b.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    rehash(&b);
    let (code, out) = verify(&b);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("case `{name}`: passed, yet it records a failure")),
        "{out}"
    );
    assert!(out.contains("junit.xml states the status of case"), "{out}");
    let (code, out, err) = kazasu(&["certify", "--verify", b.to_str().unwrap(), "--rerun"]);
    assert_eq!(code, 1, "{out}{err}");
    // With every self-contradiction removed too (failure record, steps), the rerun still
    // finds the case and the totals.
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("report.json")).unwrap()).unwrap();
    for c in report["scenarios"].as_array_mut().unwrap() {
        if c["name"] == name.as_str() {
            c["failure"] = serde_json::Value::Null;
            for s in c["steps"].as_array_mut().unwrap() {
                s["status"] = "passed".into();
            }
        }
    }
    for row in report["coverage"].as_array_mut().unwrap() {
        if row["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == name.as_str())
        {
            row["passed"] = (row["passed"].as_u64().unwrap() + 1).into();
        }
    }
    std::fs::write(
        b.join("report.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    rehash(&b);
    let (code, out, err) = kazasu(&["certify", "--verify", b.to_str().unwrap(), "--rerun"]);
    assert_eq!(code, 1, "{out}{err}");
}

/// Every leaf of manifest.json, and of report.json's stated facts, is edited one at a time
/// (hashes recomputed each time, as a forger would); each edit that changes a verdict, a count,
/// the reader, the seed or the commit is caught by the recheck alone, without a rerun.
#[test]
fn every_edit_of_a_verdict_count_reader_seed_or_commit_is_caught() {
    use kazasu::certify::{self, Manifest};
    use serde_json::Value;
    use std::collections::BTreeMap;
    let dir = temp("mutation");
    let b = bundle(&dir);
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for e in std::fs::read_dir(&b).unwrap() {
        let e = e.unwrap();
        files.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    let manifest_json: Value =
        serde_json::from_slice(&files.remove("manifest.json").unwrap()).unwrap();
    let manifest: Manifest = serde_json::from_value(manifest_json.clone()).unwrap();
    let profile = std::sync::Arc::new(
        kazasu_sim::ReaderProfile::from_yaml(
            std::str::from_utf8(&files["reader-profile.yaml"]).unwrap(),
            "p",
        )
        .unwrap(),
    );
    let suite = kazasu::scenario::suite::expand_all(
        &kazasu::scenario::suite::load(&[]).unwrap(),
        &kazasu::scenario::suite::Overrides::reader(profile.clone()),
    )
    .unwrap();
    let expected = certify::expected_cases(&suite, manifest.seed);
    assert!(certify::check(&manifest, &files, Some(&expected)).is_empty());

    fn edited(v: &Value) -> Option<Value> {
        match v {
            Value::String(s) => Some(Value::String(format!("{s}x"))),
            Value::Number(n) => Some((n.as_u64()? + 1).into()),
            Value::Bool(b) => Some((!b).into()),
            _ => None,
        }
    }
    fn leaves(v: &Value, path: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    leaves(x, format!("{path}/{k}"), out)
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    leaves(x, format!("{path}/{i}"), out)
                }
            }
            _ => out.push(path),
        }
    }
    let caught = |m: &Value, files: &BTreeMap<String, Vec<u8>>| -> bool {
        match serde_json::from_value::<Manifest>(m.clone()) {
            Err(_) => true,
            Ok(m) => !certify::check(&m, files, Some(&expected)).is_empty(),
        }
    };
    // manifest.json: every leaf.
    let mut paths = Vec::new();
    leaves(&manifest_json, String::new(), &mut paths);
    let (mut critical, mut others_caught, mut others) = (0, 0, 0);
    for path in &paths {
        let mut m = manifest_json.clone();
        let Some(new) = edited(m.pointer(path).unwrap()) else {
            continue;
        };
        *m.pointer_mut(path).unwrap() = new;
        let is_critical = !path.starts_with("/command_line");
        if is_critical {
            critical += 1;
            assert!(
                caught(&m, &files),
                "manifest.json {path} edited, not caught"
            );
        } else {
            others += 1;
            others_caught += usize::from(caught(&m, &files));
        }
    }
    assert!(critical >= 15, "{critical}");
    // report.json: the stated facts of the run and of every case.
    let report: Value = serde_json::from_slice(&files["report.json"]).unwrap();
    let mut edits: Vec<(String, Value)> = Vec::new();
    for key in ["kazasu_version", "kazasu_commit", "seed"] {
        edits.push((format!("/{key}"), edited(&report[key]).unwrap()));
    }
    for key in [
        "total",
        "passed",
        "failed",
        "error",
        "skipped",
        "not_applicable",
    ] {
        edits.push((
            format!("/summary/{key}"),
            edited(&report["summary"][key]).unwrap(),
        ));
    }
    for (i, c) in report["scenarios"].as_array().unwrap().iter().enumerate() {
        for status in ["passed", "failed", "error", "not_applicable", "skipped"] {
            if c["status"] != status {
                edits.push((format!("/scenarios/{i}/status"), status.into()));
            }
        }
        if i % 3 != 0 && c["status"] != "failed" {
            continue;
        }
        for key in ["reader", "seed", "run_seed", "name"] {
            edits.push((format!("/scenarios/{i}/{key}"), edited(&c[key]).unwrap()));
        }
        {
            if let Some(step) = c["steps"].as_array().and_then(|s| s.first()) {
                let other = if step["status"] == "passed" {
                    "failed"
                } else {
                    "passed"
                };
                edits.push((format!("/scenarios/{i}/steps/0/status"), other.into()));
            }
            let failure = if c["failure"].is_null() {
                serde_json::json!({"step": 1, "label": "tap", "expected": "x", "actual": "y", "context": ""})
            } else {
                Value::Null
            };
            edits.push((format!("/scenarios/{i}/failure"), failure));
        }
    }
    for (i, row) in report["coverage"].as_array().unwrap().iter().enumerate() {
        edits.push((
            format!("/coverage/{i}/passed"),
            edited(&row["passed"]).unwrap(),
        ));
    }
    for (path, value) in &edits {
        let mut r = report.clone();
        *r.pointer_mut(path).unwrap() = value.clone();
        let bytes = serde_json::to_vec_pretty(&r).unwrap();
        let mut m = manifest_json.clone();
        m["files"]["report.json"] = sha256_hex(&bytes).into();
        let mut f = files.clone();
        f.insert("report.json".into(), bytes);
        assert!(caught(&m, &f), "report.json {path} = {value} not caught");
    }
    assert!(edits.len() > 400, "{}", edits.len());
    eprintln!(
        "caught {critical} of {critical} manifest edits and {} of {} report edits; {others_caught} of {others} command-line edits (not a claim the recheck can test)",
        edits.len(),
        edits.len()
    );
}

/// Ed25519 keys as `openssl genpkey -algorithm ed25519` writes them.
fn keys(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = openssl::pkey::PKey::generate_ed25519().unwrap();
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    std::fs::write(&private, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(&public, key.public_key_to_pem().unwrap()).unwrap();
    (private, public)
}

#[test]
fn a_signed_bundle_verifies_with_its_key_and_a_rehashed_forgery_does_not() {
    let dir = temp("signed");
    let (private, public) = keys(&dir, "lab");
    let (_, other) = keys(&dir, "other");
    let out = dir.join("bundle");
    let (code, stdout, err) = kazasu(&[
        "certify",
        "--reader",
        "basic-106k",
        "-o",
        out.to_str().unwrap(),
        "--sign",
        private.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert_eq!(
        std::fs::read(out.join("manifest.json.sig")).unwrap().len(),
        64
    );
    let pem = std::fs::read(&public).unwrap();
    let der = openssl::pkey::PKey::public_key_from_pem(&pem)
        .unwrap()
        .public_key_to_der()
        .unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["signing_key_sha256"], sha256_hex(&der));
    let check = |b: &Path, key: &Path| {
        let (code, o, e) = kazasu(&[
            "certify",
            "--verify",
            b.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        (code, o + &e)
    };
    let (code, text) = check(&out, &public);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("the signature verifies"), "{text}");
    let (code, text) = check(&out, &other);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("does not verify with the key given"),
        "{text}"
    );
    // Any file changed and every hash recomputed: the manifest's bytes change, the signature
    // no longer covers them.
    for file in [
        "report.json",
        "report.html",
        "junit.xml",
        "coverage.txt",
        "reader-profile.yaml",
        "certificate.html",
    ] {
        let b = copy_of(&out, &dir.join(format!("forged-{file}")));
        let mut bytes = std::fs::read(b.join(file)).unwrap();
        bytes.extend_from_slice(b"\n");
        std::fs::write(b.join(file), bytes).unwrap();
        rehash(&b);
        let (code, text) = check(&b, &public);
        assert_eq!(code, 1, "{file}: {text}");
        assert!(text.contains("manifest.json.sig"), "{file}: {text}");
    }
    // An unsigned bundle does not pass a check that asks for a key.
    let unsigned = copy_of(&out, &dir.join("unsigned"));
    std::fs::remove_file(unsigned.join("manifest.json.sig")).unwrap();
    let (code, text) = check(&unsigned, &public);
    assert_eq!(code, 1, "{text}");
}

#[test]
fn certify_deletes_nothing_it_did_not_write() {
    let dir = temp("out");
    // A project folder with a web manifest: refused, with or without --force, untouched.
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("manifest.json"), r#"{"name":"my web app"}"#).unwrap();
    std::fs::write(project.join("index.html"), "<p>mine</p>").unwrap();
    for force in [false, true] {
        let mut args = vec![
            "certify",
            "--reader",
            "typical-424k",
            "-o",
            project.to_str().unwrap(),
        ];
        if force {
            args.push("--force");
        }
        let (code, _, err) = kazasu(&args);
        assert_eq!(code, 2, "{err}");
        assert_eq!(std::fs::read_dir(&project).unwrap().count(), 2);
        assert_eq!(
            std::fs::read_to_string(project.join("manifest.json")).unwrap(),
            r#"{"name":"my web app"}"#
        );
    }
    // An earlier bundle is replaced with --force, not without; a file added beside it stops it.
    let b = dir.join("bundle");
    let run = |force: bool| {
        let mut args = vec![
            "certify",
            "--reader",
            "typical-424k",
            "-o",
            b.to_str().unwrap(),
        ];
        if force {
            args.push("--force");
        }
        kazasu(&args)
    };
    assert_eq!(run(false).0, 0);
    assert_eq!(run(false).0, 2);
    let (code, out, err) = run(true);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::write(b.join("lab-notes.txt"), "ours").unwrap();
    let (code, _, err) = run(true);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lab-notes.txt"), "{err}");
    assert!(b.join("lab-notes.txt").is_file() && b.join("report.json").is_file());
}

#[test]
fn verify_reads_only_the_bundles_own_files_within_its_bound() {
    let dir = temp("hostile");
    let original = bundle(&dir);
    // A symbolic link inside the bundle is refused, not followed.
    let b = copy_of(&original, &dir.join("link"));
    std::os::unix::fs::symlink("/usr", b.join("usr")).unwrap();
    let (code, out) = verify(&b);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("usr: a symbolic link"), "{out}");
    // A FIFO: refused, never opened (the command returns).
    let b = copy_of(&original, &dir.join("fifo"));
    assert!(
        std::process::Command::new("mkfifo")
            .arg(b.join("pipe"))
            .status()
            .unwrap()
            .success()
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(["certify", "--verify", b.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("certify --verify blocked on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    // A 1 GiB file (sparse: no disk used) is refused before it is read.
    let b = copy_of(&original, &dir.join("huge"));
    let f = std::fs::File::create(b.join("report.json")).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let (code, out) = verify(&b);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("report.json: over the bound"), "{out}");
    let peak_kib = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss();
    assert!(
        peak_kib < 320 * 1024,
        "a child of this test peaked at {peak_kib} KiB; the bundle bound is 256 MiB"
    );
    // report.json that is not JSON is named, without --rerun.
    let b = copy_of(&original, &dir.join("not-json"));
    std::fs::write(b.join("report.json"), "not json").unwrap();
    rehash(&b);
    let (code, out) = verify(&b);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("report.json: not a kazasu JSON report"),
        "{out}"
    );
    // Control characters from the manifest are escaped: no fake `ok` line.
    let b = copy_of(&original, &dir.join("ansi"));
    let text = std::fs::read_to_string(b.join("manifest.json")).unwrap();
    std::fs::write(
        b.join("manifest.json"),
        text.replace(
            "\"reader\": \"acme-r10\"",
            "\"reader\": \"acme-r10\\u001b[2K\\rok everything\"",
        ),
    )
    .unwrap();
    let (code, out) = verify(&b);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
    assert!(out.contains("\\u{1b}[2K"), "{out}");
}

/// Every bundled scenario says whether it is destructive, and every case that says
/// `destructive: false` is not, by what it did: no VERIFY answered with anything but 90 00, no
/// CHANGE REFERENCE DATA, RESET RETRY COUNTER or CHANGE KEY, no PIN reference verified twice. Those are the
/// cases `certify --device` may run on a physical card.
#[test]
fn cases_marked_not_destructive_leave_every_pin_as_it_was() {
    use kazasu::run::{self, RunOptions};
    use kazasu::scenario::suite;
    use kazasu_sim::StatusWord;
    let files = suite::load(&[]).unwrap();
    for (file, scenarios) in &files {
        for s in scenarios {
            assert!(
                s.destructive.is_some(),
                "{file}: scenario `{}` does not say whether it is destructive",
                s.name
            );
        }
    }
    let cases: Vec<_> = files
        .iter()
        .flat_map(|(f, s)| suite::expand(s, f, &suite::Overrides::NONE).unwrap())
        .filter(|c| c.scenario.destructive == Some(false))
        .collect();
    assert!(cases.len() >= 40, "{} non-destructive cases", cases.len());
    let results = run::run_with(&cases, &RunOptions::default(), &run::inproc, &|_| {});
    for r in &results {
        let mut verified = std::collections::BTreeMap::new();
        for e in &r.transcript.entries {
            let shown = &e.command.shown;
            match e.command.cla_ins() {
                Some([0x00, 0x24] | [0x00, 0x2C]) => {
                    panic!("{}: changes or resets a PIN: {}", r.name, e.command)
                }
                // CHANGE KEY names its PIN in P2 (80 | id); the readertest's 80 32 00 00 is data.
                Some([0x80, 0x32]) if shown[3] & 0x80 != 0 => {
                    panic!("{}: changes a PIN: {}", r.name, e.command)
                }
                Some([0x00, 0x20]) if e.command.len > 4 => {
                    assert_eq!(
                        e.sw,
                        Some(StatusWord::OK),
                        "{}: a VERIFY not answered 90 00: {}",
                        r.name,
                        e.command
                    );
                    let n = verified.entry(shown[3]).or_insert(0);
                    *n += 1;
                    assert_eq!(*n, 1, "{}: a PIN verified twice", r.name);
                }
                _ => {}
            }
        }
    }
}

//! Certification bundles as `certify --verify` reads them: a real bundle of three cases (made
//! once, in-process) with fuzzed edits — any JSON value of manifest.json or report.json replaced,
//! any file replaced by fuzzed bytes or cut short — with or without the hashes recomputed as a
//! forger would. No panic, and a bundle that verifies states the counts of its own case list.
#![no_main]

use arbitrary::Arbitrary;
use kazasu::certify::{self, Counts, Manifest};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FILES: [&str; 6] = [
    certify::REPORT_JSON,
    certify::REPORT_HTML,
    certify::REPORT_JUNIT,
    certify::COVERAGE,
    certify::PROFILE_FILE,
    certify::CERTIFICATE,
];

#[derive(Arbitrary, Debug)]
enum NewValue<'a> {
    Null,
    Bool(bool),
    Number(u64),
    Text(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Edit<'a> {
    /// The n-th leaf (in document order) of manifest.json or report.json.
    Json {
        report: bool,
        leaf: u16,
        value: NewValue<'a>,
    },
    /// A file replaced by these bytes.
    Replace { file: u8, bytes: &'a [u8] },
    /// A file cut at this length.
    Cut { file: u8, at: u32 },
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    edits: Vec<Edit<'a>>,
    rehash: bool,
}

/// A bundle of three cases of the bundled suite on typical-424k: (manifest, files).
fn bundle() -> &'static (Value, BTreeMap<String, Vec<u8>>) {
    static BUNDLE: OnceLock<(Value, BTreeMap<String, Vec<u8>>)> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let text = kazasu_sim::reader::profile::BUILTIN_READER_PROFILES
            .iter()
            .find(|(n, _)| *n == "typical-424k")
            .unwrap()
            .1;
        let profile = std::sync::Arc::new(
            kazasu_sim::ReaderProfile::from_yaml(text, "typical-424k").unwrap(),
        );
        let cases: Vec<_> = kazasu::scenario::suite::expand_all(
            &kazasu::scenario::suite::load(&[]).unwrap(),
            &kazasu::scenario::suite::Overrides::reader(profile.clone()),
        )
        .unwrap()
        .into_iter()
        .filter(|c| c.name.starts_with("SW 6A8"))
        .take(3)
        .collect();
        let opts = kazasu::run::RunOptions {
            seed: 1,
            jobs: 1,
            ..Default::default()
        };
        let results = kazasu::run::run_with(&cases, &opts, &kazasu::run::inproc, &|_| {});
        let coverage = kazasu::report::coverage::map(&results, &cases);
        let summary = kazasu::report::Summary::of(&results, std::time::Duration::ZERO);
        let json = kazasu::report::json(&results, summary, 1, "inproc", &coverage);
        let mut out = BTreeMap::new();
        out.insert(certify::PROFILE_FILE.to_string(), text.as_bytes().to_vec());
        out.insert(
            certify::REPORT_JUNIT.to_string(),
            kazasu::report::junit(&results, summary, 1).into_bytes(),
        );
        out.insert(certify::REPORT_HTML.to_string(), b"<html></html>".to_vec());
        out.insert(
            certify::COVERAGE.to_string(),
            kazasu::report::coverage::text(&coverage).into_bytes(),
        );
        let mut manifest = Manifest {
            format: certify::FORMAT,
            kazasu_version: env!("CARGO_PKG_VERSION").into(),
            kazasu_commit: "unknown".into(),
            command_line: vec!["kazasu".into()],
            seed: 1,
            date: "2026-12-06T00:00:00Z".into(),
            reader: profile.name.clone(),
            reader_profile: certify::PROFILE_FILE.into(),
            device: None,
            summary: Counts::of(results.iter().map(|r| &r.status)),
            signing_key_sha256: None,
            files: BTreeMap::new(),
        };
        let view: certify::view::ReportView = serde_json::from_str(&json).unwrap();
        out.insert(
            certify::CERTIFICATE.to_string(),
            certify::page::render(&manifest, &view, &profile).into_bytes(),
        );
        // The report names the build's commit; the manifest says the same.
        let mut report: Value = serde_json::from_str(&json).unwrap();
        report["kazasu_commit"] = "unknown".into();
        out.insert(
            certify::REPORT_JSON.to_string(),
            serde_json::to_vec_pretty(&report).unwrap(),
        );
        manifest.files = out
            .iter()
            .map(|(n, b)| (n.clone(), certify::sha256_hex(b)))
            .collect();
        (serde_json::to_value(&manifest).unwrap(), out)
    })
}

fn leaf_mut(v: &mut Value, n: &mut u16) -> Option<*mut Value> {
    match v {
        Value::Object(m) => m.values_mut().find_map(|x| leaf_mut(x, n)),
        Value::Array(a) => a.iter_mut().find_map(|x| leaf_mut(x, n)),
        leaf => {
            if *n == 0 {
                Some(leaf as *mut Value)
            } else {
                *n -= 1;
                None
            }
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let (manifest0, files0) = bundle();
    let mut manifest = manifest0.clone();
    let mut files = files0.clone();
    let mut report: Value = serde_json::from_slice(&files[certify::REPORT_JSON]).unwrap();
    let mut report_edited = false;
    for edit in input.edits.iter().take(8) {
        match edit {
            Edit::Json {
                report: r,
                leaf,
                value,
            } => {
                let target = if *r { &mut report } else { &mut manifest };
                let mut n = *leaf;
                if let Some(p) = leaf_mut(target, &mut n) {
                    // SAFETY: the pointer comes from a live &mut into `target`, used at once.
                    let slot = unsafe { &mut *p };
                    *slot = match value {
                        NewValue::Null => Value::Null,
                        NewValue::Bool(b) => (*b).into(),
                        NewValue::Number(x) => (*x).into(),
                        NewValue::Text(t) => (*t).into(),
                    };
                    report_edited |= *r;
                }
            }
            Edit::Replace { file, bytes } => {
                let name = FILES[usize::from(*file) % FILES.len()];
                files.insert(name.into(), bytes.to_vec());
                if name == certify::REPORT_JSON {
                    report = serde_json::from_slice(bytes).unwrap_or(Value::Null);
                }
            }
            Edit::Cut { file, at } => {
                let name = FILES[usize::from(*file) % FILES.len()];
                let f = files.get_mut(name).unwrap();
                f.truncate(*at as usize % (f.len() + 1));
            }
        }
    }
    if report_edited {
        files.insert(
            certify::REPORT_JSON.into(),
            serde_json::to_vec_pretty(&report).unwrap(),
        );
    }
    if input.rehash
        && let Some(m) = manifest.get_mut("files").and_then(Value::as_object_mut)
    {
        for (name, hash) in m.iter_mut() {
            if let Some(b) = files.get(name) {
                *hash = certify::sha256_hex(b).into();
            }
        }
    }
    let Ok(manifest) = serde_json::from_value::<Manifest>(manifest) else {
        return;
    };
    let found = certify::check(&manifest, &files, None);
    if found.is_empty() {
        let view: certify::view::ReportView =
            serde_json::from_slice(&files[certify::REPORT_JSON]).expect("a verified report parses");
        assert_eq!(
            Counts::of(view.scenarios.iter().map(|c| &c.status)),
            manifest.summary,
            "a verified bundle states the counts of its case list"
        );
    }
});

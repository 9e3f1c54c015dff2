//! `certify`: the conformance suite on a manufacturer's reader profile, written as a bundle to
//! hand over (reports, the profile, the coverage map, a manifest with every file's SHA-256), and
//! `certify --verify` that checks such a bundle (and `--rerun` that runs it again).

use super::{InputFailure, write_file};
use kazasu::certify::{self, Manifest, ManifestSummary};
use kazasu::report::{self, Summary, html};
use kazasu::run::{self, RunOptions};
use kazasu::scenario::suite;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Run the conformance suite on a reader profile and write a certification bundle, or check one.
#[derive(clap::Args)]
pub struct CertifyArgs {
    /// The reader under test: a profile YAML (or a built-in name).
    #[arg(long, required_unless_present = "verify")]
    pub reader: Option<String>,
    /// The bundle's folder (created; an earlier bundle there is replaced).
    #[arg(long, short = 'o', default_value = "kazasu-certification")]
    pub out: PathBuf,
    /// Seed for every random choice; the manifest records it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Check the bundle in this folder against its manifest instead of writing one.
    #[arg(long, value_name = "BUNDLE", conflicts_with = "reader")]
    pub verify: Option<PathBuf>,
    /// With --verify: also run the suite again with the bundle's profile and seed, and compare
    /// every case's result with the bundle's.
    #[arg(long, requires = "verify")]
    pub rerun: bool,
}

/// The reader profile's file in a bundle.
const PROFILE_FILE: &str = "reader-profile.yaml";

pub fn certify(a: CertifyArgs) -> Result<ExitCode, InputFailure> {
    match (&a.verify, &a.reader) {
        (Some(bundle), _) => verify(bundle, a.rerun),
        (None, Some(reader)) => write_bundle(reader, &a.out, a.seed),
        (None, None) => Err(InputFailure("--reader or --verify is needed".into())),
    }
}

/// The profile's text as the user gave it (a file's bytes, or the built-in profile's YAML).
fn profile_text(reader: &str) -> Result<String, InputFailure> {
    let bad = |e: String| InputFailure(format!("--reader {reader}: {e}"));
    let profile = suite::reader_profile(reader, None).map_err(bad)?;
    if suite::is_path(reader) {
        kazasu::files::read_text(Path::new(reader), kazasu::files::SMALL_YAML).map_err(bad)
    } else {
        kazasu_sim::reader_profile::BUILTIN_READER_PROFILES
            .iter()
            .find(|(n, _)| *n == profile.name)
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| bad("no built-in profile of that name".into()))
    }
}

/// Runs the bundled suite with `profile_path` (the profile `name`) as every case's reader. Cases
/// are named after the profile, not its path, so that their seeds — derived from their names —
/// and their results are the same wherever the bundle lies.
fn run_suite(
    profile_path: &Path,
    name: &str,
    seed: u64,
) -> Result<(Vec<run::CaseResult>, Vec<suite::Case>), InputFailure> {
    let spec = profile_path.to_string_lossy().into_owned();
    let files = suite::load(&[]).map_err(|e| InputFailure(e.to_string()))?;
    let mut cases: Vec<_> = files
        .iter()
        .flat_map(|(file, scenarios)| suite::expand(scenarios, file, None, Some(&spec)))
        .collect();
    for c in &mut cases {
        c.name = c
            .name
            .replace(&format!("reader={spec}"), &format!("reader={name}"));
    }
    let opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    let mut results = run::run_with(&cases, &opts, &run::inproc, &|_| {});
    for r in &mut results {
        r.reader = name.to_string();
    }
    Ok((results, cases))
}

fn counts(summary: &Summary) -> ManifestSummary {
    ManifestSummary {
        total: summary.total,
        passed: summary.passed,
        failed: summary.failed,
        error: summary.error,
        not_applicable: summary.not_applicable,
    }
}

fn write_bundle(reader: &str, out: &Path, seed: u64) -> Result<ExitCode, InputFailure> {
    let text = profile_text(reader)?;
    let profile = kazasu_sim::ReaderProfile::from_yaml(&text, reader)
        .map_err(|e| InputFailure(format!("--reader {reader}: {e}")))?;
    prepare_folder(out)?;
    // The suite runs on the bundle's copy of the profile: what the bundle holds is what ran.
    let profile_path = out.join(PROFILE_FILE);
    write_file(&profile_path, &text)?;
    let started = Instant::now();
    let (results, cases) = run_suite(&profile_path, &profile.name, seed)?;
    let coverage = report::coverage::map(&results, &cases);
    let summary = Summary::of(&results, started.elapsed());
    let mut written: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    written.insert(PROFILE_FILE.into(), text.into_bytes());
    written.insert(
        certify::REPORT_JSON.into(),
        report::json(&results, summary, seed, "inproc", &coverage).into_bytes(),
    );
    written.insert(
        certify::REPORT_JUNIT.into(),
        report::junit(&results, summary, seed).into_bytes(),
    );
    written.insert(
        certify::REPORT_HTML.into(),
        html::render(&results, &summary, seed, "inproc", &coverage).into_bytes(),
    );
    written.insert(
        certify::COVERAGE.into(),
        report::coverage::text(&coverage).into_bytes(),
    );
    for (name, bytes) in &written {
        std::fs::write(out.join(name), bytes)
            .map_err(|e| InputFailure(format!("cannot write {}: {e}", out.join(name).display())))?;
    }
    let manifest = Manifest {
        format: certify::FORMAT,
        kazasu_version: env!("CARGO_PKG_VERSION").into(),
        kazasu_commit: env!("KAZASU_COMMIT").into(),
        command_line: std::env::args().collect(),
        seed,
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        reader: profile.name.clone(),
        reader_profile: PROFILE_FILE.into(),
        summary: counts(&summary),
        files: written
            .iter()
            .map(|(n, b)| (n.clone(), certify::sha256_hex(b)))
            .collect(),
    };
    let json = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
    write_file(&out.join(certify::MANIFEST), &(json + "\n"))?;
    outln!("{}", report::console_summary(&results, &summary).trim_end());
    outln!(
        "certification bundle for `{}` in {}: {} files and {} (check it with `kazasu certify --verify {}`)",
        profile.name,
        out.display(),
        written.len(),
        certify::MANIFEST,
        out.display()
    );
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Creates the bundle's folder; refuses one that holds anything but an earlier bundle.
fn prepare_folder(out: &Path) -> Result<(), InputFailure> {
    if out.exists() {
        let entries = std::fs::read_dir(out)
            .map_err(|e| InputFailure(format!("cannot read {}: {e}", out.display())))?
            .count();
        if entries > 0 && !out.join(certify::MANIFEST).exists() {
            return Err(InputFailure(format!(
                "{} is not empty and holds no earlier bundle; choose another folder with -o",
                out.display()
            )));
        }
        if entries > 0 {
            std::fs::remove_dir_all(out)
                .map_err(|e| InputFailure(format!("cannot replace {}: {e}", out.display())))?;
        }
    }
    std::fs::create_dir_all(out)
        .map_err(|e| InputFailure(format!("cannot create {}: {e}", out.display())))
}

/// Every file under `dir` except the manifest, by path relative to `dir` ('/'-separated).
fn read_bundle(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, InputFailure> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| InputFailure(format!("cannot read {}: {e}", d.display())))?;
        for entry in entries {
            let path = entry
                .map_err(|e| InputFailure(format!("cannot read {}: {e}", d.display())))?
                .path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .expect("under the bundle")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if rel == certify::MANIFEST {
                continue;
            }
            let bytes = kazasu::files::read_bounded(&path, kazasu::files::CAPTURES)
                .map_err(InputFailure)?;
            files.insert(rel, bytes);
        }
    }
    Ok(files)
}

fn verify(bundle: &Path, rerun: bool) -> Result<ExitCode, InputFailure> {
    let manifest_path = bundle.join(certify::MANIFEST);
    let text =
        kazasu::files::read_text(&manifest_path, kazasu::files::SMALL_YAML).map_err(|e| {
            InputFailure(format!(
                "{e}; is {} a kazasu certification bundle?",
                bundle.display()
            ))
        })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        InputFailure(format!(
            "{}: not a bundle manifest: {e}",
            manifest_path.display()
        ))
    })?;
    let files = read_bundle(bundle)?;
    let mut problems: Vec<String> = certify::verify(&manifest, &files)
        .iter()
        .map(|d| d.to_string())
        .collect();
    if problems.is_empty() && rerun {
        problems.extend(rerun_and_compare(bundle, &manifest, &files)?);
    }
    if manifest.kazasu_version != env!("CARGO_PKG_VERSION") {
        eprintln!(
            "note: the bundle was written by kazasu {}, this is {}",
            manifest.kazasu_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    if problems.is_empty() {
        outln!(
            "ok {}: {} files match the manifest (reader `{}`, seed {}, {} passed, {} failed, {} not applicable of {}, kazasu {} {}, {}){}",
            bundle.display(),
            manifest.files.len(),
            manifest.reader,
            manifest.seed,
            manifest.summary.passed,
            manifest.summary.failed,
            manifest.summary.not_applicable,
            manifest.summary.total,
            manifest.kazasu_version,
            manifest.kazasu_commit,
            manifest.date,
            if rerun {
                "; a new run gives every case the same result"
            } else {
                ""
            }
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            outln!("FAIL {p}");
        }
        outln!(
            "{} does not match its manifest: {} problem{}",
            bundle.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        Ok(ExitCode::from(1))
    }
}

/// Runs the suite again with the bundle's profile and seed; the cases whose result differs.
fn rerun_and_compare(
    bundle: &Path,
    manifest: &Manifest,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<String>, InputFailure> {
    let report: serde_json::Value = serde_json::from_slice(&files[certify::REPORT_JSON])
        .map_err(|e| InputFailure(format!("{}: {e}", certify::REPORT_JSON)))?;
    let recorded: BTreeMap<String, String> = report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let (results, _) = run_suite(
        &bundle.join(&manifest.reader_profile),
        &manifest.reader,
        manifest.seed,
    )?;
    let mut differ = Vec::new();
    let mut now = BTreeMap::new();
    for r in &results {
        let status = serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        now.insert(r.name.clone(), status);
    }
    for (name, was) in &recorded {
        match now.get(name) {
            Some(is) if is == was => {}
            Some(is) => differ.push(format!("{name}: {was} in the bundle, {is} now")),
            None => differ.push(format!("{name}: in the bundle, not in this kazasu's suite")),
        }
    }
    for name in now.keys() {
        if !recorded.contains_key(name) {
            differ.push(format!("{name}: in this kazasu's suite, not in the bundle"));
        }
    }
    Ok(differ)
}

//! `certify`: the conformance suite on a manufacturer's reader profile, written as a bundle to
//! hand over (reports, the profile, the coverage map, certificate.html, a manifest with every
//! file's SHA-256, optionally signed), and `certify --verify` that rechecks such a bundle
//! (`--key` its signature, `--rerun` every case again).

use super::InputFailure;
use kazasu::certify::{self, Counts, Manifest, PROFILE_FILE};
use kazasu::report::{self, Summary, html};
use kazasu::run::{self, RunOptions};
use kazasu::scenario::suite;
use kazasu::text::shown;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Run the conformance suite on a reader profile and write a certification bundle, or check one.
#[derive(clap::Args)]
pub struct CertifyArgs {
    /// The reader under test: a profile YAML (or a built-in name).
    #[arg(long, required_unless_present_any = ["verify", "device"])]
    pub reader: Option<String>,
    /// The bundle's folder: new or empty (see --force).
    #[arg(long, short = 'o', default_value = "kazasu-certification")]
    pub out: PathBuf,
    /// Replace an earlier bundle in the --out folder: only the files its manifest lists; a
    /// folder with any other file is refused and left as it is.
    #[arg(long, conflicts_with = "verify")]
    pub force: bool,
    /// Seed for every random choice; the manifest records it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sign the bundle with this Ed25519 private key (PEM, as `openssl genpkey -algorithm
    /// ed25519` writes it): manifest.json.sig, and the key's fingerprint in the manifest.
    #[arg(long, value_name = "KEY.pem", conflicts_with = "verify")]
    pub sign: Option<PathBuf>,
    /// Recheck the bundle in this folder instead of writing one.
    #[arg(long, value_name = "BUNDLE", conflicts_with = "reader")]
    pub verify: Option<PathBuf>,
    /// With --verify: the signer's Ed25519 public key (PEM); the bundle must be signed with it.
    #[arg(long, value_name = "PUB.pem", requires = "verify")]
    pub key: Option<PathBuf>,
    /// With --verify: also run the suite again with the bundle's profile and seed, and compare
    /// every case's result and the totals with the bundle's.
    #[arg(long, requires = "verify")]
    pub rerun: bool,
    /// Certify a physical reader with a physical card (or phone) on it, through pcscd: the
    /// bundled cases that never block or change a PIN and need one tap (the card rests on the
    /// reader). PINs of a physical card come from KAZASU_SECRET_AUTH_PIN, KAZASU_SECRET_SIGN_PIN
    /// and KAZASU_SECRET_CARD_INFO_PIN. --reader gives its profile (best: one `kazasu
    /// calibrate` measured); the device's name and the card's ATR go into the manifest.
    #[arg(long, value_name = "NAME", conflicts_with = "verify")]
    pub device: Option<String>,
    /// With --device: no operator; a case that needs the card tapped fails instead of waiting.
    #[arg(long, requires = "device")]
    pub unattended: bool,
    /// With --device: how long to wait for the operator to put the card on the reader.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s", requires = "device")]
    pub operator_timeout: std::time::Duration,
}

/// The reader profile a `--device` certification assumes when none is given.
const DEVICE_DEFAULT_PROFILE: &str = "typical-424k";

pub fn certify(a: CertifyArgs) -> Result<ExitCode, InputFailure> {
    match (&a.verify, &a.reader, &a.device) {
        (Some(bundle), _, _) => verify(bundle, a.rerun, a.key.as_deref()),
        (None, Some(reader), _) => write_bundle(reader, &a),
        (None, None, Some(_)) => {
            eprintln!(
                "note: no --reader profile: the cases are judged against `{DEVICE_DEFAULT_PROFILE}`; \
                 give the profile `kazasu calibrate` measured for this reader"
            );
            write_bundle(DEVICE_DEFAULT_PROFILE, &a)
        }
        (None, None, None) => Err(InputFailure(
            "--reader, --device or --verify is needed".into(),
        )),
    }
}

/// The profile's text as the user gave it (a file's bytes, or the built-in profile's YAML), and
/// the profile loaded from exactly that text: what the bundle holds is what runs.
fn profile_text(reader: &str) -> Result<(String, kazasu_sim::ReaderProfile), InputFailure> {
    let bad = |e: String| InputFailure(format!("--reader {reader}: {e}"));
    let text = if kazasu::profiles::is_path(reader) {
        kazasu::files::read_text(Path::new(reader), kazasu::files::SMALL_YAML)
            .map_err(|e| bad(e.to_string()))?
    } else {
        kazasu_sim::reader::profile::BUILTIN_READER_PROFILES
            .iter()
            .find(|(n, _)| *n == reader)
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| {
                bad("no built-in reader of that name (`kazasu profiles` lists them)".into())
            })?
    };
    let profile =
        kazasu_sim::ReaderProfile::from_yaml(&text, reader).map_err(|e| bad(e.to_string()))?;
    Ok((text, profile))
}

/// The bundled suite with `profile` as every case's reader.
fn suite_cases(profile: &Arc<kazasu_sim::ReaderProfile>) -> Result<Vec<suite::Case>, InputFailure> {
    let files = suite::load(&[]).map_err(|e| InputFailure(e.to_string()))?;
    super::run::expand_all(&files, &suite::Overrides::reader(profile.clone()))
}

fn run_suite(cases: &[suite::Case], seed: u64) -> Vec<run::CaseResult> {
    let opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    run::run_with(cases, &opts, &run::inproc, &|_| {})
}

/// Whether a case may run on a physical card resting on a physical reader: it says it is not
/// destructive (no wrong PIN, no PIN changed or blocked, each PIN used once), and it needs one
/// tap and no removal.
pub fn device_safe(case: &suite::Case) -> bool {
    use kazasu::scenario::{CardAction, Step};
    let card = |want: fn(&CardAction) -> bool| {
        case.scenario
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Card(c) if want(&c.action)))
            .count()
    };
    case.scenario.destructive == Some(false)
        && card(|a| matches!(a, CardAction::Tap)) <= 1
        && card(|a| matches!(a, CardAction::Remove)) == 0
}

/// The device's full name and the ATR of the card on it (`None`: no card there now).
#[cfg(feature = "pcsc")]
fn device_facts(name: &str) -> Result<(String, Option<Vec<u8>>), InputFailure> {
    use kazasu::link::backend::Backend;
    let probe = kazasu::link::device::DeviceBackend::new(
        name,
        kazasu::link::device::Operator {
            timeout: std::time::Duration::ZERO,
            unattended: true,
        },
    )
    .map_err(InputFailure)?;
    Ok((probe.reader_name(), probe.atr().ok()))
}

#[cfg(not(feature = "pcsc"))]
fn device_facts(_: &str) -> Result<(String, Option<Vec<u8>>), InputFailure> {
    Err(InputFailure(
        "certify --device reaches the reader through pcscd: build kazasu with `--features pcsc`"
            .into(),
    ))
}

fn write_bundle(reader: &str, a: &CertifyArgs) -> Result<ExitCode, InputFailure> {
    let (text, profile) = profile_text(reader)?;
    let key = match &a.sign {
        Some(path) => Some(certify::sign::private_key(path)?),
        None => None,
    };
    let profile = Arc::new(profile);
    let mut cases = suite_cases(&profile)?;
    let mut device = None;
    if let Some(name) = &a.device {
        cases.retain(device_safe);
        let (full, atr) = device_facts(name)?;
        device = Some((full, atr));
    }
    certify::files::prepare_out(&a.out, a.force)?;
    let started = Instant::now();
    let results = match &a.device {
        None => run_suite(&cases, a.seed),
        Some(name) => {
            let factory = super::run::device_factory(name, a.unattended, a.operator_timeout)?;
            let opts = RunOptions {
                seed: a.seed,
                jobs: 1,
                ..RunOptions::default()
            };
            run::run_with(&cases, &opts, &*factory, &|r| {
                if matches!(r.status, run::Status::Failed | run::Status::Error) {
                    eprintln!("{}", report::case_line(r));
                }
            })
        }
    };
    let device = match (device, &a.device) {
        (Some((full, before)), Some(name)) => {
            // The ATR of the card on the reader: read before the run, or after it when the
            // operator put the card there during the run.
            let atr = before.or_else(|| device_facts(name).ok().and_then(|f| f.1));
            Some(certify::DeviceRecord {
                name: full,
                atr: atr.map_or_else(|| "(no card on the reader)".into(), hex::encode_upper),
            })
        }
        _ => None,
    };
    let coverage = report::coverage::map(&results, &cases);
    let summary = Summary::of(&results, started.elapsed());
    let mut written: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    written.insert(PROFILE_FILE.into(), text.into_bytes());
    let report_json = report::json(&results, summary, a.seed, "inproc", &coverage);
    written.insert(
        certify::REPORT_JUNIT.into(),
        report::junit(&results, summary, a.seed).into_bytes(),
    );
    written.insert(
        certify::REPORT_HTML.into(),
        html::render(&results, &summary, a.seed, "inproc", &coverage, &cases).into_bytes(),
    );
    written.insert(
        certify::COVERAGE.into(),
        report::coverage::text(&coverage).into_bytes(),
    );
    let mut manifest = Manifest {
        format: certify::FORMAT,
        kazasu_version: env!("CARGO_PKG_VERSION").into(),
        kazasu_commit: env!("KAZASU_COMMIT").into(),
        command_line: std::env::args().collect(),
        seed: a.seed,
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        reader: profile.name.clone(),
        reader_profile: PROFILE_FILE.into(),
        device,
        summary: Counts::of(results.iter().map(|r| &r.status)),
        signing_key_sha256: match &key {
            Some(k) => Some(certify::sign::fingerprint(k)?),
            None => None,
        },
        files: BTreeMap::new(),
    };
    // The page is rendered from report.json as written, as --verify renders it again.
    let view: certify::view::ReportView = serde_json::from_str(&report_json)
        .map_err(|e| InputFailure(format!("the JSON report does not read back: {e}")))?;
    written.insert(
        certify::CERTIFICATE.into(),
        certify::page::render(&manifest, &view, &profile).into_bytes(),
    );
    written.insert(certify::REPORT_JSON.into(), report_json.into_bytes());
    manifest.files = written
        .iter()
        .map(|(n, b)| (n.clone(), certify::sha256_hex(b)))
        .collect();
    // What is about to be handed over rechecks, or nothing is written.
    let expected = certify::expected_cases(&cases, a.seed);
    let problems = certify::check(
        &manifest,
        &written,
        manifest.device.is_none().then_some(&expected[..]),
    );
    if let Some(p) = problems.first() {
        return Err(InputFailure(format!(
            "the bundle does not recheck ({p}); nothing was written"
        )));
    }
    let manifest_text =
        serde_json::to_string_pretty(&manifest).expect("a manifest serializes") + "\n";
    for (name, bytes) in &written {
        std::fs::write(a.out.join(name), bytes).map_err(|e| {
            InputFailure(format!("cannot write {}: {e}", a.out.join(name).display()))
        })?;
    }
    let manifest_path = a.out.join(certify::MANIFEST);
    std::fs::write(&manifest_path, &manifest_text)
        .map_err(|e| InputFailure(format!("cannot write {}: {e}", manifest_path.display())))?;
    if let Some(k) = &key {
        let sig = certify::sign::sign(k, manifest_text.as_bytes())?;
        let path = a.out.join(certify::SIGNATURE);
        std::fs::write(&path, sig)
            .map_err(|e| InputFailure(format!("cannot write {}: {e}", path.display())))?;
    }
    outln!("{}", report::console_summary(&results, &summary).trim_end());
    outln!(
        "certification bundle for `{}` in {}: {} files and {}{} (check it with `kazasu certify --verify {}{}`)",
        shown(&profile.name),
        shown(&a.out.display().to_string()),
        written.len(),
        certify::MANIFEST,
        if key.is_some() {
            format!(", signed in {}", certify::SIGNATURE)
        } else {
            String::new()
        },
        report::shell_quote(&a.out.display().to_string()),
        if key.is_some() { " --key PUB.pem" } else { "" }
    );
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn verify(bundle: &Path, rerun: bool, key: Option<&Path>) -> Result<ExitCode, InputFailure> {
    let public = match key {
        Some(path) => Some(certify::sign::public_key(path)?),
        None => None,
    };
    let read = certify::files::read_bundle(bundle)?;
    let mut files = read.files;
    let mut problems: Vec<String> = read.refused.clone();
    let Some(manifest_bytes) = files.remove(certify::MANIFEST) else {
        if !problems.is_empty() {
            for p in &problems {
                outln!("FAIL {}", shown(p));
            }
        }
        return Err(InputFailure(format!(
            "{} holds no readable {}: is it a kazasu certification bundle?",
            shown(&bundle.display().to_string()),
            certify::MANIFEST
        )));
    };
    let signature = files.remove(certify::SIGNATURE);
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            outln!(
                "FAIL {}: not a kazasu manifest: {}",
                certify::MANIFEST,
                shown(&e.to_string())
            );
            return Ok(ExitCode::from(1));
        }
    };
    let this_commit = env!("KAZASU_COMMIT");
    let same_commit = manifest.kazasu_commit == this_commit && this_commit != "unknown";
    let profile = files
        .get(PROFILE_FILE)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| kazasu_sim::ReaderProfile::from_yaml(t, PROFILE_FILE).ok())
        .map(Arc::new);
    let mut cases = None;
    if let (true, Some(p), None) = (same_commit, &profile, &manifest.device) {
        cases = Some(suite_cases(p)?);
    }
    let expected = cases
        .as_deref()
        .map(|c| certify::expected_cases(c, manifest.seed));
    problems.extend(
        certify::check(&manifest, &files, expected.as_deref())
            .iter()
            .map(|d| d.to_string()),
    );
    match (&public, &signature) {
        (Some(k), Some(sig)) => {
            let fp = certify::sign::fingerprint(k)?;
            if manifest.signing_key_sha256.as_deref() != Some(fp.as_str()) {
                problems.push(format!(
                    "{}: names the signing key {}, the key given is {}",
                    certify::MANIFEST,
                    shown(manifest.signing_key_sha256.as_deref().unwrap_or("(none)")),
                    fp
                ));
            }
            if !certify::sign::verifies(k, &manifest_bytes, sig) {
                problems.push(format!(
                    "{}: the signature of {} does not verify with the key given",
                    certify::SIGNATURE,
                    certify::MANIFEST
                ));
            }
        }
        (Some(_), None) => problems.push(format!(
            "{}: missing; --key needs a signed bundle",
            certify::SIGNATURE
        )),
        (None, _) => {}
    }
    if problems.is_empty() && rerun {
        match &profile {
            Some(p) if manifest.device.is_none() => {
                problems.extend(rerun_and_compare(p, &manifest, &files)?)
            }
            _ => problems.push(
                "--rerun: a bundle made on a device is rerun on that device, not in-process".into(),
            ),
        }
    }
    if manifest.kazasu_version != env!("CARGO_PKG_VERSION") || !same_commit {
        eprintln!(
            "note: the bundle was written by kazasu {} ({}), this is {} ({}); the case list is \
             compared with the suite only by the same commit",
            shown(&manifest.kazasu_version),
            shown(&manifest.kazasu_commit),
            env!("CARGO_PKG_VERSION"),
            this_commit
        );
    }
    if public.is_none() {
        match (&manifest.signing_key_sha256, &signature) {
            (Some(fp), Some(_)) => eprintln!(
                "note: signed by the key with SHA-256 {}; give --key PUB.pem to check the signature",
                shown(fp)
            ),
            _ => eprintln!("note: the bundle is not signed: anyone could have written it"),
        }
    }
    if problems.is_empty() {
        outln!(
            "ok {}: {} files match the manifest and recheck (reader `{}`, seed {}, {}, kazasu {} {}, {}){}{}",
            shown(&bundle.display().to_string()),
            manifest.files.len(),
            shown(&manifest.reader),
            manifest.seed,
            manifest.summary,
            shown(&manifest.kazasu_version),
            shown(&manifest.kazasu_commit),
            shown(&manifest.date),
            if public.is_some() {
                "; the signature verifies"
            } else {
                ""
            },
            if rerun {
                "; a new run gives every case and every total the same result"
            } else {
                ""
            }
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            outln!("FAIL {}", shown(p));
        }
        outln!(
            "{} does not verify: {} problem{}",
            shown(&bundle.display().to_string()),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        Ok(ExitCode::from(1))
    }
}

/// Runs the suite again with the bundle's profile and seed; every case and total that differs.
fn rerun_and_compare(
    profile: &Arc<kazasu_sim::ReaderProfile>,
    manifest: &Manifest,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<String>, InputFailure> {
    let report: certify::view::ReportView = serde_json::from_slice(&files[certify::REPORT_JSON])
        .map_err(|e| InputFailure(format!("{}: {e}", certify::REPORT_JSON)))?;
    let recorded: BTreeMap<&str, run::Status> = report
        .scenarios
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    let cases = suite_cases(profile)?;
    let results = run_suite(&cases, manifest.seed);
    let mut differ = Vec::new();
    let now: BTreeMap<&str, run::Status> = results
        .iter()
        .map(|r| (r.name.as_str(), r.status))
        .collect();
    let word = |s: run::Status| report::status_word(s).to_lowercase();
    for (name, was) in &recorded {
        match now.get(name) {
            Some(is) if is == was => {}
            Some(is) => differ.push(format!(
                "{name}: {} in the bundle, {} now",
                word(*was),
                word(*is)
            )),
            None => differ.push(format!("{name}: in the bundle, not in this kazasu's suite")),
        }
    }
    for name in now.keys() {
        if !recorded.contains_key(name) {
            differ.push(format!("{name}: in this kazasu's suite, not in the bundle"));
        }
    }
    let totals = Counts::of(results.iter().map(|r| &r.status));
    if totals != manifest.summary {
        differ.push(format!(
            "the totals: {} in the bundle, {totals} now",
            manifest.summary
        ));
    }
    Ok(differ)
}

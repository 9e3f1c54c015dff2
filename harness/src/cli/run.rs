//! `run`, `list` and `validate`: select cases, run them on a backend, report.

use super::{InputFailure, write_file};
use clap::ValueEnum;
use kazasu::report::html;
use kazasu::report::{self, Summary};
use kazasu::run::{self, RunOptions, Status};
use kazasu::scenario::suite::{self, Partition, Selection};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The simulator in this process (virtual time; no setup).
    Inproc,
    /// Through the real stack: pcscd + vsmartcard's vpcd (start it with `kazasu stack up`).
    Pcsc,
}

#[derive(clap::Args, Clone)]
pub struct Select {
    /// Scenario files or folders; default: the bundled conformance suite.
    pub paths: Vec<PathBuf>,
    /// Only cases whose name contains this (repeatable: any matches).
    #[arg(long = "filter", short = 'f')]
    pub filters: Vec<String>,
    /// Only cases with this tag (repeatable: any matches).
    #[arg(long = "tag", short = 't')]
    pub tags: Vec<String>,
    /// A deterministic shard: count:K/N or hash:K/N (e.g. for a CI matrix of N machines).
    #[arg(long)]
    pub partition: Option<Partition>,
    /// Run every case with this card profile (name or YAML path) instead of its own.
    #[arg(long)]
    pub card: Option<String>,
    /// Run every case with this reader profile (name or YAML path) — a manufacturer's reader.
    #[arg(long)]
    pub reader: Option<String>,
}

/// Run scenarios (default: the bundled conformance suite) and report.
#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: Select,
    /// Seed for every random choice; the report records it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Cases run in parallel (default: the number of cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Stop starting new cases after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write what the cases put on the air and every APDU here, as pcapng for Wireshark and
    /// tshark (secrets out): per case an ISO 14443 interface (link type 264: activation,
    /// blocks, WTX, the field on and off) and an APDU interface that decodes as ISO 7816 with
    /// no setting. Through pcscd (--backend pcsc) the APDUs only.
    #[arg(long, value_name = "FILE.pcapng")]
    pub pcap: Option<PathBuf>,
    /// Write the same APDUs as a USB CCID reader's traffic here, as USBPcap records it on a
    /// Windows PC (pcapng, link type 249): Wireshark names it USBCCID with no setting, and
    /// `kazasu import pcap` reads it back.
    #[arg(long, value_name = "FILE.pcapng")]
    pub pcap_usb: Option<PathBuf>,
    /// Where the cards live.
    #[arg(long, value_enum, default_value = "inproc")]
    pub backend: BackendChoice,
    /// With --backend pcsc: `fast`, or `realtime` to make the link wait out modelled durations.
    #[arg(long, value_enum, default_value = "fast")]
    pub pace: kazasu::link::vpcd::Pace,
    /// With --backend pcsc: the vpcd slots to use, one case per slot at a time (default:
    /// every slot pcscd has, up to 16 with `kazasu stack up`).
    #[arg(long)]
    pub slots: Option<u16>,
    /// With --backend pcsc: run on the card on this PC/SC reader (any part of its name; a
    /// physical reader with a test card or phone) instead of virtual cards on vpcd slots.
    /// Tap and remove steps prompt the operator; cases with faults are not applicable.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// With --device: no operator; a step that needs a tap or a removal fails.
    #[arg(long, requires = "device")]
    pub unattended: bool,
    /// With --device: how long to wait for the operator to tap or remove the card.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s", requires = "device")]
    pub operator_timeout: std::time::Duration,
    /// Run the onboarding steps against this service (http://host:port) instead of a fresh
    /// embedded one per case.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Print a line for every case, not only for failures.
    #[arg(long, short)]
    pub verbose: bool,
    /// With --verbose, print each case's APDU transcript and frames too.
    #[arg(long)]
    pub transcripts: bool,
}

/// Check scenario files without running them.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// The profiles given on the command line, loaded once: a wrong one is bad input (exit 2), not
/// a failure of every case.
pub fn overrides(
    card: Option<&str>,
    reader: Option<&str>,
) -> Result<suite::Overrides, InputFailure> {
    Ok(suite::Overrides {
        card: match card {
            Some(c) => Some(std::sync::Arc::new(
                kazasu::profiles::card_profile(c, None)
                    .map_err(|e| InputFailure(format!("--card {c}: {e}")))?,
            )),
            None => None,
        },
        reader: match reader {
            Some(r) => Some(std::sync::Arc::new(
                kazasu::profiles::reader_profile(r, None)
                    .map_err(|e| InputFailure(format!("--reader {r}: {e}")))?,
            )),
            None => None,
        },
    })
}

/// Every case of `files`, expanded with `overrides`; two cases of one name are bad input.
pub fn expand_all(
    files: &[(String, Vec<kazasu::scenario::Scenario>)],
    overrides: &suite::Overrides,
) -> Result<Vec<suite::Case>, InputFailure> {
    suite::expand_all(files, overrides).map_err(|e| InputFailure(e.to_string()))
}

fn cases(select: &Select) -> Result<Vec<suite::Case>, InputFailure> {
    let overrides = overrides(select.card.as_deref(), select.reader.as_deref())?;
    let files = suite::load(&select.paths).map_err(|e| InputFailure(e.to_string()))?;
    let all = expand_all(&files, &overrides)?;
    let selection = Selection {
        filters: select.filters.clone(),
        tags: select.tags.clone(),
        partition: select.partition,
    };
    Ok(selection.apply(all))
}

/// The options of this run a failure's reproduce line must carry to give the same case: the
/// profiles it ran with (a file by its absolute path, so the line runs from any folder), the
/// backend and device, the pace, the onboarding service.
fn reproduce_with(a: &RunArgs) -> Vec<String> {
    let spec = |s: &str| {
        let p = Path::new(s);
        if p.is_file() && p.is_relative() {
            std::fs::canonicalize(p).map_or_else(|_| s.to_string(), |p| p.display().to_string())
        } else {
            s.to_string()
        }
    };
    let mut with = Vec::new();
    if let Some(c) = &a.select.card {
        with.extend(["--card".to_string(), spec(c)]);
    }
    if let Some(r) = &a.select.reader {
        with.extend(["--reader".to_string(), spec(r)]);
    }
    if a.backend == BackendChoice::Pcsc {
        with.extend(["--backend".to_string(), "pcsc".to_string()]);
    }
    if let Some(d) = &a.device {
        with.extend(["--device".to_string(), d.clone()]);
        if a.unattended {
            with.push("--unattended".to_string());
        }
    }
    if a.pace == kazasu::link::vpcd::Pace::Realtime {
        with.extend(["--pace".to_string(), "realtime".to_string()]);
    }
    if let Some(t) = &a.target {
        with.extend(["--target".to_string(), t.clone()]);
    }
    with
}

pub fn run(a: RunArgs) -> Result<ExitCode, InputFailure> {
    let cases = cases(&a.select)?;
    if cases.is_empty() {
        return Err(InputFailure(
            "no case matches the selection; `kazasu list` shows what there is".into(),
        ));
    }
    let backend = match a.backend {
        BackendChoice::Inproc => "inproc",
        BackendChoice::Pcsc => "pcsc",
    };
    let mut opts = RunOptions {
        seed: a.seed,
        jobs: a.jobs.unwrap_or(RunOptions::default().jobs),
        fail_fast: a.fail_fast,
        target: a.target.clone(),
        reproduce_with: reproduce_with(&a),
        capture: a.pcap.is_some() || a.pcap_usb.is_some(),
    };
    let factory = match &a.device {
        Some(_) if a.select.paths.is_empty() => {
            return Err(InputFailure(
                "--device runs the scenarios you name, not the bundled suite: the suite blocks \
                 PINs and changes them on purpose, which would lock a physical card; give the \
                 scenario files to run (e.g. scenarios/serve/device-tap-remove.yaml)"
                    .into(),
            ));
        }
        Some(name) => {
            if a.backend != BackendChoice::Pcsc {
                return Err(InputFailure(
                    "--device needs --backend pcsc (the reader is reached through pcscd)".into(),
                ));
            }
            opts.jobs = 1;
            device_factory(name, a.unattended, a.operator_timeout)?
        }
        None => backend_factory(a.backend, a.pace, a.slots, a.jobs, &mut opts)?,
    };
    if a.target.is_some() && opts.jobs > 1 {
        // One service, reset before each case: the cases take turns.
        opts.jobs = 1;
    }
    let bar = if std::io::stderr().is_terminal() && cases.len() > 20 && !a.verbose {
        let b = indicatif::ProgressBar::new(cases.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases {elapsed} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let verbose = a.verbose;
    let transcripts = a.transcripts;
    let print_lock = std::sync::Mutex::new(());
    let started = Instant::now();
    let mut results = run::run_with(&cases, &opts, &*factory, &|r| {
        let _guard = print_lock.lock();
        let failed = matches!(r.status, Status::Failed | Status::Error);
        let mut text = String::new();
        if verbose || failed {
            text.push_str(&report::case_line(r));
            text.push('\n');
        }
        if failed {
            text.push_str(&report::failure_text(r));
        }
        if verbose && transcripts {
            text.push_str(&format!("{:#}", r.transcript));
        }
        match &bar {
            Some(b) => {
                if !text.is_empty() {
                    b.println(text.trim_end());
                }
                b.inc(1);
            }
            None => out!("{text}"),
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(device) = &a.device {
        // The reader is the device, and the card whatever was on it.
        for r in &mut results {
            r.reader = device.clone();
        }
    }
    let summary = Summary::of(&results, started.elapsed());
    out!("{}", report::console_summary(&results, &summary));
    if let Some(p) = &a.junit {
        write_file(p, &report::junit(&results, summary, a.seed))?;
    }
    let coverage = report::coverage::map(&results, &cases);
    if let Some(p) = &a.json {
        write_file(
            p,
            &report::json(&results, summary, a.seed, backend, &coverage),
        )?;
    }
    if let Some(p) = &a.html {
        write_file(
            p,
            &html::render(&results, &summary, a.seed, backend, &coverage, &cases),
        )?;
    }
    if let Some(p) = &a.pcap {
        write_pcap(p, &results, None)?;
    }
    if let Some(p) = &a.pcap_usb {
        // One USB reader carries the run: the one the first case's reader profile describes
        // (its USB identity and sizes, its APDU level), or the synthetic one.
        let reader = cases
            .first()
            .map_or_else(kazasu::pcapng::usb::UsbReader::synthetic, |c| {
                kazasu::pcapng::usb::UsbReader::of(&c.reader)
            });
        write_pcap(p, &results, Some(&reader))?;
    }
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes the run's capture to `path` — the air and the APDUs, or with `usb` the APDUs as that
/// USB CCID reader's traffic — and says what it holds.
pub(crate) fn write_pcap(
    path: &Path,
    results: &[run::CaseResult],
    usb: Option<&kazasu::pcapng::usb::UsbReader>,
) -> Result<(), InputFailure> {
    use kazasu::pcapng::export::{self, CaseToWrite};
    let empty = kazasu::pcapng::tap::CaseCapture::default();
    let cases: Vec<CaseToWrite<'_>> = results
        .iter()
        .map(|r| CaseToWrite {
            name: &r.name,
            about: format!("card {}, reader {}, {:?}", r.card, r.reader, r.status).to_lowercase(),
            capture: r.capture.as_ref().unwrap_or(&empty),
        })
        .collect();
    let failed = |e: std::io::Error| InputFailure(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
    let application = concat!("kazasu ", env!("CARGO_PKG_VERSION"));
    if let Some(reader) = usb {
        let written = export::write_usb(&mut out, application, &cases, reader).map_err(failed)?;
        std::io::Write::flush(&mut out).map_err(failed)?;
        eprintln!(
            "pcap-usb: {} case{}, {} APDUs as USB CCID traffic in {} (Wireshark names it \
             USBCCID; the APDUs inside decode with `-d usbccid.subdissector,iso7816`)",
            written.cases,
            if written.cases == 1 { "" } else { "s" },
            written.commands,
            path.display()
        );
        return Ok(());
    }
    let written = export::write(&mut out, application, &cases).map_err(failed)?;
    std::io::Write::flush(&mut out).map_err(failed)?;
    eprintln!(
        "pcap: {} case{}, {} APDUs, {} air frames and field switches in {} (open it in \
         Wireshark; the APDUs inside the air frames decode with `-d iso14443.subdissector,iso7816`)",
        written.cases,
        if written.cases == 1 { "" } else { "s" },
        written.commands,
        written.air,
        path.display()
    );
    Ok(())
}

/// A backend factory of the CLI's.
pub type Factory = Box<run::BackendFactory>;

fn backend_factory(
    backend: BackendChoice,
    pace: kazasu::link::vpcd::Pace,
    slots: Option<u16>,
    jobs: Option<usize>,
    opts: &mut RunOptions,
) -> Result<Factory, InputFailure> {
    match backend {
        BackendChoice::Inproc => Ok(Box::new(run::inproc)),
        BackendChoice::Pcsc => pcsc_factory(pace, slots, jobs, opts),
    }
}

#[cfg(feature = "pcsc")]
fn pcsc_factory(
    pace: kazasu::link::vpcd::Pace,
    slots: Option<u16>,
    jobs: Option<usize>,
    opts: &mut RunOptions,
) -> Result<Factory, InputFailure> {
    use kazasu::link::pcsc::{PcscBackend, Timeouts, configured_slots};
    let configured = configured_slots().map_err(InputFailure)?;
    let slots = match slots {
        Some(0) => return Err(InputFailure("--slots must be at least 1".into())),
        Some(n) if n > kazasu_sim::vpcd::MAX_SLOTS => {
            return Err(InputFailure(format!(
                "--slots {n}: pcscd serves at most {} readers",
                kazasu_sim::vpcd::MAX_SLOTS
            )));
        }
        Some(n) if n > configured => {
            return Err(InputFailure(format!(
                "--slots {n}: pcscd has {configured} vpcd slots; start it with more: \
                 `kazasu stack down; kazasu stack up --slots {}`",
                n.next_multiple_of(2)
            )));
        }
        Some(n) => n,
        None => configured,
    };
    // One case per vpcd slot at a time; a case on the real stack mostly waits for pcscd's
    // polling, so by default every slot is busy whatever the number of cores.
    opts.jobs = jobs
        .unwrap_or(usize::from(slots))
        .min(usize::from(slots))
        .max(1);
    // Fail early and clearly when pcscd or its vpcd readers are missing.
    let probe = kazasu_sim::Reader::new(
        std::sync::Arc::new(kazasu_sim::ReaderProfile::builtin("typical-424k").expect("built-in")),
        kazasu_sim::Card::new(
            std::sync::Arc::new(
                kazasu_sim::CardProfile::builtin("mynumber-card").expect("built-in"),
            ),
            kazasu_sim::Fixtures::embedded().default_subject(),
            1,
        )
        .expect("valid"),
        kazasu_sim::FaultPlan::none(rand_core::SeedableRng::seed_from_u64(1)),
    );
    drop(PcscBackend::new(0, probe, pace, Timeouts::default()).map_err(InputFailure)?);
    Ok(Box::new(move |worker, model| {
        PcscBackend::new(worker as u16, model, pace, Timeouts::default())
            .map(|b| Box::new(b) as Box<dyn kazasu::link::backend::Backend>)
    }))
}

/// The backend of a physical reader whose name contains `name` (one case at a time).
#[cfg(feature = "pcsc")]
pub fn device_factory(
    name: &str,
    unattended: bool,
    timeout: std::time::Duration,
) -> Result<Factory, InputFailure> {
    use kazasu::link::device::{DeviceBackend, Operator};
    let operator = Operator {
        timeout,
        unattended,
    };
    // Fail early, with the readers named, when none or several match.
    let probe = DeviceBackend::new(name, operator).map_err(InputFailure)?;
    eprintln!(
        "running on the card on {}{}",
        probe.reader_name(),
        if unattended {
            " (unattended: steps that need a tap or a removal fail)"
        } else {
            "; follow the prompts to tap and remove it"
        }
    );
    drop(probe);
    let name = name.to_string();
    Ok(Box::new(move |_, _| {
        DeviceBackend::new(&name, operator)
            .map(|b| Box::new(b) as Box<dyn kazasu::link::backend::Backend>)
    }))
}

/// Without the real-stack backend: the error that says how to build it.
#[cfg(not(feature = "pcsc"))]
pub fn device_factory(_: &str, _: bool, _: std::time::Duration) -> Result<Factory, InputFailure> {
    pcsc_factory(
        kazasu::link::vpcd::Pace::Fast,
        None,
        None,
        &mut RunOptions::default(),
    )
}

#[cfg(not(feature = "pcsc"))]
fn pcsc_factory(
    _: kazasu::link::vpcd::Pace,
    _: Option<u16>,
    _: Option<usize>,
    _: &mut RunOptions,
) -> Result<Factory, InputFailure> {
    Err(InputFailure(
        "this kazasu was built without the real-stack backend; build it with \
         `cargo build --release --features pcsc` (needs Debian's libpcsclite-dev)"
            .into(),
    ))
}

/// Show which protocol families, JPKI commands and status words the suite exercises.
#[derive(clap::Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    pub select: Select,
    /// Seed of the run the map is made from.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// List the cases of every family.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Runs the selected cases in-process and prints the coverage map made from what they did.
pub fn coverage(a: CoverageArgs) -> Result<ExitCode, InputFailure> {
    let cases = cases(&a.select)?;
    let opts = RunOptions {
        seed: a.seed,
        ..RunOptions::default()
    };
    let results = run::run_with(&cases, &opts, &run::inproc, &|_| {});
    let rows = report::coverage::map(&results, &cases);
    out!("{}", report::coverage::text(&rows));
    // A family no case reached says `none`: say why when the reader under test kept cases out.
    let not_applicable = results
        .iter()
        .filter(|r| r.status == Status::NotApplicable)
        .count();
    let none = rows.iter().filter(|r| r.cases.is_empty()).count();
    if none > 0 {
        if not_applicable > 0 {
            outln!(
                "\nnone: no case of this run exercised it. {not_applicable} case{} did not apply \
                 to {} (its `applies_to` needs another kind of reader): a family only such cases \
                 reach shows none here; without --reader the map is the whole suite's.",
                if not_applicable == 1 { "" } else { "s" },
                a.select
                    .reader
                    .as_deref()
                    .map_or("the reader under test".to_string(), |r| format!(
                        "the reader {r}"
                    ))
            );
        } else {
            outln!("\nnone: no case of this run exercised it.");
        }
    }
    if a.verbose {
        for r in &rows {
            outln!("\n{}: {}", r.group, r.name);
            for c in &r.cases {
                outln!("  {c}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(select: &Select) -> Result<ExitCode, InputFailure> {
    let cases = cases(select)?;
    for c in &cases {
        outln!(
            "{:<70} {:<14} {:<13} {}",
            c.name,
            c.card.name,
            c.reader.name,
            c.file
        );
    }
    outln!("{} cases", cases.len());
    Ok(ExitCode::SUCCESS)
}

pub fn validate(paths: &[PathBuf]) -> Result<ExitCode, InputFailure> {
    let mut bad = 0;
    for p in paths {
        match suite::load(std::slice::from_ref(p)) {
            Ok(files) => {
                for (file, scenarios) in files {
                    match suite::expand(&scenarios, &file, &suite::Overrides::NONE) {
                        Ok(cases) => {
                            outln!(
                                "ok {file}: {} scenarios, {} cases",
                                scenarios.len(),
                                cases.len()
                            )
                        }
                        Err(e) => {
                            bad += 1;
                            eprintln!("{e}");
                        }
                    }
                }
            }
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    if bad > 0 {
        return Err(InputFailure(format!(
            "{bad} of {} paths did not validate",
            paths.len()
        )));
    }
    Ok(ExitCode::SUCCESS)
}

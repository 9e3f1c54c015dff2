//! `kazasu`: the command-line face of kazasu — run suites, list and validate scenarios, print
//! the scenario schema and the profiles, renew the test PKI.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use kazasu::replay_session::{self, TraceFile};
use kazasu::report::{self, Summary};
use kazasu::runner::{self, RunOptions, Status};
use kazasu::suite::{self, Partition, Selection};
use kazasu::{html, scenario};
use kazasu_sim::profile::BUILTIN_CARD_PROFILES;
use kazasu_sim::reader_profile::BUILTIN_READER_PROFILES;
use kazasu_sim::{CardProfile, ReaderProfile};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Writes to stdout; a closed pipe (`kazasu list | head`) ends the program quietly, not with a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

macro_rules! outln {
    ($($arg:tt)*) => {{
        out!($($arg)*);
        out!("\n");
    }};
}

#[derive(Parser)]
#[command(
    name = "kazasu",
    version,
    about = "Virtual My Number card and smartphone JPKI simulator and conformance harness",
    after_help = "Exit codes: 0 all passed, 1 some failed, 2 bad input or environment."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// The simulator in this process (virtual time; no setup).
    Inproc,
    /// Through the real stack: pcscd + vsmartcard's vpcd (start it with ci/pcscd.sh start).
    Pcsc,
}

#[derive(clap::Args, Clone)]
struct Select {
    /// Scenario files or folders; default: the bundled conformance suite.
    paths: Vec<PathBuf>,
    /// Only cases whose name contains this (repeatable: any matches).
    #[arg(long = "filter", short = 'f')]
    filters: Vec<String>,
    /// Only cases with this tag (repeatable: any matches).
    #[arg(long = "tag", short = 't')]
    tags: Vec<String>,
    /// A deterministic shard: count:K/N or hash:K/N (e.g. for a CI matrix of N machines).
    #[arg(long)]
    partition: Option<Partition>,
    /// Run every case with this card profile (name or YAML path) instead of its own.
    #[arg(long)]
    card: Option<String>,
    /// Run every case with this reader profile (name or YAML path) — a manufacturer's reader.
    #[arg(long)]
    reader: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenarios (default: the bundled conformance suite) and report.
    Run {
        #[command(flatten)]
        select: Select,
        /// Seed for every random choice; the report records it.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Cases run in parallel (default: the number of cores).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Stop starting new cases after the first failure.
        #[arg(long)]
        fail_fast: bool,
        /// Write JUnit XML here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write the JSON report here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Write the HTML report here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Where the cards live.
        #[arg(long, value_enum, default_value = "inproc")]
        backend: Backend,
        /// With --backend pcsc: `fast`, or `realtime` to make the link wait out modelled durations.
        #[arg(long, value_enum, default_value = "fast")]
        pace: kazasu::vpcd_link::Pace,
        /// With --backend pcsc: the vpcd slots to use (one case per slot at a time).
        #[arg(long, default_value_t = 2)]
        slots: u16,
        /// Run the onboarding steps against this service (http://host:port) instead of a fresh
        /// embedded one per case.
        #[arg(long, value_name = "URL")]
        target: Option<String>,
        /// Print a line for every case, not only for failures.
        #[arg(long, short)]
        verbose: bool,
        /// With --verbose, print each case's APDU transcript and frames too.
        #[arg(long)]
        transcripts: bool,
    },
    /// List the cases a run would run.
    List {
        #[command(flatten)]
        select: Select,
    },
    /// Check scenario files without running them.
    Validate {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Attach virtual cards to pcscd's vpcd slots for any PC/SC program (OpenSC, pcsc-tools,
    /// your reading software); needs pcscd with vsmartcard-vpcd running (see ci/pcscd.sh).
    Serve {
        /// Cards, one per slot: PROFILE[:IDENTITY] (e.g. android-jpki:suzuki-hanako).
        #[arg(long = "card", default_value = "mynumber-card")]
        cards: Vec<kazasu::serve::CardSpec>,
        /// The reader model between vpcd and the cards.
        #[arg(long, default_value = "typical-424k")]
        reader: String,
        /// First vpcd slot (slot n is "Virtual PCD 00 0n", port 35963 + n).
        #[arg(long, default_value_t = 0)]
        slot: u16,
        /// `fast`, or `realtime` to wait out the modelled durations.
        #[arg(long, value_enum, default_value = "fast")]
        pace: kazasu::vpcd_link::Pace,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write every exchange and event as JSON lines here (secrets redacted).
        #[arg(long, value_name = "FILE")]
        transcript: Option<PathBuf>,
        /// Stop after this long (e.g. 30s); default: until Ctrl-C.
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<std::time::Duration>,
        /// Take each card out of the field after it answered this many APDUs.
        #[arg(long, value_name = "N")]
        remove_after_apdus: Option<u64>,
        /// Card-side events (tap, remove, approve at a time or after N APDUs) and faults, as YAML.
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
        /// Reversed mode: listen on this address for vpcd to connect (reader.conf DEVICENAME with
        /// a host, e.g. 127.0.0.1:0x8C7B) instead of connecting to vpcd.
        #[arg(long, value_name = "IP")]
        listen: Option<std::net::IpAddr>,
    },
    /// Turn a captured trace (pcscd log, pcsc-spy, apdu4j, OpenSC log, kazasu transcript) into a
    /// scenario that reproduces it: the recorded commands, the recorded answers as expectations,
    /// the host's pauses and the card's removals. PINs become ${secrets.NAME} placeholders.
    Import {
        /// The capture's format.
        #[arg(value_enum)]
        format: kazasu::trace::Format,
        /// The capture.
        file: PathBuf,
        /// Write the scenario here (default: stdout).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Keep only the exchanges on the reader whose name contains this.
        #[arg(long)]
        reader: Option<String>,
        /// The card profile to run against, PROFILE[:IDENTITY] (default: guessed from the ATR).
        #[arg(long)]
        card: Option<kazasu::serve::CardSpec>,
        /// The scenario's name (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Write PIN values as recorded instead of placeholders.
        #[arg(long)]
        keep_secrets: bool,
    },
    /// Replay a captured trace: as the card (the recording answers a host under test, in-process
    /// or through pcscd with --serve) or as the host (the recorded commands go to a virtual card
    /// and its answers are compared with the recorded ones).
    Replay {
        /// The capture (any format `import` reads).
        file: PathBuf,
        /// The capture's format.
        #[arg(long, value_enum, default_value = "auto")]
        format: kazasu::trace::Format,
        /// Keep only the exchanges on the reader whose name contains this.
        #[arg(long)]
        reader: Option<String>,
        /// Which side the recording plays.
        #[arg(long = "as", value_enum)]
        role: Role,
        /// As the card: what to do when the host deviates from the recording.
        #[arg(long, value_enum, default_value = "strict")]
        mode: kazasu::replay::Mode,
        /// The virtual card, PROFILE[:IDENTITY]: the card under test as the host, the fallback
        /// model with --mode model (default: guessed from the ATR).
        #[arg(long)]
        card: Option<kazasu::serve::CardSpec>,
        /// As the host: the reader model between the recorded host and the virtual card.
        #[arg(long, default_value = "typical-424k")]
        reader_model: String,
        /// As the host: `class` compares bytes except signatures, challenges and UIDs; `sw`
        /// compares status words only (a real device holding another person's data).
        #[arg(long, value_enum, default_value = "class")]
        compare: kazasu::replay::Compare,
        /// As the card, in-process: the scenario that plays the host (default: the trace's own
        /// imported scenario).
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// As the card: put the recording on a vpcd slot for external PC/SC software.
        #[arg(long)]
        serve: bool,
        /// With --serve: the vpcd slot.
        #[arg(long, default_value_t = 0)]
        slot: u16,
        /// With --serve: `fast`, or `realtime` to answer at the recorded timing.
        #[arg(long, value_enum, default_value = "fast")]
        pace: kazasu::vpcd_link::Pace,
        /// With --serve: give up after this long.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "120s")]
        duration: std::time::Duration,
        /// As the host: shrink the trace to the fewest events that still fail the same way and
        /// write it as a scenario (-o).
        #[arg(long)]
        minimize: bool,
        /// With --minimize: the scenario file to write.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// As the host: write the comparison as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Print every exchange, not only the ones that differ.
        #[arg(long, short)]
        verbose: bool,
        /// Seed of the virtual card.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The simulated account-onboarding service (registration, reader order, commissioning).
    Onboarding {
        #[command(subcommand)]
        command: OnboardingCmd,
    },
    /// Check a `serve` transcript (JSON lines) against expectations (YAML list), in order.
    CheckTranscript {
        /// The transcript written by `kazasu serve --transcript`.
        transcript: PathBuf,
        /// Expectations: `- { command | command_prefix | event, expect: { sw, data_len, data_prefix } }`.
        expectations: PathBuf,
    },
    /// Print the JSON Schema of scenario files (for editors).
    Schema,
    /// List the built-in card and reader profiles, or print one as YAML.
    Profiles {
        /// A profile to print in full.
        name: Option<String>,
    },
    /// Generate the test PKI (test CAs, keys and certificates of every test identity) into the
    /// fixtures folder. The output is committed; run this only to renew the fixtures.
    GenTestPki {
        /// The fixtures folder holding identities.yaml.
        #[arg(long, default_value = "scenarios/fixtures")]
        fixtures: PathBuf,
    },
}

#[derive(Subcommand)]
enum OnboardingCmd {
    /// Serve the HTTP JSON API (/api/…, /openapi.yaml) and the HTML pages (/) until Ctrl-C.
    Serve {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// The SQLite database that keeps accounts and orders across restarts.
        #[arg(long, default_value = "kazasu-onboarding.sqlite", value_name = "FILE")]
        db: PathBuf,
        /// Keep everything in memory instead (lost on exit).
        #[arg(long, conflicts_with = "db")]
        memory: bool,
        /// The service's calendar day, YYYY-MM-DD (default: today in Japan). The bundled
        /// program takes orders from 2025-09-19 to 2026-01-31.
        #[arg(long)]
        today: Option<String>,
        /// Program data (default: the bundled scenarios/onboarding/program.data.yaml).
        #[arg(long, value_name = "FILE")]
        program: Option<PathBuf>,
        /// Portal registry data (default: the bundled scenarios/onboarding/registry.data.yaml).
        #[arg(long, value_name = "FILE")]
        registry: Option<PathBuf>,
        /// Offer POST /api/test/reset, which forgets every account: for `kazasu run --target`.
        #[arg(long)]
        allow_reset: bool,
        /// No request log (by default one line per request on stderr: method, path, status).
        #[arg(long, short)]
        quiet: bool,
    },
}

fn onboarding(cmd: OnboardingCmd) -> Result<ExitCode, InputFailure> {
    use kazasu::onboarding::{server, store::Store};
    use kazasu_onboarding::program::{Day, Program, Registry};
    let OnboardingCmd::Serve {
        addr,
        db,
        memory,
        today,
        program,
        registry,
        allow_reset,
        quiet,
    } = cmd;
    let read = |p: &Option<PathBuf>, bundled: &str| -> Result<(String, String), InputFailure> {
        match p {
            Some(p) => std::fs::read_to_string(p)
                .map(|t| (t, p.display().to_string()))
                .map_err(|e| InputFailure(format!("cannot read {}: {e}", p.display()))),
            None => Ok((bundled.to_string(), "bundled".to_string())),
        }
    };
    let (ptext, porigin) = read(&program, server::PROGRAM_YAML)?;
    let (rtext, rorigin) = read(&registry, server::REGISTRY_YAML)?;
    let program = Program::from_yaml(&ptext, &porigin).map_err(InputFailure)?;
    let registry = Registry::from_yaml(&rtext, &rorigin).map_err(InputFailure)?;
    let today = today
        .map(|t| Day::parse(&t).map_err(|e| InputFailure(format!("--today: {e}"))))
        .transpose()?;
    let store = if memory {
        Store::memory()
    } else {
        Store::open(&db).map_err(InputFailure)?
    };
    let mut shared = server::Shared::new(program, registry, store, today).map_err(InputFailure)?;
    shared.allow_reset = allow_reset;
    shared.log_requests = !quiet;
    let restored = shared.accounts().len();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let running = server::Running::start(shared, addr, workers).map_err(InputFailure)?;
    eprintln!(
        "onboarding service on {} ({}; {} accounts restored); pages at {}/, API at {}/api/…, {}/openapi.yaml",
        running.addr,
        if memory {
            "in memory".to_string()
        } else {
            format!("database {}", db.display())
        },
        restored,
        running.url(),
        running.url(),
        running.url()
    );
    eprintln!("Ctrl-C stops it");
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| InputFailure(format!("cannot handle Ctrl-C: {e}")))?;
    let _ = rx.recv();
    drop(running);
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Bad input or environment: exit code 2.
struct InputFailure(String);

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Run {
            select,
            seed,
            jobs,
            fail_fast,
            junit,
            json,
            html,
            backend,
            pace,
            slots,
            target,
            verbose,
            transcripts,
        } => run(RunArgs {
            target,
            select,
            seed,
            jobs,
            fail_fast,
            junit,
            json,
            html,
            backend,
            pace,
            slots,
            verbose,
            transcripts,
        }),
        Cmd::List { select } => list(&select),
        Cmd::Validate { paths } => validate(&paths),
        Cmd::Serve {
            cards,
            reader,
            slot,
            pace,
            seed,
            transcript,
            duration,
            remove_after_apdus,
            script,
            listen,
        } => script
            .map_or(Ok(kazasu::serve::ServeScript::default()), |p| {
                kazasu::serve::ServeScript::load(&p)
            })
            .and_then(|script| {
                kazasu::serve::serve(kazasu::serve::ServeOptions {
                    cards,
                    reader,
                    first_slot: slot,
                    pace,
                    seed,
                    transcript,
                    duration,
                    remove_after_apdus,
                    script,
                    listen,
                })
            })
            .map(|counts| {
                eprintln!("stopped; APDUs answered per slot: {counts:?}");
                ExitCode::SUCCESS
            })
            .map_err(InputFailure),
        Cmd::Import {
            format,
            file,
            output,
            reader,
            card,
            name,
            keep_secrets,
        } => import(
            TraceFile {
                path: file,
                format,
                reader,
            },
            output,
            card,
            name,
            keep_secrets,
        ),
        Cmd::Replay {
            file,
            format,
            reader,
            role,
            mode,
            card,
            reader_model,
            compare,
            scenario,
            serve,
            slot,
            pace,
            duration,
            minimize,
            output,
            json,
            verbose,
            seed,
        } => replay(ReplayArgs {
            compare,
            file: TraceFile {
                path: file,
                format,
                reader,
            },
            role,
            mode,
            card,
            reader_model,
            scenario,
            serve,
            slot,
            pace,
            duration,
            minimize,
            output,
            json,
            verbose,
            seed,
        }),
        Cmd::Onboarding { command } => onboarding(command),
        Cmd::CheckTranscript {
            transcript,
            expectations,
        } => check_transcript(&transcript, &expectations),
        Cmd::Schema => {
            out!("{}", scenario::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Profiles { name } => {
            profiles(name.as_deref()).map_err(|e| InputFailure(format!("{e:#}")))
        }
        Cmd::GenTestPki { fixtures } => gen_test_pki(&fixtures)
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| InputFailure(format!("{e:#}"))),
    };
    match result {
        Ok(code) => code,
        Err(InputFailure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Which side a replay plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Role {
    /// The recording answers as the card.
    Card,
    /// The recording's commands go to a virtual card.
    Host,
}

fn import(
    file: TraceFile,
    output: Option<PathBuf>,
    card: Option<kazasu::serve::CardSpec>,
    name: Option<String>,
    keep_secrets: bool,
) -> Result<ExitCode, InputFailure> {
    let mut opts = replay_session::import_options(&file, card.as_ref());
    if let Some(n) = name {
        opts.name = n;
    }
    opts.keep_secrets = keep_secrets;
    let (text, trace) = replay_session::import(&file, opts).map_err(InputFailure)?;
    let placeholders: std::collections::BTreeSet<&str> = text
        .match_indices("${secrets.")
        .filter_map(|(i, _)| text[i + 10..].split('}').next())
        .collect();
    match &output {
        Some(p) => write_file(p, &text)?,
        None => out!("{text}"),
    }
    eprintln!(
        "{}{} exchanges, {} events{}",
        output
            .as_ref()
            .map(|p| format!("wrote {}: ", p.display()))
            .unwrap_or_default(),
        trace.exchanges(),
        trace.events.len(),
        if placeholders.is_empty() {
            String::new()
        } else {
            format!(
                "; PINs left out as {} (the identity's PINs, or KAZASU_SECRET_<NAME> at run time)",
                placeholders
                    .iter()
                    .map(|p| format!("${{secrets.{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    Ok(ExitCode::SUCCESS)
}

struct ReplayArgs {
    file: TraceFile,
    role: Role,
    mode: kazasu::replay::Mode,
    card: Option<kazasu::serve::CardSpec>,
    reader_model: String,
    compare: kazasu::replay::Compare,
    scenario: Option<PathBuf>,
    serve: bool,
    slot: u16,
    pace: kazasu::vpcd_link::Pace,
    duration: std::time::Duration,
    minimize: bool,
    output: Option<PathBuf>,
    json: Option<PathBuf>,
    verbose: bool,
    seed: u64,
}

fn replay(a: ReplayArgs) -> Result<ExitCode, InputFailure> {
    let trace = a.file.load().map_err(InputFailure)?;
    if a.minimize && a.role != Role::Host {
        return Err(InputFailure(
            "--minimize shrinks a host replay that fails: use it with --as host".into(),
        ));
    }
    let guessed = || {
        trace
            .atr
            .as_deref()
            .and_then(kazasu::import::profile_for_atr)
            .map(|profile| kazasu::serve::CardSpec {
                profile,
                identity: None,
            })
    };
    let passed = match a.role {
        Role::Card => {
            let model = match a.mode {
                kazasu::replay::Mode::Model => Some(a.card.clone().or_else(guessed).ok_or_else(
                    || InputFailure("--mode model needs --card PROFILE (the ATR matches no built-in profile)".into()),
                )?),
                _ => None,
            };
            let replay = replay_session::CardReplay {
                mode: a.mode,
                model,
                seed: a.seed,
            };
            if a.serve {
                let outcome = replay
                    .serve(&trace, a.slot, a.pace, a.duration)
                    .map_err(InputFailure)?;
                outln!("{}", outcome.describe());
                outcome.ok()
            } else {
                let (results, outcome) = replay
                    .in_process(&a.file, &trace, a.scenario.as_deref())
                    .map_err(InputFailure)?;
                for r in &results {
                    outln!("{}", report::case_line(r));
                    if matches!(r.status, Status::Failed | Status::Error) {
                        out!("{}", report::failure_text(r));
                    }
                }
                outln!("{}", outcome.describe());
                outcome.divergence.is_none()
                    && results
                        .iter()
                        .all(|r| !matches!(r.status, Status::Failed | Status::Error))
            }
        }
        Role::Host => {
            let card = a.card.clone().or_else(guessed).ok_or_else(|| {
                InputFailure(
                    "the ATR matches no built-in profile: choose the virtual card with --card PROFILE[:IDENTITY]".into(),
                )
            })?;
            let host = replay_session::HostReplay {
                card: card.clone(),
                reader_model: a.reader_model.clone(),
                seed: a.seed,
                compare: a.compare,
            };
            let report = host.run(&trace).map_err(InputFailure)?;
            out!("{}", replay_session::host_report_text(&report, a.verbose));
            if let Some(p) = &a.json {
                let json = serde_json::to_string_pretty(&report)
                    .map_err(|e| InputFailure(format!("cannot write the report: {e}")))?;
                write_file(p, &json)?;
            }
            if a.minimize {
                let Some(out_path) = &a.output else {
                    return Err(InputFailure(
                        "--minimize writes a scenario: give it a file with -o".into(),
                    ));
                };
                match host.minimize(&trace).map_err(InputFailure)? {
                    None => outln!("nothing to minimize: the replay matches the recording"),
                    Some((small, calls)) => {
                        let mut opts = replay_session::import_options(&a.file, Some(&card));
                        opts.name = format!("{} (minimized)", opts.name);
                        opts.source = format!("{} (minimized)", opts.source);
                        let text = kazasu::import::to_scenario(&small, &opts);
                        write_file(out_path, &text)?;
                        outln!(
                            "minimized {} events to {} in {} replays; wrote {}",
                            trace.events.len(),
                            small.events.len(),
                            calls,
                            out_path.display()
                        );
                    }
                }
            }
            report.differences() == 0
        }
    };
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

struct RunArgs {
    select: Select,
    seed: u64,
    jobs: Option<usize>,
    fail_fast: bool,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    backend: Backend,
    pace: kazasu::vpcd_link::Pace,
    slots: u16,
    target: Option<String>,
    verbose: bool,
    transcripts: bool,
}

fn cases(select: &Select) -> Result<Vec<suite::Case>, InputFailure> {
    let files = suite::load(&select.paths).map_err(|e| InputFailure(e.to_string()))?;
    let mut all = Vec::new();
    for (file, scenarios) in &files {
        all.extend(suite::expand(
            scenarios,
            file,
            select.card.as_deref(),
            select.reader.as_deref(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &all {
        if !seen.insert(c.name.clone()) {
            return Err(InputFailure(format!(
                "{}: two cases are named `{}`; scenario names must be unique in a run",
                c.file, c.name
            )));
        }
    }
    let selection = Selection {
        filters: select.filters.clone(),
        tags: select.tags.clone(),
        partition: select.partition,
    };
    Ok(selection.apply(all))
}

fn write_file(path: &Path, text: &str) -> Result<(), InputFailure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| InputFailure(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| InputFailure(format!("cannot write {}: {e}", path.display())))
}

fn run(a: RunArgs) -> Result<ExitCode, InputFailure> {
    let cases = cases(&a.select)?;
    if cases.is_empty() {
        return Err(InputFailure(
            "no case matches the selection; `kazasu list` shows what there is".into(),
        ));
    }
    let backend = match a.backend {
        Backend::Inproc => "inproc",
        Backend::Pcsc => "pcsc",
    };
    let mut opts = RunOptions {
        seed: a.seed,
        jobs: a.jobs.unwrap_or(RunOptions::default().jobs),
        fail_fast: a.fail_fast,
        target: a.target.clone(),
    };
    if a.target.is_some() && opts.jobs > 1 {
        // One service, reset before each case: the cases take turns.
        opts.jobs = 1;
    }
    let factory = backend_factory(a.backend, a.pace, a.slots, &mut opts)?;
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
    let results = runner::run_with(&cases, &opts, &*factory, &|r| {
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
    let summary = Summary::of(&results, started.elapsed());
    out!("{}", report::console_summary(&results, &summary));
    if let Some(p) = &a.junit {
        write_file(p, &report::junit(&results, summary, a.seed))?;
    }
    if let Some(p) = &a.json {
        write_file(p, &report::json(&results, summary, a.seed, backend))?;
    }
    if let Some(p) = &a.html {
        write_file(p, &html::render(&results, &summary, a.seed, backend))?;
    }
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

type Factory = Box<runner::BackendFactory>;

fn backend_factory(
    backend: Backend,
    pace: kazasu::vpcd_link::Pace,
    slots: u16,
    opts: &mut RunOptions,
) -> Result<Factory, InputFailure> {
    match backend {
        Backend::Inproc => Ok(Box::new(runner::inproc)),
        Backend::Pcsc => pcsc_factory(pace, slots, opts),
    }
}

#[cfg(feature = "pcsc")]
fn pcsc_factory(
    pace: kazasu::vpcd_link::Pace,
    slots: u16,
    opts: &mut RunOptions,
) -> Result<Factory, InputFailure> {
    use kazasu::pcsc_backend::{PcscBackend, Timeouts};
    if slots == 0 {
        return Err(InputFailure("--slots must be at least 1".into()));
    }
    // One case per vpcd slot at a time.
    opts.jobs = opts.jobs.min(usize::from(slots)).max(1);
    // Fail early and clearly when pcscd or its vpcd readers are missing.
    let probe = kazasu_sim::Reader::new(
        std::sync::Arc::new(ReaderProfile::builtin("typical-424k").expect("built-in")),
        kazasu_sim::Card::new(
            std::sync::Arc::new(CardProfile::builtin("mynumber-card").expect("built-in")),
            kazasu_sim::Fixtures::embedded().default_subject(),
            1,
        )
        .expect("valid"),
        kazasu_sim::FaultPlan::none(rand_core::SeedableRng::seed_from_u64(1)),
    );
    drop(PcscBackend::new(0, probe, pace, Timeouts::default()).map_err(InputFailure)?);
    Ok(Box::new(move |worker, model| {
        PcscBackend::new(worker as u16, model, pace, Timeouts::default())
            .map(|b| Box::new(b) as Box<dyn kazasu::backend::Backend>)
    }))
}

#[cfg(not(feature = "pcsc"))]
fn pcsc_factory(
    _: kazasu::vpcd_link::Pace,
    _: u16,
    _: &mut RunOptions,
) -> Result<Factory, InputFailure> {
    Err(InputFailure(
        "this kazasu was built without the real-stack backend; build it with \
         `cargo build --release --features pcsc` (needs Debian's libpcsclite-dev)"
            .into(),
    ))
}

fn check_transcript(transcript: &Path, expectations: &Path) -> Result<ExitCode, InputFailure> {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| InputFailure(format!("cannot read {}: {e}", p.display())))
    };
    let t = read(transcript)?;
    let x = read(expectations)?;
    let expected: Vec<kazasu::transcript_check::Expected> = serde_saphyr::from_str(&x)
        .map_err(|e| InputFailure(format!("{}: {e}", expectations.display())))?;
    let results = kazasu::transcript_check::check(&t, &expected).map_err(InputFailure)?;
    let (mut passed, mut failed) = (0, 0);
    for r in &results {
        match r {
            Ok(m) => {
                passed += 1;
                outln!(" PASS {m}");
            }
            Err(m) => {
                failed += 1;
                outln!(" FAIL {m}");
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn list(select: &Select) -> Result<ExitCode, InputFailure> {
    let cases = cases(select)?;
    for c in &cases {
        outln!(
            "{:<70} {:<14} {:<13} {}",
            c.name,
            c.scenario.card,
            c.scenario.reader,
            c.file
        );
    }
    outln!("{} cases", cases.len());
    Ok(ExitCode::SUCCESS)
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode, InputFailure> {
    let mut bad = 0;
    for p in paths {
        match suite::load(std::slice::from_ref(p)) {
            Ok(files) => {
                for (file, scenarios) in files {
                    let n = suite::expand(&scenarios, &file, None, None).len();
                    outln!("ok {file}: {} scenarios, {n} cases", scenarios.len());
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

fn profiles(name: Option<&str>) -> anyhow::Result<ExitCode> {
    match name {
        Some(name) => {
            let (_, text) = BUILTIN_CARD_PROFILES
                .iter()
                .chain(BUILTIN_READER_PROFILES)
                .find(|(n, _)| *n == name)
                .with_context(|| {
                    format!("no built-in profile `{name}`; run `kazasu profiles` for the list")
                })?;
            out!("{text}");
        }
        None => {
            outln!("{:<22} {:<10} description", "card profile", "device");
            for (name, _) in BUILTIN_CARD_PROFILES {
                let p = CardProfile::builtin(name)?;
                outln!(
                    "{:<22} {:<10} {}",
                    p.name,
                    format!("{:?}", p.device).to_lowercase(),
                    p.description
                );
            }
            outln!("\n{:<22} description", "reader profile");
            for (name, _) in BUILTIN_READER_PROFILES {
                let p = ReaderProfile::builtin(name)?;
                outln!("{:<22} {}", p.name, p.description);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn gen_test_pki(dir: &Path) -> anyhow::Result<()> {
    let ids_path = dir.join("identities.yaml");
    let text =
        std::fs::read(&ids_path).with_context(|| format!("cannot read {}", ids_path.display()))?;
    #[derive(serde::Deserialize)]
    struct File {
        identities: Vec<kazasu_sim::Identity>,
    }
    let file: File = serde_saphyr::from_slice(&text)
        .with_context(|| format!("{} does not parse", ids_path.display()))?;
    let files = kazasu_sim::pki::generate(&file.identities).context("generating the test PKI")?;
    for f in &files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().expect("files live in folders"))?;
        std::fs::write(&path, &f.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        outln!("wrote {}", path.display());
    }
    outln!("{} files; rebuild kazasu to embed them.", files.len());
    Ok(())
}

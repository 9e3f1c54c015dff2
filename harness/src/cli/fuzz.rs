//! `fuzz-host`: the virtual card as a fuzzer of host software — mutated answers, classified
//! outcomes, minimized recordings with the command that replays them.

use super::{InputFailure, write_file};
use kazasu::fuzz::host::{HostCommand, HostOutcome, ScenarioHost};
use kazasu::fuzz::mutate::MutationKind;
use kazasu::fuzz::{self, Options, Progress, Target};
use kazasu::serve::CardSpec;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Where the host under test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HostBackend {
    /// A program given after `--`, reaching the card through pcscd and vpcd.
    Pcsc,
    /// A scenario (--scenario) played by kazasu's runner in this process: far faster.
    Inproc,
}

/// Serve a card whose answers are mutated (wrong status words, truncated or padded data, a
/// corrupted certificate, long answers to short reads, slow answers, WTX storms, a removal
/// half-way, a garbage ATR) to a host program, run after run; keep every run that crashes
/// (a signal), hangs (--timeout) or exits otherwise than --expect-exit, as a recording that
/// replays the failure, shrunk to the exchanges that matter.
#[derive(clap::Args)]
#[command(after_help = "Example (pcscd with vpcd running: kazasu stack up):\n  \
    kazasu fuzz-host --card mynumber-card --slot 1 --runs 500 --seed 7 --timeout 10s -- \\\n      \
    pkcs15-tool --reader 1 --read-certificate 01\n\n\
    Exit codes: 0 no failure found, 1 failures found (or, with --replay, reproduced), 2 bad input.")]
pub struct FuzzHostArgs {
    /// The served card, PROFILE[:IDENTITY] (with --backend inproc: default the scenario's).
    #[arg(long)]
    pub card: Option<CardSpec>,
    /// The reader model between the link and the card.
    #[arg(long, default_value = "typical-424k")]
    pub reader: String,
    /// The vpcd slot (0 and 1 are "Virtual PCD 00 00" and "… 00 01"; `kazasu stack up --slots 16` for up to 16).
    #[arg(long, default_value_t = 0)]
    pub slot: u16,
    /// Mutated runs (after one run without mutation).
    #[arg(long, default_value_t = 100)]
    pub runs: u32,
    /// Seed of the mutation plans: the same seed draws the same plans.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A run longer than this is a hang; the host is killed.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// An exit code that counts as passing (repeat for more); default: any exit code passes,
    /// only crashes and hangs are failures.
    #[arg(long = "expect-exit", value_name = "CODE")]
    pub expect_exit: Vec<i32>,
    /// Where the host runs.
    #[arg(long, value_enum, default_value = "pcsc")]
    pub backend: HostBackend,
    /// With --backend inproc: the scenario (one case) that plays the host.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Folder for the recordings.
    /// The kinds of mutation to draw from, comma-separated (default: every kind), e.g.
    /// `--mutations status-word,truncate,corrupt-der` to leave out removals and slow answers.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub mutations: Vec<MutationKind>,
    #[arg(short = 'o', long, default_value = "fuzz-host-findings")]
    pub out_dir: PathBuf,
    /// Keep recordings as they are (no shrinking).
    #[arg(long)]
    pub no_minimize: bool,
    /// Replay this recording once against the host instead of fuzzing.
    #[arg(long, value_name = "RECORDING")]
    pub replay: Option<PathBuf>,
    /// Write the summary as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the summary as JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print every run, not only failures.
    #[arg(short, long)]
    pub verbose: bool,
    /// The host program and its arguments (after --).
    #[arg(last = true, value_name = "HOST COMMAND")]
    pub command: Vec<String>,
}

pub fn fuzz_host(a: FuzzHostArgs) -> Result<ExitCode, InputFailure> {
    let expect_exit = (!a.expect_exit.is_empty()).then(|| a.expect_exit.clone());
    if a.timeout.is_zero() {
        return Err(InputFailure("--timeout must be longer than 0".into()));
    }
    let (target, card) = match a.backend {
        HostBackend::Pcsc => {
            if a.command.is_empty() {
                return Err(InputFailure(
                    "give the host command after --, e.g. kazasu fuzz-host --slot 1 -- pkcs15-tool --reader 1 --list-certificates".into(),
                ));
            }
            if a.scenario.is_some() {
                return Err(InputFailure(
                    "--scenario is the in-process host: use it with --backend inproc".into(),
                ));
            }
            let target = Target::Pcscd {
                slot: a.slot,
                host: HostCommand {
                    argv: a.command.clone(),
                    timeout: a.timeout,
                    expect_exit: expect_exit.clone(),
                },
            };
            let card = a.card.clone().unwrap_or(CardSpec {
                profile: "mynumber-card".into(),
                identity: None,
            });
            (target, card)
        }
        HostBackend::Inproc => {
            if !a.command.is_empty() {
                return Err(InputFailure(
                    "--backend inproc runs a scenario as the host (--scenario FILE), not a program after --".into(),
                ));
            }
            let Some(path) = &a.scenario else {
                return Err(InputFailure(
                    "--backend inproc needs the scenario that plays the host: --scenario FILE"
                        .into(),
                ));
            };
            let loaded = kazasu::scenario::suite::load(std::slice::from_ref(path))
                .map_err(|e| InputFailure(e.to_string()))?;
            let mut cases = Vec::new();
            for (file, s) in &loaded {
                cases.extend(
                    kazasu::scenario::suite::expand(
                        s,
                        file,
                        &kazasu::scenario::suite::Overrides::NONE,
                    )
                    .map_err(|e| InputFailure(e.to_string()))?,
                );
            }
            let [case] = cases.as_slice() else {
                return Err(InputFailure(format!(
                    "{}: the host is one case, the file has {}; keep one scenario without a matrix in it",
                    path.display(),
                    cases.len()
                )));
            };
            let card = a.card.clone().unwrap_or(CardSpec {
                profile: case.scenario.card.clone(),
                identity: case.scenario.identity.clone(),
            });
            let target = Target::InProcess {
                host: Arc::new(ScenarioHost {
                    case: case.clone(),
                    seed: a.seed,
                }),
                timeout: a.timeout,
                expect_exit: expect_exit.clone(),
            };
            (target, card)
        }
    };
    // The profiles are loaded once, here: bad ones are bad input, before any run.
    let card = fuzz::LoadedCard::load(card)?;
    let reader = Arc::new(kazasu::profiles::reader_profile(&a.reader, None)?);

    if let Some(recording) = &a.replay {
        let text = kazasu::files::read_text(recording, kazasu::files::CAPTURES)?;
        let run = fuzz::replay(&text, &card, a.seed, &target)?;
        outln!(
            "replayed {} ({} recorded): the host {} after {:.2} s",
            recording.display(),
            fuzz::apdus(fuzz::host::count_apdus(
                &kazasu::serve::line::read_all(&text)?
                    .into_iter()
                    .map(|(_, l)| l)
                    .collect::<Vec<_>>()
            )),
            describe(&run.outcome),
            run.took.as_secs_f64()
        );
        if !run.output_tail.is_empty() && run.outcome.is_failure() {
            outln!("its last output:\n{}", indent(&run.output_tail));
        }
        return Ok(if run.outcome.is_failure() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }

    let opts = Options {
        card: card.clone(),
        reader,
        runs: a.runs,
        seed: a.seed,
        out_dir: a.out_dir.clone(),
        minimize: !a.no_minimize,
        kinds: a.mutations.clone(),
    };
    let bar = indicatif::ProgressBar::new(u64::from(a.runs));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs {msg}")
            .expect("a valid template"),
    );
    let verbose = a.verbose;
    // On a terminal a bar; in a CI log (no terminal, where the bar stays hidden) a line every
    // ten runs, so a long campaign is never silent.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let say = |line: String| {
        if terminal {
            bar.println(line);
        } else {
            eprintln!("{line}");
        }
    };
    let failures = std::cell::Cell::new(0u32);
    let started = std::time::Instant::now();
    let runs = a.runs;
    let progress = |p: Progress<'_>| match p {
        Progress::Baseline(run) => {
            say(format!(
                "run 0 (no mutation): {} APDUs, the host {}",
                run.apdus(),
                describe(&run.outcome)
            ));
        }
        Progress::Run(n, plan, run) => {
            bar.inc(1);
            if run.outcome.is_failure() {
                failures.set(failures.get() + 1);
            }
            if verbose || run.outcome.is_failure() {
                say(format!(
                    "run {n}: {} — the host {}",
                    plan,
                    describe(&run.outcome)
                ));
            }
            if !terminal && (n % 10 == 0 || n == runs) {
                eprintln!(
                    "fuzz-host: {n}/{runs} runs, {} failed, {:.0} s",
                    failures.get(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Progress::Minimizing(key) => say(format!("  minimizing the recording of the {key}")),
    };
    let scenario = a.scenario.as_deref();
    let summary = fuzz::campaign(&opts, &target, scenario, &progress)?;
    bar.finish_and_clear();
    out!("{}", fuzz::summary_text(&summary));
    if let Some(p) = &a.json {
        let json = serde_json::to_string_pretty(&summary)
            .map_err(|e| InputFailure(format!("cannot write the summary: {e}")))?;
        write_file(p, &json)?;
    }
    if let Some(p) = &a.junit {
        write_file(p, &fuzz::junit(&summary))?;
    }
    Ok(if summary.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn describe(o: &HostOutcome) -> String {
    match o {
        HostOutcome::Passed { code } => format!("passed (exit {code})"),
        HostOutcome::Crashed { signal } => format!("CRASHED ({signal})"),
        HostOutcome::Hung => "HUNG (killed at the time-out)".into(),
        HostOutcome::UnexpectedExit { code } => format!("exited {code}, not an expected code"),
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

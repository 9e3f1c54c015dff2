//! `kazasu fuzz-host`: the virtual card as a fuzzer of host software. Each run serves a card
//! whose answers follow a seeded plan of mutations ([`mutate`]), runs the host against it
//! ([`host`]) and classifies the end; each distinct failure keeps its recording — a kazasu
//! transcript that `kazasu replay --as card` serves again — shrunk with the delta debugger to
//! the exchanges that still make the host fail the same way, with the command that reproduces
//! it.

pub mod host;
pub mod mutate;

use crate::capture::replay::{Mode, RecordedCard, RecordingError};
use crate::capture::shrink::ddmin;
use crate::capture::trace::{self, Format, ParseError, Trace};
use crate::serve::line::{ServedEvent, ServedLine};
use crate::serve::{CardSetupError, CardSpec};
use host::{HostCommand, HostRun, InProcessHost};
use kazasu_sim::vpcd::{Slot, SlotCard};
use kazasu_sim::{FaultPlan, Reader};
use mutate::{MutatingCard, Plan};
use rand_core::SeedableRng;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the host runs.
#[derive(Clone)]
pub enum Target {
    /// A program reaching the card through pcscd, on vpcd slot `slot`.
    Pcscd {
        /// The vpcd slot.
        slot: u16,
        /// The program.
        host: HostCommand,
    },
    /// A host written against kazasu's host API, in this process.
    InProcess {
        /// The host.
        host: Arc<dyn InProcessHost>,
        /// A run longer than this is a hang.
        timeout: Duration,
        /// Exit codes that pass (0: the host succeeded, 1: it reported a failure).
        expect_exit: Option<Vec<i32>>,
    },
}

/// Why a fuzzing campaign or a replay cannot go on (a host that fails is no error: it is a
/// finding).
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// The served card.
    #[error(transparent)]
    Card(#[from] CardSetupError),
    /// A recording that does not read back.
    #[error("the recording: {0}")]
    Recording(#[from] ParseError),
    /// A recording that cannot be played.
    #[error(transparent)]
    Playback(#[from] RecordingError),
    /// The host could not be run at all (no such program, pcscd never powered the card …).
    #[error(transparent)]
    Host(#[from] host::HostError),
    /// A findings file or folder.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Target {
    fn run<S: SlotCard + Send + 'static>(&self, card: S) -> Result<HostRun, FuzzError> {
        match self {
            Target::Pcscd { slot, host } => Ok(host::run_through_pcscd(card, *slot, host)?),
            Target::InProcess {
                host,
                timeout,
                expect_exit,
            } => Ok(host::run_in_process(
                card,
                host.clone(),
                *timeout,
                expect_exit.as_deref(),
            )),
        }
    }
}

/// A served card resolved once: how it was named (for the reproduce command) and its profile,
/// loaded; every run of a campaign serves a fresh card of this profile.
#[derive(Clone, Debug)]
pub struct LoadedCard {
    /// The card as given (`profile[:identity]`).
    pub spec: CardSpec,
    /// Its profile.
    pub profile: Arc<kazasu_sim::CardProfile>,
}

impl LoadedCard {
    /// Loads the profile `spec` names.
    pub fn load(spec: CardSpec) -> Result<LoadedCard, CardSetupError> {
        let profile = Arc::new(crate::profiles::card_profile(&spec.profile, None)?);
        Ok(LoadedCard { spec, profile })
    }
}

/// What to fuzz with.
#[derive(Clone, Debug)]
pub struct Options {
    /// The served card.
    pub card: LoadedCard,
    /// The reader model between the link and the card.
    pub reader: Arc<kazasu_sim::ReaderProfile>,
    /// Mutated runs.
    pub runs: u32,
    /// Seed of the plans (and of the card).
    pub seed: u64,
    /// Where recordings go.
    pub out_dir: PathBuf,
    /// Shrink each distinct failure's recording.
    pub minimize: bool,
    /// The kinds of mutation plans draw from (empty: every kind).
    pub kinds: Vec<mutate::MutationKind>,
}

/// One distinct failure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    /// What makes it distinct: `crash (SIGSEGV)`, `hang`, `exit 3`.
    pub key: String,
    /// The first run that found it (0: the run without mutation).
    pub first_run: u32,
    /// Runs that ended this way.
    pub runs: u32,
    /// The first run's mutations.
    pub plan: Plan,
    /// The recording of the first run.
    pub recording: PathBuf,
    /// Its APDUs.
    pub recording_apdus: usize,
    /// The shrunk recording, when shrinking kept the failure.
    pub minimized: Option<PathBuf>,
    /// Its APDUs.
    pub minimized_apdus: Option<usize>,
    /// Replays the shrinking took.
    pub replays: usize,
    /// Why there is no shrunk recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_minimized: Option<String>,
    /// The command that replays it against the host.
    pub reproduce: String,
    /// The last of the host's output.
    pub output_tail: String,
}

/// What a campaign came to.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// Mutated runs.
    pub runs: u32,
    /// Mutated runs that ended as expected.
    pub passed: u32,
    /// Mutated runs that crashed, hung or exited otherwise than expected.
    pub failed: u32,
    /// How the run without mutation ended (a host that fails even then needs fixing first).
    pub baseline: host::HostOutcome,
    /// APDUs of the run without mutation.
    pub baseline_apdus: usize,
    /// Seed.
    pub seed: u64,
    /// Distinct failures, in the order found.
    pub findings: Vec<Finding>,
    /// Wall time, seconds.
    pub wall_s: f64,
}

/// A fresh served card of `card` behind `reader`, seeded.
fn served_slot(
    card: &LoadedCard,
    reader: &Arc<kazasu_sim::ReaderProfile>,
    seed: u64,
) -> Result<Slot, CardSetupError> {
    let card = card.spec.card_of(card.profile.clone(), seed)?;
    Ok(Slot::new(Reader::new(
        reader.clone(),
        card,
        FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
    )))
}

/// Reads a recording (a kazasu transcript) back as a trace.
pub fn recording_trace(text: &str) -> Result<Trace, ParseError> {
    trace::parse(Format::Kazasu, text, None)
}

/// Serves a recording as the card — what it recorded, and the virtual card of `spec` for
/// every command it does not hold — and runs the host once against it.
pub fn replay(
    recording: &str,
    card: &LoadedCard,
    seed: u64,
    target: &Target,
) -> Result<HostRun, FuzzError> {
    let trace = recording_trace(recording)?;
    let model = card.spec.card_of(card.profile.clone(), seed)?;
    let card = RecordedCard::new(&trace, Mode::Model, Some(model))?;
    target.run(card)
}

/// A recording cut into a prefix (insertion, power, ATR) and one group per APDU with the events
/// that follow it, so that shrinking drops an exchange together with what it caused.
fn groups(recording: &[ServedLine]) -> (Vec<ServedLine>, Vec<Vec<ServedLine>>) {
    let mut prefix = Vec::new();
    let mut groups: Vec<Vec<ServedLine>> = Vec::new();
    for l in recording {
        match (&l.event, groups.last_mut()) {
            (ServedEvent::Apdu { .. }, _) => groups.push(vec![l.clone()]),
            (_, Some(g)) => g.push(l.clone()),
            (_, None) => prefix.push(l.clone()),
        }
    }
    (prefix, groups)
}

fn joined(prefix: &[ServedLine], groups: &[Vec<ServedLine>]) -> Vec<ServedLine> {
    prefix
        .iter()
        .cloned()
        .chain(groups.iter().flatten().cloned())
        .collect()
}

/// Shrinks a failing recording to the fewest exchanges that still end the host the same way.
/// `None` when a replay of the whole recording does not fail that way (a flaky host).
pub fn minimize(
    recording: &[ServedLine],
    key: &str,
    card: &LoadedCard,
    seed: u64,
    target: &Target,
) -> Result<Option<(Vec<ServedLine>, usize)>, FuzzError> {
    let still_fails = |lines: &[ServedLine]| -> bool {
        replay(&host::recording_text(lines), card, seed, target)
            .is_ok_and(|r| r.outcome.key() == key)
    };
    if host::count_apdus(recording) == 0 {
        // Nothing to shrink (the host failed before its first command).
        return Ok(Some((recording.to_vec(), 0)));
    }
    if !still_fails(recording) {
        return Ok(None);
    }
    let (prefix, groups) = groups(recording);
    let (kept, calls) = ddmin(&groups, |subset| {
        !subset.is_empty() && still_fails(&joined(&prefix, subset))
    });
    Ok(Some((joined(&prefix, &kept), calls + 1)))
}

/// The command line that replays a recording against the host.
pub fn reproduce_command(
    recording: &Path,
    spec: &CardSpec,
    seed: u64,
    target: &Target,
    scenario: Option<&Path>,
) -> String {
    use crate::report::shell_quote;
    // Files by their absolute paths: the line runs from any folder (the host command is the
    // user's own and stays as given).
    let absolute = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let profile = if Path::new(&spec.profile).is_file() {
        absolute(Path::new(&spec.profile))
    } else {
        spec.profile.clone()
    };
    let card = match &spec.identity {
        Some(i) => format!("{profile}:{i}"),
        None => profile,
    };
    let mut s = format!(
        "kazasu fuzz-host --replay {} --card {} --seed {seed}",
        shell_quote(&absolute(recording)),
        shell_quote(&card)
    );
    match target {
        Target::Pcscd { slot, host } => {
            s.push_str(&format!(
                " --slot {slot} --timeout {}",
                humantime::format_duration(host.timeout)
            ));
            if let Some(codes) = &host.expect_exit {
                for c in codes {
                    s.push_str(&format!(" --expect-exit {c}"));
                }
            }
            s.push_str(" --");
            for a in &host.argv {
                s.push(' ');
                s.push_str(&shell_quote(a));
            }
        }
        Target::InProcess {
            timeout,
            expect_exit,
            ..
        } => {
            s.push_str(&format!(
                " --backend inproc --timeout {}",
                humantime::format_duration(*timeout)
            ));
            if let Some(p) = scenario {
                s.push_str(&format!(" --scenario {}", shell_quote(&absolute(p))));
            }
            for c in expect_exit.iter().flatten() {
                s.push_str(&format!(" --expect-exit {c}"));
            }
        }
    }
    s
}

/// What the campaign tells its caller as it goes.
pub enum Progress<'a> {
    /// The run without mutation ended.
    Baseline(&'a HostRun),
    /// Run `n` ended.
    Run(u32, &'a Plan, &'a HostRun),
    /// A new distinct failure is being shrunk.
    Minimizing(&'a str),
}

/// Runs a campaign: one run without mutation (it sets how many APDUs the plans aim at, and a
/// host that fails even then is reported first), then `runs` mutated runs.
pub fn campaign(
    opts: &Options,
    target: &Target,
    scenario: Option<&Path>,
    progress: &dyn Fn(Progress<'_>),
) -> Result<Summary, FuzzError> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| FuzzError::Write {
        path: opts.out_dir.clone(),
        source,
    })?;
    let mut findings: Vec<Finding> = Vec::new();
    let (mut passed, mut failed) = (0u32, 0u32);
    let card = |plan: Plan| -> Result<MutatingCard, FuzzError> {
        Ok(MutatingCard::new(
            served_slot(&opts.card, &opts.reader, opts.seed)?,
            plan,
        ))
    };
    let baseline = target.run(card(Plan::default())?)?;
    progress(Progress::Baseline(&baseline));
    let baseline_apdus = baseline.apdus();
    let baseline_outcome = baseline.outcome.clone();
    let mut record = |n: u32, plan: &Plan, run: HostRun| -> Result<(), FuzzError> {
        if n > 0 {
            if run.outcome.is_failure() {
                failed += 1;
            } else {
                passed += 1;
            }
        }
        if !run.outcome.is_failure() {
            return Ok(());
        }
        // How the replay of a recording ends (what minimizing compares) …
        let outcome_key = run.outcome.key();
        // … and the class it is reported in: a host that exits with an error after the card was
        // taken away (a removal the plan made, before the host's last command) did what
        // reading software does when the card leaves — a class of its own, apart from the
        // failures of a card that stayed. A crash or a hang stays a crash or a hang.
        let removed = matches!(run.outcome, host::HostOutcome::UnexpectedExit { .. })
            && plan.mutations.iter().any(
                |m| matches!(m, mutate::Mutation::Removal { at } if (*at as usize) <= run.apdus()),
            );
        let key = if removed {
            format!("{outcome_key} after the card left the field")
        } else {
            outcome_key.clone()
        };
        if let Some(f) = findings.iter_mut().find(|f| f.key == key) {
            f.runs += 1;
            return Ok(());
        }
        let k = findings.len() + 1;
        let path = opts.out_dir.join(format!("finding-{k}.jsonl"));
        write(&path, &host::recording_text(&run.recording))?;
        let mut finding = Finding {
            key: key.clone(),
            first_run: n,
            runs: 1,
            plan: plan.clone(),
            recording: path.clone(),
            recording_apdus: run.apdus(),
            minimized: None,
            minimized_apdus: None,
            replays: 0,
            not_minimized: None,
            reproduce: reproduce_command(&path, &opts.card.spec, opts.seed, target, scenario),
            output_tail: run.output_tail.clone(),
        };
        if opts.minimize {
            progress(Progress::Minimizing(&key));
            match minimize(&run.recording, &outcome_key, &opts.card, opts.seed, target)? {
                Some((small, replays)) => {
                    let min_path = opts.out_dir.join(format!("finding-{k}.min.jsonl"));
                    write(&min_path, &host::recording_text(&small))?;
                    finding.minimized_apdus = Some(host::count_apdus(&small));
                    finding.reproduce =
                        reproduce_command(&min_path, &opts.card.spec, opts.seed, target, scenario);
                    finding.minimized = Some(min_path);
                    finding.replays = replays;
                }
                None => {
                    finding.not_minimized = Some(
                        "a replay of the recording did not fail the same way (a flaky host?)"
                            .into(),
                    )
                }
            }
        }
        findings.push(finding);
        Ok(())
    };
    if baseline.outcome.is_failure() {
        record(0, &Plan::default(), baseline)?;
    }
    for n in 1..=opts.runs {
        let plan = Plan::draw_of(
            &mut mutate::run_rng(opts.seed, n),
            baseline_apdus as u32,
            &opts.kinds,
        );
        let run = target.run(card(plan.clone())?)?;
        progress(Progress::Run(n, &plan, &run));
        record(n, &plan, run)?;
    }
    Ok(Summary {
        runs: opts.runs,
        passed,
        failed,
        baseline: baseline_outcome,
        baseline_apdus,
        seed: opts.seed,
        findings,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

fn write(path: &Path, text: &str) -> Result<(), FuzzError> {
    std::fs::write(path, text).map_err(|source| FuzzError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The summary as people read it.
pub fn summary_text(s: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let failed: u32 = s
        .findings
        .iter()
        .filter(|f| f.first_run > 0)
        .map(|f| f.runs)
        .sum();
    let _ = writeln!(
        out,
        "\n{} runs (seed {}): {} passed, {} failed, {} distinct failure{} in {:.1} s",
        s.runs,
        s.seed,
        s.passed,
        failed,
        s.findings.len(),
        if s.findings.len() == 1 { "" } else { "s" },
        s.wall_s
    );
    if s.baseline.is_failure() {
        let _ = writeln!(
            out,
            "\n  The host fails even without mutation ({}): fix that first, or check --timeout and --expect-exit.",
            s.baseline.key()
        );
    }
    for (i, f) in s.findings.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n  {}. {} — {} run{}, first {}",
            i + 1,
            f.key,
            f.runs,
            if f.runs == 1 { "" } else { "s" },
            if f.first_run == 0 {
                "without any mutation".to_string()
            } else {
                format!("run {} ({})", f.first_run, f.plan)
            }
        );
        let _ = writeln!(
            out,
            "     recording: {} ({})",
            f.recording.display(),
            apdus(f.recording_apdus)
        );
        match (&f.minimized, f.minimized_apdus) {
            (Some(p), Some(n)) => {
                let _ = writeln!(
                    out,
                    "     minimized: {} ({}, {} replay{})",
                    p.display(),
                    apdus(n),
                    f.replays,
                    if f.replays == 1 { "" } else { "s" }
                );
            }
            _ => {
                if let Some(why) = &f.not_minimized {
                    let _ = writeln!(out, "     not minimized: {why}");
                }
            }
        }
        let _ = writeln!(out, "     reproduce: {}", f.reproduce);
        if !f.output_tail.trim().is_empty() {
            let _ = writeln!(out, "     the host's last output:");
            for line in f.output_tail.lines() {
                let _ = writeln!(out, "       | {line}");
            }
        }
    }
    out
}

/// `1 APDU`, `3 APDUs`.
pub fn apdus(n: usize) -> String {
    format!("{n} APDU{}", if n == 1 { "" } else { "s" })
}

/// The summary as JUnit: one case per distinct failure, and one for the runs that passed.
pub fn junit(s: &Summary) -> String {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("kazasu fuzz-host");
    report.set_time(Duration::from_secs_f64(s.wall_s));
    let mut suite = TestSuite::new("fuzz-host");
    suite.add_property(Property::new("seed", s.seed.to_string()));
    suite.add_property(Property::new("runs", s.runs.to_string()));
    let mut ok = TestCase::new(
        format!("{} runs without a failure", s.passed),
        TestCaseStatus::success(),
    );
    ok.set_classname("fuzz-host");
    suite.add_test_case(ok);
    for f in &s.findings {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
        st.set_type(f.key.clone());
        st.set_message(format!(
            "{} (first in run {}: {})",
            f.key, f.first_run, f.plan
        ));
        st.set_description(format!("reproduce: {}\n\n{}", f.reproduce, f.output_tail));
        let mut case = TestCase::new(f.key.clone(), st);
        case.set_classname("fuzz-host");
        case.add_property(Property::new(
            "recording",
            f.recording.display().to_string(),
        ));
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reproduce_line_names_everything_the_run_used_and_quotes_what_needs_it() {
        let spec = CardSpec {
            profile: "mynumber-card".into(),
            identity: Some("yamada-taro".into()),
        };
        let target = Target::Pcscd {
            slot: 1,
            host: HostCommand {
                argv: vec![
                    "ci/hosts/crashing-host.sh".into(),
                    "Virtual PCD 00 01".into(),
                ],
                timeout: Duration::from_secs(3),
                expect_exit: Some(vec![0]),
            },
        };
        let line = reproduce_command(
            Path::new("out/finding-1.min.jsonl"),
            &spec,
            3,
            &target,
            None,
        );
        // The recording by its absolute path, so that the line runs from any folder.
        let recording = std::env::current_dir()
            .unwrap()
            .join("out/finding-1.min.jsonl");
        assert_eq!(
            line,
            format!(
                "kazasu fuzz-host --replay {} --card mynumber-card:yamada-taro \
                 --seed 3 --slot 1 --timeout 3s --expect-exit 0 -- ci/hosts/crashing-host.sh \
                 'Virtual PCD 00 01'",
                recording.display()
            )
        );
        assert_eq!(
            (apdus(1), apdus(3)),
            ("1 APDU".to_string(), "3 APDUs".to_string())
        );
    }
}

//! `import` and `replay`: a capture from the field as a scenario, or replayed as the card or the
//! host.

use super::{InputFailure, write_file};
use clap::ValueEnum;
use kazasu::capture::session::{self, TraceFile};
use kazasu::report;
use kazasu::run::Status;
use std::path::PathBuf;
use std::process::ExitCode;

/// Which side a replay plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The recording answers as the card.
    Card,
    /// The recording's commands go to a virtual card.
    Host,
}

/// Turn a captured trace (pcscd log, pcsc-spy, apdu4j, OpenSC log, kazasu transcript, a pcap
/// of a USB CCID reader or of the air, a Proxmark3 trace) into a scenario that reproduces it:
/// the recorded commands, the recorded answers as expectations, the host's pauses and the
/// card's removals. PINs become ${secrets.NAME} placeholders.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The capture's format.
    #[arg(value_enum)]
    pub format: kazasu::capture::trace::Format,
    /// The capture.
    pub file: PathBuf,
    /// Write the scenario here (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep only the exchanges on the reader whose name contains this.
    #[arg(long)]
    pub reader: Option<String>,
    /// The card profile to run against, PROFILE[:IDENTITY] (default: guessed from the ATR).
    #[arg(long)]
    pub card: Option<kazasu::serve::CardSpec>,
    /// The scenario's name (default: the file name).
    #[arg(long)]
    pub name: Option<String>,
    /// Write PIN values as recorded instead of placeholders.
    #[arg(long)]
    pub keep_secrets: bool,
}

/// Replay a captured trace: as the card (the recording answers a host under test, in-process
/// or through pcscd with --serve) or as the host (the recorded commands go to a virtual card
/// and its answers are compared with the recorded ones).
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The capture (any format `import` reads).
    pub file: PathBuf,
    /// The capture's format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: kazasu::capture::trace::Format,
    /// Keep only the exchanges on the reader whose name contains this.
    #[arg(long)]
    pub reader: Option<String>,
    /// Which side the recording plays.
    #[arg(long = "as", value_enum)]
    pub role: Role,
    /// As the card: what to do when the host deviates from the recording.
    #[arg(long, value_enum, default_value = "strict")]
    pub mode: kazasu::capture::replay::Mode,
    /// The virtual card, PROFILE[:IDENTITY]: the card under test as the host, the fallback
    /// model with --mode model (default: guessed from the ATR).
    #[arg(long)]
    pub card: Option<kazasu::serve::CardSpec>,
    /// As the host: the reader model between the recorded host and the virtual card.
    #[arg(long, default_value = "typical-424k")]
    pub reader_model: String,
    /// As the host: `class` compares bytes except signatures, challenges and UIDs; `sw`
    /// compares status words only (a real device holding another person's data).
    #[arg(long, value_enum, default_value = "class")]
    pub compare: kazasu::capture::replay::Compare,
    /// As the card, in-process: the scenario that plays the host (default: the trace's own
    /// imported scenario).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// As the card: put the recording on a vpcd slot for external PC/SC software.
    #[arg(long)]
    pub serve: bool,
    /// With --serve: the vpcd slot.
    #[arg(long, default_value_t = 0)]
    pub slot: u16,
    /// With --serve: `fast`, or `realtime` to answer at the recorded timing.
    #[arg(long, value_enum, default_value = "fast")]
    pub pace: kazasu::link::vpcd::Pace,
    /// With --serve: give up after this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "120s")]
    pub duration: std::time::Duration,
    /// As the host: shrink the trace to the fewest events that still fail the same way and
    /// write it as a scenario (-o).
    #[arg(long)]
    pub minimize: bool,
    /// With --minimize: the scenario file to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// As the host: write the comparison as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Print every exchange, not only the ones that differ.
    #[arg(long, short)]
    pub verbose: bool,
    /// Seed of the virtual card.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With --as card (in-process): write the replay's APDUs here as pcapng for Wireshark,
    /// and its air when the recording is an air capture (replayed through the air model).
    #[arg(long, value_name = "FILE.pcapng", conflicts_with = "serve")]
    pub pcap: Option<PathBuf>,
}

pub fn import(a: ImportArgs) -> Result<ExitCode, InputFailure> {
    let ImportArgs {
        format,
        file,
        output,
        reader,
        card,
        name,
        keep_secrets,
    } = a;
    let file = TraceFile {
        path: file,
        format,
        reader,
    };
    let mut opts = session::import_options(&file, card.as_ref());
    if let Some(n) = name {
        opts.name = n;
    }
    opts.keep_secrets = keep_secrets;
    let (text, trace) = session::import(&file, opts)?;
    // The secrets the scenario names, read with the scanner every template goes through.
    use kazasu::scenario::variables::{self, Kind, Part, Var};
    let placeholders: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| variables::parse(l, &[Kind::Secret, Kind::Saved, Kind::Account]).ok())
        .flatten()
        .filter_map(|p| match p {
            Part::Var(Var::Secret(name)) => Some(name),
            _ => None,
        })
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

/// When every difference is in the data under an equal status word, the recording is most
/// likely of another person's card than the virtual card's identity: say how to go on.
fn data_hint(
    report: &kazasu::capture::replay::HostReport,
    compare: kazasu::capture::replay::Compare,
    card: &kazasu::serve::CardSpec,
) -> Option<String> {
    use kazasu::capture::replay::Verdict;
    let differing: Vec<_> = report.rows.iter().filter(|r| r.verdict.differs()).collect();
    let data_only = !differing.is_empty()
        && differing
            .iter()
            .all(|r| matches!(r.verdict, Verdict::DataDiffers(_)));
    (data_only && compare != kazasu::capture::replay::Compare::Sw).then(|| {
        format!(
            "hint: every difference is in the data, with the status words as recorded: the \
             capture is of another card than {}{}. Compare status words and lengths only with \
             --compare sw, or give the virtual card the capture's person with --card {}:IDENTITY \
             (`kazasu identities` lists them).",
            card.profile,
            card.identity
                .as_deref()
                .map_or(String::from(" with its default identity"), |i| format!(
                    ":{i}"
                )),
            card.profile
        )
    })
}

pub fn replay(a: ReplayArgs) -> Result<ExitCode, InputFailure> {
    let file = TraceFile {
        path: a.file.clone(),
        format: a.format,
        reader: a.reader.clone(),
    };
    let trace = file.load()?;
    if a.minimize && a.role != Role::Host {
        return Err(InputFailure(
            "--minimize shrinks a host replay that fails: use it with --as host".into(),
        ));
    }
    let guessed = || {
        trace
            .atr
            .as_deref()
            .and_then(kazasu::capture::import::profile_for_atr)
            .map(|profile| kazasu::serve::CardSpec {
                profile,
                identity: None,
            })
    };
    let passed = match a.role {
        Role::Card => {
            let model = match a.mode {
                kazasu::capture::replay::Mode::Model => Some(a.card.clone().or_else(guessed).ok_or_else(
                    || InputFailure("--mode model needs --card PROFILE (the ATR matches no built-in profile)".into()),
                )?),
                _ => None,
            };
            let replay = session::CardReplay {
                mode: a.mode,
                model,
                seed: a.seed,
            };
            if a.serve {
                let outcome = replay.serve(&trace, a.slot, a.pace, a.duration)?;
                outln!("{}", outcome.describe());
                outcome.ok()
            } else {
                let capture = a.pcap.is_some();
                let (results, outcome) =
                    replay.in_process(&file, &trace, a.scenario.as_deref(), capture)?;
                if let Some(p) = &a.pcap {
                    super::run::write_pcap(p, &results, None)?;
                }
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
            let host = session::HostReplay {
                card: card.clone(),
                reader_model: a.reader_model.clone(),
                seed: a.seed,
                compare: a.compare,
            };
            let report = host.run(&trace)?;
            out!("{}", session::host_report_text(&report, a.verbose));
            if let Some(hint) = data_hint(&report, a.compare, &card) {
                eprintln!("{hint}");
            }
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
                match host.minimize(&trace)? {
                    None => outln!("nothing to minimize: the replay matches the recording"),
                    Some((small, calls)) => {
                        let mut opts = session::import_options(&file, Some(&card));
                        opts.name = format!("{} (minimized)", opts.name);
                        opts.source = format!("{} (minimized)", opts.source);
                        let text = kazasu::capture::import::to_scenario(&small, &opts);
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

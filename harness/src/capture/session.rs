//! The IO shells of `kazasu import` and `kazasu replay`: reading a capture file, writing the
//! imported scenario, and running a replay — as the card in-process (a scenario as the host) or
//! on a vpcd slot for external PC/SC software, or as the host against a virtual card — with
//! shrinking of a failing host replay.

use crate::capture::import::{ImportOptions, to_scenario};
use crate::capture::replay::{
    HostReport, Mode, RecordedBackend, RecordedCard, Verdict, replay_as_host,
};
use crate::capture::trace::{Format, Trace, What};
use crate::files::FileError;
use crate::link::vpcd::{self, LinkConfig, LinkEvent, Pace};
use crate::profiles::LoadError;
use crate::run::{self, RunOptions};
use crate::scenario::suite::InputError;
use crate::serve::{CardSetupError, CardSpec};
use kazasu_sim::{FaultPlan, Reader};
use rand_core::SeedableRng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a capture cannot be imported or replayed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file.
    #[error(transparent)]
    Read(#[from] FileError),
    /// Its text, at a line when the format has lines.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: Option<usize>,
        /// What is wrong there.
        message: String,
    },
    /// A capture without a single exchange or card.
    #[error(
        "{}: no APDU exchange and no card arriving in the capture (a pcscd log needs pcscd \
         started with --apdu; a USB capture, the reader's traffic from before the card was read)",
        .0.display()
    )]
    Empty(PathBuf),
    /// The capture makes a scenario longer than a scenario file may be.
    #[error(
        "{}: its {exchanges} exchanges make a scenario of {} MiB, longer than a scenario file \
         may be ({} MiB); import one reader's exchanges (--reader), or replay the whole capture \
         (`kazasu replay --as host {}`)",
        path.display(),
        bytes >> 20,
        crate::files::SCENARIOS >> 20,
        path.display()
    )]
    TooLongForAScenario {
        /// The capture.
        path: PathBuf,
        /// Its exchanges.
        exchanges: usize,
        /// The scenario's length.
        bytes: usize,
    },
    /// The scenario made from a capture that does not load or check: a kazasu bug.
    #[error("the imported scenario does not {doing} (a kazasu bug): {source}")]
    Imported {
        /// `load` or `check`.
        doing: &'static str,
        /// Why.
        source: InputError,
    },
    /// The host scenarios given to replay against the recording.
    #[error(transparent)]
    Scenario(#[from] InputError),
    /// The virtual card.
    #[error(transparent)]
    Card(#[from] CardSetupError),
    /// The reader model.
    #[error(transparent)]
    Reader(#[from] LoadError),
    /// The recording as a card.
    #[error(transparent)]
    Recording(#[from] crate::capture::replay::RecordingError),
    /// No case ran against the recording.
    #[error("no case ran")]
    NoCase,
    /// Ctrl-C cannot be handled.
    #[error("cannot handle Ctrl-C: {0}")]
    Signal(ctrlc::Error),
}

/// A capture file and how to read it.
#[derive(Clone, Debug)]
pub struct TraceFile {
    /// The file.
    pub path: PathBuf,
    /// Its format (`auto` to tell from the text).
    pub format: Format,
    /// Keep only this reader's exchanges.
    pub reader: Option<String>,
}

impl TraceFile {
    /// Reads and parses the capture; errors name the file and line.
    pub fn load(&self) -> Result<Trace, CaptureError> {
        let bytes = self.bytes()?;
        crate::capture::trace::parse_bytes(self.format, &bytes, self.reader.as_deref()).map_err(
            |e| CaptureError::Parse {
                path: self.path.clone(),
                line: (e.line != 0).then_some(e.line),
                message: e.message,
            },
        )
    }

    /// Its first 8 bytes (fewer in a shorter file).
    fn head(&self) -> Result<Vec<u8>, CaptureError> {
        use std::io::Read;
        let mut head = Vec::with_capacity(8);
        match crate::capture::samples::sample_named(&self.path) {
            Some(sample) => head.extend(sample.iter().take(8)),
            None => {
                let read =
                    std::fs::File::open(&self.path).and_then(|f| f.take(8).read_to_end(&mut head));
                read.map_err(|source| FileError::Read {
                    path: self.path.clone(),
                    source,
                })?;
            }
        }
        Ok(head)
    }

    fn bytes(&self) -> Result<Vec<u8>, CaptureError> {
        Ok(match crate::capture::samples::sample_named(&self.path) {
            Some(sample) => sample.to_vec(),
            None => crate::files::read_bounded(&self.path, crate::files::CAPTURES)?,
        })
    }

    /// The card an air capture shows, for a replay through kazasu's air model: a profile of
    /// its radio side (type, frame size, waiting time, guard time, bit rates, historical bytes,
    /// processing times) on a built-in base, and the card's time for each exchange. `None` for
    /// a capture of APDUs, or of air frames without the card's activation.
    pub fn air_card(&self) -> Result<Option<crate::capture::card_from_air::AirCard>, CaptureError> {
        // A text capture is not read a second time (it may be hundreds of MiB): its head tells.
        if !crate::capture::trace::may_show_air(self.format, &self.head()?) {
            return Ok(None);
        }
        let bytes = self.bytes()?;
        let Ok(frames) =
            crate::capture::trace::air_frames(self.format, &bytes, self.reader.as_deref())
        else {
            return Ok(None);
        };
        let source = crate::capture::card_from_air::capture_source(&self.path, &bytes);
        let name = format!("{}-air", self.stem());
        Ok(crate::capture::card_from_air::AirCard::from_frames(
            &frames, &name, &source,
        )?)
    }

    /// A scenario name from the file name.
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "imported".into())
    }
}

/// `kazasu import`: the scenario text for a capture, checked to load as a scenario.
pub fn import(file: &TraceFile, opts: ImportOptions) -> Result<(String, Trace), CaptureError> {
    let trace = file.load()?;
    // An air capture's steps say what the air showed: the card's time and its S(WTX).
    let mut opts = opts;
    if let Some(air) = file.air_card()? {
        opts.notes = air.timeline.iter().map(|x| (x.packet, x.note())).collect();
    }
    // An air capture of an activation alone (a card's wake-up) still makes a scenario: a tap.
    let arrives = trace
        .events
        .iter()
        .any(|e| matches!(e.what, What::Inserted { .. }));
    if trace.exchanges() == 0 && !arrives {
        return Err(CaptureError::Empty(file.path.clone()));
    }
    let text = to_scenario(&trace, &opts);
    if text.len() as u64 > crate::files::SCENARIOS {
        return Err(CaptureError::TooLongForAScenario {
            path: file.path.clone(),
            exchanges: trace.exchanges(),
            bytes: text.len(),
        });
    }
    let scenarios =
        crate::scenario::suite::parse(&text, "imported scenario").map_err(|source| {
            CaptureError::Imported {
                doing: "load",
                source,
            }
        })?;
    crate::scenario::suite::check_located(&scenarios, "imported scenario", &text).map_err(
        |source| CaptureError::Imported {
            doing: "check",
            source,
        },
    )?;
    Ok((text, trace))
}

/// The import options for a capture with defaults from its file.
pub fn import_options(file: &TraceFile, card: Option<&CardSpec>) -> ImportOptions {
    ImportOptions {
        name: file.stem(),
        source: file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        card: card.map(|c| c.profile.clone()),
        identity: card.and_then(|c| c.identity.clone()),
        reader: None,
        keep_secrets: false,
        notes: Default::default(),
    }
}

/// How a card replay ended.
#[derive(Debug)]
pub struct CardReplayOutcome {
    /// Recorded exchanges replayed.
    pub replayed: usize,
    /// Recorded exchanges in all.
    pub total: usize,
    /// Skipped in skip mode.
    pub skipped: usize,
    /// Answered by the model.
    pub by_model: usize,
    /// Where the host left the recording.
    pub divergence: Option<crate::capture::replay::Divergence>,
    /// The recorded answers went through kazasu's air model, with this card (in a line).
    pub air: Option<String>,
}

impl CardReplayOutcome {
    /// Whether the host sent the whole recording and never left it.
    pub fn ok(&self) -> bool {
        self.divergence.is_none() && self.replayed == self.total
    }
    /// One paragraph for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "replayed {}/{} recorded exchanges",
            self.replayed, self.total
        );
        if let Some(air) = &self.air {
            s.push_str(&format!(" through the air model ({air})"));
        }
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        if self.by_model > 0 {
            s.push_str(&format!(", {} answered by the model", self.by_model));
        }
        match &self.divergence {
            Some(d) => s.push_str(&format!("\ndivergence at {d}")),
            None if self.replayed < self.total => s.push_str(&format!(
                "\nthe host stopped before the end of the recording (next: exchange {})",
                self.replayed + 1
            )),
            None => s.push_str("; the host followed the recording"),
        }
        s
    }
}

/// Options of a card replay.
pub struct CardReplay {
    /// Divergence handling.
    pub mode: Mode,
    /// The model for [`Mode::Model`].
    pub model: Option<CardSpec>,
    /// Seed for the model.
    pub seed: u64,
}

impl CardReplay {
    fn card(&self, trace: &Trace) -> Result<RecordedCard, CaptureError> {
        let model = self.model.as_ref().map(|m| m.card(self.seed)).transpose()?;
        Ok(RecordedCard::new(trace, self.mode, model)?)
    }

    /// Runs the scenarios of `host` (default: the trace's own imported scenario) against the
    /// recording, in-process. Returns the case results and how the replay of the first case went.
    /// With `capture`, every case keeps its packets for a pcapng file. An air capture's answers
    /// go through kazasu's air model (the case's reader, a card profile made from the capture, each
    /// answer after the card's recorded time): its frames, chaining and waiting-time extensions
    /// are the real card's with that reader. The recording says where the card left the field, so
    /// the imported scenario's faults stand aside.
    pub fn in_process(
        &self,
        file: &TraceFile,
        trace: &Trace,
        host: Option<&Path>,
        capture: bool,
    ) -> Result<(Vec<run::CaseResult>, CardReplayOutcome), CaptureError> {
        let (text, name) = match host {
            Some(p) => (
                crate::files::read_text(p, crate::files::SCENARIOS)?,
                p.display().to_string(),
            ),
            None => (
                to_scenario(trace, &import_options(file, None)),
                "imported".to_string(),
            ),
        };
        let scenarios = crate::scenario::suite::parse(&text, &name)?;
        crate::scenario::suite::check_located(&scenarios, &name, &text)?;
        let air = file.air_card()?;
        let overrides = crate::scenario::suite::Overrides {
            card: air.as_ref().map(|a| a.profile.clone()),
            reader: None,
        };
        let mut cases = crate::scenario::suite::expand(&scenarios, &name, &overrides)?;
        if air.is_some() {
            for case in &mut cases {
                case.scenario.faults.clear();
            }
        }
        let timeline = air.as_ref().map(|a| a.timeline.clone());
        let last = Arc::new(Mutex::new(None::<CardReplayOutcome>));
        // Fail early (a bad model profile) rather than in every case.
        self.card(trace)?;
        let source = file.path.display().to_string();
        let keep = last.clone();
        let me = CardReplay {
            mode: self.mode,
            model: self.model.clone(),
            seed: self.seed,
        };
        let recorded = trace.clone();
        let factory = move |_w: usize,
                            reader: Reader|
              -> Result<Box<dyn crate::link::backend::Backend>, String> {
            let card = me.card(&recorded).map_err(|e| e.to_string())?;
            let name = format!("recording {source}");
            let inner = match &timeline {
                Some(t) => RecordedBackend::through_air(card.with_card_times(t), reader, &name),
                None => RecordedBackend::new(card, &name),
            };
            Ok(Box::new(Watched {
                inner,
                report: keep.clone(),
            }))
        };
        let opts = RunOptions {
            jobs: 1,
            capture,
            ..RunOptions::default()
        };
        let results = run::run_with(&cases, &opts, &factory, &|_| {});
        let mut outcome = last
            .lock()
            .expect("outcome lock")
            .take()
            .ok_or(CaptureError::NoCase)?;
        outcome.air = air.map(|a| a.summary);
        Ok((results, outcome))
    }

    /// Puts the recording on vpcd slot `slot` until the host has sent all of it (and a second
    /// more), it diverged, `duration` passed or Ctrl-C.
    pub fn serve(
        &self,
        trace: &Trace,
        slot: u16,
        pace: Pace,
        duration: Duration,
    ) -> Result<CardReplayOutcome, CaptureError> {
        let card = Arc::new(Mutex::new(self.card(trace)?));
        let mut cfg = LinkConfig::slot(slot);
        cfg.pace = pace;
        let on_event: Arc<dyn Fn(LinkEvent) + Send + Sync> = Arc::new(|_| {});
        let (control, handle) = vpcd::spawn(card.clone(), cfg, on_event);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        ctrlc::set_handler(move || s.store(true, Ordering::SeqCst))
            .map_err(CaptureError::Signal)?;
        eprintln!(
            "replaying {} recorded exchanges on slot {slot} ({}); run the host software now",
            trace.exchanges(),
            kazasu_sim::vpcd::reader_name(slot)
        );
        let started = Instant::now();
        let mut finished_at: Option<Instant> = None;
        while !stop.load(Ordering::SeqCst) && started.elapsed() < duration {
            std::thread::sleep(Duration::from_millis(20));
            let c = card.lock().expect("card lock");
            if c.divergence.is_some() {
                break;
            }
            if c.finished() {
                let at = *finished_at.get_or_insert_with(Instant::now);
                if at.elapsed() >= Duration::from_secs(1) {
                    break;
                }
            }
        }
        control.set_present(false);
        control.stop();
        let _ = handle.join();
        let c = card.lock().expect("card lock");
        Ok(outcome_of(&c))
    }
}

fn outcome_of(c: &RecordedCard) -> CardReplayOutcome {
    CardReplayOutcome {
        replayed: c.replayed(),
        total: c.len(),
        skipped: c.skipped,
        by_model: c.by_model,
        divergence: c.divergence.clone(),
        air: None,
    }
}

/// A recorded backend that leaves its outcome behind when the case ends.
struct Watched {
    inner: RecordedBackend,
    report: Arc<Mutex<Option<CardReplayOutcome>>>,
}

impl crate::link::backend::Backend for Watched {
    fn tap(&mut self) -> Result<(), kazasu_sim::LinkError> {
        self.inner.tap()
    }
    fn remove(&mut self) {
        self.inner.remove()
    }
    fn disconnect(&mut self) -> Result<(), kazasu_sim::LinkError> {
        self.inner.disconnect()
    }
    fn warm_reset(&mut self) -> Result<(), kazasu_sim::LinkError> {
        self.inner.warm_reset()
    }
    fn approve(&mut self) -> bool {
        self.inner.approve()
    }
    fn wait(&mut self, d: kazasu_sim::SimDuration) {
        self.inner.wait(d)
    }
    fn bit_rate(&self) -> u32 {
        self.inner.bit_rate()
    }
    fn uid(&self) -> Vec<u8> {
        self.inner.uid()
    }
    fn atr(&self) -> Result<Vec<u8>, kazasu_sim::LinkError> {
        self.inner.atr()
    }
    fn card_name(&self) -> String {
        self.inner.card_name()
    }
    fn finish(&mut self) {
        let mut slot = self.report.lock().expect("outcome lock");
        if slot.is_none() {
            *slot = Some(outcome_of(&self.inner.card));
        }
    }
    fn missed_faults(&self) -> Vec<String> {
        Vec::new()
    }
    fn keep_air(&mut self) {
        self.inner.keep_air()
    }
    fn take_air(&mut self) -> Vec<kazasu_sim::reader::air::AirRecord> {
        self.inner.take_air()
    }
    fn control(
        &mut self,
        code: u32,
        data: &[u8],
    ) -> Result<Vec<u8>, kazasu_sim::reader::pcsc::ControlError> {
        self.inner.control(code, data)
    }
    fn attribute(&mut self, tag: u32) -> Result<Vec<u8>, kazasu_sim::reader::pcsc::ControlError> {
        self.inner.attribute(tag)
    }
    fn set_operator(&mut self, operator: kazasu_sim::reader::pcsc::Operator) {
        self.inner.set_operator(operator)
    }
    fn reader_unreachable(&self) -> Option<String> {
        self.inner.reader_unreachable()
    }
}

impl crate::link::transport::Transport for Watched {
    fn transmit(&mut self, apdu: &[u8]) -> Result<kazasu_sim::Transmitted, kazasu_sim::LinkError> {
        crate::link::transport::Transport::transmit(&mut self.inner, apdu)
    }
    fn now(&self) -> kazasu_sim::SimTime {
        crate::link::transport::Transport::now(&self.inner)
    }
    fn last_frames(&self) -> Vec<kazasu_sim::FrameRecord> {
        crate::link::transport::Transport::last_frames(&self.inner)
    }
}

/// Options of a host replay.
pub struct HostReplay {
    /// The virtual card.
    pub card: CardSpec,
    /// The reader model between the recorded host and the card.
    pub reader_model: String,
    /// Seed.
    pub seed: u64,
    /// How strictly answers are compared.
    pub compare: crate::capture::replay::Compare,
}

impl HostReplay {
    /// Sends `trace`'s commands to a fresh virtual card and compares.
    pub fn run(&self, trace: &Trace) -> Result<HostReport, CaptureError> {
        let subject = self.card.subject().map_err(CardSetupError::from)?;
        let card = self.card.card(self.seed)?;
        let profile = Arc::new(crate::profiles::reader_profile(&self.reader_model, None)?);
        let mut reader = Reader::new(
            profile,
            card,
            FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(self.seed)),
        );
        Ok(crate::capture::replay::relax(
            &replay_as_host(trace, &mut reader, &subject),
            self.compare,
        ))
    }

    /// The shortest sub-trace whose host replay still fails the same way (same command, same
    /// difference), by delta debugging over its events. `None` if the trace does not fail.
    pub fn minimize(&self, trace: &Trace) -> Result<Option<(Trace, usize)>, CaptureError> {
        let signature = |r: &HostReport| {
            r.first_difference().map(|row| {
                (
                    row.command.clone(),
                    match &row.verdict {
                        Verdict::Differs(why) | Verdict::DataDiffers(why) => why.clone(),
                        _ => String::new(),
                    },
                )
            })
        };
        let Some(wanted) = signature(&self.run(trace)?) else {
            return Ok(None);
        };
        let mut error = None;
        let (kept, calls) = crate::capture::shrink::ddmin(&trace.events, |events| {
            let sub = Trace {
                events: events.to_vec(),
                ..trace.clone()
            };
            match self.run(&sub) {
                Ok(r) => signature(&r).as_ref() == Some(&wanted),
                Err(e) => {
                    error = Some(e);
                    false
                }
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        Ok(Some((
            Trace {
                events: kept,
                ..trace.clone()
            },
            calls,
        )))
    }
}

/// The rows of a host report as text (all rows with `all`, else the differing ones).
pub fn host_report_text(report: &HostReport, all: bool) -> String {
    let mut s = String::new();
    for r in &report.rows {
        let (mark, why) = match &r.verdict {
            Verdict::Same => ("=", String::new()),
            Verdict::SameClass(w) => ("~", format!(" ({w})")),
            Verdict::Differs(w) | Verdict::DataDiffers(w) => ("≠", format!(" — {w}")),
            Verdict::NotSent(w) => ("-", format!(" ({w})")),
        };
        if !all && !r.verdict.differs() && !matches!(r.verdict, Verdict::NotSent(_)) {
            continue;
        }
        s.push_str(&format!(
            "{mark} #{} line {}: > {}\n    recorded < {}\n    replayed < {}{why}\n",
            r.exchange, r.line, r.command, r.recorded, r.replayed
        ));
    }
    let same = report
        .rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Same | Verdict::SameClass(_)))
        .count();
    s.push_str(&format!(
        "{} exchanges: {} match, {} differ, {} not sent\n",
        report.rows.len(),
        same,
        report.differences(),
        report
            .rows
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::NotSent(_)))
            .count()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> TraceFile {
        TraceFile {
            path: PathBuf::from(format!(
                "{}/../scenarios/traces/{name}",
                env!("CARGO_MANIFEST_DIR")
            )),
            format: Format::Auto,
            reader: None,
        }
    }

    #[test]
    fn a_capture_is_imported_under_its_file_name_with_every_exchange() {
        let file = sample("opensc-read-cert.pcscd.log");
        assert_eq!(file.stem(), "opensc-read-cert.pcscd");
        let opts = import_options(&file, None);
        assert_eq!(
            (opts.source.as_str(), opts.card.as_deref()),
            ("opensc-read-cert.pcscd.log", None)
        );
        let (text, trace) = import(&file, opts).expect("the sample imports");
        assert!(trace.exchanges() >= 40, "{}", trace.exchanges());
        assert_eq!(text.matches("- apdu:").count(), trace.exchanges(), "{text}");
    }

    #[test]
    fn a_line_that_cannot_be_read_is_named_with_its_file_and_line() {
        let dir = std::env::temp_dir().join(format!("kazasu-session-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bad.pcscd.log");
        std::fs::write(&path, "00000010 APDU: 00 A4 04 00\n00000020 SW: 9G 00\n").expect("write");
        let file = TraceFile {
            path: path.clone(),
            format: Format::Pcscd,
            reader: None,
        };
        let err = file.load().expect_err("9G is no hex");
        std::fs::remove_dir_all(&dir).expect("clean up");
        match err {
            CaptureError::Parse { path: p, line, .. } => assert_eq!((p, line), (path, Some(2))),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_card_replay_says_how_far_the_host_followed_the_recording() {
        let outcome = |replayed, skipped| CardReplayOutcome {
            replayed,
            total: 47,
            skipped,
            by_model: 0,
            divergence: None,
            air: None,
        };
        let whole = outcome(47, 1);
        assert!(whole.ok());
        assert_eq!(
            whole.describe(),
            "replayed 47/47 recorded exchanges, 1 skipped; the host followed the recording"
        );
        let short = outcome(5, 0);
        assert!(!short.ok());
        assert!(
            short.describe().ends_with("(next: exchange 6)"),
            "{}",
            short.describe()
        );
    }
}

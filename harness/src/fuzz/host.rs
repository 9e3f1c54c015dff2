//! The host side of `kazasu fuzz-host`: one run of the software under test against one served
//! card, with a time-out, classified (passed, crashed by a signal, hung, exited otherwise than
//! expected), and the card's view of it recorded as a kazasu transcript. Two kinds of host: a
//! program reaching the card through pcscd and vpcd, or a host written against kazasu's host
//! API ([`InProcessHost`]) driving the card in-process.

use crate::link::backend::Backend;
use crate::link::transport::{Exchange, Transport, TransportError};
use crate::link::vpcd::{self, LinkConfig, LinkEvent, Pace};
use crate::serve::line::{Echoes, ServedEvent, ServedLine};
use kazasu_sim::vpcd::{Reply, Request, SlotCard};
use kazasu_sim::{LinkError, SimDuration, SimTime};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a run of the host ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum HostOutcome {
    /// It ended by itself with an expected exit code.
    Passed {
        /// The exit code.
        code: i32,
    },
    /// It was ended by a signal (SIGSEGV, SIGABRT … — or a panic, in-process).
    Crashed {
        /// The signal's name, or the panic's message.
        signal: String,
    },
    /// It outlasted the time-out and was killed.
    Hung,
    /// It exited with a code that `--expect-exit` does not list.
    UnexpectedExit {
        /// The exit code.
        code: i32,
    },
}

impl HostOutcome {
    /// Whether this run is a finding.
    pub fn is_failure(&self) -> bool {
        !matches!(self, HostOutcome::Passed { .. })
    }
    /// What makes two failures the same: crash and signal, hang, or exit code.
    pub fn key(&self) -> String {
        match self {
            HostOutcome::Passed { code } => format!("passed (exit {code})"),
            HostOutcome::Crashed { signal } => format!("crash ({signal})"),
            HostOutcome::Hung => "hang".into(),
            HostOutcome::UnexpectedExit { code } => format!("exit {code}"),
        }
    }
}

/// A program under test and how to judge it.
#[derive(Clone, Debug)]
pub struct HostCommand {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// A run longer than this is a hang.
    pub timeout: Duration,
    /// Exit codes that count as passing (default: any).
    pub expect_exit: Option<Vec<i32>>,
}

impl HostCommand {
    fn judge_exit(&self, code: i32) -> HostOutcome {
        match &self.expect_exit {
            Some(codes) if !codes.contains(&code) => HostOutcome::UnexpectedExit { code },
            _ => HostOutcome::Passed { code },
        }
    }
}

/// One run: its outcome, the card's transcript of it, and the tail of the host's output.
#[derive(Clone, Debug)]
pub struct HostRun {
    /// How it ended.
    pub outcome: HostOutcome,
    /// What crossed the link, as the card saw it.
    pub recording: Vec<ServedLine>,
    /// The last lines the host wrote (stdout and stderr), at most 2 KB.
    pub output_tail: String,
    /// Wall time of the host.
    pub took: Duration,
}

impl HostRun {
    /// APDUs in the recording.
    pub fn apdus(&self) -> usize {
        count_apdus(&self.recording)
    }
}

/// APDUs in a recording.
pub fn count_apdus(recording: &[ServedLine]) -> usize {
    recording
        .iter()
        .filter(|l| matches!(l.event, ServedEvent::Apdu { .. }))
        .count()
}

/// A recording as transcript text (JSON lines), which `kazasu replay --as card` reads.
pub fn recording_text(recording: &[ServedLine]) -> String {
    let mut s = String::new();
    for l in recording {
        s.push_str(&l.emit());
        s.push('\n');
    }
    s
}

fn served(started: Instant, slot: u16, event: &LinkEvent, echoes: &Echoes) -> ServedLine {
    crate::serve::served_line(started, slot, event, echoes)
}

/// How long to wait for pcscd to power a card that entered the field.
const READY_TIMEOUT: Duration = Duration::from_secs(6);
/// pcscd polls vpcd's slots for presence every 400 ms: a card put back sooner after a removal
/// could go unnoticed, and the host would meet the last run's card state.
const PRESENCE_POLL: Duration = Duration::from_millis(450);
/// How much of the host's output is kept.
const OUTPUT_TAIL: usize = 2048;

/// The host could not be run at all (as opposed to a host that ran and failed: a finding).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// pcscd saw the slot but never powered the card.
    #[error(
        "vpcd slot {0}: pcscd never powered the card within {s} s",
        s = READY_TIMEOUT.as_secs()
    )]
    NeverPowered(u16),
    /// Nothing listens on the slot.
    #[error(
        "vpcd slot {0} (port {port}) is not reachable: start pcscd with vpcd (`kazasu stack up`), or choose another --slot",
        port = u32::from(kazasu_sim::vpcd::BASE_PORT) + u32::from(*.0)
    )]
    Unreachable(u16),
    /// No program given.
    #[error("no host command: give it after --, e.g. -- pkcs15-tool --list-certificates")]
    NoCommand,
    /// The program cannot be started or waited for.
    #[error("cannot {doing} `{program}`: {source}")]
    Process {
        /// `start`, `wait for`.
        doing: &'static str,
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Serves `card` on vpcd slot `slot` (in real time, so that slow answers are slow), waits until
/// pcscd has powered it, runs the host, and takes the card away again.
pub fn run_through_pcscd<S: SlotCard + Send + 'static>(
    card: S,
    slot: u16,
    host: &HostCommand,
) -> Result<HostRun, HostError> {
    let started = Instant::now();
    let recording: Arc<Mutex<Vec<ServedLine>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = recording.clone();
    let echoes = Echoes::default();
    let on_event: Arc<dyn Fn(LinkEvent) + Send + Sync> = Arc::new(move |e: LinkEvent| {
        sink.lock()
            .expect("recording lock")
            .push(served(started, slot, &e, &echoes));
    });
    let mut cfg = LinkConfig::slot(slot);
    cfg.pace = Pace::Realtime;
    let (control, handle) = vpcd::spawn(Arc::new(Mutex::new(card)), cfg, on_event);
    let stop_link = || {
        control.set_present(false);
        control.stop();
    };
    // Ready when pcscd asked for the ATR (it powers a card it has just seen, then reads it).
    let ready = loop {
        let seen = recording
            .lock()
            .expect("recording lock")
            .iter()
            .any(|l| matches!(l.event, ServedEvent::GetAtr { .. }));
        if seen {
            break true;
        }
        if started.elapsed() > READY_TIMEOUT {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if !ready {
        stop_link();
        let _ = handle.join();
        let connected = recording
            .lock()
            .expect("recording lock")
            .iter()
            .any(|l| matches!(l.event, ServedEvent::CardInserted { .. }));
        return Err(if connected {
            HostError::NeverPowered(slot)
        } else {
            HostError::Unreachable(slot)
        });
    }
    let result = run_program(host);
    // What crossed while the host ran; the removal that ends the run is not part of it.
    let ran = recording.lock().expect("recording lock").len();
    stop_link();
    let _ = handle.join();
    std::thread::sleep(PRESENCE_POLL);
    let (outcome, output_tail, took) = result?;
    let mut recording = std::mem::take(&mut *recording.lock().expect("recording lock"));
    // After the host ended: an answer still being paced (a slow answer the host gave up on)
    // belongs to the run; the removal that ended it does not.
    let after: Vec<ServedLine> = recording
        .split_off(ran.min(recording.len()))
        .into_iter()
        .filter(|l| matches!(l.event, ServedEvent::Apdu { .. }))
        .collect();
    recording.extend(after);
    Ok(HostRun {
        outcome,
        recording,
        output_tail,
        took,
    })
}

/// Runs the program in its own process group; kills the group at the time-out.
fn run_program(host: &HostCommand) -> Result<(HostOutcome, String, Duration), HostError> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let Some((program, args)) = host.argv.split_first() else {
        return Err(HostError::NoCommand);
    };
    let process = |doing| {
        move |source| HostError::Process {
            doing,
            program: program.clone(),
            source,
        }
    };
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(process("start"))?;
    let tail = Arc::new(Mutex::new(Vec::<u8>::new()));
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        let tail = tail.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut t = tail.lock().expect("output lock");
                t.extend_from_slice(&buf[..n]);
                let excess = t.len().saturating_sub(OUTPUT_TAIL);
                t.drain(..excess);
            }
        })
    })
    .collect();
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= host.timeout => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(process("wait for")(e)),
        }
    };
    let took = started.elapsed();
    // The whole group goes: a host's helpers must not outlive the run.
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    if status.is_none() {
        let _ = child.wait();
    }
    for r in readers {
        // The group is gone, so the pipes close.
        let _ = r.join();
    }
    let output_tail = String::from_utf8_lossy(&tail.lock().expect("output lock")).into_owned();
    let outcome = match status {
        None => HostOutcome::Hung,
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => host.judge_exit(code),
            (None, Some(sig)) => HostOutcome::Crashed {
                signal: nix::sys::signal::Signal::try_from(sig)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|_| format!("signal {sig}")),
            },
            (None, None) => HostOutcome::Crashed {
                signal: "an unknown end".into(),
            },
        },
    };
    Ok((outcome, output_tail, took))
}

/// A host written against kazasu's host API: it drives a card through a [`Backend`] (tap,
/// transmit, remove) and says whether its job succeeded. A panic is a crash.
pub trait InProcessHost: Send + Sync {
    /// One session with the card; `Err` is the host's own failure report (exit code 1).
    fn run(&self, card: Box<dyn Backend>) -> Result<(), String>;
}

/// A scenario case as the host: kazasu's runner drives the card through the case's steps;
/// a failed expectation is the host's failure (exit code 1).
pub struct ScenarioHost {
    /// The case.
    pub case: crate::scenario::suite::Case,
    /// The run's seed.
    pub seed: u64,
}

impl InProcessHost for ScenarioHost {
    fn run(&self, card: Box<dyn Backend>) -> Result<(), String> {
        let card = Mutex::new(Some(card));
        let factory = move |_worker: usize, _model: kazasu_sim::Reader| {
            card.lock()
                .expect("card lock")
                .take()
                .ok_or_else(|| "the served card is used once".to_string())
        };
        let result = crate::run::run_case_on(&self.case, self.seed, 0, &factory, None, false);
        match result.status {
            crate::run::Status::Passed => Ok(()),
            _ => Err(crate::report::failure_text(&result)),
        }
    }
}

/// A served card reached in-process: the runner's [`Backend`] over a vpcd slot card, recording
/// what crosses like the vpcd link does.
pub struct SlotBackend<S: SlotCard> {
    card: S,
    now: SimTime,
    present: bool,
    started: Instant,
    /// What crossed, as the card saw it (shared: a hung host thread keeps the backend).
    pub recording: Arc<Mutex<Vec<ServedLine>>>,
    /// After the time-out the card answers nothing (so a host thread that overran ends).
    deadline: Option<Instant>,
    /// The secrets the host sent, so that an answer echoing one is hidden in the recording.
    echoes: Echoes,
}

impl<S: SlotCard> SlotBackend<S> {
    /// A backend around `card`, out of the field.
    pub fn new(card: S) -> Self {
        SlotBackend {
            card,
            now: SimTime::START,
            present: false,
            started: Instant::now(),
            recording: Arc::new(Mutex::new(Vec::new())),
            deadline: None,
            echoes: Echoes::default(),
        }
    }
    fn record(&self, event: &LinkEvent) {
        let line = served(self.started, 0, event, &self.echoes);
        self.recording.lock().expect("recording lock").push(line);
    }
    fn request(&mut self, request: Request) -> Result<Vec<u8>, LinkError> {
        if !self.present {
            return Err(LinkError::NoCard);
        }
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(LinkError::CardRemoved);
        }
        match self.card.handle(&request) {
            Reply::Send { frame, pace } => {
                self.now += pace;
                let reply = frame[2..].to_vec();
                self.record(&LinkEvent::Exchange {
                    request,
                    reply: reply.clone(),
                    sim_ns: pace.as_nanos(),
                });
                if self.card.leave_after_reply() {
                    self.leave("the card left the field");
                }
                Ok(reply)
            }
            Reply::Nothing => Ok(Vec::new()),
            // In-process there is no driver to tell of a reader's failure: the card leaves, as
            // through vpcd.
            Reply::Close | Reply::ReaderFault(_) => {
                self.record(&LinkEvent::Exchange {
                    request,
                    reply: Vec::new(),
                    sim_ns: 0,
                });
                self.leave("the card left the field during the exchange");
                Err(LinkError::CardRemoved)
            }
        }
    }
    fn leave(&mut self, why: &str) {
        self.present = false;
        self.card.disconnected();
        self.record(&LinkEvent::Disconnected(why.into()));
    }
}

impl<S: SlotCard + Send> Backend for SlotBackend<S> {
    fn tap(&mut self) -> Result<(), LinkError> {
        if self.present {
            return Ok(());
        }
        if self.card.stays_away() {
            return Err(LinkError::NoCard);
        }
        self.card.connected()?;
        self.present = true;
        self.record(&LinkEvent::Connected(vpcd::Via::InProcess));
        self.request(Request::PowerOn)?;
        self.request(Request::GetAtr).map(drop)
    }
    fn remove(&mut self) {
        if self.present {
            self.leave("the host removed the card");
        }
    }
    fn disconnect(&mut self) -> Result<(), LinkError> {
        Ok(())
    }
    fn warm_reset(&mut self) -> Result<(), LinkError> {
        Ok(())
    }
    fn approve(&mut self) -> bool {
        false
    }
    fn wait(&mut self, d: SimDuration) {
        self.now += d;
    }
    fn bit_rate(&self) -> u32 {
        0
    }
    fn uid(&self) -> Vec<u8> {
        Vec::new()
    }
    fn atr(&self) -> Result<Vec<u8>, LinkError> {
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(LinkError::NoCard);
        }
        self.recording
            .lock()
            .expect("recording lock")
            .iter()
            .rev()
            .find_map(|l| match &l.event {
                ServedEvent::GetAtr { atr } => kazasu_sim::parse_hex(atr).ok(),
                _ => None,
            })
            .filter(|_| self.present)
            .ok_or(LinkError::NoCard)
    }
    fn card_name(&self) -> String {
        "served card".into()
    }
    fn missed_faults(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<S: SlotCard + Send> Transport for SlotBackend<S> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Exchange, TransportError> {
        let before = self.now;
        let response = self.request(Request::Apdu(apdu.to_vec()))?;
        Ok(Exchange {
            response,
            duration: self.now.since(before),
        })
    }
    fn now(&self) -> SimTime {
        self.now
    }
}

/// How long after a run's time-out its card stops answering (so that a hung host thread ends).
const CARD_OUTLIVES_VERDICT: Duration = Duration::from_millis(100);

/// Runs an in-process host against `card` on its own thread; a panic is a crash, a run longer
/// than `timeout` a hang (the card stops answering then, so the thread ends soon after).
pub fn run_in_process<S: SlotCard + Send + 'static>(
    card: S,
    host: Arc<dyn InProcessHost>,
    timeout: Duration,
    expect_exit: Option<&[i32]>,
) -> HostRun {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut backend: SlotBackend<S> = SlotBackend::new(card);
    // The card goes dead only after the verdict: a host that waits for the card to leave must
    // not see it leave before kazasu has called the run a hang.
    backend.deadline = Some(deadline + CARD_OUTLIVES_VERDICT);
    let recorded = backend.recording.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| host.run(Box::new(backend))));
        let _ = tx.send(result);
    });
    let judge = |code: i32| match expect_exit {
        Some(codes) if !codes.contains(&code) => HostOutcome::UnexpectedExit { code },
        _ => HostOutcome::Passed { code },
    };
    let (outcome, output_tail) =
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(Ok(()))) => (judge(0), String::new()),
            Ok(Ok(Err(message))) => (judge(1), message),
            Ok(Err(panic)) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into());
                (
                    HostOutcome::Crashed {
                        signal: "panic".into(),
                    },
                    message,
                )
            }
            // The host thread still holds the card; it ends when it next asks for something.
            Err(_) => (HostOutcome::Hung, String::new()),
        };
    let recording = recorded.lock().expect("recording lock").clone();
    HostRun {
        outcome,
        recording,
        output_tail,
        took: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_counts_only_its_apdus_and_reads_back_line_for_line() {
        let text = "{\"event\":\"card_inserted\",\"slot\":1,\"t_ms\":0.5}\n\
                    {\"event\":\"apdu\",\"slot\":1,\"t_ms\":1.0,\"command\":\"00 A4 04 0C\",\"response\":\"\",\"sw\":\"6A82\",\"sim_ns\":1000}\n\
                    {\"event\":\"apdu\",\"slot\":1,\"t_ms\":2.0,\"command\":\"00 B0 00 00 04\",\"response\":\"30 82 06 16\",\"sw\":\"9000\",\"sim_ns\":2000}\n";
        let lines: Vec<ServedLine> = text
            .lines()
            .map(|l| ServedLine::parse(l).expect("a transcript line"))
            .collect();
        assert_eq!(count_apdus(&lines), 2);
        let again: Vec<ServedLine> = recording_text(&lines)
            .lines()
            .map(|l| ServedLine::parse(l).expect("written back readable"))
            .collect();
        assert_eq!(again, lines);
        assert_eq!(
            HostCommand {
                argv: vec!["host".into()],
                timeout: Duration::from_secs(1),
                expect_exit: Some(vec![0]),
            }
            .judge_exit(3),
            HostOutcome::UnexpectedExit { code: 3 }
        );
    }
}

//! The runner: each case in its own deterministic virtual world (a reader with a card), steps
//! executed against the backend, expectations checked, results with per-step simulated time,
//! the APDU/frame transcript and — on failure — the step, what was expected, what happened and
//! the exchanges around it. Cases run in parallel; no retries: a flaky scenario is a bug.

pub mod budget;

use crate::host::flows::{self, Host, ReadMode, apdu};
use crate::link::backend::Backend;
use crate::record::{Event, Transcript};
use crate::scenario::suite::{Case, stable_hash};
use crate::scenario::variables::{self, Var};
use crate::scenario::{
    CardAction, CardExpect, CardStep, OnboardingAction, OnboardingStep, ReadHow, SelectTarget,
    Step, TransportErrorKind,
};
use kazasu_sim::platform::profile::Device;
use kazasu_sim::{
    Card, Command, FaultPlan, Fixtures, LinkError, Reader, Response, Secret, SimDuration,
    StatusWord, hex_spaced,
};
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How a case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every expectation held.
    Passed,
    /// An expectation did not hold.
    Failed,
    /// The case could not run (bad profile, unknown saved value, …).
    Error,
    /// Not run (fail-fast stopped the run).
    Skipped,
    /// Not run: the case is about another kind of reader than the one under test (its
    /// `applies_to`); `note` says what it needs.
    NotApplicable,
}

/// One step's result.
#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    /// 1-based index.
    pub index: usize,
    /// The step's keyword and name.
    pub label: String,
    /// How it ended.
    pub status: Status,
    /// Simulated time it took, nanoseconds.
    pub sim_time_ns: u64,
    /// Transcript entries (APDUs) it produced, as a range of indexes.
    pub apdus: (usize, usize),
}

/// Why a case failed.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// 1-based step index (0: the case as a whole, e.g. its budget).
    pub step: usize,
    /// The step's keyword and name.
    pub label: String,
    /// What was expected.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// The exchanges up to the failure, with their frames.
    pub context: String,
}

/// A case's result.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Scenario file.
    pub file: String,
    /// Card profile.
    pub card: String,
    /// Reader profile.
    pub reader: String,
    /// Tags.
    pub tags: Vec<String>,
    /// How it ended.
    pub status: Status,
    /// The case's seed (derived from the run's seed and the case name unless the scenario fixes it).
    pub seed: u64,
    /// The run's seed: `--seed` with it reproduces the case.
    pub run_seed: u64,
    /// Simulated time of the whole case, nanoseconds.
    pub sim_time_ns: u64,
    /// Wall time, nanoseconds.
    pub wall_time_ns: u64,
    /// Steps.
    pub steps: Vec<StepResult>,
    /// The failure, if any.
    pub failure: Option<Failure>,
    /// Every exchange, secrets redacted.
    pub transcript: Transcript,
    /// Why a case is not applicable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Options of a run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The run's seed; each case derives its own from it and its name.
    pub seed: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Stop starting cases after the first failure.
    pub fail_fast: bool,
    /// Run onboarding steps against this service (`http://host:port`) instead of a fresh
    /// embedded one per case.
    pub target: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 1,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fail_fast: false,
            target: None,
        }
    }
}

/// Puts a case's reader model (with its card) behind a backend, for worker `worker`.
pub type BackendFactory = dyn Fn(usize, Reader) -> Result<Box<dyn Backend>, String> + Sync;

/// The in-process backend: the reader model itself.
pub fn inproc(_worker: usize, reader: Reader) -> Result<Box<dyn Backend>, String> {
    Ok(Box::new(reader))
}

/// Runs cases in parallel in-process; `progress` is called after each case finishes.
pub fn run(
    cases: &[Case],
    opts: &RunOptions,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    run_with(cases, opts, &inproc, progress)
}

/// Runs cases in parallel on the backend `factory` makes; `progress` is called after each case.
pub fn run_with(
    cases: &[Case],
    opts: &RunOptions,
    factory: &BackendFactory,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Vec<std::sync::Mutex<Option<CaseResult>>> =
        cases.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for worker in 0..opts.jobs.max(1).min(cases.len().max(1)) {
            let (next, stop, results) = (&next, &stop, &results);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= cases.len() {
                        break;
                    }
                    let result = if stop.load(Ordering::SeqCst) {
                        skipped(&cases[i], opts.seed)
                    } else {
                        run_case_on(
                            &cases[i],
                            opts.seed,
                            worker,
                            factory,
                            opts.target.as_deref(),
                        )
                    };
                    if opts.fail_fast && matches!(result.status, Status::Failed | Status::Error) {
                        stop.store(true, Ordering::SeqCst);
                    }
                    progress(&result);
                    *results[i]
                        .lock()
                        .expect("no worker panics while holding it") = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("not poisoned")
                .expect("every case ran")
        })
        .collect()
}

/// A case's seed: the scenario's own, or derived from the run's seed and the case's name.
pub fn case_seed(case: &Case, run_seed: u64) -> u64 {
    case.scenario
        .seed
        .unwrap_or_else(|| stable_hash(&case.name) ^ run_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn blank(case: &Case, seed: u64, run_seed: u64, status: Status) -> CaseResult {
    // A case that only talks to the onboarding service uses no card and no reader.
    // Commissioning reads the case's card through its reader: such a case uses both.
    let service_only = !case.scenario.steps.is_empty()
        && case.scenario.steps.iter().all(|s| {
            matches!(s, Step::Onboarding(o) if !matches!(o.action, OnboardingAction::Commission))
        });
    let (card, reader) = if service_only {
        ("onboarding".to_string(), "-".to_string())
    } else {
        (case.card.name.clone(), case.reader.name.clone())
    };
    CaseResult {
        name: case.name.clone(),
        file: case.file.clone(),
        card,
        reader,
        tags: case.scenario.tags.clone(),
        status,
        seed,
        run_seed,
        sim_time_ns: 0,
        wall_time_ns: 0,
        steps: Vec::new(),
        failure: None,
        transcript: Transcript::default(),
        note: None,
    }
}

fn skipped(case: &Case, run_seed: u64) -> CaseResult {
    blank(case, case_seed(case, run_seed), run_seed, Status::Skipped)
}

/// What a step produced.
#[derive(Default)]
struct Outcome {
    sw: Option<StatusWord>,
    data: Vec<u8>,
    error: Option<LinkError>,
    /// An answer without a status word (fewer than 2 bytes).
    malformed: Option<Vec<u8>>,
    /// A check the step makes itself (a signature that does not verify, a UID that did not change).
    own_check: Option<(String, String)>,
    /// The data holds a secret the case sent: reports never show it.
    data_secret: bool,
}

/// Why an APDU got no response to check.
enum SendError {
    /// The link failed (no card, removal, no answer, …).
    Link(LinkError),
    /// The answer had no status word.
    Malformed(Vec<u8>),
}

impl Outcome {
    fn not_answered(e: SendError) -> Self {
        match e {
            SendError::Link(e) => Outcome {
                error: Some(e),
                ..Outcome::default()
            },
            SendError::Malformed(bytes) => Outcome {
                malformed: Some(bytes),
                ..Outcome::default()
            },
        }
    }
    fn response(r: Response) -> Self {
        Outcome {
            sw: Some(r.sw),
            data: r.data,
            ..Outcome::default()
        }
    }
    /// [`Outcome::response`], with data that may hold a secret.
    fn answered(r: Response, w: &World) -> Self {
        let data_secret = w.holds_secret(&r.data);
        Outcome {
            data_secret,
            ..Outcome::response(r)
        }
    }
}

struct World {
    reader: Box<dyn Backend>,
    device: Device,
    secrets: BTreeMap<String, Secret<String>>,
    saved: HashMap<String, Vec<u8>>,
    uids: HashMap<String, Vec<u8>>,
    transcript: Transcript,
    rng: rand_chacha::ChaCha8Rng,
    /// The onboarding service, opened at the case's first onboarding step.
    onboarding: Option<crate::onboarding::client::Session>,
    /// `--target`, or `None` for an embedded service.
    target: Option<String>,
    /// The embedded service's calendar day.
    today: Option<kazasu_onboarding::program::Day>,
    /// The case's reader profile's name (commissioning reads through it: the account must have
    /// ordered that product).
    reader_profile: String,
    /// Whether the case injects faults.
    has_faults: bool,
    /// Secrets the case has sent to the card: an answer that echoes one is never shown.
    sent_secrets: Vec<Secret<String>>,
}

/// Runs one case in-process.
pub fn run_case(case: &Case, run_seed: u64) -> CaseResult {
    run_case_on(case, run_seed, 0, &inproc, None)
}

/// Why the card on a physical reader is not the case's card (`None`: it is, or the reader's
/// generic ATR cannot tell).
fn other_card(
    backend: &dyn crate::link::backend::Backend,
    profile: &kazasu_sim::CardProfile,
) -> Option<String> {
    let on_reader = backend.atr().ok()?;
    if on_reader == kazasu_sim::reader::profile::GENERIC_ATR {
        return None;
    }
    let expected = match &profile.atr {
        Some(own) => own.value.0.clone(),
        None => kazasu_sim::iso14443::atr::pcsc_contactless_atr(profile),
    };
    (on_reader != expected).then(|| {
        format!(
            "needs the card `{}` (ATR {}); the reader holds a card with ATR {}",
            profile.name,
            hex::encode_upper(&expected),
            hex::encode_upper(&on_reader)
        )
    })
}

/// Runs one case on a backend.
pub fn run_case_on(
    case: &Case,
    run_seed: u64,
    worker: usize,
    factory: &BackendFactory,
    target: Option<&str>,
) -> CaseResult {
    let started = Instant::now();
    let seed = case_seed(case, run_seed);
    let mut result = blank(case, seed, run_seed, Status::Passed);
    let error = |mut r: CaseResult, message: String| {
        r.status = Status::Error;
        r.failure = Some(Failure {
            step: 0,
            label: "set-up".into(),
            expected: "a runnable case".into(),
            actual: message,
            context: String::new(),
        });
        r
    };
    if let Some(why) = case
        .scenario
        .applies_to
        .as_ref()
        .and_then(|a| a.unmet(&case.reader))
    {
        result.status = Status::NotApplicable;
        result.note = Some(why);
        return result;
    }
    let fixtures = Fixtures::embedded();
    let subject = match case.scenario.identity.as_deref() {
        Some(id) => match fixtures.subject(id) {
            Ok(s) => s,
            Err(e) => return error(result, e),
        },
        None => fixtures.default_subject(),
    };
    let device = case.card.device;
    let card = match Card::new(case.card.clone(), subject.clone(), seed) {
        Ok(c) => c,
        Err(e) => return error(result, e.to_string()),
    };
    let faults = FaultPlan::new(
        case.scenario.faults.clone(),
        rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xFA17),
    );
    let mut model = Reader::new(case.reader.clone(), card, faults);
    model.set_max_bit_rate(case.scenario.bit_rate);
    let reader = match factory(worker, model) {
        Ok(b) => b,
        Err(e) => return error(result, e),
    };
    if !reader.injects_faults() {
        // A card on a physical reader: faults cannot be given to it, and a case about another
        // card does not apply to it (told by the ATR, unless the reader's ATR is generic).
        if !case.scenario.faults.is_empty() {
            result.status = Status::NotApplicable;
            result.note = Some(
                "needs faults injected, which a card on a physical reader cannot be given".into(),
            );
            return result;
        }
        if let Some(why) = other_card(&*reader, &case.card) {
            result.status = Status::NotApplicable;
            result.note = Some(why);
            return result;
        }
    }
    let mut secrets = BTreeMap::new();
    let pins = &subject.identity.pins;
    for (name, pin) in [
        ("auth_pin", &pins.auth),
        ("sign_pin", &pins.sign),
        ("card_info_pin", &pins.card_info),
    ] {
        // A physical card has its own PINs: the operator gives them as KAZASU_SECRET_AUTH_PIN
        // and so on; the test identity's would be wrong PINs to it.
        let own = (!reader.injects_faults())
            .then(|| std::env::var(format!("KAZASU_SECRET_{}", name.to_ascii_uppercase())).ok())
            .flatten();
        secrets.insert(
            name.to_string(),
            own.map_or_else(|| pin.clone(), Secret::new),
        );
    }
    secrets.extend(case.scenario.secrets.clone());
    let mut world = World {
        reader,
        device,
        secrets,
        saved: HashMap::new(),
        uids: HashMap::new(),
        transcript: Transcript::default(),
        rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x0A0CE),
        onboarding: None,
        target: target.map(str::to_string),
        reader_profile: case.reader.name.clone(),
        has_faults: !case.scenario.faults.is_empty(),
        sent_secrets: Vec::new(),
        today: match case
            .scenario
            .today
            .as_deref()
            .map(kazasu_onboarding::program::Day::parse)
        {
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => return error(result, format!("today: {e}")),
            None => None,
        },
    };
    let start = world.reader.now();
    let mut frames_on_air = 0usize;
    for (i, step) in case.scenario.steps.iter().enumerate() {
        let label = match step.name() {
            Some(n) => format!("{} ({n})", step.keyword()),
            None => step.keyword().to_string(),
        };
        let t0 = world.reader.now();
        let first_apdu = world.transcript.entries.len();
        let outcome = match step {
            Step::Card(step) => world.card_step(step),
            Step::Onboarding(step) => world.onboarding_step(step),
        };
        let took = world.reader.now().since(t0);
        let apdus = (first_apdu, world.transcript.entries.len());
        frames_on_air += world.transcript.entries[first_apdu..]
            .iter()
            .map(|e| e.frames.len())
            .sum::<usize>();
        let over_budget = budget::crossed(
            frames_on_air,
            world.transcript.entries.len(),
            world.reader.now().since(start),
        );
        let outcome = match over_budget {
            Some(why) => Err(why),
            None => outcome,
        };
        let verdict = match (outcome, step) {
            (Ok(o), Step::Card(step)) => {
                let save = match &step.action {
                    CardAction::ReadFile(r) => r.save.as_ref().or(step.save.as_ref()),
                    _ => step.save.as_ref(),
                };
                if let (Some(name), true) =
                    (save, o.error.is_none() && o.sw.is_some_and(|sw| sw.is_ok()))
                {
                    world.saved.insert(name.clone(), o.data.clone());
                }
                check(step, &o, took, &world).map_err(|(e, a)| (Status::Failed, e, a))
            }
            (Ok(o), Step::Onboarding(_)) => match o.own_check {
                Some((e, a)) => Err((Status::Failed, e, a)),
                None => Ok(()),
            },
            (Err(message), _) => Err((Status::Error, "a step that can run".to_string(), message)),
        };
        let status = if verdict.is_ok() {
            Status::Passed
        } else {
            verdict.as_ref().err().map_or(Status::Failed, |v| v.0)
        };
        result.steps.push(StepResult {
            index: i + 1,
            label: label.clone(),
            status,
            sim_time_ns: took.as_nanos(),
            apdus,
        });
        if let Err((status, expected, actual)) = verdict {
            result.status = status;
            result.failure = Some(Failure {
                step: i + 1,
                label,
                expected,
                actual,
                context: context(&world.transcript, apdus.1),
            });
            break;
        }
    }
    let total = world.reader.now().since(start);
    let missed = world.reader.missed_faults();
    world.reader.finish();
    if result.status == Status::Passed && !missed.is_empty() {
        result.status = Status::Error;
        result.failure = Some(Failure {
            step: 0,
            label: "faults".into(),
            expected: "every fault at a precise point to strike".into(),
            actual: format!(
                "never struck: {} — the case has fewer taps, exchanges or frames than the fault names",
                missed.join("; ")
            ),
            context: String::new(),
        });
    }
    if result.status == Status::Passed
        && let Some(b) = &case.scenario.budget
        && total > b.total.0
    {
        result.status = Status::Failed;
        result.failure = Some(Failure {
            step: 0,
            label: "budget".into(),
            expected: format!("the case within {} of simulated time", b.total.0),
            actual: format!("it took {total}"),
            context: String::new(),
        });
    }
    result.sim_time_ns = total.as_nanos();
    result.wall_time_ns = started.elapsed().as_nanos() as u64;
    result.transcript = world.transcript;
    result
}

/// The secret `name`: from the scenario (or the identity's PINs), else from the environment
/// variable `KAZASU_SECRET_<NAME>` (how imported scenarios get PINs the capture had).
fn lookup_secret(
    secrets: &BTreeMap<String, Secret<String>>,
    name: &str,
) -> Result<Secret<String>, String> {
    if let Some(v) = secrets.get(name) {
        return Ok(v.clone());
    }
    let var = format!("KAZASU_SECRET_{}", name.to_ascii_uppercase());
    std::env::var(&var).map(Secret::new).map_err(|_| {
        format!(
            "no secret `{name}`: give it in the scenario's `secrets` or as the environment variable {var}; known: {}",
            secrets.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// Substitutes `${secrets.X}` into text (PINs, onboarding fields); any other variable is an
/// error.
fn expand_text(
    secrets: &BTreeMap<String, Secret<String>>,
    template: &str,
) -> Result<String, String> {
    variables::substitute(template, variables::place::TEXT, |var| match var {
        Var::Secret(name) => Ok(lookup_secret(secrets, name)?.expose().clone()),
        _ => unreachable!("only secrets are allowed in text"),
    })
}

/// Commissioning's first read, in the case's world: the case's card (a phone, as a rule) through
/// the case's reader — which must be the product the account ordered — with the case's faults,
/// seed and PIN.
fn first_read(
    reader: &mut dyn Backend,
    transcript: &mut Transcript,
    rng: &mut rand_chacha::ChaCha8Rng,
    device: Device,
    case_reader: &str,
    ordered: &str,
    pin: &Secret<String>,
) -> Result<Result<String, String>, String> {
    if case_reader != ordered {
        return Err(format!(
            "commissioning reads through the case's reader `{case_reader}`, but the account ordered a `{ordered}` reader: give the case `reader: {ordered}`"
        ));
    }
    let mut nonce = vec![0u8; 32];
    rng.fill_bytes(&mut nonce);
    crate::onboarding::commission::read_through(reader, transcript, device, pin, &nonce, ordered)
}

/// The last few exchanges before `end`, with their frames.
fn context(t: &Transcript, end: usize) -> String {
    let from = end.saturating_sub(4);
    let slice = Transcript {
        entries: t.entries[from..end].to_vec(),
    };
    format!("{slice:#}")
}

/// The bytes of a command the runner built.
fn encode(cmd: Command<'_>) -> Result<Vec<u8>, String> {
    cmd.to_vec()
        .map_err(|e| format!("the command cannot be encoded: {e}"))
}

fn parse_fid(f: &str) -> Result<[u8; 2], String> {
    u16::from_str_radix(f, 16)
        .map(u16::to_be_bytes)
        .map_err(|_| format!("`{f}` is not a file id (4 hex digits)"))
}

impl World {
    /// Substitutes `${secrets.X}` (ASCII bytes) and `${saved.X}` into hex; tells whether a
    /// secret went in.
    fn expand(&self, template: &str) -> Result<(Vec<u8>, bool), String> {
        let mut secret = false;
        let out = variables::substitute(template, variables::place::HEX, |var| match var {
            Var::Secret(name) => {
                secret = true;
                Ok(hex::encode(self.secret(name)?.expose().as_bytes()))
            }
            Var::Saved(name) => {
                let value = self
                    .saved
                    .get(name)
                    .ok_or_else(|| format!("nothing was saved as `{name}` before this step"))?;
                // Data saved from an answer that echoed a secret is a secret too.
                secret |= self.holds_secret(value);
                Ok(hex::encode(value))
            }
            Var::Account => unreachable!("not allowed in hex"),
        })?;
        kazasu_sim::parse_hex(&out).map(|b| (b, secret))
    }

    fn secret(&self, name: &str) -> Result<Secret<String>, String> {
        lookup_secret(&self.secrets, name)
    }

    /// A PIN given as text, possibly with `${secrets.X}`.
    fn text_secret(&self, text: &str) -> Result<Secret<String>, String> {
        self.expand_text(text).map(Secret::new)
    }

    /// Whether `data` holds a secret this case sent (3 bytes or longer: shorter values would
    /// hide answers by coincidence).
    fn holds_secret(&self, data: &[u8]) -> bool {
        self.sent_secrets.iter().any(|s| {
            let s = s.expose().as_bytes();
            s.len() >= 3 && data.windows(s.len()).any(|w| w == s)
        })
    }

    fn send(&mut self, apdu: &[u8], secret: bool) -> Result<Response, SendError> {
        if secret {
            // Which of the case's secrets went into the command: an answer may echo them.
            let sent: Vec<Secret<String>> = self
                .secrets
                .values()
                .filter(|v| {
                    let b = v.expose().as_bytes();
                    !b.is_empty() && apdu.windows(b.len()).any(|w| w == b)
                })
                .cloned()
                .collect();
            self.sent_secrets.extend(sent);
        }
        match self.reader.transmit(apdu) {
            Ok(t) => {
                let r = match Response::parse(&t.response) {
                    Ok(r) => r,
                    Err(_) => {
                        let frames = self.reader.last_frames();
                        self.transcript.record_event(
                            Event::Malformed {
                                response: t.response.clone(),
                            },
                            t.duration,
                            &frames,
                        );
                        return Err(SendError::Malformed(t.response));
                    }
                };
                self.transcript.record_with(
                    apdu,
                    secret,
                    &r.data,
                    r.sw,
                    t.duration,
                    &self.reader.last_frames(),
                );
                if self.holds_secret(&r.data) {
                    self.transcript.hide_last_response();
                }
                Ok(r)
            }
            Err(e) => {
                let frames = self.reader.last_frames();
                let took = match (frames.first(), frames.last()) {
                    (Some(a), Some(b)) => b.end.since(a.start),
                    _ => SimDuration::ZERO,
                };
                self.transcript
                    .record_error(apdu, secret, &e, took, &frames);
                Err(SendError::Link(e))
            }
        }
    }

    /// Sends, and stops the step at a transport error or a status other than 90 00.
    fn send_step(&mut self, apdu: &[u8], secret: bool) -> Result<Response, Outcome> {
        match self.send(apdu, secret) {
            Ok(r) if r.sw.is_ok() => Ok(r),
            Ok(r) => Err(Outcome::answered(r, self)),
            Err(e) => Err(Outcome::not_answered(e)),
        }
    }

    fn link(&mut self, r: Result<(), LinkError>) -> Outcome {
        match r {
            Ok(()) => Outcome::default(),
            Err(e) => Outcome {
                error: Some(e),
                ..Outcome::default()
            },
        }
    }

    fn expand_text(&self, template: &str) -> Result<String, String> {
        expand_text(&self.secrets, template)
    }

    fn onboarding_step(&mut self, step: &OnboardingStep) -> Result<Outcome, String> {
        use crate::onboarding::client::{MODELLED_RESPONSE_TIME, Session};
        let session = match self.onboarding.take() {
            Some(s) => s,
            None => match &self.target {
                Some(url) => Session::remote(url, self.today)?,
                None => Session::local(self.today)?,
            },
        };
        let session = self.onboarding.insert(session);
        if matches!(step.action, OnboardingAction::Commission)
            && self.has_faults
            && !session.is_local()
        {
            return Err("a --target service commissions with its own phone and reader: the case's faults cannot reach that read; run the case without --target".into());
        }
        if step.expect.within.is_some() && !session.is_local() {
            return Err("`within` on an onboarding step is simulated time, which only the in-process service keeps; a --target service answers in wall time".into());
        }
        let t0 = self.reader.now();
        session.set_clock(t0.since(kazasu_sim::SimTime::START).as_nanos() / 1_000_000_000);
        let secrets = &self.secrets;
        let expand = |t: &str| expand_text(secrets, t);
        let (reader, transcript, rng) = (&mut self.reader, &mut self.transcript, &mut self.rng);
        let (device, case_reader) = (self.device, self.reader_profile.as_str());
        let mut read = |ordered: &str| {
            let pin = lookup_secret(secrets, "auth_pin")?;
            first_read(
                &mut **reader,
                transcript,
                rng,
                device,
                case_reader,
                ordered,
                &pin,
            )
        };
        let report = session.run(&step.action, &step.expect, &expand, &mut read)?;
        self.reader.wait(SimDuration::from_nanos(
            MODELLED_RESPONSE_TIME.as_nanos() as u64
        ));
        let took = self.reader.now().since(t0);
        self.transcript
            .record_event(Event::Onboarding(report.line), took, &[]);
        let own_check = report.failure.or_else(|| match step.expect.within {
            Some(limit) if took > limit.0 => Some((
                format!("the step within {}", limit.0),
                format!("it took {took}"),
            )),
            _ => None,
        });
        Ok(Outcome {
            own_check,
            ..Outcome::default()
        })
    }

    fn card_step(&mut self, step: &CardStep) -> Result<Outcome, String> {
        Ok(match &step.action {
            CardAction::Tap => {
                let t0 = self.reader.now();
                let r = self.reader.tap();
                let took = self.reader.now().since(t0);
                let what = match &r {
                    Ok(()) => Event::Tap {
                        kbps: self.reader.bit_rate(),
                    },
                    Err(e) => Event::TapFailed(*e),
                };
                self.transcript
                    .record_event(what, took, &self.reader.last_frames());
                self.link(r)
            }
            CardAction::Remove => {
                self.reader.remove();
                Outcome::default()
            }
            CardAction::Approve => {
                if !self.reader.approve() {
                    return Err(format!(
                        "`approve`: the card profile `{}` has no phone approval",
                        self.reader.card_name()
                    ));
                }
                Outcome::default()
            }
            CardAction::Deselect => {
                let t0 = self.reader.now();
                let r = self.reader.disconnect();
                let took = self.reader.now().since(t0);
                self.transcript
                    .record_event(Event::Deselect, took, &self.reader.last_frames());
                self.link(r)
            }
            CardAction::Wait(d) => {
                self.reader.wait(d.0);
                Outcome::default()
            }
            CardAction::Apdu(t) => {
                let (bytes, secret) = self.expand(t)?;
                if bytes.len() > kazasu_sim::iso7816::apdu::MAX_COMMAND_LEN {
                    return Err(format!(
                        "the command is {} bytes; no APDU is longer than {} (an extended case 4 \
                         with 65,535 data bytes)",
                        bytes.len(),
                        kazasu_sim::iso7816::apdu::MAX_COMMAND_LEN
                    ));
                }
                self.apdu_outcome(&bytes, secret)
            }
            CardAction::Select(target) => {
                let (aid, p2) = match target {
                    SelectTarget::Jpki => (kazasu_sim::applets::jpki::AID.to_vec(), 0x0C),
                    SelectTarget::CardInfo => (kazasu_sim::applets::card_info::AID.to_vec(), 0x0C),
                    SelectTarget::Readertest => {
                        (kazasu_sim::applets::readertest::PACKAGE_AID.to_vec(), 0x00)
                    }
                    SelectTarget::Aid(hex) => (self.expand(hex)?.0, 0x0C),
                };
                let cmd = encode(apdu::select_aid(&aid, p2))?;
                self.apdu_outcome(&cmd, false)
            }
            CardAction::SelectEf(fid) => {
                let cmd = encode(apdu::select_ef(&parse_fid(fid)?))?;
                self.apdu_outcome(&cmd, false)
            }
            CardAction::ReadFile(r) => self.read_file(&r.ef, r.how)?,
            CardAction::VerifyPin(v) => {
                let select = encode(apdu::select_ef(&parse_fid(&v.ef)?))?;
                if let Err(o) = self.send_step(&select, false) {
                    return Ok(o);
                }
                match &v.pin {
                    Some(pin) => {
                        let pin = self.text_secret(pin)?;
                        let cmd = encode(apdu::verify(pin.expose().as_bytes()))?;
                        self.apdu_outcome(&cmd, true)
                    }
                    None => self.apdu_outcome(&encode(apdu::retry_counter())?, false),
                }
            }
            CardAction::Sign(g) => {
                let select = encode(apdu::select_ef(&parse_fid(&g.key)?))?;
                if let Err(o) = self.send_step(&select, false) {
                    return Ok(o);
                }
                let message = if g.digest_of == "nonce" {
                    let mut n = vec![0u8; 32];
                    self.rng.fill_bytes(&mut n);
                    n
                } else {
                    self.expand(&g.digest_of)?.0
                };
                let di = flows::digest_info_sha256(&message);
                let cmd = encode(apdu::sign(&di))?;
                let mut o = self.apdu_outcome(&cmd, false);
                if let (Some(cert), Some(sw)) = (&g.verify_with, o.sw)
                    && sw.is_ok()
                {
                    let der = self
                        .saved
                        .get(cert)
                        .ok_or_else(|| format!("nothing was saved as `{cert}` to verify with"))?;
                    if !flows::signature_verifies(der, &message, &o.data)? {
                        o.own_check = Some((
                            format!("a signature that verifies with `{cert}`"),
                            "a signature that does not verify".into(),
                        ));
                    }
                }
                o
            }
            CardAction::JpkiAuthFlow(a) => {
                if self.device == Device::Iphone && a.approve != Some(false) {
                    self.reader.approve();
                }
                let pin = self.text_secret(a.pin.as_deref().unwrap_or("${secrets.auth_pin}"))?;
                let mut nonce = vec![0u8; 32];
                self.rng.fill_bytes(&mut nonce);
                let mode = match a.how {
                    ReadHow::Extended => ReadMode::Extended,
                    _ => ReadMode::Chunked,
                };
                let device = self.device;
                let mut host = Host::new(&mut *self.reader);
                let result = flows::jpki_auth_flow(&mut host, device, &pin, &nonce, mode);
                let t = std::mem::take(&mut host.transcript);
                self.transcript.extend(t);
                match result {
                    Ok(out) => {
                        let mut o = Outcome {
                            sw: Some(StatusWord::OK),
                            data: out.signature.clone(),
                            ..Outcome::default()
                        };
                        if !flows::signature_verifies(&out.certificate, &nonce, &out.signature)? {
                            o.own_check = Some((
                                "a signature that verifies with the certificate read".into(),
                                "one that does not".into(),
                            ));
                        }
                        o
                    }
                    Err(flows::FlowError::Status { sw, .. }) => Outcome {
                        sw: Some(sw),
                        ..Outcome::default()
                    },
                    Err(flows::FlowError::Transport { source, .. }) => Outcome {
                        error: Some(source),
                        ..Outcome::default()
                    },
                    Err(e) => return Err(e.to_string()),
                }
            }
            CardAction::Atr => {
                let atr = self
                    .reader
                    .atr()
                    .map_err(|e| format!("no ATR to read: {e} (tap the card first)"))?;
                Outcome {
                    data: atr,
                    ..Outcome::default()
                }
            }
            CardAction::Uid(u) => {
                let uid = self.reader.uid();
                let mut o = Outcome {
                    data: uid.clone(),
                    ..Outcome::default()
                };
                if let Some(name) = &u.differs_from {
                    let old = self
                        .uids
                        .get(name)
                        .ok_or_else(|| format!("no UID remembered as `{name}`"))?;
                    if *old == uid {
                        o.own_check = Some((
                            format!("a UID other than `{name}` ({})", hex_spaced(old)),
                            format!("the same UID {}", hex_spaced(&uid)),
                        ));
                    }
                }
                if let Some(name) = &u.same_as {
                    let old = self
                        .uids
                        .get(name)
                        .ok_or_else(|| format!("no UID remembered as `{name}`"))?;
                    if *old != uid {
                        o.own_check = Some((
                            format!("the UID `{name}` ({})", hex_spaced(old)),
                            format!("UID {}", hex_spaced(&uid)),
                        ));
                    }
                }
                if let Some(name) = &u.save {
                    self.uids.insert(name.clone(), uid);
                }
                o
            }
        })
    }

    fn apdu_outcome(&mut self, cmd: &[u8], secret: bool) -> Outcome {
        match self.send(cmd, secret) {
            Ok(r) => Outcome::answered(r, self),
            Err(e) => Outcome::not_answered(e),
        }
    }

    fn read_file(&mut self, ef: &str, how: ReadHow) -> Result<Outcome, String> {
        let fid = parse_fid(ef)?;
        let header = if how == ReadHow::Sfi {
            encode(apdu::read_header(Some(fid[1])))?
        } else {
            if let Err(o) = self.send_step(&encode(apdu::select_ef(&fid))?, false) {
                return Ok(o);
            }
            encode(apdu::read_header(None))?
        };
        let mut data = match self.send_step(&header, false) {
            Ok(r) => r.data,
            Err(o) => return Ok(o),
        };
        let total = match flows::der_total_length(&data) {
            Ok(t) => t,
            Err(m) => {
                return Ok(Outcome {
                    sw: Some(StatusWord::OK),
                    data,
                    own_check: Some(("a DER header".into(), m)),
                    ..Outcome::default()
                });
            }
        };
        while data.len() < total {
            let off = data.len();
            let rest = total - off;
            let cmd = apdu::read_at(off, rest, how == ReadHow::Extended)
                .map_err(|e| format!("the file declares {total} bytes: {e}"))?;
            let bytes = encode(cmd)?;
            match self.send_step(&bytes, false) {
                Ok(r) if r.data.is_empty() => {
                    return Ok(Outcome {
                        sw: Some(r.sw),
                        data,
                        own_check: Some(("the rest of the file".into(), "an empty answer".into())),
                        ..Outcome::default()
                    });
                }
                Ok(r) => data.extend_from_slice(&r.data),
                Err(o) => return Ok(o),
            }
        }
        data.truncate(total);
        Ok(Outcome {
            sw: Some(StatusWord::OK),
            data,
            ..Outcome::default()
        })
    }
}

fn kind_matches(kind: TransportErrorKind, e: LinkError) -> bool {
    matches!(
        (kind, e),
        (TransportErrorKind::Any, _)
            | (TransportErrorKind::CardRemoved, LinkError::CardRemoved)
            | (TransportErrorKind::NoAnswer, LinkError::NoAnswer)
            | (TransportErrorKind::NoCard, LinkError::NoCard)
            | (TransportErrorKind::TooManyWtx, LinkError::TooManyWtx)
            | (TransportErrorKind::Collision, LinkError::Collision)
            | (
                TransportErrorKind::ExtendedApduUnsupported,
                LinkError::ExtendedApduUnsupported
            )
    )
}

fn describe(o: &Outcome) -> String {
    match (&o.error, o.sw) {
        (Some(e), _) => format!("transport error: {e}"),
        (None, Some(sw)) if o.data.is_empty() => format!("SW {sw} ({})", sw.name()),
        (None, Some(sw)) if o.data_secret => format!(
            "SW {sw} ({}) with {} bytes ** (they hold a secret the case sent)",
            sw.name(),
            o.data.len()
        ),
        (None, Some(sw)) => format!(
            "SW {sw} ({}) with {} bytes {}",
            sw.name(),
            o.data.len(),
            short_hex(&o.data)
        ),
        (None, None) => "no response (not an APDU step)".into(),
    }
}

fn short_hex(d: &[u8]) -> String {
    if d.len() <= 24 {
        hex_spaced(d)
    } else {
        format!("{} …", hex_spaced(&d[..24]))
    }
}

fn check(
    step: &CardStep,
    o: &Outcome,
    took: SimDuration,
    w: &World,
) -> Result<(), (String, String)> {
    let e = &step.expect;
    if let Some(bytes) = &o.malformed {
        return Err((
            "a response with a status word".into(),
            format!(
                "{} bytes without one: {}",
                bytes.len(),
                if bytes.is_empty() {
                    "(nothing)".to_string()
                } else {
                    hex_spaced(bytes)
                }
            ),
        ));
    }
    if let Some(kind) = e.transport_error {
        return match o.error {
            Some(err) if kind_matches(kind, err) => within(e, took),
            _ => Err((format!("a transport error ({kind:?})"), describe(o))),
        };
    }
    if let Some(err) = o.error {
        let wanted = match &e.sw {
            Some(sw) => format!(
                "SW {}",
                sw.0.iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            None => "the step to complete".into(),
        };
        return Err((wanted, format!("transport error: {err}")));
    }
    if let Some((expected, actual)) = &o.own_check {
        return Err((expected.clone(), actual.clone()));
    }
    let patterns = match &e.sw {
        Some(sw) => Some(sw.0.clone()),
        None if step.action.wants_ok() => Some(vec![
            crate::scenario::SwPattern::parse("9000").expect("valid"),
        ]),
        None => None,
    };
    if let (Some(patterns), Some(sw)) = (&patterns, o.sw)
        && !patterns.iter().any(|p| p.matches(sw))
    {
        let wanted = patterns
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        return Err((format!("SW {wanted}"), describe(o)));
    }
    let expand = |t: &str| w.expand(t).map_err(|m| (t.to_string(), m));
    // An expected value made from a secret is shown as the template, never as its bytes.
    let shown = |t: &str, want: &[u8], secret: bool| {
        if secret {
            format!("*** ({t})")
        } else {
            short_hex(want)
        }
    };
    if let Some(d) = &e.data {
        let (want, secret) = expand(d)?;
        if want != o.data {
            return Err((format!("data {}", shown(d, &want, secret)), describe(o)));
        }
    }
    if let Some(d) = &e.data_prefix {
        let (want, secret) = expand(d)?;
        if !o.data.starts_with(&want) {
            return Err((
                format!("data starting {}", shown(d, &want, secret)),
                describe(o),
            ));
        }
    }
    if let Some(r) = &e.data_regex {
        let re = regex::Regex::new(r).map_err(|x| (r.clone(), x.to_string()))?;
        if !re.is_match(&hex::encode_upper(&o.data)) {
            return Err((format!("data matching /{r}/"), describe(o)));
        }
    }
    if let Some(n) = e.data_len
        && o.data.len() != n
    {
        return Err((format!("{n} bytes of data"), describe(o)));
    }
    within(e, took)
}

fn within(e: &CardExpect, took: SimDuration) -> Result<(), (String, String)> {
    match e.within {
        Some(limit) if took > limit.0 => Err((
            format!("the step within {}", limit.0),
            format!("it took {took}"),
        )),
        _ => Ok(()),
    }
}

/// Simulated time of a result as a duration.
pub fn sim_time(r: &CaseResult) -> SimDuration {
    SimDuration::from_nanos(r.sim_time_ns)
}

/// Wall time of a result as a duration.
pub fn wall_time(r: &CaseResult) -> Duration {
    Duration::from_nanos(r.wall_time_ns)
}

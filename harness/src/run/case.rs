//! One case from set-up to result: the world built from its profiles, identity and faults, the
//! steps run in order against the budget, the verdict of each, and what is left to check at the
//! end (faults that never struck, the case's time budget).

use super::budget;
use super::error::StepError;
use super::expect::check;

use super::result::{CaseResult, Failure, Status, StepResult, blank};
use super::world::{World, context};
use crate::link::backend::Backend;
use crate::pcapng::tap::{SharedCapture, Tap};
use crate::record::Transcript;
use crate::scenario::suite::{Case, stable_hash};
use crate::scenario::{CardAction, Mismatch, Step};
use kazasu_sim::{Card, FaultPlan, Fixtures, Reader, Secret};
use rand_core::SeedableRng;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// Puts a case's reader model (with its card) behind a backend, for worker `worker`.
pub type BackendFactory = dyn Fn(usize, Reader) -> Result<Box<dyn Backend>, String> + Sync;

/// The in-process backend: the reader model itself.
pub fn inproc(_worker: usize, reader: Reader) -> Result<Box<dyn Backend>, String> {
    Ok(Box::new(reader))
}

/// A case's seed: the scenario's own, or derived from the run's seed and the case's name.
pub fn case_seed(case: &Case, run_seed: u64) -> u64 {
    case.scenario
        .seed
        .unwrap_or_else(|| stable_hash(&case.name) ^ run_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Runs one case in-process.
pub fn run_case(case: &Case, run_seed: u64) -> CaseResult {
    run_case_on(case, run_seed, 0, &inproc, None, false)
}

/// Why the card on a physical reader is not the case's card (`None`: it is, or the reader's
/// generic ATR cannot tell).
pub(super) fn other_card(
    backend: &dyn Backend,
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
    capture: bool,
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
    let subject = match Fixtures::embedded().subject_or_default(case.scenario.identity.as_deref()) {
        Ok(s) => s,
        Err(e) => return error(result, e.to_string()),
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
    let identity = &subject.identity;
    let pins = &identity.pins;
    for (name, pin) in [
        ("auth_pin", pins.auth.clone()),
        ("sign_pin", pins.sign.clone()),
        ("card_info_pin", pins.card_info.clone()),
        ("juki_pin", pins.juki().clone()),
        ("common_pin", pins.common().clone()),
        // The card-face AP's keys: 照合番号A, 照合番号B and the era birth date.
        ("my_number", identity.my_number.clone()),
        ("check_code_b", identity.check_code_b()),
        ("birth_date_key", identity.birth_era_yymmdd()),
    ] {
        // A physical card has its own PINs: the operator gives them as KAZASU_SECRET_AUTH_PIN
        // and so on; the test identity's would be wrong PINs to it.
        let own = (!reader.injects_faults())
            .then(|| std::env::var(format!("KAZASU_SECRET_{}", name.to_ascii_uppercase())).ok())
            .flatten();
        secrets.insert(name.to_string(), own.map_or(pin, Secret::new));
    }
    secrets.extend(case.scenario.secrets.clone());
    // With a capture, a listening post between the case and its backend (secrets kept out).
    let listening = capture.then(SharedCapture::default);
    let reader = match &listening {
        Some(c) => {
            let known = secrets.values().map(|s| s.expose().as_bytes().to_vec());
            Box::new(Tap::new(reader, c.clone(), known.collect())) as Box<dyn Backend>
        }
        None => reader,
    };
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
        if let Some(c) = &listening {
            let mark = format!("{}, step {}: {label}", case.name, i + 1);
            c.lock().expect("capture lock").mark(mark);
        }
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
            Some(why) => Err(StepError::OverBudget(why)),
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
                check(step, &o, took, &world).map_err(|m| (Status::Failed, m))
            }
            (Ok(o), Step::Onboarding(_)) => match o.own_check {
                Some(m) => Err((Status::Failed, m)),
                None => Ok(()),
            },
            (Err(StepError::ReaderUnreachable(why)), _) => Err((
                Status::NotApplicable,
                Mismatch::new("a reader that control requests reach", why),
            )),
            (Err(e), _) => Err((
                Status::Error,
                Mismatch::new("a step that can run", e.to_string()),
            )),
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
        if let Err((Status::NotApplicable, Mismatch { actual, .. })) = verdict {
            result.status = Status::NotApplicable;
            result.note = Some(actual);
            break;
        }
        if let Err((status, Mismatch { expected, actual })) = verdict {
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
    result.capture = listening.map(|c| std::mem::take(&mut *c.lock().expect("capture lock")));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::cases;

    #[test]
    fn a_scenario_seed_wins_and_otherwise_each_case_gets_its_own() {
        let c = cases(
            "- name: a\n  steps: [tap]\n- name: b\n  steps: [tap]\n- name: c\n  seed: 42\n  steps: [tap]\n",
        );
        assert_ne!(case_seed(&c[0], 1), case_seed(&c[1], 1));
        assert_ne!(case_seed(&c[0], 1), case_seed(&c[0], 2));
        assert_eq!((case_seed(&c[2], 1), case_seed(&c[2], 2)), (42, 42));
    }

    #[test]
    fn a_case_that_cannot_be_set_up_is_an_error_at_set_up() {
        let c = cases("- name: a\n  identity: nobody-of-that-name\n  steps: [tap]\n");
        let r = run_case(&c[0], 1);
        assert_eq!(r.status, Status::Error);
        let f = r.failure.expect("a failure");
        assert_eq!((f.step, f.label.as_str()), (0, "set-up"));
        assert!(f.actual.contains("nobody-of-that-name"), "{}", f.actual);
    }

    #[test]
    fn a_case_for_another_reader_is_not_applicable_and_runs_no_step() {
        let c = cases("- name: a\n  applies_to: { reader: fast-848k }\n  steps: [tap]\n");
        let r = run_case(&c[0], 1);
        assert_eq!(r.status, Status::NotApplicable);
        assert!(r.note.is_some_and(|n| n.contains("fast-848k")));
        assert!(r.steps.is_empty() && r.transcript.entries.is_empty());
    }

    #[test]
    fn a_fault_that_never_strikes_makes_the_case_an_error() {
        let c = cases(
            "- name: a\n  faults:\n    - { when: { exchange: 9 }, do: frame_lost }\n  steps: [tap, { select: jpki }]\n",
        );
        let r = run_case(&c[0], 1);
        assert_eq!(r.status, Status::Error);
        assert_eq!(r.failure.expect("failure").label, "faults");
    }
}

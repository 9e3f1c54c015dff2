//! Suites: scenario files loaded from paths or from the bundled conformance suite, checked with
//! errors that point at file:line:column and say how to fix them, expanded into cases, and
//! selected with filters, tags and deterministic partitions.

use crate::scenario::variables;
use crate::scenario::{CardAction, OnboardingAction, Scenario, Step, SwPattern};
use kazasu_sim::{CardProfile, ReaderProfile};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

macro_rules! bundled_suite {
    ($($path:literal),* $(,)?) => {
        /// The bundled conformance suite: (path under `scenarios/`, YAML text).
        pub const BUNDLED: &[(&str, &str)] = &[
            $(($path, include_str!(concat!("../../../scenarios/", $path)))),*
        ];
    };
}

bundled_suite!(
    "conformance/auth-flow.yaml",
    "conformance/sign-flow.yaml",
    "conformance/status-words.yaml",
    "conformance/pin.yaml",
    "conformance/smartphones.yaml",
    "conformance/transport.yaml",
    "conformance/faults.yaml",
    "conformance/readertest.yaml",
    "conformance/commissioning.yaml",
    "conformance/fidelity.yaml",
);

/// A problem with scenario input, located as precisely as the input allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// File (or `bundled:PATH`).
    pub file: String,
    /// 1-based line and column, when known.
    pub at: Option<(u64, u64)>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// One runnable case: a scenario with its matrix values filled in and its profiles resolved,
/// once, at expansion. Everything downstream (runner, reports, coverage, certification) takes
/// the loaded profiles from here and never reloads one: a profile's identity is its `name:`,
/// the path in `scenario.card` / `scenario.reader` only says where it was read from.
#[derive(Clone, Debug)]
pub struct Case {
    /// Display name: the scenario name plus the matrix values (profiles by their `name:`).
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// The scenario, with `card`, `reader` and `bit_rate` set for this case.
    pub scenario: Scenario,
    /// The card profile, loaded.
    pub card: Arc<CardProfile>,
    /// The reader profile, loaded.
    pub reader: Arc<ReaderProfile>,
}

/// Profiles that replace every case's own (`--card`, `--reader`), loaded once by the caller.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Every case's card.
    pub card: Option<Arc<CardProfile>>,
    /// Every case's reader.
    pub reader: Option<Arc<ReaderProfile>>,
}

impl Overrides {
    /// No override: each case keeps its own profiles.
    pub const NONE: Overrides = Overrides {
        card: None,
        reader: None,
    };

    /// Every case on `reader` (a reader under test).
    pub fn reader(reader: Arc<ReaderProfile>) -> Overrides {
        Overrides {
            card: None,
            reader: Some(reader),
        }
    }
}

/// Parses the text of a scenario file.
pub fn parse(text: &str, file: &str) -> Result<Vec<Scenario>, InputError> {
    // A UTF-8 byte-order mark (some Windows editors write one) is not part of the YAML.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---");
    let list = first.is_some_and(|l| l.starts_with('-') || l.starts_with('['));
    let result = if list {
        serde_saphyr::from_str::<Vec<Scenario>>(text)
    } else {
        serde_saphyr::from_str::<Scenario>(text).map(|s| vec![s])
    };
    result.map_err(|e| {
        let at = e.location().map(|l| (l.line(), l.column()));
        let message = e.to_string();
        let mut message = message
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_string();
        // The location is shown as file:line:column already.
        if let Some(rest) = message
            .strip_prefix("line ")
            .and_then(|r| r.split_once(": "))
            .map(|(_, m)| m.to_string())
        {
            message = rest;
        }
        InputError {
            file: file.to_string(),
            at,
            hint: hint_for(&message),
            message,
        }
    })
}

fn hint_for(message: &str) -> Option<String> {
    let h = if message.contains("unknown field") {
        "check the spelling; `kazasu schema` prints every field an editor can complete"
    } else if message.contains("missing field") {
        "add the field; `kazasu schema` lists the required ones"
    } else if message.contains("it checks only") || message.contains("they check only") {
        "remove the field, or move it to a step that can check it; `kazasu schema` shows what each kind of step checks"
    } else if message.contains("unknown variant") {
        "use one of the listed words"
    } else if message.contains("duration") {
        "write durations like 350ms, 1.5s or 800us"
    } else {
        "see the scenario format in README.md, or validate in an editor with scenarios/schema.json"
    };
    Some(h.to_string())
}

/// Loads a card profile by built-in name or YAML path (relative paths first against `base`).
pub fn card_profile(spec: &str, base: Option<&Path>) -> Result<CardProfile, String> {
    if is_path(spec) {
        let path = resolve(spec, base);
        let text = crate::files::read_text(&path, crate::files::SMALL_YAML)
            .map_err(|e| format!("card profile: {e}"))?;
        CardProfile::from_yaml(&text, &path.display().to_string()).map_err(|e| e.to_string())
    } else {
        CardProfile::builtin(spec).map_err(|e| e.to_string())
    }
}

/// Loads a reader profile by built-in name or YAML path (relative paths first against `base`).
pub fn reader_profile(spec: &str, base: Option<&Path>) -> Result<ReaderProfile, String> {
    if is_path(spec) {
        let path = resolve(spec, base);
        let text = crate::files::read_text(&path, crate::files::SMALL_YAML)
            .map_err(|e| format!("reader profile: {e}"))?;
        ReaderProfile::from_yaml(&text, &path.display().to_string()).map_err(|e| e.to_string())
    } else {
        ReaderProfile::builtin(spec).map_err(|e| e.to_string())
    }
}

/// Whether a profile reference is a path rather than a built-in name.
pub fn is_path(spec: &str) -> bool {
    spec.ends_with(".yaml") || spec.ends_with(".yml") || spec.contains('/')
}

fn resolve(spec: &str, base: Option<&Path>) -> PathBuf {
    match base {
        Some(dir) if Path::new(spec).is_relative() && dir.join(spec).exists() => dir.join(spec),
        _ => PathBuf::from(spec),
    }
}

fn check_hex_template(t: &str) -> Result<(), String> {
    let rest = variables::without_vars(t, variables::place::HEX)?;
    let compact: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.len().is_multiple_of(2) || !compact.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("`{t}` is not hex bytes"));
    }
    Ok(())
}

fn check_text(t: &str, allowed: &[variables::Kind]) -> Result<(), String> {
    variables::parse(t, allowed).map(|_| ())
}

fn check_json_text(v: &serde_json::Value) -> Result<(), String> {
    match v {
        serde_json::Value::String(s) => check_text(s, variables::place::TEXT),
        serde_json::Value::Array(a) => a.iter().try_for_each(check_json_text),
        serde_json::Value::Object(o) => o.values().try_for_each(check_json_text),
        _ => Ok(()),
    }
}

/// Checks the templates of an onboarding step: secrets in form fields and bodies, `${account}`
/// in an `http` path, nothing else anywhere.
fn check_onboarding(action: &OnboardingAction) -> Result<(), String> {
    use variables::place::{PATH, TEXT};
    match action {
        OnboardingAction::Register(r) => [
            &r.name,
            &r.postal_code,
            &r.contact_email,
            &r.business_type,
            &r.verification,
            &r.invitation_code,
            &r.corporate_number,
        ]
        .into_iter()
        .flatten()
        .try_for_each(|t| check_text(t, TEXT)),
        OnboardingAction::Website(w) => w.url.iter().try_for_each(|t| check_text(t, TEXT)),
        OnboardingAction::Order(o) => [Some(&o.product), o.account.as_ref()]
            .into_iter()
            .flatten()
            .try_for_each(|t| check_text(t, &[])),
        OnboardingAction::AccountStatus(a) => a.iter().try_for_each(|t| check_text(t, &[])),
        OnboardingAction::Commission => Ok(()),
        OnboardingAction::Http(h) => {
            check_text(&h.path, PATH)?;
            check_text(&h.method, &[])?;
            if let Some(b) = &h.body {
                check_text(b, TEXT)?;
            }
            h.json.iter().try_for_each(check_json_text)
        }
    }
}

fn check_fid(f: &str) -> Result<(), String> {
    if f.len() == 4 && f.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!(
            "`{f}` is not a file id: write 4 hex digits, e.g. \"000A\""
        ))
    }
}

/// The longest `wait` a step may ask for: 30 simulated days.
pub const MAX_WAIT: kazasu_sim::SimDuration =
    kazasu_sim::SimDuration::from_millis(30 * 24 * 3600 * 1000);

/// The most cases one scenario's matrix may expand to: a bound on memory and time, far above any
/// real matrix (the bundled ones expand to at most 6).
pub const MAX_CASES_PER_SCENARIO: usize = 1_000;

/// A matrix names each value once and expands to at most [`MAX_CASES_PER_SCENARIO`] cases.
fn check_matrix(m: &super::Matrix) -> Result<(), (String, &'static str)> {
    fn once<T: PartialEq + std::fmt::Display>(
        dim: &str,
        values: &[T],
    ) -> Result<(), (String, &'static str)> {
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                return Err((
                    format!("matrix.{dim} lists `{v}` twice"),
                    "list each value once: a repeated value would run the same case twice under one name",
                ));
            }
        }
        Ok(())
    }
    once("card", &m.card)?;
    once("reader", &m.reader)?;
    once("bit_rate", &m.bit_rate)?;
    let cases = [m.card.len(), m.reader.len(), m.bit_rate.len()]
        .iter()
        .fold(1usize, |n, len| n.saturating_mul((*len).max(1)));
    if cases > MAX_CASES_PER_SCENARIO {
        return Err((
            format!("the matrix expands to {cases} cases, more than {MAX_CASES_PER_SCENARIO}"),
            "split the scenario, or narrow the matrix with --card / --reader on the command line",
        ));
    }
    Ok(())
}

/// What in a scenario file a check's error is about, so that the error can point at its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Name,
    Matrix,
    Card,
    Reader,
    BitRate,
    Fault(usize),
    Steps,
    Step(usize),
}

/// Checks what parsing cannot: profiles exist, hex is hex, faults make sense, names unique.
/// The error has no line (see [`check_located`]).
pub fn check(scenarios: &[Scenario], file: &str) -> Result<(), InputError> {
    check_parts(scenarios, file).map_err(|(_, e)| e)
}

/// [`check`] for scenarios parsed from `text`: the error points at the line and column of what
/// it is about (the step, the fault, the profile name, the matrix …).
pub fn check_located(scenarios: &[Scenario], file: &str, text: &str) -> Result<(), InputError> {
    check_parts(scenarios, file).map_err(|((index, part), mut e)| {
        e.at = locate(text, index, part);
        e
    })
}

/// Where each part of each scenario of `text` is, read again with spans.
fn locate(text: &str, index: usize, part: Part) -> Option<(u64, u64)> {
    use serde_saphyr::Spanned;
    type At = Option<Spanned<serde::de::IgnoredAny>>;
    #[derive(serde::Deserialize)]
    struct Parts {
        #[serde(default)]
        name: At,
        #[serde(default)]
        matrix: Option<Spanned<MatrixParts>>,
        #[serde(default)]
        card: At,
        #[serde(default)]
        reader: At,
        #[serde(default)]
        bit_rate: At,
        #[serde(default)]
        faults: Vec<Spanned<serde::de::IgnoredAny>>,
        #[serde(default)]
        steps: Option<Spanned<Vec<Spanned<serde::de::IgnoredAny>>>>,
    }
    #[derive(serde::Deserialize)]
    struct MatrixParts {
        #[serde(default)]
        card: At,
        #[serde(default)]
        reader: At,
        #[serde(default)]
        bit_rate: At,
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let list = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .is_some_and(|l| l.starts_with('-') || l.starts_with('['));
    let all: Vec<Parts> = if list {
        serde_saphyr::from_str(text).ok()?
    } else {
        vec![serde_saphyr::from_str(text).ok()?]
    };
    let p = all.into_iter().nth(index)?;
    let m = p.matrix.as_ref();
    let at = |s: &Spanned<serde::de::IgnoredAny>| (s.referenced.line(), s.referenced.column());
    let in_matrix = |pick: fn(&MatrixParts) -> &At| m.and_then(|m| pick(&m.value).as_ref());
    let found = match part {
        Part::Name => p.name.as_ref().map(at),
        Part::Matrix => m.map(|m| (m.referenced.line(), m.referenced.column())),
        Part::Card => in_matrix(|m| &m.card).or(p.card.as_ref()).map(at),
        Part::Reader => in_matrix(|m| &m.reader).or(p.reader.as_ref()).map(at),
        Part::BitRate => in_matrix(|m| &m.bit_rate).or(p.bit_rate.as_ref()).map(at),
        Part::Fault(k) => p.faults.get(k).map(at),
        Part::Steps => p
            .steps
            .as_ref()
            .map(|s| (s.referenced.line(), s.referenced.column())),
        Part::Step(k) => p.steps.as_ref().and_then(|s| s.value.get(k)).map(at),
    };
    found.or_else(|| p.name.as_ref().map(at))
}

type Located = ((usize, Part), InputError);

fn check_parts(scenarios: &[Scenario], file: &str) -> Result<(), Located> {
    let base = Path::new(file).parent();
    let mut names = std::collections::HashSet::new();
    for (index, s) in scenarios.iter().enumerate() {
        let err = |part: Part, message: String, hint: &str| {
            (
                (index, part),
                InputError {
                    file: file.to_string(),
                    at: None,
                    message: format!("scenario `{}`: {message}", s.name),
                    hint: Some(hint.to_string()),
                },
            )
        };
        if !names.insert(&s.name) {
            return Err(err(
                Part::Name,
                "the name is used twice in this file".into(),
                "give each scenario its own name",
            ));
        }
        let m = s.matrix.clone().unwrap_or_default();
        check_matrix(&m).map_err(|(message, hint)| err(Part::Matrix, message, hint))?;
        let cards = if m.card.is_empty() {
            vec![s.card.clone()]
        } else {
            m.card.clone()
        };
        let readers = if m.reader.is_empty() {
            vec![s.reader.clone()]
        } else {
            m.reader.clone()
        };
        for c in &cards {
            card_profile(c, base).map_err(|e| {
                err(
                    Part::Card,
                    e,
                    "name a built-in card profile (`kazasu profiles`) or a YAML file",
                )
            })?;
        }
        for r in &readers {
            reader_profile(r, base).map_err(|e| {
                err(
                    Part::Reader,
                    e,
                    "name a built-in reader profile (`kazasu profiles`) or a YAML file",
                )
            })?;
        }
        for rate in s.bit_rate.iter().chain(&m.bit_rate) {
            if ![106, 212, 424, 848].contains(rate) {
                return Err(err(
                    Part::BitRate,
                    format!("bit rate {rate}"),
                    "bit rates are 106, 212, 424 or 848",
                ));
            }
        }
        for (k, f) in s.faults.iter().enumerate() {
            f.check().map_err(|e| {
                err(
                    Part::Fault(k),
                    format!("fault: {e}"),
                    "see the fault examples in README.md",
                )
            })?;
        }
        if s.steps.is_empty() {
            return Err(err(
                Part::Steps,
                "no steps".into(),
                "add steps, e.g. `- tap`",
            ));
        }
        // Names a step saves, in order: `${saved.X}` and `verify_with` need an earlier step
        // that saves X, or the case could only fail when run.
        let mut saved: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for (i, step) in s.steps.iter().enumerate() {
            let at = |m: String| {
                err(
                    Part::Step(i),
                    format!("step {} ({}): {m}", i + 1, step.keyword()),
                    "fix the step",
                )
            };
            if let Step::Card(card) = step {
                let unsaved = |name: &str| {
                    format!(
                        "`{name}` is used before any step saves it: add `save: {name}` to an \
                         earlier step (a read_file, apdu or select), or correct the name"
                    )
                };
                for t in card_hex_templates(card) {
                    for part in variables::parse(t, variables::place::HEX).unwrap_or_default() {
                        if let variables::Part::Var(variables::Var::Saved(name)) = part
                            && !saved.contains(name)
                        {
                            return Err(at(unsaved(&format!("${{saved.{name}}}"))));
                        }
                    }
                }
                if let CardAction::Sign(g) = &card.action
                    && let Some(cert) = &g.verify_with
                    && !saved.contains(cert.as_str())
                {
                    return Err(at(unsaved(cert)));
                }
                let file_save = match &card.action {
                    CardAction::ReadFile(r) => r.save.as_deref(),
                    _ => None,
                };
                saved.extend(file_save.into_iter().chain(card.save.as_deref()));
            }
            let step = match step {
                Step::Card(step) => step,
                Step::Onboarding(step) => {
                    check_onboarding(&step.action).map_err(at)?;
                    continue;
                }
            };
            match &step.action {
                CardAction::Wait(d) if d.0 > MAX_WAIT => {
                    return Err(at(format!(
                        "wait of {} is longer than {} (the simulated clock would saturate)",
                        d.0, MAX_WAIT
                    )));
                }
                CardAction::Apdu(t) => check_hex_template(t).map_err(at)?,
                CardAction::SelectEf(f) => check_fid(f).map_err(at)?,
                CardAction::ReadFile(r) => check_fid(&r.ef).map_err(at)?,
                CardAction::VerifyPin(v) => {
                    check_fid(&v.ef).map_err(at)?;
                    if let Some(pin) = &v.pin {
                        check_text(pin, variables::place::TEXT).map_err(at)?;
                    }
                }
                CardAction::JpkiAuthFlow(a) => {
                    if let Some(pin) = &a.pin {
                        check_text(pin, variables::place::TEXT).map_err(at)?;
                    }
                }
                CardAction::Sign(g) => {
                    check_fid(&g.key).map_err(at)?;
                    if g.digest_of != "nonce" {
                        check_hex_template(&g.digest_of).map_err(at)?;
                    }
                }
                CardAction::Select(crate::scenario::SelectTarget::Aid(a)) => {
                    check_hex_template(a).map_err(at)?
                }
                _ => {}
            }
            let e = &step.expect;
            for t in [&e.data, &e.data_prefix].into_iter().flatten() {
                check_hex_template(t).map_err(at)?;
            }
            if let Some(r) = &e.data_regex {
                regex::Regex::new(r).map_err(|x| at(format!("data_regex: {x}")))?;
            }
        }
    }
    Ok(())
}

/// The profiles of one matrix dimension: the override alone, or each spec the scenario names
/// (its matrix, else its own), loaded once per file (`loaded` caches them by spec).
fn dimension<P>(
    override_with: Option<&Arc<P>>,
    name: impl Fn(&P) -> String,
    own: &str,
    matrix: &[String],
    loaded: &mut Vec<(String, Arc<P>)>,
    load: impl Fn(&str) -> Result<P, InputError>,
) -> Result<Vec<(String, Arc<P>)>, InputError> {
    if let Some(p) = override_with {
        return Ok(vec![(name(p), p.clone())]);
    }
    let specs: Vec<String> = if matrix.is_empty() {
        vec![own.to_string()]
    } else {
        matrix.to_vec()
    };
    let mut out = Vec::new();
    for spec in specs {
        let p = match loaded.iter().find(|(k, _)| *k == spec) {
            Some((_, p)) => p.clone(),
            None => {
                let p = Arc::new(load(&spec)?);
                loaded.push((spec.clone(), p.clone()));
                p
            }
        };
        out.push((spec, p));
    }
    Ok(out)
}

/// Every case of `files` (as [`load`] returns them), expanded with `overrides`; two cases of
/// one name are an error (two profiles with one `name:` in a matrix are one product).
pub fn expand_all(
    files: &[(String, Vec<Scenario>)],
    overrides: &Overrides,
) -> Result<Vec<Case>, InputError> {
    let mut all = Vec::new();
    for (file, scenarios) in files {
        all.extend(expand(scenarios, file, overrides)?);
    }
    let mut seen = std::collections::HashSet::new();
    for c in &all {
        if !seen.insert(c.name.as_str()) {
            return Err(InputError {
                file: c.file.clone(),
                at: None,
                message: format!("two cases are named `{}`", c.name),
                hint: Some(
                    "scenario names must be unique in a run; two profiles with one `name:` in a \
                     matrix are one product to kazasu"
                        .into(),
                ),
            });
        }
    }
    Ok(all)
}

/// The hex templates of a card step that may use `${saved.…}`: its command, AID, data to sign
/// and expected data.
fn card_hex_templates(step: &crate::scenario::CardStep) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    match &step.action {
        CardAction::Apdu(t) => out.push(t),
        CardAction::Select(crate::scenario::SelectTarget::Aid(a)) => out.push(a),
        CardAction::Sign(g) if g.digest_of != "nonce" => out.push(&g.digest_of),
        _ => {}
    }
    out.extend(
        [&step.expect.data, &step.expect.data_prefix]
            .into_iter()
            .flatten()
            .map(String::as_str),
    );
    out
}

/// Expands scenarios into cases (matrix combinations), each with its profiles loaded once
/// (paths relative to the scenario file's folder first), or replaced by `overrides`.
pub fn expand(
    scenarios: &[Scenario],
    file: &str,
    overrides: &Overrides,
) -> Result<Vec<Case>, InputError> {
    let base = Path::new(file).parent();
    let mut cards_loaded: Vec<(String, Arc<CardProfile>)> = Vec::new();
    let mut readers_loaded: Vec<(String, Arc<ReaderProfile>)> = Vec::new();
    let fail = |s: &Scenario, e: String| InputError {
        file: file.to_string(),
        at: None,
        message: format!("scenario `{}`: {e}", s.name),
        hint: Some("name a built-in profile (`kazasu profiles`) or a YAML file".into()),
    };
    let mut out = Vec::new();
    for s in scenarios {
        let m = s.matrix.clone().unwrap_or_default();
        let cards = dimension(
            overrides.card.as_ref(),
            |c: &CardProfile| c.name.clone(),
            &s.card,
            &m.card,
            &mut cards_loaded,
            |spec| card_profile(spec, base).map_err(|e| fail(s, e)),
        )?;
        let readers = dimension(
            overrides.reader.as_ref(),
            |r: &ReaderProfile| r.name.clone(),
            &s.reader,
            &m.reader,
            &mut readers_loaded,
            |spec| reader_profile(spec, base).map_err(|e| fail(s, e)),
        )?;
        let rates: Vec<Option<u32>> = if m.bit_rate.is_empty() {
            vec![s.bit_rate]
        } else {
            m.bit_rate.iter().map(|r| Some(*r)).collect()
        };
        for (card_spec, card) in &cards {
            for (reader_spec, reader) in &readers {
                for rate in &rates {
                    let mut scenario = s.clone();
                    scenario.card = card_spec.clone();
                    scenario.reader = reader_spec.clone();
                    scenario.bit_rate = *rate;
                    scenario.matrix = None;
                    let mut dims = Vec::new();
                    if cards.len() > 1 || overrides.card.is_some() {
                        dims.push(format!("card={}", card.name));
                    }
                    if readers.len() > 1 || overrides.reader.is_some() {
                        dims.push(format!("reader={}", reader.name));
                    }
                    if rates.len() > 1 {
                        dims.push(format!("bit_rate={}", rate.unwrap_or(0)));
                    }
                    let name = if dims.is_empty() {
                        s.name.clone()
                    } else {
                        format!("{} [{}]", s.name, dims.join(", "))
                    };
                    out.push(Case {
                        name,
                        file: file.to_string(),
                        scenario,
                        card: card.clone(),
                        reader: reader.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// A deterministic shard of the suite: `count:K/N` (every N-th case from the K-th) or
/// `hash:K/N` (by a stable hash of the case name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// By position.
    Count(u32, u32),
    /// By name hash.
    Hash(u32, u32),
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a partition: write count:K/N or hash:K/N with 1 ≤ K ≤ N (e.g. hash:2/4)"
            )
        };
        let (kind, rest) = s.split_once(':').unwrap_or(("count", s));
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        match kind {
            "count" => Ok(Partition::Count(k, n)),
            "hash" => Ok(Partition::Hash(k, n)),
            _ => Err(bad()),
        }
    }
}

/// FNV-1a: stable across platforms and releases (unlike the std hasher).
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Selection of cases.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Substrings of the case name (any matches).
    pub filters: Vec<String>,
    /// Tags (any matches).
    pub tags: Vec<String>,
    /// A shard.
    pub partition: Option<Partition>,
}

impl Selection {
    /// The selected cases, in order.
    pub fn apply(&self, cases: Vec<Case>) -> Vec<Case> {
        let picked: Vec<Case> = cases
            .into_iter()
            .filter(|c| {
                self.filters.is_empty() || self.filters.iter().any(|f| c.name.contains(f.as_str()))
            })
            .filter(|c| {
                self.tags.is_empty() || c.scenario.tags.iter().any(|t| self.tags.contains(t))
            })
            .collect();
        match self.partition {
            None => picked,
            Some(Partition::Count(k, n)) => picked
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i as u32 % n == k - 1)
                .map(|(_, c)| c)
                .collect(),
            Some(Partition::Hash(k, n)) => picked
                .into_iter()
                .filter(|c| stable_hash(&c.name) % u64::from(n) == u64::from(k - 1))
                .collect(),
        }
    }
}

/// Loads scenario files: the bundled suite when `paths` is empty; folders are searched for
/// `*.yaml` files (sorted; `*.data.yaml` files are data, not scenarios). Every file is parsed and checked; the first problem is returned.
pub fn load(paths: &[PathBuf]) -> Result<Vec<(String, Vec<Scenario>)>, InputError> {
    let mut out = Vec::new();
    if paths.is_empty() {
        for (path, text) in BUNDLED {
            let file = format!("scenarios/{path}");
            let scenarios = parse(text, &file)?;
            check_located(&scenarios, &file, text)?;
            out.push((file, scenarios));
        }
        return Ok(out);
    }
    for p in paths {
        let files = if p.is_dir() {
            let mut v: Vec<PathBuf> = walk(p).map_err(|e| InputError {
                file: p.display().to_string(),
                at: None,
                message: format!("cannot read the folder: {e}"),
                hint: None,
            })?;
            v.sort();
            v
        } else {
            vec![p.clone()]
        };
        for f in files {
            let file = f.display().to_string();
            let text =
                crate::files::read_text(&f, crate::files::SCENARIOS).map_err(|e| InputError {
                    file: file.clone(),
                    at: None,
                    message: e,
                    hint: Some("give a scenario file or a folder of them".into()),
                })?;
            let scenarios = parse(&text, &file)?;
            check_located(&scenarios, &file, &text)?;
            out.push((file, scenarios));
        }
    }
    Ok(out)
}

fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && !path.to_string_lossy().ends_with(".data.yaml")
        {
            // `*.data.yaml` beside scenarios is what a service reads (onboarding program and
            // registry), not scenarios.
            out.push(path);
        }
    }
    Ok(out)
}

/// Status-word patterns parse (re-exported for tests).
pub fn sw_pattern(text: &str) -> Result<SwPattern, String> {
    SwPattern::parse(text)
}

#[cfg(test)]
mod bom_tests {
    #[test]
    fn a_byte_order_mark_before_a_list_of_scenarios_is_ignored() {
        let text = "\u{feff}- name: one\n  steps: [tap]\n- name: two\n  steps: [tap]\n";
        let scenarios = super::parse(text, "bom.yaml").unwrap();
        assert_eq!(scenarios.len(), 2);
    }
}

//! Checking a scenario before it runs — the same checks for `validate` and `run`: hex templates
//! and their variables (saved names used before any step saves them), file ids, waits, matrix
//! sizes, onboarding fields — each error located at its file:line:column.
use super::error::InputError;
use crate::profiles::{card_profile, reader_profile};
use crate::scenario::variables::{self, VariableError};
use crate::scenario::{CardAction, OnboardingAction, Scenario, Step, SwPattern};
use std::path::Path;

/// A value a step writes that cannot be what it stands for.
#[derive(Debug, thiserror::Error)]
pub(super) enum ValueError {
    /// Its `${…}` variables.
    #[error(transparent)]
    Variable(#[from] VariableError),
    /// Hex that is not whole bytes.
    #[error("`{0}` is not hex bytes")]
    NotHex(String),
    /// A saved name used before any step saves it.
    #[error(
        "`{written}` is used before any step saves it: add `save: {name}` to an earlier step (a \
         read_file, apdu or select), or correct the name"
    )]
    Unsaved {
        /// As the step writes it (`${saved.cert}`, or `cert` in `verify_with`).
        written: String,
        /// The name.
        name: String,
    },
    /// A wait the simulated clock cannot take.
    #[error("wait of {0} is longer than {MAX_WAIT} (the simulated clock would saturate)")]
    WaitTooLong(kazasu_sim::SimDuration),
    /// An expected-data pattern that is no regular expression.
    #[error("data_regex: {0}")]
    Regex(#[from] regex::Error),
    /// A file id that is not 4 hex digits.
    #[error("`{0}` is not a file id: write 4 hex digits, e.g. \"000A\"")]
    NotFileId(String),
}

pub(super) fn check_hex_template(t: &str) -> Result<(), ValueError> {
    let rest = variables::without_vars(t, variables::place::HEX)?;
    let compact: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.len().is_multiple_of(2) || !compact.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ValueError::NotHex(t.to_owned()));
    }
    Ok(())
}

pub(super) fn check_text(t: &str, allowed: &'static [variables::Kind]) -> Result<(), ValueError> {
    Ok(variables::parse(t, allowed).map(|_| ())?)
}

pub(super) fn check_json_text(v: &serde_json::Value) -> Result<(), ValueError> {
    match v {
        serde_json::Value::String(s) => check_text(s, variables::place::TEXT),
        serde_json::Value::Array(a) => a.iter().try_for_each(check_json_text),
        serde_json::Value::Object(o) => o.values().try_for_each(check_json_text),
        _ => Ok(()),
    }
}

/// Checks the templates of an onboarding step: secrets in form fields and bodies, `${account}`
/// in an `http` path, nothing else anywhere.
pub(super) fn check_onboarding(action: &OnboardingAction) -> Result<(), ValueError> {
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

pub(super) fn check_fid(f: &str) -> Result<(), ValueError> {
    if f.len() == 4 && f.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ValueError::NotFileId(f.to_owned()))
    }
}

/// The longest `wait` a step may ask for: 30 simulated days.
pub const MAX_WAIT: kazasu_sim::SimDuration =
    kazasu_sim::SimDuration::from_millis(30 * 24 * 3600 * 1000);

/// The most cases one scenario's matrix may expand to: a bound on memory and time, far above any
/// real matrix (the bundled ones expand to at most 6).
pub const MAX_CASES_PER_SCENARIO: usize = 1_000;

/// A matrix names each value once and expands to at most [`MAX_CASES_PER_SCENARIO`] cases.
pub(super) fn check_matrix(m: &crate::scenario::Matrix) -> Result<(), (String, &'static str)> {
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
pub(super) enum Part {
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
pub(super) fn locate(text: &str, index: usize, part: Part) -> Option<(u64, u64)> {
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
        serde_saphyr::from_str_with_options(text, super::yaml::yaml_options(text.len())).ok()?
    } else {
        vec![
            serde_saphyr::from_str_with_options(text, super::yaml::yaml_options(text.len()))
                .ok()?,
        ]
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

pub(super) type Located = ((usize, Part), InputError);

pub(super) fn check_parts(scenarios: &[Scenario], file: &str) -> Result<(), Located> {
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
                    e.to_string(),
                    "name a built-in card profile (`kazasu profiles`) or a YAML file",
                )
            })?;
        }
        for r in &readers {
            reader_profile(r, base).map_err(|e| {
                err(
                    Part::Reader,
                    e.to_string(),
                    "name a built-in reader profile (`kazasu profiles`) or a YAML file",
                )
            })?;
        }
        for rate in s.bit_rate.iter().chain(&m.bit_rate) {
            if kazasu_sim::BitRate::from_kbps(*rate).is_err() {
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
            let at = |m: ValueError| {
                err(
                    Part::Step(i),
                    format!("step {} ({}): {m}", i + 1, step.keyword()),
                    "fix the step",
                )
            };
            if let Step::Card(card) = step {
                let unsaved = |written: String, name: &str| ValueError::Unsaved {
                    written,
                    name: name.to_owned(),
                };
                for t in card_hex_templates(card) {
                    for part in variables::parse(t, variables::place::HEX).unwrap_or_default() {
                        if let variables::Part::Var(variables::Var::Saved(name)) = part
                            && !saved.contains(name)
                        {
                            return Err(at(unsaved(format!("${{saved.{name}}}"), name)));
                        }
                    }
                }
                if let CardAction::Sign(g) = &card.action
                    && let Some(cert) = &g.verify_with
                    && !saved.contains(cert.as_str())
                {
                    return Err(at(unsaved(cert.clone(), cert)));
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
                    return Err(at(ValueError::WaitTooLong(d.0)));
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
                regex::Regex::new(r).map_err(|x| at(x.into()))?;
            }
        }
    }
    Ok(())
}

/// The hex templates of a card step that may use `${saved.…}`: its command, AID, data to sign
/// and expected data.
pub(super) fn card_hex_templates(step: &crate::scenario::CardStep) -> Vec<&str> {
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

/// Status-word patterns parse (re-exported for tests).
pub fn sw_pattern(text: &str) -> Result<SwPattern, crate::scenario::SwPatternError> {
    SwPattern::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(yaml: &str) -> Result<(), InputError> {
        let scenarios = super::super::parse(yaml, "t.yaml")?;
        check_located(&scenarios, "t.yaml", yaml)
    }

    #[test]
    fn a_saved_name_must_be_saved_by_an_earlier_step() {
        let ok = "- name: a\n  steps:\n    - tap\n    - read_file: { ef: 000A, save: c }\n    - apdu: 00 D6 00 00 02 ${saved.c}\n";
        assert!(checked(ok).is_ok());
        let e =
            checked("- name: a\n  steps:\n    - tap\n    - apdu: 00 D6 00 00 02 ${saved.never}\n")
                .expect_err("never saved");
        assert!(e.to_string().contains("never"), "{e}");
        assert!(e.at.is_some(), "located: {e}");
    }

    #[test]
    fn file_ids_and_status_patterns_are_checked_before_running() {
        assert!(checked("- name: a\n  steps: [tap, { select_ef: 0A }]\n").is_err());
        assert!(sw_pattern("63Cx").is_ok());
        assert!(sw_pattern("6G00").is_err());
    }
}

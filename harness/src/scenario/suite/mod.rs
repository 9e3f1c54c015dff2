//! Suites: scenario files loaded from paths or from the bundled conformance suite, checked with
//! errors that point at file:line:column and say how to fix them, expanded into cases, and
//! selected with filters, tags and deterministic partitions.

mod case;
mod check;
mod error;
mod select;
mod yaml;

pub use case::{Case, Overrides};
pub use error::InputError;

use crate::profiles::{card_profile, reader_profile};
use crate::scenario::Scenario;
pub use check::{MAX_CASES_PER_SCENARIO, MAX_WAIT, check, check_located, sw_pattern};
use kazasu_sim::{CardProfile, ReaderProfile};
pub use select::{Partition, Selection, stable_hash};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml::{hint_for, over_budget, yaml_options};

macro_rules! bundled_suite {
    ($name:ident, $doc:literal: $($path:literal),* $(,)?) => {
        #[doc = $doc]
        pub const $name: &[(&str, &str)] = &[
            $(($path, include_str!(concat!("../../../../scenarios/", $path)))),*
        ];
    };
}

bundled_suite!(
    BUNDLED,
    "The bundled conformance suite, what `kazasu run` runs: (path under `scenarios/`, YAML text).":
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
    "conformance/reader-features.yaml",
);

bundled_suite!(
    BUNDLED_ONBOARDING,
    "The bundled onboarding suites (registration, reader orders), built in like the conformance \
     suite and run by name: `kazasu run scenarios/onboarding/`.":
    "onboarding/registration.yaml",
    "onboarding/orders.yaml",
);

/// The built-in scenario files a path names when no such file or folder exists here: the name a
/// report gives a bundled file (`scenarios/conformance/pin.yaml`), with `bundled:` in place of
/// `scenarios/`, or a folder of them (`scenarios/onboarding/`). So a reproduce line runs from
/// any folder, and the installed binary runs the bundled suites without a checkout.
pub fn bundled_named(path: &Path) -> Vec<(&'static str, &'static str)> {
    let Some(name) = crate::files::bundled_name(path) else {
        return Vec::new();
    };
    let name = name.trim_end_matches('/');
    BUNDLED
        .iter()
        .chain(BUNDLED_ONBOARDING)
        .filter(|(p, _)| {
            name.is_empty()
                || *p == name
                || p.strip_prefix(name).is_some_and(|r| r.starts_with('/'))
        })
        .copied()
        .collect()
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
        serde_saphyr::from_str_with_options::<Vec<Scenario>>(text, yaml_options(text.len()))
    } else {
        serde_saphyr::from_str_with_options::<Scenario>(text, yaml_options(text.len()))
            .map(|s| vec![s])
    };
    result.map_err(|e| {
        let at = e.location().map(|l| (l.line(), l.column()));
        let hint = Some(hint_for(&e));
        let message = match e.without_snippet() {
            serde_saphyr::Error::Budget { breach, .. } => over_budget(breach),
            serde_saphyr::Error::MultipleDocuments { .. } => {
                "a second YAML document (after `---`): a scenario file is one document".to_string()
            }
            _ => e.to_string(),
        };
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
            hint,
            message,
        }
    })
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
            |spec| card_profile(spec, base).map_err(|e| fail(s, e.to_string())),
        )?;
        let readers = dimension(
            overrides.reader.as_ref(),
            |r: &ReaderProfile| r.name.clone(),
            &s.reader,
            &m.reader,
            &mut readers_loaded,
            |spec| reader_profile(spec, base).map_err(|e| fail(s, e.to_string())),
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

/// Loads scenario files: the bundled suite when `paths` is empty, a built-in file or folder when a
/// path names one that does not exist here (see [`bundled_named`]); folders are searched for
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
        if !p.exists() {
            let bundled = bundled_named(p);
            if !bundled.is_empty() {
                for (path, text) in bundled {
                    let file = format!("scenarios/{path}");
                    let scenarios = parse(text, &file)?;
                    check_located(&scenarios, &file, text)?;
                    out.push((file, scenarios));
                }
                continue;
            }
        }
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
                    message: e.to_string(),
                    hint: Some(
                        "give a scenario file or a folder of them; built in (no checkout \
                         needed): scenarios/conformance/ (the bundled suite, its files by name) \
                         and scenarios/onboarding/"
                            .into(),
                    ),
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

#[cfg(test)]
mod bom_tests {
    #[test]
    fn a_byte_order_mark_before_a_list_of_scenarios_is_ignored() {
        let text = "\u{feff}- name: one\n  steps: [tap]\n- name: two\n  steps: [tap]\n";
        let scenarios = super::parse(text, "bom.yaml").unwrap();
        assert_eq!(scenarios.len(), 2);
    }

    /// The hint follows the error's kind, not its wording: a message that merely mentions
    /// "unknown field" gets the general hint.
    #[test]
    fn the_hint_follows_the_kind_of_error() {
        let hint = |text: &str| super::parse(text, "h.yaml").unwrap_err().hint.unwrap();
        let base = "name: x\ncard: mynumber-card\n";
        assert!(hint(&format!("{base}stepz: [tap]\n")).starts_with("check the spelling"));
        assert!(hint("steps: [tap]\n").starts_with("add the field"));
        assert!(
            hint(&format!(
                "{base}steps:\n  - select: jpki-auth\n    expect: {{ sw: 9000, zz: 1 }}\n"
            ))
            .starts_with("check the spelling")
        );
        let own = super::parse(
            &format!("{base}steps:\n  - select: jpki-auth\n    expect: {{ status: 200 }}\n"),
            "h.yaml",
        )
        .unwrap_err();
        assert!(
            own.message
                .contains("remove it, or move it to an onboarding step"),
            "{}",
            own.message
        );
        assert!(own.hint.unwrap().contains("kazasu schema"));
        assert!(
            hint(&format!("{base}steps:\n  - wait: unknown field\n")).contains("kazasu schema >")
        );
        let two = super::parse(
            &format!("{base}steps: [tap]\n---\n{base}steps: [tap]\n"),
            "h.yaml",
        )
        .unwrap_err();
        assert!(
            two.message.contains("a scenario file is one document"),
            "{}",
            two.message
        );
        assert!(!two.message.contains("from_str"), "{}", two.message);
        assert!(
            two.hint
                .unwrap()
                .starts_with("give several cases as a list")
        );
    }
}

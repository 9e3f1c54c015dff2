//! Card and reader profiles from outside the binary: loading one by built-in name or YAML path,
//! what profiles say of themselves — every value with its sureness, for the sureness report
//! and the certificate's count of measured, reported and modelled values — and a profile's text
//! rewritten value by value (what calibration writes).

use crate::files::{FileError, SMALL_YAML, read_text};
use kazasu_sim::platform::profile::ProfileError;
use kazasu_sim::{CardProfile, ReaderProfile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A profile that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Its file.
    #[error("{kind} profile: {source}")]
    File {
        /// `card` or `reader`.
        kind: &'static str,
        /// Why the file cannot be read.
        source: FileError,
    },
    /// Its content (or no built-in of that name).
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Loads a card profile by built-in name or YAML path (relative paths first against `base`).
pub fn card_profile(spec: &str, base: Option<&Path>) -> Result<CardProfile, LoadError> {
    if is_path(spec) {
        let path = resolve(spec, base);
        let text = read_text(&path, SMALL_YAML).map_err(|source| LoadError::File {
            kind: "card",
            source,
        })?;
        Ok(CardProfile::from_yaml(&text, &path.display().to_string())?)
    } else {
        Ok(CardProfile::builtin(spec)?)
    }
}

/// A card profile's YAML text, by built-in name or path: what a profile written on it starts
/// from (`kazasu calibrate --from-capture --base`, a replay through the air model).
pub fn card_profile_text(spec: &str) -> Result<String, LoadError> {
    if is_path(spec) {
        return read_text(Path::new(spec), SMALL_YAML).map_err(|source| LoadError::File {
            kind: "card",
            source,
        });
    }
    match kazasu_sim::platform::profile::BUILTIN_CARD_PROFILES
        .iter()
        .find(|(n, _)| *n == spec)
    {
        Some((_, text)) => Ok(text.to_string()),
        None => Err(LoadError::Profile(ProfileError::Unknown {
            name: spec.to_string(),
            known: kazasu_sim::platform::profile::BUILTIN_CARD_PROFILES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        })),
    }
}

/// Loads a reader profile by built-in name or YAML path (relative paths first against `base`).
pub fn reader_profile(spec: &str, base: Option<&Path>) -> Result<ReaderProfile, LoadError> {
    if is_path(spec) {
        let path = resolve(spec, base);
        let text = read_text(&path, SMALL_YAML).map_err(|source| LoadError::File {
            kind: "reader",
            source,
        })?;
        Ok(ReaderProfile::from_yaml(
            &text,
            &path.display().to_string(),
        )?)
    } else {
        Ok(ReaderProfile::builtin(spec)?)
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

/// Every `{ value, sure, note }` in a profile, as (path, sureness, note).
pub fn sourced_values(
    value: &serde_json::Value,
    path: &str,
    out: &mut Vec<(String, String, String)>,
) {
    match value {
        serde_json::Value::Object(map) if map.contains_key("sure") && map.contains_key("value") => {
            let text = |k: &str| {
                map.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            out.push((path.to_string(), text("sure"), text("note")));
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                sourced_values(v, &p, out);
            }
        }
        _ => {}
    }
}

/// How many values of a reader profile are of each sureness (`measured`, `confirmed`,
/// `reported`, `modelled`).
pub fn reader_sureness(profile: &ReaderProfile) -> BTreeMap<String, usize> {
    let mut values = Vec::new();
    if let Ok(v) = serde_json::to_value(profile) {
        sourced_values(&v, "", &mut values);
    }
    let mut counts = BTreeMap::new();
    for (_, sure, _) in values {
        *counts.entry(sure).or_insert(0) += 1;
    }
    counts
}

/// Where a line of a profile's YAML sits: its top-level group (`""` for a top-level key), its key
/// and its indentation.
pub struct YamlLine<'a> {
    /// The top-level key the line sits under, or `""`.
    pub group: &'a str,
    /// The line's key.
    pub key: &'a str,
    /// Spaces before the key.
    pub indent: usize,
}

/// `base_text` rewritten line by line: `header` first, the base's own comments left out (they
/// are about another device), each line offered to `replace` — `Some(line)` replaces it, and
/// a replaced top-level key's indented continuation (a folded description) goes with it.
pub fn rewrite_yaml(
    base_text: &str,
    header: &str,
    mut replace: impl FnMut(&YamlLine<'_>) -> Option<String>,
) -> String {
    use std::fmt::Write;
    let mut out = header.to_string();
    let (mut group, mut skipping) = (String::new(), false);
    for line in base_text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if skipping && indent > 0 {
            continue;
        }
        skipping = false;
        let key = line.trim_start().split(':').next().unwrap_or_default();
        if indent == 0 {
            group = key.to_string();
        }
        let at = YamlLine {
            group: if indent == 0 { "" } else { &group },
            key,
            indent,
        };
        match replace(&at) {
            Some(new) => {
                skipping = indent == 0;
                let _ = writeln!(out, "{new}");
            }
            None => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_a_built_in_and_a_path_is_read_against_the_scenario_folder_first() {
        assert!(!is_path("typical-424k") && is_path("acme.yaml") && is_path("lab/acme"));
        assert_eq!(
            reader_profile("typical-424k", None).expect("built-in").name,
            "typical-424k"
        );
        let dir = std::env::temp_dir().join(format!("kazasu-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (_, text) = kazasu_sim::reader::profile::BUILTIN_READER_PROFILES
            .iter()
            .find(|(name, _)| *name == "typical-424k")
            .expect("built-in text");
        let text = text.replace("name: typical-424k", "name: acme-r10");
        std::fs::write(dir.join("acme.yaml"), text).expect("write");
        let p = reader_profile("acme.yaml", Some(&dir)).expect("found beside the scenario");
        assert_eq!(p.name, "acme-r10");
        let missing = reader_profile("missing.yaml", Some(&dir));
        std::fs::remove_dir_all(&dir).expect("clean up");
        match missing {
            Err(LoadError::File { kind: "reader", .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            card_profile("no-such-card", None),
            Err(LoadError::Profile(_))
        ));
    }

    #[test]
    fn every_value_of_a_built_in_reader_is_counted_by_its_sureness() {
        let p = reader_profile("typical-424k", None).expect("built-in");
        let counts = reader_sureness(&p);
        let mut values = Vec::new();
        sourced_values(&serde_json::to_value(&p).expect("json"), "", &mut values);
        assert!(values.len() >= 5, "{values:?}");
        assert_eq!(counts.values().sum::<usize>(), values.len());
        assert!(
            counts
                .keys()
                .all(|k| ["measured", "confirmed", "reported", "modelled"].contains(&k.as_str())),
            "{counts:?}"
        );
        assert!(
            values.iter().any(|(path, _, _)| path == "host_overhead"),
            "{values:?}"
        );
    }
}

//! What profiles say of themselves: every value with its sureness, for the sureness report and
//! the certificate's count of measured, reported and modelled values.

use kazasu_sim::ReaderProfile;
use std::collections::BTreeMap;

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

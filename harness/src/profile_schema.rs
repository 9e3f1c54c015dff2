//! The profile formats described for editors and readers: the JSON Schema of reader profiles
//! (`kazasu schema --profile reader`), made from the types the loader reads, and the reference
//! page made from that schema (every field, its type, whether it may be left out and what it
//! means), so the page, the schema and the loader cannot disagree.

use kazasu_sim::{CardProfile, ReaderProfile};
use serde_json::Value;
use std::fmt::Write;

/// The JSON Schema of reader profiles.
pub fn reader_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(ReaderProfile)).expect("a schema serialises")
}

/// The JSON Schema of card profiles.
pub fn card_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(CardProfile)).expect("a schema serialises")
}

/// A schema as the CLI prints it.
pub fn schema_text(schema: &Value) -> String {
    serde_json::to_string_pretty(schema).expect("a schema serialises") + "\n"
}

/// The reader profiles' schema as the CLI prints it.
pub fn reader_schema_text() -> String {
    schema_text(&reader_schema())
}

/// A definition a `$ref` names (`#/$defs/NAME`).
fn resolve<'a>(schema: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| schema.get("$defs")?.get(name))
            .unwrap_or(v),
        None => v,
    }
}

/// A type in words: `integer`, `one of supported, wrong-length, transport-error`, `list of integer`.
fn type_words(schema: &Value, v: &Value) -> String {
    // An optional field: `anyOf: [X, null]`.
    if let Some(any) = v.get("anyOf").and_then(Value::as_array) {
        let parts: Vec<String> = any
            .iter()
            .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
            .map(|a| type_words(schema, a))
            .collect();
        return parts.join(" or ");
    }
    match v.get("$ref").and_then(Value::as_str) {
        Some("#/$defs/Millis") => return "duration".into(),
        Some("#/$defs/HexBytes") => return "hex bytes".into(),
        _ => {}
    }
    let v = resolve(schema, v);
    // A sourced value: the value's own type.
    if let Some(inner) = v.get("properties").and_then(|p| p.get("value"))
        && v.get("properties").and_then(|p| p.get("sure")).is_some()
    {
        return type_words(schema, inner);
    }
    if let Some(options) = v
        .get("oneOf")
        .or_else(|| v.get("enum"))
        .and_then(Value::as_array)
    {
        let words: Vec<String> = options
            .iter()
            .filter_map(|o| o.get("const").or(Some(o)).and_then(Value::as_str))
            .map(|w| format!("`{w}`"))
            .collect();
        return format!("one of {}", words.join(", "));
    }
    match v.get("type").and_then(Value::as_str) {
        Some("array") => format!(
            "list of {}",
            v.get("items")
                .map_or("values".into(), |i| type_words(schema, i))
        ),
        Some(t) => t.to_string(),
        None => "value".into(),
    }
}

/// The schema of `v` resolved, an optional field's (`anyOf: [X, null]`) being X's.
fn resolved<'a>(root: &'a Value, v: &'a Value) -> Option<&'a Value> {
    let inner = match v.get("anyOf").and_then(Value::as_array) {
        Some(any) => any
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) != Some("null"))?,
        None => v,
    };
    Some(resolve(root, inner))
}

/// A group of fields (a struct that is not a sourced value), when `v` is one: its schema.
fn group<'a>(root: &'a Value, v: &'a Value) -> Option<&'a Value> {
    let d = resolved(root, v)?;
    let props = d.get("properties")?;
    (props.get("sure").is_none()).then_some(d)
}

/// A sourced value whose value is itself a group of fields (a reader's `usb`): that group.
fn sourced_group<'a>(root: &'a Value, v: &'a Value) -> Option<&'a Value> {
    let props = resolved(root, v)?.get("properties")?;
    props.get("sure")?;
    let value = resolve(root, props.get("value")?);
    value.get("properties").map(|_| value)
}

/// The rows of the fields of `object` under `prefix`, groups of fields row by row.
fn rows(s: &mut String, root: &Value, object: &Value, prefix: &str) {
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = object.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, v) in props {
        let path = format!("{prefix}{name}");
        let meaning = v
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace('\n', " ")
            .replace('|', "\\|");
        let absent = if required.contains(&name.as_str()) {
            "required".to_string()
        } else {
            v.get("x-if-absent")
                .and_then(Value::as_str)
                .unwrap_or("may be left out")
                .to_string()
        };
        match group(root, v) {
            Some(g) => {
                let _ = writeln!(s, "| `{path}` | group | {absent} | {meaning} |");
                rows(s, root, g, &format!("{path}."));
            }
            None => match sourced_group(root, v) {
                Some(g) => {
                    let _ = writeln!(
                        s,
                        "| `{path}` | a value of the fields below | {absent} | {meaning} |"
                    );
                    rows(s, root, g, &format!("{path}.value."));
                }
                None => {
                    let _ = writeln!(
                        s,
                        "| `{path}` | {} | {absent} | {meaning} |",
                        type_words(root, v).replace('|', "\\|"),
                    );
                }
            },
        }
    }
}

/// The reference page of a profile schema in Markdown: one row per field (a group of fields,
/// such as a card profile's `processing`, row by row as `processing.select`).
pub fn reference_markdown(title: &str, kind: &str, schema: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {title}\n");
    let _ = writeln!(
        s,
        "Generated from `kazasu schema --profile {kind}` (a test keeps this page equal to it). \
         Every value but names and descriptions is written with its sureness: \
         `{{ value: …, sure: confirmed | reported | modelled | measured, note: \"…\" }}` — `note` \
         may be left out; `measured` is what `kazasu calibrate` writes. `kazasu profiles NAME` \
         prints a built-in profile to start from.\n"
    );
    let _ = writeln!(s, "| field | type | if left out | meaning |");
    let _ = writeln!(s, "|---|---|---|---|");
    rows(&mut s, schema, schema, "");
    // The words of each choice, with what they mean.
    if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
        for (name, d) in defs {
            let Some(options) = d.get("oneOf").and_then(Value::as_array) else {
                continue;
            };
            let _ = writeln!(s, "\n**{name}**\n");
            for o in options {
                if let (Some(w), Some(m)) = (
                    o.get("const").and_then(Value::as_str),
                    o.get("description").and_then(Value::as_str),
                ) {
                    let _ = writeln!(s, "- `{w}` — {}", m.replace('\n', " "));
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_a_reader_profile_is_on_the_page_with_its_type() {
        let schema = reader_schema();
        let page = reference_markdown("Reader profiles", "reader", &schema);
        for field in [
            "name",
            "description",
            "bit_rates",
            "fsdi",
            "extended_apdus",
            "host_overhead",
            "card_detect",
            "retries",
            "max_wtx",
            "collision",
            "atr_form",
        ] {
            assert!(page.contains(&format!("| `{field}` |")), "{field}: {page}");
        }
        assert!(page.contains("| `fsdi` | integer | required | The reader's frame size index FSDI (8 = 256 bytes). |"), "{page}");
        assert!(
            page.contains(
                "| `max_wtx` | integer | unlimited: every S(WTX) the card asks for is granted |"
            ),
            "{page}"
        );
        assert!(
            page.contains(
                "| `atr_form` | one of `part3`, `generic`, `scm`, `scm-with-pupi` | `part3` |"
            ),
            "{page}"
        );
        assert!(page.contains("`wrong-length`"), "{page}");
        assert!(
            page.contains("| `host_overhead` | duration | required |"),
            "{page}"
        );
    }

    #[test]
    fn a_card_profiles_groups_are_listed_field_by_field() {
        let page = reference_markdown("Card profiles", "card", &card_schema());
        for row in [
            "| `device` |",
            "| `contactless` | group | required |",
            "| `processing.select` | duration |",
            "| `mf_objects` | list of one of `0042`",
            "| `atr` | hex bytes |",
        ] {
            assert!(page.contains(row), "{row}:\n{page}");
        }
    }
}

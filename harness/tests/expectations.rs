//! Every expectation is checked: generated from the scenario schema, one scenario per
//! expectation field that passes with the right value and fails with a wrong one, and for every
//! step keyword each field it cannot check is refused when the scenario is loaded. A new field
//! or step added to the schema without a case here fails these tests.

use kazasu::run::{Status, run_case};
use kazasu::scenario::suite;
use serde_json::Value;
use std::collections::BTreeSet;

fn schema() -> Value {
    serde_json::from_str(&kazasu::scenario::json_schema()).unwrap()
}

/// The property names of a definition in the schema.
fn fields(def: &str) -> BTreeSet<String> {
    let s = schema();
    let props = s["$defs"][def]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("the schema has no definition {def}"));
    props.keys().cloned().collect()
}

/// The step keywords of a family, from the schema's step alternatives.
fn step_keywords(family: usize) -> BTreeSet<String> {
    let s = schema();
    let props = s["$defs"]["Step"]["oneOf"][family]["properties"]
        .as_object()
        .expect("a step alternative");
    props
        .keys()
        .filter(|k| !["expect", "save", "name"].contains(&k.as_str()))
        .cloned()
        .collect()
}

/// Runs the single case of `yaml` in-process.
fn run(yaml: &str) -> kazasu::run::CaseResult {
    let scenarios = suite::parse(yaml, "mutation.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    suite::check(&scenarios, "mutation.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let cases =
        suite::expand(&scenarios, "mutation.yaml", &suite::Overrides::NONE).expect("profiles load");
    assert_eq!(cases.len(), 1);
    run_case(&cases[0], 1)
}

/// A card case: `steps` before the checked step, then the checked step with `expect`.
fn card_case(before: &str, step: &str, expect: &str) -> String {
    format!(
        "name: mutation\nsteps:\n{before}  - {step}\n    expect: {{ {expect} }}\n",
        before = before
            .lines()
            .map(|l| format!("  - {l}\n"))
            .collect::<String>()
    )
}

/// (steps before, the checked step, the right expectation, a wrong one) for a card field.
fn card_mutation(field: &str) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    const READ_TWO: (&str, &str) = (
        "tap\nselect: jpki\nselect_ef: \"000A\"",
        "apdu: 00 B0 00 00 02",
    );
    Some(match field {
        "sw" => (READ_TWO.0, READ_TWO.1, "sw: \"9000\"", "sw: \"6A82\""),
        "data" => (READ_TWO.0, READ_TWO.1, "data: \"30 82\"", "data: \"30 83\""),
        "data_prefix" => (
            READ_TWO.0,
            READ_TWO.1,
            "data_prefix: \"30\"",
            "data_prefix: \"31\"",
        ),
        "data_regex" => (
            READ_TWO.0,
            READ_TWO.1,
            "data_regex: \"^3082$\"",
            "data_regex: \"^FFFF\"",
        ),
        "data_len" => (READ_TWO.0, READ_TWO.1, "data_len: 2", "data_len: 3"),
        "transport_error" => (
            "",
            "apdu: 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
            "transport_error: no_card",
            "transport_error: card_removed",
        ),
        "within" => ("", "tap:", "within: 1s", "within: 1us"),
        "refused" => (
            "tap",
            "control: { code: \"0x42000DAC\" }",
            "refused: unsupported",
            "refused: failed",
        ),
        _ => return None,
    })
}

/// (the checked step, the right expectation, a wrong one) for an onboarding field.
fn onboarding_mutation(field: &str) -> Option<(&'static str, &'static str, &'static str)> {
    const PROGRAM: &str = "http: { method: GET, path: /api/program }";
    const NO_CODE: &str =
        "register: { name: なにわ眼科 2710111119, business_type: sole_proprietor }";
    const WITH_CODE: &str = "register: { name: \"かざす内科クリニック　１３１０１２３４５８\", business_type: sole_proprietor, invitation_code: KZ7Q2M }";
    Some(match field {
        "status" => (PROGRAM, "status: 200", "status: 404"),
        "errors" => (
            NO_CODE,
            "status: 422, errors: [invitation_code.required]",
            "status: 422, errors: [invitation_code.invalid]",
        ),
        "account_status" => (WITH_CODE, "account_status: active", "account_status: ready"),
        "json" => (
            PROGRAM,
            "json: { /subsidy/rate_percent: 50 }",
            "json: { /subsidy/rate_percent: 49 }",
        ),
        "notes" => (
            WITH_CODE,
            "notes: [\"name: full-width\"]",
            "notes: [\"a note nobody wrote\"]",
        ),
        "retry_after" => (PROGRAM, "retry_after: false", "retry_after: true"),
        "within" => (PROGRAM, "within: 1s", "within: 1ms"),
        _ => return None,
    })
}

#[test]
fn every_card_expectation_field_fails_the_case_when_wrong() {
    let all = fields("CardExpect");
    assert!(all.contains("sw") && all.contains("within"), "{all:?}");
    for field in &all {
        let (before, step, right, wrong) = card_mutation(field).unwrap_or_else(|| {
            panic!("the card expectation `{field}` has no mutation case here: add one that proves a wrong value fails")
        });
        let good = run(&card_case(before, step, right));
        assert_eq!(
            good.status,
            Status::Passed,
            "`{field}` with the right value: {:?}",
            good.failure
        );
        let bad = run(&card_case(before, step, wrong));
        assert_eq!(
            bad.status,
            Status::Failed,
            "`{field}`: a wrong value passed"
        );
        let checked = before.lines().count() + 1;
        assert_eq!(bad.failure.as_ref().unwrap().step, checked, "{field}");
    }
}

#[test]
fn every_onboarding_expectation_field_fails_the_case_when_wrong() {
    let all = fields("OnboardingExpect");
    assert!(all.contains("status"), "{all:?}");
    for field in &all {
        let (step, right, wrong) = onboarding_mutation(field).unwrap_or_else(|| {
            panic!("the onboarding expectation `{field}` has no mutation case here: add one that proves a wrong value fails")
        });
        let case = |expect: &str| {
            format!(
                "name: mutation\ntoday: \"2025-10-01\"\nsteps:\n  - {step}\n    expect: {{ {expect} }}\n"
            )
        };
        let good = run(&case(right));
        assert_eq!(
            good.status,
            Status::Passed,
            "`{field}` with the right value: {:?}",
            good.failure
        );
        let bad = run(&case(wrong));
        assert_eq!(
            bad.status,
            Status::Failed,
            "`{field}`: a wrong value passed"
        );
        assert_eq!(bad.failure.as_ref().unwrap().step, 1, "{field}");
    }
}

/// A written form of every step keyword, to try every expectation field on it.
fn step_example(keyword: &str) -> &'static str {
    match keyword {
        "tap" => "tap:",
        "remove" => "remove:",
        "approve" => "approve:",
        "deselect" => "deselect:",
        "warm_reset" => "warm_reset:",
        "wait" => "wait: 10ms",
        "apdu" => "apdu: 00 84 00 00 08",
        "select" => "select: jpki",
        "select_ef" => "select_ef: \"000A\"",
        "read_file" => "read_file: { ef: \"000A\" }",
        "verify_pin" => "verify_pin: { ef: \"0018\" }",
        "sign" => "sign: { key: \"0017\" }",
        "jpki_auth_flow" => "jpki_auth_flow:",
        "uid" => "uid: { save: u }",
        "atr" => "atr:",
        "control" => "control: { code: get-feature-request }",
        "attribute" => "attribute: vendor-name",
        "pin_pad" => "pin_pad: { do: away }",
        "register" => "register: { name: x }",
        "website" => "website: { skip: true }",
        "order" => "order: { product: sanwa-body }",
        "account_status" => "account_status:",
        "commission" => "commission:",
        "http" => "http: { method: GET, path: /api/program }",
        other => panic!("the step `{other}` has no example here: add one"),
    }
}

/// A value of the right type for every expectation field, so that only the step decides.
fn some_value(field: &str) -> &'static str {
    match field {
        "sw" => "\"9000\"",
        "data" | "data_prefix" => "\"00\"",
        "data_regex" => "\".*\"",
        "data_len" => "1",
        "transport_error" => "any",
        "refused" => "any",
        "within" => "1s",
        "status" => "200",
        "errors" | "notes" => "[]",
        "account_status" => "active",
        "json" => "{ /x: 1 }",
        "retry_after" => "false",
        other => panic!("the expectation `{other}` has no example value here: add one"),
    }
}

#[test]
fn a_field_a_step_cannot_check_is_refused_at_its_place() {
    let card_fields = fields("CardExpect");
    let onboarding_fields = fields("OnboardingExpect");
    let all: BTreeSet<&String> = card_fields.iter().chain(&onboarding_fields).collect();
    let mut accepted_somewhere: BTreeSet<String> = BTreeSet::new();
    for (family, own) in [(1, &card_fields), (2, &onboarding_fields)] {
        for keyword in step_keywords(family) {
            for field in &all {
                let yaml = format!(
                    "name: refusal\nsteps:\n  - {}\n    expect: {{ {field}: {} }}\n",
                    step_example(&keyword),
                    some_value(field)
                );
                match suite::parse(&yaml, "refusal.yaml") {
                    Ok(_) => {
                        assert!(
                            own.contains(*field),
                            "`{keyword}` accepted `{field}` of the other family"
                        );
                        accepted_somewhere.insert((*field).clone());
                    }
                    Err(e) => {
                        assert_eq!(e.at, Some((4, 13)), "`{keyword}`/`{field}`: {e}");
                        assert!(
                            e.message.contains(field.as_str()) && e.hint.is_some(),
                            "{e}"
                        );
                    }
                }
            }
        }
    }
    // Every field is checkable by some step (else it is a field nothing checks).
    let all: BTreeSet<String> = all.into_iter().cloned().collect();
    assert_eq!(accepted_somewhere, all);
}

#[test]
fn the_two_families_are_told_apart_at_load() {
    for (yaml, field) in [
        (
            "- name: card step with an HTTP expectation\n  card: mynumber-card\n  steps:\n    - tap\n    - apdu: 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01\n      expect: { status: 404 }\n",
            "status",
        ),
        (
            "- name: onboarding step with a card expectation\n  steps:\n    - http: { method: GET, path: /api/program }\n      expect: { sw: \"6A82\", within: 1ns }\n",
            "sw",
        ),
    ] {
        let e = suite::parse(yaml, "families.yaml").unwrap_err();
        assert!(e.at.is_some_and(|(line, _)| line >= 4), "{e}");
        assert!(e.message.contains(field), "{e}");
    }
}

#[test]
fn save_where_there_is_nothing_to_save_is_refused() {
    for step in [
        "tap: \n    save: x",
        "wait: 1ms\n    save: x",
        "uid: { save: u }\n    save: x",
        "atr: \n    save: x",
        "http: { method: GET, path: /api/program }\n    save: x",
    ] {
        let yaml = format!("name: save\nsteps:\n  - {step}\n");
        let e = suite::parse(&yaml, "save.yaml").unwrap_err();
        assert!(e.message.contains("`save`"), "{e}");
    }
    let e = suite::parse(
        "name: order\nsteps:\n  - expect: { sw: \"9000\" }\n    apdu: 00 84 00 00 08\n",
        "order.yaml",
    )
    .unwrap_err();
    assert!(e.message.contains("write the action first"), "{e}");
}

//! The onboarding service over HTTP, as clients and operators meet it: concurrent registrations,
//! a restart, and no invitation code anywhere in what kazasu writes.

use kazasu::onboarding::server::{PROGRAM_YAML, Running, Shared};
use kazasu::onboarding::store::Store;
use kazasu_onboarding::program::{Day, Institution, Program, Registry};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Barrier};

const CODE: &str = "KZ7Q2M";

fn registry(n: usize) -> Registry {
    Registry::synthetic(n)
}

fn service(n: usize, store: Store) -> Running {
    let program = Program::from_yaml(PROGRAM_YAML, "program").unwrap();
    let shared = Shared::new(
        program,
        registry(n),
        store,
        Some(Day::parse("2025-10-01").unwrap()),
    )
    .unwrap();
    Running::start(shared, ([127, 0, 0, 1], 0).into(), 2).unwrap()
}

fn register(agent: &ureq::Agent, url: &str, inst: &Institution, code: &str) -> (u16, Value) {
    let body = json!({
        "name": format!("{} {}", inst.name, inst.code),
        "postal_code": "100-0001",
        "contact_email": "desk@example.jp",
        "business_type": "sole_proprietor",
        "invitation_code": code,
    });
    let mut r = agent
        .post(&format!("{url}/api/registrations"))
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    let status = r.status().as_u16();
    let v = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null);
    (status, v)
}

/// Runs `work(i)` for i in 0..n on `threads` threads that start together.
fn concurrently<T: Send + 'static>(
    n: usize,
    threads: usize,
    work: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let work = Arc::new(work);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (work, barrier) = (work.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (t..n).step_by(threads).map(|i| work(i)).collect::<Vec<T>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

#[test]
fn concurrent_registrations_open_exactly_one_account_per_institution_and_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("kazasu-onboarding-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("accounts.sqlite");
    let _ = std::fs::remove_file(&db);
    let reg = registry(1_000);
    let running = service(1_000, Store::open(&db).unwrap());
    let url = running.url();

    // 1,000 distinct institutions at once: 1,000 accounts, every id different.
    let institutions = Arc::new(reg.institutions.clone());
    let (u, insts) = (url.clone(), institutions.clone());
    let results = concurrently(1_000, 32, move |i| {
        let a = kazasu::onboarding::client::http_agent();
        register(&a, &u, &insts[i], CODE)
    });
    assert!(
        results.iter().all(|(s, _)| *s == 201),
        "{:?}",
        results.iter().find(|(s, _)| *s != 201)
    );
    let ids: HashSet<String> = results
        .iter()
        .map(|(_, v)| {
            v.pointer("/account/id")
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1_000);

    // 100 requests for one (new) institution at once: one account, 99 duplicates.
    let running2 = service(1_001, Store::open(&dir.join("same.sqlite")).unwrap());
    let one = registry(1_001).institutions[1_000].clone();
    let u2 = running2.url();
    let results = concurrently(100, 20, move |_| {
        let a = kazasu::onboarding::client::http_agent();
        register(&a, &u2, &one, CODE).0
    });
    assert_eq!(
        results.iter().filter(|s| **s == 201).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|s| **s == 409).count(),
        99,
        "{results:?}"
    );
    assert_eq!(running2.shared.accounts().len(), 1);
    drop(running2);

    // A restart keeps every account (same ids), and still refuses a second one.
    let before: Vec<_> = running.shared.accounts();
    drop(running);
    let again = service(1_000, Store::open(&db).unwrap());
    assert_eq!(again.shared.accounts(), before);
    let (status, v) = register(
        &kazasu::onboarding::client::http_agent(),
        &again.url(),
        &reg.institutions[7],
        CODE,
    );
    assert_eq!(status, 409, "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrong_codes_get_429_with_retry_after_and_bodies_are_bounded() {
    let running = service(3, Store::memory());
    let url = running.url();
    let inst = registry(3).institutions[0].clone();
    let a = kazasu::onboarding::client::http_agent();
    for _ in 0..5 {
        assert_eq!(register(&a, &url, &inst, "WRONG1").0, 422);
    }
    let mut r = a
        .post(&format!("{url}/api/registrations"))
        .header("content-type", "application/json")
        .send(
            json!({"name": "x", "invitation_code": CODE})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&wait));
    let body = r.body_mut().read_to_string().unwrap();
    assert!(!body.contains(CODE));
    // A body past 16 KiB is refused before it is parsed.
    let big = json!({ "name": "x".repeat(20_000) }).to_string();
    let r = a
        .post(&format!("{url}/api/registrations"))
        .header("content-type", "application/json")
        .send(big.as_bytes())
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
}

#[test]
fn no_invitation_code_in_any_output() {
    let dir = std::env::temp_dir().join(format!("kazasu-onboarding-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/onboarding");
    let out = Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(["run", scenarios, "--verbose", "--transcripts"])
        .arg("--junit")
        .arg(dir.join("j.xml"))
        .arg("--json")
        .arg(dir.join("r.json"))
        .arg("--html")
        .arg(dir.join("r.html"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("POST /api/registrations"),
        "the transcripts show the requests"
    );
    let mut texts = vec![
        stdout.into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ];
    for f in ["j.xml", "r.json", "r.html"] {
        texts.push(std::fs::read_to_string(dir.join(f)).unwrap());
    }
    // The bundled test code and the variants the scenarios send.
    for text in &texts {
        for code in [CODE, "KZ7Q2N", "ｋｚ７ｑ２ｍ", "kz7q2m"] {
            assert!(
                !text.contains(code),
                "`{code}` leaked:\n{}",
                &text[..text.len().min(2000)]
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the single case of `yaml` in-process, or against `target`.
fn run_one(yaml: &str, target: Option<&str>) -> kazasu::run::CaseResult {
    use kazasu::scenario::suite;
    let scenarios = suite::parse(yaml, "t.yaml").unwrap();
    suite::check(&scenarios, "t.yaml").unwrap();
    let cases = suite::expand(&scenarios, "t.yaml", None, None);
    kazasu::run::run_case_on(&cases[0], 1, 0, &kazasu::run::inproc, target)
}

#[test]
fn onboarding_steps_run_in_simulated_time_and_the_json_report_shows_it() {
    let r = run_one(
        "name: sim time\ntoday: \"2025-10-01\"\nsteps:\n  - http: { method: GET, path: /api/program }\n  - wait: 1s\n  - http: { method: GET, path: /api/program }\n    expect: { within: 200ms }\n",
        None,
    );
    assert_eq!(r.status, kazasu::run::Status::Passed, "{:?}", r.failure);
    let results = vec![r];
    let summary = kazasu::report::Summary::of(&results, std::time::Duration::from_secs(1));
    let report: Value =
        serde_json::from_str(&kazasu::report::json(&results, summary, 1, "inproc")).unwrap();
    let steps = report["scenarios"][0]["steps"].as_array().unwrap();
    let ns: Vec<u64> = steps
        .iter()
        .map(|s| s["sim_time_ns"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [150_000_000, 1_000_000_000, 150_000_000]);
    assert_eq!(report["scenarios"][0]["sim_time_ns"], 1_300_000_000u64);
}

#[test]
fn the_wrong_code_limiter_runs_on_the_case_clock() {
    // Five wrong codes from one client, then the sixth try is limited (429); once the limiter's
    // ten-minute window has passed in simulated time (a `wait`), a try is answered again.
    let wrong = |status: &str| {
        format!(
            "  - register: {{ name: なにわ眼科 2710111119, business_type: sole_proprietor, invitation_code: ZZZZZZ }}\n    expect: {{ status: {status} }}\n"
        )
    };
    let head =
        "name: limiter\ntoday: \"2025-10-01\"\nsteps:\n".to_string() + &wrong("422").repeat(5);
    let limited = run_one(&(head.clone() + &wrong("429")), None);
    assert_eq!(
        limited.status,
        kazasu::run::Status::Passed,
        "{:?}",
        limited.failure
    );
    let too_soon = run_one(&(head.clone() + "  - wait: 5min\n" + &wrong("422")), None);
    assert_eq!(
        too_soon.status,
        kazasu::run::Status::Failed,
        "still limited 5 min later"
    );
    let later = run_one(&(head + "  - wait: 11min\n" + &wrong("422")), None);
    assert_eq!(
        later.status,
        kazasu::run::Status::Passed,
        "{:?}",
        later.failure
    );
}

#[test]
fn a_target_service_refuses_what_only_the_in_process_service_can_check() {
    // A service without --allow-reset cannot be a target at all.
    let running = service(10, Store::memory());
    let case = "name: t\ntoday: \"2025-10-01\"\nsteps:\n  - http: { method: GET, path: /api/program }\n    expect: { within: 1s }\n";
    let r = run_one(case, Some(&running.url()));
    assert_eq!(r.status, kazasu::run::Status::Error);
    assert!(r.failure.unwrap().actual.contains("allow-reset"));
    drop(running);
    // One with it: `within` (simulated time) is an error there, not a pass.
    let program = Program::from_yaml(PROGRAM_YAML, "program").unwrap();
    let mut shared = Shared::new(program, registry(10), Store::memory(), None).unwrap();
    shared.allow_reset = true;
    let running = Running::start(shared, ([127, 0, 0, 1], 0).into(), 1).unwrap();
    let r = run_one(case, Some(&running.url()));
    assert_eq!(r.status, kazasu::run::Status::Error, "{:?}", r.failure);
    assert!(r.failure.unwrap().actual.contains("simulated time"));
    let without = case.replace("\n    expect: { within: 1s }", "");
    assert_eq!(
        run_one(&without, Some(&running.url())).status,
        kazasu::run::Status::Passed
    );
}

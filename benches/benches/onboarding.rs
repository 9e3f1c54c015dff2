//! The onboarding service under load on loopback: registrations of distinct institutions over
//! HTTP (JSON, keep-alive connections from 16 client threads) into the SQLite store (WAL), then a
//! check that no account was lost or duplicated — in memory, and in the database after a
//! restart. Target: at least 1,000 registrations per second. The same-run baseline is the HTTP
//! floor: GET /api/program with the same clients.
//!
//! `cargo bench -p kazasu-benches --bench onboarding`

use kazasu::onboarding::app::{PROGRAM_YAML, Shared};
use kazasu::onboarding::server::Running;
use kazasu::onboarding::store::Store;
use kazasu_benches::targets::REGISTRATIONS_OVER_GET;
use kazasu_onboarding::program::{Day, Program, Registry};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;
const PER_ROUND: usize = 4_000;
const ROUNDS: usize = 3;
const CODE: &str = "KZ7Q2M";

fn start(registry: Registry, db: &std::path::Path) -> Running {
    let program = Program::from_yaml(PROGRAM_YAML, "program").expect("program");
    let shared = Shared::new(
        program,
        registry,
        Store::open(db).expect("database"),
        Some(Day::parse("2025-10-01").expect("day")),
    )
    .expect("service");
    Running::start(shared, ([127, 0, 0, 1], 0).into(), 2).expect("start")
}

/// Sends `n` requests from the client threads — registrations of `names[first..first + n]`, or
/// GET /api/program when `names` is `None` — and returns the wall time and the statuses.
fn drive(url: &str, n: usize, first: usize, names: Option<&Arc<[String]>>) -> (Duration, Vec<u16>) {
    let next = Arc::new(AtomicUsize::new(0));
    let names = names.cloned();
    let url = url.to_string();
    let started = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (next, url, names) = (next.clone(), url.clone(), names.clone());
            std::thread::spawn(move || {
                let a = kazasu::onboarding::client::http_agent();
                let mut statuses = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break statuses;
                    }
                    let resp = if let Some(names) = &names {
                        let body = format!(
                            r#"{{"name":"{}","postal_code":"100-0001","contact_email":"desk@example.jp","business_type":"sole_proprietor","invitation_code":"{CODE}"}}"#,
                            names[first + i]
                        );
                        a.post(&format!("{url}/api/registrations"))
                            .header("content-type", "application/json")
                            .send(body.as_bytes())
                    } else {
                        a.get(&format!("{url}/api/program")).call()
                    };
                    let mut r = resp.expect("a response");
                    let _ = r.body_mut().read_to_vec();
                    statuses.push(r.status().as_u16());
                }
            })
        })
        .collect();
    let statuses = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client"))
        .collect();
    (started.elapsed(), statuses)
}

fn main() {
    let total = PER_ROUND * ROUNDS;
    let dir = std::env::temp_dir().join(format!("kazasu-onboarding-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("accounts.sqlite");
    let registry = Registry::synthetic(total);
    let names: Arc<[String]> = registry
        .institutions
        .iter()
        .map(|i| format!("{} {}", i.name, i.code))
        .collect();
    let running = start(registry, &db);
    let url = running.url();
    // Warm-up: connections, page cache.
    drive(&url, 500, 0, None);
    let mut reg_rates = Vec::new();
    let mut get_rates = Vec::new();
    for round in 0..ROUNDS {
        // Alternate: the baseline and the registrations see the same machine load.
        let (t, s) = drive(&url, PER_ROUND, 0, None);
        assert!(s.iter().all(|x| *x == 200));
        get_rates.push(PER_ROUND as f64 / t.as_secs_f64());
        let (t, s) = drive(&url, PER_ROUND, round * PER_ROUND, Some(&names));
        let created = s.iter().filter(|x| **x == 201).count();
        assert_eq!(
            created,
            PER_ROUND,
            "statuses other than 201: {:?}",
            s.iter().filter(|x| **x != 201).take(5).collect::<Vec<_>>()
        );
        reg_rates.push(PER_ROUND as f64 / t.as_secs_f64());
    }
    // No account lost or duplicated: in memory, then in the database after a restart.
    let accounts = running.shared.accounts();
    let codes: HashSet<&str> = accounts
        .iter()
        .map(|a| a.institution_code.as_str())
        .collect();
    let ids: HashSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        (accounts.len(), codes.len(), ids.len()),
        (total, total, total)
    );
    drop(running);
    let again = start(Registry::synthetic(total), &db);
    assert_eq!(
        again.shared.accounts(),
        accounts,
        "the database holds what the service said"
    );
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (reg, get) = (median(reg_rates), median(get_rates));
    println!(
        "\n== onboarding: {total} registrations from {CLIENTS} clients over loopback into SQLite (WAL): median {reg:.0}/s (≥ 1,000/s {}); GET /api/program {get:.0}/s; registration ÷ GET {:.2} (target {}: {}); {total} accounts, none lost or duplicated, all back after a restart",
        if reg >= 1_000.0 {
            "met"
        } else {
            "not met on this run"
        },
        reg / get,
        REGISTRATIONS_OVER_GET.bound,
        REGISTRATIONS_OVER_GET.verdict(reg / get)
    );
}

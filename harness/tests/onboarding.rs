//! The onboarding service over HTTP, as clients and operators meet it: concurrent registrations,
//! a restart, and no invitation code anywhere in what kazasu writes.

use kazasu::onboarding::app::{PROGRAM_YAML, Shared};
use kazasu::onboarding::server::Running;
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

/// A service whose day is outside the program's window says so at start, with the window and
/// how to choose a day, instead of refusing order after order in silence.
#[test]
fn a_day_outside_the_window_is_said_at_start() {
    use std::io::BufRead;
    let start = |today: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kazasu"))
            .args([
                "onboarding",
                "serve",
                "--memory",
                "--addr",
                "127.0.0.1:0",
                "--quiet",
                "--today",
                today,
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = Vec::new();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        loop {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap() == 0 || line.contains("Ctrl-C stops it") {
                break;
            }
            lines.push(line);
        }
        let _ = child.kill();
        let _ = child.wait();
        lines.join("")
    };
    let late = start("2030-01-01");
    assert!(
        late.contains("warning: the service's day, 2030-01-01, is outside the program's window (2025-09-19 to 2026-01-31)")
            && late.contains("--today 2025-09-19"),
        "{late}"
    );
    let inside = start("2025-10-01");
    assert!(!inside.contains("warning"), "{inside}");
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
    let cases =
        suite::expand(&scenarios, "t.yaml", &suite::Overrides::NONE).expect("profiles load");
    kazasu::run::run_case_on(&cases[0], 1, 0, &kazasu::run::inproc, target, false)
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
        serde_json::from_str(&kazasu::report::json(&results, summary, 1, "inproc", &[])).unwrap();
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

/// A raw HTTP/1.1 exchange: sends `request`, returns what came back before the server closed
/// the connection or `wait` passed.
fn raw(addr: std::net::SocketAddr, request: &[u8], wait: std::time::Duration) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn limited_service(limits: kazasu::onboarding::app::Limits) -> Running {
    let program = Program::from_yaml(PROGRAM_YAML, "program").unwrap();
    let mut shared = Shared::new(
        program,
        registry(10),
        Store::memory(),
        Some(Day::parse("2025-10-01").unwrap()),
    )
    .unwrap();
    shared.limits = limits;
    Running::start(shared, ([127, 0, 0, 1], 0).into(), 2).unwrap()
}

/// Half-sent requests once held their connections for ever (20,000 of them exhausted the
/// service's files): headers must now come within the header time-out, a body within the
/// request time-out (408), and past the connection cap a new connection is closed at once —
/// while the service keeps answering once the slow clients are gone.
#[test]
fn slow_clients_are_cut_off_and_connections_are_capped() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let limits = kazasu::onboarding::app::Limits {
        max_connections: 4,
        max_per_client: 64,
        header_timeout: Duration::from_millis(400),
        request_timeout: Duration::from_millis(600),
    };
    let running = limited_service(limits);
    let addr = running.addr;
    // Headers never finished: the server closes the connection after the header time-out.
    let started = Instant::now();
    let got = raw(
        addr,
        format!("GET /api/program HTTP/1.1\r\nHost: {addr}\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a half-sent request held the connection {took:?}: {got}"
    );
    // A body that never arrives: 408 after the request time-out.
    let got = raw(
        addr,
        format!("POST /api/registrations HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\"").as_bytes(),
        Duration::from_secs(5),
    );
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    // Four idle connections take every slot: a fifth is closed at once, unanswered.
    let idle: Vec<std::net::TcpStream> = (0..4)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut fifth = std::net::TcpStream::connect(addr).unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    use std::io::Write;
    let _ =
        fifth.write_all(format!("GET /api/program HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
    let mut buf = Vec::new();
    let n = fifth.read_to_end(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "past the cap: {}", String::from_utf8_lossy(&buf));
    // The idle ones time out; the service answers again.
    std::thread::sleep(Duration::from_millis(800));
    drop(idle);
    let got = raw(
        addr,
        format!("GET /api/program HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
        Duration::from_secs(5),
    );
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

/// The HTML forms once accepted posts from any site's page (no token, no Origin check): a
/// page elsewhere could open accounts in a clinic's browser. Now a form post needs the token of
/// the page the service served, and one from another origin is refused.
#[test]
fn cross_site_form_posts_are_refused() {
    use std::time::Duration;
    let running = limited_service(Default::default());
    let addr = running.addr;
    let page = raw(
        addr,
        format!("GET /register HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the form carries a token");
    assert_eq!(token.len(), 32);
    let inst = &registry(10).institutions[0];
    let form = |token: &str| {
        format!(
            "csrf={token}&name={}&postal_code=100-0001&contact_email=desk%40example.jp&business_type=sole_proprietor&verification=invitation_code&invitation_code={CODE}",
            urlencode(&format!("{} {}", inst.name, inst.code))
        )
    };
    let post = |origin: Option<&str>, body: &str| {
        let origin = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        raw(
            addr,
            format!(
                "POST /register HTTP/1.1\r\nHost: {addr}\r\n{origin}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
            Duration::from_secs(5),
        )
    };
    for (origin, body, why) in [
        (Some("http://evil.example"), form(token), "another origin"),
        (None, form("0".repeat(32).as_str()), "a wrong token"),
        (None, form("").replace("csrf=&", ""), "no token"),
    ] {
        let got = post(origin, &body);
        assert!(got.starts_with("HTTP/1.1 403"), "{why}: {got}");
        assert!(!got.contains(CODE), "{why}: the code is echoed");
    }
    assert!(running.shared.accounts().is_empty(), "nothing was opened");
    // The page's own form, from its own origin, goes through.
    let got = post(Some(&format!("http://{addr}")), &form(token));
    assert!(got.starts_with("HTTP/1.1 303"), "{got}");
    assert_eq!(running.shared.accounts().len(), 1);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every request that can change state is guarded, whatever its content type or body: a
/// cross-site POST without a form (once 204 for a reset of every account, 200 for a
/// commissioning) is refused, Origins are compared with scheme, host and port, a Host that is
/// not the service (DNS rebinding) is refused even for GET, and every answer forbids framing
/// and carries a content security policy.
#[test]
fn cross_site_requests_of_any_kind_and_foreign_hosts_are_refused() {
    use std::time::Duration;
    let program = Program::from_yaml(PROGRAM_YAML, "program").unwrap();
    let mut shared = Shared::new(
        program,
        registry(10),
        Store::memory(),
        Some(Day::parse("2025-10-01").unwrap()),
    )
    .unwrap();
    shared.allow_reset = true;
    let running = Running::start(shared, ([127, 0, 0, 1], 0).into(), 2).unwrap();
    let addr = running.addr;
    let agent = ureq::Agent::new_with_defaults();
    let inst = &registry(10).institutions[0];
    let (status, _) = register(&agent, &running.url(), inst, CODE);
    assert_eq!(status, 201);
    let request = |method: &str, path: &str, host: &str, extra: &str, body: &str| {
        raw(
            addr,
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
            Duration::from_secs(5),
        )
    };
    let own = addr.to_string();
    let other_port = format!("127.0.0.1:{}", addr.port().wrapping_add(1));
    for (origin, why) in [
        ("http://evil.example".to_string(), "another site"),
        (format!("https://{own}"), "another scheme"),
        (format!("http://{other_port}"), "another port"),
        ("null".to_string(), "an opaque origin"),
    ] {
        for (method, path, kind) in [
            ("POST", "/api/test/reset", "text/plain"),
            ("POST", "/api/test/reset", "application/json"),
            ("POST", "/api/accounts/1/commission", "text/plain"),
            ("PUT", "/api/accounts/1/website", "text/plain"),
        ] {
            let got = request(
                method,
                path,
                &own,
                &format!("Origin: {origin}\r\nContent-Type: {kind}\r\n"),
                "",
            );
            assert!(
                got.starts_with("HTTP/1.1 403"),
                "{why}, {method} {path}: {got}"
            );
        }
    }
    assert_eq!(running.shared.accounts().len(), 1, "nothing was wiped");
    // A browser that says the request is cross-site.
    let got = request(
        "POST",
        "/api/test/reset",
        &own,
        "Sec-Fetch-Site: cross-site\r\n",
        "",
    );
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    // DNS rebinding: the page's own name in Host, even for a read.
    let got = request("GET", "/api/accounts/1", "rebound.example:80", "", "");
    assert!(got.starts_with("HTTP/1.1 421"), "{got}");
    assert!(got.contains("--allow-host"), "{got}");
    // Every answer forbids framing and sets a policy.
    let got = request("GET", "/", &own, "", "");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let lower = got.to_ascii_lowercase();
    assert!(lower.contains("x-frame-options: deny"), "{got}");
    assert!(
        lower.contains("content-security-policy: default-src 'none'"),
        "{got}"
    );
    // The service's own origin, and clients that send none (curl, kazasu --target), pass.
    let got = request(
        "POST",
        "/api/test/reset",
        &format!("localhost:{}", addr.port()),
        &format!("Origin: http://localhost:{}\r\n", addr.port()),
        "",
    );
    assert!(got.starts_with("HTTP/1.1 204"), "{got}");
    let (status, _) = register(&agent, &running.url(), inst, CODE);
    assert_eq!(status, 201);
    let got = request("POST", "/api/test/reset", &own, "", "");
    assert!(got.starts_with("HTTP/1.1 204"), "{got}");
    assert!(running.shared.accounts().is_empty());
}

/// One client cannot take every connection: past its own cap a new connection of that address
/// is closed at once, while another address is still served. (Once one client reopening
/// half-sent requests starved every other.)
#[test]
fn one_client_cannot_take_every_connection() {
    use std::io::Read;
    use std::time::Duration;
    let limits = kazasu::onboarding::app::Limits {
        max_connections: 8,
        max_per_client: 3,
        header_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
    };
    let running = limited_service(limits);
    let addr = running.addr;
    let from = |ip: [u8; 4]| {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&std::net::SocketAddr::from((ip, 0)).into()).unwrap();
        s.connect(&addr.into()).unwrap();
        std::net::TcpStream::from(s)
    };
    let hog: Vec<std::net::TcpStream> = (0..3).map(|_| from([127, 0, 0, 1])).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut fourth = from([127, 0, 0, 1]);
    fourth
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    use std::io::Write;
    let _ =
        fourth.write_all(format!("GET /api/program HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
    let mut buf = Vec::new();
    assert_eq!(
        fourth.read_to_end(&mut buf).unwrap_or(0),
        0,
        "past the client's cap: {}",
        String::from_utf8_lossy(&buf)
    );
    // Another client address is served while the first holds its three.
    let mut other = from([127, 0, 0, 2]);
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    other
        .write_all(
            format!("GET /api/program HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    let _ = other.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(hog);
}

/// The one-server-per-database lock goes by the file on disk: a symbolic link to the same
/// database cannot open a second writer (it once could), and two different files whose names
/// differ only in their extension never conflict (they once did).
#[test]
fn the_database_lock_goes_by_the_file_not_its_name() {
    let dir = std::env::temp_dir().join(format!("kazasu-dblock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let first = Store::open(&dir.join("d.sqlite")).unwrap();
    std::os::unix::fs::symlink(dir.join("d.sqlite"), dir.join("link.sqlite")).unwrap();
    let e = Store::open(&dir.join("link.sqlite"))
        .err()
        .expect("a second writer through a link");
    assert!(
        e.to_string()
            .contains("in use by another onboarding server"),
        "{e}"
    );
    std::fs::hard_link(dir.join("d.sqlite"), dir.join("hard.sqlite")).unwrap();
    assert!(Store::open(&dir.join("hard.sqlite")).is_err());
    let other = Store::open(&dir.join("d.db")).expect("another file is another database");
    drop((first, other));
    // Once the first server is gone, the link opens.
    Store::open(&dir.join("link.sqlite")).unwrap();
}

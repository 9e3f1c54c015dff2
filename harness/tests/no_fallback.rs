//! Nothing falls back silently: an answer without a status word, a command that cannot be
//! encoded, an unknown `${…}` variable, a body that is not JSON — each is an error or a failure
//! that says what happened, never a made-up value that lets a case pass.

use kazasu::link::backend::Backend;
use kazasu::link::transport::{Transport, TransportError};
use kazasu::run::{CaseResult, Status, run_case_on};
use kazasu::scenario::suite;
use kazasu_sim::reader::FrameRecord;
use kazasu_sim::{LinkError, Reader, SimDuration, SimTime, Transmitted};
use std::io::{Read, Write};

/// A reader whose answers to one command are replaced.
struct Rewriting {
    inner: Reader,
    /// (command prefix, the answer given instead)
    rule: (Vec<u8>, Vec<u8>),
}

impl Backend for Rewriting {
    fn tap(&mut self) -> Result<(), LinkError> {
        self.inner.tap()
    }
    fn remove(&mut self) {
        Backend::remove(&mut self.inner)
    }
    fn disconnect(&mut self) -> Result<(), LinkError> {
        Backend::disconnect(&mut self.inner)
    }
    fn warm_reset(&mut self) -> Result<(), LinkError> {
        Backend::warm_reset(&mut self.inner)
    }
    fn approve(&mut self) -> bool {
        Backend::approve(&mut self.inner)
    }
    fn wait(&mut self, d: SimDuration) {
        Backend::wait(&mut self.inner, d)
    }
    fn bit_rate(&self) -> u32 {
        Backend::bit_rate(&self.inner)
    }
    fn uid(&self) -> Vec<u8> {
        Backend::uid(&self.inner)
    }
    fn atr(&self) -> Result<Vec<u8>, LinkError> {
        Backend::atr(&self.inner)
    }
    fn card_name(&self) -> String {
        Backend::card_name(&self.inner)
    }
    fn missed_faults(&self) -> Vec<String> {
        Backend::missed_faults(&self.inner)
    }
}

impl Transport for Rewriting {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Transmitted, TransportError> {
        let mut t = Transport::transmit(&mut self.inner, apdu)?;
        if apdu.starts_with(&self.rule.0) {
            t.response = self.rule.1.clone();
        }
        Ok(t)
    }
    fn now(&self) -> SimTime {
        Transport::now(&self.inner)
    }
    fn last_frames(&self) -> Vec<FrameRecord> {
        Transport::last_frames(&self.inner)
    }
}

fn run_rewritten(yaml: &str, rule: (Vec<u8>, Vec<u8>)) -> CaseResult {
    let scenarios = suite::parse(yaml, "t.yaml").unwrap();
    suite::check(&scenarios, "t.yaml").unwrap();
    let cases =
        suite::expand(&scenarios, "t.yaml", &suite::Overrides::NONE).expect("profiles load");
    let factory = move |_: usize, inner: Reader| -> Result<Box<dyn Backend>, String> {
        Ok(Box::new(Rewriting {
            inner,
            rule: rule.clone(),
        }))
    };
    run_case_on(&cases[0], 1, 0, &factory, None, false)
}

#[test]
fn an_answer_without_a_status_word_fails_the_step_instead_of_reading_as_0000() {
    // Before: the answer became SW 0000, which `sw: "xxxx"` (or `6xxx`-style patterns) accepts.
    for expect in ["sw: \"xxxx\"", "data_len: 0"] {
        let yaml = format!(
            "name: short answer\nsteps:\n  - tap\n  - apdu: 00 84 00 00 08\n    expect: {{ {expect} }}\n"
        );
        let r = run_rewritten(&yaml, (vec![0x00, 0x84], vec![0x90]));
        assert_eq!(r.status, Status::Failed, "{expect}");
        let f = r.failure.unwrap();
        assert_eq!(f.step, 2);
        assert!(f.expected.contains("status word"), "{f:?}");
        assert!(f.actual.contains("1 bytes without one: 90"), "{f:?}");
    }
}

#[test]
fn a_file_longer_than_read_binary_can_reach_is_an_error_not_an_empty_command() {
    // The header says 65,539 bytes: offsets past 32,767 cannot be encoded in READ BINARY.
    let yaml =
        "name: huge file\nsteps:\n  - tap\n  - select: jpki\n  - read_file: { ef: \"000A\" }\n";
    let mut chunk = vec![0x30, 0x82, 0xFF, 0xFF];
    chunk.resize(256, 0x00);
    chunk.extend_from_slice(&[0x90, 0x00]);
    let r = run_rewritten(yaml, (vec![0x00, 0xB0], chunk));
    assert_eq!(r.status, Status::Error, "{:?}", r.failure);
    let f = r.failure.unwrap();
    assert_eq!(f.step, 3);
    assert!(f.actual.contains("32,767"), "{f:?}");
}

#[test]
fn unknown_variables_are_refused_at_load_in_hex_and_in_text() {
    for (step, want) in [
        ("apdu: 00 20 00 80 04 ${pin}", "unknown variable `${pin}`"),
        ("apdu: 00 A4 04 0C 02 ${account}", "cannot be used here"),
        (
            "verify_pin: { ef: \"0018\", pin: \"${secret.auth_pin}\" }",
            "unknown variable",
        ),
        (
            "register: { name: \"${clinic}\" }",
            "unknown variable `${clinic}`",
        ),
        (
            "http: { method: POST, path: /api/registrations, body: \"${saved.x}\" }",
            "cannot be used here",
        ),
        (
            "http: { method: POST, path: /api/registrations, json: { name: \"${nope}\" } }",
            "unknown variable",
        ),
        (
            "http: { method: GET, path: \"/api/accounts/${secrets.x}\" }",
            "cannot be used here",
        ),
        (
            "order: { product: \"${secrets.p}\" }",
            "cannot be used here",
        ),
    ] {
        let yaml = format!("name: vars\nsteps:\n  - {step}\n");
        let scenarios = suite::parse(&yaml, "vars.yaml").unwrap();
        let e = suite::check(&scenarios, "vars.yaml").unwrap_err();
        assert!(e.message.contains(want), "{step}: {e}");
    }
}

/// A service that answers every request with 200 and a body that is not JSON.
fn not_json_service() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "<html>maintenance</html>";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn an_answer_that_is_not_json_fails_expectations_about_json() {
    for expect in ["errors: []", "json: { /x: null }", "notes: []"] {
        let url = not_json_service();
        let yaml = format!(
            "name: not json\nsteps:\n  - http: {{ method: GET, path: /api/program }}\n    expect: {{ {expect} }}\n"
        );
        let scenarios = suite::parse(&yaml, "t.yaml").unwrap();
        let cases =
            suite::expand(&scenarios, "t.yaml", &suite::Overrides::NONE).expect("profiles load");
        let r = run_case_on(&cases[0], 1, 0, &kazasu::run::inproc, Some(&url), false);
        assert_eq!(r.status, Status::Failed, "{expect}: {:?}", r.failure);
        let f = r.failure.unwrap();
        assert!(f.actual.contains("not JSON: <html>maintenance"), "{f:?}");
    }
}

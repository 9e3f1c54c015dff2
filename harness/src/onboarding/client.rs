//! The runner's side of the onboarding steps: the service (in this process, fresh for each case
//! and on the case's simulated clock, or any service given with `--target URL`), the requests
//! each step makes, and the checks of its expectations. What it records never holds a secret:
//! requests are shown as their templates, with `${secrets.…}` as `***`.
//!
//! In-process, a request goes through the very router `kazasu onboarding serve` serves — the
//! same rules, statuses and JSON — without a socket, and commissioning reads the case's own card
//! through the case's own reader (with its faults), so a scenario can make it fail.

use super::app::{self, Shared, StartError};
use super::commission::ReadOutcome;
use super::server;
use super::store::Store;
use crate::scenario::variables::{self, VariableError};
use crate::scenario::{HttpStep, Mismatch, OnboardingAction, OnboardingExpect, RegisterStep};
use kazasu_onboarding::program::Day;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How long the onboarding service takes to answer a request, in simulated time: **modelled**
/// (a web service reached over a clinic's internet connection; no public figure).
pub const MODELLED_RESPONSE_TIME: Duration = Duration::from_millis(150);

/// The bought reader's first read, made by the runner in-process: given the reader profile the
/// account ordered, what the read came to, or why the case cannot make it (a step error).
pub type FirstRead<'a> = &'a mut dyn FnMut(&str) -> Result<ReadOutcome, BoxedError>;

/// An error of the runner, carried through the service's first read.
pub type BoxedError = Box<dyn std::error::Error + Send + Sync>;

/// `${secrets.NAME}` substituted in a string.
pub type Expand<'a> = &'a dyn Fn(&str) -> Result<String, VariableError>;

/// Why an onboarding step could not be made (an answer the step did not expect is no error:
/// it is the step's mismatch).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The in-process service.
    #[error("cannot start the onboarding service: {0}")]
    Start(#[from] StartError),
    /// Its runtime.
    #[error("cannot start the onboarding runtime: {0}")]
    Runtime(std::io::Error),
    /// A `--target` that cannot be reset between cases.
    #[error(
        "{url}: POST /api/test/reset answered {status}; a target must let the runner start each \
         case afresh (kazasu onboarding serve --allow-reset)"
    )]
    NoReset {
        /// The target.
        url: String,
        /// Its answer.
        status: u16,
    },
    /// An `http` step's method.
    #[error("method `{0}`: use GET, POST, PUT or DELETE")]
    Method(String),
    /// A request that got no answer.
    #[error("{method} {target}: {reason}")]
    Request {
        /// Its method.
        method: String,
        /// Its URL or path.
        target: String,
        /// The HTTP client's reason.
        reason: String,
    },
    /// An `http` step with both kinds of body.
    #[error("an http step has `json` or `body`, not both")]
    JsonAndBody,
    /// A `${…}` variable.
    #[error(transparent)]
    Variable(#[from] VariableError),
    /// The runner could not make commissioning's first read.
    #[error(transparent)]
    FirstRead(BoxedError),
}

/// A request error with its method and target.
fn request_error(method: &str, target: &str) -> impl FnOnce(String) -> ServiceError {
    move |reason| ServiceError::Request {
        method: method.to_owned(),
        target: target.to_owned(),
        reason,
    }
}

enum Service {
    /// The rules in this process, behind the served router.
    Local {
        shared: Arc<Shared>,
        router: axum::Router,
        runtime: tokio::runtime::Runtime,
    },
    /// A service at a URL.
    Remote { base: String, agent: ureq::Agent },
}

/// A connection to an onboarding service for one case.
pub struct Session {
    service: Service,
    last_account: Option<String>,
}

/// What a step did: a line for the transcript and, when an expectation failed, both sides.
pub struct StepReport {
    /// `POST /api/registrations → 422 invitation_code.invalid`.
    pub line: String,
    /// The first expectation that failed.
    pub failure: Option<Mismatch>,
}

/// An HTTP client for the onboarding API: statuses are answers, not errors; every call has a
/// 30 s time-out.
pub fn http_agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build();
    ureq::Agent::new_with_config(config)
}

impl Session {
    /// A fresh service in this process (in memory), with its calendar at `today`.
    pub fn local(today: Option<Day>) -> Result<Session, ServiceError> {
        let shared = Arc::new(Shared::embedded(Store::memory(), today)?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(ServiceError::Runtime)?;
        Ok(Session {
            service: Service::Local {
                router: server::router(shared.clone()),
                shared,
                runtime,
            },
            last_account: None,
        })
    }

    /// Any service implementing the API at `url`, reset first (`POST /api/test/reset`, with the
    /// case's calendar day) so that every case starts from no accounts, as with the local
    /// service.
    pub fn remote(url: &str, today: Option<Day>) -> Result<Session, ServiceError> {
        let s = Session {
            service: Service::Remote {
                base: url.trim_end_matches('/').to_string(),
                agent: http_agent(),
            },
            last_account: None,
        };
        let body = today.map(|d| json!({ "today": d.to_string() }).to_string());
        let r = s.request("POST", "/api/test/reset", body)?;
        if !(200..300).contains(&r.status) {
            return Err(ServiceError::NoReset {
                url: url.to_owned(),
                status: r.status,
            });
        }
        Ok(s)
    }

    /// Whether the service runs in this process, on simulated time.
    pub fn is_local(&self) -> bool {
        matches!(self.service, Service::Local { .. })
    }

    /// Sets the local service's clock to the case's simulated time.
    pub fn set_clock(&self, now_s: u64) {
        if let Service::Local { shared, .. } = &self.service {
            shared.set_virtual_now(now_s);
        }
    }

    fn account_or(&self, given: Option<&str>) -> Result<String, VariableError> {
        given
            .map(str::to_string)
            .or_else(|| self.last_account.clone())
            .ok_or(VariableError::NoAccount)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<Reply, ServiceError> {
        if !["GET", "POST", "PUT", "DELETE"].contains(&method) {
            return Err(ServiceError::Method(method.to_owned()));
        }
        let (status, retry_after, text) = match &self.service {
            Service::Local {
                router, runtime, ..
            } => local_request(router, runtime, method, path, body)?,
            Service::Remote { base, agent } => {
                let url = format!("{base}{path}");
                let result = match (method, body) {
                    ("GET", _) => agent.get(&url).call(),
                    ("POST", Some(b)) => agent
                        .post(&url)
                        .header("content-type", "application/json")
                        .send(b.as_bytes()),
                    ("POST", None) => agent.post(&url).send_empty(),
                    ("PUT", Some(b)) => agent
                        .put(&url)
                        .header("content-type", "application/json")
                        .send(b.as_bytes()),
                    ("PUT", None) => agent.put(&url).send_empty(),
                    _ => agent.delete(&url).call(),
                };
                let mut resp = result.map_err(|e| request_error(method, &url)(e.to_string()))?;
                let status = resp.status().as_u16();
                let retry_after = resp.headers().get("retry-after").is_some();
                let text = resp
                    .body_mut()
                    .read_to_string()
                    .map_err(|e| request_error(method, &url)(format!("reading the answer: {e}")))?;
                (status, retry_after, text)
            }
        };
        // A body that is not JSON is kept as such: an expectation about the JSON answer then
        // fails, saying so, rather than reading it as an empty answer.
        let json = if text.trim().is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_str(&text).map_err(|_| text.chars().take(80).collect::<String>())
        };
        Ok(Reply {
            status,
            retry_after,
            body: json,
        })
    }

    /// Runs one onboarding step. `expand` substitutes `${secrets.NAME}` in a string;
    /// `first_read` makes commissioning's read when the service is local.
    pub fn run(
        &mut self,
        action: &OnboardingAction,
        expect: &OnboardingExpect,
        expand: Expand<'_>,
        first_read: FirstRead<'_>,
    ) -> Result<StepReport, ServiceError> {
        let (method, path, body, shown_body) = match action {
            OnboardingAction::Register(r) => {
                let (body, shown) = register_body(r, expand)?;
                ("POST", "/api/registrations".to_string(), Some(body), shown)
            }
            OnboardingAction::Website(w) => {
                let id = self.account_or(None)?;
                let url = if w.skip {
                    Value::Null
                } else {
                    json!(w.url.clone().unwrap_or_default())
                };
                let body = json!({ "url": url }).to_string();
                (
                    "PUT",
                    format!("/api/accounts/{id}/website"),
                    Some(body.clone()),
                    body,
                )
            }
            OnboardingAction::Order(o) => {
                let id = self.account_or(o.account.as_deref())?;
                let body = json!({ "product_id": o.product }).to_string();
                (
                    "POST",
                    format!("/api/accounts/{id}/orders"),
                    Some(body.clone()),
                    body,
                )
            }
            OnboardingAction::AccountStatus(a) => {
                let id = self.account_or(a.as_deref())?;
                ("GET", format!("/api/accounts/{id}"), None, String::new())
            }
            OnboardingAction::Commission => {
                let id = self.account_or(None)?;
                (
                    "POST",
                    format!("/api/accounts/{id}/commission"),
                    None,
                    String::new(),
                )
            }
            OnboardingAction::Http(h) => {
                let (path, body, shown) = self.http_parts(h, expand)?;
                (h.method.as_str(), path, body, shown)
            }
        };
        let method = method.to_ascii_uppercase();
        let reply = match (action, &self.service) {
            (OnboardingAction::Commission, Service::Local { shared, .. }) => {
                local_commission(shared, &self.account_or(None)?, first_read)?
            }
            _ => self.request(&method, &path, body)?,
        };
        if matches!(action, OnboardingAction::Register(_)) && reply.status == 201 {
            self.last_account = reply
                .json()
                .pointer("/account/id")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        let codes = reply.error_codes();
        let mut line = format!("{method} {path}");
        if !shown_body.is_empty() {
            line.push_str(&format!(" {shown_body}"));
        }
        line.push_str(&format!(" → {}", reply.status));
        if !codes.is_empty() {
            line.push_str(&format!(" {}", codes.join(", ")));
        }
        if let (OnboardingAction::Commission, Some(detail)) =
            (action, reply.json().get("detail").and_then(Value::as_str))
        {
            line.push_str(&format!(": {detail}"));
        }
        let failure = self.check(action, expect, &reply)?;
        Ok(StepReport { line, failure })
    }

    fn http_parts(
        &self,
        h: &HttpStep,
        expand: Expand<'_>,
    ) -> Result<(String, Option<String>, String), ServiceError> {
        let path =
            variables::substitute(&h.path, variables::place::PATH, |_| self.account_or(None))?;
        match (&h.json, &h.body) {
            (Some(_), Some(_)) => Err(ServiceError::JsonAndBody),
            (Some(v), None) => {
                let shown = redact_value(v).to_string();
                Ok((path, Some(expand_value(v, expand)?.to_string()), shown))
            }
            (None, Some(b)) => {
                let shown = if variables::names_secret(b) {
                    "(body with secrets)".to_string()
                } else {
                    redact_raw_body(b)
                };
                Ok((path, Some(expand(b)?), shown))
            }
            (None, None) => Ok((path, None, String::new())),
        }
    }

    fn check(
        &self,
        action: &OnboardingAction,
        e: &OnboardingExpect,
        reply: &Reply,
    ) -> Result<Option<Mismatch>, ServiceError> {
        let shown = reply.describe();
        match e.status {
            Some(s) if s != reply.status => {
                return Ok(Some(Mismatch::new(format!("HTTP {s}"), shown)));
            }
            None if !(200..300).contains(&reply.status) => {
                return Ok(Some(Mismatch::new("HTTP 2xx", shown)));
            }
            _ => {}
        }
        let reads_json = e.errors.is_some()
            || e.notes.is_some()
            || e.json.is_some()
            || e.account_status.is_some()
            || matches!(action, OnboardingAction::Commission);
        if let (true, Some(body)) = (reads_json, reply.not_json()) {
            return Ok(Some(Mismatch::new(
                "a JSON answer",
                format!("HTTP {} with a body that is not JSON: {body}", reply.status),
            )));
        }
        if let Some(want) = &e.errors {
            let mut want = want.clone();
            want.sort();
            let mut got = reply.error_codes();
            got.sort();
            if want != got {
                return Ok(Some(Mismatch::new(
                    format!("errors [{}]", want.join(", ")),
                    shown,
                )));
            }
        }
        if let Some(notes) = &e.notes {
            let have: Vec<String> = reply
                .json()
                .get("notes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            for n in notes {
                if !have.iter().any(|h| h.contains(n.as_str())) {
                    return Ok(Some(Mismatch::new(
                        format!("a note saying `{n}`"),
                        format!("notes {have:?}"),
                    )));
                }
            }
        }
        if let Some(want) = e.retry_after
            && want != reply.retry_after
        {
            return Ok(Some(Mismatch::new(
                format!("{} Retry-After header", if want { "a" } else { "no" }),
                shown,
            )));
        }
        let commission_default = matches!(action, OnboardingAction::Commission)
            && e.json.is_none()
            && e.status.is_none();
        if commission_default && reply.json().get("passed") != Some(&Value::Bool(true)) {
            return Ok(Some(Mismatch::new(
                "the phone read through the bought reader (passed: true)",
                shown,
            )));
        }
        if let Some(pointers) = &e.json {
            for (p, want) in pointers {
                let got = reply.json().pointer(p);
                if got != Some(want) {
                    return Ok(Some(Mismatch::new(
                        format!("{p} = {want}"),
                        format!("{p} = {}", got.map_or("(absent)".into(), Value::to_string)),
                    )));
                }
            }
        }
        if let Some(want) = &e.account_status {
            let status = match reply
                .json()
                .pointer("/account/status")
                .and_then(Value::as_str)
            {
                Some(s) => s.to_string(),
                None => {
                    let id = self.account_or(None)?;
                    let r = self.request("GET", &format!("/api/accounts/{id}"), None)?;
                    r.json()
                        .pointer("/account/status")
                        .and_then(Value::as_str)
                        .unwrap_or("(none)")
                        .to_string()
                }
            };
            if *want != status {
                return Ok(Some(Mismatch::new(
                    format!("account status {want}"),
                    format!("account status {status}"),
                )));
            }
        }
        Ok(None)
    }
}

struct Reply {
    status: u16,
    retry_after: bool,
    /// The JSON answer (`Null` for an empty body), or the start of a body that is not JSON.
    body: Result<Value, String>,
}

static NO_JSON: Value = Value::Null;

impl Reply {
    /// The JSON answer; `Null` when the body was empty or not JSON (see [`Reply::not_json`]).
    fn json(&self) -> &Value {
        self.body.as_ref().unwrap_or(&NO_JSON)
    }
    /// The start of a body that is not JSON.
    fn not_json(&self) -> Option<&str> {
        self.body.as_ref().err().map(String::as_str)
    }
    fn error_codes(&self) -> Vec<String> {
        self.json()
            .get("errors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get("code").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
    fn describe(&self) -> String {
        let codes = self.error_codes();
        if codes.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {} with errors [{}]", self.status, codes.join(", "))
        }
    }
}

fn register_body(r: &RegisterStep, expand: Expand<'_>) -> Result<(String, String), VariableError> {
    let mut body = serde_json::Map::new();
    let mut shown = serde_json::Map::new();
    let fields: [(&str, Option<&String>, Option<&str>); 7] = [
        ("name", r.name.as_ref(), None),
        ("postal_code", r.postal_code.as_ref(), Some("100-0001")),
        (
            "contact_email",
            r.contact_email.as_ref(),
            Some("desk@example.jp"),
        ),
        ("business_type", r.business_type.as_ref(), None),
        ("verification", r.verification.as_ref(), None),
        ("invitation_code", r.invitation_code.as_ref(), None),
        ("corporate_number", r.corporate_number.as_ref(), None),
    ];
    for (key, value, default) in fields {
        let Some(v) = value.map(String::as_str).or(default) else {
            continue;
        };
        body.insert(key.into(), Value::String(expand(v)?));
        // The code is never shown, whether it came from a secret or was written out.
        let hidden = key == "invitation_code" || variables::names_secret(v);
        shown.insert(
            key.into(),
            Value::String(if hidden { "***".into() } else { v.into() }),
        );
    }
    Ok((
        Value::Object(body).to_string(),
        Value::Object(shown).to_string(),
    ))
}

fn expand_value(v: &Value, expand: Expand<'_>) -> Result<Value, VariableError> {
    Ok(match v {
        Value::String(s) => Value::String(expand(s)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| expand_value(x, expand))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| expand_value(x, expand).map(|x| (k.clone(), x)))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// A raw body as reports show it: JSON with its invitation code hidden; any other text with
/// whatever follows `invitation_code` (as a JSON-ish or form field) hidden.
fn redact_raw_body(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        return redact_value(&v).to_string();
    }
    static FIELD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let field = FIELD.get_or_init(|| {
        regex::Regex::new(r#"(invitation_code"?[ \t]*[:=][ \t]*"?)[^",&} \t\r\n]*"#)
            .expect("a valid regex")
    });
    field.replace_all(body, "${1}***").into_owned()
}

fn redact_value(v: &Value) -> Value {
    match v {
        Value::String(s) if variables::names_secret(s) => Value::String("***".into()),
        Value::Array(a) => Value::Array(a.iter().map(redact_value).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let x = if k == "invitation_code" {
                        Value::String("***".into())
                    } else {
                        redact_value(x)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One request through the local router: (status, a Retry-After header?, the body).
fn local_request(
    router: &axum::Router,
    runtime: &tokio::runtime::Runtime,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<(u16, bool, String), ServiceError> {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let mut request = request
        .body(axum::body::Body::from(body.unwrap_or_default()))
        .map_err(|e| request_error(method, path)(e.to_string()))?;
    // The wrong-code limiter keys on the client's address.
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            0,
        ))));
    runtime.block_on(async {
        let response = router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| request_error(method, path)(e.to_string()))?;
        let status = response.status().as_u16();
        let retry_after = response.headers().contains_key("retry-after");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .map_err(|e| request_error(method, path)(format!("reading the answer: {e}")))?;
        Ok((
            status,
            retry_after,
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    })
}

/// Commissioning in-process: the service names the ordered reader profile, the runner reads
/// the case's card through the case's reader, the service records the outcome — the answer is
/// the one the served service gives.
fn local_commission(
    shared: &Shared,
    id: &str,
    first_read: FirstRead<'_>,
) -> Result<Reply, ServiceError> {
    let answer = |status: u16, json: Value| Reply {
        status,
        retry_after: false,
        body: Ok(json),
    };
    let profile = match app::commission_begin(shared, id) {
        Ok(p) => p,
        Err((status, errors)) => return Ok(answer(status.as_u16(), server::errors_json(&errors))),
    };
    let read = first_read(&profile).map_err(ServiceError::FirstRead)?;
    Ok(match app::commission_end(shared, id, profile, read) {
        Ok(c) => answer(200, server::commission_json(&c)),
        Err((status, errors)) => answer(status.as_u16(), server::errors_json(&errors)),
    })
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_raw_body;

    #[test]
    fn a_raw_body_never_shows_an_invitation_code() {
        for body in [
            r#"{"name": "x", "invitation_code": "ZZ9QX7"}"#,
            r#"{"name": "x", "invitation_code": "ZZ9QX7""#,
            "name=x&invitation_code=ZZ9QX7",
        ] {
            let shown = redact_raw_body(body);
            assert!(
                !shown.contains("ZZ9QX7") && shown.contains("***"),
                "{shown}"
            );
        }
        assert_eq!(redact_raw_body("{not json"), "{not json");
    }
}

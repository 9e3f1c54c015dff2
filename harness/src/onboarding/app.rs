//! What the onboarding service does, whatever face it is asked through: the shared state (the
//! sans-IO rules of `kazasu_onboarding`, the [`Store`], the clock) and the use cases — register,
//! set the website, order, commission — that the JSON API (`server.rs`) and the HTML site
//! (`site.rs`) both call. It imports neither.

use super::commission::ReadOutcome;
use super::store::{Store, StoreError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kazasu_onboarding::program::DataError;
use kazasu_onboarding::program::{Day, Program, Registry};
use kazasu_onboarding::service::{
    Account, FieldError, Onboarding, Ordered, Registration, RegistrationForm,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The embedded program and registry (`scenarios/onboarding/*.data.yaml`).
pub const PROGRAM_YAML: &str = include_str!("../../../scenarios/onboarding/program.data.yaml");
/// The embedded portal registry.
pub const REGISTRY_YAML: &str = include_str!("../../../scenarios/onboarding/registry.data.yaml");

/// Largest request body accepted, bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its program or registry data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Its database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operating system gave no random bytes for the form token.
    #[error("no random bytes for the form token: {0}")]
    Random(openssl::error::ErrorStack),
}

/// What the service runs on.
pub struct Shared {
    pub(super) core: Mutex<Onboarding>,
    pub(super) store: Mutex<Store>,
    pub(super) today: Mutex<Option<Day>>,
    started: Instant,
    /// The case's simulated clock in seconds, when the runner drives the service in-process;
    /// `None`: wall time since the service started.
    virtual_now_s: Mutex<Option<u64>>,
    seed: u64,
    /// `POST /api/test/reset` forgets everything (for conformance runs with `--target`).
    pub allow_reset: bool,
    /// One line per request on stderr: method, path, status, time (never a body).
    pub log_requests: bool,
    /// Connection and time limits.
    pub limits: Limits,
    /// The token every HTML form carries (random per start of the service).
    pub(super) csrf_token: String,
    /// Names the service answers to besides its listen address (`--allow-host`).
    pub extra_hosts: Vec<String>,
    /// The `Host` values that name the service, and the port when it listens on every
    /// address; set when it starts listening (in-process requests carry no `Host`).
    pub(super) allowed_hosts: std::sync::OnceLock<(Vec<String>, Option<u16>)>,
}

impl Shared {
    /// A service over `program`, `registry` and `store` (its saved accounts are restored);
    /// `today` fixes the service's calendar (default: the date in Japan).
    pub fn new(
        program: Program,
        registry: Registry,
        store: Store,
        today: Option<Day>,
    ) -> Result<Shared, StartError> {
        let mut core = Onboarding::new(program, registry);
        let (accounts, orders) = store.load()?;
        core.restore(accounts, orders);
        Ok(Shared {
            core: Mutex::new(core),
            store: Mutex::new(store),
            today: Mutex::new(today),
            started: Instant::now(),
            virtual_now_s: Mutex::new(None),
            seed: 1,
            allow_reset: false,
            log_requests: false,
            limits: Limits::default(),
            csrf_token: random_token()?,
            extra_hosts: Vec::new(),
            allowed_hosts: std::sync::OnceLock::new(),
        })
    }

    /// The embedded program and registry over `store`.
    pub fn embedded(store: Store, today: Option<Day>) -> Result<Shared, StartError> {
        Shared::new(
            Program::from_yaml(PROGRAM_YAML, "program.data.yaml")?,
            Registry::from_yaml(REGISTRY_YAML, "registry.data.yaml")?,
            store,
            today,
        )
    }

    /// Accounts held now.
    pub fn accounts(&self) -> Vec<Account> {
        self.core
            .lock()
            .expect("core lock")
            .accounts()
            .cloned()
            .collect()
    }

    /// Runs the service's clock (the wrong-code limiter's) on simulated time: `now_s` seconds.
    pub fn set_virtual_now(&self, now_s: u64) {
        *self.virtual_now_s.lock().expect("clock lock") = Some(now_s);
    }

    /// Seconds on the service's clock.
    fn now_s(&self) -> u64 {
        self.virtual_now_s
            .lock()
            .expect("clock lock")
            .unwrap_or_else(|| self.started.elapsed().as_secs())
    }

    pub(super) fn today(&self) -> Day {
        self.today
            .lock()
            .expect("today lock")
            .unwrap_or_else(today_in_japan)
    }
}

/// 16 random bytes as hex, from the operating system's generator.
fn random_token() -> Result<String, StartError> {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).map_err(StartError::Random)?;
    Ok(hex::encode(bytes))
}

/// Today's date in Japan (UTC+9).
pub fn today_in_japan() -> Day {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 9 * 3600;
    civil_from_days((secs / 86_400) as i64)
}

/// Days since 1970-01-01 to a calendar day (proleptic Gregorian).
pub(super) fn civil_from_days(z: i64) -> Day {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    Day { year, month, day }
}

pub(super) type App = Arc<Shared>;

pub(super) fn fe(field: &str, code: &str, ja: &str, en: &str) -> FieldError {
    FieldError {
        field: field.into(),
        code: format!("{field}.{code}"),
        ja: ja.into(),
        en: en.into(),
    }
}

pub(super) fn no_account_error() -> FieldError {
    fe(
        "account",
        "unknown",
        "アカウントが見つかりません。",
        "no such account",
    )
}

pub(super) fn duplicate_error() -> FieldError {
    fe(
        "name",
        "duplicate",
        "この医療機関のアカウントは既に作成されています。",
        "this institution already has a business account",
    )
}

pub(super) fn rate_limited_error() -> FieldError {
    fe(
        "invitation_code",
        "rate_limited",
        "招待コードの誤入力が続いたため、しばらくしてから再度お試しください。",
        "too many wrong invitation codes from this address: try again later",
    )
}

/// A save that failed (the cause goes to the service's log, not to the client).
pub(super) fn storage_error() -> FieldError {
    fe(
        "server",
        "storage",
        "保存できませんでした。",
        "the service could not save this; try again",
    )
}

/// What a registration request came to, for both faces.
pub(super) enum Registered {
    Opened(Account, Vec<String>),
    Rejected(Vec<FieldError>, Vec<String>),
    Duplicate(String),
    Limited(u64),
    Failed(StoreError),
}

pub(super) fn register(app: &Shared, form: &RegistrationForm, client: &str) -> Registered {
    let now_s = app.now_s();
    let today = app.today();
    let mut core = app.core.lock().expect("core lock");
    let (outcome, notes) = core.register(form, client, now_s, today);
    match outcome {
        Registration::Opened(account) => {
            // Saved before anyone hears of it; a failed save takes the account back.
            if let Err(e) = app
                .store
                .lock()
                .expect("store lock")
                .insert_account(&account)
            {
                core.forget(&account.id);
                return Registered::Failed(e);
            }
            Registered::Opened(account, notes)
        }
        Registration::Rejected(errors) => Registered::Rejected(errors, notes),
        Registration::Duplicate { account_id } => Registered::Duplicate(account_id),
        Registration::RateLimited { retry_after_s } => Registered::Limited(retry_after_s),
    }
}

/// `response` with a Retry-After of `wait` seconds.
pub(super) fn retry_after(mut response: Response, wait: u64) -> Response {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&wait.to_string()).expect("digits"),
    );
    response
}

pub(super) fn set_website(
    app: &Shared,
    id: &str,
    url: Option<&str>,
) -> Result<Account, (StatusCode, Vec<FieldError>)> {
    let mut core = app.core.lock().expect("core lock");
    if core.account(id).is_none() {
        return Err((StatusCode::NOT_FOUND, vec![no_account_error()]));
    }
    let account = core
        .set_website(id, url)
        .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e))?
        .clone();
    app.store
        .lock()
        .expect("store lock")
        .update_account(&account)
        .map_err(|e| {
            eprintln!("onboarding: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, vec![storage_error()])
        })?;
    Ok(account)
}

pub(super) fn order(
    app: &Shared,
    id: &str,
    product: &str,
) -> Result<kazasu_onboarding::service::Order, (StatusCode, Vec<FieldError>)> {
    let today = app.today();
    let mut core = app.core.lock().expect("core lock");
    match core.order(id, product, today) {
        Ordered::Placed(o) => {
            if let Err(e) = app.store.lock().expect("store lock").save_order(&o) {
                eprintln!("onboarding: {e}");
                core.forget_order(&o.id);
                return Err((StatusCode::INTERNAL_SERVER_ERROR, vec![storage_error()]));
            }
            Ok(o)
        }
        Ordered::Rejected(errors) => Err((StatusCode::UNPROCESSABLE_ENTITY, errors)),
        Ordered::NoAccount => Err((StatusCode::NOT_FOUND, vec![no_account_error()])),
    }
}

/// The result of commissioning.
pub struct Commissioning {
    /// Whether the phone was read.
    pub passed: bool,
    /// What happened.
    pub detail: String,
    /// The reader profile used.
    pub reader_profile: String,
    /// The account after it.
    pub account: Account,
}

/// The first half of commissioning: the reader profile of the product the account ordered, or
/// why the account cannot be commissioned (unknown, documents pending, nothing ordered).
pub fn commission_begin(app: &Shared, id: &str) -> Result<String, (StatusCode, Vec<FieldError>)> {
    let core = app.core.lock().expect("core lock");
    let Some(account) = core.account(id) else {
        return Err((StatusCode::NOT_FOUND, vec![no_account_error()]));
    };
    if account.status == kazasu_onboarding::service::AccountStatus::PendingDocumentReview {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![fe(
                "account",
                "pending_review",
                "書類審査が完了していません。",
                "the account's documents have not been reviewed yet",
            )],
        ));
    }
    core.commissioning_reader(id)
        .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, vec![e]))
}

/// The second half: records whether the first read through `reader_profile` passed.
pub fn commission_end(
    app: &Shared,
    id: &str,
    reader_profile: String,
    first_read: ReadOutcome,
) -> Result<Commissioning, (StatusCode, Vec<FieldError>)> {
    let (passed, detail) = match first_read {
        ReadOutcome::Passed(d) => (true, d),
        ReadOutcome::Failed(d) => (false, d),
    };
    let mut core = app.core.lock().expect("core lock");
    let account = core
        .commissioned(id, passed)
        .cloned()
        .ok_or_else(|| (StatusCode::NOT_FOUND, vec![no_account_error()]))?;
    app.store
        .lock()
        .expect("store lock")
        .update_account(&account)
        .map_err(|e| {
            eprintln!("onboarding: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, vec![storage_error()])
        })?;
    Ok(Commissioning {
        passed,
        detail,
        reader_profile,
        account,
    })
}

/// Commissioning as the served service does it: the first read with a virtual Android phone
/// through the ordered product's reader profile.
pub(super) fn commission(
    app: &Shared,
    id: &str,
) -> Result<Commissioning, (StatusCode, Vec<FieldError>)> {
    let reader_profile = commission_begin(app, id)?;
    // The first read runs outside the lock: the service keeps answering meanwhile.
    let read = super::commission::first_read(&reader_profile, app.seed);
    commission_end(app, id, reader_profile, read)
}

/// What one client may hold of the service: connections, and time to send a request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most connections served at once; beyond it a new connection is closed at once (the
    /// client sees a reset and may retry) rather than left waiting while the process runs out
    /// of files.
    pub max_connections: usize,
    /// Most connections one client address holds at once: one client reopening half-sent
    /// requests cannot take every slot from the others.
    pub max_per_client: usize,
    /// A client must send a request's headers within this long (also an idle keep-alive
    /// connection's limit), or the connection is closed: half-sent requests cannot pile up.
    pub header_timeout: std::time::Duration,
    /// A request (its body read and its answer made) must be done within this long: 408
    /// otherwise.
    pub request_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            max_per_client: 128,
            header_timeout: std::time::Duration::from_secs(10),
            request_timeout: std::time::Duration::from_secs(20),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kazasu_onboarding::service::RegistrationForm;

    fn service() -> Shared {
        let day = Day {
            year: 2025,
            month: 10,
            day: 1,
        };
        Shared::embedded(Store::memory(), Some(day)).expect("the embedded program")
    }

    fn form(code: &str) -> RegistrationForm {
        RegistrationForm {
            name: "かざす内科クリニック 1310123458".into(),
            postal_code: "100-0001".into(),
            contact_email: "desk@example.jp".into(),
            business_type: Some("sole_proprietor".into()),
            verification: None,
            invitation_code: Some(kazasu_sim::Secret::new(code.to_string())),
            corporate_number: None,
        }
    }

    #[test]
    fn a_registration_is_saved_once_and_an_order_gets_the_subsidy() {
        let app = service();
        let Registered::Opened(account, _) = register(&app, &form("KZ7Q2M"), "127.0.0.1") else {
            panic!("the bundled test code opens an account");
        };
        assert_eq!(app.accounts().len(), 1);
        assert!(matches!(
            register(&app, &form("KZ7Q2M"), "127.0.0.1"),
            Registered::Duplicate(id) if id == account.id
        ));
        let o = order(&app, &account.id, "sanwa-body").expect("a subsidised reader");
        assert_eq!(
            (o.price_yen, o.subsidy_yen, o.total_yen),
            (9_800, 4_900, 4_900)
        );
        let (status, errors) = order(&app, "A999999", "sanwa-body").expect_err("no account");
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(errors[0].code, "account.unknown");
        let (status, _) = set_website(&app, "A999999", None).expect_err("no account");
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_wrong_invitation_code_is_rejected_and_the_days_count_from_1970() {
        let app = service();
        match register(&app, &form("WRONG1"), "127.0.0.1") {
            Registered::Rejected(errors, _) => {
                assert!(
                    errors.iter().any(|e| e.field == "invitation_code"),
                    "{errors:?}"
                );
            }
            _ => panic!("a wrong code opens nothing"),
        }
        assert!(app.accounts().is_empty());
        assert_eq!(
            civil_from_days(0),
            Day {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            civil_from_days(20_362),
            Day {
                year: 2025,
                month: 10,
                day: 1
            }
        );
    }
}

//! The onboarding service's IO shell: an HTTP JSON API (`/api/…`, described by
//! `docs/onboarding-openapi.yaml`, served at `/openapi.yaml`) and plain server-rendered
//! HTML pages for the same flow, over the sans-IO rules of `kazasu_onboarding`. Accounts
//! and orders persist in the [`Store`]; the invitation code never appears in a response, a page
//! or a log line.

use super::app::{
    App, Commissioning, Limits, MAX_BODY, Registered, Shared, commission, duplicate_error, fe,
    no_account_error, order, rate_limited_error, register, retry_after, set_website, storage_error,
};
use super::site;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use kazasu_onboarding::program::{Day, Program};
use kazasu_onboarding::service::{FieldError, Onboarding, RegistrationForm};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The API description.
pub const OPENAPI_YAML: &str = include_str!("../../../docs/onboarding-openapi.yaml");

/// On stop, requests in flight get this long to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The routes.
pub fn router(shared: App) -> Router {
    let log = shared.log_requests;
    let routes = Router::new()
        .route("/", get(site::program))
        .route("/register", get(site::register_form).post(site::register))
        .route("/accounts/{id}", get(site::account))
        .route("/accounts/{id}/website", post(site::website))
        .route("/accounts/{id}/order", post(site::order))
        .route("/accounts/{id}/commission", post(site::commission))
        .route("/api/program", get(api_program))
        .route("/api/registrations", post(api_register))
        .route("/api/accounts/{id}", get(api_account))
        .route("/api/accounts/{id}/website", put(api_website))
        .route("/api/accounts/{id}/orders", post(api_order))
        .route("/api/accounts/{id}/commission", post(api_commission))
        .route("/api/test/reset", post(api_reset))
        .route("/openapi.yaml", get(openapi))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            site::csrf_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            super::guard::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            request_timeout,
        ))
        .with_state(shared);
    if log {
        routes.layer(axum::middleware::from_fn(access_log))
    } else {
        routes
    }
}

/// `POST /api/registrations 201 0.4 ms`: the path and status only — bodies (and with them any
/// invitation code) never reach the log.
async fn access_log(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = Instant::now();
    let response = next.run(req).await;
    eprintln!(
        "{method} {path} {} {:.1} ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1e3
    );
    response
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        vec![fe(
            "path",
            "not_found",
            "ページが見つかりません。",
            "no such page or endpoint",
        )],
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// The service's calendar day from now on.
    #[serde(default)]
    today: Option<String>,
}

async fn api_reset(State(app): State<App>, body: axum::body::Bytes) -> Response {
    if !app.allow_reset {
        return not_found().await;
    }
    let body: ResetBody = if body.is_empty() {
        ResetBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    vec![FieldError {
                        field: "body".into(),
                        code: "body.invalid".into(),
                        ja: "リクエストの形式が正しくありません。".into(),
                        en: format!("send {{}} or {{\"today\": \"YYYY-MM-DD\"}}: {e}"),
                    }],
                );
            }
        }
    };
    if let Some(t) = &body.today {
        match Day::parse(t) {
            Ok(d) => *app.today.lock().expect("today lock") = Some(d),
            Err(e) => {
                return error_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    vec![FieldError {
                        field: "today".into(),
                        code: "today.invalid".into(),
                        ja: "日付の形式が正しくありません。".into(),
                        en: e.to_string(),
                    }],
                );
            }
        }
    }
    let mut core = app.core.lock().expect("core lock");
    if let Err(e) = app.store.lock().expect("store lock").clear() {
        eprintln!("onboarding: {e}");
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, vec![]);
    }
    core.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        OPENAPI_YAML,
    )
        .into_response()
}

fn error_response(status: StatusCode, errors: Vec<FieldError>) -> Response {
    (status, axum::Json(errors_json(&errors))).into_response()
}

fn program_view(p: &Program) -> serde_json::Value {
    // Everything but the invitation code's hash.
    json!({
        "name": p.name,
        "window": p.window,
        "eligible": p.eligible,
        "subsidy": p.subsidy,
        "products": p.products,
    })
}

async fn api_program(State(app): State<App>) -> Response {
    let core = app.core.lock().expect("core lock");
    axum::Json(program_view(&core.program)).into_response()
}

fn limited_response(wait: u64) -> Response {
    retry_after(
        error_response(StatusCode::TOO_MANY_REQUESTS, vec![rate_limited_error()]),
        wait,
    )
}

async fn api_register(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<axum::Json<RegistrationForm>, JsonRejection>,
) -> Response {
    let form = match body {
        Ok(axum::Json(f)) => f,
        Err(rejection) => return body_rejected(&rejection, "a registration form"),
    };
    match register(&app, &form, &peer.ip().to_string()) {
        Registered::Opened(account, notes) => (
            StatusCode::CREATED,
            axum::Json(json!({ "account": account, "notes": notes })),
        )
            .into_response(),
        Registered::Rejected(errors, notes) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({ "errors": errors, "notes": notes })),
        )
            .into_response(),
        Registered::Duplicate(id) => (
            StatusCode::CONFLICT,
            axum::Json(json!({
                "errors": [duplicate_error()],
                "account_id": id,
            })),
        )
            .into_response(),
        Registered::Limited(wait) => limited_response(wait),
        Registered::Failed(e) => {
            eprintln!("onboarding: {e}");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, vec![storage_error()])
        }
    }
}

/// A body that could not be read: too large (413), or not the JSON expected (400/415).
fn body_rejected(rejection: &JsonRejection, what: &str) -> Response {
    let status = rejection.status();
    let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
        FieldError {
            field: "body".into(),
            code: "body.too_large".into(),
            ja: "リクエストが大きすぎます。".into(),
            en: format!("the request body is larger than {MAX_BODY} bytes"),
        }
    } else {
        FieldError {
            field: "body".into(),
            code: "body.invalid".into(),
            ja: "リクエストの形式が正しくありません。".into(),
            en: format!("the request body is not {what}: {}", rejection.body_text()),
        }
    };
    error_response(status, vec![error])
}

fn account_json(core: &Onboarding, id: &str) -> Option<serde_json::Value> {
    let account = core.account(id)?;
    Some(json!({ "account": account, "orders": core.orders_of(id) }))
}

async fn api_account(State(app): State<App>, Path(id): Path<String>) -> Response {
    let core = app.core.lock().expect("core lock");
    match account_json(&core, &id) {
        Some(v) => axum::Json(v).into_response(),
        None => no_account(),
    }
}

fn no_account() -> Response {
    error_response(StatusCode::NOT_FOUND, vec![no_account_error()])
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WebsiteBody {
    /// The URL, or null to skip the step.
    url: Option<String>,
}

async fn api_website(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Result<axum::Json<WebsiteBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(axum::Json(b)) => b,
        Err(r) => return body_rejected(&r, "{\"url\": \"https://…\"} or {\"url\": null} to skip"),
    };
    match set_website(&app, &id, body.url.as_deref()) {
        Ok(account) => axum::Json(json!({ "account": account })).into_response(),
        Err((status, errors)) => error_response(status, errors),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBody {
    product_id: String,
}

async fn api_order(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Result<axum::Json<OrderBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(axum::Json(b)) => b,
        Err(r) => return body_rejected(&r, "{\"product_id\": \"…\"}"),
    };
    if body.product_id.len() > 100 {
        return error_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![fe(
                "product_id",
                "too_long",
                "製品IDが長すぎます。",
                "at most 100 characters",
            )],
        );
    }
    match order(&app, &id, &body.product_id) {
        Ok(o) => (StatusCode::CREATED, axum::Json(json!({ "order": o }))).into_response(),
        Err((status, errors)) => error_response(status, errors),
    }
}

/// The JSON answer to commissioning.
pub fn commission_json(c: &Commissioning) -> serde_json::Value {
    json!({
        "passed": c.passed,
        "detail": c.detail,
        "reader_profile": c.reader_profile,
        "account": c.account,
    })
}

/// An error answer's JSON.
pub fn errors_json(errors: &[FieldError]) -> serde_json::Value {
    json!({ "errors": errors })
}

async fn api_commission(State(app): State<App>, Path(id): Path<String>) -> Response {
    let app2 = app.clone();
    let result = tokio::task::spawn_blocking(move || commission(&app2, &id)).await;
    match result {
        Ok(Ok(c)) => axum::Json(commission_json(&c)).into_response(),
        Ok(Err((status, errors))) => error_response(status, errors),
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, vec![]),
    }
}

/// The accept loop: HTTP/1 connections with a header time-out, at most so many at once, each request with the client's address (`ConnectInfo`); ends on `stop`, letting
/// requests in flight finish.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let per_client: Arc<Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> = Arc::default();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of files or a connection reset before accept: wait a little, go on.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        {
            let mut held = per_client.lock().expect("per-client lock");
            let n = held.entry(peer.ip()).or_insert(0);
            if *n >= limits.max_per_client {
                drop(stream);
                continue;
            }
            *n += 1;
        }
        let release = {
            let per_client = per_client.clone();
            move || {
                let mut held = per_client.lock().expect("per-client lock");
                if let Some(n) = held.get_mut(&peer.ip()) {
                    *n -= 1;
                    if *n == 0 {
                        held.remove(&peer.ip());
                    }
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            release();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(
            app.clone().layer(axum::Extension(ConnectInfo(peer))),
        );
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
            release();
        });
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Ends a request that is not done within the service's request time-out with 408.
async fn request_timeout(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(app.limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => error_response(
            StatusCode::REQUEST_TIMEOUT,
            vec![fe(
                "body",
                "timeout",
                "リクエストの受信が時間内に終わりませんでした。",
                "the request was not complete in time",
            )],
        ),
    }
}

/// A service running on its own tokio runtime, for `kazasu run` and tests; stops when dropped.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The service's state.
    pub shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Starts `shared` on `addr` (port 0: any free port).
    pub fn start(shared: Shared, addr: SocketAddr, workers: usize) -> Result<Running, String> {
        let shared = Arc::new(shared);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the service runtime: {e}"))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let _ = shared.allowed_hosts.set((
            super::guard::allowed_hosts(addr, &shared.extra_hosts),
            addr.ip().is_unspecified().then_some(addr.port()),
        ));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared.clone());
        let limits = shared.limits;
        let thread = std::thread::spawn(move || {
            runtime.block_on(serve_connections(listener, app, limits, rx));
        });
        Ok(Running {
            addr,
            shared,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboarding::app::civil_from_days;

    #[test]
    fn the_openapi_file_describes_every_api_route() {
        let doc: serde_json::Value = serde_saphyr::from_str(OPENAPI_YAML).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/api/program", "get"),
            ("/api/registrations", "post"),
            ("/api/accounts/{id}", "get"),
            ("/api/accounts/{id}/website", "put"),
            ("/api/accounts/{id}/orders", "post"),
            ("/api/accounts/{id}/commission", "post"),
            ("/api/test/reset", "post"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} is not in docs/onboarding-openapi.yaml"
            );
        }
        assert_eq!(
            paths.len(),
            7,
            "a path in the file that the service does not serve"
        );
        // Every error code the rules can give is listed for clients.
        let codes = doc["components"]["schemas"]["FieldError"]["properties"]["code"]["description"]
            .as_str()
            .unwrap();
        for code in [
            "name.code_check_digit",
            "invitation_code.required",
            "invitation_code.rate_limited",
            "product_id.withdrawn",
            "day.outside_window",
            "account.no_order",
        ] {
            assert!(codes.contains(code), "{code}");
        }
    }

    #[test]
    fn civil_days() {
        assert_eq!(civil_from_days(0).to_string(), "1970-01-01");
        assert_eq!(civil_from_days(20_000).to_string(), "2024-10-04");
        assert_eq!(civil_from_days(11_016).to_string(), "2000-02-29");
    }
}

//! The onboarding service's HTML face: the handlers behind the pages of [`super::pages`] — the
//! same flow as the JSON API, for people, with no script: forms post, the server answers with the
//! next page or the same form with its errors (never the invitation code).
//!
//! Cross-site form posts are refused ([`csrf_guard`]): every form carries the service's token
//! in a hidden field, and a post without it, or from a page of another origin, gets 403. (The
//! JSON API needs `Content-Type: application/json`, which a cross-site form cannot send.)

use super::app::{self, App, Shared};
use super::pages;
use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kazasu_onboarding::service::{FieldError, RegistrationForm, Verification};
use kazasu_sim::Secret;
use std::net::SocketAddr;

/// The hidden field that every form of the service carries.
const TOKEN_FIELD: &str = "csrf";

/// `page` with the service's token in each of its forms.
fn with_token(app: &Shared, page: String) -> Html<String> {
    let field = format!(
        "<input type=\"hidden\" name=\"{TOKEN_FIELD}\" value=\"{}\">",
        app.csrf_token
    );
    let mut out = String::with_capacity(page.len() + 4 * field.len());
    let mut rest = page.as_str();
    while let Some(at) = rest.find("<form ") {
        let Some(end) = rest[at..].find('>') else {
            break;
        };
        out.push_str(&rest[..at + end + 1]);
        out.push_str(&field);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Html(out)
}

/// Refuses a form post (URL-encoded body) that comes from a page of another origin (its
/// `Origin` header names another host) or lacks the service's token: 403 with a page that says
/// what to do. Other requests pass untouched.
pub(super) async fn csrf_guard(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{Method, header};
    let form_post = req.method() == Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form_post {
        return next.run(req).await;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(origin) = origin {
        let same = origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host);
        if !same {
            return refused("the form was sent from another site's page");
        }
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, app::MAX_BODY).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Html(pages::message_page(
                "送信内容が大きすぎます / the form is too large",
            )),
        )
            .into_response();
    };
    let token = form_urlencoded_value(&bytes, TOKEN_FIELD);
    let expected = app.csrf_token.as_bytes();
    let valid = token
        .is_some_and(|t| t.len() == expected.len() && openssl::memcmp::eq(t.as_bytes(), expected));
    if !valid {
        return refused(
            "the form has no valid token of this service (it expired with a restart, or came from elsewhere)",
        );
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

fn refused(why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(pages::message_page(&format!(
            "このフォームは受け付けられません。ページを開き直して、もう一度送信してください。 / \
             This form is refused: {why}. Open the page again and send it from there."
        ))),
    )
        .into_response()
}

/// The first value of `name` in a URL-encoded body.
fn form_urlencoded_value(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub(super) async fn program(State(app): State<App>) -> Html<String> {
    let core = app.core.lock().expect("core lock");
    Html(pages::program(&core.program, app.today()))
}

pub(super) async fn register_form(State(app): State<App>) -> Html<String> {
    let core = app.core.lock().expect("core lock");
    with_token(
        &app,
        pages::register_form(&core.program, &pages::FormValues::default(), &[], &[]),
    )
}

/// The HTML form's fields (all text; the code is a secret from the moment it arrives).
#[derive(serde::Deserialize, Default)]
pub(super) struct HtmlRegistration {
    #[serde(default)]
    name: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    contact_email: String,
    #[serde(default)]
    business_type: String,
    #[serde(default)]
    verification: String,
    #[serde(default)]
    invitation_code: Secret<String>,
    #[serde(default)]
    corporate_number: String,
}

pub(super) async fn register(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(h): Form<HtmlRegistration>,
) -> Response {
    let form = RegistrationForm {
        name: h.name.clone(),
        postal_code: h.postal_code.clone(),
        contact_email: h.contact_email.clone(),
        business_type: Some(h.business_type.clone()).filter(|b| !b.is_empty()),
        verification: match h.verification.as_str() {
            "documents" => Some(Verification::Documents),
            _ => Some(Verification::InvitationCode),
        },
        invitation_code: Some(h.invitation_code.clone()).filter(|c| !c.expose().is_empty()),
        corporate_number: Some(h.corporate_number.clone()).filter(|c| !c.trim().is_empty()),
    };
    // The page shows back what was typed — except the code, which is never echoed.
    let values = pages::FormValues {
        name: h.name,
        postal_code: h.postal_code,
        contact_email: h.contact_email,
        business_type: h.business_type,
        verification: h.verification,
        corporate_number: h.corporate_number,
    };
    let outcome = app::register(&app, &form, &peer.ip().to_string());
    let core = app.core.lock().expect("core lock");
    match outcome {
        app::Registered::Opened(account, _) => {
            Redirect::to(&format!("/accounts/{}?new=1", account.id)).into_response()
        }
        app::Registered::Rejected(errors, notes) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            with_token(
                &app,
                pages::register_form(&core.program, &values, &errors, &notes),
            ),
        )
            .into_response(),
        app::Registered::Duplicate(_) => (
            StatusCode::CONFLICT,
            with_token(
                &app,
                pages::register_form(&core.program, &values, &[app::duplicate_error()], &[]),
            ),
        )
            .into_response(),
        app::Registered::Limited(wait) => app::retry_after(
            (
                StatusCode::TOO_MANY_REQUESTS,
                with_token(
                    &app,
                    pages::register_form(&core.program, &values, &[app::rate_limited_error()], &[]),
                ),
            )
                .into_response(),
            wait,
        ),
        app::Registered::Failed(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html("保存できませんでした / could not be saved".to_string()),
        )
            .into_response(),
    }
}

pub(super) async fn account(State(app): State<App>, Path(id): Path<String>) -> Response {
    let core = app.core.lock().expect("core lock");
    match core.account(&id) {
        Some(a) => with_token(
            &app,
            pages::account(&core.program, a, &core.orders_of(&id), &[], None),
        )
        .into_response(),
        None => (StatusCode::NOT_FOUND, Html(pages::not_found())).into_response(),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct HtmlWebsite {
    #[serde(default)]
    url: String,
    #[serde(default)]
    skip: Option<String>,
}

pub(super) async fn website(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(w): Form<HtmlWebsite>,
) -> Response {
    let url = if w.skip.is_some() {
        None
    } else {
        Some(w.url.as_str())
    };
    match app::set_website(&app, &id, url) {
        Ok(_) => Redirect::to(&format!("/accounts/{id}")).into_response(),
        Err((status, errors)) => account_page_with(&app, &id, status, &errors, None),
    }
}

fn account_page_with(
    app: &Shared,
    id: &str,
    status: StatusCode,
    errors: &[FieldError],
    message: Option<&str>,
) -> Response {
    let core = app.core.lock().expect("core lock");
    match core.account(id) {
        Some(a) => (
            status,
            with_token(
                app,
                pages::account(&core.program, a, &core.orders_of(id), errors, message),
            ),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, Html(pages::not_found())).into_response(),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct HtmlOrder {
    #[serde(default)]
    product_id: String,
}

pub(super) async fn order(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(o): Form<HtmlOrder>,
) -> Response {
    match app::order(&app, &id, &o.product_id) {
        Ok(_) => Redirect::to(&format!("/accounts/{id}")).into_response(),
        Err((status, errors)) => account_page_with(&app, &id, status, &errors, None),
    }
}

pub(super) async fn commission(State(app): State<App>, Path(id): Path<String>) -> Response {
    let app2 = app.clone();
    let id2 = id.clone();
    let result = tokio::task::spawn_blocking(move || app::commission(&app2, &id2)).await;
    match result {
        Ok(Ok(c)) => account_page_with(&app, &id, StatusCode::OK, &[], Some(&c.detail)),
        Ok(Err((status, errors))) => account_page_with(&app, &id, status, &errors, None),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, Html(String::new())).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_page_carries_the_services_token_and_nothing_else_changes() {
        let app = Shared::embedded(super::super::store::Store::memory(), None).expect("service");
        let page = "<p>a</p><form method=\"post\" action=\"/x\"><input name=\"n\"></form>\
                    <form action=\"/y\"></form><p>form </p>";
        let Html(out) = with_token(&app, page.to_string());
        let field = format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            app.csrf_token
        );
        assert_eq!(out.matches(&field).count(), 2, "{out}");
        assert_eq!(out.replace(&field, ""), page);
        assert!(
            out.contains(&format!("action=\"/x\">{field}<input name=\"n\">")),
            "{out}"
        );
    }

    #[test]
    fn a_form_value_is_read_decoded_and_the_first_one_wins() {
        let body = b"name=%E3%81%8B+b&csrf=abc&csrf=def";
        assert_eq!(form_urlencoded_value(body, "name").as_deref(), Some("か b"));
        assert_eq!(
            form_urlencoded_value(body, TOKEN_FIELD).as_deref(),
            Some("abc")
        );
        assert_eq!(form_urlencoded_value(body, "missing"), None);
        assert_eq!(refused("x").status(), StatusCode::FORBIDDEN);
    }
}

//! The onboarding service's outer guard, in front of every route: a request must name the
//! service in its `Host` header (the listen address, `localhost` on loopback, or a name given
//! with `--allow-host`), so that a page whose DNS name was rebound to the service cannot read
//! it; a request that can change state (anything but GET, HEAD and OPTIONS) from a browser must
//! come from the service's own origin — scheme, host and port compared — whatever its content
//! type or body; and every answer forbids framing and carries a content security policy.
//! Clients that are not browsers (curl, `kazasu run --target`) send no `Origin` and pass.

use super::app::App;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};

/// The content security policy of every answer: the pages use no script, no frame, no remote
/// resource; forms post to the service only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The `Host` values that name a service listening on `addr`, with `extra` names allowed too
/// (`name` or `name:port`).
pub fn allowed_hosts(addr: SocketAddr, extra: &[String]) -> Vec<String> {
    let port = addr.port();
    let mut hosts = match addr.ip() {
        IpAddr::V4(ip) => vec![format!("{ip}:{port}")],
        IpAddr::V6(ip) => vec![format!("[{ip}]:{port}")],
    };
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        hosts.push(format!("localhost:{port}"));
        hosts.push(format!("127.0.0.1:{port}"));
        hosts.push(format!("[::1]:{port}"));
    }
    for name in extra {
        let name = name.to_ascii_lowercase();
        if name
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            hosts.push(name);
        } else {
            hosts.push(format!("{name}:{port}"));
        }
    }
    if port == 80 {
        let bare: Vec<String> = hosts
            .iter()
            .filter_map(|h| h.strip_suffix(":80").map(str::to_string))
            .collect();
        hosts.extend(bare);
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Whether `host` names the service: one of `allowed`, or — when it listens on every address
/// (`unspecified`) — any IP address with its port (its own addresses; a DNS name is not).
fn host_allowed(host: &str, allowed: &[String], unspecified_port: Option<u16>) -> bool {
    let host = host.to_ascii_lowercase();
    allowed.contains(&host)
        || unspecified_port
            .is_some_and(|port| host.parse::<SocketAddr>().is_ok_and(|a| a.port() == port))
}

/// Whether the method can change the service's state.
fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn refused(status: StatusCode, path: &str, why: String) -> Response {
    let body = if path.starts_with("/api/") {
        serde_json::json!({"errors": [{"field": "request", "code": "request.refused", "en": why, "ja": "このリクエストは受け付けられません。"}]}).to_string()
    } else {
        super::pages::message_page(&format!(
            "このリクエストは受け付けられません。 / This request is refused: {why}."
        ))
    };
    let kind = if path.starts_with("/api/") {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    };
    (status, [(header::CONTENT_TYPE, kind)], body).into_response()
}

/// The guard (an axum middleware).
pub(super) async fn guard(
    axum::extract::State(app): axum::extract::State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let (host, origin, fetch_site) = {
        let headers = req.headers();
        let text = |name: header::HeaderName| {
            headers
                .get(name)
                .map(|v| v.to_str().map(str::to_string).unwrap_or_default())
        };
        (
            text(header::HOST),
            text(header::ORIGIN),
            text(header::HeaderName::from_static("sec-fetch-site")),
        )
    };
    if let (Some(host), Some(allowed)) = (&host, app.allowed_hosts.get())
        && !host_allowed(host, &allowed.0, allowed.1)
    {
        return refused(
            StatusCode::MISDIRECTED_REQUEST,
            &path,
            format!(
                "the Host header names `{}`, not this service ({}); start it with \
                 --allow-host NAME to serve under another name",
                crate::text::shown(host),
                allowed.0.join(", ")
            ),
        );
    }
    if changes_state(req.method()) {
        if let Some(origin) = &origin {
            let own = host
                .as_deref()
                .map(|h| format!("http://{}", h.to_ascii_lowercase()));
            if own.as_deref() != Some(origin.to_ascii_lowercase().as_str()) {
                return refused(
                    StatusCode::FORBIDDEN,
                    &path,
                    format!(
                        "it was sent from a page of another origin ({}; scheme, host and port \
                         must be this service's)",
                        crate::text::shown(origin)
                    ),
                );
            }
        }
        if matches!(fetch_site.as_deref(), Some("cross-site" | "same-site")) {
            return refused(
                StatusCode::FORBIDDEN,
                &path,
                "the browser says it came from another site".into(),
            );
        }
    }
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_the_listen_address_and_allowed_names() {
        let loopback = allowed_hosts(([127, 0, 0, 1], 8080).into(), &["clinic.test".into()]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "clinic.test:8080",
        ] {
            assert!(host_allowed(ok, &loopback, None), "{ok}");
        }
        for bad in [
            "127.0.0.1:8081",
            "evil.example:8080",
            "localhost",
            "127.0.0.1",
        ] {
            assert!(!host_allowed(bad, &loopback, None), "{bad}");
        }
        let any = allowed_hosts(([0, 0, 0, 0], 80).into(), &[]);
        assert!(host_allowed("192.0.2.7:80", &any, Some(80)));
        assert!(host_allowed("localhost", &any, Some(80)));
        assert!(!host_allowed("rebound.example", &any, Some(80)));
    }
}

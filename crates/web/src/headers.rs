//! The headers every answer carries (issue 15), whoever made it — a handler, a page, a problem, a
//! static file: no sniffing, no referrer to other sites, no framing, and for anything that is not a
//! page with its own policy a Content-Security-Policy that allows nothing. The API's answers (personal
//! data, mostly) are never stored by a cache.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn secure_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    let mut default = |name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    default(header::REFERRER_POLICY, "same-origin");
    default(header::X_FRAME_OPTIONS, "DENY");
    default(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    );
    if api {
        default(header::CACHE_CONTROL, "no-store");
    }
    r
}

/// Conditional reads (issue 15): a successful `GET` of the API carries a strong `ETag` (the SHA-256 of
/// its body); the same `If-None-Match` again is answered `304 Not Modified` without the body. The read
/// itself still runs — and is audited — every time: only the transfer is saved.
pub async fn conditional_reads(req: Request, next: Next) -> Response {
    let applies = req.method() == axum::http::Method::GET && req.uri().path().starts_with("/api/");
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let r = next.run(req).await;
    if !applies || r.status() != axum::http::StatusCode::OK {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    use sha2::Digest;
    let digest = sha2::Sha256::digest(&bytes);
    let tag = format!("\"{}\"", hex::encode(&digest[..16]));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        parts.headers.insert(header::ETAG, v);
    }
    let matches = if_none_match.is_some_and(|inm| {
        inm.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == tag || t == "*")
    });
    if matches {
        parts.status = axum::http::StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Each request gets an id (issue 15): the caller's `X-Request-Id` when it is a short token (a proxy
/// or a client may set one), otherwise a new random one. The whole request runs as part of it — its
/// log lines (a `request` span), its audit records (`details.request_id`) and its problem answer
/// (`request_id`) carry it — and the answer returns it in `X-Request-Id`. One access-log line per
/// request.
pub async fn request_id(req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        hex::encode(b)
    });
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let span = tracing::info_span!("request", id = %id);
    let started = std::time::Instant::now();
    let mut r = tracing::Instrument::instrument(
        qoljetim_service::request_scope(id.clone(), next.run(req)),
        span.clone(),
    )
    .await;
    let _entered = span.enter();
    tracing::info!(
        target: "qoljetim::access",
        %method,
        %path,
        status = r.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        peer = %client,
        "access"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        r.headers_mut().insert(REQUEST_ID, v);
    }
    r
}

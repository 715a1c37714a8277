//! The headers every answer carries (issue 15), whoever made it — a handler, a page, a problem, a
//! static file: no sniffing, no referrer to other sites, no framing, and for anything that is not a
//! page with its own policy a Content-Security-Policy that allows nothing. The API's answers (personal
//! data, mostly) are never stored by a cache.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

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

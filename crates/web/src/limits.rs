//! How much a request may send, by route (issue 15): a sign-in is a challenge's signature, a signed
//! document at most a 1,000-line application, a page's form at most its rows; everything else is a
//! small JSON body. A body over its route's limit is refused with `413 payload-too-large` naming the
//! limit — from `Content-Length` before any byte is read, or as soon as a chunked body passes it —
//! before anything parses it. And how often one client address may ask to sign in (a challenge, a
//! sign-in, a phone's sign-in): over the rate, `429 too-many-requests` with `Retry-After`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use qoljetim_service::{Problem, ServiceError};

use crate::problem::ApiError;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};

type PerAddress =
    RateLimiter<IpAddr, governor::state::keyed::DefaultKeyedStateStore<IpAddr>, DefaultClock>;

/// Sign-in attempts per client address (`[limits] sign_ins_per_address_per_minute`; 0: no limit).
#[derive(Clone)]
pub struct SignInRate(Option<Arc<PerAddress>>);

impl SignInRate {
    pub fn per_minute(n: u32) -> Self {
        SignInRate(NonZeroU32::new(n).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))))
    }

    /// Whether `path` is a step of signing in that the rate applies to.
    fn applies(method: &Method, path: &str) -> bool {
        matches!(
            (method, path),
            (&Method::GET, "/api/v1/auth/challenge")
                | (&Method::POST, "/api/v1/auth/login")
                | (&Method::POST, "/sign/mobile")
        )
    }
}

/// The middleware: one address's sign-in attempts over the rate wait (429, `Retry-After`), before
/// anything is read or verified.
pub async fn limit_sign_ins(State(rate): State<SignInRate>, req: Request, next: Next) -> Response {
    if let Some(limiter) = &rate.0
        && SignInRate::applies(req.method(), req.uri().path())
    {
        let ip = crate::auth::client_addr(&req);
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        if let Err(not_until) = limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                error: ServiceError::new(Problem::TooManyRequests {
                    retry_after: wait.as_secs() + 1,
                }),
            }
            .into_response();
        }
    }
    next.run(req).await
}

/// The byte limits of request bodies (`[limits]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// `POST /api/v1/auth/login`.
    pub login: usize,
    /// Signed documents: applications, block requests, HR events, a phone's signed document.
    pub document: usize,
    /// The pages' forms (composing an application or a block request).
    pub form: usize,
    /// A support request's attachment (Order 270 §14; issue 16: at most 10 MiB each).
    pub attachment: usize,
    /// Every other request.
    pub other: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            login: 64 * 1024,
            document: 8 * 1024 * 1024,
            form: 2 * 1024 * 1024,
            attachment: qoljetim_service::MAX_ATTACHMENT_BYTES,
            other: 256 * 1024,
        }
    }
}

impl BodyLimits {
    /// The limit of a request to `path` with `method`.
    pub fn of(&self, method: &Method, path: &str) -> usize {
        let document = matches!(
            path,
            "/api/v1/applications" | "/api/v1/block-requests" | "/api/v1/hr/events"
        ) || (path.starts_with("/api/v1/mobile-signing/")
            && path.ends_with("/document"));
        match (method, path) {
            (&Method::POST, "/api/v1/auth/login") => self.login,
            (&Method::POST | &Method::PUT, _) if document => self.document,
            (&Method::POST, "/applications/new" | "/block-requests/new") => self.form,
            (&Method::POST, p)
                if p.starts_with("/api/v1/support/requests/") && p.ends_with("/attachments") =>
            {
                self.attachment
            }
            _ => self.other,
        }
    }

    /// The largest of them: the router's own ceiling.
    pub fn largest(&self) -> usize {
        self.login
            .max(self.document)
            .max(self.form)
            .max(self.attachment)
            .max(self.other)
    }
}

fn too_large(limit: usize) -> Response {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        error: ServiceError::new(Problem::PayloadTooLarge { limit }),
    }
    .into_response()
}

/// The middleware: refuses a declared length over the route's limit at once, and bounds what a body
/// without one may stream.
pub async fn bound_bodies(State(limits): State<BodyLimits>, req: Request, next: Next) -> Response {
    let limit = limits.of(req.method(), req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, limit)));
    let response = next.run(req).await;
    // A streamed body that passed the limit: the extractor's 413, told with this route's limit.
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response.extensions().get::<ApiError>().is_none()
    {
        return too_large(limit);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 15: each route has its own body limit.
    #[test]
    fn routes_get_their_limits() {
        let l = BodyLimits::default();
        assert_eq!(l.of(&Method::POST, "/api/v1/auth/login"), 64 * 1024);
        assert_eq!(l.of(&Method::POST, "/api/v1/applications"), l.document);
        assert_eq!(
            l.of(&Method::PUT, "/api/v1/mobile-signing/abc/document"),
            l.document
        );
        assert_eq!(
            l.of(&Method::GET, "/api/v1/mobile-signing/abc/document"),
            l.other
        );
        assert_eq!(l.of(&Method::POST, "/applications/new"), l.form);
        assert_eq!(l.of(&Method::POST, "/api/v1/organizations"), l.other);
        // Issue 16: a support request's attachment, at most 10 MiB; its message is a small body.
        assert_eq!(
            l.of(&Method::POST, "/api/v1/support/requests/7/attachments"),
            10 * 1024 * 1024
        );
        assert_eq!(
            l.of(&Method::POST, "/api/v1/support/requests/7/messages"),
            l.other
        );
        assert_eq!(l.largest(), l.attachment);
    }
}

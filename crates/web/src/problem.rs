//! The one place where errors become HTTP: RFC 9457 problem+json with a stable `type`, a localized
//! `title` and `detail`, and for input errors `errors: [{field, rule, detail}]`. Never a stack trace.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use qoljetim_domain::application::FieldError;
use qoljetim_signature::SignatureError;
use qoljetim_store::{Conflict, StoreError};
use serde_json::json;

use crate::i18n::Lang;

/// An error on its way out, not yet in the caller's language.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub args: Vec<(&'static str, String)>,
    pub errors: Vec<FieldError>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str) -> Self {
        ApiError {
            status,
            slug,
            args: vec![],
            errors: vec![],
        }
    }
    pub fn arg(mut self, k: &'static str, v: impl ToString) -> Self {
        self.args.push((k, v.to_string()));
        self
    }
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            slug: "validation",
            args: vec![("count", n.to_string())],
            errors,
        }
    }
    pub fn field(field: &str, rule: &'static str, detail: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, rule, detail)])
    }
    pub fn malformed(reason: impl ToString) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-request").arg("reason", reason)
    }
    pub fn forbidden(action: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden").arg("action", action)
    }
    pub fn not_found(what: impl ToString) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found").arg("what", what)
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
    }

    /// A signature problem: `status` is 401 at sign-in and 400/403 for documents.
    pub fn signature(e: &SignatureError, at_sign_in: bool) -> Self {
        let entitlement = matches!(
            e,
            SignatureError::NotLegalEntity
                | SignatureError::WrongBin { .. }
                | SignatureError::NoSigningRight
                | SignatureError::NotSigningKey
                | SignatureError::NoIin
        );
        let status = if at_sign_in {
            StatusCode::UNAUTHORIZED
        } else if entitlement {
            StatusCode::FORBIDDEN
        } else if matches!(e, SignatureError::Internal(_)) {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut err = Self::new(status, e.slug());
        match e {
            SignatureError::Malformed(r)
            | SignatureError::DigestAlgorithm(r)
            | SignatureError::SignatureAlgorithm(r)
            | SignatureError::KeyParameters(r) => {
                err = err.arg("reason", r);
            }
            SignatureError::SignerCount(n) => err = err.arg("count", n),
            SignatureError::Expired {
                at,
                not_before,
                not_after,
            }
            | SignatureError::NotYetValid {
                at,
                not_before,
                not_after,
            } => {
                err = err
                    .arg("at", at)
                    .arg("not_before", not_before)
                    .arg("not_after", not_after);
            }
            SignatureError::WrongBin { expected, found } => {
                err = err.arg("expected", expected).arg("found", found)
            }
            SignatureError::Revoked { serial, revoked_at } => {
                err = err.arg("serial", serial).arg("revoked_at", revoked_at)
            }
            SignatureError::RevocationUnknown(r)
            | SignatureError::Crl(r)
            | SignatureError::TimeStamp(r) => err = err.arg("reason", r),
            _ => {}
        }
        err
    }

    pub fn store(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(c) => Self::conflict(c),
            StoreError::Audit(m) => {
                tracing::error!(error = %m, "audit write failed; change rolled back");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "audit-failed")
            }
            other => Self::internal(other),
        }
    }

    pub fn conflict(c: Conflict) -> Self {
        match c {
            Conflict::ChallengeUsed => Self::new(StatusCode::UNAUTHORIZED, "challenge-used"),
            Conflict::OrganizationExists => Self::new(StatusCode::CONFLICT, "organization-exists"),
            Conflict::OrganizationUnknown => {
                Self::new(StatusCode::BAD_REQUEST, "organization-unknown")
            }
            Conflict::WrongState { current, expected } => {
                Self::new(StatusCode::CONFLICT, "wrong-state")
                    .arg("current", current)
                    .arg("expected", expected)
            }
            Conflict::LineDecided { line } => {
                Self::new(StatusCode::CONFLICT, "line-decided").arg("line", line)
            }
            Conflict::NotFound => Self::not_found("application"),
            Conflict::DuplicateEvent { id } => {
                Self::new(StatusCode::CONFLICT, "duplicate-event").arg("id", id)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Rendered in the caller's language by `localize_problems`.
        let mut r = Response::new(Body::empty());
        *r.status_mut() = self.status;
        r.extensions_mut().insert(self);
        r
    }
}

pub fn render(e: &ApiError, lang: Lang) -> Response {
    let key = |part: &str| format!("problem-{}-{part}", e.slug);
    let errors: Vec<serde_json::Value> = e
        .errors
        .iter()
        .map(|f| {
            let rule_key = format!("rule-{}", f.rule.replace('_', "-"));
            let detail = if lang.has(&rule_key) {
                lang.text(&rule_key, &[])
            } else {
                f.detail.clone()
            };
            json!({"field": f.field, "rule": f.rule, "detail": detail})
        })
        .collect();
    let mut body = json!({
        "type": format!("urn:qoljetim:problem:{}", e.slug),
        "title": lang.text(&key("title"), &e.args),
        "status": e.status.as_u16(),
        "detail": lang.text(&key("detail"), &e.args),
    });
    if !errors.is_empty() {
        body["errors"] = serde_json::Value::Array(errors);
    }
    let mut r = (e.status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    r
}

/// Middleware: renders every `ApiError` (and axum's own rejections) as localized problem+json.
pub async fn localize_problems(req: Request, next: Next) -> Response {
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let response = next.run(req).await;
    if let Some(e) = response.extensions().get::<ApiError>() {
        return render(e, lang);
    }
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => render(
            &ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large")
                .arg("limit", crate::BODY_LIMIT),
            lang,
        ),
        StatusCode::NOT_FOUND if response.headers().get(header::CONTENT_TYPE).is_none() => {
            render(&ApiError::not_found("route"), lang)
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut r = render(
                &ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "forbidden").arg("action", "method"),
                lang,
            );
            if let Some(allow) = response.headers().get(header::ALLOW) {
                r.headers_mut().insert(header::ALLOW, allow.clone());
            }
            r
        }
        _ => response,
    }
}

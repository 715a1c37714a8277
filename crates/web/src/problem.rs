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

/// Every problem the API answers: its `type` slug and its status. Fluent files hold the title and
/// detail of each in kk, ru and en (`problem-<slug>-title`, `-detail`); a test walks this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Validation,
    MalformedRequest,
    PayloadTooLarge,
    NotSignedIn,
    SessionExpired,
    OriginMismatch,
    Forbidden,
    NotFound,
    WrongState,
    LineDecided,
    OrganizationExists,
    OrganizationUnknown,
    NotAnApplicant,
    NotEligible,
    SessionBinMismatch,
    ChallengeInvalid,
    ChallengeExpired,
    ChallengeUsed,
    CmsMalformed,
    CmsSignerCount,
    CmsNoContent,
    CmsDigestAlgorithm,
    SignatureAlgorithm,
    KeyParameters,
    CmsSignedAttributes,
    CertificateMissing,
    SignatureInvalid,
    CertificateUntrusted,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    RevocationUnknown,
    CrlInvalid,
    TimestampInvalid,
    CertificateNoIin,
    CertificateNotLegalEntity,
    CertificateWrongBin,
    CertificateNoSigningRight,
    CertificateNotSigningKey,
    CertificateNotAuthenticationKey,
    DevelopmentCaRefused,
    GrantInactive,
    DataOutOfScope,
    BudgetDataUnavailable,
    HrSignerNotAllowed,
    DuplicateEvent,
    RenewalNotPossible,
    AuditFailed,
    Internal,
}

impl Problem {
    pub const ALL: [Problem; 49] = [
        Problem::Validation,
        Problem::MalformedRequest,
        Problem::PayloadTooLarge,
        Problem::NotSignedIn,
        Problem::SessionExpired,
        Problem::OriginMismatch,
        Problem::Forbidden,
        Problem::NotFound,
        Problem::WrongState,
        Problem::LineDecided,
        Problem::OrganizationExists,
        Problem::OrganizationUnknown,
        Problem::NotAnApplicant,
        Problem::NotEligible,
        Problem::SessionBinMismatch,
        Problem::ChallengeInvalid,
        Problem::ChallengeExpired,
        Problem::ChallengeUsed,
        Problem::CmsMalformed,
        Problem::CmsSignerCount,
        Problem::CmsNoContent,
        Problem::CmsDigestAlgorithm,
        Problem::SignatureAlgorithm,
        Problem::KeyParameters,
        Problem::CmsSignedAttributes,
        Problem::CertificateMissing,
        Problem::SignatureInvalid,
        Problem::CertificateUntrusted,
        Problem::CertificateExpired,
        Problem::CertificateNotYetValid,
        Problem::CertificateRevoked,
        Problem::RevocationUnknown,
        Problem::CrlInvalid,
        Problem::TimestampInvalid,
        Problem::CertificateNoIin,
        Problem::CertificateNotLegalEntity,
        Problem::CertificateWrongBin,
        Problem::CertificateNoSigningRight,
        Problem::CertificateNotSigningKey,
        Problem::CertificateNotAuthenticationKey,
        Problem::DevelopmentCaRefused,
        Problem::GrantInactive,
        Problem::DataOutOfScope,
        Problem::BudgetDataUnavailable,
        Problem::HrSignerNotAllowed,
        Problem::DuplicateEvent,
        Problem::RenewalNotPossible,
        Problem::AuditFailed,
        Problem::Internal,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Problem::Validation => "validation",
            Problem::MalformedRequest => "malformed-request",
            Problem::PayloadTooLarge => "payload-too-large",
            Problem::NotSignedIn => "not-signed-in",
            Problem::SessionExpired => "session-expired",
            Problem::OriginMismatch => "origin-mismatch",
            Problem::Forbidden => "forbidden",
            Problem::NotFound => "not-found",
            Problem::WrongState => "wrong-state",
            Problem::LineDecided => "line-decided",
            Problem::OrganizationExists => "organization-exists",
            Problem::OrganizationUnknown => "organization-unknown",
            Problem::NotAnApplicant => "not-an-applicant",
            Problem::NotEligible => "not-eligible",
            Problem::SessionBinMismatch => "session-bin-mismatch",
            Problem::ChallengeInvalid => "challenge-invalid",
            Problem::ChallengeExpired => "challenge-expired",
            Problem::ChallengeUsed => "challenge-used",
            Problem::CmsMalformed => "cms-malformed",
            Problem::CmsSignerCount => "cms-signer-count",
            Problem::CmsNoContent => "cms-no-content",
            Problem::CmsDigestAlgorithm => "cms-digest-algorithm",
            Problem::SignatureAlgorithm => "signature-algorithm",
            Problem::KeyParameters => "key-parameters",
            Problem::CmsSignedAttributes => "cms-signed-attributes",
            Problem::CertificateMissing => "certificate-missing",
            Problem::SignatureInvalid => "signature-invalid",
            Problem::CertificateUntrusted => "certificate-untrusted",
            Problem::CertificateExpired => "certificate-expired",
            Problem::CertificateNotYetValid => "certificate-not-yet-valid",
            Problem::CertificateRevoked => "certificate-revoked",
            Problem::RevocationUnknown => "revocation-unknown",
            Problem::CrlInvalid => "crl-invalid",
            Problem::TimestampInvalid => "timestamp-invalid",
            Problem::CertificateNoIin => "certificate-no-iin",
            Problem::CertificateNotLegalEntity => "certificate-not-legal-entity",
            Problem::CertificateWrongBin => "certificate-wrong-bin",
            Problem::CertificateNoSigningRight => "certificate-no-signing-right",
            Problem::CertificateNotSigningKey => "certificate-not-signing-key",
            Problem::CertificateNotAuthenticationKey => "certificate-not-authentication-key",
            Problem::DevelopmentCaRefused => "development-ca-refused",
            Problem::GrantInactive => "grant-inactive",
            Problem::DataOutOfScope => "data-out-of-scope",
            Problem::BudgetDataUnavailable => "budget-data-unavailable",
            Problem::HrSignerNotAllowed => "hr-signer-not-allowed",
            Problem::DuplicateEvent => "duplicate-event",
            Problem::RenewalNotPossible => "renewal-not-possible",
            Problem::AuditFailed => "audit-failed",
            Problem::Internal => "internal",
        }
    }

    /// The status a problem answers with; `ApiError::at_sign_in` makes signature and registry
    /// problems 401 when they refuse a sign-in.
    pub fn status(self) -> StatusCode {
        match self {
            Problem::Validation
            | Problem::MalformedRequest
            | Problem::OrganizationUnknown
            | Problem::CmsMalformed
            | Problem::CmsSignerCount
            | Problem::CmsNoContent
            | Problem::CmsDigestAlgorithm
            | Problem::SignatureAlgorithm
            | Problem::KeyParameters
            | Problem::CmsSignedAttributes
            | Problem::CertificateMissing
            | Problem::SignatureInvalid
            | Problem::CertificateUntrusted
            | Problem::CertificateExpired
            | Problem::CertificateNotYetValid
            | Problem::CertificateRevoked
            | Problem::RevocationUnknown
            | Problem::CrlInvalid
            | Problem::TimestampInvalid
            | Problem::DevelopmentCaRefused => StatusCode::BAD_REQUEST,
            Problem::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::NotSignedIn
            | Problem::SessionExpired
            | Problem::ChallengeInvalid
            | Problem::ChallengeExpired
            | Problem::ChallengeUsed
            | Problem::CertificateNotAuthenticationKey => StatusCode::UNAUTHORIZED,
            Problem::OriginMismatch
            | Problem::Forbidden
            | Problem::NotAnApplicant
            | Problem::NotEligible
            | Problem::SessionBinMismatch
            | Problem::CertificateNoIin
            | Problem::CertificateNotLegalEntity
            | Problem::CertificateWrongBin
            | Problem::CertificateNoSigningRight
            | Problem::CertificateNotSigningKey
            | Problem::GrantInactive
            | Problem::DataOutOfScope
            | Problem::HrSignerNotAllowed => StatusCode::FORBIDDEN,
            Problem::NotFound => StatusCode::NOT_FOUND,
            Problem::WrongState
            | Problem::LineDecided
            | Problem::OrganizationExists
            | Problem::DuplicateEvent
            | Problem::RenewalNotPossible => StatusCode::CONFLICT,
            Problem::BudgetDataUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Problem::AuditFailed | Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error on its way out, not yet in the caller's language.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub problem: Problem,
    pub status: StatusCode,
    pub args: Vec<(&'static str, String)>,
    pub errors: Vec<FieldError>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(problem: Problem) -> Self {
        ApiError {
            problem,
            status: problem.status(),
            args: vec![],
            errors: vec![],
        }
    }
    /// The problem's `type` slug.
    pub fn slug(&self) -> &'static str {
        self.problem.slug()
    }
    /// A refused sign-in answers 401 whatever refused it (the signature, the registry).
    pub fn at_sign_in(mut self) -> Self {
        self.status = StatusCode::UNAUTHORIZED;
        self
    }
    pub fn arg(mut self, k: &'static str, v: impl ToString) -> Self {
        self.args.push((k, v.to_string()));
        self
    }
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        ApiError {
            problem: Problem::Validation,
            status: Problem::Validation.status(),
            args: vec![("count", n.to_string())],
            errors,
        }
    }
    pub fn field(field: &str, rule: &'static str, detail: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, rule, detail)])
    }
    pub fn malformed(reason: impl ToString) -> Self {
        Self::new(Problem::MalformedRequest).arg("reason", reason)
    }
    pub fn forbidden(action: &str) -> Self {
        Self::new(Problem::Forbidden).arg("action", action)
    }
    /// A Cedar denial: the forbid policy that refused names the problem (`operators-do-not-apply` →
    /// `not-an-applicant`, `session-of-another-organization` → `session-bin-mismatch`); a request no
    /// policy permits is `forbidden`.
    pub fn denied(action: &str, policies: &[String]) -> Self {
        if policies.iter().any(|p| p == "operators-do-not-apply") {
            Self::new(Problem::NotAnApplicant)
        } else if policies
            .iter()
            .any(|p| p == "session-of-another-organization")
        {
            Self::new(Problem::SessionBinMismatch)
        } else {
            Self::forbidden(action)
        }
    }
    pub fn not_found(what: impl ToString) -> Self {
        Self::new(Problem::NotFound).arg("what", what)
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(Problem::Internal)
    }

    /// A signature problem: `status` is 401 at sign-in and 400/403 for documents.
    pub fn signature(e: &SignatureError, at_sign_in: bool) -> Self {
        use SignatureError as S;
        let problem = match e {
            S::Malformed(_) => Problem::CmsMalformed,
            S::SignerCount(_) => Problem::CmsSignerCount,
            S::NoContent => Problem::CmsNoContent,
            S::DigestAlgorithm(_) => Problem::CmsDigestAlgorithm,
            S::SignatureAlgorithm(_) => Problem::SignatureAlgorithm,
            S::SignedAttributes(_) => Problem::CmsSignedAttributes,
            S::CertificateMissing => Problem::CertificateMissing,
            S::SignatureInvalid => Problem::SignatureInvalid,
            S::Untrusted => Problem::CertificateUntrusted,
            S::Expired { .. } => Problem::CertificateExpired,
            S::NotYetValid { .. } => Problem::CertificateNotYetValid,
            S::Revoked { .. } => Problem::CertificateRevoked,
            S::RevocationUnknown(_) => Problem::RevocationUnknown,
            S::Crl(_) => Problem::CrlInvalid,
            S::TimeStamp(_) => Problem::TimestampInvalid,
            S::NoIin => Problem::CertificateNoIin,
            S::NotLegalEntity => Problem::CertificateNotLegalEntity,
            S::WrongBin { .. } => Problem::CertificateWrongBin,
            S::NoSigningRight => Problem::CertificateNoSigningRight,
            S::NotSigningKey => Problem::CertificateNotSigningKey,
            S::NotAuthenticationKey => Problem::CertificateNotAuthenticationKey,
            S::DevelopmentCaRefused => Problem::DevelopmentCaRefused,
            S::KeyParameters(_) => Problem::KeyParameters,
            S::Internal(_) => Problem::Internal,
        };
        let mut err = Self::new(problem);
        if at_sign_in && problem != Problem::Internal {
            err = err.at_sign_in();
        }
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
                Self::new(Problem::AuditFailed)
            }
            other => Self::internal(other),
        }
    }

    pub fn conflict(c: Conflict) -> Self {
        match c {
            Conflict::ChallengeUsed => Self::new(Problem::ChallengeUsed),
            Conflict::OrganizationExists => Self::new(Problem::OrganizationExists),
            Conflict::OrganizationUnknown => Self::new(Problem::OrganizationUnknown),
            Conflict::WrongState { current, expected } => Self::new(Problem::WrongState)
                .arg("current", current)
                .arg("expected", expected),
            Conflict::LineDecided { line } => Self::new(Problem::LineDecided).arg("line", line),
            Conflict::NotFound => Self::not_found("application"),
            Conflict::DuplicateEvent { id } => Self::new(Problem::DuplicateEvent).arg("id", id),
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
    let key = |part: &str| format!("problem-{}-{part}", e.slug());
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
        "type": format!("urn:qoljetim:problem:{}", e.slug()),
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
            &ApiError::new(Problem::PayloadTooLarge).arg("limit", crate::BODY_LIMIT),
            lang,
        ),
        StatusCode::NOT_FOUND if response.headers().get(header::CONTENT_TYPE).is_none() => {
            render(&ApiError::not_found("route"), lang)
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut r = render(
                &ApiError {
                    status: StatusCode::METHOD_NOT_ALLOWED,
                    ..ApiError::forbidden("method")
                },
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem of the enum has a title and a detail in Kazakh, Russian and English, every
    /// argument a message uses is given by some caller, and no message names a problem that is gone.
    #[test]
    fn every_problem_is_translated() {
        let args: Vec<(&'static str, String)> = [
            "count",
            "reason",
            "action",
            "what",
            "current",
            "expected",
            "line",
            "bin",
            "kind",
            "session",
            "applicant",
            "at",
            "not_before",
            "not_after",
            "found",
            "limit",
            "system",
            "filter",
            "scope",
            "id",
            "status",
            "serial",
            "revoked_at",
        ]
        .into_iter()
        .map(|k| (k, "x".to_owned()))
        .collect();
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            for p in Problem::ALL {
                for part in ["title", "detail"] {
                    let key = format!("problem-{}-{part}", p.slug());
                    let text = lang.text(&key, &args);
                    assert!(
                        text != key && !text.is_empty() && !text.contains("{"),
                        "{key} missing or incomplete in {}: {text}",
                        lang.code()
                    );
                }
            }
        }
        let en = include_str!("../locales/en/main.ftl");
        for line in en.lines() {
            if let Some(slug) = line
                .strip_prefix("problem-")
                .and_then(|r| r.split_once("-title"))
                .map(|(s, _)| s)
            {
                assert!(
                    Problem::ALL.iter().any(|p| p.slug() == slug),
                    "{slug} has messages but no Problem"
                );
            }
        }
        assert_eq!(
            Lang::Ru.text("problem-forbidden-detail", &[("action", "x".into())]),
            "Действие x вам не разрешено."
        );
        assert_eq!(
            Lang::Kk.text("problem-not-signed-in-title", &[]),
            "Кіру қажет"
        );
    }

    /// docs/problems.md lists every problem type and every field rule the server can answer.
    #[test]
    fn every_problem_and_rule_is_documented() {
        let doc = include_str!("../../../docs/problems.md");
        for p in Problem::ALL {
            assert!(
                doc.contains(&format!("| `{}` | {}", p.slug(), p.status().as_u16())),
                "{} ({}) is not in docs/problems.md with its status",
                p.slug(),
                p.status().as_u16()
            );
        }
        let en = include_str!("../locales/en/main.ftl");
        for rule in en.lines().filter_map(|l| {
            l.strip_prefix("rule-")
                .and_then(|rest| rest.split_once(' '))
                .map(|(rule, _)| rule.replace('-', "_"))
        }) {
            assert!(
                doc.contains(&format!("`{rule}`")),
                "{rule} is not in docs/problems.md"
            );
        }
    }
}

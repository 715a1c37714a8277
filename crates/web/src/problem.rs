//! The one place where errors become HTTP: the status of each problem, and RFC 9457 problem+json
//! with a stable `type`, a localized `title` and `detail`, and for input errors
//! `errors: [{field, rule, detail}]`. Never a stack trace.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use qoljetim_service::{Problem, ProblemKind, ServiceError};
use serde_json::json;

use crate::i18n::Lang;

/// The status a problem answers with; a refused sign-in answers 401 whatever refused it.
pub fn status(kind: ProblemKind) -> StatusCode {
    use ProblemKind as K;
    match kind {
        K::Validation
        | K::MalformedRequest
        | K::OrganizationUnknown
        | K::CmsMalformed
        | K::CmsSignerCount
        | K::CmsLimit
        | K::CmsNoContent
        | K::CmsDigestAlgorithm
        | K::SignatureAlgorithm
        | K::KeyParameters
        | K::CmsSignedAttributes
        | K::CertificateMissing
        | K::SignatureInvalid
        | K::CertificateUntrusted
        | K::CertificateExpired
        | K::CertificateNotYetValid
        | K::CertificateRevoked
        | K::RevocationUnknown
        | K::CrlInvalid
        | K::TimestampInvalid
        | K::DevelopmentCaRefused => StatusCode::BAD_REQUEST,
        K::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        K::MobileSigningExpired => StatusCode::GONE,
        K::MobileSigningContentMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        K::NotSignedIn
        | K::SessionExpired
        | K::ChallengeInvalid
        | K::ChallengeExpired
        | K::ChallengeUsed
        | K::CertificateNotAuthenticationKey
        | K::SystemNotRegistered
        | K::SystemAccessEnded
        | K::MobileSigningToken => StatusCode::UNAUTHORIZED,
        K::OriginMismatch
        | K::Forbidden
        | K::NotAnApplicant
        | K::NotEligible
        | K::SessionBinMismatch
        | K::CertificateNoIin
        | K::CertificateNotLegalEntity
        | K::CertificateWrongBin
        | K::CertificateNoSigningRight
        | K::CertificateNotSigningKey
        | K::CertificateNotInformationSystem
        | K::CertificateOfInformationSystem
        | K::SystemTokenRequired
        | K::PersonTokenRequired
        | K::GrantInactive
        | K::TrainingRequired
        | K::DutiesNotAccepted
        | K::OrganizationDeactivated
        | K::DataOutOfScope
        | K::HrSignerNotAllowed => StatusCode::FORBIDDEN,
        K::NotFound => StatusCode::NOT_FOUND,
        K::WrongState
        | K::LineDecided
        | K::OrganizationExists
        | K::DuplicateEvent
        | K::RenewalNotPossible
        | K::LessonChangedInPlace
        | K::AlreadyEnrolled
        | K::SessionFull
        | K::NotEnrolled => StatusCode::CONFLICT,
        K::BudgetDataUnavailable | K::MobileSigningBusy => StatusCode::SERVICE_UNAVAILABLE,
        K::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        K::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        K::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        K::AuditFailed | K::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error on its way out: the use case's error and the status it answers with.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub error: ServiceError,
    pub status: StatusCode,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        let status = if error.at_sign_in && error.problem != Problem::Internal {
            StatusCode::UNAUTHORIZED
        } else {
            status(error.kind())
        };
        ApiError { error, status }
    }
}

impl ApiError {
    pub fn new(problem: Problem) -> Self {
        ServiceError::new(problem).into()
    }
    pub fn slug(&self) -> &'static str {
        self.error.slug()
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

/// A problem in the caller's language: its title, detail and the fields that broke a rule (the JSON
/// answer and the pages show the same words).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalizedProblem {
    pub slug: &'static str,
    pub title: String,
    pub detail: String,
    pub errors: Vec<LocalizedFieldError>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalizedFieldError {
    pub field: String,
    pub rule: String,
    pub detail: String,
}

pub fn localized(e: &ServiceError, lang: Lang) -> LocalizedProblem {
    let key = |part: &str| format!("problem-{}-{part}", e.slug());
    let args = e.problem.args();
    LocalizedProblem {
        slug: e.slug(),
        title: lang.text(&key("title"), &args),
        detail: lang.text(&key("detail"), &args),
        errors: e
            .errors
            .iter()
            .map(|f| {
                let rule_key = format!("rule-{}", f.rule.replace('_', "-"));
                let detail = if lang.has(&rule_key) {
                    lang.text(&rule_key, &[])
                } else {
                    f.detail.clone()
                };
                LocalizedFieldError {
                    field: f.field.clone(),
                    rule: f.rule.to_string(),
                    detail,
                }
            })
            .collect(),
    }
}

pub fn render(e: &ApiError, lang: Lang) -> Response {
    let p = localized(&e.error, lang);
    let mut body = json!({
        "type": format!("urn:qoljetim:problem:{}", p.slug),
        "title": p.title,
        "status": e.status.as_u16(),
        "detail": p.detail,
    });
    if !p.errors.is_empty() {
        body["errors"] = json!(p.errors);
    }
    // The id under which the server logged and audited this request: what a support call quotes.
    if let Some(id) = qoljetim_service::current_request_id() {
        body["request_id"] = json!(id);
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
    if let Problem::TooManyRequests { retry_after } = e.error.problem {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    }
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
        // The request timeout's own answer (no body): told as a problem.
        StatusCode::REQUEST_TIMEOUT if response.extensions().get::<ApiError>().is_none() => {
            render(&ServiceError::new(Problem::RequestTimeout).into(), lang)
        }
        StatusCode::NOT_FOUND if response.headers().get(header::CONTENT_TYPE).is_none() => {
            render(&ServiceError::not_found("route").into(), lang)
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut r = render(
                &ApiError {
                    status: StatusCode::METHOD_NOT_ALLOWED,
                    error: ServiceError::forbidden("method"),
                },
                lang,
            );
            if let Some(allow) = response.headers().get(header::ALLOW) {
                r.headers_mut().insert(header::ALLOW, allow.clone());
            }
            r
        }
        // An extractor's own refusal (a query or a JSON body that does not parse): plain text from
        // axum, told as a problem with its reason and its status.
        s if s.is_client_error()
            && response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/plain")) =>
        {
            let reason = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            render(
                &ApiError {
                    status: s,
                    error: ServiceError::malformed(reason),
                },
                lang,
            )
        }
        _ => response,
    }
}

pub fn panic_to_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    render(&ApiError::new(Problem::Internal), Lang::Kk)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of problem has a title and a detail in Kazakh, Russian and English, rendered from
    /// the arguments that kind carries (a message naming an argument its problem lacks fails here),
    /// and no message names a problem that is gone.
    #[test]
    fn every_problem_is_translated() {
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            for kind in ProblemKind::all() {
                let args = kind.example().args();
                for part in ["title", "detail"] {
                    let key = format!("problem-{}-{part}", kind.slug());
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
                    ProblemKind::all().any(|p| p.slug() == slug),
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
        for p in ProblemKind::all() {
            assert!(
                doc.contains(&format!("| `{}` | {}", p.slug(), status(p).as_u16())),
                "{} ({}) is not in docs/problems.md with its status",
                p.slug(),
                status(p).as_u16()
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

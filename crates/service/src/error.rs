//! The one error of the use cases: a `Problem` (its `type` slug; the web layer chooses its status in
//! one file) with the arguments its messages use and, for input errors, the fields that broke a rule.

use qoljetim_domain::application::FieldError;
use qoljetim_signature::SignatureError;
use qoljetim_store::{Conflict, StoreError};

/// Every problem a use case answers with. Fluent files hold the title and detail of each in kk, ru and
/// en (`problem-<slug>-title`, `-detail`); a test in the web crate walks this list.
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
}

/// A refusal or failure of a use case, not yet in the caller's language.
#[derive(Debug, Clone)]
pub struct ServiceError {
    pub problem: Problem,
    /// A refused sign-in answers "unauthenticated" whatever refused it (the signature, the registry).
    pub at_sign_in: bool,
    pub args: Vec<(&'static str, String)>,
    pub errors: Vec<FieldError>,
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// A request body as the caller sent it, parsed into its type or the problem that stopped it: the use
/// case decides whether (and when, after authorization) the problem is answered and audited.
pub type Input<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn new(problem: Problem) -> Self {
        ServiceError {
            problem,
            at_sign_in: false,
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
        self.at_sign_in = true;
        self
    }
    pub fn arg(mut self, k: &'static str, v: impl ToString) -> Self {
        self.args.push((k, v.to_string()));
        self
    }
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        ServiceError {
            problem: Problem::Validation,
            at_sign_in: false,
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
        } else if policies.iter().any(|p| p == "grant-not-active") {
            Self::new(Problem::GrantInactive)
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

//! The one error of the use cases: a `Problem` (its `type` slug; the web layer chooses its status in
//! one file) with the arguments its messages use and, for input errors, the fields that broke a rule.

use qoljetim_domain::application::FieldError;
use qoljetim_signature::SignatureError;
use qoljetim_store::{Conflict, StoreError};

/// Every problem a use case answers with, each with the arguments its messages use. Fluent files hold
/// the title and detail of each in kk, ru and en (`problem-<slug>-title`, `-detail`); the web crate
/// chooses the status of each kind in one file, and a test there renders `ProblemKind::example` of
/// every kind in all three languages.
#[derive(Debug, Clone, PartialEq, Eq, strum::EnumDiscriminants)]
#[strum_discriminants(name(ProblemKind), derive(Hash, strum::EnumIter))]
pub enum Problem {
    Validation {
        count: usize,
    },
    MalformedRequest {
        reason: String,
    },
    PayloadTooLarge {
        limit: usize,
    },
    NotSignedIn,
    SessionExpired,
    OriginMismatch,
    Forbidden {
        action: String,
    },
    NotFound {
        what: String,
    },
    WrongState {
        current: String,
        expected: String,
    },
    LineDecided {
        line: i64,
    },
    OrganizationExists {
        bin: String,
    },
    OrganizationUnknown {
        bin: String,
    },
    NotAnApplicant {
        kind: String,
    },
    NotEligible {
        bin: String,
        kind: String,
    },
    SessionBinMismatch {
        session: String,
        applicant: String,
    },
    ChallengeInvalid,
    ChallengeExpired,
    ChallengeUsed,
    CmsMalformed {
        reason: String,
    },
    CmsSignerCount {
        count: usize,
    },
    CmsLimit {
        what: String,
        limit: usize,
    },
    CmsNoContent,
    CmsDigestAlgorithm {
        reason: String,
    },
    SignatureAlgorithm {
        reason: String,
    },
    KeyParameters {
        reason: String,
    },
    CmsSignedAttributes {
        reason: String,
    },
    CertificateMissing,
    SignatureInvalid,
    CertificateUntrusted,
    CertificateExpired {
        at: String,
        not_before: String,
        not_after: String,
    },
    CertificateNotYetValid {
        at: String,
        not_before: String,
        not_after: String,
    },
    CertificateRevoked {
        serial: String,
        revoked_at: String,
    },
    RevocationUnknown {
        reason: String,
    },
    CrlInvalid {
        reason: String,
    },
    TimestampInvalid {
        reason: String,
    },
    CertificateNoIin,
    CertificateNotLegalEntity,
    CertificateWrongBin {
        expected: String,
        found: String,
    },
    CertificateNoSigningRight,
    CertificateNotSigningKey,
    CertificateNotAuthenticationKey,
    /// Issue 18: a system signs in with its organization's information-system certificate only.
    CertificateNotInformationSystem,
    /// Issue 18: an information system's certificate does not sign in as a person.
    CertificateOfInformationSystem,
    /// Issue 18: the certificate of a system's sign-in is not the one a granted line named.
    SystemNotRegistered {
        serial: String,
    },
    /// Issue 18: a grant the system's token was issued under is no longer live: the token ended.
    SystemAccessEnded {
        grant: i64,
        status: String,
    },
    /// Issue 18: a route for organizations' information systems, asked with a person's session.
    SystemTokenRequired,
    /// Issue 18: a person's route, asked with an information system's token.
    PersonTokenRequired,
    DevelopmentCaRefused,
    GrantInactive {
        system: String,
    },
    DataOutOfScope {
        filter: String,
        scope: String,
    },
    BudgetDataUnavailable,
    HrSignerNotAllowed {
        bin: String,
    },
    DuplicateEvent {
        id: i64,
    },
    RenewalNotPossible {
        id: i64,
        status: String,
        reason: String,
    },
    MobileSigningExpired {
        expired_at: String,
    },
    MobileSigningToken,
    TooManyRequests {
        retry_after: u64,
    },
    UnsupportedMediaType {
        expected: String,
    },
    RequestTimeout,
    MobileSigningContentMismatch,
    MobileSigningBusy {
        limit: usize,
    },
    /// Order 270 §13: the person's grant waits for training (the system's lesson or a session).
    TrainingRequired {
        system: String,
        lesson: String,
    },
    /// Order 270 §15: the grant's duties are not accepted yet.
    DutiesNotAccepted {
        grant: i64,
    },
    LessonChangedInPlace {
        id: String,
        version: i64,
    },
    AlreadyEnrolled,
    /// Issue 17: the organization was deactivated by an operator; it applies no more.
    OrganizationDeactivated {
        bin: String,
    },
    SessionFull {
        capacity: i64,
    },
    NotEnrolled {
        iin: String,
    },
    AuditFailed,
    Internal,
}

impl Problem {
    pub fn kind(&self) -> ProblemKind {
        ProblemKind::from(self)
    }
    pub fn slug(&self) -> &'static str {
        self.kind().slug()
    }
    /// The named arguments of the problem's messages.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        use Problem as P;
        fn s(v: &impl ToString) -> String {
            v.to_string()
        }
        match self {
            P::Validation { count } | P::CmsSignerCount { count } => vec![("count", s(count))],
            P::MalformedRequest { reason }
            | P::CmsMalformed { reason }
            | P::CmsDigestAlgorithm { reason }
            | P::SignatureAlgorithm { reason }
            | P::KeyParameters { reason }
            | P::CmsSignedAttributes { reason }
            | P::RevocationUnknown { reason }
            | P::CrlInvalid { reason }
            | P::TimestampInvalid { reason } => vec![("reason", s(reason))],
            P::PayloadTooLarge { limit } | P::MobileSigningBusy { limit } => {
                vec![("limit", s(limit))]
            }
            P::MobileSigningExpired { expired_at } => vec![("expired_at", s(expired_at))],
            P::CmsLimit { what, limit } => vec![("what", s(what)), ("limit", s(limit))],
            P::TooManyRequests { retry_after } => vec![("retry_after", s(retry_after))],
            P::UnsupportedMediaType { expected } => vec![("expected", s(expected))],
            P::Forbidden { action } => vec![("action", s(action))],
            P::NotFound { what } => vec![("what", s(what))],
            P::WrongState { current, expected } => {
                vec![("current", s(current)), ("expected", s(expected))]
            }
            P::LineDecided { line } => vec![("line", s(line))],
            P::OrganizationExists { bin }
            | P::OrganizationUnknown { bin }
            | P::HrSignerNotAllowed { bin } => vec![("bin", s(bin))],
            P::NotAnApplicant { kind } => vec![("kind", s(kind))],
            P::NotEligible { bin, kind } => vec![("bin", s(bin)), ("kind", s(kind))],
            P::SessionBinMismatch { session, applicant } => {
                vec![("session", s(session)), ("applicant", s(applicant))]
            }
            P::CertificateExpired {
                at,
                not_before,
                not_after,
            }
            | P::CertificateNotYetValid {
                at,
                not_before,
                not_after,
            } => vec![
                ("at", s(at)),
                ("not_before", s(not_before)),
                ("not_after", s(not_after)),
            ],
            P::CertificateRevoked { serial, revoked_at } => {
                vec![("serial", s(serial)), ("revoked_at", s(revoked_at))]
            }
            P::CertificateWrongBin { expected, found } => {
                vec![("expected", s(expected)), ("found", s(found))]
            }
            P::GrantInactive { system } => vec![("system", s(system))],
            P::DataOutOfScope { filter, scope } => vec![("filter", s(filter)), ("scope", s(scope))],
            P::DuplicateEvent { id } => vec![("id", s(id))],
            P::RenewalNotPossible { id, status, reason } => {
                vec![("id", s(id)), ("status", s(status)), ("reason", s(reason))]
            }
            P::TrainingRequired { system, lesson } => {
                vec![("system", s(system)), ("lesson", s(lesson))]
            }
            P::DutiesNotAccepted { grant } => vec![("grant", s(grant))],
            P::LessonChangedInPlace { id, version } => {
                vec![("id", s(id)), ("version", s(version))]
            }
            P::SessionFull { capacity } => vec![("capacity", s(capacity))],
            P::NotEnrolled { iin } => vec![("iin", s(iin))],
            P::AlreadyEnrolled => vec![],
            P::OrganizationDeactivated { bin } => vec![("bin", s(bin))],
            P::SystemNotRegistered { serial } => vec![("serial", s(serial))],
            P::SystemAccessEnded { grant, status } => {
                vec![("grant", s(grant)), ("status", s(status))]
            }
            P::NotSignedIn
            | P::SessionExpired
            | P::OriginMismatch
            | P::ChallengeInvalid
            | P::ChallengeExpired
            | P::ChallengeUsed
            | P::CmsNoContent
            | P::CertificateMissing
            | P::SignatureInvalid
            | P::CertificateUntrusted
            | P::CertificateNoIin
            | P::CertificateNotLegalEntity
            | P::CertificateNoSigningRight
            | P::CertificateNotSigningKey
            | P::CertificateNotAuthenticationKey
            | P::CertificateNotInformationSystem
            | P::CertificateOfInformationSystem
            | P::SystemTokenRequired
            | P::PersonTokenRequired
            | P::DevelopmentCaRefused
            | P::BudgetDataUnavailable
            | P::MobileSigningToken
            | P::MobileSigningContentMismatch
            | P::RequestTimeout
            | P::AuditFailed
            | P::Internal => vec![],
        }
    }
}

impl ProblemKind {
    pub fn slug(self) -> &'static str {
        use ProblemKind as K;
        match self {
            K::Validation => "validation",
            K::MalformedRequest => "malformed-request",
            K::PayloadTooLarge => "payload-too-large",
            K::NotSignedIn => "not-signed-in",
            K::SessionExpired => "session-expired",
            K::OriginMismatch => "origin-mismatch",
            K::Forbidden => "forbidden",
            K::NotFound => "not-found",
            K::WrongState => "wrong-state",
            K::LineDecided => "line-decided",
            K::OrganizationExists => "organization-exists",
            K::OrganizationUnknown => "organization-unknown",
            K::NotAnApplicant => "not-an-applicant",
            K::NotEligible => "not-eligible",
            K::SessionBinMismatch => "session-bin-mismatch",
            K::ChallengeInvalid => "challenge-invalid",
            K::ChallengeExpired => "challenge-expired",
            K::ChallengeUsed => "challenge-used",
            K::CmsMalformed => "cms-malformed",
            K::CmsSignerCount => "cms-signer-count",
            K::CmsLimit => "cms-limit",
            K::CmsNoContent => "cms-no-content",
            K::CmsDigestAlgorithm => "cms-digest-algorithm",
            K::SignatureAlgorithm => "signature-algorithm",
            K::KeyParameters => "key-parameters",
            K::CmsSignedAttributes => "cms-signed-attributes",
            K::CertificateMissing => "certificate-missing",
            K::SignatureInvalid => "signature-invalid",
            K::CertificateUntrusted => "certificate-untrusted",
            K::CertificateExpired => "certificate-expired",
            K::CertificateNotYetValid => "certificate-not-yet-valid",
            K::CertificateRevoked => "certificate-revoked",
            K::RevocationUnknown => "revocation-unknown",
            K::CrlInvalid => "crl-invalid",
            K::TimestampInvalid => "timestamp-invalid",
            K::CertificateNoIin => "certificate-no-iin",
            K::CertificateNotLegalEntity => "certificate-not-legal-entity",
            K::CertificateWrongBin => "certificate-wrong-bin",
            K::CertificateNoSigningRight => "certificate-no-signing-right",
            K::CertificateNotSigningKey => "certificate-not-signing-key",
            K::CertificateNotAuthenticationKey => "certificate-not-authentication-key",
            K::CertificateNotInformationSystem => "certificate-not-information-system",
            K::CertificateOfInformationSystem => "certificate-of-information-system",
            K::SystemNotRegistered => "system-not-registered",
            K::SystemAccessEnded => "system-access-ended",
            K::SystemTokenRequired => "system-token-required",
            K::PersonTokenRequired => "person-token-required",
            K::DevelopmentCaRefused => "development-ca-refused",
            K::GrantInactive => "grant-inactive",
            K::TrainingRequired => "training-required",
            K::DutiesNotAccepted => "duties-not-accepted",
            K::LessonChangedInPlace => "lesson-changed-in-place",
            K::AlreadyEnrolled => "already-enrolled",
            K::OrganizationDeactivated => "organization-deactivated",
            K::SessionFull => "session-full",
            K::NotEnrolled => "not-enrolled",
            K::DataOutOfScope => "data-out-of-scope",
            K::BudgetDataUnavailable => "budget-data-unavailable",
            K::HrSignerNotAllowed => "hr-signer-not-allowed",
            K::DuplicateEvent => "duplicate-event",
            K::RenewalNotPossible => "renewal-not-possible",
            K::MobileSigningExpired => "mobile-signing-expired",
            K::MobileSigningToken => "mobile-signing-token",
            K::TooManyRequests => "too-many-requests",
            K::UnsupportedMediaType => "unsupported-media-type",
            K::RequestTimeout => "request-timeout",
            K::MobileSigningContentMismatch => "mobile-signing-content-mismatch",
            K::MobileSigningBusy => "mobile-signing-busy",
            K::AuditFailed => "audit-failed",
            K::Internal => "internal",
        }
    }

    /// One problem of this kind with sample arguments: the translation test renders it in every
    /// language, so a message naming an argument its problem does not carry fails there.
    pub fn example(self) -> Problem {
        use ProblemKind as K;
        let x = || "x".to_owned();
        match self {
            K::Validation => Problem::Validation { count: 2 },
            K::MalformedRequest => Problem::MalformedRequest { reason: x() },
            K::PayloadTooLarge => Problem::PayloadTooLarge { limit: 1 },
            K::NotSignedIn => Problem::NotSignedIn,
            K::SessionExpired => Problem::SessionExpired,
            K::OriginMismatch => Problem::OriginMismatch,
            K::Forbidden => Problem::Forbidden { action: x() },
            K::NotFound => Problem::NotFound { what: x() },
            K::WrongState => Problem::WrongState {
                current: x(),
                expected: x(),
            },
            K::LineDecided => Problem::LineDecided { line: 1 },
            K::OrganizationExists => Problem::OrganizationExists { bin: x() },
            K::OrganizationUnknown => Problem::OrganizationUnknown { bin: x() },
            K::NotAnApplicant => Problem::NotAnApplicant { kind: x() },
            K::NotEligible => Problem::NotEligible {
                bin: x(),
                kind: x(),
            },
            K::SessionBinMismatch => Problem::SessionBinMismatch {
                session: x(),
                applicant: x(),
            },
            K::ChallengeInvalid => Problem::ChallengeInvalid,
            K::ChallengeExpired => Problem::ChallengeExpired,
            K::ChallengeUsed => Problem::ChallengeUsed,
            K::CmsMalformed => Problem::CmsMalformed { reason: x() },
            K::CmsSignerCount => Problem::CmsSignerCount { count: 2 },
            K::CmsNoContent => Problem::CmsNoContent,
            K::CmsDigestAlgorithm => Problem::CmsDigestAlgorithm { reason: x() },
            K::SignatureAlgorithm => Problem::SignatureAlgorithm { reason: x() },
            K::KeyParameters => Problem::KeyParameters { reason: x() },
            K::CmsSignedAttributes => Problem::CmsSignedAttributes { reason: x() },
            K::CertificateMissing => Problem::CertificateMissing,
            K::SignatureInvalid => Problem::SignatureInvalid,
            K::CertificateUntrusted => Problem::CertificateUntrusted,
            K::CertificateExpired => Problem::CertificateExpired {
                at: x(),
                not_before: x(),
                not_after: x(),
            },
            K::CertificateNotYetValid => Problem::CertificateNotYetValid {
                at: x(),
                not_before: x(),
                not_after: x(),
            },
            K::CertificateRevoked => Problem::CertificateRevoked {
                serial: x(),
                revoked_at: x(),
            },
            K::RevocationUnknown => Problem::RevocationUnknown { reason: x() },
            K::CrlInvalid => Problem::CrlInvalid { reason: x() },
            K::TimestampInvalid => Problem::TimestampInvalid { reason: x() },
            K::CertificateNoIin => Problem::CertificateNoIin,
            K::CertificateNotLegalEntity => Problem::CertificateNotLegalEntity,
            K::CertificateWrongBin => Problem::CertificateWrongBin {
                expected: x(),
                found: x(),
            },
            K::CertificateNoSigningRight => Problem::CertificateNoSigningRight,
            K::CertificateNotSigningKey => Problem::CertificateNotSigningKey,
            K::CertificateNotAuthenticationKey => Problem::CertificateNotAuthenticationKey,
            K::CertificateNotInformationSystem => Problem::CertificateNotInformationSystem,
            K::CertificateOfInformationSystem => Problem::CertificateOfInformationSystem,
            K::SystemNotRegistered => Problem::SystemNotRegistered { serial: x() },
            K::SystemAccessEnded => Problem::SystemAccessEnded {
                grant: 1,
                status: x(),
            },
            K::SystemTokenRequired => Problem::SystemTokenRequired,
            K::PersonTokenRequired => Problem::PersonTokenRequired,
            K::DevelopmentCaRefused => Problem::DevelopmentCaRefused,
            K::GrantInactive => Problem::GrantInactive { system: x() },
            K::TrainingRequired => Problem::TrainingRequired {
                system: x(),
                lesson: x(),
            },
            K::DutiesNotAccepted => Problem::DutiesNotAccepted { grant: 1 },
            K::LessonChangedInPlace => Problem::LessonChangedInPlace {
                id: x(),
                version: 1,
            },
            K::AlreadyEnrolled => Problem::AlreadyEnrolled,
            K::OrganizationDeactivated => Problem::OrganizationDeactivated { bin: x() },
            K::SessionFull => Problem::SessionFull { capacity: 1 },
            K::NotEnrolled => Problem::NotEnrolled { iin: x() },
            K::DataOutOfScope => Problem::DataOutOfScope {
                filter: x(),
                scope: x(),
            },
            K::BudgetDataUnavailable => Problem::BudgetDataUnavailable,
            K::HrSignerNotAllowed => Problem::HrSignerNotAllowed { bin: x() },
            K::DuplicateEvent => Problem::DuplicateEvent { id: 1 },
            K::RenewalNotPossible => Problem::RenewalNotPossible {
                id: 1,
                status: x(),
                reason: x(),
            },
            K::MobileSigningExpired => Problem::MobileSigningExpired { expired_at: x() },
            K::MobileSigningToken => Problem::MobileSigningToken,
            K::TooManyRequests => Problem::TooManyRequests { retry_after: 1 },
            K::UnsupportedMediaType => Problem::UnsupportedMediaType { expected: x() },
            K::RequestTimeout => Problem::RequestTimeout,
            K::MobileSigningContentMismatch => Problem::MobileSigningContentMismatch,
            K::MobileSigningBusy => Problem::MobileSigningBusy { limit: 1 },
            K::CmsLimit => Problem::CmsLimit {
                what: x(),
                limit: 1,
            },
            K::AuditFailed => Problem::AuditFailed,
            K::Internal => Problem::Internal,
        }
    }

    pub fn all() -> impl Iterator<Item = ProblemKind> {
        <ProblemKind as strum::IntoEnumIterator>::iter()
    }
}

/// A refusal or failure of a use case, not yet in the caller's language.
#[derive(Debug, Clone)]
pub struct ServiceError {
    pub problem: Problem,
    /// A refused sign-in answers "unauthenticated" whatever refused it (the signature, the registry).
    pub at_sign_in: bool,
    pub errors: Vec<FieldError>,
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// A request body as the caller sent it, parsed into its type or the problem that stopped it: the use
/// case decides whether (and when, after authorization) the problem is answered and audited.
pub type Input<T> = Result<T, ServiceError>;

/// What a refusing Cedar policy's problem names, given by the caller (`denied`).
#[derive(Debug, Clone, Default)]
pub struct DenialFacts {
    /// The organization's kind (an operator does not apply).
    pub kind: String,
    /// The BIN of the caller's session and of the applicant.
    pub session: String,
    pub applicant: String,
    /// The information system of a data read.
    pub system: String,
    /// The grant of a data read, and the lesson that trains for its system.
    pub grant: Option<i64>,
    pub lesson: String,
}

impl From<Problem> for ServiceError {
    fn from(problem: Problem) -> Self {
        ServiceError::new(problem)
    }
}

impl ServiceError {
    pub fn new(problem: Problem) -> Self {
        ServiceError {
            problem,
            at_sign_in: false,
            errors: vec![],
        }
    }
    /// The problem's `type` slug.
    pub fn slug(&self) -> &'static str {
        self.problem.slug()
    }
    pub fn kind(&self) -> ProblemKind {
        self.problem.kind()
    }
    /// A refused sign-in answers 401 whatever refused it (the signature, the registry).
    pub fn at_sign_in(mut self) -> Self {
        self.at_sign_in = true;
        self
    }
    pub fn validation(errors: Vec<FieldError>) -> Self {
        ServiceError {
            problem: Problem::Validation {
                count: errors.len(),
            },
            at_sign_in: false,
            errors,
        }
    }
    pub fn field(field: &str, rule: &'static str, detail: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, rule, detail)])
    }
    pub fn malformed(reason: impl ToString) -> Self {
        Self::new(Problem::MalformedRequest {
            reason: reason.to_string(),
        })
    }
    pub fn forbidden(action: &str) -> Self {
        Self::new(Problem::Forbidden {
            action: action.to_owned(),
        })
    }
    /// A Cedar denial: the forbid policy that refused names the problem (`operators-do-not-apply` →
    /// `not-an-applicant`, `session-of-another-organization` → `session-bin-mismatch`,
    /// `grant-not-active` → `grant-inactive`); a request no policy permits is `forbidden`.
    pub fn denied(action: &str, policies: &[String], facts: DenialFacts) -> Self {
        let named = |p: &str| policies.iter().any(|q| q == p);
        if named("operators-do-not-apply") {
            Self::new(Problem::NotAnApplicant { kind: facts.kind })
        } else if named("session-of-another-organization") {
            Self::new(Problem::SessionBinMismatch {
                session: facts.session,
                applicant: facts.applicant,
            })
        } else if named("grant-not-active") {
            Self::new(Problem::GrantInactive {
                system: facts.system,
            })
        } else if named("training-required") {
            Self::new(Problem::TrainingRequired {
                system: facts.system,
                lesson: facts.lesson,
            })
        } else if named("duties-not-accepted") {
            Self::new(Problem::DutiesNotAccepted {
                grant: facts.grant.unwrap_or_default(),
            })
        } else {
            Self::forbidden(action)
        }
    }
    pub fn not_found(what: impl ToString) -> Self {
        Self::new(Problem::NotFound {
            what: what.to_string(),
        })
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(Problem::Internal)
    }

    /// A signature problem: `status` is 401 at sign-in and 400/403 for documents.
    pub fn signature(e: &SignatureError, at_sign_in: bool) -> Self {
        use Problem as P;
        use SignatureError as S;
        let problem = match e.clone() {
            S::Malformed(reason) => P::CmsMalformed { reason },
            S::Limit { what, limit } => P::CmsLimit { what, limit },
            S::SignerCount(count) => P::CmsSignerCount { count },
            S::NoContent => P::CmsNoContent,
            S::DigestAlgorithm(reason) => P::CmsDigestAlgorithm { reason },
            S::SignatureAlgorithm(reason) => P::SignatureAlgorithm { reason },
            S::SignedAttributes(reason) => P::CmsSignedAttributes {
                reason: reason.to_owned(),
            },
            S::CertificateMissing => P::CertificateMissing,
            S::SignatureInvalid => P::SignatureInvalid,
            S::Untrusted => P::CertificateUntrusted,
            S::Expired {
                at,
                not_before,
                not_after,
            } => P::CertificateExpired {
                at,
                not_before,
                not_after,
            },
            S::NotYetValid {
                at,
                not_before,
                not_after,
            } => P::CertificateNotYetValid {
                at,
                not_before,
                not_after,
            },
            S::Revoked { serial, revoked_at } => P::CertificateRevoked { serial, revoked_at },
            S::RevocationUnknown(reason) => P::RevocationUnknown { reason },
            S::Crl(reason) => P::CrlInvalid { reason },
            S::TimeStamp(reason) => P::TimestampInvalid { reason },
            S::NoIin => P::CertificateNoIin,
            S::NotLegalEntity => P::CertificateNotLegalEntity,
            S::WrongBin { expected, found } => P::CertificateWrongBin {
                expected: expected.to_string(),
                found: found.to_string(),
            },
            S::NoSigningRight => P::CertificateNoSigningRight,
            S::NotSigningKey => P::CertificateNotSigningKey,
            S::NotAuthenticationKey => P::CertificateNotAuthenticationKey,
            S::NotInformationSystem => P::CertificateNotInformationSystem,
            S::InformationSystemCertificate => P::CertificateOfInformationSystem,
            S::DevelopmentCaRefused => P::DevelopmentCaRefused,
            S::KeyParameters(reason) => P::KeyParameters { reason },
            S::Internal(e) => return Self::internal(e),
        };
        let err = Self::new(problem);
        if at_sign_in { err.at_sign_in() } else { err }
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
        Self::new(match c {
            Conflict::ChallengeUsed => Problem::ChallengeUsed,
            Conflict::OrganizationExists { bin } => Problem::OrganizationExists { bin },
            Conflict::OrganizationUnknown { bin } => Problem::OrganizationUnknown { bin },
            Conflict::WrongState { current, expected } => Problem::WrongState {
                current,
                expected: expected.to_owned(),
            },
            Conflict::LineDecided { line } => Problem::LineDecided { line },
            Conflict::NotFound => return Self::not_found("application"),
            Conflict::DuplicateEvent { id } => Problem::DuplicateEvent { id },
            Conflict::LessonChangedInPlace { id, version } => {
                Problem::LessonChangedInPlace { id, version }
            }
            Conflict::AlreadyEnrolled => Problem::AlreadyEnrolled,
            Conflict::SessionFull { capacity } => Problem::SessionFull { capacity },
            Conflict::NotEnrolled { iin } => Problem::NotEnrolled { iin },
            // Answered as the existing record by the use cases; never shown as a problem.
            Conflict::DuplicateDocument { id } => Problem::WrongState {
                current: format!("accepted as {id}"),
                expected: "new".into(),
            },
        })
    }
}

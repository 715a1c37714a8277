//! CMS and X.509 verification in the NCA profile. Nothing here signs or issues: the development CA,
//! its CMS and GOST signers and PKCS#12 writer are the `qoljetim-devca` crate, which the verification
//! path never links (its tests — every refusal path, the NCA test artefacts — live there too).
//!
//! Verification follows RFC 5652 (CMS SignedData) and RFC 5280 (certificate paths) for RSA PKCS#1 v1.5
//! and ECDSA P-256/P-384, and GOST 34.310-2004 / 34.10-2015 in the NCA's byte orders (`gost`).
//! Revocation per anchor: `revocation`.

pub mod gost;
mod gost_fast;
pub mod identity;
pub mod limits;
pub mod ocsp;
pub mod oids;
pub mod primitives;
pub mod revocation;
pub mod tsp;
pub mod verify;

pub use identity::{CertificateIdentity, KeyPurpose, NcaRole};
pub use revocation::{CrlStore, RevocationEvidence, RevocationStatus};
pub use verify::{
    Revocation, TimeStamp, TrustAnchor, VerifiedCms, Verifier, require_application_signer,
    require_sign_in, require_system_sign_in, system_certificate_of_pem,
};

/// Why a signature or certificate was refused. `slug()` is the stable problem type of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the CMS is not well-formed DER SignedData: {0}")]
    Malformed(String),
    #[error("the CMS exceeds a limit: {what} at most {limit}")]
    Limit { what: String, limit: usize },
    #[error("the CMS must have exactly one signer, it has {0}")]
    SignerCount(usize),
    #[error("the CMS carries no encapsulated content (a detached signature was sent)")]
    NoContent,
    #[error(
        "digest algorithm {0} is not accepted (SHA-256/384/512, GOST 34.311-95 and Streebog are)"
    )]
    DigestAlgorithm(String),
    #[error("signature algorithm {0} is not supported")]
    SignatureAlgorithm(String),
    #[error("signed attributes must carry the content type and a matching message digest: {0}")]
    SignedAttributes(&'static str),
    #[error("the signer's certificate is not embedded in the CMS")]
    CertificateMissing,
    #[error("the signature does not verify: the content or the signature was changed")]
    SignatureInvalid,
    #[error("the certificate does not chain to a configured trust anchor")]
    Untrusted,
    #[error(
        "a certificate of the chain is not valid at {at}: valid from {not_before} to {not_after}"
    )]
    Expired {
        at: String,
        not_before: String,
        not_after: String,
    },
    /// A certificate whose validity has not begun yet (its own refusal: the remedy differs).
    #[error(
        "a certificate of the chain is not valid yet at {at}: valid from {not_before} to {not_after}"
    )]
    NotYetValid {
        at: String,
        not_before: String,
        not_after: String,
    },
    #[error("the certificate {serial} was revoked at {revoked_at}")]
    Revoked { serial: String, revoked_at: String },
    #[error("the revocation status of the certificate cannot be known: {0}")]
    RevocationUnknown(String),
    /// A CRL that cannot be used: unreadable, of another issuer, or not signed by the anchor.
    #[error("CRL refused: {0}")]
    Crl(String),
    /// An RFC 3161 time-stamp token that does not verify, is for another signature, or whose TSA is
    /// not trusted.
    #[error("time stamp refused: {0}")]
    TimeStamp(String),
    #[error("the certificate has no SERIALNUMBER=IIN… with a valid IIN")]
    NoIin,
    #[error("the certificate is not a legal entity's (EKU 1.2.398.3.3.4.1.2 with OU=BIN…)")]
    NotLegalEntity,
    #[error("the certificate's BIN {found} is not the applicant's BIN {expected}")]
    WrongBin { expected: String, found: String },
    #[error("the signer is neither the first head nor holds signing right")]
    NoSigningRight,
    #[error("a signing key (1.3.6.1.5.5.7.3.4) is required to sign an application")]
    NotSigningKey,
    #[error("an authentication key (1.3.6.1.5.5.7.3.2) is required to sign in")]
    NotAuthenticationKey,
    /// Issue 18: not a legal entity's information-system certificate (EKU 1.2.398.3.3.4.1.2.6).
    #[error(
        "the certificate is not a legal entity's information-system certificate (EKU 1.2.398.3.3.4.1.2 with 1.2.398.3.3.4.1.2.6)"
    )]
    NotInformationSystem,
    /// Issue 18: an information system's certificate presented where a person signs in.
    #[error("an information system's certificate signs in as a system, not as a person")]
    InformationSystemCertificate,
    #[error("the development CA is refused in production mode")]
    DevelopmentCaRefused,
    /// A GOST key whose curve is not supported, or that does not match the signature algorithm.
    #[error("key parameters: {0}")]
    KeyParameters(String),
    #[error("{0}")]
    Internal(String),
}

impl SignatureError {
    pub fn slug(&self) -> &'static str {
        match self {
            SignatureError::Malformed(_) => "cms-malformed",
            SignatureError::Limit { .. } => "cms-limit",
            SignatureError::SignerCount(_) => "cms-signer-count",
            SignatureError::NoContent => "cms-no-content",
            SignatureError::DigestAlgorithm(_) => "cms-digest-algorithm",
            SignatureError::SignatureAlgorithm(_) => "signature-algorithm",
            SignatureError::SignedAttributes(_) => "cms-signed-attributes",
            SignatureError::CertificateMissing => "certificate-missing",
            SignatureError::SignatureInvalid => "signature-invalid",
            SignatureError::Untrusted => "certificate-untrusted",
            SignatureError::Expired { .. } => "certificate-expired",
            SignatureError::NotYetValid { .. } => "certificate-not-yet-valid",
            SignatureError::Revoked { .. } => "certificate-revoked",
            SignatureError::RevocationUnknown(_) => "revocation-unknown",
            SignatureError::Crl(_) => "crl-invalid",
            SignatureError::TimeStamp(_) => "timestamp-invalid",
            SignatureError::NoIin => "certificate-no-iin",
            SignatureError::NotLegalEntity => "certificate-not-legal-entity",
            SignatureError::WrongBin { .. } => "certificate-wrong-bin",
            SignatureError::NoSigningRight => "certificate-no-signing-right",
            SignatureError::NotSigningKey => "certificate-not-signing-key",
            SignatureError::NotAuthenticationKey => "certificate-not-authentication-key",
            SignatureError::NotInformationSystem => "certificate-not-information-system",
            SignatureError::InformationSystemCertificate => "certificate-of-information-system",
            SignatureError::DevelopmentCaRefused => "development-ca-refused",
            SignatureError::KeyParameters(_) => "key-parameters",
            SignatureError::Internal(_) => "internal",
        }
    }
}

pub(crate) fn der_err(e: der::Error) -> SignatureError {
    SignatureError::Malformed(e.to_string())
}

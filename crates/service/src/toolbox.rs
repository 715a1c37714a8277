//! The use cases' toolbox: JSON and signed bodies, the audit entries of a call, asking Cedar, the
//! checks every signed document shares. Used by every use-case module; it imports none of them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use qoljetim_domain::application::FieldError;
use qoljetim_policy::{Action, Actor, Decision, Resource};
use qoljetim_signature::{SignatureError, require_application_signer};
use qoljetim_store::AuditEntry;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::views::*;
use crate::{Caller, Service};

pub(crate) fn rfc3339_micros(us: i64) -> String {
    Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Parses a JSON body, naming the field serde complains about.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ServiceResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        ServiceError::validation(vec![qoljetim_domain::application::serde_field_error(
            &e, "",
        )])
    })
}

/// The CMS of a signed request body `{"signed_cms": "<base64>"}` (sign-in, applications, HR events):
/// the first step of every signed route, and a fuzz target (fuzz/fuzz_targets/sign_in_body.rs).
pub fn signed_body_cms(body: &[u8]) -> ServiceResult<Vec<u8>> {
    let parsed: SignedBody = parse_json(body)?;
    decode_cms(&parsed.signed_cms)
}

pub(crate) fn decode_cms(b64: &str) -> ServiceResult<Vec<u8>> {
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|e| ServiceError::field("/signed_cms", "base64", e.to_string()))
}

/// What a decision records about revocation (DESIGN.md §4): the method, the status, and whether it was
/// taken under fail-open.
pub(crate) fn revocation_json(e: &qoljetim_signature::RevocationEvidence) -> Value {
    json!({"method": e.method, "status": e.status, "fail_open": e.fail_open, "detail": e.detail})
}

/// Which time is the signing time (DESIGN.md §4): the RFC 3161 token's, with its TSA, or the time of
/// receipt.
pub(crate) fn signing_time_json(v: &qoljetim_signature::VerifiedCms) -> Value {
    json!({"at": v.signing_time.to_string(), "source": v.signing_time_source(),
        "time_stamp": v.time_stamp.as_ref().map(|t| json!({"gen_time": t.gen_time.to_string(), "tsa": t.tsa,
            "anchor": t.anchor, "serial": t.serial, "policy": t.policy}))})
}

pub(crate) fn entry(
    actor: String,
    actor_bin: Option<String>,
    action: &str,
    resource: String,
    outcome: String,
    ip: &str,
) -> AuditEntry {
    AuditEntry {
        actor,
        actor_bin,
        action: action.to_owned(),
        resource,
        outcome,
        ip: ip.to_owned(),
        policies: vec![],
        details: Value::Null,
        creates: None,
    }
}

pub(crate) fn caller_entry(c: &Caller, action: &str, resource: String, d: &Decision) -> AuditEntry {
    let mut e = entry(
        c.actor_id(),
        Some(c.actor.bin.to_string()),
        action,
        resource,
        if d.allowed { "allowed" } else { "denied" }.into(),
        &c.ip,
    );
    e.policies = d.policies.clone();
    e
}

/// A decision already taken (by `authorize`, or one per listed item): allowed, by these policies.
pub(crate) fn allowed(policies: Vec<String>) -> Decision {
    Decision {
        allowed: true,
        policies,
        errors: vec![],
    }
}

impl Service {
    /// Asks Cedar and begins the call's audit record with the decision; a denial is `forbidden` (or
    /// the problem its forbid policy names) and is recorded by `settle`.
    pub(crate) fn authorize(
        &self,
        attempt: &Attempt,
        c: &Caller,
        action: Action,
        resource: &Resource,
        resource_name: &str,
    ) -> ServiceResult<Decision> {
        let d = self.decide(&c.actor, action, resource)?;
        attempt.begin_for(
            c,
            caller_entry(c, action.as_str(), resource_name.to_owned(), &d),
        );
        if !d.allowed {
            return Err(ServiceError::forbidden(action.as_str()));
        }
        Ok(d)
    }

    pub(crate) fn decide(
        &self,
        actor: &Actor,
        action: Action,
        resource: &Resource,
    ) -> ServiceResult<Decision> {
        self.policy
            .decide(actor, action, resource)
            .map_err(ServiceError::internal)
    }

    /// Parses `{signed_cms}`, decodes and verifies it at `at`. The attempt begins as `action` by an
    /// anonymous caller (the signature has not identified anyone yet), so a refusal here is recorded.
    pub(crate) async fn verified_body(
        &self,
        attempt: &Attempt,
        body: &[u8],
        at: Timestamp,
        anonymous: AuditEntry,
        at_sign_in: bool,
    ) -> ServiceResult<(Vec<u8>, qoljetim_signature::VerifiedCms)> {
        attempt.begin(anonymous, None);
        let cms = signed_body_cms(body)?;
        // CPU-bound (GOST is ms per signature) and, with OCSP, a network round trip: off the async
        // threads.
        let verifier = self.verifier.clone();
        let (cms, result) = tokio::task::spawn_blocking(move || {
            let r = verifier.verify_cms(&cms, at);
            (cms, r)
        })
        .await
        .map_err(ServiceError::internal)?;
        match result {
            Ok(v) => Ok((cms, v)),
            Err(e) => Err(ServiceError::signature(&e, at_sign_in)),
        }
    }

    /// A signed decision of an organization's head (a change request's decision, a campaign's answer):
    /// production refuses a development anchor; the signer is the first head or has signing right for
    /// `bin` (signing key), of a registered organization. The head as Cedar sees them.
    pub(crate) async fn signing_head(
        &self,
        verified: &qoljetim_signature::VerifiedCms,
        bin: &qoljetim_domain::Bin,
    ) -> ServiceResult<Actor> {
        if self.config.production && verified.development_anchor {
            return Err(ServiceError::signature(
                &SignatureError::DevelopmentCaRefused,
                false,
            ));
        }
        require_application_signer(&verified.signer, bin)
            .map_err(|e| ServiceError::signature(&e, false))?;
        let iin = verified
            .signer
            .iin
            .clone()
            .ok_or_else(|| ServiceError::signature(&SignatureError::NoIin, false))?;
        let org = self.organization_row(bin.as_str()).await?;
        Ok(Actor {
            iin,
            bin: bin.clone(),
            org_kind: org.kind.current(),
            roles: vec![qoljetim_domain::Role::Head],
        })
    }

    /// The checks every signed document of an organization shares (applications, block requests):
    /// production refuses a development anchor; the content parses (`parse`, given the Almaty day of
    /// receipt); the signer is the first head or has signing right for the BIN the document names
    /// (`bin_of`).
    pub(crate) fn organization_document<T>(
        &self,
        verified: &qoljetim_signature::VerifiedCms,
        at: Timestamp,
        parse: impl FnOnce(&[u8], jiff::civil::Date) -> Result<T, Vec<FieldError>>,
        bin_of: impl Fn(&T) -> &qoljetim_domain::Bin,
    ) -> ServiceResult<T> {
        if self.config.production && verified.development_anchor {
            return Err(ServiceError::signature(
                &SignatureError::DevelopmentCaRefused,
                false,
            ));
        }
        let doc = parse(&verified.content, self.calendar.almaty_date(at))
            .map_err(ServiceError::validation)?;
        require_application_signer(&verified.signer, bin_of(&doc))
            .map_err(|e| ServiceError::signature(&e, false))?;
        Ok(doc)
    }
}

/// What a verified signature adds to a call's audit record (DESIGN.md §4): the certificate, its anchor,
/// how revocation was checked and which time was the signing time.
pub(crate) fn signature_evidence(v: &qoljetim_signature::VerifiedCms) -> Value {
    json!({
        "signer_iin": v.signer.iin.as_ref().map(|i| i.as_str()),
        "certificate_serial": v.signer.serial_hex, "trust_anchor": v.anchor,
        "revocation": revocation_json(&v.revocation), "signing_time": signing_time_json(v),
        "claimed_signing_time": v.claimed_signing_time.map(|t| t.to_string()),
    })
}

/// The audit entry of a signed call before its signature identifies anyone.
pub(crate) fn anonymous(action: &str, resource: &str, ip: &str) -> AuditEntry {
    entry(
        "anonymous".into(),
        None,
        action,
        resource.into(),
        String::new(),
        ip,
    )
}

/// `IIN@BIN` of a certificate, as far as it names them.
pub(crate) fn signer_id(id: &qoljetim_signature::CertificateIdentity) -> String {
    format!(
        "{}@{}",
        id.iin.as_ref().map(|i| i.as_str()).unwrap_or("?"),
        id.bin.as_ref().map(|b| b.as_str()).unwrap_or("?")
    )
}

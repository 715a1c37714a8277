//! The handlers' toolbox: JSON and signed bodies, the audit entries of a request and its refusals,
//! asking Cedar. Used by every handler module; it imports none of them.

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use qoljetim_domain::application::FieldError;
use qoljetim_policy::{Action, Actor, Decision, Resource};
use qoljetim_signature::{SignatureError, require_application_signer};
use qoljetim_store::{AuditEntry, Change};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::AppState;

use crate::auth::Caller;
use crate::problem::{ApiError, ApiResult};
use crate::views::*;

pub(crate) fn rfc3339_micros(us: i64) -> String {
    Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Parses a JSON body, naming the field serde complains about.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::validation(vec![qoljetim_domain::application::serde_field_error(
            &e, "",
        )])
    })
}

/// The CMS of a signed request body `{"signed_cms": "<base64>"}` (sign-in, applications, HR events):
/// the first step of every signed route, and a fuzz target (fuzz/fuzz_targets/sign_in_body.rs).
pub fn signed_body_cms(body: &[u8]) -> ApiResult<Vec<u8>> {
    let parsed: SignedBody = parse_json(body)?;
    decode_cms(&parsed.signed_cms)
}

pub(crate) fn decode_cms(b64: &str) -> ApiResult<Vec<u8>> {
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|e| ApiError::field("/signed_cms", "base64", e.to_string()))
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
        Some(c.actor.bin.clone()),
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

pub(crate) fn touch(c: &Caller) -> Option<(String, i64)> {
    c.touch()
}

/// Records a refusal in the audit chain before the error leaves.
pub(crate) async fn refuse(st: &AppState, mut e: AuditEntry, err: ApiError) -> ApiError {
    e.outcome = format!("refused:{}", err.slug());
    if e.details.is_null() {
        e.details =
            json!({"args": err.args.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()});
    }
    match st.store.audit(e).await {
        Ok(()) => err,
        Err(store_err) => ApiError::store(store_err),
    }
}

/// Asks Cedar; a denial is audited and becomes a 403.
pub(crate) async fn authorize(
    st: &AppState,
    c: &Caller,
    action: Action,
    resource: &Resource,
    resource_name: &str,
) -> ApiResult<Decision> {
    let d = st
        .policy
        .decide(&c.actor, action, resource)
        .map_err(ApiError::internal)?;
    if !d.allowed {
        let e = caller_entry(c, action.as_str(), resource_name.to_owned(), &d);
        st.store
            .commit_touching(Change::None, e, touch(c))
            .await
            .map_err(ApiError::store)?;
        return Err(ApiError::forbidden(action.as_str()));
    }
    Ok(d)
}

pub(crate) fn decide(
    st: &AppState,
    actor: &Actor,
    action: Action,
    resource: &Resource,
) -> ApiResult<Decision> {
    st.policy
        .decide(actor, action, resource)
        .map_err(ApiError::internal)
}

/// Parses `{signed_cms}`, decodes and verifies it at `at`; every refusal is audited as `action` by an
/// anonymous caller (the signature has not identified anyone yet).
pub(crate) async fn verified_body(
    st: &AppState,
    body: &Bytes,
    at: Timestamp,
    action: &str,
    resource: &str,
    ip: &str,
    at_sign_in: bool,
) -> ApiResult<(Vec<u8>, qoljetim_signature::VerifiedCms)> {
    let anon = entry(
        "anonymous".into(),
        None,
        action,
        resource.into(),
        String::new(),
        ip,
    );
    let cms = match signed_body_cms(body) {
        Ok(c) => c,
        Err(e) => return Err(refuse(st, anon, e).await),
    };
    // CPU-bound (GOST is ms per signature) and, with OCSP, a network round trip: off the async
    // threads.
    let verifier = st.verifier.clone();
    let result = tokio::task::spawn_blocking(move || {
        let r = verifier.verify_cms(&cms, at);
        (cms, r)
    })
    .await;
    let (cms, result) = match result {
        Ok(pair) => pair,
        Err(e) => return Err(refuse(st, anon, ApiError::internal(e)).await),
    };
    match result {
        Ok(v) => Ok((cms, v)),
        Err(e) => Err(refuse(st, anon, ApiError::signature(&e, at_sign_in)).await),
    }
}

/// `IIN@BIN` of a certificate, as far as it names them.
pub(crate) fn signer_id(id: &qoljetim_signature::CertificateIdentity) -> String {
    format!(
        "{}@{}",
        id.iin.as_ref().map(|i| i.as_str()).unwrap_or("?"),
        id.bin.as_ref().map(|b| b.as_str()).unwrap_or("?")
    )
}

/// The checks every signed document of an organization shares (applications, block requests):
/// production refuses a development anchor; the content parses (`parse`, given the Almaty day of
/// receipt); the signer is the first head or has signing right for the BIN the document names
/// (`bin_of`). Each refusal is audited with `attempt`.
pub(crate) async fn organization_document<T>(
    st: &AppState,
    verified: &qoljetim_signature::VerifiedCms,
    at: Timestamp,
    attempt: &AuditEntry,
    parse: impl FnOnce(&[u8], jiff::civil::Date) -> Result<T, Vec<FieldError>>,
    bin_of: impl Fn(&T) -> &qoljetim_domain::Bin,
) -> ApiResult<T> {
    if st.config.production && verified.development_anchor {
        let err = ApiError::signature(&SignatureError::DevelopmentCaRefused, false);
        return Err(refuse(st, attempt.clone(), err).await);
    }
    let doc = match parse(&verified.content, st.calendar.almaty_date(at)) {
        Ok(d) => d,
        Err(errors) => {
            return Err(refuse(st, attempt.clone(), ApiError::validation(errors)).await);
        }
    };
    if let Err(e) = require_application_signer(&verified.signer, bin_of(&doc)) {
        return Err(refuse(st, attempt.clone(), ApiError::signature(&e, false)).await);
    }
    Ok(doc)
}

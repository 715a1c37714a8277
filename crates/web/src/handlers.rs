//! Handlers: parse, ask the policy, call the domain, commit with the audit record, map the result.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use jiff::civil::Date;
use qoljetim_domain::application::{
    ApplicationForm, Decision as LineDecisionKind, FieldError, LineDecision, NOTICE_CAPPED,
    grant_validity,
};
use qoljetim_domain::org::{AdministratorCode, derive_scope};
use qoljetim_domain::{ApplicationStatus, Bin, Kato, Organization, OrganizationKind, Role, System};
use qoljetim_policy::{Action, Actor, Decision, Resource};
use qoljetim_signature::{SignatureError, require_application_signer, require_sign_in};
use qoljetim_store::{
    ApplicationRow, AuditEntry, Change, GrantRow, LineRow, NewApplication, NewGrant, NewLine,
    NewSession, OrganizationRow,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{
    Caller, ClientIp, MaybeCaller, SESSION_COOKIE, check_challenge, issue_challenge, new_token,
};
use crate::i18n::Lang;
use crate::problem::{ApiError, ApiResult, Problem, render};
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

fn decode_cms(b64: &str) -> ApiResult<Vec<u8>> {
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

fn decide(
    st: &AppState,
    actor: &Actor,
    action: Action,
    resource: &Resource,
) -> ApiResult<Decision> {
    st.policy
        .decide(actor, action, resource)
        .map_err(ApiError::internal)
}

fn app_resource(a: &ApplicationRow) -> Resource {
    Resource::Application {
        id: a.id.to_string(),
        applicant_bin: a.applicant_bin.clone(),
        status: a.status.clone(),
    }
}

fn line_view(l: &LineRow) -> LineView {
    LineView {
        line: l.line,
        surname: l.surname.clone(),
        name: l.name.clone(),
        patronymic: l.patronymic.clone(),
        iin: l.iin.clone(),
        position: l.position.clone(),
        unit: l.unit.clone(),
        phone: l.phone.clone(),
        email: l.email.clone(),
        purpose: l.purpose.clone(),
        eqyzmet_qr: l.eqyzmet_qr.clone(),
        status: l.status.clone(),
        reason: l.reason.clone(),
        access_until_requested: l.access_until_requested.clone(),
        access_until_effective: l.access_until_effective.clone(),
        notice: l.notice.clone(),
        hr_check: HrCheckView {
            status: l.hr_status.clone(),
            detail: l.hr_detail.clone(),
            checked_at: l.hr_checked_at.map(rfc3339_micros),
            attempts: l.hr_attempts,
            last_error: l.hr_last_error.clone(),
            hr_event: l.hr_event_id,
        },
    }
}

fn application_view(
    a: &ApplicationRow,
    lines: &[LineRow],
    complete: bool,
    now_us: i64,
) -> ApplicationView {
    ApplicationView {
        id: a.id,
        applicant_bin: a.applicant_bin.clone(),
        status: a.status.clone(),
        date: a.form_date.clone(),
        systems: a.systems.clone(),
        head: a.head.clone(),
        signer_iin: a.signer_iin.clone(),
        signer_name: a.signer_name.clone(),
        claimed_signing_time: a.claimed_signing_time.map(rfc3339_micros),
        received_at: rfc3339_micros(a.received_at),
        trust_anchor: a.trust_anchor.clone(),
        verification: serde_json::from_str(&a.revocation)
            .unwrap_or_else(|_| json!({"revocation": {"method": a.revocation}})),
        review_due: a.review_due.clone(),
        review_due_at: rfc3339_micros(a.review_due_at),
        review_due_provisional: a.review_due_provisional,
        review_overdue: a.status == "submitted" && now_us > a.review_due_at,
        grant_due: a.grant_due.clone(),
        grant_due_at: a.grant_due_at.map(rfc3339_micros),
        grant_overdue: a.status == "forwarded" && a.grant_due_at.is_some_and(|g| now_us > g),
        complete,
        lines: lines.iter().map(line_view).collect(),
    }
}

pub(crate) fn grant_view(g: &GrantRow) -> GrantView {
    GrantView {
        id: g.id,
        application_id: g.application_id,
        line: g.line,
        person_iin: g.person_iin.clone(),
        organization_bin: g.organization_bin.clone(),
        system: g.system.clone(),
        status: g.status.clone(),
        valid_from: g.valid_from.clone(),
        valid_until: g.valid_until.clone(),
        access_until_requested: g.access_until_requested.clone(),
        access_until_effective: g.valid_until.clone(),
        notice: g.notice.clone(),
        scope: g.scope.clone(),
        extra_years_reason: g.extra_years_reason.clone(),
        ended_at: g.ended_at.map(rfc3339_micros),
        end_reason: g.end_reason.clone(),
        hr_event: g.hr_event_id,
    }
}

/// The domain organization of a stored record.
pub fn org_domain(o: &OrganizationRow) -> ApiResult<Organization> {
    let bin = Bin::parse(&o.bin).map_err(ApiError::internal)?;
    let kind = o
        .kind
        .parse::<OrganizationKind>()
        .map_err(|_| ApiError::internal("stored kind"))?;
    let territory = o
        .territory
        .as_deref()
        .map(Kato::parse)
        .transpose()
        .map_err(ApiError::internal)?;
    let admins = o
        .administrators
        .iter()
        .map(|a| AdministratorCode::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Organization::new(
        bin,
        o.name_kk.clone(),
        o.name_ru.clone(),
        kind,
        territory,
        admins,
    )
    .map_err(ApiError::internal)
}

fn org_json(o: &OrganizationRow) -> Value {
    json!({"bin": o.bin, "name_kk": o.name_kk, "name_ru": o.name_ru, "kind": o.kind, "territory": o.territory,
        "administrators": o.administrators, "eligible": o.excluded.is_none(), "excluded": o.excluded})
}

/// Order 270 §2.6: an organization of an excluded kind or BIN, or one marked not eligible, may neither
/// register nor apply.
pub fn not_eligible(
    st: &AppState,
    bin: &str,
    kind: &str,
    marked: Option<&str>,
) -> Option<ApiError> {
    (marked.is_some() || st.config.exclusions.excludes(bin, kind)).then(|| {
        ApiError::new(Problem::NotEligible)
            .arg("bin", bin)
            .arg("kind", kind)
    })
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
fn signer_id(id: &qoljetim_signature::CertificateIdentity) -> String {
    format!(
        "{}@{}",
        id.iin.as_ref().map(|i| i.as_str()).unwrap_or("?"),
        id.bin.as_ref().map(|b| b.as_str()).unwrap_or("?")
    )
}

// ---------------------------------------------------------------------------------------------
// Sign-in (Order 270 §11)

#[utoipa::path(get, path = "/api/v1/auth/challenge", responses((status = 200, body = ChallengeView)))]
pub async fn challenge(State(st): State<AppState>) -> ApiResult<Json<ChallengeView>> {
    let (challenge, expires) = issue_challenge(&st.challenge_key, st.clock.now())?;
    Ok(Json(ChallengeView {
        challenge,
        expires_at: expires.to_string(),
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/login", request_body = SignedBody,
    responses((status = 200, body = LoginView), (status = 401, description = "problem+json")))]
pub async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> ApiResult<Response> {
    let at = st.clock.now();
    let (_, verified) = verified_body(&st, &body, at, "login", "session", &ip, true).await?;
    let id = &verified.signer;
    let who = signer_id(id);
    let mut attempt = entry(
        who,
        id.bin.as_ref().map(|b| b.to_string()),
        "login",
        "session".into(),
        String::new(),
        &ip,
    );
    attempt.details = json!({"certificate_serial": id.serial_hex, "trust_anchor": verified.anchor,
        "revocation": revocation_json(&verified.revocation), "signing_time": signing_time_json(&verified)});
    let challenge = String::from_utf8(verified.content.clone()).unwrap_or_default();
    let exp = match check_challenge(&st.challenge_key, &challenge, at) {
        Ok(e) => e,
        Err(e) => return Err(refuse(&st, attempt, e).await),
    };
    if let Err(e) = require_sign_in(id) {
        return Err(refuse(&st, attempt, ApiError::signature(&e, true)).await);
    }
    if st.config.production && verified.development_anchor {
        return Err(refuse(
            &st,
            attempt,
            ApiError::signature(&SignatureError::DevelopmentCaRefused, true),
        )
        .await);
    }
    let (Some(iin), Some(bin)) = (id.iin.clone(), id.bin.clone()) else {
        return Err(refuse(
            &st,
            attempt,
            ApiError::signature(&SignatureError::NotLegalEntity, true),
        )
        .await);
    };
    let Some(org) = st
        .store
        .organization(bin.as_str())
        .await
        .map_err(ApiError::store)?
    else {
        let e = ApiError::new(Problem::OrganizationUnknown)
            .at_sign_in()
            .arg("bin", &bin);
        return Err(refuse(&st, attempt, e).await);
    };
    let mut roles: BTreeSet<String> = st
        .store
        .staff_roles(iin.as_str(), bin.as_str())
        .await
        .map_err(ApiError::store)?
        .into_iter()
        .collect();
    let head = id.roles.contains(&qoljetim_signature::NcaRole::FirstHead)
        || id
            .roles
            .contains(&qoljetim_signature::NcaRole::SigningRight);
    roles.insert(
        if head { Role::Head } else { Role::Employee }
            .as_str()
            .to_owned(),
    );
    let roles: Vec<String> = roles.into_iter().collect();
    let person = json!({
        "iin": iin, "surname": id.surname, "name": id.given_name(), "patronymic": id.patronymic,
        "common_name": id.common_name, "org_kind": org.kind, "nca_roles": id.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        // Kept so that a revocation after sign-in ends the session at its next request.
        "certificate_serial": id.serial_hex, "trust_anchor": verified.anchor,
    });
    let (token, token_hash) = new_token()?;
    let expires_at = at.as_microsecond() + st.config.session_hours * 3_600_000_000;
    let session = NewSession {
        token_hash,
        iin: iin.to_string(),
        bin: bin.to_string(),
        roles: roles.clone(),
        person: person.to_string(),
        certificate_serial: id.serial_hex.clone(),
        created_at: at.as_microsecond(),
        expires_at,
    };
    attempt.outcome = "allowed".into();
    attempt.details["roles"] = json!(roles);
    let change = Change::Login {
        challenge,
        challenge_expires_at: exp * 1_000_000,
        now: at.as_microsecond(),
        session,
    };
    st.store
        .commit(change, attempt)
        .await
        .map_err(ApiError::store)?;
    let name_check = check_name_at_sign_in(&st, id, iin.as_str(), bin.as_str(), &ip, at).await?;
    let view = LoginView {
        token: token.clone(),
        expires_at: rfc3339_micros(expires_at),
        person,
        organization: org_json(&org),
        roles,
        name_check,
    };
    let mut resp = Json(view).into_response();
    let secure = if st.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        st.config.session_hours * 3600
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// DESIGN.md §4: at sign-in the certificate's name (SURNAME, the given name of CN, GIVENNAME as the
/// patronymic) is matched with the person's latest application line of this organization. A mismatch
/// does not refuse the sign-in (the IIN decides who the person is) but is shown to the integrator: an
/// audit entry and a notification to every integrator administrator, once per certificate and line.
async fn check_name_at_sign_in(
    st: &AppState,
    id: &qoljetim_signature::CertificateIdentity,
    iin: &str,
    bin: &str,
    ip: &str,
    at: jiff::Timestamp,
) -> ApiResult<Value> {
    use qoljetim_domain::person_name::{NameCheck, PersonName};
    let Some(line) = st
        .store
        .latest_line_for(iin, bin)
        .await
        .map_err(ApiError::store)?
    else {
        return Ok(json!({"status": "no_application_line"}));
    };
    let certificate = PersonName {
        surname: id.surname.clone().unwrap_or_default(),
        name: id.given_name().unwrap_or_default(),
        patronymic: id.patronymic.clone(),
    };
    let application = PersonName {
        surname: line.surname.clone(),
        name: line.name.clone(),
        patronymic: line.patronymic.clone(),
    };
    let fields = match certificate.check_against(&application) {
        NameCheck::Match => {
            return Ok(
                json!({"status": "match", "application_id": line.application_id, "line": line.line}),
            );
        }
        NameCheck::Mismatch { fields } => fields,
    };
    let view = json!({"status": "mismatch", "application_id": line.application_id, "line": line.line,
        "fields": fields, "certificate_name": certificate.display(), "application_name": application.display(),
        "certificate_serial": id.serial_hex});
    let integrators = st
        .store
        .staff_with_role("integrator_admin")
        .await
        .map_err(ApiError::store)?;
    let subject = format!("application:{}:line:{}", line.application_id, line.line);
    let body_kk = format!(
        "{iin} ({bin}) кірді: сертификаттағы аты «{}», {} өтінімінің {}-жолында «{}».",
        certificate.display(),
        line.application_id,
        line.line,
        application.display()
    );
    let body_ru = format!(
        "{iin} ({bin}) вошёл: в сертификате «{}», в строке {} заявки {} — «{}».",
        certificate.display(),
        line.line,
        line.application_id,
        application.display()
    );
    let list = integrators
        .iter()
        .map(|(r_iin, r_bin)| qoljetim_store::NewNotification {
            recipient_iin: r_iin.clone(),
            recipient_bin: r_bin.clone(),
            kind: "name_mismatch".into(),
            subject_ref: subject.clone(),
            dedupe_key: format!("name-mismatch:{}:{subject}:{r_iin}@{r_bin}", id.serial_hex),
            title_kk: "Сертификаттағы аты өтінімдегіден өзгеше".into(),
            title_ru: "Имя в сертификате не совпадает с заявкой".into(),
            body_kk: body_kk.clone(),
            body_ru: body_ru.clone(),
            created_at: at.as_microsecond(),
            email: None,
        })
        .collect();
    let mut audit = entry(
        format!("{iin}@{bin}"),
        Some(bin.to_owned()),
        "name_check",
        subject,
        "mismatch".into(),
        ip,
    );
    audit.details = view.clone();
    st.store
        .commit(
            Change::Lifecycle(Box::new(qoljetim_store::LifecycleChange::Notify(list))),
            audit,
        )
        .await
        .map_err(ApiError::store)?;
    Ok(view)
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, description = "person, organization, roles, grants")))]
pub async fn me(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let org = st
        .store
        .organization(&caller.actor.bin)
        .await
        .map_err(ApiError::store)?;
    let mut grants = vec![];
    let mut policies = BTreeSet::new();
    for g in st
        .store
        .grants_of_person(&caller.actor.iin, &caller.actor.bin)
        .await
        .map_err(ApiError::store)?
    {
        let d = decide(&st, &caller.actor, Action::ReadGrant, &grant_resource(&g))?;
        if d.allowed {
            policies.extend(d.policies);
            grants.push(grant_view(&g));
        }
    }
    let mut e = caller_entry(
        &caller,
        "read_me",
        "me".into(),
        &Decision {
            allowed: true,
            policies: policies.into_iter().collect(),
            errors: vec![],
        },
    );
    e.details = json!({"grants": grants.len()});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(json!({
        "person": caller.person,
        "organization": org.as_ref().map(org_json),
        "roles": caller.actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "session_expires_at": rfc3339_micros(caller.session_expires_at),
        "grants": grants,
    })))
}

// ---------------------------------------------------------------------------------------------
// Applications (Order 270 §8–§9)

#[utoipa::path(post, path = "/api/v1/applications", request_body = SignedBody,
    responses((status = 201, body = ApplicationView), (status = 400, description = "problem+json"), (status = 403, description = "problem+json")))]
pub async fn submit(
    State(st): State<AppState>,
    MaybeCaller(session): MaybeCaller,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> ApiResult<Response> {
    let at = st.clock.now();
    let (cms, verified) = verified_body(
        &st,
        &body,
        at,
        "submit_application",
        "application",
        &ip,
        false,
    )
    .await?;
    let id = &verified.signer;
    let signer = signer_id(id);
    let mut attempt = entry(
        signer,
        id.bin.as_ref().map(|b| b.to_string()),
        "submit_application",
        "application".into(),
        String::new(),
        &ip,
    );
    attempt.details = json!({
        "certificate_serial": id.serial_hex, "trust_anchor": verified.anchor, "revocation": revocation_json(&verified.revocation),
        "signing_time": signing_time_json(&verified),
        "claimed_signing_time": verified.claimed_signing_time.map(|t| t.to_string()),
    });
    if st.config.production && verified.development_anchor {
        return Err(refuse(
            &st,
            attempt,
            ApiError::signature(&SignatureError::DevelopmentCaRefused, false),
        )
        .await);
    }
    let today = st.calendar.almaty_date(at);
    let form = match ApplicationForm::parse(&verified.content, today) {
        Ok(f) => f,
        Err(errors) => return Err(refuse(&st, attempt, ApiError::validation(errors)).await),
    };
    if let Err(e) = require_application_signer(id, &form.applicant_bin) {
        return Err(refuse(&st, attempt, ApiError::signature(&e, false)).await);
    }
    if let Some(s) = &session
        && s.actor.bin != form.applicant_bin.as_str()
    {
        let e = ApiError::new(Problem::SessionBinMismatch)
            .arg("session", &s.actor.bin)
            .arg("applicant", &form.applicant_bin);
        return Err(refuse(&st, attempt, e).await);
    }
    let Some(org) = st
        .store
        .organization(form.applicant_bin.as_str())
        .await
        .map_err(ApiError::store)?
    else {
        let e = ApiError::new(Problem::OrganizationUnknown).arg("bin", &form.applicant_bin);
        return Err(refuse(&st, attempt, e).await);
    };
    if let Some(err) = not_eligible(&st, &org.bin, &org.kind, org.excluded.as_deref()) {
        return Err(refuse(&st, attempt, err).await);
    }
    let kind = org.kind.parse::<OrganizationKind>().ok();
    if kind.is_none_or(|k| k.is_operator()) {
        let e = ApiError::new(Problem::NotAnApplicant).arg("kind", &org.kind);
        return Err(refuse(&st, attempt, e).await);
    }
    let iin = id.iin.clone().map(|i| i.to_string()).unwrap_or_default();
    let actor = Actor {
        iin: iin.clone(),
        bin: form.applicant_bin.to_string(),
        org_kind: kind,
        roles: vec![Role::Head],
    };
    let resource = Resource::Application {
        id: "new".into(),
        applicant_bin: form.applicant_bin.to_string(),
        status: "submitted".into(),
    };
    let d = decide(&st, &actor, Action::SubmitApplication, &resource)?;
    attempt.policies = d.policies.clone();
    if !d.allowed {
        return Err(refuse(&st, attempt, ApiError::forbidden("submit_application")).await);
    }
    let due = st.calendar.deadline(at, 2).map_err(ApiError::internal)?;
    let new = NewApplication {
        applicant_bin: form.applicant_bin.to_string(),
        form_date: form.date.to_string(),
        systems: serde_json::to_string(
            &form.systems.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        )
        .unwrap_or_default(),
        head: serde_json::to_string(&form.head).unwrap_or_default(),
        signer_iin: iin,
        signer_name: id.common_name.clone().unwrap_or_default(),
        signer_certificate: der::Encode::to_der(&verified.signer_certificate)
            .map_err(ApiError::internal)?,
        claimed_signing_time: verified.claimed_signing_time.map(|t| t.as_microsecond()),
        trust_anchor: verified.anchor.clone(),
        // The verification's evidence beside the CMS: how revocation was checked and which time was
        // the signing time (the column predates time stamps; its text is this JSON).
        revocation: json!({"revocation": revocation_json(&verified.revocation),
            "signing_time": signing_time_json(&verified)})
        .to_string(),
        evidence: cms,
        received_at: at.as_microsecond(),
        review_due: due.due.to_string(),
        review_due_at: due.due_at.as_microsecond(),
        review_due_provisional: due.provisional,
        lines: form
            .lines
            .iter()
            .map(|l| NewLine {
                line: i64::from(l.line),
                iin: l.iin.to_string(),
                surname: l.person.surname.clone(),
                name: l.person.name.clone(),
                patronymic: l.person.patronymic.clone(),
                position: l.position.clone(),
                unit: l.unit.clone(),
                phone: l.phone.clone(),
                email: l.email.clone(),
                purpose: l.purpose.clone(),
                access_until_requested: l.access_until_requested.map(|d| d.to_string()),
                access_until_effective: l.access_until_effective.to_string(),
                notice: l.notice.clone(),
                eqyzmet_qr: l.eqyzmet_qr.clone(),
            })
            .collect(),
    };
    attempt.outcome = "allowed".into();
    attempt.resource = "application/{id}".into();
    attempt.details["lines"] = json!(form.lines.len());
    attempt.details["review_due"] = json!(due.due.to_string());
    let out = st
        .store
        .commit(Change::SubmitApplication(Box::new(new)), attempt)
        .await
        .map_err(ApiError::store)?;
    let app_id = out.id.ok_or_else(|| ApiError::internal("no id"))?;
    let app = st
        .store
        .application(app_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("application"))?;
    let lines = st.store.lines(app_id).await.map_err(ApiError::store)?;
    Ok((
        StatusCode::CREATED,
        Json(application_view(
            &app,
            &lines,
            true,
            st.clock.now().as_microsecond(),
        )),
    )
        .into_response())
}

async fn load_application(st: &AppState, id: i64) -> ApiResult<ApplicationRow> {
    st.store
        .application(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("application {id}")))
}

/// The lines the caller may see, and whether that is the whole application; None: nothing.
type Visible = Option<(Vec<LineRow>, bool)>;

/// What the caller may see of an application: all of it, only their own lines, or nothing.
fn visible_lines(
    st: &AppState,
    c: &Caller,
    a: &ApplicationRow,
    lines: Vec<LineRow>,
) -> ApiResult<(Decision, Visible)> {
    let d = decide(st, &c.actor, Action::ReadApplication, &app_resource(a))?;
    if d.allowed {
        return Ok((d, Some((lines, true))));
    }
    let mut own = vec![];
    let mut policies = BTreeSet::new();
    for l in lines {
        let r = Resource::ApplicationLine {
            id: format!("{}/{}", a.id, l.line),
            applicant_bin: a.applicant_bin.clone(),
            iin: l.iin.clone(),
        };
        let dl = decide(st, &c.actor, Action::ReadApplicationLine, &r)?;
        if dl.allowed {
            policies.extend(dl.policies);
            own.push(l);
        }
    }
    if own.is_empty() {
        return Ok((d, None));
    }
    Ok((
        Decision {
            allowed: true,
            policies: policies.into_iter().collect(),
            errors: vec![],
        },
        Some((own, false)),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/applications", params(("status" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = [ApplicationView])))]
pub async fn list_applications(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<ApplicationView>>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    // Cedar decides how wide the candidate set is: may this caller read another body's application?
    let probe = Resource::Application {
        id: "probe".into(),
        applicant_bin: "000000000000".into(),
        status: "submitted".into(),
    };
    let wide = decide(&st, &caller.actor, Action::ReadApplication, &probe)?.allowed;
    let candidates = st
        .store
        .applications(
            if wide { None } else { Some(&caller.actor.bin) },
            q.status.as_deref(),
            limit,
        )
        .await
        .map_err(ApiError::store)?;
    let mut out = vec![];
    let mut policies = BTreeSet::new();
    for a in candidates {
        let lines = st.store.lines(a.id).await.map_err(ApiError::store)?;
        if let (d, Some((visible, complete))) = visible_lines(&st, &caller, &a, lines)? {
            policies.extend(d.policies);
            out.push(application_view(
                &a,
                &visible,
                complete,
                st.clock.now().as_microsecond(),
            ));
        }
    }
    let d = Decision {
        allowed: true,
        policies: policies.into_iter().collect(),
        errors: vec![],
    };
    let mut e = caller_entry(&caller, "read_application", "applications".into(), &d);
    e.details = json!({"returned": out.len(), "status": q.status});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}", params(("id" = i64, Path)), responses((status = 200, body = ApplicationView)))]
pub async fn get_application(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApplicationView>> {
    let a = load_application(&st, id).await?;
    let lines = st.store.lines(id).await.map_err(ApiError::store)?;
    let (d, visible) = visible_lines(&st, &caller, &a, lines)?;
    let e = caller_entry(&caller, "read_application", format!("application/{id}"), &d);
    let Some((visible, complete)) = visible else {
        let mut e = e;
        e.outcome = "denied".into();
        st.store
            .commit_touching(Change::None, e, touch(&caller))
            .await
            .map_err(ApiError::store)?;
        return Err(ApiError::forbidden("read_application"));
    };
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(application_view(
        &a,
        &visible,
        complete,
        st.clock.now().as_microsecond(),
    )))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}/evidence", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pkcs7-mime", description = "the signed bytes, unchanged")))]
pub async fn evidence(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let a = load_application(&st, id).await?;
    let resource = format!("application/{id}/evidence");
    let d = authorize(
        &st,
        &caller,
        Action::ReadApplication,
        &app_resource(&a),
        &resource,
    )
    .await?;
    let bytes = st
        .store
        .evidence(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("evidence"))?;
    st.store
        .commit_touching(
            Change::None,
            caller_entry(&caller, "read_evidence", resource, &d),
            touch(&caller),
        )
        .await
        .map_err(ApiError::store)?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkcs7-mime; smime-type=signed-data"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"application-{id}.p7s\""))
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/review", params(("id" = i64, Path)), request_body = ReviewBody,
    responses((status = 200, body = ApplicationView), (status = 409, description = "problem+json")))]
pub async fn review(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<ApplicationView>> {
    let a = load_application(&st, id).await?;
    let resource = format!("application/{id}");
    let d = authorize(
        &st,
        &caller,
        Action::ReviewApplication,
        &app_resource(&a),
        &resource,
    )
    .await?;
    let e = caller_entry(&caller, "review_application", resource.clone(), &d);
    let parsed: ReviewBody = match parse_json(&body) {
        Ok(p) => p,
        Err(err) => return Err(refuse(&st, e, err).await),
    };
    let mut errors = vec![];
    let decisions: Vec<LineDecision> = parsed
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let decision = match l.decision.as_str() {
                "approve" => LineDecisionKind::Approve,
                "reject" => LineDecisionKind::Reject,
                _ => {
                    errors.push(FieldError::new(
                        format!("/lines/{i}/decision"),
                        "decision",
                        "approve or reject",
                    ));
                    return None;
                }
            };
            Some(LineDecision {
                line: l.line,
                decision,
                reason: l.reason.clone(),
            })
        })
        .collect();
    if !errors.is_empty() {
        return Err(refuse(&st, e, ApiError::validation(errors)).await);
    }
    let lines = st.store.lines(id).await.map_err(ApiError::store)?;
    let status =
        ApplicationStatus::parse(&a.status).ok_or_else(|| ApiError::internal("stored status"))?;
    let reviewed = match status.review(lines.len() as u32, &decisions) {
        Err(qoljetim_domain::application::WorkflowError::WrongState(cur, exp)) => {
            let err = ApiError::new(Problem::WrongState)
                .arg("current", cur)
                .arg("expected", exp);
            return Err(refuse(&st, e, err).await);
        }
        Ok(Err(field_errors)) => {
            return Err(refuse(&st, e, ApiError::validation(field_errors)).await);
        }
        Ok(Ok(r)) => r,
    };
    let at = st.clock.now();
    let grant_due = if reviewed.outcome == ApplicationStatus::Forwarded {
        let g = st.calendar.deadline(at, 2).map_err(ApiError::internal)?;
        Some((g.due.to_string(), g.due_at.as_microsecond(), g.provisional))
    } else {
        None
    };
    let mut e = e;
    e.details = json!({
        "outcome": reviewed.outcome.as_str(),
        "lines": reviewed.lines.iter().map(|(n, s, r)| json!({"line": n, "status": s.as_str(), "reason": r})).collect::<Vec<_>>(),
    });
    let change = Change::Review {
        application_id: id,
        lines: reviewed
            .lines
            .iter()
            .map(|(n, s, r)| (i64::from(*n), s.as_str().to_owned(), r.clone()))
            .collect(),
        outcome: reviewed.outcome.as_str().to_owned(),
        reviewed_at: at.as_microsecond(),
        reviewed_by: caller.actor_id(),
        grant_due,
    };
    st.store
        .commit_touching(change, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    let a = load_application(&st, id).await?;
    let lines = st.store.lines(id).await.map_err(ApiError::store)?;
    Ok(Json(application_view(
        &a,
        &lines,
        true,
        st.clock.now().as_microsecond(),
    )))
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/grant", params(("id" = i64, Path)), request_body = GrantBody,
    responses((status = 201, body = GrantResultView), (status = 409, description = "problem+json")))]
pub async fn grant(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Response> {
    let a = load_application(&st, id).await?;
    let resource = format!("application/{id}");
    let d = authorize(
        &st,
        &caller,
        Action::GrantAccess,
        &app_resource(&a),
        &resource,
    )
    .await?;
    let mut e = caller_entry(&caller, "grant_access", resource, &d);
    let parsed: GrantBody = if body.iter().all(|b| b.is_ascii_whitespace()) {
        GrantBody::default()
    } else {
        match parse_json(&body) {
            Ok(p) => p,
            Err(err) => return Err(refuse(&st, e, err).await),
        }
    };
    let status =
        ApplicationStatus::parse(&a.status).ok_or_else(|| ApiError::internal("stored status"))?;
    if let Err(qoljetim_domain::application::WorkflowError::WrongState(cur, exp)) = status.grant() {
        let err = ApiError::new(Problem::WrongState)
            .arg("current", cur)
            .arg("expected", exp);
        return Err(refuse(&st, e, err).await);
    }
    let systems: Vec<System> = a.systems.iter().filter_map(|s| s.parse().ok()).collect();
    let mut extra: BTreeMap<System, BTreeSet<i16>> = BTreeMap::new();
    let mut errors = vec![];
    for (name, years) in parsed.fiscal_years_extra.iter().flatten() {
        let field = format!("/fiscal_years_extra/{name}");
        match name.parse::<System>() {
            Ok(s) if systems.contains(&s) => {
                for (i, y) in years.iter().enumerate() {
                    if (2000..=2100).contains(y) {
                        extra.entry(s).or_default().insert(*y as i16);
                    } else {
                        errors.push(FieldError::new(
                            format!("{field}/{i}"),
                            "fiscal_year",
                            "a year from 2000 to 2100",
                        ));
                    }
                }
            }
            Ok(_) => errors.push(FieldError::new(
                field,
                "system_not_requested",
                "the application does not ask for this system",
            )),
            Err(()) => errors.push(FieldError::new(
                field,
                "unknown_system",
                "analytical_central or state_planning",
            )),
        }
    }
    let reason = parsed
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if !extra.is_empty() && reason.is_none() {
        errors.push(FieldError::new(
            "/reason",
            "reason_required",
            "extra fiscal years need a recorded reason",
        ));
    }
    if !errors.is_empty() {
        return Err(refuse(&st, e, ApiError::validation(errors)).await);
    }
    let org_row = st
        .store
        .organization(&a.applicant_bin)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::internal("applicant missing"))?;
    if let Some(err) = not_eligible(
        &st,
        &org_row.bin,
        &org_row.kind,
        org_row.excluded.as_deref(),
    ) {
        return Err(refuse(&st, e, err).await);
    }
    let org = org_domain(&org_row)?;
    let at = st.clock.now();
    let granted_on = st.calendar.almaty_date(at);
    let lines = st.store.lines(id).await.map_err(ApiError::store)?;
    let mut new_grants = vec![];
    let mut not_granted = vec![];
    for l in lines.iter().filter(|l| l.status == "approved") {
        if l.hr_event_id.is_some() {
            // Order 270 §9: the powers ended after submission (dismissal, transfer): no access.
            not_granted.push((l.line, "powers_ended".to_owned()));
            continue;
        }
        let requested: Option<Date> = l
            .access_until_requested
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(ApiError::internal)?;
        let Some(validity) = grant_validity(granted_on, requested) else {
            // DESIGN.md §3: a line whose until-date has passed by the grant is not granted.
            not_granted.push((l.line, "access_until_passed".to_owned()));
            continue;
        };
        for sys in &systems {
            let years = extra.get(sys).cloned().unwrap_or_default();
            let scope = derive_scope(
                &st.rules,
                &org,
                *sys,
                validity.valid_from,
                validity.valid_until,
                &years,
            );
            new_grants.push(NewGrant {
                line: l.line,
                person_iin: l.iin.clone(),
                organization_bin: a.applicant_bin.clone(),
                system: sys.as_str().to_owned(),
                valid_from: validity.valid_from.to_string(),
                valid_until: validity.valid_until.to_string(),
                access_until_requested: l.access_until_requested.clone(),
                notice: validity.capped.then(|| NOTICE_CAPPED.to_owned()),
                scope: serde_json::to_string(&scope).map_err(ApiError::internal)?,
                extra_years_reason: if years.is_empty() {
                    None
                } else {
                    reason.clone()
                },
            });
        }
    }
    e.details = json!({
        "grants": new_grants.iter().map(|g| json!({"line": g.line, "system": g.system, "valid_until": g.valid_until, "scope": serde_json::from_str::<Value>(&g.scope).unwrap_or(Value::Null)})).collect::<Vec<_>>(),
        "not_granted": not_granted.iter().map(|(l, r)| json!({"line": l, "reason": r})).collect::<Vec<_>>(),
        "extra_years_reason": reason,
    });
    let change = Change::Grant {
        application_id: id,
        grants: new_grants,
        not_granted: not_granted.clone(),
        granted_at: at.as_microsecond(),
        granted_by: caller.actor_id(),
    };
    st.store
        .commit_touching(change, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    let grants = st
        .store
        .grants_of_application(id)
        .await
        .map_err(ApiError::store)?;
    let view = GrantResultView {
        grants: grants.iter().map(grant_view).collect(),
        not_granted: not_granted
            .into_iter()
            .map(|(line, reason)| NotGrantedView { line, reason })
            .collect(),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(crate) fn grant_resource(g: &GrantRow) -> Resource {
    Resource::Grant {
        id: g.id.to_string(),
        person_iin: g.person_iin.clone(),
        organization_bin: g.organization_bin.clone(),
    }
}

#[utoipa::path(get, path = "/api/v1/grants", params(("limit" = Option<i64>, Query)), responses((status = 200, body = [GrantView])))]
pub async fn list_grants(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<GrantView>>> {
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let probe = Resource::Grant {
        id: "probe".into(),
        person_iin: "000000000000".into(),
        organization_bin: "000000000000".into(),
    };
    let wide = decide(&st, &caller.actor, Action::ReadGrant, &probe)?.allowed;
    let candidates = st
        .store
        .grants(if wide { None } else { Some(&caller.actor.bin) }, limit)
        .await
        .map_err(ApiError::store)?;
    let mut out = vec![];
    let mut policies = BTreeSet::new();
    for g in candidates {
        if q.status.as_deref().is_some_and(|s| s != g.status) {
            continue;
        }
        let d = decide(&st, &caller.actor, Action::ReadGrant, &grant_resource(&g))?;
        if d.allowed {
            policies.extend(d.policies);
            out.push(grant_view(&g));
        }
    }
    let d = Decision {
        allowed: true,
        policies: policies.into_iter().collect(),
        errors: vec![],
    };
    let mut e = caller_entry(&caller, "read_grant", "grants".into(), &d);
    e.details = json!({"returned": out.len()});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(out))
}

// ---------------------------------------------------------------------------------------------
// Organizations

#[utoipa::path(get, path = "/api/v1/organizations", responses((status = 200, body = [OrganizationBody])))]
pub async fn list_organizations(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Value>>> {
    let d = authorize(
        &st,
        &caller,
        Action::ReadOrganizations,
        &Resource::Registry,
        "organizations",
    )
    .await?;
    let orgs = st.store.organizations().await.map_err(ApiError::store)?;
    st.store
        .commit_touching(
            Change::None,
            caller_entry(&caller, "read_organizations", "organizations".into(), &d),
            touch(&caller),
        )
        .await
        .map_err(ApiError::store)?;
    Ok(Json(orgs.iter().map(org_json).collect()))
}

/// Parses an organization record, naming every field that breaks a rule.
pub fn parse_organization(b: &OrganizationBody) -> Result<Organization, Vec<FieldError>> {
    let mut errors = vec![];
    let bin = Bin::parse(&b.bin)
        .map_err(|e| errors.push(FieldError::new("/bin", e.rule(), e.to_string())))
        .ok();
    let kind = b
        .kind
        .parse::<OrganizationKind>()
        .map_err(|()| errors.push(FieldError::new("/kind", "unknown_kind", "not a known kind")))
        .ok();
    let territory = match b.territory.as_deref() {
        Some(t) => Kato::parse(t)
            .map(Some)
            .map_err(|e| errors.push(FieldError::new("/territory", e.rule(), e.to_string())))
            .unwrap_or(None),
        None => None,
    };
    let mut admins = vec![];
    for (i, a) in b.administrators.iter().enumerate() {
        match AdministratorCode::parse(a) {
            Ok(c) => admins.push(c),
            Err(r) => errors.push(FieldError::new(
                format!("/administrators/{i}"),
                r.rule(),
                r.to_string(),
            )),
        }
    }
    let (Some(bin), Some(kind), true) = (bin, kind, errors.is_empty()) else {
        return Err(errors);
    };
    Organization::new(
        bin,
        b.name_kk.trim().to_owned(),
        b.name_ru.trim().to_owned(),
        kind,
        territory,
        admins,
    )
    .map_err(|r| vec![FieldError::new(r.field(), r.rule(), r.to_string())])
}

#[utoipa::path(post, path = "/api/v1/organizations", request_body = OrganizationBody,
    responses((status = 201, body = OrganizationBody), (status = 409, description = "problem+json")))]
pub async fn create_organization(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let d = authorize(
        &st,
        &caller,
        Action::ManageOrganizations,
        &Resource::Registry,
        "organizations",
    )
    .await?;
    let mut e = caller_entry(&caller, "manage_organizations", "organizations".into(), &d);
    let parsed: OrganizationBody = match parse_json(&body) {
        Ok(p) => p,
        Err(err) => return Err(refuse(&st, e, err).await),
    };
    if let Some(err) = not_eligible(&st, parsed.bin.trim(), parsed.kind.trim(), None) {
        return Err(refuse(&st, e, err).await);
    }
    let org = match parse_organization(&parsed) {
        Ok(o) => o,
        Err(errors) => return Err(refuse(&st, e, ApiError::validation(errors)).await),
    };
    e.resource = format!("organization/{}", org.bin);
    e.details = serde_json::to_value(&org).unwrap_or(Value::Null);
    let change = Change::CreateOrganization {
        bin: org.bin.to_string(),
        name_kk: org.name_kk.clone(),
        name_ru: org.name_ru.clone(),
        kind: org.kind.as_str().to_owned(),
        territory: org.territory.as_ref().map(|t| t.to_string()),
        administrators: serde_json::to_string(&org.administrators).unwrap_or_else(|_| "[]".into()),
        created_at: st.clock.now().as_microsecond(),
    };
    st.store
        .commit_touching(change, e, touch(&caller))
        .await
        .map_err(|err| match err {
            qoljetim_store::StoreError::Conflict(qoljetim_store::Conflict::OrganizationExists) => {
                ApiError::new(Problem::OrganizationExists).arg("bin", &org.bin)
            }
            other => ApiError::store(other),
        })?;
    let row = st
        .store
        .organization(org.bin.as_str())
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::internal("lost"))?;
    Ok((StatusCode::CREATED, Json(org_json(&row))).into_response())
}

// ---------------------------------------------------------------------------------------------
// Calendar, audit, health, OpenAPI

#[derive(Debug, Deserialize)]
pub struct DeadlineQuery {
    from: Option<String>,
    working_days: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/calendar/deadline", params(("from" = String, Query), ("working_days" = u32, Query)),
    responses((status = 200, body = DeadlineView)))]
pub async fn deadline(
    State(st): State<AppState>,
    Query(q): Query<DeadlineQuery>,
) -> ApiResult<Json<DeadlineView>> {
    let mut errors = vec![];
    let from = match q.from.as_deref().map(|f| (f, f.parse::<Date>())) {
        Some((f, Ok(d))) if f.len() == 10 => Some(d),
        Some(_) => {
            errors.push(FieldError::new("/from", "date_format", "a date YYYY-MM-DD"));
            None
        }
        None => {
            errors.push(FieldError::new("/from", "required", "required"));
            None
        }
    };
    let n = match q.working_days.as_deref().map(str::parse::<u32>) {
        Some(Ok(n)) if (1..=60).contains(&n) => Some(n),
        Some(_) => {
            errors.push(FieldError::new(
                "/working_days",
                "working_days_range",
                "from 1 to 60",
            ));
            None
        }
        None => {
            errors.push(FieldError::new("/working_days", "required", "required"));
            None
        }
    };
    let (Some(from), Some(n)) = (from, n) else {
        return Err(ApiError::validation(errors));
    };
    let d = st
        .calendar
        .deadline_from_date(from, n)
        .map_err(ApiError::internal)?;
    Ok(Json(DeadlineView {
        from: from.to_string(),
        working_days: n,
        due: d.due.to_string(),
        due_at: d.due_at.to_string(),
        provisional: d.provisional,
    }))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit", params(("after" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = [AuditView])))]
pub async fn audit(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditView>>> {
    let d = authorize(
        &st,
        &caller,
        Action::ReadAudit,
        &Resource::AuditLog,
        "audit",
    )
    .await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let mut records = match q.after {
        Some(after) => st.store.audit_records(after, limit).await,
        None => st.store.audit_tail(limit).await.map(|mut v| {
            v.reverse();
            v
        }),
    }
    .map_err(ApiError::store)?;
    records.truncate(limit as usize);
    let mut e = caller_entry(&caller, "read_audit", "audit".into(), &d);
    e.details = json!({"after": q.after, "returned": records.len()});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| AuditView {
                seq: r.seq,
                at: rfc3339_micros(r.at),
                actor: r.actor,
                actor_bin: r.actor_bin,
                action: r.action,
                resource: r.resource,
                outcome: r.outcome,
                ip: r.ip,
                policies: serde_json::from_str(&r.policies).unwrap_or_default(),
                details: serde_json::from_str(&r.details).unwrap_or(Value::Null),
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "{status, database, backend}"), (status = 500, description = "the database cannot be reached")))]
pub async fn healthz(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    sqlx_ping(&st).await?;
    Ok(Json(
        json!({"status": "ok", "backend": st.store.backend(), "version": env!("CARGO_PKG_VERSION")}),
    ))
}

async fn sqlx_ping(st: &AppState) -> ApiResult<()> {
    st.store
        .organizations()
        .await
        .map(|_| ())
        .map_err(ApiError::store)
}

#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "this document")))]
pub async fn openapi() -> Response {
    let mut r = crate::openapi::openapi_json().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub fn panic_to_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    render(&ApiError::new(Problem::Internal), Lang::Kk)
}

//! Sign-in with the organization's digital signature (Order 270 §11) and `GET /me`.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use qoljetim_domain::Role;
use qoljetim_policy::{Action, Decision};
use qoljetim_signature::{SignatureError, require_sign_in};
use qoljetim_store::{Change, NewSession};
use serde_json::{Value, json};

use crate::AppState;
use crate::grants::*;
use crate::organizations::*;
use crate::toolbox::*;

use crate::auth::{Caller, ClientIp, SESSION_COOKIE, check_challenge, issue_challenge, new_token};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::views::*;

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
pub(crate) async fn check_name_at_sign_in(
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

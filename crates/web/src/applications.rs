//! Applications (Order 270 §8–§9): submit a signed form, list and read, the evidence, review, grant.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use qoljetim_domain::application::{
    ApplicationForm, Decision as LineDecisionKind, FieldError, LineDecision, NOTICE_CAPPED,
    grant_validity,
};
use qoljetim_domain::org::derive_scope;
use qoljetim_domain::{ApplicationStatus, OrganizationKind, Role, System};
use qoljetim_policy::{Action, Actor, Decision, Resource};
use qoljetim_store::{ApplicationRow, Change, LineRow, NewApplication, NewGrant, NewLine};
use serde_json::{Value, json};

use crate::AppState;
use crate::grants::*;
use crate::organizations::*;
use crate::toolbox::*;

use crate::auth::{Caller, ClientIp, MaybeCaller};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::views::*;

pub(crate) fn app_resource(a: &ApplicationRow) -> Resource {
    Resource::Application {
        id: a.id.to_string(),
        applicant_bin: a.applicant_bin.clone(),
        status: a.status.clone(),
    }
}

pub(crate) fn line_view(l: &LineRow) -> LineView {
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

pub(crate) fn application_view(
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
    let form = organization_document(
        &st,
        &verified,
        at,
        &attempt,
        ApplicationForm::parse,
        |f: &ApplicationForm| &f.applicant_bin,
    )
    .await?;
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
    let session_bin = session.as_ref().map(|s| s.actor.bin.as_str());
    let d = st
        .policy
        .decide_submission(&actor, &resource, session_bin)
        .map_err(ApiError::internal)?;
    attempt.policies = d.policies.clone();
    if !d.allowed {
        // Cedar decides; the policy that refused names the problem (an operator does not apply, a
        // session of another organization).
        let err = ApiError::denied("submit_application", &d.policies)
            .arg("kind", &org.kind)
            .arg("session", session_bin.unwrap_or_default())
            .arg("applicant", &form.applicant_bin);
        return Err(refuse(&st, attempt, err).await);
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
    attempt.creates = Some("application");
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

pub(crate) async fn load_application(st: &AppState, id: i64) -> ApiResult<ApplicationRow> {
    st.store
        .application(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("application {id}")))
}

/// The lines the caller may see, and whether that is the whole application; None: nothing.
type Visible = Option<(Vec<LineRow>, bool)>;

/// What the caller may see of an application: all of it, only their own lines, or nothing.
pub(crate) fn visible_lines(
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

//! Lifecycle endpoints (Order 270 §8–§9, DESIGN.md §3–§4): HR events from the HR system (signed
//! webhook), the person's profile and notifications, the renewal draft of a grant, and the reports.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use qoljetim_domain::WorkingDayCalendar;
use qoljetim_domain::application::FieldError;
use qoljetim_domain::calendar::one_year_after;
use qoljetim_domain::lifecycle::HrEvent;
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{Change, Conflict, LifecycleChange, NewHrEvent, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Caller, ClientIp};
use crate::grants::grant_resource;
use crate::i18n::Lang;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::toolbox::{
    authorize, caller_entry, entry, parse_json, refuse, rfc3339_micros, touch, verified_body,
};

/// The block clock of an event whose powers end on `effective_date`, received at `received_at`
/// (Order 270 §9): due at the end of the 3rd working day after that day, met when received by then, the
/// working days taken, and whether the block waits for a future effective date (Almaty).
pub struct BlockClock {
    pub due: qoljetim_domain::calendar::Deadline,
    pub working_days_taken: i64,
    pub met: bool,
    pub scheduled: bool,
}

pub fn block_clock(
    cal: &WorkingDayCalendar,
    effective_date: Date,
    received_at: Timestamp,
) -> Result<BlockClock, String> {
    let due = cal
        .deadline_from_date(
            effective_date,
            qoljetim_domain::lifecycle::BLOCK_WORKING_DAYS,
        )
        .map_err(|e| e.to_string())?;
    let today = cal.almaty_date(received_at);
    Ok(BlockClock {
        working_days_taken: i64::from(cal.working_days_between(effective_date, today)),
        met: received_at <= due.due_at,
        // The person holds the post until the effective date: the block waits for that day.
        scheduled: effective_date > today,
        due,
    })
}

/// The stored form of an HR event received at `received_at`, with its block clock.
pub fn new_hr_event(
    cal: &WorkingDayCalendar,
    event: &HrEvent,
    source: &str,
    received_at: Timestamp,
    evidence: Option<Vec<u8>>,
) -> Result<NewHrEvent, String> {
    let clock = block_clock(cal, event.effective_date, received_at)?;
    Ok(NewHrEvent {
        source: source.to_owned(),
        event_id: event.event_id.clone(),
        kind: event.kind.as_str().to_owned(),
        iin: event.iin.as_str().to_owned(),
        bin: event.bin.as_str().to_owned(),
        effective_date: event.effective_date.to_string(),
        order_number: event.order_number.clone(),
        order_date: event.order_date.map(|d| d.to_string()),
        new_position: event.new_position.clone(),
        received_at: received_at.as_microsecond(),
        block_due: clock.due.due.to_string(),
        block_due_at: clock.due.due_at.as_microsecond(),
        block_due_provisional: clock.due.provisional,
        working_days_taken: clock.working_days_taken,
        met: clock.met,
        evidence,
        scheduled: clock.scheduled,
    })
}

fn event_json(e: &qoljetim_store::HrEventRow, duplicate: bool) -> Value {
    json!({
        "id": e.id, "duplicate": duplicate, "event_id": e.event_id, "kind": e.kind, "iin": e.iin, "bin": e.bin,
        "effective_date": e.effective_date, "order_number": e.order_number, "new_position": e.new_position,
        "received_at": rfc3339_micros(e.received_at), "block_due": e.block_due,
        "block_due_at": rfc3339_micros(e.block_due_at), "block_due_provisional": e.block_due_provisional,
        "met": e.met, "working_days_taken": e.working_days_taken, "grants_blocked": e.grants_blocked,
        "sessions_ended": e.sessions_ended, "lines_stopped": e.lines_stopped,
        "scheduled_for": if e.applied_at.is_none() { e.scheduled_for.clone() } else { None },
    })
}

/// `POST /hr/events`: a dismissal or transfer signed (CMS) by a configured HR system. Blocks every live
/// grant of the person in the organization at once and ends their sessions; the same event twice has
/// one effect (200 with `duplicate: true`).
#[utoipa::path(post, path = "/api/v1/hr/events", request_body = crate::views::SignedBody,
    responses((status = 201, description = "the event, its block clock and effect"), (status = 200, description = "the same event was received before: duplicate = true"),
              (status = 403, description = "hr-signer-not-allowed")))]
pub async fn hr_event(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let at = st.clock.now();
    let (cms, verified) =
        verified_body(&st, &body, at, "hr_event", "hr_events", &ip, false).await?;
    let signer_bin = verified
        .signer
        .bin
        .as_ref()
        .map(|b| b.as_str().to_owned())
        .unwrap_or_default();
    let mut e = entry(
        format!("hr-system:{signer_bin}"),
        Some(signer_bin.clone()),
        "hr_event",
        "hr_events".into(),
        "ok".into(),
        &ip,
    );
    // Cedar decides: the signer's BIN among the configured HR systems' (a fact given as context).
    let signer = qoljetim_policy::Actor {
        iin: verified
            .signer
            .iin
            .as_ref()
            .map(|i| i.as_str().to_owned())
            .unwrap_or_default(),
        bin: signer_bin.clone(),
        org_kind: None,
        roles: vec![],
    };
    let d = st
        .policy
        .decide_hr_event(&signer, &st.config.hr_event_signer_bins)
        .map_err(ApiError::internal)?;
    e.policies = d.policies.clone();
    if !d.allowed {
        let err = ApiError::new(Problem::HrSignerNotAllowed).arg("bin", &signer_bin);
        return Err(refuse(&st, e, err).await);
    }
    let event = match HrEvent::parse_json(&verified.content) {
        Ok(ev) => ev,
        Err(errors) => return Err(refuse(&st, e, ApiError::validation(errors)).await),
    };
    let new =
        new_hr_event(&st.calendar, &event, "webhook", at, Some(cms)).map_err(ApiError::internal)?;
    e.resource = format!("hr_event:{}", event.event_id);
    e.details = json!({
        "kind": new.kind, "iin": new.iin, "bin": new.bin, "effective_date": new.effective_date,
        "order_number": new.order_number, "block_due": new.block_due, "met": new.met,
        "working_days_taken": new.working_days_taken,
    });
    match st
        .store
        .commit(
            Change::Lifecycle(Box::new(LifecycleChange::HrEvent(Box::new(new)))),
            e,
        )
        .await
    {
        Ok(out) => {
            let id = out.id.unwrap_or_default();
            let row = st
                .store
                .hr_event(id)
                .await
                .map_err(ApiError::store)?
                .ok_or_else(|| ApiError::internal("event missing after commit"))?;
            let mut v = event_json(&row, false);
            v["grants"] = json!(out.ids);
            Ok((StatusCode::CREATED, Json(v)))
        }
        Err(StoreError::Conflict(Conflict::DuplicateEvent { id })) => {
            let row = st
                .store
                .hr_event(id)
                .await
                .map_err(ApiError::store)?
                .ok_or_else(|| ApiError::internal("event missing"))?;
            Ok((StatusCode::OK, Json(event_json(&row, true))))
        }
        Err(err) => Err(ApiError::store(err)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    pub email: Option<String>,
    pub language: String,
}

pub use qoljetim_domain::application::email_ok;

#[utoipa::path(get, path = "/api/v1/me/profile", responses((status = 200, description = "{email, language, updated_at}")))]
pub async fn get_profile(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let p = st
        .store
        .profile(&caller.actor.iin, &caller.actor.bin)
        .await
        .map_err(ApiError::store)?;
    // DESIGN.md §5: every signed-in request is audited and counts as activity.
    st.store
        .commit_touching(
            Change::None,
            entry(
                caller.actor_id(),
                Some(caller.actor.bin.clone()),
                "read_profile",
                format!("profile:{}", caller.actor_id()),
                "ok".into(),
                &caller.ip,
            ),
            touch(&caller),
        )
        .await
        .map_err(ApiError::store)?;
    Ok(Json(match p {
        Some(p) => {
            json!({"email": p.email, "language": p.language, "updated_at": rfc3339_micros(p.updated_at)})
        }
        None => json!({"email": null, "language": "kk", "updated_at": null}),
    }))
}

/// `PUT /me/profile`: the e-mail for notifications (the form itself has only a work phone) and their
/// language. Only the signed-in person's own profile exists for them.
#[utoipa::path(put, path = "/api/v1/me/profile", request_body = ProfileBody, responses((status = 200, description = "{email, language, updated_at}"), (status = 400, description = "email_format, language")))]
pub async fn put_profile(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let base = entry(
        caller.actor_id(),
        Some(caller.actor.bin.clone()),
        "set_profile",
        format!("profile:{}", caller.actor_id()),
        "ok".into(),
        &caller.ip,
    );
    let b: ProfileBody = match parse_json(&body) {
        Ok(b) => b,
        Err(err) => return Err(refuse(&st, base, err).await),
    };
    let mut errors = vec![];
    let email = b
        .email
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty());
    if let Some(e) = &email
        && !email_ok(e)
    {
        errors.push(FieldError::new(
            "/email",
            "email_format",
            "not an e-mail address",
        ));
    }
    if !matches!(b.language.as_str(), "kk" | "ru") {
        errors.push(FieldError::new("/language", "language", "kk or ru"));
    }
    if !errors.is_empty() {
        return Err(refuse(&st, base, ApiError::validation(errors)).await);
    }
    let mut e = base;
    e.details = json!({"email_set": email.is_some(), "language": b.language});
    st.store
        .commit_touching(
            Change::Lifecycle(Box::new(LifecycleChange::SetProfile {
                iin: caller.actor.iin.clone(),
                bin: caller.actor.bin.clone(),
                email: email.clone(),
                language: b.language.clone(),
                at: caller.now,
            })),
            e,
            touch(&caller),
        )
        .await
        .map_err(ApiError::store)?;
    Ok(Json(
        json!({"email": email, "language": b.language, "updated_at": rfc3339_micros(caller.now)}),
    ))
}

/// `GET /notifications`: the signed-in person's own, newest first, in their language (Accept-Language).
#[utoipa::path(get, path = "/api/v1/notifications", responses((status = 200, description = "{notifications: [{id, kind, subject, title, body, created_at, read}]} in the caller's language")))]
pub async fn list_notifications(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let lang = Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let rows = st
        .store
        .notifications(&caller.actor.iin, &caller.actor.bin, 200)
        .await
        .map_err(ApiError::store)?;
    let list: Vec<Value> = rows
        .iter()
        .map(|n| {
            let (title, body) = match lang {
                Lang::Ru => (&n.title_ru, &n.body_ru),
                _ => (&n.title_kk, &n.body_kk),
            };
            json!({"id": n.id, "kind": n.kind, "subject": n.subject_ref, "title": title, "body": body,
                   "created_at": rfc3339_micros(n.created_at), "read": n.read_at.is_some()})
        })
        .collect();
    let mut e = entry(
        caller.actor_id(),
        Some(caller.actor.bin.clone()),
        "read_notifications",
        format!("notifications:{}", caller.actor_id()),
        "ok".into(),
        &caller.ip,
    );
    e.details = json!({"count": list.len(), "background": caller.background});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(json!({"notifications": list})))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", params(("id" = i64, Path)), responses((status = 204), (status = 404)))]
pub async fn read_notification(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let e = entry(
        caller.actor_id(),
        Some(caller.actor.bin.clone()),
        "read_notification",
        format!("notification:{id}"),
        "ok".into(),
        &caller.ip,
    );
    match st
        .store
        .commit_touching(
            Change::Lifecycle(Box::new(LifecycleChange::MarkRead {
                id,
                iin: caller.actor.iin.clone(),
                bin: caller.actor.bin.clone(),
                at: caller.now,
            })),
            e,
            touch(&caller),
        )
        .await
    {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::Conflict(Conflict::NotFound)) => Err(ApiError::not_found("notification")),
        Err(err) => Err(ApiError::store(err)),
    }
}

/// `GET /grants/{id}/renewal`: a new application form pre-filled from the grant, for the head to sign
/// (NCALayer) and submit. A dismissal ends the way to renew; after a transfer the new post is filled in.
#[utoipa::path(get, path = "/api/v1/grants/{id}/renewal", params(("id" = i64, Path)),
    responses((status = 200, description = "{renews_grant, grant_status, valid_until, form, check_before_signing}"), (status = 409, description = "renewal-not-possible")))]
pub async fn renewal_draft(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let g = st
        .store
        .grant(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("grant"))?;
    let d = authorize(
        &st,
        &caller,
        Action::RequestRenewal,
        &grant_resource(&g),
        &format!("grant:{id}"),
    )
    .await?;
    let e = caller_entry(&caller, "request_renewal", format!("grant:{id}"), &d);
    let event = match g.hr_event_id {
        Some(eid) => st.store.hr_event(eid).await.map_err(ApiError::store)?,
        None => None,
    };
    if let Some(ev) = &event
        && ev.kind == "dismissal"
    {
        return Err(refuse(
            &st,
            e,
            ApiError::new(Problem::RenewalNotPossible)
                .arg("id", id)
                .arg("status", &g.status)
                .arg("reason", "dismissal"),
        )
        .await);
    }
    let app = st
        .store
        .application(g.application_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::internal("application of a grant missing"))?;
    let line = st
        .store
        .lines(g.application_id)
        .await
        .map_err(ApiError::store)?
        .into_iter()
        .find(|l| l.line == g.line)
        .ok_or_else(|| ApiError::internal("line of a grant missing"))?;
    let today = st.calendar.almaty_date(st.clock.now());
    let position = event
        .as_ref()
        .and_then(|ev| ev.new_position.clone())
        .unwrap_or(line.position.clone());
    let form = json!({
        "applicant_bin": g.organization_bin,
        "date": today.to_string(),
        "head": app.head,
        "systems": [g.system],
        "lines": [{
            "surname": line.surname, "name": line.name, "patronymic": line.patronymic, "iin": line.iin,
            "position": position, "unit": line.unit, "phone": line.phone, "purpose": line.purpose,
            "access_until": one_year_after(today).to_string(), "eqyzmet_qr": line.eqyzmet_qr,
        }],
    });
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(json!({
        "renews_grant": id,
        "grant_status": g.status,
        "valid_until": g.valid_until,
        "form": form,
        // What the head checks before signing: a fresh E-Qyzmet QR for the post, and the head's name.
        "check_before_signing": ["/lines/0/eqyzmet_qr", "/head", "/lines/0/position"],
    })))
}

fn report_format(params: &HashMap<String, String>) -> Result<&'static str, FieldError> {
    match params.get("format").map(String::as_str) {
        None | Some("json") => Ok("json"),
        Some("csv") => Ok("csv"),
        Some("pdf") => Ok("pdf"),
        Some(_) => Err(FieldError::new(
            "/format",
            "report_format",
            "json, csv or pdf",
        )),
    }
}

fn date_param(
    params: &HashMap<String, String>,
    name: &str,
    default: Date,
    errors: &mut Vec<FieldError>,
) -> Date {
    match params.get(name) {
        None => default,
        Some(s) => match s.parse::<Date>() {
            Ok(d) if s.len() == 10 => d,
            _ => {
                errors.push(FieldError::new(
                    format!("/{name}"),
                    "date_format",
                    "YYYY-MM-DD",
                ));
                default
            }
        },
    }
}

fn report_response(
    format: &str,
    stem: &str,
    title: &str,
    subtitle: &str,
    tables: &[qoljetim_reports::Table],
    json_value: Value,
) -> ApiResult<Response> {
    let Some((bytes, ctype, ext)) =
        qoljetim_reports::encode(format, title, subtitle, tables).map_err(ApiError::internal)?
    else {
        return Ok(Json(json_value).into_response());
    };
    let mut r = bytes.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{stem}.{ext}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /reports/deadlines?from&to&format`: each clock, met vs missed, median and worst working days.
#[utoipa::path(get, path = "/api/v1/reports/deadlines", params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("format" = Option<String>, Query, description = "json, csv or pdf")),
    responses((status = 200, description = "deadline compliance: clocks (met, missed, open, median and worst working days) and items")))]
pub async fn deadlines_report(
    State(st): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let d = authorize(
        &st,
        &caller,
        Action::ReadReports,
        &Resource::Reports,
        "reports:deadlines",
    )
    .await?;
    let mut e = caller_entry(&caller, "read_reports", "reports:deadlines".into(), &d);
    let now = st.clock.now();
    let today = st.calendar.almaty_date(now);
    let mut errors = vec![];
    let format = report_format(&params)
        .map_err(|f| errors.push(f))
        .unwrap_or("json");
    let from = date_param(&params, "from", today.first_of_month(), &mut errors);
    let to = date_param(&params, "to", today, &mut errors);
    if to < from || from.until(to).map(|s| s.get_days() > 1100).unwrap_or(true) {
        errors.push(FieldError::new(
            "/to",
            "period",
            "from must not be after to, at most 3 years",
        ));
    }
    if !errors.is_empty() {
        return Err(refuse(&st, e, ApiError::validation(errors)).await);
    }
    let report = qoljetim_reports::deadline_report(&st.store, &st.calendar, from, to, now)
        .await
        .map_err(ApiError::internal)?;
    e.details = json!({"from": report.from, "to": report.to, "format": format, "items": report.items.len()});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    let value = serde_json::to_value(&report).map_err(ApiError::internal)?;
    report_response(
        format,
        &format!("deadlines-{from}-{to}"),
        &report.title(),
        &report.subtitle(),
        &report.tables(),
        value,
    )
}

/// `GET /reports/access-registry?on&format`: who has access to which system, scope and until when, and
/// who lost it and why.
#[utoipa::path(get, path = "/api/v1/reports/access-registry", params(("on" = Option<String>, Query), ("format" = Option<String>, Query, description = "json, csv or pdf")),
    responses((status = 200, description = "who has access (system, scope, until) and who lost it and why")))]
pub async fn registry_report(
    State(st): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let d = authorize(
        &st,
        &caller,
        Action::ReadReports,
        &Resource::Reports,
        "reports:access-registry",
    )
    .await?;
    let mut e = caller_entry(
        &caller,
        "read_reports",
        "reports:access-registry".into(),
        &d,
    );
    let now = st.clock.now();
    let today = st.calendar.almaty_date(now);
    let mut errors = vec![];
    let format = report_format(&params)
        .map_err(|f| errors.push(f))
        .unwrap_or("json");
    let on = date_param(&params, "on", today, &mut errors);
    if !errors.is_empty() {
        return Err(refuse(&st, e, ApiError::validation(errors)).await);
    }
    let report = qoljetim_reports::access_registry(&st.store, on, now)
        .await
        .map_err(ApiError::internal)?;
    e.details = json!({"on": report.on, "format": format, "active": report.active.len(), "ended": report.ended.len()});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    let value = serde_json::to_value(&report).map_err(ApiError::internal)?;
    report_response(
        format,
        &format!("access-registry-{on}"),
        &report.title(),
        &report.subtitle(),
        &report.tables(),
        value,
    )
}

//! The employing body's block request (Order 270 §9): "the state body where the user works sends,
//! within 3 working days of the day the employee's powers end, a request to block the account". A CMS
//! signed by the organization's first head or signing right (signing key) over a block request JSON;
//! every live grant of the people named is blocked at once (or at the start of a future effective date)
//! and their sessions end; the request is kept as evidence and its clock reported beside the HR events.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use qoljetim_domain::WorkingDayCalendar;
use qoljetim_domain::application::FieldError;
use qoljetim_domain::lifecycle::{BlockRequest, BlockRequestLine};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{
    BlockRequestRow, Change, HrEventRow, LifecycleChange, NewBlockRequest, NewHrEvent,
};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::lifecycle::block_clock;
use crate::problem::{ApiError, ApiResult};
use crate::toolbox::{
    allowed, authorize, caller_entry, organization_document, refuse, revocation_json,
    rfc3339_micros, signing_time_json, touch, verified_body,
};

/// The stored block event of one line received at `received_at`, with its block clock.
pub fn block_event(
    cal: &WorkingDayCalendar,
    bin: &str,
    line: &BlockRequestLine,
    received_at: Timestamp,
) -> Result<NewHrEvent, String> {
    let clock = block_clock(cal, line.effective_date, received_at)?;
    Ok(NewHrEvent {
        source: "block_request".into(),
        // Replaced by the store with block-request/<request id>/<line>.
        event_id: String::new(),
        kind: line.reason.as_str().to_owned(),
        iin: line.iin.as_str().to_owned(),
        bin: bin.to_owned(),
        effective_date: line.effective_date.to_string(),
        order_number: line.order_number.clone().unwrap_or_default(),
        order_date: None,
        new_position: None,
        received_at: received_at.as_microsecond(),
        block_due: clock.due.due.to_string(),
        block_due_at: clock.due.due_at.as_microsecond(),
        block_due_provisional: clock.due.provisional,
        working_days_taken: clock.working_days_taken,
        met: clock.met,
        evidence: None,
        scheduled: clock.scheduled,
    })
}

fn line_json(e: &HrEventRow) -> Value {
    json!({
        "iin": e.iin, "reason": e.kind, "effective_date": e.effective_date,
        "order_number": (!e.order_number.is_empty()).then_some(&e.order_number),
        "blocked_grants": e.grants_blocked, "sessions_ended": e.sessions_ended,
        "scheduled_for": if e.applied_at.is_none() { e.scheduled_for.clone() } else { None },
        "blocked_at": e.applied_at.map(rfc3339_micros),
        "block_due": e.block_due, "block_due_at": rfc3339_micros(e.block_due_at),
        "deadline_met": e.met, "working_days_taken": e.working_days_taken,
    })
}

fn request_json(r: &BlockRequestRow) -> Value {
    json!({
        "id": r.id, "applicant_bin": r.applicant_bin, "date": r.form_date, "signer_iin": r.signer_iin,
        "signer_name": r.signer_name, "trust_anchor": r.trust_anchor, "received_at": rfc3339_micros(r.received_at),
        "deadline_met": r.lines.iter().all(|l| l.met),
        "lines": r.lines.iter().map(line_json).collect::<Vec<_>>(),
    })
}

/// `POST /block-requests`: a signed-in head of the organization posts the CMS its head signed.
#[utoipa::path(post, path = "/api/v1/block-requests", request_body = crate::views::SignedBody,
    responses((status = 201, description = "{id, lines: [{iin, blocked_grants, scheduled_for, deadline_met, …}]}"),
              (status = 400, description = "a line whose IIN holds no grant of the organization names /lines/N/iin; nothing applied"),
              (status = 403, description = "forbidden, not-eligible")))]
pub async fn submit(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let at = st.clock.now();
    let (cms, verified) = verified_body(
        &st,
        &body,
        at,
        "submit_block_request",
        "block_request",
        &caller.ip,
        false,
    )
    .await?;
    let id = &verified.signer;
    let mut e = caller_entry(
        &caller,
        "submit_block_request",
        "block_request".into(),
        &allowed(vec![]),
    );
    e.details = json!({
        "signer_iin": id.iin.as_ref().map(|i| i.as_str()), "certificate_serial": id.serial_hex,
        "trust_anchor": verified.anchor, "revocation": revocation_json(&verified.revocation),
        "signing_time": signing_time_json(&verified),
    });
    // The document is the organization's: signed by its first head or signing right (signing key).
    let request = organization_document(
        &st,
        &verified,
        at,
        &e,
        BlockRequest::parse_json,
        |r: &BlockRequest| &r.applicant_bin,
    )
    .await?;
    let resource = Resource::BlockRequest {
        id: "new".into(),
        applicant_bin: request.applicant_bin.to_string(),
    };
    let d = authorize(
        &st,
        &caller,
        Action::SubmitBlockRequest,
        &resource,
        "block_request",
    )
    .await?;
    e.policies = d.policies.clone();
    // Every person named must hold a grant of this organization; otherwise nothing is applied.
    let bin = request.applicant_bin.as_str();
    let mut errors = vec![];
    for (i, l) in request.lines.iter().enumerate() {
        let grants = st
            .store
            .grants_of_person(l.iin.as_str(), bin)
            .await
            .map_err(ApiError::store)?;
        if grants.is_empty() {
            errors.push(FieldError::new(
                format!("/lines/{i}/iin"),
                "no_grant_in_organization",
                format!("{} holds no access granted to {bin}", l.iin),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(refuse(&st, e, ApiError::validation(errors)).await);
    }
    let mut lines = vec![];
    for l in &request.lines {
        lines.push(block_event(&st.calendar, bin, l, at).map_err(ApiError::internal)?);
    }
    e.outcome = "allowed".into();
    e.creates = Some("block_request");
    e.details["lines"] = json!(lines.iter().map(|l| json!({"iin": l.iin, "reason": l.kind,
        "effective_date": l.effective_date, "block_due": l.block_due, "met": l.met, "scheduled": l.scheduled})).collect::<Vec<_>>());
    let new = NewBlockRequest {
        applicant_bin: bin.to_owned(),
        form_date: request.date.to_string(),
        signer_iin: id.iin.as_ref().map(|i| i.to_string()).unwrap_or_default(),
        signer_name: id.common_name.clone().unwrap_or_default(),
        signer_certificate: der::Encode::to_der(&verified.signer_certificate)
            .map_err(ApiError::internal)?,
        trust_anchor: verified.anchor.clone(),
        verification: json!({"revocation": revocation_json(&verified.revocation),
            "signing_time": signing_time_json(&verified)})
        .to_string(),
        evidence: cms,
        received_at: at.as_microsecond(),
        lines,
    };
    let out = st
        .store
        .commit_touching(
            Change::Lifecycle(Box::new(LifecycleChange::BlockRequest(Box::new(new)))),
            e,
            touch(&caller),
        )
        .await
        .map_err(ApiError::store)?;
    let request_id = out.id.ok_or_else(|| ApiError::internal("no id"))?;
    let row = st
        .store
        .block_request(request_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::internal("block request missing after commit"))?;
    Ok((StatusCode::CREATED, Json(request_json(&row))).into_response())
}

/// `GET /block-requests[?late=true]`: heads see their organization's; the integrator sees all and can
/// list the late ones.
#[utoipa::path(get, path = "/api/v1/block-requests", params(("late" = Option<bool>, Query)),
    responses((status = 200, description = "block requests with their lines and clocks")))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let late = match params.get("late").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::field("/late", "json", "true or false"));
        }
    };
    let mut policies = std::collections::BTreeSet::new();
    if late {
        let d = authorize(
            &st,
            &caller,
            Action::ListLateBlockRequests,
            &Resource::Reports,
            "block_requests?late",
        )
        .await?;
        policies.extend(d.policies);
    }
    // Heads read their own organization's; the integrator every organization's (Cedar decides each).
    let all_allowed = st
        .policy
        .decide(
            &caller.actor,
            Action::ReadBlockRequest,
            &Resource::BlockRequest {
                id: "any".into(),
                applicant_bin: String::new(),
            },
        )
        .map_err(ApiError::internal)?;
    let narrow = (!all_allowed.allowed).then_some(caller.actor.bin.as_str());
    policies.extend(all_allowed.policies);
    let rows = st
        .store
        .block_requests(narrow, late, 1000)
        .await
        .map_err(ApiError::store)?;
    let mut out = vec![];
    for r in &rows {
        let d = st
            .policy
            .decide(
                &caller.actor,
                Action::ReadBlockRequest,
                &Resource::BlockRequest {
                    id: r.id.to_string(),
                    applicant_bin: r.applicant_bin.clone(),
                },
            )
            .map_err(ApiError::internal)?;
        if d.allowed {
            policies.extend(d.policies);
            out.push(request_json(r));
        }
    }
    let mut e = caller_entry(
        &caller,
        "read_block_request",
        "block_requests".into(),
        &allowed(policies.into_iter().collect()),
    );
    e.details = json!({"late": late, "count": out.len()});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(json!({ "block_requests": out })))
}

async fn load(
    st: &AppState,
    caller: &Caller,
    id: i64,
) -> ApiResult<(BlockRequestRow, qoljetim_policy::Decision)> {
    let row = st
        .store
        .block_request(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("block request {id}")))?;
    let d = authorize(
        st,
        caller,
        Action::ReadBlockRequest,
        &Resource::BlockRequest {
            id: id.to_string(),
            applicant_bin: row.applicant_bin.clone(),
        },
        &format!("block_request/{id}"),
    )
    .await?;
    Ok((row, d))
}

#[utoipa::path(get, path = "/api/v1/block-requests/{id}", params(("id" = i64, Path)),
    responses((status = 200, description = "the request, its lines and clocks"), (status = 403, description = "forbidden")))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let (row, d) = load(&st, &caller, id).await?;
    let e = caller_entry(
        &caller,
        "read_block_request",
        format!("block_request/{id}"),
        &d,
    );
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(request_json(&row)))
}

#[utoipa::path(get, path = "/api/v1/block-requests/{id}/evidence", params(("id" = i64, Path)),
    responses((status = 200, description = "the signed bytes (application/pkcs7-mime)")))]
pub async fn evidence(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let (_, d) = load(&st, &caller, id).await?;
    let bytes = st
        .store
        .block_request_evidence(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("block request {id}")))?;
    let e = caller_entry(
        &caller,
        "read_block_request_evidence",
        format!("block_request/{id}"),
        &d,
    );
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkcs7-mime"),
    );
    Ok(r)
}

//! Training before first work (Order 270 §12–§13) and the §15 duties: lessons, attempts, sessions,
//! enrolment, attendance, the integrator's report, the acceptance of a grant's duties.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use qoljetim_service::{
    AcceptDutiesBody, AttemptBody, AttemptView, AttendanceBody, DutiesView, EnrolBody,
    EnrolmentView, EvidenceFile, GrantView, LessonSummaryView, LessonView, SignedBody,
    TrainingSessionBody, TrainingSessionView, parse_json,
};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

/// `GET /lessons`: the current lessons (one per system) with the caller's standing in each.
#[utoipa::path(get, path = "/api/v1/lessons", responses((status = 200, body = [LessonSummaryView])))]
pub async fn lessons(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<LessonSummaryView>>> {
    Ok(Json(st.lessons(&caller).await?))
}

/// `GET /lessons/{id}`: the lesson's current version — steps and questions in Kazakh and Russian,
/// never the right answers.
#[utoipa::path(get, path = "/api/v1/lessons/{id}", params(("id" = String, Path)),
    responses((status = 200, body = LessonView), (status = 404, description = "not-found")))]
pub async fn lesson(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LessonView>> {
    Ok(Json(st.lesson(&caller, &id).await?))
}

/// `POST /lessons/{id}/attempts`: one choice per question (counted from 1); a pass at the lesson's
/// mark trains the caller for its system and activates their grants waiting for it (Order 270 §13).
#[utoipa::path(post, path = "/api/v1/lessons/{id}/attempts", params(("id" = String, Path)), request_body = AttemptBody,
    responses((status = 201, body = AttemptView, description = "the attempt, scored; `activated_grants` names the grants it activated"),
              (status = 400, description = "validation: /version, /answers, /answers/N")))]
pub async fn attempt(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AttemptView>)> {
    let v = st.attempt_lesson(&caller, &id, parse_json(&body)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /duties`: the duties of Order 270 §15 a user accepts before each new grant's first read.
#[utoipa::path(get, path = "/api/v1/duties", responses((status = 200, body = DutiesView)))]
pub async fn duties(State(st): State<AppState>, _caller: Caller) -> Json<DutiesView> {
    Json(st.duties())
}

/// `POST /grants/{id}/duties`: the grant's person accepts the §15 duties (`{"version": 1, "accept":
/// true}`); data reads of the grant wait for it.
#[utoipa::path(post, path = "/api/v1/grants/{id}/duties", params(("id" = i64, Path)), request_body = AcceptDutiesBody,
    responses((status = 200, body = GrantView), (status = 404, description = "not-found: no such grant of the caller"),
              (status = 409, description = "wrong-state: accepted before, or the grant has ended")))]
pub async fn accept_duties(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<GrantView>> {
    Ok(Json(
        st.accept_duties(&caller, id, parse_json(&body)).await?,
    ))
}

/// `GET /training/sessions`: the interactive sessions, soonest first.
#[utoipa::path(get, path = "/api/v1/training/sessions", responses((status = 200, body = [TrainingSessionView])))]
pub async fn sessions(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TrainingSessionView>>> {
    Ok(Json(st.training_sessions(&caller).await?))
}

/// `POST /training/sessions`: the integrator schedules a session (Order 270 §12).
#[utoipa::path(post, path = "/api/v1/training/sessions", request_body = TrainingSessionBody,
    responses((status = 201, body = TrainingSessionView), (status = 403, description = "forbidden: the integrator's")))]
pub async fn schedule(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<TrainingSessionView>)> {
    let v = st.schedule_session(&caller, parse_json(&body)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/api/v1/training/sessions/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = TrainingSessionView), (status = 404, description = "not-found")))]
pub async fn session(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<TrainingSessionView>> {
    Ok(Json(st.training_session(&caller, id).await?))
}

/// `GET /training/sessions/{id}/enrolments`: all for the integrator; a user's own, a head's
/// organization's.
#[utoipa::path(get, path = "/api/v1/training/sessions/{id}/enrolments", params(("id" = i64, Path)),
    responses((status = 200, body = [EnrolmentView])))]
pub async fn enrolments(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<EnrolmentView>>> {
    Ok(Json(st.enrolments(&caller, id).await?))
}

/// `POST /training/sessions/{id}/enrolments`: enrol the caller (`{}`), or, a head, an employee of
/// the organization who holds a live grant (`{"iin": "…"}`).
#[utoipa::path(post, path = "/api/v1/training/sessions/{id}/enrolments", params(("id" = i64, Path)), request_body = EnrolBody,
    responses((status = 201, body = EnrolmentView), (status = 409, description = "already-enrolled, session-full, wrong-state (held)")))]
pub async fn enrol(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<EnrolmentView>)> {
    let body = if body.iter().all(|b| b.is_ascii_whitespace()) {
        Ok(EnrolBody::default())
    } else {
        parse_json(&body)
    };
    let v = st.enrol(&caller, id, body).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `POST /training/sessions/{id}/attendance`: the integrator records who attended a session that has
/// begun; attendance trains them, and the report's 5-working-day clock starts (Order 270 §13).
#[utoipa::path(post, path = "/api/v1/training/sessions/{id}/attendance", params(("id" = i64, Path)), request_body = AttendanceBody,
    responses((status = 200, body = TrainingSessionView), (status = 409, description = "not-enrolled, wrong-state")))]
pub async fn attendance(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<TrainingSessionView>> {
    Ok(Json(
        st.record_attendance(&caller, id, parse_json(&body)).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct FormatQuery {
    pub(crate) format: Option<String>,
}

/// `GET /training/sessions/{id}/report?format=json|csv|pdf`: the report on a held session; the JSON
/// is the content the integrator signs.
#[utoipa::path(get, path = "/api/v1/training/sessions/{id}/report", params(("id" = i64, Path), ("format" = Option<String>, Query, description = "json, csv or pdf")),
    responses((status = 200, description = "the session, its trainees, attendance and lesson results"),
              (status = 409, description = "wrong-state: not held yet")))]
pub async fn report(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<FormatQuery>,
) -> ApiResult<Response> {
    super::reports::answer(st.training_report(&caller, id, q.format).await?)
}

/// `POST /training/sessions/{id}/report`: the integrator sends the report, signed (CMS with the
/// report's JSON, by its first head or signing right); kept as evidence.
#[utoipa::path(post, path = "/api/v1/training/sessions/{id}/report", params(("id" = i64, Path)), request_body = SignedBody,
    responses((status = 200, body = TrainingSessionView), (status = 400, description = "a signature problem, or /signed_cms report_content")))]
pub async fn send_report(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<TrainingSessionView>> {
    Ok(Json(st.send_training_report(&caller, id, &body).await?))
}

#[utoipa::path(get, path = "/api/v1/training/sessions/{id}/report/evidence", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pkcs7-mime", description = "the signed report, unchanged")))]
pub async fn report_evidence(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let bytes = st.training_report_evidence(&caller, id).await?;
    Ok(super::evidence(EvidenceFile {
        bytes,
        filename: format!("training-report-{id}.p7m"),
        content_type: "application/pkcs7-mime",
    }))
}

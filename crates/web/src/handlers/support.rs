//! The support service (Order 270 §14): requests, messages, assignment, resolution, attachments.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use qoljetim_service::{
    AttachmentView, SupportAssignBody, SupportMessageBody, SupportRequestBody, SupportRequestView,
    parse_json,
};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

/// `POST /support/requests`: a user, head or operator opens a request (work, technical or training;
/// kk or ru; linked to an application, a grant or a data query when it is about one).
#[utoipa::path(post, path = "/api/v1/support/requests", request_body = SupportRequestBody,
    responses((status = 201, body = SupportRequestView), (status = 400, description = "validation: /category, /language, /subject, /message, /linked")))]
pub async fn open(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<SupportRequestView>)> {
    let v = st.open_support_request(&caller, parse_json(&body)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /support/requests`: the caller's own requests; the support staff's: everyone's.
#[utoipa::path(get, path = "/api/v1/support/requests", responses((status = 200, body = [SupportRequestView])))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<SupportRequestView>>> {
    Ok(Json(st.support_requests(&caller).await?))
}

/// `GET /support/requests/{id}`: the request with its messages and attachments (another requester's
/// is not found).
#[utoipa::path(get, path = "/api/v1/support/requests/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = SupportRequestView), (status = 404, description = "not-found")))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<SupportRequestView>> {
    Ok(Json(st.support_request(&caller, id).await?))
}

/// `POST /support/requests/{id}/messages`: the requester writes, or the support staff answer (the
/// first answer stops the clock; the requester is told in the app and by e-mail).
#[utoipa::path(post, path = "/api/v1/support/requests/{id}/messages", params(("id" = i64, Path)), request_body = SupportMessageBody,
    responses((status = 201, body = SupportRequestView), (status = 409, description = "wrong-state: resolved")))]
pub async fn message(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<SupportRequestView>)> {
    let v = st.support_message(&caller, id, parse_json(&body)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `POST /support/requests/{id}/assign`: a support agent assigns the request (`{}`: to themselves).
#[utoipa::path(post, path = "/api/v1/support/requests/{id}/assign", params(("id" = i64, Path)), request_body = SupportAssignBody,
    responses((status = 200, body = SupportRequestView)))]
pub async fn assign(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<SupportRequestView>> {
    let body = if body.iter().all(|b| b.is_ascii_whitespace()) {
        Ok(SupportAssignBody::default())
    } else {
        parse_json(&body)
    };
    Ok(Json(st.assign_support_request(&caller, id, body).await?))
}

/// `POST /support/requests/{id}/resolve`: the requester or the support staff resolve it.
#[utoipa::path(post, path = "/api/v1/support/requests/{id}/resolve", params(("id" = i64, Path)),
    responses((status = 200, body = SupportRequestView), (status = 409, description = "wrong-state: resolved before")))]
pub async fn resolve(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<SupportRequestView>> {
    Ok(Json(st.resolve_support_request(&caller, id).await?))
}

#[derive(Debug, Deserialize)]
pub struct AttachQuery {
    filename: Option<String>,
}

/// `POST /support/requests/{id}/attachments?filename=…`: the file's bytes as the body (at most
/// 10 MiB; a PDF, PNG or JPEG by its content).
#[utoipa::path(post, path = "/api/v1/support/requests/{id}/attachments", params(("id" = i64, Path), ("filename" = Option<String>, Query)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentView), (status = 400, description = "/attachment attachment_type"), (status = 413, description = "payload-too-large")))]
pub async fn attach(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<AttachQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    let v = st
        .attach_to_support_request(&caller, id, q.filename, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/api/v1/support/requests/{id}/attachments/{attachment}", params(("id" = i64, Path), ("attachment" = i64, Path)),
    responses((status = 200, description = "the file as received")))]
pub async fn attachment(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, attachment)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    Ok(super::evidence(
        st.support_attachment(&caller, id, attachment).await?,
    ))
}

//! Applications (Order 270 §8–§9): submit a signed form, list and read, the evidence, review, grant.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use qoljetim_service::{
    ApplicationView, GrantBody, GrantCommand, GrantResultView, ListQuery, ReviewBody,
    ReviewCommand, SignedBody, parse_json,
};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

#[utoipa::path(post, path = "/api/v1/applications", request_body = SignedBody,
    responses((status = 201, body = ApplicationView, description = "the application this signed form made"),
        (status = 200, body = ApplicationView, description = "the same signed content again: the application it made before"),
        (status = 400, description = "problem+json"), (status = 401, description = "problem+json: no session"),
        (status = 403, description = "problem+json: a session of another organization")))]
pub async fn submit(
    State(st): State<AppState>,
    session: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ApplicationView>)> {
    let s = st.submit_application(&session, &body).await?;
    Ok((created_or_found(s.created), Json(s.view)))
}

/// `201 Created` for a new record, `200 OK` for the one the same signed content made before.
pub(crate) fn created_or_found(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

#[utoipa::path(get, path = "/api/v1/applications", params(("status" = Option<String>, Query), ("limit" = Option<i64>, Query, description = "1 to 500, default 100"), ("offset" = Option<i64>, Query, description = "how many to skip, in the list's order")),
    responses((status = 200, body = [ApplicationView])))]
pub async fn list_applications(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<ApplicationView>>> {
    Ok(Json(st.list_applications(&caller, q).await?))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}", params(("id" = i64, Path)), responses((status = 200, body = ApplicationView)))]
pub async fn get_application(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(st.application(&caller, id).await?))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}/evidence", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pkcs7-mime", description = "the signed bytes, unchanged")))]
pub async fn evidence(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(super::evidence(st.application_evidence(&caller, id).await?))
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/review", params(("id" = i64, Path)), request_body = ReviewBody,
    responses((status = 200, body = ApplicationView), (status = 409, description = "problem+json")))]
pub async fn review(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<ApplicationView>> {
    let cmd = ReviewCommand {
        application: id,
        body: parse_json(&body),
    };
    Ok(Json(st.review(&caller, cmd).await?))
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/grant", params(("id" = i64, Path)), request_body = GrantBody,
    responses((status = 201, body = GrantResultView), (status = 409, description = "problem+json")))]
pub async fn grant(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<GrantResultView>)> {
    // An empty body grants with no extra fiscal years.
    let body = if body.iter().all(|b| b.is_ascii_whitespace()) {
        Ok(GrantBody::default())
    } else {
        parse_json(&body)
    };
    let cmd = GrantCommand {
        application: id,
        body,
    };
    Ok((StatusCode::CREATED, Json(st.grant(&caller, cmd).await?)))
}

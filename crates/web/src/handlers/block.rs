//! The employing body's block request (Order 270 §9): submit, list, read, the evidence.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use qoljetim_service::{BlockRequestList, BlockRequestView, ServiceError, SignedBody};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

/// `POST /block-requests`: a signed-in head of the organization posts the CMS its head signed.
#[utoipa::path(post, path = "/api/v1/block-requests", request_body = SignedBody,
    responses((status = 201, body = BlockRequestView, description = "the block request this signed document made"),
              (status = 200, body = BlockRequestView, description = "the same signed content again: the request it made before"),
              (status = 400, description = "a line whose IIN holds no grant of the organization names /lines/N/iin; nothing applied"),
              (status = 403, description = "forbidden, not-eligible")))]
pub async fn submit(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<BlockRequestView>)> {
    let s = st.submit_block_request(&caller, &body).await?;
    Ok((
        super::applications::created_or_found(s.created),
        Json(s.view),
    ))
}

#[derive(Debug, Deserialize)]
pub struct LateQuery {
    late: Option<String>,
}

/// `GET /block-requests[?late=true]`: heads see their organization's; the integrator sees all and can
/// list the late ones.
#[utoipa::path(get, path = "/api/v1/block-requests", params(("late" = Option<bool>, Query)),
    responses((status = 200, body = BlockRequestList)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<LateQuery>,
) -> ApiResult<Json<BlockRequestList>> {
    let late = match q.late.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ServiceError::field("/late", "json", "true or false")),
    };
    Ok(Json(st.block_requests(&caller, late).await?))
}

#[utoipa::path(get, path = "/api/v1/block-requests/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = BlockRequestView), (status = 403, description = "forbidden")))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<BlockRequestView>> {
    Ok(Json(st.block_request(&caller, id).await?))
}

#[utoipa::path(get, path = "/api/v1/block-requests/{id}/evidence", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pkcs7-mime", description = "the signed bytes, unchanged")))]
pub async fn evidence(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(super::evidence(
        st.block_request_evidence(&caller, id).await?,
    ))
}

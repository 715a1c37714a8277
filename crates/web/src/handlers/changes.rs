//! Change requests (Order 270 §10) and the deployed versions.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use qoljetim_service::{
    ChangeRequestBody, ChangeRequestView, DeploymentView, SignedBody, parse_json,
};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

/// `POST /change-requests`: the integrator drafts a request; the rule of competence routes it.
#[utoipa::path(post, path = "/api/v1/change-requests", request_body = ChangeRequestBody,
    responses((status = 201, body = ChangeRequestView), (status = 403, description = "forbidden: the integrator's")))]
pub async fn submit(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ChangeRequestView>)> {
    let v = st.submit_change_request(&caller, parse_json(&body)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /change-requests`: both sides see every request with its decisions.
#[utoipa::path(get, path = "/api/v1/change-requests", responses((status = 200, body = [ChangeRequestView])))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ChangeRequestView>>> {
    Ok(Json(st.change_requests(&caller).await?))
}

#[utoipa::path(get, path = "/api/v1/change-requests/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = ChangeRequestView), (status = 404, description = "not-found")))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<ChangeRequestView>> {
    Ok(Json(st.change_request(&caller, id).await?))
}

/// `PUT /change-requests/{id}`: the integrator revises a returned request and submits it again.
#[utoipa::path(put, path = "/api/v1/change-requests/{id}", params(("id" = i64, Path)), request_body = ChangeRequestBody,
    responses((status = 200, body = ChangeRequestView), (status = 409, description = "wrong-state: not returned")))]
pub async fn revise(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<ChangeRequestView>> {
    Ok(Json(
        st.revise_change_request(&caller, id, parse_json(&body))
            .await?,
    ))
}

/// `POST /change-requests/{id}/decisions`: a CMS over `{"change_request": id, "revision": n,
/// "decision": "agree"|"return"|"approve", "reasons": "…"}` signed by the deciding head.
#[utoipa::path(post, path = "/api/v1/change-requests/{id}/decisions", params(("id" = i64, Path)), request_body = SignedBody,
    responses((status = 200, body = ChangeRequestView), (status = 403, description = "forbidden: not the competent body"),
              (status = 409, description = "wrong-state")))]
pub async fn decide(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<ChangeRequestView>> {
    Ok(Json(st.decide_change_request(&caller, id, &body).await?))
}

#[utoipa::path(get, path = "/api/v1/change-requests/{id}/decisions/{decision}/evidence", params(("id" = i64, Path), ("decision" = i64, Path)),
    responses((status = 200, content_type = "application/pkcs7-mime", description = "the signed decision, unchanged")))]
pub async fn evidence(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, decision)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    Ok(super::evidence(
        st.change_decision_evidence(&caller, id, decision).await?,
    ))
}

/// `GET /deployments`: the deployed versions and the approved requests each implements.
#[utoipa::path(get, path = "/api/v1/deployments", responses((status = 200, body = [DeploymentView])))]
pub async fn deployments(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<DeploymentView>>> {
    Ok(Json(st.deployments(&caller).await?))
}

//! The organization registry (Order 270 §2.6): list and register.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use qoljetim_service::{OrganizationBody, OrganizationView, parse_json};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

#[utoipa::path(get, path = "/api/v1/organizations", responses((status = 200, body = [OrganizationView])))]
pub async fn list_organizations(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<OrganizationView>>> {
    Ok(Json(st.list_organizations(&caller).await?))
}

#[utoipa::path(post, path = "/api/v1/organizations", request_body = OrganizationBody,
    responses((status = 201, body = OrganizationView), (status = 409, description = "problem+json")))]
pub async fn create_organization(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<OrganizationView>)> {
    let view = st.create_organization(&caller, parse_json(&body)).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

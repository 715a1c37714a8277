//! The operators' daily work (issue 17): revoke a grant, edit or deactivate an organization, remove a
//! staff role.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use qoljetim_service::{
    EndedView, GrantView, Operator, OrganizationEditBody, OrganizationView, ReasonBody,
    SystemGrantView, parse_json,
};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

/// `POST /grants/{id}/revoke` `{"reason": "…"}`: the integrator ends one live grant now (status
/// `revoked`); its person's next read through it is refused.
#[utoipa::path(post, path = "/api/v1/grants/{id}/revoke", params(("id" = i64, Path)), request_body = ReasonBody,
    responses((status = 200, body = GrantView), (status = 409, description = "wrong-state: the grant has ended")))]
pub async fn revoke(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<GrantView>> {
    Ok(Json(
        st.revoke_grant(Operator::Caller(&caller), id, parse_json(&body))
            .await?,
    ))
}

/// `POST /system-grants/{id}/revoke` `{"reason": "…"}`: the integrator ends one information system's
/// live grant now (issue 18; status `revoked`).
#[utoipa::path(post, path = "/api/v1/system-grants/{id}/revoke", params(("id" = i64, Path)), request_body = ReasonBody,
    responses((status = 200, body = SystemGrantView), (status = 409, description = "wrong-state: the grant has ended")))]
pub async fn revoke_system(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<SystemGrantView>> {
    Ok(Json(
        st.revoke_system_grant(Operator::Caller(&caller), id, parse_json(&body))
            .await?,
    ))
}

/// `PUT /organizations/{bin}`: names, territory, administrator codes (by the rules of its kind); the
/// grants made before keep their scope.
#[utoipa::path(put, path = "/api/v1/organizations/{bin}", params(("bin" = String, Path)), request_body = OrganizationEditBody,
    responses((status = 200, body = OrganizationView), (status = 409, description = "organization-unknown")))]
pub async fn edit(
    State(st): State<AppState>,
    caller: Caller,
    Path(bin): Path<String>,
    body: Bytes,
) -> ApiResult<Json<OrganizationView>> {
    Ok(Json(
        st.edit_organization(Operator::Caller(&caller), &bin, parse_json(&body))
            .await?,
    ))
}

/// `POST /organizations/{bin}/deactivate` `{"reason": "…"}`: its live grants blocked and its sessions
/// ended at once; it applies no more.
#[utoipa::path(post, path = "/api/v1/organizations/{bin}/deactivate", params(("bin" = String, Path)), request_body = ReasonBody,
    responses((status = 200, body = EndedView), (status = 409, description = "wrong-state: deactivated before")))]
pub async fn deactivate(
    State(st): State<AppState>,
    caller: Caller,
    Path(bin): Path<String>,
    body: Bytes,
) -> ApiResult<Json<EndedView>> {
    Ok(Json(
        st.deactivate_organization(Operator::Caller(&caller), &bin, parse_json(&body))
            .await?,
    ))
}

/// `DELETE /staff/{bin}/{iin}/{role}`: one staff role ends; the person's sessions there end.
#[utoipa::path(delete, path = "/api/v1/staff/{bin}/{iin}/{role}", params(("bin" = String, Path), ("iin" = String, Path), ("role" = String, Path)),
    responses((status = 200, body = EndedView), (status = 404, description = "not-found")))]
pub async fn remove_staff(
    State(st): State<AppState>,
    caller: Caller,
    Path((bin, iin, role)): Path<(String, String, String)>,
) -> ApiResult<Json<EndedView>> {
    Ok(Json(
        st.remove_staff(Operator::Caller(&caller), &bin, &iin, &role)
            .await?,
    ))
}

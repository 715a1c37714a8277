//! Grants: the list (own, the organization's, all by policy).

use axum::Json;
use axum::extract::{Query, State};
use qoljetim_service::{GrantView, ListQuery};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

#[utoipa::path(get, path = "/api/v1/grants", params(("status" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query, description = "how many of the newest to skip"), ("own" = Option<bool>, Query, description = "only the caller's own grants")), responses((status = 200, body = [GrantView])))]
pub async fn list_grants(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<GrantView>>> {
    Ok(Json(st.list_grants(&caller, q).await?))
}

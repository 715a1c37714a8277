//! Calendar deadlines, the audit chain, health.

use axum::Json;
use axum::extract::{Query, State};
use qoljetim_service::{AuditQuery, AuditView, DeadlineQuery, DeadlineView, HealthView};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

#[utoipa::path(get, path = "/api/v1/calendar/deadline", params(("from" = String, Query), ("working_days" = u32, Query)),
    responses((status = 200, body = DeadlineView)))]
pub async fn deadline(
    State(st): State<AppState>,
    Query(q): Query<DeadlineQuery>,
) -> ApiResult<Json<DeadlineView>> {
    Ok(Json(st.deadline(q)?))
}

#[utoipa::path(get, path = "/api/v1/audit", params(("after" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = [AuditView])))]
pub async fn audit(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditView>>> {
    Ok(Json(st.audit_records(&caller, q).await?))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = HealthView), (status = 500, description = "the database cannot be reached")))]
pub async fn healthz(State(st): State<AppState>) -> ApiResult<Json<HealthView>> {
    Ok(Json(st.health().await?))
}

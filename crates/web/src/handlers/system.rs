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

/// Readiness for a balancer (issue 15): `200` when the database answers and the budget data is
/// loaded, `503` naming the part that is not.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = qoljetim_service::ReadinessView),
    (status = 503, body = qoljetim_service::ReadinessView, description = "not ready: the failing part is named")))]
pub async fn readyz(State(st): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let r = st.readiness().await;
    let status = if r.ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(r)).into_response()
}

//! The operators' reports: deadline compliance and the access registry, as JSON, CSV or PDF.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use qoljetim_service::{Report, ReportKind, ReportRequest, ServiceError};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

/// `GET /reports/deadlines?from&to&format`: each clock, met vs missed, median and worst working days.
#[utoipa::path(get, path = "/api/v1/reports/deadlines", params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("format" = Option<String>, Query, description = "json, csv or pdf")),
    responses((status = 200, description = "deadline compliance: clocks (met, missed, open, median and worst working days) and items")))]
pub async fn deadlines_report(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ReportRequest>,
) -> ApiResult<Response> {
    answer(st.report(&caller, ReportKind::Deadlines, q).await?)
}

/// `GET /reports/access-registry?on&format`: who has access to which system, scope and until when, and
/// who lost it and why.
#[utoipa::path(get, path = "/api/v1/reports/access-registry", params(("on" = Option<String>, Query), ("format" = Option<String>, Query, description = "json, csv or pdf")),
    responses((status = 200, description = "who has access (system, scope, until) and who lost it and why")))]
pub async fn registry_report(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ReportRequest>,
) -> ApiResult<Response> {
    answer(st.report(&caller, ReportKind::AccessRegistry, q).await?)
}

/// A report as JSON, or as the CSV or PDF file it was asked as.
pub(crate) fn answer(report: Report) -> ApiResult<Response> {
    let encoded = qoljetim_reports::encode(
        report.format.as_str(),
        &report.title,
        &report.subtitle,
        &report.tables,
    )
    .map_err(ServiceError::internal)?;
    let Some((bytes, ctype, ext)) = encoded else {
        return Ok(Json(report.body).into_response());
    };
    let name = format!("{}.{ext}", report.stem);
    Ok(super::download(bytes, ctype, Some(&name)))
}

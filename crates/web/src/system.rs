//! Calendar deadlines, the audit chain, health, and the panic handler.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use jiff::civil::Date;
use qoljetim_domain::application::FieldError;
use qoljetim_policy::{Action, Resource};
use qoljetim_store::Change;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::toolbox::*;

use crate::auth::Caller;
use crate::i18n::Lang;
use crate::problem::{ApiError, ApiResult, Problem, render};
use crate::views::*;

#[derive(Debug, Deserialize)]
pub struct DeadlineQuery {
    from: Option<String>,
    working_days: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/calendar/deadline", params(("from" = String, Query), ("working_days" = u32, Query)),
    responses((status = 200, body = DeadlineView)))]
pub async fn deadline(
    State(st): State<AppState>,
    Query(q): Query<DeadlineQuery>,
) -> ApiResult<Json<DeadlineView>> {
    let mut errors = vec![];
    let from = match q.from.as_deref().map(|f| (f, f.parse::<Date>())) {
        Some((f, Ok(d))) if f.len() == 10 => Some(d),
        Some(_) => {
            errors.push(FieldError::new("/from", "date_format", "a date YYYY-MM-DD"));
            None
        }
        None => {
            errors.push(FieldError::new("/from", "required", "required"));
            None
        }
    };
    let n = match q.working_days.as_deref().map(str::parse::<u32>) {
        Some(Ok(n)) if (1..=60).contains(&n) => Some(n),
        Some(_) => {
            errors.push(FieldError::new(
                "/working_days",
                "working_days_range",
                "from 1 to 60",
            ));
            None
        }
        None => {
            errors.push(FieldError::new("/working_days", "required", "required"));
            None
        }
    };
    let (Some(from), Some(n)) = (from, n) else {
        return Err(ApiError::validation(errors));
    };
    let d = st
        .calendar
        .deadline_from_date(from, n)
        .map_err(ApiError::internal)?;
    Ok(Json(DeadlineView {
        from: from.to_string(),
        working_days: n,
        due: d.due.to_string(),
        due_at: d.due_at.to_string(),
        provisional: d.provisional,
    }))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit", params(("after" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = [AuditView])))]
pub async fn audit(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditView>>> {
    let d = authorize(
        &st,
        &caller,
        Action::ReadAudit,
        &Resource::AuditLog,
        "audit",
    )
    .await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let mut records = match q.after {
        Some(after) => st.store.audit_records(after, limit).await,
        None => st.store.audit_tail(limit).await.map(|mut v| {
            v.reverse();
            v
        }),
    }
    .map_err(ApiError::store)?;
    records.truncate(limit as usize);
    let mut e = caller_entry(&caller, "read_audit", "audit".into(), &d);
    e.details = json!({"after": q.after, "returned": records.len()});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| AuditView {
                seq: r.seq,
                at: rfc3339_micros(r.at),
                actor: r.actor,
                actor_bin: r.actor_bin,
                action: r.action,
                resource: r.resource,
                outcome: r.outcome,
                ip: r.ip,
                policies: serde_json::from_str(&r.policies).unwrap_or_default(),
                details: serde_json::from_str(&r.details).unwrap_or(Value::Null),
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "{status, database, backend}"), (status = 500, description = "the database cannot be reached")))]
pub async fn healthz(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    sqlx_ping(&st).await?;
    Ok(Json(
        json!({"status": "ok", "backend": st.store.backend(), "version": env!("CARGO_PKG_VERSION")}),
    ))
}

pub(crate) async fn sqlx_ping(st: &AppState) -> ApiResult<()> {
    st.store
        .organizations()
        .await
        .map(|_| ())
        .map_err(ApiError::store)
}

pub fn panic_to_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    render(&ApiError::new(Problem::Internal), Lang::Kk)
}

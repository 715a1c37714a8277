//! Grants: their views and the list (own, the organization's, all by policy).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Query, State};
use qoljetim_policy::{Action, Decision, Resource};
use qoljetim_store::{Change, GrantRow};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::toolbox::*;

use crate::auth::Caller;
use crate::problem::{ApiError, ApiResult};
use crate::views::*;

pub(crate) fn grant_view(g: &GrantRow) -> GrantView {
    GrantView {
        id: g.id,
        application_id: g.application_id,
        line: g.line,
        person_iin: g.person_iin.clone(),
        organization_bin: g.organization_bin.clone(),
        system: g.system.clone(),
        status: g.status.clone(),
        valid_from: g.valid_from.clone(),
        valid_until: g.valid_until.clone(),
        access_until_requested: g.access_until_requested.clone(),
        access_until_effective: g.valid_until.clone(),
        notice: g.notice.clone(),
        scope: g.scope.clone(),
        extra_years_reason: g.extra_years_reason.clone(),
        ended_at: g.ended_at.map(rfc3339_micros),
        end_reason: g.end_reason.clone(),
        hr_event: g.hr_event_id,
    }
}

pub(crate) fn grant_resource(g: &GrantRow) -> Resource {
    Resource::Grant {
        id: g.id.to_string(),
        person_iin: g.person_iin.clone(),
        organization_bin: g.organization_bin.clone(),
    }
}

#[utoipa::path(get, path = "/api/v1/grants", params(("limit" = Option<i64>, Query)), responses((status = 200, body = [GrantView])))]
pub async fn list_grants(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<GrantView>>> {
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let probe = Resource::Grant {
        id: "probe".into(),
        person_iin: "000000000000".into(),
        organization_bin: "000000000000".into(),
    };
    let wide = decide(&st, &caller.actor, Action::ReadGrant, &probe)?.allowed;
    let candidates = st
        .store
        .grants(if wide { None } else { Some(&caller.actor.bin) }, limit)
        .await
        .map_err(ApiError::store)?;
    let mut out = vec![];
    let mut policies = BTreeSet::new();
    for g in candidates {
        if q.status.as_deref().is_some_and(|s| s != g.status) {
            continue;
        }
        let d = decide(&st, &caller.actor, Action::ReadGrant, &grant_resource(&g))?;
        if d.allowed {
            policies.extend(d.policies);
            out.push(grant_view(&g));
        }
    }
    let d = Decision {
        allowed: true,
        policies: policies.into_iter().collect(),
        errors: vec![],
    };
    let mut e = caller_entry(&caller, "read_grant", "grants".into(), &d);
    e.details = json!({"returned": out.len()});
    st.store
        .commit_touching(Change::None, e, touch(&caller))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(out))
}

/// The query of a list: a status to narrow by (applications) and how many.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub(crate) status: Option<String>,
    pub(crate) limit: Option<i64>,
}

//! Grants: their views and the list (own, the organization's, all by policy).

use std::collections::BTreeSet;

use qoljetim_domain::Scope;
use qoljetim_policy::{Action, Resource};
use qoljetim_store::GrantRow;
use serde::Deserialize;
use serde_json::json;

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::toolbox::*;
use crate::views::*;
use crate::{Caller, Service};

impl From<&GrantRow> for GrantView {
    fn from(g: &GrantRow) -> Self {
        GrantView {
            id: g.id,
            application_id: g.application_id,
            line: g.line,
            person_iin: g.person_iin.to_string(),
            organization_bin: g.organization_bin.to_string(),
            system: g.system.as_str().to_owned(),
            status: g.status.as_str().to_owned(),
            valid_from: g.valid_from.to_string(),
            valid_until: g.valid_until.to_string(),
            access_until_requested: g.access_until_requested.map(|d| d.to_string()),
            access_until_effective: g.valid_until.to_string(),
            notice: g.notice.clone(),
            scope: ScopeView::from(&g.scope),
            extra_years_reason: g.extra_years_reason.clone(),
            ended_at: g.ended_at.map(rfc3339_micros),
            end_reason: g.end_reason.clone(),
            hr_event: g.hr_event_id,
            days_left: None,
        }
    }
}

impl Service {
    /// A grant as the person reads it: with the days left when it is active (Almaty today).
    pub(crate) fn grant_view(&self, g: &GrantRow) -> GrantView {
        let mut v = GrantView::from(g);
        if g.status == qoljetim_domain::application::GrantStatus::Active {
            let today = self.calendar.almaty_date(self.clock.now());
            v.days_left = today
                .until(g.valid_until)
                .ok()
                .map(|span| i64::from(span.get_days()));
        }
        v
    }
}

impl From<&Scope> for ScopeView {
    fn from(s: &Scope) -> Self {
        ScopeView {
            fiscal_years: s.fiscal_years.clone(),
            levels: s.levels.iter().map(|l| l.as_str().to_owned()).collect(),
            territory: s.territory.as_ref().map(|t| t.to_string()),
            territory_prefix: s.territory_prefix.clone(),
            administrators: s
                .administrators
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
            territory_region: s.territory.as_ref().and_then(|t| t.region()).map(|r| {
                RegionNameView {
                    kk: r.name_kk.to_owned(),
                    ru: r.name_ru.to_owned(),
                    en: r.name_en.to_owned(),
                }
            }),
        }
    }
}

pub(crate) fn grant_resource(g: &GrantRow) -> Resource {
    Resource::Grant {
        id: g.id,
        person_iin: g.person_iin.clone(),
        organization_bin: g.organization_bin.clone(),
    }
}

impl Service {
    /// The grants the caller may read: their own, their organization's, or all (Cedar decides each).
    pub async fn list_grants(
        &self,
        caller: &Caller,
        q: ListQuery,
    ) -> ServiceResult<Vec<GrantView>> {
        let attempt = Attempt::default();
        let limit = q.limit.unwrap_or(500).clamp(1, 5000);
        // Cedar decides how wide the candidate set is; each candidate is then decided on its own.
        let wide = self
            .decide(&caller.actor, Action::ListAllGrants, &Resource::Registry)?
            .allowed;
        let candidates = self
            .store
            .grants(
                if wide {
                    None
                } else {
                    Some(caller.actor.bin.as_str())
                },
                limit,
            )
            .await
            .map_err(ServiceError::store)?;
        let mut out = vec![];
        let mut policies = BTreeSet::new();
        for g in candidates {
            if q.status.as_deref().is_some_and(|s| s != g.status.as_str()) {
                continue;
            }
            let d = self.decide(&caller.actor, Action::ReadGrant, &grant_resource(&g))?;
            if d.allowed {
                policies.extend(d.policies);
                out.push(self.grant_view(&g));
            }
        }
        let mut e = caller_entry(
            caller,
            "read_grant",
            "grants".into(),
            &allowed(policies.into_iter().collect()),
        );
        e.details = json!({"returned": out.len()});
        attempt.begin_for(caller, e);
        self.record(&attempt).await?;
        Ok(out)
    }
}

/// The query of a list: a status to narrow by and how many.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub limit: Option<i64>,
}

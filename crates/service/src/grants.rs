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
            trained_at: g.trained_at.map(rfc3339_micros),
            training_source: g.training_source.clone(),
            duties_required: g.duties_required,
            duties_accepted_at: g.duties_accepted_at.map(rfc3339_micros),
            revoke_reason: g.revoke_reason.clone(),
        }
    }
}

impl Service {
    /// A grant as the person reads it: with the days left when it is active (Almaty today).
    pub(crate) fn grant_view(&self, g: &GrantRow) -> GrantView {
        let mut v = GrantView::from(g);
        if g.status.is_live() {
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
        let offset = q.offset.unwrap_or(0).max(0);
        // Cedar decides how wide the candidate set is; each candidate is then decided on its own.
        let wide = self
            .decide(&caller.actor, Action::ListAllGrants, &Resource::Registry)?
            .allowed;
        let candidates = match q.own {
            // The caller's own grants, read directly (the home page of everyone).
            Some(true) => {
                let mut own = self
                    .store
                    .grants_of_person(caller.actor.iin.as_str(), caller.actor.bin.as_str())
                    .await
                    .map_err(ServiceError::store)?;
                own.truncate(limit as usize);
                own
            }
            _ => self
                .store
                .grants(
                    if wide {
                        None
                    } else {
                        Some(caller.actor.bin.as_str())
                    },
                    limit,
                    offset,
                )
                .await
                .map_err(ServiceError::store)?,
        };
        let mut out = vec![];
        let mut policies = BTreeSet::new();
        // Cedar's decision on a grant reads its person and organization, never its id (the policy
        // crate's property test `read_grant_does_not_depend_on_the_grant_id` holds it to that), so a
        // list asks once per pair: an organization's 500 grants of 20 people are 20 decisions.
        let mut decided: std::collections::HashMap<(String, String), bool> = Default::default();
        for g in candidates {
            if q.status.as_deref().is_some_and(|s| s != g.status.as_str()) {
                continue;
            }
            let pair = (g.person_iin.to_string(), g.organization_bin.to_string());
            let allowed = match decided.get(&pair) {
                Some(a) => *a,
                None => {
                    let d = self.decide(&caller.actor, Action::ReadGrant, &grant_resource(&g))?;
                    if d.allowed {
                        policies.extend(d.policies);
                    }
                    decided.insert(pair, d.allowed);
                    d.allowed
                }
            };
            if allowed {
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
    /// How many of the newest to skip (pages of a long list).
    pub offset: Option<i64>,
    /// Grants only: the caller's own (`?own=true`).
    pub own: Option<bool>,
}

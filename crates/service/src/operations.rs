//! The operators' daily work (issue 17): revoking one grant with a reason, editing an organization's
//! names and territory (the scope of grants made before stays as fixed on them, Order 270 §6),
//! deactivating an organization (its grants blocked, its sessions ended), removing a staff role. Signed
//! in, through Cedar and the audit chain; the CLI calls the same use cases as an operator.

use qoljetim_domain::application::FieldError;
use qoljetim_domain::{Bin, Iin, Role};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{Change, OperationsChange};
use serde_json::json;

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::grants::grant_resource;
use crate::organizations::parse_organization;
use crate::views::*;
use crate::{Caller, Service};

/// Who does an operator's change: a signed-in person (Cedar decides) or the command line on the
/// server, whose operator is trusted like `qoljetim staff add` and audited by their name.
pub enum Operator<'a> {
    Caller(&'a Caller),
    CommandLine(&'a str),
}

impl Operator<'_> {
    pub(crate) fn id(&self) -> String {
        match self {
            Operator::Caller(c) => c.actor_id(),
            Operator::CommandLine(name) => (*name).to_owned(),
        }
    }
    pub(crate) fn now(&self, st: &Service) -> i64 {
        match self {
            Operator::Caller(c) => c.now,
            Operator::CommandLine(_) => st.clock.now().as_microsecond(),
        }
    }
}

impl Service {
    /// Begins the audit record of an operator's change: Cedar's decision for a caller, the operator's
    /// name for the command line.
    pub(crate) fn operator_begins(
        &self,
        attempt: &Attempt,
        who: &Operator<'_>,
        action: Action,
        resource: &Resource,
        name: &str,
    ) -> ServiceResult<()> {
        match who {
            Operator::Caller(c) => self
                .authorize(attempt, c, action, resource, name)
                .map(|_| ()),
            Operator::CommandLine(op) => {
                attempt.begin(
                    crate::toolbox::entry(
                        (*op).to_owned(),
                        None,
                        action.as_str(),
                        name.to_owned(),
                        "allowed".into(),
                        "local",
                    ),
                    None,
                );
                Ok(())
            }
        }
    }
}

/// A reason: 3 to 500 characters, trimmed.
fn reason(b: &ReasonBody) -> ServiceResult<String> {
    let r = b.reason.trim();
    if r.chars().count() < 3 || r.chars().count() > 500 {
        return Err(ServiceError::field(
            "/reason",
            "reason_length",
            "a reason of 3 to 500 characters",
        ));
    }
    Ok(r.to_owned())
}

fn ended(out: &qoljetim_store::ChangeOutcome) -> EndedView {
    EndedView {
        grants_blocked: out.counts.get("grants_blocked").copied().unwrap_or(0),
        sessions_ended: out.counts.get("sessions_ended").copied().unwrap_or(0),
    }
}

impl Service {
    /// Ends one live grant now with the operator's reason (status `revoked`): its person's next data
    /// read through it is refused.
    pub async fn revoke_grant(
        &self,
        who: Operator<'_>,
        grant_id: i64,
        body: crate::Input<ReasonBody>,
    ) -> ServiceResult<GrantView> {
        let attempt = Attempt::default();
        let r = async {
            let g = self
                .store
                .grant(grant_id)
                .await
                .map_err(ServiceError::store)?
                .ok_or_else(|| ServiceError::not_found(format!("grant {grant_id}")))?;
            self.operator_begins(
                &attempt,
                &who,
                Action::RevokeGrant,
                &grant_resource(&g),
                &format!("grant/{grant_id}"),
            )?;
            let why = reason(&body?)?;
            attempt.update(|e| {
                e.details = json!({"grant": grant_id, "person": g.person_iin.as_str(),
                    "organization": g.organization_bin.as_str(), "reason": why})
            });
            self.commit(
                &attempt,
                Change::Operations(Box::new(OperationsChange::RevokeGrant {
                    grant_id,
                    reason: why,
                    by: who.id(),
                    at: who.now(self),
                })),
            )
            .await?;
            let g = self
                .store
                .grant(grant_id)
                .await
                .map_err(ServiceError::store)?
                .ok_or_else(|| ServiceError::not_found(format!("grant {grant_id}")))?;
            Ok(self.grant_view(&g))
        }
        .await;
        self.settle(attempt, r).await
    }

    /// Issue 18: ends one information system's live grant now with the operator's reason (status
    /// `revoked`).
    pub async fn revoke_system_grant(
        &self,
        who: Operator<'_>,
        id: i64,
        body: crate::Input<ReasonBody>,
    ) -> ServiceResult<SystemGrantView> {
        let attempt = Attempt::default();
        let r = async {
            let g = self
                .store
                .system_grant(id)
                .await
                .map_err(ServiceError::store)?
                .ok_or_else(|| ServiceError::not_found(format!("system grant {id}")))?;
            self.operator_begins(
                &attempt,
                &who,
                Action::RevokeGrant,
                &Resource::Registry,
                &format!("system_grant/{id}"),
            )?;
            let why = reason(&body?)?;
            attempt.update(|e| {
                e.details = json!({"system_grant": id, "information_system": g.information_system_id,
                    "organization": g.organization_bin, "reason": why})
            });
            self.commit(
                &attempt,
                Change::Operations(Box::new(OperationsChange::RevokeSystemGrant {
                    id,
                    reason: why,
                    by: who.id(),
                    at: who.now(self),
                })),
            )
            .await?;
            let g = self
                .store
                .system_grant(id)
                .await
                .map_err(ServiceError::store)?
                .ok_or_else(|| ServiceError::not_found(format!("system grant {id}")))?;
            Ok(SystemGrantView::from(&g))
        }
        .await;
        self.settle(attempt, r).await
    }

    pub(crate) async fn organization_row(
        &self,
        bin: &str,
    ) -> ServiceResult<qoljetim_store::OrganizationRow> {
        self.store
            .organization(bin)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| {
                ServiceError::new(crate::Problem::OrganizationUnknown {
                    bin: bin.to_owned(),
                })
            })
    }

    /// Edits an organization's names, territory and administrator codes by the rules of its kind; the
    /// grants made before keep their scope (new grants take the new territory).
    pub async fn edit_organization(
        &self,
        who: Operator<'_>,
        bin: &str,
        body: crate::Input<OrganizationEditBody>,
    ) -> ServiceResult<OrganizationView> {
        let attempt = Attempt::default();
        let r = async {
            self.operator_begins(
                &attempt,
                &who,
                Action::ManageOrganizations,
                &Resource::Registry,
                &format!("organization/{bin}"),
            )?;
            let row = self.organization_row(bin).await?;
            let b = body?;
            let org = parse_organization(&OrganizationBody {
                bin: row.bin.to_string(),
                name_kk: b.name_kk.clone(),
                name_ru: b.name_ru.clone(),
                kind: row.kind.as_str().to_owned(),
                territory: b.territory.clone(),
                administrators: b.administrators.clone(),
            })
            .map_err(ServiceError::validation)?;
            attempt.update(|e| {
                e.details = json!({"before": {"name_kk": row.name_kk, "name_ru": row.name_ru,
                    "territory": row.territory.as_ref().map(|t| t.to_string()),
                    "administrators": row.administrators.iter().map(|a| a.as_str()).collect::<Vec<_>>()},
                    "after": serde_json::to_value(&org).unwrap_or_default()})
            });
            self.commit(
                &attempt,
                Change::Operations(Box::new(OperationsChange::EditOrganization {
                    bin: row.bin.to_string(),
                    name_kk: org.name_kk.clone(),
                    name_ru: org.name_ru.clone(),
                    territory: org.territory.as_ref().map(|t| t.to_string()),
                    administrators: org
                        .administrators
                        .iter()
                        .map(|a| a.as_str().to_owned())
                        .collect(),
                })),
            )
            .await?;
            Ok(OrganizationView::from(&self.organization_row(bin).await?))
        }
        .await;
        self.settle(attempt, r).await
    }

    /// Deactivates an organization: its live grants are blocked and its sessions end at once; it
    /// applies no more (`organization-deactivated`).
    pub async fn deactivate_organization(
        &self,
        who: Operator<'_>,
        bin: &str,
        body: crate::Input<ReasonBody>,
    ) -> ServiceResult<EndedView> {
        let attempt = Attempt::default();
        let r = async {
            self.operator_begins(
                &attempt,
                &who,
                Action::ManageOrganizations,
                &Resource::Registry,
                &format!("organization/{bin}"),
            )?;
            let row = self.organization_row(bin).await?;
            let why = reason(&body?)?;
            attempt.update(|e| e.details = json!({"reason": why}));
            let out = self
                .commit(
                    &attempt,
                    Change::Operations(Box::new(OperationsChange::DeactivateOrganization {
                        bin: row.bin.to_string(),
                        reason: why,
                        at: who.now(self),
                    })),
                )
                .await?;
            Ok(ended(&out))
        }
        .await;
        self.settle(attempt, r).await
    }

    /// Removes one staff role (a reviewer, an integrator administrator, a support agent); the person's
    /// sessions in that organization end, since roles are read at sign-in.
    pub async fn remove_staff(
        &self,
        who: Operator<'_>,
        bin: &str,
        iin: &str,
        role: &str,
    ) -> ServiceResult<EndedView> {
        let attempt = Attempt::default();
        let r = async {
            self.operator_begins(
                &attempt,
                &who,
                Action::ManageStaff,
                &Resource::Registry,
                &format!("staff/{iin}@{bin}/{role}"),
            )?;
            let mut errors = vec![];
            let bin = Bin::parse(bin)
                .map_err(|e| errors.push(FieldError::new("/bin", e.rule(), e.to_string())))
                .ok();
            let iin = Iin::parse(iin)
                .map_err(|e| errors.push(FieldError::new("/iin", e.rule(), e.to_string())))
                .ok();
            let role = Role::parse(role)
                .filter(|r| {
                    matches!(
                        r,
                        Role::Reviewer | Role::IntegratorAdmin | Role::SupportAgent
                    )
                })
                .or_else(|| {
                    errors.push(FieldError::new(
                        "/role",
                        "staff_role",
                        "reviewer, integrator_admin or support_agent",
                    ));
                    None
                });
            let (Some(bin), Some(iin), Some(role)) = (bin, iin, role) else {
                return Err(ServiceError::validation(errors));
            };
            if let Operator::Caller(caller) = who
                && caller.actor.iin == iin
                && caller.actor.bin == bin
                && role == Role::IntegratorAdmin
            {
                return Err(ServiceError::field(
                    "/iin",
                    "not_yourself",
                    "an administrator does not remove their own role",
                ));
            }
            let out = self
                .commit(
                    &attempt,
                    Change::Operations(Box::new(OperationsChange::RemoveStaff {
                        iin: iin.to_string(),
                        bin: bin.to_string(),
                        role: role.as_str().to_owned(),
                    })),
                )
                .await
                .map_err(|e| match e.problem {
                    crate::Problem::NotFound { .. } => ServiceError::not_found(format!(
                        "staff role {} of {iin}@{bin}",
                        role.as_str()
                    )),
                    _ => e,
                })?;
            Ok(ended(&out))
        }
        .await;
        self.settle(attempt, r).await
    }
}

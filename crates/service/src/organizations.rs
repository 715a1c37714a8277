//! The organization registry (Order 270 §2.6): list, register, eligibility.

use qoljetim_domain::application::FieldError;
use qoljetim_domain::org::AdministratorCode;
use qoljetim_domain::{Bin, Kato, Organization, OrganizationKind};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{Change, OrganizationRow};
use serde_json::Value;

use crate::audit::Attempt;
use crate::error::{Input, Problem, ServiceError, ServiceResult};
use crate::toolbox::entry;
use crate::views::*;
use crate::{Caller, Service};

/// The domain organization of a stored record.
pub fn org_domain(o: &OrganizationRow) -> ServiceResult<Organization> {
    Organization::new(
        o.bin.clone(),
        o.name_kk.clone(),
        o.name_ru.clone(),
        o.kind
            .current()
            .ok_or_else(|| ServiceError::internal(format!("{} is of an excluded kind", o.bin)))?,
        o.territory.clone(),
        o.administrators.clone(),
    )
    .map_err(ServiceError::internal)
}

impl From<&OrganizationRow> for OrganizationView {
    fn from(o: &OrganizationRow) -> Self {
        OrganizationView {
            bin: o.bin.to_string(),
            name_kk: o.name_kk.clone(),
            name_ru: o.name_ru.clone(),
            kind: o.kind.as_str().to_owned(),
            territory: o.territory.as_ref().map(Kato::to_string),
            administrators: o
                .administrators
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
            eligible: o.excluded.is_none() && o.deactivated_at.is_none(),
            excluded: o.excluded.clone(),
            deactivated_at: o.deactivated_at.map(crate::toolbox::rfc3339_micros),
            deactivated_reason: o.deactivated_reason.clone(),
        }
    }
}

/// Order 270 §2.6: an organization of an excluded kind or BIN, or one marked not eligible, may neither
/// register nor apply.
pub fn not_eligible(
    st: &Service,
    bin: &str,
    kind: &str,
    marked: Option<&str>,
) -> Option<ServiceError> {
    (marked.is_some() || st.config.exclusions.excludes(bin, kind)).then(|| {
        ServiceError::new(Problem::NotEligible {
            bin: bin.to_owned(),
            kind: kind.to_owned(),
        })
    })
}

/// Parses an organization record, naming every field that breaks a rule.
pub fn parse_organization(b: &OrganizationBody) -> Result<Organization, Vec<FieldError>> {
    let mut errors = vec![];
    let bin = Bin::parse(&b.bin)
        .map_err(|e| errors.push(FieldError::new("/bin", e.rule(), e.to_string())))
        .ok();
    let kind = b
        .kind
        .parse::<OrganizationKind>()
        .map_err(|()| errors.push(FieldError::new("/kind", "unknown_kind", "not a known kind")))
        .ok();
    let territory = match b.territory.as_deref() {
        Some(t) => Kato::parse(t)
            .map(Some)
            .map_err(|e| errors.push(FieldError::new("/territory", e.rule(), e.to_string())))
            .unwrap_or(None),
        None => None,
    };
    let mut admins = vec![];
    for (i, a) in b.administrators.iter().enumerate() {
        match AdministratorCode::parse(a) {
            Ok(c) => admins.push(c),
            Err(r) => errors.push(FieldError::new(
                format!("/administrators/{i}"),
                r.rule(),
                r.to_string(),
            )),
        }
    }
    let (Some(bin), Some(kind), true) = (bin, kind, errors.is_empty()) else {
        return Err(errors);
    };
    Organization::new(
        bin,
        b.name_kk.trim().to_owned(),
        b.name_ru.trim().to_owned(),
        kind,
        territory,
        admins,
    )
    .map_err(|r| vec![FieldError::new(r.field(), r.rule(), r.to_string())])
}

impl Service {
    /// The registry of organizations (operators).
    pub async fn list_organizations(
        &self,
        caller: &Caller,
    ) -> ServiceResult<Vec<OrganizationView>> {
        let attempt = Attempt::default();
        let r = self.list_organizations_in(&attempt, caller).await;
        self.settle(attempt, r).await
    }

    async fn list_organizations_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
    ) -> ServiceResult<Vec<OrganizationView>> {
        self.authorize(
            attempt,
            caller,
            Action::ReadOrganizations,
            &Resource::Registry,
            "organizations",
        )?;
        let orgs = self
            .store
            .organizations()
            .await
            .map_err(ServiceError::store)?;
        self.record(attempt).await?;
        Ok(orgs.iter().map(OrganizationView::from).collect())
    }

    /// Order 270 §2.6: registers an organization that may apply (not of an excluded kind or BIN).
    pub async fn create_organization(
        &self,
        caller: &Caller,
        body: Input<OrganizationBody>,
    ) -> ServiceResult<OrganizationView> {
        let attempt = Attempt::default();
        let r = self.create_organization_in(&attempt, caller, body).await;
        self.settle(attempt, r).await
    }

    async fn create_organization_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        body: Input<OrganizationBody>,
    ) -> ServiceResult<OrganizationView> {
        self.authorize(
            attempt,
            caller,
            Action::ManageOrganizations,
            &Resource::Registry,
            "organizations",
        )?;
        self.register_organization(attempt, body?).await
    }

    /// The operator on the server's machine registers an organization (`qoljetim org add`): no policy
    /// decides (the operator has the machine); the same checks and record as through the API.
    pub async fn register_organization_as_operator(
        &self,
        operator: &str,
        body: OrganizationBody,
    ) -> ServiceResult<OrganizationView> {
        let attempt = Attempt::default();
        attempt.begin(
            entry(
                operator.to_owned(),
                None,
                "manage_organizations",
                "organizations".into(),
                "ok".into(),
                "local",
            ),
            None,
        );
        let r = self.register_organization(&attempt, body).await;
        self.settle(attempt, r).await
    }

    async fn register_organization(
        &self,
        attempt: &Attempt,
        parsed: OrganizationBody,
    ) -> ServiceResult<OrganizationView> {
        if let Some(err) = not_eligible(self, parsed.bin.trim(), parsed.kind.trim(), None) {
            return Err(err);
        }
        let org = parse_organization(&parsed).map_err(ServiceError::validation)?;
        attempt.update(|e| {
            e.resource = format!("organization/{}", org.bin);
            e.details = serde_json::to_value(&org).unwrap_or(Value::Null);
        });
        let change = Change::CreateOrganization {
            bin: org.bin.clone(),
            name_kk: org.name_kk.clone(),
            name_ru: org.name_ru.clone(),
            kind: org.kind.into(),
            territory: org.territory.clone(),
            administrators: org.administrators.clone(),
            created_at: self.clock.now().as_microsecond(),
        };
        self.commit(attempt, change).await?;
        let row = self
            .store
            .organization(org.bin.as_str())
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::internal("lost"))?;
        Ok(OrganizationView::from(&row))
    }
}

/// The kinds of organization the registry knows, applicants first (the registration form's choices).
pub fn organization_kinds() -> Vec<&'static str> {
    let mut kinds: Vec<_> = qoljetim_domain::OrganizationKind::ALL.to_vec();
    kinds.sort_by_key(|k| !k.is_applicant());
    kinds.into_iter().map(|k| k.as_str()).collect()
}

/// A registered staff role: who, in which organization, as what.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StaffView {
    pub iin: String,
    pub bin: String,
    pub role: String,
}

impl Service {
    /// The staff roles (reviewers, integrator administrators) for the operators; audited (IINs).
    pub async fn staff(&self, caller: &Caller) -> ServiceResult<Vec<StaffView>> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadStaff,
                &Resource::Registry,
                "staff",
            )?;
            let rows = self.store.staff().await.map_err(ServiceError::store)?;
            self.record(&attempt).await?;
            Ok(rows
                .into_iter()
                .map(|(iin, bin, role)| StaffView { iin, bin, role })
                .collect())
        }
        .await;
        self.settle(attempt, r).await
    }
}

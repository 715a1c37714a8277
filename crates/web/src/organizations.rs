//! The organization registry (Order 270 §2.6): list, register, eligibility.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qoljetim_domain::application::FieldError;
use qoljetim_domain::org::AdministratorCode;
use qoljetim_domain::{Bin, Kato, Organization, OrganizationKind};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{Change, OrganizationRow};
use serde_json::{Value, json};

use crate::AppState;
use crate::toolbox::*;

use crate::auth::Caller;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::views::*;

/// The domain organization of a stored record.
pub fn org_domain(o: &OrganizationRow) -> ApiResult<Organization> {
    let bin = Bin::parse(&o.bin).map_err(ApiError::internal)?;
    let kind = o
        .kind
        .parse::<OrganizationKind>()
        .map_err(|_| ApiError::internal("stored kind"))?;
    let territory = o
        .territory
        .as_deref()
        .map(Kato::parse)
        .transpose()
        .map_err(ApiError::internal)?;
    let admins = o
        .administrators
        .iter()
        .map(|a| AdministratorCode::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Organization::new(
        bin,
        o.name_kk.clone(),
        o.name_ru.clone(),
        kind,
        territory,
        admins,
    )
    .map_err(ApiError::internal)
}

pub(crate) fn org_json(o: &OrganizationRow) -> Value {
    json!({"bin": o.bin, "name_kk": o.name_kk, "name_ru": o.name_ru, "kind": o.kind, "territory": o.territory,
        "administrators": o.administrators, "eligible": o.excluded.is_none(), "excluded": o.excluded})
}

/// Order 270 §2.6: an organization of an excluded kind or BIN, or one marked not eligible, may neither
/// register nor apply.
pub fn not_eligible(
    st: &AppState,
    bin: &str,
    kind: &str,
    marked: Option<&str>,
) -> Option<ApiError> {
    (marked.is_some() || st.config.exclusions.excludes(bin, kind)).then(|| {
        ApiError::new(Problem::NotEligible)
            .arg("bin", bin)
            .arg("kind", kind)
    })
}

#[utoipa::path(get, path = "/api/v1/organizations", responses((status = 200, body = [OrganizationBody])))]
pub async fn list_organizations(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Value>>> {
    let d = authorize(
        &st,
        &caller,
        Action::ReadOrganizations,
        &Resource::Registry,
        "organizations",
    )
    .await?;
    let orgs = st.store.organizations().await.map_err(ApiError::store)?;
    st.store
        .commit_touching(
            Change::None,
            caller_entry(&caller, "read_organizations", "organizations".into(), &d),
            touch(&caller),
        )
        .await
        .map_err(ApiError::store)?;
    Ok(Json(orgs.iter().map(org_json).collect()))
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

#[utoipa::path(post, path = "/api/v1/organizations", request_body = OrganizationBody,
    responses((status = 201, body = OrganizationBody), (status = 409, description = "problem+json")))]
pub async fn create_organization(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let d = authorize(
        &st,
        &caller,
        Action::ManageOrganizations,
        &Resource::Registry,
        "organizations",
    )
    .await?;
    let mut e = caller_entry(&caller, "manage_organizations", "organizations".into(), &d);
    let parsed: OrganizationBody = match parse_json(&body) {
        Ok(p) => p,
        Err(err) => return Err(refuse(&st, e, err).await),
    };
    if let Some(err) = not_eligible(&st, parsed.bin.trim(), parsed.kind.trim(), None) {
        return Err(refuse(&st, e, err).await);
    }
    let org = match parse_organization(&parsed) {
        Ok(o) => o,
        Err(errors) => return Err(refuse(&st, e, ApiError::validation(errors)).await),
    };
    e.resource = format!("organization/{}", org.bin);
    e.details = serde_json::to_value(&org).unwrap_or(Value::Null);
    let change = Change::CreateOrganization {
        bin: org.bin.to_string(),
        name_kk: org.name_kk.clone(),
        name_ru: org.name_ru.clone(),
        kind: org.kind.as_str().to_owned(),
        territory: org.territory.as_ref().map(|t| t.to_string()),
        administrators: serde_json::to_string(&org.administrators).unwrap_or_else(|_| "[]".into()),
        created_at: st.clock.now().as_microsecond(),
    };
    st.store
        .commit_touching(change, e, touch(&caller))
        .await
        .map_err(|err| match err {
            qoljetim_store::StoreError::Conflict(qoljetim_store::Conflict::OrganizationExists) => {
                ApiError::new(Problem::OrganizationExists).arg("bin", &org.bin)
            }
            other => ApiError::store(other),
        })?;
    let row = st
        .store
        .organization(org.bin.as_str())
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::internal("lost"))?;
    Ok((StatusCode::CREATED, Json(org_json(&row))).into_response())
}

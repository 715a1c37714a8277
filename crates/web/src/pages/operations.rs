//! The operators' page (issue 14 item 2, first part): for the authorized body's reviewers and the
//! integrator's administrators — the registry of organizations, the late block requests, the reports
//! to download, the audit chain with its check, and (for the integrator) the e-mail outbox with
//! resend. Cedar decides each read in the use cases; a person
//! it refuses sees the refusal.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{AuditQuery, OrganizationBody, ServiceError};

use super::PageCaller;
use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;

#[derive(serde::Deserialize)]
pub(super) struct Check {
    check: Option<String>,
}

pub(super) async fn operations(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Query(q): Query<Check>,
) -> Response {
    page(
        &st,
        lang,
        &caller,
        None,
        q.check.as_deref() == Some("chain"),
    )
    .await
}

/// The page, with the refusal of a registration beside its form when there is one (and the
/// registration's fields kept).
async fn page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    refused: Option<(ServiceError, OrganizationBody)>,
    check_chain: bool,
) -> Response {
    let caller = caller.clone();
    let read = async {
        let me = st.me(&caller).await?;
        let organizations = st.list_organizations(&caller).await?;
        let staff = st.staff(&caller).await?;
        let late = st.block_requests(&caller, Ok(true)).await?.block_requests;
        // The whole chain is read to check it: on request, not on every visit (it grows with the log).
        let chain = match check_chain {
            true => Some(st.verify_audit(&caller).await?),
            false => None,
        };
        // The outbox is the integrator's (Cedar: `integrator-manages-outbox`); others do not see it.
        let outbox = match me.roles.iter().any(|r| r == "integrator_admin") {
            true => Some(st.outbox(&caller, None).await?),
            false => None,
        };
        let audit = st
            .audit_records(
                &caller,
                AuditQuery {
                    after: None,
                    limit: Some(50),
                },
            )
            .await?;
        Ok::<_, ServiceError>((me, (organizations, staff), late, chain, audit, outbox))
    };
    let (me, (organizations, staff), late, chain, mut audit, outbox) = match read.await {
        Ok(r) => r,
        Err(e) => return super::problem_page(st, lang, &e),
    };
    audit.reverse();
    let can_register = me.roles.iter().any(|r| r == "integrator_admin");
    let (problem, entered) = match refused {
        Some((e, body)) => (Some(crate::problem::localized(&e, lang)), Some(body)),
        None => (None, None),
    };
    st.pages.render(
        "operations.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/operations",
            organizations => Value::from(Serde(&organizations)),
            staff => Value::from(Serde(&staff)),
            late => Value::from(Serde(&late)),
            chain => chain.map(|c| Value::from(Serde(c))),
            audit => Value::from(Serde(&audit)),
            outbox => outbox.map(|o| Value::from(Serde(o))),
            can_register,
            kinds => qoljetim_service::organization_kinds(),
            problem => problem.map(|p| Value::from(Serde(p))),
            entered => entered.map(|b| Value::from(Serde(serde_json::json!({"bin": b.bin, "name_kk": b.name_kk,
                "name_ru": b.name_ru, "kind": b.kind, "territory": b.territory, "administrators": b.administrators.join(", ")})))),
        },
    )
}

/// Registers an organization (Order 270 §2.6) with the API's use case; refused, the form shows why.
pub(super) async fn register(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| super::form_field(&form, name).unwrap_or_default();
    let body = OrganizationBody {
        bin: field("bin"),
        name_kk: field("name_kk"),
        name_ru: field("name_ru"),
        kind: field("kind"),
        territory: super::form_field(&form, "territory"),
        administrators: field("administrators")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    match st.create_organization(&caller, Ok(body.clone())).await {
        Ok(_) => Redirect::to("/operations#organizations").into_response(),
        Err(e) => {
            let status = crate::problem::ApiError::from(e.clone()).status;
            let mut r = page(&st, lang, &caller, Some((e, body)), false).await;
            *r.status_mut() = status;
            r
        }
    }
}

/// Puts an uncertain or failed e-mail back in the queue, then back to the outbox.
pub(super) async fn resend(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
) -> Response {
    match st.resend_email(&caller, id).await {
        Ok(()) => Redirect::to("/operations#outbox").into_response(),
        Err(e) => super::problem_page(&st, lang, &e),
    }
}

/// Issue 17: one organization for the integrator — its names and territory to edit (the grants made
/// before keep their scope; the page says so) and its deactivation with a reason.
pub(super) async fn organization(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(bin): Path<String>,
) -> Response {
    organization_page(&st, lang, &caller, &bin, None).await
}

async fn organization_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    bin: &str,
    problem: Option<ServiceError>,
) -> Response {
    let (me, list) = match (st.me(caller).await, st.list_organizations(caller).await) {
        (Ok(me), Ok(l)) => (me, l),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(st, lang, &e),
    };
    let Some(org) = list.into_iter().find(|o| o.bin == bin) else {
        return super::problem_page(
            st,
            lang,
            &ServiceError::not_found(format!("organization {bin}")),
        );
    };
    st.pages.render(
        "organization.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/operations/organizations/{bin}"),
            o => Value::from(Serde(&org)),
            problem => super::problem_value(problem, lang),
        },
    )
}

pub(super) async fn edit_organization(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(bin): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| super::form_field(&form, name).unwrap_or_default();
    let body = qoljetim_service::OrganizationEditBody {
        name_kk: field("name_kk"),
        name_ru: field("name_ru"),
        territory: super::form_field(&form, "territory"),
        administrators: field("administrators")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let done = st
        .edit_organization(qoljetim_service::Operator::Caller(&caller), &bin, Ok(body))
        .await;
    match done {
        Ok(_) => Redirect::to(&format!("/operations/organizations/{bin}")).into_response(),
        Err(e) => organization_page(&st, lang, &caller, &bin, Some(e)).await,
    }
}

pub(super) async fn deactivate_organization(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(bin): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let body = qoljetim_service::ReasonBody {
        reason: super::form_field(&form, "reason").unwrap_or_default(),
    };
    let done = st
        .deactivate_organization(qoljetim_service::Operator::Caller(&caller), &bin, Ok(body))
        .await;
    match done {
        Ok(_) => Redirect::to(&format!("/operations/organizations/{bin}")).into_response(),
        Err(e) => organization_page(&st, lang, &caller, &bin, Some(e)).await,
    }
}

/// Removes one staff role (`bin`, `iin`, `role` of the form), then back to the staff list.
pub(super) async fn remove_staff(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| super::form_field(&form, name).unwrap_or_default();
    let done = st
        .remove_staff(
            qoljetim_service::Operator::Caller(&caller),
            &field("bin"),
            &field("iin"),
            &field("role"),
        )
        .await;
    match done {
        Ok(_) => Redirect::to("/operations#staff").into_response(),
        Err(e) => super::problem_page_back(&st, lang, &e, "/operations#staff"),
    }
}

/// Revokes one grant with the reason of the form, then back to the page of grants.
pub(super) async fn revoke_grant(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let body = qoljetim_service::ReasonBody {
        reason: super::form_field(&form, "reason").unwrap_or_default(),
    };
    match st
        .revoke_grant(qoljetim_service::Operator::Caller(&caller), id, Ok(body))
        .await
    {
        Ok(_) => Redirect::to("/grants").into_response(),
        Err(e) => super::problem_page_back(&st, lang, &e, "/grants"),
    }
}

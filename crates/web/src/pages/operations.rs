//! The operators' page (issue 14 item 2, first part): for the authorized body's reviewers and the
//! integrator's administrators — the registry of organizations, the late block requests, the reports
//! to download, the audit chain with its check, and (for the integrator) the e-mail outbox with
//! resend. Cedar decides each read in the use cases; a person
//! it refuses sees the refusal.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{AuditQuery, ServiceError};

use super::PageCaller;
use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;

pub(super) async fn operations(
    State(st): State<AppState>,
    lang: Lang,
    caller: PageCaller,
) -> Response {
    let Some(caller) = caller.0 else {
        return Redirect::to("/sign-in").into_response();
    };
    let read = async {
        let me = st.me(&caller).await?;
        let organizations = st.list_organizations(&caller).await?;
        let late = st.block_requests(&caller, Ok(true)).await?.block_requests;
        let chain = st.verify_audit(&caller).await?;
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
        Ok::<_, ServiceError>((me, organizations, late, chain, audit, outbox))
    };
    let (me, organizations, late, chain, mut audit, outbox) = match read.await {
        Ok(r) => r,
        Err(e) => return super::problem_page(&st, lang, &e),
    };
    audit.reverse();
    st.pages.render(
        "operations.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/operations",
            organizations => Value::from(Serde(&organizations)),
            late => Value::from(Serde(&late)),
            chain => Value::from(Serde(&chain)),
            audit => Value::from(Serde(&audit)),
            outbox => outbox.map(|o| Value::from(Serde(o))),
        },
    )
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

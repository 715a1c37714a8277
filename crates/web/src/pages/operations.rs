//! The operators' page (issue 14 item 2, first part): for the authorized body's reviewers and the
//! integrator's administrators — the registry of organizations, the late block requests, the reports
//! to download, and the audit chain with its check. Cedar decides each read in the use cases; a person
//! it refuses sees the refusal.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{AuditQuery, ServiceError};

use super::PageCaller;
use crate::AppState;
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
        let audit = st
            .audit_records(
                &caller,
                AuditQuery {
                    after: None,
                    limit: Some(50),
                },
            )
            .await?;
        Ok::<_, ServiceError>((me, organizations, late, chain, audit))
    };
    let (me, organizations, late, chain, mut audit) = match read.await {
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
        },
    )
}

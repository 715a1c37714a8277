//! Change-request pages (Order 270 §10): the list and the integrator's draft form; a request with its
//! history, the integrator's revision of a returned one, and the decision a head signs with NCALayer
//! (the exact JSON shown, then signed and posted to the API, like an application).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{ChangeRequestBody, ServiceError};
use serde::Deserialize;

use super::{PageCaller, form_field};
use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;

type Form = axum::Form<Vec<(String, String)>>;

fn body(form: &[(String, String)]) -> ChangeRequestBody {
    let f = |n: &str| form_field(form, n).unwrap_or_default();
    ChangeRequestBody {
        title: f("title"),
        what: f("what"),
        why: f("why"),
        component: f("component"),
        risk: f("risk"),
        rollback: f("rollback"),
    }
}

pub(super) async fn list(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
) -> Response {
    list_page(&st, lang, &caller, None).await
}

async fn list_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    problem: Option<ServiceError>,
) -> Response {
    let (me, list) = match (st.me(caller).await, st.change_requests(caller).await) {
        (Ok(me), Ok(l)) => (me, l),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(st, lang, &e),
    };
    st.pages.render(
        "changes.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/changes",
            changes => Value::from(Serde(&list)),
            problem => super::problem_value(problem, lang),
        },
    )
}

pub(super) async fn submit(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    axum::Form(form): Form,
) -> Response {
    match st.submit_change_request(&caller, Ok(body(&form))).await {
        Ok(v) => Redirect::to(&format!("/changes/{}", v.id)).into_response(),
        Err(e) => list_page(&st, lang, &caller, Some(e)).await,
    }
}

/// `?decision=agree|return|approve&reasons=…`: the decision document to sign.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Prepare {
    decision: Option<String>,
    reasons: Option<String>,
}

pub(super) async fn request(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<Prepare>,
) -> Response {
    request_page(&st, lang, &caller, id, q, None).await
}

async fn request_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    id: i64,
    q: Prepare,
    problem: Option<ServiceError>,
) -> Response {
    let (me, c) = match (st.me(caller).await, st.change_request(caller, id).await) {
        (Ok(me), Ok(c)) => (me, c),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(st, lang, &e),
    };
    // The exact document a head signs: the request, the revision on the page, the decision, reasons.
    let document = q
        .decision
        .as_deref()
        .filter(|d| ["agree", "return", "approve"].contains(d))
        .map(|d| {
            let reasons = q.reasons.as_deref().map(str::trim).filter(|r| !r.is_empty());
            serde_json::json!({"change_request": id, "revision": c.revision, "decision": d, "reasons": reasons})
                .to_string()
        });
    st.pages.render(
        "change.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/changes/{id}"),
            c => Value::from(Serde(&c)),
            document,
            ncalayer_url => st.pages.config.ncalayer_url.clone(),
            problem => super::problem_value(problem, lang),
        },
    )
}

pub(super) async fn revise(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
    axum::Form(form): Form,
) -> Response {
    match st.revise_change_request(&caller, id, Ok(body(&form))).await {
        Ok(_) => Redirect::to(&format!("/changes/{id}")).into_response(),
        Err(e) => request_page(&st, lang, &caller, id, Prepare::default(), Some(e)).await,
    }
}

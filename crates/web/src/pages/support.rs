//! Support pages (Order 270 §14): one's requests (the support staff: everyone's), a new request, a
//! request's thread with replies, assignment, resolution and attachments. Plain forms through the
//! support use cases; attachments are posted by `attach.js` to the API (the file's bytes as the body).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{
    ServiceError, SupportAssignBody, SupportLinkBody, SupportMessageBody, SupportRequestBody,
};
use serde::Deserialize;

use super::{PageCaller, form_field};
use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;

type Form = axum::Form<Vec<(String, String)>>;

/// `/support?kind=grant&id=7`: a new request about that record.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LinkQuery {
    kind: Option<String>,
    id: Option<i64>,
}

pub(super) async fn support(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Query(q): Query<LinkQuery>,
) -> Response {
    support_page(&st, lang, &caller, q, None).await
}

async fn support_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    q: LinkQuery,
    problem: Option<ServiceError>,
) -> Response {
    let (me, requests) = match (st.me(caller).await, st.support_requests(caller).await) {
        (Ok(me), Ok(r)) => (me, r),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(st, lang, &e),
    };
    st.pages.render(
        "support.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/support",
            requests => Value::from(Serde(&requests)),
            link_kind => q.kind,
            link_id => q.id,
            problem => super::problem_value(problem, lang),
        },
    )
}

pub(super) async fn open(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    axum::Form(form): Form,
) -> Response {
    let field = |n: &str| form_field(&form, n).unwrap_or_default();
    let linked = match (form_field(&form, "link_kind"), form_field(&form, "link_id")) {
        (Some(kind), Some(id)) => Some(SupportLinkBody {
            kind,
            id: id.parse().unwrap_or(0),
        }),
        _ => None,
    };
    let body = SupportRequestBody {
        category: field("category"),
        language: field("language"),
        subject: field("subject"),
        message: field("message"),
        linked,
    };
    match st.open_support_request(&caller, Ok(body)).await {
        Ok(r) => Redirect::to(&format!("/support/{}", r.id)).into_response(),
        Err(e) => support_page(&st, lang, &caller, LinkQuery::default(), Some(e)).await,
    }
}

pub(super) async fn request(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
) -> Response {
    request_page(&st, lang, &caller, id, None).await
}

async fn request_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    id: i64,
    problem: Option<ServiceError>,
) -> Response {
    let (me, r) = match (st.me(caller).await, st.support_request(caller, id).await) {
        (Ok(me), Ok(r)) => (me, r),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(st, lang, &e),
    };
    let agent = me.roles.iter().any(|x| x == "support_agent");
    st.pages.render(
        "support_request.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/support/{id}"),
            r => Value::from(Serde(&r)),
            agent,
            problem => super::problem_value(problem, lang),
        },
    )
}

pub(super) async fn message(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
    axum::Form(form): Form,
) -> Response {
    let body = SupportMessageBody {
        message: form_field(&form, "message").unwrap_or_default(),
    };
    after(
        &st,
        lang,
        &caller,
        id,
        st.support_message(&caller, id, Ok(body)).await,
    )
    .await
}

pub(super) async fn assign(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
) -> Response {
    let done = st
        .assign_support_request(&caller, id, Ok(SupportAssignBody::default()))
        .await;
    after(&st, lang, &caller, id, done).await
}

pub(super) async fn resolve(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
) -> Response {
    let done = st.resolve_support_request(&caller, id).await;
    after(&st, lang, &caller, id, done).await
}

async fn after<T>(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    id: i64,
    done: Result<T, ServiceError>,
) -> Response {
    match done {
        Ok(_) => Redirect::to(&format!("/support/{id}")).into_response(),
        Err(e) => request_page(st, lang, caller, id, Some(e)).await,
    }
}

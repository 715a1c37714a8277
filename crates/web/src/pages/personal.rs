//! Everyone's own pages (issue 14): notifications, read and marked as read, and the profile — the
//! e-mail address for notices and their language. Plain forms through the lifecycle use cases.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{ProfileBody, ServiceError};

use super::PageCaller;
use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;

pub(super) async fn notifications(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
) -> Response {
    let (me, list) = match (
        st.me(&caller).await,
        st.notifications(&caller, lang.notices()).await,
    ) {
        (Ok(me), Ok(l)) => (me, l),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(&st, lang, &e),
    };
    st.pages.render(
        "notifications.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/notifications",
            notifications => Value::from(Serde(&list.notifications)),
        },
    )
}

pub(super) async fn read_notification(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
) -> Response {
    match st.read_notification(&caller, id).await {
        Ok(()) => Redirect::to("/notifications").into_response(),
        Err(e) => super::problem_page(&st, lang, &e),
    }
}

pub(super) async fn profile(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
) -> Response {
    profile_page(&st, lang, &caller, None, false).await
}

async fn profile_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    problem: Option<ServiceError>,
    saved: bool,
) -> Response {
    let (me, p) = match (st.me(caller).await, st.profile(caller).await) {
        (Ok(me), Ok(p)) => (me, p),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(st, lang, &e),
    };
    st.pages.render(
        "profile.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/profile",
            profile => Value::from(Serde(&p)),
            saved,
            problem => problem.map(|e| Value::from(Serde(crate::problem::localized(&e, lang)))),
        },
    )
}

pub(super) async fn save_profile(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let body = ProfileBody {
        email: super::form_field(&form, "email"),
        language: super::form_field(&form, "language").unwrap_or_default(),
    };
    match st.set_profile(&caller, Ok(body)).await {
        Ok(_) => profile_page(&st, lang, &caller, None, true).await,
        Err(e) => profile_page(&st, lang, &caller, Some(e), false).await,
    }
}

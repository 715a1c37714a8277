//! Training pages (Order 270 §12–§13, §15): the lessons and the sessions, a lesson taken and checked,
//! enrolment (self or by the head), the integrator's scheduling, attendance and signed report, and the
//! duties of a grant accepted before its first read. Plain forms through the training use cases.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{
    AcceptDutiesBody, AttemptBody, AttendanceBody, EnrolBody, ServiceError, TrainingSessionBody,
};

use super::{PageCaller, form_field};
use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;

type Form = axum::Form<Vec<(String, String)>>;

pub(super) async fn training(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
) -> Response {
    training_page(&st, lang, &caller, None).await
}

async fn training_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    problem: Option<ServiceError>,
) -> Response {
    let (me, lessons, sessions) = match (
        st.me(caller).await,
        st.lessons(caller).await,
        st.training_sessions(caller).await,
    ) {
        (Ok(me), Ok(l), Ok(s)) => (me, l, s),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return super::problem_page(st, lang, &e);
        }
    };
    st.pages.render(
        "training.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/training",
            lessons => Value::from(Serde(&lessons)),
            sessions => Value::from(Serde(&sessions)),
            problem => super::problem_value(problem, lang),
        },
    )
}

pub(super) async fn lesson(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(id): Path<String>,
) -> Response {
    lesson_page(&st, lang, &caller, &id, None, None).await
}

async fn lesson_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    id: &str,
    result: Option<qoljetim_service::AttemptView>,
    problem: Option<ServiceError>,
) -> Response {
    let (me, lesson) = match (st.me(caller).await, st.lesson(caller, id).await) {
        (Ok(me), Ok(l)) => (me, l),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(st, lang, &e),
    };
    st.pages.render(
        "lesson.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/training/lessons/{id}"),
            // The lessons are in Kazakh and Russian (Order 270 §12): English pages show the Russian.
            text_lang => if lang.code() == "kk" { "kk" } else { "ru" },
            lesson => Value::from(Serde(&lesson)),
            result => result.map(|r| Value::from(Serde(r))),
            problem => super::problem_value(problem, lang),
        },
    )
}

/// The answers of the lesson form: `version` and `q-<n>` (the chosen choice, from 1) per question.
/// An unanswered question is sent as 0, which the use case names as `/answers/N`.
fn attempt_body(form: &[(String, String)]) -> AttemptBody {
    let version = form_field(form, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let count: usize = form_field(form, "questions")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let answers = (0..count.min(200))
        .map(|n| {
            form_field(form, &format!("q-{n}"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    AttemptBody { version, answers }
}

pub(super) async fn attempt(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<String>,
    axum::Form(form): Form,
) -> Response {
    match st
        .attempt_lesson(&caller, &id, Ok(attempt_body(&form)))
        .await
    {
        Ok(r) => lesson_page(&st, lang, &caller, &id, Some(r), None).await,
        Err(e) => lesson_page(&st, lang, &caller, &id, None, Some(e)).await,
    }
}

pub(super) async fn enrol(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
    axum::Form(form): Form,
) -> Response {
    let body = EnrolBody {
        iin: form_field(&form, "iin"),
    };
    match st.enrol(&caller, id, Ok(body)).await {
        Ok(_) => Redirect::to(&format!("/training/sessions/{id}")).into_response(),
        Err(e) => training_page(&st, lang, &caller, Some(e)).await,
    }
}

pub(super) async fn schedule(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    axum::Form(form): Form,
) -> Response {
    let field = |n: &str| form_field(&form, n).unwrap_or_default();
    // A datetime-local field has no offset: the use case reads it as Almaty time.
    let body = TrainingSessionBody {
        systems: form
            .iter()
            .filter(|(k, _)| k == "system")
            .map(|(_, v)| v.clone())
            .collect(),
        language: field("language"),
        mode: field("mode"),
        place: field("place"),
        starts_at: field("starts_at"),
        capacity: field("capacity").parse().unwrap_or(0),
    };
    match st.schedule_session(&caller, Ok(body)).await {
        Ok(s) => Redirect::to(&format!("/training/sessions/{}", s.id)).into_response(),
        Err(e) => training_page(&st, lang, &caller, Some(e)).await,
    }
}

pub(super) async fn session(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
) -> Response {
    session_page(&st, lang, &caller, id, None).await
}

async fn session_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    id: i64,
    problem: Option<ServiceError>,
) -> Response {
    let (me, session, enrolments) = match (
        st.me(caller).await,
        st.training_session(caller, id).await,
        st.enrolments(caller, id).await,
    ) {
        (Ok(me), Ok(s), Ok(e)) => (me, s, e),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return super::problem_page(st, lang, &e);
        }
    };
    let integrator = me.roles.iter().any(|r| r == "integrator_admin");
    // The report to sign: exactly the JSON the server compares the signed content with.
    let report = match (integrator, &session.held_on, &session.report_sent_at) {
        (true, Some(_), None) => match st.training_report(caller, id, None).await {
            Ok(r) => serde_json::to_string_pretty(&r.body).ok(),
            Err(e) => return super::problem_page(st, lang, &e),
        },
        _ => None,
    };
    let begun = session.begun;
    st.pages.render(
        "training_session.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/training/sessions/{id}"),
            s => Value::from(Serde(&session)),
            enrolments => Value::from(Serde(&enrolments)),
            integrator,
            begun,
            report,
            ncalayer_url => st.pages.config.ncalayer_url.clone(),
            problem => super::problem_value(problem, lang),
        },
    )
}

pub(super) async fn attendance(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
    axum::Form(form): Form,
) -> Response {
    let body = AttendanceBody {
        attended: form
            .iter()
            .filter(|(k, _)| k == "attended")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    match st.record_attendance(&caller, id, Ok(body)).await {
        Ok(_) => Redirect::to(&format!("/training/sessions/{id}")).into_response(),
        Err(e) => session_page(&st, lang, &caller, id, Some(e)).await,
    }
}

pub(super) async fn duties(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
) -> Response {
    duties_page(&st, lang, &caller, id, None).await
}

async fn duties_page(
    st: &AppState,
    lang: Lang,
    caller: &Caller,
    id: i64,
    problem: Option<ServiceError>,
) -> Response {
    let me = match st.me(caller).await {
        Ok(me) => me,
        Err(e) => return super::problem_page(st, lang, &e),
    };
    let duties = st.duties();
    let items = match lang.code() {
        "kk" => duties.kk.clone(),
        "ru" => duties.ru.clone(),
        _ => duties.en.clone(),
    };
    st.pages.render(
        "duties.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/grants/{id}/duties"),
            grant => id,
            version => duties.version,
            items,
            problem => super::problem_value(problem, lang),
        },
    )
}

pub(super) async fn accept_duties(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
    axum::Form(form): Form,
) -> Response {
    let body = AcceptDutiesBody {
        version: form_field(&form, "version")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
        accept: form_field(&form, "accept").as_deref() == Some("yes"),
    };
    match st.accept_duties(&caller, id, Ok(body)).await {
        Ok(_) => Redirect::to("/#grants").into_response(),
        Err(e) => duties_page(&st, lang, &caller, id, Some(e)).await,
    }
}

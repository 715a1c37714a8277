//! The pages people use in a browser (issue 13): server-rendered HTML in Kazakh, Russian and English,
//! the language chosen on every page and remembered in a cookie; signing through NCALayer in the
//! browser. Like the API handlers, each page extracts, calls use cases of the service and renders;
//! nothing here decides who may see what.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{Environment, context};
use qoljetim_service::{
    GrantBody, GrantCommand, ListQuery, ReviewBody, ReviewCommand, ReviewLineBody, ServiceError,
};
use serde::Deserialize;

mod changes;
mod compose;
mod explore;
pub mod manuals;
mod mobile;
mod operations;
mod personal;
mod recertification;
mod support;
mod training;

use crate::AppState;
use crate::auth::{Caller, MaybeCaller};
use crate::i18n::Lang;
use axum::extract::FromRequestParts;

/// The cookie that remembers the chosen language (a year; not personal data).
pub const LANG_COOKIE: &str = "qoljetim_lang";

/// What the pages need besides the use cases.
#[derive(Debug, Clone)]
pub struct PagesConfig {
    /// Where the browser reaches NCALayer: `wss://127.0.0.1:13579`, or the development fake's `ws://`.
    pub ncalayer_url: String,
}

impl Default for PagesConfig {
    fn default() -> Self {
        PagesConfig {
            ncalayer_url: "wss://127.0.0.1:13579".into(),
        }
    }
}

/// The templates (compiled into the binary) and the settings of the pages.
pub struct Pages {
    env: Environment<'static>,
    config: PagesConfig,
}

/// A template that does not parse is a bug of this crate; `every_template_parses` proves the set.
const TEMPLATES: [(&str, &str); 26] = [
    ("changes.html", include_str!("../../templates/changes.html")),
    (
        "campaigns.html",
        include_str!("../../templates/campaigns.html"),
    ),
    (
        "campaign.html",
        include_str!("../../templates/campaign.html"),
    ),
    ("change.html", include_str!("../../templates/change.html")),
    (
        "organization.html",
        include_str!("../../templates/organization.html"),
    ),
    ("manuals.html", include_str!("../../templates/manuals.html")),
    ("manual.html", include_str!("../../templates/manual.html")),
    ("support.html", include_str!("../../templates/support.html")),
    (
        "support_request.html",
        include_str!("../../templates/support_request.html"),
    ),
    (
        "training.html",
        include_str!("../../templates/training.html"),
    ),
    ("lesson.html", include_str!("../../templates/lesson.html")),
    (
        "training_session.html",
        include_str!("../../templates/training_session.html"),
    ),
    ("duties.html", include_str!("../../templates/duties.html")),
    (
        "mobile_sign.html",
        include_str!("../../templates/mobile_sign.html"),
    ),
    (
        "operations.html",
        include_str!("../../templates/operations.html"),
    ),
    (
        "notifications.html",
        include_str!("../../templates/notifications.html"),
    ),
    ("profile.html", include_str!("../../templates/profile.html")),
    ("explore.html", include_str!("../../templates/explore.html")),
    ("grants.html", include_str!("../../templates/grants.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("compose.html", include_str!("../../templates/compose.html")),
    ("layout.html", include_str!("../../templates/layout.html")),
    ("sign_in.html", include_str!("../../templates/sign_in.html")),
    ("home.html", include_str!("../../templates/home.html")),
    (
        "application.html",
        include_str!("../../templates/application.html"),
    ),
    ("problem.html", include_str!("../../templates/problem.html")),
];

/// Files served under `/static/`: path, content type, bytes.
const STATIC: [(&str, &str, &[u8]); 7] = [
    (
        "attach.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/attach.js"),
    ),
    (
        "mobile-sign.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/mobile-sign.js"),
    ),
    (
        "explore.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/explore.js"),
    ),
    (
        "vendor/echarts/echarts.simple.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/echarts/echarts.simple.min.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "sign.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/sign.js"),
    ),
    (
        "vendor/ncalayer-js-client/ncalayer-client.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/ncalayer-js-client/ncalayer-client.js"),
    ),
];

/// The screenshots of the manuals (docs/images, taken by the browser tests), served under
/// `/docs/images/` for the lessons' steps and the manual pages.
const MANUAL_IMAGES: [(&str, &[u8]); 19] = [
    (
        "01-sign-in.png",
        include_bytes!("../../../../docs/images/01-sign-in.png"),
    ),
    (
        "02-head-home.png",
        include_bytes!("../../../../docs/images/02-head-home.png"),
    ),
    (
        "03-head-application-checked-with-errors.png",
        include_bytes!("../../../../docs/images/03-head-application-checked-with-errors.png"),
    ),
    (
        "04-head-application-ready-to-sign.png",
        include_bytes!("../../../../docs/images/04-head-application-ready-to-sign.png"),
    ),
    (
        "05-reviewer-application-decided.png",
        include_bytes!("../../../../docs/images/05-reviewer-application-decided.png"),
    ),
    (
        "06-integrator-grant-preview.png",
        include_bytes!("../../../../docs/images/06-integrator-grant-preview.png"),
    ),
    (
        "07-employee-home.png",
        include_bytes!("../../../../docs/images/07-employee-home.png"),
    ),
    (
        "08-employee-explorer-by-program.png",
        include_bytes!("../../../../docs/images/08-employee-explorer-by-program.png"),
    ),
    (
        "09-employee-explorer-program-by-month.png",
        include_bytes!("../../../../docs/images/09-employee-explorer-program-by-month.png"),
    ),
    (
        "10-sign-in-with-egov-business.png",
        include_bytes!("../../../../docs/images/10-sign-in-with-egov-business.png"),
    ),
    (
        "11-application-signed-by-phone.png",
        include_bytes!("../../../../docs/images/11-application-signed-by-phone.png"),
    ),
    (
        "12-employee-lesson-passed.png",
        include_bytes!("../../../../docs/images/12-employee-lesson-passed.png"),
    ),
    (
        "13-employee-duties.png",
        include_bytes!("../../../../docs/images/13-employee-duties.png"),
    ),
    (
        "14-employee-enrolled-in-session.png",
        include_bytes!("../../../../docs/images/14-employee-enrolled-in-session.png"),
    ),
    (
        "15-employee-support-request.png",
        include_bytes!("../../../../docs/images/15-employee-support-request.png"),
    ),
    (
        "16-support-agent-answer.png",
        include_bytes!("../../../../docs/images/16-support-agent-answer.png"),
    ),
    (
        "17-head-recertification.png",
        include_bytes!("../../../../docs/images/17-head-recertification.png"),
    ),
    (
        "access-registry.png",
        include_bytes!("../../../../docs/images/access-registry.png"),
    ),
    (
        "deadlines-report.png",
        include_bytes!("../../../../docs/images/deadlines-report.png"),
    ),
];

async fn manual_image(Path(name): Path<String>) -> Response {
    match MANUAL_IMAGES.iter().find(|(n, _)| *n == name) {
        Some((_, bytes)) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl Pages {
    pub fn new(config: PagesConfig) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Pages { env, config })
    }

    /// The page `name` in `lang`, from the context `ctx` and the texts of the Fluent files.
    fn html(&self, name: &str, lang: Lang, ctx: Value) -> Result<String, minijinja::Error> {
        // Every named argument a template passes goes to the Fluent message.
        let t = Value::from_function(move |key: &str, kwargs: Kwargs| {
            let args: Vec<(String, String)> = kwargs
                .args()
                .filter_map(|k| {
                    kwargs
                        .get::<Option<Value>>(k)
                        .ok()
                        .flatten()
                        .map(|v| (k.to_owned(), v.to_string()))
                })
                .collect();
            lang.text_with(key, &args)
        });
        let languages = [("kk", "Қазақша"), ("ru", "Русский"), ("en", "English")]
            .map(|(code, name)| context! { code, name });
        let base = context! { lang => lang.code(), t, languages };
        self.env
            .get_template(name)
            .and_then(|tpl| tpl.render(context! { ..ctx, ..base }))
    }

    fn render(&self, name: &str, lang: Lang, ctx: Value) -> Response {
        match self.html(name, lang, ctx) {
            Ok(html) => secured(Html(html).into_response(), &self.config.ncalayer_url),
            Err(e) => {
                tracing::error!(error = %e, template = name, "page did not render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    lang.text("problem-internal-title", &[]),
                )
                    .into_response()
            }
        }
    }
}

/// The headers every page carries: a Content-Security-Policy without inline scripts (the only
/// connections besides this site are to NCALayer), no sniffing, no referrer to other sites, no framing.
/// `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` with a form
/// post, and the cross-site check of the session would refuse the site's own forms.
fn secured(mut r: Response, ncalayer: &str) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self' {ncalayer}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The signed-in person a page is for. Signed out — and also when the session cookie no longer works
/// (expired, ended, its certificate revoked) — the browser goes to the sign-in page, not to a
/// problem+json answer; every page handler gets that from this extractor.
pub struct PageCaller(pub Caller);

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = Redirect;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        MaybeCaller::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|c| c.0)
            .map(PageCaller)
            .ok_or_else(|| Redirect::to("/sign-in"))
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/sign/mobile", post(mobile::start_sign_in))
        .route("/sign/mobile/{id}", get(mobile::page))
        .route("/sign/mobile/{id}/status", get(mobile::status))
        .route("/sign/mobile/{id}/finish", post(mobile::finish))
        .route("/language/{code}", get(language))
        .route(
            "/applications/new",
            get(compose::new_application).post(compose::edit_application),
        )
        .route(
            "/block-requests/new",
            get(compose::new_block_request).post(compose::edit_block_request),
        )
        .route("/grants", get(grants))
        .route(
            "/grants/{id}/duties",
            get(training::duties).post(training::accept_duties),
        )
        .route("/support", get(support::support).post(support::open))
        .route("/support/{id}", get(support::request))
        .route("/support/{id}/messages", post(support::message))
        .route("/support/{id}/assign", post(support::assign))
        .route("/support/{id}/resolve", post(support::resolve))
        .route("/changes", get(changes::list).post(changes::submit))
        .route("/changes/{id}", get(changes::request).post(changes::revise))
        .route(
            "/recertification",
            get(recertification::list).post(recertification::open),
        )
        .route("/recertification/{id}", get(recertification::campaign))
        .route("/manuals", get(manuals::list))
        .route("/manuals/{name}", get(manuals::manual))
        .route("/training", get(training::training))
        .route("/training/sessions", post(training::schedule))
        .route("/training/sessions/{id}", get(training::session))
        .route("/training/sessions/{id}/enrol", post(training::enrol))
        .route(
            "/training/sessions/{id}/attendance",
            post(training::attendance),
        )
        .route(
            "/training/lessons/{id}",
            get(training::lesson).post(training::attempt),
        )
        .route("/explore", get(explore::explore))
        .route("/operations", get(operations::operations))
        .route("/operations/organizations", post(operations::register))
        .route(
            "/operations/organizations/{bin}",
            get(operations::organization).post(operations::edit_organization),
        )
        .route(
            "/operations/organizations/{bin}/deactivate",
            post(operations::deactivate_organization),
        )
        .route("/operations/staff/remove", post(operations::remove_staff))
        .route("/grants/{id}/revoke", post(operations::revoke_grant))
        .route("/operations/outbox/{id}/resend", post(operations::resend))
        .route("/notifications", get(personal::notifications))
        .route(
            "/notifications/{id}/read",
            post(personal::read_notification),
        )
        .route(
            "/profile",
            get(personal::profile).post(personal::save_profile),
        )
        .route("/applications/{id}", get(application))
        .route("/applications/{id}/review", post(review))
        .route("/applications/{id}/grant", post(grant))
        .route("/static/{*path}", get(asset))
        .route("/docs/images/{name}", get(manual_image))
}

/// The home page of the signed-in person: what their roles let them work on. Signed out: the sign-in
/// page.
async fn home(State(st): State<AppState>, lang: Lang, PageCaller(caller): PageCaller) -> Response {
    let lists = async {
        let me = st.me(&caller).await?;
        let has = |role: &str| me.roles.iter().any(|r| r == role);
        let queue = |status: &str| ListQuery {
            status: Some(status.to_owned()),
            limit: Some(200),
            ..ListQuery::default()
        };
        let review_queue = match has("reviewer") {
            true => st.list_applications(&caller, queue("submitted")).await?,
            false => vec![],
        };
        let grant_queue = match has("integrator_admin") {
            true => st.list_applications(&caller, queue("forwarded")).await?,
            false => vec![],
        };
        let applications = match has("head") {
            true => st.list_applications(&caller, ListQuery::default()).await?,
            false => vec![],
        };
        let block_requests = match has("head") {
            true => st.block_requests(&caller, Ok(false)).await?.block_requests,
            false => vec![],
        };
        // The person's own grants; an organization's (or everyone's) are on `/grants`, page by page.
        let own = ListQuery {
            own: Some(true),
            ..ListQuery::default()
        };
        let grants = st.list_grants(&caller, own).await?;
        Ok::<_, ServiceError>((
            me,
            review_queue,
            grant_queue,
            applications,
            block_requests,
            grants,
        ))
    };
    // A refusal or failure is shown, never an empty page that looks like "nothing to do".
    let (me, review_queue, grant_queue, applications, block_requests, grants) = match lists.await {
        Ok(lists) => lists,
        Err(e) => return problem_page(&st, lang, &e),
    };
    st.pages.render(
        "home.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/",
            review_queue => Value::from(Serde(&review_queue)),
            grant_queue => Value::from(Serde(&grant_queue)),
            applications => Value::from(Serde(&applications)),
            block_requests => Value::from(Serde(&block_requests)),
            grants => Value::from(Serde(&grants)),
        },
    )
}

/// Grants per page of `/grants`.
const GRANTS_PAGE: i64 = 100;

#[derive(Deserialize)]
struct PageNumber {
    page: Option<i64>,
}

/// The grants the person may read beyond their own — the organization's for a head, everyone's for
/// an operator (Cedar decides each) — newest first, a hundred per page.
async fn grants(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Query(q): Query<PageNumber>,
) -> Response {
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let query = ListQuery {
        limit: Some(GRANTS_PAGE + 1),
        offset: Some((page - 1) * GRANTS_PAGE),
        ..ListQuery::default()
    };
    let (me, mut grants) = match (st.me(&caller).await, st.list_grants(&caller, query).await) {
        (Ok(me), Ok(g)) => (me, g),
        (Err(e), _) | (_, Err(e)) => return problem_page(&st, lang, &e),
    };
    // One more than a page was asked for: whether an older page exists.
    let more = grants.len() as i64 > GRANTS_PAGE;
    grants.truncate(GRANTS_PAGE as usize);
    st.pages.render(
        "grants.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/grants?page={page}"),
            grants => Value::from(Serde(&grants)),
            page,
            more,
        },
    )
}

async fn sign_in(State(st): State<AppState>, lang: Lang) -> Response {
    st.pages.render(
        "sign_in.html",
        lang,
        context! { me => Value::from(()), back => "/sign-in", ncalayer_url => st.pages.config.ncalayer_url.clone() },
    )
}

/// Ends the session (a form post of this site only: the cookie's SameSite=Strict and the origin
/// check of `Caller` refuse a cross-site one) and clears the cookie.
async fn sign_out(State(st): State<AppState>, caller: Caller) -> Response {
    let _ = st.sign_out(&caller).await;
    let mut r = Redirect::to("/sign-in").into_response();
    if let Some(v) = crate::auth::cleared_session_cookie(&st) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// One application as the caller may see it: a reviewer decides each line of a submitted one, an
/// integrator administrator grants a forwarded one (Cedar decides in the use cases; the forms are shown
/// by role and state).
async fn application(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
) -> Response {
    application_page(&st, lang, caller, id, None).await
}

async fn application_page(
    st: &AppState,
    lang: Lang,
    caller: Caller,
    id: i64,
    problem: Option<ServiceError>,
) -> Response {
    let (me, a) = match (st.me(&caller).await, st.application(&caller, id).await) {
        (Ok(me), Ok(a)) => (me, a),
        (Err(e), _) | (_, Err(e)) => return problem_page(st, lang, &e),
    };
    let has = |role: &str| me.roles.iter().any(|r| r == role);
    let can_review = has("reviewer") && a.status == "submitted";
    let can_grant = has("integrator_admin") && a.status == "forwarded";
    // The integrator sees what the grant will give, in words, before deciding.
    let preview = match can_grant {
        true => match st.grant_preview(&caller, id).await {
            Ok(p) => Some(p),
            Err(e) => return problem_page(st, lang, &e),
        },
        false => None,
    };
    st.pages.render(
        "application.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/applications/{id}"),
            a => Value::from(Serde(&a)),
            can_review,
            can_grant,
            preview => preview.map(|p| Value::from(Serde(p))),
            problem => problem.map(|e| Value::from(Serde(crate::problem::localized(&e, lang)))),
        },
    )
}

/// A refusal shown beside its form (`m.problem_box`), in the caller's language.
fn problem_value(problem: Option<ServiceError>, lang: Lang) -> Option<Value> {
    problem.map(|e| Value::from(Serde(crate::problem::localized(&e, lang))))
}

/// A refusal as a page: the problem's title and detail in the caller's language, with its status.
fn problem_page(st: &AppState, lang: Lang, e: &ServiceError) -> Response {
    problem_page_back(st, lang, e, "/")
}

/// The same, with the way back to `back`.
fn problem_page_back(st: &AppState, lang: Lang, e: &ServiceError, back: &str) -> Response {
    let status = crate::problem::ApiError::from(e.clone()).status;
    let mut r = st.pages.render(
        "problem.html",
        lang,
        context! {
            me => Value::from(()),
            back,
            problem => Value::from(Serde(crate::problem::localized(e, lang))),
        },
    );
    *r.status_mut() = status;
    r
}

/// A posted form's field by name, trimmed; None when absent or empty.
fn form_field(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The reviewer's decisions from the form: `decision-<line>` (approve or reject) and `reason-<line>`.
fn review_body(form: &[(String, String)]) -> ReviewBody {
    let mut lines: Vec<ReviewLineBody> = form
        .iter()
        .filter_map(|(k, v)| {
            let line = k.strip_prefix("decision-")?.parse().ok()?;
            let reason = form_field(form, &format!("reason-{line}"));
            Some(ReviewLineBody {
                line,
                decision: v.clone(),
                reason,
            })
        })
        .collect();
    lines.sort_by_key(|l| l.line);
    ReviewBody { lines }
}

async fn review(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let cmd = ReviewCommand {
        application: id,
        body: Ok(review_body(&form)),
    };
    let done = st.review(&caller, cmd).await.map(|_| ());
    after_decision(&st, lang, caller, id, done).await
}

/// After a decision: back to the application (post/redirect/get), or its page with the refusal.
async fn after_decision(
    st: &AppState,
    lang: Lang,
    caller: Caller,
    id: i64,
    done: Result<(), ServiceError>,
) -> Response {
    match done {
        Ok(()) => Redirect::to(&format!("/applications/{id}")).into_response(),
        Err(e) => application_page(st, lang, caller, id, Some(e)).await,
    }
}

/// The grant form: `extra-<system>` lists extra fiscal years ("2028, 2029") and `reason` says why.
fn grant_body(form: &[(String, String)]) -> Result<GrantBody, ServiceError> {
    let mut extra = std::collections::BTreeMap::new();
    for (k, v) in form {
        let Some(system) = k.strip_prefix("extra-") else {
            continue;
        };
        let mut years = vec![];
        for y in v
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|y| !y.is_empty())
        {
            years.push(y.parse::<i64>().map_err(|_| {
                ServiceError::field(
                    &format!("/fiscal_years_extra/{system}"),
                    "fiscal_year",
                    "a year from 2000 to 2100",
                )
            })?);
        }
        if !years.is_empty() {
            extra.insert(system.to_owned(), years);
        }
    }
    let reason = form_field(form, "reason");
    Ok(GrantBody {
        fiscal_years_extra: (!extra.is_empty()).then_some(extra),
        reason,
    })
}

async fn grant(
    State(st): State<AppState>,
    lang: Lang,
    caller: Caller,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let cmd = GrantCommand {
        application: id,
        body: grant_body(&form),
    };
    let done = st.grant(&caller, cmd).await.map(|_| ());
    after_decision(&st, lang, caller, id, done).await
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

/// Remembers the language and goes back to the page it was chosen on (a path of this site only).
async fn language(Path(code): Path<String>, Query(q): Query<Back>) -> Response {
    let code = match code.as_str() {
        "kk" | "ru" | "en" => code,
        _ => "kk".to_owned(),
    };
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".to_owned());
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={code}; SameSite=Lax; Path=/; Max-Age=31536000"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn asset(Path(path): Path<String>) -> Response {
    match STATIC.iter().find(|(p, _, _)| *p == path) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_home() -> Value {
        let application = serde_json::json!({"id": 7, "applicant_bin": "940140000385", "status": "submitted",
            "date": "2026-12-01", "review_due": "2026-12-03", "review_overdue": true, "grant_due": null,
            "grant_overdue": false, "lines": [{}]});
        let grant = serde_json::json!({"person_iin": "840315307490", "system": "analytical_central",
            "status": "active", "valid_until": "2027-12-01", "days_left": 362, "scope": {"fiscal_years": [2025, 2026, 2027],
            "levels": ["regional", "district", "rural"], "territory": "750000000",
            "territory_region": {"kk": "Алматы қаласы", "ru": "город Алматы", "en": "Almaty city"}}});
        context! {
            me => Value::from(Serde(serde_json::json!({"person": {"common_name": "ТЕСТОВ ТЕСТ", "iin": "840315307490"},
                "organization": {"bin": "940140000385", "name_kk": "Мәслихат", "name_ru": "Маслихат"},
                "roles": ["head", "reviewer", "integrator_admin", "employee"]}))),
            back => "/",
            review_queue => Value::from(Serde(vec![application.clone()])),
            grant_queue => Value::from(Serde(vec![application.clone()])),
            applications => Value::from(Serde(vec![application])),
            block_requests => Value::from(Serde(vec![serde_json::json!({"id": 3, "date": "2026-12-01", "deadline_met": false,
                "lines": [{"iin": "840315307490", "reason": "transferred", "effective_date": "2026-11-30"}]})])),
            grants => Value::from(Serde(vec![grant.clone()])),
        }
    }

    /// Every page renders in Kazakh, Russian and English with every text found in the Fluent files
    /// (a missing one would show its key, `page-…`), in the page's language.
    #[test]
    fn every_page_renders_in_every_language() {
        let pages = Pages::new(PagesConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            let sign_in = context! { me => Value::from(()), back => "/sign-in", ncalayer_url => "ws://127.0.0.1:1" };
            let grants = context! { page => 2, more => true, ..sample_home() };
            for (name, ctx) in [
                ("sign_in.html", sign_in),
                ("home.html", sample_home()),
                ("grants.html", grants),
                (
                    "notifications.html",
                    context! { notifications => Value::from(Serde(serde_json::json!([{"id": 4,
                    "title": "Имя", "body": "…", "created_at": "2026-12-03T10:00:00Z", "read": false}]))), ..sample_home() },
                ),
                (
                    "profile.html",
                    context! { profile => Value::from(Serde(serde_json::json!({"email": null, "language": "kk"}))),
                    saved => true, ..sample_home() },
                ),
                (
                    "explore.html",
                    context! { choices => Value::from(()), ..sample_home() },
                ),
                (
                    "operations.html",
                    context! {
                    organizations => Value::from(Serde(serde_json::json!([{"bin": "940140000385", "name_kk": "Мәслихат",
                        "name_ru": "Маслихат", "kind": "maslikhat", "territory": "750000000", "administrators": [], "eligible": true}]))),
                    late => Value::from(Serde(serde_json::json!([{"id": 2, "applicant_bin": "940140000385", "date": "2026-12-01",
                        "lines": [{"iin": "840315307490", "block_due": "2026-12-04", "blocked_at": null}]}]))),
                    chain => Value::from(Serde(serde_json::json!({"records": 12, "head": "ab", "intact": false,
                        "first_broken_seq": 7, "first_broken_reason": "hash"}))),
                    audit => Value::from(Serde(serde_json::json!([{"seq": 12, "at": "2026-12-03T10:00:00Z", "actor": "a",
                        "action": "grant_access", "resource": "application/1", "outcome": "allowed"}]))),
                    ..sample_home() },
                ),
            ] {
                let html = pages
                    .html(name, lang, ctx)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let title = html
                    .split("<title>")
                    .nth(1)
                    .and_then(|t| t.split("</title>").next())
                    .unwrap_or("<missing>");
                assert!(!title.contains('<'), "{name}: markup in the title: {title}");
                assert!(
                    !html.contains("page-"),
                    "{name} in {}: a text is missing: {html}",
                    lang.code()
                );
                assert!(
                    html.contains(&format!("<html lang=\"{}\">", lang.code())),
                    "{name}"
                );
            }
        }
        let ru = pages
            .html("home.html", Lang::Ru, sample_home())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            ru.contains("Заявки на рассмотрение") && ru.contains("просрочено"),
            "{ru}"
        );
        assert!(ru.contains("2025–2027"), "the grant's years: {ru}");
        assert!(
            ru.contains("областной, районный, сельский")
                && ru.contains("город Алматы (KATO 750000000)"),
            "the scope in words: {ru}"
        );
        assert!(ru.contains("362 дн."), "days left: {ru}");
    }

    /// The application page, with the reviewer's and the integrator's forms and a refusal, renders in
    /// every language with every text found.
    #[test]
    fn application_page_renders_in_every_language() {
        let grant = serde_json::json!({"scope": {"fiscal_years": [2026, 2027], "levels": ["regional"],
            "territory": "750000000", "territory_region": {"kk": "Алматы қаласы", "ru": "город Алматы", "en": "Almaty city"}}});
        let pages = Pages::new(PagesConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let line = |n: u32, status: &str, hr: &str| {
            serde_json::json!({"line": n, "surname": "Сейітова", "name": "Динара", "patronymic": null,
                "iin": "840315307490", "position": "депутат", "unit": "аппарат", "status": status, "reason": null,
                "access_until_effective": "2027-12-01", "hr_check": {"status": hr}})
        };
        let a = serde_json::json!({"id": 7, "applicant_bin": "940140000385", "status": "submitted",
            "date": "2026-12-01", "systems": ["analytical_central", "state_planning"], "signer_name": "Әбенова",
            "signer_iin": "840315307490", "review_due": "2026-12-03", "review_overdue": true, "grant_due": "2026-12-07",
            "grant_overdue": false, "complete": true,
            "lines": [line(1, "submitted", "pending"), line(2, "approved", "confirmed"), line(3, "rejected", "mismatch"),
                      line(4, "granted", "unknown"), line(5, "not_granted", "pending")]});
        let refusal = ServiceError::field("/lines/0/decision", "decision", "approve or reject");
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            let ctx = context! {
                me => Value::from(Serde(serde_json::json!({"person": {"iin": "840315307490"}, "roles": ["reviewer"]}))),
                back => "/applications/7",
                a => Value::from(Serde(&a)),
                can_review => true,
                can_grant => true,
                preview => Value::from(Serde(serde_json::json!({"grants": [{"line": 2, "person_iin": "840315307490",
                    "system": "state_planning", "valid_from": "2026-12-03", "valid_until": "2027-12-02",
                    "scope": grant["scope"]}], "not_granted": [{"line": 4, "reason": "powers_ended"}]}))),
                problem => Value::from(Serde(crate::problem::localized(&refusal, lang))),
            };
            let html = pages
                .html("application.html", lang, ctx)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                !html.contains("page-"),
                "a text is missing in {}: {html}",
                lang.code()
            );
            assert!(
                html.contains(r#"name="decision-5""#)
                    && html.contains(r#"name="extra-state_planning""#)
            );
            assert!(html.contains(r#"role="alert""#));
            assert!(
                html.contains("(KATO 750000000)"),
                "the preview's scope: {html}"
            );
        }
    }

    /// The composing page, empty and checked (errors beside their fields, the document to sign),
    /// renders in every language with every text found.
    #[test]
    fn compose_page_renders_in_every_language() {
        let pages = Pages::new(PagesConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            for kind in ["application", "block-request"] {
                let columns: Vec<serde_json::Value> = ["iin", "reason", "effective_date", "order_number", "surname", "name",
                    "patronymic", "position", "unit", "phone", "email", "purpose", "access_until", "eqyzmet_qr"]
                    .iter()
                    .map(|c| serde_json::json!({"name": c, "input": if *c == "reason" {"reason"} else {"text"}, "required": true}))
                    .collect();
                let ctx = context! {
                    me => Value::from(Serde(serde_json::json!({"person": {"iin": "840315307490"}, "roles": ["head"]}))),
                    back => "/applications/new", kind, action => "/applications/new",
                    columns => Value::from(Serde(&columns)),
                    rows => Value::from(Serde(vec![vec!["84031530749", "other"]])),
                    fields => Value::from(Serde(serde_json::json!({"date": "2026-12-03"}))),
                    systems => ["analytical_central", "state_planning"], chosen => ["state_planning"],
                    reasons => ["dismissed", "transferred", "other"],
                    errors => Value::from(Serde(serde_json::json!({"lines-0-iin": "must be exactly 12 digits"}))),
                    error_list => Value::from(Serde(serde_json::json!([{"input": "lines-0-iin", "label": "Row 1: IIN", "detail": "must be exactly 12 digits"}]))),
                    problem => Value::from(Serde(serde_json::json!({"title": "t", "detail": "d", "errors": []}))),
                    document => "{\"applicant_bin\": \"940140000385\"}",
                    endpoint => "/api/v1/applications", next => "/applications/{id}", ncalayer_url => "ws://127.0.0.1:1",
                };
                let html = pages
                    .html("compose.html", lang, ctx)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    !html.contains("page-"),
                    "{kind} in {}: a text is missing: {html}",
                    lang.code()
                );
                assert!(
                    html.contains(r#"aria-describedby="lines-0-iin-error""#),
                    "{html}"
                );
                assert!(
                    html.contains(r#"<option value="other" selected>"#),
                    "{html}"
                );
                assert!(
                    html.contains(r#"data-sign="document""#) && !html.contains("<script>"),
                    "{html}"
                );
            }
        }
    }

    /// The sign-in page loads the vendored NCALayer client and points it at the configured address;
    /// no script is inline (the CSP forbids it).
    #[test]
    fn sign_in_page_uses_the_vendored_client() {
        let pages = Pages::new(PagesConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let html = pages
            .html(
                "sign_in.html",
                Lang::Kk,
                context! { me => Value::from(()), back => "/sign-in", ncalayer_url => "ws://127.0.0.1:13580" },
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(html.contains(r#"src="/static/vendor/ncalayer-js-client/ncalayer-client.js""#));
        // Escaped as HTML (`/` is `&#x2f;`); the browser reads the attribute back as written.
        assert!(
            html.contains(r#"data-ncalayer="ws:&#x2f;&#x2f;127.0.0.1:13580""#),
            "{html}"
        );
        assert!(!html.contains("<script>"), "no inline script");
        assert!(html.contains("NCALayer арқылы кіру"));
    }
}

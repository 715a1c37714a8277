//! The pages people use in a browser (issue 13): server-rendered HTML in Kazakh, Russian and English,
//! the language chosen on every page and remembered in a cookie; signing through NCALayer in the
//! browser. Like the API handlers, each page extracts, calls use cases of the service and renders;
//! nothing here decides who may see what.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{Environment, context};
use qoljetim_service::ListQuery;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Caller, MaybeCaller, SESSION_COOKIE};
use crate::i18n::Lang;

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
const TEMPLATES: [(&str, &str); 3] = [
    ("layout.html", include_str!("../templates/layout.html")),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    ("home.html", include_str!("../templates/home.html")),
];

/// Files served under `/static/`: path, content type, bytes.
const STATIC: [(&str, &str, &[u8]); 3] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/app.css"),
    ),
    (
        "sign-in.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/sign-in.js"),
    ),
    (
        "vendor/ncalayer-js-client/ncalayer-client.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/vendor/ncalayer-js-client/ncalayer-client.js"),
    ),
];

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
        let t = Value::from_function(move |key: &str, kwargs: Kwargs| {
            let args: Vec<(&'static str, String)> = ["count", "days", "name"]
                .into_iter()
                .filter_map(|k| {
                    kwargs
                        .get::<Option<Value>>(k)
                        .ok()
                        .flatten()
                        .map(|v| (k, v.to_string()))
                })
                .collect();
            lang.text(key, &args)
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
/// connections besides this site are to NCALayer), no sniffing, no referrer, no framing.
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
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The page's language: the remembered choice, else the browser's, else Kazakh.
pub struct PageLang(pub Lang);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let chosen = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| {
                c.trim()
                    .strip_prefix(LANG_COOKIE)?
                    .strip_prefix('=')
                    .map(str::to_owned)
            });
        let lang = match chosen.as_deref() {
            Some("kk") => Lang::Kk,
            Some("ru") => Lang::Ru,
            Some("en") => Lang::En,
            _ => Lang::from_accept_language(
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            ),
        };
        Ok(PageLang(lang))
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/language/{code}", get(language))
        .route("/static/{*path}", get(asset))
}

/// The home page of the signed-in person: what their roles let them work on. Signed out: the sign-in
/// page.
async fn home(
    State(st): State<AppState>,
    PageLang(lang): PageLang,
    caller: MaybeCaller,
) -> Response {
    let Some(caller) = caller.0 else {
        return Redirect::to("/sign-in").into_response();
    };
    let me = match st.me(&caller).await {
        Ok(me) => me,
        Err(_) => return Redirect::to("/sign-in").into_response(),
    };
    let roles = &me.roles;
    let queue = |status: &str| ListQuery {
        status: Some(status.to_owned()),
        limit: Some(200),
    };
    let review_queue = if roles.iter().any(|r| r == "reviewer") {
        st.list_applications(&caller, queue("submitted"))
            .await
            .unwrap_or_default()
    } else {
        vec![]
    };
    let grant_queue = if roles.iter().any(|r| r == "integrator_admin") {
        st.list_applications(&caller, queue("forwarded"))
            .await
            .unwrap_or_default()
    } else {
        vec![]
    };
    let applications = if roles.iter().any(|r| r == "head") {
        st.list_applications(&caller, ListQuery::default())
            .await
            .unwrap_or_default()
    } else {
        vec![]
    };
    let grants = st
        .list_grants(&caller, ListQuery::default())
        .await
        .unwrap_or_default();
    st.pages.render(
        "home.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/",
            review_queue => Value::from(Serde(&review_queue)),
            grant_queue => Value::from(Serde(&grant_queue)),
            applications => Value::from(Serde(&applications)),
            grants => Value::from(Serde(&grants)),
        },
    )
}

async fn sign_in(State(st): State<AppState>, PageLang(lang): PageLang) -> Response {
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
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("qoljetim_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    debug_assert_eq!(SESSION_COOKIE, "qoljetim_session");
    r
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

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let _ = headers;
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
            "status": "active", "valid_until": "2027-12-01", "scope": {"fiscal_years": [2025, 2026, 2027]}});
        context! {
            me => Value::from(Serde(serde_json::json!({"person": {"common_name": "ТЕСТОВ ТЕСТ", "iin": "840315307490"},
                "organization": {"bin": "940140000385", "name_kk": "Мәслихат", "name_ru": "Маслихат"},
                "roles": ["head", "reviewer", "integrator_admin", "employee"]}))),
            back => "/",
            review_queue => Value::from(Serde(vec![application.clone()])),
            grant_queue => Value::from(Serde(vec![application.clone()])),
            applications => Value::from(Serde(vec![application])),
            grants => Value::from(Serde(vec![grant])),
        }
    }

    /// Every page renders in Kazakh, Russian and English with every text found in the Fluent files
    /// (a missing one would show its key, `page-…`), in the page's language.
    #[test]
    fn every_page_renders_in_every_language() {
        let pages = Pages::new(PagesConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            let sign_in = context! { me => Value::from(()), back => "/sign-in", ncalayer_url => "ws://127.0.0.1:1" };
            for (name, ctx) in [("sign_in.html", sign_in), ("home.html", sample_home())] {
                let html = pages
                    .html(name, lang, ctx)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
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

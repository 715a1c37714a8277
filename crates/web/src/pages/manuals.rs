//! The manuals as pages (Order 270 §7, §12): the Markdown of `docs/user-guide/{kk,ru}/` built into the
//! program, rendered (raw HTML dropped, pictures served from `/docs/images/`), searchable, and showing
//! a reader what changed since the version they last read.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::manual::Manual;
use serde::Deserialize;

use super::PageCaller;
use crate::AppState;
use crate::i18n::Lang;

/// The manuals: name and the Markdown in Kazakh and Russian.
pub const MANUALS: [(&str, &str, &str); 6] = [
    (
        "head",
        include_str!("../../../../docs/user-guide/kk/head.md"),
        include_str!("../../../../docs/user-guide/ru/head.md"),
    ),
    (
        "reviewer",
        include_str!("../../../../docs/user-guide/kk/reviewer.md"),
        include_str!("../../../../docs/user-guide/ru/reviewer.md"),
    ),
    (
        "integrator",
        include_str!("../../../../docs/user-guide/kk/integrator.md"),
        include_str!("../../../../docs/user-guide/ru/integrator.md"),
    ),
    (
        "user-analytical-central",
        include_str!("../../../../docs/user-guide/kk/user-analytical-central.md"),
        include_str!("../../../../docs/user-guide/ru/user-analytical-central.md"),
    ),
    (
        "user-state-planning",
        include_str!("../../../../docs/user-guide/kk/user-state-planning.md"),
        include_str!("../../../../docs/user-guide/ru/user-state-planning.md"),
    ),
    (
        "support",
        include_str!("../../../../docs/user-guide/kk/support.md"),
        include_str!("../../../../docs/user-guide/ru/support.md"),
    ),
];

/// Each role's manuals and the pages of that role each must explain (a test holds the manuals to it).
pub const ROLE_PAGES: [(&str, &str, &[&str]); 6] = [
    (
        "head",
        "head",
        &[
            "/sign-in",
            "/",
            "/applications/new",
            "/applications/{id}",
            "/block-requests/new",
            "/grants",
            "/training",
            "/training/sessions/{id}",
            "/recertification",
            "/recertification/{id}",
            "/support",
            "/notifications",
            "/profile",
        ],
    ),
    (
        "reviewer",
        "reviewer",
        &[
            "/sign-in",
            "/",
            "/applications/{id}",
            "/operations",
            "/training",
            "/training/sessions/{id}",
            "/support",
            "/notifications",
            "/profile",
        ],
    ),
    (
        "integrator_admin",
        "integrator",
        &[
            "/sign-in",
            "/",
            "/applications/{id}",
            "/grants",
            "/operations",
            "/training",
            "/training/sessions/{id}",
            "/changes",
            "/changes/{id}",
            "/recertification",
            "/recertification/{id}",
            "/support",
            "/notifications",
            "/profile",
        ],
    ),
    ("employee", "user-analytical-central", USER_PAGES),
    ("employee", "user-state-planning", USER_PAGES),
    (
        "support_agent",
        "support",
        &[
            "/sign-in",
            "/support",
            "/support/{id}",
            "/notifications",
            "/profile",
        ],
    ),
];

const USER_PAGES: &[&str] = &[
    "/sign-in",
    "/",
    "/training",
    "/training/lessons/{id}",
    "/training/sessions/{id}",
    "/grants/{id}/duties",
    "/explore",
    "/support",
    "/notifications",
    "/profile",
];

/// The manuals, parsed once (they are built into the program): Kazakh, then Russian.
static PARSED: std::sync::LazyLock<[Vec<Manual>; 2]> = std::sync::LazyLock::new(|| {
    ["kk", "ru"].map(|lang| {
        MANUALS
            .iter()
            .filter_map(|(name, kk, ru)| {
                let text = if lang == "kk" { kk } else { ru };
                Manual::parse(&format!("docs/user-guide/{lang}/{name}.md"), lang, text)
                    .map_err(|e| tracing::error!(error = %e, "manual does not parse"))
                    .ok()
            })
            .collect()
    })
});

/// The manuals in one language (`kk`; otherwise Russian).
pub fn manuals(language: &str) -> &'static [Manual] {
    &PARSED[usize::from(language != "kk")]
}

/// Markdown to HTML: raw HTML in the source is dropped (the pages' CSP and escaping stay whole), the
/// repository's picture paths become the served ones, headings get their anchors.
pub fn render(markdown: &str) -> String {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
    let md = markdown.replace("../../images/", "/docs/images/");
    let mut events = vec![];
    let mut heading: Option<(HeadingLevel, Vec<Event>)> = None;
    for e in Parser::new(&md) {
        match e {
            Event::Html(_) | Event::InlineHtml(_) => {}
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, vec![])),
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, inner)) = heading.take() {
                    let text: String = inner
                        .iter()
                        .filter_map(|e| match e {
                            Event::Text(t) | Event::Code(t) => Some(t.to_string()),
                            _ => None,
                        })
                        .collect();
                    events.push(Event::Start(Tag::Heading {
                        level,
                        id: Some(qoljetim_service::manual::anchor(&text).into()),
                        classes: vec![],
                        attrs: vec![],
                    }));
                    events.extend(inner);
                    events.push(Event::End(TagEnd::Heading(level)));
                }
            }
            e => match heading.as_mut() {
                Some((_, inner)) => inner.push(e),
                None => events.push(e),
            },
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SearchQuery {
    q: Option<String>,
}

#[derive(serde::Serialize)]
struct Hit {
    manual: String,
    title: String,
    heading: String,
    anchor: String,
    snippet: String,
}

pub(super) async fn list(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Query(q): Query<SearchQuery>,
) -> Response {
    let me = match st.me(&caller).await {
        Ok(me) => me,
        Err(e) => return super::problem_page(&st, lang, &e),
    };
    let all = manuals(lang.code());
    let mine: Vec<&str> = ROLE_PAGES
        .iter()
        .filter(|(role, _, _)| me.roles.iter().any(|r| r == role))
        .map(|(_, m, _)| *m)
        .collect();
    let query = q.q.unwrap_or_default();
    let hits: Vec<Hit> = all
        .iter()
        .flat_map(|m| {
            m.search(&query).into_iter().map(|(s, snippet)| Hit {
                manual: m.name.clone(),
                title: m.title.clone(),
                heading: s.heading.clone(),
                anchor: s.anchor.clone(),
                snippet,
            })
        })
        .take(50)
        .collect();
    let listed: Vec<_> = all
        .iter()
        .map(|m| context! { name => m.name.clone(), title => m.title.clone(), version => m.version, mine => mine.contains(&m.name.as_str()) })
        .collect();
    st.pages.render(
        "manuals.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/manuals",
            manuals => listed,
            query,
            hits => Value::from(Serde(&hits)),
        },
    )
}

pub(super) async fn manual(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(name): Path<String>,
) -> Response {
    let me = match st.me(&caller).await {
        Ok(me) => me,
        Err(e) => return super::problem_page(&st, lang, &e),
    };
    let Some(m) = manuals(lang.code()).iter().find(|m| m.name == name) else {
        return super::problem_page(
            &st,
            lang,
            &qoljetim_service::ServiceError::not_found(format!("manual {name}")),
        );
    };
    let before = match st.read_manual(&caller, &m.name, m.version).await {
        Ok(v) => v,
        Err(e) => return super::problem_page(&st, lang, &e),
    };
    let changes: Vec<_> = before
        .map(|v| m.changes_since(v).into_iter().cloned().collect())
        .unwrap_or_default();
    st.pages.render(
        "manual.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/manuals/{name}"),
            title => m.title.clone(),
            version => m.version,
            read_before => before,
            changes => Value::from(Serde(&changes)),
            all_changes => Value::from(Serde(&m.changes)),
            html => render(&m.body),
            text_lang => m.language.clone(),
        },
    )
}

//! Recertification pages (issue 17): the campaigns (the integrator opens one for an organization; a
//! head sees their own), and a campaign with its lines, where the head chooses confirm or withdraw per
//! line, sees the exact answer to sign, and signs it with NCALayer (posted to the API, like a change
//! request's decision).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{OpenCampaignBody, Operator, ServiceError, campaign_answer_document};

use super::{PageCaller, form_field};
use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;

type Form = axum::Form<Vec<(String, String)>>;

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
    let (me, list) = match (st.me(caller).await, st.campaigns(caller).await) {
        (Ok(me), Ok(l)) => (me, l),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(st, lang, &e),
    };
    st.pages.render(
        "campaigns.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => "/recertification",
            campaigns => Value::from(Serde(&list)),
            answer_days => st.config.recertification.answer_working_days,
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
    let body = OpenCampaignBody {
        organization_bin: form_field(&form, "organization_bin").unwrap_or_default(),
    };
    match st.open_campaign(Operator::Caller(&caller), Ok(body)).await {
        Ok(v) => Redirect::to(&format!("/recertification/{}", v.id)).into_response(),
        Err(e) => list_page(&st, lang, &caller, Some(e)).await,
    }
}

/// The head's choices: `d<grant>=confirm|withdraw` and `r<grant>=<reason>` per line; lines left
/// without a choice stay pending (an answer may cover some lines now, the rest later).
pub(super) async fn campaign(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let (me, c) = match (st.me(&caller).await, st.campaign(&caller, id).await) {
        (Ok(me), Ok(c)) => (me, c),
        (Err(e), _) | (_, Err(e)) => return super::problem_page(&st, lang, &e),
    };
    let mut chosen = vec![];
    for l in c.lines.iter().filter(|l| l.outcome == "pending") {
        let d = form_field(&q, &format!("d{}", l.grant));
        let Some(d) = d.filter(|d| d == "confirm" || d == "withdraw") else {
            continue;
        };
        let r = form_field(&q, &format!("r{}", l.grant))
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        chosen.push((l.grant, d, r));
    }
    let document = (!chosen.is_empty()).then(|| {
        let list: Vec<(i64, &str, Option<&str>)> = chosen
            .iter()
            .map(|(g, d, r)| (*g, d.as_str(), r.as_deref()))
            .collect();
        campaign_answer_document(id, &list)
    });
    st.pages.render(
        "campaign.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => format!("/recertification/{id}"),
            c => Value::from(Serde(&c)),
            chosen => Value::from(Serde(&chosen)),
            document,
            ncalayer_url => st.pages.config.ncalayer_url.clone(),
        },
    )
}

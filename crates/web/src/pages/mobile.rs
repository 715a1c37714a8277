//! Signing by phone (issue 14, docs/egov-mobile.md): the page with the QR code that eGov business
//! scans, its polling, and the collection of the outcome by the browser that started it. The browser's
//! secret is an HttpOnly cookie scoped to the request's own path, so only this browser collects the
//! session or the new document's id; the use cases decide everything else.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Redirect, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{
    Caller, MobileSigningOutcome, MobileSigningPurpose, MobileSigningStarted, ServiceError,
};

use crate::AppState;
use crate::auth::{SiteBase, cookie_header, cookie_of, session_cookie};
use crate::i18n::Lang;

/// The browser's secret of one signing request (its path scopes it to that request).
const SECRET_COOKIE: &str = "qoljetim_mobile_signing";

/// Where a signing request's page lives.
fn path_of(id: &str) -> String {
    format!("/sign/mobile/{id}")
}

/// Starts a signing by phone and sends the browser to its QR page, keeping the secret in a cookie.
pub(super) fn start(
    st: &AppState,
    lang: Lang,
    purpose: MobileSigningPurpose,
    caller: Option<&Caller>,
    document: Option<&str>,
    base: &str,
) -> Response {
    match st.start_mobile_signing(purpose, caller, document, base) {
        Ok(started) => to_qr_page(st, &started),
        Err(e) => super::problem_page(st, lang, &e),
    }
}

fn to_qr_page(st: &AppState, started: &MobileSigningStarted) -> Response {
    let path = path_of(&started.id);
    let mut r = Redirect::to(&path).into_response();
    if let Some(v) = cookie_header(
        st,
        SECRET_COOKIE,
        &started.browser_secret,
        &path,
        st.config.mobile_signing.seconds.max(30) + 600,
    ) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /sign/mobile`: sign-in by phone (documents start from their compose pages).
pub(super) async fn start_sign_in(
    State(st): State<AppState>,
    lang: Lang,
    SiteBase(base): SiteBase,
) -> Response {
    start(&st, lang, MobileSigningPurpose::SignIn, None, None, &base)
}

fn secret(headers: &axum::http::HeaderMap) -> String {
    cookie_of(headers, SECRET_COOKIE).unwrap_or_default()
}

/// The QR code of a text as an inline SVG (no script, no style: the page's CSP allows it as it is).
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(232, 232)
        .quiet_zone(true)
        .build();
    // The renderer starts with an XML declaration, which HTML does not take.
    svg.find("<svg").map(|i| svg[i..].to_owned())
}

/// `GET /sign/mobile/{id}`: the QR code, the cross-link for a phone, the document being signed, and
/// the state (a script polls it; without script, the button asks).
pub(super) async fn page(
    State(st): State<AppState>,
    lang: Lang,
    SiteBase(base): SiteBase,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let status = match st.mobile_signing_status(&id, &secret(&headers), &base) {
        Ok(s) => s,
        Err(e) => return problem(&st, lang, &e, MobileSigningPurpose::SignIn),
    };
    st.pages.render(
        "mobile_sign.html",
        lang,
        context! {
            me => Value::from(()),
            id,
            purpose => status.purpose.as_str(),
            state => status.state.clone(),
            qr => status.qr.clone(),
            qr_svg => qr_svg(&status.qr),
            business_link => status.business_link.clone(),
            document => status.document.clone(),
            expires => status.expires_at_almaty.clone(),
            status => Value::from(Serde(&status)),
        },
    )
}

/// `GET /sign/mobile/{id}/status`: the state, for the page's script.
pub(super) async fn status(
    State(st): State<AppState>,
    SiteBase(base): SiteBase,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, crate::problem::ApiError> {
    let s = st.mobile_signing_status(&id, &secret(&headers), &base)?;
    Ok(Json(serde_json::json!({"state": s.state, "expires_at": s.expires_at})).into_response())
}

/// `POST /sign/mobile/{id}/finish`: the outcome, once: a sign-in sets the session and opens the home
/// page; a document opens its page; a refusal is shown in words; still waiting goes back to the QR.
pub(super) async fn finish(
    State(st): State<AppState>,
    lang: Lang,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let secret = secret(&headers);
    let purpose = st
        .mobile_signing_status(&id, &secret, "")
        .map(|s| s.purpose)
        .unwrap_or(MobileSigningPurpose::SignIn);
    match st.collect_mobile_signing(&id, &secret) {
        Ok(MobileSigningOutcome::SignedIn(signed_in)) => {
            let mut r = Redirect::to("/").into_response();
            if let Some(v) = session_cookie(&st, &signed_in.view.token, signed_in.max_age_seconds) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(MobileSigningOutcome::Application { id }) => {
            Redirect::to(&format!("/applications/{id}")).into_response()
        }
        Ok(MobileSigningOutcome::BlockRequest { .. }) => {
            Redirect::to("/#block-requests").into_response()
        }
        Err(e)
            if matches!(
                &e.problem,
                qoljetim_service::Problem::WrongState { current, .. } if current == "waiting" || current == "verifying"
            ) =>
        {
            Redirect::to(&path_of(&id)).into_response()
        }
        Err(e) => problem(&st, lang, &e, purpose),
    }
}

/// A refusal, with the way back to where the signing started.
fn problem(st: &AppState, lang: Lang, e: &ServiceError, purpose: MobileSigningPurpose) -> Response {
    let back = match purpose {
        MobileSigningPurpose::SignIn => "/sign-in",
        MobileSigningPurpose::Application => "/applications/new",
        MobileSigningPurpose::BlockRequest => "/block-requests/new",
    };
    super::problem_page_back(st, lang, e, back)
}

//! Sign-in with the organization's digital signature (Order 270 §11) and `GET /me`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use qoljetim_service::{ChallengeView, LoginView, MeView, SignedBody};

use crate::AppState;
use crate::auth::{Caller, ClientIp, session_cookie};
use crate::problem::ApiResult;

#[utoipa::path(get, path = "/api/v1/auth/challenge", responses((status = 200, body = ChallengeView)))]
pub async fn challenge(State(st): State<AppState>) -> ApiResult<Json<ChallengeView>> {
    Ok(Json(st.challenge()?))
}

#[utoipa::path(post, path = "/api/v1/auth/login", request_body = SignedBody,
    responses((status = 200, body = LoginView), (status = 401, description = "problem+json"),
        (status = 403, description = "problem+json: posted from another site (origin-mismatch)"),
        (status = 415, description = "problem+json: not application/json"),
        (status = 429, description = "problem+json: too many attempts; Retry-After")))]
pub async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    _: LoginRequest,
    body: Bytes,
) -> ApiResult<Response> {
    let signed_in = st.sign_in(&ip, &body).await?;
    let cookie = session_cookie(&st, &signed_in.view.token, signed_in.max_age_seconds);
    let mut resp = Json(signed_in.view).into_response();
    if let Some(v) = cookie {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// What a sign-in request must be (issue 15, login CSRF): JSON — a cross-site form cannot send it
/// without a preflight — and, when the browser says where it comes from, from this site.
pub struct LoginRequest;

impl axum::extract::FromRequestParts<AppState> for LoginRequest {
    type Rejection = crate::problem::ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(crate::problem::ApiError::new(
                qoljetim_service::Problem::UnsupportedMediaType {
                    expected: "application/json".into(),
                },
            ));
        }
        if parts.headers.contains_key(header::ORIGIN) && !crate::auth::same_origin(parts, state) {
            return Err(crate::problem::ApiError::new(
                qoljetim_service::Problem::OriginMismatch,
            ));
        }
        Ok(LoginRequest)
    }
}

/// Ends the session: its token stops working at once, and the browser's cookie is cleared.
#[utoipa::path(post, path = "/api/v1/auth/logout",
    responses((status = 204, description = "the session is ended"), (status = 401, description = "problem+json: not signed in")))]
pub async fn logout(State(st): State<AppState>, caller: Caller) -> ApiResult<Response> {
    st.sign_out(&caller).await?;
    let mut r = axum::http::StatusCode::NO_CONTENT.into_response();
    if let Some(v) = crate::auth::cleared_session_cookie(&st) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeView)))]
pub async fn me(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<MeView>> {
    Ok(Json(st.me(&caller).await?))
}

/// Issue 18 (Order 270 §3): an organization's own information system signs in with a challenge
/// (`GET /auth/challenge`) signed by its authentication key — the certificate its granted application
/// line named — and gets a bearer token of minutes for the budget data routes and `/systems/me`.
#[utoipa::path(post, path = "/api/v1/auth/system", request_body = SignedBody,
    responses((status = 200, body = qoljetim_service::SystemSignedIn),
        (status = 401, description = "problem+json: certificate-not-information-system, certificate-wrong-bin, system-not-registered, system-access-ended, a refused signature"),
        (status = 415, description = "problem+json: not application/json"),
        (status = 429, description = "problem+json: too many attempts; Retry-After")))]
pub async fn system_login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    _: LoginRequest,
    body: Bytes,
) -> ApiResult<Json<qoljetim_service::SystemSignedIn>> {
    Ok(Json(st.system_sign_in(&ip, &body).await?))
}

/// Issue 18: the signed-in information system, its organization and its grants live today.
#[utoipa::path(get, path = "/api/v1/systems/me",
    responses((status = 200, body = qoljetim_service::InformationSystemView),
        (status = 401, description = "problem+json: session-expired, system-access-ended"),
        (status = 403, description = "problem+json: system-token-required (a person's session)")))]
pub async fn system_me(
    State(st): State<AppState>,
    system: crate::auth::SystemCaller,
) -> ApiResult<Json<qoljetim_service::InformationSystemView>> {
    Ok(Json(st.system_me(&system).await?))
}

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
    responses((status = 200, body = LoginView), (status = 401, description = "problem+json")))]
pub async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
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

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeView)))]
pub async fn me(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<MeView>> {
    Ok(Json(st.me(&caller).await?))
}

//! The lifecycle (Order 270 §8–§9): HR events, the profile, notifications, the renewal draft.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use qoljetim_service::{
    HrEventView, NotificationList, ProfileBody, ProfileView, RenewalDraftView, SignedBody,
    parse_json,
};

use crate::AppState;
use crate::auth::{Caller, ClientIp};
use crate::i18n::Lang;
use crate::problem::ApiResult;

/// `POST /hr/events`: a dismissal or transfer signed (CMS) by a configured HR system. Blocks every live
/// grant of the person in the organization at once and ends their sessions; the same event twice has
/// one effect (200 with `duplicate: true`).
#[utoipa::path(post, path = "/api/v1/hr/events", request_body = SignedBody,
    responses((status = 201, body = HrEventView, description = "the event, its block clock and effect"),
              (status = 200, body = HrEventView, description = "the same event was received before: duplicate = true"),
              (status = 403, description = "hr-signer-not-allowed")))]
pub async fn hr_event(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<HrEventView>)> {
    let event = st.receive_hr_event(&ip, &body).await?;
    let status = if event.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(event)))
}

#[utoipa::path(get, path = "/api/v1/me/profile", responses((status = 200, body = ProfileView)))]
pub async fn get_profile(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ProfileView>> {
    Ok(Json(st.profile(&caller).await?))
}

/// `PUT /me/profile`: the e-mail for notifications and their language.
#[utoipa::path(put, path = "/api/v1/me/profile", request_body = ProfileBody,
    responses((status = 200, body = ProfileView), (status = 400, description = "email_format, language")))]
pub async fn put_profile(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<ProfileView>> {
    Ok(Json(st.set_profile(&caller, parse_json(&body)).await?))
}

/// `GET /notifications`: the signed-in person's own, newest first, in their language (Accept-Language).
#[utoipa::path(get, path = "/api/v1/notifications", responses((status = 200, body = NotificationList)))]
pub async fn list_notifications(
    State(st): State<AppState>,
    caller: Caller,
    lang: Lang,
) -> ApiResult<Json<NotificationList>> {
    Ok(Json(st.notifications(&caller, lang.notices()).await?))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", params(("id" = i64, Path)), responses((status = 204), (status = 404)))]
pub async fn read_notification(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    st.read_notification(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /grants/{id}/renewal`: a new application form pre-filled from the grant, for the head to sign.
#[utoipa::path(get, path = "/api/v1/grants/{id}/renewal", params(("id" = i64, Path)),
    responses((status = 200, body = RenewalDraftView), (status = 409, description = "renewal-not-possible")))]
pub async fn renewal_draft(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<RenewalDraftView>> {
    Ok(Json(st.renewal_draft(&caller, id).await?))
}

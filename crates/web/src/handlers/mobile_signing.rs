//! The three calls of the eGov apps' QR signing (docs/egov-mobile.md): the service description, the
//! document to sign, and the signed document coming back. Public (a phone has no session); the
//! request's id and the app's bearer token guard them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{AppToken, ClientIp, SiteBase};
use crate::problem::ApiResult;

#[utoipa::path(get, path = "/api/v1/mobile-signing/{id}",
    params(("id" = String, Path, description = "the signing request, from the QR code")),
    responses((status = 200, description = "{description, expiry_date, organisation, document: {uri, auth_type, auth_token}}"),
        (status = 404, description = "problem+json"), (status = 410, description = "problem+json: expired")))]
pub async fn service(
    State(st): State<AppState>,
    SiteBase(base): SiteBase,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(st.mobile_signing_service(&id, &base)?))
}

#[utoipa::path(get, path = "/api/v1/mobile-signing/{id}/document",
    params(("id" = String, Path, description = "the signing request")),
    responses((status = 200, description = "{signMethod: CMS_WITH_DATA, documentsToSign: [{id, nameRu, nameKz, nameEn, meta, document: {file: {mime, data}}}]}"),
        (status = 401, description = "problem+json: the bearer token is not the request's")))]
pub async fn document(
    State(st): State<AppState>,
    AppToken(token): AppToken,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(st.mobile_signing_document(&id, token.as_deref())?))
}

#[utoipa::path(put, path = "/api/v1/mobile-signing/{id}/document",
    params(("id" = String, Path, description = "the signing request")),
    request_body(content = Object, description = "what GET answered, with documentsToSign[0].document.file.data the base64 attached CMS"),
    responses((status = 200, description = "{}: accepted"),
        (status = 422, description = "problem+json: another document was signed"),
        (status = 401, description = "problem+json: refused (sign-in) or a wrong token"),
        (status = 403, description = "problem+json: refused (documents)")))]
pub async fn signed(
    State(st): State<AppState>,
    AppToken(token): AppToken,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    st.complete_mobile_signing(&id, token.as_deref(), &ip, &body)
        .await?;
    Ok(Json(json!({})))
}

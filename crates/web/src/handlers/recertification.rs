//! Recertification campaigns (issue 17): opened by the integrator, answered by the organization's
//! head with a signed CMS, reported as JSON, CSV or PDF.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use qoljetim_service::{CampaignView, OpenCampaignBody, Operator, SignedBody, parse_json};

use super::training::FormatQuery;
use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiResult;

/// `POST /recertification/campaigns`: the integrator opens a campaign for an organization, one line
/// per grant live now; the head answers by the deadline (`[recertification]`).
#[utoipa::path(post, path = "/api/v1/recertification/campaigns", request_body = OpenCampaignBody,
    responses((status = 201, body = CampaignView), (status = 403, description = "forbidden: the integrator's"),
              (status = 409, description = "wrong-state: a campaign is open, or no live grants")))]
pub async fn open(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<CampaignView>)> {
    let v = st
        .open_campaign(Operator::Caller(&caller), parse_json(&body))
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /recertification/campaigns`: every campaign for the integrator, the own organization's for
/// its head.
#[utoipa::path(get, path = "/api/v1/recertification/campaigns", responses((status = 200, body = [CampaignView])))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<CampaignView>>> {
    Ok(Json(st.campaigns(&caller).await?))
}

#[utoipa::path(get, path = "/api/v1/recertification/campaigns/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = CampaignView), (status = 404, description = "not-found")))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(st.campaign(&caller, id).await?))
}

/// `POST /recertification/campaigns/{id}/answers`: a CMS over `{"campaign": id, "decisions":
/// [{"grant": n, "decision": "confirm"|"withdraw", "reason": "…"}]}` signed by the organization's
/// first head or signing right (signing key). A withdrawn grant ends at once, with its sessions.
#[utoipa::path(post, path = "/api/v1/recertification/campaigns/{id}/answers", params(("id" = i64, Path)), request_body = SignedBody,
    responses((status = 200, body = CampaignView), (status = 403, description = "forbidden: not the organization's head"),
              (status = 409, description = "wrong-state: the campaign is closed")))]
pub async fn answer(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(st.answer_campaign(&caller, id, &body).await?))
}

#[utoipa::path(get, path = "/api/v1/recertification/campaigns/{id}/answers/{answer}/evidence", params(("id" = i64, Path), ("answer" = i64, Path)),
    responses((status = 200, content_type = "application/pkcs7-mime", description = "the signed answer, unchanged")))]
pub async fn evidence(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, answer)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    Ok(super::evidence(
        st.campaign_answer_evidence(&caller, id, answer).await?,
    ))
}

/// `GET /recertification/campaigns/{id}/report?format=json|csv|pdf`: who confirmed what.
#[utoipa::path(get, path = "/api/v1/recertification/campaigns/{id}/report", params(("id" = i64, Path), ("format" = Option<String>, Query, description = "json, csv or pdf")),
    responses((status = 200, description = "each reviewed grant, its outcome, who answered and when")))]
pub async fn report(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<FormatQuery>,
) -> ApiResult<Response> {
    super::reports::answer(st.campaign_report(&caller, id, q.format).await?)
}

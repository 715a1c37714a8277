//! OpenAPI 3.1 generated from the handlers' annotations.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use qoljetim_service::views::*;

use crate::AppState;
use crate::handlers::{
    applications, block, data, grants, lifecycle, mobile_signing, organizations, reports, sign_in,
    system,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Qoljetim API",
        description = "Read-only access to the budget-process information systems under Order No. 270 of the Ministry of Finance of Kazakhstan."
    ),
    components(schemas(
        ChallengeView,
        SignedBody,
        LoginView,
        ApplicationView,
        LineView,
        GrantView,
        GrantResultView,
        NotGrantedView,
        ScopeView,
        ReviewBody,
        ReviewLineBody,
        GrantBody,
        OrganizationBody,
        OrganizationView,
        DeadlineView,
        AuditView,
        MeView,
        HealthView,
        BlockRequestView,
        BlockLineView,
        HrEventView,
        ProfileView,
        NotificationView,
        NotificationList,
        RenewalDraftView,
        DimensionValue,
        crate::export::DataAnswerBody,
        crate::export::DataRowView,
        crate::export::ExportNoticeView
    ))
)]
struct ApiDoc;

/// Every route of the API, each from its handler's `#[utoipa::path]` annotation: the router and the
/// OpenAPI document are one list, so a route cannot be served without being documented.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sign_in::challenge))
        .routes(routes!(sign_in::login))
        .routes(routes!(sign_in::logout))
        .routes(routes!(sign_in::me))
        .routes(routes!(mobile_signing::service))
        .routes(routes!(mobile_signing::document, mobile_signing::signed))
        .routes(routes!(
            applications::submit,
            applications::list_applications
        ))
        .routes(routes!(applications::get_application))
        .routes(routes!(applications::evidence))
        .routes(routes!(applications::review))
        .routes(routes!(applications::grant))
        .routes(routes!(grants::list_grants))
        .routes(routes!(lifecycle::renewal_draft))
        .routes(routes!(lifecycle::hr_event))
        .routes(routes!(block::submit, block::list))
        .routes(routes!(block::get))
        .routes(routes!(block::evidence))
        .routes(routes!(lifecycle::get_profile, lifecycle::put_profile))
        .routes(routes!(lifecycle::list_notifications))
        .routes(routes!(lifecycle::read_notification))
        .routes(routes!(reports::deadlines_report))
        .routes(routes!(reports::registry_report))
        .routes(routes!(
            organizations::list_organizations,
            organizations::create_organization
        ))
        .routes(routes!(system::deadline))
        .routes(routes!(system::audit))
        .routes(routes!(openapi))
        // Read only: these routes answer GET; any other method gets 405.
        .routes(routes!(data::query))
        .routes(routes!(data::dimension))
        .routes(routes!(system::healthz))
}

/// The OpenAPI 3.1 document, made once from the same list as the router.
pub fn openapi_json() -> String {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        api_routes()
            .split_for_parts()
            .1
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_owned())
    })
    .clone()
}

#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "this document")))]
pub async fn openapi() -> Response {
    let mut r = openapi_json().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

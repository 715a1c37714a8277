//! OpenAPI 3.1 generated from the handlers' annotations.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::data;

use crate::block;
use crate::handlers;
use crate::lifecycle;
use crate::views::*;

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
        DeadlineView,
        AuditView
    ))
)]
struct ApiDoc;

/// Every route of the API, each from its handler's `#[utoipa::path]` annotation: the router and the
/// OpenAPI document are one list, so a route cannot be served without being documented.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::challenge))
        .routes(routes!(handlers::login))
        .routes(routes!(handlers::me))
        .routes(routes!(handlers::submit, handlers::list_applications))
        .routes(routes!(handlers::get_application))
        .routes(routes!(handlers::evidence))
        .routes(routes!(handlers::review))
        .routes(routes!(handlers::grant))
        .routes(routes!(handlers::list_grants))
        .routes(routes!(lifecycle::renewal_draft))
        .routes(routes!(lifecycle::hr_event))
        .routes(routes!(block::submit, block::list))
        .routes(routes!(block::get))
        .routes(routes!(block::evidence))
        .routes(routes!(lifecycle::get_profile, lifecycle::put_profile))
        .routes(routes!(lifecycle::list_notifications))
        .routes(routes!(lifecycle::read_notification))
        .routes(routes!(lifecycle::deadlines_report))
        .routes(routes!(lifecycle::registry_report))
        .routes(routes!(
            handlers::list_organizations,
            handlers::create_organization
        ))
        .routes(routes!(handlers::deadline))
        .routes(routes!(handlers::audit))
        .routes(routes!(handlers::openapi))
        // Read only: these routes answer GET; any other method gets 405.
        .routes(routes!(data::query))
        .routes(routes!(data::dimension))
        .routes(routes!(handlers::healthz))
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

//! OpenAPI 3.1 generated from the handlers' annotations.

use utoipa::OpenApi;

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
    paths(
        handlers::challenge,
        handlers::login,
        handlers::me,
        handlers::submit,
        handlers::list_applications,
        handlers::get_application,
        handlers::evidence,
        handlers::review,
        handlers::grant,
        handlers::list_grants,
        handlers::list_organizations,
        handlers::create_organization,
        handlers::deadline,
        handlers::audit,
        lifecycle::hr_event,
        lifecycle::get_profile,
        lifecycle::put_profile,
        lifecycle::list_notifications,
        lifecycle::read_notification,
        lifecycle::renewal_draft,
        lifecycle::deadlines_report,
        lifecycle::registry_report,
        block::submit,
        block::list,
        block::get,
        block::evidence,
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

pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

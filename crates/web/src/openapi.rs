//! OpenAPI 3.1 generated from the handlers' annotations.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use qoljetim_service::views::*;

use crate::AppState;
use crate::handlers::{
    applications, block, changes, data, grants, lifecycle, mobile_signing, operations,
    organizations, recertification, reports, sign_in, support, system, training,
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
        ChangeRequestBody,
        ChangeDecisionView,
        ChangeRequestView,
        DeploymentView,
        ReasonBody,
        OrganizationEditBody,
        EndedView,
        SupportLinkBody,
        SupportRequestBody,
        SupportMessageBody,
        SupportAssignBody,
        SupportLinkView,
        SupportMessageView,
        AttachmentView,
        SupportRequestView,
        BilingualView,
        LessonStepView,
        LessonQuestionView,
        LessonStandingView,
        LessonView,
        LessonSummaryView,
        AttemptBody,
        AttemptView,
        DutiesView,
        AcceptDutiesBody,
        TrainingSessionBody,
        TrainingSessionView,
        EnrolBody,
        EnrolmentView,
        AttendanceBody,
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
        .routes(routes!(sign_in::system_login))
        .routes(routes!(sign_in::system_me))
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
        .routes(routes!(training::lessons))
        .routes(routes!(training::lesson))
        .routes(routes!(training::attempt))
        .routes(routes!(training::duties))
        .routes(routes!(training::accept_duties))
        .routes(routes!(training::sessions, training::schedule))
        .routes(routes!(training::session))
        .routes(routes!(training::enrolments, training::enrol))
        .routes(routes!(training::attendance))
        .routes(routes!(training::report, training::send_report))
        .routes(routes!(training::report_evidence))
        .routes(routes!(support::open, support::list))
        .routes(routes!(support::get))
        .routes(routes!(support::message))
        .routes(routes!(support::assign))
        .routes(routes!(support::resolve))
        .routes(routes!(support::attach))
        .routes(routes!(support::attachment))
        .routes(routes!(operations::revoke))
        .routes(routes!(operations::revoke_system))
        .routes(routes!(operations::edit))
        .routes(routes!(operations::deactivate))
        .routes(routes!(operations::remove_staff))
        .routes(routes!(changes::submit, changes::list))
        .routes(routes!(changes::get, changes::revise))
        .routes(routes!(changes::decide))
        .routes(routes!(changes::evidence))
        .routes(routes!(changes::deployments))
        .routes(routes!(recertification::open, recertification::list))
        .routes(routes!(recertification::get))
        .routes(routes!(recertification::answer))
        .routes(routes!(recertification::evidence))
        .routes(routes!(recertification::report))
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
}

/// The OpenAPI 3.1 document, made once from the same list as the router.
pub fn openapi_json() -> String {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let json = api_routes()
            .split_for_parts()
            .1
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned());
        let mut doc: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        complete(&mut doc);
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned())
    })
    .clone()
}

/// Who may call a route: nobody signed in (the signature or nothing authenticates), a phone with its
/// signing request's token, or a session (a bearer token or the pages' cookie).
fn security_of(path: &str) -> serde_json::Value {
    use serde_json::json;
    match path {
        "/api/v1/auth/challenge"
        | "/api/v1/auth/login"
        | "/api/v1/calendar/deadline"
        | "/api/v1/hr/events"
        | "/api/v1/openapi.json"
        | "/healthz"
        | "/readyz"
        | "/api/v1/mobile-signing/{id}" => json!([]),
        "/api/v1/mobile-signing/{id}/document" => json!([{"signingRequestToken": []}]),
        "/api/v1/auth/system" => json!([]),
        "/api/v1/systems/me" => json!([{"systemToken": []}]),
        p if p.starts_with("/api/v1/data/") => {
            json!([{"session": []}, {"sessionCookie": []}, {"systemToken": []}])
        }
        _ => json!([{"session": []}, {"sessionCookie": []}]),
    }
}

/// What the annotations cannot say once for all (issue 15, so that the document tells the truth):
/// every operation may answer a problem (RFC 9457) with the statuses docs/problems.md lists, and each
/// says who may call it; the query parameters carry the rules the server checks.
fn complete(doc: &mut serde_json::Value) {
    use serde_json::json;
    doc["components"]["schemas"]["Problem"] = json!({
        "type": "object",
        "description": "RFC 9457 problem details; `type` is urn:qoljetim:problem:<slug> (docs/problems.md)",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"},
            "request_id": {"type": "string", "description": "the id under which the server logged and audited this request (also the X-Request-Id header)"},
            "errors": {"type": "array", "items": {"type": "object", "required": ["field", "rule", "detail"],
                "properties": {"field": {"type": "string"}, "rule": {"type": "string"}, "detail": {"type": "string"}}}}
        }
    });
    doc["components"]["securitySchemes"] = json!({
        "session": {"type": "http", "scheme": "bearer",
            "description": "the token POST /api/v1/auth/login answers (Order 270 §11)"},
        "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "qoljetim_session",
            "description": "the same session as the pages' HttpOnly cookie; unsafe methods need a same-origin Origin"},
        "systemToken": {"type": "http", "scheme": "bearer",
            "description": "an information system's token (`sys.…`) POST /api/v1/auth/system answers (issue 18, Order 270 §3): the budget data routes and /api/v1/systems/me only"},
        "signingRequestToken": {"type": "http", "scheme": "bearer",
            "description": "the token a QR signing request's service description hands to the phone (docs/egov-mobile.md)"}
    });
    let problem = json!({
        "description": "a problem (RFC 9457): the statuses and types of docs/problems.md — among them 400 validation, 401 not signed in, 403 forbidden, 404, 405, 408, 409, 413, 415, 429 with Retry-After, 503",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
    // A `serde_json::Value` field is any JSON, `null` included (the audit record's details).
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for (_, s) in schemas.iter_mut() {
            if let Some(props) = s.get_mut("properties").and_then(|p| p.as_object_mut()) {
                for (_, p) in props.iter_mut() {
                    if *p == json!({"type": "object"}) {
                        *p = json!({"description": "any JSON value"});
                    }
                }
            }
        }
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for (_, op) in ops.iter_mut() {
            if !op.is_object() {
                continue;
            }
            op["responses"]["default"] = problem.clone();
            // OpenAPI requires a description on every response.
            if let Some(responses) = op["responses"].as_object_mut() {
                for (status, r) in responses.iter_mut() {
                    if r.is_object() && r.get("description").is_none() {
                        r["description"] = json!(format!("{status}: the answer"));
                    }
                }
            }
            op["security"] = security_of(path);
            // `get_mut`, not indexing: an index would add a `parameters: null` where there is none.
            if let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) {
                for p in params {
                    let name = p["name"].as_str().unwrap_or_default().to_owned();
                    let date = json!({"type": "string", "format": "date"});
                    let schema = match (path.as_str(), name.as_str()) {
                        ("/api/v1/calendar/deadline", "from") => date,
                        ("/api/v1/calendar/deadline", "working_days") => {
                            json!({"type": "integer", "minimum": 1, "maximum": 60})
                        }
                        ("/api/v1/reports/access-registry", "on")
                        | ("/api/v1/reports/deadlines", "from" | "to") => date,
                        (
                            "/api/v1/reports/access-registry"
                            | "/api/v1/reports/deadlines"
                            | "/api/v1/training/sessions/{id}/report"
                            | "/api/v1/recertification/campaigns/{id}/report",
                            "format",
                        ) => {
                            json!({"type": "string", "enum": ["json", "csv", "pdf"]})
                        }
                        ("/api/v1/staff/{bin}/{iin}/{role}", "role") => {
                            json!({"type": "string", "enum": ["reviewer", "integrator_admin", "support_agent"]})
                        }
                        ("/api/v1/staff/{bin}/{iin}/{role}", "bin" | "iin")
                        | (
                            "/api/v1/organizations/{bin}"
                            | "/api/v1/organizations/{bin}/deactivate",
                            "bin",
                        ) => {
                            json!({"type": "string", "pattern": "^[0-9]{12}$"})
                        }
                        ("/api/v1/data/{system}/{dataset}", "fiscal_year") => {
                            json!({"type": "integer", "minimum": 2000, "maximum": 2100})
                        }
                        ("/api/v1/data/{system}/{dataset}", "limit") => {
                            json!({"type": "integer", "minimum": 1, "maximum": 10000})
                        }
                        ("/api/v1/data/{system}/{dataset}", "format") => {
                            json!({"type": "string", "enum": ["json", "csv"]})
                        }
                        ("/api/v1/data/{system}/{dataset}", "sep") => {
                            json!({"type": "string", "enum": ["comma", "semicolon", "tab", ",", ";"]})
                        }
                        _ => continue,
                    };
                    p["schema"] = schema;
                }
            }
        }
    }
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

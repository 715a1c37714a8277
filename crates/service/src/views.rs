//! Bodies of requests and answers (DESIGN.md §8), with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeView {
    pub challenge: String,
    pub expires_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedBody {
    /// Base64 (standard) of the DER CMS SignedData with encapsulated content.
    pub signed_cms: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    pub token: String,
    pub expires_at: String,
    #[schema(value_type = Object)]
    pub person: serde_json::Value,
    pub organization: OrganizationView,
    pub roles: Vec<String>,
    /// The certificate's name matched with the latest application line: `match`, `mismatch` (with
    /// the fields, both names, shown to the integrator) or `no_application_line`.
    #[schema(value_type = Object)]
    pub name_check: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    pub line: i64,
    pub surname: String,
    pub name: String,
    pub patronymic: Option<String>,
    pub iin: String,
    pub position: String,
    pub unit: String,
    pub phone: String,
    /// The form's e-mail contact (null on lines received before the form asked for it).
    pub email: Option<String>,
    pub purpose: String,
    pub eqyzmet_qr: String,
    pub status: String,
    pub reason: Option<String>,
    /// Null when the form gave no until-date: the full calendar year applies (Order 270 §9).
    pub access_until_requested: Option<String>,
    pub access_until_effective: String,
    pub notice: Option<String>,
    /// What the HR registry (E-Qyzmet) said: pending, confirmed, mismatch, unknown. The reviewer decides.
    pub hr_check: HrCheckView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HrCheckView {
    pub status: String,
    /// For a mismatch: `{differs: [{field, form, registry}]}`; after an HR event: the event.
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
    pub checked_at: Option<String>,
    pub attempts: i64,
    /// The last error reaching the registry (the worker retries).
    pub last_error: Option<String>,
    /// The HR event (dismissal, transfer) that ended the powers after submission: the line is not granted.
    pub hr_event: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: i64,
    pub applicant_bin: String,
    pub status: String,
    pub date: String,
    pub systems: Vec<String>,
    #[schema(value_type = Object)]
    pub head: serde_json::Value,
    pub signer_iin: String,
    pub signer_name: String,
    /// The signing-time attribute: the signer's own claim, recorded, not trusted.
    pub claimed_signing_time: Option<String>,
    pub received_at: String,
    pub trust_anchor: String,
    /// How the signature was verified: `revocation` (method, status, fail_open, detail) and
    /// `signing_time` (`at`, `source`: "timestamp" or "receipt", and the verified `time_stamp`).
    #[schema(value_type = Object)]
    pub verification: serde_json::Value,
    pub review_due: String,
    pub review_due_at: String,
    pub review_due_provisional: bool,
    pub review_overdue: bool,
    pub grant_due: Option<String>,
    pub grant_due_at: Option<String>,
    pub grant_overdue: bool,
    /// False when the caller sees only their own line.
    pub complete: bool,
    pub lines: Vec<LineView>,
    /// Issue 18 (Order 270 §3): the lines for the organization's own information systems, numbered
    /// among `lines` (shown with the whole application only).
    pub information_systems: Vec<SystemLineView>,
}

/// Issue 18: an application line for an organization's own information system.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemLineView {
    pub line: i64,
    pub name: String,
    pub purpose: String,
    /// The certificate it signs in with: serial (upper-case hex) and issuer.
    pub certificate_serial: String,
    pub certificate_issuer: String,
    /// submitted, approved, rejected, granted.
    pub status: String,
    pub reason: Option<String>,
}

/// Issue 18: an information system's access to one budget system.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemGrantView {
    pub id: i64,
    pub information_system: i64,
    pub name: String,
    pub certificate_serial: String,
    pub application_id: i64,
    pub line: i64,
    pub organization_bin: String,
    pub system: String,
    pub status: String,
    pub valid_from: String,
    pub valid_until: String,
    /// The scope of the organization's kind, fixed at grant time (Order 270 §6).
    pub scope: ScopeView,
    /// validity_ended, organization_deactivated, revoked.
    pub end_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeView {
    pub fiscal_years: Vec<i16>,
    pub levels: Vec<String>,
    pub territory: Option<String>,
    pub territory_prefix: Option<String>,
    pub administrators: Vec<String>,
    /// The name of the territory's region in kk, ru and en (the pages say the scope in words).
    pub territory_region: Option<RegionNameView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionNameView {
    pub kk: String,
    pub ru: String,
    pub en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub id: i64,
    pub application_id: i64,
    pub line: i64,
    pub person_iin: String,
    pub organization_bin: String,
    pub system: String,
    pub status: String,
    pub valid_from: String,
    pub valid_until: String,
    /// Null when the form gave no until-date.
    pub access_until_requested: Option<String>,
    pub access_until_effective: String,
    pub notice: Option<String>,
    /// What the grant lets its holder read, fixed at grant time (Order 270 §6).
    pub scope: ScopeView,
    pub extra_years_reason: Option<String>,
    /// When and why access ended: validity_ended, dismissal, transfer (HR event), dismissed,
    /// transferred, other (the employer's block request), not_eligible (Order 270 §2.6).
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
    pub hr_event: Option<i64>,
    /// Days from today (Almaty) through `valid_until`, for an active grant.
    pub days_left: Option<i64>,
    /// Order 270 §13: when and by what its person was trained (`lesson:<id>@<version>`,
    /// `session:<id>`); null while `pending_training` (and for grants made before the gate).
    pub trained_at: Option<String>,
    pub training_source: Option<String>,
    /// Order 270 §15: the first data read waits for the duties' acceptance (grants made since the
    /// training gate).
    pub duties_required: bool,
    pub duties_accepted_at: Option<String>,
    /// Issue 17: an operator's reason for revoking it.
    pub revoke_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotGrantedView {
    pub line: i64,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantResultView {
    pub grants: Vec<GrantView>,
    /// Issue 18: the information systems' grants.
    pub system_grants: Vec<SystemGrantView>,
    pub not_granted: Vec<NotGrantedView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    pub lines: Vec<ReviewLineBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewLineBody {
    pub line: u32,
    /// approve | reject
    pub decision: String,
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// Extra fiscal years per system beyond those derived from competence; needs `reason`.
    #[schema(value_type = Option<Object>)]
    pub fiscal_years_extra: Option<std::collections::BTreeMap<String, Vec<i64>>>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationBody {
    pub bin: String,
    pub name_kk: String,
    pub name_ru: String,
    pub kind: String,
    pub territory: Option<String>,
    #[serde(default)]
    pub administrators: Vec<String>,
}

/// An organization of the registry (Order 270 §2.6): eligible to apply unless excluded.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub bin: String,
    pub name_kk: String,
    pub name_ru: String,
    pub kind: String,
    pub territory: Option<String>,
    pub administrators: Vec<String>,
    pub eligible: bool,
    pub excluded: Option<String>,
    /// Deactivated by an operator (issue 17): when and why.
    pub deactivated_at: Option<String>,
    pub deactivated_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineView {
    pub from: String,
    pub working_days: u32,
    pub due: String,
    pub due_at: String,
    pub provisional: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub actor_bin: Option<String>,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    pub ip: String,
    pub policies: Vec<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// `GET /healthz`: the service is up and its database answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub status: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub version: String,
}

/// `GET /me`: the signed-in person (from the certificate), the organization, roles and grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    #[schema(value_type = Object)]
    pub person: serde_json::Value,
    pub organization: Option<OrganizationView>,
    pub roles: Vec<String>,
    pub session_expires_at: String,
    pub grants: Vec<GrantView>,
}

/// One line of a block request: the person, why and from when, what was blocked, and its clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockLineView {
    pub iin: String,
    pub reason: String,
    pub effective_date: String,
    pub order_number: Option<String>,
    pub blocked_grants: i64,
    pub sessions_ended: i64,
    /// The future effective date the block waits for (Almaty), until it is applied.
    pub scheduled_for: Option<String>,
    pub blocked_at: Option<String>,
    pub block_due: String,
    pub block_due_at: String,
    pub deadline_met: bool,
    pub working_days_taken: i64,
}

/// A block request (Order 270 §9) as kept: who signed it, when it arrived, its lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockRequestView {
    pub id: i64,
    pub applicant_bin: String,
    pub date: String,
    pub signer_iin: String,
    pub signer_name: String,
    pub trust_anchor: String,
    pub received_at: String,
    pub deadline_met: bool,
    pub lines: Vec<BlockLineView>,
}

/// An HR event as kept (Order 270 §9): the person, the powers' end, the block clock and its effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct HrEventView {
    pub id: i64,
    /// The same event was received before: this is that one, and nothing changed.
    pub duplicate: bool,
    pub event_id: String,
    pub kind: String,
    pub iin: String,
    pub bin: String,
    pub effective_date: String,
    pub order_number: String,
    pub new_position: Option<String>,
    pub received_at: String,
    pub block_due: String,
    pub block_due_at: String,
    pub block_due_provisional: bool,
    pub met: bool,
    pub working_days_taken: i64,
    pub grants_blocked: i64,
    pub sessions_ended: i64,
    pub lines_stopped: i64,
    pub scheduled_for: Option<String>,
    /// The grants blocked by this arrival (absent for a duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<i64>>,
}

/// The e-mail a person gets notices at and their language.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub email: Option<String>,
    pub language: String,
    pub updated_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub read: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub notifications: Vec<NotificationView>,
}

/// A renewal form pre-filled from a grant, for the head to check and sign.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenewalDraftView {
    pub renews_grant: i64,
    pub grant_status: String,
    pub valid_until: String,
    /// An application form (docs/application-form.md) to sign as it is or after corrections.
    #[schema(value_type = Object)]
    pub form: serde_json::Value,
    pub check_before_signing: Vec<String>,
}

/// A code of a dimension and its name in the caller's language (none when the code has no name).
#[derive(Debug, Serialize, ToSchema)]
pub struct DimensionValue {
    pub code: String,
    pub name: Option<String>,
}

/// What a grant made now would give: the grants and the lines left out (issue 13: the integrator sees
/// the derived scope before granting).
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantPreviewView {
    pub grants: Vec<PlannedGrantView>,
    /// Issue 18: the approved information systems' grants.
    pub system_grants: Vec<PlannedSystemGrantView>,
    pub not_granted: Vec<NotGrantedView>,
}

/// Issue 18: an information system's grant as the grant would make it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedSystemGrantView {
    pub line: i64,
    pub name: String,
    pub system: String,
    pub valid_from: String,
    pub valid_until: String,
    pub scope: ScopeView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedGrantView {
    pub line: i64,
    pub person_iin: String,
    pub system: String,
    pub valid_from: String,
    pub valid_until: String,
    pub scope: ScopeView,
}

/// A signed document received: its record, and whether this request made it (`201 Created`) or found
/// the one the same signed content made before (`200 OK`; issue 15).
#[derive(Debug)]
pub struct Submitted<T> {
    pub view: T,
    pub created: bool,
}

/// A text in Kazakh and Russian (Order 270 §12: training in both languages).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BilingualView {
    pub kk: String,
    pub ru: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LessonStepView {
    pub text: BilingualView,
    /// A picture from the manuals (`/docs/images/…`), if the step has one.
    pub image: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LessonQuestionView {
    pub text: BilingualView,
    /// The choices, counted from 1 in an attempt's answers.
    pub choices: Vec<BilingualView>,
}

/// The caller's standing in a lesson: trained for its system at this version, best score, attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonStandingView {
    pub passed: bool,
    pub best_percent: Option<i64>,
    pub attempts: usize,
}

/// A lesson's current version, without its right answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonView {
    pub id: String,
    pub version: i64,
    pub system: String,
    /// Passed at this share of right answers, in percent.
    pub pass_percent: i64,
    pub title: BilingualView,
    pub steps: Vec<LessonStepView>,
    pub questions: Vec<LessonQuestionView>,
    pub standing: LessonStandingView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LessonSummaryView {
    pub id: String,
    pub version: i64,
    pub system: String,
    pub pass_percent: i64,
    pub title: BilingualView,
    pub questions: usize,
    pub standing: LessonStandingView,
}

/// An attempt at a lesson: the version it answers and one choice per question, counted from 1.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptBody {
    pub version: i64,
    pub answers: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub id: i64,
    pub lesson: String,
    pub version: i64,
    pub correct: usize,
    pub total: usize,
    pub percent: u8,
    pub pass_percent: u8,
    pub passed: bool,
    /// Per question, whether the answer was right (the right choice is not told).
    pub right: Vec<bool>,
    /// The caller's grants this pass activated (Order 270 §13).
    pub activated_grants: Vec<i64>,
}

/// Order 270 §15: the duties a user accepts before the first data read of each new grant.
#[derive(Debug, Serialize, ToSchema)]
pub struct DutiesView {
    pub version: u32,
    pub kk: Vec<String>,
    pub ru: Vec<String>,
    pub en: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptDutiesBody {
    /// The version of the duties' text read (`GET /api/v1/duties`).
    pub version: u32,
    /// Must be true: the user accepts every duty.
    pub accept: bool,
}

/// An interactive training session to schedule (Order 270 §12).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingSessionBody {
    /// `analytical_central`, `state_planning`: the systems it trains for.
    pub systems: Vec<String>,
    /// `kk` or `ru`.
    pub language: String,
    /// `online` or `room`.
    pub mode: String,
    /// The room's address or the meeting link.
    pub place: String,
    /// RFC 3339, e.g. `2026-12-08T10:00:00+05:00`; without an offset (`2026-12-08T10:00`) it is
    /// Almaty time.
    pub starts_at: String,
    pub capacity: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrainingSessionView {
    pub id: i64,
    pub systems: Vec<String>,
    pub language: String,
    pub mode: String,
    pub place: String,
    pub starts_at: String,
    pub capacity: i64,
    pub enrolled: i64,
    pub places_left: i64,
    /// The Almaty date it was held (attendance recorded); null while scheduled.
    pub held_on: Option<String>,
    /// Order 270 §13: the integrator's report is due by the end of the 5th working day after.
    pub report_due: Option<String>,
    pub report_due_at: Option<String>,
    pub report_due_provisional: bool,
    pub report_overdue: bool,
    pub report_sent_at: Option<String>,
    pub report_signer: Option<String>,
    /// The session has begun (attendance may be recorded).
    pub begun: bool,
    /// Whether the caller is enrolled.
    pub enrolled_me: bool,
}

/// Enrols the caller, or (a head) an employee of the head's organization by IIN.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    pub iin: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentView {
    pub session_id: i64,
    pub person_iin: String,
    pub organization_bin: String,
    pub enrolled_by: String,
    pub enrolled_at: String,
    /// Null until attendance is recorded.
    pub attended: Option<bool>,
}

/// Who attended a held session (IINs of enrolled people); everyone else enrolled was absent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceBody {
    pub attended: Vec<String>,
}

/// What a support request is about, when it is about a record: `application`, `grant` or
/// `data_query` (the audit record of the read, which is its export's id).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportLinkBody {
    pub kind: String,
    pub id: i64,
}

/// A request to the support service (Order 270 §14).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportRequestBody {
    /// `work`, `technical` or `training`.
    pub category: String,
    /// `kk` or `ru`.
    pub language: String,
    pub subject: String,
    pub message: String,
    pub linked: Option<SupportLinkBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportMessageBody {
    pub message: String,
}

/// `IIN@BIN` of a support agent; none: the caller.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportAssignBody {
    pub assignee: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupportLinkView {
    pub kind: String,
    pub id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupportMessageView {
    pub id: i64,
    /// `IIN@BIN` of the writer.
    pub author: String,
    pub from_support: bool,
    pub body: String,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    pub author: String,
    pub filename: String,
    /// Told by the content: application/pdf, image/png, image/jpeg.
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupportRequestView {
    pub id: i64,
    /// `IIN@BIN` of the requester.
    pub requester: String,
    pub category: String,
    pub language: String,
    pub subject: String,
    pub linked: Option<SupportLinkView>,
    /// open, answered, resolved.
    pub status: String,
    pub assignee: Option<String>,
    pub opened_at: String,
    /// The first answer's deadline: the end of the configured working days after the day opened.
    pub first_answer_due: String,
    pub first_answer_due_at: String,
    pub first_answer_due_provisional: bool,
    pub first_answered_at: Option<String>,
    pub first_answer_overdue: bool,
    pub resolved_at: Option<String>,
    /// Empty in lists; the whole thread in `GET /support/requests/{id}`.
    pub messages: Vec<SupportMessageView>,
    pub attachments: Vec<AttachmentView>,
}

/// Why an operator ends something (a grant revoked, an organization deactivated): recorded and audited.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

/// An organization's names and territory as an operator edits them (issue 17); its BIN and kind stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationEditBody {
    pub name_kk: String,
    pub name_ru: String,
    pub territory: Option<String>,
    #[serde(default)]
    pub administrators: Vec<String>,
}

/// What an operator's change ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedView {
    pub grants_blocked: i64,
    pub sessions_ended: i64,
}

/// A change request as the integrator drafts or revises it (Order 270 §10).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestBody {
    pub title: String,
    /// What changes.
    pub what: String,
    /// Why.
    pub why: String,
    /// Which component (the rule of competence routes it: `state_planning` to the budget-planning body
    /// by default, the rest to the authorized body).
    pub component: String,
    pub risk: String,
    pub rollback: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeDecisionView {
    pub id: i64,
    pub revision: i64,
    /// agree, return, approve.
    pub decision: String,
    pub reasons: Option<String>,
    /// `IIN@BIN` of the signer, and their name from the certificate.
    pub signer: String,
    pub signer_name: String,
    pub content_sha256: String,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeRequestView {
    pub id: i64,
    pub title: String,
    pub what: String,
    pub why: String,
    pub component: String,
    pub risk: String,
    pub rollback: String,
    pub revision: i64,
    /// `authorized_body` or `budget_planning_body` (the rule of competence).
    pub agreeing: String,
    /// submitted, returned, agreed, approved.
    pub status: String,
    pub created_by: String,
    pub submitted_at: String,
    pub agreement_due: String,
    pub agreement_overdue: bool,
    pub approval_due: Option<String>,
    pub approval_overdue: bool,
    pub approved_at: Option<String>,
    pub decisions: Vec<ChangeDecisionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    pub version: String,
    /// The approved change requests this version implements.
    pub implements: Vec<i64>,
    pub recorded_by: String,
    pub recorded_at: String,
}

/// `POST /recertification/campaigns`: the organization whose live grants are reviewed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCampaignBody {
    pub organization_bin: String,
}

/// One line of a campaign: a grant live at the opening and what became of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignLineView {
    pub grant: i64,
    pub person_iin: String,
    pub person_name: String,
    pub system: String,
    pub valid_until: String,
    /// pending, confirmed, withdrawn, blocked (unanswered at the deadline), ended (the grant ended
    /// otherwise before the deadline).
    pub outcome: String,
    /// The signed answer that decided it (null for pending, blocked and ended lines).
    pub answer: Option<i64>,
    pub reason: Option<String>,
    pub decided_at: Option<String>,
    /// The grant's status now.
    pub grant_status: String,
}

/// A signed answer of the organization's head, kept as evidence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignAnswerView {
    pub id: i64,
    /// `<IIN>@<BIN>` of the signer.
    pub signer: String,
    pub signer_name: String,
    pub content_sha256: String,
    pub at: String,
}

/// A recertification campaign (issue 17).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: i64,
    pub organization_bin: String,
    /// open or closed.
    pub status: String,
    /// Who opened it: an integrator administrator, an operator, or `schedule`.
    pub opened_by: String,
    pub opened_at: String,
    /// The last working day to answer (Almaty); the lines still pending after it are blocked.
    pub due: String,
    pub due_at: String,
    /// Set when a year of the calendar the deadline crosses is not published yet.
    pub due_provisional: bool,
    /// When the heads with unanswered lines are reminded.
    pub remind_at: String,
    pub closed_at: Option<String>,
    pub pending: usize,
    pub confirmed: usize,
    pub withdrawn: usize,
    pub blocked: usize,
    pub lines: Vec<CampaignLineView>,
    pub answers: Vec<CampaignAnswerView>,
}

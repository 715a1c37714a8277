//! The use cases of Qoljetim (DESIGN.md §7): each takes a typed command and the authenticated caller,
//! uses the store, Cedar, the calendar, the signature verifier and the clock it is given, and returns a
//! typed outcome or one `ServiceError`. The audit record of every call — allowed, refused with its
//! problem, or in conflict — is written from that result in one place (`audit::Attempt`). The web
//! handlers and the command line only translate to and from these calls.

mod abuse;
mod applications;
mod audit;
mod block;
mod changes;
mod checkpoints;
mod data;
mod error;
mod grants;
mod information_systems;
mod lifecycle;
mod manuals;
mod mobile_signing;
mod operations;
mod organizations;
mod recertification;
mod reports;
mod sessions;
mod sign_in;
mod support;
mod system;
mod toolbox;
mod training;
pub mod views;

use std::sync::Arc;

use qoljetim_domain::{Clock, CompetenceRules, WorkingDayCalendar};
use qoljetim_policy::PolicyEngine;
use qoljetim_signature::Verifier;
use qoljetim_store::Store;

pub use abuse::{AbuseConfig, AbuseGuard};
pub use applications::{EvidenceFile, GrantCommand, ReviewCommand};
pub use block::BlockRequestList;
pub use checkpoints::{
    CHECKPOINT_FILE, Checkpoint, CheckpointKey, CheckpointLog, CheckpointPublicKey,
    CheckpointReport, verify_checkpoints,
};
pub use data::{
    DataAnswerView, DataRequest, DimensionRequest, ExplorerChoices, ExplorerDataset, ExportNotice,
    Output, Reader, parse_code, parse_query,
};
pub use error::{DenialFacts, Input, Problem, ProblemKind, ServiceError, ServiceResult};
pub use grants::ListQuery;
pub use information_systems::{
    InformationSystemView, SYSTEM_TOKEN_PREFIX, SystemCaller, SystemReadLimits, SystemSignedIn,
    SystemsConfig,
};
pub use lifecycle::{NoticeLanguage, OutboxView, ProfileBody};
pub use mobile_signing::{
    MobileSigningConfig, MobileSigningOutcome, MobileSigningPurpose, MobileSigningStarted,
    MobileSigningStatus, MobileSignings,
};
pub use operations::Operator;
pub use organizations::{
    StaffView, not_eligible, org_domain, organization_kinds, parse_organization,
};
/// The most lines a signed form may have (the pages bound what a posted form makes them do by it).
pub use qoljetim_domain::application::MAX_LINES;
/// The manuals' format (Order 270 §7): parsed, searched and versioned in the domain.
pub use qoljetim_domain::manual;
/// The largest attachment of a support request (Order 270 §14, issue 16).
pub use qoljetim_domain::support::MAX_ATTACHMENT_BYTES;
pub use recertification::campaign_answer_document;
pub use reports::{Report, ReportBody, ReportFormat, ReportKind, ReportRequest};
pub use sessions::{
    CHALLENGE_SECONDS, Caller, ChallengeKeys, SessionToken, check_challenge, issue_challenge,
    token_hash,
};
pub use sign_in::SignedIn;

/// Runs `f` as part of the request `id` (its audit records carry the id).
pub async fn request_scope<F: std::future::Future>(id: String, f: F) -> F::Output {
    qoljetim_store::request::scope(id, f).await
}

/// The id of the request being answered, if any.
pub fn current_request_id() -> Option<String> {
    qoljetim_store::request::current()
}
pub use system::{AuditQuery, ChainCheckView, DeadlineQuery, ReadinessView};
pub use toolbox::{parse_json, signed_body_cms};
pub use training::{LessonFile, TRAINING_REPORT_WORKING_DAYS};
pub use views::*;

/// What the use cases are configured with (the `[session]`, `[hr]` and exclusion sections).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Production mode refuses development trust anchors.
    pub production: bool,
    pub session_hours: i64,
    pub session_idle_minutes: i64,
    /// Mark the session cookie `Secure` (behind TLS).
    pub cookie_secure: bool,
    /// BINs of the HR systems whose signed events (dismissals, transfers) are accepted.
    pub hr_event_signer_bins: Vec<String>,
    /// Order 270 §2.6: the excluded kinds and the configured BINs that may not register or apply.
    pub exclusions: qoljetim_domain::org::Exclusions,
    /// Sign-ins per certificate, and the window refusals are aggregated in (`[limits]`, issue 15).
    pub abuse: AbuseConfig,
    /// How many calendar days before the day of receipt a signed document's `date` may lie
    /// (`[intake] date_days_back`, issue 15).
    pub intake_date_days_back: i64,
    /// Signing by phone with the eGov apps' QR codes (`[mobile_signing]`).
    pub mobile_signing: MobileSigningConfig,
    /// Order 270 §14: the support staff's first answer is due in this many working days
    /// (`[support] first_answer_working_days`).
    pub support_first_answer_working_days: u32,
    /// Order 270 §10: the rule of competence for agreeing to change requests, and their clocks
    /// (`[change_requests]`).
    pub change_rules: qoljetim_domain::change_request::ChangeRules,
    /// Issue 17: recertification campaigns' deadline, reminder and schedule (`[recertification]`).
    pub recertification: qoljetim_domain::recertification::RecertificationRules,
    /// Issue 18: organizations' information systems' tokens and rate (`[systems]`).
    pub systems: SystemsConfig,
}

/// The first-answer clock of the support service when the configuration does not set it.
pub const DEFAULT_FIRST_ANSWER_WORKING_DAYS: u32 = 1;

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            production: false,
            session_hours: 8,
            session_idle_minutes: 30,
            cookie_secure: false,
            hr_event_signer_bins: vec![],
            exclusions: qoljetim_domain::org::Exclusions::default(),
            intake_date_days_back: qoljetim_domain::application::DEFAULT_DATE_DAYS_BACK,
            abuse: AbuseConfig::default(),
            mobile_signing: MobileSigningConfig::default(),
            support_first_answer_working_days: DEFAULT_FIRST_ANSWER_WORKING_DAYS,
            change_rules: qoljetim_domain::change_request::ChangeRules::default(),
            recertification: qoljetim_domain::recertification::RecertificationRules::default(),
            systems: SystemsConfig::default(),
        }
    }
}

/// What this instance does for the others on its database (issue 21), as `/metrics` shows it.
#[derive(Debug, Default)]
pub struct InstanceState {
    /// This instance holds the worker lease (runs the background jobs and writes checkpoints).
    pub worker_lease: std::sync::atomic::AtomicBool,
    /// The last audit checkpoint this instance wrote: the record it vouches for, and when (Unix s).
    pub checkpoint_seq: std::sync::atomic::AtomicI64,
    pub checkpoint_at: std::sync::atomic::AtomicI64,
}

/// The use cases and what they use. Cheap to clone (every part is shared).
#[derive(Clone)]
pub struct Service {
    pub store: Store,
    pub policy: Arc<PolicyEngine>,
    pub verifier: Arc<Verifier>,
    pub calendar: Arc<WorkingDayCalendar>,
    /// The sign-in challenges' keys: from configuration when several instances share a database
    /// (issue 21), else this process's own.
    pub challenge_keys: Arc<ChallengeKeys>,
    /// What this instance is doing for the cluster (the worker lease, the last audit checkpoint),
    /// for `/metrics`.
    pub instance: Arc<InstanceState>,
    pub config: Arc<ServiceConfig>,
    /// The budget data engine (read only); None when the data folder has none.
    pub budget: Option<Arc<dyn qoljetim_budget::BudgetStore>>,
    /// The clock every rule reads (settable in tests and by `qoljetim jobs run-once --at`).
    pub clock: Clock,
    /// Competence → scope (Order 270 §6), read from the rules file at start-up.
    pub rules: Arc<CompetenceRules>,
    /// Signing requests waiting for a phone (in this process's memory; DESIGN.md reading in
    /// docs/egov-mobile.md).
    pub mobile_signings: Arc<MobileSignings>,
    /// Rate limits and refusal windows against abuse.
    pub abuse: Arc<AbuseGuard>,
    /// Issue 18: each information system's requests a minute.
    pub system_reads: Arc<SystemReadLimits>,
}

impl Service {
    pub fn new(
        store: Store,
        policy: PolicyEngine,
        verifier: Verifier,
        calendar: WorkingDayCalendar,
        config: ServiceConfig,
    ) -> std::io::Result<Self> {
        let rules = CompetenceRules::shipped().map_err(std::io::Error::other)?;
        Ok(Service {
            store,
            policy: Arc::new(policy),
            verifier: Arc::new(verifier),
            calendar: Arc::new(calendar),
            challenge_keys: Arc::new(ChallengeKeys::random()?),
            instance: Arc::default(),
            budget: None,
            clock: Clock::system(),
            rules: Arc::new(rules),
            mobile_signings: Arc::new(MobileSignings::default()),
            abuse: Arc::new(AbuseGuard::new(config.abuse)),
            system_reads: Arc::new(SystemReadLimits::new(&config.systems)),
            config: Arc::new(config),
        })
    }
}

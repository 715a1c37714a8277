//! Authorization by Cedar (DESIGN.md §5): the schema and policies live in `policies/`, are compiled
//! into the binary, validated in a test, and decide every workflow action. Default deny.

use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityUid, PolicyId, PolicySet,
    Request, Schema,
};
use qoljetim_domain::org::AdministratorCode;
use qoljetim_domain::{
    ApplicationStatus, Bin, BudgetLevel, Iin, Kato, OrganizationKind, Role, System,
};
use serde_json::{Value, json};

pub const SCHEMA: &str = include_str!("../policies/schema.cedarschema");
pub const WORKFLOW_POLICIES: &str = include_str!("../policies/workflow.cedar");
pub const DATA_POLICIES: &str = include_str!("../policies/data.cedar");
pub const TRAINING_POLICIES: &str = include_str!("../policies/training.cedar");
pub const SUPPORT_POLICIES: &str = include_str!("../policies/support.cedar");
pub const CHANGE_POLICIES: &str = include_str!("../policies/changes.cedar");
pub const RECERTIFICATION_POLICIES: &str = include_str!("../policies/recertification.cedar");
pub const SYSTEMS_POLICIES: &str = include_str!("../policies/systems.cedar");

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("Cedar schema: {0}")]
    Schema(String),
    #[error("Cedar policies: {0}")]
    Policies(String),
    #[error("Cedar request: {0}")]
    Request(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SubmitApplication,
    ReadApplication,
    ReadApplicationLine,
    ReviewApplication,
    GrantAccess,
    ReadGrant,
    ReadOrganizations,
    ManageOrganizations,
    ReadAudit,
    /// The e-mail outbox: read it and put an uncertain or failed message back in the queue.
    ManageOutbox,
    /// The registered staff roles (reviewers, integrator administrators) with their IINs.
    ReadStaff,
    ReadReports,
    RequestRenewal,
    PostHrEvent,
    SubmitBlockRequest,
    ReadBlockRequest,
    ListLateBlockRequests,
    /// Read every organization's applications (a list not narrowed to the caller's organization).
    ListAllApplications,
    /// Read every organization's grants.
    ListAllGrants,
    /// Read every organization's block requests.
    ListAllBlockRequests,
    ReadData,
    QueryData,
    /// Order 270 §12: read the lessons and the sessions' schedule.
    ReadTraining,
    /// Order 270 §12–§13: take an online lesson.
    TakeLesson,
    /// Order 270 §12–§13: schedule sessions, record attendance, report on training.
    ManageTraining,
    /// Order 270 §12: enrol a trainee in an interactive session.
    EnrolInTraining,
    /// Order 270 §15: accept the duties of a grant.
    AcceptDuties,
    /// Order 270 §14: open a support request.
    OpenSupportRequest,
    /// Read a support request with its messages and attachments.
    ReadSupportRequest,
    /// Write on a support request: a message, an attachment, resolving it.
    AnswerSupportRequest,
    /// Assign a support request to a support agent.
    ManageSupportRequest,
    /// Read every requester's support requests.
    ListAllSupportRequests,
    /// Issue 17: end one grant with a reason.
    RevokeGrant,
    /// Issue 17: remove a staff role.
    ManageStaff,
    /// Order 270 §10: the integrator drafts and revises change requests.
    DraftChangeRequest,
    /// Read change requests, their decisions and the deployed versions.
    ReadChangeRequests,
    /// Agree to (or return) a change request: the body the rule of competence names.
    AgreeChangeRequest,
    /// Approve an agreed change request: the authorized body.
    ApproveChangeRequest,
    /// Issue 17: open a recertification campaign for an organization.
    OpenCampaign,
    /// Read a campaign, its lines, answers and report.
    ReadCampaign,
    /// Confirm or withdraw a campaign's lines: the organization's head.
    AnswerCampaign,
    /// Read every organization's campaigns.
    ListAllCampaigns,
    /// Issue 18: an information system reads what it is and what it was granted.
    ReadOwnSystem,
}

impl Action {
    /// Every action of the schema (the tests go through all of them).
    pub const ALL: [Action; 43] = [
        Action::SubmitApplication,
        Action::ReadApplication,
        Action::ReadApplicationLine,
        Action::ReviewApplication,
        Action::GrantAccess,
        Action::ReadGrant,
        Action::ReadOrganizations,
        Action::ManageOrganizations,
        Action::ReadAudit,
        Action::ManageOutbox,
        Action::ReadStaff,
        Action::ReadReports,
        Action::RequestRenewal,
        Action::PostHrEvent,
        Action::SubmitBlockRequest,
        Action::ReadBlockRequest,
        Action::ListLateBlockRequests,
        Action::ListAllApplications,
        Action::ListAllGrants,
        Action::ListAllBlockRequests,
        Action::ReadData,
        Action::QueryData,
        Action::ReadTraining,
        Action::TakeLesson,
        Action::ManageTraining,
        Action::EnrolInTraining,
        Action::AcceptDuties,
        Action::OpenSupportRequest,
        Action::ReadSupportRequest,
        Action::AnswerSupportRequest,
        Action::ManageSupportRequest,
        Action::ListAllSupportRequests,
        Action::RevokeGrant,
        Action::ManageStaff,
        Action::DraftChangeRequest,
        Action::ReadChangeRequests,
        Action::AgreeChangeRequest,
        Action::ApproveChangeRequest,
        Action::OpenCampaign,
        Action::ReadCampaign,
        Action::AnswerCampaign,
        Action::ListAllCampaigns,
        Action::ReadOwnSystem,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::SubmitApplication => "submit_application",
            Action::ReadApplication => "read_application",
            Action::ReadApplicationLine => "read_application_line",
            Action::ReviewApplication => "review_application",
            Action::GrantAccess => "grant_access",
            Action::ReadGrant => "read_grant",
            Action::ReadOrganizations => "read_organizations",
            Action::ManageOrganizations => "manage_organizations",
            Action::ReadAudit => "read_audit",
            Action::ManageOutbox => "manage_outbox",
            Action::ReadStaff => "read_staff",
            Action::ReadReports => "read_reports",
            Action::RequestRenewal => "request_renewal",
            Action::PostHrEvent => "post_hr_event",
            Action::SubmitBlockRequest => "submit_block_request",
            Action::ReadBlockRequest => "read_block_request",
            Action::ListLateBlockRequests => "list_late_block_requests",
            Action::ListAllApplications => "list_all_applications",
            Action::ListAllGrants => "list_all_grants",
            Action::ListAllBlockRequests => "list_all_block_requests",
            Action::ReadData => "read_data",
            Action::QueryData => "query_data",
            Action::ReadTraining => "read_training",
            Action::TakeLesson => "take_lesson",
            Action::ManageTraining => "manage_training",
            Action::EnrolInTraining => "enrol_in_training",
            Action::AcceptDuties => "accept_duties",
            Action::OpenSupportRequest => "open_support_request",
            Action::ReadSupportRequest => "read_support_request",
            Action::AnswerSupportRequest => "answer_support_request",
            Action::ManageSupportRequest => "manage_support_request",
            Action::ListAllSupportRequests => "list_all_support_requests",
            Action::RevokeGrant => "revoke_grant",
            Action::ManageStaff => "manage_staff",
            Action::DraftChangeRequest => "draft_change_request",
            Action::ReadChangeRequests => "read_change_requests",
            Action::AgreeChangeRequest => "agree_change_request",
            Action::ApproveChangeRequest => "approve_change_request",
            Action::OpenCampaign => "open_campaign",
            Action::ReadCampaign => "read_campaign",
            Action::AnswerCampaign => "answer_campaign",
            Action::ListAllCampaigns => "list_all_campaigns",
            Action::ReadOwnSystem => "read_own_system",
        }
    }
}

/// Who asks: a person of an organization with the roles their sign-in established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub iin: Iin,
    pub bin: Bin,
    pub org_kind: Option<OrganizationKind>,
    pub roles: Vec<Role>,
}

/// Issue 18 (Order 270 §3): an organization's own information system, signed in with its own
/// certificate. The schema lets it be the principal of the data reads and of reading itself only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemActor {
    /// The registered system's id.
    pub id: i64,
    pub bin: Bin,
    pub org_kind: Option<OrganizationKind>,
}

/// The principal of a Cedar request as its entity holds it.
struct Principal<'a> {
    /// None for a person; a registered information system's id.
    system: Option<i64>,
    iin: &'a str,
    bin: &'a str,
    org_kind: &'a str,
    roles: Vec<&'a str>,
}

impl<'a> Principal<'a> {
    fn of(actor: &'a Actor) -> Self {
        Principal {
            system: None,
            iin: actor.iin.as_str(),
            bin: actor.bin.as_str(),
            org_kind: actor.org_kind.map(|k| k.as_str()).unwrap_or(""),
            roles: actor.roles.iter().map(|r| r.as_str()).collect(),
        }
    }

    fn of_system(actor: &'a SystemActor) -> Self {
        Principal {
            system: Some(actor.id),
            iin: "",
            bin: actor.bin.as_str(),
            org_kind: actor.org_kind.map(|k| k.as_str()).unwrap_or(""),
            roles: vec![],
        }
    }

    /// The principal's entity, a child of its organization's.
    fn entity(&self) -> (Value, String, String) {
        let parents = json!([{"type": "Qoljetim::Organization", "id": self.bin}]);
        match self.system {
            None => {
                let id = format!("{}@{}", self.iin, self.bin);
                let e = json!({"uid": {"type": "Qoljetim::Person", "id": id},
                   "attrs": {"iin": self.iin, "bin": self.bin, "org_kind": self.org_kind, "roles": self.roles},
                   "parents": parents});
                (e, "Person".into(), id)
            }
            Some(system) => {
                let id = system.to_string();
                let e = json!({"uid": {"type": "Qoljetim::InformationSystem", "id": id},
                   "attrs": {"system_id": system, "bin": self.bin, "org_kind": self.org_kind},
                   "parents": parents});
                (e, "InformationSystem".into(), id)
            }
        }
    }
}

/// What is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// An application; `id` None for one being submitted (not stored yet).
    Application {
        id: Option<i64>,
        applicant_bin: Bin,
        status: ApplicationStatus,
    },
    /// One line (one person) of an application.
    ApplicationLine {
        application: i64,
        line: i64,
        applicant_bin: Bin,
        iin: Iin,
    },
    Grant {
        id: i64,
        person_iin: Iin,
        organization_bin: Bin,
    },
    Registry,
    /// A change request (Order 270 §10), by the kind of body that agrees to it.
    ChangeRequest {
        id: i64,
        agreeing_kind: String,
    },
    /// A recertification campaign, by its organization; `id` None for one being opened.
    Campaign {
        id: Option<i64>,
        organization_bin: Bin,
    },
    /// A support request, by its requester (Order 270 §14).
    SupportRequest {
        id: i64,
        requester_iin: Iin,
        requester_bin: Bin,
    },
    /// A person to be trained: who they are and the organization they work in.
    Trainee {
        person_iin: Iin,
        organization_bin: Bin,
    },
    /// A block request; `id` None for one being submitted.
    BlockRequest {
        id: Option<i64>,
        applicant_bin: Bin,
    },
    AuditLog,
    Reports,
    /// Issue 18: a registered information system (what it reads about itself).
    InformationSystem {
        id: i64,
        bin: Bin,
        org_kind: Option<OrganizationKind>,
    },
    /// One budget row (`territory` is its KATO, None for the republican budget).
    BudgetRow {
        system: System,
        fiscal_year: i16,
        level: BudgetLevel,
        territory: Option<Kato>,
        administrator: AdministratorCode,
    },
    /// A data query's explicit filters (None where it does not filter).
    DataQuery {
        system: System,
        fiscal_year: i16,
        level: Option<BudgetLevel>,
        territory: Option<Kato>,
        administrator: Option<AdministratorCode>,
    },
}

/// The scope of the caller's grant, passed to Cedar as context for data decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantContext {
    pub system: System,
    pub fiscal_years: Vec<i16>,
    pub levels: Vec<BudgetLevel>,
    /// The KATO level prefix every readable budget starts with; None for no territorial limit.
    pub territory_prefix: Option<String>,
    /// Empty: every administrator within the other limits.
    pub administrators: Vec<AdministratorCode>,
    /// The grant is active today (status active, today within its validity, Almaty): a fact the
    /// service establishes from the stored grant; `grant-not-active` forbids every read without it.
    pub active: bool,
    /// Order 270 §13: the grant's person completed the training (the grant is not
    /// `pending_training`); `training-required` forbids every read without it.
    pub trained: bool,
    /// Order 270 §15: the duties are accepted (or the grant predates them); `duties-not-accepted`
    /// forbids every read without it.
    pub duties_accepted: bool,
}

/// The KATO level prefixes of a territory: region (2), district (4), rural district (6) digits.
pub fn territory_prefixes(kato: &str) -> Vec<String> {
    if kato.len() != 9 || kato.bytes().all(|b| b == b'0') {
        return vec![];
    }
    let mut out = vec![kato[..2].to_owned()];
    if kato[2..4] != *"00" {
        out.push(kato[..4].to_owned());
        if kato[4..6] != *"00" {
            out.push(kato[..6].to_owned());
        }
    }
    out
}

/// A decision with the ids of the policies that decided it (for the audit chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub policies: Vec<String>,
    pub errors: Vec<String>,
}

pub struct PolicyEngine {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, PolicyError> {
    EntityUid::from_str(&format!(
        "Qoljetim::{kind}::{}",
        Value::String(id.to_owned())
    ))
    .map_err(|e| PolicyError::Request(e.to_string()))
}

/// Parses policies and renames each to its `@id` annotation, so that audits name policies stably.
pub fn parse_policies(text: &str) -> Result<PolicySet, PolicyError> {
    let parsed = PolicySet::from_str(text).map_err(|e| PolicyError::Policies(e.to_string()))?;
    let mut out = PolicySet::new();
    for p in parsed.policies() {
        let id = p.annotation("id").ok_or_else(|| {
            PolicyError::Policies(format!("policy {} has no @id annotation", p.id()))
        })?;
        out.add(p.new_id(PolicyId::new(id)))
            .map_err(|e| PolicyError::Policies(e.to_string()))?;
    }
    Ok(out)
}

impl PolicyEngine {
    pub fn new() -> Result<Self, PolicyError> {
        Self::from_texts(
            SCHEMA,
            &format!(
                "{WORKFLOW_POLICIES}\n{DATA_POLICIES}\n{TRAINING_POLICIES}\n{SUPPORT_POLICIES}\n{CHANGE_POLICIES}\n{RECERTIFICATION_POLICIES}\n{SYSTEMS_POLICIES}"
            ),
        )
    }

    pub fn from_texts(schema: &str, policies: &str) -> Result<Self, PolicyError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(schema).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let policies = parse_policies(policies)?;
        Ok(PolicyEngine {
            schema,
            policies,
            authorizer: Authorizer::new(),
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    fn entities(
        &self,
        actor: &Principal<'_>,
        resource: &Resource,
    ) -> Result<(EntityUid, EntityUid, Entities), PolicyError> {
        let (principal, principal_type, principal_id) = actor.entity();
        let mut list = vec![
            json!({"uid": {"type": "Qoljetim::Organization", "id": actor.bin},
                   "attrs": {"bin": actor.bin, "kind": actor.org_kind}, "parents": []}),
            principal,
        ];
        let (rtype, rid) = match resource {
            Resource::Application {
                id,
                applicant_bin,
                status,
            } => {
                let id = id.map_or_else(|| "new".to_owned(), |i| i.to_string());
                list.push(json!({"uid": {"type": "Qoljetim::Application", "id": id},
                                 "attrs": {"applicant_bin": applicant_bin, "status": status.as_str()}, "parents": []}));
                ("Application", id)
            }
            Resource::ApplicationLine {
                application,
                line,
                applicant_bin,
                iin,
            } => {
                let id = format!("{application}/{line}");
                list.push(json!({"uid": {"type": "Qoljetim::ApplicationLine", "id": id},
                                 "attrs": {"applicant_bin": applicant_bin, "iin": iin}, "parents": []}));
                ("ApplicationLine", id)
            }
            Resource::Grant {
                id,
                person_iin,
                organization_bin,
            } => {
                let id = id.to_string();
                list.push(json!({"uid": {"type": "Qoljetim::Grant", "id": id},
                                 "attrs": {"person_iin": person_iin, "organization_bin": organization_bin}, "parents": []}));
                ("Grant", id)
            }
            Resource::BlockRequest { id, applicant_bin } => {
                let id = id.map_or_else(|| "new".to_owned(), |i| i.to_string());
                list.push(json!({"uid": {"type": "Qoljetim::BlockRequest", "id": id},
                                 "attrs": {"applicant_bin": applicant_bin}, "parents": []}));
                ("BlockRequest", id)
            }
            Resource::ChangeRequest { id, agreeing_kind } => {
                let id = id.to_string();
                list.push(json!({"uid": {"type": "Qoljetim::ChangeRequest", "id": id},
                                 "attrs": {"agreeing_kind": agreeing_kind}, "parents": []}));
                ("ChangeRequest", id)
            }
            Resource::Campaign {
                id,
                organization_bin,
            } => {
                let id = id.map_or_else(|| "new".to_owned(), |i| i.to_string());
                list.push(json!({"uid": {"type": "Qoljetim::Campaign", "id": id},
                                 "attrs": {"organization_bin": organization_bin}, "parents": []}));
                ("Campaign", id)
            }
            Resource::SupportRequest {
                id,
                requester_iin,
                requester_bin,
            } => {
                let id = id.to_string();
                list.push(json!({"uid": {"type": "Qoljetim::SupportRequest", "id": id},
                                 "attrs": {"requester_iin": requester_iin, "requester_bin": requester_bin}, "parents": []}));
                ("SupportRequest", id)
            }
            Resource::Trainee {
                person_iin,
                organization_bin,
            } => {
                let id = format!("{person_iin}@{organization_bin}");
                list.push(json!({"uid": {"type": "Qoljetim::Trainee", "id": id},
                                 "attrs": {"person_iin": person_iin, "organization_bin": organization_bin}, "parents": []}));
                ("Trainee", id)
            }
            Resource::Registry => {
                list.push(json!({"uid": {"type": "Qoljetim::Registry", "id": "organizations"}, "attrs": {}, "parents": []}));
                ("Registry", "organizations".to_owned())
            }
            Resource::BudgetRow {
                system,
                fiscal_year,
                level,
                territory,
                administrator,
            } => {
                // Cedar sees codes as text: "" where a row has no territory (the republican budget).
                let territory = territory.as_ref().map_or("", Kato::as_str);
                let (system, level, administrator) =
                    (system.as_str(), level.as_str(), administrator.as_str());
                let id = format!("{system}/{fiscal_year}/{level}/{territory}/{administrator}");
                list.push(json!({"uid": {"type": "Qoljetim::BudgetRow", "id": id},
                                 "attrs": {"system": system, "fiscal_year": fiscal_year, "level": level,
                                           "territory_prefixes": territory_prefixes(territory), "administrator": administrator},
                                 "parents": []}));
                ("BudgetRow", id)
            }
            Resource::DataQuery {
                system,
                fiscal_year,
                level,
                territory,
                administrator,
            } => {
                // "" where the query does not filter on the attribute.
                let territory = territory.as_ref().map_or("", Kato::as_str);
                let level = level.map_or("", BudgetLevel::as_str);
                let administrator = administrator.as_ref().map_or("", AdministratorCode::as_str);
                let system = system.as_str();
                let id =
                    format!("query:{system}/{fiscal_year}/{level}/{territory}/{administrator}");
                list.push(json!({"uid": {"type": "Qoljetim::DataQuery", "id": id},
                                 "attrs": {"system": system, "fiscal_year": fiscal_year, "level": level, "territory": territory,
                                           "territory_prefixes": territory_prefixes(territory), "administrator": administrator},
                                 "parents": []}));
                ("DataQuery", id)
            }
            Resource::AuditLog => {
                list.push(json!({"uid": {"type": "Qoljetim::AuditLog", "id": "audit"}, "attrs": {}, "parents": []}));
                ("AuditLog", "audit".to_owned())
            }
            Resource::Reports => {
                list.push(json!({"uid": {"type": "Qoljetim::Reports", "id": "reports"}, "attrs": {}, "parents": []}));
                ("Reports", "reports".to_owned())
            }
            Resource::InformationSystem { id, bin, org_kind } => {
                let system_id = *id;
                let id = id.to_string();
                // The principal's own entity is in the list already.
                if actor.system != Some(system_id) {
                    list.push(
                        json!({"uid": {"type": "Qoljetim::InformationSystem", "id": id},
                                 "attrs": {"system_id": system_id, "bin": bin,
                                           "org_kind": org_kind.map(|k| k.as_str()).unwrap_or("")},
                                 "parents": [{"type": "Qoljetim::Organization", "id": bin}]}),
                    );
                }
                ("InformationSystem", id)
            }
        };
        let entities = Entities::from_json_value(Value::Array(list), Some(&self.schema))
            .map_err(|e| PolicyError::Request(e.to_string()))?;
        Ok((
            uid(&principal_type, &principal_id)?,
            uid(rtype, &rid)?,
            entities,
        ))
    }

    /// Decides whether `actor` may take `action` on `resource`.
    pub fn decide(
        &self,
        actor: &Actor,
        action: Action,
        resource: &Resource,
    ) -> Result<Decision, PolicyError> {
        self.decide_in(&Principal::of(actor), action, resource, None)
    }

    /// Decides a submission: `actor` is the signer, `session_bin` the organization of the session the
    /// document was posted in, if any.
    pub fn decide_submission(
        &self,
        actor: &Actor,
        resource: &Resource,
        session_bin: Option<&str>,
    ) -> Result<Decision, PolicyError> {
        let context = match session_bin {
            Some(bin) => json!({"session_bin": bin}),
            None => json!({}),
        };
        self.decide_in(
            &Principal::of(actor),
            Action::SubmitApplication,
            resource,
            Some(context),
        )
    }

    /// Decides whether the signer of an HR event may post it: its certificate's BIN must be one of
    /// the configured HR systems'.
    pub fn decide_hr_event(
        &self,
        signer_bin: Option<&Bin>,
        hr_system_bins: &[String],
    ) -> Result<Decision, PolicyError> {
        // An information system, not a person: its organization's BIN (none: "" — never configured).
        let signer = Principal {
            system: None,
            iin: "",
            bin: signer_bin.map(|b| b.as_str()).unwrap_or(""),
            org_kind: "",
            roles: vec![],
        };
        self.decide_in(
            &signer,
            Action::PostHrEvent,
            &Resource::Registry,
            Some(json!({"hr_system_bins": hr_system_bins})),
        )
    }

    /// Decides a data read or query with the caller's grant scope as context.
    pub fn decide_data(
        &self,
        actor: &Actor,
        action: Action,
        resource: &Resource,
        grant: &GrantContext,
    ) -> Result<Decision, PolicyError> {
        self.decide_data_in(&Principal::of(actor), action, resource, grant)
    }

    /// Issue 18: decides an information system's data read or query with its grant's scope as
    /// context, under the same policies as a person's.
    pub fn decide_system_data(
        &self,
        system: &SystemActor,
        action: Action,
        resource: &Resource,
        grant: &GrantContext,
    ) -> Result<Decision, PolicyError> {
        self.decide_data_in(&Principal::of_system(system), action, resource, grant)
    }

    /// Issue 18: decides an information system's action outside the data reads. The schema admits
    /// a system as the principal of `read_own_system` only: anything else is a request error.
    pub fn decide_system(
        &self,
        system: &SystemActor,
        action: Action,
        resource: &Resource,
    ) -> Result<Decision, PolicyError> {
        self.decide_in(&Principal::of_system(system), action, resource, None)
    }

    fn decide_data_in(
        &self,
        principal: &Principal<'_>,
        action: Action,
        resource: &Resource,
        grant: &GrantContext,
    ) -> Result<Decision, PolicyError> {
        let context = json!({"grant": {"system": grant.system.as_str(), "fiscal_years": grant.fiscal_years,
            "levels": grant.levels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            "territory_prefix": grant.territory_prefix.as_deref().unwrap_or_default(),
            "administrators": grant.administrators.iter().map(AdministratorCode::as_str).collect::<Vec<_>>(),
            "active": grant.active, "trained": grant.trained, "duties_accepted": grant.duties_accepted}});
        self.decide_in(principal, action, resource, Some(context))
    }

    fn decide_in(
        &self,
        actor: &Principal<'_>,
        action: Action,
        resource: &Resource,
        context: Option<Value>,
    ) -> Result<Decision, PolicyError> {
        let (principal, res, entities) = self.entities(actor, resource)?;
        let action_uid = uid("Action", action.as_str())?;
        let context = match context {
            None => Context::empty(),
            Some(c) => Context::from_json_value(c, Some((&self.schema, &action_uid)))
                .map_err(|e| PolicyError::Request(e.to_string()))?,
        };
        let request = Request::new(principal, action_uid, res, context, Some(&self.schema))
            .map_err(|e| PolicyError::Request(e.to_string()))?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &entities);
        let diagnostics = response.diagnostics();
        Ok(Decision {
            allowed: response.decision() == CedarDecision::Allow,
            policies: diagnostics.reason().map(|p| p.to_string()).collect(),
            errors: diagnostics.errors().map(|e| e.to_string()).collect(),
        })
    }
}

#[cfg(test)]
mod tests;

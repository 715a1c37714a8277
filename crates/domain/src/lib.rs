//! Qoljetim's domain: the rules of Order No. 270 with no HTTP, SQL or file I/O.

pub mod application;
pub mod calendar;
pub mod change_request;
pub mod clock;
pub mod competence;
pub mod ids;
pub mod kato;
pub mod lifecycle;
pub mod manual;
pub mod org;
pub mod person_name;
pub mod recertification;
pub mod support;
pub mod training;

pub use application::{ApplicationForm, ApplicationLine, ApplicationStatus, LineStatus};
pub use calendar::WorkingDayCalendar;
pub use clock::Clock;
pub use competence::{CompetenceRules, RulesError};
pub use ids::{Bin, IdError, Iin};
pub use kato::{Kato, KatoLevel};
pub use org::{BudgetLevel, Organization, OrganizationKind, Scope, System};

/// Roles a signed-in person can hold (DESIGN.md §8).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// First head or signing right of an applicant organization.
    Head,
    /// Any other person of an organization.
    Employee,
    /// Authorized-body staff registered with the CLI.
    Reviewer,
    /// Integrator staff registered with the CLI.
    IntegratorAdmin,
    /// Integrator support staff registered with the CLI (Order 270 §14: the support service).
    SupportAgent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Head => "head",
            Role::Employee => "employee",
            Role::Reviewer => "reviewer",
            Role::IntegratorAdmin => "integrator_admin",
            Role::SupportAgent => "support_agent",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        [
            Role::Head,
            Role::Employee,
            Role::Reviewer,
            Role::IntegratorAdmin,
            Role::SupportAgent,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

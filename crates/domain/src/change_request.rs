//! Change requests (Order 270 §10): changes to the access software the integrator develops are made on a
//! request agreed with the authorized body or the central authorized body for budget planning — by
//! competence — and approved. The request's life is a state machine; who agrees is a rule of competence
//! that is data (configuration), not code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::org::OrganizationKind;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// Waiting for the agreeing body (the agreement clock runs).
    Submitted,
    /// Returned by the agreeing body with reasons; the integrator revises and submits again.
    Returned,
    /// Agreed; waiting for the approval (the approval clock runs).
    Agreed,
    /// Approved: the change may be made and deployed.
    Approved,
}

/// A signed decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeDecision {
    Agree,
    Return,
    Approve,
}

impl ChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Submitted => "submitted",
            ChangeStatus::Returned => "returned",
            ChangeStatus::Agreed => "agreed",
            ChangeStatus::Approved => "approved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Submitted,
            Self::Returned,
            Self::Agreed,
            Self::Approved,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The state a decision leads to, or None when the decision does not apply here.
    pub fn decide(self, d: ChangeDecision) -> Option<ChangeStatus> {
        match (self, d) {
            (ChangeStatus::Submitted, ChangeDecision::Agree) => Some(ChangeStatus::Agreed),
            (ChangeStatus::Submitted, ChangeDecision::Return) => Some(ChangeStatus::Returned),
            (ChangeStatus::Agreed, ChangeDecision::Approve) => Some(ChangeStatus::Approved),
            _ => None,
        }
    }

    /// The integrator submits a returned request again, revised.
    pub fn resubmit(self) -> Option<ChangeStatus> {
        (self == ChangeStatus::Returned).then_some(ChangeStatus::Submitted)
    }
}

impl ChangeDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeDecision::Agree => "agree",
            ChangeDecision::Return => "return",
            ChangeDecision::Approve => "approve",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Agree, Self::Return, Self::Approve]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The rule of competence for agreement, and the clocks (`[change_requests]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChangeRules {
    /// The agreeing body's kind by component; a component not named here goes to `default_agreeing`.
    pub agreeing_by_component: BTreeMap<String, String>,
    /// `authorized_body` or `budget_planning_body`.
    pub default_agreeing: String,
    /// Working days for the agreement (default 5) and for the approval (default 2).
    pub agreement_working_days: u32,
    pub approval_working_days: u32,
}

impl Default for ChangeRules {
    fn default() -> Self {
        // Order 270 §10 "by competence": the budget-planning body agrees to changes of what concerns
        // budget planning (the state planning system's data); the authorized body to everything else.
        let mut by = BTreeMap::new();
        by.insert(
            "state_planning".to_owned(),
            "budget_planning_body".to_owned(),
        );
        ChangeRules {
            agreeing_by_component: by,
            default_agreeing: "authorized_body".to_owned(),
            agreement_working_days: 5,
            approval_working_days: 2,
        }
    }
}

impl ChangeRules {
    /// The kind of body that agrees to a change of `component`.
    pub fn agreeing(&self, component: &str) -> OrganizationKind {
        let kind = self
            .agreeing_by_component
            .get(component)
            .unwrap_or(&self.default_agreeing);
        match kind.as_str() {
            "budget_planning_body" => OrganizationKind::BudgetPlanningBody,
            _ => OrganizationKind::AuthorizedBody,
        }
    }

    /// Names a wrong kind in the rules (checked at start-up).
    pub fn check(&self) -> Result<(), String> {
        let ok = |k: &str| matches!(k, "authorized_body" | "budget_planning_body");
        if !ok(&self.default_agreeing) {
            return Err(format!(
                "[change_requests] default_agreeing: {} is not authorized_body or budget_planning_body",
                self.default_agreeing
            ));
        }
        for (c, k) in &self.agreeing_by_component {
            if !ok(k) {
                return Err(format!(
                    "[change_requests] agreeing_by_component.{c}: {k} is not authorized_body or budget_planning_body"
                ));
            }
        }
        if self.agreement_working_days == 0 || self.approval_working_days == 0 {
            return Err("[change_requests] the clocks are at least 1 working day".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Order 270 §10: agreed, then approved; or returned, revised, submitted again. Nothing else moves.
    #[test]
    fn a_request_is_agreed_or_returned_then_approved() {
        use ChangeDecision as D;
        use ChangeStatus as S;
        assert_eq!(S::Submitted.decide(D::Agree), Some(S::Agreed));
        assert_eq!(S::Submitted.decide(D::Return), Some(S::Returned));
        assert_eq!(S::Agreed.decide(D::Approve), Some(S::Approved));
        assert_eq!(S::Returned.resubmit(), Some(S::Submitted));
        for (s, d) in [
            (S::Submitted, D::Approve),
            (S::Agreed, D::Agree),
            (S::Agreed, D::Return),
            (S::Returned, D::Agree),
            (S::Approved, D::Approve),
            (S::Approved, D::Return),
        ] {
            assert_eq!(s.decide(d), None, "{s:?} {d:?}");
        }
        assert_eq!(S::Submitted.resubmit(), None);
        assert_eq!(S::Approved.resubmit(), None);
    }

    // Order 270 §10 "by competence": the rule is data; the default sends state planning to the
    // budget-planning body and everything else to the authorized body.
    #[test]
    fn the_agreeing_body_follows_the_configured_competence() {
        let r = ChangeRules::default();
        assert_eq!(
            r.agreeing("state_planning"),
            OrganizationKind::BudgetPlanningBody
        );
        assert_eq!(r.agreeing("access"), OrganizationKind::AuthorizedBody);
        assert!(r.check().is_ok());
        let bad = ChangeRules {
            default_agreeing: "integrator".into(),
            ..ChangeRules::default()
        };
        assert!(bad.check().is_err_and(|e| e.contains("default_agreeing")));
    }
}

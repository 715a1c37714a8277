//! Change requests (Order 270 §10): the integrator drafts a request (what, why, component, risk,
//! rollback); the rule of competence routes it for agreement to the authorized body or to the
//! budget-planning body, whose head agrees or returns it with reasons by a signed decision; the
//! authorized body's head approves it, signed too; each decision's CMS is kept as evidence. Clocks:
//! agreement and approval in working days (`[change_requests]`). The operator records which approved
//! requests a deployed version implements.

use qoljetim_domain::application::FieldError;
use qoljetim_domain::change_request::{ChangeDecision, ChangeStatus};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{Change, ChangeRequestChange, ChangeRequestRow, ChangeText, NewDecision};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::toolbox::*;
use crate::views::*;
use crate::{Caller, Service};

/// The decision a head signs: the request, the revision read, the decision and its reasons.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionDocument {
    change_request: i64,
    revision: i64,
    decision: String,
    reasons: Option<String>,
}

fn text(b: &ChangeRequestBody) -> ServiceResult<ChangeText> {
    let mut errors = vec![];
    let mut field = |name: &'static str, v: &str, max: usize| {
        let t = v.trim();
        if t.is_empty() || t.chars().count() > max {
            errors.push(FieldError::new(
                format!("/{name}"),
                "text_length",
                format!("1 to {max} characters"),
            ));
        }
        t.to_owned()
    };
    let t = ChangeText {
        title: field("title", &b.title, 200),
        what: field("what", &b.what, 10_000),
        why: field("why", &b.why, 10_000),
        component: field("component", &b.component, 100),
        risk: field("risk", &b.risk, 10_000),
        rollback: field("rollback", &b.rollback, 10_000),
    };
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(ServiceError::validation(errors))
    }
}

impl Service {
    fn change_view(
        &self,
        r: &ChangeRequestRow,
        decisions: Vec<ChangeDecisionView>,
    ) -> ChangeRequestView {
        let now = self.clock.now().as_microsecond();
        ChangeRequestView {
            id: r.id,
            title: r.title.clone(),
            what: r.what.clone(),
            why: r.why.clone(),
            component: r.component.clone(),
            risk: r.risk.clone(),
            rollback: r.rollback.clone(),
            revision: r.revision,
            agreeing: r.agreeing_kind.clone(),
            status: r.status.clone(),
            created_by: r.created_by.clone(),
            submitted_at: rfc3339_micros(r.submitted_at),
            agreement_due: r.agreement_due.clone(),
            agreement_overdue: r.status == "submitted" && now > r.agreement_due_at,
            approval_due: r.approval_due.clone(),
            approval_overdue: r.status == "agreed" && r.approval_due_at.is_some_and(|d| now > d),
            approved_at: r.approved_at.map(rfc3339_micros),
            decisions,
        }
    }

    async fn change_view_of(&self, id: i64) -> ServiceResult<ChangeRequestView> {
        let r = self
            .store
            .change_request(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found(format!("change request {id}")))?;
        let decisions = self
            .store
            .change_decisions(id)
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .map(|d| ChangeDecisionView {
                id: d.id,
                revision: d.revision,
                decision: d.decision,
                reasons: d.reasons,
                signer: d.signer,
                signer_name: d.signer_name,
                content_sha256: d.content_sha256,
                at: rfc3339_micros(d.at),
            })
            .collect();
        Ok(self.change_view(&r, decisions))
    }

    /// Order 270 §10: the integrator drafts a change request; it is routed by the rule of competence
    /// and the agreement clock starts.
    pub async fn submit_change_request(
        &self,
        caller: &Caller,
        body: crate::Input<ChangeRequestBody>,
    ) -> ServiceResult<ChangeRequestView> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::DraftChangeRequest,
                &Resource::Registry,
                "change_requests",
            )?;
            let t = text(&body?)?;
            let rules = &self.config.change_rules;
            let agreeing = rules.agreeing(&t.component).as_str().to_owned();
            let due = self
                .calendar
                .deadline(self.clock.now(), rules.agreement_working_days)
                .map_err(ServiceError::internal)?;
            attempt.update(|e| {
                e.creates = Some("change_request");
                e.details = json!({"title": t.title, "component": t.component, "agreeing": agreeing,
                    "agreement_due": due.due.to_string()});
            });
            let out = self
                .commit(
                    &attempt,
                    Change::ChangeRequest(Box::new(ChangeRequestChange::Submit {
                        text: Box::new(t),
                        agreeing_kind: agreeing,
                        by: caller.actor_id(),
                        at: caller.now,
                        agreement_due: due,
                    })),
                )
                .await?;
            self.change_view_of(out.id.unwrap_or_default()).await
        }
        .await;
        self.settle(attempt, r).await
    }

    /// A returned request, revised by the integrator and submitted again (a new revision, routed
    /// again, the agreement clock again).
    pub async fn revise_change_request(
        &self,
        caller: &Caller,
        id: i64,
        body: crate::Input<ChangeRequestBody>,
    ) -> ServiceResult<ChangeRequestView> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::DraftChangeRequest,
                &Resource::Registry,
                &format!("change_request/{id}"),
            )?;
            let t = text(&body?)?;
            let rules = &self.config.change_rules;
            let agreeing = rules.agreeing(&t.component).as_str().to_owned();
            let due = self
                .calendar
                .deadline(self.clock.now(), rules.agreement_working_days)
                .map_err(ServiceError::internal)?;
            attempt.update(|e| {
                e.details = json!({"agreeing": agreeing, "agreement_due": due.due.to_string()})
            });
            self.commit(
                &attempt,
                Change::ChangeRequest(Box::new(ChangeRequestChange::Revise {
                    id,
                    text: Box::new(t),
                    agreeing_kind: agreeing,
                    at: caller.now,
                    agreement_due: due,
                })),
            )
            .await
            .map_err(|e| match e.problem {
                crate::Problem::NotFound { .. } => {
                    ServiceError::not_found(format!("change request {id}"))
                }
                _ => e,
            })?;
            self.change_view_of(id).await
        }
        .await;
        self.settle(attempt, r).await
    }

    /// A signed decision on a request: `agree` or `return` (with reasons) by the head of the body the
    /// rule of competence names, `approve` by the authorized body's head. The signature is the
    /// authority (the caller only posts it); the CMS is kept as evidence.
    pub async fn decide_change_request(
        &self,
        caller: &Caller,
        id: i64,
        body: &[u8],
    ) -> ServiceResult<ChangeRequestView> {
        let attempt = Attempt::default();
        let r = async {
            let at = self.clock.now();
            let resource_name = format!("change_request/{id}");
            let (cms, verified) = self
                .verified_body(
                    &attempt,
                    body,
                    at,
                    anonymous("decide_change_request", &resource_name, &caller.ip),
                    false,
                )
                .await?;
            let doc: DecisionDocument = serde_json::from_slice(&verified.content).map_err(|e| {
                ServiceError::validation(vec![qoljetim_domain::application::serde_field_error(
                    &e, "",
                )])
            })?;
            let Some(decision) = ChangeDecision::parse(&doc.decision) else {
                return Err(ServiceError::field(
                    "/decision",
                    "change_decision",
                    "agree, return or approve",
                ));
            };
            if doc.change_request != id {
                return Err(ServiceError::field(
                    "/change_request",
                    "change_request",
                    format!(
                        "the signed decision is about request {}, not {id}",
                        doc.change_request
                    ),
                ));
            }
            let reasons = doc
                .reasons
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned);
            if decision == ChangeDecision::Return && reasons.is_none() {
                return Err(ServiceError::field(
                    "/reasons",
                    "reason_required",
                    "a return names its reasons",
                ));
            }
            let row = self
                .store
                .change_request(id)
                .await
                .map_err(ServiceError::store)?
                .ok_or_else(|| ServiceError::not_found(format!("change request {id}")))?;
            // The signer: a head (first head or signing right, signing key) of a registered body.
            let signer_bin = verified.signer.bin.clone().ok_or_else(|| {
                ServiceError::signature(&qoljetim_signature::SignatureError::NotLegalEntity, false)
            })?;
            let actor = self.signing_head(&verified, &signer_bin).await?;
            let signer_iin = actor.iin.clone();
            let action = match decision {
                ChangeDecision::Approve => Action::ApproveChangeRequest,
                _ => Action::AgreeChangeRequest,
            };
            let resource = Resource::ChangeRequest {
                id,
                agreeing_kind: row.agreeing_kind.clone(),
            };
            let d = self.decide(&actor, action, &resource)?;
            let mut e = caller_entry(caller, action.as_str(), resource_name.clone(), &d);
            e.details = signature_evidence(&verified);
            e.details["decision"] = json!(decision.as_str());
            e.details["revision"] = json!(doc.revision);
            e.details["reasons"] = json!(reasons);
            attempt.begin_for(caller, e);
            if !d.allowed {
                return Err(ServiceError::forbidden(action.as_str()));
            }
            let from = ChangeStatus::parse(&row.status)
                .ok_or_else(|| ServiceError::internal("stored status"))?;
            let Some(to) = from.decide(decision) else {
                return Err(ServiceError::new(crate::Problem::WrongState {
                    current: row.status.clone(),
                    expected: match decision {
                        ChangeDecision::Approve => "agreed".into(),
                        _ => "submitted".into(),
                    },
                }));
            };
            let approval_due = match to {
                ChangeStatus::Agreed => Some(
                    self.calendar
                        .deadline(at, self.config.change_rules.approval_working_days)
                        .map_err(ServiceError::internal)?,
                ),
                _ => None,
            };
            let sha = hex::encode(Sha256::digest(&verified.content));
            self.commit(
                &attempt,
                Change::ChangeRequest(Box::new(ChangeRequestChange::Decide(Box::new(
                    NewDecision {
                        request_id: id,
                        revision: doc.revision,
                        from: from.as_str().into(),
                        to: to.as_str().into(),
                        decision: decision.as_str().into(),
                        reasons,
                        signer: format!("{signer_iin}@{signer_bin}"),
                        signer_name: verified.signer.common_name.clone().unwrap_or_default(),
                        evidence: cms,
                        content_sha256: sha,
                        at: at.as_microsecond(),
                        approval_due,
                    },
                )))),
            )
            .await?;
            self.change_view_of(id).await
        }
        .await;
        self.settle(attempt, r).await
    }

    /// The requests, newest first, with their decisions (both sides).
    pub async fn change_requests(&self, caller: &Caller) -> ServiceResult<Vec<ChangeRequestView>> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadChangeRequests,
                &Resource::Registry,
                "change_requests",
            )?;
            let mut out = vec![];
            for r in self
                .store
                .change_requests()
                .await
                .map_err(ServiceError::store)?
            {
                out.push(self.change_view_of(r.id).await?);
            }
            self.record(&attempt).await?;
            Ok(out)
        }
        .await;
        self.settle(attempt, r).await
    }

    pub async fn change_request(
        &self,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<ChangeRequestView> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadChangeRequests,
                &Resource::Registry,
                &format!("change_request/{id}"),
            )?;
            let v = self.change_view_of(id).await?;
            self.record(&attempt).await?;
            Ok(v)
        }
        .await;
        self.settle(attempt, r).await
    }

    /// A decision's signed CMS as received: the evidence `openssl cms -verify` reads.
    pub async fn change_decision_evidence(
        &self,
        caller: &Caller,
        id: i64,
        decision: i64,
    ) -> ServiceResult<crate::EvidenceFile> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadChangeRequests,
                &Resource::Registry,
                &format!("change_request/{id}/decision/{decision}"),
            )?;
            let (request, bytes) = self
                .store
                .change_decision_evidence(decision)
                .await
                .map_err(ServiceError::store)?
                .filter(|(r, _)| *r == id)
                .ok_or_else(|| {
                    ServiceError::not_found(format!("decision {decision} of change request {id}"))
                })?;
            self.record(&attempt).await?;
            Ok(crate::EvidenceFile {
                bytes,
                filename: format!("change-request-{request}-decision-{decision}.p7s"),
                content_type: "application/pkcs7-mime",
            })
        }
        .await;
        self.settle(attempt, r).await
    }

    /// The deployed versions and the approved requests each implements.
    pub async fn deployments(&self, caller: &Caller) -> ServiceResult<Vec<DeploymentView>> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadChangeRequests,
                &Resource::Registry,
                "deployments",
            )?;
            let out = self
                .store
                .deployments()
                .await
                .map_err(ServiceError::store)?
                .into_iter()
                .map(|d| DeploymentView {
                    version: d.version,
                    implements: d.implements,
                    recorded_by: d.recorded_by,
                    recorded_at: rfc3339_micros(d.recorded_at),
                })
                .collect();
            self.record(&attempt).await?;
            Ok(out)
        }
        .await;
        self.settle(attempt, r).await
    }

    /// `qoljetim changes deployed`: the operator records which approved requests a deployed version
    /// implements (each must be approved). Audited.
    pub async fn record_deployment(
        &self,
        operator: &str,
        version: &str,
        implements: Vec<i64>,
    ) -> ServiceResult<()> {
        let attempt = Attempt::default();
        let r = async {
            attempt.begin(
                entry(
                    operator.to_owned(),
                    None,
                    "record_deployment",
                    format!("deployment/{version}"),
                    "allowed".into(),
                    "local",
                ),
                None,
            );
            let v = version.trim();
            if v.is_empty() || v.chars().count() > 100 {
                return Err(ServiceError::field(
                    "/version",
                    "text_length",
                    "1 to 100 characters",
                ));
            }
            attempt.update(|e| e.details = json!({"implements": implements}));
            self.commit(
                &attempt,
                Change::ChangeRequest(Box::new(ChangeRequestChange::Deployed {
                    version: v.to_owned(),
                    implements,
                    by: operator.to_owned(),
                    at: self.clock.now().as_microsecond(),
                })),
            )
            .await
            .map(|_| ())
        }
        .await;
        self.settle(attempt, r).await
    }
}

//! Applications (Order 270 §8–§9): submit a signed form, list and read, the evidence, review, grant.

use std::collections::{BTreeMap, BTreeSet};

use qoljetim_domain::application::{
    ApplicationForm, Decision as LineDecisionKind, FieldError, LineDecision, NOTICE_CAPPED,
    Receipt, grant_validity,
};
use qoljetim_domain::org::derive_scope;
use qoljetim_domain::{ApplicationStatus, LineStatus, Role, System};
use qoljetim_policy::{Action, Actor, Decision, Resource};
use qoljetim_store::{
    ApplicationRow, Change, Conflict, LineRow, NewApplication, NewGrant, NewLine, NotGranted,
    ReviewedLine, StoreError,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::Attempt;
use crate::error::{DenialFacts, Input, Problem, ServiceError, ServiceResult};
use crate::grants::*;
use crate::organizations::*;
use crate::toolbox::*;
use crate::views::*;
use crate::{Caller, Service};

pub(crate) fn app_resource(a: &ApplicationRow) -> Resource {
    Resource::Application {
        id: Some(a.id),
        applicant_bin: a.applicant_bin.clone(),
        status: a.status,
    }
}

impl From<&LineRow> for LineView {
    fn from(l: &LineRow) -> Self {
        LineView {
            line: l.line,
            surname: l.surname.clone(),
            name: l.name.clone(),
            patronymic: l.patronymic.clone(),
            iin: l.iin.to_string(),
            position: l.position.clone(),
            unit: l.unit.clone(),
            phone: l.phone.clone(),
            email: l.email.clone(),
            purpose: l.purpose.clone(),
            eqyzmet_qr: l.eqyzmet_qr.clone(),
            status: l.status.as_str().to_owned(),
            reason: l.reason.clone(),
            access_until_requested: l.access_until_requested.map(|d| d.to_string()),
            access_until_effective: l.access_until_effective.to_string(),
            notice: l.notice.clone(),
            hr_check: HrCheckView {
                status: l.hr_status.clone(),
                detail: l.hr_detail.clone(),
                checked_at: l.hr_checked_at.map(rfc3339_micros),
                attempts: l.hr_attempts,
                last_error: l.hr_last_error.clone(),
                hr_event: l.hr_event_id,
            },
        }
    }
}

impl From<&qoljetim_store::SystemLineRow> for SystemLineView {
    fn from(l: &qoljetim_store::SystemLineRow) -> Self {
        SystemLineView {
            line: l.line,
            name: l.name.clone(),
            purpose: l.purpose.clone(),
            certificate_serial: l.certificate_serial.clone(),
            certificate_issuer: l.certificate_issuer.clone(),
            status: l.status.clone(),
            reason: l.reason.clone(),
        }
    }
}

impl From<&qoljetim_store::SystemGrantRow> for SystemGrantView {
    fn from(g: &qoljetim_store::SystemGrantRow) -> Self {
        SystemGrantView {
            id: g.id,
            information_system: g.information_system_id,
            name: g.name.clone(),
            certificate_serial: g.certificate_serial.clone(),
            application_id: g.application_id,
            line: g.line,
            organization_bin: g.organization_bin.clone(),
            system: g.system.as_str().to_owned(),
            status: g.status.as_str().to_owned(),
            valid_from: g.valid_from.to_string(),
            valid_until: g.valid_until.to_string(),
            scope: ScopeView::from(&g.scope),
            end_reason: g.end_reason.clone(),
        }
    }
}

pub(crate) fn application_view(
    a: &ApplicationRow,
    lines: &[LineRow],
    systems: &[qoljetim_store::SystemLineRow],
    complete: bool,
    now_us: i64,
) -> ApplicationView {
    ApplicationView {
        id: a.id,
        applicant_bin: a.applicant_bin.to_string(),
        status: a.status.as_str().to_owned(),
        date: a.form_date.to_string(),
        systems: a.systems.iter().map(|s| s.as_str().to_owned()).collect(),
        head: a.head.clone(),
        signer_iin: a.signer_iin.to_string(),
        signer_name: a.signer_name.clone(),
        claimed_signing_time: a.claimed_signing_time.map(rfc3339_micros),
        received_at: rfc3339_micros(a.received_at),
        trust_anchor: a.trust_anchor.clone(),
        verification: serde_json::from_str(&a.revocation)
            .unwrap_or_else(|_| json!({"revocation": {"method": a.revocation}})),
        review_due: a.review_due.to_string(),
        review_due_at: rfc3339_micros(a.review_due_at),
        review_due_provisional: a.review_due_provisional,
        review_overdue: a.status == ApplicationStatus::Submitted && now_us > a.review_due_at,
        grant_due: a.grant_due.map(|d| d.to_string()),
        grant_due_at: a.grant_due_at.map(rfc3339_micros),
        grant_overdue: a.status == ApplicationStatus::Forwarded
            && a.grant_due_at.is_some_and(|g| now_us > g),
        complete,
        lines: lines.iter().map(LineView::from).collect(),
        // An employee who sees only their own line sees no system's.
        information_systems: if complete {
            systems.iter().map(SystemLineView::from).collect()
        } else {
            vec![]
        },
    }
}

/// A reviewer's decisions on an application's lines.
pub struct ReviewCommand {
    pub application: i64,
    pub body: Input<ReviewBody>,
}

/// The grant of a forwarded application (with extra fiscal years, if any, and their reason).
pub struct GrantCommand {
    pub application: i64,
    pub body: Input<GrantBody>,
}

/// A signed document as kept (the evidence), with the name it is downloaded under.
pub struct EvidenceFile {
    pub bytes: Vec<u8>,
    pub filename: String,
    pub content_type: &'static str,
}

/// The lines the caller may see, and whether that is the whole application; None: nothing.
type Visible = Option<(Vec<LineRow>, bool)>;

impl Service {
    pub(crate) async fn load_application(&self, id: i64) -> ServiceResult<ApplicationRow> {
        self.store
            .application(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found(format!("application {id}")))
    }

    /// The application `id`, once Cedar allows `action` on it (the decision begins the audit record).
    async fn authorized_application(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: i64,
        action: Action,
    ) -> ServiceResult<ApplicationRow> {
        let a = self.load_application(id).await?;
        self.authorize(
            attempt,
            caller,
            action,
            &app_resource(&a),
            &format!("application/{id}"),
        )?;
        Ok(a)
    }

    async fn lines(&self, id: i64) -> ServiceResult<Vec<LineRow>> {
        self.store.lines(id).await.map_err(ServiceError::store)
    }

    async fn system_lines(&self, id: i64) -> ServiceResult<Vec<qoljetim_store::SystemLineRow>> {
        self.store
            .system_lines(id)
            .await
            .map_err(ServiceError::store)
    }

    async fn application_view_of(&self, id: i64) -> ServiceResult<ApplicationView> {
        let a = self.load_application(id).await?;
        let lines = self.lines(id).await?;
        Ok(application_view(
            &a,
            &lines,
            &self.system_lines(id).await?,
            true,
            self.clock.now().as_microsecond(),
        ))
    }

    /// Order 270 §8: an application signed by the applicant's first head or signing right, posted in
    /// a session of the applicant organization (issue 15: an evidence file in other hands is not a
    /// submission). The same signed content again answers with the application it made (`created`
    /// false), never a second one.
    pub async fn submit_application(
        &self,
        session: &Caller,
        body: &[u8],
    ) -> ServiceResult<Submitted<ApplicationView>> {
        let attempt = Attempt::default();
        let r = self.submit_application_in(&attempt, session, body).await;
        self.settle(attempt, r).await
    }

    async fn submit_application_in(
        &self,
        attempt: &Attempt,
        session: &Caller,
        body: &[u8],
    ) -> ServiceResult<Submitted<ApplicationView>> {
        let ip = session.ip.as_str();
        let at = self.clock.now();
        let (cms, verified) = self
            .verified_body(
                attempt,
                body,
                at,
                anonymous("submit_application", "application", ip),
                false,
            )
            .await?;
        let id = &verified.signer;
        let mut e = entry(
            signer_id(id),
            id.bin.as_ref().map(|b| b.to_string()),
            "submit_application",
            "application".into(),
            String::new(),
            ip,
        );
        e.details = signature_evidence(&verified);
        attempt.begin(e, None);
        let days_back = self.config.intake_date_days_back;
        let form = self.organization_document(
            &verified,
            at,
            |b, today| ApplicationForm::parse_received(b, Receipt::new(today, days_back)),
            |f: &ApplicationForm| &f.applicant_bin,
        )?;
        let Some(org) = self
            .store
            .organization(form.applicant_bin.as_str())
            .await
            .map_err(ServiceError::store)?
        else {
            return Err(ServiceError::new(Problem::OrganizationUnknown {
                bin: form.applicant_bin.to_string(),
            }));
        };
        if let Some(err) = not_eligible(
            self,
            org.bin.as_str(),
            org.kind.as_str(),
            org.excluded.as_deref(),
        ) {
            return Err(err);
        }
        if org.deactivated_at.is_some() {
            return Err(ServiceError::new(Problem::OrganizationDeactivated {
                bin: org.bin.to_string(),
            }));
        }
        let kind = org.kind.current();
        let signer_iin = id.iin.clone().ok_or_else(|| {
            ServiceError::signature(&qoljetim_signature::SignatureError::NoIin, false)
        })?;
        let actor = Actor {
            iin: signer_iin.clone(),
            bin: form.applicant_bin.clone(),
            org_kind: kind,
            roles: vec![Role::Head],
        };
        let resource = Resource::Application {
            id: None,
            applicant_bin: form.applicant_bin.clone(),
            status: ApplicationStatus::Submitted,
        };
        let session_bin = Some(session.actor.bin.as_str());
        let d = self
            .policy
            .decide_submission(&actor, &resource, session_bin)
            .map_err(ServiceError::internal)?;
        attempt.update(|e| e.policies = d.policies.clone());
        if !d.allowed {
            // Cedar decides; the policy that refused names the problem (an operator does not apply, a
            // session of another organization).
            return Err(ServiceError::denied(
                "submit_application",
                &d.policies,
                DenialFacts {
                    kind: org.kind.as_str().to_owned(),
                    session: session.actor.bin.to_string(),
                    applicant: form.applicant_bin.to_string(),
                    ..DenialFacts::default()
                },
            ));
        }
        let due = self
            .calendar
            .deadline(at, 2)
            .map_err(ServiceError::internal)?;
        let new = NewApplication {
            applicant_bin: form.applicant_bin.clone(),
            form_date: form.date,
            systems: form.systems.clone(),
            head: serde_json::to_value(&form.head).map_err(ServiceError::internal)?,
            signer_iin,
            signer_name: id.common_name.clone().unwrap_or_default(),
            signer_certificate: der::Encode::to_der(&verified.signer_certificate)
                .map_err(ServiceError::internal)?,
            claimed_signing_time: verified.claimed_signing_time.map(|t| t.as_microsecond()),
            trust_anchor: verified.anchor.clone(),
            // The verification's evidence beside the CMS: how revocation was checked and which time
            // was the signing time (the column predates time stamps; its text is this JSON).
            revocation: json!({"revocation": revocation_json(&verified.revocation),
                "signing_time": signing_time_json(&verified)})
            .to_string(),
            evidence: cms,
            received_at: at.as_microsecond(),
            review_due: due.due,
            review_due_at: due.due_at.as_microsecond(),
            review_due_provisional: due.provisional,
            lines: form.lines.iter().map(new_line).collect(),
            system_lines: system_lines(&form)?,
            content_sha256: hex::encode(Sha256::digest(&verified.content)),
        };
        attempt.update(|e| {
            e.outcome = "allowed".into();
            e.creates = Some("application");
            e.details["lines"] = json!(form.lines.len());
            e.details["review_due"] = json!(due.due.to_string());
        });
        let (app_id, created) = match self
            .commit_to_store(attempt, Change::SubmitApplication(Box::new(new)))
            .await?
        {
            Ok(out) => (out.id.ok_or_else(|| ServiceError::internal("no id"))?, true),
            // Recorded by the writer as `conflict:duplicate-document` beside the first one's id.
            Err(StoreError::Conflict(Conflict::DuplicateDocument { id })) => (id, false),
            Err(e) => return Err(ServiceError::store(e)),
        };
        Ok(Submitted {
            view: self.application_view_of(app_id).await?,
            created,
        })
    }

    /// What the caller may see of an application: all of it, only their own lines, or nothing.
    pub(crate) fn visible_lines(
        &self,
        c: &Caller,
        a: &ApplicationRow,
        lines: Vec<LineRow>,
    ) -> ServiceResult<(Decision, Visible)> {
        let d = self.decide(&c.actor, Action::ReadApplication, &app_resource(a))?;
        if d.allowed {
            return Ok((d, Some((lines, true))));
        }
        let mut own = vec![];
        let mut policies = BTreeSet::new();
        for l in lines {
            let r = Resource::ApplicationLine {
                application: a.id,
                line: l.line,
                applicant_bin: a.applicant_bin.clone(),
                iin: l.iin.clone(),
            };
            let dl = self.decide(&c.actor, Action::ReadApplicationLine, &r)?;
            if dl.allowed {
                policies.extend(dl.policies);
                own.push(l);
            }
        }
        if own.is_empty() {
            return Ok((d, None));
        }
        Ok((allowed(policies.into_iter().collect()), Some((own, false))))
    }

    /// The applications the caller may read (all, their organization's, or their own lines).
    pub async fn list_applications(
        &self,
        caller: &Caller,
        q: ListQuery,
    ) -> ServiceResult<Vec<ApplicationView>> {
        let attempt = Attempt::default();
        let limit = q.limit.unwrap_or(100).clamp(1, 500);
        // Cedar decides how wide the candidate set is; each candidate is then decided on its own.
        let wide = self
            .decide(
                &caller.actor,
                Action::ListAllApplications,
                &Resource::Registry,
            )?
            .allowed;
        let candidates = self
            .store
            .applications_page(
                if wide {
                    None
                } else {
                    Some(caller.actor.bin.as_str())
                },
                q.status.as_deref(),
                limit,
                q.offset.unwrap_or(0).max(0),
            )
            .await
            .map_err(ServiceError::store)?;
        let mut out = vec![];
        let mut policies = BTreeSet::new();
        for a in candidates {
            let lines = self.lines(a.id).await?;
            if let (d, Some((visible, complete))) = self.visible_lines(caller, &a, lines)? {
                policies.extend(d.policies);
                let systems = if complete {
                    self.system_lines(a.id).await?
                } else {
                    vec![]
                };
                out.push(application_view(
                    &a,
                    &visible,
                    &systems,
                    complete,
                    self.clock.now().as_microsecond(),
                ));
            }
        }
        let d = allowed(policies.into_iter().collect());
        let mut e = caller_entry(caller, "read_application", "applications".into(), &d);
        e.details = json!({"returned": out.len(), "status": q.status});
        attempt.begin_for(caller, e);
        self.record(&attempt).await?;
        Ok(out)
    }

    /// One application, as far as the caller may see it.
    pub async fn application(&self, caller: &Caller, id: i64) -> ServiceResult<ApplicationView> {
        let attempt = Attempt::default();
        let r = self.application_in(&attempt, caller, id).await;
        self.settle(attempt, r).await
    }

    async fn application_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<ApplicationView> {
        let a = self.load_application(id).await?;
        let lines = self.lines(id).await?;
        let (d, visible) = self.visible_lines(caller, &a, lines)?;
        let mut e = caller_entry(caller, "read_application", format!("application/{id}"), &d);
        let Some((visible, complete)) = visible else {
            e.outcome = "denied".into();
            attempt.begin_for(caller, e);
            return Err(ServiceError::forbidden("read_application"));
        };
        attempt.begin_for(caller, e);
        self.record(attempt).await?;
        let systems = if complete {
            self.system_lines(id).await?
        } else {
            vec![]
        };
        Ok(application_view(
            &a,
            &visible,
            &systems,
            complete,
            self.clock.now().as_microsecond(),
        ))
    }

    /// The signed bytes of an application, unchanged (Order 270 §8: the evidence).
    pub async fn application_evidence(
        &self,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<EvidenceFile> {
        let attempt = Attempt::default();
        let r = self.application_evidence_in(&attempt, caller, id).await;
        self.settle(attempt, r).await
    }

    async fn application_evidence_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<EvidenceFile> {
        let a = self.load_application(id).await?;
        let resource = format!("application/{id}/evidence");
        let d = self.authorize(
            attempt,
            caller,
            Action::ReadApplication,
            &app_resource(&a),
            &resource,
        )?;
        let bytes = self
            .store
            .evidence(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found("evidence"))?;
        attempt.begin_for(caller, caller_entry(caller, "read_evidence", resource, &d));
        self.record(attempt).await?;
        Ok(EvidenceFile {
            bytes,
            filename: format!("application-{id}.p7s"),
            content_type: "application/pkcs7-mime; smime-type=signed-data",
        })
    }

    /// Order 270 §9: the reviewer approves or rejects each line; an application with an approved line
    /// is forwarded for the grant (due in 2 working days).
    pub async fn review(
        &self,
        caller: &Caller,
        cmd: ReviewCommand,
    ) -> ServiceResult<ApplicationView> {
        let attempt = Attempt::default();
        let r = self.review_in(&attempt, caller, cmd).await;
        self.settle(attempt, r).await
    }

    async fn review_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        cmd: ReviewCommand,
    ) -> ServiceResult<ApplicationView> {
        let id = cmd.application;
        let a = self
            .authorized_application(attempt, caller, id, Action::ReviewApplication)
            .await?;
        let parsed = cmd.body?;
        let decisions = line_decisions(&parsed).map_err(ServiceError::validation)?;
        let lines = self.lines(id).await?.len() + self.system_lines(id).await?.len();
        let reviewed = match a.status.review(lines as u32, &decisions) {
            Err(qoljetim_domain::application::WorkflowError::WrongState(cur, exp)) => {
                return Err(ServiceError::new(Problem::WrongState {
                    current: cur.to_string(),
                    expected: exp.to_string(),
                }));
            }
            Ok(Err(field_errors)) => return Err(ServiceError::validation(field_errors)),
            Ok(Ok(r)) => r,
        };
        let at = self.clock.now();
        let grant_due = if reviewed.outcome == ApplicationStatus::Forwarded {
            Some(
                self.calendar
                    .deadline(at, 2)
                    .map_err(ServiceError::internal)?,
            )
        } else {
            None
        };
        attempt.update(|e| {
            e.details = json!({
                "outcome": reviewed.outcome.as_str(),
                "lines": reviewed.lines.iter().map(|(n, s, r)| json!({"line": n, "status": s.as_str(), "reason": r})).collect::<Vec<_>>(),
            })
        });
        let change = Change::Review {
            application_id: id,
            lines: reviewed
                .lines
                .iter()
                .map(|(n, s, r)| ReviewedLine {
                    line: i64::from(*n),
                    status: *s,
                    reason: r.clone(),
                })
                .collect(),
            outcome: reviewed.outcome,
            reviewed_at: at.as_microsecond(),
            reviewed_by: caller.actor_id(),
            grant_due,
        };
        self.commit(attempt, change).await?;
        self.application_view_of(id).await
    }

    /// Order 270 §9: access to each requested system for every approved line, with the scope of the
    /// organization's competence (§6), until the line's date or a year (DESIGN.md §3).
    pub async fn grant(
        &self,
        caller: &Caller,
        cmd: GrantCommand,
    ) -> ServiceResult<GrantResultView> {
        let attempt = Attempt::default();
        let r = self.grant_in(&attempt, caller, cmd).await;
        self.settle(attempt, r).await
    }

    async fn grant_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        cmd: GrantCommand,
    ) -> ServiceResult<GrantResultView> {
        let id = cmd.application;
        let a = self
            .authorized_application(attempt, caller, id, Action::GrantAccess)
            .await?;
        let parsed = cmd.body?;
        waits_for_grant(&a)?;
        let (extra, reason) = extra_years(&parsed, &a.systems).map_err(ServiceError::validation)?;
        let at = self.clock.now();
        let (new_grants, not_granted) = self.plan_grants(&a, &extra, reason.as_ref(), at).await?;
        let system_grants = self.plan_system_grants(&a, at).await?;
        attempt.update(|e| {
            e.details = json!({
                "grants": new_grants.iter().map(|g| json!({"line": g.line, "system": g.system.as_str(), "valid_until": g.valid_until, "scope": g.scope})).collect::<Vec<_>>(),
                "not_granted": not_granted.iter().map(|n| json!({"line": n.line, "reason": n.reason})).collect::<Vec<_>>(),
                "system_grants": system_grants.iter().map(|g| json!({"line": g.line, "system": g.system.as_str(), "valid_until": g.valid_until, "scope": g.scope})).collect::<Vec<_>>(),
                "extra_years_reason": reason,
            })
        });
        let change = Change::Grant {
            application_id: id,
            grants: new_grants,
            system_grants,
            not_granted: not_granted.clone(),
            granted_at: at.as_microsecond(),
            granted_by: caller.actor_id(),
        };
        self.commit(attempt, change).await?;
        let grants = self
            .store
            .grants_of_application(id)
            .await
            .map_err(ServiceError::store)?;
        let system_grants = self
            .store
            .system_grants_of_application(id)
            .await
            .map_err(ServiceError::store)?;
        Ok(GrantResultView {
            grants: grants.iter().map(|g| self.grant_view(g)).collect(),
            system_grants: system_grants.iter().map(SystemGrantView::from).collect(),
            not_granted: not_granted
                .into_iter()
                .map(|n| NotGrantedView {
                    line: n.line,
                    reason: n.reason,
                })
                .collect(),
        })
    }
}

fn new_line(l: &qoljetim_domain::application::ApplicationLine) -> NewLine {
    NewLine {
        line: i64::from(l.line),
        iin: l.iin.clone(),
        surname: l.person.surname.clone(),
        name: l.person.name.clone(),
        patronymic: l.person.patronymic.clone(),
        position: l.position.clone(),
        unit: l.unit.clone(),
        phone: l.phone.clone(),
        email: l.email.clone(),
        purpose: l.purpose.clone(),
        access_until_requested: l.access_until_requested,
        access_until_effective: l.access_until_effective,
        notice: l.notice.clone(),
        eqyzmet_qr: l.eqyzmet_qr.clone(),
    }
}

/// Issue 18: the form's information-system lines; a certificate given whole must be the applicant's
/// information-system certificate (a person's, or another BIN's, is named at its line).
fn system_lines(
    form: &qoljetim_domain::application::ApplicationForm,
) -> ServiceResult<Vec<qoljetim_store::NewSystemLine>> {
    use qoljetim_domain::application::SystemCertificate;
    let mut errors = vec![];
    let mut out = vec![];
    for l in &form.information_systems {
        let (serial, issuer) = match &l.certificate {
            SystemCertificate::Named { serial_hex, issuer } => (serial_hex.clone(), issuer.clone()),
            SystemCertificate::Pem(pem) => {
                match qoljetim_signature::system_certificate_of_pem(pem, &form.applicant_bin) {
                    Ok(v) => v,
                    Err(e) => {
                        let rule = match e {
                            qoljetim_signature::SignatureError::WrongBin { .. } => {
                                "system_certificate_bin"
                            }
                            _ => "system_certificate_profile",
                        };
                        errors.push(FieldError::new(
                            format!("/lines/{}/certificate_pem", l.line - 1),
                            rule,
                            format!("{e} ({})", e.slug()),
                        ));
                        continue;
                    }
                }
            }
        };
        out.push(qoljetim_store::NewSystemLine {
            line: i64::from(l.line),
            name: l.name.clone(),
            purpose: l.purpose.clone(),
            certificate_serial: serial,
            certificate_issuer: issuer,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ServiceError::validation(errors))
    }
}

/// The review body's decisions, naming each one that is neither `approve` nor `reject`.
fn line_decisions(parsed: &ReviewBody) -> Result<Vec<LineDecision>, Vec<FieldError>> {
    let mut errors = vec![];
    let decisions = parsed
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let decision = match l.decision.as_str() {
                "approve" => LineDecisionKind::Approve,
                "reject" => LineDecisionKind::Reject,
                _ => {
                    errors.push(FieldError::new(
                        format!("/lines/{i}/decision"),
                        "decision",
                        "approve or reject",
                    ));
                    return None;
                }
            };
            Some(LineDecision {
                line: l.line,
                decision,
                reason: l.reason.clone(),
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(decisions)
    } else {
        Err(errors)
    }
}

type ExtraYears = (BTreeMap<System, BTreeSet<i16>>, Option<String>);

/// The grant body's extra fiscal years per requested system and their reason (required with them).
fn extra_years(parsed: &GrantBody, systems: &[System]) -> Result<ExtraYears, Vec<FieldError>> {
    let mut extra: BTreeMap<System, BTreeSet<i16>> = BTreeMap::new();
    let mut errors = vec![];
    for (name, years) in parsed.fiscal_years_extra.iter().flatten() {
        let field = format!("/fiscal_years_extra/{name}");
        match name.parse::<System>() {
            Ok(s) if systems.contains(&s) => {
                for (i, y) in years.iter().enumerate() {
                    if (2000..=2100).contains(y) {
                        extra.entry(s).or_default().insert(*y as i16);
                    } else {
                        errors.push(FieldError::new(
                            format!("{field}/{i}"),
                            "fiscal_year",
                            "a year from 2000 to 2100",
                        ));
                    }
                }
            }
            Ok(_) => errors.push(FieldError::new(
                field,
                "system_not_requested",
                "the application does not ask for this system",
            )),
            Err(()) => errors.push(FieldError::new(
                field,
                "unknown_system",
                "analytical_central or state_planning",
            )),
        }
    }
    let reason = parsed
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if !extra.is_empty() && reason.is_none() {
        errors.push(FieldError::new(
            "/reason",
            "reason_required",
            "extra fiscal years need a recorded reason",
        ));
    }
    if errors.is_empty() {
        Ok((extra, reason))
    } else {
        Err(errors)
    }
}

impl Service {
    /// The grants of a forwarded application as `grant` would make them at `at` (the same rules: the
    /// approved lines whose powers have not ended, each line's validity, the scope of the organization's
    /// competence and the extra years).
    async fn plan_grants(
        &self,
        a: &ApplicationRow,
        extra: &BTreeMap<System, BTreeSet<i16>>,
        reason: Option<&String>,
        at: jiff::Timestamp,
    ) -> ServiceResult<(Vec<NewGrant>, Vec<NotGranted>)> {
        let org_row = self
            .store
            .organization(a.applicant_bin.as_str())
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::internal("applicant missing"))?;
        if let Some(err) = not_eligible(
            self,
            org_row.bin.as_str(),
            org_row.kind.as_str(),
            org_row.excluded.as_deref(),
        ) {
            return Err(err);
        }
        let org = org_domain(&org_row)?;
        let granted_on = self.calendar.almaty_date(at);
        let lines = self.lines(a.id).await?;
        let mut new_grants = vec![];
        let mut not_granted = vec![];
        for l in lines.iter().filter(|l| l.status == LineStatus::Approved) {
            if l.hr_event_id.is_some() {
                // Order 270 §9: the powers ended after submission (dismissal, transfer): no access.
                not_granted.push(NotGranted {
                    line: l.line,
                    reason: "powers_ended".to_owned(),
                });
                continue;
            }
            let Some(validity) = grant_validity(granted_on, l.access_until_requested) else {
                // DESIGN.md §3: a line whose until-date has passed by the grant is not granted.
                not_granted.push(NotGranted {
                    line: l.line,
                    reason: "access_until_passed".to_owned(),
                });
                continue;
            };
            for sys in &a.systems {
                let years = extra.get(sys).cloned().unwrap_or_default();
                let scope = derive_scope(
                    &self.rules,
                    &org,
                    *sys,
                    validity.valid_from,
                    validity.valid_until,
                    &years,
                );
                new_grants.push(NewGrant {
                    line: l.line,
                    person_iin: l.iin.clone(),
                    organization_bin: a.applicant_bin.clone(),
                    system: *sys,
                    valid_from: validity.valid_from,
                    valid_until: validity.valid_until,
                    access_until_requested: l.access_until_requested,
                    notice: validity.capped.then(|| NOTICE_CAPPED.to_owned()),
                    scope,
                    extra_years_reason: if years.is_empty() {
                        None
                    } else {
                        reason.cloned()
                    },
                });
            }
        }
        Ok((new_grants, not_granted))
    }

    /// Issue 18: each approved information system's grants — every requested budget system, the
    /// scope of the organization's kind (§6), one year (§9) from the grant's day.
    async fn plan_system_grants(
        &self,
        a: &ApplicationRow,
        at: jiff::Timestamp,
    ) -> ServiceResult<Vec<qoljetim_store::NewSystemGrant>> {
        let approved: Vec<_> = self
            .system_lines(a.id)
            .await?
            .into_iter()
            .filter(|l| l.status == "approved")
            .collect();
        if approved.is_empty() {
            return Ok(vec![]);
        }
        let org_row = self.organization_row(a.applicant_bin.as_str()).await?;
        let org = org_domain(&org_row)?;
        let granted_on = self.calendar.almaty_date(at);
        let validity = grant_validity(granted_on, None)
            .ok_or_else(|| ServiceError::internal("a year from today"))?;
        let mut out = vec![];
        for l in &approved {
            for sys in &a.systems {
                out.push(qoljetim_store::NewSystemGrant {
                    line: l.line,
                    system: *sys,
                    valid_from: validity.valid_from,
                    valid_until: validity.valid_until,
                    scope: derive_scope(
                        &self.rules,
                        &org,
                        *sys,
                        validity.valid_from,
                        validity.valid_until,
                        &BTreeSet::new(),
                    ),
                });
            }
        }
        Ok(out)
    }

    /// The grants `grant` would make now, without extra years: for the integrator's page, which
    /// shows the derived scope in words before the decision. Audited as a read; the same permission
    /// as granting (Cedar), and only while the application waits for its grant.
    pub async fn grant_preview(&self, caller: &Caller, id: i64) -> ServiceResult<GrantPreviewView> {
        let attempt = Attempt::default();
        let r = self.grant_preview_in(&attempt, caller, id).await;
        self.settle(attempt, r).await
    }

    async fn grant_preview_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<GrantPreviewView> {
        let a = self
            .authorized_application(attempt, caller, id, Action::GrantAccess)
            .await?;
        attempt.update(|e| e.action = "preview_grant".into());
        waits_for_grant(&a)?;
        let (grants, not_granted) = self
            .plan_grants(&a, &Default::default(), None, self.clock.now())
            .await?;
        let systems = self.plan_system_grants(&a, self.clock.now()).await?;
        let names = self.system_lines(id).await?;
        self.record(attempt).await?;
        Ok(GrantPreviewView {
            system_grants: systems
                .iter()
                .map(|g| PlannedSystemGrantView {
                    line: g.line,
                    name: names
                        .iter()
                        .find(|l| l.line == g.line)
                        .map(|l| l.name.clone())
                        .unwrap_or_default(),
                    system: g.system.as_str().to_owned(),
                    valid_from: g.valid_from.to_string(),
                    valid_until: g.valid_until.to_string(),
                    scope: ScopeView::from(&g.scope),
                })
                .collect(),
            grants: grants
                .iter()
                .map(|g| PlannedGrantView {
                    line: g.line,
                    person_iin: g.person_iin.to_string(),
                    system: g.system.as_str().to_owned(),
                    valid_from: g.valid_from.to_string(),
                    valid_until: g.valid_until.to_string(),
                    scope: ScopeView::from(&g.scope),
                })
                .collect(),
            not_granted: not_granted
                .into_iter()
                .map(|n| NotGrantedView {
                    line: n.line,
                    reason: n.reason,
                })
                .collect(),
        })
    }
}

impl Service {
    /// The application form's rules as the submission applies them today (Almaty), before anything is
    /// signed: the pages show each broken rule beside its field in the words of the API's answer.
    pub fn check_application_form(&self, form: &[u8]) -> ServiceResult<()> {
        let today = self.calendar.almaty_date(self.clock.now());
        let form = ApplicationForm::parse_received(
            form,
            Receipt::new(today, self.config.intake_date_days_back),
        )
        .map_err(ServiceError::validation)?;
        // Issue 18: a system's certificate given whole is checked as the submission checks it.
        system_lines(&form).map(|_| ())
    }

    /// The same for a block request (Order 270 §9).
    pub fn check_block_request(&self, request: &[u8]) -> ServiceResult<()> {
        let today = self.calendar.almaty_date(self.clock.now());
        qoljetim_domain::lifecycle::BlockRequest::parse_received(
            request,
            Receipt::new(today, self.config.intake_date_days_back),
        )
        .map(|_| ())
        .map_err(ServiceError::validation)
    }

    /// Today in Almaty: the date a form composed now carries.
    pub fn today(&self) -> jiff::civil::Date {
        self.calendar.almaty_date(self.clock.now())
    }
}

/// Only a forwarded application is granted (and previewed for its grant).
fn waits_for_grant(a: &ApplicationRow) -> ServiceResult<()> {
    match a.status.grant() {
        Err(qoljetim_domain::application::WorkflowError::WrongState(cur, exp)) => {
            Err(ServiceError::new(Problem::WrongState {
                current: cur.to_string(),
                expected: exp.to_string(),
            }))
        }
        _ => Ok(()),
    }
}

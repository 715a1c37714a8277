//! Recertification campaigns (issue 17): the integrator (or the schedule, `[recertification]
//! every_months`) opens a campaign for an organization with one line per grant live at the opening;
//! the organization's head confirms or withdraws each line by a signed answer (a CMS over the answer's
//! JSON, kept as evidence); a withdrawn grant ends at once with its person's sessions; the heads with
//! unanswered lines are reminded, and the lines still unanswered when the deadline (working days,
//! Almaty) has passed are blocked. The campaign report (JSON/CSV/PDF) shows who confirmed what.

use std::collections::BTreeSet;

use qoljetim_domain::Bin;
use qoljetim_domain::recertification::{CampaignStatus, LineOutcome, RecertificationDecision};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{
    CampaignAnswerLine, CampaignRow, Change, NewCampaignAnswer, NewNotification,
    RecertificationChange,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::operations::Operator;
use crate::toolbox::*;
use crate::views::*;
use crate::{Caller, Service};

/// What the head signs: the campaign and a decision per line answered (all lines at once, or some).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerDocument {
    campaign: i64,
    decisions: Vec<AnswerLine>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerLine {
    grant: i64,
    decision: String,
    reason: Option<String>,
}

fn campaign_resource(c: &CampaignRow) -> ServiceResult<Resource> {
    Ok(Resource::Campaign {
        id: Some(c.id),
        organization_bin: Bin::parse(&c.organization_bin).map_err(ServiceError::internal)?,
    })
}

/// The document a head signs to answer `decisions` (grant, decision, reason) in campaign `id`: the
/// exact JSON the pages prepare.
pub fn campaign_answer_document(id: i64, decisions: &[(i64, &str, Option<&str>)]) -> String {
    let lines: Vec<_> = decisions
        .iter()
        .map(|(g, d, r)| match r {
            Some(r) => json!({"grant": g, "decision": d, "reason": r}),
            None => json!({"grant": g, "decision": d}),
        })
        .collect();
    json!({"campaign": id, "decisions": lines}).to_string()
}

impl Service {
    async fn campaign_row(&self, id: i64) -> ServiceResult<CampaignRow> {
        self.store
            .campaign(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found(format!("recertification campaign {id}")))
    }

    async fn campaign_view(&self, c: &CampaignRow) -> ServiceResult<CampaignView> {
        let lines: Vec<CampaignLineView> = self
            .store
            .campaign_lines(c.id)
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .map(|l| CampaignLineView {
                grant: l.grant_id,
                person_iin: l.person_iin,
                person_name: l.person_name,
                system: l.system,
                valid_until: l.valid_until,
                outcome: l.outcome,
                answer: l.answer_id,
                reason: l.reason,
                decided_at: l.decided_at.map(rfc3339_micros),
                grant_status: l.grant_status,
            })
            .collect();
        let answers = self
            .store
            .campaign_answers(c.id)
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .map(|a| CampaignAnswerView {
                id: a.id,
                signer: a.signer,
                signer_name: a.signer_name,
                content_sha256: a.content_sha256,
                at: rfc3339_micros(a.at),
            })
            .collect();
        let n = |o: LineOutcome| lines.iter().filter(|l| l.outcome == o.as_str()).count();
        Ok(CampaignView {
            id: c.id,
            organization_bin: c.organization_bin.clone(),
            status: c.status.clone(),
            opened_by: c.opened_by.clone(),
            opened_at: rfc3339_micros(c.opened_at),
            due: c.due.clone(),
            due_at: rfc3339_micros(c.due_at),
            due_provisional: c.due_provisional,
            remind_at: rfc3339_micros(c.remind_at),
            closed_at: c.closed_at.map(rfc3339_micros),
            pending: n(LineOutcome::Pending),
            confirmed: n(LineOutcome::Confirmed),
            withdrawn: n(LineOutcome::Withdrawn),
            blocked: n(LineOutcome::Blocked),
            lines,
            answers,
        })
    }

    /// Opens a campaign for the organization: one line per grant live now; the answer is due by the end
    /// of `answer_working_days` working days, the reminder goes out `remind_working_days_before` before.
    pub async fn open_campaign(
        &self,
        who: Operator<'_>,
        body: crate::Input<OpenCampaignBody>,
    ) -> ServiceResult<CampaignView> {
        let attempt = Attempt::default();
        let r = async {
            self.operator_begins(
                &attempt,
                &who,
                Action::OpenCampaign,
                &Resource::Registry,
                "campaign/new",
            )?;
            let body = body?;
            let bin = Bin::parse(body.organization_bin.trim())
                .map_err(|e| ServiceError::field("/organization_bin", e.rule(), e.to_string()))?;
            let org = self.organization_row(bin.as_str()).await?;
            if org.deactivated_at.is_some() {
                return Err(ServiceError::new(crate::Problem::OrganizationDeactivated {
                    bin: bin.to_string(),
                }));
            }
            let now = self.clock.now();
            let rules = &self.config.recertification;
            let due = self
                .calendar
                .deadline(now, rules.answer_working_days)
                .map_err(ServiceError::internal)?;
            let remind_at = match rules.remind_after_working_days() {
                0 => now.as_microsecond(),
                n => self
                    .calendar
                    .deadline(now, n)
                    .map_err(ServiceError::internal)?
                    .due_at
                    .as_microsecond(),
            };
            attempt.update(|e| {
                e.creates = Some("recertification_campaign");
                e.details = json!({"organization": bin.as_str(), "due": due.due.to_string()});
            });
            let out = self
                .commit(
                    &attempt,
                    Change::Recertification(Box::new(RecertificationChange::Open {
                        bin: bin.to_string(),
                        by: who.id(),
                        at: who.now(self),
                        due,
                        remind_at,
                    })),
                )
                .await?;
            let c = self.campaign_row(out.id.unwrap_or_default()).await?;
            self.campaign_view(&c).await
        }
        .await;
        self.settle(attempt, r).await
    }

    /// The campaigns the caller may read, newest first: every organization's for the integrator, the
    /// own organization's for its head.
    pub async fn campaigns(&self, caller: &Caller) -> ServiceResult<Vec<CampaignView>> {
        let attempt = Attempt::default();
        let r = async {
            let wide = self
                .decide(&caller.actor, Action::ListAllCampaigns, &Resource::Registry)?
                .allowed;
            attempt.begin_for(
                caller,
                caller_entry(
                    caller,
                    "list_campaigns",
                    "recertification_campaigns".into(),
                    &allowed(vec![]),
                ),
            );
            let rows = self
                .store
                .campaigns((!wide).then(|| caller.actor.bin.as_str()))
                .await
                .map_err(ServiceError::store)?;
            let mut out = vec![];
            for c in &rows {
                if self
                    .decide(&caller.actor, Action::ReadCampaign, &campaign_resource(c)?)?
                    .allowed
                {
                    out.push(self.campaign_view(c).await?);
                }
            }
            self.record(&attempt).await?;
            Ok(out)
        }
        .await;
        self.settle(attempt, r).await
    }

    /// One campaign; another organization's is `404` (its existence is not told).
    pub async fn campaign(&self, caller: &Caller, id: i64) -> ServiceResult<CampaignView> {
        let attempt = Attempt::default();
        let r = async {
            let c = self.readable_campaign(&attempt, caller, id).await?;
            let v = self.campaign_view(&c).await?;
            self.record(&attempt).await?;
            Ok(v)
        }
        .await;
        self.settle(attempt, r).await
    }

    async fn readable_campaign(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<CampaignRow> {
        let c = self.campaign_row(id).await?;
        let d = self.decide(&caller.actor, Action::ReadCampaign, &campaign_resource(&c)?)?;
        if !d.allowed {
            return Err(ServiceError::not_found(format!(
                "recertification campaign {id}"
            )));
        }
        attempt.begin_for(
            caller,
            caller_entry(
                caller,
                Action::ReadCampaign.as_str(),
                format!("campaign/{id}"),
                &d,
            ),
        );
        Ok(c)
    }

    /// The head's signed answer: each named line confirmed or withdrawn (a withdrawal with its reason).
    /// The signature is the authority: the first head or signing right of the campaign's organization,
    /// signing key; the caller only posts it.
    pub async fn answer_campaign(
        &self,
        caller: &Caller,
        id: i64,
        body: &[u8],
    ) -> ServiceResult<CampaignView> {
        let attempt = Attempt::default();
        let r = async {
            let at = self.clock.now();
            let resource_name = format!("campaign/{id}");
            let (cms, verified) = self
                .verified_body(
                    &attempt,
                    body,
                    at,
                    anonymous("answer_campaign", &resource_name, &caller.ip),
                    false,
                )
                .await?;
            let c = self.campaign_row(id).await?;
            let bin = Bin::parse(&c.organization_bin).map_err(ServiceError::internal)?;
            // Another organization's head (another BIN) is refused by the certificate's own words.
            let actor = self.signing_head(&verified, &bin).await?;
            let signer_iin = actor.iin.clone();
            let d = self.decide(&actor, Action::AnswerCampaign, &campaign_resource(&c)?)?;
            let mut e = caller_entry(caller, "answer_campaign", resource_name.clone(), &d);
            e.details = signature_evidence(&verified);
            attempt.begin_for(caller, e);
            if !d.allowed {
                return Err(ServiceError::forbidden("answer_campaign"));
            }
            // The same signed answer again is the answer accepted before: no second effect.
            let sha = hex::encode(Sha256::digest(&verified.content));
            if let Some((answer, campaign)) = self
                .store
                .campaign_answer_by_content(&sha)
                .await
                .map_err(ServiceError::store)?
                && campaign == id
            {
                attempt.update(|e| e.details["accepted_before_as"] = json!(answer));
                self.record(&attempt).await?;
                let c = self.campaign_row(id).await?;
                return self.campaign_view(&c).await;
            }
            let doc: AnswerDocument = serde_json::from_slice(&verified.content).map_err(|e| {
                ServiceError::validation(vec![qoljetim_domain::application::serde_field_error(
                    &e, "",
                )])
            })?;
            let lines = self.answer_lines(&c, &doc).await?;
            attempt.update(|e| {
                e.details["decisions"] = json!(
                    lines
                        .iter()
                        .map(|l| json!({"grant": l.grant_id,
                    "outcome": l.outcome, "reason": l.reason}))
                        .collect::<Vec<_>>()
                );
            });
            self.commit(
                &attempt,
                Change::Recertification(Box::new(RecertificationChange::Answer(Box::new(
                    NewCampaignAnswer {
                        campaign_id: id,
                        signer: format!("{signer_iin}@{bin}"),
                        signer_name: verified.signer.common_name.clone().unwrap_or_default(),
                        evidence: cms,
                        content_sha256: sha,
                        at: at.as_microsecond(),
                        lines,
                    },
                )))),
            )
            .await?;
            let c = self.campaign_row(id).await?;
            self.campaign_view(&c).await
        }
        .await;
        self.settle(attempt, r).await
    }

    /// The answer's lines, each a pending line of the campaign named once, with a known decision; a
    /// withdrawal names its reason. Every broken rule is named at once.
    async fn answer_lines(
        &self,
        c: &CampaignRow,
        doc: &AnswerDocument,
    ) -> ServiceResult<Vec<CampaignAnswerLine>> {
        use qoljetim_domain::application::FieldError;
        if doc.campaign != c.id {
            return Err(ServiceError::field(
                "/campaign",
                "campaign",
                format!(
                    "the signed answer is about campaign {}, not {}",
                    doc.campaign, c.id
                ),
            ));
        }
        if c.status != CampaignStatus::Open.as_str() {
            return Err(ServiceError::new(crate::Problem::WrongState {
                current: c.status.clone(),
                expected: "open".into(),
            }));
        }
        let stored = self
            .store
            .campaign_lines(c.id)
            .await
            .map_err(ServiceError::store)?;
        if doc.decisions.is_empty() || doc.decisions.len() > stored.len() {
            return Err(ServiceError::field(
                "/decisions",
                "campaign_decisions",
                format!("1 to {} decisions", stored.len()),
            ));
        }
        let mut errors = vec![];
        let mut seen = BTreeSet::new();
        let mut out = vec![];
        for (i, l) in doc.decisions.iter().enumerate() {
            let outcome = stored
                .iter()
                .find(|s| s.grant_id == l.grant)
                .and_then(|s| LineOutcome::parse(&s.outcome));
            if !seen.insert(l.grant) {
                errors.push(FieldError::new(
                    format!("/decisions/{i}/grant"),
                    "duplicate",
                    format!("grant {} is named twice", l.grant),
                ));
                continue;
            }
            let Some(decision) = RecertificationDecision::parse(&l.decision) else {
                errors.push(FieldError::new(
                    format!("/decisions/{i}/decision"),
                    "recertification_decision",
                    "confirm or withdraw",
                ));
                continue;
            };
            let Some(to) = outcome.and_then(|o| o.answer(decision)) else {
                errors.push(FieldError::new(
                    format!("/decisions/{i}/grant"),
                    "campaign_line",
                    format!(
                        "grant {} is not a line awaiting an answer in campaign {}",
                        l.grant, c.id
                    ),
                ));
                continue;
            };
            let reason = l.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            if decision == RecertificationDecision::Withdraw
                && !reason.is_some_and(|r| (3..=500).contains(&r.chars().count()))
            {
                errors.push(FieldError::new(
                    format!("/decisions/{i}/reason"),
                    "reason_length",
                    "a withdrawal gives a reason of 3 to 500 characters",
                ));
                continue;
            }
            out.push(CampaignAnswerLine {
                grant_id: l.grant,
                outcome: to.as_str().to_owned(),
                reason: reason.map(str::to_owned),
            });
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ServiceError::validation(errors))
        }
    }

    /// An answer's signed CMS as received: the evidence `openssl cms -verify` reads.
    pub async fn campaign_answer_evidence(
        &self,
        caller: &Caller,
        id: i64,
        answer: i64,
    ) -> ServiceResult<crate::EvidenceFile> {
        let attempt = Attempt::default();
        let r = async {
            self.readable_campaign(&attempt, caller, id).await?;
            let (campaign, bytes) = self
                .store
                .campaign_answer_evidence(answer)
                .await
                .map_err(ServiceError::store)?
                .filter(|(c, _)| *c == id)
                .ok_or_else(|| {
                    ServiceError::not_found(format!("answer {answer} of campaign {id}"))
                })?;
            attempt.update(|e| e.details = json!({"answer": answer}));
            self.record(&attempt).await?;
            Ok(crate::EvidenceFile {
                bytes,
                filename: format!("campaign-{campaign}-answer-{answer}.p7s"),
                content_type: "application/pkcs7-mime",
            })
        }
        .await;
        self.settle(attempt, r).await
    }

    /// The campaign report: every line, what became of it, who answered and when (JSON, CSV, PDF).
    pub async fn campaign_report(
        &self,
        caller: &Caller,
        id: i64,
        format: Option<String>,
    ) -> ServiceResult<crate::Report> {
        let attempt = Attempt::default();
        let r = async {
            let c = self.readable_campaign(&attempt, caller, id).await?;
            let mut errors = vec![];
            let format = crate::reports::report_format(format.as_deref(), &mut errors);
            if !errors.is_empty() {
                return Err(ServiceError::validation(errors));
            }
            let report = qoljetim_reports::campaign_report(&self.store, c.id)
                .await
                .map_err(ServiceError::internal)?
                .ok_or_else(|| ServiceError::not_found(format!("recertification campaign {id}")))?;
            attempt.update(|e| {
                e.action = "campaign_report".into();
                e.details = json!({"format": format.as_str(), "lines": report.lines.len()});
            });
            self.record(&attempt).await?;
            Ok(crate::Report {
                format,
                stem: format!("recertification-campaign-{id}"),
                title: report.title(),
                subtitle: report.subtitle(),
                tables: report.tables(),
                body: crate::ReportBody::Recertification(report),
            })
        }
        .await;
        self.settle(attempt, r).await
    }

    /// The schedule (`[recertification] every_months`, 0 = off): a campaign for each active
    /// organization with live grants whose last campaign, or without one its oldest live grant, is
    /// that many months old. Run by the worker; audited as `schedule`.
    pub async fn open_scheduled_campaigns(&self) -> ServiceResult<Vec<i64>> {
        let months = self.config.recertification.every_months;
        if months == 0 {
            return Ok(vec![]);
        }
        let now = self.clock.now();
        let cutoff = now
            .to_zoned(jiff::tz::TimeZone::UTC)
            .checked_sub(jiff::Span::new().months(i64::from(months)))
            .map_err(ServiceError::internal)?
            .timestamp();
        let mut opened = vec![];
        for bin in self
            .store
            .organizations_due_for_recertification(cutoff.as_microsecond())
            .await
            .map_err(ServiceError::store)?
        {
            // An organization whose last live grant ended since the list was read is skipped.
            match self
                .open_campaign(
                    Operator::CommandLine("schedule"),
                    Ok(OpenCampaignBody {
                        organization_bin: bin,
                    }),
                )
                .await
            {
                Ok(v) => opened.push(v.id),
                Err(e) if e.slug() == "wrong-state" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(opened)
    }

    /// Campaigns whose deadline has passed: the lines still pending are blocked (their sessions end),
    /// the campaign closes. Returns each closed campaign with the grants it blocked.
    pub async fn close_due_campaigns(&self) -> ServiceResult<Vec<(i64, Vec<i64>)>> {
        let now = self.clock.now().as_microsecond();
        let mut closed = vec![];
        for c in self
            .store
            .campaigns_past_due(now)
            .await
            .map_err(ServiceError::store)?
        {
            let attempt = Attempt::default();
            let r = async {
                attempt.begin(
                    entry(
                        "worker".into(),
                        None,
                        "close_campaign",
                        format!("campaign/{}", c.id),
                        "allowed".into(),
                        "local",
                    ),
                    None,
                );
                attempt.update(|e| {
                    e.details = json!({"due": c.due, "organization": c.organization_bin})
                });
                self.commit(
                    &attempt,
                    Change::Recertification(Box::new(RecertificationChange::CloseAtDeadline {
                        campaign_id: c.id,
                        at: now,
                    })),
                )
                .await
            }
            .await;
            let out = self.settle(attempt, r).await?;
            closed.push((c.id, out.ids));
        }
        Ok(closed)
    }

    /// The campaigns' notices, rebuilt on every pass (their dedupe keys make each one once): the
    /// opening and, from `remind_at` while lines are pending, one reminder to the heads who signed the
    /// organization's applications; a notice to each person whose grant a closed campaign blocked or
    /// withdrew.
    pub async fn campaign_notices(&self) -> ServiceResult<Vec<NewNotification>> {
        let now = self.clock.now().as_microsecond();
        let mut list = vec![];
        let notice = |iin: &str, bin: &str, kind: &str, c: i64, key: String, t: [String; 4]| {
            let [title_kk, title_ru, body_kk, body_ru] = t;
            NewNotification {
                recipient_iin: iin.to_owned(),
                recipient_bin: bin.to_owned(),
                kind: kind.to_owned(),
                subject_ref: format!("campaign:{c}"),
                dedupe_key: format!("{key}:{iin}@{bin}"),
                title_kk,
                title_ru,
                body_kk,
                body_ru,
                created_at: now,
                email: None,
            }
        };
        // Open campaigns, and those closed in the last 14 days (their people's notices).
        let since = now - 14 * 24 * 3_600 * 1_000_000;
        for c in self
            .store
            .campaigns_for_notices(since)
            .await
            .map_err(ServiceError::store)?
        {
            let lines = self
                .store
                .campaign_lines(c.id)
                .await
                .map_err(ServiceError::store)?;
            let pending = lines
                .iter()
                .filter(|l| l.outcome == LineOutcome::Pending.as_str())
                .count();
            if c.status == CampaignStatus::Open.as_str() {
                let heads = self
                    .store
                    .campaign_heads(c.id)
                    .await
                    .map_err(ServiceError::store)?;
                for (iin, bin) in &heads {
                    list.push(notice(iin, bin, "campaign_opened", c.id, format!("campaign-open:{}", c.id), [
                        "Қолжетімділікті растау науқаны ашылды".into(),
                        "Открыта кампания подтверждения доступа".into(),
                        format!("Ұйымыңыздың {} қолжетімділігі әлі қажет пе, растаңыз немесе қайтарып алыңыз: /recertification/{} \
                                 ({} қоса алғанда). Жауап берілмеген жолдар мерзімнен кейін бұғатталады.", lines.len(), c.id, c.due),
                        format!("Подтвердите или отзовите доступы вашей организации ({}): /recertification/{} до {} включительно. \
                                 Строки без ответа после срока блокируются.", lines.len(), c.id, c.due),
                    ]));
                    if now >= c.remind_at && pending > 0 {
                        list.push(notice(iin, bin, "campaign_reminder", c.id, format!("campaign-remind:{}", c.id), [
                            "Қолжетімділікті растау: жауап күтілуде".into(),
                            "Подтверждение доступа: ждём ответа".into(),
                            format!("{pending} жолға жауап жоқ; {} қоса алғанда жауап беріңіз, әйтпесе олар бұғатталады: /recertification/{}", c.due, c.id),
                            format!("Без ответа строк: {pending}; ответьте до {} включительно, иначе они будут заблокированы: /recertification/{}", c.due, c.id),
                        ]));
                    }
                }
            }
            for l in lines
                .iter()
                .filter(|l| matches!(l.outcome.as_str(), "blocked" | "withdrawn"))
            {
                let (kk, ru) = if l.outcome == "blocked" {
                    (
                        "басшы мерзімінде растамады",
                        "руководитель не подтвердил его в срок",
                    )
                } else {
                    ("басшы қайтарып алды", "руководитель отозвал его")
                };
                list.push(notice(
                    &l.person_iin,
                    &c.organization_bin,
                    "campaign_ended_access",
                    c.id,
                    format!("campaign-line:{}:{}", c.id, l.grant_id),
                    [
                        "Қолжетімділік тоқтатылды".into(),
                        "Доступ прекращён".into(),
                        format!(
                            "{} қолжетімділігі (рұқсат {}) тоқтатылды: {kk} (науқан {}).",
                            l.system, l.grant_id, c.id
                        ),
                        format!(
                            "Доступ к {} (допуск {}) прекращён: {ru} (кампания {}).",
                            l.system, l.grant_id, c.id
                        ),
                    ],
                ));
            }
        }
        Ok(list)
    }
}

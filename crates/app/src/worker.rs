//! The background worker (Order 270 §8–§9, DESIGN.md §3): HR registry checks of submitted lines,
//! expiry of grants, reminders 30/7/1 days before, the deadline monitor, and e-mail delivery through
//! the outbox. It runs inside `serve` every `worker_interval_seconds`, or once with
//! `qoljetim jobs run-once`.
//!
//! All its state is in the database and every step is idempotent: conditional updates (a line is
//! checked only while pending, a grant expires only while active), notifications with a unique
//! dedupe key (each reminder and flag fires once), and an outbox whose claim is committed before the
//! SMTP call. A worker stopped in the middle and started again redoes nothing that was done: an e-mail
//! claimed but not confirmed is marked `uncertain` for an operator (`qoljetim jobs resend`) instead of
//! being sent a second time. One worker per database (the `serve` process's own).

use std::sync::Arc;
use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use qoljetim_domain::lifecycle::{
    HrCheck, HrQuery, REMINDER_DAYS, compare_with_registry, days_left, reminder_due,
};
use qoljetim_service::Service as AppState;
use qoljetim_store::{
    AuditEntry, Change, LifecycleChange, NewEmail, NewNotification, SendResult, StoreError,
};
use serde::Serialize;
use serde_json::json;

use crate::AnyError;
use crate::hr::HrRegistry;
use crate::mailer::{Delivery, Mailer};

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct RunSummary {
    pub outbox_uncertain: usize,
    pub hr_checked: usize,
    pub hr_retry: usize,
    pub expired: usize,
    /// Scheduled blocks (a block request or HR event with a future effective date) made this pass.
    pub scheduled_blocks: usize,
    pub reminders: usize,
    pub overdue_flags: usize,
    /// Notices of new grants (Order 270 §7: each links its system's manual).
    pub grant_notices: usize,
    /// Recertification (issue 17): campaigns opened on schedule, campaigns closed at their deadline,
    /// grants those blocked, and the campaigns' notices (opening, reminder, ended access).
    pub campaigns_opened: usize,
    pub campaigns_closed: usize,
    pub campaign_blocks: usize,
    pub campaign_notices: usize,
    pub emails_sent: usize,
    pub emails_retry: usize,
    pub emails_failed: usize,
    /// Aggregate audit records written for repeated sign-in refusals whose window closed.
    pub refusal_windows: usize,
}

pub struct Worker {
    pub state: AppState,
    pub registry: Arc<dyn HrRegistry>,
    pub mailer: Option<Mailer>,
    /// Issue 21: the audit checkpoints, written by whichever instance holds the lease.
    pub checkpointer: Option<crate::cluster::Checkpointer>,
}

fn audit(action: &str, resource: String, details: serde_json::Value) -> AuditEntry {
    AuditEntry {
        actor: "worker".into(),
        actor_bin: None,
        action: action.into(),
        resource,
        outcome: "ok".into(),
        ip: "local".into(),
        policies: vec![],
        details,
        creates: None,
    }
}

fn system_kk_ru(s: &str) -> (&'static str, &'static str) {
    match s {
        "analytical_central" => ("«Талдау орталығы» АЖ", "ИС «Аналитический центр»"),
        "state_planning" => (
            "«Мемлекеттік жоспарлау» АЖ",
            "ИС «Государственное планирование»",
        ),
        _ => ("ақпараттық жүйе", "информационная система"),
    }
}

/// The e-mail of a notification: subject in the recipient's language, body in Kazakh and Russian.
fn email_for(n: &NewNotification, to: Option<(String, String)>) -> Option<NewEmail> {
    let (address, lang) = to?;
    let subject = if lang == "ru" {
        n.title_ru.clone()
    } else {
        n.title_kk.clone()
    };
    Some(NewEmail {
        to: address,
        subject: format!("Qoljetim: {subject}"),
        body: format!(
            "{}\n\n{}\n\n---\n\n{}\n\n{}\n",
            n.title_kk, n.body_kk, n.title_ru, n.body_ru
        ),
    })
}

impl Worker {
    async fn commit(
        &self,
        change: LifecycleChange,
        entry: AuditEntry,
    ) -> Result<qoljetim_store::ChangeOutcome, StoreError> {
        self.state
            .store
            .commit(Change::Lifecycle(Box::new(change)), entry)
            .await
    }

    /// Where a person's notices go: the e-mail of their profile, else the e-mail the head gave on the
    /// person's latest application line (appendix form: work phone and e-mail), in the profile's
    /// language or Kazakh.
    async fn address(&self, iin: &str, bin: &str) -> Result<Option<(String, String)>, StoreError> {
        let profile = self.state.store.profile(iin, bin).await?;
        let language = profile
            .as_ref()
            .map(|p| p.language.clone())
            .unwrap_or_else(|| "kk".to_owned());
        if let Some(email) = profile.and_then(|p| p.email) {
            return Ok(Some((email, language)));
        }
        Ok(self
            .state
            .store
            .latest_line_for(iin, bin)
            .await?
            .and_then(|l| l.email)
            .map(|e| (e, language)))
    }

    async fn notify(&self, list: Vec<NewNotification>) -> Result<usize, AnyError> {
        // The jobs rebuild their notices on every pass (a flag stays due until its cause is done, a
        // new grant's notice is looked at for 14 days): those made before are dropped here, so that a
        // pass with nothing new looks up no address and writes no audit record.
        let keys: Vec<String> = list.iter().map(|n| n.dedupe_key.clone()).collect();
        let sent = self.state.store.notification_keys_present(&keys).await?;
        let mut list: Vec<NewNotification> = list
            .into_iter()
            .filter(|n| !sent.contains(&n.dedupe_key))
            .collect();
        if list.is_empty() {
            return Ok(0);
        }
        for n in &mut list {
            let to = self.address(&n.recipient_iin, &n.recipient_bin).await?;
            n.email = email_for(n, to);
        }
        let keys: Vec<String> = list.iter().map(|n| n.dedupe_key.clone()).collect();
        let out = self
            .commit(
                LifecycleChange::Notify(list),
                audit("notify", "notifications".into(), json!({"keys": keys})),
            )
            .await?;
        Ok(out.ids.len())
    }

    /// One pass of every job at the clock's time.
    pub async fn run_once(&self) -> Result<RunSummary, AnyError> {
        let started = Timestamp::now();
        let now = self.state.clock.now();
        let mut s = RunSummary::default();
        // A claim left from a run that stopped mid-send may have reached the relay: never resend it.
        let rec = self
            .commit(
                LifecycleChange::OutboxRecover {
                    at: now.as_microsecond(),
                },
                audit("outbox_recover", "outbox".into(), json!({})),
            )
            .await?;
        s.outbox_uncertain = rec.ids.len();
        self.hr_checks(now, &mut s).await?;
        self.scheduled_blocks(now, &mut s).await?;
        self.expire(now, &mut s).await?;
        self.reminders(now, &mut s).await?;
        self.grant_notices(now, &mut s).await?;
        self.recertification(&mut s).await?;
        self.monitor(now, &mut s).await?;
        self.deliver(now, &mut s).await?;
        s.refusal_windows = self
            .state
            .flush_refusal_windows()
            .await
            .map_err(|e| format!("refusal windows: {}", e.slug()))?;
        let summary = serde_json::to_string(&s)?;
        self.commit(
            LifecycleChange::JobRun {
                job: "run_once".into(),
                clock_at: now.as_microsecond(),
                started_at: started.as_microsecond(),
                finished_at: Timestamp::now().as_microsecond(),
                summary: summary.clone(),
            },
            audit("job_run", "worker".into(), serde_json::from_str(&summary)?),
        )
        .await?;
        Ok(s)
    }

    /// Order 270 §8: each line's post checked through the HR registry port; a registry that does not
    /// answer leaves the line pending and is asked again later (1, 2, 4 … up to 60 minutes).
    async fn hr_checks(&self, now: Timestamp, s: &mut RunSummary) -> Result<(), AnyError> {
        let now_us = now.as_microsecond();
        for l in self.state.store.lines_to_check(now_us, 200).await? {
            let q = HrQuery {
                iin: l.iin.to_string(),
                bin: l.applicant_bin.to_string(),
                position: l.position.clone(),
                unit: l.unit.clone(),
                qr: l.eqyzmet_qr.clone(),
            };
            let (status, detail, next, error) = match self.registry.current_posts(&q).await {
                Ok(posts) => {
                    let check = compare_with_registry(&q, posts.as_deref());
                    let detail = match &check {
                        HrCheck::Mismatch { differs } => {
                            Some(json!({"differs": differs}).to_string())
                        }
                        _ => None,
                    };
                    s.hr_checked += 1;
                    (check.as_str().to_owned(), detail, 0, None)
                }
                Err(e) => {
                    s.hr_retry += 1;
                    (
                        "pending".to_owned(),
                        None,
                        retry_at(now_us, l.attempts),
                        Some(e.to_string()),
                    )
                }
            };
            let entry = audit(
                "hr_check",
                format!("application:{}/line:{}", l.application_id, l.line),
                json!({"registry": self.registry.name(), "status": status, "error": error}),
            );
            match self
                .commit(
                    LifecycleChange::HrCheck {
                        application_id: l.application_id,
                        line: l.line,
                        status,
                        detail,
                        checked_at: now_us,
                        next_check_at: next,
                        error,
                    },
                    entry,
                )
                .await
            {
                // Decided or stopped meanwhile: nothing to do.
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Order 270 §9: a block request or HR event whose effective date has come (Almaty) blocks now: the
    /// person held the post until then.
    async fn scheduled_blocks(&self, now: Timestamp, s: &mut RunSummary) -> Result<(), AnyError> {
        let today = self.state.calendar.almaty_date(now).to_string();
        let out = self
            .commit(
                LifecycleChange::ApplyScheduledBlocks {
                    today: today.clone(),
                    at: now.as_microsecond(),
                },
                audit(
                    "apply_scheduled_blocks",
                    "hr_events".into(),
                    json!({"today": today}),
                ),
            )
            .await?;
        s.scheduled_blocks =
            usize::try_from(out.counts.get("grants_blocked").copied().unwrap_or(0)).unwrap_or(0);
        Ok(())
    }

    /// Order 270 §9: access ends after its last day (Asia/Almaty).
    async fn expire(&self, now: Timestamp, s: &mut RunSummary) -> Result<(), AnyError> {
        let today = self.state.calendar.almaty_date(now).to_string();
        let out = self
            .commit(
                LifecycleChange::ExpireGrants {
                    today: today.clone(),
                    at: now.as_microsecond(),
                },
                audit("expire_grants", "grants".into(), json!({"today": today})),
            )
            .await?;
        s.expired = out.ids.len();
        Ok(())
    }

    /// Reminders 30, 7 and 1 days before the end of validity, to the person and the head who signed.
    async fn reminders(&self, now: Timestamp, s: &mut RunSummary) -> Result<(), AnyError> {
        let today = self.state.calendar.almaty_date(now);
        let horizon = today
            .checked_add(i64::from(REMINDER_DAYS[0]).days())
            .unwrap_or(today);
        let mut list = vec![];
        for g in self
            .state
            .store
            .active_grants_ending_by(&horizon.to_string())
            .await?
        {
            let until = g.valid_until;
            let Some(threshold) = reminder_due(until, today) else {
                continue;
            };
            let left = days_left(until, today);
            let mut recipients = vec![(g.person_iin.clone(), g.organization_bin.clone())];
            if let Some(app) = self.state.store.application(g.application_id).await?
                && app.signer_iin != g.person_iin
            {
                recipients.push((app.signer_iin.clone(), g.organization_bin.clone()));
            }
            let (sys_kk, sys_ru) = system_kk_ru(g.system.as_str());
            for (iin, bin) in recipients {
                list.push(NewNotification {
                    recipient_iin: iin.to_string(),
                    recipient_bin: bin.to_string(),
                    kind: format!("expiry_reminder_{threshold}"),
                    subject_ref: format!("grant:{}", g.id),
                    dedupe_key: format!("expiry:{}:{threshold}:{iin}@{bin}", g.id),
                    title_kk: "Қолжетімділік мерзімі аяқталуда".into(),
                    title_ru: "Срок доступа истекает".into(),
                    body_kk: format!(
                        "ЖСН {} қызметкерінің {sys_kk} жүйесіне қолжетімділігі {} қоса алғанда жарамды (қалған күн: {left}). \
                         Ұзарту өтінімін GET /api/v1/grants/{}/renewal арқылы дайындап, басшы қол қояды.",
                        g.person_iin, g.valid_until, g.id
                    ),
                    body_ru: format!(
                        "Доступ сотрудника ИИН {} к {sys_ru} действует по {} включительно (осталось дней: {left}). \
                         Заявку на продление подготовьте через GET /api/v1/grants/{}/renewal; её подписывает руководитель.",
                        g.person_iin, g.valid_until, g.id
                    ),
                    created_at: now.as_microsecond(),
                    email: None,
                });
            }
        }
        s.reminders = self.notify(list).await?;
        Ok(())
    }

    /// A notice of each new grant to its person (once, by its dedupe key), in the app and by e-mail:
    /// what was granted, what comes before the first read (Order 270 §13, §15) and the manual of
    /// the system (§7). Grants of the last 14 days are looked at, so a stopped worker catches up.
    async fn grant_notices(&self, now: Timestamp, s: &mut RunSummary) -> Result<(), AnyError> {
        let since = now
            .checked_sub(jiff::SignedDuration::from_hours(14 * 24))
            .unwrap_or(now);
        let mut list = vec![];
        for g in self
            .state
            .store
            .grants_granted_since(since.as_microsecond())
            .await?
        {
            if !g.status.is_live() {
                continue;
            }
            let (sys_kk, sys_ru) = system_kk_ru(g.system.as_str());
            let manual = qoljetim_domain::manual::user_manual(g.system);
            list.push(NewNotification {
                recipient_iin: g.person_iin.to_string(),
                recipient_bin: g.organization_bin.to_string(),
                kind: "access_granted".into(),
                subject_ref: format!("grant:{}", g.id),
                dedupe_key: format!("granted:{}:{}@{}", g.id, g.person_iin, g.organization_bin),
                title_kk: "Қолжетімділік берілді".into(),
                title_ru: "Доступ предоставлен".into(),
                body_kk: format!(
                    "{sys_kk} жүйесіне қолжетімділік {} дейін берілді. Деректерді бірінші оқудың алдында: оқу (/training, 270 бұйрық 13-т.) \
                     және 15-тармақтағы міндеттер (/grants/{}/duties). Нұсқаулық: /manuals/{manual}",
                    g.valid_until, g.id
                ),
                body_ru: format!(
                    "Доступ к {sys_ru} предоставлен по {}. Перед первым чтением данных: обучение (/training, Приказ 270 п.13) \
                     и обязанности по п.15 (/grants/{}/duties). Руководство: /manuals/{manual}",
                    g.valid_until, g.id
                ),
                created_at: now.as_microsecond(),
                email: None,
            });
        }
        s.grant_notices = self.notify(list).await?;
        Ok(())
    }

    /// Recertification campaigns (issue 17), by the service's use cases: the schedule's campaigns, the
    /// deadline's blocks, then the notices (the blocks' included in the same pass).
    async fn recertification(&self, s: &mut RunSummary) -> Result<(), AnyError> {
        let slug = |e: qoljetim_service::ServiceError| format!("recertification: {}", e.slug());
        s.campaigns_opened = self
            .state
            .open_scheduled_campaigns()
            .await
            .map_err(slug)?
            .len();
        let closed = self.state.close_due_campaigns().await.map_err(slug)?;
        s.campaigns_closed = closed.len();
        s.campaign_blocks = closed.iter().map(|(_, g)| g.len()).sum();
        let list = self.state.campaign_notices().await.map_err(slug)?;
        s.campaign_notices = self.notify(list).await?;
        Ok(())
    }

    /// Overdue reviews (to the reviewers), grants (to the integrator), blocks that missed their
    /// 3 working days (to both) and training reports (to the integrator), each flagged once.
    async fn monitor(&self, now: Timestamp, s: &mut RunSummary) -> Result<(), AnyError> {
        let store = &self.state.store;
        let reviewers = store.staff_with_role("reviewer").await?;
        let integrators = store.staff_with_role("integrator_admin").await?;
        let mut list = vec![];
        let mut flag = |to: &[(String, String)],
                        key: String,
                        subject: String,
                        kk: String,
                        ru: String,
                        title: (&str, &str)| {
            for (iin, bin) in to {
                list.push(NewNotification {
                    recipient_iin: iin.clone(),
                    recipient_bin: bin.clone(),
                    kind: "deadline_overdue".into(),
                    subject_ref: subject.clone(),
                    dedupe_key: format!("{key}:{iin}@{bin}"),
                    title_kk: title.0.into(),
                    title_ru: title.1.into(),
                    body_kk: kk.clone(),
                    body_ru: ru.clone(),
                    created_at: now.as_microsecond(),
                    email: None,
                });
            }
        };
        for a in store.applications_overdue(now.as_microsecond()).await? {
            if a.status == qoljetim_domain::ApplicationStatus::Submitted {
                flag(
                    &reviewers,
                    format!("overdue:review:{}", a.id),
                    format!("application:{}", a.id),
                    format!(
                        "{} өтінімін қарау мерзімі ({}) өтті (270 бұйрық 9-т., 2 жұмыс күні).",
                        a.id, a.review_due
                    ),
                    format!(
                        "Срок рассмотрения заявки {} ({}) истёк (Приказ 270 п.9, 2 рабочих дня).",
                        a.id, a.review_due
                    ),
                    ("Қарау мерзімі өтті", "Просрочено рассмотрение"),
                );
            } else {
                let due = a.grant_due.map(|d| d.to_string()).unwrap_or_default();
                flag(
                    &integrators,
                    format!("overdue:grant:{}", a.id),
                    format!("application:{}", a.id),
                    format!(
                        "{} өтінімі бойынша қолжетімділік беру мерзімі ({due}) өтті.",
                        a.id
                    ),
                    format!(
                        "Срок предоставления доступа по заявке {} ({due}) истёк.",
                        a.id
                    ),
                    (
                        "Қолжетімділік беру мерзімі өтті",
                        "Просрочено предоставление доступа",
                    ),
                );
            }
        }
        let everyone: Vec<(String, String)> = reviewers
            .iter()
            .chain(integrators.iter())
            .cloned()
            .collect();
        for e in store.hr_events_missed().await? {
            flag(
                &everyone,
                format!("overdue:block:{}", e.id),
                format!("hr_event:{}", e.id),
                format!(
                    "ЖСН {} (БСН {}) өкілеттігі {} аяқталды, оқиға {} келді: бұғаттау мерзімі {} өтті ({} жұмыс күні).",
                    e.iin,
                    e.bin,
                    e.effective_date,
                    crate::worker::date_of(e.received_at),
                    e.block_due,
                    e.working_days_taken
                ),
                format!(
                    "Полномочия ИИН {} (БИН {}) прекращены {}, событие поступило {}: срок блокирования {} нарушен ({} рабочих дней).",
                    e.iin,
                    e.bin,
                    e.effective_date,
                    crate::worker::date_of(e.received_at),
                    e.block_due,
                    e.working_days_taken
                ),
                ("Бұғаттау мерзімі өтті", "Нарушен срок блокирования"),
            );
        }
        // Order 270 §13: the integrator's report on a held session, 5 working days.
        let now_us = now.as_microsecond();
        for t in store.training_sessions().await? {
            let (Some(held), Some(due), Some(due_at)) = (t.held_on, t.report_due, t.report_due_at)
            else {
                continue;
            };
            if t.report_sent_at.is_some() || now_us <= due_at {
                continue;
            }
            flag(
                &integrators,
                format!("overdue:training_report:{}", t.id),
                format!("training_session:{}", t.id),
                format!(
                    "{held} өткізілген {} оқу сабағы туралы есепті уәкілетті органға жіберу мерзімі ({due}) өтті (270 бұйрық 13-т., 5 жұмыс күні).",
                    t.id
                ),
                format!(
                    "Срок отправки уполномоченному органу отчёта о занятии {}, проведённом {held}, ({due}) истёк (Приказ 270 п.13, 5 рабочих дней).",
                    t.id
                ),
                (
                    "Оқыту туралы есеп мерзімі өтті",
                    "Просрочен отчёт об обучении",
                ),
            );
        }
        // Order 270 §10: change requests past their agreement or approval clock, to the integrator.
        for c in store.change_requests().await? {
            let (clock, due, due_at) = match c.status.as_str() {
                "submitted" => (
                    "agreement",
                    c.agreement_due.clone(),
                    Some(c.agreement_due_at),
                ),
                "agreed" => (
                    "approval",
                    c.approval_due.clone().unwrap_or_default(),
                    c.approval_due_at,
                ),
                _ => continue,
            };
            if due_at.is_none_or(|d| now_us <= d) {
                continue;
            }
            flag(
                &integrators,
                format!("overdue:change_{clock}:{}:{}", c.id, c.revision),
                format!("change_request:{}", c.id),
                format!(
                    "{} өзгерту сұрауының {} мерзімі ({due}) өтті (270 бұйрық 10-т.).",
                    c.id,
                    if clock == "agreement" {
                        "келісу"
                    } else {
                        "бекіту"
                    }
                ),
                format!(
                    "Срок {} запроса на изменение {} ({due}) истёк (Приказ 270 п.10).",
                    if clock == "agreement" {
                        "согласования"
                    } else {
                        "утверждения"
                    },
                    c.id
                ),
                (
                    "Өзгерту сұрауының мерзімі өтті",
                    "Просрочен запрос на изменение",
                ),
            );
        }
        // Order 270 §14: the support staff's first answer, past its working days.
        let agents = store.staff_with_role("support_agent").await?;
        for r in store.support_requests(None, 1000).await? {
            if r.first_answered_at.is_some()
                || r.status == "resolved"
                || now_us <= r.first_answer_due_at
            {
                continue;
            }
            flag(
                &agents,
                format!("overdue:support_first_answer:{}", r.id),
                format!("support_request:{}", r.id),
                format!(
                    "{} өтінішке алғашқы жауап мерзімі ({}) өтті (270 бұйрық 14-т.).",
                    r.id, r.first_answer_due
                ),
                format!(
                    "Срок первого ответа на обращение {} ({}) истёк (Приказ 270 п.14).",
                    r.id, r.first_answer_due
                ),
                (
                    "Қолдаудың жауап мерзімі өтті",
                    "Просрочен первый ответ поддержки",
                ),
            );
        }
        s.overdue_flags = self.notify(list).await?;
        Ok(())
    }

    /// Sends due e-mails one by one: claim (committed), send, record. Without a relay they wait.
    async fn deliver(&self, now: Timestamp, s: &mut RunSummary) -> Result<(), AnyError> {
        let Some(mailer) = &self.mailer else {
            return Ok(());
        };
        let now_us = now.as_microsecond();
        for m in self.state.store.outbox_due(now_us, 100).await? {
            match self
                .commit(
                    LifecycleChange::OutboxClaim {
                        id: m.id,
                        at: now_us,
                    },
                    audit(
                        "send_email",
                        format!("outbox:{}", m.id),
                        json!({"step": "claim", "attempt": m.attempts + 1}),
                    ),
                )
                .await
            {
                Ok(_) => {}
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            let result = match mailer
                .send(&m.to_address, &m.subject, &m.body, &m.message_id)
                .await
            {
                Delivery::Accepted => {
                    s.emails_sent += 1;
                    SendResult::Sent
                }
                Delivery::Transient(error) => {
                    s.emails_retry += 1;
                    SendResult::Retry {
                        error,
                        retry_at: retry_at(now_us, m.attempts),
                    }
                }
                Delivery::Permanent(error) => {
                    s.emails_failed += 1;
                    SendResult::Failed { error }
                }
            };
            let step = match &result {
                SendResult::Sent => "sent",
                SendResult::Retry { .. } => "retry",
                SendResult::Failed { .. } => "failed",
            };
            self.commit(
                LifecycleChange::OutboxResult {
                    id: m.id,
                    at: now_us,
                    result,
                },
                audit(
                    "send_email",
                    format!("outbox:{}", m.id),
                    json!({"step": step}),
                ),
            )
            .await?;
        }
        Ok(())
    }

    /// Runs forever, one pass every `interval`; a failed pass is logged and the next one tries again.
    pub async fn run_forever(self, interval: Duration) {
        let (_keep, never) = tokio::sync::watch::channel(false);
        self.run_until(interval, never).await
    }

    /// Runs a pass every `interval` until `stop` turns true; a pass under way is finished first
    /// (graceful shutdown: a job is never cut in half). Issue 21: only while this instance holds the
    /// worker lease — one worker per database, however many instances — tried again every interval,
    /// so another instance takes over within an interval of the holder's death. The lease holder also
    /// writes the audit checkpoints, and a last one when it stops.
    pub async fn run_until(self, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut lease = None;
        let mut checkpointed: Option<std::time::Instant> = None;
        loop {
            lease = self.keep_lease(lease).await;
            if lease.is_some() {
                match self.run_once().await {
                    Ok(s) => tracing::debug!(?s, "worker pass"),
                    Err(e) => tracing::error!(error = %e, "worker pass failed"),
                }
                if let Some(c) = &self.checkpointer
                    && checkpointed.is_none_or(|t| t.elapsed() >= c.every)
                {
                    checkpointed = Some(std::time::Instant::now());
                    if let Err(e) = c.write(&self.state).await {
                        tracing::error!(error = %e, "audit checkpoint failed");
                    }
                }
            }
            let stopping = tokio::select! {
                () = tokio::time::sleep(interval) => false,
                r = stop.wait_for(|s| *s) => r.is_ok(),
            };
            if stopping {
                if let (Some(_), Some(c)) = (&lease, &self.checkpointer)
                    && let Err(e) = c.write(&self.state).await
                {
                    tracing::error!(error = %e, "audit checkpoint at shutdown failed");
                }
                self.state
                    .instance
                    .worker_lease
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                tracing::info!("worker stopped after its pass");
                return;
            }
        }
    }

    /// The lease after checking it: kept while its connection answers, else taken if free.
    async fn keep_lease(
        &self,
        lease: Option<qoljetim_store::WorkerLease>,
    ) -> Option<qoljetim_store::WorkerLease> {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(mut l) = lease {
            if l.still_held().await {
                return Some(l);
            }
            tracing::warn!("worker lease lost (its database connection failed); trying again");
            self.state.instance.worker_lease.store(false, Relaxed);
        }
        match self.state.store.try_worker_lease().await {
            Ok(Some(l)) => {
                tracing::info!("took the worker lease: this instance runs the background jobs");
                self.state.instance.worker_lease.store(true, Relaxed);
                Some(l)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "could not ask for the worker lease");
                None
            }
        }
    }
}

/// The next attempt after `attempts` failures: 1, 2, 4 … minutes, at most 60.
fn retry_at(now_us: i64, attempts: i64) -> i64 {
    let minutes = (1i64 << attempts.clamp(0, 6)).min(60);
    now_us + minutes * 60_000_000
}

pub(crate) fn date_of(us: i64) -> String {
    Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The worker of a configuration: its HR adapter and SMTP relay.
pub fn worker_for(cfg: &crate::config::Config, state: AppState) -> Result<Worker, AnyError> {
    let registry: Arc<dyn HrRegistry> = match cfg.hr.adapter {
        crate::config::HrAdapter::Http => {
            if cfg.hr.url.trim().is_empty() {
                return Err("[hr] adapter = \"http\" needs url".into());
            }
            Arc::new(crate::hr::HttpRegistry::new(
                &cfg.hr.url,
                Some(cfg.hr.token.expose().to_owned()).filter(|t| !t.is_empty()),
                Duration::from_secs(cfg.hr.timeout_seconds.max(1)),
            )?)
        }
        crate::config::HrAdapter::File => {
            Arc::new(crate::hr::FileRegistry::new(state.store.clone()))
        }
    };
    let mailer = if cfg.smtp.url.is_empty() {
        None
    } else {
        Some(Mailer::new(cfg.smtp.url.expose(), &cfg.smtp.from)?)
    };
    Ok(Worker {
        state,
        registry,
        mailer,
        checkpointer: crate::cluster::Checkpointer::from_config(cfg)?,
    })
}

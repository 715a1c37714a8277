//! The lifecycle (Order 270 §8–§9, DESIGN.md §3–§4): HR events from the HR system (the signed webhook
//! and the operator's file import, one path), the person's profile and notifications, the renewal
//! draft of a grant.

use jiff::Timestamp;
use jiff::civil::Date;
use qoljetim_domain::WorkingDayCalendar;
use qoljetim_domain::application::FieldError;
use qoljetim_domain::calendar::one_year_after;
use qoljetim_domain::lifecycle::HrEvent;
use qoljetim_policy::Action;
use qoljetim_store::{Change, Conflict, HrEventRow, LifecycleChange, NewHrEvent, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::audit::Attempt;
use crate::error::{Input, Problem, ServiceError, ServiceResult};
use crate::grants::grant_resource;
use crate::toolbox::{anonymous, entry, rfc3339_micros};
use crate::views::*;
use crate::{Caller, Service};

/// The block clock of an event whose powers end on `effective_date`, received at `received_at`
/// (Order 270 §9): due at the end of the 3rd working day after that day, met when received by then, the
/// working days taken, and whether the block waits for a future effective date (Almaty).
pub(crate) struct BlockClock {
    pub due: qoljetim_domain::calendar::Deadline,
    pub working_days_taken: i64,
    pub met: bool,
    pub scheduled: bool,
}

pub(crate) fn block_clock(
    cal: &WorkingDayCalendar,
    effective_date: Date,
    received_at: Timestamp,
) -> Result<BlockClock, String> {
    let due = cal
        .deadline_from_date(
            effective_date,
            qoljetim_domain::lifecycle::BLOCK_WORKING_DAYS,
        )
        .map_err(|e| e.to_string())?;
    let today = cal.almaty_date(received_at);
    Ok(BlockClock {
        working_days_taken: i64::from(cal.working_days_between(effective_date, today)),
        met: received_at <= due.due_at,
        // The person holds the post until the effective date: the block waits for that day.
        scheduled: effective_date > today,
        due,
    })
}

/// The stored form of an HR event received at `received_at`, with its block clock.
pub(crate) fn new_hr_event(
    cal: &WorkingDayCalendar,
    event: &HrEvent,
    source: &str,
    received_at: Timestamp,
    evidence: Option<Vec<u8>>,
) -> Result<NewHrEvent, String> {
    let clock = block_clock(cal, event.effective_date, received_at)?;
    Ok(NewHrEvent {
        source: source.to_owned(),
        event_id: event.event_id.clone(),
        kind: event.kind.as_str().to_owned(),
        iin: event.iin.clone(),
        bin: event.bin.clone(),
        effective_date: event.effective_date,
        order_number: event.order_number.clone(),
        order_date: event.order_date,
        new_position: event.new_position.clone(),
        received_at: received_at.as_microsecond(),
        block_due: clock.due.due,
        block_due_at: clock.due.due_at.as_microsecond(),
        block_due_provisional: clock.due.provisional,
        working_days_taken: clock.working_days_taken,
        met: clock.met,
        evidence,
        scheduled: clock.scheduled,
    })
}

impl From<&HrEventRow> for HrEventView {
    fn from(e: &HrEventRow) -> Self {
        HrEventView {
            id: e.id,
            duplicate: false,
            event_id: e.event_id.clone(),
            kind: e.kind.clone(),
            iin: e.iin.to_string(),
            bin: e.bin.to_string(),
            effective_date: e.effective_date.to_string(),
            order_number: e.order_number.clone(),
            new_position: e.new_position.clone(),
            received_at: rfc3339_micros(e.received_at),
            block_due: e.block_due.to_string(),
            block_due_at: rfc3339_micros(e.block_due_at),
            block_due_provisional: e.block_due_provisional,
            met: e.met,
            working_days_taken: e.working_days_taken,
            grants_blocked: e.grants_blocked,
            sessions_ended: e.sessions_ended,
            lines_stopped: e.lines_stopped,
            scheduled_for: if e.applied_at.is_none() {
                e.scheduled_for.map(|d| d.to_string())
            } else {
                None
            },
            grants: None,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    pub email: Option<String>,
    pub language: String,
}

/// The language a person reads their notifications in (they are written in Kazakh and Russian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLanguage {
    Kk,
    Ru,
}

impl Service {
    /// `POST /hr/events`: a dismissal or transfer signed (CMS) by a configured HR system. Blocks every
    /// live grant of the person in the organization at once and ends their sessions; the same event
    /// twice has one effect (`duplicate`).
    pub async fn receive_hr_event(&self, ip: &str, body: &[u8]) -> ServiceResult<HrEventView> {
        let attempt = Attempt::default();
        let r = self.receive_hr_event_in(&attempt, ip, body).await;
        self.settle(attempt, r).await
    }

    async fn receive_hr_event_in(
        &self,
        attempt: &Attempt,
        ip: &str,
        body: &[u8],
    ) -> ServiceResult<HrEventView> {
        let at = self.clock.now();
        let (cms, verified) = self
            .verified_body(
                attempt,
                body,
                at,
                anonymous("hr_event", "hr_events", ip),
                false,
            )
            .await?;
        let signer_bin = verified
            .signer
            .bin
            .as_ref()
            .map(|b| b.as_str().to_owned())
            .unwrap_or_default();
        let e = entry(
            format!("hr-system:{signer_bin}"),
            Some(signer_bin.clone()),
            "hr_event",
            "hr_events".into(),
            "ok".into(),
            ip,
        );
        attempt.begin(e, None);
        // Cedar decides: the signer's BIN among the configured HR systems' (a fact given as context).
        let d = self
            .policy
            .decide_hr_event(
                verified.signer.bin.as_ref(),
                &self.config.hr_event_signer_bins,
            )
            .map_err(ServiceError::internal)?;
        attempt.update(|e| e.policies = d.policies.clone());
        if !d.allowed {
            return Err(ServiceError::new(Problem::HrSignerNotAllowed {
                bin: signer_bin.to_string(),
            }));
        }
        let event = HrEvent::parse_json(&verified.content).map_err(ServiceError::validation)?;
        self.apply_hr_event(attempt, &event, "webhook", at, Some(cms))
            .await
    }

    /// An HR event from a file the operator imports (`qoljetim hr import`): the same path as the
    /// webhook's after its signature, audited as the operator's.
    pub async fn import_hr_event(
        &self,
        event: &HrEvent,
        source: &str,
        operator: &str,
    ) -> ServiceResult<HrEventView> {
        let attempt = Attempt::default();
        attempt.begin(
            entry(
                operator.to_owned(),
                None,
                "hr_event",
                "hr_events".into(),
                "ok".into(),
                "local",
            ),
            None,
        );
        let r = self
            .apply_hr_event(&attempt, event, source, self.clock.now(), None)
            .await;
        self.settle(attempt, r).await
    }

    /// Order 270 §9: blocks at once (or at the start of a future effective date), records the block
    /// clock; a repeated event changes nothing and answers with the one received before.
    async fn apply_hr_event(
        &self,
        attempt: &Attempt,
        event: &HrEvent,
        source: &str,
        at: Timestamp,
        evidence: Option<Vec<u8>>,
    ) -> ServiceResult<HrEventView> {
        let new = new_hr_event(&self.calendar, event, source, at, evidence)
            .map_err(ServiceError::internal)?;
        attempt.update(|e| {
            e.resource = format!("hr_event:{}", event.event_id);
            e.details = json!({
                "kind": new.kind, "iin": new.iin, "bin": new.bin, "effective_date": new.effective_date,
                "order_number": new.order_number, "block_due": new.block_due, "met": new.met,
                "working_days_taken": new.working_days_taken,
            });
        });
        let change = Change::Lifecycle(Box::new(LifecycleChange::HrEvent(Box::new(new))));
        let (id, grants, duplicate) = match self.commit_to_store(attempt, change).await? {
            Ok(out) => (out.id.unwrap_or_default(), Some(out.ids), false),
            // Not an error: the event's first arrival is in the chain, and this one changes nothing.
            Err(StoreError::Conflict(Conflict::DuplicateEvent { id })) => (id, None, true),
            Err(err) => return Err(ServiceError::store(err)),
        };
        let row = self
            .store
            .hr_event(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::internal("event missing after commit"))?;
        let mut view = HrEventView::from(&row);
        view.duplicate = duplicate;
        view.grants = grants;
        Ok(view)
    }

    /// The signed-in person's e-mail for notices and their language.
    pub async fn profile(&self, caller: &Caller) -> ServiceResult<ProfileView> {
        let attempt = Attempt::default();
        let p = self
            .store
            .profile(caller.actor.iin.as_str(), caller.actor.bin.as_str())
            .await
            .map_err(ServiceError::store)?;
        // DESIGN.md §5: every signed-in request is audited and counts as activity.
        attempt.begin_for(caller, self_entry(caller, "read_profile", "profile"));
        self.record(&attempt).await?;
        Ok(match p {
            Some(p) => ProfileView {
                email: p.email,
                language: p.language,
                updated_at: Some(rfc3339_micros(p.updated_at)),
            },
            None => ProfileView {
                email: None,
                language: "kk".into(),
                updated_at: None,
            },
        })
    }

    /// `PUT /me/profile`: the e-mail for notifications (the form itself has only a work phone) and
    /// their language. Only the signed-in person's own profile exists for them.
    pub async fn set_profile(
        &self,
        caller: &Caller,
        body: Input<ProfileBody>,
    ) -> ServiceResult<ProfileView> {
        let attempt = Attempt::default();
        let r = self.set_profile_in(&attempt, caller, body).await;
        self.settle(attempt, r).await
    }

    async fn set_profile_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        body: Input<ProfileBody>,
    ) -> ServiceResult<ProfileView> {
        attempt.begin_for(caller, self_entry(caller, "set_profile", "profile"));
        let b = body?;
        let mut errors = vec![];
        let email = b
            .email
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty());
        if let Some(e) = &email
            && !email_ok(e)
        {
            errors.push(FieldError::new(
                "/email",
                "email_format",
                "not an e-mail address",
            ));
        }
        if !matches!(b.language.as_str(), "kk" | "ru") {
            errors.push(FieldError::new("/language", "language", "kk or ru"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::validation(errors));
        }
        attempt
            .update(|e| e.details = json!({"email_set": email.is_some(), "language": b.language}));
        self.commit(
            attempt,
            Change::Lifecycle(Box::new(LifecycleChange::SetProfile {
                iin: caller.actor.iin.to_string(),
                bin: caller.actor.bin.to_string(),
                email: email.clone(),
                language: b.language.clone(),
                at: caller.now,
            })),
        )
        .await?;
        Ok(ProfileView {
            email,
            language: b.language,
            updated_at: Some(rfc3339_micros(caller.now)),
        })
    }

    /// The signed-in person's own notifications, newest first, in `language`.
    pub async fn notifications(
        &self,
        caller: &Caller,
        language: NoticeLanguage,
    ) -> ServiceResult<NotificationList> {
        let attempt = Attempt::default();
        let rows = self
            .store
            .notifications(caller.actor.iin.as_str(), caller.actor.bin.as_str(), 200)
            .await
            .map_err(ServiceError::store)?;
        let list: Vec<NotificationView> = rows
            .iter()
            .map(|n| {
                let (title, body) = match language {
                    NoticeLanguage::Ru => (&n.title_ru, &n.body_ru),
                    NoticeLanguage::Kk => (&n.title_kk, &n.body_kk),
                };
                NotificationView {
                    id: n.id,
                    kind: n.kind.clone(),
                    subject: n.subject_ref.clone(),
                    title: title.clone(),
                    body: body.clone(),
                    created_at: rfc3339_micros(n.created_at),
                    read: n.read_at.is_some(),
                }
            })
            .collect();
        let mut e = self_entry(caller, "read_notifications", "notifications");
        e.details = json!({"count": list.len(), "background": caller.background});
        attempt.begin_for(caller, e);
        self.record(&attempt).await?;
        Ok(NotificationList {
            notifications: list,
        })
    }

    /// Marks one of the signed-in person's notifications read.
    pub async fn read_notification(&self, caller: &Caller, id: i64) -> ServiceResult<()> {
        let e = entry(
            caller.actor_id(),
            Some(caller.actor.bin.to_string()),
            "read_notification",
            format!("notification:{id}"),
            "ok".into(),
            &caller.ip,
        );
        let change = Change::Lifecycle(Box::new(LifecycleChange::MarkRead {
            id,
            iin: caller.actor.iin.to_string(),
            bin: caller.actor.bin.to_string(),
            at: caller.now,
        }));
        // Another person's notification does not exist for this one: not found, and not recorded.
        match self.store.commit_touching(change, e, caller.touch()).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict(Conflict::NotFound)) => {
                Err(ServiceError::not_found("notification"))
            }
            Err(err) => Err(ServiceError::store(err)),
        }
    }

    /// `GET /grants/{id}/renewal`: a new application form pre-filled from the grant, for the head to
    /// sign (NCALayer) and submit. A dismissal ends the way to renew; after a transfer the new post is
    /// filled in.
    pub async fn renewal_draft(&self, caller: &Caller, id: i64) -> ServiceResult<RenewalDraftView> {
        let attempt = Attempt::default();
        let r = self.renewal_draft_in(&attempt, caller, id).await;
        self.settle(attempt, r).await
    }

    async fn renewal_draft_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<RenewalDraftView> {
        let g = self
            .store
            .grant(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found("grant"))?;
        self.authorize(
            attempt,
            caller,
            Action::RequestRenewal,
            &grant_resource(&g),
            &format!("grant:{id}"),
        )?;
        let event = match g.hr_event_id {
            Some(eid) => self
                .store
                .hr_event(eid)
                .await
                .map_err(ServiceError::store)?,
            None => None,
        };
        if let Some(ev) = &event
            && ev.kind == "dismissal"
        {
            return Err(ServiceError::new(Problem::RenewalNotPossible {
                id,
                status: g.status.as_str().to_owned(),
                reason: "dismissal".into(),
            }));
        }
        let app = self
            .store
            .application(g.application_id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::internal("application of a grant missing"))?;
        let line = self
            .store
            .lines(g.application_id)
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .find(|l| l.line == g.line)
            .ok_or_else(|| ServiceError::internal("line of a grant missing"))?;
        let today = self.calendar.almaty_date(self.clock.now());
        let position = event
            .as_ref()
            .and_then(|ev| ev.new_position.clone())
            .unwrap_or(line.position.clone());
        let form = json!({
            "applicant_bin": g.organization_bin,
            "date": today.to_string(),
            "head": app.head,
            "systems": [g.system],
            "lines": [{
                "surname": line.surname, "name": line.name, "patronymic": line.patronymic, "iin": line.iin,
                "position": position, "unit": line.unit, "phone": line.phone, "purpose": line.purpose,
                "access_until": one_year_after(today).to_string(), "eqyzmet_qr": line.eqyzmet_qr,
            }],
        });
        self.record(attempt).await?;
        Ok(RenewalDraftView {
            renews_grant: id,
            grant_status: g.status.as_str().to_owned(),
            valid_until: g.valid_until.to_string(),
            form,
            // What the head checks before signing: a fresh E-Qyzmet QR for the post, and the head's
            // name.
            check_before_signing: vec![
                "/lines/0/eqyzmet_qr".into(),
                "/head".into(),
                "/lines/0/position".into(),
            ],
        })
    }
}

/// The audit entry of a person's call on their own records (profile, notifications).
fn self_entry(caller: &Caller, action: &str, what: &str) -> qoljetim_store::AuditEntry {
    entry(
        caller.actor_id(),
        Some(caller.actor.bin.to_string()),
        action,
        format!("{what}:{}", caller.actor_id()),
        "ok".into(),
        &caller.ip,
    )
}

use qoljetim_domain::application::email_ok;

/// One e-mail of the outbox as an operator sees it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxView {
    pub id: i64,
    pub to_address: String,
    pub subject: String,
    /// pending, sending, sent, uncertain (the server may have sent it: resend only after checking)
    /// or failed.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
}

impl Service {
    /// The e-mail outbox, narrowed to a status when given (the integrator; Cedar decides).
    pub async fn outbox(
        &self,
        caller: &Caller,
        status: Option<&str>,
    ) -> ServiceResult<Vec<OutboxView>> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ManageOutbox,
                &qoljetim_policy::Resource::Registry,
                "outbox",
            )?;
            let rows = self
                .store
                .outbox(status)
                .await
                .map_err(ServiceError::store)?;
            self.record(&attempt).await?;
            Ok(rows
                .into_iter()
                .map(|m| OutboxView {
                    id: m.id,
                    to_address: m.to_address,
                    subject: m.subject,
                    status: m.status,
                    attempts: m.attempts,
                    last_error: m.last_error,
                    sent_at: m.sent_at.map(rfc3339_micros),
                })
                .collect())
        }
        .await;
        self.settle(attempt, r).await
    }

    /// Puts an uncertain or failed e-mail back in the queue (the `jobs resend` of the CLI): once it is
    /// checked that it did not arrive. Any other state is a conflict; nothing changes.
    pub async fn resend_email(&self, caller: &Caller, id: i64) -> ServiceResult<()> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ManageOutbox,
                &qoljetim_policy::Resource::Registry,
                &format!("outbox/{id}"),
            )?;
            attempt.update(|e| e.action = "resend_email".into());
            self.commit(
                &attempt,
                Change::Lifecycle(Box::new(LifecycleChange::OutboxResend {
                    id,
                    at: caller.now,
                })),
            )
            .await?;
            Ok(())
        }
        .await;
        self.settle(attempt, r).await
    }
}

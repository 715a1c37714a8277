//! Lifecycle state (Order 270 §8–§9): HR registry checks on lines, HR events that block grants,
//! expiry, profiles, notifications and the e-mail outbox. Changes go through the single writer like
//! every other change (with their audit record); reads are plain queries on the read pool.

use jiff::civil::Date;
use qoljetim_domain::{Bin, Iin};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::reads::{from_str, typed, typed_opt};
use crate::tx::{Applied, ChangeOutcome, Failure, b};
use crate::{Conflict, Result, Store};

#[derive(Debug, Clone)]
pub struct NewHrEvent {
    /// `webhook` or `file`.
    pub source: String,
    pub event_id: String,
    /// An HR event's kind (`dismissal`, `transfer`) or a block request's reason (`dismissed`,
    /// `transferred`, `other`).
    pub kind: String,
    pub iin: Iin,
    pub bin: Bin,
    pub effective_date: Date,
    pub order_number: String,
    pub order_date: Option<Date>,
    pub new_position: Option<String>,
    pub received_at: i64,
    pub block_due: Date,
    pub block_due_at: i64,
    pub block_due_provisional: bool,
    pub working_days_taken: i64,
    /// The block (at receipt) came no later than the end of the 3rd working day.
    pub met: bool,
    pub evidence: Option<Vec<u8>>,
    /// The effective date lies ahead (Almaty): the block waits for the start of that day.
    pub scheduled: bool,
}

/// The employing body's signed block request (Order 270 §9): kept as evidence; each line is a block
/// event beside the HR events (`source = block_request`).
#[derive(Debug, Clone)]
pub struct NewBlockRequest {
    pub applicant_bin: Bin,
    pub form_date: Date,
    pub signer_iin: Iin,
    pub signer_name: String,
    pub signer_certificate: Vec<u8>,
    pub trust_anchor: String,
    /// How the signature was verified (revocation, signing time), as JSON.
    pub verification: String,
    pub evidence: Vec<u8>,
    pub received_at: i64,
    pub lines: Vec<NewHrEvent>,
    /// SHA-256 (hex) of the signed content: the same content is accepted once (issue 15).
    pub content_sha256: String,
}

#[derive(Debug, Clone)]
pub struct NewEmail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub recipient_iin: String,
    pub recipient_bin: String,
    pub kind: String,
    pub subject_ref: String,
    /// The same key twice makes one notification (reminders and flags fire once).
    pub dedupe_key: String,
    pub title_kk: String,
    pub title_ru: String,
    pub body_kk: String,
    pub body_ru: String,
    pub created_at: i64,
    pub email: Option<NewEmail>,
}

#[derive(Debug, Clone)]
pub struct PersonnelPost {
    pub bin: String,
    pub iin: String,
    pub position: String,
    pub unit: Option<String>,
}

#[derive(Debug, Clone)]
pub enum SendResult {
    Sent,
    /// Refused for now or not reached: try again at `retry_at`.
    Retry {
        error: String,
        retry_at: i64,
    },
    /// Refused for good (a 5xx answer): kept as `failed` for an operator.
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone)]
pub enum LifecycleChange {
    HrCheck {
        application_id: i64,
        line: i64,
        /// pending (with a retry), confirmed, mismatch, unknown.
        status: String,
        detail: Option<String>,
        checked_at: i64,
        next_check_at: i64,
        error: Option<String>,
    },
    HrEvent(Box<NewHrEvent>),
    BlockRequest(Box<NewBlockRequest>),
    /// Scheduled blocks whose effective date (Almaty) has come: made now.
    ApplyScheduledBlocks {
        today: String,
        at: i64,
    },
    ImportPersonnel {
        posts: Vec<PersonnelPost>,
        bins: Vec<String>,
        at: i64,
    },
    ExpireGrants {
        /// Grants valid through a day before this Almaty date expire.
        today: String,
        at: i64,
    },
    Notify(Vec<NewNotification>),
    OutboxClaim {
        id: i64,
        at: i64,
    },
    OutboxResult {
        id: i64,
        at: i64,
        result: SendResult,
    },
    /// Claims left by a worker that stopped mid-send become `uncertain` (never sent twice).
    OutboxRecover {
        at: i64,
    },
    /// An operator puts an uncertain or failed e-mail back in the queue.
    OutboxResend {
        id: i64,
        at: i64,
    },
    SetProfile {
        iin: String,
        bin: String,
        email: Option<String>,
        language: String,
        at: i64,
    },
    MarkRead {
        id: i64,
        iin: String,
        bin: String,
        at: i64,
    },
    JobRun {
        job: String,
        clock_at: i64,
        started_at: i64,
        finished_at: i64,
        summary: String,
    },
    /// Ends one session (its certificate was revoked after sign-in).
    EndSession {
        token_hash: String,
    },
}

fn message_id(dedupe_key: &str, id: i64) -> String {
    let h = Sha256::digest(dedupe_key.as_bytes());
    format!("<{}.{id}@qoljetim>", hex::encode(&h[..12]))
}

/// An earlier event with the same id, or the same kind, person, organization, date and order.
async fn duplicate_event(
    conn: &mut AnyConnection,
    e: &NewHrEvent,
) -> std::result::Result<Option<i64>, Failure> {
    let dup = sqlx::query(
        "SELECT id FROM hr_events WHERE event_id = $1 OR (kind = $2 AND iin = $3 AND bin = $4 AND effective_date = $5 AND order_number = $6)",
    )
    .bind(&e.event_id)
    .bind(&e.kind)
    .bind(e.iin.as_str())
    .bind(e.bin.as_str())
    .bind(e.effective_date.to_string())
    .bind(&e.order_number)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match dup {
        Some(r) => Some(r.try_get("id")?),
        None => None,
    })
}

async fn insert_event(
    conn: &mut AnyConnection,
    e: &NewHrEvent,
    block_request_id: Option<i64>,
) -> std::result::Result<i64, Failure> {
    let row = sqlx::query(
        "INSERT INTO hr_events (source, event_id, kind, iin, bin, effective_date, order_number, order_date, new_position, \
         received_at, block_due, block_due_at, block_due_provisional, grants_blocked, sessions_ended, lines_stopped, met, \
         working_days_taken, evidence, block_request_id, scheduled_for) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, 0, $14, $15, $16, $17, $18) RETURNING id",
    )
    .bind(&e.source)
    .bind(&e.event_id)
    .bind(&e.kind)
    .bind(e.iin.as_str())
    .bind(e.bin.as_str())
    .bind(e.effective_date.to_string())
    .bind(&e.order_number)
    .bind(e.order_date.map(|d| d.to_string()))
    .bind(&e.new_position)
    .bind(e.received_at)
    .bind(e.block_due.to_string())
    .bind(e.block_due_at)
    .bind(b(e.block_due_provisional))
    .bind(b(e.met))
    .bind(e.working_days_taken)
    .bind(e.evidence.clone())
    .bind(block_request_id)
    .bind(e.scheduled.then(|| e.effective_date.to_string()))
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Blocks every live grant of the person in the organization, whatever its dates (an event that
/// arrives late or back-dated still blocks: never match on an exact date), ends the person's sessions
/// there, and stops lines not granted yet. Records the effect on the event.
async fn block_person(
    conn: &mut AnyConnection,
    event_id: i64,
    iin: &str,
    bin: &str,
    kind: &str,
    at: i64,
    out: &mut ChangeOutcome,
) -> std::result::Result<(), Failure> {
    let blocked = sqlx::query(
        "SELECT id FROM grants WHERE person_iin = $1 AND organization_bin = $2 AND status IN ('active', 'pending_training') ORDER BY id",
    )
    .bind(iin)
    .bind(bin)
    .fetch_all(&mut *conn)
    .await?;
    let mut grant_ids = vec![];
    for r in &blocked {
        grant_ids.push(r.try_get::<i64, _>("id")?);
    }
    sqlx::query(
        "UPDATE grants SET status = 'blocked', ended_at = $1, end_reason = $2, hr_event_id = $3 \
         WHERE person_iin = $4 AND organization_bin = $5 AND status IN ('active', 'pending_training')",
    )
    .bind(at)
    .bind(kind)
    .bind(event_id)
    .bind(iin)
    .bind(bin)
    .execute(&mut *conn)
    .await?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE iin = $1 AND bin = $2")
        .bind(iin)
        .bind(bin)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    // Lines not granted yet will not be: the powers they were asked for have ended.
    let detail = serde_json::json!({"hr_event": event_id, "kind": kind}).to_string();
    let lines = sqlx::query(
        "UPDATE application_lines SET hr_event_id = $1, hr_status = 'mismatch', hr_detail = $2 \
         WHERE iin = $3 AND status IN ('submitted', 'approved') \
         AND application_id IN (SELECT id FROM applications WHERE applicant_bin = $4)",
    )
    .bind(event_id)
    .bind(&detail)
    .bind(iin)
    .bind(bin)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let grants = i64::try_from(grant_ids.len()).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE hr_events SET grants_blocked = grants_blocked + $1, sessions_ended = sessions_ended + $2, \
         lines_stopped = lines_stopped + $3, applied_at = $4 WHERE id = $5",
    )
    .bind(grants)
    .bind(n(sessions))
    .bind(n(lines))
    .bind(at)
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    out.ids.extend(grant_ids);
    *out.counts.entry("grants_blocked").or_insert(0) += grants;
    *out.counts.entry("sessions_ended").or_insert(0) += n(sessions);
    *out.counts.entry("lines_stopped").or_insert(0) += n(lines);
    Ok(())
}

/// The block of a received event: at once, unless its effective date lies ahead (then the worker makes
/// it at the start of that day).
async fn block_unless_scheduled(
    conn: &mut AnyConnection,
    event_id: i64,
    e: &NewHrEvent,
    out: &mut ChangeOutcome,
) -> std::result::Result<(), Failure> {
    if e.scheduled {
        return Ok(());
    }
    block_person(
        conn,
        event_id,
        e.iin.as_str(),
        e.bin.as_str(),
        &e.kind,
        e.received_at,
        out,
    )
    .await
}

/// Writes notifications (each once, by its dedupe key) and the e-mail of each that has one, in the
/// caller's transaction; their ids go to `out.ids`.
pub(crate) async fn notify(
    conn: &mut AnyConnection,
    list: &[NewNotification],
    out: &mut ChangeOutcome,
) -> std::result::Result<(), Failure> {
    for n in list {
        let exists = sqlx::query("SELECT 1 AS one FROM notifications WHERE dedupe_key = $1")
            .bind(&n.dedupe_key)
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_some() {
            continue;
        }
        let row = sqlx::query(
            "INSERT INTO notifications (recipient_iin, recipient_bin, kind, subject_ref, dedupe_key, title_kk, title_ru, \
             body_kk, body_ru, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(&n.recipient_iin)
        .bind(&n.recipient_bin)
        .bind(&n.kind)
        .bind(&n.subject_ref)
        .bind(&n.dedupe_key)
        .bind(&n.title_kk)
        .bind(&n.title_ru)
        .bind(&n.body_kk)
        .bind(&n.body_ru)
        .bind(n.created_at)
        .fetch_one(&mut *conn)
        .await?;
        let id: i64 = row.try_get("id")?;
        out.ids.push(id);
        if let Some(m) = &n.email {
            sqlx::query(
                "INSERT INTO outbox (notification_id, to_address, subject, body, message_id, status, attempts, \
                 next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
            )
            .bind(id)
            .bind(&m.to)
            .bind(&m.subject)
            .bind(&m.body)
            .bind(message_id(&n.dedupe_key, id))
            .bind(n.created_at)
            .execute(&mut *conn)
            .await?;
            *out.counts.entry("emails").or_default() += 1;
        }
    }
    Ok(())
}

pub(crate) async fn apply(conn: &mut AnyConnection, change: &LifecycleChange) -> Applied {
    let mut out = ChangeOutcome::default();
    match change {
        LifecycleChange::HrCheck {
            application_id,
            line,
            status,
            detail,
            checked_at,
            next_check_at,
            error,
        } => {
            let res = sqlx::query(
                "UPDATE application_lines SET hr_status = $1, hr_detail = $2, hr_checked_at = $3, hr_attempts = hr_attempts + 1, \
                 hr_next_check_at = $4, hr_last_error = $5 \
                 WHERE application_id = $6 AND line = $7 AND hr_status = 'pending' AND hr_event_id IS NULL",
            )
            .bind(status)
            .bind(detail)
            .bind(*checked_at)
            .bind(*next_check_at)
            .bind(error)
            .bind(*application_id)
            .bind(*line)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(Conflict::NotFound));
            }
            out.id = Some(*application_id);
        }
        LifecycleChange::HrEvent(e) => {
            if let Some(id) = duplicate_event(conn, e).await? {
                return Err(Failure::Conflict(Conflict::DuplicateEvent { id }));
            }
            let id = insert_event(conn, e, None).await?;
            out.id = Some(id);
            block_unless_scheduled(conn, id, e, &mut out).await?;
        }
        LifecycleChange::BlockRequest(r) => {
            if let Some(id) = sqlx::query_scalar::<_, i64>(
                "SELECT id FROM block_requests WHERE content_sha256 = $1",
            )
            .bind(&r.content_sha256)
            .fetch_optional(&mut *conn)
            .await?
            {
                return Err(Failure::Conflict(Conflict::DuplicateDocument { id }));
            }
            let row = sqlx::query(
                "INSERT INTO block_requests (applicant_bin, form_date, signer_iin, signer_name, signer_certificate, trust_anchor, \
                 verification, evidence, received_at, lines, content_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            )
            .bind(r.applicant_bin.as_str())
            .bind(r.form_date.to_string())
            .bind(r.signer_iin.as_str())
            .bind(&r.signer_name)
            .bind(r.signer_certificate.clone())
            .bind(&r.trust_anchor)
            .bind(&r.verification)
            .bind(r.evidence.clone())
            .bind(r.received_at)
            .bind(i64::try_from(r.lines.len()).unwrap_or(i64::MAX))
            .bind(&r.content_sha256)
            .fetch_one(&mut *conn)
            .await?;
            let request_id: i64 = row.try_get("id")?;
            out.id = Some(request_id);
            for (n, line) in r.lines.iter().enumerate() {
                let mut e = line.clone();
                e.event_id = format!("block-request/{request_id}/{}", n + 1);
                // The same person, reason, date and order in an earlier request: that event stands.
                let event_id = match duplicate_event(conn, &e).await? {
                    Some(id) => id,
                    None => insert_event(conn, &e, Some(request_id)).await?,
                };
                out.ids.push(event_id);
                let mut line_out = ChangeOutcome::default();
                block_unless_scheduled(conn, event_id, &e, &mut line_out).await?;
                for (k, v) in line_out.counts {
                    *out.counts.entry(k).or_insert(0) += v;
                }
            }
        }
        LifecycleChange::ApplyScheduledBlocks { today, at } => {
            let due = sqlx::query(
                "SELECT id, iin, bin, kind FROM hr_events WHERE applied_at IS NULL AND scheduled_for <= $1 ORDER BY id",
            )
            .bind(today)
            .fetch_all(&mut *conn)
            .await?;
            for r in &due {
                let id: i64 = r.try_get("id")?;
                let (iin, bin, kind): (String, String, String) =
                    (r.try_get("iin")?, r.try_get("bin")?, r.try_get("kind")?);
                block_person(conn, id, &iin, &bin, &kind, *at, &mut out).await?;
                out.ids.push(id);
            }
        }
        LifecycleChange::ImportPersonnel { posts, bins, at } => {
            for bin in bins {
                sqlx::query("DELETE FROM hr_personnel WHERE bin = $1")
                    .bind(bin)
                    .execute(&mut *conn)
                    .await?;
            }
            for p in posts {
                sqlx::query(
                    "INSERT INTO hr_personnel (bin, iin, position, unit, imported_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (bin, iin, position) DO UPDATE SET unit = excluded.unit, imported_at = excluded.imported_at",
                )
                .bind(&p.bin)
                .bind(&p.iin)
                .bind(&p.position)
                .bind(&p.unit)
                .bind(*at)
                .execute(&mut *conn)
                .await?;
            }
            out.counts
                .insert("posts", i64::try_from(posts.len()).unwrap_or(i64::MAX));
        }
        LifecycleChange::ExpireGrants { today, at } => {
            let rows = sqlx::query(
                "SELECT id FROM grants WHERE status IN ('active', 'pending_training') AND valid_until < $1 ORDER BY id",
            )
            .bind(today)
            .fetch_all(&mut *conn)
            .await?;
            for r in &rows {
                out.ids.push(r.try_get("id")?);
            }
            sqlx::query(
                "UPDATE grants SET status = 'expired', ended_at = $1, end_reason = 'validity_ended' \
                 WHERE status IN ('active', 'pending_training') AND valid_until < $2",
            )
            .bind(*at)
            .bind(today)
            .execute(&mut *conn)
            .await?;
            // Issue 18: an information system's year ends the same way (Order 270 §9).
            let systems = crate::systems::expire(conn, today, *at).await?;
            out.counts.insert("system_grants_expired", systems);
        }
        LifecycleChange::Notify(list) => notify(conn, list, &mut out).await?,
        LifecycleChange::OutboxClaim { id, at } => {
            let res = sqlx::query(
                "UPDATE outbox SET status = 'sending', claimed_at = $1, attempts = attempts + 1 WHERE id = $2 AND status = 'pending'",
            )
            .bind(*at)
            .bind(*id)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: "not pending".into(),
                    expected: "pending",
                }));
            }
            out.id = Some(*id);
        }
        LifecycleChange::OutboxResult { id, at, result } => {
            let res = match result {
                SendResult::Sent => {
                    sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $1, last_error = NULL WHERE id = $2 AND status = 'sending'")
                        .bind(*at)
                        .bind(*id)
                        .execute(&mut *conn)
                        .await?
                }
                SendResult::Retry { error, retry_at } => {
                    sqlx::query("UPDATE outbox SET status = 'pending', next_attempt_at = $1, last_error = $2 WHERE id = $3 AND status = 'sending'")
                        .bind(*retry_at)
                        .bind(error)
                        .bind(*id)
                        .execute(&mut *conn)
                        .await?
                }
                SendResult::Failed { error } => {
                    sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1 WHERE id = $2 AND status = 'sending'")
                        .bind(error)
                        .bind(*id)
                        .execute(&mut *conn)
                        .await?
                }
            };
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: "not sending".into(),
                    expected: "sending",
                }));
            }
            out.id = Some(*id);
        }
        LifecycleChange::OutboxRecover { at: _ } => {
            let rows = sqlx::query("SELECT id FROM outbox WHERE status = 'sending' ORDER BY id")
                .fetch_all(&mut *conn)
                .await?;
            for r in &rows {
                out.ids.push(r.try_get("id")?);
            }
            sqlx::query("UPDATE outbox SET status = 'uncertain', last_error = 'the worker stopped during the send: it may have reached the relay' WHERE status = 'sending'")
                .execute(&mut *conn)
                .await?;
        }
        LifecycleChange::OutboxResend { id, at } => {
            let res = sqlx::query(
                "UPDATE outbox SET status = 'pending', next_attempt_at = $1 WHERE id = $2 AND status IN ('uncertain', 'failed')",
            )
            .bind(*at)
            .bind(*id)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: "not uncertain or failed".into(),
                    expected: "uncertain or failed",
                }));
            }
            out.id = Some(*id);
        }
        LifecycleChange::SetProfile {
            iin,
            bin,
            email,
            language,
            at,
        } => {
            sqlx::query("DELETE FROM profiles WHERE iin = $1 AND bin = $2")
                .bind(iin)
                .bind(bin)
                .execute(&mut *conn)
                .await?;
            sqlx::query("INSERT INTO profiles (iin, bin, email, language, updated_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(iin)
                .bind(bin)
                .bind(email)
                .bind(language)
                .bind(*at)
                .execute(&mut *conn)
                .await?;
        }
        LifecycleChange::EndSession { token_hash } => {
            let res = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *conn)
                .await?;
            out.counts.insert("sessions", res.rows_affected() as i64);
        }
        LifecycleChange::MarkRead { id, iin, bin, at } => {
            let res = sqlx::query(
                "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND recipient_iin = $3 AND recipient_bin = $4",
            )
            .bind(*at)
            .bind(*id)
            .bind(iin)
            .bind(bin)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(Conflict::NotFound));
            }
            out.id = Some(*id);
        }
        LifecycleChange::JobRun {
            job,
            clock_at,
            started_at,
            finished_at,
            summary,
        } => {
            let row = sqlx::query(
                "INSERT INTO job_runs (job, clock_at, started_at, finished_at, summary) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(job)
            .bind(*clock_at)
            .bind(*started_at)
            .bind(*finished_at)
            .bind(summary)
            .fetch_one(&mut *conn)
            .await?;
            out.id = Some(row.try_get("id")?);
        }
    }
    Ok(out)
}

/// A line waiting for its HR registry check, with the organization that applied.
#[derive(Debug, Clone, Serialize)]
pub struct LineToCheck {
    pub application_id: i64,
    pub line: i64,
    pub applicant_bin: Bin,
    pub iin: Iin,
    pub position: String,
    pub unit: String,
    pub eqyzmet_qr: String,
    pub attempts: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HrEventRow {
    pub id: i64,
    pub source: String,
    pub event_id: String,
    pub kind: String,
    pub iin: Iin,
    pub bin: Bin,
    pub effective_date: Date,
    pub order_number: String,
    pub order_date: Option<Date>,
    pub new_position: Option<String>,
    pub received_at: i64,
    pub block_due: Date,
    pub block_due_at: i64,
    pub block_due_provisional: bool,
    pub grants_blocked: i64,
    pub sessions_ended: i64,
    pub lines_stopped: i64,
    pub met: bool,
    pub working_days_taken: i64,
    /// The block request this event is a line of (source `block_request`).
    pub block_request_id: Option<i64>,
    /// The Almaty date the block waits for, when it was scheduled.
    pub scheduled_for: Option<Date>,
    /// When the block was made; None while scheduled.
    pub applied_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockRequestRow {
    pub id: i64,
    pub applicant_bin: Bin,
    pub form_date: Date,
    pub signer_iin: Iin,
    pub signer_name: String,
    pub trust_anchor: String,
    pub received_at: i64,
    pub lines: Vec<HrEventRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProfileRow {
    pub email: Option<String>,
    pub language: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationRow {
    pub id: i64,
    pub kind: String,
    pub subject_ref: String,
    pub title_kk: String,
    pub title_ru: String,
    pub body_kk: String,
    pub body_ru: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub notification_id: i64,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

const EVENT_COLUMNS: &str = "id, source, event_id, kind, iin, bin, effective_date, order_number, order_date, new_position, \
    received_at, block_due, block_due_at, block_due_provisional, grants_blocked, sessions_ended, lines_stopped, met, working_days_taken, \
    block_request_id, scheduled_for, applied_at";

fn event(r: &AnyRow) -> Result<HrEventRow> {
    Ok(HrEventRow {
        id: r.try_get("id")?,
        source: r.try_get("source")?,
        event_id: r.try_get("event_id")?,
        kind: r.try_get("kind")?,
        iin: typed(r, "iin", from_str)?,
        bin: typed(r, "bin", from_str)?,
        effective_date: typed(r, "effective_date", from_str)?,
        order_number: r.try_get("order_number")?,
        order_date: typed_opt(r, "order_date", from_str)?,
        new_position: r.try_get("new_position")?,
        received_at: r.try_get("received_at")?,
        block_due: typed(r, "block_due", from_str)?,
        block_due_at: r.try_get("block_due_at")?,
        block_due_provisional: r.try_get::<i64, _>("block_due_provisional")? != 0,
        grants_blocked: r.try_get("grants_blocked")?,
        sessions_ended: r.try_get("sessions_ended")?,
        lines_stopped: r.try_get("lines_stopped")?,
        met: r.try_get::<i64, _>("met")? != 0,
        working_days_taken: r.try_get("working_days_taken")?,
        block_request_id: r.try_get("block_request_id")?,
        scheduled_for: typed_opt(r, "scheduled_for", from_str)?,
        applied_at: r.try_get("applied_at")?,
    })
}

fn block_request_row(r: &AnyRow, lines: Vec<HrEventRow>) -> Result<BlockRequestRow> {
    Ok(BlockRequestRow {
        id: r.try_get("id")?,
        applicant_bin: typed(r, "applicant_bin", from_str)?,
        form_date: typed(r, "form_date", from_str)?,
        signer_iin: typed(r, "signer_iin", from_str)?,
        signer_name: r.try_get("signer_name")?,
        trust_anchor: r.try_get("trust_anchor")?,
        received_at: r.try_get("received_at")?,
        lines,
    })
}

const BLOCK_REQUEST_COLUMNS: &str =
    "id, applicant_bin, form_date, signer_iin, signer_name, trust_anchor, received_at";

const OUTBOX_COLUMNS: &str = "id, notification_id, to_address, subject, body, message_id, status, attempts, next_attempt_at, last_error, sent_at";

fn outbox(r: &AnyRow) -> Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.try_get("id")?,
        notification_id: r.try_get("notification_id")?,
        to_address: r.try_get("to_address")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        message_id: r.try_get("message_id")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        sent_at: r.try_get("sent_at")?,
    })
}

impl Store {
    /// Lines whose HR check is due (pending, next attempt reached), oldest first.
    pub async fn lines_to_check(&self, now: i64, limit: i64) -> Result<Vec<LineToCheck>> {
        let rows = sqlx::query(
            "SELECT l.application_id, l.line, a.applicant_bin, l.iin, l.position, l.unit, l.eqyzmet_qr, l.hr_attempts \
             FROM application_lines l JOIN applications a ON a.id = l.application_id \
             WHERE l.hr_status = 'pending' AND l.hr_next_check_at <= $1 AND l.hr_event_id IS NULL \
             AND l.status IN ('submitted', 'approved') ORDER BY l.application_id, l.line LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LineToCheck {
                    application_id: r.try_get("application_id")?,
                    line: r.try_get("line")?,
                    applicant_bin: typed(r, "applicant_bin", from_str)?,
                    iin: typed(r, "iin", from_str)?,
                    position: r.try_get("position")?,
                    unit: r.try_get("unit")?,
                    eqyzmet_qr: r.try_get("eqyzmet_qr")?,
                    attempts: r.try_get("hr_attempts")?,
                })
            })
            .collect()
    }

    /// Posts of a person in the imported personnel lists (the file adapter's registry); None when no
    /// list names the person.
    pub async fn personnel_posts(&self, iin: &str) -> Result<Option<Vec<PersonnelPost>>> {
        let rows = sqlx::query(
            "SELECT bin, iin, position, unit FROM hr_personnel WHERE iin = $1 ORDER BY bin, position",
        )
        .bind(iin)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let posts = rows
            .iter()
            .map(|r| {
                Ok(PersonnelPost {
                    bin: r.try_get("bin")?,
                    iin: r.try_get("iin")?,
                    position: r.try_get("position")?,
                    unit: r.try_get("unit")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(posts))
    }

    pub async fn hr_event(&self, id: i64) -> Result<Option<HrEventRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM hr_events WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event).transpose()
    }

    /// HR events whose powers ended between the two Almaty dates (inclusive).
    pub async fn hr_events_between(&self, from: &str, to: &str) -> Result<Vec<HrEventRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM hr_events WHERE effective_date >= $1 AND effective_date <= $2 ORDER BY effective_date, id"
        )))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event).collect()
    }

    /// Block requests, newest first; `applicant_bin` narrows to one organization, `late_only` to those
    /// with a line received after its 3-working-day clock (Order 270 §9).
    pub async fn block_requests(
        &self,
        applicant_bin: Option<&str>,
        late_only: bool,
        limit: i64,
    ) -> Result<Vec<BlockRequestRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BLOCK_REQUEST_COLUMNS} FROM block_requests \
             WHERE ($1 = '' OR applicant_bin = $1) \
             AND ($2 = 0 OR id IN (SELECT block_request_id FROM hr_events WHERE block_request_id IS NOT NULL AND met = 0)) \
             ORDER BY id DESC LIMIT $3"
        )))
        .bind(applicant_bin.unwrap_or(""))
        .bind(i64::from(late_only))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        // The lines of every listed request in one query, grouped by request.
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<std::result::Result<_, _>>()?;
        let mut lines: std::collections::HashMap<i64, Vec<HrEventRow>> = Default::default();
        if !ids.is_empty() {
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            let events = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {EVENT_COLUMNS} FROM hr_events WHERE block_request_id IN ({list}) ORDER BY id"
            )))
            .fetch_all(&self.pool)
            .await?;
            for ev in &events {
                let ev = event(ev)?;
                lines
                    .entry(ev.block_request_id.unwrap_or_default())
                    .or_default()
                    .push(ev);
            }
        }
        rows.iter()
            .map(|r| {
                block_request_row(
                    r,
                    lines
                        .remove(&r.try_get::<i64, _>("id")?)
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    pub async fn block_request(&self, id: i64) -> Result<Option<BlockRequestRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BLOCK_REQUEST_COLUMNS} FROM block_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match r {
            Some(r) => {
                let id: i64 = r.try_get("id")?;
                Ok(Some(block_request_row(
                    &r,
                    self.block_request_lines(id).await?,
                )?))
            }
            None => Ok(None),
        }
    }

    async fn block_request_lines(&self, id: i64) -> Result<Vec<HrEventRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM hr_events WHERE block_request_id = $1 ORDER BY id"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event).collect()
    }

    /// The signed bytes of a block request, as received.
    pub async fn block_request_evidence(&self, id: i64) -> Result<Option<Vec<u8>>> {
        self.signed_bytes("block_requests", id).await
    }

    /// HR events whose block came after the 3rd working day and blocked live access.
    pub async fn hr_events_missed(&self) -> Result<Vec<HrEventRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM hr_events WHERE met = 0 AND grants_blocked > 0 ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event).collect()
    }

    pub async fn profile(&self, iin: &str, bin: &str) -> Result<Option<ProfileRow>> {
        let row = sqlx::query(
            "SELECT email, language, updated_at FROM profiles WHERE iin = $1 AND bin = $2",
        )
        .bind(iin)
        .bind(bin)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(ProfileRow {
                email: r.try_get("email")?,
                language: r.try_get("language")?,
                updated_at: r.try_get("updated_at")?,
            })),
        }
    }

    pub async fn notifications(
        &self,
        iin: &str,
        bin: &str,
        limit: i64,
    ) -> Result<Vec<NotificationRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, subject_ref, title_kk, title_ru, body_kk, body_ru, created_at, read_at FROM notifications \
             WHERE recipient_iin = $1 AND recipient_bin = $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(iin)
        .bind(bin)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    subject_ref: r.try_get("subject_ref")?,
                    title_kk: r.try_get("title_kk")?,
                    title_ru: r.try_get("title_ru")?,
                    body_kk: r.try_get("body_kk")?,
                    body_ru: r.try_get("body_ru")?,
                    created_at: r.try_get("created_at")?,
                    read_at: r.try_get("read_at")?,
                })
            })
            .collect()
    }

    /// E-mails due for a send attempt, oldest first.
    pub async fn outbox_due(&self, now: i64, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox).collect()
    }

    /// The whole outbox, or the rows in one status.
    pub async fn outbox(&self, status: Option<&str>) -> Result<Vec<OutboxRow>> {
        let rows = match status {
            Some(s) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = $1 ORDER BY id"
                )))
                .bind(s)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(outbox).collect()
    }

    /// Every registered staff role (iin, bin, role), by organization.
    pub async fn staff(&self) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query("SELECT iin, bin, role FROM staff ORDER BY bin, role, iin")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("iin")?, r.try_get("bin")?, r.try_get("role")?)))
            .collect()
    }

    /// Operator staff of a role (reviewers, integrator admins): the people told about overdue clocks.
    /// Which of these notification keys were used before (each notice is made once).
    pub async fn notification_keys_present(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let mut present = std::collections::HashSet::new();
        for k in keys {
            if sqlx::query("SELECT 1 AS one FROM notifications WHERE dedupe_key = $1")
                .bind(k)
                .fetch_optional(&self.pool)
                .await?
                .is_some()
            {
                present.insert(k.clone());
            }
        }
        Ok(present)
    }

    pub async fn staff_with_role(&self, role: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT iin, bin FROM staff WHERE role = $1 ORDER BY iin, bin")
            .bind(role)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("iin")?, r.try_get("bin")?)))
            .collect()
    }

    /// Active grants valid through `last_day` or earlier (reminder candidates).
    pub async fn active_grants_ending_by(&self, last_day: &str) -> Result<Vec<crate::GrantRow>> {
        self.grants_where(
            "status IN ('active', 'pending_training') AND valid_until <= $1",
            last_day,
        )
        .await
    }

    /// Every grant, oldest first (the access registry).
    pub async fn all_grants(&self) -> Result<Vec<crate::GrantRow>> {
        self.grants_where("$1 = $1", "").await
    }
}

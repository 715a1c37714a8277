//! Recertification campaigns (issue 17): opened with one line per live grant of an organization,
//! answered by the head's signed answers (kept as evidence), closed when every line is answered or
//! when the deadline passes (the unanswered lines' grants blocked). Each change ends what it must in
//! the same transaction: a withdrawn or blocked grant's person loses their sessions there at once.

use qoljetim_domain::calendar::Deadline;
use qoljetim_domain::recertification::{CampaignStatus, LineOutcome};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::tx::{Applied, ChangeOutcome, Failure, b};
use crate::{Conflict, Result, Store};

#[derive(Debug, Clone)]
pub struct CampaignAnswerLine {
    pub grant_id: i64,
    /// `confirmed` or `withdrawn`.
    pub outcome: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewCampaignAnswer {
    pub campaign_id: i64,
    pub signer: String,
    pub signer_name: String,
    pub evidence: Vec<u8>,
    pub content_sha256: String,
    pub at: i64,
    pub lines: Vec<CampaignAnswerLine>,
}

#[derive(Debug, Clone)]
pub enum RecertificationChange {
    /// A campaign for the organization, one line per grant live now.
    Open {
        bin: String,
        by: String,
        at: i64,
        due: Deadline,
        remind_at: i64,
    },
    Answer(Box<NewCampaignAnswer>),
    /// The deadline passed: pending lines' live grants blocked (their sessions ended), the rest of
    /// the pending lines `ended`, the campaign closed.
    CloseAtDeadline {
        campaign_id: i64,
        at: i64,
    },
}

const LIVE: &str = "('active', 'pending_training')";

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn campaign_state(
    conn: &mut AnyConnection,
    id: i64,
) -> std::result::Result<(String, String), Failure> {
    let r =
        sqlx::query("SELECT status, organization_bin FROM recertification_campaigns WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(Failure::Conflict(Conflict::NotFound))?;
    Ok((r.try_get("status")?, r.try_get("organization_bin")?))
}

/// Ends the person's sessions in the organization (a withdrawn or blocked grant is refused at the next
/// read anyway; the sessions end so that nothing is served from a page left open).
async fn end_sessions(
    conn: &mut AnyConnection,
    grant_id: i64,
) -> std::result::Result<u64, Failure> {
    let g = sqlx::query("SELECT person_iin, organization_bin FROM grants WHERE id = $1")
        .bind(grant_id)
        .fetch_one(&mut *conn)
        .await?;
    let (iin, bin): (String, String) = (g.try_get("person_iin")?, g.try_get("organization_bin")?);
    Ok(
        sqlx::query("DELETE FROM sessions WHERE iin = $1 AND bin = $2")
            .bind(iin)
            .bind(bin)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

async fn close_if_answered(
    conn: &mut AnyConnection,
    id: i64,
    at: i64,
) -> std::result::Result<bool, Failure> {
    let pending = sqlx::query(
        "SELECT COUNT(*) AS n FROM recertification_lines WHERE campaign_id = $1 AND outcome = 'pending'",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?
    .try_get::<i64, _>("n")?;
    if pending == 0 {
        sqlx::query(
            "UPDATE recertification_campaigns SET status = 'closed', closed_at = $1 WHERE id = $2",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(pending == 0)
}

pub(crate) async fn apply(conn: &mut AnyConnection, change: &RecertificationChange) -> Applied {
    let mut out = ChangeOutcome::default();
    match change {
        RecertificationChange::Open {
            bin,
            by,
            at,
            due,
            remind_at,
        } => {
            let org = sqlx::query("SELECT deactivated_at FROM organizations WHERE bin = $1")
                .bind(bin)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| {
                    Failure::Conflict(Conflict::OrganizationUnknown { bin: bin.clone() })
                })?;
            if org.try_get::<Option<i64>, _>("deactivated_at")?.is_some() {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: "deactivated".into(),
                    expected: "an active organization",
                }));
            }
            let open = sqlx::query(
                "SELECT id FROM recertification_campaigns WHERE organization_bin = $1 AND status = 'open'",
            )
            .bind(bin)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(r) = open {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: format!("campaign {} open", r.try_get::<i64, _>("id")?),
                    expected: "no open campaign for the organization",
                }));
            }
            let grants = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT g.id, g.person_iin, g.system, g.valid_until, l.surname, l.name, l.patronymic \
                 FROM grants g LEFT JOIN application_lines l ON l.application_id = g.application_id AND l.line = g.line \
                 WHERE g.organization_bin = $1 AND g.status IN {LIVE} ORDER BY g.id"
            )))
            .bind(bin)
            .fetch_all(&mut *conn)
            .await?;
            if grants.is_empty() {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: "no live grants".into(),
                    expected: "an organization with live grants",
                }));
            }
            let r = sqlx::query(
                "INSERT INTO recertification_campaigns (organization_bin, status, opened_by, opened_at, due, due_at, due_provisional, remind_at) \
                 VALUES ($1, 'open', $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(bin)
            .bind(by)
            .bind(*at)
            .bind(due.due.to_string())
            .bind(due.due_at.as_microsecond())
            .bind(b(due.provisional))
            .bind(*remind_at)
            .fetch_one(&mut *conn)
            .await?;
            let id: i64 = r.try_get("id")?;
            for g in &grants {
                let name = [
                    g.try_get::<Option<String>, _>("surname")?,
                    g.try_get::<Option<String>, _>("name")?,
                    g.try_get::<Option<String>, _>("patronymic")?,
                ]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
                sqlx::query(
                    "INSERT INTO recertification_lines (campaign_id, grant_id, person_iin, person_name, system, valid_until, outcome) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
                )
                .bind(id)
                .bind(g.try_get::<i64, _>("id")?)
                .bind(g.try_get::<String, _>("person_iin")?)
                .bind(name)
                .bind(g.try_get::<String, _>("system")?)
                .bind(g.try_get::<String, _>("valid_until")?)
                .execute(&mut *conn)
                .await?;
            }
            out.id = Some(id);
            out.counts
                .insert("lines", count(u64::try_from(grants.len()).unwrap_or(0)));
        }
        RecertificationChange::Answer(a) => {
            let (status, _) = campaign_state(conn, a.campaign_id).await?;
            if status != CampaignStatus::Open.as_str() {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: status,
                    expected: "open",
                }));
            }
            let dup =
                sqlx::query("SELECT id FROM recertification_answers WHERE content_sha256 = $1")
                    .bind(&a.content_sha256)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(r) = dup {
                return Err(Failure::Conflict(Conflict::DuplicateDocument {
                    id: r.try_get("id")?,
                }));
            }
            let r = sqlx::query(
                "INSERT INTO recertification_answers (campaign_id, signer, signer_name, evidence, content_sha256, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(a.campaign_id)
            .bind(&a.signer)
            .bind(&a.signer_name)
            .bind(a.evidence.clone())
            .bind(&a.content_sha256)
            .bind(a.at)
            .fetch_one(&mut *conn)
            .await?;
            let answer_id: i64 = r.try_get("id")?;
            let (mut withdrawn, mut sessions) = (0, 0);
            for l in &a.lines {
                let res = sqlx::query(
                    "UPDATE recertification_lines SET outcome = $1, answer_id = $2, reason = $3, decided_at = $4 \
                     WHERE campaign_id = $5 AND grant_id = $6 AND outcome = 'pending'",
                )
                .bind(&l.outcome)
                .bind(answer_id)
                .bind(l.reason.clone())
                .bind(a.at)
                .bind(a.campaign_id)
                .bind(l.grant_id)
                .execute(&mut *conn)
                .await?;
                if res.rows_affected() != 1 {
                    return Err(Failure::Conflict(Conflict::WrongState {
                        current: format!("grant {} answered or not in the campaign", l.grant_id),
                        expected: "pending lines of the campaign",
                    }));
                }
                if l.outcome == LineOutcome::Withdrawn.as_str() {
                    let res = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE grants SET status = 'revoked', ended_at = $1, end_reason = 'recertification_withdrawn', \
                         revoke_reason = $2, revoked_by = $3 WHERE id = $4 AND status IN {LIVE}"
                    )))
                    .bind(a.at)
                    .bind(l.reason.clone())
                    .bind(&a.signer)
                    .bind(l.grant_id)
                    .execute(&mut *conn)
                    .await?;
                    if res.rows_affected() == 1 {
                        withdrawn += 1;
                        out.ids.push(l.grant_id);
                    }
                    sessions += end_sessions(conn, l.grant_id).await?;
                }
            }
            close_if_answered(conn, a.campaign_id, a.at).await?;
            out.id = Some(answer_id);
            out.counts.insert("grants_withdrawn", withdrawn);
            out.counts.insert("sessions_ended", count(sessions));
        }
        RecertificationChange::CloseAtDeadline { campaign_id, at } => {
            let (status, _) = campaign_state(conn, *campaign_id).await?;
            if status != CampaignStatus::Open.as_str() {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: status,
                    expected: "open",
                }));
            }
            let pending = sqlx::query(
                "SELECT l.grant_id, g.status FROM recertification_lines l JOIN grants g ON g.id = l.grant_id \
                 WHERE l.campaign_id = $1 AND l.outcome = 'pending' ORDER BY l.grant_id",
            )
            .bind(*campaign_id)
            .fetch_all(&mut *conn)
            .await?;
            let mut sessions = 0;
            for p in &pending {
                let grant_id: i64 = p.try_get("grant_id")?;
                let live = matches!(
                    p.try_get::<String, _>("status")?.as_str(),
                    "active" | "pending_training"
                );
                let outcome = LineOutcome::Pending.at_deadline(live);
                if outcome == LineOutcome::Blocked {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE grants SET status = 'blocked', ended_at = $1, end_reason = 'recertification_unanswered' \
                         WHERE id = $2 AND status IN {LIVE}"
                    )))
                    .bind(*at)
                    .bind(grant_id)
                    .execute(&mut *conn)
                    .await?;
                    sessions += end_sessions(conn, grant_id).await?;
                    out.ids.push(grant_id);
                }
                sqlx::query(
                    "UPDATE recertification_lines SET outcome = $1, decided_at = $2 WHERE campaign_id = $3 AND grant_id = $4",
                )
                .bind(outcome.as_str())
                .bind(*at)
                .bind(*campaign_id)
                .bind(grant_id)
                .execute(&mut *conn)
                .await?;
            }
            close_if_answered(conn, *campaign_id, *at).await?;
            out.id = Some(*campaign_id);
            out.counts.insert(
                "grants_blocked",
                count(u64::try_from(out.ids.len()).unwrap_or(0)),
            );
            out.counts.insert("sessions_ended", count(sessions));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct CampaignRow {
    pub id: i64,
    pub organization_bin: String,
    pub status: String,
    pub opened_by: String,
    pub opened_at: i64,
    pub due: String,
    pub due_at: i64,
    pub due_provisional: bool,
    pub remind_at: i64,
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct CampaignLineRow {
    pub grant_id: i64,
    pub person_iin: String,
    pub person_name: String,
    pub system: String,
    pub valid_until: String,
    pub outcome: String,
    pub answer_id: Option<i64>,
    pub reason: Option<String>,
    pub decided_at: Option<i64>,
    /// The grant's status now.
    pub grant_status: String,
}

#[derive(Debug, Clone)]
pub struct CampaignAnswerRow {
    pub id: i64,
    pub signer: String,
    pub signer_name: String,
    pub content_sha256: String,
    pub at: i64,
}

const COLUMNS: &str = "id, organization_bin, status, opened_by, opened_at, due, due_at, due_provisional, remind_at, closed_at";

fn campaign(r: &AnyRow) -> Result<CampaignRow> {
    Ok(CampaignRow {
        id: r.try_get("id")?,
        organization_bin: r.try_get("organization_bin")?,
        status: r.try_get("status")?,
        opened_by: r.try_get("opened_by")?,
        opened_at: r.try_get("opened_at")?,
        due: r.try_get("due")?,
        due_at: r.try_get("due_at")?,
        due_provisional: r.try_get::<i64, _>("due_provisional")? != 0,
        remind_at: r.try_get("remind_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

impl Store {
    /// Campaigns, newest first: every organization's, or one organization's.
    pub async fn campaigns(&self, bin: Option<&str>) -> Result<Vec<CampaignRow>> {
        let rows = match bin {
            Some(bin) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM recertification_campaigns WHERE organization_bin = $1 ORDER BY id DESC"
                )))
                .bind(bin.to_owned())
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM recertification_campaigns ORDER BY id DESC"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(campaign).collect()
    }

    /// Open campaigns whose deadline has passed by `now` (µs).
    pub async fn campaigns_past_due(&self, now: i64) -> Result<Vec<CampaignRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recertification_campaigns WHERE status = 'open' AND due_at < $1 ORDER BY id"
        )))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(campaign).collect()
    }

    /// Campaigns open, or closed since `since` (µs): those whose notices may still be due.
    pub async fn campaigns_for_notices(&self, since: i64) -> Result<Vec<CampaignRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recertification_campaigns WHERE status = 'open' OR closed_at >= $1 ORDER BY id"
        )))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(campaign).collect()
    }

    pub async fn campaign(&self, id: i64) -> Result<Option<CampaignRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recertification_campaigns WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(campaign).transpose()
    }

    pub async fn campaign_lines(&self, id: i64) -> Result<Vec<CampaignLineRow>> {
        let rows = sqlx::query(
            "SELECT l.grant_id, l.person_iin, l.person_name, l.system, l.valid_until, l.outcome, l.answer_id, l.reason, \
             l.decided_at, g.status AS grant_status FROM recertification_lines l JOIN grants g ON g.id = l.grant_id \
             WHERE l.campaign_id = $1 ORDER BY l.grant_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CampaignLineRow {
                    grant_id: r.try_get("grant_id")?,
                    person_iin: r.try_get("person_iin")?,
                    person_name: r.try_get("person_name")?,
                    system: r.try_get("system")?,
                    valid_until: r.try_get("valid_until")?,
                    outcome: r.try_get("outcome")?,
                    answer_id: r.try_get("answer_id")?,
                    reason: r.try_get("reason")?,
                    decided_at: r.try_get("decided_at")?,
                    grant_status: r.try_get("grant_status")?,
                })
            })
            .collect()
    }

    pub async fn campaign_answers(&self, id: i64) -> Result<Vec<CampaignAnswerRow>> {
        let rows = sqlx::query(
            "SELECT id, signer, signer_name, content_sha256, at FROM recertification_answers WHERE campaign_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CampaignAnswerRow {
                    id: r.try_get("id")?,
                    signer: r.try_get("signer")?,
                    signer_name: r.try_get("signer_name")?,
                    content_sha256: r.try_get("content_sha256")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// An answer's signed CMS, as received, with its campaign.
    pub async fn campaign_answer_evidence(&self, id: i64) -> Result<Option<(i64, Vec<u8>)>> {
        let r =
            sqlx::query("SELECT campaign_id, evidence FROM recertification_answers WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match r {
            Some(r) => Some((r.try_get("campaign_id")?, r.try_get("evidence")?)),
            None => None,
        })
    }

    /// The answer (and its campaign) accepted before with this signed content, if any.
    pub async fn campaign_answer_by_content(&self, sha256: &str) -> Result<Option<(i64, i64)>> {
        let r = sqlx::query(
            "SELECT id, campaign_id FROM recertification_answers WHERE content_sha256 = $1",
        )
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match r {
            Some(r) => Some((r.try_get("id")?, r.try_get("campaign_id")?)),
            None => None,
        })
    }

    /// The heads who signed the applications of a campaign's grants (the reminders' recipients).
    pub async fn campaign_heads(&self, id: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT a.signer_iin, a.applicant_bin FROM recertification_lines l JOIN grants g ON g.id = l.grant_id \
             JOIN applications a ON a.id = g.application_id WHERE l.campaign_id = $1 ORDER BY a.signer_iin",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("signer_iin")?, r.try_get("applicant_bin")?)))
            .collect()
    }

    /// Active organizations with live grants and no open campaign whose last campaign opened before
    /// `cutoff` or, without one, whose oldest live grant was made before it (the schedule's list).
    pub async fn organizations_due_for_recertification(&self, cutoff: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT o.bin FROM organizations o WHERE o.deactivated_at IS NULL \
             AND EXISTS (SELECT 1 FROM grants g WHERE g.organization_bin = o.bin AND g.status IN {LIVE}) \
             AND NOT EXISTS (SELECT 1 FROM recertification_campaigns c WHERE c.organization_bin = o.bin AND c.status = 'open') \
             AND COALESCE((SELECT MAX(c.opened_at) FROM recertification_campaigns c WHERE c.organization_bin = o.bin), \
                          (SELECT MIN(g.granted_at) FROM grants g WHERE g.organization_bin = o.bin AND g.status IN {LIVE})) < $1 \
             ORDER BY o.bin"
        )))
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("bin")?)).collect()
    }
}

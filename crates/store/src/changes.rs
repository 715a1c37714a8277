//! Change requests (Order 270 §10) and the deployed versions that implement them.

use qoljetim_domain::calendar::Deadline;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::tx::{Applied, ChangeOutcome, Failure, b};
use crate::{Conflict, Result, Store};

/// What a change request says (the integrator's draft or revision).
#[derive(Debug, Clone)]
pub struct ChangeText {
    pub title: String,
    pub what: String,
    pub why: String,
    pub component: String,
    pub risk: String,
    pub rollback: String,
}

#[derive(Debug, Clone)]
pub struct NewDecision {
    pub request_id: i64,
    pub revision: i64,
    /// The status the decision applies to, and the one it leads to.
    pub from: String,
    pub to: String,
    pub decision: String,
    pub reasons: Option<String>,
    pub signer: String,
    pub signer_name: String,
    pub evidence: Vec<u8>,
    pub content_sha256: String,
    pub at: i64,
    /// After an agreement: the approval's deadline.
    pub approval_due: Option<Deadline>,
}

#[derive(Debug, Clone)]
pub enum ChangeRequestChange {
    Submit {
        text: Box<ChangeText>,
        agreeing_kind: String,
        by: String,
        at: i64,
        agreement_due: Deadline,
    },
    /// A returned request, revised and submitted again (a new revision; the agreement clock again).
    Revise {
        id: i64,
        text: Box<ChangeText>,
        agreeing_kind: String,
        at: i64,
        agreement_due: Deadline,
    },
    Decide(Box<NewDecision>),
    /// A deployed version and the approved requests it implements.
    Deployed {
        version: String,
        implements: Vec<i64>,
        by: String,
        at: i64,
    },
}

async fn status_and_revision(
    conn: &mut AnyConnection,
    id: i64,
) -> std::result::Result<(String, i64), Failure> {
    let r = sqlx::query("SELECT status, revision FROM change_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Failure::Conflict(Conflict::NotFound))?;
    Ok((r.try_get("status")?, r.try_get("revision")?))
}

pub(crate) async fn apply(conn: &mut AnyConnection, change: &ChangeRequestChange) -> Applied {
    let mut out = ChangeOutcome::default();
    match change {
        ChangeRequestChange::Submit {
            text: t,
            agreeing_kind,
            by,
            at,
            agreement_due: d,
        } => {
            let r = sqlx::query(
                "INSERT INTO change_requests (title, what, why, component, risk, rollback, revision, agreeing_kind, status, \
                 created_by, created_at, submitted_at, agreement_due, agreement_due_at, agreement_due_provisional) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, 'submitted', $8, $9, $9, $10, $11, $12) RETURNING id",
            )
            .bind(&t.title)
            .bind(&t.what)
            .bind(&t.why)
            .bind(&t.component)
            .bind(&t.risk)
            .bind(&t.rollback)
            .bind(agreeing_kind)
            .bind(by)
            .bind(*at)
            .bind(d.due.to_string())
            .bind(d.due_at.as_microsecond())
            .bind(b(d.provisional))
            .fetch_one(&mut *conn)
            .await?;
            out.id = Some(r.try_get("id")?);
        }
        ChangeRequestChange::Revise {
            id,
            text: t,
            agreeing_kind,
            at,
            agreement_due: d,
        } => {
            let res = sqlx::query(
                "UPDATE change_requests SET title = $1, what = $2, why = $3, component = $4, risk = $5, rollback = $6, \
                 agreeing_kind = $7, status = 'submitted', revision = revision + 1, submitted_at = $8, agreement_due = $9, \
                 agreement_due_at = $10, agreement_due_provisional = $11 WHERE id = $12 AND status = 'returned'",
            )
            .bind(&t.title)
            .bind(&t.what)
            .bind(&t.why)
            .bind(&t.component)
            .bind(&t.risk)
            .bind(&t.rollback)
            .bind(agreeing_kind)
            .bind(*at)
            .bind(d.due.to_string())
            .bind(d.due_at.as_microsecond())
            .bind(b(d.provisional))
            .bind(*id)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                let (current, _) = status_and_revision(conn, *id).await?;
                return Err(Failure::Conflict(Conflict::WrongState {
                    current,
                    expected: "returned",
                }));
            }
            out.id = Some(*id);
        }
        ChangeRequestChange::Decide(d) => {
            let (current, revision) = status_and_revision(conn, d.request_id).await?;
            if current != d.from {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current,
                    expected: "the state the decision applies to",
                }));
            }
            if revision != d.revision {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: format!("revision {revision}"),
                    expected: "the revision the decision names",
                }));
            }
            let dup = sqlx::query("SELECT id FROM change_decisions WHERE content_sha256 = $1")
                .bind(&d.content_sha256)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(r) = dup {
                return Err(Failure::Conflict(Conflict::DuplicateDocument {
                    id: r.try_get("id")?,
                }));
            }
            let r = sqlx::query(
                "INSERT INTO change_decisions (request_id, revision, decision, reasons, signer, signer_name, evidence, content_sha256, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(d.request_id)
            .bind(d.revision)
            .bind(&d.decision)
            .bind(d.reasons.clone())
            .bind(&d.signer)
            .bind(&d.signer_name)
            .bind(d.evidence.clone())
            .bind(&d.content_sha256)
            .bind(d.at)
            .fetch_one(&mut *conn)
            .await?;
            out.id = Some(r.try_get("id")?);
            sqlx::query(
                "UPDATE change_requests SET status = $1, \
                 agreed_at = CASE WHEN $1 = 'agreed' THEN $2 ELSE agreed_at END, \
                 approved_at = CASE WHEN $1 = 'approved' THEN $2 ELSE approved_at END, \
                 approval_due = COALESCE($3, approval_due), approval_due_at = COALESCE($4, approval_due_at), \
                 approval_due_provisional = $5 WHERE id = $6",
            )
            .bind(&d.to)
            .bind(d.at)
            .bind(d.approval_due.as_ref().map(|x| x.due.to_string()))
            .bind(d.approval_due.as_ref().map(|x| x.due_at.as_microsecond()))
            .bind(b(d.approval_due.as_ref().is_some_and(|x| x.provisional)))
            .bind(d.request_id)
            .execute(&mut *conn)
            .await?;
        }
        ChangeRequestChange::Deployed {
            version,
            implements,
            by,
            at,
        } => {
            for id in implements {
                let (current, _) = status_and_revision(conn, *id).await?;
                if current != "approved" {
                    return Err(Failure::Conflict(Conflict::WrongState {
                        current: format!("change request {id} {current}"),
                        expected: "approved",
                    }));
                }
            }
            let known = sqlx::query("SELECT id FROM deployments WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *conn)
                .await?;
            if known.is_some() {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: format!("version {version} recorded"),
                    expected: "a version not recorded yet",
                }));
            }
            let r = sqlx::query(
                "INSERT INTO deployments (version, implements, recorded_by, recorded_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(version)
            .bind(serde_json::to_string(implements).unwrap_or_else(|_| "[]".into()))
            .bind(by)
            .bind(*at)
            .fetch_one(&mut *conn)
            .await?;
            out.id = Some(r.try_get("id")?);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct ChangeRequestRow {
    pub id: i64,
    pub title: String,
    pub what: String,
    pub why: String,
    pub component: String,
    pub risk: String,
    pub rollback: String,
    pub revision: i64,
    pub agreeing_kind: String,
    pub status: String,
    pub created_by: String,
    pub created_at: i64,
    pub submitted_at: i64,
    pub agreement_due: String,
    pub agreement_due_at: i64,
    pub agreement_due_provisional: bool,
    pub agreed_at: Option<i64>,
    pub approval_due: Option<String>,
    pub approval_due_at: Option<i64>,
    pub approval_due_provisional: bool,
    pub approved_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ChangeDecisionRow {
    pub id: i64,
    pub request_id: i64,
    pub revision: i64,
    pub decision: String,
    pub reasons: Option<String>,
    pub signer: String,
    pub signer_name: String,
    pub content_sha256: String,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct DeploymentRow {
    pub version: String,
    pub implements: Vec<i64>,
    pub recorded_by: String,
    pub recorded_at: i64,
}

const COLUMNS: &str = "id, title, what, why, component, risk, rollback, revision, agreeing_kind, status, created_by, created_at, \
    submitted_at, agreement_due, agreement_due_at, agreement_due_provisional, agreed_at, approval_due, approval_due_at, \
    approval_due_provisional, approved_at";

fn row(r: &AnyRow) -> Result<ChangeRequestRow> {
    Ok(ChangeRequestRow {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        what: r.try_get("what")?,
        why: r.try_get("why")?,
        component: r.try_get("component")?,
        risk: r.try_get("risk")?,
        rollback: r.try_get("rollback")?,
        revision: r.try_get("revision")?,
        agreeing_kind: r.try_get("agreeing_kind")?,
        status: r.try_get("status")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        submitted_at: r.try_get("submitted_at")?,
        agreement_due: r.try_get("agreement_due")?,
        agreement_due_at: r.try_get("agreement_due_at")?,
        agreement_due_provisional: r.try_get::<i64, _>("agreement_due_provisional")? != 0,
        agreed_at: r.try_get("agreed_at")?,
        approval_due: r.try_get("approval_due")?,
        approval_due_at: r.try_get("approval_due_at")?,
        approval_due_provisional: r.try_get::<i64, _>("approval_due_provisional")? != 0,
        approved_at: r.try_get("approved_at")?,
    })
}

impl Store {
    pub async fn change_requests(&self) -> Result<Vec<ChangeRequestRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM change_requests ORDER BY id DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }

    pub async fn change_request(&self, id: i64) -> Result<Option<ChangeRequestRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM change_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn change_decisions(&self, request_id: i64) -> Result<Vec<ChangeDecisionRow>> {
        let rows = sqlx::query(
            "SELECT id, request_id, revision, decision, reasons, signer, signer_name, content_sha256, at \
             FROM change_decisions WHERE request_id = $1 ORDER BY id",
        )
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChangeDecisionRow {
                    id: r.try_get("id")?,
                    request_id: r.try_get("request_id")?,
                    revision: r.try_get("revision")?,
                    decision: r.try_get("decision")?,
                    reasons: r.try_get("reasons")?,
                    signer: r.try_get("signer")?,
                    signer_name: r.try_get("signer_name")?,
                    content_sha256: r.try_get("content_sha256")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// A decision's signed CMS, as received, with its request.
    pub async fn change_decision_evidence(&self, id: i64) -> Result<Option<(i64, Vec<u8>)>> {
        let r = sqlx::query("SELECT request_id, evidence FROM change_decisions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some((r.try_get("request_id")?, r.try_get("evidence")?)),
            None => None,
        })
    }

    pub async fn deployments(&self) -> Result<Vec<DeploymentRow>> {
        let rows = sqlx::query(
            "SELECT version, implements, recorded_by, recorded_at FROM deployments ORDER BY id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeploymentRow {
                    version: r.try_get("version")?,
                    implements: serde_json::from_str(&r.try_get::<String, _>("implements")?)
                        .map_err(crate::audit::corrupt)?,
                    recorded_by: r.try_get("recorded_by")?,
                    recorded_at: r.try_get("recorded_at")?,
                })
            })
            .collect()
    }
}

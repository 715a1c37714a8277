//! The single writer: applies each change with its audit record, several requests per transaction
//! (group commit), each request isolated in its own savepoint.

use jiff::civil::Date;
use qoljetim_domain::{Bin, Iin, Kato, Role, Scope};
use sqlx::{AnyConnection, Executor, Row};
use tokio::sync::mpsc;

use crate::audit::{AuditEntry, AuditRecord, record_hash};
use crate::tx::{Applied, ChangeOutcome, Failure, b};
use crate::{Backend, Conflict, Job, Result, StoreError};

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub iin: Iin,
    pub bin: Bin,
    pub roles: Vec<Role>,
    /// The certificate's person (name fields), kept as JSON.
    pub person: serde_json::Value,
    pub certificate_serial: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewLine {
    pub line: i64,
    pub iin: Iin,
    pub surname: String,
    pub name: String,
    pub patronymic: Option<String>,
    pub position: String,
    pub unit: String,
    pub phone: String,
    pub email: String,
    pub purpose: String,
    /// None: the form gave no until-date (the full year applies).
    pub access_until_requested: Option<Date>,
    pub access_until_effective: Date,
    pub notice: Option<String>,
    pub eqyzmet_qr: String,
}

#[derive(Debug, Clone)]
pub struct NewApplication {
    pub applicant_bin: Bin,
    pub form_date: Date,
    /// The systems asked for (kept as a JSON array of their names).
    pub systems: Vec<qoljetim_domain::System>,
    /// The form's head of the organization, kept as JSON.
    pub head: serde_json::Value,
    pub signer_iin: Iin,
    pub signer_name: String,
    pub signer_certificate: Vec<u8>,
    pub claimed_signing_time: Option<i64>,
    pub trust_anchor: String,
    pub revocation: String,
    pub evidence: Vec<u8>,
    pub received_at: i64,
    pub review_due: Date,
    pub review_due_at: i64,
    pub review_due_provisional: bool,
    pub lines: Vec<NewLine>,
    /// Issue 18: lines for the organization's own information systems.
    pub system_lines: Vec<crate::systems::NewSystemLine>,
    /// SHA-256 (hex) of the signed content: the same content is accepted once (issue 15).
    pub content_sha256: String,
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub line: i64,
    pub person_iin: Iin,
    pub organization_bin: Bin,
    pub system: qoljetim_domain::System,
    pub valid_from: Date,
    pub valid_until: Date,
    pub access_until_requested: Option<Date>,
    pub notice: Option<String>,
    /// Fixed at grant time (Order 270 §6), kept as JSON: the evidence of what was granted.
    pub scope: Scope,
    pub extra_years_reason: Option<String>,
}

/// One line's review decision.
#[derive(Debug, Clone)]
pub struct ReviewedLine {
    pub line: i64,
    pub status: qoljetim_domain::LineStatus,
    pub reason: Option<String>,
}

/// An approved line that gets no access at the grant, and why (`powers_ended`, `access_until_passed`).
#[derive(Debug, Clone)]
pub struct NotGranted {
    pub line: i64,
    pub reason: String,
}

/// A state change. Each is applied in one savepoint together with its audit record.
#[derive(Debug, Clone)]
pub enum Change {
    None,
    Login {
        challenge: String,
        challenge_expires_at: i64,
        session: NewSession,
    },
    SubmitApplication(Box<NewApplication>),
    Review {
        application_id: i64,
        lines: Vec<ReviewedLine>,
        outcome: qoljetim_domain::ApplicationStatus,
        reviewed_at: i64,
        reviewed_by: String,
        /// Order 270 §9: when the application is forwarded, the grant's deadline.
        grant_due: Option<qoljetim_domain::calendar::Deadline>,
    },
    Grant {
        application_id: i64,
        grants: Vec<NewGrant>,
        /// Issue 18: the approved information systems' grants.
        system_grants: Vec<crate::systems::NewSystemGrant>,
        not_granted: Vec<NotGranted>,
        granted_at: i64,
        granted_by: String,
    },
    CreateOrganization {
        bin: Bin,
        name_kk: String,
        name_ru: String,
        kind: qoljetim_domain::org::RegisteredKind,
        territory: Option<Kato>,
        /// Administrator codes (kept as a JSON array).
        administrators: Vec<qoljetim_domain::org::AdministratorCode>,
        created_at: i64,
    },
    AddStaff {
        iin: Iin,
        bin: Bin,
        role: Role,
        created_at: i64,
    },
    /// Order 270 §2.6: the organization is not eligible (its kind was removed, or its BIN is on the
    /// excluded list): marked with the clause, its live grants blocked, its sessions ended.
    ExcludeOrganization {
        bin: Bin,
        clause: String,
        at: i64,
    },
    /// A live grant's scope re-derived after a change of the competence rules (Order 270 §6).
    RederiveScope {
        grant_id: i64,
        /// The scope the grant holds now; the change is refused if it holds another (a race).
        previous: Scope,
        scope: Scope,
    },
    /// HR registry checks, HR events, expiry, notifications, the outbox (crate::lifecycle).
    Lifecycle(Box<crate::lifecycle::LifecycleChange>),
    Training(Box<crate::training::TrainingChange>),
    Support(Box<crate::support::SupportChange>),
    Operations(Box<crate::operations::OperationsChange>),
    ChangeRequest(Box<crate::changes::ChangeRequestChange>),
    Recertification(Box<crate::recertification::RecertificationChange>),
    /// Issue 18: an information system's sign-in and the end of its tokens.
    Systems(Box<crate::systems::SystemsChange>),
}

impl Change {
    /// Whether applying this may alter a row the read cache keeps (a session, an organization, a
    /// grant). A sign-in only adds a session nobody has read yet; a read adds only its audit record.
    pub(crate) fn may_change_reads(&self) -> bool {
        !matches!(self, Change::None | Change::Login { .. })
    }
}

async fn status_of(
    conn: &mut AnyConnection,
    id: i64,
) -> std::result::Result<Option<String>, Failure> {
    let row = sqlx::query("SELECT status FROM applications WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("status")?),
        None => None,
    })
}

async fn organization_exists(
    conn: &mut AnyConnection,
    bin: &str,
) -> std::result::Result<bool, Failure> {
    let row = sqlx::query("SELECT 1 AS one FROM organizations WHERE bin = $1")
        .bind(bin)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Order 270 §11: a sign-in challenge is used once (a person's or an information system's); the
/// used ones are kept until they expire (the writer clears expired ones once a minute; an expired
/// challenge is refused before it gets here). Several at once in one statement; any used before, or
/// twice among them, is a conflict.
pub(crate) async fn use_challenges(
    conn: &mut AnyConnection,
    challenges: &[(&str, i64)],
) -> std::result::Result<(), Failure> {
    let sql = format!(
        "INSERT INTO used_challenges (challenge, expires_at) VALUES {} ON CONFLICT (challenge) DO NOTHING",
        placeholders(challenges.len(), 2)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (challenge, expires_at) in challenges {
        q = q.bind(*challenge).bind(*expires_at);
    }
    if q.execute(&mut *conn).await?.rows_affected() != challenges.len() as u64 {
        return Err(Failure::Conflict(Conflict::ChallengeUsed));
    }
    Ok(())
}

/// A value kept as JSON text.
fn json_text<T: serde::Serialize + ?Sized>(v: &T) -> std::result::Result<String, Failure> {
    serde_json::to_string(v).map_err(|e| Failure::Db(sqlx::Error::Encode(Box::new(e))))
}

async fn apply(conn: &mut AnyConnection, change: &Change) -> Applied {
    let mut out = ChangeOutcome::default();
    match change {
        Change::None => {}
        Change::Lifecycle(l) => return crate::lifecycle::apply(conn, l).await,
        Change::Training(t) => return crate::training::apply(conn, t).await,
        Change::Support(c) => return crate::support::apply(conn, c).await,
        Change::Operations(c) => return crate::operations::apply(conn, c).await,
        Change::ChangeRequest(c) => return crate::changes::apply(conn, c).await,
        Change::Recertification(c) => return crate::recertification::apply(conn, c).await,
        Change::Systems(c) => return crate::systems::apply(conn, c).await,
        Change::Login {
            challenge,
            challenge_expires_at,
            session,
        } => {
            apply_logins(
                conn,
                &[(challenge.as_str(), *challenge_expires_at, session)],
            )
            .await?
        }
        Change::SubmitApplication(a) => {
            if !organization_exists(conn, a.applicant_bin.as_str()).await? {
                return Err(Failure::Conflict(Conflict::OrganizationUnknown {
                    bin: a.applicant_bin.to_string(),
                }));
            }
            // Inside the writer's transaction: a resubmission of the same signed content (a retry after
            // a lost answer, a replayed evidence file) finds the record the first one made.
            if let Some(id) = sqlx::query_scalar::<_, i64>(
                "SELECT id FROM applications WHERE content_sha256 = $1",
            )
            .bind(&a.content_sha256)
            .fetch_optional(&mut *conn)
            .await?
            {
                return Err(Failure::Conflict(Conflict::DuplicateDocument { id }));
            }
            let systems = json_text(&a.systems.iter().map(|s| s.as_str()).collect::<Vec<_>>())?;
            let row = sqlx::query(
                "INSERT INTO applications (applicant_bin, status, form_date, systems, head, signer_iin, signer_name, \
                 signer_certificate, claimed_signing_time, trust_anchor, revocation, evidence, received_at, review_due, \
                 review_due_at, review_due_provisional, content_sha256) \
                 VALUES ($1, 'submitted', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
            )
            .bind(a.applicant_bin.as_str())
            .bind(a.form_date.to_string())
            .bind(systems)
            .bind(json_text(&a.head)?)
            .bind(a.signer_iin.as_str())
            .bind(&a.signer_name)
            .bind(a.signer_certificate.clone())
            .bind(a.claimed_signing_time)
            .bind(&a.trust_anchor)
            .bind(&a.revocation)
            .bind(a.evidence.clone())
            .bind(a.received_at)
            .bind(a.review_due.to_string())
            .bind(a.review_due_at)
            .bind(b(a.review_due_provisional))
            .bind(&a.content_sha256)
            .fetch_one(&mut *conn)
            .await?;
            let id: i64 = row.try_get("id")?;
            crate::systems::insert_lines(conn, id, &a.system_lines).await?;
            // Multi-row inserts in chunks keep a 1,000-line application to a handful of statements.
            for chunk in a.lines.chunks(100) {
                let mut sql = String::from(
                    "INSERT INTO application_lines (application_id, line, iin, surname, name, patronymic, position, unit, \
                     phone, purpose, access_until_requested, access_until_effective, notice, eqyzmet_qr, email, status) VALUES ",
                );
                for (i, _) in chunk.iter().enumerate() {
                    let p = i * 15;
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!(
                        "(${},${},${},${},${},${},${},${},${},${},${},${},${},${},${},'submitted')",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7,
                        p + 8,
                        p + 9,
                        p + 10,
                        p + 11,
                        p + 12,
                        p + 13,
                        p + 14,
                        p + 15
                    ));
                }
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for l in chunk {
                    q = q
                        .bind(id)
                        .bind(l.line)
                        .bind(l.iin.as_str())
                        .bind(&l.surname)
                        .bind(&l.name)
                        .bind(&l.patronymic)
                        .bind(&l.position)
                        .bind(&l.unit)
                        .bind(&l.phone)
                        .bind(&l.purpose)
                        .bind(l.access_until_requested.map(|d| d.to_string()))
                        .bind(l.access_until_effective.to_string())
                        .bind(&l.notice)
                        .bind(&l.eqyzmet_qr)
                        .bind(&l.email);
                }
                q.execute(&mut *conn).await?;
            }
            out.id = Some(id);
        }
        Change::Review {
            application_id,
            lines,
            outcome,
            reviewed_at,
            reviewed_by,
            grant_due,
        } => {
            let (gd, gda, gdp) = match grant_due {
                Some(d) => (
                    Some(d.due.to_string()),
                    Some(d.due_at.as_microsecond()),
                    Some(b(d.provisional)),
                ),
                None => (None, None, None),
            };
            let res = sqlx::query(
                "UPDATE applications SET status = $1, reviewed_at = $2, reviewed_by = $3, grant_due = $4, grant_due_at = $5, \
                 grant_due_provisional = $6 WHERE id = $7 AND status = 'submitted'",
            )
            .bind(outcome.as_str())
            .bind(*reviewed_at)
            .bind(reviewed_by)
            .bind(gd)
            .bind(gda)
            .bind(gdp)
            .bind(*application_id)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(
                    match status_of(conn, *application_id).await? {
                        Some(current) => Conflict::WrongState {
                            current,
                            expected: "submitted",
                        },
                        None => Conflict::NotFound,
                    },
                ));
            }
            for l in lines {
                let res = sqlx::query(
                    "UPDATE application_lines SET status = $1, reason = $2 WHERE application_id = $3 AND line = $4 AND status = 'submitted'",
                )
                .bind(l.status.as_str())
                .bind(&l.reason)
                .bind(*application_id)
                .bind(l.line)
                .execute(&mut *conn)
                .await?;
                if res.rows_affected() != 1
                    && !crate::systems::review_line(
                        conn,
                        *application_id,
                        l.line,
                        l.status.as_str(),
                        l.reason.as_deref(),
                    )
                    .await?
                {
                    return Err(Failure::Conflict(Conflict::LineDecided { line: l.line }));
                }
            }
            out.id = Some(*application_id);
        }
        Change::Grant {
            application_id,
            grants,
            system_grants,
            not_granted,
            granted_at,
            granted_by,
        } => {
            let res = sqlx::query(
                "UPDATE applications SET status = 'granted', granted_at = $1, granted_by = $2 WHERE id = $3 AND status = 'forwarded'",
            )
            .bind(*granted_at)
            .bind(granted_by)
            .bind(*application_id)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(
                    match status_of(conn, *application_id).await? {
                        Some(current) => Conflict::WrongState {
                            current,
                            expected: "forwarded",
                        },
                        None => Conflict::NotFound,
                    },
                ));
            }
            for g in grants {
                let scope = json_text(&g.scope)?;
                // Order 270 §13: training before first work. A person trained at the system's
                // current lesson version (renewal) starts active; anyone else waits for training.
                // Every grant made from now on waits for the §15 duties' acceptance.
                let trained =
                    crate::training::trained_now(conn, g.person_iin.as_str(), g.system.as_str())
                        .await?;
                let row = sqlx::query(
                    "INSERT INTO grants (application_id, line, person_iin, organization_bin, system, status, valid_from, valid_until, \
                     access_until_requested, notice, scope, extra_years_reason, granted_by, granted_at, trained_at, training_source, duties_required) \
                     VALUES ($1, $2, $3, $4, $5, $14, $6, $7, $8, $9, $10, $11, $12, $13, $15, $16, 1) RETURNING id",
                )
                .bind(*application_id)
                .bind(g.line)
                .bind(g.person_iin.as_str())
                .bind(g.organization_bin.as_str())
                .bind(g.system.as_str())
                .bind(g.valid_from.to_string())
                .bind(g.valid_until.to_string())
                .bind(g.access_until_requested.map(|d| d.to_string()))
                .bind(&g.notice)
                .bind(scope)
                .bind(&g.extra_years_reason)
                .bind(granted_by)
                .bind(*granted_at)
                .bind(if trained.is_some() {
                    "active"
                } else {
                    "pending_training"
                })
                .bind(trained.is_some().then_some(*granted_at))
                .bind(trained)
                .fetch_one(&mut *conn)
                .await?;
                out.ids.push(row.try_get("id")?);
            }
            let granted_lines: std::collections::BTreeSet<i64> =
                grants.iter().map(|g| g.line).collect();
            for line in &granted_lines {
                let res = sqlx::query("UPDATE application_lines SET status = 'granted' WHERE application_id = $1 AND line = $2 AND status = 'approved' AND hr_event_id IS NULL")
                    .bind(*application_id)
                    .bind(*line)
                    .execute(&mut *conn)
                    .await?;
                if res.rows_affected() != 1 {
                    return Err(Failure::Conflict(Conflict::LineDecided { line: *line }));
                }
            }
            for n in not_granted {
                sqlx::query("UPDATE application_lines SET status = 'not_granted', reason = $1 WHERE application_id = $2 AND line = $3 AND status = 'approved'")
                    .bind(&n.reason)
                    .bind(*application_id)
                    .bind(n.line)
                    .execute(&mut *conn)
                    .await?;
            }
            if !system_grants.is_empty() {
                let bin = sqlx::query("SELECT applicant_bin FROM applications WHERE id = $1")
                    .bind(*application_id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get::<String, _>("applicant_bin")?;
                crate::systems::grant(
                    conn,
                    *application_id,
                    &bin,
                    system_grants,
                    granted_by,
                    *granted_at,
                    &mut out,
                )
                .await?;
            }
            out.id = Some(*application_id);
        }
        Change::CreateOrganization {
            bin,
            name_kk,
            name_ru,
            kind,
            territory,
            administrators,
            created_at,
        } => {
            if organization_exists(conn, bin.as_str()).await? {
                return Err(Failure::Conflict(Conflict::OrganizationExists {
                    bin: bin.to_string(),
                }));
            }
            sqlx::query("INSERT INTO organizations (bin, name_kk, name_ru, kind, territory, administrators, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(bin.as_str())
                .bind(name_kk)
                .bind(name_ru)
                .bind(kind.as_str())
                .bind(territory.as_ref().map(|t| t.to_string()))
                .bind(json_text(administrators)?)
                .bind(*created_at)
                .execute(&mut *conn)
                .await?;
        }
        Change::ExcludeOrganization { bin, clause, at } => {
            let marked = sqlx::query(
                "UPDATE organizations SET excluded = $1 WHERE bin = $2 AND excluded IS NULL",
            )
            .bind(clause)
            .bind(bin.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if marked != 1 {
                return Err(Failure::Conflict(Conflict::NotFound));
            }
            let blocked = sqlx::query(
                "SELECT id FROM grants WHERE organization_bin = $1 AND status IN ('active', 'pending_training') ORDER BY id",
            )
            .bind(bin.as_str())
            .fetch_all(&mut *conn)
            .await?;
            for r in &blocked {
                out.ids.push(r.try_get("id")?);
            }
            sqlx::query(
                "UPDATE grants SET status = 'blocked', ended_at = $1, end_reason = 'not_eligible' \
                 WHERE organization_bin = $2 AND status IN ('active', 'pending_training')",
            )
            .bind(*at)
            .bind(bin.as_str())
            .execute(&mut *conn)
            .await?;
            let sessions = sqlx::query("DELETE FROM sessions WHERE bin = $1")
                .bind(bin.as_str())
                .execute(&mut *conn)
                .await?
                .rows_affected();
            out.counts.insert(
                "grants_blocked",
                i64::try_from(blocked.len()).unwrap_or(i64::MAX),
            );
            out.counts.insert(
                "sessions_ended",
                i64::try_from(sessions).unwrap_or(i64::MAX),
            );
        }
        Change::RederiveScope {
            grant_id,
            previous,
            scope,
        } => {
            let res = sqlx::query(
                "UPDATE grants SET scope = $1 WHERE id = $2 AND scope = $3 AND status IN ('active', 'pending_training')",
            )
            .bind(json_text(scope)?)
            .bind(*grant_id)
            .bind(json_text(previous)?)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(Conflict::NotFound));
            }
            out.id = Some(*grant_id);
        }
        Change::AddStaff {
            iin,
            bin,
            role,
            created_at,
        } => {
            if !organization_exists(conn, bin.as_str()).await? {
                return Err(Failure::Conflict(Conflict::OrganizationUnknown {
                    bin: bin.to_string(),
                }));
            }
            sqlx::query("DELETE FROM staff WHERE iin = $1 AND bin = $2 AND role = $3")
                .bind(iin.as_str())
                .bind(bin.as_str())
                .bind(role.as_str())
                .execute(&mut *conn)
                .await?;
            sqlx::query("INSERT INTO staff (iin, bin, role, created_at) VALUES ($1, $2, $3, $4)")
                .bind(iin.as_str())
                .bind(bin.as_str())
                .bind(role.as_str())
                .bind(*created_at)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(out)
}

const AUDIT_COLUMNS: &str = "INSERT INTO audit_log (seq, at, actor, actor_bin, action, resource, outcome, ip, policies, details, prev_hash, hash) VALUES ";

async fn insert_audit(
    conn: &mut AnyConnection,
    r: &AuditRecord,
) -> std::result::Result<(), sqlx::Error> {
    insert_audits(conn, std::slice::from_ref(r)).await
}

/// `($1, $2, …), (…)`: `rows` groups of `columns` numbered placeholders, for a multi-row INSERT.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 1..=columns {
            if c > 1 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * columns + c));
        }
        sql.push(')');
    }
    sql
}

/// Appends records in one statement (one round trip for a group of reads).
async fn insert_audits(
    conn: &mut AnyConnection,
    records: &[AuditRecord],
) -> std::result::Result<(), sqlx::Error> {
    let sql = format!("{AUDIT_COLUMNS}{}", placeholders(records.len(), 12));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in records {
        q = q
            .bind(r.seq)
            .bind(r.at)
            .bind(&r.actor)
            .bind(&r.actor_bin)
            .bind(&r.action)
            .bind(&r.resource)
            .bind(&r.outcome)
            .bind(&r.ip)
            .bind(&r.policies)
            .bind(&r.details)
            .bind(&r.prev_hash)
            .bind(&r.hash);
    }
    q.execute(&mut *conn).await.map(|_| ())
}

/// Sign-ins (one, or several at once — issue 20): their challenges used in one statement and their
/// sessions kept in another. A challenge used before (or twice in the batch) is a conflict, and the writer
/// then runs the batch job by job, so that only that sign-in is refused.
async fn apply_logins(
    conn: &mut AnyConnection,
    logins: &[(&str, i64, &NewSession)],
) -> std::result::Result<(), Failure> {
    let challenges: Vec<(&str, i64)> = logins.iter().map(|(c, e, _)| (*c, *e)).collect();
    use_challenges(conn, &challenges).await?;
    let sql = format!(
        "INSERT INTO sessions (token_hash, iin, bin, roles, person, certificate_serial, created_at, expires_at, last_seen) VALUES {}",
        placeholders(logins.len(), 9)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (_, _, s) in logins {
        q = q
            .bind(&s.token_hash)
            .bind(s.iin.as_str())
            .bind(s.bin.as_str())
            .bind(json_text(&s.roles)?)
            .bind(json_text(&s.person)?)
            .bind(&s.certificate_serial)
            .bind(s.created_at)
            .bind(s.expires_at)
            .bind(s.created_at);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

fn now_micros() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// The next record of the chain after `head` for `e`; a change that creates something names it in the
/// resource (`kind/id`) once its id is known.
fn make_record(
    head: &(i64, String),
    e: &AuditEntry,
    created: Option<&ChangeOutcome>,
) -> AuditRecord {
    let resource = match (e.creates, created) {
        (Some(kind), Some(o)) => {
            format!("{kind}/{}", o.id.map(|i| i.to_string()).unwrap_or_default())
        }
        _ => e.resource.clone(),
    };
    let mut r = AuditRecord {
        seq: head.0 + 1,
        at: now_micros(),
        actor: e.actor.clone(),
        actor_bin: e.actor_bin.clone(),
        action: e.action.clone(),
        resource,
        outcome: e.outcome.clone(),
        ip: e.ip.clone(),
        policies: serde_json::to_string(&e.policies).unwrap_or_default(),
        details: e.details.to_string(),
        prev_hash: head.1.clone(),
        hash: String::new(),
    };
    r.hash = record_hash(&r);
    r
}

/// Records activity on a session (for the idle timeout).
async fn touch(
    conn: &mut AnyConnection,
    (token_hash, at): &(String, i64),
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2")
        .bind(*at)
        .bind(token_hash)
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// Applies one job inside a savepoint. Returns the result to send once the batch commits.
async fn run_job(
    conn: &mut AnyConnection,
    head: &mut (i64, String),
    job: &Job,
) -> Result<ChangeOutcome> {
    conn.execute("SAVEPOINT job").await?;
    let applied = apply(conn, &job.change).await;
    let (outcome, entry) = match applied {
        Ok(o) => (Ok(o), job.audit.clone()),
        Err(f) => {
            conn.execute("ROLLBACK TO SAVEPOINT job").await?;
            let mut e = job.audit.clone();
            let err = match f {
                Failure::Conflict(c) => {
                    e.outcome = format!("conflict:{}", c.slug());
                    StoreError::Conflict(c)
                }
                Failure::Db(d) => {
                    e.outcome = "error:database".to_owned();
                    StoreError::Database(d.to_string())
                }
            };
            (Err(err), e)
        }
    };
    if let (Ok(_), Some(t)) = (&outcome, &job.touch_session) {
        touch(conn, t).await?;
    }
    let record = make_record(head, &entry, outcome.as_ref().ok());
    if let Err(e) = insert_audit(conn, &record).await {
        // Never a change without its audit record.
        conn.execute("ROLLBACK TO SAVEPOINT job").await?;
        conn.execute("RELEASE SAVEPOINT job").await?;
        return Err(StoreError::Audit(e.to_string()));
    }
    conn.execute("RELEASE SAVEPOINT job").await?;
    *head = (record.seq, record.hash);
    outcome.map(|mut o| {
        o.audit_seq = head.0;
        o
    })
}

/// Issue 21: begins the batch's transaction and reads the chain head inside it, under a lock the
/// database holds until the commit — so that several instances on one PostgreSQL append one chain,
/// each batch after the last one committed by any of them. SQLite's `BEGIN IMMEDIATE` is that lock.
async fn begin_chain(
    conn: &mut AnyConnection,
    backend: Backend,
) -> std::result::Result<(i64, String), sqlx::Error> {
    match backend {
        Backend::Sqlite => {
            conn.execute("BEGIN IMMEDIATE").await?;
        }
        Backend::Postgres => {
            conn.execute("BEGIN").await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(crate::CHAIN_LOCK)
                .execute(&mut *conn)
                .await?;
        }
    }
    crate::audit::load_head(&mut *conn).await
}

const MAX_BATCH: usize = 128;

/// How often the writer clears used sign-in challenges past their expiry (µs).
const PURGE_EVERY_MICROS: i64 = 60_000_000;

/// How a batch went when tried at once.
enum AtOnce {
    Committed(Vec<Result<ChangeOutcome>>),
    /// A job failed before the commit; nothing was kept and the batch can be run job by job.
    RolledBack,
    /// The commit itself failed: whether it took effect is unknown to us, so nothing is retried.
    CommitFailed(String),
}

/// Issue 20: a batch in one transaction without a savepoint per job — each job's change, the
/// sessions' activity, then every audit record in one multi-row INSERT, then one commit. Any job's
/// failure (a conflict, a database error) rolls the whole attempt back and the caller runs the batch
/// again job by job, each in its own savepoint, so that only the failing request fails.
async fn at_once(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[Job],
    purge_before: Option<i64>,
) -> AtOnce {
    let tried = async {
        let head = begin_chain(conn, backend).await.map_err(|_| ())?;
        if let Some(now) = purge_before {
            sqlx::query("DELETE FROM used_challenges WHERE expires_at < $1")
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(|_| ())?;
        }
        let mut applied = Vec::with_capacity(batch.len());
        let mut k = 0;
        while k < batch.len() {
            let logins: Vec<_> = batch[k..]
                .iter()
                .map_while(|j| match &j.change {
                    Change::Login {
                        challenge,
                        challenge_expires_at,
                        session,
                    } => Some((challenge.as_str(), *challenge_expires_at, session)),
                    _ => None,
                })
                .collect();
            if !logins.is_empty() {
                apply_logins(conn, &logins).await.map_err(|_| ())?;
                applied.extend(logins.iter().map(|_| ChangeOutcome::default()));
                k += logins.len();
            } else {
                applied.push(apply(conn, &batch[k].change).await.map_err(|_| ())?);
                k += 1;
            }
        }
        let mut h = head;
        let mut records = Vec::with_capacity(batch.len());
        let mut outcomes = Vec::with_capacity(batch.len());
        for (job, mut o) in batch.iter().zip(applied) {
            let record = make_record(&h, &job.audit, Some(&o));
            h = (record.seq, record.hash.clone());
            o.audit_seq = record.seq;
            records.push(record);
            outcomes.push(Ok(o));
        }
        for t in batch.iter().filter_map(|j| j.touch_session.as_ref()) {
            touch(conn, t).await.map_err(|_| ())?;
        }
        insert_audits(conn, &records).await.map_err(|_| ())?;
        Ok::<_, ()>((h, outcomes))
    }
    .await;
    let Ok((_, outcomes)) = tried else {
        let _ = conn.execute("ROLLBACK").await;
        return AtOnce::RolledBack;
    };
    match conn.execute("COMMIT").await {
        Ok(_) => AtOnce::Committed(outcomes),
        Err(e) => AtOnce::CommitFailed(e.to_string()),
    }
}

/// The batch job by job, each in its own savepoint: a failing job is rolled back to its savepoint and
/// audited as a refusal; the others commit.
async fn with_savepoints(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[Job],
) -> std::result::Result<Vec<Result<ChangeOutcome>>, String> {
    let mut head = begin_chain(conn, backend)
        .await
        .map_err(|e| e.to_string())?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        match run_job(conn, &mut head, job).await {
            Err(StoreError::Database(e)) if e.contains("SAVEPOINT") => return Err(e),
            r => results.push(r),
        }
    }
    conn.execute("COMMIT").await.map_err(|e| e.to_string())?;
    Ok(results)
}

/// After a commit, before anyone is answered: what the batch changed leaves the read cache.
fn tell_cache(cache: &crate::cache::ReadCache, batch: &[Job]) {
    if batch.iter().any(|j| j.change.may_change_reads()) {
        cache.changed();
    }
    for (token_hash, at) in batch.iter().filter_map(|j| j.touch_session.as_ref()) {
        cache.touched(token_hash, *at);
    }
}

pub(crate) async fn run(
    mut conn: AnyConnection,
    backend: Backend,
    mut rx: mpsc::Receiver<Job>,
    cache: Option<std::sync::Arc<crate::cache::ReadCache>>,
    marker: Option<std::sync::Arc<crate::cache::ChangeMarker>>,
) {
    let mut purged_at = i64::MIN;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let now = now_micros();
        let purge = (now.saturating_sub(purged_at) >= PURGE_EVERY_MICROS).then_some(now);
        if purge.is_some() {
            purged_at = now;
        }
        let outcome = match at_once(&mut conn, backend, &batch, purge).await {
            AtOnce::Committed(r) => Ok(r),
            AtOnce::CommitFailed(e) => Err(e),
            AtOnce::RolledBack => with_savepoints(&mut conn, backend, &batch).await,
        };
        match outcome {
            Ok(results) => {
                if let Some(c) = &cache {
                    tell_cache(c, &batch);
                }
                // A command beside the server tells it (before answering, as for its own cache).
                if let Some(m) = &marker
                    && batch.iter().any(|j| j.change.may_change_reads())
                {
                    m.announce();
                }
                for (job, r) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                if let Some(c) = &cache {
                    c.changed();
                }
                for job in batch {
                    let _ = job
                        .reply
                        .send(Err(StoreError::Database(format!("commit failed: {e}"))));
                }
            }
        }
    }
}

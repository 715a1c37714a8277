//! Issue 18 (Order 270 §3): organizations' own information systems — their application lines, the
//! registered systems and their grants. Applied inside the application's own changes (submit, review,
//! grant), so a system's line travels with the people's lines of its application.

use jiff::civil::Date;
use qoljetim_domain::Scope;
use sqlx::{AnyConnection, Row};

use crate::tx::{ChangeOutcome, Failure};
use crate::{Result, Store};

#[derive(Debug, Clone)]
pub struct NewSystemLine {
    pub line: i64,
    pub name: String,
    pub purpose: String,
    /// Upper-case hexadecimal without leading zeros, and the issuer's name (RFC 4514).
    pub certificate_serial: String,
    pub certificate_issuer: String,
}

/// One system's access to one budget system, granted on an approved line.
#[derive(Debug, Clone)]
pub struct NewSystemGrant {
    pub line: i64,
    pub system: qoljetim_domain::System,
    pub valid_from: Date,
    pub valid_until: Date,
    /// Fixed at grant time (Order 270 §6), as a person's.
    pub scope: Scope,
}

pub(crate) async fn insert_lines(
    conn: &mut AnyConnection,
    application_id: i64,
    lines: &[NewSystemLine],
) -> std::result::Result<(), Failure> {
    for l in lines {
        sqlx::query(
            "INSERT INTO system_lines (application_id, line, name, purpose, certificate_serial, certificate_issuer, status) \
             VALUES ($1, $2, $3, $4, $5, $6, 'submitted')",
        )
        .bind(application_id)
        .bind(l.line)
        .bind(&l.name)
        .bind(&l.purpose)
        .bind(&l.certificate_serial)
        .bind(&l.certificate_issuer)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The review of a line that is a system's: true when `line` is one (and was waiting).
pub(crate) async fn review_line(
    conn: &mut AnyConnection,
    application_id: i64,
    line: i64,
    status: &str,
    reason: Option<&str>,
) -> std::result::Result<bool, Failure> {
    let res = sqlx::query(
        "UPDATE system_lines SET status = $1, reason = $2 WHERE application_id = $3 AND line = $4 AND status = 'submitted'",
    )
    .bind(status)
    .bind(reason)
    .bind(application_id)
    .bind(line)
    .execute(&mut *conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Registers each granted line's system once and grants it each budget system; the lines become
/// `granted`. The grants' ids go to `out.ids` after the people's.
pub(crate) async fn grant(
    conn: &mut AnyConnection,
    application_id: i64,
    organization_bin: &str,
    grants: &[NewSystemGrant],
    granted_by: &str,
    granted_at: i64,
    out: &mut ChangeOutcome,
) -> std::result::Result<(), Failure> {
    let lines: std::collections::BTreeSet<i64> = grants.iter().map(|g| g.line).collect();
    for line in lines {
        let l = sqlx::query(
            "SELECT name, certificate_serial, certificate_issuer FROM system_lines \
             WHERE application_id = $1 AND line = $2 AND status = 'approved'",
        )
        .bind(application_id)
        .bind(line)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Failure::Conflict(crate::Conflict::LineDecided { line }))?;
        let row = sqlx::query(
            "INSERT INTO information_systems (organization_bin, name, certificate_serial, certificate_issuer, application_id, line, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(organization_bin)
        .bind(l.try_get::<String, _>("name")?)
        .bind(l.try_get::<String, _>("certificate_serial")?)
        .bind(l.try_get::<String, _>("certificate_issuer")?)
        .bind(application_id)
        .bind(line)
        .bind(granted_at)
        .fetch_one(&mut *conn)
        .await?;
        let system_id: i64 = row.try_get("id")?;
        for g in grants.iter().filter(|g| g.line == line) {
            let scope = serde_json::to_string(&g.scope)
                .map_err(|e| Failure::Db(sqlx::Error::Encode(Box::new(e))))?;
            let r = sqlx::query(
                "INSERT INTO system_grants (information_system_id, application_id, line, organization_bin, system, status, \
                 valid_from, valid_until, scope, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(system_id)
            .bind(application_id)
            .bind(line)
            .bind(organization_bin)
            .bind(g.system.as_str())
            .bind(g.valid_from.to_string())
            .bind(g.valid_until.to_string())
            .bind(scope)
            .bind(granted_by)
            .bind(granted_at)
            .fetch_one(&mut *conn)
            .await?;
            out.ids.push(r.try_get("id")?);
        }
        sqlx::query(
            "UPDATE system_lines SET status = 'granted' WHERE application_id = $1 AND line = $2",
        )
        .bind(application_id)
        .bind(line)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Order 270 §9: the systems' grants whose year has ended (valid through a day before `today`, an
/// Almaty date) expire. Answers how many.
pub(crate) async fn expire(
    conn: &mut AnyConnection,
    today: &str,
    at: i64,
) -> std::result::Result<i64, Failure> {
    let n = sqlx::query(
        "UPDATE system_grants SET status = 'expired', ended_at = $1, end_reason = 'validity_ended' \
         WHERE status = 'active' AND valid_until < $2",
    )
    .bind(at)
    .bind(today)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A deactivated organization's systems lose their access with its people (issue 17's deactivation).
pub(crate) async fn block_organization(
    conn: &mut AnyConnection,
    bin: &str,
    at: i64,
) -> std::result::Result<i64, Failure> {
    let n = sqlx::query(
        "UPDATE system_grants SET status = 'blocked', ended_at = $1, end_reason = 'organization_deactivated' \
         WHERE organization_bin = $2 AND status = 'active'",
    )
    .bind(at)
    .bind(bin)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

#[derive(Debug, Clone)]
pub struct SystemLineRow {
    pub line: i64,
    pub name: String,
    pub purpose: String,
    pub certificate_serial: String,
    pub certificate_issuer: String,
    pub status: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SystemGrantRow {
    pub id: i64,
    pub information_system_id: i64,
    pub name: String,
    pub certificate_serial: String,
    pub application_id: i64,
    pub line: i64,
    pub organization_bin: String,
    pub system: qoljetim_domain::System,
    /// Active, blocked, expired or revoked (a system's grant needs no training).
    pub status: qoljetim_domain::application::GrantStatus,
    pub valid_from: Date,
    pub valid_until: Date,
    pub scope: Scope,
    pub ended_at: Option<i64>,
    /// validity_ended, organization_deactivated, revoked.
    pub end_reason: Option<String>,
}

impl SystemGrantRow {
    /// Its status on `on` (an Almaty date) and why it ended: past its last day it is expired even
    /// before the worker has marked it (Order 270 §9, as a person's).
    pub fn status_on(
        &self,
        on: Date,
    ) -> (qoljetim_domain::application::GrantStatus, Option<String>) {
        let status = self.status.on(self.valid_until, on);
        if status == self.status {
            (status, self.end_reason.clone())
        } else {
            (status, Some("validity_ended".into()))
        }
    }

    /// Readable on `on`: live that day and within its validity.
    pub fn live_on(&self, on: Date) -> bool {
        self.valid_from <= on && self.status_on(on).0.is_live()
    }
}

impl Store {
    pub async fn system_lines(&self, application_id: i64) -> Result<Vec<SystemLineRow>> {
        let rows = sqlx::query(
            "SELECT line, name, purpose, certificate_serial, certificate_issuer, status, reason FROM system_lines \
             WHERE application_id = $1 ORDER BY line",
        )
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SystemLineRow {
                    line: r.try_get("line")?,
                    name: r.try_get("name")?,
                    purpose: r.try_get("purpose")?,
                    certificate_serial: r.try_get("certificate_serial")?,
                    certificate_issuer: r.try_get("certificate_issuer")?,
                    status: r.try_get("status")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    pub async fn system_grant(&self, id: i64) -> Result<Option<SystemGrantRow>> {
        Ok(self
            .system_grants_where(Some(("g.id", id)))
            .await?
            .into_iter()
            .next())
    }

    pub async fn system_grants_of_application(
        &self,
        application_id: i64,
    ) -> Result<Vec<SystemGrantRow>> {
        self.system_grants_where(Some(("g.application_id", application_id)))
            .await
    }

    /// Every information system's grant (the access registry).
    pub async fn all_system_grants(&self) -> Result<Vec<SystemGrantRow>> {
        self.system_grants_where(None).await
    }

    /// The systems' grants, all or those whose column (`g.id`, `g.application_id`) has the value.
    async fn system_grants_where(
        &self,
        filter: Option<(&'static str, i64)>,
    ) -> Result<Vec<SystemGrantRow>> {
        let sql = format!(
            "SELECT g.id, g.information_system_id, s.name, s.certificate_serial, g.application_id, g.line, g.organization_bin, \
             g.system, g.status, g.valid_from, g.valid_until, g.scope, g.ended_at, g.end_reason FROM system_grants g \
             JOIN information_systems s ON s.id = g.information_system_id {} ORDER BY g.id",
            filter.map_or_else(String::new, |(column, _)| format!("WHERE {column} = $1"))
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some((_, value)) = filter {
            q = q.bind(value);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(SystemGrantRow {
                    id: r.try_get("id")?,
                    information_system_id: r.try_get("information_system_id")?,
                    name: r.try_get("name")?,
                    certificate_serial: r.try_get("certificate_serial")?,
                    application_id: r.try_get("application_id")?,
                    line: r.try_get("line")?,
                    organization_bin: r.try_get("organization_bin")?,
                    system: crate::reads::typed(r, "system", crate::reads::from_str)?,
                    status: crate::reads::typed(
                        r,
                        "status",
                        qoljetim_domain::application::GrantStatus::parse,
                    )?,
                    valid_from: crate::reads::typed(r, "valid_from", crate::reads::from_str)?,
                    valid_until: crate::reads::typed(r, "valid_until", crate::reads::from_str)?,
                    scope: serde_json::from_str(&r.try_get::<String, _>("scope")?)
                        .map_err(crate::audit::corrupt)?,
                    ended_at: r.try_get("ended_at")?,
                    end_reason: r.try_get("end_reason")?,
                })
            })
            .collect()
    }
}

/// An information system's bearer token (issue 18), kept hashed.
#[derive(Debug, Clone)]
pub struct NewSystemToken {
    pub token_hash: String,
    pub information_system_id: i64,
    pub organization_bin: String,
    /// The organization's kind at sign-in (Cedar's principal).
    pub org_kind: String,
    /// The certificate it signed in with (upper-case hexadecimal) and its trust anchor: a
    /// revocation after sign-in ends the token at its next request.
    pub certificate_serial: String,
    pub trust_anchor: String,
    /// The system's grants live at sign-in: when one of them is no longer live, the token ends.
    pub grant_ids: Vec<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A system token as read back: exactly what was written.
pub type SystemTokenRow = NewSystemToken;

/// A registered information system (issue 18).
#[derive(Debug, Clone)]
pub struct InformationSystemRow {
    pub id: i64,
    pub organization_bin: String,
    pub name: String,
    pub certificate_serial: String,
    pub certificate_issuer: String,
}

/// The changes of an information system's own sign-in (issue 18).
#[derive(Debug, Clone)]
pub enum SystemsChange {
    /// Uses the challenge once and keeps the token.
    SignIn {
        challenge: String,
        challenge_expires_at: i64,
        now: i64,
        token: NewSystemToken,
    },
    /// Ends one token (its grant ended, its certificate was revoked).
    EndToken { token_hash: String },
}

pub(crate) async fn apply(conn: &mut AnyConnection, change: &SystemsChange) -> crate::tx::Applied {
    let mut out = ChangeOutcome::default();
    match change {
        SystemsChange::SignIn {
            challenge,
            challenge_expires_at,
            now,
            token: t,
        } => {
            crate::writer::use_challenges(conn, &[(challenge.as_str(), *challenge_expires_at)])
                .await?;
            // Tokens that have run out are dropped as new ones are made.
            sqlx::query("DELETE FROM system_tokens WHERE expires_at < $1")
                .bind(*now)
                .execute(&mut *conn)
                .await?;
            let grant_ids = serde_json::to_string(&t.grant_ids)
                .map_err(|e| Failure::Db(sqlx::Error::Encode(Box::new(e))))?;
            sqlx::query(
                "INSERT INTO system_tokens (token_hash, information_system_id, organization_bin, org_kind, certificate_serial, \
                 trust_anchor, grant_ids, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&t.token_hash)
            .bind(t.information_system_id)
            .bind(&t.organization_bin)
            .bind(&t.org_kind)
            .bind(&t.certificate_serial)
            .bind(&t.trust_anchor)
            .bind(grant_ids)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&mut *conn)
            .await?;
        }
        SystemsChange::EndToken { token_hash } => {
            let res = sqlx::query("DELETE FROM system_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *conn)
                .await?;
            out.counts.insert(
                "system_tokens",
                i64::try_from(res.rows_affected()).unwrap_or(0),
            );
        }
    }
    Ok(out)
}

impl Store {
    pub async fn system_token(&self, token_hash: &str) -> Result<Option<SystemTokenRow>> {
        let r = sqlx::query(
            "SELECT token_hash, information_system_id, organization_bin, org_kind, certificate_serial, trust_anchor, grant_ids, \
             created_at, expires_at FROM system_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some(SystemTokenRow {
            token_hash: r.try_get("token_hash")?,
            information_system_id: r.try_get("information_system_id")?,
            organization_bin: r.try_get("organization_bin")?,
            org_kind: r.try_get("org_kind")?,
            certificate_serial: r.try_get("certificate_serial")?,
            trust_anchor: r.try_get("trust_anchor")?,
            grant_ids: serde_json::from_str(&r.try_get::<String, _>("grant_ids")?)
                .map_err(crate::audit::corrupt)?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
        }))
    }

    /// The registered systems whose certificate has this serial (upper-case hexadecimal without
    /// leading zeros); the caller matches the issuer and the organization.
    pub async fn information_systems_with_serial(
        &self,
        serial: &str,
    ) -> Result<Vec<InformationSystemRow>> {
        let rows = sqlx::query(
            "SELECT id, organization_bin, name, certificate_serial, certificate_issuer FROM information_systems \
             WHERE certificate_serial = $1 ORDER BY id",
        )
        .bind(serial)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InformationSystemRow {
                    id: r.try_get("id")?,
                    organization_bin: r.try_get("organization_bin")?,
                    name: r.try_get("name")?,
                    certificate_serial: r.try_get("certificate_serial")?,
                    certificate_issuer: r.try_get("certificate_issuer")?,
                })
            })
            .collect()
    }

    /// One information system's grants, every status.
    pub async fn system_grants_of_system(
        &self,
        information_system_id: i64,
    ) -> Result<Vec<SystemGrantRow>> {
        self.system_grants_where(Some(("g.information_system_id", information_system_id)))
            .await
    }
}

//! Reads, each a plain query on the read pool.

use jiff::civil::Date;
use qoljetim_domain::application::{ApplicationStatus, GrantStatus, LineStatus};
use qoljetim_domain::org::{AdministratorCode, RegisteredKind};
use qoljetim_domain::{Bin, Iin, Kato, Role, Scope, System};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{AUDIT_COLUMNS, AuditRecord, corrupt, row_to_record};
use crate::{Result, Store};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrganizationRow {
    pub bin: Bin,
    pub name_kk: String,
    pub name_ru: String,
    /// A kind §2.6 excludes is kept as such: the organization is marked not eligible at start-up.
    pub kind: RegisteredKind,
    pub territory: Option<Kato>,
    pub administrators: Vec<AdministratorCode>,
    /// The clause under which the organization is not eligible (Order 270 §2.6); None = eligible.
    pub excluded: Option<String>,
    /// Deactivated by an operator (issue 17): when and why; its grants were blocked then.
    pub deactivated_at: Option<i64>,
    pub deactivated_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub token_hash: String,
    pub iin: Iin,
    pub bin: Bin,
    pub roles: Vec<Role>,
    pub person: serde_json::Value,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen: i64,
}

/// `Store::operational_counts`.
#[derive(Debug, Clone, Serialize)]
pub struct OperationalCounts {
    pub audit_records: i64,
    pub outbox: Vec<(String, i64)>,
    pub job_runs: i64,
    pub last_job_finished_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationRow {
    pub id: i64,
    pub applicant_bin: Bin,
    pub status: ApplicationStatus,
    pub form_date: Date,
    pub systems: Vec<System>,
    pub head: serde_json::Value,
    pub signer_iin: Iin,
    pub signer_name: String,
    pub claimed_signing_time: Option<i64>,
    pub trust_anchor: String,
    pub revocation: String,
    pub received_at: i64,
    pub review_due: Date,
    pub review_due_at: i64,
    pub review_due_provisional: bool,
    pub reviewed_at: Option<i64>,
    pub reviewed_by: Option<String>,
    pub grant_due: Option<Date>,
    pub grant_due_at: Option<i64>,
    pub grant_due_provisional: Option<bool>,
    pub granted_at: Option<i64>,
    pub granted_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineRow {
    pub application_id: i64,
    pub line: i64,
    pub iin: Iin,
    pub surname: String,
    pub name: String,
    pub patronymic: Option<String>,
    pub position: String,
    pub unit: String,
    pub phone: String,
    /// The form's e-mail contact (None on lines received before the form asked for it).
    pub email: Option<String>,
    pub purpose: String,
    /// None: the form gave no until-date (the full year).
    pub access_until_requested: Option<Date>,
    pub access_until_effective: Date,
    pub notice: Option<String>,
    pub eqyzmet_qr: String,
    pub status: LineStatus,
    pub reason: Option<String>,
    /// What the HR registry said (pending, confirmed, mismatch, unknown) and its details.
    pub hr_status: String,
    pub hr_detail: Option<serde_json::Value>,
    pub hr_checked_at: Option<i64>,
    pub hr_attempts: i64,
    pub hr_last_error: Option<String>,
    pub hr_event_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrantRow {
    pub id: i64,
    pub application_id: i64,
    pub line: i64,
    pub person_iin: Iin,
    pub organization_bin: Bin,
    pub system: System,
    pub status: GrantStatus,
    pub valid_from: Date,
    pub valid_until: Date,
    pub access_until_requested: Option<Date>,
    pub notice: Option<String>,
    pub scope: Scope,
    pub extra_years_reason: Option<String>,
    pub granted_by: String,
    pub granted_at: i64,
    pub ended_at: Option<i64>,
    /// validity_ended, dismissal, transfer.
    pub end_reason: Option<String>,
    pub hr_event_id: Option<i64>,
    /// Issue 17: an operator's reason for revoking this grant, and who did.
    pub revoke_reason: Option<String>,
    pub revoked_by: Option<String>,
    /// Order 270 §13: when and by what (lesson:<id>@<version>, session:<id>) its person was trained.
    pub trained_at: Option<i64>,
    pub training_source: Option<String>,
    /// Order 270 §15: grants made since issue 16 wait for their person's acceptance of the duties.
    pub duties_required: bool,
    pub duties_accepted_at: Option<i64>,
}

fn json_list(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(corrupt)
}

/// A text column read into its domain type: a stored value that does not parse is corruption, never
/// a default.
pub(crate) fn typed<T>(r: &AnyRow, col: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
    let text: String = r.try_get(col)?;
    parse(&text).ok_or_else(|| corrupt(format!("{col}: {text:?}")))
}

pub(crate) fn typed_opt<T>(
    r: &AnyRow,
    col: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>> {
    match r.try_get::<Option<String>, _>(col)? {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .ok_or_else(|| corrupt(format!("{col}: {text:?}"))),
    }
}

pub(crate) fn from_str<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

fn systems(s: &str) -> Result<Vec<System>> {
    json_list(s)?
        .iter()
        .map(|v| v.parse().map_err(|_| corrupt(format!("systems: {v:?}"))))
        .collect()
}

fn org(r: &AnyRow) -> Result<OrganizationRow> {
    Ok(OrganizationRow {
        bin: typed(r, "bin", from_str)?,
        name_kk: r.try_get("name_kk")?,
        name_ru: r.try_get("name_ru")?,
        kind: typed(r, "kind", RegisteredKind::parse)?,
        territory: typed_opt(r, "territory", from_str)?,
        administrators: serde_json::from_str(&r.try_get::<String, _>("administrators")?)
            .map_err(corrupt)?,
        excluded: r.try_get("excluded")?,
        deactivated_at: r.try_get("deactivated_at")?,
        deactivated_reason: r.try_get("deactivated_reason")?,
    })
}

const APP_COLUMNS: &str = "id, applicant_bin, status, form_date, systems, head, signer_iin, signer_name, claimed_signing_time, \
    trust_anchor, revocation, received_at, review_due, review_due_at, review_due_provisional, reviewed_at, reviewed_by, \
    grant_due, grant_due_at, grant_due_provisional, granted_at, granted_by";

fn app(r: &AnyRow) -> Result<ApplicationRow> {
    Ok(ApplicationRow {
        id: r.try_get("id")?,
        applicant_bin: typed(r, "applicant_bin", from_str)?,
        status: typed(r, "status", ApplicationStatus::parse)?,
        form_date: typed(r, "form_date", from_str)?,
        systems: systems(&r.try_get::<String, _>("systems")?)?,
        head: serde_json::from_str(&r.try_get::<String, _>("head")?).map_err(corrupt)?,
        signer_iin: typed(r, "signer_iin", from_str)?,
        signer_name: r.try_get("signer_name")?,
        claimed_signing_time: r.try_get("claimed_signing_time")?,
        trust_anchor: r.try_get("trust_anchor")?,
        revocation: r.try_get("revocation")?,
        received_at: r.try_get("received_at")?,
        review_due: typed(r, "review_due", from_str)?,
        review_due_at: r.try_get("review_due_at")?,
        review_due_provisional: r.try_get::<i64, _>("review_due_provisional")? != 0,
        reviewed_at: r.try_get("reviewed_at")?,
        reviewed_by: r.try_get("reviewed_by")?,
        grant_due: typed_opt(r, "grant_due", from_str)?,
        grant_due_at: r.try_get("grant_due_at")?,
        grant_due_provisional: r
            .try_get::<Option<i64>, _>("grant_due_provisional")?
            .map(|v| v != 0),
        granted_at: r.try_get("granted_at")?,
        granted_by: r.try_get("granted_by")?,
    })
}

const LINE_COLUMNS: &str = "application_id, line, iin, surname, name, patronymic, position, unit, phone, email, purpose, \
    access_until_requested, access_until_effective, notice, eqyzmet_qr, status, reason, hr_status, hr_detail, hr_checked_at, \
    hr_attempts, hr_last_error, hr_event_id";

/// The line columns of the table aliased `alias` (`l.application_id, l.line, …`), for a join.
fn line_columns_of(alias: &str) -> String {
    LINE_COLUMNS
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn line(r: &AnyRow) -> Result<LineRow> {
    Ok(LineRow {
        application_id: r.try_get("application_id")?,
        line: r.try_get("line")?,
        iin: typed(r, "iin", from_str)?,
        surname: r.try_get("surname")?,
        name: r.try_get("name")?,
        patronymic: r.try_get("patronymic")?,
        position: r.try_get("position")?,
        unit: r.try_get("unit")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        purpose: r.try_get("purpose")?,
        access_until_requested: typed_opt(r, "access_until_requested", from_str)?,
        access_until_effective: typed(r, "access_until_effective", from_str)?,
        notice: r.try_get("notice")?,
        eqyzmet_qr: r.try_get("eqyzmet_qr")?,
        status: typed(r, "status", LineStatus::parse)?,
        reason: r.try_get("reason")?,
        hr_status: r.try_get("hr_status")?,
        hr_detail: r
            .try_get::<Option<String>, _>("hr_detail")?
            .map(|t| serde_json::from_str(&t).map_err(corrupt))
            .transpose()?,
        hr_checked_at: r.try_get("hr_checked_at")?,
        hr_attempts: r.try_get("hr_attempts")?,
        hr_last_error: r.try_get("hr_last_error")?,
        hr_event_id: r.try_get("hr_event_id")?,
    })
}

const GRANT_COLUMNS: &str = "id, application_id, line, person_iin, organization_bin, system, status, valid_from, valid_until, \
    access_until_requested, notice, scope, extra_years_reason, granted_by, granted_at, ended_at, end_reason, hr_event_id, \
    trained_at, training_source, duties_required, duties_accepted_at, revoke_reason, revoked_by";

fn grant(r: &AnyRow) -> Result<GrantRow> {
    Ok(GrantRow {
        id: r.try_get("id")?,
        application_id: r.try_get("application_id")?,
        line: r.try_get("line")?,
        person_iin: typed(r, "person_iin", from_str)?,
        organization_bin: typed(r, "organization_bin", from_str)?,
        system: typed(r, "system", from_str)?,
        status: typed(r, "status", GrantStatus::parse)?,
        valid_from: typed(r, "valid_from", from_str)?,
        valid_until: typed(r, "valid_until", from_str)?,
        access_until_requested: typed_opt(r, "access_until_requested", from_str)?,
        notice: r.try_get("notice")?,
        scope: serde_json::from_str(&r.try_get::<String, _>("scope")?).map_err(corrupt)?,
        extra_years_reason: r.try_get("extra_years_reason")?,
        granted_by: r.try_get("granted_by")?,
        granted_at: r.try_get("granted_at")?,
        ended_at: r.try_get("ended_at")?,
        end_reason: r.try_get("end_reason")?,
        hr_event_id: r.try_get("hr_event_id")?,
        trained_at: r.try_get("trained_at")?,
        training_source: r.try_get("training_source")?,
        duties_required: r.try_get::<i64, _>("duties_required")? != 0,
        duties_accepted_at: r.try_get("duties_accepted_at")?,
        revoke_reason: r.try_get("revoke_reason")?,
        revoked_by: r.try_get("revoked_by")?,
    })
}

impl Store {
    /// A read through the SQLite read cache (`cache.rs`): the cached value, else the database's, kept
    /// for the next request unless a commit raced the read. Without a cache (PostgreSQL) the database's.
    async fn through_cache<T>(
        &self,
        session: Option<&str>,
        cached: impl FnOnce(&crate::cache::ReadCache) -> Option<T>,
        read: impl std::future::Future<Output = Result<T>>,
        keep: impl FnOnce(&crate::cache::ReadCache, crate::cache::Ticket, &T),
    ) -> Result<T> {
        let Some(cache) = &self.cache else {
            return read.await;
        };
        if self.marker.as_ref().is_some_and(|m| m.changed_elsewhere()) {
            cache.changed();
        }
        if let Some(v) = cached(cache) {
            return Ok(v);
        }
        let ticket = cache.ticket(session);
        let v = read.await?;
        keep(cache, ticket, &v);
        Ok(v)
    }

    pub async fn organization(&self, bin: &str) -> Result<Option<OrganizationRow>> {
        self.through_cache(
            None,
            |c| c.organization(bin).map(Some),
            self.organization_from_db(bin),
            |c, t, row| {
                if let Some(o) = row {
                    c.put_organization(t, o)
                }
            },
        )
        .await
    }

    async fn organization_from_db(&self, bin: &str) -> Result<Option<OrganizationRow>> {
        let r = sqlx::query("SELECT bin, name_kk, name_ru, kind, territory, administrators, excluded, deactivated_at, deactivated_reason FROM organizations WHERE bin = $1")
            .bind(bin)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(org).transpose()
    }

    pub async fn organizations(&self) -> Result<Vec<OrganizationRow>> {
        let rows = sqlx::query("SELECT bin, name_kk, name_ru, kind, territory, administrators, excluded, deactivated_at, deactivated_reason FROM organizations ORDER BY bin")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(org).collect()
    }

    pub async fn staff_roles(&self, iin: &str, bin: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT role FROM staff WHERE iin = $1 AND bin = $2 ORDER BY role")
            .bind(iin)
            .bind(bin)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("role").map_err(Into::into))
            .collect()
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        self.through_cache(
            Some(token_hash),
            |c| c.session(token_hash).map(Some),
            self.session_from_db(token_hash),
            |c, t, row| {
                if let Some(s) = row {
                    c.put_session(t, s)
                }
            },
        )
        .await
    }

    async fn session_from_db(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let r = sqlx::query("SELECT token_hash, iin, bin, roles, person, created_at, expires_at, last_seen FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some(SessionRow {
            token_hash: r.try_get("token_hash")?,
            iin: typed(&r, "iin", from_str)?,
            bin: typed(&r, "bin", from_str)?,
            roles: json_list(&r.try_get::<String, _>("roles")?)?
                .iter()
                .map(|v| Role::parse(v).ok_or_else(|| corrupt(format!("roles: {v:?}"))))
                .collect::<Result<_>>()?,
            person: serde_json::from_str(&r.try_get::<String, _>("person")?).map_err(corrupt)?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            last_seen: r.try_get("last_seen")?,
        }))
    }

    pub async fn application(&self, id: i64) -> Result<Option<ApplicationRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(app).transpose()
    }

    /// Applications, newest first. `applicant_bin` narrows the candidates; policy decides on each.
    /// Applications: `applicant_bin` narrows the candidates (policy decides on each); with a `status`,
    /// the queue order of DESIGN.md §3 (review or grant due time first), else newest first.
    pub async fn applications(
        &self,
        applicant_bin: Option<&str>,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ApplicationRow>> {
        self.applications_page(applicant_bin, status, limit, 0)
            .await
    }

    /// What an operator's monitoring reads (issue 15): the audit chain's length, the e-mail outbox by
    /// status, and the worker's runs with the end of the last one (µs; 0 before the first).
    pub async fn operational_counts(&self) -> Result<OperationalCounts> {
        let audit_records: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
            .fetch_one(&self.pool)
            .await?;
        let mut outbox = vec![];
        for row in
            sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status ORDER BY status")
                .fetch_all(&self.pool)
                .await?
        {
            outbox.push((
                row.try_get::<String, _>("status")?,
                row.try_get::<i64, _>("n")?,
            ));
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(MAX(finished_at), 0) AS last FROM job_runs",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OperationalCounts {
            audit_records,
            outbox,
            job_runs: row.try_get("n")?,
            last_job_finished_at: row.try_get("last")?,
        })
    }

    /// One page of `applications`: `limit` of them after skipping `offset`, in the same order.
    pub async fn applications_page(
        &self,
        applicant_bin: Option<&str>,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ApplicationRow>> {
        let order = match status {
            Some("submitted") => "review_due_at, id",
            Some("forwarded") => "grant_due_at, id",
            _ => "id DESC",
        };
        // Empty strings stand for "any": one statement serves every combination.
        let sql = format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE ($1 = '' OR applicant_bin = $1) AND ($2 = '' OR status = $2) \
             ORDER BY {order} LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(applicant_bin.unwrap_or(""))
            .bind(status.unwrap_or(""))
            .bind(limit)
            .bind(offset.max(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(app).collect()
    }

    /// Applications received between two instants (µs, inclusive), oldest first (deadline reports).
    pub async fn applications_received_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ApplicationRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE received_at >= $1 AND received_at <= $2 ORDER BY received_at, id"
        )))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(app).collect()
    }

    /// Applications whose review or grant clock has run out at `now` (µs) and is still open.
    pub async fn applications_overdue(&self, now: i64) -> Result<Vec<ApplicationRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE (status = 'submitted' AND review_due_at < $1) \
             OR (status = 'forwarded' AND grant_due_at < $1) ORDER BY id"
        )))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(app).collect()
    }

    pub async fn grant(&self, id: i64) -> Result<Option<GrantRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grant).transpose()
    }

    /// Grants matching a condition with one text parameter `$1` (fixed SQL from this crate only).
    pub(crate) async fn grants_after(&self, at: i64) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE granted_at >= $1 ORDER BY id"
        )))
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grant).collect()
    }

    pub(crate) async fn grants_where(&self, condition: &str, param: &str) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE {condition} ORDER BY id"
        )))
        .bind(param)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grant).collect()
    }

    pub async fn evidence(&self, id: i64) -> Result<Option<Vec<u8>>> {
        self.signed_bytes("applications", id).await
    }

    /// The signed bytes kept as evidence in `table` (a fixed table name from this crate).
    pub(crate) async fn signed_bytes(
        &self,
        table: &'static str,
        id: i64,
    ) -> Result<Option<Vec<u8>>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT evidence FROM {table} WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match r {
            Some(r) => Some(r.try_get("evidence")?),
            None => None,
        })
    }

    pub async fn lines(&self, application_id: i64) -> Result<Vec<LineRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LINE_COLUMNS} FROM application_lines WHERE application_id = $1 ORDER BY line"
        )))
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(line).collect()
    }

    /// The latest application line naming `iin` in an application of `bin` (the line a sign-in's
    /// certificate name is matched with).
    /// What a sign-in reads about `iin` in `bin`: the organization (None: not registered), the
    /// person's staff roles there and their latest application line. On PostgreSQL in one statement
    /// (issue 20: each round trip is the database's CPU, which sign-ins are bound by); on SQLite the
    /// three reads, the organization from the read cache.
    pub async fn sign_in_facts(
        &self,
        iin: &str,
        bin: &str,
    ) -> Result<Option<(OrganizationRow, Vec<String>, Option<LineRow>)>> {
        if self.backend() == crate::Backend::Sqlite {
            let (org, roles, line) = tokio::try_join!(
                self.organization(bin),
                self.staff_roles(iin, bin),
                self.latest_line_for(iin, bin),
            )?;
            return Ok(org.map(|o| (o, roles, line)));
        }
        let cols = line_columns_of("l");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT o.bin, o.name_kk, o.name_ru, o.kind, o.territory, o.administrators, o.excluded, \
                    o.deactivated_at, o.deactivated_reason, \
                    (SELECT string_agg(s.role, ',' ORDER BY s.role) FROM staff s \
                      WHERE s.iin = $1 AND s.bin = $2) AS staff_roles, ll.* \
             FROM organizations o LEFT JOIN LATERAL ( \
                SELECT {cols} FROM application_lines l JOIN applications a ON a.id = l.application_id \
                WHERE l.iin = $1 AND a.applicant_bin = $2 \
                ORDER BY l.application_id DESC, l.line DESC LIMIT 1) ll ON true \
             WHERE o.bin = $2"
        )))
        .bind(iin)
        .bind(bin)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let roles = r
            .try_get::<Option<String>, _>("staff_roles")?
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let line = match r.try_get::<Option<i64>, _>("application_id")? {
            Some(_) => Some(line(&r)?),
            None => None,
        };
        Ok(Some((org(&r)?, roles, line)))
    }

    pub async fn latest_line_for(&self, iin: &str, bin: &str) -> Result<Option<LineRow>> {
        let cols = line_columns_of("l");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {cols} FROM application_lines l JOIN applications a ON a.id = l.application_id \
             WHERE l.iin = $1 AND a.applicant_bin = $2 ORDER BY l.application_id DESC, l.line DESC LIMIT 1"
        )))
        .bind(iin)
        .bind(bin)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(line).transpose()
    }

    pub async fn grants_of_application(&self, application_id: i64) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE application_id = $1 ORDER BY id"
        )))
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grant).collect()
    }

    /// Every grant of one person in one organization, newest first: the person's own grants are read
    /// directly, never picked out of a window of the organization's newest grants.
    pub async fn grants_of_person(&self, iin: &str, bin: &str) -> Result<Vec<GrantRow>> {
        self.through_cache(
            None,
            |c| c.grants_of_person(iin, bin),
            self.grants_of_person_from_db(iin, bin),
            |c, t, rows| c.put_grants_of_person(t, iin, bin, rows),
        )
        .await
    }

    async fn grants_of_person_from_db(&self, iin: &str, bin: &str) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE person_iin = $1 AND organization_bin = $2 ORDER BY id DESC"
        )))
        .bind(iin)
        .bind(bin)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grant).collect()
    }

    /// The live (active) grants of one organization, oldest first.
    pub async fn active_grants_of(&self, organization_bin: &str) -> Result<Vec<GrantRow>> {
        self.grants_where(
            "organization_bin = $1 AND status IN ('active', 'pending_training')",
            organization_bin,
        )
        .await
    }

    /// Grants, newest first; `organization_bin` narrows the candidates, policy decides on each.
    pub async fn grants(
        &self,
        organization_bin: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<GrantRow>> {
        let rows = match organization_bin {
            Some(bin) => {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {GRANT_COLUMNS} FROM grants WHERE organization_bin = $1 ORDER BY id DESC LIMIT $2 OFFSET $3")))
                    .bind(bin)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {GRANT_COLUMNS} FROM grants ORDER BY id DESC LIMIT $1 OFFSET $2"))).bind(limit).bind(offset).fetch_all(&self.pool).await?,
        };
        rows.iter().map(grant).collect()
    }

    pub async fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_record).collect()
    }

    pub async fn audit_tail(&self, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_record).collect()
    }
}

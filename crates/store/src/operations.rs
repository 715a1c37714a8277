//! The operators' daily work (issue 17): a grant revoked with its reason, an organization edited or
//! deactivated, a staff role removed. Each change ends what it must in the same transaction.

use sqlx::{AnyConnection, Row};

use crate::Conflict;
use crate::tx::{Applied, ChangeOutcome, Failure};

#[derive(Debug, Clone)]
pub enum OperationsChange {
    /// One live grant ends now, with the operator's reason (status `revoked`).
    RevokeGrant {
        grant_id: i64,
        reason: String,
        by: String,
        at: i64,
    },
    /// Issue 18: one information system's live grant ends now, with the operator's reason.
    RevokeSystemGrant {
        id: i64,
        reason: String,
        by: String,
        at: i64,
    },
    /// Names and territory; the grants made before keep the scope fixed on them (Order 270 §6).
    EditOrganization {
        bin: String,
        name_kk: String,
        name_ru: String,
        territory: Option<String>,
        administrators: Vec<String>,
    },
    /// The organization's live grants are blocked and its sessions end; it applies no more.
    DeactivateOrganization {
        bin: String,
        reason: String,
        at: i64,
    },
    /// A staff role ends; the person's sessions in that organization end (roles are read at sign-in).
    RemoveStaff {
        iin: String,
        bin: String,
        role: String,
    },
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) async fn apply(conn: &mut AnyConnection, change: &OperationsChange) -> Applied {
    let mut out = ChangeOutcome::default();
    match change {
        OperationsChange::RevokeGrant {
            grant_id,
            reason,
            by,
            at,
        } => {
            let res = sqlx::query(
                "UPDATE grants SET status = 'revoked', ended_at = $1, end_reason = 'revoked', revoke_reason = $2, revoked_by = $3 \
                 WHERE id = $4 AND status IN ('active', 'pending_training')",
            )
            .bind(*at)
            .bind(reason)
            .bind(by)
            .bind(*grant_id)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                let r = sqlx::query("SELECT status FROM grants WHERE id = $1")
                    .bind(*grant_id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .ok_or(Failure::Conflict(Conflict::NotFound))?;
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: r.try_get("status")?,
                    expected: "active or pending_training",
                }));
            }
            out.id = Some(*grant_id);
        }
        OperationsChange::RevokeSystemGrant { id, reason, by, at } => {
            let res = sqlx::query(
                "UPDATE system_grants SET status = 'revoked', ended_at = $1, end_reason = 'revoked', revoke_reason = $2, \
                 revoked_by = $3 WHERE id = $4 AND status = 'active'",
            )
            .bind(*at)
            .bind(reason)
            .bind(by)
            .bind(*id)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                let r = sqlx::query("SELECT status FROM system_grants WHERE id = $1")
                    .bind(*id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .ok_or(Failure::Conflict(Conflict::NotFound))?;
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: r.try_get("status")?,
                    expected: "active",
                }));
            }
            out.id = Some(*id);
        }
        OperationsChange::EditOrganization {
            bin,
            name_kk,
            name_ru,
            territory,
            administrators,
        } => {
            let res = sqlx::query(
                "UPDATE organizations SET name_kk = $1, name_ru = $2, territory = $3, administrators = $4 WHERE bin = $5",
            )
            .bind(name_kk)
            .bind(name_ru)
            .bind(territory.clone())
            .bind(serde_json::to_string(administrators).unwrap_or_else(|_| "[]".into()))
            .bind(bin)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(Conflict::OrganizationUnknown {
                    bin: bin.clone(),
                }));
            }
        }
        OperationsChange::DeactivateOrganization { bin, reason, at } => {
            let res = sqlx::query(
                "UPDATE organizations SET deactivated_at = $1, deactivated_reason = $2 WHERE bin = $3 AND deactivated_at IS NULL",
            )
            .bind(*at)
            .bind(reason)
            .bind(bin)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                let known = sqlx::query("SELECT 1 AS x FROM organizations WHERE bin = $1")
                    .bind(bin)
                    .fetch_optional(&mut *conn)
                    .await?;
                return Err(Failure::Conflict(match known {
                    Some(_) => Conflict::WrongState {
                        current: "deactivated".into(),
                        expected: "active",
                    },
                    None => Conflict::OrganizationUnknown { bin: bin.clone() },
                }));
            }
            let live = sqlx::query(
                "SELECT id FROM grants WHERE organization_bin = $1 AND status IN ('active', 'pending_training') ORDER BY id",
            )
            .bind(bin)
            .fetch_all(&mut *conn)
            .await?;
            for r in &live {
                out.ids.push(r.try_get("id")?);
            }
            sqlx::query(
                "UPDATE grants SET status = 'blocked', ended_at = $1, end_reason = 'organization_deactivated' \
                 WHERE organization_bin = $2 AND status IN ('active', 'pending_training')",
            )
            .bind(*at)
            .bind(bin)
            .execute(&mut *conn)
            .await?;
            let sessions = sqlx::query("DELETE FROM sessions WHERE bin = $1")
                .bind(bin)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            // Issue 18: the organization's own information systems lose their access too.
            let systems = crate::systems::block_organization(conn, bin, *at).await?;
            out.counts.insert("system_grants_blocked", systems);
            out.counts.insert(
                "grants_blocked",
                count(u64::try_from(live.len()).unwrap_or(0)),
            );
            out.counts.insert("sessions_ended", count(sessions));
        }
        OperationsChange::RemoveStaff { iin, bin, role } => {
            let res = sqlx::query("DELETE FROM staff WHERE iin = $1 AND bin = $2 AND role = $3")
                .bind(iin)
                .bind(bin)
                .bind(role)
                .execute(&mut *conn)
                .await?;
            if res.rows_affected() != 1 {
                return Err(Failure::Conflict(Conflict::NotFound));
            }
            let sessions = sqlx::query("DELETE FROM sessions WHERE iin = $1 AND bin = $2")
                .bind(iin)
                .bind(bin)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            out.counts.insert("sessions_ended", count(sessions));
        }
    }
    Ok(out)
}

//! The audit chain (DESIGN.md §5): who, what, when, from which address, outcome, and the policies that
//! decided; each record holds the SHA-256 of the previous, so a changed or removed record breaks the chain.

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use crate::{Result, StoreError};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a request asks to be recorded.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditEntry {
    /// "IIN@BIN" of a signed-in person, the CLI user, or "anonymous".
    pub actor: String,
    pub actor_bin: Option<String>,
    pub action: String,
    pub resource: String,
    /// "allowed", "denied", "refused:<problem>", "conflict:<slug>", "ok".
    pub outcome: String,
    pub ip: String,
    pub policies: Vec<String>,
    pub details: Value,
    /// For a change that creates a record (an application, a block request): the kind of that record.
    /// The writer then names the resource `<kind>/<id>` from the change's outcome.
    #[serde(skip)]
    pub creates: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub actor_bin: Option<String>,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    pub ip: String,
    pub policies: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of a record: SHA-256 over a JSON array of its fields and the previous hash.
pub fn record_hash(r: &AuditRecord) -> String {
    let canonical = json!([
        r.seq,
        r.at,
        r.actor,
        r.actor_bin,
        r.action,
        r.resource,
        r.outcome,
        r.ip,
        r.policies,
        r.details,
        r.prev_hash
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

pub(crate) fn row_to_record(row: &sqlx::any::AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        actor_bin: row.try_get("actor_bin")?,
        action: row.try_get("action")?,
        resource: row.try_get("resource")?,
        outcome: row.try_get("outcome")?,
        ip: row.try_get("ip")?,
        policies: row.try_get("policies")?,
        details: row.try_get("details")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

pub(crate) const AUDIT_COLUMNS: &str =
    "seq, at, actor, actor_bin, action, resource, outcome, ip, policies, details, prev_hash, hash";

/// The chain head: last sequence number and hash.
/// On the pool (a report) or inside the writer's transaction, under its lock (the next record's link).
pub(crate) async fn load_head<'e, E>(db: E) -> std::result::Result<(i64, String), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(db)
        .await?;
    Ok(match row {
        Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
        None => (0, GENESIS_HASH.to_owned()),
    })
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChainReport {
    pub records: i64,
    pub head: String,
    /// The first record whose link is broken, and why.
    pub first_broken: Option<(i64, String)>,
}

pub(crate) async fn verify_chain(pool: &AnyPool) -> Result<ChainReport> {
    let mut prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1;
    let mut count = 0;
    let mut last_seq = 0;
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000"
        )))
        .bind(last_seq)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let r = row_to_record(row)?;
            last_seq = r.seq;
            count += 1;
            let broken = if r.seq != expected_seq {
                Some(format!(
                    "record {expected_seq} is missing (next is {})",
                    r.seq
                ))
            } else if r.prev_hash != prev {
                Some("prev_hash does not match the previous record's hash".to_owned())
            } else if record_hash(&r) != r.hash {
                Some("the record's content does not match its hash".to_owned())
            } else {
                None
            };
            if let Some(why) = broken {
                return Ok(ChainReport {
                    records: count,
                    head: prev,
                    first_broken: Some((expected_seq.min(r.seq), why)),
                });
            }
            prev = r.hash.clone();
            expected_seq += 1;
        }
    }
    Ok(ChainReport {
        records: count,
        head: prev,
        first_broken: None,
    })
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

//! The transaction types every change module shares: what a change did, and why it failed. The
//! writer and the change modules (workflow, lifecycle) import these; none imports another.

use serde::Serialize;

use crate::Conflict;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeOutcome {
    pub id: Option<i64>,
    pub ids: Vec<i64>,
    /// Named counts of what a change did (grants blocked, sessions ended, …).
    pub counts: std::collections::BTreeMap<&'static str, i64>,
    pub audit_seq: i64,
}

pub(crate) enum Failure {
    Conflict(Conflict),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Db(e)
    }
}

pub(crate) type Applied = std::result::Result<ChangeOutcome, Failure>;

pub(crate) fn b(v: bool) -> i64 {
    i64::from(v)
}

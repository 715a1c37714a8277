//! The audit record of a use case, written in one place from its result (DESIGN.md §5).
//!
//! A use case opens an `Attempt` and, once it knows who is asking for what (after authorization, or
//! after a signature identified the signer), `begin`s it with the entry that describes the call. An
//! allowed call commits its change together with that entry (`Service::commit`, `Service::record`);
//! any error after `begin` — a denial, a refused input — is recorded by `Service::settle` with its
//! problem; a conflict in the store (a used challenge, a decided line) is recorded by the store's
//! writer as `conflict:<problem>` in the transaction that refused the change. Errors before `begin` (an unknown id) and internal failures are
//! not refusals and leave no record.

use std::sync::Mutex;

use qoljetim_store::{AuditEntry, Change, ChangeOutcome, StoreError};
use serde_json::json;

use crate::error::{Problem, ServiceError, ServiceResult};
use crate::{Caller, Service};

struct Pending {
    entry: AuditEntry,
    touch: Option<(String, i64)>,
    done: bool,
}

/// One call's audit record, filled in as the call learns more.
#[derive(Default)]
pub(crate) struct Attempt(Mutex<Option<Pending>>);

impl Attempt {
    fn with<R>(&self, f: impl FnOnce(&mut Option<Pending>) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// From here on a refusal of the call is recorded with `entry`.
    pub(crate) fn begin(&self, entry: AuditEntry, touch: Option<(String, i64)>) {
        self.with(|p| {
            *p = Some(Pending {
                entry,
                touch,
                done: false,
            })
        });
    }

    /// Begins with an entry of a signed-in caller (the session's activity is touched).
    pub(crate) fn begin_for(&self, caller: &Caller, entry: AuditEntry) {
        self.begin(entry, caller.touch());
    }

    /// Changes the entry (details found on the way, the resource once it has a name).
    pub(crate) fn update(&self, f: impl FnOnce(&mut AuditEntry)) {
        self.with(|p| {
            if let Some(p) = p {
                f(&mut p.entry)
            }
        });
    }

    fn take_for_commit(&self) -> Option<(AuditEntry, Option<(String, i64)>)> {
        self.with(|p| p.as_ref().map(|p| (p.entry.clone(), p.touch.clone())))
    }

    fn mark_done(&self) {
        self.with(|p| {
            if let Some(p) = p {
                p.done = true
            }
        });
    }

    fn refusal(&self) -> Option<Pending> {
        self.with(|p| p.take().filter(|p| !p.done))
    }
}

impl Service {
    /// Commits `change` with the attempt's entry; the call is then done (nothing more to record).
    pub(crate) async fn commit(
        &self,
        attempt: &Attempt,
        change: Change,
    ) -> ServiceResult<ChangeOutcome> {
        self.commit_to_store(attempt, change)
            .await?
            .map_err(ServiceError::store)
    }

    /// `commit`, answering with the store's own error, for a use case that treats a conflict as an
    /// outcome (a repeated HR event). The outer error: no entry was begun.
    pub(crate) async fn commit_to_store(
        &self,
        attempt: &Attempt,
        change: Change,
    ) -> ServiceResult<Result<ChangeOutcome, StoreError>> {
        let (entry, touch) = attempt
            .take_for_commit()
            .ok_or_else(|| ServiceError::internal("commit before the audit entry was begun"))?;
        let result = self.store.commit_touching(change, entry, touch).await;
        // A conflict is recorded by the writer itself (`conflict:<slug>`, in the transaction that
        // refused it): nothing more to record.
        if matches!(result, Ok(_) | Err(StoreError::Conflict(_))) {
            attempt.mark_done();
        }
        Ok(result)
    }

    /// Records an allowed read (no change) with the attempt's entry; returns its sequence number.
    pub(crate) async fn record(&self, attempt: &Attempt) -> ServiceResult<i64> {
        self.commit(attempt, Change::None)
            .await
            .map(|o| o.audit_seq)
    }

    /// Ends a call: an error after `begin` is recorded as the call's refusal (`denied` when Cedar
    /// denied it, else `refused:<problem>` with the problem's arguments).
    pub(crate) async fn settle<T>(
        &self,
        attempt: Attempt,
        result: ServiceResult<T>,
    ) -> ServiceResult<T> {
        let Err(err) = result else { return result };
        if matches!(err.problem, Problem::Internal | Problem::AuditFailed) {
            return Err(err);
        }
        let Some(Pending {
            mut entry, touch, ..
        }) = attempt.refusal()
        else {
            return Err(err);
        };
        if entry.outcome != "denied" {
            entry.outcome = format!("refused:{}", err.slug());
        }
        entry.creates = None;
        if entry.details.is_null() {
            entry.details = json!({"args": err.problem.args().iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()});
        }
        // An anonymous refusal (a sign-in) repeated from one address within the window is counted,
        // not written one by one (issue 15): the log cannot be flooded.
        if touch.is_none() && entry.action == "login" && !self.refusal_to_record(&entry).await? {
            return Err(err);
        }
        match self.store.commit_touching(Change::None, entry, touch).await {
            Ok(_) => Err(err),
            Err(store_err) => Err(ServiceError::store(store_err)),
        }
    }
}

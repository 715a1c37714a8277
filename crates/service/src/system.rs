//! Calendar deadlines, the audit chain, health.

use jiff::civil::Date;
use qoljetim_domain::application::FieldError;
use qoljetim_policy::{Action, Resource};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::toolbox::*;
use crate::views::*;
use crate::{Caller, Service};

/// `from` and `working_days` as the caller wrote them (each is checked and named when wrong).
#[derive(Debug, Default, Deserialize)]
pub struct DeadlineQuery {
    pub from: Option<String>,
    pub working_days: Option<String>,
}

/// Where the audit chain is read from, and how many records.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

impl Service {
    /// The end of `working_days` working days after `from` (Almaty calendar, DESIGN.md §3).
    pub fn deadline(&self, q: DeadlineQuery) -> ServiceResult<DeadlineView> {
        let mut errors = vec![];
        let from = match q.from.as_deref().map(|f| (f, f.parse::<Date>())) {
            Some((f, Ok(d))) if f.len() == 10 => Some(d),
            Some(_) => {
                errors.push(FieldError::new("/from", "date_format", "a date YYYY-MM-DD"));
                None
            }
            None => {
                errors.push(FieldError::new("/from", "required", "required"));
                None
            }
        };
        let n = match q.working_days.as_deref().map(str::parse::<u32>) {
            Some(Ok(n)) if (1..=60).contains(&n) => Some(n),
            Some(_) => {
                errors.push(FieldError::new(
                    "/working_days",
                    "working_days_range",
                    "from 1 to 60",
                ));
                None
            }
            None => {
                errors.push(FieldError::new("/working_days", "required", "required"));
                None
            }
        };
        let (Some(from), Some(n)) = (from, n) else {
            return Err(ServiceError::validation(errors));
        };
        let d = self
            .calendar
            .deadline_from_date(from, n)
            .map_err(ServiceError::internal)?;
        Ok(DeadlineView {
            from: from.to_string(),
            working_days: n,
            due: d.due.to_string(),
            due_at: d.due_at.to_string(),
            provisional: d.provisional,
        })
    }

    /// The audit chain (operators), oldest first after `after`, or the newest `limit` records.
    pub async fn audit_records(
        &self,
        caller: &Caller,
        q: AuditQuery,
    ) -> ServiceResult<Vec<AuditView>> {
        let attempt = Attempt::default();
        let r = self.audit_records_in(&attempt, caller, q).await;
        self.settle(attempt, r).await
    }

    async fn audit_records_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        q: AuditQuery,
    ) -> ServiceResult<Vec<AuditView>> {
        self.authorize(
            attempt,
            caller,
            Action::ReadAudit,
            &Resource::AuditLog,
            "audit",
        )?;
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let mut records = match q.after {
            Some(after) => self.store.audit_records(after, limit).await,
            None => self.store.audit_tail(limit).await.map(|mut v| {
                v.reverse();
                v
            }),
        }
        .map_err(ServiceError::store)?;
        records.truncate(limit as usize);
        attempt.update(|e| e.details = json!({"after": q.after, "returned": records.len()}));
        self.record(attempt).await?;
        Ok(records
            .into_iter()
            .map(|r| AuditView {
                seq: r.seq,
                at: rfc3339_micros(r.at),
                actor: r.actor,
                actor_bin: r.actor_bin,
                action: r.action,
                resource: r.resource,
                outcome: r.outcome,
                ip: r.ip,
                policies: serde_json::from_str(&r.policies).unwrap_or_default(),
                details: serde_json::from_str(&r.details).unwrap_or(Value::Null),
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect())
    }

    /// The service is up and its database answers.
    pub async fn health(&self) -> ServiceResult<HealthView> {
        self.store
            .organizations()
            .await
            .map_err(ServiceError::store)?;
        Ok(HealthView {
            status: "ok".into(),
            backend: match self.store.backend() {
                qoljetim_store::Backend::Sqlite => "sqlite",
                qoljetim_store::Backend::Postgres => "postgres",
            }
            .to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }
}

impl Service {
    /// The figures an operator's monitoring scrapes (issue 15): read from the database, no caller
    /// (the endpoint that shows them is for the monitoring network; docs/deployment.md).
    pub async fn operational_counts(&self) -> ServiceResult<qoljetim_store::OperationalCounts> {
        self.store
            .operational_counts()
            .await
            .map_err(ServiceError::store)
    }

    /// Whether this instance should get traffic (issue 15): the database answers (its migrations ran
    /// before the server bound its port) and the budget data is loaded. A balancer sends nothing to
    /// an instance whose answer is not ready.
    pub async fn readiness(&self) -> ReadinessView {
        let database = match self.store.organizations().await {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("unavailable: {e}"),
        };
        let budget_data = match &self.budget {
            Some(_) => "loaded".to_owned(),
            None => "not loaded".to_owned(),
        };
        ReadinessView {
            ready: database == "ok" && self.budget.is_some(),
            database,
            budget_data,
        }
    }
}

/// `GET /readyz`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReadinessView {
    pub ready: bool,
    pub database: String,
    pub budget_data: String,
}

/// The audit chain checked from its first record (DESIGN.md §4): how many records, the head's hash,
/// and the first broken link if any.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ChainCheckView {
    pub records: i64,
    pub head: String,
    pub intact: bool,
    pub first_broken_seq: Option<i64>,
    pub first_broken_reason: Option<String>,
}

impl Service {
    /// Checks the whole audit chain, as `qoljetim audit verify` does (operators; the check is audited).
    pub async fn verify_audit(&self, caller: &Caller) -> ServiceResult<ChainCheckView> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadAudit,
                &Resource::AuditLog,
                "audit/chain",
            )?;
            attempt.update(|e| e.action = "verify_audit".into());
            let report = self
                .store
                .verify_audit_chain()
                .await
                .map_err(ServiceError::store)?;
            self.record(&attempt).await?;
            Ok(ChainCheckView {
                records: report.records,
                head: report.head,
                intact: report.first_broken.is_none(),
                first_broken_seq: report.first_broken.as_ref().map(|b| b.0),
                first_broken_reason: report.first_broken.map(|b| b.1),
            })
        }
        .await;
        self.settle(attempt, r).await
    }
}

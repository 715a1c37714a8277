//! The operators' reports (DESIGN.md §6): deadline compliance and the access registry, as JSON, CSV
//! or PDF.

use jiff::civil::Date;
use qoljetim_domain::application::FieldError;
use qoljetim_policy::{Action, Resource};
use qoljetim_reports::{AccessRegistry, DeadlineReport, Table};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::{Caller, Service};

/// How a report leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Csv,
    Pdf,
}

impl ReportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Csv => "csv",
            ReportFormat::Pdf => "pdf",
        }
    }
}

/// The query of a report as the caller wrote it: `format`, and `from`/`to` (deadlines) or `on`
/// (access registry), each a date YYYY-MM-DD.
#[derive(Debug, Default, Deserialize)]
pub struct ReportRequest {
    pub format: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub on: Option<String>,
}

/// One of the reports, typed.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ReportBody {
    Deadlines(DeadlineReport),
    AccessRegistry(AccessRegistry),
    /// Order 270 §13: the integrator's report on a held training session.
    Training(qoljetim_reports::TrainingReport),
    /// Issue 17: a recertification campaign's report.
    Recertification(qoljetim_reports::CampaignReport),
}

/// A report made for a caller: the body, the format asked for, and what a file of it is called.
pub struct Report {
    pub format: ReportFormat,
    /// The file name without extension (`deadlines-2026-11-01-2026-11-30`).
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    pub tables: Vec<Table>,
    pub body: ReportBody,
}

pub(crate) fn report_format(v: Option<&str>, errors: &mut Vec<FieldError>) -> ReportFormat {
    match v {
        None | Some("json") => ReportFormat::Json,
        Some("csv") => ReportFormat::Csv,
        Some("pdf") => ReportFormat::Pdf,
        Some(_) => {
            errors.push(FieldError::new(
                "/format",
                "report_format",
                "json, csv or pdf",
            ));
            ReportFormat::Json
        }
    }
}

fn date_param(v: Option<&str>, name: &str, default: Date, errors: &mut Vec<FieldError>) -> Date {
    match v {
        None => default,
        Some(s) => match s.parse::<Date>() {
            Ok(d) if s.len() == 10 => d,
            _ => {
                errors.push(FieldError::new(
                    format!("/{name}"),
                    "date_format",
                    "YYYY-MM-DD",
                ));
                default
            }
        },
    }
}

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// Deadline compliance: each clock, met vs missed, median and worst working days.
    Deadlines,
    /// Who has access to which system, scope and until when, and who lost it and why.
    AccessRegistry,
}

impl Service {
    /// A report for an operator (Cedar: `read_reports`), as JSON, CSV or PDF.
    pub async fn report(
        &self,
        caller: &Caller,
        kind: ReportKind,
        q: ReportRequest,
    ) -> ServiceResult<Report> {
        let attempt = Attempt::default();
        let r = self.report_in(&attempt, caller, kind, q).await;
        self.settle(attempt, r).await
    }

    async fn report_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        kind: ReportKind,
        q: ReportRequest,
    ) -> ServiceResult<Report> {
        let name = match kind {
            ReportKind::Deadlines => "reports:deadlines",
            ReportKind::AccessRegistry => "reports:access-registry",
        };
        self.authorize(
            attempt,
            caller,
            Action::ReadReports,
            &Resource::Reports,
            name,
        )?;
        let now = self.clock.now();
        let today = self.calendar.almaty_date(now);
        let mut errors = vec![];
        let format = report_format(q.format.as_deref(), &mut errors);
        let report = match kind {
            ReportKind::Deadlines => {
                let from = date_param(
                    q.from.as_deref(),
                    "from",
                    today.first_of_month(),
                    &mut errors,
                );
                let to = date_param(q.to.as_deref(), "to", today, &mut errors);
                if to < from || from.until(to).map(|s| s.get_days() > 1100).unwrap_or(true) {
                    errors.push(FieldError::new(
                        "/to",
                        "period",
                        "from must not be after to, at most 3 years",
                    ));
                }
                if !errors.is_empty() {
                    return Err(ServiceError::validation(errors));
                }
                let r = qoljetim_reports::deadline_report(
                    &self.store,
                    &self.calendar,
                    from,
                    to,
                    now,
                    self.config.support_first_answer_working_days,
                    (
                        self.config.change_rules.agreement_working_days,
                        self.config.change_rules.approval_working_days,
                    ),
                )
                .await
                .map_err(ServiceError::internal)?;
                let details = json!({"from": r.from, "to": r.to, "format": format.as_str(),
                    "items": r.items.len()});
                (
                    format!("deadlines-{from}-{to}"),
                    details,
                    ReportBody::Deadlines(r),
                )
            }
            ReportKind::AccessRegistry => {
                let on = date_param(q.on.as_deref(), "on", today, &mut errors);
                if !errors.is_empty() {
                    return Err(ServiceError::validation(errors));
                }
                let r = qoljetim_reports::access_registry(&self.store, on, now)
                    .await
                    .map_err(ServiceError::internal)?;
                let details = json!({"on": r.on, "format": format.as_str(),
                    "active": r.active.len(), "ended": r.ended.len()});
                (
                    format!("access-registry-{on}"),
                    details,
                    ReportBody::AccessRegistry(r),
                )
            }
        };
        let (stem, details, body) = report;
        attempt.update(|e| e.details = details);
        self.record(attempt).await?;
        let (title, subtitle, tables) = match &body {
            ReportBody::Deadlines(r) => (r.title(), r.subtitle(), r.tables()),
            ReportBody::AccessRegistry(r) => (r.title(), r.subtitle(), r.tables()),
            ReportBody::Training(r) => (r.title(), r.subtitle(), r.tables()),
            ReportBody::Recertification(r) => (r.title(), r.subtitle(), r.tables()),
        };
        Ok(Report {
            format,
            stem,
            title,
            subtitle,
            tables,
            body,
        })
    }
}

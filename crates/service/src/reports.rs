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

fn report_format(v: Option<&str>, errors: &mut Vec<FieldError>) -> ReportFormat {
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

impl Service {
    /// `GET /reports/deadlines`: each clock, met vs missed, median and worst working days.
    pub async fn deadlines_report(
        &self,
        caller: &Caller,
        q: ReportRequest,
    ) -> ServiceResult<Report> {
        let attempt = Attempt::default();
        let r = self.deadlines_report_in(&attempt, caller, q).await;
        self.settle(attempt, r).await
    }

    async fn deadlines_report_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        q: ReportRequest,
    ) -> ServiceResult<Report> {
        self.authorize(
            attempt,
            caller,
            Action::ReadReports,
            &Resource::Reports,
            "reports:deadlines",
        )?;
        let now = self.clock.now();
        let today = self.calendar.almaty_date(now);
        let mut errors = vec![];
        let format = report_format(q.format.as_deref(), &mut errors);
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
        let report = qoljetim_reports::deadline_report(&self.store, &self.calendar, from, to, now)
            .await
            .map_err(ServiceError::internal)?;
        attempt.update(|e| {
            e.details = json!({"from": report.from, "to": report.to, "format": format.as_str(),
                "items": report.items.len()})
        });
        self.record(attempt).await?;
        Ok(Report {
            format,
            stem: format!("deadlines-{from}-{to}"),
            title: report.title(),
            subtitle: report.subtitle(),
            tables: report.tables(),
            body: ReportBody::Deadlines(report),
        })
    }

    /// `GET /reports/access-registry`: who has access to which system, scope and until when, and who
    /// lost it and why.
    pub async fn registry_report(
        &self,
        caller: &Caller,
        q: ReportRequest,
    ) -> ServiceResult<Report> {
        let attempt = Attempt::default();
        let r = self.registry_report_in(&attempt, caller, q).await;
        self.settle(attempt, r).await
    }

    async fn registry_report_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        q: ReportRequest,
    ) -> ServiceResult<Report> {
        self.authorize(
            attempt,
            caller,
            Action::ReadReports,
            &Resource::Reports,
            "reports:access-registry",
        )?;
        let now = self.clock.now();
        let today = self.calendar.almaty_date(now);
        let mut errors = vec![];
        let format = report_format(q.format.as_deref(), &mut errors);
        let on = date_param(q.on.as_deref(), "on", today, &mut errors);
        if !errors.is_empty() {
            return Err(ServiceError::validation(errors));
        }
        let report = qoljetim_reports::access_registry(&self.store, on, now)
            .await
            .map_err(ServiceError::internal)?;
        attempt.update(|e| {
            e.details = json!({"on": report.on, "format": format.as_str(),
                "active": report.active.len(), "ended": report.ended.len()})
        });
        self.record(attempt).await?;
        Ok(Report {
            format,
            stem: format!("access-registry-{on}"),
            title: report.title(),
            subtitle: report.subtitle(),
            tables: report.tables(),
            body: ReportBody::AccessRegistry(report),
        })
    }
}

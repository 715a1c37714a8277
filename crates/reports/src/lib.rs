//! Reports of Order 270's clocks and of who has access (DESIGN.md §3): deadline compliance for a
//! period and the access registry, each as JSON (the typed structs), CSV (UTF-8 with a BOM, so that
//! Excel shows Cyrillic) and PDF (DejaVu Sans embedded and subset, so Kazakh letters ӘҒҚҢӨҰҮҺІ render
//! in any reader). Headings are bilingual, Kazakh first.

pub mod deadlines;
pub mod recertification;
pub mod registry;
pub mod render;
pub mod training;

pub use deadlines::{ClockItem, ClockSummary, DeadlineReport, deadline_report};
pub use recertification::{CampaignReport, CampaignReportLine, campaign_report};
pub use registry::{AccessRegistry, RegistryEntry, access_registry};
pub use render::{Table, encode, to_csv, to_pdf};
pub use training::{TrainingReport, training_report};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("store: {0}")]
    Store(#[from] qoljetim_store::StoreError),
    #[error("period: {0}")]
    Period(String),
    #[error("csv: {0}")]
    Csv(String),
    #[error("pdf: {0}")]
    Pdf(String),
}

/// A bilingual label: Kazakh first, then Russian.
pub(crate) fn kk_ru(kk: &str, ru: &str) -> String {
    format!("{kk} / {ru}")
}

pub(crate) fn instant(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// An RFC 3339 instant as Almaty local time to the minute, for tables ("2026-03-25 11:00").
pub(crate) fn local_minute(rfc3339: &str) -> String {
    let Ok(t) = rfc3339.parse::<jiff::Timestamp>() else {
        return rfc3339.to_owned();
    };
    match jiff::tz::TimeZone::get("Asia/Almaty") {
        Ok(tz) => t.to_zoned(tz).strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

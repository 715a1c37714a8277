//! Access living and dying with the post (Order 270 §8–§9, DESIGN.md §3–§4): what the HR registry
//! (E-Qyzmet) says about an application line, the dismissal and transfer events that end powers, the
//! block clock, and the expiry reminders.

use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::application::{FieldError, date, serde_field_error, text};
use crate::calendar::{CalendarError, Deadline, WorkingDayCalendar};
use crate::ids::{Bin, Iin};

/// Working days between the end of powers and the block (Order 270 §9).
pub const BLOCK_WORKING_DAYS: u32 = 3;

/// Days before the end of validity on which reminders go out.
pub const REMINDER_DAYS: [u32; 3] = [30, 7, 1];

/// One field in which the registry differs from the application line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HrDifference {
    /// `organization`, `position` or `unit`.
    pub field: String,
    pub form: String,
    pub registry: String,
}

/// What the HR registry said about a line. Stored on the line and shown to the reviewer, who decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HrCheck {
    /// Not asked yet, or the registry could not be reached (the worker retries).
    Pending,
    /// The person holds this post in this organization now.
    Confirmed,
    /// The registry knows the person, but not in this post here.
    Mismatch { differs: Vec<HrDifference> },
    /// The registry does not know the person (elected deputies are not civil servants).
    Unknown,
}

impl HrCheck {
    pub fn as_str(&self) -> &'static str {
        match self {
            HrCheck::Pending => "pending",
            HrCheck::Confirmed => "confirmed",
            HrCheck::Mismatch { .. } => "mismatch",
            HrCheck::Unknown => "unknown",
        }
    }
}

/// A post the registry says a person holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HrPost {
    pub bin: String,
    pub position: String,
    #[serde(default)]
    pub unit: Option<String>,
}

/// The question the worker asks the registry for one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HrQuery {
    pub iin: String,
    pub bin: String,
    pub position: String,
    pub unit: String,
    /// The text of the line's E-Qyzmet QR code, passed on as the registry's own reference.
    pub qr: String,
}

/// Titles are compared without case, quotes, punctuation and repeated spaces: «Бас маман» and
/// "бас  маман." are the same post.
pub fn normalize_title(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Compares a line with the person's current posts. `None`: the registry does not know the person.
pub fn compare_with_registry(q: &HrQuery, posts: Option<&[HrPost]>) -> HrCheck {
    let Some(posts) = posts else {
        return HrCheck::Unknown;
    };
    let here: Vec<&HrPost> = posts.iter().filter(|p| p.bin == q.bin).collect();
    if here.is_empty() {
        let elsewhere = posts
            .iter()
            .map(|p| p.bin.clone())
            .collect::<Vec<_>>()
            .join(", ");
        return HrCheck::Mismatch {
            differs: vec![HrDifference {
                field: "organization".into(),
                form: q.bin.clone(),
                registry: elsewhere,
            }],
        };
    }
    let want = normalize_title(&q.position);
    if let Some(p) = here.iter().find(|p| normalize_title(&p.position) == want) {
        // The unit is compared only when the registry gives one.
        return match &p.unit {
            Some(u) if normalize_title(u) != normalize_title(&q.unit) => HrCheck::Mismatch {
                differs: vec![HrDifference {
                    field: "unit".into(),
                    form: q.unit.clone(),
                    registry: u.clone(),
                }],
            },
            _ => HrCheck::Confirmed,
        };
    }
    HrCheck::Mismatch {
        differs: vec![HrDifference {
            field: "position".into(),
            form: q.position.clone(),
            registry: here
                .iter()
                .map(|p| p.position.clone())
                .collect::<Vec<_>>()
                .join("; "),
        }],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HrEventKind {
    Dismissal,
    Transfer,
}

impl HrEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HrEventKind::Dismissal => "dismissal",
            HrEventKind::Transfer => "transfer",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "dismissal" => Some(HrEventKind::Dismissal),
            "transfer" => Some(HrEventKind::Transfer),
            _ => None,
        }
    }
}

/// A personnel order that ends a person's powers in an organization: a dismissal, or a transfer to
/// another post (in the same organization too: the old grant ends, the new post needs a new application).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HrEvent {
    /// The HR system's own id of the event; the same id twice has one effect.
    pub event_id: String,
    pub kind: HrEventKind,
    pub iin: Iin,
    pub bin: Bin,
    /// The last day of the powers, an Almaty date. The block clock starts here.
    pub effective_date: Date,
    pub order_number: String,
    pub order_date: Option<Date>,
    pub new_position: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    event_id: String,
    kind: String,
    iin: String,
    bin: String,
    effective_date: String,
    order_number: String,
    #[serde(default)]
    order_date: Option<String>,
    #[serde(default)]
    new_position: Option<String>,
}

impl HrEvent {
    /// Parses the JSON of a webhook event; every broken rule is reported with its JSON Pointer.
    pub fn parse_json(bytes: &[u8]) -> Result<HrEvent, Vec<FieldError>> {
        let raw: RawEvent = serde_json::from_slice(bytes).map_err(|e| {
            vec![FieldError::new(
                "",
                "json",
                format!("not an HR event document: {e}"),
            )]
        })?;
        HrEvent::from_fields(
            "",
            &raw.event_id,
            &raw.kind,
            &raw.iin,
            &raw.bin,
            &raw.effective_date,
            &raw.order_number,
            raw.order_date.as_deref(),
            raw.new_position.as_deref(),
        )
    }

    /// Builds an event from text fields (webhook JSON or a CSV row); `base` prefixes the field names.
    #[allow(clippy::too_many_arguments)]
    pub fn from_fields(
        base: &str,
        event_id: &str,
        kind: &str,
        iin: &str,
        bin: &str,
        effective_date: &str,
        order_number: &str,
        order_date: Option<&str>,
        new_position: Option<&str>,
    ) -> Result<HrEvent, Vec<FieldError>> {
        let mut errors = vec![];
        let event_id = text(&mut errors, format!("{base}/event_id"), event_id, 200);
        let kind = match HrEventKind::parse(kind) {
            Some(k) => Some(k),
            None => {
                errors.push(FieldError::new(
                    format!("{base}/kind"),
                    "hr_event_kind",
                    "must be dismissal or transfer",
                ));
                None
            }
        };
        let iin = match Iin::parse(iin.trim()) {
            Ok(i) => Some(i),
            Err(e) => {
                errors.push(FieldError::new(
                    format!("{base}/iin"),
                    e.rule(),
                    e.to_string(),
                ));
                None
            }
        };
        let bin = match Bin::parse(bin.trim()) {
            Ok(b) => Some(b),
            Err(e) => {
                errors.push(FieldError::new(
                    format!("{base}/bin"),
                    e.rule(),
                    e.to_string(),
                ));
                None
            }
        };
        let effective = date(
            &mut errors,
            format!("{base}/effective_date"),
            effective_date.trim(),
        );
        let order_number = text(
            &mut errors,
            format!("{base}/order_number"),
            order_number,
            200,
        );
        let order_date = match order_date.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => date(&mut errors, format!("{base}/order_date"), s),
            None => None,
        };
        let new_position = new_position
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        match (kind, iin, bin, effective) {
            (Some(kind), Some(iin), Some(bin), Some(effective_date)) if errors.is_empty() => {
                Ok(HrEvent {
                    event_id,
                    kind,
                    iin,
                    bin,
                    effective_date,
                    order_number,
                    order_date,
                    new_position,
                })
            }
            _ => Err(errors),
        }
    }

    /// The block clock: the end of the 3rd working day after the last day of the powers.
    pub fn block_deadline(&self, cal: &WorkingDayCalendar) -> Result<Deadline, CalendarError> {
        cal.deadline_from_date(self.effective_date, BLOCK_WORKING_DAYS)
    }
}

/// The reminder (30, 7 or 1 days before) due on `today` for access valid through `valid_until`, if any.
/// Each threshold owns a window (30: 8–30 days left, 7: 2–7, 1: the last day before and the last day
/// itself), so a worker that was down catches up with the one reminder that still makes sense.
pub fn reminder_due(valid_until: Date, today: Date) -> Option<u32> {
    let left = today.until(valid_until).ok()?.get_days();
    let left = i64::from(left);
    match left {
        l if l < 0 => None,
        0..=1 => Some(1),
        2..=7 => Some(7),
        8..=30 => Some(30),
        _ => None,
    }
}

/// Days from `today` to the last day of validity (0 on the last day).
pub fn days_left(valid_until: Date, today: Date) -> i64 {
    today
        .until(valid_until)
        .map(|s| i64::from(s.get_days()))
        .unwrap_or(0)
}

/// The first day on which access valid through `valid_until` is expired.
pub fn expired_from(valid_until: Date) -> Date {
    valid_until.checked_add(1.day()).unwrap_or(valid_until)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap_or_else(|_| std::process::abort())
    }

    fn q(position: &str) -> HrQuery {
        HrQuery {
            iin: "871008401427".into(),
            bin: "940140000385".into(),
            position: position.into(),
            unit: "Бюджет бөлімі".into(),
            qr: "EQ-1".into(),
        }
    }

    // Order 270 §8: the post is verified against E-Qyzmet.
    #[test]
    fn registry_answers_map_to_line_checks() {
        let post = |bin: &str, p: &str| HrPost {
            bin: bin.into(),
            position: p.into(),
            unit: None,
        };
        assert_eq!(
            compare_with_registry(
                &q("Бас маман"),
                Some(&[post("940140000385", "«бас  маман».")])
            ),
            HrCheck::Confirmed
        );
        match compare_with_registry(&q("Бас маман"), Some(&[post("940140000385", "Басшы")]))
        {
            HrCheck::Mismatch { differs } => {
                assert_eq!(differs[0].field, "position");
                assert_eq!(differs[0].registry, "Басшы");
            }
            other => panic!("{other:?}"),
        }
        match compare_with_registry(&q("Бас маман"), Some(&[post("000740000728", "Бас маман")]))
        {
            HrCheck::Mismatch { differs } => assert_eq!(differs[0].field, "organization"),
            other => panic!("{other:?}"),
        }
        assert_eq!(compare_with_registry(&q("Депутат"), None), HrCheck::Unknown);
        let with_unit = HrPost {
            unit: Some("Қазынашылық".into()),
            ..post("940140000385", "Бас маман")
        };
        assert!(matches!(
            compare_with_registry(&q("Бас маман"), Some(&[with_unit])),
            HrCheck::Mismatch { .. }
        ));
    }

    // Order 270 §9: reminders 30, 7 and 1 days before the end of validity.
    #[test]
    fn reminder_windows() {
        let until = d("2027-03-15");
        assert_eq!(reminder_due(until, d("2027-02-12")), None);
        assert_eq!(reminder_due(until, d("2027-02-13")), Some(30));
        assert_eq!(reminder_due(until, d("2027-03-07")), Some(30));
        assert_eq!(reminder_due(until, d("2027-03-08")), Some(7));
        assert_eq!(reminder_due(until, d("2027-03-14")), Some(1));
        assert_eq!(reminder_due(until, d("2027-03-15")), Some(1));
        assert_eq!(reminder_due(until, d("2027-03-16")), None);
        assert_eq!(expired_from(until), d("2027-03-16"));
        assert_eq!(days_left(until, d("2027-03-14")), 1);
    }

    #[test]
    fn an_event_names_every_broken_field() {
        let e = HrEvent::from_fields(
            "",
            "",
            "fired",
            "123",
            "940140000385",
            "2026-3-20",
            "",
            None,
            None,
        )
        .err()
        .unwrap_or_default();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "/event_id",
                "/kind",
                "/iin",
                "/effective_date",
                "/order_number"
            ]
        );
        let ok = HrEvent::parse_json(
            r#"{"event_id":"E1","kind":"dismissal","iin":"871008401427","bin":"940140000385","effective_date":"2026-03-20","order_number":"12-к"}"#.as_bytes(),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }
}

/// Why the employing body asks for the block (Order 270 §9: the powers ended by dismissal, transfer
/// to another post, or otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    Dismissed,
    Transferred,
    Other,
}

impl BlockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::Dismissed => "dismissed",
            BlockReason::Transferred => "transferred",
            BlockReason::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Dismissed, Self::Transferred, Self::Other]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// One person of a block request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockRequestLine {
    pub iin: Iin,
    pub reason: BlockReason,
    /// The day the employee's powers end, an Almaty date: the 3-working-day clock starts here.
    pub effective_date: Date,
    pub order_number: Option<String>,
}

impl BlockRequestLine {
    /// The request's clock: the end of the 3rd working day after the day the powers end (§9).
    pub fn block_deadline(&self, cal: &WorkingDayCalendar) -> Result<Deadline, CalendarError> {
        cal.deadline_from_date(self.effective_date, BLOCK_WORKING_DAYS)
    }
}

/// The employing body's request to block its employees' accounts (Order 270 §9): the content of a
/// CMS signed by its first head or a person with signing right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockRequest {
    pub applicant_bin: Bin,
    pub date: Date,
    pub lines: Vec<BlockRequestLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlockRequest {
    applicant_bin: String,
    date: String,
    lines: Vec<RawBlockLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlockLine {
    iin: String,
    reason: String,
    effective_date: String,
    #[serde(default)]
    order_number: Option<String>,
}

impl BlockRequest {
    /// Parses and validates the signed JSON as received on `today` (Almaty); every broken rule is
    /// reported with its JSON Pointer.
    pub fn parse_json(bytes: &[u8], today: Date) -> Result<BlockRequest, Vec<FieldError>> {
        Self::parse_received(
            bytes,
            crate::application::Receipt::new(today, crate::application::DEFAULT_DATE_DAYS_BACK),
        )
    }

    /// The same, with the receipt's own date window.
    pub fn parse_received(
        bytes: &[u8],
        receipt: crate::application::Receipt,
    ) -> Result<BlockRequest, Vec<FieldError>> {
        let raw: RawBlockRequest = serde_json::from_slice(bytes)
            .map_err(|e| vec![serde_field_error(&e, "not a block request: ")])?;
        let mut errors = vec![];
        let applicant_bin = match Bin::parse(raw.applicant_bin.trim()) {
            Ok(b) => Some(b),
            Err(e) => {
                errors.push(FieldError::new("/applicant_bin", e.rule(), e.to_string()));
                None
            }
        };
        let form_date = date(&mut errors, "/date".into(), raw.date.trim());
        if let Some(d) = form_date {
            receipt.check_date(&mut errors, d, "request");
        }
        if raw.lines.is_empty() || raw.lines.len() > crate::application::MAX_LINES {
            errors.push(FieldError::new(
                "/lines",
                "lines_count",
                format!("1 to {} lines", crate::application::MAX_LINES),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut lines = vec![];
        for (i, l) in raw.lines.iter().enumerate() {
            let base = format!("/lines/{i}");
            let iin =
                crate::application::iin_once(&mut errors, format!("{base}/iin"), &l.iin, &mut seen);
            let reason = BlockReason::parse(l.reason.trim());
            if reason.is_none() {
                errors.push(FieldError::new(
                    format!("{base}/reason"),
                    "block_reason",
                    "dismissed, transferred or other",
                ));
            }
            let effective = date(
                &mut errors,
                format!("{base}/effective_date"),
                l.effective_date.trim(),
            );
            let order_number = match l.order_number.as_deref().map(str::trim) {
                Some("") | None => None,
                Some(o) => Some(text(&mut errors, format!("{base}/order_number"), o, 200)),
            };
            if let (Some(iin), Some(reason), Some(effective_date)) = (iin, reason, effective) {
                lines.push(BlockRequestLine {
                    iin,
                    reason,
                    effective_date,
                    order_number,
                });
            }
        }
        match (applicant_bin, form_date) {
            (Some(applicant_bin), Some(date)) if errors.is_empty() => Ok(BlockRequest {
                applicant_bin,
                date,
                lines,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod block_request_tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap_or_else(|_| std::process::abort())
    }

    // Order 270 §9: the employing body's request names each person, the reason and the day powers end.
    #[test]
    fn a_block_request_parses_and_names_bad_fields() {
        let good = r#"{"applicant_bin":"940140000385","date":"2026-12-01","lines":[
            {"iin":"871008401427","reason":"dismissed","effective_date":"2026-11-30","order_number":"12-к"},
            {"iin":"850712300801","reason":"transferred","effective_date":"2026-12-10"}]}"#;
        let r = BlockRequest::parse_json(good.as_bytes(), d("2026-12-03"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.lines.len(), 2);
        assert_eq!(r.lines[0].reason, BlockReason::Dismissed);
        assert_eq!(r.lines[0].order_number.as_deref(), Some("12-к"));
        assert_eq!(r.lines[1].order_number, None);
        let bad = br#"{"applicant_bin":"940140000385","date":"2026-12-09","lines":[
            {"iin":"871008401427","reason":"fired","effective_date":"30.11.2026"},
            {"iin":"871008401427","reason":"other","effective_date":"2026-11-30"}]}"#;
        let errs = BlockRequest::parse_json(bad, d("2026-12-03"))
            .err()
            .unwrap_or_default();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(
            got,
            vec![
                ("/date", "date_in_future"),
                ("/lines/0/reason", "block_reason"),
                ("/lines/0/effective_date", "date_format"),
                ("/lines/1/iin", "duplicate_iin"),
            ]
        );
        let unknown = br#"{"applicant_bin":"940140000385","date":"2026-12-01","lines":[],"x":1}"#;
        let errs = BlockRequest::parse_json(unknown, d("2026-12-03"))
            .err()
            .unwrap_or_default();
        assert_eq!(
            errs.first().map(|e| (e.field.as_str(), e.rule)),
            Some(("/x", "unknown_field"))
        );
    }
}

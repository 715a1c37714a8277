//! The application of Order 270 §8 (appendix form) and its review/grant state machine (§9).

use std::collections::{BTreeSet, HashSet};

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::calendar::one_year_after;
use crate::ids::{Bin, Iin};
use crate::org::System;

pub const MAX_LINES: usize = 1000;

/// One broken rule of an input, addressed by a JSON Pointer into the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub rule: &'static str,
    /// English detail; the web layer localizes by `rule`.
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: &'static str, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            rule,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForm {
    applicant_bin: String,
    date: String,
    head: RawName,
    systems: Vec<String>,
    /// A person's line, or an information system's (`"kind": "information_system"`, issue 18).
    lines: Vec<serde_json::Value>,
}

/// Issue 18 (Order 270 §3): a line asking access for the organization's own information system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystemLine {
    #[allow(dead_code)]
    kind: String,
    name: String,
    purpose: String,
    #[serde(default)]
    certificate: Option<RawCertificateRef>,
    #[serde(default)]
    certificate_pem: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCertificateRef {
    serial: String,
    issuer: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawName {
    surname: String,
    name: String,
    #[serde(default)]
    patronymic: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    /// Absent or `person`.
    #[serde(default)]
    kind: Option<String>,
    surname: String,
    name: String,
    #[serde(default)]
    patronymic: Option<String>,
    iin: String,
    position: String,
    unit: String,
    phone: String,
    email: String,
    purpose: String,
    /// The appendix form has no until-date column (DESIGN.md §3): absent = one full calendar year.
    #[serde(default)]
    access_until: Option<String>,
    eqyzmet_qr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    pub surname: String,
    pub name: String,
    pub patronymic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationLine {
    /// Numbered from 1 as in the form.
    pub line: u32,
    pub person: PersonName,
    pub iin: Iin,
    pub position: String,
    pub unit: String,
    pub phone: String,
    /// The form's e-mail contact; the address for notices until the person's profile sets one.
    pub email: String,
    pub purpose: String,
    /// None when the form gave no until-date (the full year applies).
    pub access_until_requested: Option<Date>,
    /// The until-date access would get if granted on the day of receipt (capped at one year).
    pub access_until_effective: Date,
    pub notice: Option<String>,
    pub eqyzmet_qr: String,
}

/// Issue 18 (Order 270 §3): an application line for the organization's own information system. The
/// appendix form lists people only; this line is our design (docs/decisions.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemLine {
    /// Numbered from 1 as in the form, among the person lines.
    pub line: u32,
    pub name: String,
    pub purpose: String,
    pub certificate: SystemCertificate,
}

/// The certificate an information system will sign in with: named by its serial and issuer, or given
/// whole (PEM; the service reads its serial and issuer and checks its profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemCertificate {
    Named {
        /// Upper-case hexadecimal, without leading zeros.
        serial_hex: String,
        issuer: String,
    },
    Pem(String),
}

/// A certificate serial as hexadecimal digits (spaces and colons allowed between them), upper-case,
/// without leading zeros; None when it is not one.
pub fn certificate_serial(raw: &str) -> Option<String> {
    let hex: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | ':'))
        .collect::<String>()
        .to_ascii_uppercase();
    if hex.is_empty() || hex.len() > 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let trimmed = hex.trim_start_matches('0');
    Some(if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    })
}

/// Whether two issuer names (RFC 4514 strings) name the same issuer, as an application writes it and
/// as the certificate holds it: attribute types without regard to case, values without regard to case
/// or runs of spaces, the RDNs in either order (tools print a name forwards or backwards).
pub fn same_issuer(a: &str, b: &str) -> bool {
    fn rdns(name: &str) -> Vec<(String, String)> {
        let mut out = vec![];
        let mut current = String::new();
        let mut escaped = false;
        for c in name.chars().chain(std::iter::once(',')) {
            match c {
                _ if escaped => {
                    current.push(c);
                    escaped = false;
                }
                '\\' => {
                    current.push(c);
                    escaped = true;
                }
                ',' | ';' => {
                    if let Some((t, v)) = current.split_once('=') {
                        let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
                        out.push((t.trim().to_uppercase(), v.to_lowercase()));
                    } else if !current.trim().is_empty() {
                        out.push((current.trim().to_uppercase(), String::new()));
                    }
                    current.clear();
                }
                _ => current.push(c),
            }
        }
        out.sort();
        out
    }
    let (a, b) = (rdns(a), rdns(b));
    !a.is_empty() && a == b
}

/// How old a signed document's `date` may be when it is received, in calendar days, unless
/// configured (`[intake] date_days_back`): a signed document is a one-time act, not a token to be
/// posted again months later (issue 15; Order 270 sets no such window — docs/decisions.md).
pub const DEFAULT_DATE_DAYS_BACK: i64 = 7;

/// When a signed document is received: the Almaty day, and how many calendar days before it the
/// document's `date` may lie (none after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub today: Date,
    pub days_back: i64,
}

impl Receipt {
    pub fn new(today: Date, days_back: i64) -> Self {
        Receipt {
            today,
            days_back: days_back.max(0),
        }
    }

    /// The rules a document's date keeps: not after the day of receipt, not older than the window.
    pub(crate) fn check_date(&self, errors: &mut Vec<FieldError>, date: Date, what: &str) {
        if date > self.today {
            errors.push(FieldError::new(
                "/date",
                "date_in_future",
                format!("the {what} is dated after the day of receipt"),
            ));
        } else if self
            .today
            .since(date)
            .ok()
            .is_some_and(|span| i64::from(span.get_days()) > self.days_back)
        {
            errors.push(FieldError::new(
                "/date",
                "date_too_old",
                format!(
                    "the {what} is dated more than {} days before the day of receipt; sign a new one dated today",
                    self.days_back
                ),
            ));
        }
    }
}

/// A validated application form: the content of the signed CMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationForm {
    pub applicant_bin: Bin,
    pub date: Date,
    pub head: PersonName,
    pub systems: Vec<System>,
    pub lines: Vec<ApplicationLine>,
    /// Issue 18: lines for the organization's own information systems.
    #[serde(default)]
    pub information_systems: Vec<SystemLine>,
}

pub const NOTICE_CAPPED: &str = "access_until_capped_to_one_year";

pub(crate) fn text(errors: &mut Vec<FieldError>, field: String, value: &str, max: usize) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(field, "required", "must not be empty"));
    } else if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("at most {max} characters"),
        ));
    }
    v.to_owned()
}

pub(crate) fn date(errors: &mut Vec<FieldError>, field: String, value: &str) -> Option<Date> {
    let ok = value.len() == 10 && value.as_bytes().get(4) == Some(&b'-');
    match value.parse::<Date>() {
        Ok(d) if ok => Some(d),
        _ => {
            errors.push(FieldError::new(
                field,
                "date_format",
                "must be a date YYYY-MM-DD",
            ));
            None
        }
    }
}

/// An e-mail address as a person types it on a form: one `@`, a local part, a domain with a dot, no
/// spaces or control characters, at most 254 characters (RFC 5321's path limit).
pub fn email_ok(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
}

/// An IIN of a list where each person appears once: a bad or repeated one is named by `field`.
pub(crate) fn iin_once(
    errors: &mut Vec<FieldError>,
    field: String,
    raw: &str,
    seen: &mut HashSet<Iin>,
) -> Option<Iin> {
    match Iin::parse(raw.trim()) {
        Ok(v) => {
            if !seen.insert(v.clone()) {
                errors.push(FieldError::new(
                    field,
                    "duplicate_iin",
                    "the same person is listed twice",
                ));
            }
            Some(v)
        }
        Err(e) => {
            errors.push(FieldError::new(field, e.rule(), e.to_string()));
            None
        }
    }
}

fn phone_ok(p: &str) -> bool {
    let digits: String = p.chars().filter(|c| c.is_ascii_digit()).collect();
    let allowed = p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    allowed && p.trim_start().starts_with("+7") && digits.len() == 11
}

fn name(errors: &mut Vec<FieldError>, base: &str, raw: RawName) -> PersonName {
    PersonName {
        surname: text(errors, format!("{base}/surname"), &raw.surname, 200),
        name: text(errors, format!("{base}/name"), &raw.name, 200),
        patronymic: raw
            .patronymic
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .map(|p| {
                if p.chars().count() > 200 {
                    p.chars().take(200).collect()
                } else {
                    p
                }
            }),
    }
}

/// The JSON Pointer and rule of a serde error: serde names the field between backticks
/// (`unknown field \`x\``, `missing field \`y\``); other errors name no field.
pub fn serde_field_error(e: &serde_json::Error, context: &str) -> FieldError {
    let msg = e.to_string();
    let field = msg
        .split('`')
        .nth(1)
        .map(|f| format!("/{f}"))
        .unwrap_or_default();
    let rule = if msg.starts_with("unknown field") {
        "unknown_field"
    } else if msg.starts_with("missing field") {
        "required"
    } else {
        "json"
    };
    FieldError::new(field, rule, format!("{context}{msg}"))
}

/// The fields of one object of the form: (name, required, kind).
type Shape = &'static [(&'static str, bool, FieldKind)];

#[derive(Clone, Copy)]
enum FieldKind {
    Text,
    Head,
    Systems,
    Lines,
    Certificate,
}

const FORM_SHAPE: Shape = &[
    ("applicant_bin", true, FieldKind::Text),
    ("date", true, FieldKind::Text),
    ("head", true, FieldKind::Head),
    ("systems", true, FieldKind::Systems),
    ("lines", true, FieldKind::Lines),
];
const HEAD_SHAPE: Shape = &[
    ("surname", true, FieldKind::Text),
    ("name", true, FieldKind::Text),
    ("patronymic", false, FieldKind::Text),
];
const SYSTEM_LINE_SHAPE: Shape = &[
    ("kind", true, FieldKind::Text),
    ("name", true, FieldKind::Text),
    ("purpose", true, FieldKind::Text),
    ("certificate", false, FieldKind::Certificate),
    ("certificate_pem", false, FieldKind::Text),
];
const CERTIFICATE_SHAPE: Shape = &[
    ("serial", true, FieldKind::Text),
    ("issuer", true, FieldKind::Text),
];
const LINE_SHAPE: Shape = &[
    ("kind", false, FieldKind::Text),
    ("surname", true, FieldKind::Text),
    ("name", true, FieldKind::Text),
    ("patronymic", false, FieldKind::Text),
    ("iin", true, FieldKind::Text),
    ("position", true, FieldKind::Text),
    ("unit", true, FieldKind::Text),
    ("phone", true, FieldKind::Text),
    ("email", true, FieldKind::Text),
    ("purpose", true, FieldKind::Text),
    ("access_until", false, FieldKind::Text),
    ("eqyzmet_qr", true, FieldKind::Text),
];

/// Unknown, missing and mistyped fields of the signed form, each named by its JSON Pointer
/// (`/lines/0/extra`, `/lines/0/purpose`), before any value is read.
fn form_shape_errors(v: &serde_json::Value) -> Vec<FieldError> {
    let mut errors = vec![];
    object_shape(&mut errors, "", v, FORM_SHAPE);
    errors
}

fn object_shape(errors: &mut Vec<FieldError>, base: &str, v: &serde_json::Value, shape: Shape) {
    use serde_json::Value as V;
    let Some(map) = v.as_object() else {
        errors.push(FieldError::new(base, "type", "must be a JSON object"));
        return;
    };
    for key in map.keys() {
        if !shape.iter().any(|(name, _, _)| name == key) {
            let known: Vec<&str> = shape.iter().map(|(n, _, _)| *n).collect();
            errors.push(FieldError::new(
                format!("{base}/{}", key.replace('~', "~0").replace('/', "~1")),
                "unknown_field",
                format!("the form has no such field; it has {}", known.join(", ")),
            ));
        }
    }
    for (name, required, kind) in shape {
        let field = format!("{base}/{name}");
        match (map.get(*name), kind) {
            (None, _) | (Some(V::Null), _) if *required => {
                errors.push(FieldError::new(field, "required", "this field is required"));
            }
            (None | Some(V::Null), _) => {}
            (Some(V::String(_)), FieldKind::Text) => {}
            (Some(_), FieldKind::Text) => {
                errors.push(FieldError::new(field, "type", "must be a string"));
            }
            (Some(h), FieldKind::Head) => object_shape(errors, &field, h, HEAD_SHAPE),
            (Some(V::Array(items)), FieldKind::Systems) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        errors.push(FieldError::new(
                            format!("{field}/{i}"),
                            "type",
                            "must be a string",
                        ));
                    }
                }
            }
            (Some(V::Array(items)), FieldKind::Lines) => {
                for (i, item) in items.iter().enumerate() {
                    let line_shape = if is_system_line(item) {
                        SYSTEM_LINE_SHAPE
                    } else {
                        LINE_SHAPE
                    };
                    object_shape(errors, &format!("{field}/{i}"), item, line_shape);
                }
            }
            (Some(c), FieldKind::Certificate) => object_shape(errors, &field, c, CERTIFICATE_SHAPE),
            (Some(_), _) => errors.push(FieldError::new(field, "type", "must be a JSON array")),
        }
    }
}

/// Issue 18: a line of kind `information_system`.
fn is_system_line(v: &serde_json::Value) -> bool {
    v.get("kind").and_then(|k| k.as_str()) == Some("information_system")
}

/// An information system's line, its rules named by their JSON Pointers.
fn system_line(
    errors: &mut Vec<FieldError>,
    base: &str,
    line: u32,
    raw: RawSystemLine,
) -> Option<SystemLine> {
    let name = text(errors, format!("{base}/name"), &raw.name, 200);
    let purpose = text(errors, format!("{base}/purpose"), &raw.purpose, 2000);
    let certificate = match (raw.certificate, raw.certificate_pem) {
        (Some(c), None) => {
            let issuer = text(
                errors,
                format!("{base}/certificate/issuer"),
                &c.issuer,
                1000,
            );
            match certificate_serial(&c.serial) {
                Some(serial_hex) => Some(SystemCertificate::Named { serial_hex, issuer }),
                None => {
                    errors.push(FieldError::new(
                        format!("{base}/certificate/serial"),
                        "certificate_serial",
                        "the certificate's serial number in hexadecimal",
                    ));
                    None
                }
            }
        }
        (None, Some(pem)) if pem.contains("-----BEGIN CERTIFICATE-----") && pem.len() <= 16_384 => {
            Some(SystemCertificate::Pem(pem))
        }
        (None, Some(_)) => {
            errors.push(FieldError::new(
                format!("{base}/certificate_pem"),
                "certificate_pem",
                "one PEM certificate (-----BEGIN CERTIFICATE-----), at most 16 KiB",
            ));
            None
        }
        _ => {
            errors.push(FieldError::new(
                base.to_owned(),
                "system_certificate",
                "name the certificate the system signs in with: certificate {serial, issuer} or certificate_pem, one of them",
            ));
            None
        }
    };
    certificate.map(|certificate| SystemLine {
        line,
        name,
        purpose,
        certificate,
    })
}

impl ApplicationForm {
    /// Parses and validates the signed JSON, as received on `today` (an Almaty date).
    /// Every broken rule is reported, each with its JSON Pointer.
    pub fn parse(bytes: &[u8], today: Date) -> Result<Self, Vec<FieldError>> {
        Self::parse_received(bytes, Receipt::new(today, DEFAULT_DATE_DAYS_BACK))
    }

    /// The same, with the receipt's own date window.
    pub fn parse_received(bytes: &[u8], receipt: Receipt) -> Result<Self, Vec<FieldError>> {
        let today = receipt.today;
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            vec![FieldError::new(
                "",
                "application_json",
                format!("the signed content is not JSON: {e}"),
            )]
        })?;
        let shape = form_shape_errors(&value);
        if !shape.is_empty() {
            return Err(shape);
        }
        let raw: RawForm = serde_json::from_value(value).map_err(|e| {
            vec![FieldError::new(
                "",
                "application_json",
                format!("the signed content is not the application form: {e}"),
            )]
        })?;
        let mut errors = vec![];
        let applicant_bin = match Bin::parse(&raw.applicant_bin) {
            Ok(b) => Some(b),
            Err(e) => {
                errors.push(FieldError::new("/applicant_bin", e.rule(), e.to_string()));
                None
            }
        };
        let form_date = date(&mut errors, "/date".into(), &raw.date);
        if let Some(fd) = form_date {
            receipt.check_date(&mut errors, fd, "form");
        }
        let head = name(&mut errors, "/head", raw.head);
        let mut systems = BTreeSet::new();
        if raw.systems.is_empty() {
            errors.push(FieldError::new(
                "/systems",
                "required",
                "name at least one system",
            ));
        }
        for (i, s) in raw.systems.iter().enumerate() {
            match s.parse::<System>() {
                Ok(sys) => {
                    if !systems.insert(sys) {
                        errors.push(FieldError::new(
                            format!("/systems/{i}"),
                            "duplicate",
                            "system named twice",
                        ));
                    }
                }
                Err(()) => errors.push(FieldError::new(
                    format!("/systems/{i}"),
                    "unknown_system",
                    "must be analytical_central or state_planning",
                )),
            }
        }
        if raw.lines.is_empty() || raw.lines.len() > MAX_LINES {
            errors.push(FieldError::new(
                "/lines",
                "lines_count",
                format!("1 to {MAX_LINES} lines"),
            ));
        }
        let cap = one_year_after(today);
        let mut seen = HashSet::new();
        let mut lines = Vec::with_capacity(raw.lines.len());
        let mut information_systems = vec![];
        for (i, item) in raw.lines.into_iter().enumerate() {
            let base = format!("/lines/{i}");
            if is_system_line(&item) {
                match serde_json::from_value::<RawSystemLine>(item) {
                    Ok(s) => {
                        if let Some(s) = system_line(&mut errors, &base, i as u32 + 1, s) {
                            information_systems.push(s);
                        }
                    }
                    Err(e) => errors.push(serde_field_error(&e, "")),
                }
                continue;
            }
            let l: RawLine = match serde_json::from_value(item) {
                Ok(l) => l,
                Err(e) => {
                    errors.push(serde_field_error(&e, ""));
                    continue;
                }
            };
            if l.kind.as_deref().is_some_and(|k| k != "person") {
                errors.push(FieldError::new(
                    format!("{base}/kind"),
                    "line_kind",
                    "person (the default) or information_system",
                ));
            }
            let person = name(
                &mut errors,
                &base,
                RawName {
                    surname: l.surname,
                    name: l.name,
                    patronymic: l.patronymic,
                },
            );
            let iin = iin_once(&mut errors, format!("{base}/iin"), &l.iin, &mut seen);
            let position = text(&mut errors, format!("{base}/position"), &l.position, 500);
            let unit = text(&mut errors, format!("{base}/unit"), &l.unit, 500);
            if !phone_ok(&l.phone) {
                errors.push(FieldError::new(
                    format!("{base}/phone"),
                    "phone_format",
                    "a Kazakh number +7 and 10 digits",
                ));
            }
            let email = l.email.trim().to_owned();
            if email.is_empty() {
                errors.push(FieldError::new(
                    format!("{base}/email"),
                    "required",
                    "the form's contact details are a work phone and an e-mail address",
                ));
            } else if !email_ok(&email) {
                errors.push(FieldError::new(
                    format!("{base}/email"),
                    "email_format",
                    "an e-mail address such as name@organization.kz",
                ));
            }
            let purpose = text(&mut errors, format!("{base}/purpose"), &l.purpose, 2000);
            let mut until_ok = true;
            let until = match l.access_until.as_deref() {
                None => None,
                Some(v) => {
                    let d = date(&mut errors, format!("{base}/access_until"), v);
                    until_ok = d.is_some();
                    d
                }
            };
            if let Some(u) = until
                && u < today
            {
                errors.push(FieldError::new(
                    format!("{base}/access_until"),
                    "access_until_past",
                    "the until-date has already passed",
                ));
            }
            let qr = text(
                &mut errors,
                format!("{base}/eqyzmet_qr"),
                &l.eqyzmet_qr,
                8192,
            );
            if let (Some(iin), true) = (iin, until_ok) {
                let (effective, notice) = match until {
                    Some(u) if u > cap => (cap, Some(NOTICE_CAPPED.to_owned())),
                    Some(u) => (u, None),
                    None => (cap, None),
                };
                lines.push(ApplicationLine {
                    line: i as u32 + 1,
                    person,
                    iin,
                    position,
                    unit,
                    phone: l.phone.trim().to_owned(),
                    email,
                    purpose,
                    access_until_requested: until,
                    access_until_effective: effective,
                    notice,
                    eqyzmet_qr: qr,
                });
            }
        }
        match (applicant_bin, form_date, errors.is_empty()) {
            (Some(applicant_bin), Some(date), true) => Ok(ApplicationForm {
                applicant_bin,
                date,
                head,
                systems: systems.into_iter().collect(),
                lines,
                information_systems,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Submitted,
    Forwarded,
    Rejected,
    Granted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Submitted,
    Approved,
    Rejected,
    Granted,
    NotGranted,
}

/// A grant's state: live, blocked (an HR event, an exclusion, a block request) or expired (§9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Order 270 §13: granted, and waiting for its person's training before the first data read.
    PendingTraining,
    Active,
    Blocked,
    Expired,
    /// Issue 17: ended by an operator, one grant, with a reason.
    Revoked,
}

impl GrantStatus {
    /// A grant that still counts: active, or waiting for training (both end by expiry or block).
    pub fn is_live(self) -> bool {
        matches!(self, GrantStatus::PendingTraining | GrantStatus::Active)
    }

    /// Order 270 §9: the status on `on` of a grant valid through `valid_until` — a live grant past its
    /// last day is expired, even before the worker has marked it (a person's or a system's).
    pub fn on(self, valid_until: jiff::civil::Date, on: jiff::civil::Date) -> GrantStatus {
        if self.is_live() && valid_until < on {
            GrantStatus::Expired
        } else {
            self
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::PendingTraining => "pending_training",
            GrantStatus::Active => "active",
            GrantStatus::Blocked => "blocked",
            GrantStatus::Expired => "expired",
            GrantStatus::Revoked => "revoked",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::PendingTraining,
            Self::Active,
            Self::Blocked,
            Self::Expired,
            Self::Revoked,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

impl ApplicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::Forwarded => "forwarded",
            ApplicationStatus::Rejected => "rejected",
            ApplicationStatus::Granted => "granted",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Submitted,
            Self::Forwarded,
            Self::Rejected,
            Self::Granted,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

impl LineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LineStatus::Submitted => "submitted",
            LineStatus::Approved => "approved",
            LineStatus::Rejected => "rejected",
            LineStatus::Granted => "granted",
            LineStatus::NotGranted => "not_granted",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Submitted,
            Self::Approved,
            Self::Rejected,
            Self::Granted,
            Self::NotGranted,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LineDecision {
    pub line: u32,
    pub decision: Decision,
    pub reason: Option<String>,
}

/// A complete review: a decision for every line, a reason for each rejection (Order 270 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDecision {
    pub lines: Vec<(u32, LineStatus, Option<String>)>,
    pub outcome: ApplicationStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("the application is {0}, not {1}")]
    WrongState(&'static str, &'static str),
}

impl ApplicationStatus {
    /// Review: `submitted` → `forwarded`, or `rejected` when every line is rejected.
    pub fn review(
        self,
        line_count: u32,
        decisions: &[LineDecision],
    ) -> Result<Result<ReviewDecision, Vec<FieldError>>, WorkflowError> {
        if self != ApplicationStatus::Submitted {
            return Err(WorkflowError::WrongState(self.as_str(), "submitted"));
        }
        let mut errors = vec![];
        let mut seen = BTreeSet::new();
        let mut out = vec![];
        for (i, d) in decisions.iter().enumerate() {
            if d.line == 0 || d.line > line_count {
                errors.push(FieldError::new(
                    format!("/lines/{i}/line"),
                    "unknown_line",
                    format!("lines are numbered 1 to {line_count}"),
                ));
                continue;
            }
            if !seen.insert(d.line) {
                errors.push(FieldError::new(
                    format!("/lines/{i}/line"),
                    "duplicate",
                    "line decided twice",
                ));
                continue;
            }
            let reason = d
                .reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned);
            match d.decision {
                Decision::Approve => out.push((d.line, LineStatus::Approved, reason)),
                Decision::Reject => {
                    if reason.is_none() {
                        errors.push(FieldError::new(
                            format!("/lines/{i}/reason"),
                            "reason_required",
                            "a rejection needs a reason",
                        ));
                    }
                    out.push((d.line, LineStatus::Rejected, reason));
                }
            }
        }
        for n in 1..=line_count {
            if !seen.contains(&n) {
                errors.push(FieldError::new(
                    "/lines",
                    "line_missing",
                    format!("line {n} has no decision"),
                ));
            }
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        out.sort_by_key(|l| l.0);
        let outcome = if out.iter().all(|l| l.1 == LineStatus::Rejected) {
            ApplicationStatus::Rejected
        } else {
            ApplicationStatus::Forwarded
        };
        Ok(Ok(ReviewDecision {
            lines: out,
            outcome,
        }))
    }

    /// Grant: `forwarded` → `granted`.
    pub fn grant(self) -> Result<ApplicationStatus, WorkflowError> {
        if self != ApplicationStatus::Forwarded {
            return Err(WorkflowError::WrongState(self.as_str(), "forwarded"));
        }
        Ok(ApplicationStatus::Granted)
    }
}

/// Validity of one grant (DESIGN.md §3): from the grant date through one calendar year, or the requested
/// until-date if earlier; a line whose until-date has passed by the grant date is not granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub valid_from: Date,
    pub valid_until: Date,
    pub capped: bool,
}

pub fn grant_validity(granted_on: Date, requested_until: Option<Date>) -> Option<Validity> {
    let cap = one_year_after(granted_on);
    let Some(requested_until) = requested_until else {
        // No until-date on the form: one full calendar year from the grant (Order 270 §9).
        return Some(Validity {
            valid_from: granted_on,
            valid_until: cap,
            capped: false,
        });
    };
    if requested_until < granted_on {
        return None;
    }
    Some(if requested_until > cap {
        Validity {
            valid_from: granted_on,
            valid_until: cap,
            capped: true,
        }
    } else {
        Validity {
            valid_from: granted_on,
            valid_until: requested_until,
            capped: false,
        }
    })
}

#[cfg(test)]
mod tests {
    // Order 270 §9: access is for a period — a live grant (a person's or a system's) is expired the day
    // after its last day, even before the worker marks it; an ended one keeps its status.
    #[test]
    fn a_live_grant_past_its_last_day_is_expired() {
        use super::GrantStatus as G;
        let last: jiff::civil::Date = "2027-12-06".parse().unwrap_or_default();
        let next = last.tomorrow().unwrap_or(last);
        assert_eq!(G::Active.on(last, last), G::Active);
        assert_eq!(G::Active.on(last, next), G::Expired);
        assert_eq!(G::PendingTraining.on(last, next), G::Expired);
        assert_eq!(G::Revoked.on(last, next), G::Revoked);
        assert_eq!(G::Blocked.on(last, last), G::Blocked);
    }

    // Issue 18: an issuer written by hand matches the certificate's in another order, case or spacing,
    // and not another issuer.
    #[test]
    fn issuers_match_as_names() {
        let cert = "CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022,C=KZ";
        assert!(super::same_issuer(cert, cert));
        assert!(super::same_issuer(
            cert,
            "c=kz, cn=ұлттық куәландырушы  орталық (gost) test 2022"
        ));
        assert!(!super::same_issuer(
            cert,
            "CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) TEST 2022,C=KZ"
        ));
        assert!(!super::same_issuer(cert, "C=KZ"));
        assert!(!super::same_issuer("", ""));
        assert!(super::same_issuer("CN=A\\,B,C=KZ", "C=KZ,CN=a\\,b"));
        assert!(!super::same_issuer("CN=A\\,B,C=KZ", "C=KZ,CN=A,CN=B"));
    }

    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap_or_else(|_| std::process::abort())
    }

    fn form(lines: &str) -> String {
        format!(
            r#"{{"applicant_bin":"940140000385","date":"2026-11-25","head":{{"surname":"Әбенов","name":"Серік","patronymic":"Қайратұлы"}},"systems":["analytical_central","state_planning"],"lines":[{lines}]}}"#
        )
    }
    fn line(iin: &str, until: &str) -> String {
        format!(
            r#"{{"surname":"Иванова","name":"Анна","patronymic":null,"iin":"{iin}","position":"депутат","unit":"аппарат","phone":"+7 7172 000000","email":"anna@maslikhat.kz","purpose":"аудит","access_until":"{until}","eqyzmet_qr":"QR"}}"#
        )
    }

    #[test]
    fn a_good_form_parses_with_capping_notice() {
        let text = form(&format!(
            "{},{}",
            line("871008401427", "2027-06-30"),
            line("850712300801", "2028-01-01")
        ));
        let f = ApplicationForm::parse(text.as_bytes(), d("2026-11-25"));
        let f = f.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(f.lines.len(), 2);
        assert_eq!(f.lines[0].access_until_effective, d("2027-06-30"));
        assert_eq!(f.lines[0].notice, None);
        // Order 270 §9: one calendar year at most.
        assert_eq!(f.lines[1].access_until_effective, d("2027-11-25"));
        assert_eq!(f.lines[1].notice.as_deref(), Some(NOTICE_CAPPED));
        assert_eq!(
            f.systems,
            vec![System::AnalyticalCentral, System::StatePlanning]
        );
    }

    // Issue 18 (Order 270 §3): a line of kind information_system beside a person's, numbered in the
    // form's order; its certificate named by serial and issuer (normalized) or given as PEM, exactly one;
    // an unknown kind and a bad serial are named.
    #[test]
    fn an_information_system_line_is_parsed_beside_a_persons() {
        let system = r#"{"kind":"information_system","name":"АЖ «Аудит»","purpose":"талдау","certificate":{"serial":"00:3f a1","issuer":"CN=НУЦ РК"}}"#;
        let text = form(&format!("{},{system}", line("871008401427", "2027-06-30")));
        let f = ApplicationForm::parse(text.as_bytes(), d("2026-11-25"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((f.lines.len(), f.lines[0].line), (1, 1));
        assert_eq!(
            f.information_systems,
            vec![SystemLine {
                line: 2,
                name: "АЖ «Аудит»".into(),
                purpose: "талдау".into(),
                certificate: SystemCertificate::Named {
                    serial_hex: "3FA1".into(),
                    issuer: "CN=НУЦ РК".into()
                },
            }]
        );
        let bad = [
            r#"{"kind":"information_system","name":"А","purpose":"п"}"#,
            r#"{"kind":"information_system","name":"А","purpose":"п","certificate":{"serial":"xyz","issuer":"CN=A"}}"#,
            r#"{"kind":"information_system","name":"А","purpose":"п","certificate_pem":"not pem"}"#,
            r#"{"kind":"information_system","name":"А","purpose":"п","surname":"Х","certificate_pem":"x"}"#,
        ];
        let text = form(&bad.join(","));
        let errs = ApplicationForm::parse(text.as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert!(
            got.contains(&("/lines/3/surname", "unknown_field")),
            "{got:?}"
        );
        let text = form(&bad[..3].join(","));
        let errs = ApplicationForm::parse(text.as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(
            got,
            vec![
                ("/lines/0", "system_certificate"),
                ("/lines/1/certificate/serial", "certificate_serial"),
                ("/lines/2/certificate_pem", "certificate_pem"),
            ]
        );
        let mut robot = line("871008401427", "2027-06-30");
        robot.insert_str(1, r#""kind":"robot","#);
        let errs = ApplicationForm::parse(form(&robot).as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        assert_eq!(errs[0].field, "/lines/0/kind");
        assert_eq!(errs[0].rule, "line_kind");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = r#"{"surname":"","name":"А","patronymic":null,"iin":"821214240092","position":"p","unit":"u","phone":"12","email":"a b@kz","purpose":"p","access_until":"2026-11-24","eqyzmet_qr":"QR"}"#;
        let text = form(&format!("{},{bad}", line("871008401427", "2027-01-01")));
        let errs = ApplicationForm::parse(text.as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert!(got.contains(&("/lines/1/surname", "required")), "{got:?}");
        assert!(got.contains(&("/lines/1/iin", "never_issued")), "{got:?}");
        assert!(got.contains(&("/lines/1/phone", "phone_format")), "{got:?}");
        assert!(
            got.contains(&("/lines/1/access_until", "access_until_past")),
            "{got:?}"
        );
        // Appendix form: the contact details are a work phone and an e-mail address.
        assert!(got.contains(&("/lines/1/email", "email_format")), "{got:?}");
        assert_eq!(got.len(), 5);
    }

    // Appendix form: no until-date column; absent = one full calendar year (Order 270 §9). The e-mail
    // contact is required.
    #[test]
    fn access_until_is_optional_and_email_required() {
        let without_until = line("871008401427", "x").replace(r#","access_until":"x""#, "");
        let f = ApplicationForm::parse(form(&without_until).as_bytes(), d("2026-11-25"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(f.lines[0].access_until_requested, None);
        assert_eq!(f.lines[0].access_until_effective, d("2027-11-25"));
        assert_eq!(f.lines[0].notice, None);
        assert_eq!(f.lines[0].email, "anna@maslikhat.kz");
        let without_email = without_until.replace(r#""email":"anna@maslikhat.kz","#, "");
        let errs = ApplicationForm::parse(form(&without_email).as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(got, vec![("/lines/0/email", "required")]);
        assert_eq!(
            grant_validity(d("2026-03-15"), None).map(|v| (v.valid_until, v.capped)),
            Some((d("2027-03-15"), false))
        );
    }

    #[test]
    fn email_rule() {
        for good in ["aigul@maslikhat.kz", "a.b-c@sub.gov.kz"] {
            assert!(email_ok(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.kz",
            "a@b",
            "a@@b.kz",
            "a b@c.kz",
            "a@b..kz",
            "a@.b.kz",
            "a@b.kz.",
            "a@b.kz,c@d.kz",
        ] {
            assert!(!email_ok(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_fields_and_empty_lines_are_refused() {
        let text = form("").replace("\"lines\"", "\"extra\":1,\"lines\"");
        let errs = ApplicationForm::parse(text.as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(got, vec![("/extra", "unknown_field")]);
        // Inside a line: the unknown field and a missing one, each by its JSON Pointer.
        let l =
            line("871008401427", "2027-01-01").replace(r#""purpose":"аудит","#, r#""extra":true,"#);
        let errs = ApplicationForm::parse(form(&l).as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(
            got,
            vec![
                ("/lines/0/extra", "unknown_field"),
                ("/lines/0/purpose", "required")
            ]
        );
        let l = line("871008401427", "2027-01-01")
            .replace(r#""iin":"871008401427""#, r#""iin":871008401427"#);
        let errs = ApplicationForm::parse(form(&l).as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        assert_eq!(
            errs.first().map(|e| (e.field.as_str(), e.rule)),
            Some(("/lines/0/iin", "type"))
        );
        let errs = ApplicationForm::parse(b"not json", d("2026-11-25"))
            .err()
            .unwrap_or_default();
        assert_eq!(errs.first().map(|e| e.rule), Some("application_json"));
        let errs = ApplicationForm::parse(form("").as_bytes(), d("2026-11-25"))
            .err()
            .unwrap_or_default();
        assert_eq!(errs.first().map(|e| e.rule), Some("lines_count"));
    }

    // Order 270 §9: the reviewer decides every line; all rejected → rejected.
    #[test]
    fn review_transitions() {
        let approve = |line| LineDecision {
            line,
            decision: Decision::Approve,
            reason: None,
        };
        let reject = |line| LineDecision {
            line,
            decision: Decision::Reject,
            reason: Some("нет полномочий".into()),
        };
        let s = ApplicationStatus::Submitted;
        let r = s.review(2, &[approve(1), reject(2)]);
        assert_eq!(
            r.clone().ok().and_then(|x| x.ok()).map(|x| x.outcome),
            Some(ApplicationStatus::Forwarded)
        );
        let r = s
            .review(2, &[reject(2), reject(1)])
            .ok()
            .and_then(|x| x.ok());
        assert_eq!(r.map(|x| x.outcome), Some(ApplicationStatus::Rejected));
        let missing = s
            .review(2, &[approve(1)])
            .ok()
            .and_then(|x| x.err())
            .unwrap_or_default();
        assert_eq!(missing.first().map(|e| e.rule), Some("line_missing"));
        let no_reason = s.review(
            1,
            &[LineDecision {
                line: 1,
                decision: Decision::Reject,
                reason: Some(" ".into()),
            }],
        );
        assert_eq!(
            no_reason
                .ok()
                .and_then(|x| x.err())
                .and_then(|e| e.first().map(|e| e.rule)),
            Some("reason_required")
        );
        assert_eq!(
            ApplicationStatus::Forwarded.review(1, &[approve(1)]).err(),
            Some(WorkflowError::WrongState("forwarded", "submitted"))
        );
        assert_eq!(
            ApplicationStatus::Submitted.grant().err(),
            Some(WorkflowError::WrongState("submitted", "forwarded"))
        );
        assert_eq!(
            ApplicationStatus::Forwarded.grant().ok(),
            Some(ApplicationStatus::Granted)
        );
    }

    // Order 270 §9: 1 calendar year, capped; a passed until-date is not granted.
    #[test]
    fn validity_capping() {
        let v = grant_validity(d("2026-03-15"), Some(d("2028-01-01")));
        assert_eq!(
            v,
            Some(Validity {
                valid_from: d("2026-03-15"),
                valid_until: d("2027-03-15"),
                capped: true
            })
        );
        let v = grant_validity(d("2026-03-15"), Some(d("2026-12-31")));
        assert_eq!(
            v.map(|v| (v.valid_until, v.capped)),
            Some((d("2026-12-31"), false))
        );
        assert_eq!(grant_validity(d("2026-03-15"), Some(d("2026-03-14"))), None);
        assert_eq!(
            grant_validity(d("2026-03-15"), Some(d("2026-03-15"))).map(|v| v.valid_until),
            Some(d("2026-03-15"))
        );
    }

    // Issue 15: a signed form is received within its date window — not after the day of receipt, at
    // most `days_back` calendar days before it (the replay window; Order 270 sets none).
    #[test]
    fn the_form_date_lies_inside_the_receipt_window() {
        let today: Date = "2026-12-04".parse().unwrap();
        let check = |d: &str, back: i64| {
            let mut errors = vec![];
            Receipt::new(today, back).check_date(&mut errors, d.parse().unwrap(), "form");
            errors.iter().map(|e| e.rule).collect::<Vec<_>>()
        };
        assert!(check("2026-12-04", 7).is_empty());
        assert!(
            check("2026-11-27", 7).is_empty(),
            "seven days back is inside"
        );
        assert_eq!(check("2026-11-26", 7), vec!["date_too_old"]);
        assert_eq!(check("2026-12-05", 7), vec!["date_in_future"]);
        assert_eq!(check("2026-12-03", 0), vec!["date_too_old"]);
        assert!(check("2025-12-04", 365).is_empty());
    }
}

//! Composing a signed document in the browser (issue 13): the application in the form of the order's
//! appendix (§8) and the block request (§9). The form goes back and forth through the server, so it
//! works without JavaScript: buttons add and remove rows and take rows pasted from a spreadsheet, and
//! "check" applies the submission's own rules (the service's `check_*` use cases), showing each broken
//! rule beside its field in the words of the API's answer. A document that passes is shown exactly as
//! it will be signed; signing needs NCALayer (`sign.js`), which posts it to the JSON API.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{MAX_LINES, MobileSigningPurpose};
use serde::Serialize;
use serde_json::json;

use super::PageCaller;
use crate::AppState;
use crate::auth::{Caller, SiteBase};
use crate::i18n::Lang;

/// Which document is composed, and what its rows hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Document {
    Application,
    BlockRequest,
}

/// One column of a document's rows: its JSON name, the input's type, whether the form requires it.
#[derive(Debug, Serialize)]
struct Column {
    name: &'static str,
    input: &'static str,
    required: bool,
}

const fn col(name: &'static str, input: &'static str, required: bool) -> Column {
    Column {
        name,
        input,
        required,
    }
}

/// The appendix's columns, in the order a spreadsheet of the form has them (pasting follows it).
const APPLICATION_COLUMNS: [Column; 11] = [
    col("surname", "text", true),
    col("name", "text", true),
    col("patronymic", "text", false),
    col("iin", "iin", true),
    col("position", "text", true),
    col("unit", "text", true),
    col("phone", "tel", true),
    col("email", "email", true),
    col("purpose", "text", true),
    col("access_until", "date", false),
    col("eqyzmet_qr", "text", true),
];

const BLOCK_COLUMNS: [Column; 4] = [
    col("iin", "iin", true),
    col("reason", "reason", true),
    col("effective_date", "date", true),
    col("order_number", "text", false),
];

/// Issue 18 (Order 270 §3): a line for the organization's own information system, below the people.
const SYSTEM_COLUMNS: [Column; 3] = [
    col("name", "text", true),
    col("purpose", "text", true),
    col("certificate_pem", "pem", true),
];

const SYSTEMS: [&str; 2] = ["analytical_central", "state_planning"];

impl Document {
    fn columns(self) -> &'static [Column] {
        match self {
            Document::Application => &APPLICATION_COLUMNS,
            Document::BlockRequest => &BLOCK_COLUMNS,
        }
    }
    fn path(self) -> &'static str {
        match self {
            Document::Application => "/applications/new",
            Document::BlockRequest => "/block-requests/new",
        }
    }
}

/// What the form posted: its fields by name, its rows in order.
struct Posted {
    fields: BTreeMap<String, String>,
    systems: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Issue 18: the application's information-system lines (`SYSTEM_COLUMNS`).
    system_rows: Vec<Vec<String>>,
}

/// The button pressed: every button of the form is a submit with `action`.
#[derive(Debug, PartialEq, Eq)]
enum Edit {
    AddRow,
    RemoveRow(usize),
    Paste,
    Check,
    /// Check, then sign by phone (eGov business's QR code) and submit.
    SignByPhone,
    /// Issue 18: a line for an information system, and its removal.
    AddSystemRow,
    RemoveSystemRow(usize),
}

impl Edit {
    fn of(action: Option<&str>) -> Edit {
        match action {
            Some("add") => Edit::AddRow,
            Some("paste") => Edit::Paste,
            Some("mobile") => Edit::SignByPhone,
            Some("add-system") => Edit::AddSystemRow,
            Some(a) => {
                if let Some(i) = a
                    .strip_prefix("remove-system-")
                    .and_then(|i| i.parse().ok())
                {
                    return Edit::RemoveSystemRow(i);
                }
                match a.strip_prefix("remove-").and_then(|i| i.parse().ok()) {
                    Some(i) => Edit::RemoveRow(i),
                    None => Edit::Check,
                }
            }
            None => Edit::Check,
        }
    }
}

impl Posted {
    fn empty(doc: Document, today: String) -> Posted {
        Posted {
            fields: BTreeMap::from([("date".to_owned(), today)]),
            systems: vec![],
            rows: vec![vec![String::new(); doc.columns().len()]],
            system_rows: vec![],
        }
    }

    /// `lines-<i>-<column>` inputs become rows in the order of `i`; other inputs are fields. At most
    /// `MAX_LINES` rows are kept, so a posted form bounds the work it causes.
    fn from_form(doc: Document, form: Vec<(String, String)>) -> Posted {
        let columns = doc.columns();
        let mut rows: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut system_rows: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut fields = BTreeMap::new();
        let mut systems = vec![];
        for (k, v) in form {
            let system_cell = (doc == Document::Application)
                .then(|| k.strip_prefix("is-"))
                .flatten()
                .and_then(|rest| {
                    let (i, name) = rest.split_once('-')?;
                    let i: usize = i.parse().ok()?;
                    let c = SYSTEM_COLUMNS.iter().position(|c| c.name == name)?;
                    Some((i, c))
                });
            if let Some((i, c)) = system_cell {
                if i < MAX_LINES {
                    system_rows
                        .entry(i)
                        .or_insert_with(|| vec![String::new(); SYSTEM_COLUMNS.len()])[c] = v;
                }
                continue;
            }
            let cell = k.strip_prefix("lines-").and_then(|rest| {
                let (i, name) = rest.split_once('-')?;
                let i: usize = i.parse().ok()?;
                let c = columns.iter().position(|c| c.name == name)?;
                Some((i, c))
            });
            match cell {
                Some((i, c)) if i < MAX_LINES => {
                    rows.entry(i)
                        .or_insert_with(|| vec![String::new(); columns.len()])[c] = v;
                }
                Some(_) => {}
                None if k == "systems" => systems.push(v),
                None => {
                    fields.insert(k, v);
                }
            }
        }
        Posted {
            fields,
            systems,
            rows: rows.into_values().collect(),
            system_rows: system_rows.into_values().collect(),
        }
    }

    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    fn apply(&mut self, doc: Document, edit: &Edit) {
        let width = doc.columns().len();
        match edit {
            Edit::AddRow if self.rows.len() < MAX_LINES => {
                self.rows.push(vec![String::new(); width])
            }
            Edit::RemoveRow(i) if *i < self.rows.len() => {
                self.rows.remove(*i);
            }
            Edit::AddSystemRow if doc == Document::Application && self.lines() < MAX_LINES => self
                .system_rows
                .push(vec![String::new(); SYSTEM_COLUMNS.len()]),
            Edit::RemoveSystemRow(i) if *i < self.system_rows.len() => {
                self.system_rows.remove(*i);
            }
            Edit::Paste => {
                let pasted = pasted_rows(self.field("paste"), width);
                // The empty starting row gives way to the pasted ones.
                self.rows
                    .retain(|r| r.iter().any(|cell| !cell.trim().is_empty()));
                self.rows.extend(pasted);
                self.rows.truncate(MAX_LINES);
                self.fields.remove("paste");
            }
            _ => {}
        }
        if self.rows.is_empty() {
            self.rows.push(vec![String::new(); width]);
        }
    }

    fn lines(&self) -> usize {
        self.rows.len() + self.system_rows.len()
    }

    /// The people's rows the document holds: every row, except that an application for information
    /// systems alone leaves out the empty row the form always keeps.
    fn person_rows(&self) -> Vec<&Vec<String>> {
        let blank = |r: &&Vec<String>| r.iter().all(|c| c.trim().is_empty());
        self.rows
            .iter()
            .filter(|r| self.system_rows.is_empty() || !blank(r))
            .collect()
    }

    /// The document as it will be signed: the JSON the API reads, pretty-printed so the signer can
    /// read what they sign. Empty optional cells are left out; the systems' lines follow the people's.
    fn document(&self, doc: Document, applicant_bin: &str) -> String {
        let mut lines: Vec<serde_json::Value> = self
            .person_rows()
            .into_iter()
            .map(|r| {
                let mut line = serde_json::Map::new();
                for (c, v) in doc.columns().iter().zip(r) {
                    let v = v.trim();
                    if c.required || !v.is_empty() {
                        line.insert(c.name.to_owned(), json!(v));
                    }
                }
                serde_json::Value::Object(line)
            })
            .collect();
        for r in &self.system_rows {
            let mut line = serde_json::Map::new();
            line.insert("kind".into(), json!("information_system"));
            for (c, v) in SYSTEM_COLUMNS.iter().zip(r) {
                // A certificate keeps its line breaks (PEM); the rest is trimmed.
                let v = if c.input == "pem" {
                    v.trim().replace("\r\n", "\n")
                } else {
                    v.trim().to_owned()
                };
                line.insert(c.name.to_owned(), json!(v));
            }
            lines.push(serde_json::Value::Object(line));
        }
        let mut d = json!({
            "applicant_bin": applicant_bin,
            "date": self.field("date").trim(),
            "lines": lines,
        });
        if doc == Document::Application {
            let mut head = serde_json::Map::new();
            for part in ["surname", "name", "patronymic"] {
                let v = self.field(&format!("head-{part}")).trim();
                if part != "patronymic" || !v.is_empty() {
                    head.insert(part.to_owned(), json!(v));
                }
            }
            d["head"] = serde_json::Value::Object(head);
            d["systems"] = json!(self.systems);
        }
        serde_json::to_string_pretty(&d).unwrap_or_default()
    }
}

/// Rows copied from a spreadsheet: one per line, cells separated by tabs, in the columns' order.
fn pasted_rows(text: &str, width: usize) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(MAX_LINES)
        .map(|l| {
            let mut cells: Vec<String> = l
                .split('\t')
                .take(width)
                .map(|c| c.trim().to_owned())
                .collect();
            cells.resize(width, String::new());
            cells
        })
        .collect()
}

/// The input a JSON Pointer of the API's answer names: `/lines/0/iin` is `lines-0-iin`,
/// `/head/surname` is `head-surname`, `/systems/1` is `systems`; a line after the `people` people's
/// lines is an information system's: `/lines/3/name` with two people is `is-1-name`.
fn input_of(pointer: &str, people: usize) -> String {
    if let Some((n, rest)) = system_line(pointer, people) {
        return format!("is-{n}-{rest}");
    }
    let name = pointer.trim_start_matches('/').replace('/', "-");
    match name.starts_with("systems") {
        true => "systems".to_owned(),
        false => name,
    }
}

/// The information system's line (its index among the systems) and field a pointer names, if any.
fn system_line(pointer: &str, people: usize) -> Option<(usize, String)> {
    let rest = pointer.strip_prefix("/lines/")?;
    let (n, field) = rest.split_once('/')?;
    let n: usize = n.parse().ok()?;
    (n >= people).then(|| (n - people, field.replace('/', "-")))
}

/// A broken rule as the page lists it: the input to go to, the field in words, the rule's words.
#[derive(Debug, Serialize)]
struct FieldProblem {
    input: String,
    label: String,
    detail: String,
}

/// A field in the person's words: `/lines/2/iin` is "Row 3: IIN"; an information system's line is
/// "Information system 1: Certificate".
fn label_of(lang: Lang, pointer: &str, people: usize) -> String {
    if let Some((n, field)) = system_line(pointer, people) {
        let key = format!("page-field-system-{field}");
        return format!(
            "{}: {}",
            lang.text("page-system-row", &[("count", (n + 1).to_string())]),
            if lang.has(&key) {
                lang.text(&key, &[])
            } else {
                field
            }
        );
    }
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let field = |name: &str| {
        let key = format!("page-field-{name}");
        match lang.has(&key) {
            true => lang.text(&key, &[]),
            false => pointer.to_owned(),
        }
    };
    match parts.as_slice() {
        ["lines", n, column, ..] => match n.parse::<usize>() {
            Ok(n) => format!(
                "{}: {}",
                lang.text("page-row", &[("count", (n + 1).to_string())]),
                field(column)
            ),
            Err(_) => pointer.to_owned(),
        },
        ["lines"] => lang.text("page-lines", &[]),
        ["head", part] => format!("{}: {}", field("head"), field(part)),
        [name, ..] if !name.is_empty() => field(name),
        _ => pointer.to_owned(),
    }
}

async fn page(
    st: &AppState,
    lang: Lang,
    caller: Caller,
    doc: Document,
    posted: Option<Vec<(String, String)>>,
    base: &str,
) -> Response {
    let me = match st.me(&caller).await {
        Ok(me) => me,
        Err(e) => return super::problem_page(st, lang, &e),
    };
    let bin = caller.actor.bin.to_string();
    let (mut form, edit) = match posted {
        None => (Posted::empty(doc, st.today().to_string()), None),
        Some(f) => {
            let action = f
                .iter()
                .find(|(k, _)| k == "action")
                .map(|(_, v)| v.clone());
            (Posted::from_form(doc, f), Some(Edit::of(action.as_deref())))
        }
    };
    if let Some(e) = &edit {
        form.apply(doc, e);
    }
    // Checked only when asked: a half-filled form being edited is not a list of errors.
    let text = form.document(doc, &bin);
    let (document, problem) = match &edit {
        Some(Edit::Check | Edit::SignByPhone) => {
            let checked = match doc {
                Document::Application => st.check_application_form(text.as_bytes()),
                Document::BlockRequest => st.check_block_request(text.as_bytes()),
            };
            match checked {
                Ok(()) if edit == Some(Edit::SignByPhone) => {
                    let purpose = match doc {
                        Document::Application => MobileSigningPurpose::Application,
                        Document::BlockRequest => MobileSigningPurpose::BlockRequest,
                    };
                    return super::mobile::start(
                        st,
                        lang,
                        purpose,
                        Some(&caller),
                        Some(&text),
                        base,
                    );
                }
                Ok(()) => (Some(text), None),
                Err(e) => (None, Some(crate::problem::localized(&e, lang))),
            }
        }
        _ => (None, None),
    };
    let people = form.person_rows().len();
    let error_list: Vec<FieldProblem> = problem
        .iter()
        .flat_map(|p| p.errors.iter())
        .map(|e| FieldProblem {
            input: input_of(&e.field, people),
            label: label_of(lang, &e.field, people),
            detail: e.detail.clone(),
        })
        .collect();
    let errors: BTreeMap<&str, &str> = error_list
        .iter()
        .map(|e| (e.input.as_str(), e.detail.as_str()))
        .collect();
    st.pages.render(
        "compose.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => doc.path(),
            kind => match doc { Document::Application => "application", Document::BlockRequest => "block-request" },
            action => doc.path(),
            columns => Value::from(Serde(doc.columns())),
            rows => Value::from(Serde(&form.rows)),
            system_columns => Value::from(Serde(&SYSTEM_COLUMNS)),
            system_rows => Value::from(Serde(&form.system_rows)),
            fields => Value::from(Serde(&form.fields)),
            systems => SYSTEMS,
            chosen => Value::from(Serde(&form.systems)),
            reasons => ["dismissed", "transferred", "other"],
            errors => Value::from(Serde(&errors)),
            error_list => Value::from(Serde(&error_list)),
            problem => problem.map(|p| Value::from(Serde(p))),
            document,
            endpoint => match doc { Document::Application => "/api/v1/applications", Document::BlockRequest => "/api/v1/block-requests" },
            next => match doc { Document::Application => "/applications/{id}", Document::BlockRequest => "/#block-requests" },
            ncalayer_url => st.pages.config.ncalayer_url.clone(),
        },
    )
}

pub(super) async fn new_application(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
) -> Response {
    page(&st, lang, caller, Document::Application, None, "").await
}

pub(super) async fn edit_application(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    SiteBase(base): SiteBase,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    page(&st, lang, caller, Document::Application, Some(form), &base).await
}

pub(super) async fn new_block_request(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
) -> Response {
    page(&st, lang, caller, Document::BlockRequest, None, "").await
}

pub(super) async fn edit_block_request(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    SiteBase(base): SiteBase,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    page(&st, lang, caller, Document::BlockRequest, Some(form), &base).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rows_follow_their_index_and_unknown_cells_are_dropped() {
        let p = Posted::from_form(
            Document::BlockRequest,
            form(&[
                ("lines-1-iin", "b"),
                ("lines-0-iin", "a"),
                ("lines-0-colour", "red"),
                ("lines-5000-iin", "too far"),
                ("date", "2026-12-03"),
            ]),
        );
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0][0], "a");
        assert_eq!(p.rows[1][0], "b");
        assert_eq!(p.field("date"), "2026-12-03");
    }

    #[test]
    fn pasted_spreadsheet_rows_replace_the_empty_one() {
        let mut p = Posted::empty(Document::BlockRequest, "2026-12-03".into());
        p.fields.insert(
            "paste".into(),
            "840315307490\tdismissed\t2026-12-01\r\n\n900101300017\tother\t2026-12-02\t№ 5\textra\n"
                .into(),
        );
        p.apply(Document::BlockRequest, &Edit::Paste);
        assert_eq!(p.rows.len(), 2, "{:?}", p.rows);
        assert_eq!(
            p.rows[0],
            vec!["840315307490", "dismissed", "2026-12-01", ""]
        );
        assert_eq!(p.rows[1][3], "№ 5", "cells beyond the columns are dropped");
        assert!(!p.fields.contains_key("paste"));
    }

    #[test]
    fn rows_are_added_and_removed_and_one_always_stays() {
        let mut p = Posted::empty(Document::Application, "2026-12-03".into());
        p.apply(Document::Application, &Edit::AddRow);
        assert_eq!(p.rows.len(), 2);
        p.apply(Document::Application, &Edit::RemoveRow(0));
        p.apply(Document::Application, &Edit::RemoveRow(0));
        assert_eq!(p.rows.len(), 1, "an empty row stays to be filled");
        p.apply(Document::Application, &Edit::RemoveRow(7));
        assert_eq!(p.rows.len(), 1);
    }

    #[test]
    fn the_document_leaves_out_empty_optional_cells() {
        let p = Posted::from_form(
            Document::Application,
            form(&[
                ("date", "2026-12-03"),
                ("head-surname", "Әбенова"),
                ("head-name", "Айгүл"),
                ("head-patronymic", ""),
                ("systems", "state_planning"),
                ("lines-0-surname", " Сейітова "),
                ("lines-0-patronymic", ""),
            ]),
        );
        let d: serde_json::Value =
            serde_json::from_str(&p.document(Document::Application, "940140000385"))
                .unwrap_or_default();
        assert_eq!(d["applicant_bin"], "940140000385");
        assert_eq!(d["head"], json!({"surname": "Әбенова", "name": "Айгүл"}));
        assert_eq!(d["systems"], json!(["state_planning"]));
        assert_eq!(d["lines"][0]["surname"], "Сейітова");
        assert!(d["lines"][0].get("patronymic").is_none());
        assert_eq!(
            d["lines"][0]["iin"], "",
            "a required cell stays, to be named"
        );
    }

    #[test]
    fn pointers_name_their_inputs() {
        assert_eq!(input_of("/lines/3/iin", 5), "lines-3-iin");
        assert_eq!(input_of("/head/surname", 5), "head-surname");
        assert_eq!(input_of("/systems/1", 5), "systems");
        assert_eq!(input_of("/date", 5), "date");
        // Issue 18: the lines after the people's are the information systems'.
        assert_eq!(
            input_of("/lines/3/certificate_pem", 2),
            "is-1-certificate_pem"
        );
        assert_eq!(input_of("/lines/0/name", 0), "is-0-name");
    }

    // Issue 18 (Order 270 §3): an application for an information system alone leaves out the empty
    // person row the form keeps; the systems' lines follow the people's, the certificate's lines kept.
    #[test]
    fn system_rows_become_information_system_lines() {
        let pem = "-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----";
        let mut p = Posted::from_form(
            Document::Application,
            form(&[
                ("date", "2026-12-03"),
                ("is-0-name", " АЖ «Аудит» "),
                ("is-0-purpose", "аудит"),
                ("is-0-certificate_pem", pem),
                ("lines-0-surname", ""),
            ]),
        );
        let d: serde_json::Value =
            serde_json::from_str(&p.document(Document::Application, "940140000385"))
                .unwrap_or_default();
        assert_eq!(
            d["lines"],
            json!([{"kind": "information_system", "name": "АЖ «Аудит»", "purpose": "аудит",
                "certificate_pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}])
        );
        p.rows[0][0] = "Сейітова".into();
        let d: serde_json::Value =
            serde_json::from_str(&p.document(Document::Application, "940140000385"))
                .unwrap_or_default();
        assert_eq!(d["lines"][0]["surname"], "Сейітова");
        assert_eq!(d["lines"][1]["kind"], "information_system");
        p.apply(Document::Application, &Edit::AddSystemRow);
        assert_eq!(p.system_rows.len(), 2);
        p.apply(Document::Application, &Edit::RemoveSystemRow(0));
        assert_eq!(p.system_rows.len(), 1);
        assert_eq!(p.system_rows[0][0], "", "the added row stays");
        let b = Posted::from_form(Document::BlockRequest, form(&[("is-0-name", "x")]));
        assert!(b.system_rows.is_empty(), "a block request has no systems");
    }

    #[test]
    fn buttons_are_edits() {
        assert_eq!(Edit::of(Some("remove-2")), Edit::RemoveRow(2));
        assert_eq!(Edit::of(Some("remove-x")), Edit::Check);
        assert_eq!(Edit::of(Some("paste")), Edit::Paste);
        assert_eq!(Edit::of(None), Edit::Check);
        assert_eq!(Edit::of(Some("add-system")), Edit::AddSystemRow);
        assert_eq!(Edit::of(Some("remove-system-1")), Edit::RemoveSystemRow(1));
    }
}

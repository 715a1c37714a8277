//! How a budget-data answer leaves (Order 270 §15): as JSON or as a CSV file, each naming its reader,
//! the time and the read's audit record in the caller's language.

use axum::response::Response;
use qoljetim_service::{DataAnswerView, ExportNotice, ScopeView, ServiceError, parse_code};
use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::i18n::Lang;
use crate::problem::ApiResult;

/// The §15 notice in the caller's language: who read it, when, under which audit record.
fn notice_text(n: &ExportNotice, lang: Lang) -> String {
    let reader = if n.reader_name.is_empty() {
        n.reader.clone()
    } else {
        format!("{} {}", n.reader_name, n.reader)
    };
    lang.text(
        "export-notice",
        &[
            ("reader", reader),
            ("organization", n.organization.clone()),
            ("at", n.at.clone()),
            ("audit_id", n.audit_id.to_string()),
        ],
    )
}

/// The §15 notice of a JSON answer: who read it, when, under which audit record, and the duty.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportNoticeView {
    /// Always "Order 270 §15".
    pub clause: &'static str,
    pub text: String,
    pub reader: String,
    pub reader_name: String,
    pub organization_bin: String,
    pub at: String,
    pub audit_id: i64,
    pub language: &'static str,
}

/// One row of an answer: the group's codes (each with `<dim>_name` beside it) and the measures.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataRowView {
    pub group: BTreeMap<String, String>,
    pub values: BTreeMap<String, i64>,
}

/// `GET /data/{system}/{dataset}` as JSON: the rows inside the grant's scope, the scope applied, and
/// the §15 notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataAnswerBody {
    pub system: &'static str,
    pub dataset: &'static str,
    pub fiscal_year: i16,
    pub group_by: Vec<String>,
    pub measures: Vec<String>,
    /// `tiyn` for amounts, `unit` for indicators.
    pub unit: &'static str,
    #[schema(value_type = Object)]
    pub scope: ScopeView,
    pub rows: Vec<DataRowView>,
    pub has_more: bool,
    pub offset: usize,
    pub limit: usize,
    pub notice: ExportNoticeView,
}

/// The JSON answer: rows with a name beside each code, the scope applied, the §15 notice.
pub(crate) fn json_answer(a: &DataAnswerView, lang: Lang) -> DataAnswerBody {
    let q = &a.query;
    let rows = a
        .answer
        .rows
        .iter()
        .map(|(codes, values)| {
            let mut group = BTreeMap::new();
            for (d, c) in q.group_by.iter().zip(codes) {
                group.insert(d.name().to_owned(), c.clone());
                let code = parse_code(*d, c).unwrap_or(0);
                if let Some(n) = qoljetim_budget::names::name(*d, code, lang.code()) {
                    group.insert(format!("{}_name", d.name()), n);
                }
            }
            let values = a
                .answer
                .measures
                .iter()
                .cloned()
                .zip(values.iter().copied())
                .collect();
            DataRowView { group, values }
        })
        .collect();
    let n = &a.notice;
    DataAnswerBody {
        system: a.system.as_str(),
        dataset: a.spec.name,
        fiscal_year: q.fiscal_year,
        group_by: a.answer.group_by.clone(),
        measures: a.answer.measures.clone(),
        unit: if a.spec.name == "indicators" {
            "unit"
        } else {
            "tiyn"
        },
        scope: ScopeView::from(&a.scope),
        rows,
        has_more: a.answer.has_more,
        offset: q.offset,
        limit: q.limit,
        notice: ExportNoticeView {
            clause: "Order 270 §15",
            text: notice_text(n, lang),
            reader: n.reader.clone(),
            reader_name: n.reader_name.clone(),
            organization_bin: n.organization.clone(),
            at: n.at.clone(),
            audit_id: n.audit_id,
            language: lang.code(),
        },
    }
}

/// The CSV file, named after the system, dataset, year and the read's audit record.
pub(crate) fn csv_answer(
    a: &DataAnswerView,
    lang: Lang,
    separator: Option<u8>,
) -> ApiResult<Response> {
    let separator = separator.unwrap_or(match lang {
        // A spreadsheet set to Kazakh or Russian reads `;` as the column separator (the decimal
        // separator there is the comma).
        Lang::Kk | Lang::Ru => b';',
        Lang::En => b',',
    });
    let body = csv_export(a, lang, separator).map_err(ServiceError::internal)?;
    let name = format!(
        "qoljetim-{}-{}-{}-{}.csv",
        a.system.as_str(),
        a.spec.name,
        a.query.fiscal_year,
        a.notice.audit_id
    );
    Ok(crate::handlers::download(
        body,
        "text/csv; charset=utf-8",
        Some(&name),
    ))
}

/// The CSV export (Order 270 §15): leading `#` lines say who read it, when, under which audit record,
/// what was asked and the unit; then a header and rows, a name column beside each code column. Written
/// with the `csv` crate (quoting as RFC 4180) with a byte-order mark for spreadsheets.
fn csv_export(a: &DataAnswerView, lang: Lang, separator: u8) -> Result<Vec<u8>, String> {
    let (spec, system, q, answer, notice, params) =
        (a.spec, a.system, &a.query, &a.answer, &a.notice, &a.params);
    let mut filters: Vec<String> = params
        .iter()
        .filter(|(k, _)| !["format", "sep", "limit", "offset"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    filters.sort();
    let unit_key = if spec.name == "indicators" {
        "export-unit-unit"
    } else {
        "export-unit-tiyn"
    };
    let mut out = String::from("\u{feff}");
    for line in [
        notice_text(notice, lang),
        lang.text(
            "export-dataset",
            &[
                ("dataset", spec.name.to_owned()),
                ("system", system.as_str().to_owned()),
                ("year", q.fiscal_year.to_string()),
                ("filters", filters.join(" ")),
            ],
        ),
        lang.text(unit_key, &[]),
        format!(
            "export_id={} reader={} at={}",
            notice.audit_id, notice.reader, notice.at
        ),
    ] {
        // A comment line is one line: no line breaks can come from the values inside it.
        out.push_str("# ");
        out.push_str(&line.replace(['\r', '\n'], " "));
        out.push_str("\r\n");
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(separator)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out.into_bytes());
    let name_suffix = lang.text("export-name", &[]);
    let mut header = vec![];
    for g in &answer.group_by {
        header.push(g.clone());
        header.push(format!("{g}_name ({name_suffix})"));
    }
    header.extend(answer.measures.iter().cloned());
    w.write_record(&header).map_err(|e| e.to_string())?;
    for (codes, values) in &answer.rows {
        let mut record = vec![];
        for (d, c) in q.group_by.iter().zip(codes) {
            record.push(c.clone());
            let code = parse_code(*d, c).unwrap_or(0);
            record.push(qoljetim_budget::names::name(*d, code, lang.code()).unwrap_or_default());
        }
        record.extend(values.iter().map(|v| v.to_string()));
        w.write_record(&record).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

//! How a budget-data answer leaves (Order 270 §15): as JSON or as a CSV file, each naming its reader,
//! the time and the read's audit record in the caller's language.

use axum::response::Response;
use qoljetim_service::{DataAnswerView, ExportNotice, ServiceError, parse_code};
use serde_json::{Value, json};

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

/// The JSON answer: rows with a name beside each code, the scope applied, the §15 notice.
pub(crate) fn json_answer(a: &DataAnswerView, lang: Lang) -> Value {
    let q = &a.query;
    let rows: Vec<Value> = a
        .answer
        .rows
        .iter()
        .map(|(codes, values)| {
            let mut group = serde_json::Map::new();
            for (d, c) in q.group_by.iter().zip(codes) {
                group.insert(d.name().to_owned(), Value::String(c.clone()));
                let code = parse_code(*d, c).unwrap_or(0);
                if let Some(n) = qoljetim_budget::names::name(*d, code, lang.code()) {
                    group.insert(format!("{}_name", d.name()), Value::String(n));
                }
            }
            let values: serde_json::Map<String, Value> = a
                .answer
                .measures
                .iter()
                .zip(values)
                .map(|(m, v)| (m.clone(), json!(v)))
                .collect();
            json!({"group": group, "values": values})
        })
        .collect();
    let n = &a.notice;
    json!({
        "system": a.system.as_str(), "dataset": a.spec.name, "fiscal_year": q.fiscal_year,
        "group_by": a.answer.group_by, "measures": a.answer.measures,
        "unit": if a.spec.name == "indicators" { "unit" } else { "tiyn" },
        "scope": a.scope, "rows": rows, "has_more": a.answer.has_more, "offset": q.offset, "limit": q.limit,
        "notice": {
            "clause": "Order 270 §15", "text": notice_text(n, lang), "reader": n.reader,
            "reader_name": n.reader_name, "organization_bin": n.organization, "at": n.at,
            "audit_id": n.audit_id, "language": lang.code(),
        },
    })
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

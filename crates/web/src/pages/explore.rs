//! The budget explorer (issue 14): a person with an active grant chooses system, dataset, fiscal year,
//! grouping and measures; the page shows a table and a chart of the scoped read. The query is the
//! page's URL (bookmarked, shared with a colleague of the same scope); each row drills down by adding
//! its code as a filter and grouping by the next dimension; the CSV is the API's, with the §15 notice.
//! The choices come from `explorer_choices` (only values inside the grant's scope) and the read from
//! `query_data`, which decides and audits it: a URL typed by hand outside the scope is refused there,
//! and the page says so with the scope in words.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::{Serde, Value};
use qoljetim_service::{DataRequest, ExplorerChoices};
use serde::Serialize;

use super::PageCaller;
use crate::AppState;
use crate::i18n::Lang;

/// Rows a page shows (the CSV has them all, up to the API's limit).
const PAGE_ROWS: &str = "50";

/// The dimension a row drills into: from a classification's level to the next, from a territory to
/// the one inside it, and anything else by month (expenditure, revenue) — none after the month.
fn drill_into(dim: &str, dims: &[&str]) -> Option<&'static str> {
    let next = match dim {
        "functional_group" => "administrator",
        "administrator" => "program",
        "program" => "month",
        "subprogram" => "month",
        "specifics" => "month",
        "budget_level" => "region",
        "region" => "district",
        "district" => "budget",
        "budget" => "functional_group",
        "revenue_code" => "month",
        "indicator" => "budget",
        "month" | "fiscal_year" => return None,
        _ => "month",
    };
    dims.contains(&next).then_some(next)
}

/// The query as the URL carries it: one value per key, a repeated key (several measures ticked)
/// joined by commas, empty values (a select left at "all") dropped.
fn query_of(raw: Option<&str>) -> BTreeMap<String, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default();
    let mut q: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs {
        let v = v.trim().to_owned();
        if v.is_empty() {
            continue;
        }
        q.entry(k)
            .and_modify(|old| {
                old.push(',');
                old.push_str(&v);
            })
            .or_insert(v);
    }
    q
}

fn link(path: &str, q: &BTreeMap<String, String>) -> String {
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(q).unwrap_or_default()
    )
}

/// Digits in groups of three: a narrow no-break space in Kazakh and Russian, a comma in English.
pub(crate) fn group_digits(n: i64, lang: Lang) -> String {
    let sep = match lang {
        Lang::En => ",",
        _ => "\u{202f}",
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// Whole tenge of an amount in tiyn, rounded half away from zero.
fn tenge(tiyn: i64) -> i64 {
    (tiyn + tiyn.signum() * 50) / 100
}

#[derive(Serialize)]
struct Row {
    cells: Vec<String>,
    values: Vec<String>,
    drill: Option<String>,
}

#[derive(Serialize)]
struct Chart {
    kind: &'static str,
    measure: String,
    labels: Vec<String>,
    values: Vec<i64>,
    links: Vec<Option<String>>,
}

pub(super) async fn explore(
    State(st): State<AppState>,
    lang: Lang,
    PageCaller(caller): PageCaller,
    RawQuery(raw): RawQuery,
) -> Response {
    let me = match st.me(&caller).await {
        Ok(me) => me,
        Err(e) => return super::problem_page(&st, lang, &e),
    };
    let choices = match st.explorer_choices(&caller, lang.code()).await {
        Ok(c) => c,
        Err(e) => return super::problem_page(&st, lang, &e),
    };
    let mut q = query_of(raw.as_deref());
    let path = "/explore";
    let Some(chosen) = choose(&choices, &mut q) else {
        return st.pages.render(
            "explore.html",
            lang,
            context! { me => Value::from(Serde(&me)), back => path, choices => Value::from(()) },
        );
    };
    let Some(dataset) = chosen
        .datasets
        .iter()
        .find(|d| Some(d.name) == q.get("dataset").map(String::as_str))
    else {
        return super::problem_page(
            &st,
            lang,
            &qoljetim_service::ServiceError::not_found("dataset"),
        );
    };
    let mut params: std::collections::HashMap<String, String> = q
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "system" | "dataset"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    params.insert("limit".into(), PAGE_ROWS.into());
    let read = st
        .query_data(
            qoljetim_service::Reader::Person(&caller),
            DataRequest {
                system: chosen.system.to_owned(),
                dataset: dataset.name.to_owned(),
                params: params.clone(),
                language: lang.code(),
            },
        )
        .await;
    let mut csv = params;
    csv.remove("limit");
    csv.insert("format".into(), "csv".into());
    csv.insert("limit".into(), "10000".into());
    let csv_link = format!(
        "/api/v1/data/{}/{}?{}",
        chosen.system,
        dataset.name,
        serde_urlencoded::to_string(csv.into_iter().collect::<BTreeMap<_, _>>())
            .unwrap_or_default()
    );
    let (table, chart, problem) = match read {
        Ok(answer) => {
            let body = crate::export::json_answer(&answer, lang);
            let money = body.unit == "tiyn";
            let shown = |v: i64| group_digits(if money { tenge(v) } else { v }, lang);
            let first = body.group_by.first().cloned();
            let drill_dim = first.as_deref().and_then(|d| drill_into(d, &dataset.dims));
            let rows: Vec<Row> = body
                .rows
                .iter()
                .map(|r| {
                    let cells = body
                        .group_by
                        .iter()
                        .map(|d| {
                            let code = r.group.get(d).cloned().unwrap_or_default();
                            match r.group.get(&format!("{d}_name")) {
                                Some(n) => format!("{code} {n}"),
                                None => code,
                            }
                        })
                        .collect();
                    let values = body
                        .measures
                        .iter()
                        .map(|m| shown(r.values.get(m).copied().unwrap_or(0)))
                        .collect();
                    let drill = match (&first, drill_dim) {
                        (Some(d), Some(next)) => r.group.get(d).map(|code| {
                            let mut dq = q.clone();
                            dq.insert(d.clone(), code.clone());
                            dq.insert("group_by".into(), next.to_owned());
                            dq.remove("sort");
                            dq.remove("offset");
                            link(path, &dq)
                        }),
                        _ => None,
                    };
                    Row {
                        cells,
                        values,
                        drill,
                    }
                })
                .collect();
            let measure = body.measures.first().cloned().unwrap_or_default();
            let chart = Chart {
                kind: if first.as_deref() == Some("month") {
                    "line"
                } else {
                    "bar"
                },
                labels: rows.iter().map(|r| r.cells.join(" · ")).collect(),
                values: body
                    .rows
                    .iter()
                    .map(|r| {
                        let v = r.values.get(&measure).copied().unwrap_or(0);
                        if money { tenge(v) } else { v }
                    })
                    .collect(),
                links: rows.iter().map(|r| r.drill.clone()).collect(),
                measure,
            };
            let table = context! {
                group_by => body.group_by.clone(),
                measures => body.measures.clone(),
                money,
                rows => Value::from(Serde(&rows)),
                has_more => body.has_more,
                notice => body.notice.text.clone(),
            };
            (Some(table), serde_json::to_string(&chart).ok(), None)
        }
        Err(e) => (None, None, Some(crate::problem::localized(&e, lang))),
    };
    st.pages.render(
        "explore.html",
        lang,
        context! {
            me => Value::from(Serde(&me)),
            back => link(path, &q),
            choices => Value::from(Serde(&choices)),
            chosen => Value::from(Serde(chosen)),
            dataset => Value::from(Serde(dataset)),
            q => Value::from(Serde(&q)),
            picked_measures => Value::from(Serde(q.get("measures").map(|m| m.split(',').collect::<Vec<_>>()).unwrap_or_default())),
            // Filters the form has no select for (those a drill-down added), to be seen and cleared.
            filters => Value::from(Serde(q.iter()
                .filter(|(k, _)| dataset.dims.contains(&k.as_str())
                    && !matches!(k.as_str(), "fiscal_year" | "budget_level" | "region" | "administrator"))
                .collect::<Vec<_>>())),
            table,
            chart,
            csv_link,
            problem => problem.map(|p| Value::from(Serde(p))),
        },
    )
}

/// The system the query names (or the first one the person may read), with the query's missing
/// parts set to defaults: the system's first dataset, the current year when the scope has it, a
/// grouping by functional group (or the dataset's first grouping), the first measure, largest first.
fn choose<'a>(
    choices: &'a [ExplorerChoices],
    q: &mut BTreeMap<String, String>,
) -> Option<&'a ExplorerChoices> {
    let chosen = q
        .get("system")
        .and_then(|s| choices.iter().find(|c| c.system == s.as_str()))
        .or_else(|| choices.first())?;
    q.insert("system".into(), chosen.system.to_owned());
    let dataset = q
        .get("dataset")
        .and_then(|d| chosen.datasets.iter().find(|x| x.name == d.as_str()))
        .or_else(|| chosen.datasets.first())?;
    q.insert("dataset".into(), dataset.name.to_owned());
    if !q.contains_key("fiscal_year") {
        let year = chosen
            .fiscal_years
            .get(chosen.fiscal_years.len() / 2)
            .copied();
        if let Some(y) = year {
            q.insert("fiscal_year".into(), y.to_string());
        }
    }
    if !q.contains_key("group_by") {
        let g = if dataset.dims.contains(&"functional_group") {
            "functional_group"
        } else {
            dataset
                .dims
                .iter()
                .find(|d| **d != "fiscal_year")
                .copied()
                .unwrap_or("fiscal_year")
        };
        q.insert("group_by".into(), g.to_owned());
    }
    if !q.contains_key("measures")
        && let Some(m) = dataset.measures.first()
    {
        q.insert("measures".into(), (*m).to_owned());
    }
    // The largest first, except in time, which reads in its own order.
    let by_time = q
        .get("group_by")
        .is_some_and(|g| g.starts_with("month") || g.starts_with("fiscal_year"));
    if !q.contains_key("sort")
        && !by_time
        && let Some(m) = q.get("measures").and_then(|m| m.split(',').next())
    {
        q.insert("sort".into(), format!("-{m}"));
    }
    Some(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_by_language() {
        assert_eq!(group_digits(1_234_567, Lang::En), "1,234,567");
        assert_eq!(group_digits(-1_000, Lang::En), "-1,000");
        assert_eq!(group_digits(999, Lang::Ru), "999");
        assert_eq!(
            group_digits(8_518_829_616, Lang::Kk),
            "8\u{202f}518\u{202f}829\u{202f}616"
        );
        assert_eq!(tenge(12_345), 123);
        assert_eq!(tenge(12_350), 124);
        assert_eq!(tenge(-12_350), -124);
    }

    #[test]
    fn repeated_keys_join_and_empty_ones_drop() {
        let q = query_of(Some(
            "measures=paid&measures=unpaid&region=&group_by=program",
        ));
        assert_eq!(q.get("measures").map(String::as_str), Some("paid,unpaid"));
        assert!(!q.contains_key("region"));
        assert_eq!(q.get("group_by").map(String::as_str), Some("program"));
    }

    #[test]
    fn rows_drill_into_the_next_dimension() {
        let dims = [
            "fiscal_year",
            "month",
            "functional_group",
            "administrator",
            "program",
        ];
        assert_eq!(drill_into("program", &dims), Some("month"));
        assert_eq!(drill_into("functional_group", &dims), Some("administrator"));
        assert_eq!(drill_into("month", &dims), None);
        assert_eq!(
            drill_into("region", &dims),
            None,
            "no district in these dims"
        );
    }
}

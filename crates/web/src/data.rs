//! Budget data reads (Order 270 §4–§6): read mode only, for a signed-in person whose grant for the
//! system is active today, within the scope fixed on the grant. Cedar decides the query's filters; the
//! engine applies the scope itself to every row; every read is audited with the scope applied.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use qoljetim_budget::engine::{DataQuery, DataScope, SortKey};
use qoljetim_budget::model::{DatasetSpec, Dim, LEVELS, format_code, level_code};
use qoljetim_domain::application::FieldError;
use qoljetim_domain::{Kato, Scope, System};
use qoljetim_policy::{Action, GrantContext, Resource};
use qoljetim_store::{Change, GrantRow};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::toolbox::rfc3339_micros;

const MAX_LIMIT: usize = 10_000;

fn parse_code(dim: Dim, v: &str) -> Option<i64> {
    let v = v.trim();
    match dim {
        Dim::BudgetLevel => level_code(v).map(i64::from),
        Dim::Budget | Dim::Region | Dim::District => {
            if v == "000000000" && dim == Dim::Budget {
                return Some(0);
            }
            let k = Kato::parse(v).ok()?;
            k.as_str().parse().ok()
        }
        _ if dim.width() > 0 => (v.len() == dim.width() && v.bytes().all(|b| b.is_ascii_digit()))
            .then(|| v.parse().ok())
            .flatten(),
        _ => v.parse().ok(),
    }
}

/// Parses the query string into a `DataQuery`, naming every parameter that breaks a rule.
/// How an answer leaves: JSON, or CSV with a separator (None: the caller's language decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Csv { separator: Option<u8> },
}

pub fn parse_query(
    spec: &DatasetSpec,
    params: &HashMap<String, String>,
) -> Result<(DataQuery, Output), Vec<FieldError>> {
    let mut errors = vec![];
    let fiscal_year = match params.get("fiscal_year").map(|y| y.parse::<i16>()) {
        Some(Ok(y)) if (2000..=2100).contains(&y) => y,
        Some(_) => {
            errors.push(FieldError::new(
                "/fiscal_year",
                "fiscal_year",
                "a year from 2000 to 2100",
            ));
            0
        }
        None => {
            errors.push(FieldError::new("/fiscal_year", "required", "required"));
            0
        }
    };
    let mut group_by = vec![];
    for g in params
        .get("group_by")
        .map(|s| s.split(',').filter(|x| !x.is_empty()).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        match Dim::parse(g).filter(|d| spec.has(*d)) {
            Some(d) if !group_by.contains(&d) => group_by.push(d),
            Some(_) => {}
            None => errors.push(FieldError::new(
                "/group_by",
                "group_by",
                format!("{g} is not a dimension of {}", spec.name),
            )),
        }
    }
    let measures: Vec<String> = match params.get("measures") {
        Some(m) => {
            let list: Vec<String> = m
                .split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect();
            for x in &list {
                if !spec.measures.contains(&x.as_str()) {
                    errors.push(FieldError::new(
                        "/measures",
                        "measure",
                        format!("{x} is not a measure of {}", spec.name),
                    ));
                }
            }
            list
        }
        None => spec.measures.iter().map(|m| (*m).to_owned()).collect(),
    };
    let mut filters = vec![];
    for d in spec.dims.iter().filter(|d| **d != Dim::FiscalYear) {
        if let Some(raw) = params.get(d.name()) {
            let mut values = vec![];
            for v in raw.split(',') {
                match parse_code(*d, v) {
                    Some(c) => values.push(c),
                    None => errors.push(FieldError::new(
                        format!("/{}", d.name()),
                        "filter_value",
                        format!("{v} is not a {} code", d.name()),
                    )),
                }
            }
            filters.push((*d, values));
        }
    }
    let mut sort = vec![];
    for s in params
        .get("sort")
        .map(|s| s.split(',').filter(|x| !x.is_empty()).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let (name, descending) = s.strip_prefix('-').map(|n| (n, true)).unwrap_or((s, false));
        let known = measures.iter().any(|m| m == name) || group_by.iter().any(|d| d.name() == name);
        if known {
            sort.push(SortKey {
                column: name.to_owned(),
                descending,
            });
        } else {
            errors.push(FieldError::new(
                "/sort",
                "sort",
                format!("{name} is neither a chosen measure nor a grouping"),
            ));
        }
    }
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => {
            errors.push(FieldError::new("/limit", "limit", "from 1 to 10000"));
            100
        }
    };
    let offset = params
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let separator = match params.get("sep").map(String::as_str) {
        None => None,
        Some("comma" | ",") => Some(b','),
        Some("semicolon" | ";") => Some(b';'),
        Some("tab" | "\t") => Some(b'\t'),
        Some(_) => {
            errors.push(FieldError::new(
                "/sep",
                "separator",
                "comma, semicolon or tab",
            ));
            None
        }
    };
    let output = match params.get("format").map(String::as_str) {
        None | Some("json") => Output::Json,
        Some("csv") => Output::Csv { separator },
        Some(_) => {
            errors.push(FieldError::new("/format", "format", "json or csv"));
            Output::Json
        }
    };
    for key in params.keys() {
        let known = [
            "fiscal_year",
            "group_by",
            "measures",
            "sort",
            "limit",
            "offset",
            "format",
            "sep",
        ]
        .contains(&key.as_str())
            || spec.dims.iter().any(|d| d.name() == key);
        if !known {
            errors.push(FieldError::new(
                format!("/{key}"),
                "unknown_field",
                "not a parameter of this dataset",
            ));
        }
    }
    if errors.is_empty() {
        Ok((
            DataQuery {
                fiscal_year,
                group_by,
                filters,
                measures,
                sort,
                limit,
                offset,
            },
            output,
        ))
    } else {
        Err(errors)
    }
}

/// The caller's grant for `system` that is active today (Almaty date), if any, among the person's
/// own grants in the organization.
fn active_grant(grants: &[GrantRow], system: System, today: &str) -> Option<GrantRow> {
    grants
        .iter()
        .filter(|g| g.system == system.as_str() && g.status == "active")
        .filter(|g| g.valid_from.as_str() <= today && today <= g.valid_until.as_str())
        .max_by_key(|g| g.id)
        .cloned()
}

/// The levels a territory filter value implies: a budget's KATO is one budget of one level; a region
/// or district filter covers its own level and the ones below it.
fn implied_levels(d: Dim, kato: i64) -> Vec<&'static str> {
    match d {
        Dim::Budget if kato == 0 => vec!["republican"],
        Dim::Budget => match Kato::parse(&format!("{kato:09}")).map(|k| k.level()) {
            Ok(qoljetim_domain::KatoLevel::Region) => vec!["regional"],
            Ok(qoljetim_domain::KatoLevel::District) => vec!["district"],
            _ => vec!["rural"],
        },
        Dim::Region => vec!["regional", "district", "rural"],
        Dim::District => vec!["district", "rural"],
        _ => vec![""],
    }
}

fn grant_context(system: System, scope: &Scope) -> GrantContext {
    GrantContext {
        system: system.as_str().to_owned(),
        fiscal_years: scope.fiscal_years.iter().map(|y| i64::from(*y)).collect(),
        levels: scope
            .levels
            .iter()
            .map(|l| {
                serde_json::to_value(l)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect(),
        territory_prefix: scope.territory_prefix.clone().unwrap_or_default(),
        administrators: scope.administrators.clone(),
    }
}

fn describe(scope: &Scope) -> String {
    let years = scope
        .fiscal_years
        .iter()
        .map(|y| y.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let levels = scope
        .levels
        .iter()
        .map(|l| {
            serde_json::to_value(l)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(",");
    let territory = scope
        .territory
        .as_ref()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "—".into());
    let admins = if scope.administrators.is_empty() {
        "—".to_owned()
    } else {
        scope.administrators.join(",")
    };
    format!("fiscal_years={years}; levels={levels}; territory={territory}; administrators={admins}")
}

/// Writes the read's audit record; returns its sequence number (the export's id, Order 270 §15).
async fn audited(
    st: &AppState,
    c: &Caller,
    action: &str,
    resource: String,
    outcome: &str,
    policies: Vec<String>,
    details: Value,
) -> ApiResult<i64> {
    let e = qoljetim_store::AuditEntry {
        actor: c.actor_id(),
        actor_bin: Some(c.actor.bin.clone()),
        action: action.to_owned(),
        resource,
        outcome: outcome.to_owned(),
        ip: c.ip.clone(),
        policies,
        details,
        creates: None,
    };
    st.store
        .commit_touching(Change::None, e, c.touch())
        .await
        .map(|o| o.audit_seq)
        .map_err(ApiError::store)
}

#[utoipa::path(get, path = "/api/v1/data/{system}/{dataset}",
    params(("system" = String, Path, description = "analytical_central | state_planning"),
           ("dataset" = String, Path, description = "expenditure, revenue, budget_applications, indicators"),
           ("fiscal_year" = i16, Query), ("group_by" = Option<String>, Query), ("measures" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("limit" = Option<usize>, Query), ("offset" = Option<usize>, Query),
           ("format" = Option<String>, Query, description = "json | csv"),
           ("sep" = Option<String>, Query, description = "CSV separator: comma | semicolon | tab (default by language)")),
    responses((status = 200, description = "{rows, has_more, scope, notice, …} or CSV with leading # lines (Order 270 §15)"),
              (status = 403, description = "grant-inactive, data-out-of-scope"), (status = 503, description = "budget-data-unavailable")))]
pub async fn query(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((system, dataset)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let system: System = system
        .parse()
        .map_err(|()| ApiError::not_found(format!("system {system}")))?;
    let spec = DatasetSpec::find(system, &dataset)
        .ok_or_else(|| ApiError::not_found(format!("dataset {dataset}")))?;
    let resource = format!("data/{}/{}", system.as_str(), spec.name);
    let (q, output) = parse_query(spec, &params).map_err(ApiError::validation)?;
    let lang = Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let today = st.calendar.almaty_date(st.clock.now()).to_string();
    // The person's own grants, read directly: never a window of the organization's newest grants.
    let grants = st
        .store
        .grants_of_person(&caller.actor.iin, &caller.actor.bin)
        .await
        .map_err(ApiError::store)?;
    let Some(grant) = active_grant(&grants, system, &today) else {
        audited(
            &st,
            &caller,
            "query_data",
            resource,
            "refused:grant-inactive",
            vec![],
            json!({"filters": params}),
        )
        .await?;
        return Err(ApiError::new(Problem::GrantInactive).arg("system", system.as_str()));
    };
    let scope: Scope = serde_json::from_value(grant.scope.clone()).map_err(ApiError::internal)?;
    let ctx = grant_context(system, &scope);
    // Cedar decides each explicit filter value against every part of the scope it implies: a budget's
    // KATO implies its level and territory, a region or district its territory and the levels at and
    // below it, an administrator code the administrator. A value passes when some implied level does.
    let query_probe = |level: &str, territory: String, administrator: String| Resource::DataQuery {
        system: system.as_str().to_owned(),
        fiscal_year: i64::from(q.fiscal_year),
        level: level.to_owned(),
        territory,
        administrator,
    };
    let mut probes: Vec<(String, Vec<Resource>)> = vec![(
        format!("fiscal_year={}", q.fiscal_year),
        vec![query_probe("", String::new(), String::new())],
    )];
    for (d, values) in &q.filters {
        for v in values {
            let code = format_code(*d, *v);
            let label = format!("{}={code}", d.name());
            let candidates = match d {
                Dim::Budget | Dim::Region | Dim::District => {
                    let territory = if *v == 0 { String::new() } else { code.clone() };
                    implied_levels(*d, *v)
                        .into_iter()
                        .map(|l| query_probe(l, territory.clone(), String::new()))
                        .collect()
                }
                Dim::Administrator => vec![query_probe("", String::new(), code.clone())],
                Dim::BudgetLevel => vec![query_probe(&code, String::new(), String::new())],
                _ => continue,
            };
            probes.push((label, candidates));
        }
    }
    let mut policies = std::collections::BTreeSet::new();
    for (label, candidates) in probes {
        let mut refusal = None;
        let mut permitted = false;
        for r in &candidates {
            let d = st
                .policy
                .decide_data(&caller.actor, Action::QueryData, r, &ctx)
                .map_err(ApiError::internal)?;
            if d.allowed {
                policies.extend(d.policies);
                permitted = true;
                break;
            }
            refusal = Some(d.policies);
        }
        if !permitted {
            audited(
                &st,
                &caller,
                "query_data",
                resource,
                "denied",
                refusal.unwrap_or_default(),
                json!({"filters": params, "refused": label, "scope": grant.scope}),
            )
            .await?;
            return Err(ApiError::new(Problem::DataOutOfScope)
                .arg("filter", label)
                .arg("scope", describe(&scope)));
        }
    }
    let data_scope = DataScope::from_grant(&scope);
    let Some(engine) = st.budget.as_ref() else {
        return Err(ApiError::new(Problem::BudgetDataUnavailable));
    };
    let answer = engine
        .query(spec, &data_scope, &q)
        .await
        .map_err(ApiError::internal)?;
    let format = match output {
        Output::Json => "json",
        Output::Csv { .. } => "csv",
    };
    // Order 270 §15: the read's audit record is the export's id, so a leaked file names its reader.
    let audit_id = audited(
        &st,
        &caller,
        "query_data",
        resource,
        "allowed",
        policies.into_iter().collect(),
        json!({"grant": grant.id, "filters": params, "scope": grant.scope, "rows": answer.rows.len(),
               "export": {"format": format, "language": lang.code()}}),
    )
    .await?;
    let notice = ExportNotice {
        reader: caller.actor_id(),
        reader_name: caller
            .person
            .get("common_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        organization: caller.actor.bin.clone(),
        at: rfc3339_micros(caller.now),
        audit_id,
        lang,
    };
    if let Output::Csv { separator } = output {
        let separator = separator.unwrap_or(match lang {
            // A spreadsheet set to Kazakh or Russian reads `;` as the column separator (the decimal
            // separator there is the comma).
            Lang::Kk | Lang::Ru => b';',
            Lang::En => b',',
        });
        let body = csv_export(spec, system, &q, &answer, &notice, &params, separator)
            .map_err(ApiError::internal)?;
        let mut r = body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"qoljetim-{}-{}-{}-{audit_id}.csv\"",
            system.as_str(),
            spec.name,
            q.fiscal_year
        )) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        return Ok(r);
    }
    let rows: Vec<Value> = answer
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
            let values: serde_json::Map<String, Value> = answer
                .measures
                .iter()
                .zip(values)
                .map(|(m, v)| (m.clone(), json!(v)))
                .collect();
            json!({"group": group, "values": values})
        })
        .collect();
    Ok(Json(json!({
        "system": system.as_str(), "dataset": spec.name, "fiscal_year": q.fiscal_year,
        "group_by": answer.group_by, "measures": answer.measures, "unit": if spec.name == "indicators" { "unit" } else { "tiyn" },
        "scope": grant.scope, "rows": rows, "has_more": answer.has_more, "offset": q.offset, "limit": q.limit,
        "notice": notice.json(),
    }))
    .into_response())
}

/// Who read what, when, under which audit record, and the §15 duty, in the caller's language.
struct ExportNotice {
    reader: String,
    reader_name: String,
    organization: String,
    at: String,
    audit_id: i64,
    lang: Lang,
}

impl ExportNotice {
    fn text(&self) -> String {
        let reader = if self.reader_name.is_empty() {
            self.reader.clone()
        } else {
            format!("{} {}", self.reader_name, self.reader)
        };
        self.lang.text(
            "export-notice",
            &[
                ("reader", reader),
                ("organization", self.organization.clone()),
                ("at", self.at.clone()),
                ("audit_id", self.audit_id.to_string()),
            ],
        )
    }

    fn json(&self) -> Value {
        json!({
            "clause": "Order 270 §15", "text": self.text(), "reader": self.reader,
            "reader_name": self.reader_name, "organization_bin": self.organization, "at": self.at,
            "audit_id": self.audit_id, "language": self.lang.code(),
        })
    }
}

/// The CSV export (Order 270 §15): leading `#` lines say who read it, when, under which audit record,
/// what was asked and the unit; then a header and rows, a name column beside each code column. Written
/// with the `csv` crate (quoting as RFC 4180) with a byte-order mark for spreadsheets.
fn csv_export(
    spec: &DatasetSpec,
    system: System,
    q: &DataQuery,
    answer: &qoljetim_budget::DataAnswer,
    notice: &ExportNotice,
    params: &HashMap<String, String>,
    separator: u8,
) -> Result<Vec<u8>, String> {
    let lang = notice.lang;
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
        notice.text(),
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

/// Codes of a dimension with their names in the caller's language.
#[utoipa::path(get, path = "/api/v1/data/{system}/dimensions/{dim}",
    params(("system" = String, Path), ("dim" = String, Path)),
    responses((status = 200, description = "[{code, name}]")))]
pub async fn dimension(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((system, dim)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    let _: System = system
        .parse()
        .map_err(|()| ApiError::not_found(format!("system {system}")))?;
    let d = Dim::parse(&dim).ok_or_else(|| ApiError::not_found(format!("dimension {dim}")))?;
    let lang = Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let codes: Vec<i64> = match d {
        Dim::FunctionalGroup => qoljetim_budget::names::FUNCTIONAL_GROUPS
            .iter()
            .map(|x| x.0)
            .collect(),
        Dim::Specifics => qoljetim_budget::names::SPECIFICS
            .iter()
            .map(|x| x.0)
            .collect(),
        Dim::Administrator => qoljetim_budget::names::ADMINISTRATORS
            .iter()
            .map(|x| x.0)
            .collect(),
        Dim::BudgetLevel => (0..LEVELS.len() as i64).collect(),
        Dim::Region => qoljetim_domain::kato::REGIONS
            .iter()
            .filter_map(|r| r.code.parse().ok())
            .collect(),
        Dim::District => qoljetim_budget::generate::budgets()
            .iter()
            .filter(|b| b.level == 2)
            .map(|b| b.kato)
            .collect(),
        Dim::Budget => qoljetim_budget::generate::budgets()
            .iter()
            .map(|b| b.kato)
            .collect(),
        Dim::Month => (1..=12).collect(),
        Dim::Program | Dim::Subprogram => (0..=999).collect(),
        _ => vec![],
    };
    let mut seen = BTreeMap::new();
    for c in codes {
        seen.insert(c, qoljetim_budget::names::name(d, c, lang.code()));
    }
    // DESIGN.md §5: every signed-in request is audited and counts as activity.
    audited(
        &st,
        &caller,
        "read_dimension",
        format!("data/{system}/dimensions/{}", d.name()),
        "allowed",
        vec![],
        json!({}),
    )
    .await?;
    Ok(Json(
        seen.into_iter()
            .map(|(c, n)| json!({"code": format_code(d, c), "name": n}))
            .collect(),
    ))
}

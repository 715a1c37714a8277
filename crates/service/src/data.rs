//! Budget data reads (Order 270 §4–§6): read mode only, for a signed-in person whose grant for the
//! system is active today, within the scope fixed on the grant. Cedar decides the query's filters; the
//! engine applies the scope itself to every row; every read is audited with the scope applied.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use qoljetim_budget::engine::{DataQuery, DataScope, SortKey};
use qoljetim_budget::model::{DatasetSpec, Dim, LEVELS, format_code, level_code};
use qoljetim_domain::application::FieldError;
use qoljetim_domain::application::GrantStatus;
use qoljetim_domain::org::AdministratorCode;
use qoljetim_domain::{BudgetLevel, Kato, Scope, System};
use qoljetim_policy::{Action, Decision, GrantContext, PolicyEngine, PolicyError, Resource};
use qoljetim_store::{GrantRow, SystemGrantRow};
use serde_json::{Value, json};

use crate::audit::Attempt;
use crate::error::{DenialFacts, Problem, ServiceError, ServiceResult};
use crate::information_systems::SystemCaller;
use crate::toolbox::{entry, rfc3339_micros};
use crate::views::DimensionValue;
use crate::{Caller, Service};

/// Who reads budget data: a signed-in person, or (issue 18, Order 270 §3) an organization's own
/// information system signed in with its certificate. Both read under the same Cedar policies, each
/// with its own grant's scope; the audit record names which.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    Person(&'a Caller),
    System(&'a SystemCaller),
}

impl Reader<'_> {
    fn actor_id(&self) -> String {
        match self {
            Reader::Person(c) => c.actor_id(),
            Reader::System(s) => s.actor_id(),
        }
    }
    fn bin(&self) -> String {
        match self {
            Reader::Person(c) => c.actor.bin.to_string(),
            Reader::System(s) => s.actor.bin.to_string(),
        }
    }
    fn ip(&self) -> &str {
        match self {
            Reader::Person(c) => &c.ip,
            Reader::System(s) => &s.ip,
        }
    }
    fn now(&self) -> i64 {
        match self {
            Reader::Person(c) => c.now,
            Reader::System(s) => s.now,
        }
    }
    /// The name an export's notice gives: the person's, or the system's.
    fn name(&self) -> String {
        match self {
            Reader::Person(c) => c
                .person
                .get("common_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Reader::System(s) => s.name.clone(),
        }
    }
    /// A person's request counts as session activity; a system's token has no idle timeout.
    fn touch(&self) -> Option<(String, i64)> {
        match self {
            Reader::Person(c) => c.touch(),
            Reader::System(_) => None,
        }
    }
    /// The audit details' key of the grant read under.
    fn grant_key(&self) -> &'static str {
        match self {
            Reader::Person(_) => "grant",
            Reader::System(_) => "system_grant",
        }
    }
    fn decide(
        &self,
        policy: &PolicyEngine,
        resource: &Resource,
        ctx: &GrantContext,
    ) -> Result<Decision, PolicyError> {
        match self {
            Reader::Person(c) => policy.decide_data(&c.actor, Action::QueryData, resource, ctx),
            Reader::System(s) => {
                policy.decide_system_data(&s.actor, Action::QueryData, resource, ctx)
            }
        }
    }
}

/// A grant a reader may read under, a person's or a system's, as the data rules see it.
#[derive(Debug, Clone)]
struct ReadableGrant {
    id: i64,
    system: System,
    /// A person's grant is live while active or waiting for training; a system's while active.
    status: GrantStatus,
    valid_from: Date,
    valid_until: Date,
    scope: Scope,
    /// Order 270 §13 and §15 are about people: a system's grant counts as trained and accepted.
    trained: bool,
    duties_accepted: bool,
}

impl From<&GrantRow> for ReadableGrant {
    fn from(g: &GrantRow) -> Self {
        ReadableGrant {
            id: g.id,
            system: g.system,
            status: g.status,
            valid_from: g.valid_from,
            valid_until: g.valid_until,
            scope: g.scope.clone(),
            trained: g.status == GrantStatus::Active,
            duties_accepted: duties_accepted(g),
        }
    }
}

impl From<&SystemGrantRow> for ReadableGrant {
    fn from(g: &SystemGrantRow) -> Self {
        ReadableGrant {
            id: g.id,
            system: g.system,
            status: g.status,
            valid_from: g.valid_from,
            valid_until: g.valid_until,
            scope: g.scope.clone(),
            trained: true,
            duties_accepted: true,
        }
    }
}

const MAX_LIMIT: usize = 10_000;

/// The number of a code as the engine stores it (a KATO, a level's name, a fixed-width code).
pub fn parse_code(dim: Dim, v: &str) -> Option<i64> {
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

/// The reader's grant for `system` that is live today (Almaty date), if any, among its own grants in
/// the organization: active or waiting for training (Order 270 §13), today within its validity. A
/// grant ready to read (trained, duties accepted) is preferred, so that a renewal waiting for the new
/// lesson version leaves the running grant readable.
fn active_grant(grants: &[ReadableGrant], system: System, today: Date) -> Option<ReadableGrant> {
    grants
        .iter()
        .filter(|g| g.system == system && g.status.is_live())
        .filter(|g| g.valid_from <= today && today <= g.valid_until)
        .max_by_key(|g| (g.trained && g.duties_accepted, g.id))
        .cloned()
}

fn duties_accepted(g: &GrantRow) -> bool {
    !g.duties_required || g.duties_accepted_at.is_some()
}

/// The levels a territory filter value implies: a budget's KATO is one budget of one level; a region
/// or district filter covers its own level and the ones below it.
fn implied_levels(d: Dim, kato: Option<&Kato>) -> Vec<BudgetLevel> {
    use BudgetLevel as L;
    match (d, kato) {
        (Dim::Budget, None) => vec![L::Republican],
        (Dim::Budget, Some(k)) => match k.level() {
            qoljetim_domain::KatoLevel::Region => vec![L::Regional],
            qoljetim_domain::KatoLevel::District => vec![L::District],
            _ => vec![L::Rural],
        },
        (Dim::Region, _) => vec![L::Regional, L::District, L::Rural],
        _ => vec![L::District, L::Rural],
    }
}

fn grant_context(system: System, grant: &ReadableGrant) -> GrantContext {
    let scope = &grant.scope;
    GrantContext {
        system,
        fiscal_years: scope.fiscal_years.clone(),
        levels: scope.levels.clone(),
        territory_prefix: scope.territory_prefix.clone(),
        administrators: scope.administrators.clone(),
        // Chosen by `active_grant`: live, and today within its validity.
        active: true,
        trained: grant.trained,
        duties_accepted: grant.duties_accepted,
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
        .map(|l| l.as_str())
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
        scope
            .administrators
            .iter()
            .map(AdministratorCode::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    format!("fiscal_years={years}; levels={levels}; territory={territory}; administrators={admins}")
}

/// A read of budget data: the system and dataset of the path, the query string as written, and the
/// caller's language (names in answers, the §15 notice).
pub struct DataRequest {
    pub system: String,
    pub dataset: String,
    pub params: HashMap<String, String>,
    /// `kk`, `ru` or `en`.
    pub language: &'static str,
}

/// Who read what, when, under which audit record (Order 270 §15): the export's id is the read's audit
/// record.
pub struct ExportNotice {
    pub reader: String,
    pub reader_name: String,
    pub organization: String,
    pub at: String,
    pub audit_id: i64,
}

/// The answer of a scoped read, with everything an export of it names.
pub struct DataAnswerView {
    pub system: System,
    pub spec: &'static DatasetSpec,
    pub query: DataQuery,
    pub output: Output,
    pub answer: qoljetim_budget::DataAnswer,
    /// The grant's scope that was applied, as stored on the grant.
    pub scope: Scope,
    pub notice: ExportNotice,
    pub params: HashMap<String, String>,
}

/// The codes of one dimension of a system, with names in `language`.
pub struct DimensionRequest {
    pub system: String,
    pub dimension: String,
    pub language: &'static str,
}

impl Service {
    /// Order 270 §4–§6: a read of one dataset in read mode only, for a signed-in person whose grant for
    /// the system is active today, within the grant's scope. Cedar decides each filter; the engine
    /// applies the scope to every row; the read is audited with the scope applied.
    pub async fn query_data(
        &self,
        reader: Reader<'_>,
        r: DataRequest,
    ) -> ServiceResult<DataAnswerView> {
        let attempt = Attempt::default();
        let result = self.query_data_in(&attempt, reader, r).await;
        self.settle(attempt, result).await
    }

    /// The reader's own grants: a person's, read directly (never a window of the organization's
    /// newest grants), or the system's, as its token's check read them on this request.
    async fn readable_grants(&self, reader: Reader<'_>) -> ServiceResult<Vec<ReadableGrant>> {
        Ok(match reader {
            Reader::Person(c) => self
                .store
                .grants_of_person(c.actor.iin.as_str(), c.actor.bin.as_str())
                .await
                .map_err(ServiceError::store)?
                .iter()
                .map(ReadableGrant::from)
                .collect(),
            Reader::System(s) => s.grants.iter().map(ReadableGrant::from).collect(),
        })
    }

    async fn query_data_in(
        &self,
        attempt: &Attempt,
        reader: Reader<'_>,
        r: DataRequest,
    ) -> ServiceResult<DataAnswerView> {
        let DataRequest {
            system,
            dataset,
            params,
            language,
        } = r;
        let system: System = system
            .parse()
            .map_err(|()| ServiceError::not_found(format!("system {system}")))?;
        let spec = DatasetSpec::find(system, &dataset)
            .ok_or_else(|| ServiceError::not_found(format!("dataset {dataset}")))?;
        let resource = format!("data/{}/{}", system.as_str(), spec.name);
        let (q, output) = parse_query(spec, &params).map_err(ServiceError::validation)?;
        let today = self.calendar.almaty_date(self.clock.now());
        let mut e = entry(
            reader.actor_id(),
            Some(reader.bin()),
            "query_data",
            resource,
            String::new(),
            reader.ip(),
        );
        e.details = json!({"filters": params});
        attempt.begin(e, reader.touch());
        let grants = self.readable_grants(reader).await?;
        let Some(grant) = active_grant(&grants, system, today) else {
            // Cedar decides on the fact: no grant for the system is active today (`grant-not-active`).
            let inactive = GrantContext {
                system,
                fiscal_years: vec![],
                levels: vec![],
                territory_prefix: None,
                administrators: vec![],
                active: false,
                trained: false,
                duties_accepted: false,
            };
            let probe = Resource::DataQuery {
                system,
                fiscal_year: q.fiscal_year,
                level: None,
                territory: None,
                administrator: None,
            };
            let d = reader
                .decide(&self.policy, &probe, &inactive)
                .map_err(ServiceError::internal)?;
            if d.allowed {
                return Err(ServiceError::internal(
                    "a read was permitted without an active grant",
                ));
            }
            attempt.update(|e| {
                e.outcome = "denied".into();
                e.policies = d.policies.clone();
            });
            return Err(ServiceError::denied(
                "query_data",
                &d.policies,
                DenialFacts {
                    system: system.as_str().to_owned(),
                    ..DenialFacts::default()
                },
            ));
        };
        let scope = grant.scope.clone();
        self.training_gate(attempt, reader, system, &q, &grant)
            .await?;
        let policies = self.decide_filters(attempt, reader, system, &q, &grant, &scope, &params)?;
        let data_scope = DataScope::from_grant(&scope);
        let Some(engine) = self.budget.as_ref() else {
            return Err(ServiceError::new(Problem::BudgetDataUnavailable));
        };
        let answer = engine
            .query(spec, &data_scope, &q)
            .await
            .map_err(ServiceError::internal)?;
        let format = match output {
            Output::Json => "json",
            Output::Csv { .. } => "csv",
        };
        attempt.update(|e| {
            e.outcome = "allowed".into();
            e.policies = policies;
            e.details = json!({"filters": params, "scope": grant.scope, "rows": answer.rows.len(),
               "export": {"format": format, "language": language}});
            e.details[reader.grant_key()] = json!(grant.id);
        });
        // Order 270 §15: the read's audit record is the export's id, so a leaked file names its reader.
        let audit_id = self.record(attempt).await?;
        Ok(DataAnswerView {
            system,
            spec,
            query: q,
            output,
            answer,
            scope: grant.scope.clone(),
            notice: ExportNotice {
                reader: reader.actor_id(),
                reader_name: reader.name(),
                organization: reader.bin(),
                at: rfc3339_micros(reader.now()),
                audit_id,
            },
            params,
        })
    }

    /// Order 270 §13 and §15: a live grant whose person is not trained yet, or has not accepted the
    /// duties, reads nothing; Cedar's forbid names which (`training-required`, `duties-not-accepted`),
    /// and the problem says what to do (the system's lesson, the grant's duties page).
    async fn training_gate(
        &self,
        attempt: &Attempt,
        reader: Reader<'_>,
        system: System,
        q: &DataQuery,
        grant: &ReadableGrant,
    ) -> ServiceResult<()> {
        let ctx = grant_context(system, grant);
        if ctx.trained && ctx.duties_accepted {
            // Cedar still decides every filter under this context (`decide_filters`).
            return Ok(());
        }
        let probe = Resource::DataQuery {
            system,
            fiscal_year: q.fiscal_year,
            level: None,
            territory: None,
            administrator: None,
        };
        let d = reader
            .decide(&self.policy, &probe, &ctx)
            .map_err(ServiceError::internal)?;
        if d.allowed {
            return Err(ServiceError::internal(
                "a read was permitted before training or the duties",
            ));
        }
        let lesson = self
            .store
            .current_lessons()
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .find(|l| l.system == system)
            .map(|l| l.id)
            .unwrap_or_default();
        attempt.update(|e| {
            e.outcome = "denied".into();
            e.policies = d.policies.clone();
            e.details = json!({"grant": grant.id, "status": grant.status.as_str(),
                "duties_accepted": ctx.duties_accepted});
        });
        Err(ServiceError::denied(
            "query_data",
            &d.policies,
            DenialFacts {
                system: system.as_str().to_owned(),
                grant: Some(grant.id),
                lesson,
                ..DenialFacts::default()
            },
        ))
    }

    /// Cedar decides each explicit filter value against every part of the scope it implies: a budget's
    /// KATO implies its level and territory, a region or district its territory and the levels at and
    /// below it, an administrator code the administrator. A value passes when some implied level does.
    /// The first value no policy permits is `data-out-of-scope` (recorded as denied, with the scope).
    #[allow(clippy::too_many_arguments)]
    fn decide_filters(
        &self,
        attempt: &Attempt,
        reader: Reader<'_>,
        system: System,
        q: &DataQuery,
        grant: &ReadableGrant,
        scope: &Scope,
        params: &HashMap<String, String>,
    ) -> ServiceResult<Vec<String>> {
        let ctx = grant_context(system, grant);
        let query_probe = |level: Option<BudgetLevel>,
                           territory: Option<Kato>,
                           administrator: Option<AdministratorCode>| {
            Resource::DataQuery {
                system,
                fiscal_year: q.fiscal_year,
                level,
                territory,
                administrator,
            }
        };
        // The filter values were parsed by `parse_query`: a code that does not parse here is a bug.
        let stray = |code: &str| ServiceError::internal(format!("filter code {code}"));
        let mut probes: Vec<(String, Vec<Resource>)> = vec![(
            format!("fiscal_year={}", q.fiscal_year),
            vec![query_probe(None, None, None)],
        )];
        for (d, values) in &q.filters {
            for v in values {
                let code = format_code(*d, *v);
                let label = format!("{}={code}", d.name());
                let candidates = match d {
                    Dim::Budget | Dim::Region | Dim::District => {
                        let territory = if *v == 0 {
                            None
                        } else {
                            Some(Kato::parse(&code).map_err(|_| stray(&code))?)
                        };
                        implied_levels(*d, territory.as_ref())
                            .into_iter()
                            .map(|l| query_probe(Some(l), territory.clone(), None))
                            .collect()
                    }
                    Dim::Administrator => {
                        let admin = AdministratorCode::parse(&code).map_err(|_| stray(&code))?;
                        vec![query_probe(None, None, Some(admin))]
                    }
                    Dim::BudgetLevel => {
                        let level = BudgetLevel::parse(&code).ok_or_else(|| stray(&code))?;
                        vec![query_probe(Some(level), None, None)]
                    }
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
                let d = reader
                    .decide(&self.policy, r, &ctx)
                    .map_err(ServiceError::internal)?;
                if d.allowed {
                    policies.extend(d.policies);
                    permitted = true;
                    break;
                }
                refusal = Some(d.policies);
            }
            if !permitted {
                attempt.update(|e| {
                    e.outcome = "denied".into();
                    e.policies = refusal.unwrap_or_default();
                    e.details = json!({"filters": params, "refused": label, "scope": grant.scope});
                });
                return Err(ServiceError::new(Problem::DataOutOfScope {
                    filter: label.to_string(),
                    scope: describe(scope),
                }));
            }
        }
        Ok(policies.into_iter().collect())
    }

    /// Codes of a dimension with their names in the caller's language (a signed-in read, audited).
    pub async fn dimension(
        &self,
        reader: Reader<'_>,
        r: DimensionRequest,
    ) -> ServiceResult<Vec<DimensionValue>> {
        let _: System = r
            .system
            .parse()
            .map_err(|()| ServiceError::not_found(format!("system {}", r.system)))?;
        let d = Dim::parse(&r.dimension)
            .ok_or_else(|| ServiceError::not_found(format!("dimension {}", r.dimension)))?;
        let codes = dimension_codes(d);
        let mut seen = BTreeMap::new();
        for c in codes {
            seen.insert(c, qoljetim_budget::names::name(d, c, r.language));
        }
        // DESIGN.md §5: every signed-in request is audited and counts as activity.
        let attempt = Attempt::default();
        attempt.begin(
            entry(
                reader.actor_id(),
                Some(reader.bin()),
                "read_dimension",
                format!("data/{}/dimensions/{}", r.system, d.name()),
                "allowed".into(),
                reader.ip(),
            ),
            reader.touch(),
        );
        self.record(&attempt).await?;
        Ok(seen
            .into_iter()
            .map(|(c, name)| DimensionValue {
                code: format_code(d, c),
                name,
            })
            .collect())
    }
}

fn dimension_codes(d: Dim) -> Vec<i64> {
    match d {
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
    }
}

/// What the budget explorer offers a person: for each system whose grant is active today, its
/// datasets and only the filter values inside the grant's scope (issue 14).
#[derive(Debug, serde::Serialize)]
pub struct ExplorerChoices {
    pub system: &'static str,
    pub datasets: Vec<ExplorerDataset>,
    pub fiscal_years: Vec<i16>,
    pub levels: Vec<&'static str>,
    /// The grant's territory's region, or every region when the scope has no territory.
    pub regions: Vec<DimensionValue>,
    /// The scope's administrators; empty when the scope does not limit them.
    pub administrators: Vec<DimensionValue>,
    /// The grant's scope (the pages say it in words).
    pub scope: crate::views::ScopeView,
}

#[derive(Debug, serde::Serialize)]
pub struct ExplorerDataset {
    pub name: &'static str,
    pub dims: Vec<&'static str>,
    pub measures: Vec<&'static str>,
}

impl Service {
    /// The explorer's choices from the person's own grants active today (Almaty). Reads only the
    /// caller's own grants, like `me`; the queries made with the choices are decided and audited by
    /// `query_data`, which refuses a value typed by hand outside the scope.
    pub async fn explorer_choices(
        &self,
        caller: &Caller,
        language: &str,
    ) -> ServiceResult<Vec<ExplorerChoices>> {
        let today = self.calendar.almaty_date(self.clock.now());
        let grants = self.readable_grants(Reader::Person(caller)).await?;
        let region_name = |r: &qoljetim_domain::kato::Region| match language {
            "kk" => r.name_kk,
            "ru" => r.name_ru,
            _ => r.name_en,
        };
        let mut out = vec![];
        for system in [System::AnalyticalCentral, System::StatePlanning] {
            let Some(grant) = active_grant(&grants, system, today) else {
                continue;
            };
            let scope = &grant.scope;
            let regions = match scope.territory.as_ref() {
                Some(t) => t.region().into_iter().collect::<Vec<_>>(),
                None => qoljetim_domain::kato::REGIONS.iter().collect(),
            };
            out.push(ExplorerChoices {
                system: system.as_str(),
                datasets: qoljetim_budget::model::DATASETS
                    .iter()
                    .filter(|d| d.system == system)
                    .map(|d| ExplorerDataset {
                        name: d.name,
                        dims: d.dims.iter().map(|x| x.name()).collect(),
                        measures: d.measures.to_vec(),
                    })
                    .collect(),
                fiscal_years: scope.fiscal_years.clone(),
                levels: scope.levels.iter().map(|l| l.as_str()).collect(),
                regions: regions
                    .into_iter()
                    .map(|r| DimensionValue {
                        code: r.code.to_owned(),
                        name: Some(region_name(r).to_owned()),
                    })
                    .collect(),
                administrators: scope
                    .administrators
                    .iter()
                    .map(|a| DimensionValue {
                        code: a.as_str().to_owned(),
                        name: qoljetim_budget::names::name(
                            Dim::Administrator,
                            i64::from(a.number()),
                            language,
                        ),
                    })
                    .collect(),
                scope: crate::views::ScopeView::from(scope),
            });
        }
        Ok(out)
    }
}

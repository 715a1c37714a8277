//! Budget data tests: the generator's proportions, import rules, and the scope filter held against
//! Cedar as the oracle, row by row (Order 270 §6).

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use qoljetim_domain::org::AdministratorCode;
use qoljetim_domain::{BudgetLevel, Kato, System};
use qoljetim_policy::{Action, Actor, GrantContext, PolicyEngine, Resource};

use arrow_array::RecordBatch;

use crate::engine::{BudgetTables, DataQuery, DataScope, SortKey, current_files};
use crate::generate::{Rng, budgets, expenditure, generate};
use crate::model::{DATASETS, Dim, format_code};

fn temp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("qoljetim-budget-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_default();
    dir
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn expenditure_spec() -> &'static crate::model::DatasetSpec {
    &DATASETS[0]
}

fn everything(years: Vec<i16>) -> DataScope {
    DataScope {
        fiscal_years: years,
        levels: vec![0, 1, 2, 3],
        territory_prefix: None,
        administrators: vec![],
    }
}

fn query(year: i16, group_by: Vec<Dim>, measures: &[&str]) -> DataQuery {
    DataQuery {
        fiscal_year: year,
        group_by,
        filters: vec![],
        measures: measures.iter().map(|m| (*m).to_owned()).collect(),
        sort: vec![],
        limit: 100_000,
        offset: 0,
    }
}

#[test]
fn budgets_of_the_country() {
    let b = budgets();
    let count = |l: i8| b.iter().filter(|x| x.level == l).count();
    assert_eq!(count(0), 1);
    assert_eq!(count(1), 20);
    assert!(
        (195..=225).contains(&count(2)),
        "~210 district budgets, got {}",
        count(2)
    );
    assert!(
        (2100..=2400).contains(&count(3)),
        "~2,250 rural budgets, got {}",
        count(3)
    );
}

#[test]
fn generated_rows_keep_paid_within_registered_within_plan() {
    let mut rng = Rng::new(7);
    let batch = expenditure(&mut rng, &budgets(), 2025, 20_000).unwrap_or_else(|e| panic!("{e}"));
    let col = |n: &str| {
        batch
            .column_by_name(n)
            .cloned()
            .unwrap_or_else(|| panic!("{n}"))
    };
    let (plan, reg, paid) = (
        col("corrected_plan"),
        col("registered_obligations"),
        col("paid"),
    );
    for r in 0..batch.num_rows() {
        let (p, g, d) = (
            crate::engine::int_at(&plan, r),
            crate::engine::int_at(&reg, r),
            crate::engine::int_at(&paid, r),
        );
        assert!(
            0 <= d && d <= g && g <= p,
            "row {r}: paid {d} registered {g} plan {p}"
        );
    }
}

#[test]
fn generated_totals_and_shapes_are_realistic() {
    let dir = temp("gen");
    generate(&dir, 60_000, 42, &[2025, 2026]).unwrap_or_else(|e| panic!("{e}"));
    rt().block_on(async {
        let store = BudgetTables::open(&dir)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let spec = expenditure_spec();
        // Republican spending 2026 ≈ 26.28 trillion tenge = 2.628e15 tiyn.
        let mut q = query(2026, vec![Dim::BudgetLevel], &["approved_plan"]);
        q.filters.push((Dim::BudgetLevel, vec![0]));
        let a = store
            .run(spec, &everything(vec![2026]), &q)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let rep = a.rows[0].1[0] as f64;
        assert!(
            (rep / 2.628e15 - 1.0).abs() < 0.01,
            "republican 2026: {rep}"
        );
        // Education is the largest local function.
        let mut q = query(2026, vec![Dim::FunctionalGroup], &["approved_plan"]);
        q.filters.push((Dim::BudgetLevel, vec![1, 2, 3]));
        q.sort.push(SortKey {
            column: "approved_plan".into(),
            descending: true,
        });
        let a = store
            .run(spec, &everything(vec![2026]), &q)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.rows[0].0, vec!["04".to_owned()]);
        // December carries the most execution (2025, a closed year).
        let mut q = query(2025, vec![Dim::Month], &["paid"]);
        q.sort.push(SortKey {
            column: "paid".into(),
            descending: true,
        });
        let a = store
            .run(spec, &everything(vec![2025]), &q)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.rows[0].0, vec!["12".to_owned()]);
        // All 20 regions have data.
        let mut q = query(2026, vec![Dim::Region], &["paid"]);
        q.filters.push((Dim::BudgetLevel, vec![1]));
        let a = store
            .run(spec, &everything(vec![2026]), &q)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.rows.len(), 20);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// A row's KATO as the policy sees it: None for the republican budget (code 0).
fn territory(kato: i64) -> Option<Kato> {
    (kato != 0)
        .then(|| Kato::parse(&format!("{kato:09}")).unwrap_or_else(|e| panic!("{kato}: {e}")))
}

fn admin(code: i64) -> AdministratorCode {
    AdministratorCode::parse(&format!("{code:03}")).unwrap_or_else(|e| panic!("{code}: {e}"))
}

fn grant(scope: &DataScope) -> GrantContext {
    GrantContext {
        system: System::AnalyticalCentral,
        fiscal_years: scope.fiscal_years.clone(),
        levels: scope
            .levels
            .iter()
            .map(|l| BudgetLevel::ALL[*l as usize])
            .collect(),
        territory_prefix: scope.territory_prefix.clone(),
        active: true,
        trained: true,
        duties_accepted: true,
        administrators: scope
            .administrators
            .iter()
            .map(|a| admin(i64::from(*a)))
            .collect(),
    }
}

fn actor() -> Actor {
    Actor {
        iin: qoljetim_domain::Iin::parse("871008401427").unwrap_or_else(|e| panic!("{e}")),
        bin: qoljetim_domain::Bin::parse("940140000385").unwrap_or_else(|e| panic!("{e}")),
        org_kind: None,
        roles: vec![],
    }
}

/// Every raw expenditure row of a small generated set, as (key, paid).
fn raw_rows(dir: &std::path::Path) -> Vec<([i64; 9], i64)> {
    let mut out = vec![];
    for f in current_files(dir, expenditure_spec()) {
        let file = std::fs::File::open(f).unwrap_or_else(|e| panic!("{e}"));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .unwrap_or_else(|e| panic!("{e}"));
        for b in reader.flatten() {
            let names = [
                "fiscal_year",
                "month",
                "budget_level",
                "budget",
                "functional_group",
                "administrator",
                "program",
                "subprogram",
                "specifics",
            ];
            let cols: Vec<_> = names
                .iter()
                .map(|n| {
                    b.column_by_name(n)
                        .cloned()
                        .unwrap_or_else(|| panic!("{n}"))
                })
                .collect();
            let paid = b
                .column_by_name("paid")
                .cloned()
                .unwrap_or_else(|| panic!("paid"));
            for r in 0..b.num_rows() {
                let mut key = [0i64; 9];
                for (k, c) in cols.iter().enumerate() {
                    key[k] = crate::engine::int_at(c, r);
                }
                out.push((key, crate::engine::int_at(&paid, r)));
            }
        }
    }
    out
}

fn scope_strategy() -> impl Strategy<Value = DataScope> {
    let prefixes = prop_oneof![
        Just(None),
        Just(Some("75".to_owned())),
        Just(Some("71".to_owned())),
        Just(Some("19".to_owned())),
        Just(Some("1910".to_owned())),
        Just(Some("1912".to_owned())),
        Just(Some("191010".to_owned())),
    ];
    let levels = proptest::sample::subsequence(vec![0i8, 1, 2, 3], 0..=4);
    let admins = prop_oneof![
        Just(vec![]),
        Just(vec![252i16]),
        Just(vec![352i16]),
        Just(vec![217i16, 464])
    ];
    let years = prop_oneof![
        Just(vec![2025i16, 2026]),
        Just(vec![2026i16]),
        Just(vec![2027i16])
    ];
    (years, levels, prefixes, admins).prop_map(
        |(fiscal_years, levels, territory_prefix, administrators)| DataScope {
            fiscal_years,
            levels,
            territory_prefix,
            administrators,
        },
    )
}

// Order 270 §6, DESIGN.md §5: a row is in the answer exactly when Cedar permits the caller to read it,
// and totals include nothing else.
#[test]
fn scope_filter_matches_cedar_row_by_row() {
    let dir = temp("oracle");
    generate(&dir, 3_000, 11, &[2026]).unwrap_or_else(|e| panic!("{e}"));
    let rows = raw_rows(&dir);
    let engine = PolicyEngine::new().unwrap_or_else(|e| panic!("{e}"));
    let runtime = rt();
    let store = runtime
        .block_on(BudgetTables::open(&dir))
        .unwrap_or_else(|e| panic!("{e}"));
    let all_dims = vec![
        Dim::FiscalYear,
        Dim::Month,
        Dim::BudgetLevel,
        Dim::Budget,
        Dim::FunctionalGroup,
        Dim::Administrator,
        Dim::Program,
        Dim::Subprogram,
        Dim::Specifics,
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    });
    let result = runner.run(&scope_strategy(), |scope| {
        let ctx = grant(&scope);
        let mut expected: BTreeSet<Vec<String>> = BTreeSet::new();
        let mut expected_paid: i64 = 0;
        for (key, paid) in &rows {
            let row = Resource::BudgetRow {
                system: System::AnalyticalCentral,
                fiscal_year: key[0] as i16,
                level: BudgetLevel::ALL[key[2] as usize],
                territory: territory(key[3]),
                administrator: admin(key[5]),
            };
            let d = engine
                .decide_data(&actor(), Action::ReadData, &row, &ctx)
                .unwrap_or_else(|e| panic!("{e}"));
            // The engine's own row rule agrees with Cedar too.
            prop_assert_eq!(
                d.allowed,
                scope.admits(key[0] as i16, key[2] as i8, key[3], key[5] as i16)
            );
            if d.allowed {
                expected.insert(
                    all_dims
                        .iter()
                        .zip(key.iter())
                        .map(|(dim, v)| format_code(*dim, *v))
                        .collect(),
                );
                expected_paid += paid;
            }
        }
        let q = query(2026, all_dims.clone(), &["paid"]);
        let answer = runtime
            .block_on(store.run(expenditure_spec(), &scope, &q))
            .unwrap_or_else(|e| panic!("{e}"));
        let got: BTreeSet<Vec<String>> = answer.rows.iter().map(|r| r.0.clone()).collect();
        prop_assert_eq!(&got, &expected);
        let total = runtime
            .block_on(store.run(expenditure_spec(), &scope, &query(2026, vec![], &["paid"])))
            .unwrap_or_else(|e| panic!("{e}"));
        let total_paid = total.rows.first().map(|r| r.1[0]).unwrap_or(0);
        prop_assert_eq!(total_paid, expected_paid);
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{e}");
    }
}

const HEADER: &str = "version,fiscal_year,month,budget_level,budget,functional_group,administrator,program,subprogram,specifics,approved_plan,refined_plan,corrected_plan,financing_plan,plan_to_date_payments,plan_to_date_obligations,registered_obligations,paid,unpaid";

fn parquet_rows(dir: &std::path::Path) -> usize {
    current_files(dir, expenditure_spec())
        .into_iter()
        .map(|f| {
            let file = std::fs::File::open(f).unwrap_or_else(|e| panic!("{e}"));
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .map(|b| b.metadata().file_metadata().num_rows() as usize)
                .unwrap_or(0)
        })
        .sum()
}

// DESIGN.md §6: a load is all or nothing, and the same (dataset, fiscal year, version) replaces itself.
#[test]
fn import_checks_every_row_and_replaces_by_key() {
    let dir = temp("import");
    let csv = dir.join("expenditure.csv");
    let row = |level: &str, kato: &str, paid: &str| {
        format!("v1,2026,3,{level},{kato},04,261,001,015,111,100,100,100,100,100,100,90,{paid},10")
    };
    std::fs::write(
        &csv,
        format!(
            "\u{feff}{HEADER}\n{}\n{}\n{}\n",
            row("regional", "750000000", "80"),
            row("district", "194000000", "80"),
            row("republican", "000000000", "80")
        ),
    )
    .unwrap_or_default();
    let loaded =
        crate::import::import(&dir, &[csv.as_path()], &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.len(), 1);
    assert_eq!((loaded[0].fiscal_year, loaded[0].rows), (2026, 3));
    assert_eq!(parquet_rows(&dir), 3);
    // Loading the same key again replaces it instead of doubling it.
    std::fs::write(
        &csv,
        format!(
            "{HEADER}\n{}\n{}\n",
            row("regional", "750000000", "80"),
            row("rural", "194010000", "80")
        ),
    )
    .unwrap_or_default();
    crate::import::import(&dir, &[csv.as_path()], &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parquet_rows(&dir), 2);
    let files_before: Vec<_> = walk(&dir);
    // A bad row names file, line, column and rule, and nothing of that load is kept.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{HEADER}\n{}\n{}\n",
            row("regional", "750000000", "80"),
            row("regional", "194000000", "80")
        )
        .replace("v1,", "v2,"),
    )
    .unwrap_or_default();
    match crate::import::import(&dir, &[bad.as_path()], &|_| {}) {
        Err(crate::BudgetError::Row {
            line, column, rule, ..
        }) => {
            assert_eq!((line, column.as_str()), (3, "budget"));
            assert!(rule.starts_with("budget_level_mismatch"), "{rule}");
        }
        other => panic!("expected a row error, got {other:?}"),
    }
    std::fs::write(
        &bad,
        format!(
            "{HEADER}\n{}\n",
            row("regional", "750000000", "1.5").replace("v1,", "v2,")
        ),
    )
    .unwrap_or_default();
    match crate::import::import(&dir, &[bad.as_path()], &|_| {}) {
        Err(crate::BudgetError::Row {
            line, column, rule, ..
        }) => {
            assert_eq!((line, column.as_str()), (2, "paid"));
            assert!(rule.starts_with("integer_tiyn"), "{rule}");
        }
        other => panic!("expected a row error, got {other:?}"),
    }
    assert_eq!(walk(&dir), files_before, "nothing of a failed load is kept");
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().ends_with(".csv") && !p.ends_with("manifest.json") {
                out.push(p.to_string_lossy().to_string());
            }
        }
    }
    out.sort();
    out
}

// The same rules hold for a Parquet file with the import columns.
#[test]
fn parquet_import_uses_the_same_rules() {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    let dir = temp("pq");
    let cols: Vec<&str> = HEADER.split(',').collect();
    let schema = std::sync::Arc::new(Schema::new(
        cols.iter()
            .map(|c| {
                Field::new(
                    *c,
                    if *c == "version" || *c == "budget_level" {
                        DataType::Utf8
                    } else {
                        DataType::Int64
                    },
                    false,
                )
            })
            .collect::<Vec<_>>(),
    ));
    let values = |kato: i64, fg: i64| -> Vec<ArrayRef> {
        cols.iter()
            .map(|c| -> ArrayRef {
                match *c {
                    "version" => std::sync::Arc::new(StringArray::from(vec!["pq1"])),
                    "budget_level" => std::sync::Arc::new(StringArray::from(vec!["regional"])),
                    "fiscal_year" => std::sync::Arc::new(Int64Array::from(vec![2026])),
                    "month" => std::sync::Arc::new(Int64Array::from(vec![5])),
                    "budget" => std::sync::Arc::new(Int64Array::from(vec![kato])),
                    "functional_group" => std::sync::Arc::new(Int64Array::from(vec![fg])),
                    "administrator" => std::sync::Arc::new(Int64Array::from(vec![261])),
                    "program" => std::sync::Arc::new(Int64Array::from(vec![1])),
                    "subprogram" => std::sync::Arc::new(Int64Array::from(vec![15])),
                    "specifics" => std::sync::Arc::new(Int64Array::from(vec![111])),
                    _ => std::sync::Arc::new(Int64Array::from(vec![0])),
                }
            })
            .collect()
    };
    let write = |path: &std::path::Path, kato: i64, fg: i64| {
        let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        w.write(
            &RecordBatch::try_new(schema.clone(), values(kato, fg))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        w.close().unwrap_or_else(|e| panic!("{e}"));
    };
    let good = dir.join("good.parquet");
    write(&good, 750_000_000, 4);
    let loaded =
        crate::import::import(&dir, &[good.as_path()], &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((loaded[0].version.as_str(), loaded[0].rows), ("pq1", 1));
    // Codes travel as integers in Parquet: functional group 0 is not 01..15.
    let bad = dir.join("bad.parquet");
    write(&bad, 750_000_000, 0);
    match crate::import::import(&dir, &[bad.as_path()], &|_| {}) {
        Err(crate::BudgetError::Row { line, column, .. }) => {
            assert_eq!((line, column.as_str()), (2, "functional_group"))
        }
        other => panic!("expected a row error, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The territories of the generated cases: the republican budget (0) and budgets of every level in
/// two regions, with sibling districts and rural districts (KATO, level).
const TERRITORIES: [(i64, i8); 13] = [
    (0, 0),
    (750_000_000, 1),
    (710_000_000, 1),
    (190_000_000, 1),
    (350_000_000, 1),
    (191_000_000, 2),
    (191_200_000, 2),
    (194_000_000, 2),
    (351_000_000, 2),
    (191_010_000, 3),
    (191_020_000, 3),
    (191_210_000, 3),
    (194_010_000, 3),
];
const ADMINISTRATORS: [i16; 5] = [101, 217, 252, 352, 464];

/// One generated row: (fiscal year, month, territory index, functional group, administrator, program,
/// paid).
type GenRow = (i16, i8, usize, i8, i16, i16, i64);

fn gen_rows() -> impl Strategy<Value = Vec<GenRow>> {
    proptest::collection::vec(
        (
            2025i16..=2027,
            1i8..=12,
            0..TERRITORIES.len(),
            1i8..=15,
            proptest::sample::select(ADMINISTRATORS.to_vec()),
            1i16..=4,
            0i64..1_000_000_000,
        ),
        0..40,
    )
}

fn gen_batch(rows: &[GenRow]) -> RecordBatch {
    use arrow_array::{ArrayRef, Int8Array, Int16Array, Int64Array};
    use std::sync::Arc;
    let spec = expenditure_spec();
    let mut cols: Vec<ArrayRef> = vec![];
    for d in spec.dims {
        let v = |f: &dyn Fn(&GenRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
        let values = match d {
            Dim::FiscalYear => v(&|r| i64::from(r.0)),
            Dim::Month => v(&|r| i64::from(r.1)),
            Dim::BudgetLevel => v(&|r| i64::from(TERRITORIES[r.2].1)),
            Dim::Budget => v(&|r| TERRITORIES[r.2].0),
            Dim::Region => v(&|r| crate::model::region_of(TERRITORIES[r.2].0)),
            Dim::District => {
                v(&|r| crate::model::district_of(TERRITORIES[r.2].0, TERRITORIES[r.2].1))
            }
            Dim::FunctionalGroup => v(&|r| i64::from(r.3)),
            Dim::Administrator => v(&|r| i64::from(r.4)),
            Dim::Program => v(&|r| i64::from(r.5)),
            Dim::Subprogram => v(&|_| 0),
            Dim::Specifics => v(&|_| 111),
            _ => v(&|_| 0),
        };
        cols.push(match d.data_type() {
            arrow_schema::DataType::Int8 => Arc::new(Int8Array::from(
                values.iter().map(|x| *x as i8).collect::<Vec<_>>(),
            )),
            arrow_schema::DataType::Int16 => Arc::new(Int16Array::from(
                values.iter().map(|x| *x as i16).collect::<Vec<_>>(),
            )),
            _ => Arc::new(Int64Array::from(values)),
        });
    }
    for m in spec.measures {
        let values: Vec<i64> = rows
            .iter()
            .map(|r| if *m == "paid" { r.6 } else { 1 })
            .collect();
        cols.push(Arc::new(Int64Array::from(values)));
    }
    RecordBatch::try_new(spec.schema(), cols).unwrap_or_else(|e| panic!("{e}"))
}

/// A scope: half of the cases derive it from an organization through the shipped competence rules
/// (the same rules the server grants with), half are arbitrary combinations.
fn gen_scope() -> impl Strategy<Value = (String, DataScope)> {
    use qoljetim_domain::org::{AdministratorCode, Organization, derive_scope};
    use qoljetim_domain::{Bin, Kato, OrganizationKind, System};
    let kinds: Vec<OrganizationKind> = OrganizationKind::ALL
        .into_iter()
        .filter(|k| k.is_applicant())
        .collect();
    let by_rules = (
        proptest::sample::select(kinds),
        1..TERRITORIES.len(),
        proptest::sample::subsequence(vec!["217", "464", "101"], 1..=2),
        2025i16..=2027,
    )
        .prop_filter_map(
            "an organization the registry would accept",
            |(kind, t, admins, year)| {
                let rules = qoljetim_domain::CompetenceRules::shipped().ok()?;
                let (kato, level) = TERRITORIES[t];
                let territory = match kind {
                    OrganizationKind::Maslikhat if level <= 2 => {
                        Some(Kato::parse(&format!("{kato:09}")).ok()?)
                    }
                    OrganizationKind::RevisionCommission
                    | OrganizationKind::LocalInternalAudit
                    | OrganizationKind::MvdTerritorialInternalAudit
                        if level == 1 =>
                    {
                        Some(Kato::parse(&format!("{kato:09}")).ok()?)
                    }
                    OrganizationKind::Maslikhat
                    | OrganizationKind::RevisionCommission
                    | OrganizationKind::LocalInternalAudit
                    | OrganizationKind::MvdTerritorialInternalAudit => return None,
                    _ => None,
                };
                let admins = if kind == OrganizationKind::CentralInternalAudit {
                    admins
                        .iter()
                        .filter_map(|a| AdministratorCode::parse(a).ok())
                        .collect()
                } else {
                    vec![]
                };
                let org = Organization::new(
                    Bin::parse("940140000385").ok()?,
                    "а".into(),
                    "а".into(),
                    kind,
                    territory,
                    admins,
                )
                .ok()?;
                let granted: jiff::civil::Date = format!("{year}-06-01").parse().ok()?;
                let until: jiff::civil::Date = format!("{year}-12-31").parse().ok()?;
                let scope = derive_scope(
                    &rules,
                    &org,
                    System::AnalyticalCentral,
                    granted,
                    until,
                    &BTreeSet::new(),
                );
                Some((
                    format!("{kind}:{:?}", org.territory.map(|t| t.to_string())),
                    DataScope::from_grant(&scope),
                ))
            },
        );
    let arbitrary = scope_strategy().prop_map(|s| (format!("{s:?}"), s));
    prop_oneof![by_rules, arbitrary]
}

/// A query: a year, up to three groupings, and at most one explicit filter with its values.
fn gen_query() -> impl Strategy<Value = DataQuery> {
    let dims = vec![
        Dim::BudgetLevel,
        Dim::Budget,
        Dim::Region,
        Dim::District,
        Dim::Administrator,
        Dim::FunctionalGroup,
        Dim::Month,
    ];
    let filter = prop_oneof![
        Just(None),
        proptest::sample::subsequence((0..TERRITORIES.len()).collect::<Vec<_>>(), 1..=2).prop_map(
            |t| Some((
                Dim::Budget,
                t.iter().map(|i| TERRITORIES[*i].0).collect::<Vec<_>>()
            ))
        ),
        proptest::sample::subsequence(vec![750_000_000i64, 710_000_000, 190_000_000], 1..=2)
            .prop_map(|v| Some((Dim::Region, v))),
        proptest::sample::subsequence(ADMINISTRATORS.to_vec(), 1..=2)
            .prop_map(|v| Some((Dim::Administrator, v.into_iter().map(i64::from).collect()))),
        proptest::sample::subsequence(vec![0i64, 1, 2, 3], 1..=2)
            .prop_map(|v| Some((Dim::BudgetLevel, v))),
    ];
    (
        2025i16..=2027,
        proptest::sample::subsequence(dims, 0..=3),
        filter,
    )
        .prop_map(|(fiscal_year, group_by, filter)| DataQuery {
            fiscal_year,
            group_by,
            filters: filter.into_iter().collect(),
            measures: vec!["paid".into()],
            sort: vec![],
            limit: 10_000,
            offset: 0,
        })
}

// Order 270 §6, DESIGN.md §5: scopes (half derived through the competence rules), rows and queries
// generated together; the engine's answer is exactly the aggregate of the rows Cedar permits the
// caller to read that match the query. 1,000 cases in the normal suite; QOLJETIM_ORACLE_CASES=100000
// runs more (docs/budget-data.md gives that run's figures).
#[test]
fn scope_filter_matches_cedar_on_generated_scopes_rows_and_queries() {
    let cases: u32 = std::env::var("QOLJETIM_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let engine = PolicyEngine::new().unwrap_or_else(|e| panic!("{e}"));
    let runtime = rt();
    let started = std::time::Instant::now();
    let shapes = std::cell::RefCell::new(BTreeSet::new());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(
        &(gen_scope(), gen_rows(), gen_query()),
        |((label, scope), rows, q)| {
            shapes.borrow_mut().insert(format!(
                "{label}|{:?}|{:?}",
                q.group_by,
                q.filters.iter().map(|f| f.0).collect::<Vec<_>>()
            ));
            let ctx = grant(&scope);
            let mut expected: std::collections::BTreeMap<Vec<String>, i64> = Default::default();
            for r in &rows {
                let (kato, level) = TERRITORIES[r.2];
                let key_of = |d: Dim| -> i64 {
                    match d {
                        Dim::BudgetLevel => i64::from(level),
                        Dim::Budget => kato,
                        Dim::Region => crate::model::region_of(kato),
                        Dim::District => crate::model::district_of(kato, level),
                        Dim::Administrator => i64::from(r.4),
                        Dim::FunctionalGroup => i64::from(r.3),
                        Dim::Month => i64::from(r.1),
                        _ => 0,
                    }
                };
                let resource = Resource::BudgetRow {
                    system: System::AnalyticalCentral,
                    fiscal_year: r.0,
                    level: BudgetLevel::ALL[level as usize],
                    territory: territory(kato),
                    administrator: admin(i64::from(r.4)),
                };
                let d = engine
                    .decide_data(&actor(), Action::ReadData, &resource, &ctx)
                    .unwrap_or_else(|e| panic!("{e}"));
                prop_assert_eq!(d.allowed, scope.admits(r.0, level, kato, r.4));
                let matches = r.0 == q.fiscal_year
                    && q.filters
                        .iter()
                        .all(|(dim, values)| values.contains(&key_of(*dim)));
                if d.allowed && matches {
                    let key: Vec<String> = q
                        .group_by
                        .iter()
                        .map(|dim| format_code(*dim, key_of(*dim)))
                        .collect();
                    *expected.entry(key).or_insert(0) += r.6;
                }
            }
            let store = BudgetTables::in_memory(vec![(expenditure_spec(), vec![gen_batch(&rows)])])
                .unwrap_or_else(|e| panic!("{e}"));
            let answer = runtime
                .block_on(store.run(expenditure_spec(), &scope, &q))
                .unwrap_or_else(|e| panic!("{e}"));
            let got: std::collections::BTreeMap<Vec<String>, i64> = answer
                .rows
                .iter()
                // An aggregate over no rows (no grouping) is one row of null, read as 0.
                .filter(|(codes, values)| {
                    !(codes.is_empty() && values[0] == 0 && expected.is_empty())
                })
                .map(|(codes, values)| (codes.clone(), values[0]))
                .collect();
            prop_assert_eq!(got, expected);
            Ok(())
        },
    );
    let elapsed = started.elapsed();
    eprintln!(
        "oracle: {cases} cases, {} distinct scope × query shapes, {:.1} s",
        shapes.borrow().len(),
        elapsed.as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        shapes.borrow().len() > cases as usize / 4,
        "the cases are varied"
    );
}

// Order 270 §6, issue 19: the engine applies the scope to runs of equal (level, KATO, administrator)
// instead of to each row; the row ranges it admits are exactly the rows the row rule (held against
// Cedar above) admits — whether or not the rows are sorted, since the index is built from the rows.
#[test]
fn the_run_index_admits_exactly_the_rows_the_row_rule_admits() {
    use crate::engine::Partition;
    use crate::layout::{engine_batch, sort_by_scope};
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(
        &(gen_scope(), gen_rows(), any::<bool>()),
        |((_, scope), rows, sorted)| {
            let spec = expenditure_spec();
            for year in 2025i16..=2027 {
                let of_year: Vec<GenRow> = rows.iter().copied().filter(|r| r.0 == year).collect();
                let batch = gen_batch(&of_year);
                let batch = if sorted {
                    sort_by_scope(spec, &[batch]).unwrap_or_else(|e| panic!("{e}"))
                } else {
                    batch
                };
                let p = Partition::new(
                    spec,
                    year,
                    &engine_batch(spec, year, &batch).unwrap_or_else(|e| panic!("{e}")),
                )
                .unwrap_or_else(|e| panic!("{e}"));
                let admitted: Vec<usize> = if scope.admits_year(spec, year) {
                    p.ranges_in(&scope).into_iter().flatten().collect()
                } else {
                    vec![]
                };
                let column = |name: &str| {
                    batch
                        .column_by_name(name)
                        .unwrap_or_else(|| panic!("{name}"))
                        .clone()
                };
                let (level, kato, admin) = (
                    column("budget_level"),
                    column("budget"),
                    column("administrator"),
                );
                let expected: Vec<usize> = (0..batch.num_rows())
                    .filter(|&r| {
                        scope.admits(
                            year,
                            crate::engine::int_at(&level, r) as i8,
                            crate::engine::int_at(&kato, r),
                            crate::engine::int_at(&admin, r) as i16,
                        )
                    })
                    .collect();
                prop_assert_eq!(admitted, expected);
                if sorted {
                    // Sorted, each distinct (level, KATO, administrator) is one run.
                    let distinct: BTreeSet<(i64, i64, i64)> = (0..batch.num_rows())
                        .map(|r| {
                            (
                                crate::engine::int_at(&level, r),
                                crate::engine::int_at(&kato, r),
                                crate::engine::int_at(&admin, r),
                            )
                        })
                        .collect();
                    prop_assert_eq!(p.runs(), distinct.len());
                }
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn answers(dir: &std::path::Path, queries: &[(DataScope, DataQuery)]) -> Vec<crate::DataAnswer> {
    let runtime = rt();
    let store = runtime
        .block_on(BudgetTables::open(dir))
        .unwrap_or_else(|e| panic!("{e}"));
    queries
        .iter()
        .map(|(scope, q)| {
            runtime
                .block_on(store.run(expenditure_spec(), scope, q))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

// Order 270 §6, issue 19: a load writes, beside each Parquet file, the engine's file of the same rows sorted by the
// scope keys; the server reads it (or, for a folder written before engine files, sorts the Parquet
// file in memory) with the same answers; an engine file that is not the layout of its dataset and
// year is refused, not read.
#[test]
fn engine_files_answer_as_the_parquet_files_and_a_wrong_one_is_refused() {
    let dir = temp("engine-files");
    generate(&dir, 20_000, 5, &[2025, 2026]).unwrap_or_else(|e| panic!("{e}"));
    let parquet = current_files(&dir, expenditure_spec());
    assert_eq!(parquet.len(), 2);
    for f in &parquet {
        assert!(crate::layout::engine_file(f).exists(), "{}", f.display());
    }
    // The engine file is sorted by (level, KATO, administrator) and holds no derived column.
    let batch = crate::layout::read_engine_file(
        &crate::layout::engine_file(&parquet[1]),
        expenditure_spec(),
        2026,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        batch.column_by_name("region").is_none() && batch.column_by_name("fiscal_year").is_none()
    );
    let key = |r: usize| {
        ["budget_level", "budget", "administrator"].map(|c| {
            crate::engine::int_at(batch.column_by_name(c).unwrap_or_else(|| panic!("{c}")), r)
        })
    };
    assert!((1..batch.num_rows()).all(|r| key(r - 1) <= key(r)));
    let almaty = DataScope {
        fiscal_years: vec![2026],
        levels: vec![1, 2, 3],
        territory_prefix: Some("19".into()),
        administrators: vec![],
    };
    let admin_217 = DataScope {
        administrators: vec![217],
        ..everything(vec![2025, 2026])
    };
    let mut by_region = query(
        2026,
        vec![Dim::Region, Dim::District],
        &["paid", "approved_plan"],
    );
    by_region.filters = vec![(Dim::Month, vec![12, 1])];
    let queries = vec![
        (everything(vec![2026]), by_region.clone()),
        (
            almaty.clone(),
            query(2026, vec![Dim::District, Dim::Month], &["paid"]),
        ),
        (almaty, query(2025, vec![Dim::Month], &["paid"])),
        (
            admin_217,
            query(
                2025,
                vec![Dim::Program, Dim::FiscalYear],
                &["corrected_plan"],
            ),
        ),
        (
            everything(vec![2026]),
            query(2026, vec![], &["paid", "unpaid"]),
        ),
    ];
    let from_engine_files = answers(&dir, &queries);
    assert!(from_engine_files[0].rows.len() > 20, "regions × districts");
    assert!(
        from_engine_files[1].rows.len() > 12,
        "Almaty region's districts × months"
    );
    assert!(from_engine_files[2].rows.is_empty(), "2025 is not granted");
    assert!(!from_engine_files[3].rows.is_empty());
    for f in &parquet {
        std::fs::remove_file(crate::layout::engine_file(f)).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        answers(&dir, &queries),
        from_engine_files,
        "from Parquet sorted in memory"
    );
    // 2025's engine file put in the place of 2026's: refused by its schema (year, dataset, layout).
    generate(&dir, 20_000, 5, &[2025, 2026]).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        crate::layout::engine_file(&parquet[0]),
        crate::layout::engine_file(&parquet[1]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let refused = rt()
        .block_on(BudgetTables::open(&dir))
        .err()
        .map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("not the engine layout of expenditure 2026")),
        "{refused:?}"
    );
}

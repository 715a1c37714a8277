//! The budget data engine: Apache DataFusion over in-memory Arrow tables loaded from the Parquet files
//! of the data folder. The caller's scope is compiled into a filter that every query carries; the
//! server only reads the files (loads happen through the CLI, which swaps files in atomically).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use datafusion::arrow::array::{
    Array, ArrayRef, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::datasource::MemTable;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use qoljetim_domain::{BudgetLevel, Scope, System};

use crate::BudgetError;
use crate::model::{DATASETS, DatasetSpec, Dim, format_code};

/// The scope of a grant as the engine applies it (DESIGN.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataScope {
    pub fiscal_years: Vec<i16>,
    pub levels: Vec<i8>,
    /// KATO level prefix ("75", "1940"); None: no territorial limit.
    pub territory_prefix: Option<String>,
    /// Empty: every administrator.
    pub administrators: Vec<i16>,
}

impl DataScope {
    pub fn from_grant(scope: &Scope) -> Self {
        DataScope {
            fiscal_years: scope.fiscal_years.clone(),
            levels: scope
                .levels
                .iter()
                .map(|l| match l {
                    BudgetLevel::Republican => 0,
                    BudgetLevel::Regional => 1,
                    BudgetLevel::District => 2,
                    BudgetLevel::Rural => 3,
                })
                .collect(),
            territory_prefix: scope.territory_prefix.clone(),
            // Three digits by construction (`AdministratorCode`): every code parses.
            administrators: scope
                .administrators
                .iter()
                .filter_map(|a| a.as_str().parse().ok())
                .collect(),
        }
    }

    /// The KATO range [low, high) of the territory prefix.
    pub fn kato_range(&self) -> Option<(i64, i64)> {
        let p = self.territory_prefix.as_deref()?;
        let n: i64 = p.parse().ok()?;
        let scale = 10_i64.pow(9 - p.len() as u32);
        Some((n * scale, (n + 1) * scale))
    }

    /// Whether one row is in scope: the same rule as `filter`, row by row (for tests and checks).
    pub fn admits(&self, fiscal_year: i16, level: i8, kato: i64, administrator: i16) -> bool {
        self.fiscal_years.contains(&fiscal_year)
            && self.levels.contains(&level)
            && self
                .kato_range()
                .is_none_or(|(lo, hi)| kato >= lo && kato < hi)
            && (self.administrators.is_empty() || self.administrators.contains(&administrator))
    }

    /// The mandatory filter every query of this caller carries.
    pub fn filter(&self, spec: &DatasetSpec) -> Expr {
        if self.levels.is_empty() || self.fiscal_years.is_empty() {
            return lit(false);
        }
        let mut e = col("fiscal_year")
            .in_list(self.fiscal_years.iter().map(|y| lit(*y)).collect(), false)
            .and(col("budget_level").in_list(self.levels.iter().map(|l| lit(*l)).collect(), false));
        if let Some((lo, hi)) = self.kato_range() {
            e = e
                .and(col("budget").gt_eq(lit(lo)))
                .and(col("budget").lt(lit(hi)));
        }
        if !self.administrators.is_empty() {
            if spec.has(Dim::Administrator) {
                e = e.and(
                    col("administrator")
                        .in_list(self.administrators.iter().map(|a| lit(*a)).collect(), false),
                );
            } else {
                // A dataset without administrators (revenue) has nothing for an administrator-limited scope.
                e = lit(false);
            }
        }
        e
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
}

/// A query: one fiscal year, grouping, filters (values are codes), measures, sorting, paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataQuery {
    pub fiscal_year: i16,
    pub group_by: Vec<Dim>,
    pub filters: Vec<(Dim, Vec<i64>)>,
    pub measures: Vec<String>,
    pub sort: Vec<SortKey>,
    pub limit: usize,
    pub offset: usize,
}

/// An answer: column names, then rows of formatted codes and integer measures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DataAnswer {
    pub group_by: Vec<String>,
    pub measures: Vec<String>,
    pub rows: Vec<(Vec<String>, Vec<i64>)>,
    pub has_more: bool,
}

/// The budget data store behind a trait: DataFusion in one process now; a distributed engine later.
pub trait BudgetStore: Send + Sync {
    fn query<'a>(
        &'a self,
        spec: &'static DatasetSpec,
        scope: &'a DataScope,
        q: &'a DataQuery,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<DataAnswer, BudgetError>> + Send + 'a>,
    >;
}

struct Loaded {
    stamp: Option<SystemTime>,
    ctx: SessionContext,
}

/// DataFusion over the Parquet files under `<data_dir>/budget`.
pub struct DataFusionStore {
    root: PathBuf,
    loaded: RwLock<Arc<Loaded>>,
    reload: tokio::sync::Mutex<()>,
}

pub fn table_name(spec: &DatasetSpec) -> String {
    format!("{}__{}", spec.system.as_str(), spec.name)
}

pub fn manifest_path(root: &Path) -> PathBuf {
    root.join("manifest.json")
}

fn stamp(root: &Path) -> Option<SystemTime> {
    std::fs::metadata(manifest_path(root))
        .and_then(|m| m.modified())
        .ok()
}

/// The file of each fiscal year with the greatest version: `fy<year>__<version>.parquet`.
pub fn current_files(root: &Path, spec: &DatasetSpec) -> Vec<PathBuf> {
    let dir = root.join(spec.system.as_str()).join(spec.name);
    let mut by_year: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".parquet") else {
            continue;
        };
        let Some((fy, version)) = stem.split_once("__") else {
            continue;
        };
        let replace = by_year.get(fy).is_none_or(|(v, _)| version > v.as_str());
        if replace {
            by_year.insert(fy.to_owned(), (version.to_owned(), entry.path()));
        }
    }
    by_year.into_values().map(|(_, p)| p).collect()
}

async fn load(root: &Path) -> Result<Loaded, BudgetError> {
    let stamp = stamp(root);
    let config = SessionConfig::new().with_target_partitions(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    );
    let ctx = SessionContext::new_with_config(config);
    for spec in DATASETS.iter() {
        let schema = spec.schema();
        let mut batches = vec![];
        for file in current_files(root, spec) {
            let path = file.to_string_lossy().to_string();
            let df = ctx
                .read_parquet(path, ParquetReadOptions::default())
                .await?;
            batches.extend(df.collect().await?);
        }
        // Two partitions per core keep both cores busy on aggregations.
        let parts = partitions(&schema, batches, 4)?;
        let table = MemTable::try_new(schema, parts)?;
        ctx.register_table(table_name(spec), Arc::new(table))?;
    }
    Ok(Loaded { stamp, ctx })
}

fn partitions(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: Vec<RecordBatch>,
    n: usize,
) -> Result<Vec<Vec<RecordBatch>>, BudgetError> {
    if batches.is_empty() {
        return Ok(vec![vec![]]);
    }
    let all = concat_batches(schema, &batches)?;
    let rows = all.num_rows();
    let chunk = rows.div_ceil(n).max(1);
    let mut parts = vec![];
    let mut start = 0;
    while start < rows {
        let len = chunk.min(rows - start);
        // Each partition holds batches of at most 64k rows.
        let mut part = vec![];
        let mut s = start;
        while s < start + len {
            let l = 65_536.min(start + len - s);
            part.push(all.slice(s, l));
            s += l;
        }
        parts.push(part);
        start += len;
    }
    Ok(parts)
}

impl DataFusionStore {
    /// A store over batches held in memory, with no folder behind it (the generated oracle test).
    #[cfg(test)]
    pub(crate) fn in_memory(
        tables: Vec<(&'static DatasetSpec, Vec<RecordBatch>)>,
    ) -> Result<Self, BudgetError> {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
        for (spec, batches) in tables {
            let table = MemTable::try_new(spec.schema(), vec![batches])?;
            ctx.register_table(table_name(spec), Arc::new(table))?;
        }
        Ok(DataFusionStore {
            // No manifest here: `fresh` never reloads.
            root: PathBuf::from("/nonexistent/qoljetim-in-memory"),
            loaded: RwLock::new(Arc::new(Loaded { stamp: None, ctx })),
            reload: tokio::sync::Mutex::new(()),
        })
    }

    pub async fn open(root: &Path) -> Result<Self, BudgetError> {
        let loaded = load(root).await?;
        Ok(DataFusionStore {
            root: root.to_owned(),
            loaded: RwLock::new(Arc::new(loaded)),
            reload: tokio::sync::Mutex::new(()),
        })
    }

    fn current(&self) -> Result<Arc<Loaded>, BudgetError> {
        self.loaded
            .read()
            .map(|l| l.clone())
            .map_err(|_| BudgetError::Engine("lock poisoned".into()))
    }

    /// Swaps in new files when the CLI has published a load (the manifest changed).
    async fn fresh(&self) -> Result<Arc<Loaded>, BudgetError> {
        let cur = self.current()?;
        if cur.stamp == stamp(&self.root) {
            return Ok(cur);
        }
        let _guard = self.reload.lock().await;
        let cur = self.current()?;
        if cur.stamp == stamp(&self.root) {
            return Ok(cur);
        }
        let next = Arc::new(load(&self.root).await?);
        if let Ok(mut w) = self.loaded.write() {
            *w = next.clone();
        }
        Ok(next)
    }

    pub async fn run(
        &self,
        spec: &'static DatasetSpec,
        scope: &DataScope,
        q: &DataQuery,
    ) -> Result<DataAnswer, BudgetError> {
        let loaded = self.fresh().await?;
        let df = loaded.ctx.table(table_name(spec)).await?;
        let mut filter = scope
            .filter(spec)
            .and(col("fiscal_year").eq(lit(q.fiscal_year)));
        for (dim, values) in &q.filters {
            let list: Vec<Expr> = values.iter().map(|v| typed_lit(*dim, *v)).collect();
            filter = filter.and(col(dim.name()).in_list(list, false));
        }
        let df = df.filter(filter)?;
        let group: Vec<Expr> = q.group_by.iter().map(|d| col(d.name())).collect();
        let aggs: Vec<Expr> = q
            .measures
            .iter()
            .map(|m| sum(col(m.as_str())).alias(m.as_str()))
            .collect();
        let df = df.aggregate(group, aggs)?;
        let mut sort: Vec<_> = q
            .sort
            .iter()
            .map(|s| col(s.column.as_str()).sort(!s.descending, false))
            .collect();
        // A stable order for paging: then by every grouping column.
        sort.extend(q.group_by.iter().map(|d| col(d.name()).sort(true, false)));
        let df = if sort.is_empty() { df } else { df.sort(sort)? };
        let df = df.limit(q.offset, Some(q.limit + 1))?;
        let batches = df.collect().await?;
        let mut rows = vec![];
        for b in &batches {
            let dims: Vec<&ArrayRef> = q
                .group_by
                .iter()
                .map(|d| b.column_by_name(d.name()))
                .collect::<Option<_>>()
                .ok_or_else(|| BudgetError::Engine("missing column".into()))?;
            let meas: Vec<&ArrayRef> = q
                .measures
                .iter()
                .map(|m| b.column_by_name(m))
                .collect::<Option<_>>()
                .ok_or_else(|| BudgetError::Engine("missing column".into()))?;
            for r in 0..b.num_rows() {
                let codes = q
                    .group_by
                    .iter()
                    .zip(&dims)
                    .map(|(d, a)| format_code(*d, int_at(a, r)))
                    .collect();
                let values = meas.iter().map(|a| int_at(a, r)).collect();
                rows.push((codes, values));
            }
        }
        let has_more = rows.len() > q.limit;
        rows.truncate(q.limit);
        Ok(DataAnswer {
            group_by: q.group_by.iter().map(|d| d.name().to_owned()).collect(),
            measures: q.measures.clone(),
            rows,
            has_more,
        })
    }
}

impl BudgetStore for DataFusionStore {
    fn query<'a>(
        &'a self,
        spec: &'static DatasetSpec,
        scope: &'a DataScope,
        q: &'a DataQuery,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<DataAnswer, BudgetError>> + Send + 'a>,
    > {
        Box::pin(self.run(spec, scope, q))
    }
}

fn typed_lit(d: Dim, v: i64) -> Expr {
    use datafusion::arrow::datatypes::DataType;
    match d.data_type() {
        DataType::Int8 => lit(v as i8),
        DataType::Int16 => lit(v as i16),
        DataType::Int32 => lit(v as i32),
        _ => lit(v),
    }
}

/// An integer cell of any of the widths the datasets use (nulls read as 0: sums over no rows).
pub fn int_at(a: &ArrayRef, r: usize) -> i64 {
    if a.is_null(r) {
        return 0;
    }
    if let Some(x) = a.as_any().downcast_ref::<Int64Array>() {
        return x.value(r);
    }
    if let Some(x) = a.as_any().downcast_ref::<Int32Array>() {
        return i64::from(x.value(r));
    }
    if let Some(x) = a.as_any().downcast_ref::<Int16Array>() {
        return i64::from(x.value(r));
    }
    if let Some(x) = a.as_any().downcast_ref::<Int8Array>() {
        return i64::from(x.value(r));
    }
    0
}

pub fn dataset(system: System, name: &str) -> Option<&'static DatasetSpec> {
    DatasetSpec::find(system, name)
}

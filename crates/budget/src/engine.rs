//! The budget data engine: each dataset held in memory as one partition per fiscal year, its rows
//! sorted by the scope keys (level, KATO, administrator; see `layout`), its columns at their own
//! width, read at start from the engine files beside the Parquet files. Each partition keeps an index
//! of runs — row ranges of one (level, KATO, administrator) — so a query applies the caller's scope to
//! the runs and scans only the rows of the runs it admits, before its own filters; then it groups and
//! sums. The server only reads the files (loads happen through the CLI, which swaps files in
//! atomically).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use arrow_array::{Array, ArrayRef, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch};
use qoljetim_domain::org::AdministratorCode;
use qoljetim_domain::{BudgetLevel, Scope, System};

use crate::BudgetError;
use crate::layout;
use crate::model::{DATASETS, DatasetSpec, Dim, district_of, format_code, region_of};

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
            administrators: scope
                .administrators
                .iter()
                .map(AdministratorCode::number)
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

    /// Whether one row is in scope (the engine's scan applies the same rule, `admits_in_year`).
    pub fn admits(&self, fiscal_year: i16, level: i8, kato: i64, administrator: i16) -> bool {
        self.fiscal_years.contains(&fiscal_year)
            && self.admits_in_year(self.kato_range(), level, kato, || administrator)
    }

    /// The rule for a row of a granted year, with the KATO range computed once per query; the
    /// administrator is read only when the scope limits it (revenue has no such column).
    #[inline]
    fn admits_in_year(
        &self,
        range: Option<(i64, i64)>,
        level: i8,
        kato: i64,
        administrator: impl FnOnce() -> i16,
    ) -> bool {
        self.levels.contains(&level)
            && range.is_none_or(|(lo, hi)| kato >= lo && kato < hi)
            && (self.administrators.is_empty() || self.administrators.contains(&administrator()))
    }

    /// Whether a query of this dataset and fiscal year can see any row: a granted year, some level,
    /// and, for an administrator-limited scope, a dataset that has administrators (revenue has none).
    pub fn admits_year(&self, spec: &DatasetSpec, fiscal_year: i16) -> bool {
        !self.levels.is_empty()
            && self.fiscal_years.contains(&fiscal_year)
            && (self.administrators.is_empty() || spec.has(Dim::Administrator))
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

/// The budget data store behind a trait: in-memory tables in one process now; a distributed engine
/// later.
pub trait BudgetStore: Send + Sync {
    fn query<'a>(
        &'a self,
        spec: &'static DatasetSpec,
        scope: &'a DataScope,
        q: &'a DataQuery,
    ) -> AnswerFuture<'a>;
}

/// The answer of a `BudgetStore`, on its way.
pub type AnswerFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<DataAnswer, BudgetError>> + Send + 'a>,
>;

/// One stored column of a partition: an Arrow array of the engine file, at its own width.
#[derive(Debug, Clone)]
enum Column {
    I8(Int8Array),
    I16(Int16Array),
    I32(Int32Array),
    I64(Int64Array),
}

impl Column {
    fn of(a: &ArrayRef) -> Option<Column> {
        let any = a.as_any();
        if let Some(x) = any.downcast_ref::<Int8Array>() {
            return Some(Column::I8(x.clone()));
        }
        if let Some(x) = any.downcast_ref::<Int16Array>() {
            return Some(Column::I16(x.clone()));
        }
        if let Some(x) = any.downcast_ref::<Int32Array>() {
            return Some(Column::I32(x.clone()));
        }
        any.downcast_ref::<Int64Array>()
            .map(|x| Column::I64(x.clone()))
    }

    fn values(&self) -> Values<'_> {
        match self {
            Column::I8(a) => Values::I8(a.values()),
            Column::I16(a) => Values::I16(a.values()),
            Column::I32(a) => Values::I32(a.values()),
            Column::I64(a) => Values::I64(a.values()),
        }
    }

    /// The smallest and greatest value ((0, -1) for no rows): a grouping by small code ranges
    /// indexes its groups directly.
    fn bounds(&self) -> (i64, i64) {
        fn of<T: Copy + Into<i64> + Ord>(v: &[T]) -> (i64, i64) {
            match (v.iter().min(), v.iter().max()) {
                (Some(lo), Some(hi)) => ((*lo).into(), (*hi).into()),
                _ => (0, -1),
            }
        }
        match self {
            Column::I8(a) => of(a.values()),
            Column::I16(a) => of(a.values()),
            Column::I32(a) => of(a.values()),
            Column::I64(a) => of(a.values()),
        }
    }
}

/// A dimension as a query reads it: a stored column, the partition's fiscal year, or a region or
/// district derived from the budget's KATO (and level).
#[derive(Debug, Clone, Copy)]
enum Values<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    Year(i64),
    Region(&'a [i32]),
    District(&'a [i32], &'a [i8]),
}

impl Values<'_> {
    #[inline]
    fn get(&self, r: usize) -> i64 {
        match *self {
            Values::I8(v) => i64::from(v[r]),
            Values::I16(v) => i64::from(v[r]),
            Values::I32(v) => i64::from(v[r]),
            Values::I64(v) => v[r],
            Values::Year(y) => y,
            Values::Region(k) => region_of(i64::from(k[r])),
            Values::District(k, l) => district_of(i64::from(k[r]), l[r]),
        }
    }
}

/// A run of rows with one (level, KATO, administrator): the unit the scope is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    level: i8,
    kato: i32,
    /// 0 in a dataset without administrators.
    administrator: i16,
    rows: (u32, u32),
}

/// The rows of one dataset in one fiscal year, sorted by the scope keys: the stored columns (the
/// engine schema's order), their bounds, and the index of runs.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    fiscal_year: i16,
    rows: usize,
    names: Vec<&'static str>,
    columns: Vec<Column>,
    bounds: Vec<(i64, i64)>,
    runs: Vec<Run>,
}

impl Partition {
    /// A partition of an engine batch (`layout::engine_batch` or an engine file). The index is built
    /// from the rows themselves, so it describes them whatever their order; the sort only keeps runs
    /// few.
    pub(crate) fn new(
        spec: &DatasetSpec,
        fiscal_year: i16,
        batch: &RecordBatch,
    ) -> Result<Self, BudgetError> {
        let schema = layout::engine_schema(spec, fiscal_year);
        let mut names = vec![];
        let mut columns = vec![];
        for f in schema.fields() {
            let a = batch
                .column_by_name(f.name())
                .filter(|a| a.data_type() == f.data_type() && a.null_count() == 0)
                .and_then(Column::of)
                .ok_or_else(|| {
                    BudgetError::Engine(format!(
                        "{} {fiscal_year}: column {} is missing, of another type or has nulls",
                        spec.name,
                        f.name()
                    ))
                })?;
            names.push(
                spec.dims
                    .iter()
                    .map(|d| d.name())
                    .chain(spec.measures.iter().copied())
                    .find(|n| *n == f.name())
                    .unwrap_or("?"),
            );
            columns.push(a);
        }
        // Bounds of the dimensions only (a measure is never a group key): at start the measures'
        // pages are not read at all.
        let dims = spec.dims.iter().filter(|d| layout::stored(**d)).count();
        let bounds = columns
            .iter()
            .enumerate()
            .map(|(i, c)| if i < dims { c.bounds() } else { (0, -1) })
            .collect();
        let rows = batch.num_rows();
        if rows > u32::MAX as usize {
            return Err(BudgetError::Engine(format!(
                "{} {fiscal_year}: {rows} rows in one partition",
                spec.name
            )));
        }
        let mut p = Partition {
            fiscal_year,
            rows,
            names,
            columns,
            bounds,
            runs: vec![],
        };
        p.runs = p.index(spec)?;
        Ok(p)
    }

    fn column(&self, name: &str) -> Result<&Column, BudgetError> {
        self.names
            .iter()
            .position(|n| *n == name)
            .map(|i| &self.columns[i])
            .ok_or_else(|| BudgetError::Engine(format!("no stored column {name}")))
    }

    fn level_and_kato(&self) -> Result<(&[i8], &[i32]), BudgetError> {
        match (
            self.column(Dim::BudgetLevel.name())?,
            self.column(Dim::Budget.name())?,
        ) {
            (Column::I8(l), Column::I32(k)) => Ok((l.values(), k.values())),
            _ => Err(BudgetError::Engine(
                "level or budget of another width".into(),
            )),
        }
    }

    /// How many runs the index holds (few when the rows are sorted by the scope keys).
    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The runs of equal (level, KATO, administrator), in row order.
    fn index(&self, spec: &DatasetSpec) -> Result<Vec<Run>, BudgetError> {
        let (level, kato) = self.level_and_kato()?;
        let admin: Option<&[i16]> = if spec.has(Dim::Administrator) {
            match self.column(Dim::Administrator.name())? {
                Column::I16(a) => Some(a.values()),
                _ => return Err(BudgetError::Engine("administrator of another width".into())),
            }
        } else {
            None
        };
        let key = |r: usize| (level[r], kato[r], admin.map_or(0, |a| a[r]));
        let mut runs = vec![];
        let mut start = 0;
        for r in 1..=self.rows {
            if r == self.rows || key(r) != key(start) {
                let (level, kato, administrator) = key(start);
                runs.push(Run {
                    level,
                    kato,
                    administrator,
                    rows: (start as u32, r as u32),
                });
                start = r;
            }
        }
        Ok(runs)
    }

    /// The row ranges in the scope: the runs whose (level, KATO, administrator) the scope's row rule
    /// admits, neighbours joined. A scan reads no other rows.
    pub(crate) fn ranges_in(&self, scope: &DataScope) -> Vec<Range<usize>> {
        let kato_range = scope.kato_range();
        let mut out: Vec<Range<usize>> = vec![];
        for run in &self.runs {
            if !scope.admits_in_year(kato_range, run.level, i64::from(run.kato), || {
                run.administrator
            }) {
                continue;
            }
            let (start, end) = (run.rows.0 as usize, run.rows.1 as usize);
            match out.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => out.push(start..end),
            }
        }
        out
    }

    /// A dimension of the query with its bounds and the step its codes move in (a region's KATO by
    /// 10⁷, a district's by 10⁵), for direct indexing of groups.
    fn dimension(&self, d: Dim) -> Result<(Values<'_>, (i64, i64), i64), BudgetError> {
        let kato_bounds = || {
            self.names
                .iter()
                .position(|n| *n == Dim::Budget.name())
                .map_or((0, -1), |i| self.bounds[i])
        };
        Ok(match d {
            Dim::FiscalYear => {
                let y = i64::from(self.fiscal_year);
                (Values::Year(y), (y, y), 1)
            }
            Dim::Region => {
                let (_, kato) = self.level_and_kato()?;
                let (lo, hi) = kato_bounds();
                (
                    Values::Region(kato),
                    (region_of(lo), region_of(hi)),
                    10_000_000,
                )
            }
            Dim::District => {
                let (level, kato) = self.level_and_kato()?;
                let (_, hi) = kato_bounds();
                (Values::District(kato, level), (0, hi), 100_000)
            }
            _ => {
                let i = self
                    .names
                    .iter()
                    .position(|n| *n == d.name())
                    .ok_or_else(|| BudgetError::Engine(format!("no column {}", d.name())))?;
                (self.columns[i].values(), self.bounds[i], 1)
            }
        })
    }

    fn measure(&self, name: &str) -> Result<&[i64], BudgetError> {
        match self.column(name)? {
            Column::I64(a) => Ok(a.values()),
            _ => Err(BudgetError::Engine(format!("measure {name} is not i64"))),
        }
    }
}

/// One dataset: its partitions by fiscal year.
#[derive(Debug, Clone, Default)]
struct Table {
    years: BTreeMap<i16, Partition>,
}

struct Loaded {
    stamp: Option<SystemTime>,
    tables: HashMap<(System, &'static str), Table>,
}

/// The budget data in memory, loaded from the files under `<data_dir>/budget`.
pub struct BudgetTables {
    root: PathBuf,
    /// Scans of at least this many rows in scope run on every core (the generated oracle test sets
    /// 0, so that its small tables take the parallel path and its merge too).
    parallel_from: usize,
    loaded: RwLock<Arc<Loaded>>,
    reload: tokio::sync::Mutex<()>,
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
    current_files_by_year(root, spec)
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

fn current_files_by_year(root: &Path, spec: &DatasetSpec) -> Vec<(i16, PathBuf)> {
    let dir = root.join(spec.system.as_str()).join(spec.name);
    let mut by_year: BTreeMap<i16, (String, PathBuf)> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".parquet") else {
            continue;
        };
        let Some((fy, version)) = stem.split_once("__") else {
            continue;
        };
        let Some(year) = fy.strip_prefix("fy").and_then(|y| y.parse::<i16>().ok()) else {
            continue;
        };
        let replace = by_year.get(&year).is_none_or(|(v, _)| version > v.as_str());
        if replace {
            by_year.insert(year, (version.to_owned(), entry.path()));
        }
    }
    by_year.into_iter().map(|(y, (_, p))| (y, p)).collect()
}

/// One partition of the data folder: its engine file, or, where a load predates engine files, its
/// Parquet file sorted in memory.
fn load_partition(
    spec: &'static DatasetSpec,
    fiscal_year: i16,
    parquet: &Path,
) -> Result<Partition, BudgetError> {
    let engine = layout::engine_file(parquet);
    if engine.exists() {
        let batch = layout::read_engine_file(&engine, spec, fiscal_year)?;
        return Partition::new(spec, fiscal_year, &batch);
    }
    let f = std::fs::File::open(parquet)?;
    let batches = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)?
        .with_batch_size(65_536)
        .build()?
        .collect::<Result<Vec<_>, _>>()?;
    for b in &batches {
        let years = b
            .column_by_name(Dim::FiscalYear.name())
            .ok_or_else(|| BudgetError::Engine("no fiscal_year column".into()))?;
        if (0..b.num_rows()).any(|r| int_at(years, r) != i64::from(fiscal_year)) {
            return Err(BudgetError::File {
                file: parquet.display().to_string(),
                message: format!("a row of another fiscal year than {fiscal_year}"),
            });
        }
    }
    let sorted = layout::sort_by_scope(spec, &batches)?;
    drop(batches);
    Partition::new(
        spec,
        fiscal_year,
        &layout::engine_batch(spec, fiscal_year, &sorted)?,
    )
}

/// Reads every current partition into memory, on every core (off the async threads).
fn load(root: &Path) -> Result<Loaded, BudgetError> {
    let stamp = stamp(root);
    let jobs: Vec<(&'static DatasetSpec, i16, PathBuf)> = DATASETS
        .iter()
        .flat_map(|spec| {
            current_files_by_year(root, spec)
                .into_iter()
                .map(move |(y, p)| (spec, y, p))
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(jobs.len().max(1));
    let parts: Vec<Vec<(usize, Result<Partition, BudgetError>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = vec![];
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((spec, year, path)) = jobs.get(i) else {
                            break;
                        };
                        done.push((i, load_partition(spec, *year, path)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut tables: HashMap<(System, &'static str), Table> = DATASETS
        .iter()
        .map(|spec| ((spec.system, spec.name), Table::default()))
        .collect();
    let mut loaded = 0;
    for (i, part) in parts.into_iter().flatten() {
        let (spec, year, _) = &jobs[i];
        let part = part?;
        loaded += 1;
        if let Some(t) = tables.get_mut(&(spec.system, spec.name)) {
            t.years.insert(*year, part);
        }
    }
    if loaded != jobs.len() {
        return Err(BudgetError::Engine("a loading thread panicked".into()));
    }
    Ok(Loaded { stamp, tables })
}

async fn load_blocking(root: &Path) -> Result<Loaded, BudgetError> {
    let root = root.to_owned();
    tokio::task::spawn_blocking(move || load(&root))
        .await
        .map_err(|e| BudgetError::Engine(e.to_string()))?
}

/// Group keys and their sums.
type Groups = Vec<(Vec<i64>, Vec<i64>)>;

impl BudgetTables {
    /// Tables over batches held in memory, with no folder behind them (the generated oracle test).
    #[cfg(test)]
    pub(crate) fn in_memory(
        tables: Vec<(&'static DatasetSpec, Vec<RecordBatch>)>,
    ) -> Result<Self, BudgetError> {
        let mut loaded = HashMap::new();
        for (spec, batches) in tables {
            let mut table = Table::default();
            let mut years = std::collections::BTreeSet::new();
            for b in &batches {
                let fy = b
                    .column_by_name(Dim::FiscalYear.name())
                    .ok_or_else(|| BudgetError::Engine("no fiscal_year".into()))?;
                years.extend((0..b.num_rows()).map(|r| int_at(fy, r)));
            }
            for year in years {
                let of_year = batches
                    .iter()
                    .map(|b| {
                        let fy = b
                            .column_by_name(Dim::FiscalYear.name())
                            .ok_or_else(|| BudgetError::Engine("no fiscal_year".into()))?;
                        let mask: arrow_array::BooleanArray = (0..b.num_rows())
                            .map(|r| Some(int_at(fy, r) == year))
                            .collect();
                        Ok(arrow_select::filter::filter_record_batch(b, &mask)?)
                    })
                    .collect::<Result<Vec<_>, BudgetError>>()?;
                let year = i16::try_from(year)
                    .map_err(|_| BudgetError::Engine("fiscal year out of range".into()))?;
                let sorted = layout::sort_by_scope(spec, &of_year)?;
                let batch = layout::engine_batch(spec, year, &sorted)?;
                table
                    .years
                    .insert(year, Partition::new(spec, year, &batch)?);
            }
            loaded.insert((spec.system, spec.name), table);
        }
        Ok(BudgetTables {
            // No manifest here: `fresh` never reloads.
            root: PathBuf::from("/nonexistent/qoljetim-in-memory"),
            parallel_from: 0,
            loaded: RwLock::new(Arc::new(Loaded {
                stamp: None,
                tables: loaded,
            })),
            reload: tokio::sync::Mutex::new(()),
        })
    }

    pub async fn open(root: &Path) -> Result<Self, BudgetError> {
        let loaded = load_blocking(root).await?;
        Ok(BudgetTables {
            root: root.to_owned(),
            parallel_from: 100_000,
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
        let next = Arc::new(load_blocking(&self.root).await?);
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
        if !scope.admits_year(spec, q.fiscal_year) {
            return answer(q, Groups::new());
        }
        // The scan runs on the blocking pool: a large partition is milliseconds of CPU.
        let (scope, q2, parallel_from) = (scope.clone(), q.clone(), self.parallel_from);
        let groups = tokio::task::spawn_blocking(move || {
            match loaded
                .tables
                .get(&(spec.system, spec.name))
                .and_then(|t| t.years.get(&q2.fiscal_year))
            {
                Some(p) => scan(spec, p, &scope, &q2, parallel_from),
                None => Ok(Groups::new()),
            }
        })
        .await
        .map_err(|e| BudgetError::Engine(e.to_string()))??;
        answer(q, groups)
    }
}

/// Sums the measures of the partition's rows that lie in the scope and pass the query's filters, by
/// the values of the grouping columns. The scope picks the row ranges (`Partition::ranges_in`); the
/// scan reads only those, a block at a time: the rows passing the filters, then each row's group,
/// then each measure's sums, column at a time. Scopes of many rows are shared out among the cores and
/// the groups merged.
fn scan(
    spec: &DatasetSpec,
    p: &Partition,
    scope: &DataScope,
    q: &DataQuery,
    parallel_from: usize,
) -> Result<Groups, BudgetError> {
    let ranges = p.ranges_in(scope);
    let in_scope: usize = ranges.iter().map(|r| r.len()).sum();
    if in_scope == 0 {
        return Ok(Groups::new());
    }
    for d in q.group_by.iter().chain(q.filters.iter().map(|(d, _)| d)) {
        if !spec.has(*d) {
            return Err(BudgetError::Engine(format!(
                "{}: no column {}",
                spec.name,
                d.name()
            )));
        }
    }
    let filters: Vec<(Values, &[i64])> = q
        .filters
        .iter()
        .map(|(d, values)| Ok((p.dimension(*d)?.0, values.as_slice())))
        .collect::<Result<_, BudgetError>>()?;
    let keys: Vec<(Values, (i64, i64), i64)> = q
        .group_by
        .iter()
        .map(|d| p.dimension(*d))
        .collect::<Result<_, _>>()?;
    let measures: Vec<&[i64]> = q
        .measures
        .iter()
        .map(|m| p.measure(m))
        .collect::<Result<_, _>>()?;
    let plan = GroupPlan::of(&keys, measures.len());
    let scan_ranges = |ranges: Vec<Range<usize>>| -> Groups {
        let mut acc = Accumulator::new(&plan, measures.len());
        let mut sel: Vec<u32> = Vec::with_capacity(BLOCK);
        for range in ranges {
            let mut start = range.start;
            while start < range.end {
                let end = (start + BLOCK).min(range.end);
                let block = if filters.is_empty() {
                    Block::Rows(start, end)
                } else {
                    select(&filters, start, end, &mut sel);
                    Block::Selected(&sel)
                };
                acc.add(&plan, &keys, &measures, block);
                start = end;
            }
        }
        acc.groups(&plan, &keys)
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    if threads == 1 || in_scope < parallel_from.max(1) {
        return Ok(scan_ranges(ranges));
    }
    let shares = share(&ranges, in_scope, threads);
    let parts: Vec<Groups> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| s.spawn(|| scan_ranges(share)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| BudgetError::Engine("a scan thread panicked".into()))
            })
            .collect::<Result<_, _>>()
    })?;
    let mut merged: HashMap<Vec<i64>, Vec<i64>, FxBuild> = HashMap::default();
    for (key, sums) in parts.into_iter().flatten() {
        match merged.get_mut(&key) {
            Some(total) => {
                for (t, v) in total.iter_mut().zip(sums) {
                    *t = t.wrapping_add(v);
                }
            }
            None => {
                merged.insert(key, sums);
            }
        }
    }
    Ok(merged.into_iter().collect())
}

/// Rows per block: the selection, cells and groups of a block stay in the first-level cache.
const BLOCK: usize = 2048;

/// Splits the ranges into `n` shares of about equal rows.
fn share(ranges: &[Range<usize>], rows: usize, n: usize) -> Vec<Vec<Range<usize>>> {
    let per = rows.div_ceil(n);
    let mut shares = vec![vec![]];
    let mut room = per;
    for r in ranges {
        let mut start = r.start;
        while start < r.end {
            if room == 0 {
                shares.push(vec![]);
                room = per;
            }
            let end = (start + room).min(r.end);
            if let Some(last) = shares.last_mut() {
                last.push(start..end);
            }
            room -= end - start;
            start = end;
        }
    }
    shares
}

/// The rows of a block a scan reads: all of `start..end`, or those the filters selected.
#[derive(Clone, Copy)]
enum Block<'a> {
    Rows(usize, usize),
    Selected(&'a [u32]),
}

impl Block<'_> {
    fn len(&self) -> usize {
        match self {
            Block::Rows(s, e) => e - s,
            Block::Selected(s) => s.len(),
        }
    }
}

/// A column read by the scan's loops: a stored slice (contiguous reads the compiler vectorizes) or a
/// derived dimension.
trait At: Copy {
    fn at(&self, r: usize) -> i64;
    /// Each value of rows `s..e`, into `f(i, value)`.
    fn each(&self, s: usize, e: usize, f: impl FnMut(usize, i64));
    /// The block's rows as a slice, when they are contiguous rows of a stored column.
    fn rows(&self, block: Block) -> Option<FoldSlice<'_>>;
}

/// A slice type `At` can hand out as a `FoldSlice`.
trait Stored: Copy + Into<i64> {
    fn slice(v: &[Self]) -> FoldSlice<'_>;
}

impl Stored for i8 {
    fn slice(v: &[i8]) -> FoldSlice<'_> {
        FoldSlice::I8(v)
    }
}
impl Stored for i16 {
    fn slice(v: &[i16]) -> FoldSlice<'_> {
        FoldSlice::I16(v)
    }
}
impl Stored for i32 {
    fn slice(v: &[i32]) -> FoldSlice<'_> {
        FoldSlice::I32(v)
    }
}
impl Stored for i64 {
    fn slice(v: &[i64]) -> FoldSlice<'_> {
        FoldSlice::I64(v)
    }
}

impl<T: Stored> At for &[T] {
    fn rows(&self, block: Block) -> Option<FoldSlice<'_>> {
        match block {
            Block::Rows(s, e) => Some(T::slice(&self[s..e])),
            Block::Selected(_) => None,
        }
    }
    #[inline(always)]
    fn at(&self, r: usize) -> i64 {
        self[r].into()
    }
    #[inline(always)]
    fn each(&self, s: usize, e: usize, mut f: impl FnMut(usize, i64)) {
        for (i, v) in self[s..e].iter().enumerate() {
            f(i, (*v).into());
        }
    }
}

/// A derived dimension (the year, a region, a district) read a row at a time.
#[derive(Clone, Copy)]
struct Derived<'a>(Values<'a>);

impl At for Derived<'_> {
    fn rows(&self, _: Block) -> Option<FoldSlice<'_>> {
        None
    }
    #[inline(always)]
    fn at(&self, r: usize) -> i64 {
        self.0.get(r)
    }
    fn each(&self, s: usize, e: usize, mut f: impl FnMut(usize, i64)) {
        for (i, r) in (s..e).enumerate() {
            f(i, self.0.get(r));
        }
    }
}

/// Calls the generic function `$f` with the column as its own slice type (or as `Derived`).
macro_rules! typed {
    ($values:expr, $f:ident($($arg:expr),*)) => {
        match $values {
            Values::I8(x) => $f(x, $($arg),*),
            Values::I16(x) => $f(x, $($arg),*),
            Values::I32(x) => $f(x, $($arg),*),
            Values::I64(x) => $f(x, $($arg),*),
            other => $f(Derived(other), $($arg),*),
        }
    };
}

/// Each value of the block's rows, into `f(i, value)` (i: the row's place in the block).
#[inline(always)]
fn each_in<C: At>(c: C, block: Block, mut f: impl FnMut(usize, i64)) {
    match block {
        Block::Rows(s, e) => c.each(s, e, f),
        Block::Selected(sel) => {
            for (i, &r) in sel.iter().enumerate() {
                f(i, c.at(r as usize));
            }
        }
    }
}

/// The rows of `start..end` that pass every filter, into `sel`.
fn select(filters: &[(Values, &[i64])], start: usize, end: usize, sel: &mut Vec<u32>) {
    fn first<C: At>(c: C, values: &[i64], start: usize, end: usize, sel: &mut Vec<u32>) {
        c.each(start, end, |i, v| {
            if values.contains(&v) {
                sel.push((start + i) as u32);
            }
        });
    }
    sel.clear();
    let Some(((column, values), rest)) = filters.split_first() else {
        sel.extend(start as u32..end as u32);
        return;
    };
    typed!(*column, first(values, start, end, sel));
    for (column, values) in rest {
        sel.retain(|&r| values.contains(&column.get(r as usize)));
    }
}

/// Folds one grouping column into each row's cell: cell × count + (code ÷ step − lowest). Over
/// contiguous rows of a stored column the loop zips two slices (no bounds checks; vectorized).
fn fold_cells<C: At>(c: C, block: Block, lo: i64, count: u32, step: i64, cell: &mut [u32]) {
    match (c.rows(block), step) {
        (Some(FoldSlice::I8(v)), 1) => fold(v, lo, count, cell),
        (Some(FoldSlice::I16(v)), 1) => fold(v, lo, count, cell),
        (Some(FoldSlice::I32(v)), 1) => fold(v, lo, count, cell),
        (Some(FoldSlice::I64(v)), 1) => fold(v, lo, count, cell),
        (_, 1) => each_in(c, block, |i, v| cell[i] = cell[i] * count + (v - lo) as u32),
        _ => each_in(c, block, |i, v| {
            cell[i] = cell[i] * count + (v.div_euclid(step) - lo) as u32
        }),
    }
}

#[inline(always)]
fn fold<T: Copy + Into<i64>>(v: &[T], lo: i64, count: u32, cell: &mut [u32]) {
    for (c, &x) in cell.iter_mut().zip(v) {
        *c = *c * count + (x.into() - lo) as u32;
    }
}

/// The contiguous rows of a stored column, at its own width.
enum FoldSlice<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
}

/// Adds a measure's values of the block's rows to their groups' sums.
fn add_measure(values: &[i64], block: Block, group: &[u32], sums: &mut [i64]) {
    match block {
        Block::Rows(s, e) => {
            for (&g, &v) in group.iter().zip(&values[s..e]) {
                let t = &mut sums[g as usize];
                *t = t.wrapping_add(v);
            }
        }
        Block::Selected(sel) => {
            for (&g, &r) in group.iter().zip(sel) {
                let t = &mut sums[g as usize];
                *t = t.wrapping_add(values[r as usize]);
            }
        }
    }
}

/// How a query finds a row's group: when the grouping columns' code ranges multiply to a small
/// number of cells (a month, an administrator, a program), the row's cell is its group and the sums
/// are kept per cell; otherwise by hashing its key. No grouping is one cell.
enum GroupPlan {
    /// For each key: (lowest code ÷ step, number of codes, step).
    Dense(Vec<(i64, u64, i64)>),
    Hashed,
}

/// Cells × (measures + 1) of a dense grouping: at most 8 MiB of sums per thread.
const DENSE_LIMIT: u64 = 1 << 20;

impl GroupPlan {
    fn of(keys: &[(Values, (i64, i64), i64)], measures: usize) -> GroupPlan {
        let dims: Option<Vec<(i64, u64, i64)>> = keys
            .iter()
            .map(|(_, (lo, hi), step)| {
                let (lo, hi) = (lo.div_euclid(*step), hi.div_euclid(*step));
                let n = u64::try_from(hi.checked_sub(lo)?.checked_add(1)?).ok()?;
                Some((lo, n, *step))
            })
            .collect();
        match dims {
            Some(d)
                if d.iter()
                    .try_fold(measures as u64 + 1, |n, k| n.checked_mul(k.1))
                    .is_some_and(|n| n <= DENSE_LIMIT) =>
            {
                GroupPlan::Dense(d)
            }
            _ => GroupPlan::Hashed,
        }
    }

    fn cells(&self) -> usize {
        match self {
            GroupPlan::Dense(d) => d.iter().map(|k| k.1 as usize).product(),
            GroupPlan::Hashed => 0,
        }
    }
}

/// One thread's groups and sums (a vector per measure, indexed by cell or by hashed group).
struct Accumulator {
    /// Dense: whether a row fell in each cell.
    seen: Vec<bool>,
    /// Hashed: each group's key and its number.
    hashed: HashMap<Vec<i64>, u32, FxBuild>,
    keys_of_groups: Vec<Vec<i64>>,
    sums: Vec<Vec<i64>>,
    /// Scratch per block: each row's cell or group.
    group: Vec<u32>,
    key: Vec<i64>,
}

impl Accumulator {
    fn new(plan: &GroupPlan, measures: usize) -> Self {
        let cells = plan.cells();
        Accumulator {
            seen: vec![false; cells],
            hashed: HashMap::default(),
            keys_of_groups: vec![],
            sums: vec![vec![0; cells]; measures],
            group: Vec::with_capacity(BLOCK),
            key: vec![],
        }
    }

    fn add(
        &mut self,
        plan: &GroupPlan,
        keys: &[(Values, (i64, i64), i64)],
        measures: &[&[i64]],
        block: Block,
    ) {
        let n = block.len();
        if n == 0 {
            return;
        }
        self.group.clear();
        match plan {
            GroupPlan::Dense(dims) => {
                self.group.resize(n, 0);
                for ((values, _, _), &(lo, count, step)) in keys.iter().zip(dims) {
                    let cell = self.group.as_mut_slice();
                    typed!(*values, fold_cells(block, lo, count as u32, step, cell));
                }
                for &c in &self.group {
                    self.seen[c as usize] = true;
                }
            }
            GroupPlan::Hashed => {
                for i in 0..n {
                    let r = match block {
                        Block::Rows(s, _) => s + i,
                        Block::Selected(sel) => sel[i] as usize,
                    };
                    self.key.clear();
                    self.key.extend(keys.iter().map(|(v, _, _)| v.get(r)));
                    let g = match self.hashed.get(self.key.as_slice()) {
                        Some(&g) => g,
                        None => {
                            let g = self.keys_of_groups.len() as u32;
                            for s in &mut self.sums {
                                s.push(0);
                            }
                            self.keys_of_groups.push(self.key.clone());
                            self.hashed.insert(self.key.clone(), g);
                            g
                        }
                    };
                    self.group.push(g);
                }
            }
        }
        for (sums, column) in self.sums.iter_mut().zip(measures) {
            add_measure(column, block, &self.group, sums);
        }
    }

    /// Each group's key (its codes) and sums.
    fn groups(self, plan: &GroupPlan, keys: &[(Values, (i64, i64), i64)]) -> Groups {
        let sums_of = |g: usize| self.sums.iter().map(|s| s[g]).collect::<Vec<i64>>();
        match plan {
            GroupPlan::Hashed => self
                .keys_of_groups
                .iter()
                .enumerate()
                .map(|(g, key)| (key.clone(), sums_of(g)))
                .collect(),
            GroupPlan::Dense(dims) => (0..self.seen.len())
                .filter(|&c| self.seen[c])
                .map(|cell| {
                    let mut c = cell as u64;
                    let mut key = vec![0; keys.len()];
                    for (k, &(lo, n, step)) in dims.iter().enumerate().rev() {
                        key[k] = ((c % n) as i64 + lo) * step;
                        c /= n;
                    }
                    (key, sums_of(cell))
                })
                .collect(),
        }
    }
}

/// The Fx hash (rustc's): a multiply and a rotate per word, for the small integer keys of a grouping
/// (the standard SipHash guards against chosen keys, which stored budget codes are not).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0_u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<Fx>;

/// Sorts the groups (by the query's sort keys, then by every grouping column), pages them and formats
/// their codes. A query without grouping has one row, of zeros when no row matched.
fn answer(q: &DataQuery, groups: Groups) -> Result<DataAnswer, BudgetError> {
    let mut rows = groups;
    if q.group_by.is_empty() && rows.is_empty() {
        rows.push((vec![], vec![0; q.measures.len()]));
    }
    let sort: Vec<(bool, usize, bool)> = q
        .sort
        .iter()
        .map(|s| {
            if let Some(i) = q.group_by.iter().position(|d| d.name() == s.column) {
                Ok((true, i, s.descending))
            } else if let Some(i) = q.measures.iter().position(|m| *m == s.column) {
                Ok((false, i, s.descending))
            } else {
                Err(BudgetError::Engine(format!("cannot sort by {}", s.column)))
            }
        })
        .collect::<Result<_, _>>()?;
    rows.sort_by(|a, b| {
        sort.iter()
            .map(|&(is_key, i, descending)| {
                let o = if is_key {
                    a.0[i].cmp(&b.0[i])
                } else {
                    a.1[i].cmp(&b.1[i])
                };
                if descending { o.reverse() } else { o }
            })
            .chain(std::iter::once(a.0.cmp(&b.0)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut page: Vec<(Vec<String>, Vec<i64>)> = rows
        .into_iter()
        .skip(q.offset)
        .take(q.limit.saturating_add(1))
        .map(|(k, v)| {
            let codes = q
                .group_by
                .iter()
                .zip(k)
                .map(|(d, c)| format_code(*d, c))
                .collect();
            (codes, v)
        })
        .collect();
    let has_more = page.len() > q.limit;
    page.truncate(q.limit);
    Ok(DataAnswer {
        group_by: q.group_by.iter().map(|d| d.name().to_owned()).collect(),
        measures: q.measures.clone(),
        rows: page,
        has_more,
    })
}

impl BudgetStore for BudgetTables {
    fn query<'a>(
        &'a self,
        spec: &'static DatasetSpec,
        scope: &'a DataScope,
        q: &'a DataQuery,
    ) -> AnswerFuture<'a> {
        Box::pin(self.run(spec, scope, q))
    }
}

/// An integer cell of any of the widths the datasets use (nulls read as 0).
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

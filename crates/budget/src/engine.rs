//! The budget data engine: each dataset's rows held in memory as integer columns at their own width,
//! one partition per fiscal year, loaded from the Parquet files of the data folder. A query reads
//! only its fiscal year's partition and applies the caller's scope to every row before its own
//! filters, then groups and sums. The server only reads the files (loads happen through the CLI, which
//! swaps files in atomically).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use arrow_array::{Array, ArrayRef, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch};
use qoljetim_domain::org::AdministratorCode;
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

/// One column of a partition, at the width its dataset gives it (a year or a level needs no `i64`).
#[derive(Debug, Clone)]
enum Column {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Column {
    fn of(d: &arrow_schema::DataType) -> Column {
        use arrow_schema::DataType;
        match d {
            DataType::Int8 => Column::I8(vec![]),
            DataType::Int16 => Column::I16(vec![]),
            DataType::Int32 => Column::I32(vec![]),
            _ => Column::I64(vec![]),
        }
    }

    #[inline]
    fn get(&self, r: usize) -> i64 {
        match self {
            Column::I8(v) => i64::from(v[r]),
            Column::I16(v) => i64::from(v[r]),
            Column::I32(v) => i64::from(v[r]),
            Column::I64(v) => v[r],
        }
    }

    /// Appends rows `rows` of an Arrow column: of the column's own width directly, of another integer
    /// width when every value fits (a null reads as 0).
    fn push_from(&mut self, a: &ArrayRef, rows: &[usize]) -> Result<(), BudgetError> {
        let any = a.as_any();
        match self {
            Column::I8(v) => match any.downcast_ref::<Int8Array>() {
                Some(x) => v.extend(rows.iter().map(|&r| x.value(r))),
                None => return narrow(v, a, rows),
            },
            Column::I16(v) => match any.downcast_ref::<Int16Array>() {
                Some(x) => v.extend(rows.iter().map(|&r| x.value(r))),
                None => return narrow(v, a, rows),
            },
            Column::I32(v) => match any.downcast_ref::<Int32Array>() {
                Some(x) => v.extend(rows.iter().map(|&r| x.value(r))),
                None => return narrow(v, a, rows),
            },
            Column::I64(v) => match any.downcast_ref::<Int64Array>() {
                Some(x) => v.extend(rows.iter().map(|&r| x.value(r))),
                None => v.extend(rows.iter().map(|&r| int_at(a, r))),
            },
        }
        Ok(())
    }
}

/// Values of another integer width, each checked to fit.
fn narrow<T: TryFrom<i64>>(
    v: &mut Vec<T>,
    a: &ArrayRef,
    rows: &[usize],
) -> Result<(), BudgetError> {
    for &r in rows {
        let x = int_at(a, r);
        v.push(T::try_from(x).map_err(|_| {
            BudgetError::Engine(format!("{x} does not fit a {} column", a.data_type()))
        })?);
    }
    Ok(())
}

/// The rows of one dataset in one fiscal year: dimensions, then measures, in the schema's order.
#[derive(Debug, Clone)]
struct Partition {
    rows: usize,
    columns: Vec<Column>,
}

/// One dataset: its partitions by fiscal year.
#[derive(Debug, Clone, Default)]
struct Table {
    years: BTreeMap<i16, Partition>,
}

impl Table {
    /// Adds a batch in the dataset's schema, each row to the partition of its fiscal year.
    fn add(&mut self, spec: &DatasetSpec, batch: &RecordBatch) -> Result<(), BudgetError> {
        let schema = spec.schema();
        let columns: Vec<&ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| {
                batch.column_by_name(f.name()).ok_or_else(|| {
                    BudgetError::Engine(format!("{}: no column {}", spec.name, f.name()))
                })
            })
            .collect::<Result<_, _>>()?;
        let year_col = columns[0];
        let mut by_year: BTreeMap<i16, Vec<usize>> = BTreeMap::new();
        for r in 0..batch.num_rows() {
            let y = i16::try_from(int_at(year_col, r))
                .map_err(|_| BudgetError::Engine("fiscal year out of range".into()))?;
            by_year.entry(y).or_default().push(r);
        }
        for (year, rows) in by_year {
            let part = self.years.entry(year).or_insert_with(|| Partition {
                rows: 0,
                columns: schema
                    .fields()
                    .iter()
                    .map(|f| Column::of(f.data_type()))
                    .collect(),
            });
            for (c, a) in part.columns.iter_mut().zip(&columns) {
                c.push_from(a, &rows)?;
            }
            part.rows += rows.len();
        }
        Ok(())
    }
}

struct Loaded {
    stamp: Option<SystemTime>,
    tables: HashMap<(System, &'static str), Table>,
}

/// The budget data in memory, loaded from the Parquet files under `<data_dir>/budget`.
pub struct BudgetTables {
    root: PathBuf,
    /// Partitions of at least this many rows are scanned on every core (the generated oracle test
    /// sets 0, so that its small tables take the parallel path and its merge too).
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

/// Reads every current file into memory (off the async threads: Parquet decoding is CPU work).
fn load(root: &Path) -> Result<Loaded, BudgetError> {
    let stamp = stamp(root);
    let mut tables = HashMap::new();
    for spec in DATASETS.iter() {
        let mut table = Table::default();
        for file in current_files(root, spec) {
            let f = std::fs::File::open(&file)?;
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)?
                .with_batch_size(65_536)
                .build()?;
            for batch in reader {
                table.add(spec, &batch?)?;
            }
        }
        tables.insert((spec.system, spec.name), table);
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
            for b in &batches {
                table.add(spec, b)?;
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

/// The position of a column in the dataset's schema (dimensions, then measures).
fn position(spec: &DatasetSpec, name: &str) -> Result<usize, BudgetError> {
    spec.dims
        .iter()
        .map(|d| d.name())
        .chain(spec.measures.iter().copied())
        .position(|c| c == name)
        .ok_or_else(|| BudgetError::Engine(format!("{}: no column {name}", spec.name)))
}

/// Sums the measures of the partition's rows that lie in the scope and pass the query's filters, by
/// the values of the grouping columns. Column at a time: the rows in scope (the scope is checked on
/// every row, before the filters), then each selected row's group, then each measure's sums.
fn scan(
    spec: &DatasetSpec,
    p: &Partition,
    scope: &DataScope,
    q: &DataQuery,
    parallel_from: usize,
) -> Result<Groups, BudgetError> {
    let col =
        |name: &str| -> Result<&Column, BudgetError> { Ok(&p.columns[position(spec, name)?]) };
    let level = col(Dim::BudgetLevel.name())?;
    let budget = col(Dim::Budget.name())?;
    let administrator = if scope.administrators.is_empty() {
        None
    } else {
        Some(col(Dim::Administrator.name())?)
    };
    let range = scope.kato_range();
    let filters: Vec<(&Column, &[i64])> = q
        .filters
        .iter()
        .map(|(d, values)| Ok((col(d.name())?, values.as_slice())))
        .collect::<Result<_, BudgetError>>()?;
    let keys: Vec<&Column> = q
        .group_by
        .iter()
        .map(|d| col(d.name()))
        .collect::<Result<_, _>>()?;
    let measures: Vec<&Column> = q
        .measures
        .iter()
        .map(|m| col(m))
        .collect::<Result<_, _>>()?;
    let scan_rows = |rows: std::ops::Range<usize>| -> Groups {
        let selected: Vec<usize> = rows
            .filter(|&r| {
                let admin = || administrator.map_or(0, |a| a.get(r) as i16);
                scope.admits_in_year(range, level.get(r) as i8, budget.get(r), admin)
            })
            .filter(|&r| filters.iter().all(|(c, values)| values.contains(&c.get(r))))
            .collect();
        let (group_keys, group_of) = group(&keys, &selected);
        let mut sums = vec![vec![0_i64; measures.len()]; group_keys.len()];
        for (m, column) in measures.iter().enumerate() {
            let mut total = vec![0_i64; group_keys.len()];
            macro_rules! add {
                ($v:expr) => {
                    for (&r, &g) in selected.iter().zip(&group_of) {
                        total[g] = total[g].wrapping_add(i64::from($v[r]));
                    }
                };
            }
            match column {
                Column::I8(v) => add!(v),
                Column::I16(v) => add!(v),
                Column::I32(v) => add!(v),
                Column::I64(v) => add!(v),
            }
            for (s, t) in sums.iter_mut().zip(total) {
                s[m] = t;
            }
        }
        group_keys.into_iter().zip(sums).collect()
    };
    // Both cores (or more) scan their share of the partition; the groups are then merged.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    if threads == 1 || p.rows < parallel_from {
        return Ok(scan_rows(0..p.rows));
    }
    let chunk = p.rows.div_ceil(threads);
    let parts: Vec<Groups> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let rows = (t * chunk).min(p.rows)..((t + 1) * chunk).min(p.rows);
                s.spawn(move || scan_rows(rows))
            })
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

/// The keys of the groups and each selected row's group (one group without grouping). Codes span
/// small ranges (a month, an administrator, a program): when the product of the key columns' ranges
/// over the selected rows is small, a row's group is found by direct indexing, otherwise by hashing.
fn group(keys: &[&Column], selected: &[usize]) -> (Vec<Vec<i64>>, Vec<usize>) {
    if keys.is_empty() {
        let groups = if selected.is_empty() {
            vec![]
        } else {
            vec![vec![]]
        };
        return (groups, vec![0; selected.len()]);
    }
    let mut group_keys: Vec<Vec<i64>> = vec![];
    let mut group_of = Vec::with_capacity(selected.len());
    let bounds: Vec<(i64, i64)> = keys
        .iter()
        .map(|c| {
            selected.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &r| {
                let v = c.get(r);
                (lo.min(v), hi.max(v))
            })
        })
        .collect();
    let cells = bounds.iter().try_fold(1_u64, |n, (lo, hi)| {
        n.checked_mul(u64::try_from(hi.checked_sub(*lo)?.checked_add(1)?).ok()?)
    });
    const DENSE_LIMIT: u64 = 1 << 22;
    match cells {
        Some(n) if n <= DENSE_LIMIT => {
            // slot of a key combination → its group number + 1 (0: not seen yet).
            let mut slots = vec![0_u32; n as usize];
            for &r in selected {
                let mut slot = 0_usize;
                for (c, (lo, hi)) in keys.iter().zip(&bounds) {
                    slot = slot * ((hi - lo + 1) as usize) + (c.get(r) - lo) as usize;
                }
                if slots[slot] == 0 {
                    group_keys.push(keys.iter().map(|c| c.get(r)).collect());
                    slots[slot] = group_keys.len() as u32;
                }
                group_of.push(slots[slot] as usize - 1);
            }
        }
        _ => {
            let mut index: HashMap<Vec<i64>, usize, FxBuild> = HashMap::default();
            let mut key = Vec::with_capacity(keys.len());
            for &r in selected {
                key.clear();
                key.extend(keys.iter().map(|c| c.get(r)));
                let g = match index.get(key.as_slice()) {
                    Some(&g) => g,
                    None => {
                        group_keys.push(key.clone());
                        index.insert(key.clone(), group_keys.len() - 1);
                        group_keys.len() - 1
                    }
                };
                group_of.push(g);
            }
        }
    }
    (group_keys, group_of)
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

//! `qoljetim import budget FILE…`: CSV (header = the dataset's import columns, docs/budget-data.md)
//! or Parquet with the same columns. Every row is checked first; a bad row stops the load with the
//! file, line, column and rule, and nothing of that load is written. Each (dataset, fiscal year,
//! version) becomes one file that replaces an earlier load of the same key.

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::{
    Array, ArrayRef, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::DataType;
use qoljetim_domain::{Kato, KatoLevel};

use crate::BudgetError;
use crate::files::{PendingFile, commit, discard, write_pending};
use crate::model::{DATASETS, DatasetSpec, Dim, district_of, level_code, region_of};

/// The dataset whose import columns are exactly `header`.
pub fn dataset_of_header(header: &[String]) -> Option<&'static DatasetSpec> {
    let mut h: Vec<&str> = header.iter().map(|s| s.trim()).collect();
    h.sort();
    DATASETS.iter().find(|d| {
        let mut cols = d.import_columns();
        cols.sort();
        cols == h
    })
}

/// One checked row: dimension values by name and measures.
struct Row {
    version: String,
    dims: BTreeMap<&'static str, i64>,
    measures: Vec<i64>,
}

fn row_err(file: &str, line: u64, column: &str, rule: &str) -> BudgetError {
    BudgetError::Row {
        file: file.to_owned(),
        line,
        column: column.to_owned(),
        rule: rule.to_owned(),
    }
}

fn code(value: &str, digits: usize) -> Option<i64> {
    (value.len() == digits && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse().ok())
        .flatten()
}

/// Checks one record against the dataset's rules.
fn check(
    spec: &DatasetSpec,
    cols: &[&'static str],
    rec: &[String],
    file: &str,
    line: u64,
) -> Result<Row, BudgetError> {
    let mut row = Row {
        version: String::new(),
        dims: BTreeMap::new(),
        measures: vec![0; spec.measures.len()],
    };
    let mut level = None;
    for (name, raw) in cols.iter().zip(rec) {
        let v = raw.trim();
        let bad = |rule: &str| row_err(file, line, name, rule);
        if *name == "version" {
            if v.is_empty()
                || v.len() > 40
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return Err(bad("version: 1 to 40 letters, digits, '.', '_' or '-'"));
            }
            row.version = v.to_owned();
            continue;
        }
        if let Some(i) = spec.measures.iter().position(|m| m == name) {
            row.measures[i] = v
                .parse::<i64>()
                .map_err(|_| bad("integer_tiyn: an amount is a whole number of tiyn"))?;
            continue;
        }
        let Some(dim) = Dim::parse(name) else {
            return Err(bad("unknown_column"));
        };
        let value = match dim {
            Dim::FiscalYear => v
                .parse::<i64>()
                .ok()
                .filter(|y| (2000..=2100).contains(y))
                .ok_or_else(|| bad("fiscal_year: 2000 to 2100"))?,
            Dim::Month => v
                .parse::<i64>()
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(|| bad("month: 1 to 12"))?,
            Dim::BudgetLevel => {
                let l = level_code(v)
                    .ok_or_else(|| bad("budget_level: republican, regional, district or rural"))?;
                level = Some(l);
                i64::from(l)
            }
            Dim::Budget => {
                if v.is_empty() || v == "000000000" {
                    0
                } else {
                    let k = Kato::parse(v).map_err(|e| bad(&format!("{}: {e}", e.rule())))?;
                    k.as_str().parse().unwrap_or(0)
                }
            }
            Dim::Administrator | Dim::Program | Dim::Subprogram | Dim::Specifics => {
                code(v, 3).ok_or_else(|| bad("code_format: 3 digits"))?
            }
            Dim::FunctionalGroup => code(v, 2)
                .filter(|g| (1..=15).contains(g))
                .ok_or_else(|| bad("functional_group: 01 to 15"))?,
            Dim::RevenueCode => code(v, 6).ok_or_else(|| bad("revenue_code: 6 digits"))?,
            Dim::Indicator => v
                .parse::<i64>()
                .ok()
                .filter(|i| *i > 0 && *i < i64::from(i32::MAX))
                .ok_or_else(|| bad("indicator: a positive number"))?,
            Dim::Region | Dim::District => {
                return Err(bad(
                    "derived_column: region and district come from the budget's KATO",
                ));
            }
        };
        row.dims.insert(dim.name(), value);
    }
    // The budget's KATO level must be its budget level's.
    let kato = row.dims.get("budget").copied().unwrap_or(0);
    let expected = match level {
        Some(0) => kato == 0,
        Some(l) => {
            let k = Kato::parse(&format!("{kato:09}")).ok();
            matches!(
                (l, k.map(|k| k.level())),
                (1, Some(KatoLevel::Region))
                    | (2, Some(KatoLevel::District))
                    | (3, Some(KatoLevel::RuralDistrict))
            )
        }
        None => false,
    };
    if !expected {
        return Err(row_err(
            file,
            line,
            "budget",
            "budget_level_mismatch: the KATO code is not of the budget level's territory level",
        ));
    }
    Ok(row)
}

fn build_batch(spec: &DatasetSpec, rows: &[Row]) -> Result<RecordBatch, BudgetError> {
    let mut cols: Vec<ArrayRef> = vec![];
    for d in spec.dims {
        let values: Vec<i64> = rows
            .iter()
            .map(|r| {
                let kato = r.dims.get("budget").copied().unwrap_or(0);
                let level = r.dims.get("budget_level").copied().unwrap_or(0) as i8;
                match d {
                    // The republican budget's KATO is 0, so its region is 0 too.
                    Dim::Region => region_of(kato),
                    Dim::District => district_of(kato, level),
                    _ => r.dims.get(d.name()).copied().unwrap_or(0),
                }
            })
            .collect();
        cols.push(match d.data_type() {
            DataType::Int8 => std::sync::Arc::new(Int8Array::from(
                values.iter().map(|v| *v as i8).collect::<Vec<_>>(),
            )),
            DataType::Int16 => std::sync::Arc::new(Int16Array::from(
                values.iter().map(|v| *v as i16).collect::<Vec<_>>(),
            )),
            DataType::Int32 => std::sync::Arc::new(Int32Array::from(
                values.iter().map(|v| *v as i32).collect::<Vec<_>>(),
            )),
            _ => std::sync::Arc::new(Int64Array::from(values)),
        });
    }
    for i in 0..spec.measures.len() {
        cols.push(std::sync::Arc::new(Int64Array::from(
            rows.iter().map(|r| r.measures[i]).collect::<Vec<_>>(),
        )));
    }
    Ok(RecordBatch::try_new(spec.schema(), cols)?)
}

/// Records of a file as text, with their line numbers: CSV directly, Parquet cell by cell.
/// A file's header and its records with their line numbers.
type Records = (Vec<String>, Vec<(u64, Vec<String>)>);

fn records(path: &Path) -> Result<Records, BudgetError> {
    let file = path.display().to_string();
    let ferr = |m: String| BudgetError::File {
        file: file.clone(),
        message: m,
    };
    if path.extension().is_some_and(|e| e == "parquet") {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let f = std::fs::File::open(path)?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)?.build()?;
        let mut header = vec![];
        let mut out = vec![];
        let mut line = 1u64;
        for batch in reader {
            let batch = batch?;
            header = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            for r in 0..batch.num_rows() {
                line += 1;
                // Codes stored as integers get back the width of their classification ("04", "001").
                let rec = batch
                    .columns()
                    .iter()
                    .zip(&header)
                    .map(|(c, name)| {
                        match Dim::parse(name)
                            .filter(|d| d.width() > 0 && !c.as_any().is::<StringArray>())
                        {
                            Some(d) if !c.is_null(r) => {
                                format!("{:0w$}", crate::engine::int_at(c, r), w = d.width())
                            }
                            _ => cell(c, r),
                        }
                    })
                    .collect();
                out.push((line, rec));
            }
        }
        return Ok((header, out));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(path)
        .map_err(|e| ferr(e.to_string()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| ferr(e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut out = vec![];
    for rec in rdr.records() {
        let rec = rec.map_err(|e| ferr(e.to_string()))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        out.push((line, rec.iter().map(str::to_owned).collect()));
    }
    Ok((header, out))
}

fn cell(c: &ArrayRef, r: usize) -> String {
    if c.is_null(r) {
        return String::new();
    }
    if let Some(s) = c.as_any().downcast_ref::<StringArray>() {
        return s.value(r).to_owned();
    }
    crate::engine::int_at(c, r).to_string()
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub dataset: String,
    pub fiscal_year: i16,
    pub version: String,
    pub rows: usize,
}

/// Imports `files` into the data folder `root`, all or nothing; `progress` is told the rows checked.
pub fn import(
    root: &Path,
    files: &[&Path],
    progress: &dyn Fn(u64),
) -> Result<Vec<Loaded>, BudgetError> {
    let mut groups: BTreeMap<(&'static str, i16, String), (&'static DatasetSpec, Vec<Row>)> =
        BTreeMap::new();
    for path in files {
        let file = path.display().to_string();
        let (header, recs) = records(path)?;
        let spec = dataset_of_header(&header).ok_or_else(|| BudgetError::File {
            file: file.clone(),
            message: format!(
                "the header names no dataset; expected one of: {}",
                DATASETS
                    .iter()
                    .map(|d| format!("{} = {}", d.name, d.import_columns().join(",")))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        })?;
        let cols: Vec<&'static str> = header
            .iter()
            .map(|h| {
                spec.import_columns()
                    .into_iter()
                    .find(|c| *c == h.trim())
                    .unwrap_or("version")
            })
            .collect();
        for (i, (line, rec)) in recs.into_iter().enumerate() {
            let row = check(spec, &cols, &rec, &file, line)?;
            let fy = row.dims.get("fiscal_year").copied().unwrap_or(0) as i16;
            groups
                .entry((spec.name, fy, row.version.clone()))
                .or_insert_with(|| (spec, vec![]))
                .1
                .push(row);
            if i % 10_000 == 0 {
                progress(i as u64);
            }
        }
    }
    let mut pending: Vec<PendingFile> = vec![];
    let mut loaded = vec![];
    let written = (|| -> Result<(), BudgetError> {
        for ((name, fy, version), (spec, rows)) in &groups {
            let batch = build_batch(spec, rows)?;
            pending.push(write_pending(
                root,
                spec,
                *fy,
                version,
                std::slice::from_ref(&batch),
            )?);
            loaded.push(Loaded {
                dataset: format!("{}/{name}", spec.system.as_str()),
                fiscal_year: *fy,
                version: version.clone(),
                rows: rows.len(),
            });
        }
        Ok(())
    })();
    match written {
        Ok(()) => {
            commit(root, pending)?;
            Ok(loaded)
        }
        Err(e) => {
            discard(&pending);
            Err(e)
        }
    }
}

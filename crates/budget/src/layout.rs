//! How a dataset's rows are laid out for scoped queries (issue 19): one partition per fiscal year,
//! its rows sorted by the scope keys — budget level, then the budget's KATO, then the administrator —
//! so that a grant's scope, which is a few levels, a KATO range and perhaps some administrators, is a
//! few contiguous row ranges. The engine keeps, per partition, only the columns it cannot derive
//! (not the fiscal year, which the partition is; not the region or district, which the KATO and level
//! give), each at its narrowest width (a KATO fits `i32`).
//!
//! Both files of a load are written in this order: the Parquet file (the data folder's exchange
//! format, full schema) and, beside it, the engine's Arrow IPC file of the stored columns, which the
//! server maps into memory at start (no decoding, no copy).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::BudgetError;
use crate::engine::int_at;
use crate::model::{DatasetSpec, Dim};

/// The engine file's format name, kept in its schema's metadata.
const LAYOUT: &str = "qoljetim-scope-sorted-1";

/// A dimension the engine stores (the fiscal year is the partition; region and district are derived).
pub fn stored(d: Dim) -> bool {
    d != Dim::FiscalYear && !d.derived()
}

/// The width the engine stores a dimension at: the Parquet width, but a KATO as `i32` (nine digits
/// fit).
pub fn engine_type(d: Dim) -> DataType {
    match d {
        Dim::Budget => DataType::Int32,
        _ => d.data_type(),
    }
}

/// The engine's schema of a dataset: the stored dimensions, then the measures.
pub fn engine_schema(spec: &DatasetSpec, fiscal_year: i16) -> SchemaRef {
    let mut fields: Vec<Field> = spec
        .dims
        .iter()
        .filter(|d| stored(**d))
        .map(|d| Field::new(d.name(), engine_type(*d), false))
        .collect();
    fields.extend(
        spec.measures
            .iter()
            .map(|m| Field::new(*m, DataType::Int64, false)),
    );
    let metadata = [
        ("layout".to_owned(), LAYOUT.to_owned()),
        ("dataset".to_owned(), spec.name.to_owned()),
        ("fiscal_year".to_owned(), fiscal_year.to_string()),
    ];
    Arc::new(Schema::new(fields).with_metadata(metadata.into_iter().collect()))
}

/// The sort key of a row: level, KATO, administrator (0 where the dataset has none), packed so
/// that one integer comparison orders them.
fn sort_key(level: i64, kato: i64, administrator: i64) -> u64 {
    ((level as u64 & 0xff) << 56)
        | ((kato as u64 & 0xffff_ffff) << 16)
        | (administrator as u64 & 0xffff)
}

fn column<'a>(
    spec: &DatasetSpec,
    batch: &'a RecordBatch,
    d: Dim,
) -> Result<&'a ArrayRef, BudgetError> {
    batch
        .column_by_name(d.name())
        .ok_or_else(|| BudgetError::Engine(format!("{}: no column {}", spec.name, d.name())))
}

/// The rows of one fiscal year's batches (in the dataset's full schema) as one batch sorted by the
/// scope keys; ties keep their order, so the same rows give the same file.
pub fn sort_by_scope(
    spec: &DatasetSpec,
    batches: &[RecordBatch],
) -> Result<RecordBatch, BudgetError> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if total > u32::MAX as usize {
        return Err(BudgetError::Engine(format!(
            "{}: {total} rows in one fiscal year; a partition holds at most {}",
            spec.name,
            u32::MAX
        )));
    }
    let mut order: Vec<(u64, u32, u32)> = Vec::with_capacity(total);
    for (b, batch) in batches.iter().enumerate() {
        let level = column(spec, batch, Dim::BudgetLevel)?;
        let kato = column(spec, batch, Dim::Budget)?;
        let admin = if spec.has(Dim::Administrator) {
            Some(column(spec, batch, Dim::Administrator)?)
        } else {
            None
        };
        for r in 0..batch.num_rows() {
            let a = admin.map_or(0, |a| int_at(a, r));
            order.push((
                sort_key(int_at(level, r), int_at(kato, r), a),
                b as u32,
                r as u32,
            ));
        }
    }
    // (key, batch, row) are distinct, so an unstable sort keeps ties in their order.
    order.sort_unstable();
    let schema = spec.schema();
    match batches {
        [] => Ok(RecordBatch::new_empty(schema)),
        [one] => {
            let indices = UInt32Array::from_iter_values(order.iter().map(|o| o.2));
            drop(order);
            Ok(arrow_select::take::take_record_batch(one, &indices)?)
        }
        many => {
            let indices: Vec<(usize, usize)> =
                order.iter().map(|o| (o.1 as usize, o.2 as usize)).collect();
            drop(order);
            let refs: Vec<&RecordBatch> = many.iter().collect();
            Ok(arrow_select::interleave::interleave_record_batch(
                &refs, &indices,
            )?)
        }
    }
}

/// The engine's batch of a sorted full-schema batch: the stored columns only, a KATO narrowed to
/// `i32` (checked), the others shared with the sorted batch (no copy).
pub fn engine_batch(
    spec: &DatasetSpec,
    fiscal_year: i16,
    sorted: &RecordBatch,
) -> Result<RecordBatch, BudgetError> {
    let schema = engine_schema(spec, fiscal_year);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for d in spec.dims.iter().filter(|d| stored(**d)) {
        let a = column(spec, sorted, *d)?;
        let want = engine_type(*d);
        columns.push(if a.data_type() == &want {
            a.clone()
        } else {
            narrow(spec, *d, a, &want)?
        });
    }
    for m in spec.measures {
        let a = sorted
            .column_by_name(m)
            .ok_or_else(|| BudgetError::Engine(format!("{}: no column {m}", spec.name)))?;
        columns.push(if a.data_type() == &DataType::Int64 {
            a.clone()
        } else {
            Arc::new(Int64Array::from_iter_values(
                (0..a.len()).map(|r| int_at(a, r)),
            ))
        });
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// A column at the engine's width, every value checked to fit.
fn narrow(
    spec: &DatasetSpec,
    d: Dim,
    a: &ArrayRef,
    want: &DataType,
) -> Result<ArrayRef, BudgetError> {
    fn fit<T: TryFrom<i64>>(
        spec: &DatasetSpec,
        d: Dim,
        a: &ArrayRef,
    ) -> Result<Vec<T>, BudgetError> {
        (0..a.len())
            .map(|r| {
                let v = int_at(a, r);
                T::try_from(v).map_err(|_| {
                    BudgetError::Engine(format!("{}: {} {v} out of range", spec.name, d.name()))
                })
            })
            .collect()
    }
    Ok(match want {
        DataType::Int8 => Arc::new(arrow_array::Int8Array::from(fit::<i8>(spec, d, a)?)),
        DataType::Int16 => Arc::new(arrow_array::Int16Array::from(fit::<i16>(spec, d, a)?)),
        DataType::Int32 => Arc::new(Int32Array::from(fit::<i32>(spec, d, a)?)),
        _ => Arc::new(Int64Array::from(fit::<i64>(spec, d, a)?)),
    })
}

/// The engine file beside a Parquet file: `fy2026__v.parquet` → `fy2026__v.arrow`.
pub fn engine_file(parquet: &Path) -> PathBuf {
    parquet.with_extension("arrow")
}

/// Writes the engine batch as an Arrow IPC file (one record batch, buffers aligned for reading
/// straight into columns).
pub fn write_engine_file(path: &Path, batch: &RecordBatch) -> Result<(), BudgetError> {
    let file = File::create(path)?;
    let mut w = arrow_ipc::writer::FileWriter::try_new(BufWriter::new(file), &batch.schema())?;
    w.write(batch)?;
    w.finish()?;
    let file = w
        .into_inner()?
        .into_inner()
        .map_err(|e| BudgetError::Io(e.into_error()))?;
    file.sync_all()?;
    Ok(())
}

/// Maps an engine file into memory and reads its one batch, whose columns are the mapped bytes
/// themselves: the server starts without reading the data, the kernel reads pages in as queries
/// touch them (asked to read ahead), and they live in the page cache. The schema must be this
/// dataset's and year's engine schema; every offset is checked against the file's length.
pub fn read_engine_file(
    path: &Path,
    spec: &DatasetSpec,
    fiscal_year: i16,
) -> Result<RecordBatch, BudgetError> {
    let bad = |message: String| BudgetError::File {
        file: path.display().to_string(),
        message,
    };
    let file = File::open(path)?;
    // SAFETY: a mapping is undefined behaviour if the file changes underneath it. The data folder's
    // files are never written in place: a load writes new files under temporary names and renames
    // them over the old ones (`files::commit`), so a mapped file keeps its bytes until unmapped.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file)? };
    // Read-ahead, so that the first queries do not wait on the disk page by page.
    let _ = map.advise(memmap2::Advice::WillNeed);
    let buffer = arrow_buffer::Buffer::from(bytes::Bytes::from_owner(map));
    let len = buffer.len();
    if len < 10 {
        return Err(bad("too short for an Arrow IPC file".into()));
    }
    let mut trailer = [0_u8; 10];
    trailer.copy_from_slice(&buffer[len - 10..]);
    let footer_len = arrow_ipc::reader::read_footer_length(trailer)?;
    let footer_start = (len - 10)
        .checked_sub(footer_len)
        .ok_or_else(|| bad("footer longer than the file".into()))?;
    let footer = arrow_ipc::root_as_footer(&buffer[footer_start..len - 10])
        .map_err(|e| bad(format!("footer: {e}")))?;
    let schema = footer
        .schema()
        .map(arrow_ipc::convert::fb_to_schema)
        .ok_or_else(|| bad("no schema".into()))?;
    let want = engine_schema(spec, fiscal_year);
    if schema != *want {
        return Err(bad(format!(
            "not the engine layout of {} {fiscal_year}",
            spec.name
        )));
    }
    let blocks: Vec<arrow_ipc::Block> = footer
        .recordBatches()
        .map(|b| b.iter().copied().collect())
        .unwrap_or_default();
    let block = match blocks.as_slice() {
        [] => return Ok(RecordBatch::new_empty(want)),
        [one] => *one,
        _ => return Err(bad("an engine file holds one batch".into())),
    };
    let start = usize::try_from(block.offset()).map_err(|_| bad("negative offset".into()))?;
    let block_len = usize::try_from(block.bodyLength())
        .ok()
        .zip(usize::try_from(block.metaDataLength()).ok())
        .and_then(|(b, m)| b.checked_add(m))
        .ok_or_else(|| bad("block length".into()))?;
    if start
        .checked_add(block_len)
        .is_none_or(|end| end > footer_start)
    {
        return Err(bad("a block beyond the file".into()));
    }
    let data = buffer.slice_with_length(start, block_len);
    let decoder =
        arrow_ipc::reader::FileDecoder::new(want, footer.version()).with_require_alignment(true);
    decoder
        .read_record_batch(&block, &data)?
        .ok_or_else(|| bad("no record batch".into()))
}

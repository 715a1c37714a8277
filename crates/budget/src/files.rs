//! Files of the data folder: each (dataset, fiscal year, version) is one Parquet file (the exchange
//! format, full schema) and beside it one Arrow IPC engine file (the stored columns, see `layout`),
//! both sorted by the scope keys, written to temporary names and renamed into place; then the
//! manifest is replaced so the server swaps them in.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::BudgetError;
use crate::engine::manifest_path;
use crate::layout::{engine_batch, engine_file, sort_by_scope, write_engine_file};
use crate::model::DatasetSpec;

pub fn file_path(root: &Path, spec: &DatasetSpec, fiscal_year: i16, version: &str) -> PathBuf {
    root.join(spec.system.as_str())
        .join(spec.name)
        .join(format!("fy{fiscal_year}__{version}.parquet"))
}

/// The files of one (dataset, fiscal year, version), written under temporary names; `commit` renames
/// them into place, `discard` removes them.
pub struct PendingFile {
    /// (temporary, final) paths: the Parquet file, then the engine file.
    files: Vec<(PathBuf, PathBuf)>,
}

/// Sorts one fiscal year's rows by the scope keys and writes them as a Parquet file and the engine's
/// file, both under temporary names next to their final places.
pub fn write_pending(
    root: &Path,
    spec: &DatasetSpec,
    fiscal_year: i16,
    version: &str,
    batches: &[RecordBatch],
) -> Result<PendingFile, BudgetError> {
    let target = file_path(root, spec, fiscal_year, version);
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut pending = PendingFile { files: vec![] };
    let written = (|| -> Result<(), BudgetError> {
        let sorted = sort_by_scope(spec, batches)?;
        let tmp = target.with_extension("parquet.tmp");
        pending.files.push((tmp.clone(), target.clone()));
        let file = File::create(&tmp)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut w = ArrowWriter::try_new(file, spec.schema(), Some(props))?;
        w.write(&sorted)?;
        let f = w.into_inner()?;
        f.sync_all()?;
        let engine = engine_batch(spec, fiscal_year, &sorted)?;
        drop(sorted);
        let engine_target = engine_file(&target);
        let engine_tmp = engine_target.with_extension("arrow.tmp");
        pending.files.push((engine_tmp.clone(), engine_target));
        write_engine_file(&engine_tmp, &engine)
    })();
    match written {
        Ok(()) => Ok(pending),
        Err(e) => {
            discard(std::slice::from_ref(&pending));
            Err(e)
        }
    }
}

/// Renames every pending file into place and publishes a new manifest; on any failure before the
/// renames, removes the temporary files so that nothing of the load is kept.
pub fn commit(root: &Path, pending: Vec<PendingFile>) -> Result<(), BudgetError> {
    for (tmp, target) in pending.iter().flat_map(|p| &p.files) {
        std::fs::rename(tmp, target)?;
    }
    publish_manifest(root)
}

pub fn discard(pending: &[PendingFile]) {
    for (tmp, _) in pending.iter().flat_map(|p| &p.files) {
        let _ = std::fs::remove_file(tmp);
    }
}

pub fn publish_manifest(root: &Path) -> Result<(), BudgetError> {
    std::fs::create_dir_all(root)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = root.join("manifest.json.tmp");
    std::fs::write(&tmp, format!("{{\"generation\": {stamp}}}\n"))?;
    std::fs::rename(tmp, manifest_path(root))?;
    Ok(())
}

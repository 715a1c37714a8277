//! Parquet files of the data folder: each (dataset, fiscal year, version) is one file, written to a
//! temporary name and renamed into place, then the manifest is replaced so the server swaps them in.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::BudgetError;
use crate::engine::manifest_path;
use crate::model::DatasetSpec;

pub fn file_path(root: &Path, spec: &DatasetSpec, fiscal_year: i16, version: &str) -> PathBuf {
    root.join(spec.system.as_str())
        .join(spec.name)
        .join(format!("fy{fiscal_year}__{version}.parquet"))
}

/// Writes `batches` as a temporary file next to its final place; `commit` renames it.
pub struct PendingFile {
    pub tmp: PathBuf,
    pub target: PathBuf,
}

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
    let tmp = target.with_extension("parquet.tmp");
    let file = File::create(&tmp)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(file, spec.schema(), Some(props))?;
    for b in batches {
        w.write(b)?;
    }
    let f = w.into_inner()?;
    f.sync_all()?;
    Ok(PendingFile { tmp, target })
}

/// Renames every pending file into place and publishes a new manifest; on any failure before the
/// renames, removes the temporary files so that nothing of the load is kept.
pub fn commit(root: &Path, pending: Vec<PendingFile>) -> Result<(), BudgetError> {
    for p in &pending {
        std::fs::rename(&p.tmp, &p.target)?;
    }
    publish_manifest(root)
}

pub fn discard(pending: &[PendingFile]) {
    for p in pending {
        let _ = std::fs::remove_file(&p.tmp);
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

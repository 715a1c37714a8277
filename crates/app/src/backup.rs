//! Issue 21: `qoljetim backup` and `qoljetim restore` for the embedded default (SQLite). A backup is
//! the data folder as it stands — the budget data with its manifest, the development CA, the audit
//! checkpoint key — with a consistent copy of the database made while the server runs (SQLite's
//! `VACUUM INTO`), the audit checkpoints, and `backup.json` naming every file with its SHA-256.
//!
//! Order matters for the evidence: the checkpoints are copied *before* the database, so that every
//! checkpoint in a backup vouches for a record the backup's database holds. PostgreSQL is backed up
//! with its own tools (docs/deployment.md); `--files-only` then copies the rest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AnyError;
use crate::config::Config;

pub const MANIFEST: &str = "backup.json";
/// The database's name inside a backup, and the checkpoints' folder.
const DATABASE: &str = "qoljetim.db";
const CHECKPOINTS: &str = "audit-checkpoints";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupManifest {
    pub created_at: String,
    pub version: String,
    /// "sqlite", or "files-only" (PostgreSQL: the database is in its own dump).
    pub database: String,
    /// The chain head read just before the database was copied (the copy holds at least these
    /// records): the number of records and the last hash.
    pub chain_seq: i64,
    pub chain_hash: String,
    pub files: Vec<BackupFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupFile {
    /// Relative to the backup folder, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

fn sha256_file(path: &Path) -> Result<(u64, String), AnyError> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex::encode(h.finalize())))
}

/// Every file under `root` (relative paths, sorted), leaving out what `skip` refuses.
fn files_under(root: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>, AnyError> {
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", dir.display()).into()),
        };
        for entry in entries {
            let path = entry?.path();
            let rel = path.strip_prefix(root)?.to_path_buf();
            if skip(&rel) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn copy_into(from: &Path, to: &Path) -> Result<(), AnyError> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(from, to).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))?;
    Ok(())
}

/// Writes a backup of the configured service into `to` (a folder that must not exist or be empty).
pub async fn backup(cfg: &Config, to: &Path, files_only: bool) -> Result<BackupManifest, AnyError> {
    let sqlite = cfg.sqlite_file();
    if sqlite.is_none() && !files_only {
        return Err(
            "the database is PostgreSQL: back it up with pg_dump or pg_basebackup \
                    (docs/deployment.md), and this command with --files-only for the rest"
                .into(),
        );
    }
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        return Err(format!(
            "{} is not empty: a backup goes into a new folder",
            to.display()
        )
        .into());
    }
    std::fs::create_dir_all(to)?;
    let data = &cfg.data_dir;
    let db_name = sqlite
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| DATABASE.to_owned());
    // The live database and its journals, temporary files, the checkpoints (copied on their own) and
    // the backup itself when it is made inside the data folder.
    let inside = |folder: &Path| folder.strip_prefix(data).ok().map(Path::to_path_buf);
    let (checkpoints_rel, backup_rel) = (inside(&cfg.checkpoint_dir()), inside(to));
    let skip = |rel: &Path| {
        let name = rel.to_string_lossy();
        name.starts_with(&db_name)
            || name.ends_with(".tmp")
            || checkpoints_rel.as_deref() == Some(rel)
            || backup_rel.as_deref() == Some(rel)
    };
    // 1. The checkpoints, before the database: the database copied next holds every record they name.
    let log = qoljetim_service::CheckpointLog::in_folder(&cfg.checkpoint_dir());
    if log.path().exists() {
        copy_into(
            log.path(),
            &to.join(CHECKPOINTS).join(qoljetim_service::CHECKPOINT_FILE),
        )?;
    }
    // 2. The database, consistent, while the server runs.
    let store = qoljetim_store::Store::open(&cfg.database_url()).await?;
    let (chain_seq, chain_hash) = store.chain_head().await?;
    if sqlite.is_some() {
        let target = to.join(DATABASE);
        store.copy_sqlite_into(&target).await?;
    }
    // 3. The rest of the data folder.
    for rel in files_under(data, &skip)? {
        copy_into(&data.join(&rel), &to.join(&rel))?;
    }
    let mut files = vec![];
    for rel in files_under(to, &|r: &Path| r == Path::new(MANIFEST))? {
        let (bytes, sha256) = sha256_file(&to.join(&rel))?;
        files.push(BackupFile {
            path: rel.to_string_lossy().replace('\\', "/"),
            bytes,
            sha256,
        });
    }
    let manifest = BackupManifest {
        created_at: jiff::Timestamp::now().to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database: if files_only { "files-only" } else { "sqlite" }.to_owned(),
        chain_seq,
        chain_hash,
        files,
    };
    std::fs::write(to.join(MANIFEST), serde_json::to_string_pretty(&manifest)?)?;
    Ok(manifest)
}

/// Restores the backup `from` into the configured data folder (which must hold no database yet),
/// after checking every file against the manifest; the checkpoints go to `[audit] checkpoint_dir`.
pub fn restore(cfg: &Config, from: &Path) -> Result<BackupManifest, AnyError> {
    let text = std::fs::read_to_string(from.join(MANIFEST)).map_err(|e| {
        format!(
            "{}: {e} (not a qoljetim backup?)",
            from.join(MANIFEST).display()
        )
    })?;
    let manifest: BackupManifest = serde_json::from_str(&text)?;
    for f in &manifest.files {
        let (bytes, sha256) = sha256_file(&from.join(&f.path))?;
        if bytes != f.bytes || sha256 != f.sha256 {
            return Err(format!(
                "{} does not match the backup's manifest (SHA-256 {sha256}, expected {}): nothing restored",
                f.path, f.sha256
            )
            .into());
        }
    }
    if let Some(db) = cfg.sqlite_file() {
        if manifest.database != "sqlite" {
            return Err(
                "this backup holds no database (files-only): restore PostgreSQL's dump, \
                        and run restore with the PostgreSQL database_url"
                    .into(),
            );
        }
        if db.exists() {
            return Err(format!(
                "{} exists: restore into a fresh data folder (--data-dir), or move it away first",
                db.display()
            )
            .into());
        }
    }
    let checkpoints = cfg.checkpoint_dir();
    if qoljetim_service::CheckpointLog::in_folder(&checkpoints)
        .path()
        .exists()
    {
        return Err(format!(
            "{} already holds checkpoints: keep them as evidence and restore with another \
             [audit] checkpoint_dir",
            checkpoints.display()
        )
        .into());
    }
    for f in &manifest.files {
        let rel = Path::new(&f.path);
        let target = if let Ok(cp) = rel.strip_prefix(CHECKPOINTS) {
            checkpoints.join(cp)
        } else if rel == Path::new(DATABASE) {
            match cfg.sqlite_file() {
                Some(db) => db,
                None => continue,
            }
        } else {
            cfg.data_dir.join(rel)
        };
        copy_into(&from.join(rel), &target)?;
    }
    Ok(manifest)
}

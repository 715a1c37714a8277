//! Issue 21: what one instance does so that several can share a database, and the evidence that
//! outlives it — the SQLite single-server lock, the audit checkpoints (key, folder, time stamps) and
//! the RFC 3161 client. The worker lease itself is the store's (`Store::try_worker_lease`); the
//! worker loop (`worker::Worker::run_until`) takes it and writes the checkpoints while it holds it.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qoljetim_service::{Checkpoint, CheckpointKey, CheckpointLog, CheckpointPublicKey};
use sha2::{Digest, Sha256};

use crate::AnyError;
use crate::config::Config;

/// SQLite is one server's: `serve` holds an exclusive lock on `<database>.serve-lock` for its whole
/// life (the operating system drops it when the process ends, however it ends). A second `serve` on
/// the same file stops at start with the holder's process id.
pub struct ServeLock {
    _file: std::fs::File,
}

impl ServeLock {
    /// Takes the lock for the configured SQLite file; `None` for PostgreSQL (several instances allowed).
    pub fn take(cfg: &Config) -> Result<Option<ServeLock>, AnyError> {
        let Some(db) = cfg.sqlite_file() else {
            return Ok(None);
        };
        let path = PathBuf::from(format!("{}.serve-lock", db.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(format!(
                    "another qoljetim server (process {}) is serving {}: SQLite allows one server per \
                     database file. Stop it first, or run several instances on PostgreSQL \
                     (docs/deployment.md)",
                    holder.trim(),
                    db.display()
                )
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("{}: {e}", path.display()).into());
            }
        }
        use std::io::{Seek, Write};
        file.set_len(0)?;
        file.seek(std::io::SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        Ok(Some(ServeLock { _file: file }))
    }
}

/// The checkpoint key: the configured file, or the default one, made (with its public half beside it,
/// `*.pub.pem`) when it does not exist yet. A configured file that is missing is an error.
pub fn checkpoint_key(cfg: &Config) -> Result<CheckpointKey, AnyError> {
    let path = cfg.checkpoint_key_path();
    if path.exists() {
        let pem = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(CheckpointKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if !cfg.audit.checkpoint_key.as_os_str().is_empty() {
        return Err(format!("[audit] checkpoint_key {} does not exist", path.display()).into());
    }
    let key = CheckpointKey::generate()?;
    write_private(&path, &key.to_pem()?)?;
    std::fs::write(public_beside(&path), key.public()?.to_pem()?)?;
    tracing::info!(key = %path.display(), "made the audit checkpoint key");
    Ok(key)
}

fn public_beside(private: &Path) -> PathBuf {
    private.with_extension("pub.pem")
}

fn write_private(path: &Path, pem: &str) -> Result<(), AnyError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    use std::io::Write;
    opts.open(path)?.write_all(pem.as_bytes())?;
    Ok(())
}

/// The public key `audit verify` uses: `[audit] checkpoint_public_key`, else the `.pub.pem` beside the
/// private key, else the private key's own public half.
pub fn checkpoint_public_key(
    cfg: &Config,
    explicit: Option<&Path>,
) -> Result<CheckpointPublicKey, AnyError> {
    let configured = explicit.map(Path::to_path_buf).or_else(|| {
        Some(cfg.audit.checkpoint_public_key.clone()).filter(|p| !p.as_os_str().is_empty())
    });
    let beside = public_beside(&cfg.checkpoint_key_path());
    let file = configured.or_else(|| beside.exists().then_some(beside));
    match file {
        Some(f) => {
            let pem = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            Ok(CheckpointPublicKey::from_pem(&pem).map_err(|e| format!("{}: {e}", f.display()))?)
        }
        None => {
            let path = cfg.checkpoint_key_path();
            let pem =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(CheckpointKey::from_pem(&pem)?.public()?)
        }
    }
}

/// An RFC 3161 time-stamp authority over HTTP (RFC 3161 §3.4: `application/timestamp-query`).
pub struct HttpTsa {
    url: String,
    http: reqwest::Client,
}

impl HttpTsa {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, AnyError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("[audit] tsa_url must be an http(s) URL, not {url}").into());
        }
        Ok(HttpTsa {
            url: url.to_owned(),
            http: reqwest::Client::builder().timeout(timeout).build()?,
        })
    }

    /// A time-stamp token on `signature` (the TSA sees only its SHA-256), DER.
    pub async fn stamp(&self, signature: &[u8]) -> Result<der::Any, AnyError> {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce)?;
        let req = qoljetim_signature::tsp::time_stamp_request(
            &Sha256::digest(signature),
            u64::from_be_bytes(nonce) >> 1,
        )?;
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/timestamp-query")
            .body(req)
            .send()
            .await
            .map_err(|e| crate::causes(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("the TSA answered {status}").into());
        }
        Ok(qoljetim_signature::tsp::token_of_response(
            &resp.bytes().await?,
        )?)
    }
}

/// Writes the audit checkpoints: signs the chain head when it has moved, time-stamps the signature
/// when a TSA is configured, appends it to the folder's file.
pub struct Checkpointer {
    key: CheckpointKey,
    log: CheckpointLog,
    tsa: Option<HttpTsa>,
    pub every: Duration,
}

impl Checkpointer {
    /// `None` when `[audit] checkpoint_minutes` is 0.
    pub fn from_config(cfg: &Config) -> Result<Option<Checkpointer>, AnyError> {
        if cfg.audit.checkpoint_minutes == 0 {
            return Ok(None);
        }
        let tsa = Some(cfg.audit.tsa_url.trim())
            .filter(|u| !u.is_empty())
            .map(|u| HttpTsa::new(u, Duration::from_secs(cfg.audit.tsa_timeout_seconds.max(1))))
            .transpose()?;
        Ok(Some(Checkpointer {
            key: checkpoint_key(cfg)?,
            log: CheckpointLog::in_folder(&cfg.checkpoint_dir()),
            tsa,
            every: Duration::from_secs(cfg.audit.checkpoint_minutes * 60),
        }))
    }

    /// One checkpoint now, if the chain moved since the last one in the file.
    pub async fn write(
        &self,
        state: &qoljetim_service::Service,
    ) -> Result<Option<Checkpoint>, AnyError> {
        let last = self.log.last()?;
        let Some(mut c) = state
            .next_checkpoint(&self.key, last.as_ref())
            .await
            .map_err(|e| format!("{}: {:?}", e.slug(), e.problem.args()))?
        else {
            return Ok(None);
        };
        if let Some(tsa) = &self.tsa {
            // A token that cannot be had or does not verify is left out (the signature stands alone)
            // and said in the log: the operations team watches for it.
            match self.stamped(state, tsa, &c).await {
                Ok(token) => c.time_stamp = Some(token),
                Err(e) => tracing::error!(error = %e, seq = c.seq, "checkpoint not time-stamped"),
            }
        }
        self.log.append(&c)?;
        state
            .instance
            .checkpoint_seq
            .store(c.seq, Ordering::Relaxed);
        state
            .instance
            .checkpoint_at
            .store(jiff::Timestamp::now().as_second(), Ordering::Relaxed);
        tracing::info!(seq = c.seq, hash = %c.hash, file = %self.log.path().display(), "audit checkpoint written");
        Ok(Some(c))
    }

    async fn stamped(
        &self,
        state: &qoljetim_service::Service,
        tsa: &HttpTsa,
        c: &Checkpoint,
    ) -> Result<String, AnyError> {
        let signature = c.signature_bytes()?;
        let token = tsa.stamp(&signature).await?;
        state
            .verifier
            .verify_time_stamp(&token, &signature, jiff::Timestamp::now())?;
        Ok(STANDARD.encode(der::Encode::to_der(&token)?))
    }
}

/// A development RFC 3161 TSA over HTTP: answers each request with a token of the development CA's
/// TSA certificate (`qoljetim_devca::issue_tsa`). For the tests and trying `[audit] tsa_url` out; never
/// trusted in production mode (its anchor is a development CA).
pub async fn serve_dev_tsa(
    listener: tokio::net::TcpListener,
    cert: x509_cert::Certificate,
    key: qoljetim_devca::PrivateKey,
) -> Result<(), AnyError> {
    use axum::body::Bytes;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let signer = std::sync::Arc::new((cert, key));
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: Bytes| {
            let signer = signer.clone();
            async move {
                let answer = (|| -> Result<Vec<u8>, AnyError> {
                    let imprint = qoljetim_signature::tsp::imprint_of_request(&body)?;
                    let token = qoljetim_devca::time_stamp_token_for(
                        &imprint,
                        &signer.0,
                        &signer.1,
                        jiff::Timestamp::now(),
                    )?;
                    Ok(qoljetim_signature::tsp::granted_response(&token)?)
                })();
                match answer {
                    Ok(der) => (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/timestamp-reply")],
                        der,
                    )
                        .into_response(),
                    Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
                }
            }
        }),
    );
    axum::serve(listener, app).await?;
    Ok(())
}

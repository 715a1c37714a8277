//! Issue 21: signed audit checkpoints. At an interval the instance holding the worker lease signs the
//! chain head (sequence, hash, time) with its own key — and, where a TSA is configured, has the
//! signature time-stamped (RFC 3161) — and appends it to a file outside the database. Whoever rewrites
//! the whole chain in the database (every hash recomputed, so the chain alone still verifies) cannot
//! make the records the checkpoints vouch for hash the same, nor sign new checkpoints without the key.
//!
//! The key is ECDSA P-256 (FIPS 186-4, SHA-256), kept as PKCS#8 PEM; its public half (SPKI PEM) is
//! what `qoljetim audit verify` needs, and may be kept apart from the server.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use p256::ecdsa::signature::{Signer, Verifier as _};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Service;
use crate::error::{ServiceError, ServiceResult};

/// The file of checkpoints in the checkpoint folder: one JSON object a line, only ever appended.
pub const CHECKPOINT_FILE: &str = "checkpoints.jsonl";

/// How much of the file's end holds its last line for certain (a line is well under 8 KiB: the time
/// stamp token is the largest part).
const TAIL_BYTES: u64 = 64 * 1024;

/// One signed statement "the chain had `seq` records, the last hashing to `hash`, at `at`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    /// RFC 3339, UTC, seconds.
    pub at: String,
    /// The signing key's id: the first 16 hex digits of the SHA-256 of its SPKI (DER).
    pub key: String,
    /// ECDSA P-256 over [`Checkpoint::message`], DER, base64.
    pub signature: String,
    /// An RFC 3161 token on the signature (DER ContentInfo, base64), when a TSA is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_stamp: Option<String>,
}

impl Checkpoint {
    /// The bytes signed: a fixed text with the three facts, so that no JSON ambiguity matters.
    pub fn message(seq: i64, hash: &str, at: &str) -> Vec<u8> {
        format!("qoljetim audit checkpoint\nseq {seq}\nhash {hash}\nat {at}\n").into_bytes()
    }

    pub fn signature_bytes(&self) -> Result<Vec<u8>, String> {
        STANDARD
            .decode(&self.signature)
            .map_err(|e| format!("checkpoint {}: signature is not base64: {e}", self.seq))
    }
}

/// The server's checkpoint key (private).
pub struct CheckpointKey {
    key: p256::ecdsa::SigningKey,
}

/// The public half, which verifies checkpoints.
#[derive(Clone)]
pub struct CheckpointPublicKey {
    key: p256::ecdsa::VerifyingKey,
    pub id: String,
}

impl CheckpointKey {
    pub fn generate() -> Result<Self, String> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
            // A scalar of zero or past the order is refused: draw again (probability ~2^-32).
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return Ok(CheckpointKey { key });
            }
        }
    }

    pub fn from_pem(pem: &str) -> Result<Self, String> {
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(|key| CheckpointKey { key })
            .map_err(|e| format!("not a PKCS#8 PEM P-256 private key: {e}"))
    }

    pub fn to_pem(&self) -> Result<String, String> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .map_err(|e| e.to_string())
    }

    pub fn public(&self) -> Result<CheckpointPublicKey, String> {
        CheckpointPublicKey::new(*self.key.verifying_key())
    }

    /// A checkpoint of `(seq, hash)` at `at`, signed; no time stamp yet.
    pub fn sign(&self, seq: i64, hash: &str, at: Timestamp) -> Result<Checkpoint, String> {
        let at = at
            .round(jiff::Unit::Second)
            .map_err(|e| e.to_string())?
            .to_string();
        let sig: p256::ecdsa::Signature = self
            .key
            .try_sign(&Checkpoint::message(seq, hash, &at))
            .map_err(|e| e.to_string())?;
        Ok(Checkpoint {
            seq,
            hash: hash.to_owned(),
            at,
            key: self.public()?.id,
            signature: STANDARD.encode(sig.to_der().as_bytes()),
            time_stamp: None,
        })
    }
}

impl CheckpointPublicKey {
    fn new(key: p256::ecdsa::VerifyingKey) -> Result<Self, String> {
        let der = key.to_public_key_der().map_err(|e| e.to_string())?;
        let id = hex::encode(&Sha256::digest(der.as_bytes())[..8]);
        Ok(CheckpointPublicKey { key, id })
    }

    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let key = p256::ecdsa::VerifyingKey::from_public_key_pem(pem)
            .map_err(|e| format!("not an SPKI PEM P-256 public key: {e}"))?;
        Self::new(key)
    }

    pub fn to_pem(&self) -> Result<String, String> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| e.to_string())
    }

    /// Whether `c` was signed by this key, over its own facts.
    pub fn verify(&self, c: &Checkpoint) -> Result<(), String> {
        if c.key != self.id {
            return Err(format!(
                "checkpoint {} was signed by key {}, not by {}",
                c.seq, c.key, self.id
            ));
        }
        let sig = p256::ecdsa::Signature::from_der(&c.signature_bytes()?)
            .map_err(|e| format!("checkpoint {}: signature: {e}", c.seq))?;
        self.key
            .verify(&Checkpoint::message(c.seq, &c.hash, &c.at), &sig)
            .map_err(|_| format!("checkpoint {}: the signature does not verify", c.seq))
    }
}

/// The append-only file of checkpoints in a folder.
pub struct CheckpointLog {
    path: PathBuf,
}

impl CheckpointLog {
    pub fn in_folder(dir: &Path) -> Self {
        CheckpointLog {
            path: dir.join(CHECKPOINT_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and makes it durable before returning.
    pub fn append(&self, c: &Checkpoint) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(c).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(line.as_bytes())?;
        f.sync_all()
    }

    /// The file's last checkpoint, read from its end (the file grows for years; the writer needs only
    /// this one).
    pub fn last(&self) -> Result<Option<Checkpoint>, String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        let tail = |f: &mut std::fs::File| -> std::io::Result<String> {
            let len = f.metadata()?.len();
            f.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
            let mut bytes = vec![];
            f.read_to_end(&mut bytes)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let text = tail(&mut f).map_err(|e| format!("{}: {e}", self.path.display()))?;
        match text.lines().rev().find(|l| !l.trim().is_empty()) {
            None => Ok(None),
            Some(l) => serde_json::from_str(l)
                .map(Some)
                .map_err(|e| format!("{}, last line: {e}", self.path.display())),
        }
    }

    /// Every checkpoint of the file (none when there is no file); a line that does not read is an
    /// error naming it.
    pub fn read(&self) -> Result<Vec<Checkpoint>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| format!("{} line {}: {e}", self.path.display(), i + 1))
            })
            .collect()
    }
}

/// What `audit verify` found comparing the chain with the checkpoints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckpointReport {
    /// Checkpoints whose signature verified and whose record hashes as they say.
    pub agreeing: usize,
    /// Of those, the ones whose time stamp verified too.
    pub time_stamped: usize,
    /// The last checkpoint that agrees: (seq, at).
    pub last_agreeing: Option<(i64, String)>,
    /// Every checkpoint that does not agree, with why — a rewritten or shortened chain, a forged or
    /// damaged checkpoint.
    pub disagreeing: Vec<(i64, String)>,
}

impl CheckpointReport {
    pub fn agrees(&self) -> bool {
        self.disagreeing.is_empty()
    }
}

impl Service {
    /// The checkpoint the chain needs now: `None` when the head has not moved since `last`.
    pub async fn next_checkpoint(
        &self,
        key: &CheckpointKey,
        last: Option<&Checkpoint>,
    ) -> ServiceResult<Option<Checkpoint>> {
        let (seq, hash) = self.store.chain_head().await.map_err(ServiceError::store)?;
        if seq == 0 || last.is_some_and(|l| l.seq == seq && l.hash == hash) {
            return Ok(None);
        }
        key.sign(seq, &hash, Timestamp::now())
            .map(Some)
            .map_err(ServiceError::internal)
    }
}

/// Compares the chain in the database with `checkpoints` signed by `public`: each checkpoint's
/// signature, its time stamp when it has one (against the configured TSA anchors), and the hash the
/// database holds for its record. A chain rewritten from the first changed record on — every
/// hash recomputed — disagrees with every checkpoint after the change; a chain cut short
/// disagrees with the checkpoints past its end.
pub async fn verify_checkpoints(
    store: &qoljetim_store::Store,
    verifier: &qoljetim_signature::Verifier,
    checkpoints: &[Checkpoint],
    public: &CheckpointPublicKey,
) -> ServiceResult<CheckpointReport> {
    let mut report = CheckpointReport::default();
    let now = Timestamp::now();
    for c in checkpoints {
        let mut problem = public.verify(c).err();
        if problem.is_none()
            && let Some(tst) = &c.time_stamp
        {
            match check_time_stamp(verifier, c, tst, now) {
                Ok(()) => report.time_stamped += 1,
                Err(e) => problem = Some(e),
            }
        }
        if problem.is_none() {
            problem = match store
                .audit_hash_at(c.seq)
                .await
                .map_err(ServiceError::store)?
            {
                None => Some(format!(
                    "record {} is not in the chain: records vouched for at {} were removed",
                    c.seq, c.at
                )),
                Some(h) if h != c.hash => Some(format!(
                    "record {} hashes to {h} in the database, the checkpoint of {} says {}: the chain was rewritten",
                    c.seq, c.at, c.hash
                )),
                Some(_) => None,
            };
        }
        match problem {
            Some(p) => report.disagreeing.push((c.seq, p)),
            None => {
                report.agreeing += 1;
                report.last_agreeing = Some((c.seq, c.at.clone()));
            }
        }
    }
    Ok(report)
}

fn check_time_stamp(
    verifier: &qoljetim_signature::Verifier,
    c: &Checkpoint,
    token: &str,
    now: Timestamp,
) -> Result<(), String> {
    if !verifier.has_tsa_anchors() {
        return Err(format!(
            "checkpoint {}: time-stamped, but no [pki] tsa_anchors are configured to check the \
             time stamp against",
            c.seq
        ));
    }
    let der = STANDARD
        .decode(token)
        .map_err(|e| format!("checkpoint {}: time stamp is not base64: {e}", c.seq))?;
    let any = <der::Any as der::Decode>::from_der(&der)
        .map_err(|e| format!("checkpoint {}: time stamp: {e}", c.seq))?;
    let ts = verifier
        .verify_time_stamp(&any, &c.signature_bytes()?, now)
        .map_err(|e| format!("checkpoint {}: time stamp: {e}", c.seq))?;
    // The TSA's time and the checkpoint's own may differ by the request's round trip, not more.
    let at: Timestamp =
        c.at.parse()
            .map_err(|e| format!("checkpoint {}: at: {e}", c.seq))?;
    if (ts.gen_time.as_second() - at.as_second()).abs() > 300 {
        return Err(format!(
            "checkpoint {}: time-stamped at {}, more than 5 minutes from its own time {}",
            c.seq, ts.gen_time, c.at
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_under_its_key_only_and_not_once_changed() {
        let key = CheckpointKey::generate().expect("key");
        let public = key.public().expect("public");
        let c = key
            .sign(42, &"ab".repeat(32), Timestamp::now())
            .expect("sign");
        assert_eq!(public.verify(&c), Ok(()));
        let again = CheckpointPublicKey::from_pem(&public.to_pem().expect("pem")).expect("pem");
        assert_eq!(again.verify(&c), Ok(()));
        let restored = CheckpointKey::from_pem(&key.to_pem().expect("pem")).expect("pem");
        assert_eq!(restored.public().expect("p").id, public.id);

        let mut moved = c.clone();
        moved.seq = 41;
        assert!(public.verify(&moved).is_err());
        let mut rehashed = c.clone();
        rehashed.hash = "cd".repeat(32);
        assert!(public.verify(&rehashed).is_err());

        let other = CheckpointKey::generate().expect("key");
        let forged = other.sign(42, &c.hash, Timestamp::now()).expect("sign");
        assert!(
            public
                .verify(&forged)
                .unwrap_err()
                .contains("signed by key")
        );
        let mut forged_id = forged;
        forged_id.key = public.id.clone();
        assert!(
            public
                .verify(&forged_id)
                .unwrap_err()
                .contains("does not verify")
        );
    }

    #[test]
    fn the_log_appends_and_reads_back_and_names_a_bad_line() {
        let dir = std::env::temp_dir().join(format!("qoljetim-cp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = CheckpointLog::in_folder(&dir);
        assert_eq!(log.read(), Ok(vec![]));
        let key = CheckpointKey::generate().expect("key");
        let a = key.sign(1, &"00".repeat(32), Timestamp::now()).expect("a");
        let b = key.sign(2, &"11".repeat(32), Timestamp::now()).expect("b");
        assert_eq!(log.last(), Ok(None));
        log.append(&a).expect("append");
        log.append(&b).expect("append");
        assert_eq!(log.read(), Ok(vec![a, b.clone()]));
        assert_eq!(log.last(), Ok(Some(b)));
        std::fs::write(log.path(), "{not json}\n").expect("write");
        assert!(log.read().unwrap_err().contains("line 1"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

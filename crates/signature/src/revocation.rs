//! Revocation checking per trust anchor (DESIGN.md §4): CRLs (RFC 5280 §5, full and delta), or
//! explicitly none. Fail closed by default: a status that cannot be known refuses the signature unless
//! the operator set fail-open, and then the decision says so.
//!
//! A CRL is checked against the anchor it is configured for when it is loaded: its issuer must be the
//! anchor's subject and the anchor's key must have signed it (RSA, ECDSA or GOST). The NCA publishes one
//! CRL (and one delta CRL) per issuing CA, so the issuing CAs are configured as the anchors.

use std::collections::HashMap;
use std::sync::RwLock;

use der::{Decode, DecodePem, Encode};
use jiff::Timestamp;
use num_bigint::BigUint;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::name::Name;

use crate::primitives::signed_by;
use crate::{SignatureError, der_err};

/// The revocation status of one certificate at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    Good,
    Revoked {
        revoked_at: Timestamp,
    },
    /// Why the status cannot be known (no CRL loaded, CRL expired).
    Unknown(String),
}

/// What a decision records about revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationEvidence {
    /// "none", "crl", "ocsp".
    pub method: &'static str,
    /// "good", "not-checked" (method none) or "unknown" (only under fail-open).
    pub status: &'static str,
    /// True when the status was unknown and the signature was accepted because fail-open is set.
    pub fail_open: bool,
    pub detail: Option<String>,
}

struct LoadedCrl {
    number: Option<BigUint>,
    /// Set on a delta CRL: the full CRL number it builds on.
    base: Option<BigUint>,
    this_update: i64,
    next_update: Option<i64>,
    /// Serial (big-endian bytes without leading zeros) → revocation time.
    revoked: HashMap<Vec<u8>, i64>,
}

/// What was loaded from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlSummary {
    pub delta: bool,
    pub number: Option<String>,
    pub entries: usize,
    pub this_update: Timestamp,
    pub next_update: Option<Timestamp>,
}

/// The CRLs of one anchor, replaced source by source as they are refreshed.
pub struct CrlStore {
    anchor: Certificate,
    by_source: RwLock<HashMap<String, LoadedCrl>>,
    /// How many CRLs were loaded: what was verified against older revocation data is verified again.
    loads: std::sync::atomic::AtomicU64,
}

fn secs(t: &x509_cert::time::Time) -> i64 {
    t.to_unix_duration().as_secs() as i64
}

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn serial_key(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// Reads a CRL in DER or PEM ("X509 CRL").
pub fn parse_crl(bytes: &[u8]) -> Result<CertificateList, SignatureError> {
    CertificateList::from_der(bytes)
        .or_else(|_| CertificateList::from_pem(bytes))
        .map_err(der_err)
}

fn extension_uint(list: &CertificateList, oid: der::oid::ObjectIdentifier) -> Option<BigUint> {
    let ext = list
        .tbs_cert_list
        .crl_extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)?;
    let n = der::asn1::Uint::from_der(ext.extn_value.as_bytes()).ok()?;
    Some(BigUint::from_bytes_be(n.as_bytes()))
}

const ID_CE_CRL_NUMBER: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.5.29.20");
const ID_CE_DELTA_CRL_INDICATOR: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.5.29.27");

impl CrlStore {
    pub fn new(anchor: Certificate) -> Self {
        CrlStore {
            anchor,
            by_source: RwLock::new(HashMap::new()),
            loads: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many CRLs this store has accepted (the version of its revocation data).
    pub fn loads(&self) -> u64 {
        self.loads.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn issuer(&self) -> &Name {
        self.anchor.tbs_certificate().subject()
    }

    /// Checks `bytes` (one CRL, DER or PEM) against the anchor and makes it the CRL of `source`.
    /// Nothing is replaced when the CRL is refused.
    pub fn load(&self, source: &str, bytes: &[u8]) -> Result<CrlSummary, SignatureError> {
        let list = parse_crl(bytes)?;
        if &list.tbs_cert_list.issuer != self.issuer() {
            return Err(SignatureError::Crl(format!(
                "{source}: issued by {}, not by the anchor {}",
                list.tbs_cert_list.issuer,
                self.issuer()
            )));
        }
        let tbs = list.tbs_cert_list.to_der().map_err(der_err)?;
        let ok = signed_by(
            &tbs,
            &list.signature_algorithm.oid,
            list.signature.raw_bytes(),
            self.anchor.tbs_certificate().subject_public_key_info(),
        )?;
        if !ok {
            return Err(SignatureError::Crl(format!(
                "{source}: the CRL's signature does not verify with the anchor's key"
            )));
        }
        let mut revoked = HashMap::new();
        for rc in list.tbs_cert_list.revoked_certificates.iter().flatten() {
            revoked.insert(
                serial_key(rc.serial_number.as_bytes()),
                secs(&rc.revocation_date),
            );
        }
        let loaded = LoadedCrl {
            number: extension_uint(&list, ID_CE_CRL_NUMBER),
            base: extension_uint(&list, ID_CE_DELTA_CRL_INDICATOR),
            this_update: secs(&list.tbs_cert_list.this_update),
            next_update: list.tbs_cert_list.next_update.as_ref().map(secs),
            revoked,
        };
        let summary = CrlSummary {
            delta: loaded.base.is_some(),
            number: loaded.number.as_ref().map(|n| n.to_string()),
            entries: loaded.revoked.len(),
            this_update: ts(loaded.this_update),
            next_update: loaded.next_update.map(ts),
        };
        let mut map = self
            .by_source
            .write()
            .map_err(|_| SignatureError::Internal("CRL store lock poisoned".into()))?;
        map.insert(source.to_owned(), loaded);
        self.loads.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(summary)
    }

    /// The status at `at` (the signing time) of the certificate with `serial` (big-endian bytes)
    /// issued by the anchor, by the CRLs in force at `now`: a certificate revoked after it signed
    /// still signed validly (RFC 5280 §6.3 with a time stamp).
    pub fn status_of_serial(
        &self,
        serial: &[u8],
        at: Timestamp,
        now: Timestamp,
    ) -> RevocationStatus {
        let Ok(map) = self.by_source.read() else {
            return RevocationStatus::Unknown("CRL store unavailable".into());
        };
        let t = at.as_second();
        let n = now.as_second();
        let key = serial_key(serial);
        // The newest full CRL that is already in force.
        let full = map
            .values()
            .filter(|c| c.base.is_none() && c.this_update <= n + 300)
            .max_by(|a, b| {
                (a.number.as_ref(), a.this_update).cmp(&(b.number.as_ref(), b.this_update))
            });
        let Some(full) = full else {
            return RevocationStatus::Unknown(format!("no CRL of {} is loaded", self.issuer()));
        };
        if full.next_update.is_some_and(|next| next < n) {
            return RevocationStatus::Unknown(format!(
                "the CRL of {} expired at {}",
                self.issuer(),
                ts(full.next_update.unwrap_or_default())
            ));
        }
        let listed = |c: &LoadedCrl| c.revoked.get(&key).copied().filter(|r| *r <= t);
        if let Some(r) = listed(full) {
            return RevocationStatus::Revoked { revoked_at: ts(r) };
        }
        // RFC 5280 §5.2.4: a delta applies to a full CRL whose number is at least its base.
        for delta in map.values().filter(|c| c.base.is_some()) {
            let applies = match (&delta.base, &full.number) {
                (Some(b), Some(n)) => n >= b,
                _ => false,
            };
            let fresh =
                delta.this_update <= n + 300 && delta.next_update.is_none_or(|next| next >= n);
            if applies
                && fresh
                && let Some(r) = listed(delta)
            {
                return RevocationStatus::Revoked { revoked_at: ts(r) };
            }
        }
        RevocationStatus::Good
    }

    /// The status of `cert` (issued by the anchor) at `at`, by the CRLs in force at `now`.
    pub fn status(&self, cert: &Certificate, at: Timestamp, now: Timestamp) -> RevocationStatus {
        if cert.tbs_certificate().issuer() != self.issuer() {
            return RevocationStatus::Unknown(format!(
                "no CRL is configured for the issuer {}",
                cert.tbs_certificate().issuer()
            ));
        }
        self.status_of_serial(cert.tbs_certificate().serial_number().as_bytes(), at, now)
    }
}

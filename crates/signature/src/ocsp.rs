//! An OCSP client (RFC 6960) for a trust anchor whose revocation is checked by a responder, such as
//! the NCA's `http://ocsp.pki.gov.kz/`. The request names the certificate by CertID (SHA-1 hashes of
//! the issuer's name and key, as every responder understands, and the serial) with a nonce; the
//! response must be a successful basic response signed by the issuer itself or by a responder
//! certificate the issuer issued with id-kp-OCSPSigning, answer for that CertID, echo the nonce when
//! it carries one, and be current (thisUpdate not in the future, nextUpdate not past). Answers are
//! cached until their nextUpdate (at most `max_age`), so a session check costs no network round trip.
//!
//! The RFC 6960 structures are written here with `der`'s derive: the `x509-ocsp` crate is built on the
//! previous `der`/`x509-cert` generation, which this workspace does not use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use der::asn1::{BitString, GeneralizedTime, Int, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence, Tagged};
use jiff::Timestamp;
use sha1::{Digest, Sha1};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::ExtendedKeyUsage;

use crate::primitives::{certificate_signed_by, signed_by};
use crate::revocation::RevocationStatus;

const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const ID_PKIX_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

/// RFC 6960 §4.1.1 CertID.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct CertId {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub issuer_name_hash: OctetString,
    pub issuer_key_hash: OctetString,
    pub serial_number: Int,
}

#[derive(Clone, Debug, Sequence)]
struct Request {
    req_cert: CertId,
}

#[derive(Clone, Debug, Sequence)]
struct TbsRequest {
    request_list: Vec<Request>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    request_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Sequence)]
struct OcspRequest {
    tbs_request: TbsRequest,
}

#[derive(Clone, Debug, Sequence)]
struct ResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

#[derive(Clone, Debug, Sequence)]
struct OcspResponse {
    response_status: der::asn1::Any,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    response_bytes: Option<ResponseBytes>,
}

#[derive(Clone, Debug, Sequence)]
struct BasicOcspResponse {
    tbs_response_data: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    certs: Option<Vec<Certificate>>,
}

#[derive(Clone, Debug, Sequence)]
struct ResponseData {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<u8>,
    responder_id: Any,
    produced_at: GeneralizedTime,
    responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    response_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Sequence)]
struct SingleResponse {
    cert_id: CertId,
    cert_status: Any,
    this_update: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    single_extensions: Option<Extensions>,
}

/// How requests reach the responder (HTTP POST of `application/ocsp-request`); the application
/// supplies it, so that this crate stays free of network code.
pub trait OcspTransport: Send + Sync {
    fn post(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, String>;
}

fn secs(t: &GeneralizedTime) -> i64 {
    t.to_unix_duration().as_secs() as i64
}

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The CertID of `cert` issued by `issuer` (SHA-1, RFC 6960 §4.1.1).
pub fn cert_id(cert: &Certificate, issuer: &Certificate) -> Result<CertId, String> {
    cert_id_of_serial(cert.tbs_certificate().serial_number().as_bytes(), issuer)
}

/// The CertID of the certificate with `serial` (big-endian) issued by `issuer`.
pub fn cert_id_of_serial(serial: &[u8], issuer: &Certificate) -> Result<CertId, String> {
    let name = issuer
        .tbs_certificate()
        .subject()
        .to_der()
        .map_err(|e| e.to_string())?;
    let key = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA1,
            parameters: Some(Any::null()),
        },
        issuer_name_hash: OctetString::new(Sha1::digest(&name).to_vec())
            .map_err(|e| e.to_string())?,
        issuer_key_hash: OctetString::new(Sha1::digest(key).to_vec()).map_err(|e| e.to_string())?,
        serial_number: Int::new(serial).map_err(|e| e.to_string())?,
    })
}

/// A DER OCSPRequest for `id` with `nonce`.
pub fn request(id: &CertId, nonce: &[u8]) -> Result<Vec<u8>, String> {
    let nonce_value = OctetString::new(nonce)
        .and_then(|o| o.to_der())
        .map_err(|e| e.to_string())?;
    let ext = x509_cert::ext::Extension {
        extn_id: ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(nonce_value).map_err(|e| e.to_string())?,
    };
    OcspRequest {
        tbs_request: TbsRequest {
            request_list: vec![Request {
                req_cert: id.clone(),
            }],
            request_extensions: Some(vec![ext]),
        },
    }
    .to_der()
    .map_err(|e| e.to_string())
}

/// One checked answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspAnswer {
    pub status: RevocationStatus,
    pub this_update: Timestamp,
    pub next_update: Option<Timestamp>,
}

/// Checks a DER OCSPResponse for `id` (issued by `issuer`) against `nonce`, at `now`.
pub fn check_response(
    bytes: &[u8],
    id: &CertId,
    issuer: &Certificate,
    nonce: &[u8],
    now: Timestamp,
) -> Result<OcspAnswer, String> {
    let resp = OcspResponse::from_der(bytes).map_err(|e| format!("not an OCSP response: {e}"))?;
    let status: u8 = resp
        .response_status
        .value()
        .first()
        .copied()
        .ok_or("empty responseStatus")?;
    if status != 0 {
        // RFC 6960 §4.2.1: malformedRequest(1), internalError(2), tryLater(3), sigRequired(5),
        // unauthorized(6).
        return Err(format!("the responder answered status {status}"));
    }
    let rb = resp.response_bytes.ok_or("no responseBytes")?;
    if rb.response_type != ID_PKIX_OCSP_BASIC {
        return Err(format!("response type {}", rb.response_type));
    }
    let basic = BasicOcspResponse::from_der(rb.response.as_bytes()).map_err(|e| e.to_string())?;
    let tbs = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| e.to_string())?;
    // The signer: the issuer itself, or a responder certificate it issued for OCSP signing.
    let mut signers = vec![issuer.clone()];
    for c in basic.certs.iter().flatten() {
        let delegated = matches!(
            c.tbs_certificate().get_extension::<ExtendedKeyUsage>(),
            Ok(Some((_, eku))) if eku.0.contains(&ID_KP_OCSP_SIGNING)
        );
        if delegated && certificate_signed_by(c, issuer).map_err(|e| e.to_string())? {
            let v = c.tbs_certificate().validity();
            let (nb, na) = (
                v.not_before.to_unix_duration().as_secs() as i64,
                v.not_after.to_unix_duration().as_secs() as i64,
            );
            if (nb..=na).contains(&now.as_second()) {
                signers.push(c.clone());
            }
        }
    }
    let mut verified = false;
    for s in &signers {
        if signed_by(
            &tbs,
            &basic.signature_algorithm.oid,
            basic.signature.raw_bytes(),
            s.tbs_certificate().subject_public_key_info(),
        )
        .unwrap_or(false)
        {
            verified = true;
            break;
        }
    }
    if !verified {
        return Err("the response is not signed by the issuer or its OCSP responder".into());
    }
    let data = ResponseData::from_der(&tbs).map_err(|e| e.to_string())?;
    if let Some(exts) = &data.response_extensions
        && let Some(n) = exts.iter().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)
    {
        let echoed = OctetString::from_der(n.extn_value.as_bytes())
            .map(|o| o.as_bytes().to_vec())
            .unwrap_or_else(|_| n.extn_value.as_bytes().to_vec());
        if echoed != nonce {
            return Err("the response's nonce is not the request's".into());
        }
    }
    let single = data
        .responses
        .iter()
        .find(|r| r.cert_id == *id)
        .ok_or("the response does not answer for this certificate")?;
    let this_update = secs(&single.this_update);
    let next_update = single.next_update.as_ref().map(secs);
    let n = now.as_second();
    if this_update > n + 300 {
        return Err("the response's thisUpdate is in the future".into());
    }
    if next_update.is_some_and(|next| next < n) {
        return Err("the response has expired (nextUpdate has passed)".into());
    }
    let status = match single.cert_status.tag().number().value() {
        0 => RevocationStatus::Good,
        1 => {
            // RevokedInfo, IMPLICIT [1]: its first element is the revocation time.
            let t = GeneralizedTime::from_der(single.cert_status.value())
                .or_else(|_| {
                    der::asn1::Any::from_der(single.cert_status.value())
                        .and_then(|a| a.decode_as::<GeneralizedTime>())
                })
                .map_err(|e| format!("RevokedInfo: {e}"))?;
            RevocationStatus::Revoked {
                revoked_at: ts(secs(&t)),
            }
        }
        _ => RevocationStatus::Unknown("the responder does not know the certificate".into()),
    };
    Ok(OcspAnswer {
        status,
        this_update: ts(this_update),
        next_update: next_update.map(ts),
    })
}

/// The OCSP client of one anchor: responder URL, transport, and a cache of answers.
pub struct OcspClient {
    pub url: String,
    transport: Arc<dyn OcspTransport>,
    /// Answers are reused for at most this long, even when the responder says they stay current
    /// longer.
    max_age_seconds: i64,
    cache: Mutex<HashMap<Vec<u8>, (OcspAnswer, i64)>>,
}

impl OcspClient {
    pub fn new(url: &str, transport: Arc<dyn OcspTransport>, max_age_seconds: i64) -> Self {
        OcspClient {
            url: url.to_owned(),
            transport,
            max_age_seconds,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn key(id: &CertId) -> Vec<u8> {
        id.to_der().unwrap_or_default()
    }

    /// A cached answer still usable at `now`.
    pub fn cached(&self, id: &CertId, now: Timestamp) -> Option<OcspAnswer> {
        let cache = self.cache.lock().ok()?;
        let (answer, fetched) = cache.get(&Self::key(id))?;
        let n = now.as_second();
        let fresh = n - fetched <= self.max_age_seconds
            && answer.next_update.is_none_or(|next| next.as_second() >= n);
        fresh.then(|| answer.clone())
    }

    /// The status of `cert` (issued by `issuer`) at `signing_time`: from the cache, else from the
    /// responder. A revocation after `signing_time` does not count against the signature.
    pub fn status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        signing_time: Timestamp,
        now: Timestamp,
    ) -> RevocationStatus {
        self.status_of_serial(
            cert.tbs_certificate().serial_number().as_bytes(),
            issuer,
            signing_time,
            now,
        )
    }

    /// As `status`, for the certificate with `serial` issued by `issuer` (a session's certificate).
    pub fn status_of_serial(
        &self,
        serial: &[u8],
        issuer: &Certificate,
        signing_time: Timestamp,
        now: Timestamp,
    ) -> RevocationStatus {
        let id = match cert_id_of_serial(serial, issuer) {
            Ok(id) => id,
            Err(e) => return RevocationStatus::Unknown(e),
        };
        let answer = match self.cached(&id, now) {
            Some(a) => a,
            None => match self.fetch(&id, issuer, now) {
                Ok(a) => a,
                Err(e) => return RevocationStatus::Unknown(format!("OCSP {}: {e}", self.url)),
            },
        };
        match answer.status {
            RevocationStatus::Revoked { revoked_at }
                if revoked_at.as_second() > signing_time.as_second() =>
            {
                RevocationStatus::Good
            }
            other => other,
        }
    }

    fn fetch(
        &self,
        id: &CertId,
        issuer: &Certificate,
        now: Timestamp,
    ) -> Result<OcspAnswer, String> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
        let req = request(id, &nonce)?;
        let resp = self.transport.post(&self.url, &req)?;
        let answer = check_response(&resp, id, issuer, &nonce, now)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(Self::key(id), (answer.clone(), now.as_second()));
        }
        Ok(answer)
    }
}

//! Verification of an attached CMS SignedData (RFC 5652) and of its signer's certificate path
//! (RFC 5280, without policy processing) against configured trust anchors.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use jiff::Timestamp;
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;

use crate::identity::CertificateIdentity;
pub use crate::primitives::{certificate_signed_by, signed_by, verify_gost};
use crate::primitives::{digest, verify_message};
use crate::revocation::{CrlStore, RevocationEvidence, RevocationStatus};
use crate::{SignatureError, der_err, oids};

/// How a trust anchor's certificates are checked for revocation.
#[derive(Clone)]
pub enum Revocation {
    /// Explicitly none: a test or development CA. Recorded in every decision; refused in production.
    None,
    Crl(std::sync::Arc<CrlStore>),
    Ocsp(std::sync::Arc<crate::ocsp::OcspClient>),
}

impl Revocation {
    pub fn method(&self) -> &'static str {
        match self {
            Revocation::None => "none",
            Revocation::Crl(_) => "crl",
            Revocation::Ocsp(_) => "ocsp",
        }
    }
}

impl std::fmt::Debug for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.method())
    }
}

/// A configured trust anchor: a CA certificate and how its revocation is checked.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    pub name: String,
    pub certificate: Certificate,
    /// A development or test CA: refused in production mode, recorded on every decision it touches.
    pub development: bool,
    pub revocation: Revocation,
}

/// What a verified CMS proves.
#[derive(Debug, Clone)]
pub struct VerifiedCms {
    pub content: Vec<u8>,
    pub signer: CertificateIdentity,
    pub signer_certificate: Certificate,
    /// The signing-time attribute: the signer's own claim, recorded, never trusted.
    pub claimed_signing_time: Option<Timestamp>,
    pub anchor: String,
    pub development_anchor: bool,
    pub revocation: RevocationEvidence,
    /// The time the signature counts from: the time-stamp token's, or the time of receipt.
    pub signing_time: Timestamp,
    /// The verified RFC 3161 time stamp, when the CMS carried one.
    pub time_stamp: Option<TimeStamp>,
}

/// A verified RFC 3161 time-stamp token on a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeStamp {
    pub gen_time: Timestamp,
    /// The TSA certificate's subject and the TSA anchor it chains to.
    pub tsa: String,
    pub anchor: String,
    pub serial: String,
    pub policy: String,
}

impl VerifiedCms {
    /// "timestamp" or "receipt": which time is the signing time.
    pub fn signing_time_source(&self) -> &'static str {
        if self.time_stamp.is_some() {
            "timestamp"
        } else {
            "receipt"
        }
    }
}

/// RFC 3161 §2.4.2 MessageImprint.
#[derive(Debug, Clone, der::Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: spki::AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}

struct TstInfo {
    policy: ObjectIdentifier,
    imprint: MessageImprint,
    serial: Vec<u8>,
    gen_time: Timestamp,
}

/// The fields of RFC 3161 §2.4.2 TSTInfo that a verifier needs (version, policy, messageImprint,
/// serialNumber, genTime); the optional ones that follow are not needed.
fn parse_tst_info(der_bytes: &[u8]) -> Result<TstInfo, SignatureError> {
    let bad = |e: String| SignatureError::TimeStamp(format!("TSTInfo: {e}"));
    let items: Vec<der::Any> =
        Vec::from_der(der_bytes).map_err(|e: der::Error| bad(e.to_string()))?;
    if items.len() < 5 {
        return Err(bad("too few fields".into()));
    }
    let version: u8 = items[0]
        .decode_as()
        .map_err(|e: der::Error| bad(e.to_string()))?;
    if version != 1 {
        return Err(bad(format!("version {version}")));
    }
    let generalized: der::asn1::GeneralizedTime = items[4]
        .decode_as()
        .map_err(|e: der::Error| bad(e.to_string()))?;
    Ok(TstInfo {
        policy: items[1]
            .decode_as()
            .map_err(|e: der::Error| bad(e.to_string()))?,
        imprint: items[2]
            .decode_as()
            .map_err(|e: der::Error| bad(e.to_string()))?,
        serial: items[3]
            .decode_as::<der::asn1::Int>()
            .map_err(|e| bad(e.to_string()))?
            .as_bytes()
            .to_vec(),
        gen_time: Timestamp::from_second(generalized.to_unix_duration().as_secs() as i64)
            .map_err(|e| bad(e.to_string()))?,
    })
}

/// The time-stamp token among a signer info's unsigned attributes (at most one, with one value).
fn time_stamp_token(si: &SignerInfo) -> Result<Option<&der::Any>, SignatureError> {
    let Some(attrs) = &si.unsigned_attrs else {
        return Ok(None);
    };
    let tokens: Vec<_> = attrs
        .iter()
        .filter(|a| a.oid == oids::ATTR_TIME_STAMP_TOKEN)
        .collect();
    match tokens.as_slice() {
        [] => Ok(None),
        [one] if one.values.len() == 1 => Ok(one.values.iter().next()),
        _ => Err(SignatureError::TimeStamp(
            "more than one time-stamp token".into(),
        )),
    }
}

#[derive(Default)]
pub struct Verifier {
    anchors: Vec<TrustAnchor>,
    /// The anchors a time-stamp authority's certificate must chain to.
    tsa_anchors: Vec<TrustAnchor>,
    /// Accept a signature whose revocation status cannot be known (off by default; every such
    /// decision carries `fail_open` in its evidence and is audited).
    fail_open: bool,
    /// What a signed document may contain, measured before it is decoded (issue 15).
    limits: crate::limits::CmsLimits,
    /// Certificate signatures already verified (issue 20).
    signed: SignedByCache,
}

const MAX_PATH: usize = 6;

/// Certificates whose signature by an issuer's key has been verified, by SHA-256 of the certificate's
/// DER and of the issuer's key (issue 20: a sign-in then verifies only its own CMS signature, not its
/// chain again). Each entry remembers the revocation data it was verified under (the anchors' CRLs, by
/// how many were loaded): when a CRL is loaded the entries verified before it no longer answer, and
/// the next use verifies the certificate again. Each certificate's validity period and revocation are
/// checked on every use, cached or not. Bounded: when full it starts again empty, which costs one
/// verification per certificate.
#[derive(Default)]
pub struct SignedByCache {
    verified: std::sync::Mutex<std::collections::HashMap<[u8; 32], u64>>,
    hits: std::sync::atomic::AtomicU64,
}

const SIGNED_BY_CACHE_ENTRIES: usize = 16_384;

/// The version of the revocation data of `anchors`: the sum of their CRL stores' loads (an OCSP
/// anchor's answers carry their own freshness and are asked per certificate).
fn revocation_version(anchors: &[TrustAnchor]) -> u64 {
    anchors
        .iter()
        .map(|a| match &a.revocation {
            Revocation::Crl(store) => store.loads(),
            _ => 0,
        })
        .sum()
}

impl SignedByCache {
    fn key(cert: &Certificate, issuer: &Certificate) -> Option<[u8; 32]> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(cert.to_der().ok()?);
        h.update(
            issuer
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .ok()?,
        );
        Some(h.finalize().into())
    }

    /// `certificate_signed_by`, remembered when true under revocation data `version`.
    fn signed_by(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        version: u64,
    ) -> Result<bool, SignatureError> {
        if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
            return Ok(false);
        }
        let key = Self::key(cert, issuer);
        if let (Some(k), Ok(map)) = (key, self.verified.lock())
            && map.get(&k) == Some(&version)
        {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(true);
        }
        let signed = certificate_signed_by(cert, issuer)?;
        if let (true, Some(k), Ok(mut map)) = (signed, key, self.verified.lock()) {
            if map.len() >= SIGNED_BY_CACHE_ENTRIES {
                map.clear();
            }
            map.insert(k, version);
        }
        Ok(signed)
    }

    /// How many certificate signatures were answered from the cache (for tests and figures).
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The GOST signature algorithm a CMS signer info means (NCALayer may name the key algorithm there, as
/// RSA signer infos name rsaEncryption) and the digest it must be paired with; None if not GOST.
fn gost_cms_algorithm(sig_alg: &ObjectIdentifier) -> Option<(ObjectIdentifier, ObjectIdentifier)> {
    match *sig_alg {
        oids::GOST2004_SIGNATURE | oids::GOST2004_KEY => {
            Some((oids::GOST2004_SIGNATURE, oids::GOST34311))
        }
        oids::GOST2015_512_SIGNATURE => Some((oids::GOST2015_512_SIGNATURE, oids::STREEBOG512)),
        oids::GOST2015_256_SIGNATURE => Some((oids::GOST2015_256_SIGNATURE, oids::STREEBOG256)),
        _ => None,
    }
}

fn check_validity(cert: &Certificate, at: Timestamp) -> Result<(), SignatureError> {
    let v = cert.tbs_certificate().validity();
    let nb = v.not_before.to_unix_duration().as_secs() as i64;
    let na = v.not_after.to_unix_duration().as_secs() as i64;
    let t = at.as_second();
    let fmt = |s: i64| {
        Timestamp::from_second(s)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    if t < nb {
        return Err(SignatureError::NotYetValid {
            at: at.to_string(),
            not_before: fmt(nb),
            not_after: fmt(na),
        });
    }
    if t > na {
        return Err(SignatureError::Expired {
            at: at.to_string(),
            not_before: fmt(nb),
            not_after: fmt(na),
        });
    }
    Ok(())
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(cert.tbs_certificate().get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
}

fn parse_time_attr(any: &der::Any) -> Option<Timestamp> {
    let t: x509_cert::time::Time = any.decode_as().ok()?;
    Timestamp::from_second(t.to_unix_duration().as_secs() as i64).ok()
}

/// Builds a path from `leaf` to one of `anchors` through `intermediates`, checking every signature and
/// every validity period at `at`. Returns the anchor's index and the path below the anchor, leaf first.
fn path_to(
    signed: &SignedByCache,
    anchors: &[TrustAnchor],
    leaf: &Certificate,
    intermediates: &[Certificate],
    at: Timestamp,
) -> Result<(usize, Vec<Certificate>), SignatureError> {
    let version = revocation_version(anchors);
    let mut current = leaf.clone();
    let mut path = vec![leaf.clone()];
    let mut expired: Option<SignatureError> = None;
    check_validity(&current, at)?;
    for _ in 0..MAX_PATH {
        for (i, anchor) in anchors.iter().enumerate() {
            if signed.signed_by(&current, &anchor.certificate, version)? {
                check_validity(&anchor.certificate, at)?;
                return Ok((i, path));
            }
        }
        let mut next = None;
        for cand in intermediates {
            if cand != &current && is_ca(cand) && signed.signed_by(&current, cand, version)? {
                match check_validity(cand, at) {
                    Ok(()) => {
                        next = Some(cand.clone());
                        break;
                    }
                    Err(e) => expired = Some(e),
                }
            }
        }
        match next {
            Some(n) => {
                path.push(n.clone());
                current = n;
            }
            None => break,
        }
    }
    Err(expired.unwrap_or(SignatureError::Untrusted))
}

/// The SignedData of a DER ContentInfo — measured against `limits` from its headers first, before
/// anything is decoded (issue 15).
fn signed_data(
    bytes: &[u8],
    limits: &crate::limits::CmsLimits,
) -> Result<SignedData, SignatureError> {
    crate::limits::check_cms_shape(bytes, limits)?;
    let ci = ContentInfo::from_der(bytes).map_err(der_err)?;
    if ci.content_type != oids::CT_SIGNED_DATA {
        return Err(SignatureError::Malformed(format!(
            "content type {} is not signedData",
            ci.content_type
        )));
    }
    ci.content.decode_as().map_err(der_err)
}

/// The encapsulated content of an attached CMS SignedData, read without verifying anything: to see
/// *what* was signed before deciding to verify it (a QR signing must sign the document it was given).
pub fn encapsulated_content(
    bytes: &[u8],
    limits: &crate::limits::CmsLimits,
) -> Result<Vec<u8>, SignatureError> {
    let sd = signed_data(bytes, limits)?;
    match &sd.encap_content_info.econtent {
        Some(any) => Ok(any
            .decode_as::<OctetString>()
            .map_err(der_err)?
            .as_bytes()
            .to_vec()),
        None => Err(SignatureError::NoContent),
    }
}

/// What one signer's SignedData proves before any path or time check.
struct CheckedSignedData {
    content: Vec<u8>,
    signer_cert: Certificate,
    certs: Vec<Certificate>,
    claimed_signing_time: Option<Timestamp>,
    signer: SignerInfo,
}

/// RFC 5652 §5.4–5.6: exactly one signer, attached content, the signer's certificate embedded, signed
/// attributes with the content type and a matching message digest, and a signature that verifies
/// (RSA, ECDSA or GOST) with the signer's key.
fn check_signed_data(sd: &SignedData) -> Result<CheckedSignedData, SignatureError> {
    let signers: Vec<&SignerInfo> = sd.signer_infos.0.iter().collect();
    let [si] = signers.as_slice() else {
        return Err(SignatureError::SignerCount(signers.len()));
    };
    let content: Vec<u8> = match &sd.encap_content_info.econtent {
        Some(any) => any
            .decode_as::<OctetString>()
            .map_err(der_err)?
            .as_bytes()
            .to_vec(),
        None => return Err(SignatureError::NoContent),
    };
    let certs: Vec<Certificate> = sd
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(c) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let signer_cert = certs
        .iter()
        .find(|c| match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                c.tbs_certificate().issuer() == &ias.issuer && c.tbs_certificate().serial_number() == &ias.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                matches!(c.tbs_certificate().get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>(),
                    Ok(Some((_, own))) if own == *ski)
            }
        })
        .cloned()
        .ok_or(SignatureError::CertificateMissing)?;

    let hash_alg = si.digest_alg.oid;
    // The algorithm, its digest and the key's curve must agree before anything is hashed, so that a
    // GOST key on the wrong curve is named as such rather than as a changed document.
    if let Some((gost_alg, gost_hash)) = gost_cms_algorithm(&si.signature_algorithm.oid) {
        if hash_alg != gost_hash {
            return Err(SignatureError::SignatureAlgorithm(format!(
                "{gost_alg} with digest {hash_alg}"
            )));
        }
        let wanted = match gost_alg {
            oids::GOST2004_SIGNATURE => Some(crate::gost::GostCurve::CryptoProA),
            oids::GOST2015_512_SIGNATURE => Some(crate::gost::GostCurve::Tc26Gost512A),
            _ => None,
        };
        let key = signer_cert.tbs_certificate().subject_public_key_info();
        match (wanted, crate::gost::curve_of(key)) {
            (None, _) => {
                return Err(SignatureError::KeyParameters(
                    "GOST 34.10-2015 256-bit: the NCA parameter set is not confirmed (docs/pki.md)"
                        .into(),
                ));
            }
            (Some(_), Err(e)) => return Err(SignatureError::KeyParameters(e.to_string())),
            (Some(w), Ok(c)) if w != c => {
                return Err(SignatureError::KeyParameters(format!(
                    "{gost_alg} needs {w:?}, the key is on {c:?}"
                )));
            }
            _ => {}
        }
    }
    let content_digest = digest(&hash_alg, &content)?;
    let mut claimed_signing_time = None;
    let signed_bytes: Vec<u8> = match &si.signed_attrs {
        Some(attrs) => {
            let mut content_type_ok = false;
            let mut digest_ok = false;
            for attr in attrs.iter() {
                let values: Vec<&der::Any> = attr.values.iter().collect();
                match attr.oid {
                    oids::ATTR_CONTENT_TYPE => {
                        content_type_ok = values.len() == 1
                            && values[0].decode_as::<ObjectIdentifier>().ok()
                                == Some(sd.encap_content_info.econtent_type);
                    }
                    oids::ATTR_MESSAGE_DIGEST => {
                        digest_ok = values.len() == 1
                            && values[0]
                                .decode_as::<OctetString>()
                                .ok()
                                .map(|o| o.as_bytes().to_vec())
                                == Some(content_digest.clone());
                    }
                    oids::ATTR_SIGNING_TIME => {
                        claimed_signing_time = values.first().and_then(|v| parse_time_attr(v));
                    }
                    _ => {}
                }
            }
            if !content_type_ok {
                return Err(SignatureError::SignedAttributes(
                    "content type missing or different",
                ));
            }
            if !digest_ok {
                // The content no longer matches what was signed.
                return Err(SignatureError::SignatureInvalid);
            }
            attrs.to_der().map_err(der_err)?
        }
        None => content.clone(),
    };
    let signer_key = signer_cert.tbs_certificate().subject_public_key_info();
    if let Some((gost_alg, gost_hash)) = gost_cms_algorithm(&si.signature_algorithm.oid) {
        if hash_alg != gost_hash {
            return Err(SignatureError::SignatureAlgorithm(format!(
                "{gost_alg} with digest {hash_alg}"
            )));
        }
        match verify_gost(
            signer_key,
            &gost_alg,
            &signed_bytes,
            si.signature.as_bytes(),
        ) {
            Some(Ok(true)) => {}
            Some(Ok(false)) => return Err(SignatureError::SignatureInvalid),
            Some(Err(e)) => return Err(e),
            None => return Err(SignatureError::SignatureAlgorithm(gost_alg.to_string())),
        }
    } else {
        verify_message(
            signer_key,
            &si.signature_algorithm.oid,
            &hash_alg,
            &signed_bytes,
            si.signature.as_bytes(),
        )?;
    }
    Ok(CheckedSignedData {
        content,
        signer_cert,
        certs,
        claimed_signing_time,
        signer: (*si).clone(),
    })
}

impl Verifier {
    pub fn new(anchors: Vec<TrustAnchor>) -> Self {
        Verifier {
            anchors,
            tsa_anchors: vec![],
            fail_open: false,
            limits: crate::limits::CmsLimits::default(),
            signed: SignedByCache::default(),
        }
    }

    /// The cache of verified certificate signatures.
    pub fn signed_by_cache(&self) -> &SignedByCache {
        &self.signed
    }

    /// The limits every signed document is measured against before it is decoded.
    pub fn with_limits(mut self, limits: crate::limits::CmsLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &crate::limits::CmsLimits {
        &self.limits
    }

    /// Whether any TSA anchor is configured (without one no time stamp can verify).
    pub fn has_tsa_anchors(&self) -> bool {
        !self.tsa_anchors.is_empty()
    }

    pub fn with_tsa_anchors(mut self, anchors: Vec<TrustAnchor>) -> Self {
        self.tsa_anchors = anchors;
        self
    }

    /// RFC 3161 §2.4.2: `token` (a ContentInfo) is a SignedData over a TSTInfo, signed by a TSA
    /// certificate with id-kp-timeStamping that chains to a TSA anchor at its genTime, whose message
    /// imprint is the hash of `signature_value`, and whose genTime is not after `now` (5 min of skew).
    pub fn verify_time_stamp(
        &self,
        token: &der::Any,
        signature_value: &[u8],
        now: Timestamp,
    ) -> Result<TimeStamp, SignatureError> {
        let bad = SignatureError::TimeStamp;
        let ci: ContentInfo = token
            .decode_as()
            .map_err(|e: der::Error| bad(e.to_string()))?;
        if ci.content_type != oids::CT_SIGNED_DATA {
            return Err(bad("the token is not SignedData".into()));
        }
        let sd: SignedData = ci
            .content
            .decode_as()
            .map_err(|e: der::Error| bad(e.to_string()))?;
        if sd.encap_content_info.econtent_type != oids::CT_TST_INFO {
            return Err(bad("the token does not carry a TSTInfo".into()));
        }
        let checked =
            check_signed_data(&sd).map_err(|e| bad(format!("the token's signature: {e}")))?;
        let tst = parse_tst_info(&checked.content)?;
        let expected = digest(&tst.imprint.hash_algorithm.oid, signature_value)
            .map_err(|e| bad(format!("message imprint: {e}")))?;
        if tst.imprint.hashed_message.as_bytes() != expected.as_slice() {
            return Err(bad("the token time-stamps another signature".into()));
        }
        if tst.gen_time.as_second() > now.as_second() + 300 {
            return Err(bad(format!("genTime {} is in the future", tst.gen_time)));
        }
        let tsa = &checked.signer_cert;
        let eku_ok = matches!(
            tsa.tbs_certificate().get_extension::<x509_cert::ext::pkix::ExtendedKeyUsage>(),
            Ok(Some((_, eku))) if eku.0.contains(&oids::EKU_TIME_STAMPING)
        );
        if !eku_ok {
            return Err(bad("the TSA certificate lacks id-kp-timeStamping".into()));
        }
        let (i, _) = path_to(
            &self.signed,
            &self.tsa_anchors,
            tsa,
            &checked.certs,
            tst.gen_time,
        )
        .map_err(|e| bad(format!("the TSA certificate: {e}")))?;
        Ok(TimeStamp {
            gen_time: tst.gen_time,
            tsa: tsa.tbs_certificate().subject().to_string(),
            anchor: self.tsa_anchors[i].name.clone(),
            serial: crate::identity::hex_upper(&tst.serial),
            policy: tst.policy.to_string(),
        })
    }

    pub fn with_fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    pub fn anchor(&self, name: &str) -> Option<&TrustAnchor> {
        self.anchors.iter().find(|a| a.name == name)
    }

    /// Checks every certificate of `path` below the anchor for revocation at `signing_time`, with CRLs
    /// in force at `now`, by the anchor's method. Revoked is always refused; unknown is refused unless fail-open is set.
    pub fn check_revocation(
        &self,
        path: &[Certificate],
        anchor: &TrustAnchor,
        signing_time: Timestamp,
        now: Timestamp,
    ) -> Result<RevocationEvidence, SignatureError> {
        if let Revocation::None = &anchor.revocation {
            return Ok(RevocationEvidence {
                method: "none",
                status: "not-checked",
                fail_open: false,
                detail: None,
            });
        }
        let mut unknown: Option<String> = None;
        for (i, cert) in path.iter().enumerate() {
            let issuer = path.get(i + 1).unwrap_or(&anchor.certificate);
            let status = match &anchor.revocation {
                Revocation::Crl(store) => store.status(cert, signing_time, now),
                Revocation::Ocsp(client) => client.status(cert, issuer, signing_time, now),
                Revocation::None => RevocationStatus::Good,
            };
            match status {
                RevocationStatus::Good => {}
                RevocationStatus::Revoked { revoked_at } => {
                    return Err(SignatureError::Revoked {
                        serial: crate::identity::hex_upper(
                            cert.tbs_certificate().serial_number().as_bytes(),
                        ),
                        revoked_at: revoked_at.to_string(),
                    });
                }
                RevocationStatus::Unknown(why) => unknown = Some(why),
            }
        }
        match unknown {
            None => Ok(RevocationEvidence {
                method: anchor.revocation.method(),
                status: "good",
                fail_open: false,
                detail: None,
            }),
            Some(why) if self.fail_open => Ok(RevocationEvidence {
                method: anchor.revocation.method(),
                status: "unknown",
                fail_open: true,
                detail: Some(why),
            }),
            Some(why) => Err(SignatureError::RevocationUnknown(why)),
        }
    }

    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.anchors
    }

    /// Builds a path from `leaf` to an anchor through `intermediates`, checking every signature and
    /// every validity period at `at`. Returns the anchor's index and the path below the anchor, leaf
    /// first.
    pub fn verify_path(
        &self,
        leaf: &Certificate,
        intermediates: &[Certificate],
        at: Timestamp,
    ) -> Result<(usize, Vec<Certificate>), SignatureError> {
        path_to(&self.signed, &self.anchors, leaf, intermediates, at)
    }

    /// Verifies an attached CMS SignedData received at `at` and returns its content and signer.
    pub fn verify_cms(&self, bytes: &[u8], at: Timestamp) -> Result<VerifiedCms, SignatureError> {
        let sd = signed_data(bytes, &self.limits)?;
        let CheckedSignedData {
            content,
            signer_cert,
            certs,
            claimed_signing_time,
            signer: si,
        } = check_signed_data(&sd)?;
        // RFC 3161: a time-stamp token on the signature makes its time the signing time; without
        // one, the time of receipt is.
        let time_stamp = match time_stamp_token(&si)? {
            Some(token) => Some(self.verify_time_stamp(token, si.signature.as_bytes(), at)?),
            None => None,
        };
        let signing_time = time_stamp.as_ref().map_or(at, |t| t.gen_time);
        let (anchor, path) = self.verify_path(&signer_cert, &certs, signing_time)?;
        let anchor = &self.anchors[anchor];
        let revocation = self.check_revocation(&path, anchor, signing_time, at)?;
        Ok(VerifiedCms {
            content,
            signer: CertificateIdentity::of(&signer_cert),
            signer_certificate: signer_cert,
            claimed_signing_time,
            anchor: anchor.name.clone(),
            development_anchor: anchor.development,
            revocation,
            signing_time,
            time_stamp,
        })
    }
}

/// The NCA-profile rules for the signer of an application (Order 270 §8, DESIGN.md §4).
pub fn require_application_signer(
    id: &CertificateIdentity,
    applicant_bin: &qoljetim_domain::Bin,
) -> Result<(), SignatureError> {
    use crate::identity::NcaRole;
    if id.iin.is_none() {
        return Err(SignatureError::NoIin);
    }
    let Some(bin) = &id.bin else {
        return Err(SignatureError::NotLegalEntity);
    };
    if !id.legal_entity {
        return Err(SignatureError::NotLegalEntity);
    }
    if bin != applicant_bin {
        return Err(SignatureError::WrongBin {
            expected: applicant_bin.to_string(),
            found: bin.to_string(),
        });
    }
    if !id.signing_key {
        return Err(SignatureError::NotSigningKey);
    }
    if !(id.roles.contains(&NcaRole::FirstHead) || id.roles.contains(&NcaRole::SigningRight)) {
        return Err(SignatureError::NoSigningRight);
    }
    Ok(())
}

/// The NCA-profile rules for a sign-in certificate (Order 270 §11): a legal entity's authentication key.
/// An information system's certificate signs in as a system (issue 18), never as a person.
pub fn require_sign_in(id: &CertificateIdentity) -> Result<(), SignatureError> {
    if id
        .roles
        .contains(&crate::identity::NcaRole::InformationSystem)
        || id.individual_system
    {
        return Err(SignatureError::InformationSystemCertificate);
    }
    if id.iin.is_none() {
        return Err(SignatureError::NoIin);
    }
    if !id.legal_entity || id.bin.is_none() {
        return Err(SignatureError::NotLegalEntity);
    }
    if !id.authentication_key {
        return Err(SignatureError::NotAuthenticationKey);
    }
    Ok(())
}

/// Issue 18 (Order 270 §3): the certificate an organization's own information system signs in with —
/// a legal entity's certificate (EKU 1.2.398.3.3.4.1.2, OU=BIN…) in the role "information system of a
/// legal entity" (1.2.398.3.3.4.1.2.6, or a system named under it), authentication key, of `bin` when
/// given. A person's certificate and an individual's information system (1.2.398.3.3.4.1.1.1) are
/// refused; such certificates need not name a person, so no IIN is required.
pub fn require_system_sign_in(
    id: &CertificateIdentity,
    bin: Option<&qoljetim_domain::Bin>,
) -> Result<(), SignatureError> {
    use crate::identity::NcaRole;
    if id.individual || id.individual_system || !id.roles.contains(&NcaRole::InformationSystem) {
        return Err(SignatureError::NotInformationSystem);
    }
    let Some(found) = &id.bin else {
        return Err(SignatureError::NotLegalEntity);
    };
    if !id.legal_entity {
        return Err(SignatureError::NotLegalEntity);
    }
    if let Some(expected) = bin
        && found != expected
    {
        return Err(SignatureError::WrongBin {
            expected: expected.to_string(),
            found: found.to_string(),
        });
    }
    if !id.authentication_key {
        return Err(SignatureError::NotAuthenticationKey);
    }
    Ok(())
}

/// Issue 18: the certificate an application names for an organization's information system, given
/// whole (PEM): it must be the organization's information-system certificate
/// (`require_system_sign_in`). Its serial (upper-case hex, no leading zeros) and issuer (RFC 4514) are
/// what its sign-ins are matched with.
pub fn system_certificate_of_pem(
    pem: &str,
    bin: &qoljetim_domain::Bin,
) -> Result<(String, String), SignatureError> {
    use der::DecodePem;
    let cert = Certificate::from_pem(pem.trim().as_bytes()).map_err(der_err)?;
    let id = CertificateIdentity::of(&cert);
    require_system_sign_in(&id, Some(bin))?;
    let serial = qoljetim_domain::application::certificate_serial(&id.serial_hex)
        .ok_or_else(|| SignatureError::Malformed("certificate serial".into()))?;
    Ok((serial, id.issuer))
}

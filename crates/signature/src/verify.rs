//! Verification of an attached CMS SignedData (RFC 5652) and of its signer's certificate path
//! (RFC 5280, without policy processing) against configured trust anchors.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use jiff::Timestamp;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::der::referenced::OwnedToRef;
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::identity::CertificateIdentity;
use crate::{SignatureError, der_err, oids};

/// A configured trust anchor: a CA certificate and how its revocation is checked.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    pub name: String,
    pub certificate: Certificate,
    /// A development or test CA: refused in production mode, recorded on every decision it touches.
    pub development: bool,
}

/// The seam for revocation checking (CRL, OCSP), filled by the PKI capability. `None` means the anchor
/// was configured with no revocation checking, which the verification result records.
pub trait RevocationCheck: Send + Sync {
    fn check(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        at: Timestamp,
    ) -> Result<(), SignatureError>;
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
    /// "none" until the PKI capability configures CRL/OCSP per anchor.
    pub revocation: &'static str,
}

#[derive(Default)]
pub struct Verifier {
    anchors: Vec<TrustAnchor>,
    revocation: Option<Box<dyn RevocationCheck>>,
}

const MAX_PATH: usize = 6;
const MAX_CMS_BYTES: usize = 16 * 1024 * 1024;

fn digest(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, SignatureError> {
    Ok(match *alg {
        oids::SHA256 => Sha256::digest(data).to_vec(),
        oids::SHA384 => Sha384::digest(data).to_vec(),
        oids::SHA512 => Sha512::digest(data).to_vec(),
        other => return Err(SignatureError::DigestAlgorithm(other.to_string())),
    })
}

/// Verifies `signature` over a precomputed `hashed` digest (made with `hash_alg`) by the key in `spki`.
fn verify_prehashed(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &ObjectIdentifier,
    hash_alg: &ObjectIdentifier,
    hashed: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    use signature::hazmat::PrehashVerifier;
    let key_alg = spki.algorithm.oid;
    let sig_ok = match (*sig_alg, key_alg) {
        (
            oids::RSA_ENCRYPTION
            | oids::SHA256_WITH_RSA
            | oids::SHA384_WITH_RSA
            | oids::SHA512_WITH_RSA,
            oids::RSA_ENCRYPTION,
        ) => {
            let expected_hash = match *sig_alg {
                oids::SHA256_WITH_RSA => Some(oids::SHA256),
                oids::SHA384_WITH_RSA => Some(oids::SHA384),
                oids::SHA512_WITH_RSA => Some(oids::SHA512),
                _ => None,
            };
            if expected_hash.is_some_and(|h| h != *hash_alg) {
                return Err(SignatureError::SignatureAlgorithm(format!(
                    "{sig_alg} with digest {hash_alg}"
                )));
            }
            let pk = rsa::PublicKey::try_from(spki.owned_to_ref())
                .map_err(|e| SignatureError::Malformed(format!("RSA public key: {e}")))?;
            let scheme = match *hash_alg {
                oids::SHA256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                oids::SHA384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                _ => rsa::Pkcs1v15Sign::new::<Sha512>(),
            };
            pk.verify(scheme, hashed, signature).is_ok()
        }
        (oids::ECDSA_SHA256 | oids::ECDSA_SHA384 | oids::ECDSA_SHA512, oids::EC_PUBLIC_KEY) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| SignatureError::Malformed("EC key without named curve".into()))?;
            let point = spki.subject_public_key.raw_bytes();
            match curve {
                oids::CURVE_P256 => {
                    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map_err(|_| SignatureError::Malformed("P-256 public key".into()))?;
                    let sig = p256::ecdsa::Signature::from_der(signature)
                        .map_err(|_| SignatureError::SignatureInvalid)?;
                    vk.verify_prehash(hashed, &sig).is_ok()
                }
                oids::CURVE_P384 => {
                    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map_err(|_| SignatureError::Malformed("P-384 public key".into()))?;
                    let sig = p384::ecdsa::Signature::from_der(signature)
                        .map_err(|_| SignatureError::SignatureInvalid)?;
                    vk.verify_prehash(hashed, &sig).is_ok()
                }
                other => return Err(SignatureError::SignatureAlgorithm(format!("curve {other}"))),
            }
        }
        (sig, key) => {
            return Err(SignatureError::SignatureAlgorithm(format!(
                "{sig} with key {key}"
            )));
        }
    };
    if sig_ok {
        Ok(())
    } else {
        Err(SignatureError::SignatureInvalid)
    }
}

/// The digest a certificate signature algorithm implies.
fn cert_hash(sig_alg: &ObjectIdentifier) -> Result<ObjectIdentifier, SignatureError> {
    Ok(match *sig_alg {
        oids::SHA256_WITH_RSA | oids::ECDSA_SHA256 => oids::SHA256,
        oids::SHA384_WITH_RSA | oids::ECDSA_SHA384 => oids::SHA384,
        oids::SHA512_WITH_RSA | oids::ECDSA_SHA512 => oids::SHA512,
        other => return Err(SignatureError::SignatureAlgorithm(other.to_string())),
    })
}

/// A GOST signature (`None` when `sig_alg` is not GOST): the key's curve must be the algorithm's
/// (34.310-2004 → CryptoPro-A; 34.10-2015-512 → TC26 512 A). `Ok(false)` when it does not verify.
pub fn verify_gost(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> Option<Result<bool, SignatureError>> {
    use crate::gost::{GostCurve, GostError};
    let wanted = match *sig_alg {
        oids::GOST2004_SIGNATURE => GostCurve::CryptoProA,
        oids::GOST2015_512_SIGNATURE => GostCurve::Tc26Gost512A,
        oids::GOST2015_256_SIGNATURE => {
            return Some(Err(SignatureError::KeyParameters(
                "GOST 34.10-2015 256-bit: the NCA parameter set is not confirmed (docs)".into(),
            )));
        }
        _ => return None,
    };
    Some(match crate::gost::curve_of(spki) {
        Err(e) => Err(SignatureError::KeyParameters(e.to_string())),
        Ok(curve) if curve != wanted => Err(SignatureError::KeyParameters(format!(
            "{sig_alg} needs {wanted:?}, the key is on {curve:?}"
        ))),
        Ok(_) => match crate::gost::verify_spki(spki, message, signature) {
            Ok(()) => Ok(true),
            Err(GostError::Invalid) => Ok(false),
            Err(GostError::BadSignatureLength) => Ok(false),
            Err(e) => Err(SignatureError::KeyParameters(e.to_string())),
        },
    })
}

/// True when `issuer` signed `cert`.
pub fn certificate_signed_by(
    cert: &Certificate,
    issuer: &Certificate,
) -> Result<bool, SignatureError> {
    if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return Ok(false);
    }
    let tbs = cert.tbs_certificate().to_der().map_err(der_err)?;
    let sig_alg = cert.signature_algorithm().oid;
    if let Some(result) = verify_gost(
        issuer.tbs_certificate().subject_public_key_info(),
        &sig_alg,
        &tbs,
        cert.signature().raw_bytes(),
    ) {
        return result;
    }
    let hash_alg = cert_hash(&sig_alg)?;
    let hashed = digest(&hash_alg, &tbs)?;
    let sig = cert.signature().raw_bytes();
    match verify_prehashed(
        issuer.tbs_certificate().subject_public_key_info(),
        &sig_alg,
        &hash_alg,
        &hashed,
        sig,
    ) {
        Ok(()) => Ok(true),
        Err(SignatureError::SignatureInvalid) => Ok(false),
        Err(e) => Err(e),
    }
}

fn check_validity(cert: &Certificate, at: Timestamp) -> Result<(), SignatureError> {
    let v = cert.tbs_certificate().validity();
    let nb = v.not_before.to_unix_duration().as_secs() as i64;
    let na = v.not_after.to_unix_duration().as_secs() as i64;
    let t = at.as_second();
    if t < nb || t > na {
        let fmt = |s: i64| {
            Timestamp::from_second(s)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
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

impl Verifier {
    pub fn new(anchors: Vec<TrustAnchor>) -> Self {
        Verifier {
            anchors,
            revocation: None,
        }
    }

    pub fn with_revocation(mut self, check: Box<dyn RevocationCheck>) -> Self {
        self.revocation = Some(check);
        self
    }

    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.anchors
    }

    /// Builds a path from `leaf` to an anchor through `intermediates`, checking every signature and
    /// every validity period at `at`. Returns the anchor's index.
    pub fn verify_path(
        &self,
        leaf: &Certificate,
        intermediates: &[Certificate],
        at: Timestamp,
    ) -> Result<usize, SignatureError> {
        let mut current = leaf.clone();
        let mut expired: Option<SignatureError> = None;
        check_validity(&current, at)?;
        for _ in 0..MAX_PATH {
            for (i, anchor) in self.anchors.iter().enumerate() {
                if certificate_signed_by(&current, &anchor.certificate)? {
                    check_validity(&anchor.certificate, at)?;
                    if let Some(rc) = &self.revocation {
                        rc.check(&current, &anchor.certificate, at)?;
                    }
                    return Ok(i);
                }
            }
            let mut next = None;
            for cand in intermediates {
                if cand != &current && is_ca(cand) && certificate_signed_by(&current, cand)? {
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
                    if let Some(rc) = &self.revocation {
                        rc.check(&current, &n, at)?;
                    }
                    current = n;
                }
                None => break,
            }
        }
        Err(expired.unwrap_or(SignatureError::Untrusted))
    }

    /// Verifies an attached CMS SignedData received at `at` and returns its content and signer.
    pub fn verify_cms(&self, bytes: &[u8], at: Timestamp) -> Result<VerifiedCms, SignatureError> {
        if bytes.len() > MAX_CMS_BYTES {
            return Err(SignatureError::Malformed("larger than 16 MiB".into()));
        }
        let ci = ContentInfo::from_der(bytes).map_err(der_err)?;
        if ci.content_type != oids::CT_SIGNED_DATA {
            return Err(SignatureError::Malformed(format!(
                "content type {} is not signedData",
                ci.content_type
            )));
        }
        let sd: SignedData = ci.content.decode_as().map_err(der_err)?;
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
        let content_digest = digest(&hash_alg, &content)?;
        let mut claimed_signing_time = None;
        let signed_bytes_digest = match &si.signed_attrs {
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
                digest(&hash_alg, &attrs.to_der().map_err(der_err)?)?
            }
            None => content_digest,
        };
        verify_prehashed(
            signer_cert.tbs_certificate().subject_public_key_info(),
            &si.signature_algorithm.oid,
            &hash_alg,
            &signed_bytes_digest,
            si.signature.as_bytes(),
        )?;
        let anchor = self.verify_path(&signer_cert, &certs, at)?;
        let anchor = &self.anchors[anchor];
        Ok(VerifiedCms {
            content,
            signer: CertificateIdentity::of(&signer_cert),
            signer_certificate: signer_cert,
            claimed_signing_time,
            anchor: anchor.name.clone(),
            development_anchor: anchor.development,
            revocation: if self.revocation.is_some() {
                "checked"
            } else {
                "none"
            },
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
pub fn require_sign_in(id: &CertificateIdentity) -> Result<(), SignatureError> {
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

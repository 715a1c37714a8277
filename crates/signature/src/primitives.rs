//! The signature primitives below CMS verification and revocation: a digest by OID, a signature over a
//! digest (RSA, ECDSA, GOST), and "this key signed this certificate or CRL". Verification, CRLs and OCSP
//! all use these; they import none of those.

use const_oid::ObjectIdentifier;
use der::Encode;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::der::referenced::OwnedToRef;
use x509_cert::Certificate;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::{SignatureError, der_err, oids};

pub(crate) fn digest(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, SignatureError> {
    Ok(match *alg {
        oids::SHA256 => Sha256::digest(data).to_vec(),
        oids::SHA384 => Sha384::digest(data).to_vec(),
        oids::SHA512 => Sha512::digest(data).to_vec(),
        oids::GOST34311 => crate::gost::digest(crate::gost::GostCurve::CryptoProA, data),
        oids::STREEBOG512 => crate::gost::digest(crate::gost::GostCurve::Tc26Gost512A, data),
        oids::STREEBOG256 => {
            use streebog::Digest as _;
            streebog::Streebog256::digest(data).to_vec()
        }
        other => return Err(SignatureError::DigestAlgorithm(other.to_string())),
    })
}

/// The algorithm `ring` verifies a (signature algorithm, digest, key) with, where it has one: RSA
/// PKCS #1 v1.5 with SHA-256/384/512 and keys of 2048 to 8192 bits, ECDSA P-256 and P-384 with SHA-256
/// or SHA-384 (DER signatures).
fn ring_algorithm(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &ObjectIdentifier,
    hash_alg: &ObjectIdentifier,
) -> Option<&'static dyn ring::signature::VerificationAlgorithm> {
    use ring::signature as r;
    let key_alg = spki.algorithm.oid;
    match (key_alg, *sig_alg, *hash_alg) {
        (oids::RSA_ENCRYPTION, oids::SHA256_WITH_RSA | oids::RSA_ENCRYPTION, oids::SHA256) => {
            Some(&r::RSA_PKCS1_2048_8192_SHA256)
        }
        (oids::RSA_ENCRYPTION, oids::SHA384_WITH_RSA | oids::RSA_ENCRYPTION, oids::SHA384) => {
            Some(&r::RSA_PKCS1_2048_8192_SHA384)
        }
        (oids::RSA_ENCRYPTION, oids::SHA512_WITH_RSA | oids::RSA_ENCRYPTION, oids::SHA512) => {
            Some(&r::RSA_PKCS1_2048_8192_SHA512)
        }
        (oids::EC_PUBLIC_KEY, oids::ECDSA_SHA256 | oids::ECDSA_SHA384, hash) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())?;
            let expected = match *sig_alg {
                oids::ECDSA_SHA256 => oids::SHA256,
                _ => oids::SHA384,
            };
            if hash != expected {
                return None;
            }
            match (curve, hash) {
                (oids::CURVE_P256, oids::SHA256) => Some(&r::ECDSA_P256_SHA256_ASN1),
                (oids::CURVE_P256, oids::SHA384) => Some(&r::ECDSA_P256_SHA384_ASN1),
                (oids::CURVE_P384, oids::SHA256) => Some(&r::ECDSA_P384_SHA256_ASN1),
                (oids::CURVE_P384, oids::SHA384) => Some(&r::ECDSA_P384_SHA384_ASN1),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Verifies `signature` over `message` (hashed with `hash_alg`) by the key in `spki`. RSA and ECDSA go
/// through `ring` (issue 20: several times RustCrypto's speed); a combination ring lacks, and every
/// signature ring refuses, is decided by RustCrypto, so that the answers and their errors (a malformed
/// key, an algorithm not allowed) stay exactly RustCrypto's.
pub(crate) fn verify_message(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &ObjectIdentifier,
    hash_alg: &ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    if let Some(alg) = ring_algorithm(spki, sig_alg, hash_alg) {
        let key = ring::signature::UnparsedPublicKey::new(alg, spki.subject_public_key.raw_bytes());
        if key.verify(message, signature).is_ok() {
            return Ok(());
        }
    }
    verify_prehashed(
        spki,
        sig_alg,
        hash_alg,
        &digest(hash_alg, message)?,
        signature,
    )
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
pub(crate) fn cert_hash(sig_alg: &ObjectIdentifier) -> Result<ObjectIdentifier, SignatureError> {
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

/// True when the key `issuer_key` made `signature` (with `sig_alg`) over `tbs`, the to-be-signed part
/// of a certificate or CRL.
pub fn signed_by(
    tbs: &[u8],
    sig_alg: &ObjectIdentifier,
    signature: &[u8],
    issuer_key: &SubjectPublicKeyInfoOwned,
) -> Result<bool, SignatureError> {
    if let Some(result) = verify_gost(issuer_key, sig_alg, tbs, signature) {
        return result;
    }
    let hash_alg = cert_hash(sig_alg)?;
    match verify_message(issuer_key, sig_alg, &hash_alg, tbs, signature) {
        Ok(()) => Ok(true),
        Err(SignatureError::SignatureInvalid) => Ok(false),
        Err(e) => Err(e),
    }
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
    signed_by(
        &tbs,
        &cert.signature_algorithm().oid,
        cert.signature().raw_bytes(),
        issuer.tbs_certificate().subject_public_key_info(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, DecodePem};

    fn cert(bytes: &[u8]) -> Certificate {
        Certificate::from_der(bytes)
            .or_else(|_| Certificate::from_pem(bytes))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    // Issue 20: the NCA test PKI's RSA signature (an individual's certificate by the RSA test CA)
    // verifies through ring itself — not only through the RustCrypto fallback — and a one-bit change
    // in the signed bytes or the signature is refused.
    #[test]
    fn nca_rsa_certificate_verifies_through_ring_and_one_bit_breaks_it() {
        let ca = cert(include_bytes!(
            "../tests/fixtures/nca-test/nca_rsa_test.crt"
        ));
        let leaf = cert(include_bytes!(
            "../tests/fixtures/nca-test/individual_valid_sign_2004_rsa.cer"
        ));
        let key = ca.tbs_certificate().subject_public_key_info();
        let sig_alg = leaf.signature_algorithm().oid;
        let hash = cert_hash(&sig_alg).unwrap_or_else(|e| panic!("{e}"));
        let tbs = leaf.tbs_certificate().to_der().unwrap_or_default();
        let sig = leaf.signature().raw_bytes().to_vec();
        let alg =
            ring_algorithm(key, &sig_alg, &hash).unwrap_or_else(|| panic!("ring has {sig_alg}"));
        let ring_key =
            ring::signature::UnparsedPublicKey::new(alg, key.subject_public_key.raw_bytes());
        assert!(
            ring_key.verify(&tbs, &sig).is_ok(),
            "ring verifies NCA's RSA signature"
        );
        assert_eq!(certificate_signed_by(&leaf, &ca), Ok(true));
        let mut t = tbs.clone();
        t[tbs.len() / 2] ^= 1;
        assert_eq!(signed_by(&t, &sig_alg, &sig, key), Ok(false));
        let mut s = sig.clone();
        s[0] ^= 0x80;
        assert_eq!(signed_by(&tbs, &sig_alg, &s, key), Ok(false));
    }
}

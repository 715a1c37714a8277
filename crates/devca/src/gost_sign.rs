//! GOST signing for the development CA and the tests only. The server never signs with GOST; it is
//! kept apart from verification (qoljetim_signature::gost) so that nothing on the verification path can reach a
//! private scalar.
//!
//! GOST R 34.10-2012 §6.1 (RFC 7091 §6.1), in the NCA's byte orders (FACTS.md):
//! `e = H(M) mod q` (1 if 0), random `0 < k < q`, `C = k·G`, `r = C.x mod q`, `s = (r·d + k·e) mod q`;
//! the value is r‖s, each little-endian in the coordinate's width. Public keys are X‖Y little-endian
//! inside an OCTET STRING, with the NCA's key algorithm and parameter OIDs — exactly what the NCA's test
//! certificates in tests/fixtures/nca-test carry, so that what the development CA makes is verified by
//! the same code as a real NCA certificate.
//!
//! The private key's PKCS#8 form (ours, for the development CA's files): the SubjectPublicKeyInfo's
//! algorithm identifier and an OCTET STRING holding the scalar d little-endian (as the OpenSSL GOST
//! engine writes 2012 keys).

use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode};
use num_bigint::BigUint;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use qoljetim_signature::gost::{self, GostCurve};
use qoljetim_signature::{SignatureError, oids};

fn internal<E: std::fmt::Display>(e: E) -> SignatureError {
    SignatureError::Internal(e.to_string())
}

/// A GOST private key on one of the NCA curves.
#[derive(Clone)]
pub struct GostSigningKey {
    curve: GostCurve,
    d: BigUint,
}

impl std::fmt::Debug for GostSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GostSigningKey({:?}, ..)", self.curve)
    }
}

fn le_fixed(n: &BigUint, width: usize) -> Vec<u8> {
    let mut b = n.to_bytes_le();
    b.resize(width, 0);
    b
}

/// A uniformly drawn integer in [1, q).
fn random_scalar(curve: GostCurve) -> Result<BigUint, SignatureError> {
    let q = gost::order(curve);
    loop {
        // 16 extra bytes make the bias of the reduction negligible.
        let mut buf = vec![0u8; curve.size() + 16];
        getrandom::fill(&mut buf).map_err(internal)?;
        let k = BigUint::from_bytes_le(&buf) % &q;
        if k != BigUint::ZERO {
            return Ok(k);
        }
    }
}

impl GostSigningKey {
    pub fn generate(curve: GostCurve) -> Result<Self, SignatureError> {
        Ok(GostSigningKey {
            curve,
            d: random_scalar(curve)?,
        })
    }

    /// A key from its scalar (RFC 7091's example key, for instance).
    pub fn from_scalar(curve: GostCurve, d: BigUint) -> Result<Self, SignatureError> {
        let q = gost::order(curve);
        if d == BigUint::ZERO || d >= q {
            return Err(SignatureError::KeyParameters(
                "the GOST private scalar is not in [1, q)".into(),
            ));
        }
        Ok(GostSigningKey { curve, d })
    }

    pub fn curve(&self) -> GostCurve {
        self.curve
    }

    /// The key algorithm and parameters OIDs as the NCA writes them.
    pub fn algorithm(&self) -> Result<AlgorithmIdentifierOwned, SignatureError> {
        let (key, params, hash) = match self.curve {
            GostCurve::Tc26Gost512A => (
                oids::GOST2015_KEY,
                gost::OID_GOST2015_512_PARAMS_A,
                oids::STREEBOG512,
            ),
            _ => (
                oids::GOST2004_KEY,
                gost::OID_GOST2004_PARAMS_A,
                oids::GOST2004_HASH_PARAMS_TEST,
            ),
        };
        let params = ObjectIdentifier::new(params).map_err(internal)?;
        let seq = vec![
            Any::encode_from(&params).map_err(internal)?,
            Any::encode_from(&hash).map_err(internal)?,
        ];
        Ok(AlgorithmIdentifierOwned {
            oid: key,
            parameters: Some(Any::encode_from(&seq).map_err(internal)?),
        })
    }

    /// The signature algorithm of certificates and CRLs this key signs.
    pub fn signature_algorithm(&self) -> ObjectIdentifier {
        match self.curve {
            GostCurve::Tc26Gost512A => oids::GOST2015_512_SIGNATURE,
            _ => oids::GOST2004_SIGNATURE,
        }
    }

    /// The digest algorithm of a CMS signer info with this key.
    pub fn digest_algorithm(&self) -> ObjectIdentifier {
        match self.curve {
            GostCurve::Tc26Gost512A => oids::STREEBOG512,
            _ => oids::GOST34311,
        }
    }

    /// Q = d·G as X‖Y little-endian.
    pub fn public_key_raw(&self) -> Result<Vec<u8>, SignatureError> {
        let (x, y) = gost::mul_generator(self.curve, &self.d)
            .ok_or_else(|| internal("GOST public key at infinity"))?;
        let n = self.curve.size();
        let mut out = le_fixed(&x, n);
        out.extend(le_fixed(&y, n));
        Ok(out)
    }

    pub fn subject_public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned, SignatureError> {
        let wrapped = OctetString::new(self.public_key_raw()?)
            .map_err(internal)?
            .to_der()
            .map_err(internal)?;
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: self.algorithm()?,
            subject_public_key: BitString::from_bytes(&wrapped).map_err(internal)?,
        })
    }

    /// Signs `message` (hashed with the curve's hash): r‖s little-endian.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let q = gost::order(self.curve);
        let mut e = BigUint::from_bytes_le(&gost::digest(self.curve, message)) % &q;
        if e == BigUint::ZERO {
            e = BigUint::from(1u8);
        }
        loop {
            let k = random_scalar(self.curve)?;
            let Some((cx, _)) = gost::mul_generator(self.curve, &k) else {
                continue;
            };
            let r = cx % &q;
            if r == BigUint::ZERO {
                continue;
            }
            let s = (&r * &self.d + &k * &e) % &q;
            if s == BigUint::ZERO {
                continue;
            }
            let n = self.curve.size();
            let mut out = le_fixed(&r, n);
            out.extend(le_fixed(&s, n));
            return Ok(out);
        }
    }

    /// PKCS#8 PrivateKeyInfo DER (see the module comment for the form).
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, SignatureError> {
        let inner = OctetString::new(le_fixed(&self.d, self.curve.size()))
            .map_err(internal)?
            .to_der()
            .map_err(internal)?;
        let info = pkcs8::PrivateKeyInfoOwned::new(
            self.algorithm()?,
            OctetString::new(inner).map_err(internal)?,
        );
        info.to_der().map_err(internal)
    }

    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<Self, SignatureError> {
        let info = pkcs8::PrivateKeyInfoOwned::from_der(der_bytes).map_err(internal)?;
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: info.algorithm.clone(),
            subject_public_key: BitString::from_bytes(&[]).map_err(internal)?,
        };
        let curve =
            gost::curve_of(&spki).map_err(|e| SignatureError::KeyParameters(e.to_string()))?;
        let inner = OctetString::from_der(info.private_key.as_bytes()).map_err(internal)?;
        if inner.as_bytes().len() != curve.size() {
            return Err(SignatureError::KeyParameters(
                "the GOST private scalar has the wrong width".into(),
            ));
        }
        Self::from_scalar(curve, BigUint::from_bytes_le(inner.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // GOST R 34.10-2012 §6.1: what we sign, our verifier (confirmed on the NCA's own certificates)
    // accepts, and one changed bit of message or signature is refused.
    #[test]
    fn signatures_verify_and_one_bit_fails_on_both_nca_curves() {
        for curve in [GostCurve::CryptoProA, GostCurve::Tc26Gost512A] {
            let key = GostSigningKey::generate(curve).unwrap();
            let spki = key.subject_public_key_info().unwrap();
            assert_eq!(gost::curve_of(&spki).unwrap(), curve);
            let msg = b"Order 270 application";
            let sig = key.sign(msg).unwrap();
            assert_eq!(sig.len(), 2 * curve.size());
            gost::verify_spki(&spki, msg, &sig).unwrap();
            let mut bad = sig.clone();
            bad[3] ^= 0x10;
            assert!(gost::verify_spki(&spki, msg, &bad).is_err());
            assert!(gost::verify_spki(&spki, b"Order 270 applicatioN", &sig).is_err());
        }
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_key() {
        for curve in [GostCurve::CryptoProA, GostCurve::Tc26Gost512A] {
            let key = GostSigningKey::generate(curve).unwrap();
            let back = GostSigningKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
            assert_eq!(back.curve(), curve);
            assert_eq!(
                back.public_key_raw().unwrap(),
                key.public_key_raw().unwrap()
            );
        }
    }

    // RFC 7091 §A.1: the example private key d gives the example public key Q.
    #[test]
    fn rfc7091_example_public_key_from_private_key() {
        let h = |s: &str| BigUint::parse_bytes(s.as_bytes(), 16).unwrap();
        let d = h("7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28");
        let (x, y) = gost::mul_generator(GostCurve::Rfc7091Test256, &d).unwrap();
        assert_eq!(
            x,
            h("7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B")
        );
        assert_eq!(
            y,
            h("26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA")
        );
    }
}

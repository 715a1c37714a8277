//! GOST signature verification as Kazakhstan's NCA uses it (verify only; no maintained crate does this).
//!
//! The algorithm is GOST R 34.10-2001 / 34.10-2012 (RFC 5832, RFC 7091), which Kazakhstan adopted as
//! GOST 34.310-2004 and GOST 34.10-2015:
//!
//! ```text
//! e = H(M) as an integer mod q (e = 1 if it is 0);  0 < r, s < q
//! v = e⁻¹ mod q;  z1 = s·v mod q;  z2 = −r·v mod q
//! C = z1·G + z2·Q;  valid when C.x mod q = r
//! ```
//!
//! Byte orders (FACTS.md; confirmed by the NCA's own test certificates and CRLs in
//! tests/fixtures/nca-test, which verify here and fail after any one-bit change): the public key is
//! X‖Y, each little-endian (inside an OCTET STRING in the SubjectPublicKeyInfo bit string); the
//! signature value is r‖s, each little-endian — the byte reverse of RFC 4491's s‖r big-endian form;
//! the digest is read as a little-endian integer. RFC 7091's own example uses big-endian numbers:
//! `verify_numbers` takes integers and serves both.
//!
//! Curves, chosen by the key's parameters OID:
//! - 1.2.398.3.10.1.1.1.1.1 (GOST 34.310-2004): the CryptoPro-A curve of RFC 4357 §11.4, with the
//!   GOST 34.311-95 hash (GOST R 34.11-94) under the test S-box (hash parameters 1.2.398.3.10.1.3.1.1.0).
//! - 1.2.398.3.10.1.1.2.2.1 (GOST 34.10-2015, 512 bits): id-tc26-gost-3410-12-512-paramSetA of
//!   RFC 7836 §A.1, with Streebog-512.
//! - The 256-bit GOST 34.10-2015 parameter set NCA uses is not in the fixtures and is not claimed here:
//!   such keys answer `GostError::UnknownParameters` until it is confirmed.
//!
//! Arithmetic: NCA's two curves on fixed-width limbs (`gost_fast`); the num-bigint code here (Jacobian
//! coordinates, Shamir's trick) is the reference and serves RFC 7091's test curve. Verification handles
//! only public data, so constant time is not needed.

use num_bigint::BigUint;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GostError {
    #[error("GOST key parameters {0} are not supported")]
    UnknownParameters(String),
    #[error("the GOST public key is not a point of the curve")]
    BadPublicKey,
    #[error("the GOST signature value has the wrong length")]
    BadSignatureLength,
    #[error("the GOST signature does not verify")]
    Invalid,
}

/// The parameter sets supported, with their source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GostCurve {
    /// RFC 4357 §11.4 id-GostR3410-2001-CryptoPro-A-ParamSet; NCA OID 1.2.398.3.10.1.1.1.1.1.
    CryptoProA,
    /// RFC 7836 §A.1 id-tc26-gost-3410-12-512-paramSetA; NCA OID 1.2.398.3.10.1.1.2.2.1.
    Tc26Gost512A,
    /// RFC 5832 §7.1 / RFC 7091 §A.1 test parameters (for the RFC's example only).
    Rfc7091Test256,
}

pub const OID_GOST2004_PARAMS_A: &str = "1.2.398.3.10.1.1.1.1.1";
pub const OID_GOST2015_512_PARAMS_A: &str = "1.2.398.3.10.1.1.2.2.1";

impl GostCurve {
    pub fn from_parameters_oid(oid: &str) -> Result<GostCurve, GostError> {
        match oid {
            OID_GOST2004_PARAMS_A => Ok(GostCurve::CryptoProA),
            OID_GOST2015_512_PARAMS_A => Ok(GostCurve::Tc26Gost512A),
            other => Err(GostError::UnknownParameters(other.to_owned())),
        }
    }

    /// Length in bytes of one coordinate (and of r, s).
    pub fn size(self) -> usize {
        match self {
            GostCurve::Tc26Gost512A => 64,
            _ => 32,
        }
    }

    fn params(self) -> Curve {
        let h = |s: &str| BigUint::parse_bytes(s.as_bytes(), 16).unwrap_or_default();
        match self {
            GostCurve::CryptoProA => Curve {
                p: h("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD97"),
                a: h("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD94"),
                b: h("A6"),
                q: h("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF6C611070995AD10045841B09B761B893"),
                gx: h("1"),
                gy: h("8D91E471E0989CDA27DF505A453F2B7635294F2DDF23E3B122ACC99C9E9F1E14"),
            },
            GostCurve::Tc26Gost512A => Curve {
                p: h(
                    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7",
                ),
                a: h(
                    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC4",
                ),
                b: h(
                    "E8C2505DEDFC86DDC1BD0B2B6667F1DA34B82574761CB0E879BD081CFD0B6265EE3CB090F30D27614CB4574010DA90DD862EF9D4EBEE4761503190785A71C760",
                ),
                q: h(
                    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF27E69532F48D89116FF22B8D4E0560609B4B38ABFAD2B85DCACDB1411F10B275",
                ),
                gx: h("3"),
                gy: h(
                    "7503CFE87A836AE3A61B8816E25450E6CE5E1C93ACF1ABC1778064FDCBEFA921DF1626BE4FD036E93D75E6A50E3A41E98028FE5FC235F5B889A589CB5215F2A4",
                ),
            },
            GostCurve::Rfc7091Test256 => Curve {
                p: h("8000000000000000000000000000000000000000000000000000000000000431"),
                a: h("7"),
                b: h("5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E"),
                q: h("8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3"),
                gx: h("2"),
                gy: h("8E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8"),
            },
        }
    }
}

struct Curve {
    p: BigUint,
    a: BigUint,
    b: BigUint,
    q: BigUint,
    gx: BigUint,
    gy: BigUint,
}

/// A point in Jacobian coordinates (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone)]
struct Jac {
    x: BigUint,
    y: BigUint,
    z: BigUint,
}

impl Curve {
    fn sub(&self, a: &BigUint, b: &BigUint) -> BigUint {
        ((a + &self.p) - (b % &self.p)) % &self.p
    }
    fn mul(&self, a: &BigUint, b: &BigUint) -> BigUint {
        (a * b) % &self.p
    }
    fn on_curve(&self, x: &BigUint, y: &BigUint) -> bool {
        if x >= &self.p || y >= &self.p {
            return false;
        }
        let lhs = self.mul(y, y);
        let rhs = (self.mul(&self.mul(x, x), x) + self.mul(&self.a, x) + &self.b) % &self.p;
        lhs == rhs
    }
    fn infinity() -> Jac {
        Jac {
            x: BigUint::from(1u8),
            y: BigUint::from(1u8),
            z: BigUint::ZERO,
        }
    }
    fn double(&self, pt: &Jac) -> Jac {
        if pt.z == BigUint::ZERO || pt.y == BigUint::ZERO {
            return Self::infinity();
        }
        let xx = self.mul(&pt.x, &pt.x);
        let yy = self.mul(&pt.y, &pt.y);
        let yyyy = self.mul(&yy, &yy);
        let zz = self.mul(&pt.z, &pt.z);
        let s = self.mul(&BigUint::from(4u8), &self.mul(&pt.x, &yy));
        let m =
            (self.mul(&BigUint::from(3u8), &xx) + self.mul(&self.a, &self.mul(&zz, &zz))) % &self.p;
        let x3 = self.sub(&self.mul(&m, &m), &((&s + &s) % &self.p));
        let y3 = self.sub(
            &self.mul(&m, &self.sub(&s, &x3)),
            &self.mul(&BigUint::from(8u8), &yyyy),
        );
        let z3 = self.mul(&BigUint::from(2u8), &self.mul(&pt.y, &pt.z));
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }
    fn add(&self, p1: &Jac, p2: &Jac) -> Jac {
        if p1.z == BigUint::ZERO {
            return p2.clone();
        }
        if p2.z == BigUint::ZERO {
            return p1.clone();
        }
        let z1z1 = self.mul(&p1.z, &p1.z);
        let z2z2 = self.mul(&p2.z, &p2.z);
        let u1 = self.mul(&p1.x, &z2z2);
        let u2 = self.mul(&p2.x, &z1z1);
        let s1 = self.mul(&p1.y, &self.mul(&p2.z, &z2z2));
        let s2 = self.mul(&p2.y, &self.mul(&p1.z, &z1z1));
        if u1 == u2 {
            return if s1 == s2 {
                self.double(p1)
            } else {
                Self::infinity()
            };
        }
        let h = self.sub(&u2, &u1);
        let r = self.sub(&s2, &s1);
        let hh = self.mul(&h, &h);
        let hhh = self.mul(&hh, &h);
        let u1hh = self.mul(&u1, &hh);
        let x3 = self.sub(
            &self.sub(&self.mul(&r, &r), &hhh),
            &((&u1hh + &u1hh) % &self.p),
        );
        let y3 = self.sub(&self.mul(&r, &self.sub(&u1hh, &x3)), &self.mul(&s1, &hhh));
        let z3 = self.mul(&h, &self.mul(&p1.z, &p2.z));
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }
    /// k1·P1 + k2·P2 with one shared doubling chain (Shamir's trick).
    fn mul2(&self, k1: &BigUint, p1: &Jac, k2: &BigUint, p2: &Jac) -> Jac {
        let both = self.add(p1, p2);
        let bits = k1.bits().max(k2.bits());
        let mut acc = Self::infinity();
        for i in (0..bits).rev() {
            acc = self.double(&acc);
            match (k1.bit(i), k2.bit(i)) {
                (true, true) => acc = self.add(&acc, &both),
                (true, false) => acc = self.add(&acc, p1),
                (false, true) => acc = self.add(&acc, p2),
                (false, false) => {}
            }
        }
        acc
    }
    fn affine(&self, pt: &Jac) -> Option<(BigUint, BigUint)> {
        if pt.z == BigUint::ZERO {
            return None;
        }
        let inv = pt.z.modpow(&(&self.p - BigUint::from(2u8)), &self.p);
        let inv2 = self.mul(&inv, &inv);
        let inv3 = self.mul(&inv2, &inv);
        Some((self.mul(&pt.x, &inv2), self.mul(&pt.y, &inv3)))
    }
    fn affine_x(&self, pt: &Jac) -> Option<BigUint> {
        if pt.z == BigUint::ZERO {
            return None;
        }
        let zz = self.mul(&pt.z, &pt.z);
        // p is prime: z⁻¹ = z^(p−2).
        let inv = zz.modpow(&(&self.p - BigUint::from(2u8)), &self.p);
        Some(self.mul(&pt.x, &inv))
    }
}

/// The order q of the curve's base point.
pub fn order(curve: GostCurve) -> BigUint {
    curve.params().q
}

/// k·G in affine coordinates (None for k ≡ 0 mod q). Used by the signer of the development CA and
/// tests (crate::gost_sign) to make public keys and the r of a signature.
pub fn mul_generator(curve: GostCurve, k: &BigUint) -> Option<(BigUint, BigUint)> {
    let c = curve.params();
    let g = Jac {
        x: c.gx.clone(),
        y: c.gy.clone(),
        z: BigUint::from(1u8),
    };
    let pt = c.mul2(k, &g, &BigUint::ZERO, &Curve::infinity());
    c.affine(&pt)
}

/// Verifies with the integers of the standard: the public key (x, y), the digest as an integer, (r, s).
/// NCA's two parameter sets run on fixed-width arithmetic (`gost_fast`); RFC 7091's test
/// curve on the reference code below.
pub fn verify_numbers(
    curve: GostCurve,
    qx: &BigUint,
    qy: &BigUint,
    digest: &BigUint,
    r: &BigUint,
    s: &BigUint,
) -> Result<(), GostError> {
    let [x, y, e, r_, s_] = [qx, qy, digest, r, s].map(BigUint::to_bytes_be);
    match curve {
        GostCurve::CryptoProA => {
            crate::gost_fast::verify::<crate::gost_fast::CryptoProA, 4, 617>(&x, &y, &e, &r_, &s_)
        }
        GostCurve::Tc26Gost512A => {
            crate::gost_fast::verify::<crate::gost_fast::Tc26A, 8, 569>(&x, &y, &e, &r_, &s_)
        }
        GostCurve::Rfc7091Test256 => verify_numbers_reference(curve, qx, qy, digest, r, s),
    }
}

/// The reference: num-bigint, Jacobian coordinates, Shamir's trick, any a.
pub fn verify_numbers_reference(
    curve: GostCurve,
    qx: &BigUint,
    qy: &BigUint,
    digest: &BigUint,
    r: &BigUint,
    s: &BigUint,
) -> Result<(), GostError> {
    let c = curve.params();
    if !c.on_curve(qx, qy) {
        return Err(GostError::BadPublicKey);
    }
    let zero = BigUint::ZERO;
    if r == &zero || s == &zero || r >= &c.q || s >= &c.q {
        return Err(GostError::Invalid);
    }
    let mut e = digest % &c.q;
    if e == zero {
        e = BigUint::from(1u8);
    }
    // v = e⁻¹ mod q (q is prime).
    let v = e.modpow(&(&c.q - BigUint::from(2u8)), &c.q);
    let z1 = (s * &v) % &c.q;
    let z2 = ((&c.q - r) * &v) % &c.q;
    let g = Jac {
        x: c.gx.clone(),
        y: c.gy.clone(),
        z: BigUint::from(1u8),
    };
    let pk = Jac {
        x: qx.clone(),
        y: qy.clone(),
        z: BigUint::from(1u8),
    };
    let point = c.mul2(&z1, &g, &z2, &pk);
    match c.affine_x(&point) {
        Some(x) if (&x % &c.q) == *r => Ok(()),
        _ => Err(GostError::Invalid),
    }
}

/// The public key bytes of a SubjectPublicKeyInfo: X‖Y little-endian, possibly wrapped in an OCTET
/// STRING (04 len …) as RFC 4491 and NCA certificates do.
pub fn public_key_xy(curve: GostCurve, raw: &[u8]) -> Result<(BigUint, BigUint), GostError> {
    let n = curve.size();
    let body = match raw {
        [0x04, len, rest @ ..] if usize::from(*len) == 2 * n && rest.len() == 2 * n => rest,
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == 2 * n && rest.len() == 2 * n => rest,
        other if other.len() == 2 * n => other,
        _ => return Err(GostError::BadPublicKey),
    };
    Ok((
        BigUint::from_bytes_le(&body[..n]),
        BigUint::from_bytes_le(&body[n..]),
    ))
}

/// Hash of `message` for the curve's algorithm: GOST 34.311-95 (test S-box) or Streebog-512.
pub fn digest(curve: GostCurve, message: &[u8]) -> Vec<u8> {
    use gost94::Digest as _;
    match curve {
        GostCurve::Tc26Gost512A => streebog::Streebog512::digest(message).to_vec(),
        _ => gost94::Gost94Test::digest(message).to_vec(),
    }
}

/// Verifies an NCA GOST signature: `public_key` as in the certificate, `signature` r‖s little-endian,
/// over `message` hashed with the curve's hash.
pub fn verify_nca(
    curve: GostCurve,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), GostError> {
    let n = curve.size();
    if signature.len() != 2 * n {
        return Err(GostError::BadSignatureLength);
    }
    let (qx, qy) = public_key_xy(curve, public_key)?;
    let h = digest(curve, message);
    let e = BigUint::from_bytes_le(&h);
    let r = BigUint::from_bytes_le(&signature[..n]);
    let s = BigUint::from_bytes_le(&signature[n..]);
    verify_numbers(curve, &qx, &qy, &e, &r, &s)
}

/// The curve of a GOST SubjectPublicKeyInfo, from its parameters (a SEQUENCE whose first element is
/// the public-key parameter set OID, or that OID alone).
pub fn curve_of(spki: &spki::SubjectPublicKeyInfoOwned) -> Result<GostCurve, GostError> {
    use der::asn1::ObjectIdentifier;
    let params = spki
        .algorithm
        .parameters
        .as_ref()
        .ok_or_else(|| GostError::UnknownParameters("none".into()))?;
    let oid = match params.decode_as::<Vec<der::Any>>() {
        Ok(seq) => seq
            .first()
            .and_then(|a| a.decode_as::<ObjectIdentifier>().ok()),
        Err(_) => params.decode_as::<ObjectIdentifier>().ok(),
    }
    .ok_or_else(|| GostError::UnknownParameters("unreadable".into()))?;
    GostCurve::from_parameters_oid(&oid.to_string())
}

/// Verifies a GOST signature with the signer's SubjectPublicKeyInfo.
pub fn verify_spki(
    spki: &spki::SubjectPublicKeyInfoOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), GostError> {
    let curve = curve_of(spki)?;
    verify_nca(
        curve,
        spki.subject_public_key.raw_bytes(),
        message,
        signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};
    use x509_cert::Certificate;
    use x509_cert::crl::CertificateList;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/nca-test/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap_or_default()
    }

    fn cert(name: &str) -> Certificate {
        let b = fixture(name);
        Certificate::from_der(&b)
            .or_else(|_| <Certificate as der::DecodePem>::from_pem(&b))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn crl(name: &str) -> CertificateList {
        let b = fixture(name);
        CertificateList::from_der(&b)
            .or_else(|_| <CertificateList as der::DecodePem>::from_pem(&b))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// (what, signer's key, signed bytes, signature value)
    fn nca_signed() -> Vec<(
        &'static str,
        spki::SubjectPublicKeyInfoOwned,
        Vec<u8>,
        Vec<u8>,
    )> {
        let ca2004 = cert("nca_gost_test.crt");
        let ca2015 = cert("nca_gost2015_test.cer");
        let ceo = cert("ceo_valid_sign_2004_gost.cer");
        let crl2004 = crl("nca_gost_test.crl");
        let crl2015 = crl("nca_gost2022_test.crl");
        vec![
            (
                "ceo_valid_sign_2004_gost.cer",
                ca2004.tbs_certificate().subject_public_key_info().clone(),
                ceo.tbs_certificate().to_der().unwrap_or_default(),
                ceo.signature().raw_bytes().to_vec(),
            ),
            (
                "nca_gost_test.crl",
                ca2004.tbs_certificate().subject_public_key_info().clone(),
                crl2004.tbs_cert_list.to_der().unwrap_or_default(),
                crl2004.signature.raw_bytes().to_vec(),
            ),
            (
                "nca_gost2022_test.crl",
                ca2015.tbs_certificate().subject_public_key_info().clone(),
                crl2015.tbs_cert_list.to_der().unwrap_or_default(),
                crl2015.signature.raw_bytes().to_vec(),
            ),
        ]
    }

    // Ground truth: every GOST signature of the NCA's test PKI whose signer is included verifies, and a
    // one-bit change in the signed bytes, the signature or the key fails.
    #[test]
    fn nca_test_pki_gost_signatures_verify_and_one_bit_breaks_them() {
        for (what, key, tbs, sig) in nca_signed() {
            assert_eq!(verify_spki(&key, &tbs, &sig), Ok(()), "{what}");
            for i in [0, tbs.len() / 2, tbs.len() - 1] {
                let mut t = tbs.clone();
                t[i] ^= 0x01;
                assert!(verify_spki(&key, &t, &sig).is_err(), "{what}: tbs byte {i}");
            }
            for i in [0, sig.len() / 2 - 1, sig.len() / 2, sig.len() - 1] {
                let mut s = sig.clone();
                s[i] ^= 0x80;
                assert!(
                    verify_spki(&key, &tbs, &s).is_err(),
                    "{what}: signature byte {i}"
                );
            }
            let raw = key.subject_public_key.raw_bytes();
            let mut k = raw.to_vec();
            let last = k.len() - 1;
            k[last] ^= 0x01;
            let curve = curve_of(&key).unwrap_or(GostCurve::Rfc7091Test256);
            assert!(verify_nca(curve, &k, &tbs, &sig).is_err(), "{what}: key");
        }
    }

    #[test]
    fn parameters_pick_the_curve() {
        let sets: Vec<GostCurve> = nca_signed()
            .iter()
            .map(|(_, k, _, _)| curve_of(k).unwrap_or(GostCurve::Rfc7091Test256))
            .collect();
        assert_eq!(
            sets,
            [
                GostCurve::CryptoProA,
                GostCurve::CryptoProA,
                GostCurve::Tc26Gost512A
            ]
        );
        // A signature checked on the wrong curve fails.
        let (_, key, tbs, sig) = &nca_signed()[0];
        assert!(
            verify_nca(
                GostCurve::Tc26Gost512A,
                key.subject_public_key.raw_bytes(),
                tbs,
                sig
            )
            .is_err()
        );
    }

    fn h(s: &str) -> BigUint {
        BigUint::parse_bytes(s.as_bytes(), 16).unwrap_or_default()
    }

    // RFC 7091 §A.1 (the example of GOST R 34.10-2012 with 256-bit parameters, = RFC 5832 §7.1).
    #[test]
    fn rfc7091_example_verifies_and_a_changed_value_fails() {
        let qx = h("7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B");
        let qy = h("26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA");
        let e = h("2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5");
        let r = h("41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493");
        let s = h("1456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40");
        assert_eq!(
            verify_numbers(GostCurve::Rfc7091Test256, &qx, &qy, &e, &r, &s),
            Ok(())
        );
        let e2 = &e ^ BigUint::from(1u8);
        assert_eq!(
            verify_numbers(GostCurve::Rfc7091Test256, &qx, &qy, &e2, &r, &s),
            Err(GostError::Invalid)
        );
        let bad_q = &qy ^ BigUint::from(2u8);
        assert_eq!(
            verify_numbers(GostCurve::Rfc7091Test256, &qx, &bad_q, &e, &r, &s),
            Err(GostError::BadPublicKey)
        );
        assert_eq!(
            verify_numbers(GostCurve::Rfc7091Test256, &qx, &qy, &e, &BigUint::ZERO, &s),
            Err(GostError::Invalid)
        );
    }

    #[test]
    fn generators_are_on_their_curves() {
        for c in [
            GostCurve::CryptoProA,
            GostCurve::Tc26Gost512A,
            GostCurve::Rfc7091Test256,
        ] {
            let p = c.params();
            assert!(p.on_curve(&p.gx, &p.gy), "{c:?}");
        }
        assert!(GostCurve::from_parameters_oid("1.2.398.3.10.1.1.2.2.2").is_err());
    }

    /// A GOST 34.10 signature (r, s) of the digest integer `e` with private scalar `d` and nonce `k`.
    fn sign_numbers(curve: GostCurve, d: &BigUint, k: &BigUint, e: &BigUint) -> (BigUint, BigUint) {
        let q = order(curve);
        let mut e = e % &q;
        if e == BigUint::ZERO {
            e = BigUint::from(1u8);
        }
        let (rx, _) = mul_generator(curve, k).unwrap_or_default();
        let r = rx % &q;
        let s = (&r * d + k * &e) % &q;
        (r, s)
    }

    // Issue 20: the fixed-width Montgomery code answers exactly as the num-bigint reference on NCA's
    // two curves — valid signatures of random keys and digests verify on both, and a changed digest,
    // r, s or key is refused by both.
    #[test]
    fn fixed_width_verification_answers_as_the_reference() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 24,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let bytes = proptest::collection::vec(any::<u8>(), 64);
        let result = runner.run(
            &(
                any::<bool>(),
                bytes.clone(),
                bytes.clone(),
                bytes,
                0usize..4,
            ),
            |(big, d, k, e, change)| {
                let curve = if big {
                    GostCurve::Tc26Gost512A
                } else {
                    GostCurve::CryptoProA
                };
                let q = order(curve);
                let one = BigUint::from(1u8);
                let d = BigUint::from_bytes_le(&d) % (&q - &one) + &one;
                let k = BigUint::from_bytes_le(&k) % (&q - &one) + &one;
                let e = BigUint::from_bytes_le(&e[..curve.size()]);
                let (qx, qy) = mul_generator(curve, &d).unwrap_or_default();
                let (r, s) = sign_numbers(curve, &d, &k, &e);
                prop_assert_eq!(verify_numbers(curve, &qx, &qy, &e, &r, &s), Ok(()));
                prop_assert_eq!(
                    verify_numbers_reference(curve, &qx, &qy, &e, &r, &s),
                    Ok(())
                );
                let (qx2, qy2) = mul_generator(curve, &(&d + &one)).unwrap_or_default();
                let (e2, r2, s2, x2, y2) = match change {
                    0 => (&e + &one, r.clone(), s.clone(), qx.clone(), qy.clone()),
                    1 => (
                        e.clone(),
                        (&r + &one) % &q,
                        s.clone(),
                        qx.clone(),
                        qy.clone(),
                    ),
                    2 => (
                        e.clone(),
                        r.clone(),
                        (&s + &one) % &q,
                        qx.clone(),
                        qy.clone(),
                    ),
                    _ => (e.clone(), r.clone(), s.clone(), qx2, qy2),
                };
                let fast = verify_numbers(curve, &x2, &y2, &e2, &r2, &s2);
                prop_assert!(fast.is_err());
                prop_assert_eq!(
                    fast,
                    verify_numbers_reference(curve, &x2, &y2, &e2, &r2, &s2)
                );
                Ok(())
            },
        );
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

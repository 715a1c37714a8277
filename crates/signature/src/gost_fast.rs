//! GOST 34.10 verification on fixed-width Montgomery arithmetic (issue 20): `crypto-bigint`'s
//! `ConstMontyForm` over 4 or 8 64-bit limbs with the moduli fixed at compile time, for the two
//! parameter sets NCA uses — both have a = −3, so a doubling costs 3M + 5S (dbl-2001-b of the
//! Explicit-Formulas Database) and an addition of an affine point 7M + 4S (madd-2007-bl). The scalars
//! z1 = s/e and z2 = −r/e are computed modulo q in Montgomery form too, and z1·G + z2·Q by Shamir's
//! trick over affine G, Q and G + Q. Same algorithm and answers as the num-bigint code in `gost.rs`,
//! which stays as the reference (and for RFC 7091's test curve); the tests hold one against the other.

use crypto_bigint::modular::{ConstMontyForm, ConstMontyParams};
use crypto_bigint::{U256, U512, Uint, const_monty_params};

const_monty_params!(
    CryptoProAP,
    U256,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD97",
    "p of CryptoPro-A (RFC 4357 §11.4)"
);
const_monty_params!(
    CryptoProAQ,
    U256,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF6C611070995AD10045841B09B761B893",
    "q of CryptoPro-A (RFC 4357 §11.4)"
);
const_monty_params!(
    Tc26AP,
    U512,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7",
    "p of id-tc26-gost-3410-12-512-paramSetA (RFC 7836 §A.1)"
);
const_monty_params!(
    Tc26AQ,
    U512,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF27E69532F48D89116FF22B8D4E0560609B4B38ABFAD2B85DCACDB1411F10B275",
    "q of id-tc26-gost-3410-12-512-paramSetA (RFC 7836 §A.1)"
);

/// One of the curves: its field and order moduli, b and the base point (a = −3 for both).
pub(crate) trait CurveA3<const L: usize> {
    type P: ConstMontyParams<L>;
    type Q: ConstMontyParams<L>;
    const B: Uint<L>;
    const GX: Uint<L>;
    const GY: Uint<L>;
}

pub(crate) struct CryptoProA;
impl CurveA3<{ U256::LIMBS }> for CryptoProA {
    type P = CryptoProAP;
    type Q = CryptoProAQ;
    const B: U256 = U256::from_u64(0xA6);
    const GX: U256 = U256::from_u64(1);
    const GY: U256 =
        U256::from_be_hex("8D91E471E0989CDA27DF505A453F2B7635294F2DDF23E3B122ACC99C9E9F1E14");
}

pub(crate) struct Tc26A;
impl CurveA3<{ U512::LIMBS }> for Tc26A {
    type P = Tc26AP;
    type Q = Tc26AQ;
    const B: U512 = U512::from_be_hex(
        "E8C2505DEDFC86DDC1BD0B2B6667F1DA34B82574761CB0E879BD081CFD0B6265EE3CB090F30D27614CB4574010DA90DD862EF9D4EBEE4761503190785A71C760",
    );
    const GX: U512 = U512::from_u64(3);
    const GY: U512 = U512::from_be_hex(
        "7503CFE87A836AE3A61B8816E25450E6CE5E1C93ACF1ABC1778064FDCBEFA921DF1626BE4FD036E93D75E6A50E3A41E98028FE5FC235F5B889A589CB5215F2A4",
    );
}

/// A point in Jacobian coordinates; Z = 0 is the point at infinity.
#[derive(Clone, Copy)]
struct Jac<P: ConstMontyParams<L>, const L: usize> {
    x: ConstMontyForm<P, L>,
    y: ConstMontyForm<P, L>,
    z: ConstMontyForm<P, L>,
}

/// An affine point.
#[derive(Clone, Copy)]
struct Affine<P: ConstMontyParams<L>, const L: usize> {
    x: ConstMontyForm<P, L>,
    y: ConstMontyForm<P, L>,
}

impl<P: ConstMontyParams<L>, const L: usize> Jac<P, L> {
    const INFINITY: Self = Jac {
        x: ConstMontyForm::ONE,
        y: ConstMontyForm::ONE,
        z: ConstMontyForm::ZERO,
    };

    fn is_infinity(&self) -> bool {
        self.z == ConstMontyForm::ZERO
    }

    fn from_affine(a: &Affine<P, L>) -> Self {
        Jac {
            x: a.x,
            y: a.y,
            z: ConstMontyForm::ONE,
        }
    }

    /// dbl-2001-b (a = −3).
    fn double(&self) -> Self {
        if self.is_infinity() || self.y == ConstMontyForm::ZERO {
            return Self::INFINITY;
        }
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x * gamma;
        let t = (self.x - delta) * (self.x + delta);
        let alpha = t.double() + t;
        let beta4 = beta.double().double();
        let x3 = alpha.square() - beta4.double();
        let z3 = (self.y + self.z).square() - gamma - delta;
        let gamma2 = gamma.square();
        let y3 = alpha * (beta4 - x3) - gamma2.double().double().double();
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// madd-2007-bl: self + an affine point.
    fn add_affine(&self, q: &Affine<P, L>) -> Self {
        if self.is_infinity() {
            return Self::from_affine(q);
        }
        let z1z1 = self.z.square();
        let u2 = q.x * z1z1;
        let s2 = q.y * self.z * z1z1;
        let h = u2 - self.x;
        let r = (s2 - self.y).double();
        if h == ConstMontyForm::ZERO {
            return if r == ConstMontyForm::ZERO {
                self.double()
            } else {
                Self::INFINITY
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h * i;
        let v = self.x * i;
        let x3 = r.square() - j - v.double();
        let y3 = r * (v - x3) - (self.y * j).double();
        let z3 = (self.z + h).square() - z1z1 - hh;
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    fn to_affine(self) -> Option<Affine<P, L>> {
        let zi = self.z.invert_vartime().into_option()?;
        let zi2 = zi.square();
        Some(Affine {
            x: self.x * zi2,
            y: self.y * zi2 * zi,
        })
    }
}

/// `x` as a fixed-width integer when it is below 2^(64·L) (big-endian bytes of any length).
pub(crate) fn uint<const L: usize>(be: &[u8]) -> Option<Uint<L>> {
    let size = L * 8;
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let digits = &be[start..];
    if digits.len() > size {
        return None;
    }
    let mut padded = vec![0_u8; size];
    padded[size - digits.len()..].copy_from_slice(digits);
    Some(Uint::from_be_slice(&padded))
}

/// Verifies (r, s) over the digest integer `e` by the public key (qx, qy), all big-endian.
pub(crate) fn verify<C: CurveA3<L>, const L: usize>(
    qx: &[u8],
    qy: &[u8],
    e: &[u8],
    r: &[u8],
    s: &[u8],
) -> Result<(), crate::gost::GostError> {
    use crate::gost::GostError;
    let p = C::P::PARAMS.modulus().get();
    let q = C::Q::PARAMS.modulus().get();
    let (Some(qx), Some(qy)) = (uint::<L>(qx), uint::<L>(qy)) else {
        return Err(GostError::BadPublicKey);
    };
    if qx >= p || qy >= p {
        return Err(GostError::BadPublicKey);
    }
    let (x, y) = (
        ConstMontyForm::<C::P, L>::new(&qx),
        ConstMontyForm::<C::P, L>::new(&qy),
    );
    let b = ConstMontyForm::<C::P, L>::new(&C::B);
    // y² = x³ − 3x + b
    if y.square() != x.square() * x - (x.double() + x) + b {
        return Err(GostError::BadPublicKey);
    }
    let (Some(r), Some(s), Some(e)) = (uint::<L>(r), uint::<L>(s), uint::<L>(e)) else {
        return Err(GostError::Invalid);
    };
    if r == Uint::ZERO || s == Uint::ZERO || r >= q || s >= q {
        return Err(GostError::Invalid);
    }
    // e < 2^(64L) < 2q: one subtraction reduces it.
    let mut e = if e >= q { e.wrapping_sub(&q) } else { e };
    if e == Uint::ZERO {
        e = Uint::ONE;
    }
    let v = ConstMontyForm::<C::Q, L>::new(&e)
        .invert_vartime()
        .into_option()
        .ok_or(GostError::Invalid)?;
    let z1 = (ConstMontyForm::<C::Q, L>::new(&s) * v).retrieve();
    let z2 = (ConstMontyForm::<C::Q, L>::new(&r).neg() * v).retrieve();
    let g = Affine {
        x: ConstMontyForm::<C::P, L>::new(&C::GX),
        y: ConstMontyForm::<C::P, L>::new(&C::GY),
    };
    let pk = Affine { x, y };
    // G + Q in affine form (None: Q = −G, then only the separate terms can occur).
    let both = Jac::from_affine(&g).add_affine(&pk).to_affine();
    let mut acc = Jac::<C::P, L>::INFINITY;
    let bits = z1.bit_width().max(z2.bit_width());
    for i in (0..bits).rev() {
        acc = acc.double();
        match (z1.bit_vartime(i), z2.bit_vartime(i)) {
            (true, true) => {
                if let Some(gq) = &both {
                    acc = acc.add_affine(gq);
                }
            }
            (true, false) => acc = acc.add_affine(&g),
            (false, true) => acc = acc.add_affine(&pk),
            (false, false) => {}
        }
    }
    let Some(point) = acc.to_affine() else {
        return Err(GostError::Invalid);
    };
    let xr = point.x.retrieve();
    // x < p < 2q: one subtraction gives x mod q.
    let xr = if xr >= q { xr.wrapping_sub(&q) } else { xr };
    if xr == r {
        Ok(())
    } else {
        Err(GostError::Invalid)
    }
}

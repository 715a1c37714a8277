//! GOST 34.10 verification on fixed-width arithmetic (issue 20), for the two parameter sets NCA uses.
//! Both fields are pseudo-Mersenne — p = 2²⁵⁶ − 617 (CryptoPro-A) and p = 2⁵¹² − 569 (TC26-512-A) —
//! so a product of 4 or 8 64-bit limbs is reduced by folding its high half times c into its low half
//! (`Pm`), cheaper than a Montgomery reduction. Both curves have a = −3: a doubling costs 3M + 5S
//! (dbl-2001-b of the Explicit-Formulas Database) and an addition of an affine point 7M + 4S
//! (madd-2007-bl). The scalars z1 = s/e and z2 = −r/e are computed modulo q in Montgomery form
//! (`crypto-bigint`'s `ConstMontyForm`, moduli fixed at compile time), and z1·G + z2·Q by Shamir's
//! trick over affine G, Q and G + Q. Same algorithm and answers as the num-bigint code in `gost.rs`,
//! which stays as the reference (and for RFC 7091's test curve); the tests hold one against the other.

use crypto_bigint::modular::{ConstMontyForm, ConstMontyParams};
use crypto_bigint::{U256, U512, Uint, const_monty_params};

const_monty_params!(
    CryptoProAQ,
    U256,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF6C611070995AD10045841B09B761B893",
    "q of CryptoPro-A (RFC 4357 §11.4)"
);
const_monty_params!(
    Tc26AQ,
    U512,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF27E69532F48D89116FF22B8D4E0560609B4B38ABFAD2B85DCACDB1411F10B275",
    "q of id-tc26-gost-3410-12-512-paramSetA (RFC 7836 §A.1)"
);

/// One of the curves: its field and order moduli, b and the base point (a = −3 for both).
pub(crate) trait CurveA3<const L: usize> {
    /// p = 2^(64L) − C.
    const C: u64;
    type Q: ConstMontyParams<L>;
    const B: Uint<L>;
    const GX: Uint<L>;
    const GY: Uint<L>;
}

pub(crate) struct CryptoProA;
impl CurveA3<{ U256::LIMBS }> for CryptoProA {
    const C: u64 = 617;
    type Q = CryptoProAQ;
    const B: U256 = U256::from_u64(0xA6);
    const GX: U256 = U256::from_u64(1);
    const GY: U256 =
        U256::from_be_hex("8D91E471E0989CDA27DF505A453F2B7635294F2DDF23E3B122ACC99C9E9F1E14");
}

pub(crate) struct Tc26A;
impl CurveA3<{ U512::LIMBS }> for Tc26A {
    const C: u64 = 569;
    type Q = Tc26AQ;
    const B: U512 = U512::from_be_hex(
        "E8C2505DEDFC86DDC1BD0B2B6667F1DA34B82574761CB0E879BD081CFD0B6265EE3CB090F30D27614CB4574010DA90DD862EF9D4EBEE4761503190785A71C760",
    );
    const GX: U512 = U512::from_u64(3);
    const GY: U512 = U512::from_be_hex(
        "7503CFE87A836AE3A61B8816E25450E6CE5E1C93ACF1ABC1778064FDCBEFA921DF1626BE4FD036E93D75E6A50E3A41E98028FE5FC235F5B889A589CB5215F2A4",
    );
}

/// An element of GF(2^(64N) − C), fully reduced, little-endian limbs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Pm<const N: usize, const C: u64>([u64; N]);

impl<const N: usize, const C: u64> Pm<N, C> {
    const ZERO: Self = Pm([0; N]);
    const ONE: Self = {
        let mut l = [0; N];
        l[0] = 1;
        Pm(l)
    };

    /// Adds (or subtracts) a small value at the lowest limb, carrying (borrowing) upward; true when it
    /// carried out of (borrowed past) the N limbs.
    #[inline(always)]
    fn propagate(limbs: &mut [u64; N], small: u64, subtract: bool) -> bool {
        let mut c = small;
        for limb in limbs.iter_mut() {
            if c == 0 {
                return false;
            }
            let (v, o) = if subtract {
                limb.overflowing_sub(c)
            } else {
                limb.overflowing_add(c)
            };
            *limb = v;
            c = u64::from(o);
        }
        c != 0
    }

    /// x + C when that carries out of N limbs (then it is x − p), else x.
    #[inline(always)]
    fn reduce_once(x: [u64; N]) -> [u64; N] {
        let mut t = x;
        if Self::propagate(&mut t, C, false) {
            t
        } else {
            x
        }
    }

    /// `x` when it is below p.
    fn from_words(x: [u64; N]) -> Option<Self> {
        (Self::reduce_once(x) == x).then_some(Pm(x))
    }

    #[inline(always)]
    fn add(&self, b: &Self) -> Self {
        let mut r = [0_u64; N];
        let mut carry = false;
        for (i, out) in r.iter_mut().enumerate() {
            let (v, c1) = self.0[i].overflowing_add(b.0[i]);
            let (v, c2) = v.overflowing_add(u64::from(carry));
            *out = v;
            carry = c1 || c2;
        }
        if carry {
            // Wrapped past 2^(64N): add C (2^(64N) ≡ C); no second carry, the sum is below 2p.
            Self::propagate(&mut r, C, false);
        }
        Pm(Self::reduce_once(r))
    }

    #[inline(always)]
    fn sub(&self, b: &Self) -> Self {
        let mut r = [0_u64; N];
        let mut borrow = false;
        for (i, out) in r.iter_mut().enumerate() {
            let (v, b1) = self.0[i].overflowing_sub(b.0[i]);
            let (v, b2) = v.overflowing_sub(u64::from(borrow));
            *out = v;
            borrow = b1 || b2;
        }
        if borrow {
            // a − b + 2^(64N) − C = a − b + p.
            Self::propagate(&mut r, C, true);
        }
        Pm(r)
    }

    #[inline(always)]
    fn mul(&self, b: &Self) -> Self {
        // Schoolbook product into 2N limbs.
        let mut t = [[0_u64; N]; 2];
        let mut wide = [0_u64; 16];
        for i in 0..N {
            let mut carry: u128 = 0;
            for j in 0..N {
                let cur =
                    u128::from(wide[i + j]) + u128::from(self.0[i]) * u128::from(b.0[j]) + carry;
                wide[i + j] = cur as u64;
                carry = cur >> 64;
            }
            wide[i + N] = carry as u64;
        }
        t[0].copy_from_slice(&wide[..N]);
        t[1].copy_from_slice(&wide[N..2 * N]);
        // low + high·C: N limbs and a small top word.
        let mut r = [0_u64; N];
        let mut carry: u128 = 0;
        for i in 0..N {
            let cur = u128::from(t[0][i]) + u128::from(t[1][i]) * u128::from(C) + carry;
            r[i] = cur as u64;
            carry = cur >> 64;
        }
        // top·C once more (top < C + 1, so this fits a word and carries at most once further).
        if Self::propagate(&mut r, (carry as u64).wrapping_mul(C), false) {
            // Wrapped once more: add C again (the value is now tiny).
            Self::propagate(&mut r, C, false);
        }
        Pm(Self::reduce_once(r))
    }

    #[inline(always)]
    fn square(&self) -> Self {
        self.mul(self)
    }

    #[inline(always)]
    fn double(&self) -> Self {
        self.add(self)
    }

    /// a^(p−2) (Fermat; p is prime); None for 0. The verification needs no inversion (it compares
    /// X with x·Z²); the field test checks multiplication with it.
    #[cfg(test)]
    fn invert(&self) -> Option<Self> {
        if *self == Self::ZERO {
            return None;
        }
        // p − 2 = 2^(64N) − C − 2: every bit of the high limbs is 1.
        let mut e = [u64::MAX; N];
        e[0] = u64::MAX - (C + 1);
        let mut acc = Self::ONE;
        for i in (0..N).rev() {
            for bit in (0..64).rev() {
                acc = acc.square();
                if (e[i] >> bit) & 1 == 1 {
                    acc = acc.mul(self);
                }
            }
        }
        Some(acc)
    }
}

/// A point in Jacobian coordinates; Z = 0 is the point at infinity.
#[derive(Clone, Copy)]
struct Jac<const N: usize, const C: u64> {
    x: Pm<N, C>,
    y: Pm<N, C>,
    z: Pm<N, C>,
}

/// An affine point.
#[derive(Clone, Copy)]
struct Affine<const N: usize, const C: u64> {
    x: Pm<N, C>,
    y: Pm<N, C>,
}

impl<const N: usize, const C: u64> Jac<N, C> {
    const INFINITY: Self = Jac {
        x: Pm::ONE,
        y: Pm::ONE,
        z: Pm::ZERO,
    };

    fn is_infinity(&self) -> bool {
        self.z == Pm::ZERO
    }

    fn from_affine(a: &Affine<N, C>) -> Self {
        Jac {
            x: a.x,
            y: a.y,
            z: Pm::ONE,
        }
    }

    /// dbl-2001-b (a = −3).
    fn double(&self) -> Self {
        if self.is_infinity() || self.y == Pm::ZERO {
            return Self::INFINITY;
        }
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(&beta4.double());
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let gamma8 = gamma.square().double().double().double();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma8);
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// add-2007-bl: self + another Jacobian point.
    fn add(&self, q: &Self) -> Self {
        if self.is_infinity() {
            return *q;
        }
        if q.is_infinity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        if h == Pm::ZERO {
            return if r == Pm::ZERO {
                self.double()
            } else {
                Self::INFINITY
            };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = self.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    fn neg(&self) -> Self {
        Jac {
            x: self.x,
            y: Pm::ZERO.sub(&self.y),
            z: self.z,
        }
    }

    /// P, 3P, 5P, …, (2^(W−1) − 1)P: the odd multiples a width-W NAF adds.
    fn odd_multiples(&self) -> [Self; TABLE] {
        let twice = self.double();
        let mut t = [*self; TABLE];
        for i in 1..TABLE {
            t[i] = t[i - 1].add(&twice);
        }
        t
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

/// Width of the NAF of the scalars: odd digits in (−2^(W−1), 2^(W−1)), at most one non-zero digit in
/// any W consecutive positions, so about bits/(W+1) additions per scalar.
const W: u32 = 5;
const TABLE: usize = 1 << (W - 2);

/// The width-W NAF of `k`, least significant digit first (public data: variable time is fine).
fn wnaf<const L: usize>(k: &Uint<L>) -> Vec<i8> {
    let mut words = k.to_words().to_vec();
    words.push(0);
    let mut out = Vec::with_capacity(L * 64 + 1);
    let is_zero = |w: &[u64]| w.iter().all(|&x| x == 0);
    while !is_zero(&words) {
        let digit = if words[0] & 1 == 1 {
            let m = (words[0] & ((1 << W) - 1)) as i64;
            let d = if m >= 1 << (W - 1) { m - (1 << W) } else { m };
            // words −= d (d odd, |d| < 2^(W−1)).
            if d > 0 {
                let mut borrow = d as u64;
                for w in words.iter_mut() {
                    let (v, o) = w.overflowing_sub(borrow);
                    *w = v;
                    borrow = u64::from(o);
                    if borrow == 0 {
                        break;
                    }
                }
            } else {
                let mut carry = (-d) as u64;
                for w in words.iter_mut() {
                    let (v, o) = w.overflowing_add(carry);
                    *w = v;
                    carry = u64::from(o);
                    if carry == 0 {
                        break;
                    }
                }
            }
            d as i8
        } else {
            0
        };
        out.push(digit);
        // words >>= 1
        let mut carry = 0_u64;
        for w in words.iter_mut().rev() {
            let next = *w & 1;
            *w = (*w >> 1) | (carry << 63);
            carry = next;
        }
    }
    out
}

/// Verifies (r, s) over the digest integer `e` by the public key (qx, qy), all big-endian. `C` is the
/// curve's p = 2^(64L) − C (a const parameter: stable Rust cannot take it from the trait).
pub(crate) fn verify<K: CurveA3<L>, const L: usize, const C: u64>(
    qx: &[u8],
    qy: &[u8],
    e: &[u8],
    r: &[u8],
    s: &[u8],
) -> Result<(), crate::gost::GostError> {
    use crate::gost::GostError;
    if K::C != C {
        return Err(GostError::UnknownParameters("field constant".into()));
    }
    let q = K::Q::PARAMS.modulus().get();
    let field = |u: Uint<L>| Pm::<L, C>::from_words(u.to_words());
    let (Some(x), Some(y)) = (uint::<L>(qx).and_then(field), uint::<L>(qy).and_then(field)) else {
        return Err(GostError::BadPublicKey);
    };
    let b = field(K::B).ok_or(GostError::BadPublicKey)?;
    // y² = x³ − 3x + b
    if y.square() != x.square().mul(&x).sub(&x.double().add(&x)).add(&b) {
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
    let v = ConstMontyForm::<K::Q, L>::new(&e)
        .invert_vartime()
        .into_option()
        .ok_or(GostError::Invalid)?;
    let z1 = (ConstMontyForm::<K::Q, L>::new(&s) * v).retrieve();
    let z2 = (ConstMontyForm::<K::Q, L>::new(&r).neg() * v).retrieve();
    let (Some(gx), Some(gy)) = (field(K::GX), field(K::GY)) else {
        return Err(GostError::BadPublicKey);
    };
    let g = Jac::from_affine(&Affine { x: gx, y: gy });
    let pk = Jac::from_affine(&Affine { x, y });
    // z1·G + z2·Q: both width-W NAFs read from the top with one shared chain of doublings.
    let (n1, n2) = (wnaf(&z1), wnaf(&z2));
    let (t1, t2) = (g.odd_multiples(), pk.odd_multiples());
    let mut acc = Jac::<L, C>::INFINITY;
    for i in (0..n1.len().max(n2.len())).rev() {
        acc = acc.double();
        for (naf, table) in [(&n1, &t1), (&n2, &t2)] {
            match naf.get(i).copied().unwrap_or(0) {
                0 => {}
                d if d > 0 => acc = acc.add(&table[(d as usize) / 2]),
                d => acc = acc.add(&table[(d.unsigned_abs() as usize) / 2].neg()),
            }
        }
    }
    if acc.is_infinity() {
        return Err(GostError::Invalid);
    }
    // The affine x = X/Z² is below p < 2q, so x mod q = r means x = r or x = r + q: compare X with
    // r·Z² and (r + q)·Z² instead of inverting Z.
    let zz = acc.z.square();
    let matches = |candidate: Uint<L>| field(candidate).is_some_and(|c| c.mul(&zz) == acc.x);
    let (r_plus_q, overflow) = {
        let (sum, carry) = r.carrying_add(&q, crypto_bigint::Limb::ZERO);
        (sum, carry != crypto_bigint::Limb::ZERO)
    };
    let xr = if matches(r) || (!overflow && matches(r_plus_q)) {
        r
    } else {
        Uint::ZERO
    };
    if xr == r {
        Ok(())
    } else {
        Err(GostError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    fn big<const N: usize, const C: u64>(x: &Pm<N, C>) -> BigUint {
        BigUint::from_slice(
            &x.0.iter()
                .flat_map(|w| [*w as u32, (*w >> 32) as u32])
                .collect::<Vec<_>>(),
        )
    }

    fn element<const N: usize, const C: u64>(words: &[u64], near_p: bool) -> Pm<N, C> {
        let mut l = [0_u64; N];
        for (o, w) in l.iter_mut().zip(words) {
            *o = if near_p { u64::MAX - (*w % 3) } else { *w };
        }
        if near_p {
            l[0] = u64::MAX - C - (words[0] % 4);
        }
        // Reduced: at most p − 1.
        Pm::<N, C>::from_words(l).unwrap_or(Pm([0; N]))
    }

    fn check<const N: usize, const C: u64>(a: &[u64], b: &[u64], near: (bool, bool)) {
        let p = (BigUint::from(1u8) << (64 * N)) - BigUint::from(C);
        let (x, y) = (element::<N, C>(a, near.0), element::<N, C>(b, near.1));
        let (bx, by) = (big(&x), big(&y));
        assert_eq!(big(&x.add(&y)), (&bx + &by) % &p);
        assert_eq!(big(&x.sub(&y)), (&bx + &p - &by) % &p);
        assert_eq!(big(&x.mul(&y)), (&bx * &by) % &p);
        if let Some(inv) = x.invert() {
            assert_eq!(big(&inv.mul(&x)), BigUint::from(1u8));
        } else {
            assert_eq!(bx, BigUint::ZERO);
        }
    }

    // Issue 20: the pseudo-Mersenne field answers as num-bigint modulo p for random elements and for
    // elements next to p (where the carries and the final subtraction happen).
    #[test]
    fn the_field_agrees_with_big_integers_modulo_p() {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 500,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let words = proptest::collection::vec(any::<u64>(), 8);
        let result = runner.run(
            &(words.clone(), words, any::<bool>(), any::<bool>()),
            |(a, b, na, nb)| {
                check::<4, 617>(&a, &b, (na, nb));
                check::<8, 569>(&a, &b, (na, nb));
                Ok(())
            },
        );
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

//! Double-double arithmetic: an unevaluated sum `hi + lo` carrying about 106 bits.
//!
//! Used where a summary must stay accurate under long chains of merges and retractions: adding
//! and later subtracting the same term leaves a residue of about 2^-106 of the running value
//! instead of 2^-53. Products use Dekker's split rather than `mul_add`, because without a
//! hardware FMA target feature `mul_add` is a slow library call.

use serde::{Deserialize, Serialize};
use std::ops::{Add, Mul, Neg, Sub};

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Dd {
    pub(crate) hi: f64,
    pub(crate) lo: f64,
}

#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

#[inline]
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

#[inline]
fn split(a: f64) -> (f64, f64) {
    const SPLITTER: f64 = 134_217_729.0; // 2^27 + 1
    let t = SPLITTER * a;
    let hi = t - (t - a);
    (hi, a - hi)
}

#[inline]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
}

impl Dd {
    pub(crate) const ZERO: Dd = Dd { hi: 0.0, lo: 0.0 };

    #[inline]
    pub(crate) fn from_f64(x: f64) -> Dd {
        Dd { hi: x, lo: 0.0 }
    }

    /// `a - b` exactly (for finite inputs that do not overflow).
    #[inline]
    pub(crate) fn diff(a: f64, b: f64) -> Dd {
        let (hi, lo) = two_sum(a, -b);
        Dd { hi, lo }
    }

    #[inline]
    pub(crate) fn to_f64(self) -> f64 {
        self.hi + self.lo
    }

    #[inline]
    pub(crate) fn mul_f64(self, b: f64) -> Dd {
        let (p, e) = two_prod(self.hi, b);
        let (hi, lo) = quick_two_sum(p, e + self.lo * b);
        Dd { hi, lo }
    }

    #[inline]
    pub(crate) fn div_f64(self, b: f64) -> Dd {
        let q1 = self.hi / b;
        let r = self - Dd::from_f64(b).mul_f64(q1);
        let q2 = r.hi / b;
        let (hi, lo) = quick_two_sum(q1, q2);
        Dd { hi, lo }
    }
}

impl Add for Dd {
    type Output = Dd;
    #[inline]
    fn add(self, b: Dd) -> Dd {
        let (s, e) = two_sum(self.hi, b.hi);
        let (t, f) = two_sum(self.lo, b.lo);
        let (s, e) = quick_two_sum(s, e + t);
        let (hi, lo) = quick_two_sum(s, e + f);
        Dd { hi, lo }
    }
}

impl Neg for Dd {
    type Output = Dd;
    #[inline]
    fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

impl Sub for Dd {
    type Output = Dd;
    #[inline]
    fn sub(self, b: Dd) -> Dd {
        self + (-b)
    }
}

impl Mul for Dd {
    type Output = Dd;
    #[inline]
    fn mul(self, b: Dd) -> Dd {
        let (p, e) = two_prod(self.hi, b.hi);
        let (hi, lo) = quick_two_sum(p, e + (self.hi * b.lo + self.lo * b.hi));
        Dd { hi, lo }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_subtract_leaves_tiny_residue() {
        let mut s = Dd::from_f64(1.0);
        let big = Dd::from_f64(1e15) + Dd::from_f64(0.1);
        for _ in 0..1000 {
            s = s + big;
            s = s - big;
        }
        assert!((s.to_f64() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn products_carry_the_low_part() {
        let a = Dd::from_f64(1.0 + f64::EPSILON);
        let p = a * a;
        // (1 + e)^2 = 1 + 2e + e^2: the e^2 term lives in `lo`.
        assert_eq!(p.hi, 1.0 + 2.0 * f64::EPSILON);
        assert_eq!(p.lo, f64::EPSILON * f64::EPSILON);
        let q = Dd::from_f64(1.0).div_f64(3.0).mul_f64(3.0);
        assert!((q.hi - 1.0).abs() + q.lo.abs() < 1e-30);
    }
}

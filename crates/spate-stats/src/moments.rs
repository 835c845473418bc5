//! Mergeable, retractable moments of a numeric stream: count, mean, variance, skewness,
//! kurtosis, min and max.

use crate::dd::Dd;
use serde::{Deserialize, Serialize};
use spate_core::{Merge, Retract};

/// Values per block of the batch kernel: two passes over a block stay in L1/L2 cache.
const BLOCK: usize = 2048;
/// Independent accumulators per sum, so the loop is not one long dependency chain.
const LANES: usize = 4;
/// Rebase the shift once the mean has moved more than `sqrt(REBASE_RATIO)` standard deviations
/// from it: beyond that, turning power sums into central moments would cancel too many bits.
const REBASE_RATIO: f64 = 65_536.0;
/// Blocks whose largest magnitude has a binary exponent in this range are summarized as they
/// are: the fourth powers of their deviations (at least 2^-52 of the largest value when not
/// zero) and their sums over a block stay normal, finite `f64`s. Other blocks are scaled by a
/// power of two first.
const UNSCALED_EXPONENTS: std::ops::RangeInclusive<i32> = -128..=192;

/// Count, mean, variance, skewness, kurtosis, min and max of a stream of `f64`.
///
/// # How it stays accurate
/// A batch is cut into blocks of 2048 values; each block is summarized by an exact-style
/// two-pass computation (its mean, then the sums of the 1st–4th powers of deviations from that
/// mean). Blocks and other summaries are combined Chan-style, but instead of storing a running
/// mean the state stores power sums `Σ (x − K)^k, k = 1..4` about a *shift* `K` in
/// double-double arithmetic (≈106 bits). Re-centering a summary onto another shift uses the
/// exact difference of the two shifts, so:
/// - merging is stable with large offsets (values around 1e9 with unit variance lose nothing
///   to the offset);
/// - [`Retract`] subtracts exactly what [`Merge`] added: after `a.merge(&b); a.retract(&b)` the
///   residue is about 2^-106 of the largest sums held, so a sliding window can slide millions of
///   times without drifting from a recomputation (tested: 10^6 slides, 1e-9 relative);
/// - the shift is rebased when the mean wanders more than 256 standard deviations away from it,
///   so drifting streams keep full accuracy.
///
/// # Extreme magnitudes
/// Every finite value can be summarized, from the smallest subnormal to `f64::MAX`: a block
/// whose values are too large or too small for their fourth powers to be finite normal
/// numbers (beyond about 1e58 or below 1e-38) is scaled by a power of two (exact) before it is
/// summarized, and the summary keeps that exponent, so mean, standard deviation, skewness and
/// kurtosis of values around 1e300 or 1e-200 are as accurate as around 1. Only results that
/// are themselves beyond `f64` (the variance of values spread over 1e200, a sum past
/// `f64::MAX`) are ±∞. Merging summaries of very different magnitudes keeps the larger scale;
/// what the smaller one contributes below 2^-1074 of it is lost, which moves no statistic.
///
/// # Non-finite values
/// NaN and ±∞ are skipped and counted in [`skipped_non_finite`](Moments::skipped_non_finite);
/// they never panic and never poison the other statistics.
///
/// # Merge and retract
/// Commutative and associative up to rounding of about 1e-30 relative in the internal sums;
/// queried statistics agree to a few ulps whatever the merge order or batch split. `Default`
/// (empty) is the identity. `min`/`max` cannot be retracted: after a retraction that may have
/// removed the extreme they report `None` (use recomputation for windowed extremes).
///
/// # Cost
/// About 10 floating-point operations per value (two passes over each block) plus a constant
/// ~1k operations per block and per merge; no allocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    n: u64,
    /// Binary exponent of the units `shift` and `sums` are kept in: a value `x` is held as
    /// `x · 2^-scale`.
    scale: i32,
    shift: f64,
    /// Σ (x − shift)^k for k = 1..=4, in units of `2^scale`.
    sums: [Dd; 4],
    /// Smallest value merged; a lower bound of the true minimum when `min_exact` is false.
    min: f64,
    max: f64,
    min_exact: bool,
    max_exact: bool,
    skipped_non_finite: u64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments {
            n: 0,
            scale: 0,
            shift: 0.0,
            sums: [Dd::ZERO; 4],
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            min_exact: true,
            max_exact: true,
            skipped_non_finite: 0,
        }
    }
}

/// Re-express power sums `T_k = Σ (x − K_old)^k` about `K_new = K_old − delta`, i.e.
/// `Σ (x − K_old + delta)^k`, by the binomial expansion.
#[inline]
fn recenter(t: &[Dd; 4], n: u64, delta: Dd) -> [Dd; 4] {
    if delta.hi == 0.0 && delta.lo == 0.0 {
        return *t;
    }
    let n = n as f64;
    let d2 = delta * delta;
    let d3 = d2 * delta;
    let d4 = d2 * d2;
    let [t1, t2, t3, t4] = *t;
    let dt1 = delta * t1;
    let dt2 = delta * t2;
    let dt3 = delta * t3;
    let d2t1 = d2 * t1;
    let d2t2 = d2 * t2;
    let d3t1 = d3 * t1;
    [
        t1 + delta.mul_f64(n),
        t2 + dt1.mul_f64(2.0) + d2.mul_f64(n),
        t3 + dt2.mul_f64(3.0) + d2t1.mul_f64(3.0) + d3.mul_f64(n),
        t4 + dt3.mul_f64(4.0) + d2t2.mul_f64(6.0) + d3t1.mul_f64(4.0) + d4.mul_f64(n),
    ]
}

/// `x · 2^e`, exact unless the result under- or overflows (unlike `x * 2f64.powi(e)`, whose
/// power alone may overflow when the product would not).
#[inline]
pub(crate) fn scale_by(mut x: f64, mut e: i32) -> f64 {
    while e != 0 {
        let step = e.clamp(-1022, 1023);
        x *= f64::from_bits(((step + 1023) as u64) << 52);
        e -= step;
        if x == 0.0 || !x.is_finite() {
            break;
        }
    }
    x
}

fn scale_dd(x: Dd, e: i32) -> Dd {
    Dd {
        hi: scale_by(x.hi, e),
        lo: scale_by(x.lo, e),
    }
}

/// The binary exponent of `x` (finite, non-zero): `2^e ≤ |x| < 2^(e+1)`.
fn exponent(x: f64) -> i32 {
    let bits = x.abs().to_bits();
    let biased = (bits >> 52) as i32;
    if biased == 0 {
        // Subnormal: the leading bit of the fraction gives the exponent.
        -1074 + (63 - bits.leading_zeros() as i32)
    } else {
        biased - 1023
    }
}

/// Sum, min and max of a block; non-finite input shows up as a non-finite sum.
#[inline]
fn first_pass(xs: &[f64]) -> (f64, f64, f64) {
    let mut sum = [0.0; LANES];
    let mut lo = [f64::INFINITY; LANES];
    let mut hi = [f64::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            sum[l] += c[l];
            lo[l] = if c[l] < lo[l] { c[l] } else { lo[l] };
            hi[l] = if c[l] > hi[l] { c[l] } else { hi[l] };
        }
    }
    for (l, &x) in rest.iter().enumerate() {
        sum[l] += x;
        lo[l] = lo[l].min(x);
        hi[l] = hi[l].max(x);
    }
    let s = (sum[0] + sum[1]) + (sum[2] + sum[3]);
    let mn = lo.iter().copied().fold(f64::INFINITY, f64::min);
    let mx = hi.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (s, mn, mx)
}

/// Sums of the 1st–4th powers of deviations from `m`.
#[inline]
fn second_pass(xs: &[f64], m: f64) -> [f64; 4] {
    let mut s1 = [0.0; LANES];
    let mut s2 = [0.0; LANES];
    let mut s3 = [0.0; LANES];
    let mut s4 = [0.0; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let d = c[l] - m;
            let d2 = d * d;
            s1[l] += d;
            s2[l] += d2;
            s3[l] += d2 * d;
            s4[l] += d2 * d2;
        }
    }
    for (l, &x) in rest.iter().enumerate() {
        let d = x - m;
        let d2 = d * d;
        s1[l] += d;
        s2[l] += d2;
        s3[l] += d2 * d;
        s4[l] += d2 * d2;
    }
    let fold = |s: [f64; LANES]| (s[0] + s[1]) + (s[2] + s[3]);
    [fold(s1), fold(s2), fold(s3), fold(s4)]
}

impl Moments {
    /// An empty summary (same as `Default`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Summarize one slice.
    pub fn from_slice(values: &[f64]) -> Self {
        let mut m = Self::default();
        m.update(values);
        m
    }

    /// Add a batch of values. Non-finite values are skipped and counted.
    ///
    /// Cost: two passes over the batch in cache-sized blocks, no allocation.
    pub fn update(&mut self, batch: &[f64]) {
        for block in batch.chunks(BLOCK) {
            let (sum, mn, mx) = first_pass(block);
            if sum.is_finite() {
                self.absorb_block(block, sum, mn, mx);
            } else {
                self.absorb_block_checked(block);
            }
        }
    }

    /// Add values from an iterator, buffering them on the stack so the batch kernel applies.
    pub fn update_iter<I: IntoIterator<Item = f64>>(&mut self, values: I) {
        let mut buf = [0.0; 256];
        let mut len = 0;
        for x in values {
            buf[len] = x;
            len += 1;
            if len == buf.len() {
                self.update(&buf);
                len = 0;
            }
        }
        self.update(&buf[..len]);
    }

    /// The slow path for a block whose sum is not finite: drop non-finite values, then
    /// summarize what remains (finite values whose sum overflows still give ±∞/NaN results).
    #[cold]
    fn absorb_block_checked(&mut self, block: &[f64]) {
        let mut buf = [0.0; BLOCK];
        let mut len = 0;
        for &x in block {
            if x.is_finite() {
                buf[len] = x;
                len += 1;
            }
        }
        self.skipped_non_finite = self
            .skipped_non_finite
            .wrapping_add((block.len() - len) as u64);
        let kept = &buf[..len];
        if kept.is_empty() {
            return;
        }
        let (sum, mn, mx) = first_pass(kept);
        self.absorb_block(kept, sum, mn, mx);
    }

    fn absorb_block(&mut self, block: &[f64], sum: f64, mn: f64, mx: f64) {
        if block.is_empty() {
            return;
        }
        let largest = mn.abs().max(mx.abs());
        let scale = if largest == 0.0 || UNSCALED_EXPONENTS.contains(&exponent(largest)) {
            0
        } else {
            // Values in (−2, 2) after scaling: fourth powers and block sums stay finite.
            exponent(largest)
        };
        let summary = if scale == 0 && sum.is_finite() {
            Self::block_summary(block, sum, 0)
        } else {
            let mut buf = [0.0; BLOCK];
            let scaled = &mut buf[..block.len()];
            for (s, &x) in scaled.iter_mut().zip(block) {
                *s = scale_by(x, -scale);
            }
            let (sum, _, _) = first_pass(scaled);
            Self::block_summary(scaled, sum, scale)
        };
        self.merge(&Moments {
            min: mn,
            max: mx,
            ..summary
        });
    }

    /// The summary of one block of finite values in units of `2^scale`, given their sum.
    fn block_summary(values: &[f64], sum: f64, scale: i32) -> Moments {
        let m = sum / values.len() as f64;
        let c = second_pass(values, m);
        Moments {
            n: values.len() as u64,
            scale,
            shift: m,
            sums: c.map(Dd::from_f64),
            ..Moments::default()
        }
    }

    /// The same summary in units of `2^scale` (`scale` at least the current one).
    fn rescaled(&self, scale: i32) -> Moments {
        let d = self.scale - scale;
        if d == 0 {
            return self.clone();
        }
        let mut out = self.clone();
        out.scale = scale;
        out.shift = scale_by(self.shift, d);
        for (k, s) in out.sums.iter_mut().enumerate() {
            *s = scale_dd(*s, d.saturating_mul(k as i32 + 1));
        }
        out
    }

    /// Number of (finite) values summarized.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Number of NaN and ±∞ values that were skipped.
    pub fn skipped_non_finite(&self) -> u64 {
        self.skipped_non_finite
    }

    fn mean_offset(&self) -> Dd {
        self.sums[0].div_f64(self.n as f64)
    }

    /// Sums of 2nd–4th powers of deviations from the mean, in double-double.
    fn central_sums(&self) -> [Dd; 4] {
        recenter(&self.sums, self.n, -self.mean_offset())
    }

    /// Sum of the values, `None` when empty.
    pub fn sum(&self) -> Option<f64> {
        (self.n > 0).then(|| {
            let scaled = (Dd::from_f64(self.shift).mul_f64(self.n as f64) + self.sums[0]).to_f64();
            scale_by(scaled, self.scale)
        })
    }

    /// The mean in double-double, so that differences of nearby large means (t-tests on
    /// values around 1e9) do not lose the digits a single `f64` mean rounds away.
    pub(crate) fn mean_dd(&self) -> Option<Dd> {
        (self.n > 0).then(|| scale_dd(self.mean_offset() + Dd::from_f64(self.shift), self.scale))
    }

    /// Arithmetic mean, `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| {
            scale_by(
                (self.mean_offset() + Dd::from_f64(self.shift)).to_f64(),
                self.scale,
            )
        })
    }

    /// Σ (x − mean)² in units of `2^(2·scale)`.
    fn scaled_squared_deviations(&self) -> f64 {
        self.central_sums()[1].to_f64().max(0.0)
    }

    /// Σ (x − mean)², `None` when empty.
    pub fn sum_squared_deviations(&self) -> Option<f64> {
        (self.n > 0).then(|| {
            scale_by(
                self.scaled_squared_deviations(),
                self.scale.saturating_mul(2),
            )
        })
    }

    /// Variance with divisor `n` (numpy's default, Spark's `popVariance`); `None` when empty.
    pub fn population_variance(&self) -> Option<f64> {
        self.population_std_dev().map(|sd| sd * sd)
    }

    /// Unbiased variance with divisor `n − 1` (Spark's `sampleVariance`); `None` below 2 values.
    pub fn sample_variance(&self) -> Option<f64> {
        self.sample_std_dev().map(|sd| sd * sd)
    }

    /// Square root of [`population_variance`](Self::population_variance), computed in the
    /// summary's units, so it is finite even where the variance is not.
    pub fn population_std_dev(&self) -> Option<f64> {
        (self.n > 0).then(|| self.std_dev_with_divisor(self.n as f64))
    }

    /// Square root of [`sample_variance`](Self::sample_variance).
    pub fn sample_std_dev(&self) -> Option<f64> {
        (self.n >= 2).then(|| self.std_dev_with_divisor((self.n - 1) as f64))
    }

    fn std_dev_with_divisor(&self, divisor: f64) -> f64 {
        scale_by(
            (self.scaled_squared_deviations() / divisor).sqrt(),
            self.scale,
        )
    }

    /// Population skewness `g1 = m3 / m2^1.5` (scipy `skew(bias=True)`); `None` when empty or
    /// when the variance is zero.
    pub fn skewness(&self) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let c = self.central_sums();
        let n = self.n as f64;
        let m2 = c[1].to_f64() / n;
        let m3 = c[2].to_f64() / n;
        (m2 > 0.0).then(|| m3 / (m2 * m2.sqrt()))
    }

    /// Population excess kurtosis `g2 = m4 / m2² − 3` (scipy `kurtosis(fisher=True,
    /// bias=True)`); `None` when empty or when the variance is zero.
    pub fn kurtosis(&self) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let c = self.central_sums();
        let n = self.n as f64;
        let m2 = c[1].to_f64() / n;
        let m4 = c[3].to_f64() / n;
        (m2 > 0.0).then(|| m4 / (m2 * m2) - 3.0)
    }

    /// Smallest value, `None` when empty or when a retraction may have removed it.
    pub fn min(&self) -> Option<f64> {
        (self.n > 0 && self.min_exact).then_some(self.min)
    }

    /// Largest value, `None` when empty or when a retraction may have removed it.
    pub fn max(&self) -> Option<f64> {
        (self.n > 0 && self.max_exact).then_some(self.max)
    }

    /// Brings `self` and `other` to the larger of their scales; returns `other` in it.
    fn align(&mut self, other: &Moments) -> Moments {
        if other.scale > self.scale {
            *self = self.rescaled(other.scale);
        }
        other.rescaled(self.scale)
    }

    /// Move the shift to the current mean when the two have drifted far apart.
    fn maybe_rebase(&mut self) {
        let n = self.n as f64;
        let a = self.sums[0].hi / n;
        let var = (self.sums[1].hi / n - a * a).max(0.0);
        if a * a <= REBASE_RATIO * var {
            return;
        }
        let new_shift = self.shift + a;
        if new_shift == self.shift || !new_shift.is_finite() {
            return;
        }
        self.sums = recenter(&self.sums, self.n, Dd::diff(self.shift, new_shift));
        self.shift = new_shift;
    }
}

impl Merge for Moments {
    fn merge(&mut self, other: &Self) {
        self.skipped_non_finite = self
            .skipped_non_finite
            .wrapping_add(other.skipped_non_finite);
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            let skipped = self.skipped_non_finite;
            *self = other.clone();
            self.skipped_non_finite = skipped;
            return;
        }
        let other = self.align(other);
        let moved = recenter(&other.sums, other.n, Dd::diff(other.shift, self.shift));
        for (s, m) in self.sums.iter_mut().zip(moved) {
            *s = *s + m;
        }
        self.n += other.n;
        (self.min, self.min_exact) = if other.min < self.min {
            (other.min, other.min_exact)
        } else if other.min > self.min {
            (self.min, self.min_exact)
        } else {
            (self.min, self.min_exact || other.min_exact)
        };
        (self.max, self.max_exact) = if other.max > self.max {
            (other.max, other.max_exact)
        } else if other.max < self.max {
            (self.max, self.max_exact)
        } else {
            (self.max, self.max_exact || other.max_exact)
        };
        self.maybe_rebase();
    }
}

/// Exact up to ≈2^-106 of the sums held (see the type's docs). Retracting a summary that holds
/// at least as many values as `self` empties it; retracting anything never merged gives
/// meaningless numbers but never panics.
impl Retract for Moments {
    fn retract(&mut self, other: &Self) {
        self.skipped_non_finite = self
            .skipped_non_finite
            .wrapping_sub(other.skipped_non_finite);
        if other.n == 0 {
            return;
        }
        if other.n >= self.n {
            let skipped = self.skipped_non_finite;
            *self = Moments::default();
            self.skipped_non_finite = skipped;
            return;
        }
        let other = self.align(other);
        let moved = recenter(&other.sums, other.n, Dd::diff(other.shift, self.shift));
        for (s, m) in self.sums.iter_mut().zip(moved) {
            *s = *s - m;
        }
        self.n -= other.n;
        if other.min <= self.min {
            self.min_exact = false;
        }
        if other.max >= self.max {
            self.max_exact = false;
        }
        self.maybe_rebase();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_known_values() {
        let m = Moments::from_slice(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m.count(), 8);
        assert_eq!(m.mean(), Some(5.0));
        assert_eq!(m.population_variance(), Some(4.0));
        assert_eq!(m.min(), Some(2.0));
        assert_eq!(m.max(), Some(9.0));
        assert_eq!(m.sum(), Some(40.0));
    }

    #[test]
    fn empty_and_non_finite() {
        let mut m = Moments::new();
        assert_eq!(m.mean(), None);
        m.update(&[f64::NAN, f64::INFINITY, 1.0, f64::NEG_INFINITY, 3.0]);
        assert_eq!(m.count(), 2);
        assert_eq!(m.skipped_non_finite(), 3);
        assert_eq!(m.mean(), Some(2.0));
        assert_eq!(m.min(), Some(1.0));
        assert_eq!(m.skewness(), Some(0.0));
        let c = Moments::from_slice(&[3.0; 10]);
        assert_eq!(c.population_variance(), Some(0.0));
        assert_eq!(c.skewness(), None);
    }

    #[test]
    fn overflowing_values_do_not_panic() {
        let m = Moments::from_slice(&[1e300, -1e300, 1e308, 1e308]);
        assert_eq!(m.count(), 4);
        let _ = (m.mean(), m.kurtosis(), m.skewness());
    }

    #[test]
    fn retract_marks_extremes_unknown() {
        let mut a = Moments::from_slice(&[1.0, 2.0, 3.0]);
        let b = Moments::from_slice(&[0.0, 10.0]);
        a.merge(&b);
        assert_eq!((a.min(), a.max()), (Some(0.0), Some(10.0)));
        a.retract(&b);
        assert_eq!((a.min(), a.max()), (None, None));
        assert_eq!(a.mean(), Some(2.0));
        let mut c = Moments::from_slice(&[1.0, 5.0, 3.0]);
        c.retract(&Moments::from_slice(&[3.0]));
        assert_eq!((c.min(), c.max()), (Some(1.0), Some(5.0)));
    }
}

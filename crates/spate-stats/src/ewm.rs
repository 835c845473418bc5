//! Exponentially weighted mean and variance.

use crate::count_min::check_fraction;
use crate::error::StatsError;
use serde::{Deserialize, Serialize};

const DEFAULT_ALPHA: f64 = 0.1;

/// Checked parameters for [`EwMoments`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwMomentsParams {
    alpha: f64,
    half_life: Option<f64>,
}

impl EwMomentsParams {
    /// Smoothing factor α in (0, 1]: each new value has weight 1 and every older weight is
    /// multiplied by `1 − α` (default 0.1).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self.half_life = None;
        self
    }

    /// Set α so that a value's weight halves after `half_life` further values (> 0).
    pub fn half_life(mut self, half_life: f64) -> Self {
        self.half_life = Some(half_life);
        self
    }

    /// Validate the parameters.
    pub fn build(self) -> Result<EwMoments, StatsError> {
        let alpha = match self.half_life {
            Some(h) if h > 0.0 && h.is_finite() => 1.0 - 0.5f64.powf(1.0 / h),
            Some(h) => {
                return Err(StatsError::OutOfRange {
                    name: "half_life",
                    value: h,
                    min: 0.0,
                    max: f64::INFINITY,
                });
            }
            None => self.alpha,
        };
        if alpha != 1.0 {
            check_fraction("alpha", alpha)?;
        }
        Ok(EwMoments::with_alpha(alpha))
    }
}

/// Exponentially weighted mean and variance.
///
/// The i-th most recent value (i = 0 for the newest) has weight `(1 − α)^i`; the mean is
/// `Σ wᵢxᵢ / Σ wᵢ` and the variance `Σ wᵢ(xᵢ − mean)² / Σ wᵢ` — pandas'
/// `ewm(alpha=α, adjust=True)` mean and `var(bias=True)`. Updates are a weighted Welford step
/// per value.
///
/// Merge is **not commutative**: `a.merge(&b)` means `b`'s values came after `a`'s (partitions
/// are merged in partition order, so partitions must be contiguous, ordered pieces of the
/// stream). It decays `a` by `(1 − α)^{count(b)}` and combines Chan-style, which is
/// associative up to rounding and equals a single pass over the concatenated stream (tested to
/// 1e-12). `Default` (α = 0.1, empty) is the identity; an empty summary takes on the α of
/// whatever is merged into it. Merging non-empty summaries with different α is an error in
/// [`try_merge`](Self::try_merge) and a panic in [`Merge::merge`](spate_core::Merge::merge).
///
/// NaN and ±∞ are skipped and counted. Cost: about 8 flops and one division per value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EwMoments {
    alpha: f64,
    n: u64,
    weight: f64,
    mean: f64,
    m2: f64,
    skipped_non_finite: u64,
}

impl Default for EwMoments {
    fn default() -> Self {
        EwMoments::with_alpha(DEFAULT_ALPHA)
    }
}

impl EwMoments {
    /// Start configuring.
    pub fn params() -> EwMomentsParams {
        EwMomentsParams {
            alpha: DEFAULT_ALPHA,
            half_life: None,
        }
    }

    pub(crate) fn with_alpha(alpha: f64) -> Self {
        EwMoments {
            alpha,
            n: 0,
            weight: 0.0,
            mean: 0.0,
            m2: 0.0,
            skipped_non_finite: 0,
        }
    }

    /// The smoothing factor α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Add a batch of values in stream order.
    pub fn update(&mut self, batch: &[f64]) {
        let keep = 1.0 - self.alpha;
        for &x in batch {
            if !x.is_finite() {
                self.skipped_non_finite += 1;
                continue;
            }
            self.n += 1;
            self.weight = keep * self.weight + 1.0;
            self.m2 *= keep;
            let d = x - self.mean;
            self.mean += d / self.weight;
            self.m2 += d * (x - self.mean);
        }
    }

    /// Values summarized.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// NaN and ±∞ values skipped.
    pub fn skipped_non_finite(&self) -> u64 {
        self.skipped_non_finite
    }

    /// Sum of the weights `Σ (1 − α)^i`.
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// Weighted mean, `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Weighted (biased) variance, `None` when empty.
    pub fn variance(&self) -> Option<f64> {
        (self.n > 0).then(|| (self.m2 / self.weight).max(0.0))
    }

    /// Square root of [`variance`](Self::variance).
    pub fn std_dev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// Append `later` (values that came after this summary's), or report differing α.
    pub fn try_merge(&mut self, later: &Self) -> Result<(), StatsError> {
        let skipped = self.skipped_non_finite + later.skipped_non_finite;
        if later.n == 0 {
            self.skipped_non_finite = skipped;
            return Ok(());
        }
        if self.n == 0 {
            *self = later.clone();
            self.skipped_non_finite = skipped;
            return Ok(());
        }
        if self.alpha != later.alpha {
            return Err(StatsError::IncompatibleMerge {
                summary: "EwMoments",
                left: format!("alpha {}", self.alpha),
                right: format!("alpha {}", later.alpha),
            });
        }
        let decay = (1.0 - self.alpha).powf(later.n as f64);
        let wa = self.weight * decay;
        let w = wa + later.weight;
        let d = later.mean - self.mean;
        self.mean += d * (later.weight / w);
        self.m2 = self.m2 * decay + later.m2 + d * d * (wa * later.weight / w);
        self.weight = w;
        self.n += later.n;
        self.skipped_non_finite = skipped;
        Ok(())
    }
}

merge_via_try!(EwMoments);

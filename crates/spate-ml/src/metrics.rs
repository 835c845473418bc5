//! Rolling evaluation as mergeable (and retractable) summaries.

use crate::error::{MlError, Result};
use crate::linalg::{scale_by, scale_for};
use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};
use spate_core::{Merge, Retract};

/// Probabilities are clipped to `[EPS, 1 − EPS]` in the log-loss, as scikit-learn does.
const LOG_LOSS_EPS: f64 = 1e-15;

/// Regression quality over a set of predictions: RMSE, MAE and R².
///
/// Mergeable across partitions and batches, and retractable, so a rolling window with an
/// inverse costs `O(pane)` per slide. The target's mean and sum of squares are kept centred
/// (Chan's update), so R² stays accurate for targets with a large offset.
///
/// Targets and errors of extreme magnitude (beyond about 1e77 or below 1e-77) are summed in
/// units of a power of two, so the RMSE of predictions off by 1e200 is 1e200, not ∞.
///
/// # Contract
/// Merge is commutative and associative up to rounding; `retract` undoes `merge` up to
/// rounding. Pairs with a non-finite target or prediction are skipped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RegressionMetrics {
    count: u64,
    skipped: u64,
    /// Binary exponent of the units of `mean_y`, `sae` (and, squared, `m2_y` and `sse`).
    scale: i32,
    mean_y: f64,
    m2_y: f64,
    sse: f64,
    sae: f64,
}

impl RegressionMetrics {
    /// Summarize predictions against true targets.
    ///
    /// # Errors
    /// [`MlError::LengthMismatch`] when the two have different lengths.
    pub fn from_predictions(
        y_true: ArrayView1<'_, f64>,
        y_pred: ArrayView1<'_, f64>,
    ) -> Result<Self> {
        if y_true.len() != y_pred.len() {
            return Err(MlError::LengthMismatch {
                rows: y_pred.len(),
                targets: y_true.len(),
            });
        }
        let finite = |(&y, &p): (&f64, &f64)| y.is_finite() && p.is_finite();
        let largest = y_true
            .iter()
            .zip(y_pred)
            .filter(|&pair| finite(pair))
            .fold(0.0_f64, |l, (&y, &p)| {
                l.max(y.abs()).max((y - p).abs()).max(p.abs())
            });
        let mut m = Self {
            scale: scale_for(largest),
            ..Self::default()
        };
        for (&y, &p) in y_true.iter().zip(y_pred) {
            if !(y.is_finite() && p.is_finite()) {
                m.skipped += 1;
                continue;
            }
            let (y, p) = (scale_by(y, -m.scale), scale_by(p, -m.scale));
            m.count += 1;
            let delta = y - m.mean_y;
            m.mean_y += delta / m.count as f64;
            m.m2_y += delta * (y - m.mean_y);
            let e = y - p;
            m.sse += e * e;
            m.sae += e.abs();
        }
        Ok(m)
    }

    /// The same metrics in units of `2^scale`.
    fn rescaled(&self, scale: i32) -> Self {
        let d = self.scale - scale;
        Self {
            scale,
            mean_y: scale_by(self.mean_y, d),
            m2_y: scale_by(self.m2_y, 2 * d),
            sse: scale_by(self.sse, 2 * d),
            sae: scale_by(self.sae, d),
            ..*self
        }
    }

    /// Brings `self` and `other` to the larger of their scales; returns `other` in it.
    fn align(&mut self, other: &Self) -> Self {
        if other.scale > self.scale {
            *self = self.rescaled(other.scale);
        }
        other.rescaled(self.scale)
    }

    /// Pairs summarized.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Pairs skipped because the target or the prediction was NaN or infinite.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Mean squared error (NaN when empty).
    pub fn mse(&self) -> f64 {
        scale_by(self.sse / self.count as f64, 2 * self.scale)
    }

    /// Root mean squared error (NaN when empty); finite even where the MSE is not.
    pub fn rmse(&self) -> f64 {
        scale_by((self.sse / self.count as f64).sqrt(), self.scale)
    }

    /// Mean absolute error (NaN when empty).
    pub fn mae(&self) -> f64 {
        scale_by(self.sae / self.count as f64, self.scale)
    }

    /// Coefficient of determination `1 − SSE/SST` (NaN when empty; −∞ or NaN when the targets
    /// are constant, as SST is then 0).
    pub fn r2(&self) -> f64 {
        1.0 - self.sse / self.m2_y
    }
}

impl Merge for RegressionMetrics {
    fn merge(&mut self, other: &Self) {
        self.skipped += other.skipped;
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = Self {
                skipped: self.skipped,
                ..*other
            };
            return;
        }
        let other = &self.align(other);
        let n = self.count + other.count;
        let delta = other.mean_y - self.mean_y;
        let (na, nb) = (self.count as f64, other.count as f64);
        self.mean_y += delta * nb / n as f64;
        self.m2_y += other.m2_y + delta * delta * na * nb / n as f64;
        self.count = n;
        self.sse += other.sse;
        self.sae += other.sae;
    }
}

impl Retract for RegressionMetrics {
    fn retract(&mut self, other: &Self) {
        self.skipped = self.skipped.wrapping_sub(other.skipped);
        if other.count == 0 {
            return;
        }
        if other.count >= self.count {
            *self = Self {
                skipped: self.skipped,
                ..Self::default()
            };
            return;
        }
        let other = &self.align(other);
        let n = self.count as f64;
        let (nb, na) = (other.count as f64, (self.count - other.count) as f64);
        let mean_a = (n * self.mean_y - nb * other.mean_y) / na;
        let delta = other.mean_y - mean_a;
        self.m2_y = (self.m2_y - other.m2_y - delta * delta * na * nb / n).max(0.0);
        self.mean_y = mean_a;
        self.count -= other.count;
        self.sse -= other.sse;
        self.sae -= other.sae;
    }
}

/// Binary classification quality: log-loss and accuracy.
///
/// Mergeable and retractable (plain sums). Labels are 0 or 1; pairs with another label or a
/// probability outside `[0, 1]` are skipped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    count: u64,
    skipped: u64,
    correct: u64,
    log_loss: f64,
}

impl ClassificationMetrics {
    /// Summarize predicted probabilities of class 1 against true labels; a probability above
    /// `threshold` predicts class 1 (Spark's rule).
    ///
    /// # Errors
    /// [`MlError::LengthMismatch`] or [`MlError::InvalidThreshold`].
    pub fn from_probabilities(
        y_true: ArrayView1<'_, f64>,
        probability: ArrayView1<'_, f64>,
        threshold: f64,
    ) -> Result<Self> {
        if y_true.len() != probability.len() {
            return Err(MlError::LengthMismatch {
                rows: probability.len(),
                targets: y_true.len(),
            });
        }
        if !(0.0..=1.0).contains(&threshold) {
            return Err(MlError::InvalidThreshold { threshold });
        }
        let mut m = Self::default();
        for (&y, &p) in y_true.iter().zip(probability) {
            if !((y == 0.0 || y == 1.0) && (0.0..=1.0).contains(&p)) {
                m.skipped += 1;
                continue;
            }
            m.count += 1;
            let predicted = if p > threshold { 1.0 } else { 0.0 };
            m.correct += u64::from(predicted == y);
            let p = p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            m.log_loss -= if y == 1.0 { p.ln() } else { (1.0 - p).ln() };
        }
        Ok(m)
    }

    /// Pairs summarized.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Pairs skipped (label not 0/1, or probability outside `[0, 1]` or NaN).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Mean negative log-likelihood, probabilities clipped to `[1e-15, 1 − 1e-15]` (NaN when
    /// empty).
    pub fn log_loss(&self) -> f64 {
        self.log_loss / self.count as f64
    }

    /// Fraction classified correctly (NaN when empty).
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.count as f64
    }
}

impl Merge for ClassificationMetrics {
    fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.skipped += other.skipped;
        self.correct += other.correct;
        self.log_loss += other.log_loss;
    }
}

impl Retract for ClassificationMetrics {
    fn retract(&mut self, other: &Self) {
        self.count = self.count.wrapping_sub(other.count);
        self.skipped = self.skipped.wrapping_sub(other.skipped);
        self.correct = self.correct.wrapping_sub(other.correct);
        self.log_loss -= other.log_loss;
    }
}

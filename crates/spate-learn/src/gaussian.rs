//! A running Gaussian estimate (weighted Welford), the arithmetic of River's `proba.Gaussian`
//! operation for operation, so models built on it reproduce River's numbers.

use serde::{Deserialize, Serialize};

/// `0.5 · ln(2π)`.
pub(crate) const HALF_LOG_TAU: f64 = 0.918_938_533_204_672_8;

/// Weight, mean and sum of squared deviations of the values seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Gaussian {
    pub(crate) n: f64,
    pub(crate) mean: f64,
    pub(crate) s: f64,
}

/// The standard normal density.
fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal distribution function, with the C library's `erf` as Python's.
pub(crate) fn norm_cdf(z: f64) -> f64 {
    0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2))
}

impl Gaussian {
    /// Adds `x` with weight `w`.
    #[inline]
    pub(crate) fn update(&mut self, x: f64, w: f64) {
        let old = self.mean;
        self.n += w;
        self.mean += (w / self.n) * (x - self.mean);
        self.s += w * (x - old) * (x - self.mean);
    }

    /// The variance with `ddof` delta degrees of freedom (0 until more than `ddof` weight).
    #[inline]
    pub(crate) fn variance(&self, ddof: f64) -> f64 {
        if self.n > ddof {
            self.s / (self.n - ddof)
        } else {
            0.0
        }
    }

    /// The density at `x` (0 without spread).
    #[inline]
    pub(crate) fn pdf(&self, x: f64, ddof: f64) -> f64 {
        if self.n > ddof {
            let variance = self.s / (self.n - ddof);
            if variance > 0.0 {
                let sigma = variance.sqrt();
                return norm_pdf((x - self.mean) / sigma) / sigma;
            }
        }
        0.0
    }

    /// The log density at `x` (−∞ without spread), with one degree of freedom (the Hoeffding
    /// tree caches its parts; this is the reference form).
    #[cfg(test)]
    pub(crate) fn log_pdf(&self, x: f64) -> f64 {
        if self.n > 1.0 {
            let variance = self.s / (self.n - 1.0);
            if variance > 0.0 {
                let dx = x - self.mean;
                return dx * dx / (-2.0 * variance) - HALF_LOG_TAU - 0.5 * variance.ln();
            }
        }
        f64::NEG_INFINITY
    }

    /// The distribution function at `x`, with one degree of freedom (0 without spread).
    #[inline]
    pub(crate) fn cdf(&self, x: f64) -> f64 {
        let sigma = self.variance(1.0).sqrt();
        if sigma == 0.0 {
            return 0.0;
        }
        norm_cdf((x - self.mean) / sigma)
    }

    pub(crate) fn is_valid(&self) -> bool {
        self.n.is_finite() && self.n >= 0.0 && self.mean.is_finite() && self.s.is_finite()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_the_two_pass_formulas() {
        let xs = [3.0, 1.5, -2.0, 8.25, 0.5];
        let mut g = Gaussian::default();
        xs.iter().for_each(|&x| g.update(x, 1.0));
        let mean = xs.iter().sum::<f64>() / 5.0;
        let ss: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
        assert!((g.mean - mean).abs() < 1e-12);
        assert!((g.variance(1.0) - ss / 4.0).abs() < 1e-12);
        assert!((g.variance(0.0) - ss / 5.0).abs() < 1e-12);
        let sd = (ss / 4.0).sqrt();
        assert!((g.cdf(mean) - 0.5).abs() < 1e-15);
        assert!((g.cdf(mean + sd) - 0.841_344_746_068_542_9).abs() < 1e-12);
        let expected = (-0.5f64).exp() / (sd * (2.0 * std::f64::consts::PI).sqrt());
        assert!((g.pdf(mean + sd, 1.0) - expected).abs() < 1e-15);
        assert!((g.log_pdf(mean + sd) - expected.ln()).abs() < 1e-12);
        assert_eq!(Gaussian::default().cdf(1.0), 0.0);
        assert_eq!(Gaussian::default().log_pdf(1.0), f64::NEG_INFINITY);
    }
}

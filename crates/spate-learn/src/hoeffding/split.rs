//! Split candidates of a numeric feature (River's `GaussianSplitter`) and their information
//! gain (River's `InfoGainSplitCriterion`).

use crate::gaussian::{Gaussian, HALF_LOG_TAU};
use serde::{Deserialize, Serialize};

/// A class distribution in insertion order: `(class, weight)`.
pub(crate) type Dist = Vec<(usize, f64)>;

/// The statistics of one class for one feature at a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClassObserver {
    pub(crate) class: usize,
    pub(crate) gaussian: Gaussian,
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// `gaussian.log_pdf` without its per-call logarithm: the sample variance and half its
    /// log, refreshed on every update (one `ln` per update instead of one per class per
    /// prediction, with the same values).
    pub(crate) log_pdf: LogPdf,
}

/// The parts of a Gaussian's log density that depend only on its state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogPdf {
    variance: f64,
    half_log_variance: f64,
}

impl LogPdf {
    fn of(g: &Gaussian) -> LogPdf {
        let variance = g.variance(1.0);
        LogPdf {
            variance,
            half_log_variance: if g.n > 1.0 && variance > 0.0 {
                0.5 * variance.ln()
            } else {
                0.0
            },
        }
    }

    /// As [`Gaussian::log_pdf`], bit for bit.
    #[inline]
    fn at(&self, g: &Gaussian, x: f64) -> f64 {
        if g.n > 1.0 && self.variance > 0.0 {
            let dx = x - g.mean;
            return dx * dx / (-2.0 * self.variance) - HALF_LOG_TAU - self.half_log_variance;
        }
        f64::NEG_INFINITY
    }

    pub(crate) fn fits(&self, g: &Gaussian) -> bool {
        let fresh = LogPdf::of(g);
        fresh.variance.to_bits() == self.variance.to_bits()
            && fresh.half_log_variance.to_bits() == self.half_log_variance.to_bits()
    }
}

/// Per class, a Gaussian of the feature's values with their range, in order of the classes'
/// first appearance at this leaf.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GaussianSplitter {
    pub(crate) classes: Vec<ClassObserver>,
}

/// A candidate split: `feature ≤ threshold` goes left. A candidate without feature is the
/// "null split" (do not split).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) merit: f64,
    pub(crate) feature: Option<usize>,
    pub(crate) threshold: f64,
    pub(crate) children: [Dist; 2],
}

impl Candidate {
    pub(crate) fn null() -> Candidate {
        Candidate {
            merit: f64::NEG_INFINITY,
            feature: None,
            threshold: 0.0,
            children: [Vec::new(), Vec::new()],
        }
    }
}

impl GaussianSplitter {
    #[inline]
    pub(crate) fn update(&mut self, x: f64, class: usize, w: f64) {
        match self.classes.iter_mut().find(|o| o.class == class) {
            Some(o) => {
                if x < o.min {
                    o.min = x;
                }
                if x > o.max {
                    o.max = x;
                }
                o.gaussian.update(x, w);
                o.log_pdf = LogPdf::of(&o.gaussian);
            }
            None => {
                let mut gaussian = Gaussian::default();
                gaussian.update(x, w);
                self.classes.push(ClassObserver {
                    class,
                    gaussian,
                    min: x,
                    max: x,
                    log_pdf: LogPdf::of(&gaussian),
                });
            }
        }
    }

    /// `log p(x | class)`, −∞ when the class has no spread here or was not seen here.
    #[inline]
    pub(crate) fn cond_log_proba(&self, x: f64, class: usize) -> f64 {
        self.classes
            .iter()
            .find(|o| o.class == class)
            .map_or(f64::NEG_INFINITY, |o| o.log_pdf.at(&o.gaussian, x))
    }

    /// The best split of this feature by information gain, `Candidate::null()` if none.
    pub(crate) fn best_split(
        &self,
        feature: usize,
        pre_split: &Dist,
        n_splits: usize,
        min_branch_fraction: f64,
    ) -> Candidate {
        let mut best = Candidate::null();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for o in &self.classes {
            if o.min < lo {
                lo = o.min;
            }
            if o.max > hi {
                hi = o.max;
            }
        }
        if lo == f64::INFINITY {
            return best;
        }
        let pre_entropy = entropy(pre_split);
        let bin = (hi - lo) / (n_splits as f64 + 1.0);
        for i in 0..n_splits {
            let threshold = lo + bin * (i as f64 + 1.0);
            if !(lo < threshold && threshold < hi) {
                continue;
            }
            let children = self.binary_split(threshold);
            let merit = merit_of_split(pre_entropy, &children, min_branch_fraction);
            if merit > best.merit {
                best = Candidate {
                    merit,
                    feature: Some(feature),
                    threshold,
                    children,
                };
            }
        }
        best
    }

    /// The class weights each side of `threshold`: whole classes by their range, and the
    /// Gaussian's mass below the threshold for classes that straddle it.
    fn binary_split(&self, threshold: f64) -> [Dist; 2] {
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for o in &self.classes {
            let n = o.gaussian.n;
            if threshold < o.min {
                right.push((o.class, n));
            } else if threshold >= o.max {
                left.push((o.class, n));
            } else {
                let l = o.gaussian.cdf(threshold) * n;
                left.push((o.class, l));
                right.push((o.class, n - l));
            }
        }
        [left, right]
    }
}

/// Sum of a distribution's weights, in order.
pub(crate) fn total(dist: &Dist) -> f64 {
    let mut sum = 0.0;
    for (_, w) in dist {
        sum += w;
    }
    sum
}

/// The entropy (bits) of a class distribution.
pub(crate) fn entropy(dist: &Dist) -> f64 {
    let (mut h, mut sum) = (0.0, 0.0);
    for &(_, d) in dist {
        if d > 0.0 {
            h -= d * d.log2();
            sum += d;
        }
    }
    if sum > 0.0 {
        (h + sum * sum.log2()) / sum
    } else {
        0.0
    }
}

/// Information gain of a split; −∞ unless at least two branches hold more than
/// `min_branch_fraction` of the weight.
fn merit_of_split(pre_entropy: f64, children: &[Dist; 2], min_branch_fraction: f64) -> f64 {
    let weights = [total(&children[0]), total(&children[1])];
    let all = weights[0] + weights[1];
    let big = if all > 0.0 {
        weights
            .iter()
            .filter(|&&w| w / all > min_branch_fraction)
            .count()
    } else {
        0
    };
    if big < 2 {
        return f64::NEG_INFINITY;
    }
    let mut post = 0.0;
    for (w, dist) in weights.iter().zip(children) {
        post += w * entropy(dist);
    }
    pre_entropy - post / all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_distributions() {
        assert!((entropy(&vec![(0, 5.0), (1, 5.0)]) - 1.0).abs() < 1e-15);
        assert_eq!(entropy(&vec![(0, 5.0)]), 0.0);
        assert!((entropy(&vec![(0, 1.0), (1, 1.0), (2, 2.0)]) - 1.5).abs() < 1e-15);
    }

    #[test]
    fn a_clean_threshold_has_full_gain() {
        let mut s = GaussianSplitter::default();
        for i in 0..50 {
            s.update(f64::from(i) / 100.0, 0, 1.0);
            s.update(1.0 + f64::from(i) / 100.0, 1, 1.0);
        }
        let pre = vec![(0, 50.0), (1, 50.0)];
        let best = s.best_split(3, &pre, 10, 0.01);
        assert_eq!(best.feature, Some(3));
        assert!(best.threshold > 0.49 && best.threshold < 1.0);
        assert!((best.merit - 1.0).abs() < 1e-9);
    }
}

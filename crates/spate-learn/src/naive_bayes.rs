//! Gaussian and multinomial naive Bayes (River's `naive_bayes.GaussianNB` / `MultinomialNB`,
//! scikit-learn's `partial_fit` counterparts).

use crate::error::{LearnError, Result, corrupt, invalid};
use crate::gaussian::Gaussian;
use crate::learner::{
    Classes, Classifier, DEFAULT_MAX_CLASSES, check_max_classes, check_proba, check_row,
};
use serde::{Deserialize, Serialize};

/// Added to every density before its log, as River does, so a feature value far from a
/// class's mean (or a class without spread) lowers the likelihood instead of zeroing it.
const PDF_EPS: f64 = 1e-9;

/// Turns joint log-likelihoods of the seen classes into probabilities, in place.
fn normalize_log_likelihoods(classes: &Classes, jll: &mut [f64]) {
    let max = classes
        .iter()
        .map(|c| jll[c])
        .fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for c in classes.iter() {
        total += (jll[c] - max).exp();
    }
    let lse = max + total.ln();
    for (c, p) in jll.iter_mut().enumerate() {
        *p = if classes.is_seen(c) {
            (*p - lse).exp()
        } else {
            0.0
        };
    }
}

/// Gaussian naive Bayes: per class, a running mean and (population) variance of every
/// feature; a record's class probabilities are the class frequencies times the product of
/// the Gaussian densities (River's `naive_bayes.GaussianNB`, same arithmetic).
///
/// Learning is exact and order-independent up to rounding; a prediction costs
/// O(d · classes). No allocation per record.
///
/// ```
/// use spate_learn::{Classifier, GaussianNb};
///
/// let mut nb = GaussianNb::new(1)?;
/// for x in [1.0, 1.2, 0.8] { nb.learn_one(&[x], 0)?; }
/// for x in [5.0, 5.5, 4.5] { nb.learn_one(&[x], 1)?; }
/// assert_eq!(nb.predict_one(&[1.1])?, Some(0));
/// assert_eq!(nb.predict_one(&[4.9])?, Some(1));
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GaussianNb {
    d: usize,
    classes: Classes,
    counts: Vec<f64>,
    /// `d` estimators per class slot.
    gaussians: Vec<Gaussian>,
}

impl GaussianNb {
    /// A model for `d` features, with up to 1024 classes.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`].
    pub fn new(d: usize) -> Result<GaussianNb> {
        GaussianNb::with_max_classes(d, DEFAULT_MAX_CLASSES)
    }

    /// A model for `d` features and labels below `max_classes`.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`] or [`LearnError::InvalidParameter`].
    pub fn with_max_classes(d: usize, max_classes: usize) -> Result<GaussianNb> {
        if d == 0 {
            return Err(LearnError::ZeroDimension);
        }
        check_max_classes(max_classes)?;
        Ok(GaussianNb {
            d,
            classes: Classes::new(max_classes),
            counts: Vec::new(),
            gaussians: Vec::new(),
        })
    }

    /// Records learnt per class slot.
    pub fn class_counts(&self) -> &[f64] {
        &self.counts
    }

    /// Mean and population variance of feature `i` in class `c`.
    pub fn moments(&self, c: usize, i: usize) -> Option<(f64, f64)> {
        (i < self.d)
            .then(|| self.gaussians.get(c * self.d + i))
            .flatten()
            .map(|g| (g.mean, g.variance(0.0)))
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let k = self.classes.len();
        self.classes.validate("GaussianNb", k)?;
        if self.d == 0
            || self.counts.len() != k
            || self.gaussians.len() != k * self.d
            || !self.gaussians.iter().all(Gaussian::is_valid)
            || self.counts.iter().any(|c| !(c.is_finite() && *c >= 0.0))
        {
            return Err(corrupt("GaussianNb", "statistics do not fit the classes"));
        }
        Ok(())
    }
}

impl Classifier for GaussianNb {
    fn n_features(&self) -> usize {
        self.d
    }

    fn n_classes(&self) -> usize {
        self.classes.len()
    }

    fn learn_one(&mut self, x: &[f64], y: usize) -> Result<()> {
        check_row(x, self.d)?;
        self.classes.check(y)?;
        self.classes.observe(y);
        let k = self.classes.len();
        if self.counts.len() < k {
            self.counts.resize(k, 0.0);
            self.gaussians.resize(k * self.d, Gaussian::default());
        }
        self.counts[y] += 1.0;
        for (g, &xi) in self.gaussians[y * self.d..(y + 1) * self.d]
            .iter_mut()
            .zip(x)
        {
            g.update(xi, 1.0);
        }
        Ok(())
    }

    fn predict_proba_into(&self, x: &[f64], proba: &mut [f64]) -> Result<()> {
        check_row(x, self.d)?;
        check_proba(proba, self.classes.len())?;
        let total: f64 = self.classes.iter().map(|c| self.counts[c]).sum();
        for c in self.classes.iter() {
            let mut ll = (self.counts[c] / total).ln();
            for (g, &xi) in self.gaussians[c * self.d..(c + 1) * self.d].iter().zip(x) {
                ll += (PDF_EPS + g.pdf(xi, 0.0)).ln();
            }
            proba[c] = ll;
        }
        normalize_log_likelihoods(&self.classes, proba);
        Ok(())
    }
}

/// Multinomial naive Bayes over counts (term frequencies, one-hot or hashed features) with
/// additive (Laplace) smoothing `alpha` (River's `naive_bayes.MultinomialNB`, scikit-learn's
/// `MultinomialNB.partial_fit`): `P(i | c) = (N_ci + α) / (N_c + α·d)`.
///
/// Features must be counts: a negative value is rejected
/// ([`LearnError::NegativeCount`]); fractional counts are accepted, as in both references.
///
/// ```
/// use spate_learn::{Classifier, MultinomialNb};
///
/// let mut nb = MultinomialNb::params(3).alpha(1.0).build()?;
/// nb.learn_one(&[3.0, 0.0, 1.0], 0)?;
/// nb.learn_one(&[0.0, 2.0, 1.0], 1)?;
/// assert_eq!(nb.predict_one(&[2.0, 0.0, 0.0])?, Some(0));
/// assert!(nb.learn_one(&[-1.0, 0.0, 0.0], 0).is_err());
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultinomialNb {
    d: usize,
    alpha: f64,
    classes: Classes,
    class_counts: Vec<f64>,
    /// `d` counts per class slot.
    feature_counts: Vec<f64>,
    class_totals: Vec<f64>,
}

/// Unchecked parameters of a [`MultinomialNb`]; [`build`](Self::build) validates them.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct MultinomialNbParams {
    d: usize,
    alpha: f64,
    max_classes: usize,
}

impl MultinomialNbParams {
    /// Additive smoothing (default 1, Laplace); must be positive.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// The limit on class labels.
    pub fn max_classes(mut self, max_classes: usize) -> Self {
        self.max_classes = max_classes;
        self
    }

    /// Validates the parameters and creates the model.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`] or [`LearnError::InvalidParameter`].
    pub fn build(self) -> Result<MultinomialNb> {
        if self.d == 0 {
            return Err(LearnError::ZeroDimension);
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(invalid("alpha", self.alpha, "must be positive and finite"));
        }
        check_max_classes(self.max_classes)?;
        Ok(MultinomialNb {
            d: self.d,
            alpha: self.alpha,
            classes: Classes::new(self.max_classes),
            class_counts: Vec::new(),
            feature_counts: Vec::new(),
            class_totals: Vec::new(),
        })
    }
}

impl MultinomialNb {
    /// Parameters for `d` features: alpha 1, up to 1024 classes.
    pub fn params(d: usize) -> MultinomialNbParams {
        MultinomialNbParams {
            d,
            alpha: 1.0,
            max_classes: DEFAULT_MAX_CLASSES,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let k = self.classes.len();
        self.classes.validate("MultinomialNb", k)?;
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite() && *x >= 0.0);
        if self.d == 0
            || !(self.alpha > 0.0 && self.alpha.is_finite())
            || self.class_counts.len() != k
            || self.class_totals.len() != k
            || self.feature_counts.len() != k * self.d
            || !finite(&self.class_counts)
            || !finite(&self.class_totals)
            || !finite(&self.feature_counts)
        {
            return Err(corrupt("MultinomialNb", "counts do not fit the classes"));
        }
        Ok(())
    }
}

impl Classifier for MultinomialNb {
    fn n_features(&self) -> usize {
        self.d
    }

    fn n_classes(&self) -> usize {
        self.classes.len()
    }

    fn learn_one(&mut self, x: &[f64], y: usize) -> Result<()> {
        check_row(x, self.d)?;
        if let Some(column) = x.iter().position(|&v| v < 0.0) {
            return Err(LearnError::NegativeCount {
                column,
                value: x[column],
            });
        }
        self.classes.check(y)?;
        self.classes.observe(y);
        let k = self.classes.len();
        if self.class_counts.len() < k {
            self.class_counts.resize(k, 0.0);
            self.class_totals.resize(k, 0.0);
            self.feature_counts.resize(k * self.d, 0.0);
        }
        self.class_counts[y] += 1.0;
        for (n, &xi) in self.feature_counts[y * self.d..(y + 1) * self.d]
            .iter_mut()
            .zip(x)
        {
            *n += xi;
            self.class_totals[y] += xi;
        }
        Ok(())
    }

    fn predict_proba_into(&self, x: &[f64], proba: &mut [f64]) -> Result<()> {
        check_row(x, self.d)?;
        check_proba(proba, self.classes.len())?;
        let total: f64 = self.classes.iter().map(|c| self.class_counts[c]).sum();
        // Every feature is a known term once anything was learnt (dense records).
        let terms = self.d as f64;
        for c in self.classes.iter() {
            let mut ll = (self.class_counts[c] / total).ln();
            let denominator = self.class_totals[c] + self.alpha * terms;
            for (n, &xi) in self.feature_counts[c * self.d..(c + 1) * self.d]
                .iter()
                .zip(x)
            {
                ll += xi * ((n + self.alpha) / denominator).ln();
            }
            proba[c] = ll;
        }
        normalize_log_likelihoods(&self.classes, proba);
        Ok(())
    }
}

//! Multinomial logistic regression by SGD (River's `linear_model.SoftmaxRegression`).

use crate::error::{Result, corrupt, invalid};
use crate::learner::{
    Classes, Classifier, DEFAULT_MAX_CLASSES, check_max_classes, check_proba, check_row,
};
use serde::{Deserialize, Serialize};

/// River's `optim.losses.clamp_proba`: keeps log-loss gradients finite.
fn clamp_proba(p: f64) -> f64 {
    p.clamp(1e-15, 1.0 - 1e-15)
}

/// Unchecked parameters of a [`SoftmaxRegression`]; [`build`](Self::build) validates them.
///
/// Defaults are River's: constant learning rate 0.01, no L2, no intercept, at most 1024
/// classes.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct SoftmaxParams {
    d: usize,
    learning_rate: f64,
    l2: f64,
    intercept: bool,
    max_classes: usize,
}

impl SoftmaxParams {
    /// The SGD step size (constant, River's `optim.SGD(lr)`).
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }

    /// L2 penalty added to every gradient: `g + l2 · w`.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }

    /// Learn a bias per class, as a weight on a constant feature 1 (penalized like the
    /// others). River's model has none; adding a constant feature there is the same model.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }

    /// The limit on class labels (labels are indices below it).
    pub fn max_classes(mut self, max_classes: usize) -> Self {
        self.max_classes = max_classes;
        self
    }

    /// Validates the parameters and creates the model.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`](crate::LearnError::ZeroDimension) or
    /// [`LearnError::InvalidParameter`](crate::LearnError::InvalidParameter).
    pub fn build(self) -> Result<SoftmaxRegression> {
        if self.d == 0 {
            return Err(crate::LearnError::ZeroDimension);
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(invalid(
                "learning_rate",
                self.learning_rate,
                "must be positive and finite",
            ));
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(invalid("l2", self.l2, "must be finite and non-negative"));
        }
        check_max_classes(self.max_classes)?;
        Ok(SoftmaxRegression {
            d: self.d,
            learning_rate: self.learning_rate,
            l2: self.l2,
            intercept: self.intercept,
            classes: Classes::new(self.max_classes),
            weights: Vec::new(),
            scratch: Vec::new(),
        })
    }
}

/// Multinomial logistic regression trained by one SGD step per record on the cross-entropy
/// loss, with one weight vector per class (River's `linear_model.SoftmaxRegression` with
/// `optim.SGD(lr)`), so its probabilities are calibrated across classes.
///
/// Per record `(x, y)`: the probabilities `p` over the classes seen so far are predicted
/// first, then for every one of them and for `y`, `w_c ← w_c − lr · (x · g_c + l2 · w_c)`
/// with `g_c = clamp(p_c) − [c = y]` (`p_c = 0` for a new class). A new class starts with
/// zero weights. Cost O(d · classes) per record, no allocation.
///
/// ```
/// use spate_learn::{Classifier, SoftmaxRegression};
///
/// let mut model = SoftmaxRegression::params(2).learning_rate(0.5).build()?;
/// for _ in 0..50 {
///     model.learn_one(&[1.0, 0.0], 0)?;
///     model.learn_one(&[0.0, 1.0], 1)?;
///     model.learn_one(&[-1.0, -1.0], 2)?;
/// }
/// assert_eq!(model.predict_one(&[0.1, 0.9])?, Some(1));
/// let p = model.predict_proba_one(&[1.0, 0.0])?;
/// assert!(p[0] > 0.8 && (p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoftmaxRegression {
    d: usize,
    learning_rate: f64,
    l2: f64,
    intercept: bool,
    classes: Classes,
    /// One row of `d` (+1 with an intercept) weights per class slot.
    weights: Vec<f64>,
    #[serde(skip)]
    scratch: Vec<f64>,
}

impl SoftmaxRegression {
    /// Parameters for `d` features, with River's defaults.
    pub fn params(d: usize) -> SoftmaxParams {
        SoftmaxParams {
            d,
            learning_rate: 0.01,
            l2: 0.0,
            intercept: false,
            max_classes: DEFAULT_MAX_CLASSES,
        }
    }

    fn width(&self) -> usize {
        self.d + usize::from(self.intercept)
    }

    /// The weights of class `c` (with the bias last when there is an intercept).
    pub fn weights(&self, c: usize) -> Option<&[f64]> {
        let w = self.width();
        self.weights.get(c * w..(c + 1) * w)
    }

    fn margin(&self, c: usize, x: &[f64]) -> f64 {
        let w = &self.weights[c * self.width()..(c + 1) * self.width()];
        let mut m = 0.0;
        for (wi, xi) in w.iter().zip(x) {
            m += wi * xi;
        }
        if self.intercept {
            m += w[self.d];
        }
        m
    }

    /// Softmax over the classes seen into `proba` (0 for unseen slots).
    fn softmax_into(&self, x: &[f64], proba: &mut [f64]) {
        let mut max = f64::NEG_INFINITY;
        for (c, p) in proba.iter_mut().enumerate() {
            if self.classes.is_seen(c) {
                *p = self.margin(c, x);
                max = max.max(*p);
            }
        }
        let mut total = 0.0;
        for (c, p) in proba.iter_mut().enumerate() {
            if self.classes.is_seen(c) {
                *p = (*p - max).exp();
                total += *p;
            } else {
                *p = 0.0;
            }
        }
        for (c, p) in proba.iter_mut().enumerate() {
            if self.classes.is_seen(c) {
                *p /= total;
            }
        }
    }

    fn step(&mut self, c: usize, x: &[f64], g: f64) {
        let (lr, l2, width) = (self.learning_rate, self.l2, self.width());
        let w = &mut self.weights[c * width..(c + 1) * width];
        for (wi, &xi) in w.iter_mut().zip(x) {
            *wi -= lr * (xi * g + l2 * *wi);
        }
        if self.intercept {
            let b = &mut w[self.d];
            *b -= lr * (g + l2 * *b);
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.classes
            .validate("SoftmaxRegression", self.classes.len())?;
        if self.weights.len() != self.classes.len() * self.width()
            || self.weights.iter().any(|w| !w.is_finite())
            || self.d == 0
        {
            return Err(corrupt(
                "SoftmaxRegression",
                "the weights do not fit the classes",
            ));
        }
        Ok(())
    }
}

impl Classifier for SoftmaxRegression {
    fn n_features(&self) -> usize {
        self.d
    }

    fn n_classes(&self) -> usize {
        self.classes.len()
    }

    fn learn_one(&mut self, x: &[f64], y: usize) -> Result<()> {
        check_row(x, self.d)?;
        self.classes.check(y)?;
        let mut proba = std::mem::take(&mut self.scratch);
        proba.resize(self.classes.len(), 0.0);
        self.softmax_into(x, &mut proba);
        if self.classes.observe(y) && self.weights.len() < self.classes.len() * self.width() {
            self.weights.resize(self.classes.len() * self.width(), 0.0);
        }
        for c in 0..self.classes.len() {
            if !self.classes.is_seen(c) {
                continue;
            }
            let p = proba.get(c).copied().unwrap_or(0.0);
            let g = clamp_proba(p) - if c == y { 1.0 } else { 0.0 };
            self.step(c, x, g);
        }
        self.scratch = proba;
        Ok(())
    }

    fn predict_proba_into(&self, x: &[f64], proba: &mut [f64]) -> Result<()> {
        check_row(x, self.d)?;
        check_proba(proba, self.classes.len())?;
        self.softmax_into(x, proba);
        Ok(())
    }
}

//! Passive-aggressive classification, one-vs-rest (River's
//! `multiclass.OneVsRestClassifier(linear_model.PAClassifier(C, mode))`).

use crate::error::{Result, corrupt, invalid};
use crate::learner::{
    Classes, Classifier, DEFAULT_MAX_CLASSES, check_max_classes, check_proba, check_row,
};
use serde::{Deserialize, Serialize};

/// How far a passive-aggressive step may go (Crammer et al., 2006).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaVariant {
    /// PA: the smallest step that makes the hinge loss zero, `τ = ℓ / ‖x‖²`.
    Pa,
    /// PA-I: that step capped at `C`, `τ = min(C, ℓ / ‖x‖²)` (River's `mode=1`, the default).
    PaI,
    /// PA-II: a soft step, `τ = ℓ / (‖x‖² + 1 / 2C)` (River's `mode=2`).
    PaII,
}

/// Unchecked parameters of a [`PassiveAggressive`] model; [`build`](Self::build) validates
/// them.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct PaParams {
    d: usize,
    c: f64,
    variant: PaVariant,
    intercept: bool,
    max_classes: usize,
}

impl PaParams {
    /// The aggressiveness `C` (default 1).
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }

    /// PA, PA-I (default) or PA-II.
    pub fn variant(mut self, variant: PaVariant) -> Self {
        self.variant = variant;
        self
    }

    /// Learn an intercept per class (default true, as River).
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
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
    /// [`LearnError::ZeroDimension`](crate::LearnError::ZeroDimension) or
    /// [`LearnError::InvalidParameter`](crate::LearnError::InvalidParameter).
    pub fn build(self) -> Result<PassiveAggressive> {
        if self.d == 0 {
            return Err(crate::LearnError::ZeroDimension);
        }
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(invalid("C", self.c, "must be positive and finite"));
        }
        check_max_classes(self.max_classes)?;
        Ok(PassiveAggressive {
            d: self.d,
            c: self.c,
            variant: self.variant,
            intercept: self.intercept,
            classes: Classes::new(self.max_classes),
            weights: Vec::new(),
            intercepts: Vec::new(),
        })
    }
}

/// River's `utils.math.sigmoid`: saturates to exactly 0 or 1 past ±30.
fn sigmoid(x: f64) -> f64 {
    if x < -30.0 {
        0.0
    } else if x > 30.0 {
        1.0
    } else {
        1.0 / (1.0 + (-x).exp())
    }
}

/// Passive-aggressive linear classifier, one binary PA per class (one-vs-rest).
///
/// Per record `(x, y)`, each class `c` seen so far (a new class starts at zero weights)
/// takes the hinge loss `ℓ = max(0, 1 − s·(w_c·x + b_c))` with `s = ±1` for `c = y` or not,
/// and steps `w_c += τ·s·x`, `b_c += τ·s`, with `τ` from the [`PaVariant`]. Probabilities
/// are the per-class sigmoids of the margins, normalized to sum to 1. This is River's
/// `OneVsRestClassifier(PAClassifier(C, mode))`, step for step. O(d · classes) per record.
///
/// ```
/// use spate_learn::{Classifier, PassiveAggressive, PaVariant};
///
/// let mut pa = PassiveAggressive::params(2).variant(PaVariant::PaII).c(0.5).build()?;
/// for _ in 0..20 {
///     pa.learn_one(&[1.0, 0.2], 0)?;
///     pa.learn_one(&[-1.0, 0.1], 1)?;
/// }
/// assert_eq!(pa.predict_one(&[0.8, 0.0])?, Some(0));
/// assert_eq!(pa.predict_one(&[-0.8, 0.0])?, Some(1));
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PassiveAggressive {
    d: usize,
    c: f64,
    variant: PaVariant,
    intercept: bool,
    classes: Classes,
    weights: Vec<f64>,
    intercepts: Vec<f64>,
}

impl PassiveAggressive {
    /// Parameters for `d` features: PA-I, C = 1, with intercepts (River's defaults).
    pub fn params(d: usize) -> PaParams {
        PaParams {
            d,
            c: 1.0,
            variant: PaVariant::PaI,
            intercept: true,
            max_classes: DEFAULT_MAX_CLASSES,
        }
    }

    /// The weights and intercept of class `c`'s binary classifier.
    pub fn weights(&self, c: usize) -> Option<(&[f64], f64)> {
        let w = self.weights.get(c * self.d..(c + 1) * self.d)?;
        Some((w, *self.intercepts.get(c)?))
    }

    fn margin(&self, c: usize, x: &[f64]) -> f64 {
        let mut m = 0.0;
        for (wi, xi) in self.weights[c * self.d..(c + 1) * self.d].iter().zip(x) {
            m += xi * wi;
        }
        m + self.intercepts[c]
    }

    fn tau(&self, squared_norm: f64, loss: f64) -> f64 {
        match self.variant {
            PaVariant::Pa if squared_norm > 0.0 => loss / squared_norm,
            PaVariant::PaI if squared_norm > 0.0 => self.c.min(loss / squared_norm),
            PaVariant::Pa | PaVariant::PaI => 0.0,
            PaVariant::PaII => loss / (squared_norm + 0.5 / self.c),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let k = self.classes.len();
        self.classes.validate("PassiveAggressive", k)?;
        if self.d == 0
            || !(self.c > 0.0 && self.c.is_finite())
            || self.weights.len() != k * self.d
            || self.intercepts.len() != k
            || self
                .weights
                .iter()
                .chain(&self.intercepts)
                .any(|w| !w.is_finite())
        {
            return Err(corrupt(
                "PassiveAggressive",
                "weights do not fit the classes",
            ));
        }
        Ok(())
    }
}

impl Classifier for PassiveAggressive {
    fn n_features(&self) -> usize {
        self.d
    }

    fn n_classes(&self) -> usize {
        self.classes.len()
    }

    fn learn_one(&mut self, x: &[f64], y: usize) -> Result<()> {
        check_row(x, self.d)?;
        self.classes.check(y)?;
        if self.classes.observe(y) && self.intercepts.len() < self.classes.len() {
            self.weights.resize(self.classes.len() * self.d, 0.0);
            self.intercepts.resize(self.classes.len(), 0.0);
        }
        // numpy's norm, squared: sqrt then square, as River computes it.
        let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let squared_norm = norm * norm;
        for c in 0..self.classes.len() {
            if !self.classes.is_seen(c) {
                continue;
            }
            let sign = if c == y { 1.0 } else { -1.0 };
            let loss = (1.0 - sign * self.margin(c, x)).max(0.0);
            let step = self.tau(squared_norm, loss) * sign;
            for (wi, &xi) in self.weights[c * self.d..(c + 1) * self.d].iter_mut().zip(x) {
                *wi += step * xi;
            }
            if self.intercept {
                self.intercepts[c] += step;
            }
        }
        Ok(())
    }

    fn predict_proba_into(&self, x: &[f64], proba: &mut [f64]) -> Result<()> {
        check_row(x, self.d)?;
        check_proba(proba, self.classes.len())?;
        let mut total = 0.0;
        let mut seen = 0usize;
        for (c, p) in proba.iter_mut().enumerate() {
            if self.classes.is_seen(c) {
                *p = sigmoid(self.margin(c, x));
                total += *p;
                seen += 1;
            } else {
                *p = 0.0;
            }
        }
        for (c, p) in proba.iter_mut().enumerate() {
            if self.classes.is_seen(c) {
                *p = if total != 0.0 {
                    *p / total
                } else {
                    1.0 / seen as f64
                };
            }
        }
        Ok(())
    }
}

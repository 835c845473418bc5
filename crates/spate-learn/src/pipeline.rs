//! Preprocessing chained with a model, updated test-then-train (River's `compose.Pipeline`).

use crate::encode::CategoricalEncoder;
use crate::error::{LearnError, Result};
use crate::learner::{AnomalyDetector, Classifier, check_proba};
use crate::scale::{Scaler, Transformer};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// Anything with a fixed number of input features.
pub trait Learner {
    /// Features per record.
    fn n_features(&self) -> usize;
}

impl<M: Classifier> Learner for M {
    fn n_features(&self) -> usize {
        Classifier::n_features(self)
    }
}

/// Numeric features through an optional running [`Scaler`], string features through an
/// optional [`CategoricalEncoder`], concatenated (numeric first) into the model's input.
///
/// Semantics are River's pipeline: `learn_*` first updates the preprocessing with the record,
/// then transforms it and trains the model on the result; `predict_*` / `score_*` only
/// transform, with the statistics of the past. So a test-then-train loop (predict, then
/// learn) never lets a record influence its own prediction.
///
/// ```
/// use spate_learn::{Classifier, GaussianNb, Pipeline, Scaler, StandardScaler};
///
/// let model = GaussianNb::new(2)?;
/// let mut pipe = Pipeline::new(model).scaler(Scaler::Standard(StandardScaler::new(2)?))?;
/// let stream = [([1.0, 200.0], 0), ([1.2, 180.0], 0), ([5.0, 900.0], 1), ([5.3, 950.0], 1)];
/// let mut correct = 0;
/// for (i, (x, y)) in stream.iter().cycle().take(40).enumerate() {
///     if i >= 4 && pipe.predict_one(x)? == Some(*y) {
///         correct += 1;
///     }
///     pipe.learn_one(x, *y)?;
/// }
/// assert_eq!(correct, 36);
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pipeline<M> {
    numeric: usize,
    scaler: Option<Scaler>,
    encoder: Option<CategoricalEncoder>,
    model: M,
    #[serde(skip)]
    row: Vec<f64>,
}

thread_local! {
    /// The transformed record of a prediction: predictions take `&self`, so they cannot use
    /// the pipeline's own buffer, and must not allocate per record.
    static PREDICT_ROW: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

impl<M: Learner> Pipeline<M> {
    /// The model alone: every feature numeric, passed through unchanged.
    pub fn new(model: M) -> Pipeline<M> {
        Pipeline {
            numeric: model.n_features(),
            scaler: None,
            encoder: None,
            model,
            row: Vec::new(),
        }
    }

    /// Scales the numeric features first.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] when the scaler's width is not the numeric width.
    pub fn scaler(mut self, scaler: Scaler) -> Result<Self> {
        if scaler.n_features() != self.numeric {
            return Err(LearnError::DimensionMismatch {
                expected: self.numeric,
                found: scaler.n_features(),
            });
        }
        self.scaler = Some(scaler);
        Ok(self)
    }

    /// Encodes string columns into the last `encoder.n_outputs()` model features; the
    /// numeric features are the ones before.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] when the encoder is wider than the model, or a
    /// scaler was set for another numeric width.
    pub fn encoder(mut self, encoder: CategoricalEncoder) -> Result<Self> {
        let d = self.model.n_features();
        let numeric = d
            .checked_sub(encoder.n_outputs())
            .ok_or(LearnError::DimensionMismatch {
                expected: d,
                found: encoder.n_outputs(),
            })?;
        if let Some(s) = &self.scaler
            && s.n_features() != numeric
        {
            return Err(LearnError::DimensionMismatch {
                expected: numeric,
                found: s.n_features(),
            });
        }
        self.numeric = numeric;
        self.encoder = Some(encoder);
        Ok(self)
    }
}

impl<M> Pipeline<M> {
    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The scaler, if any.
    pub fn scaler_ref(&self) -> Option<&Scaler> {
        self.scaler.as_ref()
    }

    /// The categorical encoder, if any.
    pub fn encoder_ref(&self) -> Option<&CategoricalEncoder> {
        self.encoder.as_ref()
    }

    /// Numeric features per record.
    pub fn numeric_features(&self) -> usize {
        self.numeric
    }

    /// String columns per record.
    pub fn categorical_features(&self) -> usize {
        self.encoder.as_ref().map_or(0, |e| e.columns().len())
    }

    fn model_width(&self) -> usize {
        self.numeric
            + self
                .encoder
                .as_ref()
                .map_or(0, CategoricalEncoder::n_outputs)
    }

    /// Transforms a record into `out` (model width) with the current statistics.
    fn transform_into(
        &self,
        numeric: &[f64],
        categorical: &[&str],
        out: &mut Vec<f64>,
    ) -> Result<()> {
        if numeric.len() != self.numeric {
            return Err(LearnError::DimensionMismatch {
                expected: self.numeric,
                found: numeric.len(),
            });
        }
        out.resize(self.model_width(), 0.0);
        let (head, tail) = out.split_at_mut(self.numeric);
        match &self.scaler {
            Some(s) => s.transform_into(numeric, head)?,
            None => {
                crate::learner::check_row(numeric, self.numeric)?;
                head.copy_from_slice(numeric);
            }
        }
        match &self.encoder {
            Some(e) => e.transform_into(categorical, tail)?,
            None if !categorical.is_empty() => {
                return Err(LearnError::CategoricalMismatch {
                    expected: 0,
                    found: categorical.len(),
                });
            }
            None => {}
        }
        Ok(())
    }

    /// Learns the preprocessing from a record, then transforms it into the pipeline's buffer.
    fn learn_transform(&mut self, numeric: &[f64], categorical: &[&str]) -> Result<Vec<f64>> {
        // Validate the whole record before changing any statistics.
        crate::learner::check_row(numeric, self.numeric)?;
        let expected = self.categorical_features();
        if categorical.len() != expected {
            return Err(LearnError::CategoricalMismatch {
                expected,
                found: categorical.len(),
            });
        }
        let mut row = std::mem::take(&mut self.row);
        if let Some(s) = &mut self.scaler {
            s.learn_one(numeric)?;
        }
        if let Some(e) = &mut self.encoder {
            e.learn_one(categorical)?;
        }
        self.transform_into(numeric, categorical, &mut row)?;
        Ok(row)
    }

    fn with_transformed<T>(
        &self,
        numeric: &[f64],
        categorical: &[&str],
        f: impl FnOnce(&[f64]) -> Result<T>,
    ) -> Result<T> {
        PREDICT_ROW.with(|cell| match cell.try_borrow_mut() {
            Ok(mut row) => {
                self.transform_into(numeric, categorical, &mut row)?;
                f(&row)
            }
            Err(_) => {
                let mut row = Vec::new();
                self.transform_into(numeric, categorical, &mut row)?;
                f(&row)
            }
        })
    }

    pub(crate) fn validate_parts(&self) -> Result<()> {
        if let Some(s) = &self.scaler {
            s.validate()?;
            if s.n_features() != self.numeric {
                return Err(crate::error::corrupt("Pipeline", "the scaler does not fit"));
            }
        }
        if let Some(e) = &self.encoder {
            e.validate()?;
        }
        Ok(())
    }
}

impl<M: Classifier> Pipeline<M> {
    /// Learns a record of numeric and string features (test-then-train: call the predict
    /// methods first).
    ///
    /// # Errors
    /// Shape errors, or the model's record errors; the pipeline is then unchanged, except
    /// that a record the model rejects was already learnt by the preprocessing.
    pub fn learn_mixed(&mut self, numeric: &[f64], categorical: &[&str], y: usize) -> Result<()> {
        let row = self.learn_transform(numeric, categorical)?;
        let result = self.model.learn_one(&row, y);
        self.row = row;
        result
    }

    /// Class probabilities of a record of numeric and string features.
    ///
    /// # Errors
    /// Shape errors, or a `proba` of the wrong length.
    pub fn predict_proba_mixed(
        &self,
        numeric: &[f64],
        categorical: &[&str],
        proba: &mut [f64],
    ) -> Result<()> {
        check_proba(proba, self.model.n_classes())?;
        self.with_transformed(numeric, categorical, |row| {
            self.model.predict_proba_into(row, proba)
        })
    }
}

impl<M: Classifier> Classifier for Pipeline<M> {
    fn n_features(&self) -> usize {
        self.numeric
    }

    fn n_classes(&self) -> usize {
        self.model.n_classes()
    }

    fn learn_one(&mut self, x: &[f64], y: usize) -> Result<()> {
        self.learn_mixed(x, &[], y)
    }

    fn predict_proba_into(&self, x: &[f64], proba: &mut [f64]) -> Result<()> {
        self.predict_proba_mixed(x, &[], proba)
    }
}

impl<M: AnomalyDetector> Pipeline<M> {
    /// A pipeline ending in an anomaly detector (numeric features only through `new`).
    pub fn detector(model: M) -> Pipeline<M> {
        Pipeline {
            numeric: model.n_features(),
            scaler: None,
            encoder: None,
            model,
            row: Vec::new(),
        }
    }

    /// Scales the numeric features of a detector pipeline first.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] when the scaler's width is not the numeric width.
    pub fn detector_scaler(mut self, scaler: Scaler) -> Result<Self> {
        if scaler.n_features() != self.numeric {
            return Err(LearnError::DimensionMismatch {
                expected: self.numeric,
                found: scaler.n_features(),
            });
        }
        self.scaler = Some(scaler);
        Ok(self)
    }
}

impl<M: AnomalyDetector> AnomalyDetector for Pipeline<M> {
    fn n_features(&self) -> usize {
        self.numeric
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<()> {
        let row = self.learn_transform(x, &[])?;
        let result = self.model.learn_one(&row);
        self.row = row;
        result
    }

    fn score_one(&self, x: &[f64]) -> Result<f64> {
        self.with_transformed(x, &[], |row| self.model.score_one(row))
    }
}

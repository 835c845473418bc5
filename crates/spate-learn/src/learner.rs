//! The traits every learner implements, one record at a time and one batch at a time.

use crate::error::{LearnError, Result};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// What a batch call did: rows learnt and rows skipped.
///
/// A row is skipped (and counted, never learnt) when the model rejects it as a record: a NaN
/// or infinite feature, a negative count for multinomial naive Bayes, a label past the class
/// limit. Shape errors (rows of the wrong width, labels of another length) fail the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReport {
    /// Rows the model learnt from.
    pub learned: u64,
    /// Rows skipped because the model rejected them.
    pub skipped: u64,
}

/// Whether an error is about one record (skip it) rather than the shape of the batch.
pub(crate) fn is_record_error(e: &LearnError) -> bool {
    matches!(
        e,
        LearnError::NonFiniteFeature { .. }
            | LearnError::NegativeCount { .. }
            | LearnError::LabelOutOfRange { .. }
    )
}

/// Calls `f` on each row of `x` as a contiguous slice: the matrix itself when it is in
/// standard layout, else each row copied into one buffer allocated once per call.
pub(crate) fn for_each_row(
    x: ArrayView2<'_, f64>,
    mut f: impl FnMut(usize, &[f64]) -> Result<()>,
) -> Result<()> {
    let d = x.ncols();
    if let Some(data) = x.as_slice() {
        if d == 0 {
            for i in 0..x.nrows() {
                f(i, &[])?;
            }
            return Ok(());
        }
        for (i, row) in data.chunks_exact(d).enumerate() {
            f(i, row)?;
        }
    } else {
        let mut buffer = vec![0.0; d];
        for (i, row) in x.rows().into_iter().enumerate() {
            buffer.iter_mut().zip(row).for_each(|(b, v)| *b = *v);
            f(i, &buffer)?;
        }
    }
    Ok(())
}

/// Checks a record's width and that every feature is finite.
pub(crate) fn check_row(x: &[f64], d: usize) -> Result<()> {
    if x.len() != d {
        return Err(LearnError::DimensionMismatch {
            expected: d,
            found: x.len(),
        });
    }
    match x.iter().position(|v| !v.is_finite()) {
        Some(column) => Err(LearnError::NonFiniteFeature {
            column,
            value: x[column],
        }),
        None => Ok(()),
    }
}

/// The index of the largest probability, the first one on ties; `None` for no class.
pub(crate) fn argmax(proba: &[f64]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &p) in proba.iter().enumerate() {
        if best.is_none_or(|(_, b)| p > b) {
            best = Some((i, p));
        }
    }
    best.map(|(i, _)| i)
}

/// An online classifier: `learn_one` / `predict_proba_one` / `predict_one` as in River, plus
/// batch methods over contiguous rows.
///
/// Classes are indices `0, 1, …`. A model starts knowing no class and learns each from its
/// first example, as River's do; [`n_classes`](Self::n_classes) is one more than the largest
/// label learnt, and a class slot never learnt has probability 0. To reproduce River's
/// tie-breaking (the first class seen wins a tie), number classes in order of first
/// appearance, as [`LabelEncoder`](crate::LabelEncoder) does.
///
/// A record that does not fit the model is an error and leaves the model unchanged.
pub trait Classifier {
    /// Features per record.
    fn n_features(&self) -> usize;

    /// Class slots: one more than the largest label learnt (0 before any learning).
    fn n_classes(&self) -> usize;

    /// Learns one labelled record.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`], [`LearnError::NonFiniteFeature`] or
    /// [`LearnError::LabelOutOfRange`] (and model-specific record errors); the model is then
    /// unchanged.
    fn learn_one(&mut self, x: &[f64], y: usize) -> Result<()>;

    /// Writes the probability of every class slot into `proba`, whose length must be
    /// [`n_classes`](Self::n_classes). Allocation-free: the hot path of batch prediction.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] or [`LearnError::NonFiniteFeature`] for the record,
    /// [`LearnError::LengthMismatch`] for a `proba` of the wrong length.
    fn predict_proba_into(&self, x: &[f64], proba: &mut [f64]) -> Result<()>;

    /// The probability of every class slot (empty before any learning).
    ///
    /// # Errors
    /// As [`predict_proba_into`](Self::predict_proba_into).
    fn predict_proba_one(&self, x: &[f64]) -> Result<Vec<f64>> {
        let mut proba = vec![0.0; self.n_classes()];
        self.predict_proba_into(x, &mut proba)?;
        Ok(proba)
    }

    /// The most probable class, the lowest index on ties; `None` before any learning.
    ///
    /// # Errors
    /// As [`predict_proba_into`](Self::predict_proba_into).
    fn predict_one(&self, x: &[f64]) -> Result<Option<usize>> {
        Ok(argmax(&self.predict_proba_one(x)?))
    }

    /// Learns every row in order, as `learn_one` would. Rows the model rejects as records are
    /// skipped and counted.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] for rows of the wrong width,
    /// [`LearnError::LengthMismatch`] when `y` has another length; nothing is learnt then.
    fn learn_many(&mut self, x: ArrayView2<'_, f64>, y: &[usize]) -> Result<BatchReport> {
        check_batch(x, y.len(), self.n_features())?;
        let mut report = BatchReport::default();
        for_each_row(x, |i, row| {
            match self.learn_one(row, y[i]) {
                Ok(()) => report.learned += 1,
                Err(e) if is_record_error(&e) => report.skipped += 1,
                Err(e) => return Err(e),
            }
            Ok(())
        })?;
        Ok(report)
    }

    /// The probabilities of every row, one row each, with [`n_classes`](Self::n_classes)
    /// columns; one allocation for the whole batch.
    ///
    /// # Errors
    /// As [`predict_proba_into`](Self::predict_proba_into), for the first bad row.
    fn predict_proba_many(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let k = self.n_classes();
        let mut out = Array2::zeros((x.nrows(), k));
        let buffer = out
            .as_slice_mut()
            .ok_or_else(|| LearnError::Linfa("internal: non-contiguous output".into()))?;
        for_each_row(x, |i, row| {
            self.predict_proba_into(row, &mut buffer[i * k..(i + 1) * k])
        })?;
        Ok(out)
    }

    /// The predicted class of every row (`None` before any learning).
    ///
    /// # Errors
    /// As [`predict_proba_into`](Self::predict_proba_into), for the first bad row.
    fn predict_many(&self, x: ArrayView2<'_, f64>) -> Result<Vec<Option<usize>>> {
        let proba = self.predict_proba_many(x)?;
        Ok(proba
            .rows()
            .into_iter()
            .map(|p| argmax(p.as_slice().unwrap_or(&[])))
            .collect())
    }
}

/// Checks a batch's width and label count.
pub(crate) fn check_batch(x: ArrayView2<'_, f64>, labels: usize, d: usize) -> Result<()> {
    if x.ncols() != d {
        return Err(LearnError::DimensionMismatch {
            expected: d,
            found: x.ncols(),
        });
    }
    if labels != x.nrows() {
        return Err(LearnError::LengthMismatch {
            rows: x.nrows(),
            labels,
        });
    }
    Ok(())
}

/// Checks that `proba` has one slot per class.
pub(crate) fn check_proba(proba: &[f64], k: usize) -> Result<()> {
    if proba.len() != k {
        return Err(LearnError::LengthMismatch {
            rows: k,
            labels: proba.len(),
        });
    }
    Ok(())
}

/// An online anomaly detector: `learn_one` / `score_one` as in River; a higher score is more
/// anomalous.
pub trait AnomalyDetector {
    /// Features per record.
    fn n_features(&self) -> usize;

    /// Learns one record.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] or [`LearnError::NonFiniteFeature`]; the model is
    /// then unchanged.
    fn learn_one(&mut self, x: &[f64]) -> Result<()>;

    /// The anomaly score of one record.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] or [`LearnError::NonFiniteFeature`].
    fn score_one(&self, x: &[f64]) -> Result<f64>;

    /// Learns every row in order; rows with a non-finite feature are skipped and counted.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] for rows of the wrong width.
    fn learn_many(&mut self, x: ArrayView2<'_, f64>) -> Result<BatchReport> {
        check_batch(x, x.nrows(), self.n_features())?;
        let mut report = BatchReport::default();
        for_each_row(x, |_, row| {
            match self.learn_one(row) {
                Ok(()) => report.learned += 1,
                Err(e) if is_record_error(&e) => report.skipped += 1,
                Err(e) => return Err(e),
            }
            Ok(())
        })?;
        Ok(report)
    }

    /// The score of every row; NaN for a row with a non-finite feature.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`] for rows of the wrong width.
    fn score_many(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        check_batch(x, x.nrows(), self.n_features())?;
        let mut scores = Vec::with_capacity(x.nrows());
        for_each_row(x, |_, row| {
            scores.push(match self.score_one(row) {
                Ok(s) => s,
                Err(e) if is_record_error(&e) => f64::NAN,
                Err(e) => return Err(e),
            });
            Ok(())
        })?;
        Ok(scores)
    }
}

/// The classes a model has learnt: which slots are in use, up to a limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Classes {
    seen: Vec<bool>,
    max_classes: usize,
}

impl Classes {
    pub(crate) fn new(max_classes: usize) -> Classes {
        Classes {
            seen: Vec::new(),
            max_classes,
        }
    }

    /// Class slots in use: one more than the largest label learnt.
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    pub(crate) fn is_seen(&self, c: usize) -> bool {
        self.seen.get(c).copied().unwrap_or(false)
    }

    /// Checks a label against the limit, without recording it.
    pub(crate) fn check(&self, y: usize) -> Result<()> {
        if y >= self.max_classes {
            return Err(LearnError::LabelOutOfRange {
                label: y,
                max_classes: self.max_classes,
            });
        }
        Ok(())
    }

    /// Records label `y`; returns whether it is new. Call [`check`](Self::check) first.
    pub(crate) fn observe(&mut self, y: usize) -> bool {
        if y >= self.seen.len() {
            self.seen.resize(y + 1, false);
        }
        !std::mem::replace(&mut self.seen[y], true)
    }

    /// The learnt classes in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.seen
            .iter()
            .enumerate()
            .filter_map(|(c, &s)| s.then_some(c))
    }

    pub(crate) fn validate(&self, model: &'static str, slots: usize) -> Result<()> {
        if self.seen.len() != slots || self.seen.len() > self.max_classes {
            return Err(crate::error::corrupt(
                model,
                format!(
                    "{} class slots recorded for {slots} in use (limit {})",
                    self.seen.len(),
                    self.max_classes
                ),
            ));
        }
        Ok(())
    }
}

/// The default limit on class labels: labels are indices, so a label of a million would
/// otherwise allocate a million class slots.
pub const DEFAULT_MAX_CLASSES: usize = 1024;

/// Validates a `max_classes` parameter.
pub(crate) fn check_max_classes(max_classes: usize) -> Result<()> {
    if !(2..=1 << 20).contains(&max_classes) {
        return Err(crate::error::invalid(
            "max_classes",
            max_classes,
            "between 2 and 1048576",
        ));
    }
    Ok(())
}

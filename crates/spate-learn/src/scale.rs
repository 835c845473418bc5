//! Running scalers that never look ahead: River's `StandardScaler` and `MinMaxScaler`.

use crate::error::{Result, corrupt};
use crate::learner::{check_row, for_each_row};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// An online transformation of numeric rows into rows of the same width.
///
/// `learn_one` updates the statistics with a record; `transform_*` uses the statistics as
/// they are, so a record transformed before it is learnt is scaled only by the past: the
/// scaler never looks ahead. In a [`Pipeline`](crate::Pipeline) the record is learnt first
/// and then transformed when training, and transformed only when predicting, as in River.
pub trait Transformer {
    /// Features per record (in and out).
    fn n_features(&self) -> usize;

    /// Updates the statistics with one record.
    ///
    /// # Errors
    /// [`LearnError::DimensionMismatch`](crate::LearnError::DimensionMismatch) or
    /// [`LearnError::NonFiniteFeature`](crate::LearnError::NonFiniteFeature); the statistics
    /// are then unchanged.
    fn learn_one(&mut self, x: &[f64]) -> Result<()>;

    /// Transforms one record into `out` (same width). Allocation-free.
    ///
    /// # Errors
    /// As [`learn_one`](Self::learn_one), or a mismatched `out`.
    fn transform_into(&self, x: &[f64], out: &mut [f64]) -> Result<()>;

    /// Transforms one record.
    ///
    /// # Errors
    /// As [`transform_into`](Self::transform_into).
    fn transform_one(&self, x: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; x.len()];
        self.transform_into(x, &mut out)?;
        Ok(out)
    }

    /// Transforms every row; one allocation for the batch.
    ///
    /// # Errors
    /// As [`transform_into`](Self::transform_into), for the first bad row.
    fn transform_many(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let d = self.n_features();
        let mut out = Array2::zeros((x.nrows(), d));
        if let Some(buffer) = out.as_slice_mut() {
            for_each_row(x, |i, row| {
                self.transform_into(row, &mut buffer[i * d..(i + 1) * d])
            })?;
        }
        Ok(out)
    }
}

fn check_out(out: &[f64], d: usize) -> Result<()> {
    if out.len() != d {
        return Err(crate::LearnError::DimensionMismatch {
            expected: d,
            found: out.len(),
        });
    }
    Ok(())
}

/// Running standardization `(x − mean) / sd` with the population variance of the records
/// learnt so far (River's `preprocessing.StandardScaler`, Welford's update). A feature
/// without spread yet maps to 0.
///
/// ```
/// use spate_learn::{StandardScaler, Transformer};
///
/// let mut scaler = StandardScaler::new(1)?;
/// for x in [1.0, 2.0, 3.0] {
///     scaler.learn_one(&[x])?;
/// }
/// // mean 2, population sd √(2/3)
/// let z = scaler.transform_one(&[3.0])?[0];
/// assert!((z - 1.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    count: f64,
    means: Vec<f64>,
    vars: Vec<f64>,
}

impl StandardScaler {
    /// A scaler for `d` features that has seen nothing.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`](crate::LearnError::ZeroDimension).
    pub fn new(d: usize) -> Result<StandardScaler> {
        if d == 0 {
            return Err(crate::LearnError::ZeroDimension);
        }
        Ok(StandardScaler {
            count: 0.0,
            means: vec![0.0; d],
            vars: vec![0.0; d],
        })
    }

    /// Records learnt.
    pub fn count(&self) -> u64 {
        self.count as u64
    }

    /// The running mean of each feature.
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// The running population variance of each feature.
    pub fn variances(&self) -> &[f64] {
        &self.vars
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let ok = self.count.is_finite()
            && self.count >= 0.0
            && !self.means.is_empty()
            && self.means.len() == self.vars.len()
            && self.means.iter().chain(&self.vars).all(|v| v.is_finite())
            && self.vars.iter().all(|&v| v >= 0.0);
        if !ok {
            return Err(corrupt("StandardScaler", "means and variances do not fit"));
        }
        Ok(())
    }
}

impl Transformer for StandardScaler {
    fn n_features(&self) -> usize {
        self.means.len()
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<()> {
        check_row(x, self.means.len())?;
        self.count += 1.0;
        let n = self.count;
        for ((m, v), &xi) in self.means.iter_mut().zip(&mut self.vars).zip(x) {
            let old = *m;
            *m += (xi - old) / n;
            *v += ((xi - old) * (xi - *m) - *v) / n;
        }
        Ok(())
    }

    fn transform_into(&self, x: &[f64], out: &mut [f64]) -> Result<()> {
        check_row(x, self.means.len())?;
        check_out(out, self.means.len())?;
        for (((o, &xi), &m), &v) in out.iter_mut().zip(x).zip(&self.means).zip(&self.vars) {
            *o = if v != 0.0 { (xi - m) / v.sqrt() } else { 0.0 };
        }
        Ok(())
    }
}

/// Running min-max scaling `(x − min) / (max − min)` over the records learnt so far (River's
/// `preprocessing.MinMaxScaler`). A feature without range yet maps to 0; a record outside
/// the range seen maps outside `[0, 1]`.
///
/// ```
/// use spate_learn::{MinMaxScaler, Transformer};
///
/// let mut scaler = MinMaxScaler::new(1)?;
/// scaler.learn_one(&[10.0])?;
/// scaler.learn_one(&[20.0])?;
/// assert_eq!(scaler.transform_one(&[12.5])?, vec![0.25]);
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScaler {
    count: u64,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl MinMaxScaler {
    /// A scaler for `d` features that has seen nothing.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`](crate::LearnError::ZeroDimension).
    pub fn new(d: usize) -> Result<MinMaxScaler> {
        if d == 0 {
            return Err(crate::LearnError::ZeroDimension);
        }
        Ok(MinMaxScaler {
            count: 0,
            min: vec![0.0; d],
            max: vec![0.0; d],
        })
    }

    /// The smallest value seen of each feature (0 before any record).
    pub fn min(&self) -> &[f64] {
        &self.min
    }

    /// The largest value seen of each feature (0 before any record).
    pub fn max(&self) -> &[f64] {
        &self.max
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let ok = !self.min.is_empty()
            && self.min.len() == self.max.len()
            && self
                .min
                .iter()
                .zip(&self.max)
                .all(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo <= hi);
        if !ok {
            return Err(corrupt("MinMaxScaler", "minima and maxima do not fit"));
        }
        Ok(())
    }
}

impl Transformer for MinMaxScaler {
    fn n_features(&self) -> usize {
        self.min.len()
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<()> {
        check_row(x, self.min.len())?;
        if self.count == 0 {
            self.min.copy_from_slice(x);
            self.max.copy_from_slice(x);
        } else {
            for ((lo, hi), &xi) in self.min.iter_mut().zip(&mut self.max).zip(x) {
                *lo = lo.min(xi);
                *hi = hi.max(xi);
            }
        }
        self.count += 1;
        Ok(())
    }

    fn transform_into(&self, x: &[f64], out: &mut [f64]) -> Result<()> {
        check_row(x, self.min.len())?;
        check_out(out, self.min.len())?;
        for (((o, &xi), &lo), &hi) in out.iter_mut().zip(x).zip(&self.min).zip(&self.max) {
            let range = hi - lo;
            *o = if range != 0.0 { (xi - lo) / range } else { 0.0 };
        }
        Ok(())
    }
}

/// A scaler chosen at run time: what a [`Pipeline`](crate::Pipeline) holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scaler {
    /// [`StandardScaler`].
    Standard(StandardScaler),
    /// [`MinMaxScaler`].
    MinMax(MinMaxScaler),
}

impl Scaler {
    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            Scaler::Standard(s) => s.validate(),
            Scaler::MinMax(s) => s.validate(),
        }
    }
}

impl Transformer for Scaler {
    fn n_features(&self) -> usize {
        match self {
            Scaler::Standard(s) => s.n_features(),
            Scaler::MinMax(s) => s.n_features(),
        }
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<()> {
        match self {
            Scaler::Standard(s) => s.learn_one(x),
            Scaler::MinMax(s) => s.learn_one(x),
        }
    }

    fn transform_into(&self, x: &[f64], out: &mut [f64]) -> Result<()> {
        match self {
            Scaler::Standard(s) => s.transform_into(x, out),
            Scaler::MinMax(s) => s.transform_into(x, out),
        }
    }
}

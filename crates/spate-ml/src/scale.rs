//! Standardization of features, and the way back to the original units.

use crate::error::{MlError, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// Standardizes feature columns to `(x − mean) / sd` (Spark's `StandardScalerModel` with
/// mean and std), and maps centers and linear weights back to the original units.
///
/// A column whose standard deviation is zero, or below `1e-12 × max(|mean|, 1)` (constant up
/// to rounding), is only centred: dividing by a vanishing spread would blow rounding noise up
/// into a dominant feature. Such columns are listed by
/// [`constant_columns`](Self::constant_columns).
///
/// The means and standard deviations come from the caller — a prepass over a file, the first
/// batch, or `spate-stats` moments merged over a stream — so the choice stays visible.
///
/// ```
/// use ndarray::array;
/// use spate_ml::Standardizer;
///
/// let s = Standardizer::new(vec![10.0, 5.0], vec![2.0, 0.0])?;
/// assert_eq!(s.transform_row(vec![14.0, 5.0]), vec![2.0, 0.0]);
/// assert_eq!(s.constant_columns(), vec![1]);
/// // A model fitted on standardized features, y = 3·z₀ + 1, in the original units:
/// let (w, b) = s.linear_to_original(array![3.0, 0.0].view(), 1.0)?;
/// assert_eq!((w[0], b), (1.5, -14.0));
/// # Ok::<(), spate_ml::MlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    mean: Vec<f64>,
    /// The divisor of each column: its standard deviation, or 1 for a constant column.
    scale: Vec<f64>,
    constant: Vec<usize>,
}

impl Standardizer {
    /// A standardizer from each column's mean and standard deviation.
    ///
    /// # Errors
    /// [`MlError::StandardizerLength`], [`MlError::NonFiniteParameter`] for a non-finite
    /// mean, or [`MlError::InvalidStdDev`].
    pub fn new(means: Vec<f64>, std_devs: Vec<f64>) -> Result<Standardizer> {
        if means.len() != std_devs.len() {
            return Err(MlError::StandardizerLength {
                means: means.len(),
                std_devs: std_devs.len(),
            });
        }
        if means.iter().any(|m| !m.is_finite()) {
            return Err(MlError::NonFiniteParameter { what: "means" });
        }
        let mut constant = Vec::new();
        let mut scale = Vec::with_capacity(std_devs.len());
        for (column, (&sd, &m)) in std_devs.iter().zip(&means).enumerate() {
            if !(sd.is_finite() && sd >= 0.0) {
                return Err(MlError::InvalidStdDev {
                    column,
                    std_dev: sd,
                });
            }
            if sd <= 1e-12 * m.abs().max(1.0) {
                constant.push(column);
                scale.push(1.0);
            } else {
                scale.push(sd);
            }
        }
        Ok(Standardizer {
            mean: means,
            scale,
            constant,
        })
    }

    /// Number of columns.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The mean subtracted from each column.
    pub fn means(&self) -> ArrayView1<'_, f64> {
        ArrayView1::from(&self.mean[..])
    }

    /// The divisor of each column (its standard deviation, 1 for a constant column).
    pub fn scales(&self) -> ArrayView1<'_, f64> {
        ArrayView1::from(&self.scale[..])
    }

    /// The columns that are only centred, because their spread is zero.
    pub fn constant_columns(&self) -> Vec<usize> {
        self.constant.clone()
    }

    /// Standardizes one row in place. A row of another length becomes all NaN, so that
    /// models skip it and count it instead of reading misaligned columns.
    pub fn transform_row(&self, mut row: Vec<f64>) -> Vec<f64> {
        if row.len() == self.dim() {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *x = (*x - m) / s;
            }
        } else {
            row.iter_mut().for_each(|x| *x = f64::NAN);
        }
        row
    }

    /// Maps standardized rows (e.g. cluster centers) back to the original units.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn inverse_transform(&self, rows: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.check(rows.ncols())?;
        let mut out = rows.to_owned();
        for mut row in out.rows_mut() {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *x = *x * s + m;
            }
        }
        Ok(out)
    }

    /// Weights and intercept of a linear model fitted on standardized features, expressed
    /// on the original features: `w'ⱼ = wⱼ / sⱼ`, `b' = b − Σ wⱼ·mⱼ / sⱼ`.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn linear_to_original(
        &self,
        weights: ArrayView1<'_, f64>,
        intercept: f64,
    ) -> Result<(Array1<f64>, f64)> {
        self.check(weights.len())?;
        let w: Array1<f64> = weights
            .iter()
            .zip(&self.scale)
            .map(|(w, s)| w / s)
            .collect();
        let shift: f64 = w.iter().zip(&self.mean).map(|(w, m)| w * m).sum();
        Ok((w, intercept - shift))
    }

    fn check(&self, found: usize) -> Result<()> {
        if found != self.dim() {
            return Err(MlError::DimensionMismatch {
                expected: self.dim(),
                found,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_guards() {
        let s = Standardizer::new(vec![1e6, -3.0], vec![1e-9, 4.0]).unwrap();
        assert_eq!(s.constant_columns(), vec![0]);
        let z = s.transform_row(vec![1e6 + 2.0, 5.0]);
        assert_eq!(z, vec![2.0, 2.0]);
        let back = s
            .inverse_transform(Array2::from_shape_vec((1, 2), z).unwrap().view())
            .unwrap();
        assert_eq!(back.row(0).to_vec(), vec![1e6 + 2.0, 5.0]);
        assert!(s.transform_row(vec![1.0]).iter().all(|x| x.is_nan()));
        assert!(matches!(
            Standardizer::new(vec![0.0], vec![-1.0]),
            Err(MlError::InvalidStdDev { column: 0, .. })
        ));
        assert!(matches!(
            Standardizer::new(vec![0.0, 1.0], vec![1.0]),
            Err(MlError::StandardizerLength { .. })
        ));
    }
}

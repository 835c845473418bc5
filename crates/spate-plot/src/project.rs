//! 2-D projections of d-dimensional points for scatter charts.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::error::PlotError;

/// Projection onto the first two principal components of a data set.
///
/// Fit it once (say on the first batches or a sample) and project every later batch and
/// every centroid with the same `Pca2`, so that positions are comparable across batches
/// and centroid trajectories are meaningful.
///
/// Components are the top two eigenvectors of the sample covariance, found with the cyclic
/// Jacobi method (O(d³) per sweep, a few sweeps; fitting costs O(n·d²) for the covariance).
/// Each component's sign is fixed so its largest-magnitude entry is positive, making the
/// result deterministic.
///
/// # Example
///
/// ```
/// use ndarray::array;
/// use spate_plot::Pca2;
///
/// let data = array![[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [3.0, 6.1, 0.0], [4.0, 8.0, 0.1]];
/// let pca = Pca2::fit(data.view())?;
/// let xy = pca.project(data.view())?;
/// assert_eq!(xy.len(), 4);
/// assert!(pca.explained_variance()[0] > 100.0 * pca.explained_variance()[1]);
/// # Ok::<(), spate_plot::PlotError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pca2 {
    mean: Array1<f64>,
    /// 2 × d, one component per row.
    components: Array2<f64>,
    variance: [f64; 2],
    rows_skipped: usize,
}

impl Pca2 {
    /// Fits the projection to `data` (one point per row). Rows with a non-finite value are
    /// left out of the fit and counted in [`rows_skipped`](Self::rows_skipped).
    ///
    /// Fails with [`PlotError::TooFewColumns`] for fewer than 2 columns and
    /// [`PlotError::TooFewRows`] for fewer than 2 usable rows.
    pub fn fit(data: ArrayView2<'_, f64>) -> Result<Self, PlotError> {
        let d = data.ncols();
        if d < 2 {
            return Err(PlotError::TooFewColumns { columns: d });
        }
        let finite: Vec<usize> = data
            .outer_iter()
            .enumerate()
            .filter(|(_, row)| row.iter().all(|v| v.is_finite()))
            .map(|(i, _)| i)
            .collect();
        let n = finite.len();
        if n < 2 {
            return Err(PlotError::TooFewRows { rows: n });
        }
        let rows = data.select(Axis(0), &finite);
        let mean = rows.sum_axis(Axis(0)) / n as f64;
        let centred = &rows - &mean;
        let cov = centred.t().dot(&centred) / (n - 1) as f64;
        let (values, vectors) = symmetric_eigen(cov);

        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let mut components = Array2::zeros((2, d));
        for (row, &k) in order.iter().take(2).enumerate() {
            let mut v = vectors.column(k).to_owned();
            let pivot = v
                .iter()
                .copied()
                .max_by(|a, b| a.abs().total_cmp(&b.abs()))
                .unwrap_or(1.0);
            if pivot < 0.0 {
                v.mapv_inplace(|x| -x);
            }
            components.row_mut(row).assign(&v);
        }
        Ok(Pca2 {
            mean,
            components,
            variance: [values[order[0]].max(0.0), values[order[1]].max(0.0)],
            rows_skipped: data.nrows() - n,
        })
    }

    /// Projects each row of `data` to `(pc1, pc2)`. A row with a non-finite value projects
    /// to a non-finite point, which charts skip and count.
    ///
    /// Fails with [`PlotError::LengthMismatch`] if `data` has a different number of
    /// columns from the fitted data.
    pub fn project(&self, data: ArrayView2<'_, f64>) -> Result<Vec<(f64, f64)>, PlotError> {
        self.check_dim(data.ncols())?;
        let projected = (&data - &self.mean).dot(&self.components.t());
        Ok(projected.outer_iter().map(|r| (r[0], r[1])).collect())
    }

    /// Projects one point, e.g. a centroid.
    pub fn project_point(&self, point: ArrayView1<'_, f64>) -> Result<(f64, f64), PlotError> {
        self.check_dim(point.len())?;
        let centred = &point - &self.mean;
        Ok((
            self.components.row(0).dot(&centred),
            self.components.row(1).dot(&centred),
        ))
    }

    /// The mean subtracted before projecting.
    pub fn mean(&self) -> ArrayView1<'_, f64> {
        self.mean.view()
    }

    /// The two unit-length principal directions, one per row (2 × d).
    pub fn components(&self) -> ArrayView2<'_, f64> {
        self.components.view()
    }

    /// Sample variance of the fitted data along each component (the top two eigenvalues
    /// of the covariance, with divisor n − 1).
    pub fn explained_variance(&self) -> [f64; 2] {
        self.variance
    }

    /// Rows left out of the fit because they held a non-finite value.
    pub fn rows_skipped(&self) -> usize {
        self.rows_skipped
    }

    fn check_dim(&self, got: usize) -> Result<(), PlotError> {
        if got == self.mean.len() {
            Ok(())
        } else {
            Err(PlotError::LengthMismatch {
                what: "columns of the points to project (as in the fitted data)",
                expected: self.mean.len(),
                got,
            })
        }
    }
}

/// Two chosen columns of `data` as `(x, y)` points: the simplest 2-D view of d-dimensional
/// points when two features are meaningful on their own.
pub fn column_pair(
    data: ArrayView2<'_, f64>,
    x_column: usize,
    y_column: usize,
) -> Result<Vec<(f64, f64)>, PlotError> {
    let columns = data.ncols();
    for column in [x_column, y_column] {
        if column >= columns {
            return Err(PlotError::ColumnOutOfRange { column, columns });
        }
    }
    Ok(data
        .outer_iter()
        .map(|r| (r[x_column], r[y_column]))
        .collect())
}

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations.
///
/// Chosen over power iteration because it is exact for repeated eigenvalues and needs no
/// starting vector; d is small here (feature count), so O(d³) sweeps are cheap.
fn symmetric_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let d = a.nrows();
    let mut v = Array2::<f64>::eye(d);
    let scale: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|p| (p + 1..d).map(move |q| (p, q)))
            .map(|(p, q)| a[[p, q]] * a[[p, q]])
            .sum();
        if off <= scale * 1e-30 || off == 0.0 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[[p, q]];
                if apq == 0.0 {
                    continue;
                }
                // Rotation that zeroes a[p][q], taking the smaller angle for stability
                // (Numerical Recipes, §11.1).
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[[i, i]]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn jacobi_matches_closed_form_2x2() {
        // [[a, b], [b, c]] has eigenvalues (a+c)/2 ± sqrt(((a-c)/2)^2 + b^2).
        let (a, b, c) = (4.0, 1.5, 1.0);
        let (vals, vecs) = symmetric_eigen(array![[a, b], [b, c]]);
        let mid = (a + c) / 2.0;
        let r = (((a - c) / 2.0f64).powi(2) + b * b).sqrt();
        let mut sorted = vals.clone();
        sorted.sort_by(|x, y| y.total_cmp(x));
        assert!((sorted[0] - (mid + r)).abs() < 1e-12);
        assert!((sorted[1] - (mid - r)).abs() < 1e-12);
        // A v = λ v for each column.
        let m = array![[a, b], [b, c]];
        for (k, &lambda) in vals.iter().enumerate() {
            let v = vecs.column(k);
            let av = m.dot(&v);
            for (avi, vi) in av.iter().zip(v) {
                assert!((avi - lambda * vi).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn jacobi_handles_repeated_eigenvalues() {
        let (vals, vecs) = symmetric_eigen(Array2::eye(4) * 3.0);
        assert!(vals.iter().all(|&l| (l - 3.0).abs() < 1e-15));
        assert_eq!(vecs, Array2::eye(4));
    }
}

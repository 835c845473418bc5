//! Exact streaming least squares from merged centred co-moments, optionally forgetting
//! (recursive least squares).

use crate::error::{MlError, Result};
use crate::linalg::{scale_by, scale_for, solve_psd};
use crate::metrics::RegressionMetrics;
use crate::online::{OnlineModel, Round};
use crate::regression::{Labeled, check_labeled, dot, for_each_valid_row_rev};
use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use spate_core::Merge;

/// Exponentially weighted, centred co-moments of `(x, y)`: the sufficient statistics of
/// (weighted) least squares, mergeable across partitions.
///
/// With forgetting factor `λ`, the `i`-th of `n` rows weighs `λ^(n−1−i)`; `λ = 1` gives plain
/// sums. Rows are centred on the weighted means, so features offset by large constants lose no
/// precision (the normal equations are never formed from raw sums).
///
/// Merge is Chan's parallel update with the earlier summary discounted by `λ^(rows of the
/// later one)`: associative up to rounding; commutative only for `λ = 1` (partitions are
/// merged in order, as the engine does).
///
/// Columns of extreme magnitude (beyond about 1e77 or below 1e-77, where products of two
/// deviations would over- or underflow) are kept scaled by a power of two, per column, so
/// regressions on values near 1e200 or 1e-200 are as accurate as on values near 1.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LeastSquaresStats {
    /// 0 only for the empty summary.
    dim: usize,
    forgetting: f64,
    rows: u64,
    skipped: u64,
    weight: f64,
    mean_x: Vec<f64>,
    mean_y: f64,
    /// `dim × dim`, row-major, upper triangle only.
    cxx: Vec<f64>,
    cxy: Vec<f64>,
    cyy: f64,
    /// Per feature, the binary exponent of the units its mean and co-moments are kept in
    /// (feature `i` is held as `x_i · 2^-x_scale[i]`); 0 for ordinary magnitudes.
    x_scale: Vec<i32>,
    /// The same for the target.
    y_scale: i32,
    incompatible: bool,
}

impl LeastSquaresStats {
    fn empty(dim: usize, forgetting: f64) -> Self {
        Self {
            dim,
            forgetting,
            mean_x: vec![0.0; dim],
            cxx: vec![0.0; dim * dim],
            cxy: vec![0.0; dim],
            x_scale: vec![0; dim],
            ..Self::default()
        }
    }

    /// The summary of a partition, its columns scaled by powers of two where their
    /// magnitudes call for it (a scaled copy of the partition is made only then).
    fn from_partition(x: ArrayView2<'_, f64>, y: ArrayView1<'_, f64>, forgetting: f64) -> Self {
        let mut largest_x = vec![0.0_f64; x.ncols()];
        let mut largest_y = 0.0_f64;
        for_each_valid_row_rev(x, y, |row, yi| {
            for (l, v) in largest_x.iter_mut().zip(row) {
                *l = l.max(v.abs());
            }
            largest_y = largest_y.max(yi.abs());
        });
        let x_scale: Vec<i32> = largest_x.iter().map(|&l| scale_for(l)).collect();
        let y_scale = scale_for(largest_y);
        if y_scale == 0 && x_scale.iter().all(|&e| e == 0) {
            return Self::from_scaled(x, y, forgetting);
        }
        let xs = ndarray::Array2::from_shape_fn(x.dim(), |(r, c)| scale_by(x[[r, c]], -x_scale[c]));
        let ys = y.mapv(|v| scale_by(v, -y_scale));
        let mut s = Self::from_scaled(xs.view(), ys.view(), forgetting);
        s.x_scale = x_scale;
        s.y_scale = y_scale;
        s
    }

    /// Two passes over the partition, newest row first so each row's weight is known.
    fn from_scaled(x: ArrayView2<'_, f64>, y: ArrayView1<'_, f64>, forgetting: f64) -> Self {
        let d = x.ncols();
        let mut s = Self::empty(d, forgetting);
        let mut w = 1.0;
        let mut sum_x = vec![0.0; d];
        let mut sum_y = 0.0;
        s.skipped = for_each_valid_row_rev(x, y, |row, yi| {
            s.weight += w;
            s.rows += 1;
            for (acc, v) in sum_x.iter_mut().zip(row) {
                *acc += w * v;
            }
            sum_y += w * yi;
            w *= forgetting;
        });
        if s.rows == 0 {
            return s;
        }
        for (m, acc) in s.mean_x.iter_mut().zip(&sum_x) {
            *m = acc / s.weight;
        }
        s.mean_y = sum_y / s.weight;
        let mut w = 1.0;
        let mut dx = vec![0.0; d];
        for_each_valid_row_rev(x, y, |row, yi| {
            for ((c, v), m) in dx.iter_mut().zip(row).zip(&s.mean_x) {
                *c = v - m;
            }
            let dy = yi - s.mean_y;
            for (i, &di) in dx.iter().enumerate() {
                let wdi = w * di;
                for (c, &dj) in s.cxx[i * d + i..(i + 1) * d].iter_mut().zip(&dx[i..]) {
                    *c += wdi * dj;
                }
                s.cxy[i] += wdi * dy;
            }
            s.cyy += w * dy * dy;
            w *= forgetting;
        });
        s
    }

    /// Rows summarized (the skipped ones excluded).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows skipped because a feature or the target was NaN or infinite.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Internal lengths and parameters agree (a summary that crossed the wire may have been
    /// tampered with).
    fn consistent(&self) -> bool {
        let d = self.dim;
        !self.incompatible
            && self.mean_x.len() == d
            && self.cxx.len() == d * d
            && self.cxy.len() == d
            && self.x_scale.len() == d
            && (d == 0 || (self.forgetting > 0.0 && self.forgetting <= 1.0))
            && self.weight >= 0.0
    }

    fn is_empty(&self) -> bool {
        self.dim == 0 && self.consistent()
    }

    /// Re-expresses the summary in units of `2^x_scale` and `2^y_scale` (exact, unless a
    /// value falls below the smallest subnormal of the new units).
    fn rescale(&mut self, x_scale: &[i32], y_scale: i32) {
        let d = self.dim;
        let dx: Vec<i32> = self
            .x_scale
            .iter()
            .zip(x_scale)
            .map(|(a, b)| a - b)
            .collect();
        let dy = self.y_scale - y_scale;
        if dy == 0 && dx.iter().all(|&e| e == 0) {
            return;
        }
        for i in 0..d {
            self.mean_x[i] = scale_by(self.mean_x[i], dx[i]);
            for j in i..d {
                self.cxx[i * d + j] = scale_by(self.cxx[i * d + j], dx[i] + dx[j]);
            }
            self.cxy[i] = scale_by(self.cxy[i], dx[i] + dy);
        }
        self.mean_y = scale_by(self.mean_y, dy);
        self.cyy = scale_by(self.cyy, 2 * dy);
        self.x_scale = x_scale.to_vec();
        self.y_scale = y_scale;
    }
}

impl Merge for LeastSquaresStats {
    fn merge(&mut self, later: &Self) {
        if later.is_empty() {
            return;
        }
        if self.is_empty() {
            self.clone_from(later);
            return;
        }
        if !self.consistent()
            || !later.consistent()
            || self.dim != later.dim
            || self.forgetting.to_bits() != later.forgetting.to_bits()
        {
            self.incompatible = true;
            return;
        }
        self.skipped += later.skipped;
        if later.rows == 0 {
            return;
        }
        if self.rows == 0 {
            // No data here yet: take the later summary's units as they are (the larger
            // scale of an empty summary would flush tiny values to zero).
            self.x_scale.clone_from(&later.x_scale);
            self.y_scale = later.y_scale;
        }
        // Both in the larger scale of each column.
        let x_scale: Vec<i32> = self
            .x_scale
            .iter()
            .zip(&later.x_scale)
            .map(|(a, b)| *a.max(b))
            .collect();
        let y_scale = self.y_scale.max(later.y_scale);
        self.rescale(&x_scale, y_scale);
        let rescaled;
        let later = if later.x_scale == x_scale && later.y_scale == y_scale {
            later
        } else {
            let mut copy = later.clone();
            copy.rescale(&x_scale, y_scale);
            rescaled = copy;
            &rescaled
        };
        let discount = self.forgetting.powf(later.rows as f64);
        let wa = self.weight * discount;
        let wb = later.weight;
        let total = wa + wb;
        let d = self.dim;
        let fb = wb / total;
        let cross = wa * wb / total;
        let delta: Vec<f64> = later
            .mean_x
            .iter()
            .zip(&self.mean_x)
            .map(|(b, a)| b - a)
            .collect();
        let delta_y = later.mean_y - self.mean_y;
        for i in 0..d {
            for j in i..d {
                let c = &mut self.cxx[i * d + j];
                *c = *c * discount + later.cxx[i * d + j] + delta[i] * delta[j] * cross;
            }
            self.cxy[i] = self.cxy[i] * discount + later.cxy[i] + delta[i] * delta_y * cross;
        }
        self.cyy = self.cyy * discount + later.cyy + delta_y * delta_y * cross;
        for (m, dl) in self.mean_x.iter_mut().zip(&delta) {
            *m += dl * fb;
        }
        self.mean_y += delta_y * fb;
        self.weight = total;
        self.rows += later.rows;
    }
}

/// Unchecked parameters of [`StreamingLeastSquares`]; [`build`](Self::build) validates them.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct LeastSquaresParams {
    dim: usize,
    intercept: bool,
    forgetting: f64,
    ridge: f64,
}

impl LeastSquaresParams {
    /// Fit an intercept (default true). Without one the fit goes through the origin.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }

    /// Forgetting factor `λ ∈ (0, 1]` per row (default 1: exact least squares over all rows).
    /// Below 1 this is recursive least squares: a row `n` rows old weighs `λ^n`.
    pub fn forgetting_factor(mut self, lambda: f64) -> Self {
        self.forgetting = lambda;
        self
    }

    /// Ridge penalty `δ ≥ 0` on the slopes (default 0), decaying with the forgetting factor as
    /// `δ·λ^n`: classic RLS started from `P₀ = I/δ`.
    pub fn ridge(mut self, delta: f64) -> Self {
        self.ridge = delta;
        self
    }

    /// Validate the parameters and create the model (all weights 0).
    ///
    /// # Errors
    /// [`MlError::ZeroDimension`], [`MlError::InvalidForgetting`] or [`MlError::InvalidRidge`].
    pub fn build(self) -> Result<StreamingLeastSquares> {
        if self.dim == 0 {
            return Err(MlError::ZeroDimension);
        }
        if !(self.forgetting > 0.0 && self.forgetting <= 1.0) {
            return Err(MlError::InvalidForgetting {
                factor: self.forgetting,
            });
        }
        if !(self.ridge >= 0.0 && self.ridge.is_finite()) {
            return Err(MlError::InvalidRidge { ridge: self.ridge });
        }
        Ok(StreamingLeastSquares {
            intercept: self.intercept,
            ridge: self.ridge,
            state: LeastSquaresStats::empty(self.dim, self.forgetting),
            weights: vec![0.0; self.dim],
            bias: 0.0,
            rank: 0,
        })
    }
}

/// What one batch did to a [`StreamingLeastSquares`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LeastSquaresReport {
    /// Rows absorbed in this batch.
    pub rows: u64,
    /// Rows skipped because a feature or the target was NaN or infinite.
    pub skipped: u64,
    /// Numerical rank of the (centred) system after this batch; below the number of
    /// features, the collinear features have weight 0.
    pub rank: usize,
}

/// Exact least squares over a stream, updated per batch from merged centred co-moments.
///
/// After every batch the weights equal the batch least-squares solution over all rows seen so
/// far (to rounding), or with a forgetting factor `λ < 1`, the exponentially weighted solution
/// that recursive least squares tracks. Memory is `O(d²)` whatever the stream length.
///
/// Cost: `O(n·d²)` per batch to summarize, `O(d³)` to apply (a pivoted Cholesky solve).
/// An empty batch changes nothing; before any row arrives all weights are 0.
///
/// Collinear features are detected scale-invariantly and get weight 0 (see
/// [`LeastSquaresReport::rank`]). Rows with a non-finite feature or target are skipped and
/// counted.
///
/// ```
/// use ndarray::array;
/// use spate_ml::{OnlineModel, StreamingLeastSquares};
///
/// let mut model = StreamingLeastSquares::params(1).build()?;
/// model.update((array![[0.0], [1.0]].view(), array![1.0, 3.0].view()))?;
/// model.update((array![[2.0]].view(), array![5.0].view()))?;
/// assert!((model.weights()[0] - 2.0).abs() < 1e-12 && (model.intercept() - 1.0).abs() < 1e-12);
/// # Ok::<(), spate_ml::MlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct StreamingLeastSquares {
    intercept: bool,
    ridge: f64,
    state: LeastSquaresStats,
    weights: Vec<f64>,
    bias: f64,
    rank: usize,
}

crate::checkpoint::validated_serde!(
    StreamingLeastSquares,
    StreamingLeastSquares::check_checkpoint
);

impl StreamingLeastSquares {
    /// Whether a deserialized model's parts fit together.
    fn check_checkpoint(&self) -> Result<()> {
        let s = &self.state;
        if s.dim == 0
            || !s.consistent()
            || self.weights.len() != s.dim
            || !(0.0..f64::INFINITY).contains(&self.ridge)
        {
            return Err(MlError::CorruptCheckpoint {
                model: "StreamingLeastSquares",
                reason: "co-moments, weights and parameters do not fit together",
            });
        }
        Ok(())
    }

    /// Start configuring a model over `dim` features.
    pub fn params(dim: usize) -> LeastSquaresParams {
        LeastSquaresParams {
            dim,
            intercept: true,
            forgetting: 1.0,
            ridge: 0.0,
        }
    }

    /// The slope of each feature.
    pub fn weights(&self) -> ArrayView1<'_, f64> {
        ArrayView1::from(&self.weights[..])
    }

    /// The intercept (0 when fitted without one).
    pub fn intercept(&self) -> f64 {
        self.bias
    }

    /// Rows absorbed so far.
    pub fn rows(&self) -> u64 {
        self.state.rows
    }

    /// The numerical rank of the system the weights solve (as in
    /// [`LeastSquaresReport::rank`]): below the number of features — collinear features,
    /// or fewer distinct rows than features — the least-squares solution is not unique and
    /// the weights are the one that gives the dependent features weight 0.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Predict the target of every row; NaN for rows with a non-finite feature.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        crate::regression::predict_linear(x, &self.weights, self.bias)
    }

    /// RMSE, MAE and R² of the current model on labelled data.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] or [`MlError::LengthMismatch`].
    pub fn evaluate(&self, (x, y): Labeled<'_>) -> Result<RegressionMetrics> {
        check_labeled(x, y, self.weights.len())?;
        RegressionMetrics::from_predictions(y, self.predict(x)?.view())
    }

    /// Solves the normal equations in the summary's scaled units (where the penalty on
    /// feature `i` is `ridge · 2^(-2·x_scale[i])`), then returns to the input's units.
    fn solve(&mut self) {
        let s = &self.state;
        let d = s.dim;
        let ridge = self.ridge * s.forgetting.powf(s.rows as f64);
        let mut a = s.cxx.clone();
        let mut b = s.cxy.clone();
        if !self.intercept {
            // Through the origin: raw weighted moments = centred + W·mean·meanᵀ.
            for i in 0..d {
                for j in i..d {
                    a[i * d + j] += s.weight * s.mean_x[i] * s.mean_x[j];
                }
                b[i] += s.weight * s.mean_x[i] * s.mean_y;
            }
        }
        for i in 0..d {
            a[i * d + i] += scale_by(ridge, -2 * s.x_scale[i]);
        }
        let (w, rank) = solve_psd(&a, &b, d);
        self.bias = if self.intercept && s.rows > 0 {
            scale_by(s.mean_y - dot(&w, &s.mean_x), s.y_scale)
        } else {
            0.0
        };
        self.weights = w
            .iter()
            .zip(&s.x_scale)
            .map(|(&w, &e)| scale_by(w, s.y_scale - e))
            .collect();
        self.rank = rank;
    }
}

impl OnlineModel for StreamingLeastSquares {
    type Batch<'a> = Labeled<'a>;
    type Stats = LeastSquaresStats;
    type Report = LeastSquaresReport;

    fn summarize(&self, (x, y): Labeled<'_>) -> Result<LeastSquaresStats> {
        check_labeled(x, y, self.state.dim)?;
        Ok(LeastSquaresStats::from_partition(
            x,
            y,
            self.state.forgetting,
        ))
    }

    fn apply(&mut self, stats: LeastSquaresStats) -> Result<Round<LeastSquaresReport>> {
        if !stats.consistent() {
            return Err(MlError::IncompatibleStats);
        }
        if !stats.is_empty()
            && (stats.dim != self.state.dim
                || stats.forgetting.to_bits() != self.state.forgetting.to_bits())
        {
            return Err(MlError::IncompatibleStats);
        }
        self.state.merge(&stats);
        self.solve();
        Ok(Round::Done(LeastSquaresReport {
            rows: stats.rows,
            skipped: stats.skipped,
            rank: self.rank,
        }))
    }
}

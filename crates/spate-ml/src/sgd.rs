//! Linear and logistic regression by mini-batch SGD, with Spark MLlib's streaming semantics.

use crate::error::{MlError, Result};
use crate::metrics::{ClassificationMetrics, RegressionMetrics};
use crate::online::{OnlineModel, Round};
use crate::regression::{Labeled, check_labeled, dot, for_each_valid_row, predict_linear};
use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use spate_core::Merge;
use std::fmt::Debug;

/// A step's mean loss beyond this many times the batch's reference loss (the larger of the
/// zero model's loss and the batch's first step's loss) means the steps diverge.
pub const DIVERGENCE_FACTOR: f64 = 1e6;

/// A differentiable loss of the margin `w·x + b`: what distinguishes linear from logistic SGD.
pub trait Loss: Debug + Clone + Copy + PartialEq + Default + Serialize + DeserializeOwned {
    /// Whether `label` is a valid target (other rows are skipped and counted).
    fn accepts(label: f64) -> bool;
    /// `(∂loss/∂margin, loss)` at `margin` for `label`.
    fn gradient(margin: f64, label: f64) -> (f64, f64);
}

/// Spark's `LeastSquaresGradient`: loss `(w·x − y)² / 2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SquaredLoss;

impl Loss for SquaredLoss {
    fn accepts(_: f64) -> bool {
        true
    }

    #[inline]
    fn gradient(margin: f64, label: f64) -> (f64, f64) {
        let diff = margin - label;
        (diff, diff * diff / 2.0)
    }
}

/// Spark's binary `LogisticGradient`: loss `log(1 + e^(−m))` for label 1, `log(1 + e^m)` for 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogisticLoss;

/// `ln(1 + e^x)` without overflow.
fn log1p_exp(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(margin: f64) -> f64 {
    1.0 / (1.0 + (-margin).exp())
}

impl Loss for LogisticLoss {
    fn accepts(label: f64) -> bool {
        label == 0.0 || label == 1.0
    }

    #[inline]
    fn gradient(margin: f64, label: f64) -> (f64, f64) {
        let loss = if label > 0.0 {
            log1p_exp(-margin)
        } else {
            log1p_exp(margin)
        };
        (sigmoid(margin) - label, loss)
    }
}

/// Regularization, as Spark's updaters apply it after each gradient step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Regularizer {
    /// Spark's `SimpleUpdater`: plain steps.
    None,
    /// Spark's `L1Updater`: soft-thresholding by `reg · step_i` after each step.
    L1(f64),
    /// Spark's `SquaredL2Updater`: `w ← w·(1 − step_i·reg) − step_i·g`.
    L2(f64),
}

impl Regularizer {
    fn value(self, w: &[f64]) -> f64 {
        match self {
            Regularizer::None => 0.0,
            Regularizer::L1(reg) => reg * w.iter().map(|v| v.abs()).sum::<f64>(),
            Regularizer::L2(reg) => 0.5 * reg * dot(w, w),
        }
    }
}

/// Unchecked parameters of a [`StreamingSgd`] model; [`build`](Self::build) validates them.
///
/// Defaults are Spark's: step size 0.1, 50 iterations per batch, mini-batch fraction 1,
/// convergence tolerance 0.001, no intercept, zero initial weights; no regularization for
/// linear regression, L2 with parameter 0 for logistic regression; threshold 0.5.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct SgdParams<L> {
    dim: usize,
    step_size: f64,
    iterations: usize,
    fraction: f64,
    regularizer: Regularizer,
    tolerance: f64,
    intercept: bool,
    initial_weights: Option<Vec<f64>>,
    seed: u64,
    threshold: f64,
    loss: L,
}

impl<L: Loss> SgdParams<L> {
    fn new(dim: usize, regularizer: Regularizer) -> Self {
        Self {
            dim,
            step_size: 0.1,
            iterations: 50,
            fraction: 1.0,
            regularizer,
            tolerance: 0.001,
            intercept: false,
            initial_weights: None,
            seed: 42,
            threshold: 0.5,
            loss: L::default(),
        }
    }

    /// Initial step size; iteration `i` of a batch steps by `step_size / √i` (Spark's rule).
    pub fn step_size(mut self, step: f64) -> Self {
        self.step_size = step;
        self
    }

    /// Gradient steps per batch (Spark's `numIterations`).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Fraction of the batch's rows sampled for each step, in `(0, 1]`.
    ///
    /// A row is kept when a hash of its values, the seed and the iteration falls below the
    /// fraction: the sample does not depend on how the batch is partitioned (Spark's depends
    /// on the partitioning); identical rows are kept or dropped together.
    pub fn mini_batch_fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction;
        self
    }

    /// The regularizer (Spark's updater and `regParam`).
    pub fn regularization(mut self, regularizer: Regularizer) -> Self {
        self.regularizer = regularizer;
        self
    }

    /// A batch stops early once two consecutive steps move the weights by less than
    /// `tol · max(‖w‖, 1)` (Spark's `convergenceTol`); 0 always runs every iteration.
    pub fn convergence_tol(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }

    /// Fit an intercept, as an extra weight on a constant feature 1 that is regularized like
    /// the others and carried from batch to batch. Default false: Spark's streaming models
    /// have no intercept and suggest appending a constant feature, which this does for you.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }

    /// Starting weights, one per feature (Spark's `setInitialWeights`; default zeros).
    pub fn initial_weights(mut self, weights: Vec<f64>) -> Self {
        self.initial_weights = Some(weights);
        self
    }

    /// Seed of the mini-batch sampling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validate the parameters and create the model.
    ///
    /// # Errors
    /// [`MlError::ZeroDimension`], [`MlError::InvalidStepSize`],
    /// [`MlError::InvalidIterations`], [`MlError::InvalidMiniBatchFraction`],
    /// [`MlError::InvalidRegularization`], [`MlError::InvalidConvergenceTol`],
    /// [`MlError::InitialWeights`], [`MlError::NonFiniteParameter`] or
    /// [`MlError::InvalidThreshold`].
    pub fn build(self) -> Result<StreamingSgd<L>> {
        if self.dim == 0 {
            return Err(MlError::ZeroDimension);
        }
        if !(self.step_size > 0.0 && self.step_size.is_finite()) {
            return Err(MlError::InvalidStepSize {
                step: self.step_size,
            });
        }
        if self.iterations == 0 {
            return Err(MlError::InvalidIterations { iterations: 0 });
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(MlError::InvalidMiniBatchFraction {
                fraction: self.fraction,
            });
        }
        if let Regularizer::L1(reg) | Regularizer::L2(reg) = self.regularizer
            && !(reg >= 0.0 && reg.is_finite())
        {
            return Err(MlError::InvalidRegularization { reg });
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(MlError::InvalidConvergenceTol {
                tol: self.tolerance,
            });
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(MlError::InvalidThreshold {
                threshold: self.threshold,
            });
        }
        let mut weights = match self.initial_weights {
            Some(w) if w.len() != self.dim => {
                return Err(MlError::InitialWeights {
                    len: w.len(),
                    k: self.dim,
                });
            }
            Some(w) if w.iter().any(|v| !v.is_finite()) => {
                return Err(MlError::NonFiniteParameter {
                    what: "initial weights",
                });
            }
            Some(w) => w,
            None => vec![0.0; self.dim],
        };
        if self.intercept {
            weights.push(0.0);
        }
        Ok(StreamingSgd {
            dim: self.dim,
            step_size: self.step_size,
            iterations: self.iterations,
            fraction: self.fraction,
            regularizer: self.regularizer,
            tolerance: self.tolerance,
            intercept: self.intercept,
            seed: self.seed,
            threshold: self.threshold,
            weights,
            pass: Pass::default(),
            first_loss: None,
            loss: self.loss,
        })
    }
}

impl SgdParams<LogisticLoss> {
    /// Probability above which [`StreamingLogisticRegressionWithSgd::predict`] says class 1
    /// (default 0.5).
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
}

/// Progress through the iterations of the current batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pass {
    /// 1-based index of the iteration the next `summarize` computes.
    iteration: usize,
    /// Weights after the previous non-empty step of this batch (for the convergence test).
    previous: Option<Vec<f64>>,
    /// Weights before the batch's first step: restored if the steps diverge.
    start: Option<Vec<f64>>,
    /// The loss a step must stay within [`DIVERGENCE_FACTOR`] times of.
    reference_loss: f64,
    regularization: f64,
    report: SgdReport,
}

impl Default for Pass {
    fn default() -> Self {
        Self {
            iteration: 1,
            previous: None,
            start: None,
            reference_loss: 0.0,
            regularization: 0.0,
            report: SgdReport::default(),
        }
    }
}

/// What one batch did to a [`StreamingSgd`] model.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SgdReport {
    /// Valid rows in the batch.
    pub rows: u64,
    /// Rows skipped: a non-finite feature or target, or (logistic) a label other than 0 or 1.
    pub skipped: u64,
    /// Gradient steps taken (iterations whose mini-batch sample was empty take none).
    pub steps: usize,
    /// Whether the batch stopped early by the convergence tolerance.
    pub converged: bool,
    /// Mean loss over the last step's mini-batch plus the regularization term (Spark's
    /// `stochasticLossHistory` entry); NaN when no step was taken.
    pub loss: f64,
    /// The steps diverged: a loss or a weight became non-finite, or a step's loss exceeded
    /// [`DIVERGENCE_FACTOR`] times the batch's reference loss (the zero model's loss on the
    /// same rows, or if larger the batch's first step's loss — but no more than the model's
    /// very first step's loss, so growth spread over many batches counts). The model then keeps the
    /// weights it had before this batch and skips the batch's remaining steps; a smaller step
    /// size is needed. `loss` is the loss that revealed it.
    pub diverged: bool,
}

/// Per-partition gradient of one SGD iteration: sums over the sampled rows.
///
/// Merge is commutative and associative up to floating-point rounding of the sums.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GradientStats {
    /// Number of weights (0 only for the empty summary).
    len: usize,
    iteration: usize,
    rows: u64,
    skipped: u64,
    sampled: u64,
    gradient: Vec<f64>,
    loss: f64,
    /// Loss of the all-zero model on the sampled rows: the scale a diverging loss is
    /// measured against.
    zero_loss: f64,
    incompatible: bool,
}

impl GradientStats {
    /// Internal lengths agree (a summary that crossed the wire may have been tampered with).
    fn consistent(&self) -> bool {
        !self.incompatible && self.gradient.len() == self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0 && self.consistent()
    }

    /// Valid rows summarized (sampled or not).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows in this iteration's mini-batch sample.
    pub fn sampled(&self) -> u64 {
        self.sampled
    }
}

impl Merge for GradientStats {
    fn merge(&mut self, other: &Self) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.clone_from(other);
            return;
        }
        if !self.consistent()
            || !other.consistent()
            || (self.len, self.iteration) != (other.len, other.iteration)
        {
            self.incompatible = true;
            return;
        }
        for (a, b) in self.gradient.iter_mut().zip(&other.gradient) {
            *a += b;
        }
        self.rows += other.rows;
        self.skipped += other.skipped;
        self.sampled += other.sampled;
        self.loss += other.loss;
        self.zero_loss += other.zero_loss;
    }
}

/// A generalized linear model trained by mini-batch SGD per batch, as Spark's
/// `StreamingLinearAlgorithm`: each non-empty batch runs `iterations` steps of
/// `GradientDescent` from the current weights, step `i` of size `step_size / √i`.
///
/// Use the aliases [`StreamingLinearRegressionWithSgd`] and
/// [`StreamingLogisticRegressionWithSgd`]. Each iteration is one round of the
/// [`OnlineModel`] protocol: `apply` returns [`Round::Again`] until the batch's iterations are
/// done or converged — convergence is reported in [`SgdReport::converged`], never an error.
/// Empty batches change nothing (Spark skips them).
///
/// Cost: `O(n·d)` per iteration to summarize, `O(d)` to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", bound(serialize = "L: Loss", deserialize = "L: Loss"))]
pub struct StreamingSgd<L> {
    dim: usize,
    step_size: f64,
    iterations: usize,
    fraction: f64,
    regularizer: Regularizer,
    tolerance: f64,
    intercept: bool,
    seed: u64,
    threshold: f64,
    /// `dim` feature weights, then the intercept when fitted.
    weights: Vec<f64>,
    pass: Pass,
    /// The loss of the first step of the first batch with rows (`None` before it): a model
    /// whose weights grow a little more each batch, never by much within one, is still
    /// caught diverging against it.
    first_loss: Option<f64>,
    loss: L,
}

crate::checkpoint::validated_serde!(StreamingSgd<L>, StreamingSgd::check_checkpoint, L: Loss);

/// Linear regression by SGD on the squared loss (Spark's `StreamingLinearRegressionWithSGD`).
///
/// ```
/// use ndarray::{Array1, Array2};
/// use spate_ml::{OnlineModel, StreamingLinearRegressionWithSgd};
///
/// let mut model = StreamingLinearRegressionWithSgd::params(2).step_size(0.5).build()?;
/// let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
/// let y: Array1<f64> = x.rows().into_iter().map(|r| 2.0 * r[0] - r[1]).collect();
/// for _ in 0..20 {
///     model.update((x.view(), y.view()))?;
/// }
/// assert!((model.weights()[0] - 2.0).abs() < 1e-3 && (model.weights()[1] + 1.0).abs() < 1e-3);
/// # Ok::<(), spate_ml::MlError>(())
/// ```
pub type StreamingLinearRegressionWithSgd = StreamingSgd<SquaredLoss>;

/// Binary logistic regression by SGD (Spark's `StreamingLogisticRegressionWithSGD`); labels
/// are 0 or 1.
pub type StreamingLogisticRegressionWithSgd = StreamingSgd<LogisticLoss>;

impl<L: Loss> StreamingSgd<L> {
    /// Whether a deserialized model's parts fit together.
    fn check_checkpoint(&self) -> Result<()> {
        let len = self.dim + usize::from(self.intercept);
        let fits = self.dim > 0
            && self.iterations > 0
            && self.weights.len() == len
            && self.pass.iteration >= 1
            && self.pass.previous.as_ref().is_none_or(|p| p.len() == len)
            && self.pass.start.as_ref().is_none_or(|p| p.len() == len)
            && self.first_loss.is_none_or(f64::is_finite);
        if !fits {
            return Err(MlError::CorruptCheckpoint {
                model: "StreamingSgd",
                reason: "weights, iteration state and parameters do not fit together",
            });
        }
        Ok(())
    }

    /// The feature weights.
    pub fn weights(&self) -> ArrayView1<'_, f64> {
        ArrayView1::from(&self.weights[..self.dim])
    }

    /// The intercept (0 when fitted without one).
    pub fn intercept(&self) -> f64 {
        if self.intercept {
            self.weights[self.dim]
        } else {
            0.0
        }
    }

    /// The margins `w·x + b` of every row (NaN for rows with a non-finite feature).
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn margins(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        predict_linear(x, &self.weights[..self.dim], self.intercept())
    }

    fn step(&mut self, gradient: &[f64], iteration: usize) {
        let step = self.step_size / (iteration as f64).sqrt();
        match self.regularizer {
            Regularizer::None => {
                for (w, g) in self.weights.iter_mut().zip(gradient) {
                    *w -= step * g;
                }
            }
            Regularizer::L2(reg) => {
                for (w, g) in self.weights.iter_mut().zip(gradient) {
                    *w = *w * (1.0 - step * reg) - step * g;
                }
            }
            Regularizer::L1(reg) => {
                let shrinkage = reg * step;
                for (w, g) in self.weights.iter_mut().zip(gradient) {
                    let v = *w - step * g;
                    *w = v.signum() * (v.abs() - shrinkage).max(0.0);
                }
            }
        }
    }

    fn finish(&mut self, converged: bool) -> Round<SgdReport> {
        let mut report = std::mem::take(&mut self.pass).report;
        report.converged = converged;
        Round::Done(report)
    }

    /// Ends a batch whose steps diverged: back to the weights before it.
    fn diverge(&mut self) -> Round<SgdReport> {
        if let Some(start) = self.pass.start.take() {
            self.weights = start;
        }
        self.pass.report.diverged = true;
        self.finish(false)
    }
}

impl StreamingSgd<SquaredLoss> {
    /// Start configuring a linear regression over `dim` features with Spark's defaults.
    pub fn params(dim: usize) -> SgdParams<SquaredLoss> {
        SgdParams::new(dim, Regularizer::None)
    }

    /// Predicted targets (NaN for rows with a non-finite feature).
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.margins(x)
    }

    /// RMSE, MAE and R² of the current model on labelled data.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] or [`MlError::LengthMismatch`].
    pub fn evaluate(&self, (x, y): Labeled<'_>) -> Result<RegressionMetrics> {
        check_labeled(x, y, self.dim)?;
        RegressionMetrics::from_predictions(y, self.predict(x)?.view())
    }
}

impl StreamingSgd<LogisticLoss> {
    /// Start configuring a logistic regression over `dim` features with Spark's defaults.
    pub fn params(dim: usize) -> SgdParams<LogisticLoss> {
        SgdParams::new(dim, Regularizer::L2(0.0))
    }

    /// Probability of class 1 for every row (NaN for rows with a non-finite feature).
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn predict_probability(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        Ok(self.margins(x)?.mapv(sigmoid))
    }

    /// Class 1 where the probability exceeds the threshold, else 0 (NaN for rows with a
    /// non-finite feature).
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        let t = self.threshold;
        Ok(self.predict_probability(x)?.mapv(|p| {
            if p.is_nan() {
                p
            } else if p > t {
                1.0
            } else {
                0.0
            }
        }))
    }

    /// Log-loss and accuracy of the current model on labelled data.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] or [`MlError::LengthMismatch`].
    pub fn evaluate(&self, (x, y): Labeled<'_>) -> Result<ClassificationMetrics> {
        check_labeled(x, y, self.dim)?;
        ClassificationMetrics::from_probabilities(
            y,
            self.predict_probability(x)?.view(),
            self.threshold,
        )
    }
}

/// SplitMix64's finalizer: a well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether a row belongs to iteration `key`'s mini-batch: a hash of its values, so the
/// decision is the same whichever partition holds the row.
fn sampled(key: u64, row: &[f64], label: f64, fraction: f64) -> bool {
    let h = row.iter().fold(key, |h, v| mix(h ^ v.to_bits()));
    let h = mix(h ^ label.to_bits());
    ((h >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < fraction
}

impl<L: Loss> OnlineModel for StreamingSgd<L> {
    type Batch<'a> = Labeled<'a>;
    type Stats = GradientStats;
    type Report = SgdReport;

    fn summarize(&self, (x, y): Labeled<'_>) -> Result<GradientStats> {
        check_labeled(x, y, self.dim)?;
        let (d, len) = (self.dim, self.weights.len());
        let iteration = self.pass.iteration;
        let mut s = GradientStats {
            len,
            iteration,
            gradient: vec![0.0; len],
            ..GradientStats::default()
        };
        let (w, b) = (&self.weights[..d], self.intercept());
        let key = mix(self.seed ^ mix(iteration as u64));
        let subsample = self.fraction < 1.0;
        s.skipped = for_each_valid_row(x, y, false, L::accepts, |row, label| {
            s.rows += 1;
            if subsample && !sampled(key, row, label, self.fraction) {
                return;
            }
            s.sampled += 1;
            s.zero_loss += L::gradient(0.0, label).1;
            let (multiplier, loss) = L::gradient(dot(w, row) + b, label);
            for (g, v) in s.gradient.iter_mut().zip(row) {
                *g += multiplier * v;
            }
            if self.intercept {
                s.gradient[d] += multiplier;
            }
            s.loss += loss;
        });
        Ok(s)
    }

    fn apply(&mut self, stats: GradientStats) -> Result<Round<SgdReport>> {
        if !stats.consistent()
            || (!stats.is_empty()
                && (stats.len != self.weights.len() || stats.iteration != self.pass.iteration))
        {
            return Err(MlError::IncompatibleStats);
        }
        let i = self.pass.iteration;
        if i == 1 {
            self.pass.report = SgdReport {
                rows: stats.rows,
                skipped: stats.skipped,
                loss: f64::NAN,
                ..SgdReport::default()
            };
            if stats.rows == 0 {
                return Ok(self.finish(false));
            }
            self.pass.regularization = self.regularizer.value(&self.weights);
        }
        let mut converged = false;
        if stats.sampled > 0 {
            let n = stats.sampled as f64;
            let gradient: Vec<f64> = stats.gradient.iter().map(|g| g / n).collect();
            let loss = stats.loss / n + self.pass.regularization;
            self.pass.report.loss = loss;
            if self.pass.start.is_none() {
                self.pass.start = Some(self.weights.clone());
                if self.first_loss.is_none() && loss.is_finite() {
                    self.first_loss = Some(loss);
                }
                // (A non-finite loss diverges just below.)
                let first = loss.min(self.first_loss.unwrap_or(loss));
                self.pass.reference_loss = (stats.zero_loss / n).max(first);
            }
            if !loss.is_finite() || loss > DIVERGENCE_FACTOR * self.pass.reference_loss {
                return Ok(self.diverge());
            }
            self.step(&gradient, i);
            if self.weights.iter().any(|w| !w.is_finite()) {
                return Ok(self.diverge());
            }
            self.pass.regularization = self.regularizer.value(&self.weights);
            self.pass.report.steps += 1;
            if let Some(previous) = &self.pass.previous {
                let moved: f64 = previous
                    .iter()
                    .zip(&self.weights)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt();
                let norm = dot(&self.weights, &self.weights).sqrt();
                converged = moved < self.tolerance * norm.max(1.0);
            }
            self.pass.previous = Some(self.weights.clone());
        }
        self.pass.iteration += 1;
        if converged || i >= self.iterations {
            return Ok(self.finish(converged));
        }
        Ok(Round::Again)
    }
}

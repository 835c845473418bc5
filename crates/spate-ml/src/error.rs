//! The one error type of this crate.

use thiserror::Error;

/// Everything that can go wrong in `spate-ml`.
///
/// Parameter errors come from a builder's `build()` before any data flows; shape errors come
/// from `summarize`, `apply` or a prediction when the data does not fit the model.
/// Non-finite rows are not errors: they are skipped and counted in the batch report.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum MlError {
    /// k-means needs at least one cluster.
    #[error("k = {k} clusters: k must be at least 1")]
    InvalidK {
        /// The requested number of clusters.
        k: usize,
    },
    /// A decay factor outside `[0, 1]`.
    #[error(
        "decay factor {decay} is outside [0, 1] (1 keeps all history, 0 keeps only the last batch)"
    )]
    InvalidDecay {
        /// The requested decay factor.
        decay: f64,
    },
    /// A half-life that is not a positive finite number.
    #[error("half-life {half_life} must be positive and finite")]
    InvalidHalfLife {
        /// The requested half-life.
        half_life: f64,
    },
    /// A dimension of zero features.
    #[error("the model needs at least one feature, got 0 columns")]
    ZeroDimension,
    /// Initial centers whose shape does not match `k`.
    #[error("{rows} initial centers given for k = {k}: give exactly k rows")]
    InitialCentersShape {
        /// Rows of the given centers.
        rows: usize,
        /// The number of clusters.
        k: usize,
    },
    /// Initial weights whose length does not match `k`, or that are negative or not finite.
    #[error("initial weights must be k = {k} finite non-negative numbers, got {len} values")]
    InitialWeights {
        /// How many weights were given.
        len: usize,
        /// The number of clusters.
        k: usize,
    },
    /// A parameter vector (initial centers or weights) holding NaN or infinity.
    #[error("{what} contains a non-finite value")]
    NonFiniteParameter {
        /// Which parameter.
        what: &'static str,
    },
    /// A warm-up buffer for k-means++ smaller than `k`.
    #[error("k-means++ warm-up buffer of {points} points is smaller than k = {k}")]
    BufferTooSmall {
        /// The requested buffer size in points.
        points: usize,
        /// The number of clusters.
        k: usize,
    },
    /// A step size that is not a positive finite number.
    #[error("step size {step} must be positive and finite")]
    InvalidStepSize {
        /// The requested step size.
        step: f64,
    },
    /// Zero SGD iterations per batch.
    #[error("SGD needs at least 1 iteration per batch, got {iterations}")]
    InvalidIterations {
        /// The requested number of iterations.
        iterations: usize,
    },
    /// A mini-batch fraction outside `(0, 1]`.
    #[error("mini-batch fraction {fraction} is outside (0, 1]")]
    InvalidMiniBatchFraction {
        /// The requested fraction.
        fraction: f64,
    },
    /// A negative or non-finite regularization parameter.
    #[error("regularization parameter {reg} must be finite and non-negative")]
    InvalidRegularization {
        /// The requested parameter.
        reg: f64,
    },
    /// A negative or non-finite convergence tolerance.
    #[error("convergence tolerance {tol} must be finite and non-negative")]
    InvalidConvergenceTol {
        /// The requested tolerance.
        tol: f64,
    },
    /// A forgetting factor outside `(0, 1]`.
    #[error("forgetting factor {factor} is outside (0, 1] (1 is exact least squares)")]
    InvalidForgetting {
        /// The requested factor.
        factor: f64,
    },
    /// A negative or non-finite ridge / initial precision.
    #[error("ridge {ridge} must be finite and non-negative")]
    InvalidRidge {
        /// The requested ridge.
        ridge: f64,
    },
    /// A classification threshold outside `[0, 1]`.
    #[error("threshold {threshold} is outside [0, 1]")]
    InvalidThreshold {
        /// The requested threshold.
        threshold: f64,
    },
    /// Data with a different number of features than the model.
    #[error("data has {found} features but the model has {expected}")]
    DimensionMismatch {
        /// Features the model expects.
        expected: usize,
        /// Features the data has.
        found: usize,
    },
    /// Features and targets of different lengths.
    #[error("{rows} feature rows but {targets} targets: give one target per row")]
    LengthMismatch {
        /// Feature rows.
        rows: usize,
        /// Targets.
        targets: usize,
    },
    /// A point with NaN or infinity passed to a single-point prediction.
    #[error("cannot predict a point with a non-finite coordinate")]
    NonFinitePoint,
    /// Prediction asked of a k-means model still filling its k-means++ warm-up buffer.
    #[error("the model is still buffering {buffered} of {needed} warm-up points for k-means++")]
    NotInitialized {
        /// Points buffered so far.
        buffered: usize,
        /// Points needed before the centers exist.
        needed: usize,
    },
    /// A deserialized model whose parts do not fit together (a corrupt or hand-edited
    /// checkpoint).
    #[error("corrupt {model} checkpoint: {reason}")]
    CorruptCheckpoint {
        /// The model type.
        model: &'static str,
        /// What does not fit.
        reason: &'static str,
    },
    /// A standardizer given different numbers of means and standard deviations.
    #[error("{means} means but {std_devs} standard deviations: give one of each per column")]
    StandardizerLength {
        /// Means given.
        means: usize,
        /// Standard deviations given.
        std_devs: usize,
    },
    /// A standard deviation that is negative, NaN or infinite.
    #[error("standard deviation {std_dev} of column {column} must be finite and non-negative")]
    InvalidStdDev {
        /// The column (0-based).
        column: usize,
        /// The value given.
        std_dev: f64,
    },
    /// Merged statistics came from partitions of different shapes, or from another model.
    #[error(
        "statistics do not fit this model: they were merged from partitions of different shapes or made by another model"
    )]
    IncompatibleStats,
    /// A coreset size below `max(k, 2)` or above the supported maximum.
    #[error("coreset size {size} must be between max(k, 2) = {} and {max} (k = {k})", (*k).max(2))]
    InvalidCoresetSize {
        /// The requested coreset size.
        size: usize,
        /// The number of clusters.
        k: usize,
        /// The largest supported size.
        max: usize,
    },
    /// A number of coreset levels of 0 or above the supported maximum.
    #[error("{levels} coreset levels: give between 1 and {max}")]
    InvalidLevels {
        /// The requested number of levels.
        levels: usize,
        /// The largest supported number.
        max: usize,
    },
    /// Zero restarts of the center extraction.
    #[error("the center extraction needs at least 1 restart")]
    InvalidRestarts,
    /// Zero Lloyd iterations for the center extraction.
    #[error("the center extraction needs at least 1 Lloyd iteration")]
    InvalidMaxIterations,
    /// A window of zero batches.
    #[error("a window of {batches} batches: give at least 1")]
    InvalidWindow {
        /// The requested window length in batches.
        batches: usize,
    },
    /// Centers asked of a model that has not seen a finite point yet (or whose window holds
    /// none).
    #[error("no finite point has been summarized yet: there is nothing to cluster")]
    EmptySummary,
    /// An error reported by linfa while a model was used through linfa's traits.
    #[error("linfa: {message}")]
    Linfa {
        /// linfa's message.
        message: String,
    },
}

/// Shorthand for results in this crate.
pub type Result<T, E = MlError> = std::result::Result<T, E>;

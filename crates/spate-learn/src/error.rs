//! The one error type of this crate.

use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong in `spate-learn`.
///
/// Parameter errors come from a builder's `build()` before any data flows; record errors
/// (wrong width, NaN, a label past the class limit) from `learn_one` / `predict_*` when a
/// record does not fit the model, which leaves the model unchanged; file errors from
/// [`save`](crate::Persist::save) and [`load`](crate::Persist::load).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LearnError {
    /// A model or transformer of zero features.
    #[error("the model needs at least one feature, got 0")]
    ZeroDimension,
    /// A parameter outside its valid range.
    #[error("{name} = {value}: {expected}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A record with a different number of features than the model.
    #[error("the record has {found} features but the model has {expected}")]
    DimensionMismatch {
        /// Features the model expects.
        expected: usize,
        /// Features the record has.
        found: usize,
    },
    /// Feature rows and labels of different lengths.
    #[error("{rows} feature rows but {labels} labels: give one label per row")]
    LengthMismatch {
        /// Feature rows.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// A feature that is NaN or infinite.
    #[error("feature {column} is {value}: features must be finite")]
    NonFiniteFeature {
        /// The feature (0-based).
        column: usize,
        /// The value.
        value: f64,
    },
    /// A negative count given to multinomial naive Bayes.
    #[error("feature {column} is {value}: multinomial naive Bayes needs counts (≥ 0)")]
    NegativeCount {
        /// The feature (0-based).
        column: usize,
        /// The value.
        value: f64,
    },
    /// A class label at or past the model's class limit.
    #[error(
        "class label {label} is not below the limit of {max_classes} classes (raise max_classes)"
    )]
    LabelOutOfRange {
        /// The label.
        label: usize,
        /// The limit.
        max_classes: usize,
    },
    /// A record with a different number of categorical values than the encoder.
    #[error("the record has {found} categorical values but the encoder has {expected} columns")]
    CategoricalMismatch {
        /// Columns the encoder expects.
        expected: usize,
        /// Values the record has.
        found: usize,
    },
    /// Reading or writing a model file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        message: String,
    },
    /// A file that is not a saved model of this crate.
    #[error("{path} is not a spate-learn model file: {reason}")]
    NotAModelFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A model file written by a newer version of the format.
    #[error(
        "{path} has model format version {found}, newer than the {supported} this program reads: upgrade spate"
    )]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A model file holding another kind of model.
    #[error("{path} holds a {found} model, not a {expected}")]
    WrongModel {
        /// The file.
        path: PathBuf,
        /// The model asked for.
        expected: String,
        /// The model in the file.
        found: String,
    },
    /// A model whose parts do not fit together (a corrupt or hand-edited file).
    #[error("corrupt {model} model: {reason}")]
    CorruptModel {
        /// The model type.
        model: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// An error reported through linfa's traits.
    #[error("linfa: {0}")]
    Linfa(String),
}

impl From<linfa::Error> for LearnError {
    fn from(e: linfa::Error) -> Self {
        LearnError::Linfa(e.to_string())
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = LearnError> = std::result::Result<T, E>;

/// A parameter error.
pub(crate) fn invalid(
    name: &'static str,
    value: impl ToString,
    expected: &'static str,
) -> LearnError {
    LearnError::InvalidParameter {
        name,
        value: value.to_string(),
        expected,
    }
}

/// A corrupt-model error.
pub(crate) fn corrupt(model: &'static str, reason: impl Into<String>) -> LearnError {
    LearnError::CorruptModel {
        model,
        reason: reason.into(),
    }
}

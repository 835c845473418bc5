//! The crate's one error type.

use thiserror::Error;

/// What went wrong when configuring, merging or querying a summary.
///
/// Parameter errors are returned by the builders' `build()` before any data flows; merge errors
/// by the `try_merge` methods when two summaries were configured differently.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum StatsError {
    /// A parameter that must be a probability-like fraction was outside its open interval.
    #[error("{name} = {value} must lie in ({min}, {max}); pick a value strictly inside that range")]
    OutOfRange {
        /// The parameter's name as the builder spells it.
        name: &'static str,
        /// The value given.
        value: f64,
        /// Exclusive lower bound.
        min: f64,
        /// Upper bound (inclusive only where the parameter's docs say so).
        max: f64,
    },
    /// A size-like parameter was outside its allowed range.
    #[error("{name} = {value} must be between {min} and {max} inclusive")]
    SizeOutOfRange {
        /// The parameter's name as the builder spells it.
        name: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// Histogram edges must be finite and strictly increasing.
    #[error(
        "histogram edge {index} ({value}) is not finite or not greater than the edge before it; \
         edges must be finite and strictly increasing"
    )]
    BadHistogramEdge {
        /// Position of the offending edge.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Two summaries with different parameters cannot be merged.
    #[error(
        "cannot merge {summary} summaries with different parameters ({left} vs {right}); \
         build every partition's summary from the same parameters"
    )]
    IncompatibleMerge {
        /// The kind of summary, e.g. `"HyperLogLog"`.
        summary: &'static str,
        /// The receiving summary's parameters, rendered.
        left: String,
        /// The merged-in summary's parameters, rendered.
        right: String,
    },
    /// A matrix input had the wrong number of columns.
    #[error("expected {expected} columns, got {found}; every batch must have the same width")]
    DimensionMismatch {
        /// Columns the summary was built for.
        expected: usize,
        /// Columns in the input.
        found: usize,
    },
    /// A quantile outside `[0, 1]` (or NaN) was requested.
    #[error("quantile {q} is outside [0, 1]")]
    QuantileOutOfRange {
        /// The requested quantile.
        q: f64,
    },
}

//! Streaming statistics for Spate: mergeable moments, sketches, significance tests and drift
//! detection, as plain runtime-independent structs.
//!
//! Every summary here has the same shape, so a DStream adapter is a thin layer on top:
//! - a plain struct holding the algorithm's state, `Serialize + Deserialize + Clone` so it can
//!   be checkpointed;
//! - `update(&mut self, batch)` over a slice (or an `ndarray` view), batch-at-a-time, with no
//!   per-record allocation;
//! - [`Merge`](spate_core::Merge) to combine partial results from partitions, with `Default` as
//!   the identity, and [`Retract`](spate_core::Retract) where a window with an inverse makes
//!   sense;
//! - checked parameter builders ending in a fallible `build()` (`HyperLogLog::params()
//!   .precision(12).build()?`), and a `try_merge` that reports merging differently configured
//!   summaries as a [`StatsError`] (the `Merge` impls panic on that configuration bug);
//! - NaN and ±∞ never panic: they are skipped and counted (`skipped_non_finite()`).
//!
//! | summary | merge | retract | cost per value |
//! |---|---|---|---|
//! | [`Moments`] | commutative, ≈exact (double-double) | yes, exact to ≈1e-30 | ~10 flops |
//! | [`CovarianceMatrix`] | commutative | yes (f64 residue ≈1e-16 per slide) | O(d²) per row |
//! | [`EwMoments`] | ordered (not commutative) | no | ~8 flops + 1 division |
//! | [`QuantileSketch`] | commutative, exact bucket counts | no | 1 log + increment |
//! | [`HyperLogLog`] | commutative, idempotent, exact | no | 1 hash |
//! | [`CountMinSketch`] | commutative, exact | yes, exact | 1 hash + `depth` increments |
//! | [`SpaceSaving`] | commutative; associative in its guarantees | no | 1 lookup + O(log k) |
//! | [`Histogram`] | commutative, exact | yes, exact | O(1) uniform, O(log bins) edges |
//! | [`GroupSummary`] (t-test) | commutative | yes | as [`Moments`] |
//! | [`Adwin`], [`PageHinkley`] | sequential, not mergeable | no | O(1) amortized |
//!
//! # Example
//! ```
//! use spate_core::{Merge, Retract};
//! use spate_stats::{HyperLogLog, Moments, QuantileSketch, StreamingTest, BinarySample};
//!
//! // Two partitions of one batch, summarized independently and merged.
//! let (left, right) = ([1.0, 2.0, 3.0, f64::NAN], [4.0, 5.0, 6.0]);
//! let mut batch = Moments::from_slice(&left);
//! batch.merge(&Moments::from_slice(&right));
//! assert_eq!(batch.count(), 6);
//! assert_eq!(batch.mean(), Some(3.5));
//! assert_eq!(batch.skipped_non_finite(), 1);
//!
//! // A window with an inverse: retract the pane that leaves.
//! let pane = Moments::from_slice(&left);
//! batch.retract(&pane);
//! assert_eq!(batch.mean(), Some(5.0));
//!
//! // Sketches with parameters are built through checked builders.
//! let mut distinct = HyperLogLog::params().precision(12).build()?;
//! distinct.update(&["a", "b", "a", "c"]);
//! assert!((distinct.estimate() - 3.0).abs() < 0.1);
//!
//! let mut q = QuantileSketch::params().relative_accuracy(0.01).build()?;
//! q.update(&(1..=1000).map(f64::from).collect::<Vec<_>>());
//! let median = q.quantile(0.5)?.unwrap_or(f64::NAN);
//! assert!((median - 500.0).abs() <= 0.01 * 500.0);
//!
//! // A/B test over batches, like Spark's StreamingTest.
//! let mut ab = StreamingTest::params().peace_period(0).window_size(0).build()?;
//! let batch: Vec<BinarySample> = (0..100)
//!     .map(|i| BinarySample { is_experiment: i % 2 == 0, value: f64::from(i % 7) })
//!     .collect();
//! let result = ab.update(&batch).expect("both groups have values");
//! assert!(result.p_value > 0.05);
//! # Ok::<(), spate_stats::StatsError>(())
//! ```
//!
//! # On a stream
//! The [`dstream`] module adds them to DStreams: `values.stats()`,
//! `values.windowed_stats(window)`, `rows.column_stats()`, `items.count_approx_distinct(..)`,
//! `values.detect_drift(&detector)`, `samples.streaming_test(&test)` … through extension
//! traits ([`DStreamStatsExt`], [`DStreamColumnStatsExt`], [`DStreamSketchExt`],
//! [`DStreamTestExt`]). Mergeable summaries run per partition in parallel and are merged per
//! batch; sequential ones (drift detectors, the t-test) run on the driver in batch order, in
//! a checkpointed [`ManagedState`](spate_core::stream::ManagedState).
//!
//! # Where next
//! Each type's docs state its accuracy, merge semantics and cost. Windowed statistics come
//! either from [`Retract`](spate_core::Retract) (O(pane) per slide) or by recomputation from
//! the panes in the window (needed for min/max, quantiles and distinct counts); the
//! [`dstream`] module's table says which window each summary uses.
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

/// `Merge` (and optionally `Retract`) through the type's `try_merge`/`try_retract`, panicking
/// on the configuration bug those report. Each type documents the panic on its `try_` method.
macro_rules! merge_via_try {
    ($t:ty) => {
        /// Delegates to `try_merge`.
        ///
        /// # Panics
        /// If the two summaries were built with different parameters (a configuration bug);
        /// call `try_merge` where summaries come from outside the program.
        impl spate_core::Merge for $t {
            fn merge(&mut self, other: &Self) {
                if let Err(e) = self.try_merge(other) {
                    panic!("{e}");
                }
            }
        }
    };
    ($t:ty, retract) => {
        merge_via_try!($t);

        /// Delegates to `try_retract`: the exact inverse of `merge`.
        ///
        /// # Panics
        /// If the two summaries were built with different parameters (a configuration bug).
        impl spate_core::Retract for $t {
            fn retract(&mut self, other: &Self) {
                if let Err(e) = self.try_retract(other) {
                    panic!("{e}");
                }
            }
        }
    };
}

pub mod count_min;
pub mod covariance;
mod dd;
pub mod drift;
pub mod dstream;
pub mod error;
pub mod ewm;
pub mod hash;
pub mod histogram;
pub mod hll;
pub mod moments;
pub mod quantile;
pub mod space_saving;
pub mod ttest;

pub use count_min::{CountMinParams, CountMinSketch};
pub use covariance::CovarianceMatrix;
pub use drift::{
    Adwin, AdwinParams, Direction, DriftDetector, DriftReport, PageHinkley, PageHinkleyParams,
};
pub use dstream::{
    DStreamColumnStatsExt, DStreamMergeExt, DStreamSketchExt, DStreamStatsExt, DStreamTestExt,
    NumericSummary, PerColumn,
};
pub use error::StatsError;
pub use ewm::{EwMoments, EwMomentsParams};
pub use hash::{StableBuildHasher, StableHasher, stable_hash};
pub use histogram::{Histogram, HistogramParams};
pub use hll::{HyperLogLog, HyperLogLogParams};
pub use moments::Moments;
pub use quantile::{QuantileSketch, QuantileSketchParams};
pub use space_saving::{Counter, SpaceSaving, SpaceSavingParams};
pub use ttest::{
    BinarySample, GroupSummary, StreamingTest, StreamingTestParams, TestMethod, TestResult,
    student_t_test, welch_t_test,
};

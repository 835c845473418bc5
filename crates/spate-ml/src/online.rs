//! The shape shared by every online model: a parallel `summarize`, a sequential `apply`.

use crate::error::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use spate_core::Merge;

/// What [`OnlineModel::apply`] says about the current batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Round<R> {
    /// The model needs another pass over the same batch (an SGD iteration): summarize every
    /// partition again with the updated model and apply the merged result.
    Again,
    /// The batch is fully absorbed; the report describes it.
    Done(R),
}

/// An online model trained one micro-batch at a time, split like rayon's fold + reduce.
///
/// Training on one batch is a loop of rounds. In each round:
/// 1. every partition is summarized with [`summarize`](Self::summarize) — read-only, so the
///    partitions can be processed in parallel on any runtime;
/// 2. the partition summaries are merged with [`Merge::merge`] in partition order;
/// 3. the merged summary is given to [`apply`](Self::apply), once, on the driver.
///
/// `apply` returns [`Round::Done`] when the batch is absorbed (k-means and least squares
/// always do after one round) or [`Round::Again`] when it needs another pass (SGD runs
/// `iterations` rounds per batch, as Spark's `GradientDescent` does). A DStream adapter is
/// therefore "partition map + global combine + apply" until `Done`, the same on every runtime;
/// [`update_partitions`](Self::update_partitions) is that loop over in-memory partitions.
///
/// # Example: partitions summarized on threads
///
/// ```
/// use ndarray::Array2;
/// use spate_core::Merge;
/// use spate_ml::{KMeansStats, OnlineModel, Round, StreamingKMeans};
///
/// let mut model = StreamingKMeans::params(3).random_centers(2, 0.0).seed(1).build()?;
/// let batch = Array2::from_shape_fn((900, 2), |(i, j)| ((i * 31 + j * 17) % 100) as f64);
/// let partitions: Vec<_> = batch.axis_chunks_iter(ndarray::Axis(0), 300).collect();
/// let summaries = std::thread::scope(|scope| {
///     let model = &model;
///     let handles: Vec<_> =
///         partitions.iter().map(|&p| scope.spawn(move || model.summarize(p))).collect();
///     handles
///         .into_iter()
///         .map(|h| h.join().expect("summarize does not panic"))
///         .collect::<Result<Vec<KMeansStats>, _>>()
/// })?;
/// let mut merged = KMeansStats::default();
/// for stats in &summaries {
///     merged.merge(stats);
/// }
/// assert!(matches!(model.apply(merged)?, Round::Done(report) if report.points == 900));
/// # Ok::<(), spate_ml::MlError>(())
/// ```
///
/// # Contract
/// The result of training does not depend on how a batch is split into partitions, up to
/// floating-point rounding of the merged sums (checked by the property tests).
pub trait OnlineModel {
    /// One partition of input: a view, so summarizing never copies the batch.
    type Batch<'a>: Copy;
    /// The mergeable per-partition summary; `Default` is the empty summary.
    type Stats: Merge + Clone + Serialize + DeserializeOwned + Send + Sync;
    /// What `apply` reports once a batch is absorbed.
    type Report;

    /// Summarize one partition of the current batch against the current model. Read-only.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`](crate::MlError::DimensionMismatch) (and
    /// [`MlError::LengthMismatch`](crate::MlError::LengthMismatch) for labelled data) when the
    /// partition does not fit the model.
    fn summarize(&self, partition: Self::Batch<'_>) -> Result<Self::Stats>;

    /// Absorb the merged summary of all partitions: called once per round, on one thread.
    ///
    /// # Errors
    /// [`MlError::IncompatibleStats`](crate::MlError::IncompatibleStats) when the summary was
    /// merged from partitions of different shapes or made by a differently shaped model.
    fn apply(&mut self, stats: Self::Stats) -> Result<Round<Self::Report>>;

    /// Train on one batch split into partitions: rounds of summarize + merge + apply.
    ///
    /// # Errors
    /// As [`summarize`](Self::summarize) and [`apply`](Self::apply).
    fn update_partitions(&mut self, partitions: &[Self::Batch<'_>]) -> Result<Self::Report> {
        loop {
            let mut stats = Self::Stats::default();
            for &partition in partitions {
                stats.merge(&self.summarize(partition)?);
            }
            if let Round::Done(report) = self.apply(stats)? {
                return Ok(report);
            }
        }
    }

    /// Train on one batch held as a single partition.
    ///
    /// # Errors
    /// As [`summarize`](Self::summarize) and [`apply`](Self::apply).
    fn update(&mut self, batch: Self::Batch<'_>) -> Result<Self::Report> {
        self.update_partitions(&[batch])
    }
}

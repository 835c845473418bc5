//! DStream adapters: every summary of this crate per batch, per sliding window, and in
//! stream order, on any runtime.
//!
//! The adapters are thin, and built from three shapes only:
//!
//! - **per batch**: partition map + global combine ([`DStream::summarize`]): each partition's
//!   slice is summarized by the batch kernel of the summary type, in parallel, and the
//!   partition summaries are merged with [`Merge`]. One record per batch, also for an empty
//!   batch (an empty summary).
//! - **per window**: the per-batch summaries merged over the window, either *incrementally*
//!   with an inverse ([`DStream::merge_by_window`], for [`Retract`] summaries: O(entering +
//!   leaving batches) per slide, independent of the window length) or *by recomputation*
//!   ([`DStreamMergeExt::merge_by_window_recompute`]: O(batches in the window) merges per
//!   slide, for summaries without an inverse — quantiles, distinct counts, heavy hitters —
//!   and for exact windowed extremes). Each batch is summarized once either way.
//! - **in stream order**: sequential state that is not mergeable (drift detectors, the
//!   streaming t-test, exponentially weighted moments) lives on the driver in a
//!   [`ManagedState`], so it is saved in every checkpoint and restored on recovery. Each
//!   batch is applied exactly once, in batch order, by an output operation the adapter
//!   registers; the per-batch results come back as a DStream.
//!
//! | records | trait | per batch | per window |
//! |---|---|---|---|
//! | `f64` | [`DStreamStatsExt`] | moments, quantiles, histogram, any [`NumericSummary`]; drift, EW moments (in order) | moments (inverse or recompute), quantiles (recompute), histogram (inverse) |
//! | `Vec<f64>` rows | [`DStreamColumnStatsExt`] | per-column summaries ([`PerColumn`]), covariance | per-column moments (inverse or recompute), quantiles (recompute), covariance (inverse) |
//! | any [`Key`] | [`DStreamSketchExt`] | distinct count, count-min, top-k | distinct count and top-k (recompute), count-min (inverse) |
//! | [`BinarySample`] | [`DStreamTestExt`] | Spark's `StreamingTest` (in order) | its `window_size` |
//!
//! NaN and ±∞ are skipped and counted by every summary, so a missing value carried as NaN
//! shows up in `skipped_non_finite()` and never as a number.
//!
//! # Example
//! ```
//! use spate_core::SpateContext;
//! use spate_core::stream::{FastForwardClock, StreamingContext};
//! use spate_stats::{Adwin, DStreamStatsExt, Moments};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let ssc = StreamingContext::builder(&SpateContext::sequential(2))
//!     .batch_interval(Duration::from_secs(1))
//!     .clock(FastForwardClock::new())
//!     .build()?;
//! let (queue, values) = ssc.queue_stream::<f64>(true)?;
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&seen);
//! values.stats().foreach_rdd(move |rdd, _time| {
//!     sink.lock().unwrap().extend(rdd.collect()?);
//!     Ok(())
//! })?;
//! let detector = ssc.managed_state("drift", Adwin::params().build()?)?;
//! let _reports = values.detect_drift(&detector)?;
//!
//! queue.push(vec![1.0, 2.0, 3.0, f64::NAN]);
//! queue.push(vec![]);
//! queue.close();
//! ssc.start()?;
//! ssc.await_termination()?;
//!
//! let seen: Vec<Moments> = seen.lock().unwrap().clone();
//! assert_eq!(seen.len(), 2);
//! assert_eq!((seen[0].count(), seen[0].mean(), seen[0].skipped_non_finite()), (3, Some(2.0), 1));
//! assert_eq!(seen[1].count(), 0);
//! assert_eq!(detector.get().width(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::count_min::CountMinSketch;
use crate::covariance::CovarianceMatrix;
use crate::drift::{DriftDetector, DriftReport};
use crate::ewm::EwMoments;
use crate::histogram::Histogram;
use crate::hll::HyperLogLog;
use crate::moments::Moments;
use crate::quantile::QuantileSketch;
use crate::space_saving::SpaceSaving;
use crate::ttest::{BinarySample, GroupSummary, StreamingTest, TestResult};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use spate_core::stream::ManagedState;
use spate_core::{DStream, Data, Error, Key, Merge, Result, Retract, Window};

/// Values gathered per column before a summary's batch kernel runs on them: enough to
/// amortize the kernel's per-call cost, small enough to stay in cache.
const GATHER_VALUES: usize = 1 << 18;
const MAX_GATHER_ROWS: usize = 2048;
/// Rows copied into one contiguous block for the covariance kernel.
const COVARIANCE_ROWS: usize = 1024;

/// A mergeable summary of numbers that absorbs a slice at a time: what
/// [`DStreamStatsExt::summarize_values`] and [`DStreamColumnStatsExt::summarize_columns`]
/// need to run any summary over a stream.
///
/// # Contract
/// `update` skips and counts NaN and ±∞ (never panics on them), and summarizing a slice in
/// pieces then merging the pieces in order equals summarizing it at once, up to the
/// summary's documented rounding.
pub trait NumericSummary: Merge + Data {
    /// Absorb a batch of values.
    fn update(&mut self, batch: &[f64]);
}

impl NumericSummary for Moments {
    fn update(&mut self, batch: &[f64]) {
        Moments::update(self, batch);
    }
}

impl NumericSummary for QuantileSketch {
    fn update(&mut self, batch: &[f64]) {
        QuantileSketch::update(self, batch);
    }
}

impl NumericSummary for Histogram {
    fn update(&mut self, batch: &[f64]) {
        Histogram::update(self, batch);
    }
}

/// Values are counted by value (`-0.0` equals `0.0`), see [`HyperLogLog::update_f64`].
impl NumericSummary for HyperLogLog {
    fn update(&mut self, batch: &[f64]) {
        self.update_f64(batch);
    }
}

/// Merging is ordered: partition summaries are merged in partition order, which is stream
/// order for sources that split a batch into contiguous slices.
impl NumericSummary for EwMoments {
    fn update(&mut self, batch: &[f64]) {
        EwMoments::update(self, batch);
    }
}

/// Both summaries see every value: `(Moments, QuantileSketch)` gives moments and quantiles
/// in one pass over the stream.
impl<A: NumericSummary, B: NumericSummary> NumericSummary for (A, B) {
    fn update(&mut self, batch: &[f64]) {
        self.0.update(batch);
        self.1.update(batch);
    }
}

/// One summary per column of a stream of rows (`Vec<f64>` records): column `j` summarizes
/// the `j`-th value of every row that has one.
///
/// Merge and retract work column by column. A side with fewer columns behaves as if its
/// missing columns were empty summaries, so `Default` (no columns) is the identity, and rows
/// of different lengths do not break merging: a short row simply contributes to fewer
/// columns (carry a missing value as NaN instead, to have it counted).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerColumn<S> {
    columns: Vec<S>,
}

impl<S> PerColumn<S> {
    /// The summaries, column by column.
    pub fn columns(&self) -> &[S] {
        &self.columns
    }

    /// The summary of column `j`, if any row had one.
    pub fn get(&self, j: usize) -> Option<&S> {
        self.columns.get(j)
    }

    /// Number of columns seen.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether no row had any column.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The summaries, column by column.
    pub fn into_vec(self) -> Vec<S> {
        self.columns
    }
}

impl<S> From<Vec<S>> for PerColumn<S> {
    fn from(columns: Vec<S>) -> Self {
        PerColumn { columns }
    }
}

/// Column-wise; commutative and associative exactly when `S`'s merge is.
impl<S: Merge + Clone> Merge for PerColumn<S> {
    fn merge(&mut self, other: &Self) {
        let shared = self.columns.len().min(other.columns.len());
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            a.merge(b);
        }
        self.columns.extend_from_slice(&other.columns[shared..]);
    }
}

/// Column-wise; columns `self` does not have are ignored (they were never merged in).
impl<S: Retract + Clone> Retract for PerColumn<S> {
    fn retract(&mut self, other: &Self) {
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            a.retract(b);
        }
    }
}

/// Summarizes every column of `rows`, gathering each column into a contiguous buffer so the
/// summary's batch kernel runs on slices: one pass over the rows.
fn summarize_rows<S: NumericSummary>(rows: &[Vec<f64>], empty: &S) -> PerColumn<S> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return PerColumn::default();
    }
    let chunk_rows = (GATHER_VALUES / width).clamp(64, MAX_GATHER_ROWS);
    let mut columns = vec![empty.clone(); width];
    let mut buffers: Vec<Vec<f64>> = (0..width)
        .map(|_| Vec::with_capacity(chunk_rows.min(rows.len())))
        .collect();
    for chunk in rows.chunks(chunk_rows) {
        for row in chunk {
            for (buffer, &x) in buffers.iter_mut().zip(row) {
                buffer.push(x);
            }
        }
        for (summary, buffer) in columns.iter_mut().zip(&mut buffers) {
            summary.update(buffer);
            buffer.clear();
        }
    }
    PerColumn { columns }
}

/// The covariance of `rows`, copied block by block into contiguous row-major memory. A row
/// whose length is not `dim` is fed as a row of NaN, so it is skipped and counted.
fn covariance_of(rows: &[Vec<f64>], dim: usize) -> CovarianceMatrix {
    let mut cov = CovarianceMatrix::new();
    let mut block = Vec::with_capacity(COVARIANCE_ROWS.min(rows.len()) * dim);
    for chunk in rows.chunks(COVARIANCE_ROWS) {
        block.clear();
        for row in chunk {
            if row.len() == dim {
                block.extend_from_slice(row);
            } else {
                block.extend(std::iter::repeat_n(f64::NAN, dim));
            }
        }
        let view = ArrayView2::from_shape((chunk.len(), dim), &block)
            .expect("the block holds exactly chunk.len() rows of dim values");
        cov.update(view)
            .expect("every block has dim columns, the dimension the summary was built with");
    }
    cov
}

/// Per batch, a copy of `empty` updated with every partition's records, merged.
fn summarize_from<T: Data, S: Merge + Data>(
    stream: &DStream<T>,
    empty: S,
    update: fn(&mut S, &[T]),
) -> DStream<S> {
    stream.summarize(move |records: &[T]| {
        let mut summary = empty.clone();
        update(&mut summary, records);
        summary
    })
}

fn merged<S: Merge>(mut a: S, b: S) -> S {
    a.merge(&b);
    a
}

/// Runs `step` on the driver with each batch's records, in batch order, exactly once per
/// batch, holding `state` locked; its result (if any) is the batch's record in the returned
/// stream. An output operation is registered so the state advances every batch even when
/// nothing reads the results.
fn apply_in_order<T: Data, S: Data, R: Data>(
    input: &DStream<T>,
    state: &ManagedState<S>,
    step: impl Fn(&mut S, Vec<T>) -> Option<R> + Send + Sync + 'static,
) -> Result<DStream<R>> {
    let state = state.clone();
    let results = input.try_transform(move |rdd, _time| {
        let records = rdd.collect()?;
        let result = step(&mut state.lock(), records);
        Ok(rdd.context().parallelize(result.into_iter().collect(), 1))
    });
    results.foreach_rdd(|_, _| Ok(()))?;
    Ok(results)
}

/// Windows over streams of mergeable summaries.
pub trait DStreamMergeExt<S> {
    /// At most one record per slide: the window's summaries merged, by recomputation. Each
    /// batch is summarized once and remembered while in the window; a slide merges the
    /// window's per-batch summaries: O(batches in the window) merges, whatever their size.
    /// The merge must be associative and commutative. For [`Retract`] summaries
    /// [`DStream::merge_by_window`] slides in O(entering + leaving batches) instead.
    fn merge_by_window_recompute(&self, window: Window) -> Result<DStream<S>>;
}

impl<S: Merge + Data> DStreamMergeExt<S> for DStream<S> {
    fn merge_by_window_recompute(&self, window: Window) -> Result<DStream<S>> {
        self.reduce_by_window(merged, window)
    }
}

/// Statistics of a stream of numbers.
///
/// Per-batch operators emit exactly one summary per batch (empty for an empty batch). For
/// windows see the [module docs](self): `windowed_*` operators state whether they slide
/// with an inverse or by recomputation.
pub trait DStreamStatsExt {
    /// Per batch, `empty` (a configured, empty summary) updated with every partition's values
    /// and the partition summaries merged: any [`NumericSummary`], or a pair of them.
    fn summarize_values<S: NumericSummary>(&self, empty: S) -> DStream<S>;

    /// Per batch, count, mean, variance, skewness, kurtosis, min and max (Spark's `stats()`).
    /// About 10 flops per value, in parallel over partitions.
    fn stats(&self) -> DStream<Moments>;

    /// Per slide, the moments of the window, incrementally: the batch entering is merged, the
    /// batch leaving retracted (exact to ≈1e-30 relative, so a window can slide millions of
    /// times without drifting from [`windowed_stats_recompute`](Self::windowed_stats_recompute)).
    /// O(entering + leaving batches) per slide. Retraction cannot restore an extreme that
    /// left, so `min()`/`max()` may be `None`; take extremes from the recomputed variant or a
    /// windowed quantile sketch.
    fn windowed_stats(&self, window: Window) -> Result<DStream<Moments>>;

    /// Per slide, the moments of the window by merging its per-batch moments: O(batches in
    /// the window) per slide, with exact `min()`/`max()`.
    fn windowed_stats_recompute(&self, window: Window) -> Result<DStream<Moments>>;

    /// Per batch, a quantile sketch configured like `empty` (see [`QuantileSketch`]).
    fn quantiles(&self, empty: QuantileSketch) -> DStream<QuantileSketch>;

    /// Per slide, the quantile sketch of the window, by recomputation (DDSketch has no
    /// inverse): O(batches in the window × sketch bins) per slide. Bucket counts merge
    /// exactly, so this equals one sketch over the window's values.
    fn windowed_quantiles(
        &self,
        empty: QuantileSketch,
        window: Window,
    ) -> Result<DStream<QuantileSketch>>;

    /// Per batch, a histogram with the bins of `empty`.
    fn histogram(&self, empty: Histogram) -> DStream<Histogram>;

    /// Per slide, the histogram of the window, incrementally (counts are subtracted exactly):
    /// O(bins × (entering + leaving batches)) per slide.
    fn windowed_histogram(&self, empty: Histogram, window: Window) -> Result<DStream<Histogram>>;

    /// Feeds every batch, in stream order, to the drift `detector` held on the driver, and
    /// emits one [`DriftReport`] per batch (its detections and the stream position of the
    /// last one). The detector is checkpointed with the stream and restored on recovery.
    /// Cost: the batch is collected to the driver, then O(1) amortized per value.
    ///
    /// Register `detector` (with [`StreamingContext::managed_state`]) before calling this, and
    /// in the build function given to `get_or_create` when recovering.
    ///
    /// [`StreamingContext::managed_state`]: spate_core::StreamingContext::managed_state
    fn detect_drift<D: DriftDetector + Data>(
        &self,
        detector: &ManagedState<D>,
    ) -> Result<DStream<DriftReport>>;

    /// Exponentially weighted mean and variance over the whole stream, in order: each batch
    /// is summarized in parallel (partitions merged in order), then appended to `state` on
    /// the driver; emits the state after every batch. Checkpointed like
    /// [`detect_drift`](Self::detect_drift). O(batch / partitions) per batch plus O(1) on
    /// the driver.
    fn ew_stats(&self, state: &ManagedState<EwMoments>) -> Result<DStream<EwMoments>>;
}

impl DStreamStatsExt for DStream<f64> {
    fn summarize_values<S: NumericSummary>(&self, empty: S) -> DStream<S> {
        summarize_from(self, empty, S::update)
    }

    fn stats(&self) -> DStream<Moments> {
        self.summarize(Moments::from_slice)
    }

    fn windowed_stats(&self, window: Window) -> Result<DStream<Moments>> {
        self.stats().merge_by_window(window)
    }

    fn windowed_stats_recompute(&self, window: Window) -> Result<DStream<Moments>> {
        self.stats().merge_by_window_recompute(window)
    }

    fn quantiles(&self, empty: QuantileSketch) -> DStream<QuantileSketch> {
        self.summarize_values(empty)
    }

    fn windowed_quantiles(
        &self,
        empty: QuantileSketch,
        window: Window,
    ) -> Result<DStream<QuantileSketch>> {
        self.quantiles(empty).merge_by_window_recompute(window)
    }

    fn histogram(&self, empty: Histogram) -> DStream<Histogram> {
        self.summarize_values(empty)
    }

    fn windowed_histogram(&self, empty: Histogram, window: Window) -> Result<DStream<Histogram>> {
        self.histogram(empty).merge_by_window(window)
    }

    fn detect_drift<D: DriftDetector + Data>(
        &self,
        detector: &ManagedState<D>,
    ) -> Result<DStream<DriftReport>> {
        apply_in_order(self, detector, |detector, values| {
            Some(detector.update(&values))
        })
    }

    fn ew_stats(&self, state: &ManagedState<EwMoments>) -> Result<DStream<EwMoments>> {
        // α is fixed when the state is built; a restored checkpoint keeps it.
        let batches = self.summarize_values(EwMoments::with_alpha(state.lock().alpha()));
        apply_in_order(&batches, state, |state, batch| {
            for summary in &batch {
                state.merge(summary);
            }
            Some(state.clone())
        })
    }
}

/// Statistics of a stream of rows (`Vec<f64>`, e.g. the records of a CSV source), column by
/// column, and their covariance.
pub trait DStreamColumnStatsExt {
    /// Per batch, one summary per column, each configured like `empty`: rows are gathered
    /// column by column into contiguous buffers, so every column runs the summary's batch
    /// kernel; one pass over each partition's rows.
    fn summarize_columns<S: NumericSummary>(&self, empty: S) -> DStream<PerColumn<S>>;

    /// Per batch, the moments of every column.
    fn column_stats(&self) -> DStream<PerColumn<Moments>>;

    /// Per slide, the moments of every column over the window, incrementally (see
    /// [`DStreamStatsExt::windowed_stats`] for the cost and the extremes).
    fn windowed_column_stats(&self, window: Window) -> Result<DStream<PerColumn<Moments>>>;

    /// Per slide, the moments of every column over the window, by recomputation.
    fn windowed_column_stats_recompute(
        &self,
        window: Window,
    ) -> Result<DStream<PerColumn<Moments>>>;

    /// Per batch, a quantile sketch of every column.
    fn column_quantiles(&self, empty: QuantileSketch) -> DStream<PerColumn<QuantileSketch>>;

    /// Per slide, a quantile sketch of every column over the window, by recomputation.
    fn windowed_column_quantiles(
        &self,
        empty: QuantileSketch,
        window: Window,
    ) -> Result<DStream<PerColumn<QuantileSketch>>>;

    /// Per batch, the mean vector and covariance matrix of rows of `dim` values. Rows of
    /// another length, or holding NaN or ±∞, are skipped and counted
    /// ([`CovarianceMatrix::skipped_rows`]). O(dim²) per row.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `dim` is 0.
    fn covariance(&self, dim: usize) -> Result<DStream<CovarianceMatrix>>;

    /// Per slide, the covariance over the window, incrementally (retraction leaves a rounding
    /// residue of ≈1e-16 of the sums per slide, see [`CovarianceMatrix`]). O(dim² ×
    /// (entering + leaving batches)) per slide.
    ///
    /// # Errors
    /// As [`covariance`](Self::covariance), and a window that is not a multiple of the
    /// batch interval.
    fn windowed_covariance(&self, dim: usize, window: Window) -> Result<DStream<CovarianceMatrix>>;
}

impl DStreamColumnStatsExt for DStream<Vec<f64>> {
    fn summarize_columns<S: NumericSummary>(&self, empty: S) -> DStream<PerColumn<S>> {
        self.summarize(move |rows: &[Vec<f64>]| summarize_rows(rows, &empty))
    }

    fn column_stats(&self) -> DStream<PerColumn<Moments>> {
        self.summarize_columns(Moments::new())
    }

    fn windowed_column_stats(&self, window: Window) -> Result<DStream<PerColumn<Moments>>> {
        self.column_stats().merge_by_window(window)
    }

    fn windowed_column_stats_recompute(
        &self,
        window: Window,
    ) -> Result<DStream<PerColumn<Moments>>> {
        self.column_stats().merge_by_window_recompute(window)
    }

    fn column_quantiles(&self, empty: QuantileSketch) -> DStream<PerColumn<QuantileSketch>> {
        self.summarize_columns(empty)
    }

    fn windowed_column_quantiles(
        &self,
        empty: QuantileSketch,
        window: Window,
    ) -> Result<DStream<PerColumn<QuantileSketch>>> {
        self.column_quantiles(empty)
            .merge_by_window_recompute(window)
    }

    fn covariance(&self, dim: usize) -> Result<DStream<CovarianceMatrix>> {
        if dim == 0 {
            return Err(Error::invalid("dim", dim, "must be at least 1"));
        }
        Ok(self.summarize(move |rows: &[Vec<f64>]| covariance_of(rows, dim)))
    }

    fn windowed_covariance(&self, dim: usize, window: Window) -> Result<DStream<CovarianceMatrix>> {
        self.covariance(dim)?.merge_by_window(window)
    }
}

/// Sketches of a stream of hashable items: distinct counts, frequencies, heavy hitters.
/// Items are hashed with the crate's fixed hasher, so partition sketches merge exactly.
pub trait DStreamSketchExt<T> {
    /// Per batch, the distinct items (HyperLogLog with the precision of `empty`); Spark's
    /// `countApproxDistinct`. One hash per item.
    fn count_approx_distinct(&self, empty: HyperLogLog) -> DStream<HyperLogLog>;

    /// Per slide, the distinct items of the window, by recomputation (register maxima have
    /// no inverse): O(batches in the window × 2^precision) per slide. Equals one sketch over
    /// the window's items exactly.
    fn windowed_count_approx_distinct(
        &self,
        empty: HyperLogLog,
        window: Window,
    ) -> Result<DStream<HyperLogLog>>;

    /// Per batch, a count-min sketch of item frequencies, shaped like `empty`.
    fn count_min(&self, empty: CountMinSketch) -> DStream<CountMinSketch>;

    /// Per slide, the count-min sketch of the window, incrementally (counters are
    /// subtracted exactly): O(width × depth × (entering + leaving batches)) per slide.
    fn windowed_count_min(
        &self,
        empty: CountMinSketch,
        window: Window,
    ) -> Result<DStream<CountMinSketch>>;

    /// Per batch, the heavy hitters (Space-Saving with the capacity of `empty`).
    fn top_k(&self, empty: SpaceSaving<T>) -> DStream<SpaceSaving<T>>;

    /// Per slide, the heavy hitters of the window, by recomputation. The guarantees of
    /// [`SpaceSaving`] hold for the window's items.
    fn windowed_top_k(
        &self,
        empty: SpaceSaving<T>,
        window: Window,
    ) -> Result<DStream<SpaceSaving<T>>>;
}

impl<T: Key> DStreamSketchExt<T> for DStream<T> {
    fn count_approx_distinct(&self, empty: HyperLogLog) -> DStream<HyperLogLog> {
        summarize_from(self, empty, HyperLogLog::update::<T>)
    }

    fn windowed_count_approx_distinct(
        &self,
        empty: HyperLogLog,
        window: Window,
    ) -> Result<DStream<HyperLogLog>> {
        self.count_approx_distinct(empty)
            .merge_by_window_recompute(window)
    }

    fn count_min(&self, empty: CountMinSketch) -> DStream<CountMinSketch> {
        summarize_from(self, empty, CountMinSketch::update::<T>)
    }

    fn windowed_count_min(
        &self,
        empty: CountMinSketch,
        window: Window,
    ) -> Result<DStream<CountMinSketch>> {
        self.count_min(empty).merge_by_window(window)
    }

    fn top_k(&self, empty: SpaceSaving<T>) -> DStream<SpaceSaving<T>> {
        summarize_from(self, empty, SpaceSaving::update)
    }

    fn windowed_top_k(
        &self,
        empty: SpaceSaving<T>,
        window: Window,
    ) -> Result<DStream<SpaceSaving<T>>> {
        self.top_k(empty).merge_by_window_recompute(window)
    }
}

/// Spark's `StreamingTest` over a stream of A/B samples.
pub trait DStreamTestExt {
    /// Per batch, the two groups' moments are summarized in parallel, then applied to `test`
    /// on the driver, in batch order ([`StreamingTest::apply`]: peace period, window size,
    /// Welch or Student as configured). Emits at most one [`TestResult`] per batch: none
    /// during the peace period or while a group has fewer than two values. Spark's
    /// `StreamingTest.registerStream`; `test` is checkpointed with the stream and restored
    /// on recovery.
    ///
    /// Register `test` with
    /// [`StreamingContext::managed_state`](spate_core::StreamingContext::managed_state)
    /// first (in the build function given to `get_or_create` when recovering).
    fn streaming_test(&self, test: &ManagedState<StreamingTest>) -> Result<DStream<TestResult>>;
}

impl DStreamTestExt for DStream<BinarySample> {
    fn streaming_test(&self, test: &ManagedState<StreamingTest>) -> Result<DStream<TestResult>> {
        let summaries = self.summarize(GroupSummary::from_samples);
        apply_in_order(&summaries, test, |test, batch| {
            test.apply(batch.into_iter().fold(GroupSummary::default(), merged))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_summarized_column_by_column() {
        let rows = vec![vec![1.0, 10.0], vec![2.0], vec![3.0, f64::NAN, 7.0], vec![]];
        let stats = summarize_rows(&rows, &Moments::new());
        assert_eq!(stats.len(), 3);
        let col = |j: usize| stats.get(j).unwrap();
        assert_eq!((col(0).count(), col(0).mean()), (3, Some(2.0)));
        assert_eq!((col(1).count(), col(1).skipped_non_finite()), (1, 1));
        assert_eq!((col(2).count(), col(2).mean()), (1, Some(7.0)));
        assert!(summarize_rows::<Moments>(&[], &Moments::new()).is_empty());
    }

    #[test]
    fn gathering_in_chunks_matches_one_slice() {
        let rows: Vec<Vec<f64>> = (0..5000)
            .map(|i| vec![f64::from(i), f64::from(i % 17) * 0.5])
            .collect();
        let stats = summarize_rows(&rows, &Moments::new());
        let first: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        assert_eq!(stats.get(0).unwrap().count(), 5000);
        let direct = Moments::from_slice(&first);
        let rel = (stats.get(0).unwrap().mean().unwrap() - direct.mean().unwrap()).abs()
            / direct.mean().unwrap();
        assert!(rel < 1e-15, "{rel}");
    }

    #[test]
    fn per_column_merge_pads_and_retract_undoes() {
        let a = PerColumn::from(vec![Moments::from_slice(&[1.0, 2.0])]);
        let b = PerColumn::from(vec![
            Moments::from_slice(&[3.0]),
            Moments::from_slice(&[5.0, 6.0]),
        ]);
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab.len(), 2);
        assert_eq!(ab.get(0).unwrap().mean(), Some(2.0));
        assert_eq!(ab.get(1).unwrap().mean(), Some(5.5));
        assert_eq!(ab.get(0).unwrap().mean(), ba.get(0).unwrap().mean());
        ab.retract(&b);
        assert_eq!(ab.get(0).unwrap().mean(), Some(1.5));
        assert_eq!(ab.get(1).unwrap().count(), 0);
        let mut identity = PerColumn::<Moments>::default();
        identity.merge(&a);
        assert_eq!(identity, a);
    }

    #[test]
    fn ragged_rows_are_skipped_by_covariance() {
        let rows = vec![vec![1.0, 2.0], vec![2.0, 4.0], vec![9.0], vec![3.0, 6.0]];
        let cov = covariance_of(&rows, 2);
        assert_eq!((cov.count(), cov.skipped_rows()), (3, 1));
        let c = cov.covariance().unwrap();
        assert!((c[[0, 1]] - 2.0).abs() < 1e-12, "{c}");
    }
}

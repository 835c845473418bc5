//! One-pass k-means over a bounded StreamKM++ summary: [`CoresetKMeans`] over the whole
//! stream, [`WindowedCoresetKMeans`] over the last batches.
//!
//! The stream is never revisited: every batch is folded into a [`KMeansCoreset`] of at most
//! `8m + 7m·levels` weighted points, and the centers are extracted from that summary when they
//! are asked for — the best of several k-means++ seedings, each refined by weighted Lloyd
//! iterations, on the summary (StreamKM++ runs k-means++ on its coreset; the Lloyd refinement
//! is what batch k-means adds).

use crate::coreset::KMeansCoreset;
use crate::error::{MlError, Result};
use crate::kmeans::{kmeans_plus_plus, nearest, nearest_to_point, nearest_to_rows, row_chunks};
use crate::online::{OnlineModel, Round};
use ndarray::{ArrayView1, ArrayView2};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use spate_core::Merge;
use std::collections::VecDeque;
use std::sync::OnceLock;

/// StreamKM++'s recommended coreset size per cluster (`m = 200·k`).
pub const DEFAULT_POINTS_PER_CLUSTER: usize = 200;
/// Default number of levels above the raw buffer: the summary stops growing after about
/// `m·8^levels` points (10^12 for `m = 1000`).
pub const DEFAULT_LEVELS: usize = 10;
/// Largest accepted coreset size, so an absurd option is an error, not an allocation failure.
const MAX_CORESET_SIZE: usize = 10_000_000;
/// Largest accepted number of levels.
const MAX_LEVELS: usize = 40;
/// Lloyd stops when the centers move less than this × the mean variance of the features
/// (scikit-learn's `tol` default and scaling).
const LLOYD_TOLERANCE: f64 = 1e-4;

/// Unchecked parameters of [`CoresetKMeans`] (and, through
/// [`WindowedCoresetKMeans::new`], of the windowed variant); [`build`](Self::build) validates
/// them.
///
/// Defaults: coreset size `m = 200·k` (StreamKM++'s recommendation), 20 levels, 5 restarts of
/// the extraction, at most 300 Lloyd iterations each (scikit-learn's default), seed 0.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct CoresetKMeansParams {
    k: usize,
    coreset_size: Option<usize>,
    levels: usize,
    restarts: usize,
    max_iterations: usize,
    seed: u64,
}

impl CoresetKMeansParams {
    /// Rows `m` of the raw buffer and of every bucket. Larger summarizes better and costs
    /// `O(d·log m)` more per point.
    pub fn coreset_size(mut self, m: usize) -> Self {
        self.coreset_size = Some(m);
        self
    }

    /// Levels of buckets above the raw buffer; the top level reduces in place, so the summary
    /// holds at most `8m + 7m·levels` points.
    pub fn levels(mut self, levels: usize) -> Self {
        self.levels = levels;
        self
    }

    /// k-means++ seedings tried when the centers are extracted; the cheapest on the summary
    /// wins.
    pub fn restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    /// Most Lloyd iterations per restart of the extraction.
    pub fn max_iterations(mut self, iterations: usize) -> Self {
        self.max_iterations = iterations;
        self
    }

    /// Seed of the reductions and of the extraction.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn check(&self) -> Result<(Shape, Extraction)> {
        let k = self.k;
        if k == 0 {
            return Err(MlError::InvalidK { k });
        }
        let size = self
            .coreset_size
            .unwrap_or(k.saturating_mul(DEFAULT_POINTS_PER_CLUSTER));
        if size < k.max(2) || size > MAX_CORESET_SIZE {
            return Err(MlError::InvalidCoresetSize {
                size,
                k,
                max: MAX_CORESET_SIZE,
            });
        }
        if self.levels == 0 || self.levels > MAX_LEVELS {
            return Err(MlError::InvalidLevels {
                levels: self.levels,
                max: MAX_LEVELS,
            });
        }
        if self.restarts == 0 {
            return Err(MlError::InvalidRestarts);
        }
        if self.max_iterations == 0 {
            return Err(MlError::InvalidMaxIterations);
        }
        let shape = Shape {
            size,
            levels: self.levels,
        };
        let extraction = Extraction {
            k,
            restarts: self.restarts,
            max_iterations: self.max_iterations,
            seed: self.seed,
        };
        Ok((shape, extraction))
    }

    /// Validate the parameters and create the model.
    ///
    /// # Errors
    /// [`MlError::InvalidK`], [`MlError::InvalidCoresetSize`], [`MlError::InvalidLevels`],
    /// [`MlError::InvalidRestarts`] or [`MlError::InvalidMaxIterations`].
    pub fn build(self) -> Result<CoresetKMeans> {
        let (shape, extraction) = self.check()?;
        Ok(CoresetKMeans {
            shape,
            batches: 0,
            coreset: KMeansCoreset::new(0, shape.size, shape.levels, extraction.seed),
            extraction,
            fitted: FitCache::default(),
        })
    }
}

/// Bucket size and levels of the summaries of a model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Shape {
    size: usize,
    levels: usize,
}

impl Shape {
    /// The summary of one partition of the current batch.
    fn summarize(
        self,
        dim: Option<usize>,
        seed: u64,
        batches: u64,
        partition: ArrayView2<'_, f64>,
    ) -> Result<KMeansCoreset> {
        let d = partition.ncols();
        if d == 0 {
            return Err(MlError::ZeroDimension);
        }
        if let Some(expected) = dim
            && expected != d
        {
            return Err(MlError::DimensionMismatch { expected, found: d });
        }
        let seed = partition_seed(seed, batches, partition);
        let mut coreset = KMeansCoreset::new(d, self.size, self.levels, seed);
        coreset.extend(partition.as_standard_layout().view());
        Ok(coreset)
    }

    /// Checks that merged partition summaries fit a model of this shape and dimension.
    fn check_stats(self, dim: Option<usize>, stats: &KMeansCoreset) -> Result<()> {
        let fits = stats.consistent()
            && (stats.dim().is_none()
                || (stats.same_shape(self.size, self.levels)
                    && dim.is_none_or(|d| stats.dim() == Some(d))));
        if fits {
            Ok(())
        } else {
            Err(MlError::IncompatibleStats)
        }
    }
}

/// A seed for a partition's reductions: the model's seed, the batch number and a fingerprint
/// of the partition, so partitions of one batch draw independently and reruns are identical.
fn partition_seed(seed: u64, batches: u64, partition: ArrayView2<'_, f64>) -> u64 {
    let mut h = seed ^ 0x243F_6A88_85A3_08D3;
    let mut mix = |v: u64| {
        h = (h ^ v).wrapping_mul(0x1000_0000_01B3).rotate_left(29);
    };
    mix(batches);
    mix(partition.nrows() as u64);
    if let Some(row) = partition.rows().into_iter().next() {
        for x in row {
            mix(x.to_bits());
        }
    }
    h
}

/// How centers are extracted from a summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Extraction {
    k: usize,
    restarts: usize,
    max_iterations: usize,
    seed: u64,
}

impl Extraction {
    /// The best of `restarts` weighted k-means++ seedings refined by weighted Lloyd.
    fn fit(&self, rows: &[f64], weights: &[f64], d: usize) -> KMeansCenters {
        let tolerance = LLOYD_TOLERANCE * mean_variance(rows, weights, d);
        let mut best: Option<KMeansCenters> = None;
        for restart in 0..self.restarts as u64 {
            let seed = self
                .seed
                .wrapping_add((restart + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut centers = kmeans_plus_plus(rows, Some(weights), d, self.k, &mut rng);
            let cost = lloyd(
                rows,
                weights,
                d,
                &mut centers,
                self.max_iterations,
                tolerance,
            );
            if best.as_ref().is_none_or(|b| cost < b.summary_cost) {
                best = Some(KMeansCenters {
                    dim: d,
                    centers,
                    summary_cost: cost,
                });
            }
        }
        best.expect("at least one restart")
    }
}

/// Weighted mean over the features of each feature's variance.
fn mean_variance(rows: &[f64], weights: &[f64], d: usize) -> f64 {
    let total: f64 = weights.iter().sum();
    let mut mean = vec![0.0; d];
    for (row, &w) in rows.chunks_exact(d).zip(weights) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += w * x;
        }
    }
    mean.iter_mut().for_each(|m| *m /= total);
    let mut var = 0.0;
    for (row, &w) in rows.chunks_exact(d).zip(weights) {
        for (m, x) in mean.iter().zip(row) {
            var += w * (x - m) * (x - m);
        }
    }
    var / total / d as f64
}

/// Weighted Lloyd iterations from `centers` until they move (in total squared distance) by
/// at most `tolerance` or `max_iterations` passes; returns the weighted cost of the final
/// centers. A center that loses all its points stays where it was.
fn lloyd(
    rows: &[f64],
    weights: &[f64],
    d: usize,
    centers: &mut [f64],
    max_iterations: usize,
    tolerance: f64,
) -> f64 {
    let k = centers.len() / d;
    let mut sums = vec![0.0; k * d];
    let mut mass = vec![0.0; k];
    for _ in 0..max_iterations {
        sums.fill(0.0);
        mass.fill(0.0);
        for (row, &w) in rows.chunks_exact(d).zip(weights) {
            let (c, _) = nearest(row, centers, d);
            mass[c] += w;
            for (s, x) in sums[c * d..(c + 1) * d].iter_mut().zip(row) {
                *s += w * x;
            }
        }
        let mut shift = 0.0;
        for c in 0..k {
            if mass[c] > 0.0 {
                for j in 0..d {
                    let new = sums[c * d + j] / mass[c];
                    let old = &mut centers[c * d + j];
                    shift += (new - *old) * (new - *old);
                    *old = new;
                }
            }
        }
        if shift <= tolerance {
            break;
        }
    }
    rows.chunks_exact(d)
        .zip(weights)
        .map(|(row, &w)| w * nearest(row, centers, d).1)
        .sum()
}

/// k centers extracted from a summary: they predict clusters and evaluate costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansCenters {
    dim: usize,
    /// `k × dim`, row-major.
    centers: Vec<f64>,
    summary_cost: f64,
}

impl KMeansCenters {
    /// The `k × dim` centers, one per row.
    pub fn centers(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.centers.len() / self.dim, self.dim), &self.centers)
            .expect("centers hold k × dim values")
    }

    /// The weighted k-means cost of the centers on the summary they were extracted from: an
    /// estimate of their cost on the stream the summary stands for.
    pub fn summary_cost(&self) -> f64 {
        self.summary_cost
    }

    fn check_dim(&self, found: usize) -> Result<()> {
        if found == self.dim {
            Ok(())
        } else {
            Err(MlError::DimensionMismatch {
                expected: self.dim,
                found,
            })
        }
    }

    /// Index of the center nearest to `point` (ties go to the lowest index).
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] or [`MlError::NonFinitePoint`].
    pub fn predict(&self, point: ArrayView1<'_, f64>) -> Result<usize> {
        self.check_dim(point.len())?;
        nearest_to_point(point, &self.centers, self.dim)
    }

    /// Nearest center of every row; `None` for rows holding NaN or infinity.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn predict_batch(&self, rows: ArrayView2<'_, f64>) -> Result<Vec<Option<usize>>> {
        self.check_dim(rows.ncols())?;
        Ok(nearest_to_rows(rows, &self.centers, self.dim))
    }

    /// Sum of squared distances of the finite rows to their nearest center (k-means cost).
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`].
    pub fn cost(&self, rows: ArrayView2<'_, f64>) -> Result<f64> {
        self.check_dim(rows.ncols())?;
        let rows = rows.as_standard_layout();
        Ok(row_chunks(rows.as_slice(), self.dim)
            .map(|row| nearest(row, &self.centers, self.dim).1)
            .filter(|dist| dist.is_finite())
            .sum())
    }
}

/// The centers extracted from the current summary, computed on first use after an update.
/// Not serialized and ignored by `==`: it is a function of the rest of the model.
#[derive(Debug, Clone, Default)]
struct FitCache(OnceLock<KMeansCenters>);

impl PartialEq for FitCache {
    fn eq(&self, _: &FitCache) -> bool {
        true
    }
}

impl FitCache {
    fn get_or_fit(
        &self,
        extraction: &Extraction,
        summary: impl FnOnce() -> (Vec<f64>, Vec<f64>, usize),
    ) -> Result<&KMeansCenters> {
        if let Some(fitted) = self.0.get() {
            return Ok(fitted);
        }
        let (rows, weights, d) = summary();
        if weights.is_empty() {
            return Err(MlError::EmptySummary);
        }
        Ok(self.0.get_or_init(|| extraction.fit(&rows, &weights, d)))
    }
}

/// What one batch did to a coreset model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CoresetReport {
    /// Finite points added to the summary.
    pub points: u64,
    /// Rows skipped: NaN, infinity, or a squared norm above 1e250.
    pub skipped: u64,
    /// Weighted points the model holds after the batch (bounded whatever the stream length).
    pub summary_points: usize,
}

/// One-pass k-means with bounded memory: a StreamKM++ coreset of the whole stream, from which
/// the centers are extracted on demand.
///
/// Build it with [`CoresetKMeans::params`], feed batches with [`update`](OnlineModel::update)
/// (or per partition with [`summarize`](OnlineModel::summarize) + [`Merge::merge`] +
/// [`apply`](OnlineModel::apply)), and ask for [`centers`](Self::centers),
/// [`predict`](Self::predict) or [`fitted`](Self::fitted) at any time.
///
/// Unlike [`StreamingKMeans`](crate::StreamingKMeans), nothing is decided early: a blob that
/// appears late in a time-ordered stream is as well represented as one seen first, which is
/// what brings one pass close to batch k-means (`docs/benchmarks.md`). Nothing is forgotten
/// either; [`WindowedCoresetKMeans`] clusters only the last batches.
///
/// Rows with NaN or infinity (or a squared norm above 1e250, which could overflow) are
/// skipped and counted in [`CoresetReport::skipped`].
///
/// Cost: `O(d·log m)` amortized per point to update (a point is compared with about
/// `log₂ m` centers in `8/7` coreset-tree reductions on average); memory at most
/// `8m + 7m·levels` points. Extracting the
/// centers costs `restarts × (k-means++ + Lloyd iterations)` over that summary, once per
/// update (cached until the next one).
///
/// ```
/// use ndarray::{Array2, Axis};
/// use spate_ml::{CoresetKMeans, OnlineModel};
///
/// // Two blobs, one after the other in time.
/// let points = Array2::from_shape_fn((4000, 2), |(i, j)| {
///     let blob = if i < 2000 { 0.0 } else { 50.0 };
///     blob + ((i * 7 + j * 13) % 10) as f64 / 10.0
/// });
/// let mut model = CoresetKMeans::params(2).coreset_size(100).seed(1).build()?;
/// for batch in points.axis_chunks_iter(Axis(0), 500) {
///     model.update(batch)?;
/// }
/// assert!(model.coreset().len() <= model.coreset().capacity());
/// let near = |x: f64| model.centers().unwrap().rows().into_iter().any(|c| (c[0] - x).abs() < 1.0);
/// assert!(near(0.45) && near(50.45));
/// # Ok::<(), spate_ml::MlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct CoresetKMeans {
    shape: Shape,
    extraction: Extraction,
    batches: u64,
    coreset: KMeansCoreset,
    #[serde(skip)]
    fitted: FitCache,
}

crate::checkpoint::validated_serde!(CoresetKMeans, CoresetKMeans::check_checkpoint);

impl CoresetKMeans {
    /// Start configuring a model with `k` clusters.
    pub fn params(k: usize) -> CoresetKMeansParams {
        CoresetKMeansParams {
            k,
            coreset_size: None,
            levels: DEFAULT_LEVELS,
            restarts: 5,
            max_iterations: 300,
            seed: 0,
        }
    }

    fn check_checkpoint(&self) -> Result<()> {
        let corrupt = |reason| MlError::CorruptCheckpoint {
            model: "CoresetKMeans",
            reason,
        };
        check_parts(&self.shape, &self.extraction).map_err(corrupt)?;
        if !self.coreset.consistent()
            || (self.coreset.dim().is_some()
                && !self.coreset.same_shape(self.shape.size, self.shape.levels))
        {
            return Err(corrupt("the summary does not match its shape"));
        }
        Ok(())
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.extraction.k
    }

    /// Number of features, or `None` before the first data.
    pub fn dim(&self) -> Option<usize> {
        self.coreset.dim()
    }

    /// The summary of everything seen so far.
    pub fn coreset(&self) -> &KMeansCoreset {
        &self.coreset
    }

    /// The centers extracted from the current summary (computed on the first call after an
    /// update, then cached).
    ///
    /// # Errors
    /// [`MlError::EmptySummary`] before the first finite point.
    pub fn fitted(&self) -> Result<&KMeansCenters> {
        self.fitted.get_or_fit(&self.extraction, || {
            let (rows, weights) = self.coreset.union();
            (rows, weights, self.coreset.dim().unwrap_or(0))
        })
    }
}

/// Checks shared by the checkpoints of both coreset models.
fn check_parts(shape: &Shape, extraction: &Extraction) -> std::result::Result<(), &'static str> {
    if extraction.k == 0 || extraction.restarts == 0 || extraction.max_iterations == 0 {
        return Err("k, restarts and iterations must be at least 1");
    }
    if shape.size < extraction.k.max(2)
        || shape.size > MAX_CORESET_SIZE
        || shape.levels == 0
        || shape.levels > MAX_LEVELS
    {
        return Err("coreset size or levels out of range");
    }
    Ok(())
}

/// The query methods both coreset models delegate to their [`KMeansCenters`].
macro_rules! center_queries {
    ($model:ty) => {
        impl $model {
            /// The `k × dim` centers, one per row (see [`fitted`](Self::fitted)).
            ///
            /// # Errors
            /// [`MlError::EmptySummary`] before the first finite point.
            pub fn centers(&self) -> Result<ArrayView2<'_, f64>> {
                Ok(self.fitted()?.centers())
            }

            /// Index of the center nearest to `point` (ties go to the lowest index).
            ///
            /// # Errors
            /// [`MlError::EmptySummary`], [`MlError::DimensionMismatch`] or
            /// [`MlError::NonFinitePoint`].
            pub fn predict(&self, point: ArrayView1<'_, f64>) -> Result<usize> {
                self.fitted()?.predict(point)
            }

            /// Nearest center of every row; `None` for rows holding NaN or infinity.
            ///
            /// # Errors
            /// [`MlError::EmptySummary`] or [`MlError::DimensionMismatch`].
            pub fn predict_batch(&self, rows: ArrayView2<'_, f64>) -> Result<Vec<Option<usize>>> {
                self.fitted()?.predict_batch(rows)
            }

            /// Sum of squared distances of the finite rows to their nearest center.
            ///
            /// # Errors
            /// [`MlError::EmptySummary`] or [`MlError::DimensionMismatch`].
            pub fn cost(&self, rows: ArrayView2<'_, f64>) -> Result<f64> {
                self.fitted()?.cost(rows)
            }
        }
    };
}

center_queries!(CoresetKMeans);
center_queries!(WindowedCoresetKMeans);

impl OnlineModel for CoresetKMeans {
    type Batch<'a> = ArrayView2<'a, f64>;
    type Stats = KMeansCoreset;
    type Report = CoresetReport;

    fn summarize(&self, partition: ArrayView2<'_, f64>) -> Result<KMeansCoreset> {
        self.shape
            .summarize(self.dim(), self.extraction.seed, self.batches, partition)
    }

    fn apply(&mut self, stats: KMeansCoreset) -> Result<Round<CoresetReport>> {
        self.shape.check_stats(self.dim(), &stats)?;
        self.coreset.merge(&stats);
        self.batches += 1;
        self.fitted = FitCache::default();
        Ok(Round::Done(CoresetReport {
            points: stats.points(),
            skipped: stats.skipped(),
            summary_points: self.coreset.len(),
        }))
    }
}

/// One-pass k-means over the last `window` batches: one summary of at most `m` points per
/// batch, the centers extracted from their union.
///
/// Every batch, empty or not, is one pane, so the window is a span of time, as a Spark window
/// is. Each pane is reduced to at most `m` weighted points when it arrives; the panes are
/// merged (merge-and-reduce, bounded by `8m + 7m·levels` points) when centers are asked for.
/// Memory: at most `window × m` points, whatever the length of the stream or of a batch.
///
/// ```
/// use ndarray::Array2;
/// use spate_ml::{CoresetKMeans, OnlineModel, WindowedCoresetKMeans};
///
/// let mut model = WindowedCoresetKMeans::new(CoresetKMeans::params(1).coreset_size(50), 2)?;
/// for shift in [0.0, 100.0, 200.0] {
///     let batch = Array2::from_shape_fn((300, 1), |(i, _)| shift + (i % 10) as f64);
///     model.update(batch.view())?;
/// }
/// // Only the last two batches count: the center sits between them.
/// assert!((model.centers()?[(0, 0)] - 154.5).abs() < 1e-9);
/// assert_eq!(model.window_points(), 600);
/// # Ok::<(), spate_ml::MlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct WindowedCoresetKMeans {
    shape: Shape,
    extraction: Extraction,
    window: usize,
    batches: u64,
    /// 0 before the first data.
    dim: usize,
    panes: VecDeque<KMeansCoreset>,
    #[serde(skip)]
    fitted: FitCache,
}

crate::checkpoint::validated_serde!(
    WindowedCoresetKMeans,
    WindowedCoresetKMeans::check_checkpoint
);

impl WindowedCoresetKMeans {
    /// A model clustering the last `window` batches with the given parameters.
    ///
    /// # Errors
    /// As [`CoresetKMeansParams::build`], and [`MlError::InvalidWindow`] for a window of 0
    /// batches.
    pub fn new(params: CoresetKMeansParams, window: usize) -> Result<WindowedCoresetKMeans> {
        let (shape, extraction) = params.check()?;
        if window == 0 {
            return Err(MlError::InvalidWindow { batches: window });
        }
        Ok(WindowedCoresetKMeans {
            shape,
            extraction,
            window,
            batches: 0,
            dim: 0,
            panes: VecDeque::with_capacity(window.min(1024)),
            fitted: FitCache::default(),
        })
    }

    fn check_checkpoint(&self) -> Result<()> {
        let corrupt = |reason| MlError::CorruptCheckpoint {
            model: "WindowedCoresetKMeans",
            reason,
        };
        check_parts(&self.shape, &self.extraction).map_err(corrupt)?;
        if self.window == 0 || self.panes.len() > self.window {
            return Err(corrupt("more panes than the window holds"));
        }
        let pane_ok = |p: &KMeansCoreset| {
            p.consistent()
                && p.dim().is_none_or(|d| {
                    d == self.dim && p.same_shape(self.shape.size, self.shape.levels)
                })
                && p.len() <= self.shape.size
        };
        if !self.panes.iter().all(pane_ok) {
            return Err(corrupt("a pane does not match the model"));
        }
        Ok(())
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.extraction.k
    }

    /// Number of features, or `None` before the first data.
    pub fn dim(&self) -> Option<usize> {
        (self.dim > 0).then_some(self.dim)
    }

    /// Batches in the window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// `m`, the most weighted points a pane keeps.
    pub fn coreset_size(&self) -> usize {
        self.shape.size
    }

    /// Finite points of the batches now in the window.
    pub fn window_points(&self) -> u64 {
        self.panes.iter().map(KMeansCoreset::points).sum()
    }

    /// Weighted points held by the panes of the window.
    pub fn summary_points(&self) -> usize {
        self.panes.iter().map(KMeansCoreset::len).sum()
    }

    /// The centers extracted from the window's panes (computed on the first call after an
    /// update, then cached).
    ///
    /// # Errors
    /// [`MlError::EmptySummary`] when the window holds no finite point.
    pub fn fitted(&self) -> Result<&KMeansCenters> {
        self.fitted.get_or_fit(&self.extraction, || {
            let seed = self.extraction.seed ^ self.batches;
            let mut union = KMeansCoreset::new(self.dim, self.shape.size, self.shape.levels, seed);
            for pane in &self.panes {
                union.merge(pane);
            }
            let (rows, weights) = union.union();
            (rows, weights, self.dim)
        })
    }
}

impl OnlineModel for WindowedCoresetKMeans {
    type Batch<'a> = ArrayView2<'a, f64>;
    type Stats = KMeansCoreset;
    type Report = CoresetReport;

    fn summarize(&self, partition: ArrayView2<'_, f64>) -> Result<KMeansCoreset> {
        self.shape
            .summarize(self.dim(), self.extraction.seed, self.batches, partition)
    }

    fn apply(&mut self, mut stats: KMeansCoreset) -> Result<Round<CoresetReport>> {
        self.shape.check_stats(self.dim(), &stats)?;
        if let Some(d) = stats.dim() {
            self.dim = d;
        }
        stats.compact();
        let report = CoresetReport {
            points: stats.points(),
            skipped: stats.skipped(),
            summary_points: 0,
        };
        self.panes.push_back(stats);
        while self.panes.len() > self.window {
            self.panes.pop_front();
        }
        self.batches += 1;
        self.fitted = FitCache::default();
        Ok(Round::Done(CoresetReport {
            summary_points: self.summary_points(),
            ..report
        }))
    }
}

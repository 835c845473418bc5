//! Streaming k-means with Spark MLlib's forgetful update rule.
//!
//! Per batch, every cluster weight is discounted by the decay factor (`a` per batch, or `a^n`
//! for a batch of `n` points), then each cluster `c` that received `m` new points with sum `S`
//! moves to `(w'·c + S) / (w' + m)` — the same as Spark's `λ = m / (w' + m)`,
//! `c ← (1 − λ)·c + λ·mean`, written so that decay 0 gives the batch mean exactly. Finally, if the
//! lightest cluster weighs less than `1e-8` × the heaviest, it is "dying": it is replaced by
//! splitting the heaviest in two, exactly as Spark does.

use crate::error::{MlError, Result};
use crate::online::{OnlineModel, Round};
use ndarray::{Array2, ArrayView1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use spate_core::Merge;

/// Spark's relative weight below which a cluster is dying and gets replaced.
const DYING_WEIGHT: f64 = 1e-8;
/// Spark's relative perturbation when a cluster is split in two.
const SPLIT_PERTURBATION: f64 = 1e-14;

/// The unit in which forgetting is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TimeUnit {
    /// Discount by the decay factor once per batch, whatever its size (Spark's `batches`).
    #[default]
    Batches,
    /// Discount by `a^n` for a batch of `n` points (Spark's `points`).
    Points,
}

/// How the initial centers are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Init {
    /// `k` centers with coordinates drawn from the standard normal distribution, each starting
    /// with `weight` (Spark's `setRandomCenters(dim, weight, seed)`).
    Random {
        /// Number of features.
        dim: usize,
        /// Initial weight of every center.
        weight: f64,
    },
    /// Centers and weights given by the user (Spark's `setInitialCenters`).
    Given {
        /// `k × dim` centers, one per row.
        centers: Array2<f64>,
        /// `k` non-negative initial weights; weight 0 lets the first batch replace the center.
        weights: Vec<f64>,
    },
    /// k-means++ seeding over a buffer of the first batches (Spark has no equivalent).
    ///
    /// Batches are buffered until at least `buffer_points` finite points arrived; then the
    /// centers are seeded by greedy k-means++ over the buffer and the buffered batches are
    /// replayed, in order and one batch at a time, through the ordinary update, so the decay
    /// semantics are the same as if the centers had existed from the start. The dying-cluster
    /// rule is applied only after the last replayed batch: a center seeded from a point of a
    /// later batch (a time-ordered stream) has weight 0 until that batch is replayed, and is
    /// not dying.
    KMeansPlusPlus {
        /// Finite points to buffer before seeding (at least `k`).
        buffer_points: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Forgetting {
    Decay(f64),
    HalfLife(f64),
}

/// Unchecked parameters of [`StreamingKMeans`]; [`build`](Self::build) validates them.
///
/// Defaults follow Spark: decay factor 1 (no forgetting), time unit [`TimeUnit::Batches`];
/// the default initialization is k-means++ over the first `k` points, seed 0.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct StreamingKMeansParams {
    k: usize,
    forgetting: Forgetting,
    time_unit: TimeUnit,
    seed: u64,
    init: Option<Init>,
}

impl StreamingKMeansParams {
    /// Forget with decay factor `a` per time unit: 1 keeps all history, 0 only the last batch.
    pub fn decay(mut self, a: f64) -> Self {
        self.forgetting = Forgetting::Decay(a);
        self
    }

    /// Forget so that a point's weight halves after `half_life` units of `unit`
    /// (decay factor `exp(ln 0.5 / half_life)`, as Spark's `setHalfLife`).
    pub fn half_life(mut self, half_life: f64, unit: TimeUnit) -> Self {
        self.forgetting = Forgetting::HalfLife(half_life);
        self.time_unit = unit;
        self
    }

    /// The unit in which the decay is counted (default [`TimeUnit::Batches`]).
    pub fn time_unit(mut self, unit: TimeUnit) -> Self {
        self.time_unit = unit;
        self
    }

    /// Seed of the random initialization (random centers or k-means++).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Choose the initialization from a value, e.g. one parsed from a command line.
    pub fn init(mut self, init: Init) -> Self {
        self.init = Some(init);
        self
    }

    /// Start from `k` standard-normal random centers in `dim` dimensions, each with `weight`.
    pub fn random_centers(mut self, dim: usize, weight: f64) -> Self {
        self.init = Some(Init::Random { dim, weight });
        self
    }

    /// Start from the given `k × dim` centers, each with its initial weight.
    pub fn initial_centers(mut self, centers: Array2<f64>, weights: Vec<f64>) -> Self {
        self.init = Some(Init::Given { centers, weights });
        self
    }

    /// Seed the centers by k-means++ once `buffer_points` finite points have been buffered.
    pub fn kmeans_plus_plus(mut self, buffer_points: usize) -> Self {
        self.init = Some(Init::KMeansPlusPlus { buffer_points });
        self
    }

    /// Validate the parameters and create the model.
    ///
    /// # Errors
    /// [`MlError::InvalidK`], [`MlError::InvalidDecay`], [`MlError::InvalidHalfLife`],
    /// [`MlError::ZeroDimension`], [`MlError::InitialCentersShape`],
    /// [`MlError::InitialWeights`], [`MlError::NonFiniteParameter`] or
    /// [`MlError::BufferTooSmall`], each naming the offending value.
    pub fn build(self) -> Result<StreamingKMeans> {
        let k = self.k;
        if k == 0 {
            return Err(MlError::InvalidK { k });
        }
        let decay = match self.forgetting {
            Forgetting::Decay(decay) if (0.0..=1.0).contains(&decay) => decay,
            Forgetting::Decay(decay) => return Err(MlError::InvalidDecay { decay }),
            Forgetting::HalfLife(h) if h > 0.0 && h.is_finite() => (0.5_f64.ln() / h).exp(),
            Forgetting::HalfLife(half_life) => return Err(MlError::InvalidHalfLife { half_life }),
        };
        let init = self
            .init
            .unwrap_or(Init::KMeansPlusPlus { buffer_points: k });
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let (dim, centers, weights, phase) = match init {
            Init::Random { dim, weight } => {
                if dim == 0 {
                    return Err(MlError::ZeroDimension);
                }
                check_weights(&vec![weight; k], k)?;
                let centers = (0..k * dim).map(|_| rng.sample(StandardNormal)).collect();
                (dim, centers, vec![weight; k], Phase::Ready)
            }
            Init::Given { centers, weights } => {
                if centers.nrows() != k {
                    return Err(MlError::InitialCentersShape {
                        rows: centers.nrows(),
                        k,
                    });
                }
                if centers.ncols() == 0 {
                    return Err(MlError::ZeroDimension);
                }
                if centers.iter().any(|v| !v.is_finite()) {
                    return Err(MlError::NonFiniteParameter {
                        what: "initial centers",
                    });
                }
                check_weights(&weights, k)?;
                let dim = centers.ncols();
                (
                    dim,
                    centers.iter().copied().collect(),
                    weights,
                    Phase::Ready,
                )
            }
            Init::KMeansPlusPlus { buffer_points } => {
                if buffer_points < k {
                    return Err(MlError::BufferTooSmall {
                        points: buffer_points,
                        k,
                    });
                }
                let warm_up = WarmUp {
                    needed: buffer_points,
                    buffered: 0,
                    batches: Vec::new(),
                };
                (0, Vec::new(), Vec::new(), Phase::WarmUp(warm_up))
            }
        };
        Ok(StreamingKMeans {
            k,
            dim,
            decay,
            time_unit: self.time_unit,
            seed: self.seed,
            centers,
            weights,
            phase,
        })
    }
}

fn check_weights(weights: &[f64], k: usize) -> Result<()> {
    if weights.len() != k || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(MlError::InitialWeights {
            len: weights.len(),
            k,
        });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WarmUp {
    needed: usize,
    buffered: usize,
    /// Finite rows of each buffered batch, row-major; empty batches are kept so that the replay
    /// discounts as many times as the stream did.
    batches: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Phase {
    WarmUp(WarmUp),
    Ready,
}

/// Online k-means over a stream of micro-batches, with Spark MLlib's semantics.
///
/// Build it with [`StreamingKMeans::params`], then feed batches with
/// [`update`](OnlineModel::update), or per partition with
/// [`summarize`](OnlineModel::summarize) + [`Merge::merge`] + [`apply`](OnlineModel::apply).
///
/// Rows holding NaN or ±infinity (or whose squared distance overflows) are skipped and
/// counted in [`KMeansReport::skipped`]; they never move a center. Ties in the nearest
/// center go to the lowest index, as in Spark.
///
/// An empty batch still counts as time: in [`TimeUnit::Batches`] it discounts every weight,
/// as Spark's `trainOn` does for every RDD; in [`TimeUnit::Points`] it changes nothing.
///
/// Cost: `O(n·k·d)` per batch to summarize, `O(k·d)` to apply.
///
/// ```
/// use ndarray::array;
/// use spate_ml::{OnlineModel, StreamingKMeans};
///
/// let mut model = StreamingKMeans::params(2)
///     .decay(0.9)
///     .initial_centers(array![[0.0, 0.0], [10.0, 10.0]], vec![0.0, 0.0])
///     .build()?;
/// let report = model.update(array![[1.0, 1.0], [9.0, 9.0], [f64::NAN, 0.0]].view())?;
/// assert_eq!((report.points, report.skipped), (2, 1));
/// assert_eq!(model.predict(array![8.0, 8.5].view())?, 1);
/// # Ok::<(), spate_ml::MlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct StreamingKMeans {
    k: usize,
    /// 0 while a k-means++ warm-up has not seen data yet.
    dim: usize,
    decay: f64,
    time_unit: TimeUnit,
    seed: u64,
    /// `k × dim`, row-major, so the hot loop walks contiguous memory.
    centers: Vec<f64>,
    weights: Vec<f64>,
    phase: Phase,
}

crate::checkpoint::validated_serde!(StreamingKMeans, StreamingKMeans::check_checkpoint);

impl StreamingKMeans {
    /// Whether a deserialized model's parts fit together.
    fn check_checkpoint(&self) -> Result<()> {
        let corrupt = |reason| MlError::CorruptCheckpoint {
            model: "StreamingKMeans",
            reason,
        };
        if self.k == 0 || !(0.0..=1.0).contains(&self.decay) {
            return Err(corrupt("k must be at least 1 and the decay in [0, 1]"));
        }
        match &self.phase {
            Phase::Ready => {
                if self.dim == 0
                    || self.centers.len() != self.k * self.dim
                    || self.weights.len() != self.k
                {
                    return Err(corrupt("centers and weights do not match k × dim"));
                }
                if self
                    .centers
                    .iter()
                    .chain(&self.weights)
                    .any(|v| !v.is_finite())
                {
                    return Err(corrupt("non-finite center or weight"));
                }
            }
            Phase::WarmUp(w) => {
                let whole_rows = |b: &Vec<f64>| {
                    if self.dim == 0 {
                        b.is_empty()
                    } else {
                        b.len().is_multiple_of(self.dim)
                    }
                };
                if w.needed < self.k || !w.batches.iter().all(whole_rows) {
                    return Err(corrupt("warm-up buffer does not hold whole rows"));
                }
            }
        }
        Ok(())
    }
}

/// A dying cluster replaced by half of the heaviest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSplit {
    /// The cluster that was dying and now holds one half.
    pub dying: usize,
    /// The heaviest cluster, which was split.
    pub largest: usize,
}

/// What one batch did to a [`StreamingKMeans`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KMeansReport {
    /// Finite points that updated the centers (0 while buffering for k-means++).
    pub points: u64,
    /// Rows skipped because they held NaN or infinity.
    pub skipped: u64,
    /// Sum of squared distances of the points to their nearest center, before the update.
    pub cost: f64,
    /// Batches applied by this call: 1 normally, 0 while buffering for k-means++, and the
    /// number of buffered batches when k-means++ seeds the centers and replays them.
    pub batches: usize,
    /// Dying clusters that were replaced (at most one per applied batch, as in Spark).
    pub splits: Vec<ClusterSplit>,
}

/// Per-partition summary of a batch for [`StreamingKMeans`]: per-cluster sums and counts.
///
/// Merge is commutative and associative up to floating-point rounding of the sums (exactly,
/// for the counts). During a k-means++ warm-up it carries the partition's finite rows instead,
/// concatenated in merge order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KMeansStats {
    /// 0 only for the empty summary.
    dim: usize,
    /// 0 for warm-up summaries, which carry rows instead of sums.
    k: usize,
    sums: Vec<f64>,
    counts: Vec<u64>,
    cost: f64,
    skipped: u64,
    rows: Vec<f64>,
    incompatible: bool,
}

impl KMeansStats {
    /// Finite points summarized.
    pub fn points(&self) -> u64 {
        if self.k == 0 {
            self.rows.len().checked_div(self.dim).unwrap_or(0) as u64
        } else {
            self.counts.iter().sum()
        }
    }

    /// Rows skipped because they held NaN or infinity.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Sum of squared distances to the nearest center (0 during a warm-up).
    pub fn cost(&self) -> f64 {
        self.cost
    }

    /// Internal lengths agree (a summary that crossed the wire may have been tampered with).
    fn consistent(&self) -> bool {
        let rows_fit = if self.dim == 0 {
            self.rows.is_empty()
        } else {
            self.rows.len().is_multiple_of(self.dim) && (self.k == 0 || self.rows.is_empty())
        };
        !self.incompatible
            && self.sums.len() == self.k * self.dim
            && self.counts.len() == self.k
            && rows_fit
    }

    fn is_empty(&self) -> bool {
        self.dim == 0 && self.consistent()
    }
}

impl Merge for KMeansStats {
    fn merge(&mut self, other: &Self) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.clone_from(other);
            return;
        }
        if !self.consistent() || !other.consistent() || (self.dim, self.k) != (other.dim, other.k) {
            self.incompatible = true;
            return;
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.cost += other.cost;
        self.skipped += other.skipped;
        self.rows.extend_from_slice(&other.rows);
    }
}

impl StreamingKMeans {
    /// Start configuring a model with `k` clusters.
    pub fn params(k: usize) -> StreamingKMeansParams {
        StreamingKMeansParams {
            k,
            forgetting: Forgetting::Decay(1.0),
            time_unit: TimeUnit::Batches,
            seed: 0,
            init: None,
        }
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of features, or `None` before a k-means++ warm-up has seen data.
    pub fn dim(&self) -> Option<usize> {
        (self.dim > 0).then_some(self.dim)
    }

    /// The decay factor per time unit (derived from the half-life when one was given).
    pub fn decay_factor(&self) -> f64 {
        self.decay
    }

    /// The unit in which the decay is counted.
    pub fn time_unit(&self) -> TimeUnit {
        self.time_unit
    }

    /// Whether the centers exist (false while buffering for k-means++).
    pub fn is_initialized(&self) -> bool {
        matches!(self.phase, Phase::Ready)
    }

    /// The `k × dim` centers, one per row; `0 × dim` while buffering for k-means++.
    pub fn centers(&self) -> ArrayView2<'_, f64> {
        let rows = if self.is_initialized() { self.k } else { 0 };
        ArrayView2::from_shape((rows, self.dim), &self.centers[..rows * self.dim])
            .expect("centers hold k × dim values")
    }

    /// The current (discounted) weight of each cluster; empty while buffering for k-means++.
    pub fn weights(&self) -> ArrayView1<'_, f64> {
        ArrayView1::from(&self.weights[..])
    }

    /// Index of the center nearest to `point` (ties go to the lowest index).
    ///
    /// # Errors
    /// [`MlError::NotInitialized`], [`MlError::DimensionMismatch`] or
    /// [`MlError::NonFinitePoint`].
    pub fn predict(&self, point: ArrayView1<'_, f64>) -> Result<usize> {
        self.check_ready(point.len())?;
        nearest_to_point(point, &self.centers, self.dim)
    }

    /// Nearest center of every row; `None` for rows holding NaN or infinity.
    ///
    /// # Errors
    /// [`MlError::NotInitialized`] or [`MlError::DimensionMismatch`].
    pub fn predict_batch(&self, rows: ArrayView2<'_, f64>) -> Result<Vec<Option<usize>>> {
        self.check_ready(rows.ncols())?;
        Ok(nearest_to_rows(rows, &self.centers, self.dim))
    }

    /// Sum of squared distances of the finite rows to their nearest center (k-means cost).
    ///
    /// # Errors
    /// [`MlError::NotInitialized`] or [`MlError::DimensionMismatch`].
    pub fn cost(&self, rows: ArrayView2<'_, f64>) -> Result<f64> {
        Ok(self.summarize_ready(rows)?.cost)
    }

    fn check_ready(&self, found: usize) -> Result<()> {
        if let Phase::WarmUp(w) = &self.phase {
            return Err(MlError::NotInitialized {
                buffered: w.buffered,
                needed: w.needed,
            });
        }
        if found != self.dim {
            return Err(MlError::DimensionMismatch {
                expected: self.dim,
                found,
            });
        }
        Ok(())
    }

    fn summarize_ready(&self, partition: ArrayView2<'_, f64>) -> Result<KMeansStats> {
        self.check_ready(partition.ncols())?;
        let (k, d) = (self.k, self.dim);
        let mut stats = KMeansStats {
            dim: d,
            k,
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            ..KMeansStats::default()
        };
        let data = partition.as_standard_layout();
        accumulate(row_chunks(data.as_slice(), d), &self.centers, d, &mut stats);
        Ok(stats)
    }

    fn summarize_warm_up(&self, partition: ArrayView2<'_, f64>) -> Result<KMeansStats> {
        let d = partition.ncols();
        if d == 0 {
            return Err(MlError::ZeroDimension);
        }
        if self.dim != 0 && d != self.dim {
            return Err(MlError::DimensionMismatch {
                expected: self.dim,
                found: d,
            });
        }
        let mut stats = KMeansStats {
            dim: d,
            ..KMeansStats::default()
        };
        for row in partition.rows() {
            if row.iter().all(|v| v.is_finite()) {
                stats.rows.extend(row.iter());
            } else {
                stats.skipped += 1;
            }
        }
        Ok(stats)
    }

    /// Spark's update for one batch, from its per-cluster sums and counts; `replace_dying`
    /// applies Spark's dying-cluster rule after it.
    fn step(
        &mut self,
        sums: &[f64],
        counts: &[u64],
        replace_dying: bool,
        report: &mut KMeansReport,
    ) {
        let d = self.dim;
        let points: u64 = counts.iter().sum();
        let discount = match self.time_unit {
            TimeUnit::Batches => self.decay,
            TimeUnit::Points => self.decay.powf(points as f64),
        };
        for w in &mut self.weights {
            *w *= discount;
        }
        for (c, &m) in counts.iter().enumerate() {
            if m == 0 {
                continue;
            }
            let old = self.weights[c];
            let new = old + m as f64;
            let center = &mut self.centers[c * d..(c + 1) * d];
            for (x, s) in center.iter_mut().zip(&sums[c * d..(c + 1) * d]) {
                *x = (old * *x + s) / new;
            }
            self.weights[c] = new;
        }
        report.points += points;
        report.batches += 1;
        if !replace_dying {
            return;
        }
        if let Some(split) = self.split_dying() {
            report.splits.push(split);
        }
    }

    fn split_dying(&mut self) -> Option<ClusterSplit> {
        // First maximum and first minimum, as Scala's maxBy/minBy pick them.
        let (mut largest, mut dying) = (0, 0);
        for (i, &w) in self.weights.iter().enumerate() {
            if w > self.weights[largest] {
                largest = i;
            }
            if w < self.weights[dying] {
                dying = i;
            }
        }
        let (max, min) = (self.weights[largest], self.weights[dying]);
        if min >= DYING_WEIGHT * max {
            return None;
        }
        let weight = (max + min) / 2.0;
        self.weights[largest] = weight;
        self.weights[dying] = weight;
        let d = self.dim;
        for j in 0..d {
            let x = self.centers[largest * d + j];
            let p = SPLIT_PERTURBATION * x.abs().max(1.0);
            self.centers[largest * d + j] = x + p;
            self.centers[dying * d + j] = x - p;
        }
        Some(ClusterSplit { dying, largest })
    }

    fn apply_warm_up(&mut self, stats: KMeansStats, report: &mut KMeansReport) -> Result<()> {
        let Phase::WarmUp(warm_up) = &mut self.phase else {
            return Err(MlError::IncompatibleStats);
        };
        if !stats.is_empty() {
            if stats.k != 0 || (self.dim != 0 && stats.dim != self.dim) {
                return Err(MlError::IncompatibleStats);
            }
            self.dim = stats.dim;
        }
        report.skipped = stats.skipped;
        warm_up.buffered += stats.rows.len().checked_div(self.dim).unwrap_or(0);
        warm_up.batches.push(stats.rows);
        if warm_up.buffered < warm_up.needed {
            return Ok(());
        }
        let batches = std::mem::take(&mut warm_up.batches);
        let buffer: Vec<f64> = batches.concat();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        self.centers = kmeans_plus_plus(&buffer, None, self.dim, self.k, &mut rng);
        self.weights = vec![0.0; self.k];
        self.phase = Phase::Ready;
        // Every seed is a buffered point, but one taken from a later batch has weight 0
        // until that batch is replayed: on a time-ordered stream the dying-cluster rule
        // would overwrite it with a split of an earlier cluster. The rule therefore applies
        // only once the whole buffer is absorbed.
        let last = batches.len().saturating_sub(1);
        for (i, rows) in batches.iter().enumerate() {
            let mut stats = KMeansStats {
                dim: self.dim,
                k: self.k,
                sums: vec![0.0; self.k * self.dim],
                counts: vec![0; self.k],
                ..KMeansStats::default()
            };
            accumulate(
                rows.chunks_exact(self.dim),
                &self.centers,
                self.dim,
                &mut stats,
            );
            report.cost += stats.cost;
            self.step(&stats.sums, &stats.counts, i == last, report);
        }
        Ok(())
    }
}

impl OnlineModel for StreamingKMeans {
    type Batch<'a> = ArrayView2<'a, f64>;
    type Stats = KMeansStats;
    type Report = KMeansReport;

    fn summarize(&self, partition: ArrayView2<'_, f64>) -> Result<KMeansStats> {
        match self.phase {
            Phase::Ready => self.summarize_ready(partition),
            Phase::WarmUp(_) => self.summarize_warm_up(partition),
        }
    }

    fn apply(&mut self, stats: KMeansStats) -> Result<Round<KMeansReport>> {
        if !stats.consistent() {
            return Err(MlError::IncompatibleStats);
        }
        let mut report = KMeansReport::default();
        if let Phase::WarmUp(_) = self.phase {
            self.apply_warm_up(stats, &mut report)?;
            return Ok(Round::Done(report));
        }
        if stats.is_empty() {
            let (sums, counts) = (vec![0.0; self.k * self.dim], vec![0; self.k]);
            self.step(&sums, &counts, true, &mut report);
        } else {
            if (stats.dim, stats.k) != (self.dim, self.k) {
                return Err(MlError::IncompatibleStats);
            }
            report.cost = stats.cost;
            report.skipped = stats.skipped;
            self.step(&stats.sums, &stats.counts, true, &mut report);
        }
        Ok(Round::Done(report))
    }
}

/// Rows of a standard-layout slice; a view that is not contiguous was copied by the caller.
pub(crate) fn row_chunks(data: Option<&[f64]>, d: usize) -> std::slice::ChunksExact<'_, f64> {
    data.expect("as_standard_layout gives a contiguous slice")
        .chunks_exact(d)
}

/// The hot loop: assign each row to its nearest center and add it to that center's sums.
///
/// Dimensions up to 16 dispatch to a copy compiled for that exact `d`, which the compiler
/// unrolls and keeps in registers: about twice the throughput of the generic loop at `d = 10`.
fn accumulate<'a>(
    rows: impl Iterator<Item = &'a [f64]>,
    centers: &[f64],
    d: usize,
    stats: &mut KMeansStats,
) {
    macro_rules! fixed {
        ($($n:literal)*) => {
            match d {
                $($n => accumulate_fixed::<$n>(rows, centers, stats),)*
                _ => accumulate_any(rows, centers, d, stats),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
}

fn accumulate_any<'a>(
    rows: impl Iterator<Item = &'a [f64]>,
    centers: &[f64],
    d: usize,
    stats: &mut KMeansStats,
) {
    for row in rows {
        let (c, dist) = nearest(row, centers, d);
        add_row(stats, c, dist, row, d);
    }
}

fn accumulate_fixed<'a, const D: usize>(
    rows: impl Iterator<Item = &'a [f64]>,
    centers: &[f64],
    stats: &mut KMeansStats,
) {
    let centers: Vec<[f64; D]> = centers
        .chunks_exact(D)
        .map(|c| c.try_into().expect("chunks of D"))
        .collect();
    for row in rows {
        let x: &[f64; D] = row.try_into().expect("rows of D");
        let mut best = (0, f64::INFINITY);
        for (c, center) in centers.iter().enumerate() {
            let dist = squared_distance(x, center);
            if dist < best.1 {
                best = (c, dist);
            }
        }
        add_row(stats, best.0, best.1, row, D);
    }
}

#[inline(always)]
fn add_row(stats: &mut KMeansStats, c: usize, dist: f64, row: &[f64], d: usize) {
    // NaN or infinity in the row makes every distance NaN or infinite.
    if !dist.is_finite() {
        stats.skipped += 1;
        return;
    }
    stats.counts[c] += 1;
    stats.cost += dist;
    for (s, x) in stats.sums[c * d..(c + 1) * d].iter_mut().zip(row) {
        *s += x;
    }
}

/// Index of the center nearest to `point`, which has the centers' dimension.
///
/// # Errors
/// [`MlError::NonFinitePoint`] when the point holds NaN or infinity.
pub(crate) fn nearest_to_point(
    point: ArrayView1<'_, f64>,
    centers: &[f64],
    d: usize,
) -> Result<usize> {
    let (index, dist) = nearest(&point.to_vec(), centers, d);
    if dist.is_finite() {
        Ok(index)
    } else {
        Err(MlError::NonFinitePoint)
    }
}

/// Index of the center nearest to every row (rows have the centers' dimension); `None` for a
/// row holding NaN or infinity.
pub(crate) fn nearest_to_rows(
    rows: ArrayView2<'_, f64>,
    centers: &[f64],
    d: usize,
) -> Vec<Option<usize>> {
    let rows = rows.as_standard_layout();
    row_chunks(rows.as_slice(), d)
        .map(|row| {
            let (index, dist) = nearest(row, centers, d);
            dist.is_finite().then_some(index)
        })
        .collect()
}

/// Index of and squared distance to the nearest center; distance +inf when none is finite.
#[inline]
pub(crate) fn nearest(row: &[f64], centers: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, center) in centers.chunks_exact(d).enumerate() {
        let dist = squared_distance(row, center);
        if dist < best.1 {
            best = (c, dist);
        }
    }
    best
}

/// Squared Euclidean distance with four independent accumulators, so the compiler can keep
/// them in SIMD lanes without reassociating a single sum.
#[inline(always)]
pub(crate) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (a4.remainder(), b4.remainder());
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    for (x, y) in ra.iter().zip(rb) {
        let t = x - y;
        acc[0] += t * t;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Greedy k-means++ (Arthur & Vassilvitskii, with scikit-learn's `2 + ln k` local trials),
/// over weighted rows when `weights` is given (a point of weight `w` counts `w` times).
///
/// With fewer distinct points than `k` the extra centers duplicate existing ones; the dying
/// cluster rule later moves them.
pub(crate) fn kmeans_plus_plus(
    rows: &[f64],
    weights: Option<&[f64]>,
    d: usize,
    k: usize,
    rng: &mut impl Rng,
) -> Vec<f64> {
    let n = rows.len() / d;
    let row = |i: usize| &rows[i * d..(i + 1) * d];
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = match weights {
        None => rng.random_range(0..n),
        Some(w) => sample_proportional(w, rng).unwrap_or(0),
    };
    let mut centers = row(first).to_vec();
    let mut dists: Vec<f64> = (0..n)
        .map(|i| weight(i) * squared_distance(row(i), row(first)))
        .collect();
    let mut candidate_dists = vec![0.0; n];
    for _ in 1..k {
        let mut best: Option<(usize, f64, Vec<f64>)> = None;
        for _ in 0..trials {
            let pick = sample_proportional(&dists, rng).unwrap_or_else(|| rng.random_range(0..n));
            let mut potential = 0.0;
            for (i, (cd, &old)) in candidate_dists.iter_mut().zip(&dists).enumerate() {
                *cd = old.min(weight(i) * squared_distance(row(i), row(pick)));
                potential += *cd;
            }
            if best.as_ref().is_none_or(|b| potential < b.1) {
                best = Some((pick, potential, candidate_dists.clone()));
            }
        }
        if let Some((pick, _, new_dists)) = best {
            centers.extend_from_slice(row(pick));
            dists = new_dists;
        }
    }
    centers
}

/// An index drawn with probability proportional to `masses` (non-negative); `None` when
/// they sum to 0.
pub(crate) fn sample_proportional(masses: &[f64], rng: &mut impl Rng) -> Option<usize> {
    let total: f64 = masses.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let target = rng.random::<f64>() * total;
    let mut acc = 0.0;
    Some(
        masses
            .iter()
            .position(|&x| {
                acc += x;
                acc > target
            })
            .unwrap_or(masses.len() - 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squared_distance_matches_naive_for_all_remainders() {
        for d in 1..=9 {
            let a: Vec<f64> = (0..d).map(|i| i as f64 * 0.5).collect();
            let b: Vec<f64> = (0..d).map(|i| 3.0 - i as f64).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            assert!((squared_distance(&a, &b) - naive).abs() < 1e-12);
        }
    }

    #[test]
    fn kmeans_plus_plus_picks_distinct_far_points() {
        let rows = [0.0, 0.0, 0.1, 0.0, 100.0, 100.0, 100.1, 100.0];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let centers = kmeans_plus_plus(&rows, None, 2, 2, &mut rng);
        assert!((centers[0] - centers[2]).abs() > 50.0);
    }
}

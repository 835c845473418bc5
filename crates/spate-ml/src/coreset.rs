//! StreamKM++'s bounded summary of a stream: merge-and-reduce over coreset trees (Ackermann,
//! Märtens, Raupach, Swierkot, Lammersen and Sohler, *StreamKM++: A Clustering Algorithm for
//! Data Streams*, ACM Journal of Experimental Algorithmics 17, 2012).
//!
//! Raw points fill a buffer of `8m` rows, which a coreset tree reduces to `m` weighted points
//! carried to level 1. Each level gathers what is carried to it; when it holds more than `7m`
//! points it is reduced to `m` and carried one level up, and the top level reduces in place.
//! The summary therefore never holds more than `8m + 7m·levels` points, whatever the length of
//! the stream. StreamKM++ merges buckets two at a time, so each point takes part in two
//! reductions on average; merging eight at a time brings that to `8/7` and halves the
//! reductions per point, which makes a pass about 1.3× faster (measured) at no loss of
//! quality in our comparisons (`docs/benchmarks.md`). The union of two summaries is a summary
//! of the union of their streams, which is what makes them mergeable across partitions and
//! windows.

use crate::kmeans::{sample_proportional, squared_distance};
use ndarray::{Array1, Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use spate_core::Merge;

/// `Σ x²` with four independent accumulators.
fn squared_norm(row: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = row.chunks_exact(4);
    for (i, &x) in chunks.remainder().iter().enumerate() {
        acc[i] += x * x;
    }
    for c in chunks {
        for l in 0..4 {
            acc[l] += c[l] * c[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// How many buckets of `m` points a level gathers before it is reduced to one.
pub(crate) const FAN_IN: usize = 8;

/// Rows whose squared norm exceeds this are skipped as overflowing: squared distances between
/// accepted rows, multiplied by any realistic weight and summed over a summary, stay finite.
pub(crate) const MAX_SQUARED_NORM: f64 = 1e250;

/// Weighted points, row-major.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Bucket {
    rows: Vec<f64>,
    weights: Vec<f64>,
}

impl Bucket {
    fn len(&self) -> usize {
        self.weights.len()
    }

    fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

/// A bounded, mergeable summary of a stream of points for k-means: StreamKM++'s
/// merge-and-reduce buckets of coreset-tree reductions.
///
/// It holds at most `8m + 7m·levels` weighted points (see [`capacity`](Self::capacity)),
/// however many points it summarizes; the weights add up exactly to the number of points
/// summarized. It is the per-partition summary (`Stats`) of [`CoresetKMeans`] and
/// [`WindowedCoresetKMeans`], and the state they keep.
///
/// Merging is the union of the two summaries followed by the reductions it triggers; it is
/// deterministic (seeded) but, being randomized, not exactly associative or commutative:
/// merging in another order gives an equally good summary, not the same one.
///
/// [`CoresetKMeans`]: crate::CoresetKMeans
/// [`WindowedCoresetKMeans`]: crate::WindowedCoresetKMeans
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KMeansCoreset {
    /// 0 only for the empty summary (the identity of `merge`).
    dim: usize,
    /// `m`: points per reduced bucket.
    size: usize,
    /// Levels above the raw buffer; the top one reduces in place.
    max_levels: usize,
    seed: u64,
    /// Reductions so far: each one draws from its own seeded generator.
    reductions: u64,
    points: u64,
    skipped: u64,
    /// Fewer than `FAN_IN · size` raw rows, row-major (weight 1 each).
    buffer: Vec<f64>,
    /// `levels[i]` is level `i + 1`: at most `(FAN_IN − 1) · size` weighted points.
    levels: Vec<Bucket>,
    incompatible: bool,
}

impl KMeansCoreset {
    /// An empty summary of `dim`-dimensional points with buckets of `size` rows.
    pub(crate) fn new(dim: usize, size: usize, max_levels: usize, seed: u64) -> KMeansCoreset {
        KMeansCoreset {
            dim,
            size,
            max_levels,
            seed,
            ..KMeansCoreset::default()
        }
    }

    /// Finite points summarized.
    pub fn points(&self) -> u64 {
        self.points
    }

    /// Rows skipped: NaN, infinity, or a squared norm above 1e250 (which would overflow).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Number of features; `None` for the empty summary.
    pub fn dim(&self) -> Option<usize> {
        (self.dim > 0).then_some(self.dim)
    }

    /// Weighted points held now.
    pub fn len(&self) -> usize {
        self.buffer.len().checked_div(self.dim).unwrap_or(0)
            + self.levels.iter().map(Bucket::len).sum::<usize>()
    }

    /// Whether the summary holds no point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most weighted points it can ever hold: `8m + 7m·levels`.
    pub fn capacity(&self) -> usize {
        self.size * (FAN_IN + (FAN_IN - 1) * self.max_levels)
    }

    /// Coreset-tree reductions performed so far.
    pub fn reductions(&self) -> u64 {
        self.reductions
    }

    /// The weighted points (one row each) and their weights.
    pub fn weighted_points(&self) -> (Array2<f64>, Array1<f64>) {
        let (rows, weights) = self.union();
        let n = weights.len();
        let rows = Array2::from_shape_vec((n, self.dim), rows)
            .unwrap_or_else(|_| Array2::zeros((0, self.dim)));
        (rows, Array1::from(weights))
    }

    /// The raw buffer (weight 1) followed by every level, row-major, with the weights.
    pub(crate) fn union(&self) -> (Vec<f64>, Vec<f64>) {
        let mut rows = Vec::with_capacity(self.len() * self.dim);
        let mut weights = Vec::with_capacity(self.len());
        rows.extend_from_slice(&self.buffer);
        weights.resize(self.buffer.len().checked_div(self.dim).unwrap_or(0), 1.0);
        for bucket in &self.levels {
            rows.extend_from_slice(&bucket.rows);
            weights.extend_from_slice(&bucket.weights);
        }
        (rows, weights)
    }

    /// Whether `other` was built with the same shape (dimension, bucket size, levels).
    pub(crate) fn same_shape(&self, size: usize, max_levels: usize) -> bool {
        self.size == size && self.max_levels == max_levels
    }

    /// Adds the finite rows of a partition; skips and counts the others.
    pub(crate) fn extend(&mut self, rows: ArrayView2<'_, f64>) {
        let rows = rows.as_standard_layout();
        let Some(values) = rows.as_slice() else {
            unreachable!("as_standard_layout gives a contiguous slice")
        };
        let full = FAN_IN * self.size * self.dim;
        if self.buffer.capacity() < full {
            self.buffer.reserve_exact(full - self.buffer.len());
        }
        for row in values.chunks_exact(self.dim) {
            // NaN or infinity make the norm NaN or infinite.
            let norm = squared_norm(row);
            if norm.is_nan() || norm > MAX_SQUARED_NORM {
                self.skipped += 1;
                continue;
            }
            self.buffer.extend_from_slice(row);
            self.points += 1;
            if self.buffer.len() == full {
                self.reduce_buffer();
            }
        }
    }

    /// Adds rows that were already checked (another summary's raw buffer).
    fn push_rows(&mut self, mut rows: &[f64]) {
        let full = FAN_IN * self.size * self.dim;
        while !rows.is_empty() {
            let take = (full - self.buffer.len()).min(rows.len());
            self.buffer.extend_from_slice(&rows[..take]);
            rows = &rows[take..];
            if self.buffer.len() == full {
                self.reduce_buffer();
            }
        }
    }

    /// Reduces the full raw buffer to `size` points carried to level 1; the buffer keeps its
    /// allocation.
    fn reduce_buffer(&mut self) {
        let mut weights = vec![1.0; self.buffer.len() / self.dim];
        let mut rng = self.next_rng();
        let bucket = coreset_tree(
            &mut self.buffer,
            &mut weights,
            self.dim,
            self.size,
            &mut rng,
        );
        self.buffer.clear();
        self.carry(bucket, 0);
    }

    /// Adds `bucket` to `level`; a level that then holds more than `(FAN_IN − 1)·size` points
    /// is reduced to `size` and carried up, except the top level, which keeps the reduction.
    fn carry(&mut self, mut bucket: Bucket, level: usize) {
        let top = self.max_levels - 1;
        let mut level = level.min(top);
        loop {
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Bucket::default);
            }
            let slot = &mut self.levels[level];
            slot.rows.extend_from_slice(&bucket.rows);
            slot.weights.extend_from_slice(&bucket.weights);
            if slot.len() <= (FAN_IN - 1) * self.size {
                return;
            }
            let mut rng = self.next_rng();
            let slot = &mut self.levels[level];
            bucket = coreset_tree(
                &mut slot.rows,
                &mut slot.weights,
                self.dim,
                self.size,
                &mut rng,
            );
            // The level keeps its allocation for the next time it fills.
            slot.rows.clear();
            slot.weights.clear();
            if level == top {
                slot.rows.extend_from_slice(&bucket.rows);
                slot.weights.extend_from_slice(&bucket.weights);
                return;
            }
            level += 1;
        }
    }

    fn next_rng(&mut self) -> Xoshiro256PlusPlus {
        let seed = self
            .seed
            .wrapping_add(self.reductions.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.reductions += 1;
        Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    /// Reduces everything held to at most `size` points in one bucket, if it holds more.
    pub(crate) fn compact(&mut self) {
        if self.len() <= self.size {
            return;
        }
        let (mut rows, mut weights) = self.union();
        let mut rng = self.next_rng();
        let bucket = coreset_tree(&mut rows, &mut weights, self.dim, self.size, &mut rng);
        self.buffer = Vec::new();
        self.levels = vec![bucket];
    }

    /// Internal lengths agree, so merging and reducing cannot index out of range: `O(levels)`.
    fn well_formed(&self) -> bool {
        if self.incompatible {
            return false;
        }
        if self.dim == 0 {
            return self.buffer.is_empty() && self.levels.is_empty();
        }
        let d = self.dim;
        self.size > 0
            && self.max_levels > 0
            && self.buffer.len().is_multiple_of(d)
            && self.buffer.len() < FAN_IN * self.size * d
            && self.levels.len() <= self.max_levels
            && self
                .levels
                .iter()
                .all(|b| b.len() <= (FAN_IN - 1) * self.size && b.rows.len() == b.len() * d)
    }

    /// Well formed, with finite points and positive finite weights: a summary that crossed
    /// the wire or came from a checkpoint may have been tampered with. `O(len · d)`.
    pub(crate) fn consistent(&self) -> bool {
        self.well_formed()
            && self
                .levels
                .iter()
                .all(|b| b.weights.iter().all(|&w| w.is_finite() && w > 0.0))
            && self
                .buffer
                .iter()
                .chain(self.levels.iter().flat_map(|b| &b.rows))
                .all(|x| x.is_finite() && x * x <= MAX_SQUARED_NORM)
    }

    fn is_identity(&self) -> bool {
        self.dim == 0 && !self.incompatible
    }
}

impl Merge for KMeansCoreset {
    fn merge(&mut self, other: &Self) {
        if other.is_identity() {
            return;
        }
        if self.is_identity() {
            self.clone_from(other);
            return;
        }
        // Lengths only: values are checked once, on the merged summary a model applies.
        if !self.well_formed()
            || !other.well_formed()
            || self.dim != other.dim
            || !self.same_shape(other.size, other.max_levels)
        {
            self.incompatible = true;
            return;
        }
        self.points += other.points;
        self.skipped += other.skipped;
        self.push_rows(&other.buffer);
        for (level, bucket) in other.levels.iter().enumerate() {
            if !bucket.is_empty() {
                self.carry(bucket.clone(), level);
            }
        }
    }
}

/// StreamKM++'s coreset tree: at most `m` weighted points summarizing `rows` (reordered in
/// place).
///
/// The first center is a point drawn in proportion to its weight; then, `m − 1` times, a leaf
/// is drawn in proportion to its cost (the weighted squared distances of its points to its
/// center), a point of that leaf in proportion to its own share of the cost, and the leaf is
/// split between its center and that point. Each leaf becomes one output point: its center,
/// weighted by the total weight of the leaf. Stops early when every point coincides with a
/// center. Cost: `O(n·d·depth)`, the depth of a leaf being the number of times it was split.
///
/// Compiled twice, for baseline x86-64 and for AVX2, and picked once at run time: the distance
/// loop runs 4 lanes wide instead of 2. Rust never fuses a multiply and an add on its own, so
/// both versions round alike and a summary does not depend on the machine.
#[multiversion::multiversion(targets("x86_64+avx+avx2"))]
pub(crate) fn coreset_tree(
    rows: &mut [f64],
    weights: &mut [f64],
    d: usize,
    m: usize,
    rng: &mut impl Rng,
) -> Bucket {
    if weights.len() <= m {
        return Bucket {
            rows: rows.to_vec(),
            weights: weights.to_vec(),
        };
    }
    macro_rules! fixed {
        ($($n:literal)*) => {
            match d {
                $($n => {
                    let (chunks, _) = rows.as_chunks_mut::<$n>();
                    build_tree(FixedRows(chunks), weights, d, m, rng)
                })*
                _ => build_tree(AnyRows { rows, d }, weights, d, m, rng),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// Row storage of a coreset tree: a copy compiled per dimension up to 16, so the distance loop
/// unrolls, and one for any dimension.
trait Rows {
    type Point: ?Sized;
    fn point(values: &[f64]) -> &Self::Point;
    fn row(&self, i: usize) -> &[f64];
    fn distance(&self, i: usize, to: &Self::Point) -> f64;
    fn swap(&mut self, i: usize, j: usize);
}

struct FixedRows<'a, const D: usize>(&'a mut [[f64; D]]);

impl<const D: usize> Rows for FixedRows<'_, D> {
    type Point = [f64; D];

    fn point(values: &[f64]) -> &[f64; D] {
        values.try_into().expect("a center has D values")
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.0[i]
    }

    #[inline(always)]
    fn distance(&self, i: usize, to: &[f64; D]) -> f64 {
        squared_distance(&self.0[i], to)
    }

    #[inline(always)]
    fn swap(&mut self, i: usize, j: usize) {
        // Both rows through registers: `<[_]>::swap` goes through a stack copy whose
        // overlapping reloads stall store forwarding.
        let (a, b) = (self.0[i], self.0[j]);
        self.0[i] = b;
        self.0[j] = a;
    }
}

struct AnyRows<'a> {
    rows: &'a mut [f64],
    d: usize,
}

impl Rows for AnyRows<'_> {
    type Point = [f64];

    fn point(values: &[f64]) -> &[f64] {
        values
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.rows[i * self.d..(i + 1) * self.d]
    }

    #[inline(always)]
    fn distance(&self, i: usize, to: &[f64]) -> f64 {
        squared_distance(&self.rows[i * self.d..(i + 1) * self.d], to)
    }

    fn swap(&mut self, i: usize, j: usize) {
        if i != j {
            let d = self.d;
            let (lo, hi) = (i.min(j), i.max(j));
            let (head, tail) = self.rows.split_at_mut(hi * d);
            head[lo * d..(lo + 1) * d].swap_with_slice(&mut tail[..d]);
        }
    }
}

/// Sums over a complete binary tree of leaf costs: drawing a leaf in proportion to its cost
/// and updating one cost are `O(log m)`, and every inner sum is recomputed from its children,
/// so rounding never drifts.
struct CostTree {
    leaves: usize,
    sums: Vec<f64>,
}

impl CostTree {
    fn new(m: usize) -> CostTree {
        let leaves = m.next_power_of_two();
        CostTree {
            leaves,
            sums: vec![0.0; 2 * leaves],
        }
    }

    fn set(&mut self, leaf: usize, cost: f64) {
        let mut i = self.leaves + leaf;
        self.sums[i] = cost;
        while i > 1 {
            i /= 2;
            self.sums[i] = self.sums[2 * i] + self.sums[2 * i + 1];
        }
    }

    fn total(&self) -> f64 {
        self.sums[1]
    }

    fn leaf(&self, leaf: usize) -> f64 {
        self.sums[self.leaves + leaf]
    }

    fn sample(&self, rng: &mut impl Rng) -> usize {
        let mut u = rng.random::<f64>() * self.sums[1];
        let mut i = 1;
        while i < self.leaves {
            let (left, right) = (self.sums[2 * i], self.sums[2 * i + 1]);
            // Rounding may leave `u` past the last positive cost: never descend into a zero.
            // Written without branches: the direction is a coin flip the CPU cannot predict.
            let right_side = right > 0.0 && (left <= 0.0 || u >= left);
            u -= if right_side { left } else { 0.0 };
            i = 2 * i + usize::from(right_side);
        }
        i - self.leaves
    }
}

/// The first point at which the running sum of `weights[i]·dist[i]` exceeds `target` (the
/// last point of positive mass if rounding keeps it below): a point drawn in proportion to
/// its share of a leaf's cost. Sums blocks of 8 with independent accumulators first, so the
/// scan is not one long chain of dependent additions.
#[inline(always)]
fn pick_in_leaf(weights: &[f64], dist: &[f64], target: f64) -> Option<usize> {
    const BLOCK: usize = 8;
    let mut acc = 0.0;
    let mut last_positive = None;
    for (b, (w, x)) in weights.chunks(BLOCK).zip(dist.chunks(BLOCK)).enumerate() {
        let mut lanes = [0.0; BLOCK];
        for (l, (w, x)) in lanes.iter_mut().zip(w.iter().zip(x)) {
            *l = w * x;
        }
        let block = (lanes[0] + lanes[1])
            + (lanes[2] + lanes[3])
            + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        if block > 0.0 {
            if acc + block > target {
                // Inside this block, one point at a time.
                for (i, &mass) in lanes[..w.len()].iter().enumerate() {
                    if mass > 0.0 {
                        last_positive = Some(b * BLOCK + i);
                        acc += mass;
                        if acc > target {
                            return last_positive;
                        }
                    }
                }
            } else {
                acc += block;
                last_positive = lanes[..w.len()]
                    .iter()
                    .rposition(|&m| m > 0.0)
                    .map(|i| b * BLOCK + i);
            }
        }
    }
    last_positive
}

#[inline(always)]
fn build_tree<R: Rows>(
    mut rows: R,
    weights: &mut [f64],
    d: usize,
    m: usize,
    rng: &mut impl Rng,
) -> Bucket {
    let n = weights.len();
    let first = sample_proportional(weights, rng).unwrap_or(0);
    let mut centers = Vec::with_capacity(m * d);
    centers.extend_from_slice(rows.row(first));
    let mut dist = vec![0.0; n];
    let mut scratch = vec![0.0; n];
    let mut cost = 0.0;
    {
        let c = R::point(&centers[..d]);
        for (i, (di, &w)) in dist.iter_mut().zip(weights.iter()).enumerate() {
            *di = rows.distance(i, c);
            cost += w * *di;
        }
    }
    // Leaf `t` holds rows `start..end` around center `t`.
    let mut leaves: Vec<(usize, usize)> = Vec::with_capacity(m);
    leaves.push((0, n));
    let mut tree = CostTree::new(m);
    tree.set(0, cost);
    while leaves.len() < m && tree.total() > 0.0 {
        let t = tree.sample(rng);
        let (start, end) = leaves[t];
        let target = rng.random::<f64>() * tree.leaf(t);
        let Some(pick) =
            pick_in_leaf(&weights[start..end], &dist[start..end], target).map(|i| start + i)
        else {
            // Rounding left a positive cost on a leaf of points that all sit on its center.
            tree.set(t, 0.0);
            continue;
        };
        let new = leaves.len();
        centers.extend_from_slice(rows.row(pick));
        let q = R::point(&centers[new * d..]);
        // Distances first, in a loop without branches; then points strictly closer to the new
        // center move to the front of the range, by swapping misplaced pairs from both ends
        // (fewer row swaps than moving every such point).
        for (i, dq) in (start..end).zip(&mut scratch[start..end]) {
            *dq = rows.distance(i, q);
        }
        let (mut lo, mut hi) = (start, end);
        let (mut cost_new, mut cost_old) = (0.0, 0.0);
        loop {
            while lo < hi && scratch[lo] < dist[lo] {
                dist[lo] = scratch[lo];
                cost_new += weights[lo] * dist[lo];
                lo += 1;
            }
            while lo < hi && scratch[hi - 1] >= dist[hi - 1] {
                cost_old += weights[hi - 1] * dist[hi - 1];
                hi -= 1;
            }
            if lo >= hi {
                break;
            }
            // `lo` stays with the old center and `hi − 1` moves: exchange them.
            hi -= 1;
            rows.swap(lo, hi);
            weights.swap(lo, hi);
            cost_old += weights[hi] * dist[lo];
            dist[hi] = dist[lo];
            dist[lo] = scratch[hi];
            cost_new += weights[lo] * dist[lo];
            lo += 1;
        }
        let split = lo;
        leaves[t] = (split, end);
        tree.set(t, cost_old);
        leaves.push((start, split));
        tree.set(new, cost_new);
    }
    let weights = leaves
        .iter()
        .map(|&(start, end)| weights[start..end].iter().sum())
        .collect();
    Bucket {
        rows: centers,
        weights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    #[test]
    fn a_coreset_tree_keeps_the_total_weight_and_one_leaf_per_point_it_can() {
        for d in [1, 3, 10, 17] {
            let n = 500;
            let rows: Vec<f64> = (0..n * d).map(|i| ((i * 7919) % 1013) as f64).collect();
            let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
            let total: f64 = weights.iter().sum();
            let bucket = coreset_tree(&mut rows.clone(), &mut weights.clone(), d, 50, &mut rng(1));
            assert_eq!(bucket.len(), 50, "d = {d}");
            assert_eq!(bucket.rows.len(), 50 * d);
            assert_eq!(bucket.weights.iter().sum::<f64>(), total);
            // Every output point is one of the input points.
            for out in bucket.rows.chunks_exact(d) {
                assert!(rows.chunks_exact(d).any(|r| r == out));
            }
        }
    }

    #[test]
    fn a_coreset_tree_of_few_distinct_points_stops_early_and_is_exact() {
        let rows: Vec<f64> = (0..300).map(|i| (i % 3) as f64).collect();
        let bucket = coreset_tree(&mut rows.clone(), &mut [1.0; 300], 1, 20, &mut rng(2));
        let mut pairs: Vec<(f64, f64)> = bucket
            .rows
            .iter()
            .copied()
            .zip(bucket.weights.iter().copied())
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(pairs, vec![(0.0, 100.0), (1.0, 100.0), (2.0, 100.0)]);
    }

    #[test]
    fn the_cost_tree_draws_in_proportion_to_cost() {
        let mut tree = CostTree::new(5);
        for (leaf, cost) in [1.0, 0.0, 3.0, 0.0, 6.0].into_iter().enumerate() {
            tree.set(leaf, cost);
        }
        let mut counts = [0usize; 5];
        let mut r = rng(3);
        for _ in 0..100_000 {
            counts[tree.sample(&mut r)] += 1;
        }
        assert_eq!((counts[1], counts[3]), (0, 0));
        for (leaf, share) in [(0, 0.1), (2, 0.3), (4, 0.6)] {
            let got = counts[leaf] as f64 / 100_000.0;
            assert!((got - share).abs() < 0.01, "leaf {leaf}: {got}");
        }
    }

    #[test]
    fn any_rows_swap_exchanges_whole_rows() {
        let mut data = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut rows = AnyRows {
            rows: &mut data,
            d: 2,
        };
        rows.swap(2, 0);
        rows.swap(1, 1);
        assert_eq!(data, vec![5.0, 6.0, 3.0, 4.0, 1.0, 2.0]);
    }
}

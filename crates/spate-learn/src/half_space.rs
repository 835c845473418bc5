//! Half-Space Trees anomaly detection (Tan, Ting & Liu, 2011; River's
//! `anomaly.HalfSpaceTrees`).

use crate::error::{LearnError, Result, corrupt, invalid};
use crate::learner::{AnomalyDetector, check_row};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// How far from a node's range edges a split may fall, as a fraction of the range.
const PADDING: f64 = 0.15;
/// Trees walked side by side when learning.
const LANES: usize = 16;

/// Unchecked parameters of [`HalfSpaceTrees`]; [`build`](Self::build) validates them.
///
/// Defaults are River's: 10 trees of height 8, a window of 250 records, every feature in
/// `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct HalfSpaceTreesParams {
    d: usize,
    n_trees: usize,
    height: usize,
    window: usize,
    limits: Option<Vec<(f64, f64)>>,
    seed: u64,
}

impl HalfSpaceTreesParams {
    /// Number of trees (default 10).
    pub fn n_trees(mut self, n: usize) -> Self {
        self.n_trees = n;
        self
    }

    /// Height of each tree: `2^(h+1) − 1` nodes (default 8, at most 16).
    pub fn height(mut self, h: usize) -> Self {
        self.height = h;
        self
    }

    /// Records per window: the reference mass is that of the previous window (default 250).
    pub fn window_size(mut self, w: usize) -> Self {
        self.window = w;
        self
    }

    /// The range of every feature (default `[0, 1]`; scale features into it, e.g. with a
    /// [`MinMaxScaler`](crate::MinMaxScaler) in a [`Pipeline`](crate::Pipeline)).
    pub fn limits(mut self, limits: Vec<(f64, f64)>) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Seed of the random trees.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates the parameters and grows the random trees.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`] or [`LearnError::InvalidParameter`].
    pub fn build(self) -> Result<HalfSpaceTrees> {
        if self.d == 0 {
            return Err(LearnError::ZeroDimension);
        }
        if self.n_trees == 0 || self.n_trees > 10_000 {
            return Err(invalid("n_trees", self.n_trees, "between 1 and 10000"));
        }
        if self.height == 0 || self.height > 16 {
            return Err(invalid("height", self.height, "between 1 and 16"));
        }
        if self.window == 0 || self.window > u32::MAX as usize {
            return Err(invalid(
                "window_size",
                self.window,
                "between 1 and 2^32 - 1",
            ));
        }
        let limits = self.limits.unwrap_or_else(|| vec![(0.0, 1.0); self.d]);
        if limits.len() != self.d {
            return Err(LearnError::DimensionMismatch {
                expected: self.d,
                found: limits.len(),
            });
        }
        if let Some((lo, hi)) = limits
            .iter()
            .find(|(lo, hi)| !(lo.is_finite() && hi.is_finite() && lo < hi))
        {
            return Err(invalid(
                "limits",
                format!("({lo}, {hi})"),
                "each feature needs finite limits lo < hi",
            ));
        }
        let internal = (1usize << self.height) - 1;
        let nodes = (1usize << (self.height + 1)) - 1;
        let mut model = HalfSpaceTrees {
            d: self.d,
            n_trees: self.n_trees,
            height: self.height,
            window: self.window,
            features: Vec::with_capacity(self.n_trees * internal),
            thresholds: Vec::with_capacity(self.n_trees * internal),
            l_mass: vec![0; self.n_trees * nodes],
            r_mass: vec![0; self.n_trees * nodes],
            counter: 0,
            first_window: true,
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut features = vec![0u32; internal];
        let mut thresholds = vec![0.0; internal];
        for _ in 0..self.n_trees {
            let mut bounds = limits.clone();
            grow(
                &mut rng,
                &mut bounds,
                0,
                self.height,
                &mut features,
                &mut thresholds,
            );
            model.features.extend_from_slice(&features);
            model.thresholds.extend_from_slice(&thresholds);
        }
        Ok(model)
    }
}

/// The child of `node` (heap order) that a value goes to: left below the threshold. Written
/// without a branch: which side a record takes is unpredictable, and a mispredicted branch
/// per level cost more than the rest of the walk.
#[inline]
fn child(node: usize, value: f64, threshold: f64) -> usize {
    2 * node + 1 + usize::from(value >= threshold)
}

/// Fills internal node `node` (heap order) and its subtree: a feature drawn with probability
/// proportional to its current range, a threshold uniform in the padded range.
fn grow(
    rng: &mut Xoshiro256PlusPlus,
    bounds: &mut [(f64, f64)],
    node: usize,
    height: usize,
    features: &mut [u32],
    thresholds: &mut [f64],
) {
    if height == 0 {
        return;
    }
    let total: f64 = bounds.iter().map(|(lo, hi)| hi - lo).sum();
    let mut pick = rng.random::<f64>() * total;
    let mut on = bounds.len() - 1;
    for (i, (lo, hi)) in bounds.iter().enumerate() {
        if pick < hi - lo {
            on = i;
            break;
        }
        pick -= hi - lo;
    }
    let (a, b) = bounds[on];
    let at = rng.random_range(a + PADDING * (b - a)..=b - PADDING * (b - a));
    features[node] = on as u32;
    thresholds[node] = at;
    bounds[on] = (a, at);
    grow(rng, bounds, 2 * node + 1, height - 1, features, thresholds);
    bounds[on] = (at, b);
    grow(rng, bounds, 2 * node + 2, height - 1, features, thresholds);
    bounds[on] = (a, b);
}

/// Half-Space Trees: an ensemble of random, fixed half-space partitions of the feature space
/// whose nodes count how many records of the last full window fell into them. A record in
/// sparsely populated regions (low mass at shallow depth) scores high. Learning and scoring
/// cost O(trees × height) per record, memory O(trees × 2^height) whatever the stream length.
///
/// The semantics are River's `anomaly.HalfSpaceTrees`: the trees are grown up front from the
/// feature limits (padding 0.15, features drawn by range); each learnt record adds to the
/// current window's mass along its path; at the end of every window the reference mass
/// becomes that window's and the current mass restarts; the score is
/// `1 − Σ_trees Σ_depth r_mass · 2^depth / max`, the walk stopping at the first node whose
/// reference mass is below 10% of the window; 0 until the first window is complete. The
/// random trees come from another generator than Python's, so scores match River's
/// statistically, not record for record.
///
/// ```
/// use spate_learn::{AnomalyDetector, HalfSpaceTrees};
///
/// let mut hst = HalfSpaceTrees::params(2).window_size(50).seed(7).build()?;
/// for i in 0..200 {
///     let t = f64::from(i % 10) / 100.0;
///     hst.learn_one(&[0.45 + t, 0.5 - t])?;
/// }
/// let normal = hst.score_one(&[0.5, 0.45])?;
/// let odd = hst.score_one(&[0.95, 0.05])?;
/// assert!(odd > normal);
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HalfSpaceTrees {
    d: usize,
    n_trees: usize,
    height: usize,
    window: usize,
    /// Split feature of every internal node, tree after tree, in heap order.
    features: Vec<u32>,
    thresholds: Vec<f64>,
    /// Mass of the current window at every leaf (internal nodes are summed from their
    /// children when the window closes).
    l_mass: Vec<u32>,
    /// Mass of the last complete window at every node.
    r_mass: Vec<u32>,
    counter: usize,
    first_window: bool,
}

impl HalfSpaceTrees {
    /// Parameters for `d` features, with River's defaults and seed 0.
    pub fn params(d: usize) -> HalfSpaceTreesParams {
        HalfSpaceTreesParams {
            d,
            n_trees: 10,
            height: 8,
            window: 250,
            limits: None,
            seed: 0,
        }
    }

    fn internal(&self) -> usize {
        (1 << self.height) - 1
    }

    fn nodes(&self) -> usize {
        (1 << (self.height + 1)) - 1
    }

    /// The largest possible score sum: every node of every tree holding the whole window.
    fn max_score(&self) -> f64 {
        (self.n_trees * self.window * self.nodes()) as f64
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let ok = self.d > 0
            && (1..=16).contains(&self.height)
            && self.n_trees > 0
            && self.window > 0
            && self.counter < self.window
            && self.features.len() == self.n_trees * self.internal()
            && self.thresholds.len() == self.features.len()
            && self.l_mass.len() == self.n_trees * self.nodes()
            && self.r_mass.len() == self.l_mass.len()
            && self.features.iter().all(|&f| (f as usize) < self.d)
            && self.thresholds.iter().all(|t| t.is_finite());
        if !ok {
            return Err(corrupt("HalfSpaceTrees", "trees do not fit the parameters"));
        }
        Ok(())
    }
}

impl AnomalyDetector for HalfSpaceTrees {
    fn n_features(&self) -> usize {
        self.d
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<()> {
        check_row(x, self.d)?;
        let (internal, nodes) = (self.internal(), self.nodes());
        // The walks of up to LANES trees advance level by level together: they are
        // independent chains of dependent loads, which the processor then overlaps.
        for first in (0..self.n_trees).step_by(LANES) {
            let lanes = LANES.min(self.n_trees - first);
            let mut node = [0usize; LANES];
            for _ in 0..self.height {
                for (l, n) in node.iter_mut().enumerate().take(lanes) {
                    let t = first + l;
                    let (f, threshold) = (
                        self.features[t * internal + *n],
                        self.thresholds[t * internal + *n],
                    );
                    *n = child(*n, x[f as usize], threshold);
                }
            }
            // Only the leaf is counted: a node's mass is its children's, summed once per
            // window below, instead of an increment at every level of every walk.
            for (l, n) in node.iter().enumerate().take(lanes) {
                self.l_mass[(first + l) * nodes + n] += 1;
            }
        }
        self.counter += 1;
        if self.counter == self.window {
            for tree in self.l_mass.chunks_exact_mut(nodes) {
                for i in (0..internal).rev() {
                    tree[i] = tree[2 * i + 1] + tree[2 * i + 2];
                }
            }
            std::mem::swap(&mut self.r_mass, &mut self.l_mass);
            self.l_mass.fill(0);
            self.first_window = false;
            self.counter = 0;
        }
        Ok(())
    }

    fn score_one(&self, x: &[f64]) -> Result<f64> {
        check_row(x, self.d)?;
        if self.first_window {
            return Ok(0.0);
        }
        let size_limit = 0.1 * self.window as f64;
        let (internal, nodes) = (self.internal(), self.nodes());
        let mut score = 0.0;
        for t in 0..self.n_trees {
            let features = &self.features[t * internal..(t + 1) * internal];
            let thresholds = &self.thresholds[t * internal..(t + 1) * internal];
            let mass = &self.r_mass[t * nodes..(t + 1) * nodes];
            let mut node = 0;
            let mut depth_pow = 1.0;
            let mut stopped = false;
            for _ in 0..self.height {
                let r = f64::from(mass[node]);
                score += r * depth_pow;
                if r < size_limit {
                    stopped = true;
                    break;
                }
                node = child(node, x[features[node] as usize], thresholds[node]);
                depth_pow *= 2.0;
            }
            if !stopped {
                score += f64::from(mass[node]) * depth_pow;
            }
        }
        Ok(1.0 - score / self.max_score())
    }
}

//! The Hoeffding tree (VFDT) classifier, with River's `HoeffdingTreeClassifier` semantics.

mod leaf;
mod split;

pub use leaf::LeafPrediction;

use crate::error::{Result, corrupt, invalid};
use crate::learner::{
    Classes, Classifier, DEFAULT_MAX_CLASSES, check_max_classes, check_proba, check_row,
};
use leaf::Leaf;
use serde::{Deserialize, Serialize};
use split::Dist;

/// Unchecked parameters of a [`HoeffdingTree`]; [`build`](Self::build) validates them.
///
/// Defaults are River's `HoeffdingTreeClassifier`: grace period 200, δ = 1e-7, tie threshold
/// τ = 0.05, information gain, adaptive naive Bayes leaves, 10 candidate thresholds per
/// feature, minimum branch fraction 0.01, maximum majority share 0.99, pre-pruning on, no
/// depth limit, 100 MiB.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "parameters do nothing until `build()`"]
pub struct HoeffdingTreeParams {
    d: usize,
    grace_period: f64,
    delta: f64,
    tau: f64,
    leaf_prediction: LeafPrediction,
    nb_threshold: f64,
    n_splits: usize,
    min_branch_fraction: f64,
    max_share_to_split: f64,
    merit_preprune: bool,
    max_depth: usize,
    max_size_mib: f64,
    memory_estimate_period: u64,
    max_classes: usize,
}

impl HoeffdingTreeParams {
    /// Weight a leaf must gather between split attempts (default 200).
    pub fn grace_period(mut self, n: f64) -> Self {
        self.grace_period = n;
        self
    }

    /// Allowed probability of choosing the wrong split, in the Hoeffding bound (default 1e-7).
    pub fn delta(mut self, delta: f64) -> Self {
        self.delta = delta;
        self
    }

    /// Split anyway once the Hoeffding bound falls below this, when the best two candidates
    /// are too close to tell apart (default 0.05).
    pub fn tau(mut self, tau: f64) -> Self {
        self.tau = tau;
        self
    }

    /// How leaves predict (default adaptive naive Bayes).
    pub fn leaf_prediction(mut self, mode: LeafPrediction) -> Self {
        self.leaf_prediction = mode;
        self
    }

    /// With naive Bayes leaves: the weight a leaf needs before it predicts by naive Bayes
    /// (default 0).
    pub fn nb_threshold(mut self, weight: f64) -> Self {
        self.nb_threshold = weight;
        self
    }

    /// Candidate thresholds per feature, evenly spaced in its range (default 10).
    pub fn n_splits(mut self, n: usize) -> Self {
        self.n_splits = n;
        self
    }

    /// Maximum depth of a leaf (default unlimited).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Memory budget: past it the least promising leaves stop growing (default 100 MiB,
    /// estimated every `memory_estimate_period` records as River does).
    pub fn max_size_mib(mut self, mib: f64) -> Self {
        self.max_size_mib = mib;
        self
    }

    /// Records between memory estimates (default 1,000,000).
    pub fn memory_estimate_period(mut self, n: u64) -> Self {
        self.memory_estimate_period = n;
        self
    }

    /// Whether "do not split" competes with the candidates (default true).
    pub fn merit_preprune(mut self, on: bool) -> Self {
        self.merit_preprune = on;
        self
    }

    /// The limit on class labels.
    pub fn max_classes(mut self, max_classes: usize) -> Self {
        self.max_classes = max_classes;
        self
    }

    /// Validates the parameters and creates an empty tree.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`](crate::LearnError::ZeroDimension) or
    /// [`LearnError::InvalidParameter`](crate::LearnError::InvalidParameter).
    pub fn build(self) -> Result<HoeffdingTree> {
        if self.d == 0 {
            return Err(crate::LearnError::ZeroDimension);
        }
        let positive = |v: f64| v > 0.0 && v.is_finite();
        if !positive(self.grace_period) {
            return Err(invalid(
                "grace_period",
                self.grace_period,
                "must be positive",
            ));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(invalid("delta", self.delta, "must be in (0, 1)"));
        }
        if !(self.tau >= 0.0 && self.tau.is_finite()) {
            return Err(invalid("tau", self.tau, "must be finite and non-negative"));
        }
        if !(self.nb_threshold >= 0.0 && self.nb_threshold.is_finite()) {
            return Err(invalid("nb_threshold", self.nb_threshold, "must be ≥ 0"));
        }
        if self.n_splits == 0 || self.n_splits > 10_000 {
            return Err(invalid("n_splits", self.n_splits, "between 1 and 10000"));
        }
        if self.max_depth == 0 {
            return Err(invalid("max_depth", 0, "must be at least 1"));
        }
        if !positive(self.max_size_mib) {
            return Err(invalid(
                "max_size_mib",
                self.max_size_mib,
                "must be positive",
            ));
        }
        if self.memory_estimate_period == 0 {
            return Err(invalid("memory_estimate_period", 0, "must be at least 1"));
        }
        check_max_classes(self.max_classes)?;
        Ok(HoeffdingTree {
            params: TreeSettings {
                d: self.d,
                grace_period: self.grace_period,
                delta: self.delta,
                tau: self.tau,
                leaf_prediction: self.leaf_prediction,
                nb_threshold: self.nb_threshold,
                n_splits: self.n_splits,
                min_branch_fraction: self.min_branch_fraction,
                max_share_to_split: self.max_share_to_split,
                merit_preprune: self.merit_preprune,
                max_depth: self.max_depth,
                max_bytes: self.max_size_mib * f64::from(1u32 << 20),
                memory_estimate_period: self.memory_estimate_period,
            },
            classes: Classes::new(self.max_classes),
            nodes: Vec::new(),
            weight_seen: 0.0,
            growth_allowed: true,
            active_leaf_bytes: 0.0,
            inactive_leaf_bytes: 0.0,
            overhead_fraction: 1.0,
            scratch: Vec::new(),
        })
    }
}

/// The validated parameters a tree keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TreeSettings {
    d: usize,
    grace_period: f64,
    delta: f64,
    tau: f64,
    leaf_prediction: LeafPrediction,
    nb_threshold: f64,
    n_splits: usize,
    min_branch_fraction: f64,
    max_share_to_split: f64,
    merit_preprune: bool,
    max_depth: usize,
    max_bytes: f64,
    memory_estimate_period: u64,
}

/// A node of the tree, in an arena: a numeric test (`x[feature] ≤ threshold` goes left) or
/// a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Node {
    Branch {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    Leaf(Leaf),
}

/// One split the tree made: where, on what, and at which weight of the whole stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitInfo {
    /// Depth of the split node (0 for the root).
    pub depth: usize,
    /// The feature tested.
    pub feature: usize,
    /// Records with `x[feature] ≤ threshold` go left.
    pub threshold: f64,
}

/// A Hoeffding tree (VFDT, Domingos & Hulten, 2000): an incremental decision tree that splits
/// a leaf once the Hoeffding bound `ε = √(R² ln(1/δ) / 2n)` says the best candidate's
/// information gain beats the second best's with probability `1 − δ`, or when `ε < τ` (a
/// tie). Split attempts happen every `grace_period` of weight at a leaf.
///
/// This mirrors River's `tree.HoeffdingTreeClassifier` closely enough that, on the same
/// stream, splits (features and thresholds) and predictions match: numeric features are
/// observed at each leaf by per-class Gaussians with their ranges (River's
/// `GaussianSplitter`), candidate thresholds are `n_splits` evenly spaced points of the
/// range, a split's children start from the Gaussians' class masses each side, the null
/// split competes when pre-pruning, a leaf where one class holds more than 99% of the weight
/// does not split, leaves predict by adaptive naive Bayes, ties break by first appearance,
/// and River's re-activation of inactive leaves after each split attempt is kept. The memory
/// limit follows River's algorithm with this tree's own byte estimate.
///
/// Learning costs O(depth + d · classes) per record plus O(d · classes · n_splits) per split
/// attempt; memory O(leaves · d · classes), bounded by `max_size_mib`.
///
/// ```
/// use spate_learn::{Classifier, HoeffdingTree};
///
/// let mut tree = HoeffdingTree::params(2).grace_period(50.0).build()?;
/// for i in 0..2000 {
///     let x = [f64::from(i % 100) / 100.0, f64::from(i % 7)];
///     tree.learn_one(&x, usize::from(x[0] > 0.5))?;
/// }
/// assert_eq!(tree.splits()[0].feature, 0);
/// assert_eq!(tree.predict_one(&[0.9, 3.0])?, Some(1));
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoeffdingTree {
    params: TreeSettings,
    classes: Classes,
    /// The arena; node 0 is the root once the first record arrived.
    nodes: Vec<Node>,
    weight_seen: f64,
    growth_allowed: bool,
    active_leaf_bytes: f64,
    inactive_leaf_bytes: f64,
    overhead_fraction: f64,
    #[serde(skip)]
    scratch: Dist,
}

impl HoeffdingTree {
    /// Parameters for `d` numeric features, with River's defaults.
    pub fn params(d: usize) -> HoeffdingTreeParams {
        HoeffdingTreeParams {
            d,
            grace_period: 200.0,
            delta: 1e-7,
            tau: 0.05,
            leaf_prediction: LeafPrediction::NaiveBayesAdaptive,
            nb_threshold: 0.0,
            n_splits: 10,
            min_branch_fraction: 0.01,
            max_share_to_split: 0.99,
            merit_preprune: true,
            max_depth: usize::MAX,
            max_size_mib: 100.0,
            memory_estimate_period: 1_000_000,
            max_classes: DEFAULT_MAX_CLASSES,
        }
    }

    /// The leaf that `x` falls into.
    fn leaf_of(&self, x: &[f64]) -> usize {
        let mut i = 0;
        while let Node::Branch {
            feature,
            threshold,
            left,
            right,
        } = self.nodes[i]
        {
            i = if x[feature] <= threshold { left } else { right };
        }
        i
    }

    /// Every split, depth first (left before right).
    pub fn splits(&self) -> Vec<SplitInfo> {
        let mut out = Vec::new();
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            if let Some(Node::Branch {
                feature,
                threshold,
                left,
                right,
            }) = self.nodes.get(i)
            {
                out.push(SplitInfo {
                    depth,
                    feature: *feature,
                    threshold: *threshold,
                });
                stack.push((*right, depth + 1));
                stack.push((*left, depth + 1));
            }
        }
        out
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf(_)))
            .count()
    }

    /// Depth of the deepest leaf.
    pub fn depth(&self) -> usize {
        self.leaves().map(|l| l.depth).max().unwrap_or(0)
    }

    fn leaves(&self) -> impl Iterator<Item = &Leaf> {
        self.nodes.iter().filter_map(|n| match n {
            Node::Leaf(l) => Some(l),
            Node::Branch { .. } => None,
        })
    }

    /// Leaves from left to right (River's `_find_leaves`).
    fn leaves_in_order(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            match self.nodes.get(i) {
                Some(Node::Branch { left, right, .. }) => {
                    stack.push(*right);
                    stack.push(*left);
                }
                Some(Node::Leaf(_)) => out.push(i),
                None => {}
            }
        }
        out
    }

    fn leaf_mut(&mut self, i: usize) -> Option<&mut Leaf> {
        match self.nodes.get_mut(i) {
            Some(Node::Leaf(l)) => Some(l),
            _ => None,
        }
    }

    fn attempt_to_split(&mut self, i: usize) {
        let p = self.params.clone();
        let Some(Node::Leaf(leaf)) = self.nodes.get(i) else {
            return;
        };
        if leaf.is_pure() {
            return;
        }
        let mut candidates = leaf.candidates(
            p.n_splits,
            p.min_branch_fraction,
            p.max_share_to_split,
            p.merit_preprune,
        );
        // Stable, and −0 equals 0, as Python's sort of River's candidates.
        candidates.sort_by(|a, b| {
            a.merit
                .partial_cmp(&b.merit)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let should_split = match candidates.len() {
            0 => false,
            1 => true,
            n => {
                let classes = leaf.stats.len().max(2) as f64;
                let range = classes.log2();
                let bound =
                    (range * range * (1.0 / p.delta).ln() / (2.0 * leaf.total_weight())).sqrt();
                let (best, second) = (&candidates[n - 1], &candidates[n - 2]);
                best.merit - second.merit > bound || bound < p.tau
            }
        };
        if !should_split {
            return;
        }
        let depth = leaf.depth;
        let Some(decision) = candidates.pop() else {
            return;
        };
        match decision.feature {
            None => {
                if let Some(leaf) = self.leaf_mut(i) {
                    leaf.deactivate();
                }
            }
            Some(feature) => {
                let [left_stats, right_stats] = decision.children;
                let left = self.nodes.len();
                self.nodes
                    .push(Node::Leaf(Leaf::new(depth + 1, left_stats)));
                self.nodes
                    .push(Node::Leaf(Leaf::new(depth + 1, right_stats)));
                self.nodes[i] = Node::Branch {
                    feature,
                    threshold: decision.threshold,
                    left,
                    right: left + 1,
                };
            }
        }
        self.enforce_size_limit();
    }

    /// River's memory management: keep the most promising leaves active within the budget,
    /// re-activating the others (with fresh statistics) when there is room.
    fn enforce_size_limit(&mut self) {
        let leaves = self.leaves_in_order();
        let mut by_promise: Vec<(usize, f64)> = leaves
            .iter()
            .filter_map(|&i| match &self.nodes[i] {
                Node::Leaf(l) => Some((i, l.promise())),
                Node::Branch { .. } => None,
            })
            .collect();
        by_promise.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
        let n = by_promise.len();
        let mut max_active = 0;
        while max_active < n {
            max_active += 1;
            let size = (max_active as f64 * self.active_leaf_bytes
                + (n - max_active) as f64 * self.inactive_leaf_bytes)
                * self.overhead_fraction;
            if size > self.params.max_bytes {
                max_active -= 1;
                break;
            }
        }
        let cutoff = n - max_active;
        let max_depth = self.params.max_depth;
        for (k, &(i, _)) in by_promise.iter().enumerate() {
            if let Some(leaf) = self.leaf_mut(i) {
                if k < cutoff {
                    leaf.deactivate();
                } else if !leaf.is_active() && leaf.depth < max_depth {
                    leaf.activate();
                }
            }
        }
    }

    fn estimate_model_size(&mut self) {
        let (mut active, mut inactive, mut n_active, mut n_inactive) = (0.0, 0.0, 0.0, 0.0);
        for leaf in self.leaves() {
            if leaf.is_active() {
                active += leaf.size_bytes() as f64;
                n_active += 1.0;
            } else {
                inactive += leaf.size_bytes() as f64;
                n_inactive += 1.0;
            }
        }
        if active > 0.0 {
            self.active_leaf_bytes = active / n_active;
        }
        if inactive > 0.0 {
            self.inactive_leaf_bytes = inactive / n_inactive;
        }
        let actual = self.size_bytes() as f64;
        let estimated = n_active * self.active_leaf_bytes + n_inactive * self.inactive_leaf_bytes;
        if estimated > 0.0 {
            self.overhead_fraction = actual / estimated;
        }
        if actual > self.params.max_bytes {
            self.enforce_size_limit();
        }
    }

    /// A rough size of the tree in bytes.
    pub fn size_bytes(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match n {
                Node::Leaf(l) => l.size_bytes(),
                Node::Branch { .. } => std::mem::size_of::<Node>(),
            })
            .sum()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let k = self.classes.len();
        self.classes.validate("HoeffdingTree", k)?;
        let n = self.nodes.len();
        let d = self.params.d;
        let mut children = vec![0u8; n];
        for node in &self.nodes {
            match node {
                Node::Branch {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    if *feature >= d || !threshold.is_finite() || *left >= n || *right >= n {
                        return Err(corrupt("HoeffdingTree", "a split points outside the tree"));
                    }
                    children[*left] += 1;
                    children[*right] += 1;
                }
                Node::Leaf(l) => {
                    if !l.is_valid(d) || l.stats.iter().any(|(c, _)| *c >= k) {
                        return Err(corrupt("HoeffdingTree", "a leaf's statistics do not fit"));
                    }
                }
            }
        }
        // A tree: the root has no parent, every other node exactly one, so walks end.
        if children.first().is_some_and(|&c| c != 0) || children.iter().skip(1).any(|&c| c != 1) {
            return Err(corrupt("HoeffdingTree", "the nodes do not form a tree"));
        }
        if d == 0 || self.params.n_splits == 0 {
            return Err(corrupt("HoeffdingTree", "invalid parameters"));
        }
        Ok(())
    }
}

impl Classifier for HoeffdingTree {
    fn n_features(&self) -> usize {
        self.params.d
    }

    fn n_classes(&self) -> usize {
        self.classes.len()
    }

    fn learn_one(&mut self, x: &[f64], y: usize) -> Result<()> {
        check_row(x, self.params.d)?;
        self.classes.check(y)?;
        self.classes.observe(y);
        self.weight_seen += 1.0;
        if self.nodes.is_empty() {
            self.nodes.push(Node::Leaf(Leaf::new(0, Vec::new())));
        }
        let i = self.leaf_of(x);
        let mode = self.params.leaf_prediction;
        let mut nb = std::mem::take(&mut self.scratch);
        let (growth, max_depth, grace) = (
            self.growth_allowed,
            self.params.max_depth,
            self.params.grace_period,
        );
        let mut attempt = None;
        if let Some(leaf) = self.leaf_mut(i) {
            leaf.learn(x, y, 1.0, mode, &mut nb);
            if growth && leaf.is_active() {
                if leaf.depth >= max_depth {
                    leaf.deactivate();
                } else {
                    let weight = leaf.total_weight();
                    if weight - leaf.last_split_attempt_at >= grace {
                        attempt = Some(weight);
                    }
                }
            }
        }
        self.scratch = nb;
        if let Some(weight) = attempt {
            self.attempt_to_split(i);
            // River records the attempt on the leaf object it attempted, even when that leaf
            // was just replaced by a split; a replaced leaf is gone here, which is the same.
            if let Some(leaf) = self.leaf_mut(i) {
                leaf.last_split_attempt_at = weight;
            }
        }
        if (self.weight_seen as u64).is_multiple_of(self.params.memory_estimate_period) {
            self.estimate_model_size();
        }
        Ok(())
    }

    fn predict_proba_into(&self, x: &[f64], proba: &mut [f64]) -> Result<()> {
        check_row(x, self.params.d)?;
        check_proba(proba, self.classes.len())?;
        proba.fill(0.0);
        if self.nodes.is_empty() {
            return Ok(());
        }
        let Node::Leaf(leaf) = &self.nodes[self.leaf_of(x)] else {
            return Ok(());
        };
        // Votes are written straight into `proba` through a small stack of pairs: at most
        // one per class at this leaf.
        with_votes(|votes| {
            leaf.predict(
                x,
                self.params.leaf_prediction,
                self.params.nb_threshold,
                votes,
            );
            for &(c, p) in votes.iter() {
                if let Some(slot) = proba.get_mut(c) {
                    *slot = p;
                }
            }
        });
        Ok(())
    }
}

/// Runs `f` with this thread's reusable vote buffer, so prediction does not allocate.
fn with_votes(f: impl FnOnce(&mut Dist)) {
    thread_local! {
        static VOTES: std::cell::RefCell<Dist> = const { std::cell::RefCell::new(Vec::new()) };
    }
    VOTES.with(|v| match v.try_borrow_mut() {
        Ok(mut votes) => f(&mut votes),
        Err(_) => f(&mut Vec::new()),
    });
}

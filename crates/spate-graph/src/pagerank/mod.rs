//! PageRank with the networkx definition: an exact static solver over a [`CsrGraph`] and an
//! incremental updater over an edge stream.
//!
//! # Definition
//! `x = α (Pᵀx + (Σ_{u dangling} x_u) p) + (1 − α) p`, where `P` row-normalizes the summed edge
//! weights, dangling nodes (no out-weight) spread their mass by the personalization vector `p`
//! (uniform by default), and `α` is the damping (0.85). This is `networkx.pagerank` with
//! `dangling=None`; parallel edges are summed as weights as networkx does for a
//! `MultiDiGraph`.

pub mod incremental;
mod rows;

pub use incremental::{
    CostModel, IncrementalPageRank, IncrementalPageRankParams, PageRankReport, UpdateMethod,
    UpdateStrategy,
};

use crate::csr::CsrGraph;
use crate::error::GraphError;
use crate::event::NodeId;
use serde::{Deserialize, Serialize};

/// Default damping factor α.
pub const DEFAULT_DAMPING: f64 = 0.85;

/// Ranks of the nodes of a graph, summing to 1, sorted by node id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ranks {
    ids: Vec<NodeId>,
    values: Vec<f64>,
}

impl Ranks {
    /// Build from `(node, rank)` pairs (sorted here; duplicate ids keep the last value).
    #[must_use]
    pub fn from_pairs(mut pairs: Vec<(NodeId, f64)>) -> Self {
        pairs.sort_by_key(|&(id, _)| id);
        pairs.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 = later.1;
                true
            } else {
                false
            }
        });
        let (ids, values) = pairs.into_iter().unzip();
        Self { ids, values }
    }

    /// Number of ranked nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no node is ranked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The rank of `node`, if it is in the graph. O(log n).
    #[must_use]
    pub fn get(&self, node: NodeId) -> Option<f64> {
        self.ids.binary_search(&node).ok().map(|i| self.values[i])
    }

    /// `(node, rank)` pairs in increasing node order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, f64)> + '_ {
        self.ids.iter().copied().zip(self.values.iter().copied())
    }

    /// The `k` highest-ranked nodes, highest first (ties by smaller id).
    #[must_use]
    pub fn top_k(&self, k: usize) -> Vec<(NodeId, f64)> {
        crate::topk::top_k(self.iter(), k)
    }

    /// Sum of the ranks (1 up to rounding, 0 for an empty graph).
    #[must_use]
    pub fn sum(&self) -> f64 {
        self.values.iter().sum()
    }

    /// `Σ |self − other|` over the union of both node sets (a node missing on one side counts
    /// as rank 0 there).
    #[must_use]
    pub fn l1_distance(&self, other: &Ranks) -> f64 {
        let (mut i, mut j, mut d) = (0, 0, 0.0);
        while i < self.ids.len() || j < other.ids.len() {
            let a = self.ids.get(i).copied().unwrap_or(NodeId::MAX);
            let b = other.ids.get(j).copied().unwrap_or(NodeId::MAX);
            if i < self.ids.len() && (j >= other.ids.len() || a < b) {
                d += self.values[i].abs();
                i += 1;
            } else if j < other.ids.len() && (i >= self.ids.len() || b < a) {
                d += other.values[j].abs();
                j += 1;
            } else {
                d += (self.values[i] - other.values[j]).abs();
                i += 1;
                j += 1;
            }
        }
        d
    }

    /// The pairs, sorted by node id.
    #[must_use]
    pub fn into_vec(self) -> Vec<(NodeId, f64)> {
        self.ids.into_iter().zip(self.values).collect()
    }
}

/// Checked configuration of the static solver; see [`PageRank::params`].
#[derive(Clone, Debug)]
pub struct PageRankParams {
    damping: f64,
    tolerance: f64,
    max_iterations: usize,
    personalization: Vec<(NodeId, f64)>,
}

/// Exact static PageRank: power iteration over compressed in-edge rows, parallel with rayon.
///
/// Stops when the L1 error of the returned ranks is *provably* at most the tolerance: after a
/// step of L1 size `δ` the error is at most `α δ / (1 − α)` (the iteration contracts by α in
/// L1). Each iteration costs one pass over the edges: O(n + m), memory-bound.
///
/// ```
/// use spate_graph::{CsrGraph, PageRank};
///
/// let g = CsrGraph::from_edges([(1, 2, 1.0), (2, 3, 1.0), (3, 1, 1.0), (3, 4, 2.0)])?;
/// let result = PageRank::params().tolerance(1e-12).build()?.run(&g)?;
/// assert!(result.converged);
/// assert!((result.ranks.sum() - 1.0).abs() < 1e-12);
/// // networkx.pagerank gives node 3 0.30477901793428.
/// assert!((result.ranks.get(3).unwrap_or(0.0) - 0.30477901793428).abs() < 1e-12);
/// assert_eq!(result.ranks.top_k(1)[0].0, 3);
/// # Ok::<(), spate_graph::GraphError>(())
/// ```
#[derive(Clone, Debug)]
pub struct PageRank {
    damping: f64,
    tolerance: f64,
    max_iterations: usize,
    personalization: Option<Vec<(NodeId, f64)>>,
}

/// The outcome of a static PageRank run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageRankResult {
    /// Ranks of every node of the graph, summing to 1.
    pub ranks: Ranks,
    /// Iterations performed.
    pub iterations: usize,
    /// Proven bound on the L1 distance of `ranks` to the exact PageRank.
    pub error_bound: f64,
    /// Whether `error_bound <= tolerance` was reached within `max_iterations`.
    pub converged: bool,
}

impl PageRank {
    /// Parameters with the networkx defaults: damping 0.85, tolerance 1e-6 (an L1 bound),
    /// up to 1000 iterations, uniform teleport.
    #[must_use]
    pub fn params() -> PageRankParams {
        PageRankParams {
            damping: DEFAULT_DAMPING,
            tolerance: 1e-6,
            max_iterations: 1000,
            personalization: Vec::new(),
        }
    }

    /// Rank the nodes of `graph`.
    ///
    /// # Errors
    /// [`GraphError::SourcesNotInGraph`] if personalization was given and none of its nodes
    /// is in `graph` (networkx raises `ZeroDivisionError` there).
    pub fn run(&self, graph: &CsrGraph) -> Result<PageRankResult, GraphError> {
        let n = graph.node_count();
        if n == 0 {
            return Ok(PageRankResult {
                ranks: Ranks::default(),
                iterations: 0,
                error_bound: 0.0,
                converged: true,
            });
        }
        let p = match &self.personalization {
            None => None,
            Some(pairs) => Some(personalization_vector(graph, pairs)?),
        };
        let a = self.damping;
        let uniform = 1.0 / n as f64;
        let csr = &graph.csr;
        let mut x = vec![uniform; n];
        let mut next = vec![0.0; n];
        // `x` scaled by out-weight, as each pass gathers it; the pass writes the next one.
        let (mut y, mut y_next) = (csr.scaled_vector(), csr.scaled_vector());
        let mut dangling = csr.scale_by_out_weight(&x, &mut y);
        let (mut iterations, mut bound) = (0, f64::INFINITY);
        while iterations < self.max_iterations {
            let c = a * dangling + (1.0 - a);
            let sums = match &p {
                None => csr.pull(&y, &x, &mut next, &mut y_next, |_, s| a * s + c * uniform),
                Some(p) => csr.pull(&y, &x, &mut next, &mut y_next, |v, s| a * s + c * p[v]),
            };
            std::mem::swap(&mut x, &mut next);
            std::mem::swap(&mut y, &mut y_next);
            dangling = sums.dangling;
            iterations += 1;
            bound = a * sums.step / (1.0 - a);
            if bound <= self.tolerance {
                break;
            }
        }
        let pairs = graph.ids.iter().copied().zip(x).collect();
        Ok(PageRankResult {
            ranks: Ranks::from_pairs(pairs),
            iterations,
            error_bound: bound,
            converged: bound <= self.tolerance,
        })
    }
}

/// The normalized personalization vector over the graph's dense indices.
fn personalization_vector(
    graph: &CsrGraph,
    pairs: &[(NodeId, f64)],
) -> Result<Vec<f64>, GraphError> {
    let in_graph = || {
        pairs
            .iter()
            .filter_map(|&(id, w)| graph.index.get(&id).map(|&i| (i as usize, w)))
    };
    let mut p = vec![0.0; graph.node_count()];
    let fill = |p: &mut [f64], unit: f64| {
        p.iter_mut().for_each(|v| *v = 0.0);
        for (i, w) in in_graph() {
            p[i] += w / unit;
        }
        p.iter().sum::<f64>()
    };
    let mut total = fill(&mut p, 1.0);
    if total > 0.0 && !(total.is_finite() && total >= f64::MIN_POSITIVE) {
        // Weights whose sum overflows, or is subnormal: divide by the largest first, which
        // keeps the sum in [1, sources].
        let largest = in_graph().map(|(_, w)| w).fold(0.0, f64::max);
        total = fill(&mut p, largest);
    }
    if !(total.is_finite() && total > 0.0) {
        return Err(GraphError::SourcesNotInGraph {
            sources: pairs.len(),
        });
    }
    p.iter_mut().for_each(|v| *v /= total);
    Ok(p)
}

pub(crate) fn check_damping(value: f64) -> Result<(), GraphError> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(GraphError::Damping { value })
    }
}

pub(crate) fn check_tolerance(value: f64) -> Result<(), GraphError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(GraphError::Tolerance { value })
    }
}

/// Validate personalization weights: each finite and ≥ 0, some positive.
pub(crate) fn check_personalization(pairs: &[(NodeId, f64)]) -> Result<(), GraphError> {
    let mut total = 0.0;
    for &(node, weight) in pairs {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(GraphError::PersonalizationWeight { node, weight });
        }
        total += weight;
    }
    if total > 0.0 {
        Ok(())
    } else {
        Err(GraphError::EmptyPersonalization)
    }
}

impl PageRankParams {
    /// The damping factor α, in (0, 1).
    #[must_use]
    pub fn damping(mut self, value: f64) -> Self {
        self.damping = value;
        self
    }

    /// Bound on the L1 error of the result (not networkx's per-node `tol`: networkx stops
    /// when a step is below `N·tol`, which bounds the error by `α N tol / (1 − α)`).
    #[must_use]
    pub fn tolerance(mut self, value: f64) -> Self {
        self.tolerance = value;
        self
    }

    /// Iteration limit; reaching it is reported by `converged == false`, not an error.
    #[must_use]
    pub fn max_iterations(mut self, value: usize) -> Self {
        self.max_iterations = value;
        self
    }

    /// Personalized PageRank: teleport (and dangling mass) go to these nodes in proportion to
    /// the weights. Nodes not in the graph are ignored, as in networkx.
    #[must_use]
    pub fn personalization<I: IntoIterator<Item = (NodeId, f64)>>(mut self, sources: I) -> Self {
        self.personalization = sources.into_iter().collect();
        self
    }

    /// Check the parameters.
    ///
    /// # Errors
    /// [`GraphError::Damping`], [`GraphError::Tolerance`], [`GraphError::MaxIterations`],
    /// [`GraphError::PersonalizationWeight`] or [`GraphError::EmptyPersonalization`].
    pub fn build(self) -> Result<PageRank, GraphError> {
        check_damping(self.damping)?;
        check_tolerance(self.tolerance)?;
        if self.max_iterations == 0 {
            return Err(GraphError::MaxIterations);
        }
        let personalization = if self.personalization.is_empty() {
            None
        } else {
            check_personalization(&self.personalization)?;
            Some(self.personalization)
        };
        Ok(PageRank {
            damping: self.damping,
            tolerance: self.tolerance,
            max_iterations: self.max_iterations,
            personalization,
        })
    }
}

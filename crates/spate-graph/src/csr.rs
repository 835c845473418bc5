//! Immutable compressed graphs for whole-graph passes (static PageRank, power iteration).

use crate::error::GraphError;
use crate::event::NodeId;
use crate::graph::DirectedGraph;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Rows per rayon task: large enough to amortize scheduling, small enough to balance skewed
/// in-degrees on a few cores.
const ROWS_PER_TASK: usize = 2048;

/// Adds per-task partial sums in task order, so the result does not depend on how rayon
/// split the work (a float sum's rounding depends on its order).
pub(crate) fn ordered_sum(parts: impl IndexedParallelIterator<Item = f64>) -> f64 {
    parts.collect::<Vec<f64>>().into_iter().sum()
}

/// In-edge ("pull") compressed rows: row `v` lists the sources of the edges into `v`.
/// Pulling lets every row be computed independently, so the pass parallelizes with no atomics.
#[derive(Clone, Debug, Default)]
pub(crate) struct InCsr {
    pub(crate) offsets: Vec<usize>,
    pub(crate) sources: Vec<u32>,
    /// `None` when every weight is 1: the pass then streams only `sources`.
    pub(crate) weights: Option<Vec<f64>>,
    /// `1 / out-weight`, or 0 for a node with no out-edges (dangling).
    pub(crate) inv_out: Vec<f64>,
}

/// `1/w`, or 0 where `w` is 0 (a dangling node).
fn inverse(weights: &[f64]) -> Vec<f64> {
    weights
        .iter()
        .map(|&w| if w > 0.0 { 1.0 / w } else { 0.0 })
        .collect()
}

/// The node numbering of every compressed graph: by decreasing out-degree (ties by the given
/// order). A node's value is gathered once per out-edge, so this packs the most-read values
/// into a small, cache-resident prefix; on soc-Epinions1 it makes a pass about twice as fast
/// as first-appearance order.
pub(crate) fn locality_order(
    nodes: impl Iterator<Item = u32>,
    out_degree: impl Fn(u32) -> usize,
) -> Vec<u32> {
    let mut order: Vec<u32> = nodes.collect();
    order.sort_by_key(|&u| std::cmp::Reverse(out_degree(u)));
    order
}

impl InCsr {
    /// Build from `(src, dst, weight)` triples over dense indices `< n`, each pair at most once,
    /// ordered by source within each destination (so rows come out sorted, and the gather of
    /// source values walks memory forward).
    pub(crate) fn from_triples(n: usize, triples: &[(u32, u32, f64)]) -> Self {
        let mut in_degree = vec![0usize; n];
        let mut out_weight = vec![0.0; n];
        for &(u, v, w) in triples {
            in_degree[v as usize] += 1;
            out_weight[u as usize] += w;
        }
        let unit = triples.iter().all(|t| t.2 == 1.0);
        let mut csr = Self::with_rows(&in_degree, unit);
        let mut fill = csr.offsets.clone();
        for &(u, v, w) in triples {
            csr.place(&mut fill, u, v, w);
        }
        csr.inv_out = inverse(&out_weight);
        csr
    }

    /// Build over the graph's nodes, numbered in [`locality_order`]; returns the rows and the
    /// order (`order[local] = dense slot`). Two passes over the adjacency and no row sorting:
    /// sources are placed in increasing local order.
    pub(crate) fn from_graph(g: &DirectedGraph) -> (Self, Vec<u32>) {
        let live = g.live_mask();
        let slots = (0..live.len() as u32).filter(|&i| live[i as usize]);
        let order = locality_order(slots, |u| g.out_edges(u).len());
        let mut local = vec![u32::MAX; g.capacity()];
        for (l, &slot) in order.iter().enumerate() {
            local[slot as usize] = l as u32;
        }
        let in_degree: Vec<usize> = order.iter().map(|&v| g.in_degree_of(v) as usize).collect();
        let unit = g.is_unweighted();
        let mut csr = Self::with_rows(&in_degree, unit);
        let mut fill = csr.offsets.clone();
        for (l, &u) in order.iter().enumerate() {
            for e in g.out_edges(u) {
                csr.place(&mut fill, l as u32, local[e.dst as usize], e.weight);
            }
        }
        let out_weight: Vec<f64> = order.iter().map(|&u| g.out_weight_of(u)).collect();
        csr.inv_out = inverse(&out_weight);
        (csr, order)
    }

    fn with_rows(in_degree: &[usize], unit: bool) -> Self {
        let mut offsets = Vec::with_capacity(in_degree.len() + 1);
        let mut total = 0;
        offsets.push(0);
        for &d in in_degree {
            total += d;
            offsets.push(total);
        }
        Self {
            offsets,
            sources: vec![0; total],
            weights: if unit { None } else { Some(vec![0.0; total]) },
            inv_out: Vec::new(),
        }
    }

    #[inline]
    fn place(&mut self, fill: &mut [usize], u: u32, v: u32, w: f64) {
        let slot = &mut fill[v as usize];
        self.sources[*slot] = u;
        if let Some(ws) = self.weights.as_mut() {
            ws[*slot] = w;
        }
        *slot += 1;
    }

    pub(crate) fn nodes(&self) -> usize {
        self.inv_out.len()
    }

    pub(crate) fn edges(&self) -> usize {
        self.sources.len()
    }

    /// `y[u] = x[u] / out-weight(u)` (0 for dangling `u`); returns the sum of `x` over
    /// dangling nodes, whose mass PageRank redistributes. Partial sums are added in task
    /// order (as in [`pull`](Self::pull)), so results do not depend on the thread schedule.
    pub(crate) fn scale_by_out_weight(&self, x: &[f64], y: &mut [f64]) -> f64 {
        let per_task = y
            .par_chunks_mut(ROWS_PER_TASK)
            .zip(x.par_chunks(ROWS_PER_TASK))
            .zip(self.inv_out.par_chunks(ROWS_PER_TASK))
            .map(|((y, x), inv)| {
                let mut dangling = 0.0;
                for ((y, &x), &inv) in y.iter_mut().zip(x).zip(inv) {
                    *y = x * inv;
                    if inv == 0.0 {
                        dangling += x;
                    }
                }
                dangling
            });
        ordered_sum(per_task)
    }

    /// One pull pass: `next[v] = finish(v, Σ_{u→v} w_uv · y[u])`; returns `Σ_v |next[v] -
    /// prev[v]|`, the L1 norm of the step (and so of the residual of `prev`).
    pub(crate) fn pull<F>(&self, y: &[f64], prev: &[f64], next: &mut [f64], finish: F) -> f64
    where
        F: Fn(usize, f64) -> f64 + Sync,
    {
        let offsets = &self.offsets;
        let sources = &self.sources;
        let per_task = next
            .par_chunks_mut(ROWS_PER_TASK)
            .zip(prev.par_chunks(ROWS_PER_TASK))
            .enumerate()
            .map(|(task, (next, prev))| {
                let base = task * ROWS_PER_TASK;
                let mut step = 0.0;
                for (k, (out, &old)) in next.iter_mut().zip(prev).enumerate() {
                    let v = base + k;
                    let (a, b) = (offsets[v], offsets[v + 1]);
                    let sum = match &self.weights {
                        None => sources[a..b].iter().map(|&u| y[u as usize]).sum::<f64>(),
                        Some(w) => sources[a..b]
                            .iter()
                            .zip(&w[a..b])
                            .map(|(&u, &w)| w * y[u as usize])
                            .sum::<f64>(),
                    };
                    let value = finish(v, sum);
                    step += (value - old).abs();
                    *out = value;
                }
                step
            });
        ordered_sum(per_task)
    }

    /// Bytes one pull pass must move at least: the row offsets, sources, weights, one read of
    /// the scaled vector, one read of the previous vector and one write of the next.
    pub(crate) fn pass_bytes(&self) -> usize {
        let n = self.nodes();
        let m = self.edges();
        (n + 1) * std::mem::size_of::<usize>()
            + m * 4
            + self.weights.as_ref().map_or(0, |w| w.len() * 8)
            + 3 * n * 8
    }
}

/// An immutable directed graph in compressed form, the input of static [`crate::PageRank`].
///
/// Parallel edges are summed into one weighted edge; nodes are those that appear in an edge
/// (plus any added with [`CsrGraph::from_edges_and_nodes`]).
#[derive(Clone, Debug, Default)]
pub struct CsrGraph {
    pub(crate) ids: Vec<NodeId>,
    pub(crate) index: FxHashMap<NodeId, u32>,
    pub(crate) csr: InCsr,
}

impl CsrGraph {
    /// Build from `(src, dst, weight)` edges. Parallel edges are summed.
    ///
    /// # Errors
    /// [`GraphError::EdgeWeight`] for a weight that is not finite and > 0;
    /// [`GraphError::TooLarge`] beyond `u32::MAX` nodes.
    pub fn from_edges<I>(edges: I) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = (NodeId, NodeId, f64)>,
    {
        Self::from_edges_and_nodes(edges, std::iter::empty())
    }

    /// Build from edges plus extra (possibly isolated) nodes, as networkx does for a graph
    /// with isolated nodes.
    ///
    /// # Errors
    /// As [`CsrGraph::from_edges`].
    pub fn from_edges_and_nodes<I, J>(edges: I, nodes: J) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = (NodeId, NodeId, f64)>,
        J: IntoIterator<Item = NodeId>,
    {
        let mut ids = Vec::new();
        let mut index: FxHashMap<NodeId, u32> = FxHashMap::default();
        let mut intern = |id: NodeId, ids: &mut Vec<NodeId>| -> Result<u32, GraphError> {
            if let Some(&i) = index.get(&id) {
                return Ok(i);
            }
            let i = u32::try_from(ids.len()).map_err(|_| GraphError::TooLarge {
                what: "nodes",
                max: u64::from(u32::MAX),
            })?;
            ids.push(id);
            index.insert(id, i);
            Ok(i)
        };
        let mut pairs: FxHashMap<(u32, u32), f64> = FxHashMap::default();
        for (s, d, w) in edges {
            if !(w.is_finite() && w > 0.0) {
                return Err(GraphError::EdgeWeight {
                    src: s,
                    dst: d,
                    weight: w,
                });
            }
            let u = intern(s, &mut ids)?;
            let v = intern(d, &mut ids)?;
            *pairs.entry((u, v)).or_insert(0.0) += w;
        }
        for id in nodes {
            intern(id, &mut ids)?;
        }
        let mut out_degree = vec![0usize; ids.len()];
        for &(u, _) in pairs.keys() {
            out_degree[u as usize] += 1;
        }
        let order = locality_order(0..ids.len() as u32, |u| out_degree[u as usize]);
        let mut local = vec![0u32; ids.len()];
        for (l, &i) in order.iter().enumerate() {
            local[i as usize] = l as u32;
        }
        let mut triples: Vec<(u32, u32, f64)> = pairs
            .into_iter()
            .map(|((u, v), w)| (local[u as usize], local[v as usize], w))
            .collect();
        // Hash order is arbitrary; fix it so sums (and so results) are reproducible.
        triples.sort_unstable_by_key(|&(u, v, _)| (v, u));
        let csr = InCsr::from_triples(ids.len(), &triples);
        let ids: Vec<NodeId> = order.iter().map(|&i| ids[i as usize]).collect();
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        Ok(Self { ids, index, csr })
    }

    /// A compact snapshot of a dynamic graph's current edges.
    #[must_use]
    pub fn from_graph(g: &DirectedGraph) -> Self {
        let (csr, order) = InCsr::from_graph(g);
        let ids: Vec<NodeId> = order.iter().map(|&i| g.index().id(i)).collect();
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        Self { ids, index, csr }
    }

    /// Number of nodes.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.ids.len()
    }

    /// Number of distinct edges.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.csr.edges()
    }

    /// Whether every edge has weight exactly 1 (the pass then skips the weight array).
    #[must_use]
    pub fn is_unweighted(&self) -> bool {
        self.csr.weights.is_none()
    }

    /// The node ids in dense-index order.
    #[must_use]
    pub fn node_ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// Bytes a PageRank iteration must move at least (offsets, sources, weights if any, and
    /// three passes over rank vectors): the denominator of a memory-bandwidth comparison.
    #[must_use]
    pub fn pass_bytes(&self) -> usize {
        self.csr.pass_bytes()
    }
}

//! Triangle counts of the undirected simple view of an edge stream: exact, and sampled within
//! a memory budget.

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, EdgeOp, NodeId};
use crate::undirected::{Change, UndirectedGraph};
use crate::window::EdgeWindow;
use rand::{Rng, RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

/// Checked configuration of [`TriangleCount`].
#[derive(Clone, Debug, Default)]
pub struct TriangleCountParams {
    window_batches: Option<usize>,
}

impl TriangleCountParams {
    /// Keep only the edges inserted in the last `batches` batches.
    #[must_use]
    pub fn window_batches(mut self, batches: usize) -> Self {
        self.window_batches = Some(batches);
        self
    }

    /// Check the parameters.
    ///
    /// # Errors
    /// [`GraphError::WindowBatches`] for a zero-length window.
    pub fn build(self) -> Result<TriangleCount, GraphError> {
        Ok(TriangleCount {
            window: self.window_batches.map(EdgeWindow::new).transpose()?,
            ..TriangleCount::default()
        })
    }
}

/// Per-batch account of a triangle counter's update.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrianglesReport {
    /// Batch number, from 1.
    pub batch: u64,
    /// What the batch did to the (sampled, for [`SampledTriangles`]) graph.
    pub counts: BatchCounts,
    /// Triangles after the batch (an estimate for [`SampledTriangles`]).
    pub triangles: f64,
    /// Neighbour-set probes made by the intersections.
    pub probes: u64,
}

/// Exact triangle count of the undirected simple graph underlying a directed edge stream
/// (direction, parallel instances and self-loops ignored), global and per node.
///
/// A pair that appears adds `|N(u) ∩ N(v)|` triangles, one that disappears removes as many:
/// O(min(deg u, deg v)) per pair change.
///
/// ```
/// use spate_graph::{EdgeEvent, TriangleCount};
///
/// let mut t = TriangleCount::params().build()?;
/// t.update(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(2, 3), EdgeEvent::insert(3, 1)]);
/// assert_eq!(t.count(), 1);
/// t.update(&[EdgeEvent::insert(2, 1), EdgeEvent::delete(1, 2)]);
/// assert_eq!(t.count(), 1); // 2 -> 1 still connects the pair
/// # Ok::<(), spate_graph::GraphError>(())
/// ```
///
/// A checkpoint holds the graph, the window and the batch number; the counts are derived
/// state and are recomputed from the (validated) graph on decoding, O(pairs · min degree),
/// so a checkpoint cannot carry inconsistent ones.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "TriangleCountRepr")]
pub struct TriangleCount {
    graph: UndirectedGraph,
    window: Option<EdgeWindow>,
    #[serde(skip)]
    total: u64,
    #[serde(skip)]
    local: Vec<u64>,
    batches: u64,
    #[serde(skip)]
    events: Vec<EdgeEvent>,
}

/// The decoded form of a checkpoint: the serialized fields of [`TriangleCount`], in order.
#[derive(Deserialize)]
struct TriangleCountRepr {
    graph: UndirectedGraph,
    window: Option<EdgeWindow>,
    batches: u64,
}

impl From<TriangleCountRepr> for TriangleCount {
    fn from(r: TriangleCountRepr) -> Self {
        let g = &r.graph;
        let mut local = vec![0u64; g.capacity()];
        let mut total = 0u64;
        // Each triangle u < v < w once, from its pair (u, v).
        for (u, v) in g.pairs() {
            let mut closed = 0;
            g.common_neighbors(u, v, |w| {
                if w > v {
                    local[w as usize] += 1;
                    closed += 1;
                }
            });
            local[u as usize] += closed;
            local[v as usize] += closed;
            total += closed;
        }
        TriangleCount {
            graph: r.graph,
            window: r.window,
            total,
            local,
            batches: r.batches,
            events: Vec::new(),
        }
    }
}

impl TriangleCount {
    /// Parameters: no window.
    #[must_use]
    pub fn params() -> TriangleCountParams {
        TriangleCountParams::default()
    }

    /// Apply one batch; counts are exact afterwards.
    pub fn update(&mut self, batch: &[EdgeEvent]) -> TrianglesReport {
        let mut events = std::mem::take(&mut self.events);
        let expired = match &mut self.window {
            Some(w) => w.advance(batch, &mut events),
            None => {
                events.clear();
                events.extend_from_slice(batch);
                0
            }
        };
        let (total, local) = (&mut self.total, &mut self.local);
        let mut probes = 0u64;
        let mut released = Vec::new();
        let counts = self
            .graph
            .apply_batch(&events, &mut released, |g, change| match change {
                Change::NodeAdded(i) => {
                    if local.len() < g.capacity() {
                        local.resize(g.capacity(), 0);
                    }
                    local[i as usize] = 0;
                }
                Change::PairAdded(u, v) => {
                    probes += g.neighbors(u).len().min(g.neighbors(v).len()) as u64;
                    let c = g.common_neighbors(u, v, |w| local[w as usize] += 1);
                    local[u as usize] += c;
                    local[v as usize] += c;
                    *total += c;
                }
                Change::PairRemoved(u, v) => {
                    probes += g.neighbors(u).len().min(g.neighbors(v).len()) as u64;
                    let c = g.common_neighbors(u, v, |w| local[w as usize] -= 1);
                    local[u as usize] -= c;
                    local[v as usize] -= c;
                    *total -= c;
                }
            });
        self.events = events;
        self.batches += 1;
        TrianglesReport {
            batch: self.batches,
            counts: BatchCounts { expired, ..counts },
            triangles: self.total as f64,
            probes,
        }
    }

    /// Triangles in the graph.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Triangles through `node` (`None` if it has no edges).
    #[must_use]
    pub fn local(&self, node: NodeId) -> Option<u64> {
        self.graph.index().get(node).map(|i| self.local[i as usize])
    }

    /// Local clustering coefficient of `node`: its triangles over the pairs of its neighbours
    /// (0 below two neighbours; `None` if it has no edges).
    #[must_use]
    pub fn clustering(&self, node: NodeId) -> Option<f64> {
        let i = self.graph.index().get(node)?;
        let d = self.graph.neighbors(i).len() as f64;
        Some(if d < 2.0 {
            0.0
        } else {
            2.0 * self.local[i as usize] as f64 / (d * (d - 1.0))
        })
    }

    /// The `k` nodes in the most triangles, most first.
    #[must_use]
    pub fn top_k(&self, k: usize) -> Vec<(NodeId, u64)> {
        crate::topk::top_k(
            self.graph
                .index()
                .iter()
                .map(|(i, id)| (id, self.local[i as usize])),
            k,
        )
    }

    /// Distinct undirected pairs (edges of the simple graph).
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.graph.pair_count()
    }
}

/// Checked configuration of [`SampledTriangles`].
#[derive(Clone, Debug)]
pub struct SampledTrianglesParams {
    budget: usize,
    seed: u64,
    window_batches: Option<usize>,
}

impl SampledTrianglesParams {
    /// Seed of the sampler's random generator (results are reproducible per seed).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Keep only the edges inserted in the last `batches` batches.
    #[must_use]
    pub fn window_batches(mut self, batches: usize) -> Self {
        self.window_batches = Some(batches);
        self
    }

    /// Check the parameters.
    ///
    /// # Errors
    /// [`GraphError::MemoryBudget`] below 2 edges; [`GraphError::WindowBatches`].
    pub fn build(self) -> Result<SampledTriangles, GraphError> {
        if self.budget < 2 {
            return Err(GraphError::MemoryBudget {
                edges: self.budget,
                min: 2,
            });
        }
        Ok(SampledTriangles {
            budget: self.budget,
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            window: self.window_batches.map(EdgeWindow::new).transpose()?,
            sample: Sample::default(),
            edges: 0,
            deleted_in_sample: 0,
            deleted_outside: 0,
            estimate: 0.0,
            batches: 0,
            events: Vec::new(),
        })
    }
}

/// Triangle count of a fully dynamic edge stream estimated from a fixed-size edge sample
/// (TRIÈST's reservoir with random pairing for deletions, counting every triangle a new or
/// deleted edge closes with two sampled edges — the "accurate" ThinkD variant of Shin et al.,
/// which equals TRIÈST-IMPR on insert-only streams). Unbiased.
///
/// Memory: at most `budget` edges. Cost: O(sampled degree) per event.
///
/// The input must be a *simple* undirected stream: every insert is an edge not currently in
/// the graph (in either direction) and every delete removes one that is. Self-loops are
/// ignored. [`TriangleCount`] handles arbitrary multigraph streams exactly.
///
/// ```
/// use spate_graph::{EdgeEvent, SampledTriangles};
///
/// let mut t = SampledTriangles::params(1000).seed(7).build()?;
/// t.update(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(2, 3), EdgeEvent::insert(3, 1)]);
/// assert_eq!(t.estimate(), 1.0); // exact while everything fits in the budget
/// # Ok::<(), spate_graph::GraphError>(())
/// ```
///
/// The sample is genuine state (it cannot be recomputed), so decoding a checkpoint checks it
/// against every invariant the sampler keeps and refuses it ([`GraphError::CorruptState`])
/// otherwise.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "SampledTrianglesRepr")]
pub struct SampledTriangles {
    budget: usize,
    rng: Xoshiro256PlusPlus,
    window: Option<EdgeWindow>,
    sample: Sample,
    /// Edges currently in the stream's graph.
    edges: u64,
    /// Random pairing: deletions not yet compensated, of sampled and unsampled edges.
    deleted_in_sample: u64,
    deleted_outside: u64,
    estimate: f64,
    batches: u64,
    #[serde(skip)]
    events: Vec<EdgeEvent>,
}

/// The decoded form of a checkpoint: the serialized fields of [`SampledTriangles`], in order.
#[derive(Deserialize)]
struct SampledTrianglesRepr {
    budget: usize,
    rng: Xoshiro256PlusPlus,
    window: Option<EdgeWindow>,
    sample: Sample,
    edges: u64,
    deleted_in_sample: u64,
    deleted_outside: u64,
    estimate: f64,
    batches: u64,
}

impl TryFrom<SampledTrianglesRepr> for SampledTriangles {
    type Error = GraphError;

    fn try_from(r: SampledTrianglesRepr) -> Result<Self, GraphError> {
        let corrupt = |what| Err(GraphError::CorruptState { what });
        if r.budget < 2 {
            return corrupt("triangle sample budget below 2 edges");
        }
        // A sampled edge deleted from the stream keeps its slot until an insert refills it
        // (random pairing), so the sample and those pending slots fit the budget together.
        if r.sample.edges.len() as u64 + r.deleted_in_sample > r.budget as u64 {
            return corrupt("triangle sample larger than its budget");
        }
        if r.edges
            .checked_add(r.deleted_in_sample)
            .and_then(|n| n.checked_add(r.deleted_outside))
            .is_none_or(|n| n == u64::MAX)
        {
            return corrupt("triangle sampler counters overflow");
        }
        if !r.estimate.is_finite() {
            return corrupt("triangle estimate is not finite");
        }
        // xoshiro's one forbidden state is all zeros, where it returns 0 forever.
        let mut probe = r.rng.clone();
        if (0..4).all(|_| probe.next_u64() == 0) {
            return corrupt("sampler random generator in the all-zero state");
        }
        Ok(SampledTriangles {
            budget: r.budget,
            rng: r.rng,
            window: r.window,
            sample: r.sample,
            edges: r.edges,
            deleted_in_sample: r.deleted_in_sample,
            deleted_outside: r.deleted_outside,
            estimate: r.estimate,
            batches: r.batches,
            events: Vec::new(),
        })
    }
}

/// The sampled edges, with the adjacency used for intersections.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<(NodeId, NodeId)>", into = "Vec<(NodeId, NodeId)>")]
struct Sample {
    edges: Vec<(NodeId, NodeId)>,
    position: FxHashMap<(NodeId, NodeId), usize>,
    adj: FxHashMap<NodeId, FxHashSet<NodeId>>,
}

impl TryFrom<Vec<(NodeId, NodeId)>> for Sample {
    type Error = GraphError;

    fn try_from(edges: Vec<(NodeId, NodeId)>) -> Result<Self, GraphError> {
        let mut s = Sample::default();
        for (u, v) in edges {
            // The sampler stores every edge as (smaller id, larger id), never a self-loop.
            if u >= v {
                return Err(GraphError::CorruptState {
                    what: "sampled edge not stored as (smaller id, larger id)",
                });
            }
            if s.position.contains_key(&(u, v)) {
                return Err(GraphError::CorruptState {
                    what: "duplicate sampled edge",
                });
            }
            s.insert(u, v);
        }
        Ok(s)
    }
}

impl From<Sample> for Vec<(NodeId, NodeId)> {
    fn from(s: Sample) -> Self {
        s.edges
    }
}

impl Sample {
    fn insert(&mut self, u: NodeId, v: NodeId) {
        if self.position.contains_key(&(u, v)) {
            return;
        }
        self.position.insert((u, v), self.edges.len());
        self.edges.push((u, v));
        self.adj.entry(u).or_default().insert(v);
        self.adj.entry(v).or_default().insert(u);
    }

    fn remove(&mut self, u: NodeId, v: NodeId) -> bool {
        let Some(p) = self.position.remove(&(u, v)) else {
            return false;
        };
        self.edges.swap_remove(p);
        if let Some(&moved) = self.edges.get(p) {
            self.position.insert(moved, p);
        }
        for (a, b) in [(u, v), (v, u)] {
            if let Some(set) = self.adj.get_mut(&a) {
                set.remove(&b);
                if set.is_empty() {
                    self.adj.remove(&a);
                }
            }
        }
        true
    }

    fn common(&self, u: NodeId, v: NodeId) -> (u64, u64) {
        let (Some(a), Some(b)) = (self.adj.get(&u), self.adj.get(&v)) else {
            return (0, 0);
        };
        let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
        let count = small.iter().filter(|w| large.contains(w)).count() as u64;
        (count, small.len() as u64)
    }
}

impl SampledTriangles {
    /// Parameters with a memory budget of `budget` sampled edges and seed 0.
    #[must_use]
    pub fn params(budget: usize) -> SampledTrianglesParams {
        SampledTrianglesParams {
            budget,
            seed: 0,
            window_batches: None,
        }
    }

    /// Apply one batch and update the estimate.
    pub fn update(&mut self, batch: &[EdgeEvent]) -> TrianglesReport {
        let mut events = std::mem::take(&mut self.events);
        let expired = match &mut self.window {
            Some(w) => w.advance(batch, &mut events),
            None => {
                events.clear();
                events.extend_from_slice(batch);
                0
            }
        };
        let mut counts = BatchCounts {
            expired,
            ..BatchCounts::default()
        };
        let mut probes = 0;
        for e in &events {
            counts.events += 1;
            if !e.has_valid_weight() {
                counts.rejected += 1;
                continue;
            }
            if e.src == e.dst {
                continue;
            }
            let (u, v) = (e.src.min(e.dst), e.src.max(e.dst));
            probes += self.process(u, v, e.op);
            match e.op {
                EdgeOp::Insert => counts.inserted += 1,
                EdgeOp::Delete => counts.deleted += 1,
            }
        }
        self.events = events;
        self.batches += 1;
        counts.edges = self.edges as usize;
        TrianglesReport {
            batch: self.batches,
            counts,
            triangles: self.estimate,
            probes,
        }
    }

    fn process(&mut self, u: NodeId, v: NodeId, op: EdgeOp) -> u64 {
        // Every triangle closed by (u, v) with two sampled edges counts with the inverse of
        // the probability that both are in the sample.
        let k = self.budget as f64;
        let seen = (self.edges + self.deleted_in_sample + self.deleted_outside) as f64;
        let weight = (seen / k * (seen - 1.0) / (k - 1.0)).max(1.0);
        let (closed, probes) = self.sample.common(u, v);
        match op {
            EdgeOp::Insert => {
                self.estimate += closed as f64 * weight;
                if self.deleted_in_sample + self.deleted_outside == 0 {
                    if self.sample.edges.len() < self.budget {
                        self.sample.insert(u, v);
                    } else if self.rng.random::<f64>() < k / (self.edges as f64 + 1.0) {
                        let evict = self.rng.random_range(0..self.sample.edges.len());
                        let (a, b) = self.sample.edges[evict];
                        self.sample.remove(a, b);
                        self.sample.insert(u, v);
                    }
                } else {
                    let p = self.deleted_in_sample as f64
                        / (self.deleted_in_sample + self.deleted_outside) as f64;
                    if self.rng.random::<f64>() < p {
                        self.sample.insert(u, v);
                        self.deleted_in_sample -= 1;
                    } else {
                        self.deleted_outside -= 1;
                    }
                }
                self.edges = self.edges.saturating_add(1);
            }
            EdgeOp::Delete => {
                self.estimate -= closed as f64 * weight;
                if self.sample.remove(u, v) {
                    self.deleted_in_sample += 1;
                } else {
                    self.deleted_outside += 1;
                }
                self.edges = self.edges.saturating_sub(1);
            }
        }
        probes
    }

    /// The estimated number of triangles (unbiased; exact while the graph fits the budget).
    #[must_use]
    pub fn estimate(&self) -> f64 {
        self.estimate
    }

    /// Edges currently held in the sample (at most the budget).
    #[must_use]
    pub fn sample_size(&self) -> usize {
        self.sample.edges.len()
    }

    /// The memory budget in edges.
    #[must_use]
    pub fn budget(&self) -> usize {
        self.budget
    }
}

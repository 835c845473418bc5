//! Shortest paths from a set of sources over an edge stream, repaired incrementally batch by
//! batch: hop counts (breadth-first search) or weighted distances (Dijkstra).

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, NodeId};
use crate::inout::{InOutGraph, MAX_PATH_WEIGHT, PairChange, WeightRule};
use crate::window::EdgeWindow;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// What a path's length counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// Edges on the path (breadth-first search; networkx `shortest_path_length` without a
    /// weight). Distances are whole numbers. Every event must still carry a usable weight
    /// ([`EdgeEvent::is_valid_weight`]), as for every algorithm but [`Metric::Weighted`];
    /// give signed data weight 1 to count its edges.
    #[default]
    Hops,
    /// Summed weights (Dijkstra; networkx `dijkstra_path_length`). An edge with parallel
    /// instances is as long as its cheapest live instance, as networkx measures a
    /// `MultiDiGraph`. Weights must be non-negative: a negative weight is an error
    /// ([`GraphError::NegativeWeight`]), zero is a valid length, and weights above 1e290
    /// (which could overflow a sum) or NaN are counted as rejected.
    Weighted,
}

impl Metric {
    fn rule(self) -> WeightRule {
        match self {
            Metric::Hops => WeightRule::Positive,
            Metric::Weighted => WeightRule::NonNegative,
        }
    }

    /// The length of an edge whose cheapest live instance weighs `cheapest`.
    fn length(self, cheapest: Option<f64>) -> Option<f64> {
        match self {
            Metric::Hops => cheapest.map(|_| 1.0),
            Metric::Weighted => cheapest,
        }
    }
}

/// How a batch's update was done, by [`ShortestPaths`] and [`StronglyConnectedComponents`](crate::StronglyConnectedComponents).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RepairMethod {
    /// Only what the batch could change was repaired.
    Incremental,
    /// The batch touched more than a repair is worth: the result from scratch.
    Recompute,
}

/// The default of [`ShortestPathsParams::recompute_above`].
pub const DEFAULT_RECOMPUTE_ABOVE: f64 = 0.25;

/// Checked configuration of [`ShortestPaths`].
#[derive(Clone, Debug)]
pub struct ShortestPathsParams {
    sources: Vec<NodeId>,
    metric: Metric,
    window_batches: Option<usize>,
    recompute_above: f64,
}

impl Default for ShortestPathsParams {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            metric: Metric::Hops,
            window_batches: None,
            recompute_above: DEFAULT_RECOMPUTE_ABOVE,
        }
    }
}

impl ShortestPathsParams {
    /// The source nodes (at distance 0; at least one). Repeated ids count once.
    #[must_use]
    pub fn sources(mut self, sources: impl IntoIterator<Item = NodeId>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// Hop counts (default) or summed weights.
    #[must_use]
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Keep only the edges inserted in the last `batches` batches.
    #[must_use]
    pub fn window_batches(mut self, batches: usize) -> Self {
        self.window_batches = Some(batches);
        self
    }

    /// Recompute from scratch when a batch changes more than this fraction of the edges,
    /// or invalidates more than this fraction of the nodes' distances (default
    /// [`DEFAULT_RECOMPUTE_ABOVE`]): past that, repairing costs more than starting over.
    /// `0` always recomputes, `f64::INFINITY` never does.
    #[must_use]
    pub fn recompute_above(mut self, fraction: f64) -> Self {
        self.recompute_above = fraction;
        self
    }

    /// Check the parameters.
    ///
    /// # Errors
    /// [`GraphError::NoSources`] without a source, [`GraphError::WindowBatches`] for a
    /// zero-length window, [`GraphError::RecomputeFraction`] for a negative or NaN fraction.
    pub fn build(self) -> Result<ShortestPaths, GraphError> {
        if self.sources.is_empty() {
            return Err(GraphError::NoSources);
        }
        if self.recompute_above.is_nan() || self.recompute_above < 0.0 {
            return Err(GraphError::RecomputeFraction {
                value: self.recompute_above,
            });
        }
        let mut window = self.window_batches.map(EdgeWindow::new).transpose()?;
        if let Some(w) = &mut window {
            w.set_rule(self.metric.rule());
        }
        let mut sources = self.sources;
        sources.sort_unstable();
        sources.dedup();
        let mut graph = InOutGraph::new(self.metric.rule());
        for &s in &sources {
            graph.pin(s)?;
        }
        let mut paths = ShortestPaths {
            config: Config {
                metric: self.metric,
                sources,
                recompute_above: self.recompute_above,
            },
            graph,
            window,
            batches: 0,
            state: State::default(),
            changes: Vec::new(),
        };
        paths.recompute();
        Ok(paths)
    }
}

/// Per-batch account of a [`ShortestPaths::update`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShortestPathsReport {
    /// Batch number, from 1.
    pub batch: u64,
    /// What the batch did to the graph.
    pub counts: BatchCounts,
    /// Repaired or recomputed.
    pub method: RepairMethod,
    /// Nodes at a finite distance after the batch, sources included.
    pub reachable: usize,
    /// Nodes whose distance changed (including to and from unreachable).
    pub changed: usize,
    /// Nodes whose distance the batch's deletions and lengthenings invalidated and that were
    /// derived again (0 when recomputed).
    pub invalidated: usize,
    /// Edges scanned by the update (the work done).
    pub scanned_edges: usize,
}

/// The parameters, as checkpointed.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Config {
    metric: Metric,
    sources: Vec<NodeId>,
    recompute_above: f64,
}

/// Distances and the shortest-path tree, derived from the graph (rebuilt after a restore).
#[derive(Clone, Debug, Default)]
struct State {
    dist: Vec<f64>,
    parent: Vec<u32>,
    is_source: Vec<bool>,
    /// Marks of the current batch: invalidated nodes, and nodes whose distance was changed
    /// (with the distance before).
    invalid_at: Vec<u64>,
    changed_at: Vec<u64>,
    stamp: u64,
    touched: Vec<(u32, f64)>,
    heap: BinaryHeap<Entry>,
    pair_changes: Vec<PairChange>,
    released: Vec<u32>,
    /// Nodes at a finite distance, kept from the batches' changes.
    reachable: usize,
}

const NONE: u32 = u32::MAX;

/// A heap entry, smallest distance first (ties by slot, for determinism).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    dist: f64,
    node: u32,
}

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .dist
            .total_cmp(&self.dist)
            .then(other.node.cmp(&self.node))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Shortest-path distances from a set of sources over a directed edge stream, kept exact
/// after every batch, as hop counts ([`Metric::Hops`]) or summed non-negative weights
/// ([`Metric::Weighted`]).
///
/// A batch is applied to the graph, then the distances are repaired in two phases, from the
/// net change of every edge the batch touched:
///
/// 1. Edges that vanished or got longer (deletes, window expiry): a node is invalidated when
///    the edge to it from its parent in the shortest-path tree got longer, or when its parent
///    was invalidated, unless it keeps its distance through another in-edge from a node that
///    stays valid (the Ramalingam–Reps test, taken in order of distance). Only the invalidated
///    nodes get new distances, by a Dijkstra search seeded from their valid in-neighbours:
///    O((a + e_a) log a) for `a` invalidated nodes with `e_a` in-edges.
/// 2. Edges that appeared or got shorter: each relaxes its head, and improvements spread by
///    Dijkstra through the nodes that improve, and only those.
///
/// When a batch changes more than [`recompute_above`](ShortestPathsParams::recompute_above)
/// of the edges, or invalidates more than that fraction of the nodes, the distances are
/// recomputed from scratch instead (breadth-first search or Dijkstra: O(n + m), or
/// O((n + m) log n) weighted), as the report says.
///
/// Sources are at distance 0 whether or not they have edges (they stay in the graph).
///
/// ```
/// use spate_graph::{EdgeEvent, Metric, ShortestPaths};
///
/// let mut paths = ShortestPaths::params()
///     .sources([1])
///     .metric(Metric::Weighted)
///     .build()?;
/// paths.update(&[
///     EdgeEvent::insert_weighted(1, 2, 4.0),
///     EdgeEvent::insert_weighted(1, 3, 1.0),
///     EdgeEvent::insert_weighted(3, 2, 2.0),
/// ])?;
/// assert_eq!(paths.distance(2), Some(3.0));
/// assert_eq!(paths.path_to(2), Some(vec![1, 3, 2]));
/// let report = paths.update(&[EdgeEvent::delete_weighted(3, 2, 2.0)])?;
/// assert_eq!(paths.distance(2), Some(4.0));
/// assert_eq!(report.changed, 1);
/// // Negative weights have no shortest paths for Dijkstra: an error, nothing applied.
/// assert!(paths.update(&[EdgeEvent::insert_weighted(2, 3, -1.0)]).is_err());
/// # Ok::<(), spate_graph::GraphError>(())
/// ```
///
/// A checkpoint holds the parameters, the graph, the window and the batch number; distances
/// are derived state, recomputed when it is decoded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "PathsRepr", into = "PathsRepr")]
pub struct ShortestPaths {
    config: Config,
    graph: InOutGraph,
    window: Option<EdgeWindow>,
    batches: u64,
    state: State,
    /// The nodes whose distance the last batch changed, with their new distance.
    changes: Vec<(NodeId, Option<f64>)>,
}

#[derive(Serialize, Deserialize)]
struct PathsRepr {
    config: Config,
    graph: InOutGraph,
    window: Option<EdgeWindow>,
    batches: u64,
}

impl From<ShortestPaths> for PathsRepr {
    fn from(p: ShortestPaths) -> Self {
        PathsRepr {
            config: p.config,
            graph: p.graph,
            window: p.window,
            batches: p.batches,
        }
    }
}

impl TryFrom<PathsRepr> for ShortestPaths {
    type Error = GraphError;

    fn try_from(r: PathsRepr) -> Result<Self, GraphError> {
        let c = &r.config;
        if c.sources.is_empty() || c.recompute_above.is_nan() || c.recompute_above < 0.0 {
            return Err(GraphError::CorruptState {
                what: "shortest paths without sources or with an invalid recompute fraction",
            });
        }
        if r.graph.rule() != c.metric.rule() {
            return Err(GraphError::CorruptState {
                what: "the graph's weight rule does not match the metric",
            });
        }
        if c.sources.iter().any(|&s| r.graph.index().get(s).is_none()) {
            return Err(GraphError::CorruptState {
                what: "a source is not in the graph",
            });
        }
        let mut window = r.window;
        if let Some(w) = &mut window {
            w.set_rule(c.metric.rule());
        }
        let mut paths = ShortestPaths {
            config: r.config,
            graph: r.graph,
            window,
            batches: r.batches,
            state: State::default(),
            changes: Vec::new(),
        };
        paths.recompute();
        Ok(paths)
    }
}

impl ShortestPaths {
    /// The heaviest weight [`Metric::Weighted`] accepts, 1e290: a path through all of the
    /// 2³² nodes the graph can hold still sums to a finite distance.
    pub const MAX_WEIGHT: f64 = MAX_PATH_WEIGHT;

    /// Parameters: hop counts, no window, no sources yet (give at least one).
    #[must_use]
    pub fn params() -> ShortestPathsParams {
        ShortestPathsParams::default()
    }

    /// Apply one batch; distances are exact afterwards.
    ///
    /// # Errors
    /// With [`Metric::Weighted`], [`GraphError::NegativeWeight`] for the first event with a
    /// negative weight; the batch is then not applied at all. Other unusable events are
    /// counted in the report, never an error.
    pub fn update(&mut self, batch: &[EdgeEvent]) -> Result<ShortestPathsReport, GraphError> {
        if self.config.metric == Metric::Weighted
            && let Some(e) = batch.iter().find(|e| e.weight < 0.0)
        {
            return Err(GraphError::NegativeWeight {
                src: e.src,
                dst: e.dst,
                weight: e.weight,
            });
        }
        let mut events = Vec::new();
        let expired = match &mut self.window {
            Some(w) => w.advance(batch, &mut events),
            None => 0,
        };
        let events = if self.window.is_some() {
            &events[..]
        } else {
            batch
        };
        let mut changes = std::mem::take(&mut self.state.pair_changes);
        let mut counts = self.graph.apply_batch(events, &mut changes);
        counts.expired = expired;
        self.grow();
        self.state.stamp += 1;
        self.state.touched.clear();
        let threshold = self.config.recompute_above;
        let too_many = changes.len() as f64 > threshold * self.graph.edge_count().max(1) as f64;
        let mut work = Work::default();
        let method = if too_many || !self.repair(&changes, &mut work) {
            for ch in &changes {
                self.graph
                    .set_arc(ch.src, ch.dst, self.config.metric.length(ch.after));
            }
            work = Work {
                invalidated: 0,
                scanned: self.recompute_tracked(),
            };
            RepairMethod::Recompute
        } else {
            RepairMethod::Incremental
        };
        self.state.pair_changes = changes;
        // The changes, while the ids of nodes about to leave are still known.
        self.changes.clear();
        let mut reachable = self.state.reachable;
        for &(slot, before) in &self.state.touched {
            let after = self.state.dist[slot as usize];
            if after != before {
                let id = self.graph.index().id(slot);
                self.changes.push((id, after.is_finite().then_some(after)));
                reachable =
                    reachable + usize::from(after.is_finite()) - usize::from(before.is_finite());
            }
        }
        self.changes.sort_unstable_by_key(|c| c.0);
        let mut released = std::mem::take(&mut self.state.released);
        self.graph.release_isolated(&mut released, &mut counts);
        for &slot in &released {
            // A node without edges is unreachable already (it is no source).
            reachable -= usize::from(self.state.dist[slot as usize].is_finite());
            self.state.dist[slot as usize] = f64::INFINITY;
            self.state.parent[slot as usize] = NONE;
        }
        self.state.released = released;
        self.state.reachable = reachable;
        self.batches += 1;
        Ok(ShortestPathsReport {
            batch: self.batches,
            counts,
            method,
            reachable,
            changed: self.changes.len(),
            invalidated: work.invalidated,
            scanned_edges: work.scanned,
        })
    }

    fn grow(&mut self) {
        let n = self.graph.capacity();
        let s = &mut self.state;
        if s.dist.len() < n {
            s.dist.resize(n, f64::INFINITY);
            s.parent.resize(n, NONE);
            s.is_source.resize(n, false);
            s.invalid_at.resize(n, 0);
            s.changed_at.resize(n, 0);
        }
    }

    /// Sets `dist[x]` (and its parent), remembering its distance before the batch.
    #[inline]
    fn set_dist(&mut self, x: u32, dist: f64, parent: u32) {
        let s = &mut self.state;
        let i = x as usize;
        if s.changed_at[i] != s.stamp {
            s.changed_at[i] = s.stamp;
            s.touched.push((x, s.dist[i]));
        }
        s.dist[i] = dist;
        s.parent[i] = parent;
    }

    #[inline]
    fn is_invalid(&self, x: u32) -> bool {
        self.state.invalid_at[x as usize] == self.state.stamp
    }

    /// The two-phase repair. Returns false (with the lengthened arcs set and nothing else
    /// changed) when too many nodes would be invalidated: the caller recomputes.
    fn repair(&mut self, changes: &[PairChange], work: &mut Work) -> bool {
        let metric = self.config.metric;
        let longer = |ch: &PairChange| {
            let (b, a) = (metric.length(ch.before), metric.length(ch.after));
            a.unwrap_or(f64::INFINITY) > b.unwrap_or(f64::INFINITY)
        };
        // Phase 1: lengthened and vanished edges.
        let mut heap = std::mem::take(&mut self.state.heap);
        heap.clear();
        for ch in changes.iter().filter(|ch| longer(ch)) {
            self.graph.set_arc(ch.src, ch.dst, metric.length(ch.after));
            let v = ch.dst;
            let vi = v as usize;
            if self.state.parent[vi] == ch.src && !self.is_invalid(v) {
                self.state.invalid_at[vi] = self.state.stamp;
                heap.push(Entry {
                    dist: self.state.dist[vi],
                    node: v,
                });
            }
        }
        let limit = self.config.recompute_above * self.graph.node_count() as f64;
        let mut invalid = Vec::new();
        while let Some(Entry { dist, node: x }) = heap.pop() {
            // Kept if an in-neighbour that stays valid, strictly closer (so never one of its
            // descendants, even through zero-length edges), still offers the same distance.
            let mut keep = NONE;
            for arc in self.graph.in_arcs(x) {
                work.scanned += 1;
                let u = arc.node;
                let du = self.state.dist[u as usize];
                if du < dist && !self.is_invalid(u) && du + arc.length == dist {
                    keep = u;
                    break;
                }
            }
            if keep != NONE {
                self.state.invalid_at[x as usize] = 0;
                self.state.parent[x as usize] = keep;
                continue;
            }
            invalid.push(x);
            if invalid.len() as f64 > limit {
                // Undo the marks: the recompute starts from a clean slate.
                self.state.stamp += 1;
                self.state.heap = heap;
                return false;
            }
            for arc in self.graph.out_arcs(x) {
                work.scanned += 1;
                let y = arc.node;
                let yi = y as usize;
                if self.state.parent[yi] == x && !self.is_invalid(y) {
                    self.state.invalid_at[yi] = self.state.stamp;
                    heap.push(Entry {
                        dist: self.state.dist[yi],
                        node: y,
                    });
                }
            }
        }
        work.invalidated = invalid.len();
        for &x in &invalid {
            self.set_dist(x, f64::INFINITY, NONE);
        }
        for &x in &invalid {
            let mut best = (f64::INFINITY, NONE);
            for arc in self.graph.in_arcs(x) {
                work.scanned += 1;
                let u = arc.node;
                if !self.is_invalid(u) {
                    let d = self.state.dist[u as usize] + arc.length;
                    if d < best.0 {
                        best = (d, u);
                    }
                }
            }
            if best.1 != NONE {
                self.set_dist(x, best.0, best.1);
                heap.push(Entry {
                    dist: best.0,
                    node: x,
                });
            }
        }
        self.propagate(&mut heap, work, true);
        // Phase 2: new and shortened edges.
        for ch in changes.iter().filter(|ch| !longer(ch)) {
            let length = metric.length(ch.after);
            self.graph.set_arc(ch.src, ch.dst, length);
            let Some(length) = length else {
                continue;
            };
            let (u, v) = (ch.src, ch.dst);
            let d = self.state.dist[u as usize] + length;
            if d < self.state.dist[v as usize] && !self.state.is_source[v as usize] {
                self.set_dist(v, d, u);
                heap.push(Entry { dist: d, node: v });
            }
        }
        self.propagate(&mut heap, work, false);
        self.state.heap = heap;
        true
    }

    /// Dijkstra from the entries in `heap`: relax the out-edges of each settled node, only
    /// into invalidated nodes when `invalid_only`.
    fn propagate(&mut self, heap: &mut BinaryHeap<Entry>, work: &mut Work, invalid_only: bool) {
        while let Some(Entry { dist, node: x }) = heap.pop() {
            if dist > self.state.dist[x as usize] {
                continue;
            }
            let arcs = self.graph.out_arcs(x).len();
            for k in 0..arcs {
                let arc = self.graph.out_arcs(x)[k];
                work.scanned += 1;
                let y = arc.node;
                if invalid_only && !self.is_invalid(y) {
                    continue;
                }
                let d = dist + arc.length;
                if d < self.state.dist[y as usize] && !self.state.is_source[y as usize] {
                    self.set_dist(y, d, x);
                    heap.push(Entry { dist: d, node: y });
                }
            }
        }
    }

    /// Distances from scratch, recording changes; returns the edges scanned.
    fn recompute_tracked(&mut self) -> usize {
        let mut before = std::mem::take(&mut self.state.dist);
        before.resize(self.graph.capacity(), f64::INFINITY);
        // The reachable count follows the recorded changes, as after a repair.
        let reachable = self.state.reachable;
        let scanned = self.recompute();
        let s = &mut self.state;
        s.reachable = reachable;
        for (x, (&b, &a)) in before.iter().zip(&s.dist).enumerate() {
            if a != b && s.changed_at[x] != s.stamp {
                s.changed_at[x] = s.stamp;
                s.touched.push((x as u32, b));
            }
        }
        scanned
    }

    /// Distances from scratch by breadth-first search (hops) or Dijkstra (weighted). Returns
    /// the edges scanned.
    fn recompute(&mut self) -> usize {
        self.grow();
        let n = self.graph.capacity();
        let s = &mut self.state;
        s.dist.clear();
        s.dist.resize(n, f64::INFINITY);
        s.parent.clear();
        s.parent.resize(n, NONE);
        s.is_source.clear();
        s.is_source.resize(n, false);
        s.changed_at.resize(n, 0);
        s.invalid_at.resize(n, 0);
        let mut scanned = 0;
        let sources: Vec<u32> = self
            .config
            .sources
            .iter()
            .filter_map(|&id| self.graph.index().get(id))
            .collect();
        for &x in &sources {
            s.dist[x as usize] = 0.0;
            s.is_source[x as usize] = true;
        }
        match self.config.metric {
            Metric::Hops => {
                let mut queue: VecDeque<u32> = sources.iter().copied().collect();
                while let Some(x) = queue.pop_front() {
                    let d = s.dist[x as usize] + 1.0;
                    for arc in self.graph.out_arcs(x) {
                        scanned += 1;
                        let y = arc.node as usize;
                        if s.dist[y] == f64::INFINITY {
                            s.dist[y] = d;
                            s.parent[y] = x;
                            queue.push_back(arc.node);
                        }
                    }
                }
            }
            Metric::Weighted => {
                let heap = &mut s.heap;
                heap.clear();
                heap.extend(sources.iter().map(|&x| Entry { dist: 0.0, node: x }));
                while let Some(Entry { dist, node: x }) = heap.pop() {
                    if dist > s.dist[x as usize] {
                        continue;
                    }
                    for arc in self.graph.out_arcs(x) {
                        scanned += 1;
                        let y = arc.node as usize;
                        let d = dist + arc.length;
                        if d < s.dist[y] {
                            s.dist[y] = d;
                            s.parent[y] = x;
                            heap.push(Entry {
                                dist: d,
                                node: arc.node,
                            });
                        }
                    }
                }
            }
        }
        self.state.reachable = self.state.dist.iter().filter(|d| d.is_finite()).count();
        scanned
    }

    /// The distance of `node` from the nearest source; `None` if it is unreachable or not in
    /// the graph. With [`Metric::Hops`] a whole number.
    #[must_use]
    pub fn distance(&self, node: NodeId) -> Option<f64> {
        let i = self.graph.index().get(node)?;
        let d = self.state.dist[i as usize];
        d.is_finite().then_some(d)
    }

    /// `(node, distance)` for every reachable node (sources included), sorted by node. O(n log n).
    #[must_use]
    pub fn distances(&self) -> Vec<(NodeId, f64)> {
        let mut out: Vec<(NodeId, f64)> = self
            .graph
            .index()
            .iter()
            .map(|(i, id)| (id, self.state.dist[i as usize]))
            .filter(|(_, d)| d.is_finite())
            .collect();
        out.sort_unstable_by_key(|e| e.0);
        out
    }

    /// A shortest path from a source to `node`, source first; `None` if unreachable. One of
    /// the shortest paths when several tie. O(path length).
    #[must_use]
    pub fn path_to(&self, node: NodeId) -> Option<Vec<NodeId>> {
        let mut x = self.graph.index().get(node)?;
        if !self.state.dist[x as usize].is_finite() {
            return None;
        }
        let mut path = vec![node];
        while self.state.parent[x as usize] != NONE {
            x = self.state.parent[x as usize];
            path.push(self.graph.index().id(x));
        }
        path.reverse();
        Some(path)
    }

    /// The nodes whose distance the last batch changed, with their new distance (`None`:
    /// now unreachable or gone), sorted by node.
    #[must_use]
    pub fn changes(&self) -> &[(NodeId, Option<f64>)] {
        &self.changes
    }

    /// The `k` farthest reachable nodes, farthest first (ties by smaller id): the frontier
    /// of what the sources reach. O(n + k log k).
    #[must_use]
    pub fn farthest(&self, k: usize) -> Vec<(NodeId, f64)> {
        crate::topk::top_k(
            self.graph
                .index()
                .iter()
                .map(|(i, id)| (id, self.state.dist[i as usize]))
                .filter(|(_, d)| d.is_finite()),
            k,
        )
    }

    /// Nodes at a finite distance, sources included. O(1).
    #[must_use]
    pub fn reachable_count(&self) -> usize {
        self.state.reachable
    }

    /// The sources, sorted.
    #[must_use]
    pub fn sources(&self) -> &[NodeId] {
        &self.config.sources
    }

    /// Hops or weighted.
    #[must_use]
    pub fn metric(&self) -> Metric {
        self.config.metric
    }

    /// Batches applied so far.
    #[must_use]
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// Nodes in the graph (sources included).
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Distinct directed edges in the graph.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Work {
    invalidated: usize,
    scanned: usize,
}

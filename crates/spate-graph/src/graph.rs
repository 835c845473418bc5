//! The dynamic directed graph every directed algorithm maintains: a weighted multigraph with
//! parallel edges summed, updated batch by batch from edge events.

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, EdgeOp, NodeId};
use crate::nodes::NodeIndex;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

/// One distinct directed edge as stored in its source's adjacency list.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutEdge {
    pub(crate) dst: u32,
    /// Live parallel instances.
    pub(crate) count: u32,
    /// Sum of the live instances' weights.
    pub(crate) weight: f64,
}

/// A source whose out-edges changed in the batch, with its out-weight before.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OldOut {
    pub(crate) node: u32,
    pub(crate) weight: f64,
}

/// An edge whose weight the batch changed (or may have: inserting and deleting it again
/// lists it too), with its weight before and after the batch (0 if absent).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChangedEdge {
    pub(crate) src: u32,
    pub(crate) dst: u32,
    pub(crate) before: f64,
    pub(crate) after: f64,
}

/// A node touched by the batch, with its state before the batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Touched {
    pub(crate) node: u32,
    pub(crate) live_before: bool,
    pub(crate) in_before: u32,
    pub(crate) out_before: u32,
}

/// What a batch changed, for algorithms that update their state from the difference.
#[derive(Clone, Debug, Default)]
pub(crate) struct GraphDelta {
    pub(crate) sources: Vec<OldOut>,
    /// Each changed edge once, in the order of its first event.
    pub(crate) edges: Vec<ChangedEdge>,
    seen_edges: FxHashSet<(u32, u32)>,
    pub(crate) touched: Vec<Touched>,
    /// Indices released at the end of the batch: their per-node state must be reset.
    pub(crate) released: Vec<u32>,
}

impl GraphDelta {
    fn clear(&mut self) {
        self.sources.clear();
        self.edges.clear();
        self.seen_edges.clear();
        self.touched.clear();
        self.released.clear();
    }
}

/// A directed, weighted multigraph over arbitrary `u64` node ids, maintained from a stream of
/// [`EdgeEvent`]s.
///
/// Parallel instances of an edge are summed into one weighted edge (and counted, so that a
/// delete retracts exactly one instance). A node belongs to the graph while it has at least one
/// edge; when it loses its last edge it leaves, and its dense index is reused. Self-loops are
/// ordinary edges.
///
/// Cost: an event is O(1) expected (hash lookups); a batch additionally pays O(out-degree) for
/// every source it touched, to re-sum that source's out-weight exactly (so rounding from long
/// insert/delete sequences never accumulates).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "GraphRepr", into = "GraphRepr")]
pub struct DirectedGraph {
    nodes: NodeIndex,
    out: Vec<Vec<OutEdge>>,
    out_weight: Vec<f64>,
    in_weight: Vec<f64>,
    in_degree: Vec<u32>,
    pinned: Vec<bool>,
    /// Whether each dense slot holds a node (a dense mirror of the index, for whole-graph
    /// passes that must skip free slots without hashing).
    live: Vec<bool>,
    edge_pos: FxHashMap<(u32, u32), u32>,
    edges: usize,
    /// Edges whose summed weight is not exactly 1 (0: the graph is unweighted).
    non_unit: usize,
    scratch: Stamps,
}

/// Per-batch "first touch" marks; rebuilt empty after a checkpoint restore.
#[derive(Clone, Debug, Default)]
struct Stamps {
    stamp: u64,
    touched: Vec<u64>,
    source: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct GraphRepr {
    nodes: NodeIndex,
    pinned: Vec<u32>,
    /// `(src, dst, count, weight)` over dense indices.
    edges: Vec<(u32, u32, u32, f64)>,
}

impl From<DirectedGraph> for GraphRepr {
    fn from(g: DirectedGraph) -> Self {
        let pinned = (0..g.pinned.len() as u32)
            .filter(|&i| g.pinned[i as usize])
            .collect();
        let edges = g
            .out
            .iter()
            .enumerate()
            .flat_map(|(u, list)| {
                list.iter()
                    .map(move |e| (u as u32, e.dst, e.count, e.weight))
            })
            .collect();
        Self {
            nodes: g.nodes,
            pinned,
            edges,
        }
    }
}

impl TryFrom<GraphRepr> for DirectedGraph {
    type Error = GraphError;

    fn try_from(r: GraphRepr) -> Result<Self, GraphError> {
        let n = r.nodes.capacity();
        let mut g = DirectedGraph {
            nodes: r.nodes,
            ..Default::default()
        };
        g.grow(n);
        for (i, _) in g.nodes.iter() {
            g.live[i as usize] = true;
        }
        for p in r.pinned {
            if !g.nodes.is_live(p) {
                return Err(GraphError::CorruptState {
                    what: "pinned node is not in the graph",
                });
            }
            g.pinned[p as usize] = true;
        }
        for (u, v, count, weight) in r.edges {
            if !g.nodes.is_live(u) || !g.nodes.is_live(v) {
                return Err(GraphError::CorruptState {
                    what: "edge endpoint is not in the graph",
                });
            }
            if count == 0 || !(weight.is_finite() && weight >= EdgeEvent::MIN_WEIGHT) {
                return Err(GraphError::CorruptState {
                    what: "edge with no instances or a weight below the smallest usable one",
                });
            }
            let pos = g.out[u as usize].len() as u32;
            if g.edge_pos.insert((u, v), pos).is_some() {
                return Err(GraphError::CorruptState {
                    what: "duplicate edge",
                });
            }
            g.out[u as usize].push(OutEdge {
                dst: v,
                count,
                weight,
            });
            g.out_weight[u as usize] += weight;
            g.in_weight[v as usize] += weight;
            g.in_degree[v as usize] += 1;
            g.edges += 1;
            g.non_unit += usize::from(weight != 1.0);
        }
        if g.out_weight.iter().any(|&w| w > EdgeEvent::MAX_WEIGHT) {
            return Err(GraphError::CorruptState {
                what: "summed out-weight above the largest usable weight",
            });
        }
        for (i, _) in g.nodes.iter() {
            if !g.is_live_index(i) {
                return Err(GraphError::CorruptState {
                    what: "node without edges",
                });
            }
        }
        Ok(g)
    }
}

impl DirectedGraph {
    /// An empty graph.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply a batch of events in order and report what changed. Never fails: unusable events
    /// are counted in [`BatchCounts::rejected`] and [`BatchCounts::missing_deletes`].
    pub fn apply(&mut self, events: &[EdgeEvent]) -> BatchCounts {
        let mut delta = GraphDelta::default();
        self.apply_batch(events, &mut delta)
    }

    /// Nodes currently in the graph (those with at least one edge, plus pinned nodes).
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Distinct directed edges (parallel instances count once).
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.edges
    }

    /// Whether `node` is in the graph.
    #[must_use]
    pub fn contains_node(&self, node: NodeId) -> bool {
        self.nodes.get(node).is_some()
    }

    /// Summed weight of `src -> dst`, if the edge is present.
    #[must_use]
    pub fn edge_weight(&self, src: NodeId, dst: NodeId) -> Option<f64> {
        let u = self.nodes.get(src)?;
        let v = self.nodes.get(dst)?;
        let &p = self.edge_pos.get(&(u, v))?;
        Some(self.out[u as usize][p as usize].weight)
    }

    /// Live parallel instances of `src -> dst`, if the edge is present.
    #[must_use]
    pub fn edge_multiplicity(&self, src: NodeId, dst: NodeId) -> Option<u32> {
        let u = self.nodes.get(src)?;
        let v = self.nodes.get(dst)?;
        let &p = self.edge_pos.get(&(u, v))?;
        Some(self.out[u as usize][p as usize].count)
    }

    /// Distinct out-neighbours of `node` (0 if absent).
    #[must_use]
    pub fn out_degree(&self, node: NodeId) -> usize {
        self.nodes
            .get(node)
            .map_or(0, |u| self.out[u as usize].len())
    }

    /// Distinct in-neighbours of `node` (0 if absent).
    #[must_use]
    pub fn in_degree(&self, node: NodeId) -> usize {
        self.nodes
            .get(node)
            .map_or(0, |u| self.in_degree[u as usize] as usize)
    }

    /// Total weight leaving `node` (0 if absent).
    #[must_use]
    pub fn out_weight(&self, node: NodeId) -> f64 {
        self.nodes
            .get(node)
            .map_or(0.0, |u| self.out_weight[u as usize])
    }

    /// Total weight entering `node` (0 if absent).
    #[must_use]
    pub fn in_weight(&self, node: NodeId) -> f64 {
        self.nodes
            .get(node)
            .map_or(0.0, |u| self.in_weight[u as usize])
    }

    /// The nodes of the graph, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes.iter().map(|(_, id)| id)
    }

    /// The distinct edges as `(src, dst, summed weight)`, in no particular order.
    pub fn edges(&self) -> impl Iterator<Item = (NodeId, NodeId, f64)> + '_ {
        self.out.iter().enumerate().flat_map(move |(u, list)| {
            let src = self.nodes.id(u as u32);
            list.iter()
                .map(move |e| (src, self.nodes.id(e.dst), e.weight))
        })
    }

    /// A graph of the nodes `ids` (distinct), of which `pinned` stay without edges, and the
    /// edges `(src, dst, instances, summed weight)` (distinct pairs of those ids). The caller
    /// has validated the parts; the checks of a checkpoint run again.
    pub(crate) fn from_parts(
        ids: &[NodeId],
        pinned: &[NodeId],
        edges: impl Iterator<Item = (NodeId, NodeId, u32, f64)>,
    ) -> Result<Self, GraphError> {
        let mut nodes = NodeIndex::default();
        for &id in ids {
            nodes.try_intern(id).ok_or(GraphError::TooLarge {
                what: "nodes",
                max: crate::nodes::MAX_SLOTS as u64 - 1,
            })?;
        }
        let slot = |id: NodeId| {
            nodes.get(id).ok_or(GraphError::CorruptState {
                what: "edge endpoint is not in the graph",
            })
        };
        let pinned = pinned
            .iter()
            .map(|&id| slot(id))
            .collect::<Result<_, _>>()?;
        let edges = edges
            .map(|(u, v, count, weight)| Ok((slot(u)?, slot(v)?, count, weight)))
            .collect::<Result<_, GraphError>>()?;
        Self::try_from(GraphRepr {
            nodes,
            pinned,
            edges,
        })
    }

    /// Keep `node` in the graph even when it has no edges (personalization sources).
    pub(crate) fn pin(&mut self, node: NodeId) -> u32 {
        let (i, _) = self.nodes.intern(node);
        self.grow(self.nodes.capacity());
        self.pinned[i as usize] = true;
        self.live[i as usize] = true;
        i
    }

    /// Whether every edge has summed weight exactly 1.
    pub(crate) fn is_unweighted(&self) -> bool {
        self.non_unit == 0
    }

    /// `live[i]`: whether dense slot `i` holds a node.
    pub(crate) fn live_mask(&self) -> &[bool] {
        &self.live
    }

    pub(crate) fn index(&self) -> &NodeIndex {
        &self.nodes
    }

    /// Number of dense slots (live or free).
    pub(crate) fn capacity(&self) -> usize {
        self.nodes.capacity()
    }

    #[inline]
    pub(crate) fn out_edges(&self, u: u32) -> &[OutEdge] {
        &self.out[u as usize]
    }

    /// Summed weight of the edge between two slots (0 if absent).
    pub(crate) fn slot_edge_weight(&self, u: u32, v: u32) -> f64 {
        self.edge_pos
            .get(&(u, v))
            .map_or(0.0, |&p| self.out[u as usize][p as usize].weight)
    }

    #[inline]
    pub(crate) fn out_weight_of(&self, u: u32) -> f64 {
        self.out_weight[u as usize]
    }

    #[inline]
    pub(crate) fn in_degree_of(&self, u: u32) -> u32 {
        self.in_degree[u as usize]
    }

    #[inline]
    fn is_live_index(&self, u: u32) -> bool {
        let i = u as usize;
        !self.out[i].is_empty() || self.in_degree[i] > 0 || self.pinned[i]
    }

    fn grow(&mut self, n: usize) {
        if self.out.len() < n {
            self.out.resize_with(n, Vec::new);
            self.out_weight.resize(n, 0.0);
            self.in_weight.resize(n, 0.0);
            self.in_degree.resize(n, 0);
            self.pinned.resize(n, false);
            self.live.resize(n, false);
        }
        if self.scratch.touched.len() < n {
            self.scratch.touched.resize(n, 0);
            self.scratch.source.resize(n, 0);
        }
    }

    fn touch(&mut self, id: NodeId, delta: &mut GraphDelta) -> u32 {
        let (i, new) = self.nodes.intern(id);
        if new {
            self.grow(self.nodes.capacity());
            self.live[i as usize] = true;
        }
        let s = self.scratch.stamp;
        let iu = i as usize;
        if self.scratch.touched[iu] != s {
            self.scratch.touched[iu] = s;
            delta.touched.push(Touched {
                node: i,
                live_before: !new,
                in_before: self.in_degree[iu],
                out_before: self.out[iu].len() as u32,
            });
        }
        i
    }

    /// Whether inserting `e` keeps the graph within its bounds: the source's summed out-weight
    /// at most [`EdgeEvent::MAX_WEIGHT`] (so every sum of weights, and `1 / out-weight`, stays
    /// finite), the edge's instance count within `u32`, and room in the node index for new
    /// endpoints. An insert that does not fit is rejected before it changes anything.
    fn insert_fits(&self, e: &EdgeEvent) -> bool {
        let u = self.nodes.get(e.src);
        let v = self.nodes.get(e.dst);
        let out = u.map_or(0.0, |u| self.out_weight[u as usize]);
        // `out` is at most MAX_WEIGHT and `e.weight` is valid, so the sum is finite.
        if out + e.weight > EdgeEvent::MAX_WEIGHT {
            return false;
        }
        if let (Some(u), Some(v)) = (u, v)
            && let Some(&p) = self.edge_pos.get(&(u, v))
            && self.out[u as usize][p as usize].count == u32::MAX
        {
            return false;
        }
        let new = usize::from(u.is_none()) + usize::from(v.is_none() && e.dst != e.src);
        self.nodes.has_room(new)
    }

    /// Notes `u` as a changed source (with its out-weight before) on its first change.
    fn note_source(&mut self, u: u32, delta: &mut GraphDelta) {
        let s = self.scratch.stamp;
        let ui = u as usize;
        if self.scratch.source[ui] != s {
            self.scratch.source[ui] = s;
            delta.sources.push(OldOut {
                node: u,
                weight: self.out_weight[ui],
            });
        }
    }

    /// Notes edge `u → v` (weight `before` now) as changed on its first change.
    fn note_edge(u: u32, v: u32, before: f64, delta: &mut GraphDelta) {
        if delta.seen_edges.insert((u, v)) {
            delta.edges.push(ChangedEdge {
                src: u,
                dst: v,
                before,
                after: before,
            });
        }
    }

    /// Apply `events` and describe the difference in `delta` (cleared first): the touched
    /// nodes and the changed sources, each with its state before, and the changed edges with
    /// their weight before and after.
    pub(crate) fn apply_batch(
        &mut self,
        events: &[EdgeEvent],
        delta: &mut GraphDelta,
    ) -> BatchCounts {
        delta.clear();
        self.scratch.stamp += 1;
        self.grow(self.nodes.capacity());
        let mut c = BatchCounts::default();
        for e in events {
            c.events += 1;
            if !e.has_valid_weight() {
                c.rejected += 1;
                continue;
            }
            match e.op {
                EdgeOp::Insert => {
                    if !self.insert_fits(e) {
                        c.rejected += 1;
                        continue;
                    }
                    let u = self.touch(e.src, delta);
                    let v = self.touch(e.dst, delta);
                    self.note_source(u, delta);
                    match self.edge_pos.get(&(u, v)) {
                        Some(&p) => {
                            let edge = &mut self.out[u as usize][p as usize];
                            Self::note_edge(u, v, edge.weight, delta);
                            self.non_unit -= usize::from(edge.weight != 1.0);
                            // `insert_fits` checked that the count has room.
                            edge.count = edge.count.saturating_add(1);
                            edge.weight += e.weight;
                            self.non_unit += usize::from(edge.weight != 1.0);
                        }
                        None => {
                            Self::note_edge(u, v, 0.0, delta);
                            let list = &mut self.out[u as usize];
                            self.edge_pos.insert((u, v), list.len() as u32);
                            list.push(OutEdge {
                                dst: v,
                                count: 1,
                                weight: e.weight,
                            });
                            self.in_degree[v as usize] += 1;
                            self.edges += 1;
                            self.non_unit += usize::from(e.weight != 1.0);
                        }
                    }
                    self.out_weight[u as usize] += e.weight;
                    self.in_weight[v as usize] += e.weight;
                    c.inserted += 1;
                }
                EdgeOp::Delete => {
                    let found = self.nodes.get(e.src).zip(self.nodes.get(e.dst));
                    let Some((u, v, p)) =
                        found.and_then(|(u, v)| self.edge_pos.get(&(u, v)).map(|&p| (u, v, p)))
                    else {
                        c.missing_deletes += 1;
                        continue;
                    };
                    let edge = self.out[u as usize][p as usize];
                    let rest = edge.weight - e.weight;
                    // The last instance must be deleted with (about) its weight; an earlier one
                    // must leave a positive rest. Same relative tolerance either way.
                    let matches = if edge.count == 1 {
                        rest.abs() <= edge.weight * 1e-12
                    } else {
                        rest > edge.weight * 1e-12
                    };
                    if !matches {
                        c.rejected += 1;
                        continue;
                    }
                    self.touch(e.src, delta);
                    self.touch(e.dst, delta);
                    self.note_source(u, delta);
                    Self::note_edge(u, v, edge.weight, delta);
                    self.non_unit -= usize::from(edge.weight != 1.0);
                    if edge.count == 1 {
                        let list = &mut self.out[u as usize];
                        list.swap_remove(p as usize);
                        if let Some(moved) = list.get(p as usize) {
                            self.edge_pos.insert((u, moved.dst), p);
                        }
                        self.edge_pos.remove(&(u, v));
                        self.in_degree[v as usize] -= 1;
                        self.edges -= 1;
                        self.out_weight[u as usize] -= edge.weight;
                        self.in_weight[v as usize] -= edge.weight;
                    } else {
                        let edge = &mut self.out[u as usize][p as usize];
                        edge.count -= 1;
                        edge.weight = rest;
                        self.non_unit += usize::from(rest != 1.0);
                        self.out_weight[u as usize] -= e.weight;
                        self.in_weight[v as usize] -= e.weight;
                    }
                    c.deleted += 1;
                }
            }
        }
        for e in &mut delta.edges {
            e.after = self.slot_edge_weight(e.src, e.dst);
        }
        // Re-sum what long add/subtract sequences would otherwise let drift.
        for s in &delta.sources {
            let u = s.node as usize;
            self.out_weight[u] = self.out[u].iter().map(|e| e.weight).sum();
        }
        for t in &delta.touched {
            let u = t.node as usize;
            if self.in_degree[u] == 0 {
                self.in_weight[u] = 0.0;
            }
        }
        for t in &delta.touched {
            let live = self.is_live_index(t.node);
            match (t.live_before, live) {
                (false, true) => c.nodes_added += 1,
                (true, false) => c.nodes_removed += 1,
                _ => {}
            }
            if !live {
                delta.released.push(t.node);
            }
        }
        for &i in &delta.released {
            self.nodes.release(i);
            self.live[i as usize] = false;
        }
        c.nodes = self.nodes.len();
        c.edges = self.edges;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_edges_sum_and_deletes_retract_one_instance() {
        let mut g = DirectedGraph::new();
        let c = g.apply(&[
            EdgeEvent::insert(1, 2),
            EdgeEvent::insert_weighted(1, 2, 2.5),
            EdgeEvent::insert(2, 3),
        ]);
        assert_eq!((c.inserted, c.nodes, c.edges, c.nodes_added), (3, 3, 2, 3));
        assert_eq!(g.edge_weight(1, 2), Some(3.5));
        let c = g.apply(&[EdgeEvent::delete(1, 2)]);
        assert_eq!((c.deleted, c.edges), (1, 2));
        assert_eq!(g.edge_weight(1, 2), Some(2.5));
        let c = g.apply(&[
            EdgeEvent::delete_weighted(1, 2, 2.5),
            EdgeEvent::delete(7, 8),
        ]);
        assert_eq!((c.deleted, c.missing_deletes, c.nodes_removed), (1, 1, 1));
        assert!(!g.contains_node(1));
        assert_eq!(g.node_count(), 2);
        assert_eq!(g.out_weight(2), 1.0);
    }

    #[test]
    fn unusable_events_are_counted_not_applied() {
        let mut g = DirectedGraph::new();
        let c = g.apply(&[
            EdgeEvent::insert_weighted(1, 2, f64::NAN),
            EdgeEvent::insert_weighted(1, 2, -1.0),
            EdgeEvent::insert(1, 2),
            EdgeEvent::insert(1, 2),
            EdgeEvent::delete_weighted(1, 2, 5.0),
        ]);
        assert_eq!((c.rejected, c.inserted, c.deleted), (3, 2, 0));
        assert_eq!(g.edge_weight(1, 2), Some(2.0));
    }

    #[test]
    fn weights_whose_sums_or_inverses_overflow_are_rejected() {
        let mut g = DirectedGraph::new();
        let c = g.apply(&[
            // Subnormal: 1 / w is infinite.
            EdgeEvent::insert_weighted(1, 2, 1e-310),
            // Above the largest usable weight.
            EdgeEvent::insert_weighted(1, 2, 1e308),
            // Each usable, but the second would take 3's out-weight above the bound.
            EdgeEvent::insert_weighted(3, 4, 1e300),
            EdgeEvent::insert_weighted(3, 5, 1e300),
            EdgeEvent::insert_weighted(3, 4, 1e300),
            // Another source may carry the same weight.
            EdgeEvent::insert_weighted(4, 5, 1e300),
            EdgeEvent::insert_weighted(5, 3, f64::MIN_POSITIVE),
        ]);
        assert_eq!((c.rejected, c.inserted), (4, 3));
        assert!(!g.contains_node(1) && !g.contains_node(2));
        assert_eq!(g.edge_weight(3, 4), Some(1e300));
        assert_eq!(g.out_weight(3), 1e300);
        for u in [3, 4, 5] {
            assert!(g.out_weight(u).is_finite() && 1.0 / g.out_weight(u) > 0.0);
            assert!((1.0 / g.out_weight(u)).is_finite());
        }
        // Deleting makes room again.
        let c = g.apply(&[
            EdgeEvent::delete_weighted(3, 4, 1e300),
            EdgeEvent::insert_weighted(3, 5, 1e300),
        ]);
        assert_eq!((c.rejected, c.deleted, c.inserted), (0, 1, 1));
    }

    #[test]
    fn a_delete_with_the_wrong_weight_leaves_a_single_instance() {
        let mut g = DirectedGraph::new();
        g.apply(&[EdgeEvent::insert(1, 2)]);
        let c = g.apply(&[
            EdgeEvent::delete_weighted(1, 2, 5.0),
            EdgeEvent::delete_weighted(1, 2, 0.5),
        ]);
        assert_eq!((c.rejected, c.deleted, c.edges), (2, 0, 1));
        assert_eq!(g.edge_weight(1, 2), Some(1.0));
        // Rounding within the relative tolerance still matches.
        let c = g.apply(&[EdgeEvent::delete_weighted(1, 2, 1.0 + 1e-14)]);
        assert_eq!((c.rejected, c.deleted, c.edges), (0, 1, 0));
        assert!(!g.contains_node(1));
    }

    #[test]
    fn an_edge_at_the_instance_limit_rejects_more_inserts() {
        let mut g = DirectedGraph::new();
        g.apply(&[EdgeEvent::insert(1, 2)]);
        let mut repr = GraphRepr::from(g);
        repr.edges[0].2 = u32::MAX;
        let mut g = DirectedGraph::try_from(repr).expect("consistent");
        let c = g.apply(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(2, 1)]);
        assert_eq!((c.rejected, c.inserted), (1, 1));
        assert_eq!(
            g.out_edges(g.index().get(1).expect("present"))[0].count,
            u32::MAX
        );
        assert_eq!(g.edge_weight(1, 2), Some(1.0));
    }

    #[test]
    fn a_checkpoint_with_unusable_weights_is_corrupt() {
        for (weights, what) in [
            (vec![1e-310], "weight below"),
            (vec![1e300, 1e300], "out-weight above"),
        ] {
            let mut g = DirectedGraph::new();
            let events: Vec<_> = (0..weights.len() as u64)
                .map(|d| EdgeEvent::insert(1, d + 2))
                .collect();
            g.apply(&events);
            let mut repr = GraphRepr::from(g);
            for (e, w) in repr.edges.iter_mut().zip(weights) {
                e.3 = w;
            }
            let err = DirectedGraph::try_from(repr).expect_err("corrupt");
            assert!(err.to_string().contains(what), "{err}");
        }
    }

    #[test]
    fn checkpoint_roundtrip_keeps_the_graph() {
        let mut g = DirectedGraph::new();
        g.apply(&[
            EdgeEvent::insert(1, 2),
            EdgeEvent::insert(3, 3),
            EdgeEvent::insert(2, 1),
        ]);
        g.apply(&[EdgeEvent::delete(1, 2), EdgeEvent::delete(2, 1)]);
        g.apply(&[EdgeEvent::insert(4, 5)]);
        let json = serde_json::to_string(&g).expect("serialize");
        let back: DirectedGraph = serde_json::from_str(&json).expect("deserialize");
        let mut a: Vec<_> = g.edges().collect();
        let mut b: Vec<_> = back.edges().collect();
        a.sort_by(|x, y| x.partial_cmp(y).expect("finite"));
        b.sort_by(|x, y| x.partial_cmp(y).expect("finite"));
        assert_eq!(a, b);
        assert_eq!(back.node_count(), 3);
    }
}

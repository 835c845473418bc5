//! Snapshots of a [`DirectedGraph`] as a petgraph [`StableDiGraph`], and back, so that any
//! petgraph algorithm runs on the graph a stream has built.

use crate::error::GraphError;
use crate::event::{EdgeEvent, NodeId};
use crate::graph::DirectedGraph;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The weight of one edge of a petgraph snapshot: the live parallel instances of a directed
/// edge, summed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummedEdge {
    /// Sum of the instances' weights.
    pub weight: f64,
    /// Number of live instances (at least 1).
    pub multiplicity: u32,
}

impl SummedEdge {
    /// One instance of weight `weight`.
    #[must_use]
    pub fn single(weight: f64) -> Self {
        Self {
            weight,
            multiplicity: 1,
        }
    }
}

/// A petgraph snapshot of a [`DirectedGraph`]: node weights are node ids, edge weights the
/// summed parallel instances.
pub type PetgraphSnapshot = StableDiGraph<NodeId, SummedEdge>;

/// The petgraph index of every node id of a snapshot (petgraph algorithms take and return
/// [`NodeIndex`]es; the snapshot's node weights map them back to ids).
#[must_use]
pub fn node_indices<E>(graph: &StableDiGraph<NodeId, E>) -> FxHashMap<NodeId, NodeIndex> {
    graph
        .node_indices()
        .map(|i| (graph[i], i))
        .collect::<FxHashMap<_, _>>()
}

impl DirectedGraph {
    /// The graph as a petgraph [`StableDiGraph`]: one node per node (weight: its id), added
    /// in increasing id order, and one edge per distinct directed edge (weight: its summed
    /// weight and number of live instances), added in `(src, dst)` order, so the snapshot of
    /// a graph does not depend on the order its events came in. Self-loops are edges; nodes
    /// kept without edges (personalization sources) are isolated nodes.
    ///
    /// Cost: O(n log n + m log m) time, O(n + m) memory.
    ///
    /// ```
    /// use petgraph::algo::tarjan_scc;
    /// use spate_graph::{DirectedGraph, EdgeEvent, SummedEdge};
    ///
    /// let mut graph = DirectedGraph::new();
    /// graph.apply(&[
    ///     EdgeEvent::insert(10, 20),
    ///     EdgeEvent::insert_weighted(10, 20, 2.5),
    ///     EdgeEvent::insert(20, 10),
    ///     EdgeEvent::insert(20, 30),
    /// ]);
    /// let snapshot = graph.to_stable_graph();
    /// let edge = snapshot.edge_weights().next().unwrap();
    /// assert_eq!(*edge, SummedEdge { weight: 3.5, multiplicity: 2 });
    /// // Any petgraph algorithm; node weights map its indices back to node ids.
    /// let mut sccs: Vec<Vec<u64>> = tarjan_scc(&snapshot)
    ///     .into_iter()
    ///     .map(|c| {
    ///         let mut ids: Vec<u64> = c.into_iter().map(|i| snapshot[i]).collect();
    ///         ids.sort_unstable();
    ///         ids
    ///     })
    ///     .collect();
    /// sccs.sort();
    /// assert_eq!(sccs, vec![vec![10, 20], vec![30]]);
    /// // And back, unchanged.
    /// let back = DirectedGraph::from_stable_graph(&snapshot)?;
    /// assert_eq!(back.edge_weight(10, 20), Some(3.5));
    /// assert_eq!(back.edge_multiplicity(10, 20), Some(2));
    /// # Ok::<(), spate_graph::GraphError>(())
    /// ```
    #[must_use]
    pub fn to_stable_graph(&self) -> PetgraphSnapshot {
        let mut nodes: Vec<(NodeId, u32)> =
            self.index().iter().map(|(slot, id)| (id, slot)).collect();
        nodes.sort_unstable();
        let mut out = StableDiGraph::with_capacity(nodes.len(), self.edge_count());
        let mut at = vec![NodeIndex::end(); self.capacity()];
        for &(id, slot) in &nodes {
            at[slot as usize] = out.add_node(id);
        }
        let mut edges: Vec<(NodeId, NodeId, u32, u32)> = Vec::with_capacity(self.edge_count());
        for &(id, slot) in &nodes {
            for (pos, e) in self.out_edges(slot).iter().enumerate() {
                edges.push((id, self.index().id(e.dst), slot, pos as u32));
            }
        }
        edges.sort_unstable();
        for (_, _, slot, pos) in edges {
            let e = self.out_edges(slot)[pos as usize];
            out.add_edge(
                at[slot as usize],
                at[e.dst as usize],
                SummedEdge {
                    weight: e.weight,
                    multiplicity: e.count,
                },
            );
        }
        out
    }

    /// The graph a petgraph snapshot describes: its node weights are node ids and its edge
    /// weights summed instances (a [`StableDiGraph`] with other weights converts with
    /// `graph.map(|_, &id| id, |_, &w| SummedEdge::single(w))`). Parallel petgraph edges
    /// between the same two nodes are summed, weights and multiplicities. An isolated node
    /// is kept, as a node that stays in the graph even while it has no edges (nodes with
    /// edges leave when they lose their last one). Petgraph's node and edge indices are not
    /// kept; node ids are.
    ///
    /// Cost: O(n + m) expected time.
    ///
    /// # Errors
    /// [`GraphError::DuplicateNode`] if two nodes carry the same id;
    /// [`GraphError::EdgeMultiplicity`] for an edge of multiplicity 0 or parallel edges whose
    /// multiplicities sum past `u32::MAX`; [`GraphError::EdgeWeight`] for a weight outside
    /// [`EdgeEvent::MIN_WEIGHT`]..=[`EdgeEvent::MAX_WEIGHT`] or a node whose out-weights sum
    /// past [`EdgeEvent::MAX_WEIGHT`]; [`GraphError::TooLarge`] beyond 2³² − 1 nodes.
    pub fn from_stable_graph(graph: &PetgraphSnapshot) -> Result<Self, GraphError> {
        let mut seen = FxHashMap::default();
        for i in graph.node_indices() {
            if seen.insert(graph[i], i).is_some() {
                return Err(GraphError::DuplicateNode { node: graph[i] });
            }
        }
        if seen.len() >= crate::nodes::MAX_SLOTS {
            return Err(GraphError::TooLarge {
                what: "nodes",
                max: crate::nodes::MAX_SLOTS as u64 - 1,
            });
        }
        // Summed per pair, in a deterministic order.
        let mut pairs: BTreeMap<(NodeId, NodeId), SummedEdge> = BTreeMap::new();
        for e in graph.edge_references() {
            let (src, dst) = (graph[e.source()], graph[e.target()]);
            let w = *e.weight();
            if w.multiplicity == 0 {
                return Err(GraphError::EdgeMultiplicity { src, dst });
            }
            if !EdgeEvent::is_valid_weight(w.weight) {
                return Err(GraphError::EdgeWeight {
                    src,
                    dst,
                    weight: w.weight,
                });
            }
            match pairs.entry((src, dst)) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(w);
                }
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    let sum = slot.get_mut();
                    sum.multiplicity = sum
                        .multiplicity
                        .checked_add(w.multiplicity)
                        .ok_or(GraphError::EdgeMultiplicity { src, dst })?;
                    sum.weight += w.weight;
                }
            }
        }
        let mut out_weight: FxHashMap<NodeId, f64> = FxHashMap::default();
        for (&(src, dst), e) in &pairs {
            let total = out_weight.entry(src).or_insert(0.0);
            *total += e.weight;
            if *total > EdgeEvent::MAX_WEIGHT {
                return Err(GraphError::EdgeWeight {
                    src,
                    dst,
                    weight: e.weight,
                });
            }
        }
        let mut ids: Vec<NodeId> = seen.into_keys().collect();
        ids.sort_unstable();
        let has_edges: rustc_hash::FxHashSet<NodeId> =
            pairs.keys().flat_map(|&(u, v)| [u, v]).collect();
        let isolated: Vec<NodeId> = ids
            .iter()
            .copied()
            .filter(|id| !has_edges.contains(id))
            .collect();
        DirectedGraph::from_parts(
            &ids,
            &isolated,
            pairs
                .into_iter()
                .map(|((u, v), e)| (u, v, e.multiplicity, e.weight)),
        )
    }
}

impl From<&DirectedGraph> for PetgraphSnapshot {
    /// [`DirectedGraph::to_stable_graph`].
    fn from(graph: &DirectedGraph) -> Self {
        graph.to_stable_graph()
    }
}

impl TryFrom<&PetgraphSnapshot> for DirectedGraph {
    type Error = GraphError;

    /// [`DirectedGraph::from_stable_graph`].
    fn try_from(graph: &PetgraphSnapshot) -> Result<Self, GraphError> {
        DirectedGraph::from_stable_graph(graph)
    }
}

//! Weakly connected components, maintained per batch.

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, NodeId};
use crate::sets::{Adjacency, ComponentSets, SplitWork};
use crate::undirected::{Change, UndirectedGraph};
use crate::window::EdgeWindow;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Checked configuration of [`ConnectedComponents`].
#[derive(Clone, Debug, Default)]
pub struct ConnectedComponentsParams {
    window_batches: Option<usize>,
}

impl ConnectedComponentsParams {
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
    pub fn build(self) -> Result<ConnectedComponents, GraphError> {
        Ok(ConnectedComponents {
            window: self.window_batches.map(EdgeWindow::new).transpose()?,
            ..ConnectedComponents::default()
        })
    }
}

/// Per-batch account of a [`ConnectedComponents::update`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentsReport {
    /// Batch number, from 1.
    pub batch: u64,
    /// What the batch did to the graph.
    pub counts: BatchCounts,
    /// Components after the batch.
    pub components: usize,
    /// Nodes of the largest component.
    pub largest: usize,
    /// Components re-scanned because an edge inside them disappeared.
    pub recomputed_components: usize,
    /// Nodes visited by those re-scans.
    pub recomputed_nodes: usize,
}

/// Weakly connected components of a directed edge stream (edge direction ignored).
///
/// Inserts merge components with petgraph's union-find (union by rank, path halving): near
/// O(1) per edge. When a pair loses its last edge, or a node leaves, the component is
/// searched again once at the end of the batch, from the nodes that lost something: O(nodes
/// and edges of that component), the honest price of deletions without a
/// dynamic-connectivity index. The per-batch report costs O(n) on top (the largest component).
///
/// Components are labelled by their smallest node id, so labels are canonical: two runs over
/// the same graph, however batched, agree exactly.
///
/// ```
/// use spate_graph::{ConnectedComponents, EdgeEvent};
///
/// let mut cc = ConnectedComponents::params().build()?;
/// cc.update(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(3, 2), EdgeEvent::insert(7, 8)]);
/// cc.update(&[EdgeEvent::insert(1, 9)]);
/// assert_eq!(cc.count(), 2);
/// assert_eq!(cc.component_of(3), Some(1));
/// let report = cc.update(&[EdgeEvent::delete(1, 2)]);
/// assert_eq!(report.components, 3);
/// assert_eq!(cc.component_of(3), Some(2));
/// cc.update(&[EdgeEvent::delete(1, 9)]);
/// assert_eq!(cc.component_of(1), None); // no edges left: node 1 left the graph
/// assert_eq!(cc.count(), 2);
/// # Ok::<(), spate_graph::GraphError>(())
/// ```
///
/// A checkpoint holds the graph, the window and the batch number; the union-find is derived
/// state and is rebuilt from the (validated) graph on decoding, so a checkpoint cannot carry
/// an inconsistent one.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "ComponentsRepr")]
pub struct ConnectedComponents {
    graph: UndirectedGraph,
    window: Option<EdgeWindow>,
    #[serde(skip)]
    sets: ComponentSets,
    batches: u64,
    #[serde(skip)]
    events: Vec<EdgeEvent>,
}

/// The decoded form of a checkpoint: the serialized fields of [`ConnectedComponents`], in
/// order.
#[derive(Deserialize)]
struct ComponentsRepr {
    graph: UndirectedGraph,
    window: Option<EdgeWindow>,
    batches: u64,
}

impl From<ComponentsRepr> for ConnectedComponents {
    fn from(r: ComponentsRepr) -> Self {
        let mut sets = ComponentSets::default();
        sets.rebuild(&r.graph, r.graph.capacity());
        ConnectedComponents {
            graph: r.graph,
            window: r.window,
            sets,
            batches: r.batches,
            events: Vec::new(),
        }
    }
}

impl Adjacency for UndirectedGraph {
    fn is_live(&self, slot: u32) -> bool {
        UndirectedGraph::is_live(self, slot)
    }

    fn id(&self, slot: u32) -> u64 {
        self.index().id(slot)
    }

    fn for_each_neighbor(&self, slot: u32, f: impl FnMut(u32)) {
        self.neighbors(slot).keys().copied().for_each(f);
    }
}

impl ConnectedComponents {
    /// Parameters: no window.
    #[must_use]
    pub fn params() -> ConnectedComponentsParams {
        ConnectedComponentsParams::default()
    }

    /// Apply one batch; components are exact afterwards.
    pub fn update(&mut self, batch: &[EdgeEvent]) -> ComponentsReport {
        let mut events = std::mem::take(&mut self.events);
        let expired = match &mut self.window {
            Some(w) => w.advance(batch, &mut events),
            None => {
                events.clear();
                events.extend_from_slice(batch);
                0
            }
        };
        let sets = &mut self.sets;
        let mut dirty = Vec::new();
        let mut released = Vec::new();
        let counts = self
            .graph
            .apply_batch(&events, &mut released, |g, change| match change {
                Change::NodeAdded(i) => sets.add(i, g.index().id(i)),
                Change::PairAdded(u, v) => sets.union(u, v),
                Change::PairRemoved(u, v) => dirty.extend([u, v]),
            });
        self.events = events;
        dirty.extend_from_slice(&released);
        let work = if dirty.is_empty() {
            SplitWork::default()
        } else {
            self.sets.split(&self.graph, &dirty)
        };
        self.batches += 1;
        ComponentsReport {
            batch: self.batches,
            counts: BatchCounts { expired, ..counts },
            components: self.sets.count(),
            largest: self.largest(),
            recomputed_components: work.components,
            recomputed_nodes: work.nodes,
        }
    }

    /// Number of components.
    #[must_use]
    pub fn count(&self) -> usize {
        self.sets.count()
    }

    /// The component of `node`, labelled by its smallest node id; `None` if the node has no
    /// edges. O(tree depth), effectively O(1).
    #[must_use]
    pub fn component_of(&self, node: NodeId) -> Option<NodeId> {
        let i = self.graph.index().get(node)?;
        Some(self.sets.label_of(i))
    }

    /// Size of the largest component (0 for an empty graph). O(n).
    #[must_use]
    pub fn largest(&self) -> usize {
        self.sets.roots().map(|(_, size)| size).max().unwrap_or(0)
    }

    /// The `k` largest components as `(label, size)`, largest first, ties by smaller label.
    /// O(n + k log k).
    #[must_use]
    pub fn largest_components(&self, k: usize) -> Vec<(NodeId, usize)> {
        crate::topk::top_k(self.sets.roots(), k)
    }

    /// `(size, number of components of that size)`, by increasing size. O(n).
    #[must_use]
    pub fn size_distribution(&self) -> Vec<(usize, usize)> {
        let mut sizes: Vec<usize> = self.sets.roots().map(|(_, size)| size).collect();
        sizes.sort_unstable();
        let mut out: Vec<(usize, usize)> = Vec::new();
        for s in sizes {
            match out.last_mut() {
                Some((size, n)) if *size == s => *n += 1,
                _ => out.push((s, 1)),
            }
        }
        out
    }

    /// Every component as a sorted list of node ids, the list of lists sorted by smallest id.
    /// O(n log n).
    #[must_use]
    pub fn components(&self) -> Vec<Vec<NodeId>> {
        let mut by_key: FxHashMap<u32, Vec<NodeId>> = FxHashMap::default();
        for (i, id) in self.graph.index().iter() {
            by_key.entry(self.sets.key_of(i)).or_default().push(id);
        }
        let mut out: Vec<Vec<NodeId>> = by_key
            .into_values()
            .map(|mut ids| {
                ids.sort_unstable();
                ids
            })
            .collect();
        out.sort_unstable_by_key(|c| c[0]);
        out
    }

    /// `(node, label)` for every node, labels being smallest ids of components, sorted by node.
    #[must_use]
    pub fn labels(&self) -> Vec<(NodeId, NodeId)> {
        let mut out: Vec<(NodeId, NodeId)> = self
            .graph
            .index()
            .iter()
            .map(|(i, id)| (id, self.sets.label_of(i)))
            .collect();
        out.sort_unstable();
        out
    }

    /// Nodes in the graph.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }
}

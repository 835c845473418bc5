//! Weakly connected components, maintained per batch.

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, NodeId};
use crate::undirected::{Change, UndirectedGraph};
use crate::window::EdgeWindow;
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
/// Inserts merge components with union-find (union by size, path compression): near O(1)
/// per edge. When a pair loses its last edge, or a node leaves, its component is marked
/// and re-scanned once at the end of the batch: O(nodes + edges of that component), the
/// honest price of deletions without a dynamic-connectivity index.
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
    sets: UnionFind,
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
        let mut cc = ConnectedComponents {
            graph: r.graph,
            window: r.window,
            sets: UnionFind::default(),
            batches: r.batches,
            events: Vec::new(),
        };
        cc.rebuild_sets();
        cc
    }
}

/// Union-find over dense indices, with each root's member list and smallest id.
#[derive(Clone, Debug, Default)]
struct UnionFind {
    parent: Vec<u32>,
    members: Vec<Vec<u32>>,
    min_id: Vec<NodeId>,
    count: usize,
}

impl UnionFind {
    fn add(&mut self, i: u32, id: NodeId) {
        let n = i as usize + 1;
        if self.parent.len() < n {
            self.parent.resize(n, 0);
            self.members.resize_with(n, Vec::new);
            self.min_id.resize(n, 0);
        }
        self.parent[i as usize] = i;
        self.members[i as usize] = vec![i];
        self.min_id[i as usize] = id;
        self.count += 1;
    }

    fn find(&mut self, mut x: u32) -> u32 {
        let mut root = x;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        while self.parent[x as usize] != root {
            let next = self.parent[x as usize];
            self.parent[x as usize] = root;
            x = next;
        }
        root
    }

    fn root(&self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            x = self.parent[x as usize];
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.members[ra as usize].len() >= self.members[rb as usize].len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        let moved = std::mem::take(&mut self.members[small as usize]);
        self.members[big as usize].extend(moved);
        self.min_id[big as usize] = self.min_id[big as usize].min(self.min_id[small as usize]);
        self.count -= 1;
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
                Change::PairRemoved(u, _) => dirty.push(u),
            });
        self.events = events;
        dirty.extend_from_slice(&released);
        let mut roots: Vec<u32> = dirty.iter().map(|&d| self.sets.find(d)).collect();
        roots.sort_unstable();
        roots.dedup();
        let mut recomputed_nodes = 0;
        for &root in &roots {
            recomputed_nodes += self.rescan(root);
        }
        self.batches += 1;
        ComponentsReport {
            batch: self.batches,
            counts: BatchCounts { expired, ..counts },
            components: self.sets.count,
            largest: self.largest(),
            recomputed_components: roots.len(),
            recomputed_nodes,
        }
    }

    /// Rebuild the union-find from the graph: every node a singleton, joined along every pair.
    /// O(nodes + pairs).
    fn rebuild_sets(&mut self) {
        let mut sets = UnionFind::default();
        let index = self.graph.index();
        for (i, id) in index.iter() {
            sets.add(i, id);
        }
        for (u, v) in self.graph.pairs() {
            sets.union(u, v);
        }
        self.sets = sets;
    }

    /// Rebuild the component rooted at `root` from the graph's adjacency: its members become
    /// singletons again and are re-joined along the edges that remain; members that left the
    /// graph are dropped.
    fn rescan(&mut self, root: u32) -> usize {
        let members = std::mem::take(&mut self.sets.members[root as usize]);
        self.sets.count -= 1;
        for &x in &members {
            self.sets.parent[x as usize] = x;
        }
        for &x in &members {
            if self.graph.index().is_live(x) {
                self.sets.add(x, self.graph.index().id(x));
            }
        }
        for &x in &members {
            if self.graph.index().is_live(x) {
                for &y in self.graph.neighbors(x).keys() {
                    if x < y {
                        self.sets.union(x, y);
                    }
                }
            }
        }
        members.len()
    }

    /// Number of components.
    #[must_use]
    pub fn count(&self) -> usize {
        self.sets.count
    }

    /// The component of `node`, labelled by its smallest node id; `None` if the node has no
    /// edges. O(tree depth), effectively O(1).
    #[must_use]
    pub fn component_of(&self, node: NodeId) -> Option<NodeId> {
        let i = self.graph.index().get(node)?;
        Some(self.sets.min_id[self.sets.root(i) as usize])
    }

    /// Size of the largest component (0 for an empty graph). O(n).
    #[must_use]
    pub fn largest(&self) -> usize {
        self.roots()
            .map(|r| self.sets.members[r as usize].len())
            .max()
            .unwrap_or(0)
    }

    /// The `k` largest components as `(label, size)`, largest first, ties by smaller label.
    /// O(n + k log k).
    #[must_use]
    pub fn largest_components(&self, k: usize) -> Vec<(NodeId, usize)> {
        crate::topk::top_k(
            self.roots().map(|r| {
                (
                    self.sets.min_id[r as usize],
                    self.sets.members[r as usize].len(),
                )
            }),
            k,
        )
    }

    /// `(size, number of components of that size)`, by increasing size. O(n).
    #[must_use]
    pub fn size_distribution(&self) -> Vec<(usize, usize)> {
        let mut sizes: Vec<usize> = self
            .roots()
            .map(|r| self.sets.members[r as usize].len())
            .collect();
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
        let mut out: Vec<Vec<NodeId>> = self
            .roots()
            .map(|r| {
                let mut ids: Vec<NodeId> = self.sets.members[r as usize]
                    .iter()
                    .map(|&i| self.graph.index().id(i))
                    .collect();
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
            .map(|(i, id)| (id, self.sets.min_id[self.sets.root(i) as usize]))
            .collect();
        out.sort_unstable();
        out
    }

    /// Nodes in the graph.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    fn roots(&self) -> impl Iterator<Item = u32> + '_ {
        self.graph
            .index()
            .iter()
            .map(|(i, _)| i)
            .filter(|&i| self.sets.parent[i as usize] == i)
    }
}

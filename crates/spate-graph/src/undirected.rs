//! The undirected simple view of an edge stream that components and triangles need.

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, EdgeOp, NodeId};
use crate::nodes::NodeIndex;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// A change to the undirected simple graph, reported while a batch is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A node entered the graph at this (possibly reused) index.
    NodeAdded(u32),
    /// The pair `{u, v}` (`u != v`) gained its first edge in either direction.
    PairAdded(u32, u32),
    /// The pair `{u, v}` lost its last edge.
    PairRemoved(u32, u32),
}

/// Undirected adjacency with multiplicities: a pair is present while any instance of `u -> v`
/// or `v -> u` is live. Self-loops keep a node in the graph but are not pairs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "UndirectedRepr", into = "UndirectedRepr")]
pub(crate) struct UndirectedGraph {
    nodes: NodeIndex,
    adj: Vec<FxHashMap<u32, u32>>,
    self_loops: Vec<u32>,
    pairs: usize,
    stamp: u64,
    touched_at: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct UndirectedRepr {
    nodes: NodeIndex,
    /// `(u, v, instances)` with `u < v`, and `(u, u, instances)` for self-loops.
    pairs: Vec<(u32, u32, u32)>,
}

impl From<UndirectedGraph> for UndirectedRepr {
    fn from(g: UndirectedGraph) -> Self {
        let mut pairs = Vec::new();
        for (u, list) in g.adj.iter().enumerate() {
            let u = u as u32;
            pairs.extend(
                list.iter()
                    .filter(|&(&v, _)| u < v)
                    .map(|(&v, &c)| (u, v, c)),
            );
            if g.self_loops[u as usize] > 0 {
                pairs.push((u, u, g.self_loops[u as usize]));
            }
        }
        Self {
            nodes: g.nodes,
            pairs,
        }
    }
}

impl TryFrom<UndirectedRepr> for UndirectedGraph {
    type Error = GraphError;

    fn try_from(r: UndirectedRepr) -> Result<Self, GraphError> {
        let mut g = UndirectedGraph {
            nodes: r.nodes,
            ..Default::default()
        };
        g.grow();
        for (u, v, c) in r.pairs {
            if !g.nodes.is_live(u) || !g.nodes.is_live(v) || c == 0 {
                return Err(GraphError::CorruptState {
                    what: "undirected edge with a missing endpoint or no instances",
                });
            }
            if u == v {
                g.self_loops[u as usize] = c;
            } else if g.adj[u as usize].insert(v, c).is_some() {
                return Err(GraphError::CorruptState {
                    what: "duplicate undirected edge",
                });
            } else {
                g.adj[v as usize].insert(u, c);
                g.pairs += 1;
            }
        }
        for (i, _) in g.nodes.iter() {
            if !g.is_live(i) {
                return Err(GraphError::CorruptState {
                    what: "node without edges",
                });
            }
        }
        Ok(g)
    }
}

impl UndirectedGraph {
    fn grow(&mut self) {
        let n = self.nodes.capacity();
        if self.adj.len() < n {
            self.adj.resize_with(n, FxHashMap::default);
            self.self_loops.resize(n, 0);
            self.touched_at.resize(n, 0);
        }
    }

    pub(crate) fn index(&self) -> &NodeIndex {
        &self.nodes
    }

    pub(crate) fn capacity(&self) -> usize {
        self.nodes.capacity()
    }

    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Distinct undirected pairs (self-loops excluded).
    pub(crate) fn pair_count(&self) -> usize {
        self.pairs
    }

    #[inline]
    pub(crate) fn neighbors(&self, u: u32) -> &FxHashMap<u32, u32> {
        &self.adj[u as usize]
    }

    #[inline]
    pub(crate) fn is_live(&self, u: u32) -> bool {
        let i = u as usize;
        !self.adj[i].is_empty() || self.self_loops[i] > 0
    }

    /// `|N(u) ∩ N(v)|`, calling `each` on every common neighbour. O(min degree).
    pub(crate) fn common_neighbors(&self, u: u32, v: u32, mut each: impl FnMut(u32)) -> u64 {
        let (a, b) = (&self.adj[u as usize], &self.adj[v as usize]);
        let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
        let mut count = 0;
        for &w in small.keys() {
            if large.contains_key(&w) {
                count += 1;
                each(w);
            }
        }
        count
    }

    fn intern(
        &mut self,
        id: NodeId,
        on: &mut impl FnMut(&Self, Change),
        touched: &mut Vec<(u32, bool)>,
    ) -> u32 {
        let (i, new) = self.nodes.intern(id);
        self.grow();
        if self.touched_at[i as usize] != self.stamp {
            self.touched_at[i as usize] = self.stamp;
            touched.push((i, !new));
        }
        if new {
            on(self, Change::NodeAdded(i));
        }
        i
    }

    /// Apply `events` in order, calling `on` after every change with the graph in its new
    /// state. Returns the counts and, in `released`, the indices of nodes that left the graph
    /// (they are freed for reuse after this call).
    pub(crate) fn apply_batch(
        &mut self,
        events: &[EdgeEvent],
        released: &mut Vec<u32>,
        mut on: impl FnMut(&Self, Change),
    ) -> BatchCounts {
        released.clear();
        self.stamp += 1;
        let mut touched = Vec::new();
        let mut c = BatchCounts::default();
        for e in events {
            c.events += 1;
            if !e.has_valid_weight() {
                c.rejected += 1;
                continue;
            }
            match e.op {
                EdgeOp::Insert => {
                    let u = self.intern(e.src, &mut on, &mut touched);
                    let v = self.intern(e.dst, &mut on, &mut touched);
                    if u == v {
                        self.self_loops[u as usize] += 1;
                    } else {
                        let n = self.adj[u as usize].entry(v).or_insert(0);
                        *n += 1;
                        let first = *n == 1;
                        *self.adj[v as usize].entry(u).or_insert(0) += 1;
                        if first {
                            self.pairs += 1;
                            on(self, Change::PairAdded(u, v));
                        }
                    }
                    c.inserted += 1;
                }
                EdgeOp::Delete => {
                    let (Some(u), Some(v)) = (self.nodes.get(e.src), self.nodes.get(e.dst)) else {
                        c.missing_deletes += 1;
                        continue;
                    };
                    if u == v {
                        if self.self_loops[u as usize] == 0 {
                            c.missing_deletes += 1;
                            continue;
                        }
                        self.self_loops[u as usize] -= 1;
                    } else {
                        let Some(n) = self.adj[u as usize].get_mut(&v) else {
                            c.missing_deletes += 1;
                            continue;
                        };
                        *n -= 1;
                        if *n == 0 {
                            self.adj[u as usize].remove(&v);
                            self.adj[v as usize].remove(&u);
                            self.pairs -= 1;
                            on(self, Change::PairRemoved(u, v));
                        } else if let Some(m) = self.adj[v as usize].get_mut(&u) {
                            *m -= 1;
                        }
                    }
                    for i in [u, v] {
                        if self.touched_at[i as usize] != self.stamp {
                            self.touched_at[i as usize] = self.stamp;
                            touched.push((i, true));
                        }
                    }
                    c.deleted += 1;
                }
            }
        }
        for &(i, live_before) in &touched {
            let live = self.is_live(i);
            match (live_before, live) {
                (false, true) => c.nodes_added += 1,
                (true, false) => c.nodes_removed += 1,
                _ => {}
            }
            if !live {
                released.push(i);
            }
        }
        for &i in released.iter() {
            self.nodes.release(i);
        }
        c.nodes = self.nodes.len();
        c.edges = self.pairs;
        c
    }
}

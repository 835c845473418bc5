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

/// Live instances of the two directions of one unordered pair, as seen from one endpoint:
/// in `adj[u][v]`, `out` counts `u -> v` and `inc` counts `v -> u`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Instances {
    pub(crate) out: u32,
    pub(crate) inc: u32,
}

impl Instances {
    fn is_empty(self) -> bool {
        self.out == 0 && self.inc == 0
    }
}

/// Undirected adjacency with multiplicities kept per direction: a pair is present while any
/// instance of `u -> v` or `v -> u` is live, and a delete of `u -> v` retracts an instance of
/// that direction only (a delete of a direction with no live instance is missing, exactly as
/// in the directed graph). Self-loops keep a node in the graph but are not pairs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "UndirectedRepr", into = "UndirectedRepr")]
pub(crate) struct UndirectedGraph {
    nodes: NodeIndex,
    /// Symmetric: `adj[v][u]` is `adj[u][v]` with the directions swapped.
    adj: Vec<FxHashMap<u32, Instances>>,
    self_loops: Vec<u32>,
    pairs: usize,
    stamp: u64,
    touched_at: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct UndirectedRepr {
    nodes: NodeIndex,
    /// `(u, v, instances of u -> v)` for every direction with live instances; `(u, u, n)`
    /// for self-loops.
    edges: Vec<(u32, u32, u32)>,
}

impl From<UndirectedGraph> for UndirectedRepr {
    fn from(g: UndirectedGraph) -> Self {
        let mut edges = Vec::new();
        for (u, list) in g.adj.iter().enumerate() {
            let u = u as u32;
            edges.extend(
                list.iter()
                    .filter(|&(_, d)| d.out > 0)
                    .map(|(&v, d)| (u, v, d.out)),
            );
            if g.self_loops[u as usize] > 0 {
                edges.push((u, u, g.self_loops[u as usize]));
            }
        }
        Self {
            nodes: g.nodes,
            edges,
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
        for (u, v, c) in r.edges {
            if !g.nodes.is_live(u) || !g.nodes.is_live(v) || c == 0 {
                return Err(GraphError::CorruptState {
                    what: "undirected edge with a missing endpoint or no instances",
                });
            }
            let duplicate = if u == v {
                std::mem::replace(&mut g.self_loops[u as usize], c) != 0
            } else {
                let d = g.adj[u as usize].entry(v).or_default();
                let (was, new_pair) = (d.out, d.is_empty());
                d.out = c;
                g.adj[v as usize].entry(u).or_default().inc = c;
                g.pairs += usize::from(new_pair);
                was != 0
            };
            if duplicate {
                return Err(GraphError::CorruptState {
                    what: "duplicate undirected edge",
                });
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
    pub(crate) fn neighbors(&self, u: u32) -> &FxHashMap<u32, Instances> {
        &self.adj[u as usize]
    }

    /// Every present pair once, as `(u, v)` with `u < v`.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.nodes.iter().flat_map(move |(u, _)| {
            self.adj[u as usize]
                .keys()
                .filter(move |&&v| u < v)
                .map(move |&v| (u, v))
        })
    }

    /// Whether one more instance of `src -> dst` fits: its instance count below `u32::MAX`
    /// and room in the node index for endpoints not yet in the graph.
    fn insert_fits(&self, src: NodeId, dst: NodeId) -> bool {
        let (u, v) = (self.nodes.get(src), self.nodes.get(dst));
        let count = match (u, v) {
            (Some(u), Some(v)) if u == v => self.self_loops[u as usize],
            (Some(u), Some(v)) => self.adj[u as usize].get(&v).map_or(0, |d| d.out),
            _ => 0,
        };
        let new = usize::from(u.is_none()) + usize::from(v.is_none() && dst != src);
        count < u32::MAX && self.nodes.has_room(new)
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
                    if !self.insert_fits(e.src, e.dst) {
                        // 2^32 - 1 live instances of one edge, or no index left for a new
                        // node: refuse rather than wrap.
                        c.rejected += 1;
                        continue;
                    }
                    let u = self.intern(e.src, &mut on, &mut touched);
                    let v = self.intern(e.dst, &mut on, &mut touched);
                    if u == v {
                        self.self_loops[u as usize] += 1;
                    } else {
                        let d = self.adj[u as usize].entry(v).or_default();
                        let first = d.is_empty();
                        d.out += 1;
                        self.adj[v as usize].entry(u).or_default().inc += 1;
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
                        // Only an instance of this direction can be retracted.
                        let Some(d) = self.adj[u as usize].get_mut(&v).filter(|d| d.out > 0) else {
                            c.missing_deletes += 1;
                            continue;
                        };
                        d.out -= 1;
                        let gone = d.is_empty();
                        if gone {
                            self.adj[u as usize].remove(&v);
                            self.adj[v as usize].remove(&u);
                            self.pairs -= 1;
                            on(self, Change::PairRemoved(u, v));
                        } else if let Some(m) = self.adj[v as usize].get_mut(&u) {
                            m.inc -= 1;
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

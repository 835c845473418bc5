//! The dynamic directed graph that traversals need: out- and in-adjacency, and the weight of
//! every live instance of every edge (shortest paths take the cheapest).

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, EdgeOp, NodeId};
use crate::nodes::NodeIndex;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Which instance weights a graph accepts; events with other weights are counted as rejected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WeightRule {
    /// [`EdgeEvent::is_valid_weight`]: the rule of every algorithm but shortest paths.
    #[default]
    Positive,
    /// `0 ..= MAX_PATH_WEIGHT`: shortest paths, where a zero-length edge is meaningful.
    NonNegative,
}

/// The largest weight shortest paths accept, 1e290: a path of 2³² edges of this weight still
/// sums to a finite `f64`, so no distance overflows.
pub(crate) const MAX_PATH_WEIGHT: f64 = 1e290;

impl WeightRule {
    pub(crate) fn accepts(self, w: f64) -> bool {
        match self {
            WeightRule::Positive => EdgeEvent::is_valid_weight(w),
            WeightRule::NonNegative => (0.0..=MAX_PATH_WEIGHT).contains(&w),
        }
    }
}

/// One adjacency entry: the node at the other end and the edge's current length (as the
/// algorithm last set it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Arc {
    pub(crate) node: u32,
    pub(crate) length: f64,
}

/// The live instance weights of one edge: the first inline, further ones (parallel
/// instances, rarer) in a vector, so a new edge allocates nothing.
#[derive(Clone, Debug, Default)]
struct Weights {
    first: f64,
    more: Vec<f64>,
    count: u32,
}

impl Weights {
    fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn cheapest(&self) -> Option<f64> {
        (self.count > 0).then(|| self.more.iter().copied().fold(self.first, f64::min))
    }

    fn push(&mut self, w: f64) {
        if self.count == 0 {
            self.first = w;
        } else {
            self.more.push(w);
        }
        self.count += 1;
    }

    /// Whether an instance matches `w` (relative tolerance 1e-12).
    fn find(&self, w: f64) -> Option<usize> {
        let matches = |x: f64| (x - w).abs() <= x * 1e-12;
        if self.count == 0 {
            None
        } else if matches(self.first) {
            Some(0)
        } else {
            self.more.iter().position(|&x| matches(x)).map(|i| i + 1)
        }
    }

    /// Removes the instance at `at` (from [`Self::find`]).
    fn remove(&mut self, at: usize) {
        if at == 0 {
            if let Some(w) = self.more.pop() {
                self.first = w;
            }
        } else {
            self.more.swap_remove(at - 1);
        }
        self.count -= 1;
    }

    fn to_vec(&self) -> Vec<f64> {
        let mut all = Vec::with_capacity(self.count as usize);
        if self.count > 0 {
            all.push(self.first);
            all.extend_from_slice(&self.more);
        }
        all
    }
}

/// The live instances of one directed edge, and where its arcs sit.
#[derive(Clone, Debug, Default)]
struct Pair {
    weights: Weights,
    /// Position in `out[src]` and `inc[dst]`, while the edge has arcs.
    arc: Option<(u32, u32)>,
    /// The batch that last listed it as changed.
    changed_at: u64,
}

/// An edge whose cheapest live instance changed in a batch (or may have: it lists every
/// edge an event touched once), by dense slots.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PairChange {
    pub(crate) src: u32,
    pub(crate) dst: u32,
    /// Cheapest instance weight before the batch, `None` if the edge was absent.
    pub(crate) before: Option<f64>,
    /// Cheapest instance weight after the batch, `None` if the edge is gone.
    pub(crate) after: Option<f64>,
}

/// A directed multigraph with out- and in-adjacency, kept in two steps per batch:
/// [`InOutGraph::apply_batch`] updates the instances and lists the edges it changed, then
/// the algorithm moves the arcs ([`InOutGraph::set_arc`]) in the order its update needs, and
/// [`InOutGraph::release_isolated`] frees the nodes left without instances.
///
/// Semantics, as the rest of the crate: a node is in the graph while it has an edge (or is
/// pinned); an insert adds an instance; a delete retracts one live instance of that weight
/// (relative tolerance 1e-12), and is counted as missing if the edge has none.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "InOutRepr", into = "InOutRepr")]
pub(crate) struct InOutGraph {
    rule: WeightRule,
    nodes: NodeIndex,
    out: Vec<Vec<Arc>>,
    inc: Vec<Vec<Arc>>,
    /// Live instances per node (in or out), self-loops counted once.
    degree: Vec<u64>,
    pinned: Vec<bool>,
    pairs: FxHashMap<(u32, u32), Pair>,
    /// Distinct edges with live instances.
    edges: usize,
    touched_at: Vec<u64>,
    stamp: u64,
    /// The batch's touched slots, with whether each was in the graph before.
    touched: Vec<(u32, bool)>,
}

#[derive(Serialize, Deserialize)]
struct InOutRepr {
    rule: WeightRule,
    nodes: NodeIndex,
    pinned: Vec<u32>,
    /// `(src, dst, instance weights)` by slot.
    edges: Vec<(u32, u32, Vec<f64>)>,
}

impl From<InOutGraph> for InOutRepr {
    fn from(g: InOutGraph) -> Self {
        let mut edges: Vec<(u32, u32, Vec<f64>)> = g
            .pairs
            .into_iter()
            .filter(|(_, p)| !p.weights.is_empty())
            .map(|((u, v), p)| (u, v, p.weights.to_vec()))
            .collect();
        edges.sort_unstable_by_key(|e| (e.0, e.1));
        InOutRepr {
            rule: g.rule,
            pinned: (0..g.pinned.len() as u32)
                .filter(|&i| g.pinned[i as usize])
                .collect(),
            nodes: g.nodes,
            edges,
        }
    }
}

impl TryFrom<InOutRepr> for InOutGraph {
    type Error = GraphError;

    /// The graph with every edge's arc at its cheapest instance weight.
    fn try_from(r: InOutRepr) -> Result<Self, GraphError> {
        let mut g = InOutGraph {
            rule: r.rule,
            nodes: r.nodes,
            ..InOutGraph::default()
        };
        g.grow();
        for p in r.pinned {
            if !g.nodes.is_live(p) {
                return Err(GraphError::CorruptState {
                    what: "pinned node is not in the graph",
                });
            }
            g.pinned[p as usize] = true;
        }
        for (u, v, weights) in r.edges {
            if !g.nodes.is_live(u) || !g.nodes.is_live(v) {
                return Err(GraphError::CorruptState {
                    what: "edge endpoint is not in the graph",
                });
            }
            if weights.is_empty() || !weights.iter().all(|&w| g.rule.accepts(w)) {
                return Err(GraphError::CorruptState {
                    what: "edge without instances or with an unusable weight",
                });
            }
            let n = weights.len() as u64;
            let mut pair = Pair::default();
            for w in weights {
                pair.weights.push(w);
            }
            let cheapest = pair.weights.cheapest();
            if g.pairs.insert((u, v), pair).is_some() {
                return Err(GraphError::CorruptState {
                    what: "duplicate edge",
                });
            }
            g.edges += 1;
            g.degree[u as usize] += n;
            if u != v {
                g.degree[v as usize] += n;
            }
            g.set_arc(u, v, cheapest);
        }
        for (i, _) in g.nodes.iter() {
            if g.degree[i as usize] == 0 && !g.pinned[i as usize] {
                return Err(GraphError::CorruptState {
                    what: "node without edges",
                });
            }
        }
        Ok(g)
    }
}

impl InOutGraph {
    /// An empty graph accepting the weights `rule` allows.
    pub(crate) fn new(rule: WeightRule) -> Self {
        InOutGraph {
            rule,
            ..InOutGraph::default()
        }
    }

    fn grow(&mut self) {
        let n = self.nodes.capacity();
        if self.out.len() < n {
            self.out.resize_with(n, Vec::new);
            self.inc.resize_with(n, Vec::new);
            self.degree.resize(n, 0);
            self.pinned.resize(n, false);
            self.touched_at.resize(n, 0);
        }
    }

    pub(crate) fn rule(&self) -> WeightRule {
        self.rule
    }

    pub(crate) fn index(&self) -> &NodeIndex {
        &self.nodes
    }

    /// Dense slots, live or free.
    pub(crate) fn capacity(&self) -> usize {
        self.nodes.capacity()
    }

    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Distinct directed edges with live instances.
    pub(crate) fn edge_count(&self) -> usize {
        self.edges
    }

    #[inline]
    pub(crate) fn out_arcs(&self, u: u32) -> &[Arc] {
        &self.out[u as usize]
    }

    #[inline]
    pub(crate) fn in_arcs(&self, u: u32) -> &[Arc] {
        &self.inc[u as usize]
    }

    /// Whether slot `u` holds a node.
    #[inline]
    pub(crate) fn is_live(&self, u: u32) -> bool {
        let i = u as usize;
        i < self.degree.len() && (self.degree[i] > 0 || self.pinned[i])
    }

    /// Keep `node` in the graph even without edges (a source); its slot.
    ///
    /// # Errors
    /// [`GraphError::TooLarge`] if the node index is full.
    pub(crate) fn pin(&mut self, node: NodeId) -> Result<u32, GraphError> {
        let (i, _) = self.nodes.try_intern(node).ok_or(GraphError::TooLarge {
            what: "nodes",
            max: crate::nodes::MAX_SLOTS as u64 - 1,
        })?;
        self.grow();
        self.pinned[i as usize] = true;
        Ok(i)
    }

    fn touch(&mut self, id: NodeId) -> u32 {
        let (i, new) = self.nodes.intern(id);
        if new {
            self.grow();
        }
        let iu = i as usize;
        if self.touched_at[iu] != self.stamp {
            self.touched_at[iu] = self.stamp;
            self.touched.push((i, !new));
        }
        i
    }

    /// Applies `events` to the instances (not to the arcs) and writes into `changes`
    /// (cleared first) every edge whose instances changed, once, with its cheapest weight
    /// before and after. Nodes that gain their first edge get a slot now; nodes that lose
    /// their last keep theirs until [`Self::release_isolated`].
    pub(crate) fn apply_batch(
        &mut self,
        events: &[EdgeEvent],
        changes: &mut Vec<PairChange>,
    ) -> BatchCounts {
        changes.clear();
        self.touched.clear();
        self.stamp += 1;
        let mut c = BatchCounts::default();
        for e in events {
            c.events += 1;
            if !self.rule.accepts(e.weight) {
                c.rejected += 1;
                continue;
            }
            let (u, v) = match e.op {
                EdgeOp::Insert => {
                    let new = usize::from(self.nodes.get(e.src).is_none())
                        + usize::from(self.nodes.get(e.dst).is_none() && e.dst != e.src);
                    if !self.nodes.has_room(new) {
                        c.rejected += 1;
                        continue;
                    }
                    (self.touch(e.src), self.touch(e.dst))
                }
                EdgeOp::Delete => {
                    let found = self.nodes.get(e.src).zip(self.nodes.get(e.dst));
                    let Some(pair) = found.and_then(|key| self.pairs.get(&key)) else {
                        c.missing_deletes += 1;
                        continue;
                    };
                    if pair.weights.is_empty() {
                        c.missing_deletes += 1;
                        continue;
                    }
                    if pair.weights.find(e.weight).is_none() {
                        c.rejected += 1;
                        continue;
                    }
                    (self.touch(e.src), self.touch(e.dst))
                }
            };
            let stamp = self.stamp;
            let pair = self.pairs.entry((u, v)).or_default();
            if pair.changed_at != stamp {
                pair.changed_at = stamp;
                changes.push(PairChange {
                    src: u,
                    dst: v,
                    before: pair.weights.cheapest(),
                    after: None,
                });
            }
            match e.op {
                EdgeOp::Insert => {
                    pair.weights.push(e.weight);
                    self.edges += usize::from(pair.weights.count == 1);
                    c.inserted += 1;
                }
                EdgeOp::Delete => {
                    if let Some(at) = pair.weights.find(e.weight) {
                        pair.weights.remove(at);
                    }
                    self.edges -= usize::from(pair.weights.is_empty());
                    c.deleted += 1;
                }
            }
            let d = if e.op == EdgeOp::Insert { 1 } else { -1i64 };
            self.degree[u as usize] = self.degree[u as usize].wrapping_add_signed(d);
            if u != v {
                self.degree[v as usize] = self.degree[v as usize].wrapping_add_signed(d);
            }
        }
        for ch in changes.iter_mut() {
            ch.after = self
                .pairs
                .get(&(ch.src, ch.dst))
                .and_then(|p| p.weights.cheapest());
        }
        c
    }

    /// Puts the arc `u -> v` at `length`, or removes it (`None`). O(1) expected.
    pub(crate) fn set_arc(&mut self, u: u32, v: u32, length: Option<f64>) {
        let Some(pair) = self.pairs.get_mut(&(u, v)) else {
            return;
        };
        match (pair.arc, length) {
            (Some((o, i)), Some(length)) => {
                self.out[u as usize][o as usize].length = length;
                self.inc[v as usize][i as usize].length = length;
            }
            (None, Some(length)) => {
                let o = self.out[u as usize].len() as u32;
                let i = self.inc[v as usize].len() as u32;
                self.out[u as usize].push(Arc { node: v, length });
                self.inc[v as usize].push(Arc { node: u, length });
                pair.arc = Some((o, i));
            }
            (Some((o, i)), None) => {
                pair.arc = None;
                let (o, i) = (o as usize, i as usize);
                self.out[u as usize].swap_remove(o);
                if let Some(moved) = self.out[u as usize].get(o) {
                    let w = moved.node;
                    if let Some(p) = self.pairs.get_mut(&(u, w)).and_then(|p| p.arc.as_mut()) {
                        p.0 = o as u32;
                    }
                }
                self.inc[v as usize].swap_remove(i);
                if let Some(moved) = self.inc[v as usize].get(i) {
                    let w = moved.node;
                    if let Some(p) = self.pairs.get_mut(&(w, v)).and_then(|p| p.arc.as_mut()) {
                        p.1 = i as u32;
                    }
                }
            }
            (None, None) => {}
        }
        if self
            .pairs
            .get(&(u, v))
            .is_some_and(|p| p.weights.is_empty() && p.arc.is_none())
        {
            self.pairs.remove(&(u, v));
        }
    }

    /// The slots of nodes that got their first edge in the batch (some may have lost it again).
    pub(crate) fn added(&self) -> impl Iterator<Item = u32> + '_ {
        self.touched
            .iter()
            .filter(|&&(_, live_before)| !live_before)
            .map(|&(i, _)| i)
    }

    /// Frees the batch's touched nodes left without edges (their arcs must be gone), writing
    /// their slots into `released`, and completes `counts` (nodes added and removed, nodes,
    /// edges).
    pub(crate) fn release_isolated(&mut self, released: &mut Vec<u32>, counts: &mut BatchCounts) {
        released.clear();
        for &(i, live_before) in &self.touched {
            let live = self.is_live(i);
            match (live_before, live) {
                (false, true) => counts.nodes_added += 1,
                (true, false) => counts.nodes_removed += 1,
                _ => {}
            }
            if !live {
                released.push(i);
            }
        }
        for &i in released.iter() {
            debug_assert!(self.out[i as usize].is_empty() && self.inc[i as usize].is_empty());
            self.nodes.release(i);
        }
        counts.nodes = self.nodes.len();
        counts.edges = self.edges;
    }
}

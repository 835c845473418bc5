//! Strongly connected components of an edge stream, kept per batch: a topological order of
//! the components absorbs inserts (Pearce–Kelly), deletes split only the component they hit.

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, NodeId};
use crate::inout::{InOutGraph, PairChange, WeightRule};
use crate::paths::{DEFAULT_RECOMPUTE_ABOVE, RepairMethod};
use crate::window::EdgeWindow;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const NONE: u32 = u32::MAX;

/// The longest run of batches recomputed without trying a repair.
const MAX_BACKOFF: u32 = 64;

/// Checked configuration of [`StronglyConnectedComponents`].
#[derive(Clone, Debug)]
pub struct StronglyConnectedComponentsParams {
    window_batches: Option<usize>,
    recompute_above: f64,
}

impl Default for StronglyConnectedComponentsParams {
    fn default() -> Self {
        Self {
            window_batches: None,
            recompute_above: DEFAULT_RECOMPUTE_ABOVE,
        }
    }
}

impl StronglyConnectedComponentsParams {
    /// Keep only the edges inserted in the last `batches` batches.
    #[must_use]
    pub fn window_batches(mut self, batches: usize) -> Self {
        self.window_batches = Some(batches);
        self
    }

    /// Recompute from scratch when a batch changes more than this fraction of the edges
    /// (default [`DEFAULT_RECOMPUTE_ABOVE`]); `0` always recomputes, `f64::INFINITY` always
    /// tries a repair (abandoned only past the work bound, see
    /// [`StronglyConnectedComponents`]) and never pauses repairs after a costly one.
    #[must_use]
    pub fn recompute_above(mut self, fraction: f64) -> Self {
        self.recompute_above = fraction;
        self
    }

    /// Check the parameters.
    ///
    /// # Errors
    /// [`GraphError::WindowBatches`] for a zero-length window,
    /// [`GraphError::RecomputeFraction`] for a negative or NaN fraction.
    pub fn build(self) -> Result<StronglyConnectedComponents, GraphError> {
        if self.recompute_above.is_nan() || self.recompute_above < 0.0 {
            return Err(GraphError::RecomputeFraction {
                value: self.recompute_above,
            });
        }
        Ok(StronglyConnectedComponents {
            recompute_above: self.recompute_above,
            graph: InOutGraph::new(WeightRule::Positive),
            window: self.window_batches.map(EdgeWindow::new).transpose()?,
            batches: 0,
            parts: Parts::default(),
            backoff: Backoff::default(),
        })
    }
}

/// Per-batch account of a [`StronglyConnectedComponents::update`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SccReport {
    /// Batch number, from 1.
    pub batch: u64,
    /// What the batch did to the graph.
    pub counts: BatchCounts,
    /// Repaired or recomputed.
    pub method: RepairMethod,
    /// Strongly connected components after the batch (single nodes included).
    pub components: usize,
    /// Components of two nodes or more.
    pub nontrivial: usize,
    /// Nodes of the largest component.
    pub largest: usize,
    /// Components merged into others by new cycles.
    pub merged: usize,
    /// Nodes of components searched again because an edge inside them vanished.
    pub resplit_nodes: usize,
    /// Edges scanned by the update (the work done).
    pub scanned_edges: usize,
}

/// The components as parts of a topological order: every edge between two parts goes from
/// an earlier position to a later one. A part's nodes form a circular list through `next`,
/// so a merge splices two lists in O(1) and no part allocates.
#[derive(Clone, Debug, Default)]
struct Parts {
    /// Per slot: its part (`NONE` for free slots) and the next node of the part's list.
    of: Vec<u32>,
    next: Vec<u32>,
    /// Per part: a node of its list, its size (0 for a free part id), smallest node id and
    /// position.
    head: Vec<u32>,
    size: Vec<u32>,
    label: Vec<NodeId>,
    ord: Vec<u32>,
    /// Position → part (`NONE`: a hole left by a merge or a removal).
    order: Vec<u32>,
    free: Vec<u32>,
    live: usize,
    /// Number of parts of each size, for the per-batch report in O(log n).
    sizes: BTreeMap<u32, u32>,
    /// The parts marked dirty in the current batch (some may have merged away since).
    dirty: Vec<u32>,
    /// Per part: marks of the current batch (dirty: an inside edge vanished) and of the
    /// current searches.
    dirty_at: Vec<u64>,
    forward_at: Vec<u64>,
    backward_at: Vec<u64>,
    stamp: u64,
    search: u64,
    tarjan: Tarjan,
}

impl Parts {
    /// A new part of the nodes `nodes` (at least one), with no position yet.
    fn new_part(&mut self, nodes: &[u32], label: NodeId) -> u32 {
        let p = match self.free.pop() {
            Some(p) => p,
            None => {
                self.head.push(NONE);
                self.size.push(0);
                self.label.push(0);
                self.ord.push(NONE);
                self.dirty_at.push(0);
                self.forward_at.push(0);
                self.backward_at.push(0);
                (self.head.len() - 1) as u32
            }
        };
        for (i, &x) in nodes.iter().enumerate() {
            self.of[x as usize] = p;
            self.next[x as usize] = nodes[(i + 1) % nodes.len()];
        }
        let pi = p as usize;
        self.head[pi] = nodes[0];
        self.size[pi] = nodes.len() as u32;
        self.count_size(nodes.len() as u32, true);
        self.label[pi] = label;
        self.dirty_at[pi] = 0;
        self.live += 1;
        p
    }

    fn free_part(&mut self, p: u32) {
        let pi = p as usize;
        self.count_size(self.size[pi], false);
        self.size[pi] = 0;
        self.head[pi] = NONE;
        if self.ord[pi] != NONE {
            self.order[self.ord[pi] as usize] = NONE;
            self.ord[pi] = NONE;
        }
        self.free.push(p);
        self.live -= 1;
    }

    /// One more (or one fewer) part of `size` nodes.
    fn count_size(&mut self, size: u32, more: bool) {
        if more {
            *self.sizes.entry(size).or_default() += 1;
        } else if let Some(n) = self.sizes.get_mut(&size) {
            *n -= 1;
            if *n == 0 {
                self.sizes.remove(&size);
            }
        }
    }

    /// Sets the size of live part `p`.
    fn resize(&mut self, p: u32, size: u32) {
        self.count_size(self.size[p as usize], false);
        self.count_size(size, true);
        self.size[p as usize] = size;
    }

    fn mark_dirty(&mut self, p: u32) {
        if !self.is_dirty(p) {
            self.dirty_at[p as usize] = self.stamp;
            self.dirty.push(p);
        }
    }

    fn push_last(&mut self, p: u32) {
        self.ord[p as usize] = self.order.len() as u32;
        self.order.push(p);
    }

    fn is_dirty(&self, p: u32) -> bool {
        self.dirty_at[p as usize] == self.stamp
    }

    /// The nodes of part `p`, into `out` (cleared first).
    fn members_into(&self, p: u32, out: &mut Vec<u32>) {
        out.clear();
        let head = self.head[p as usize];
        if head == NONE {
            return;
        }
        let mut x = head;
        loop {
            out.push(x);
            x = self.next[x as usize];
            if x == head {
                break;
            }
        }
    }
}

/// Strongly connected components of a directed edge stream, exact after every batch (the
/// components networkx's `strongly_connected_components` finds on the same graph).
///
/// The components are kept in a topological order of the condensation. A batch first
/// removes the edges it deleted: an edge inside a component marks it for a re-search, an
/// edge between two components changes nothing. Then each new edge `u → v` between two
/// components is checked against the order (Pearce–Kelly): if `u`'s component already comes
/// first, nothing changes; otherwise the components between the two positions that `v`
/// reaches and that reach `u` are searched (forward from `v`, backward from `u`), the ones on
/// a new cycle merge, and the searched ones are reordered among their own positions. Last, each marked component is
/// searched again by Tarjan's algorithm on its own nodes, and its parts take its place in
/// the order. Costs: an insert that respects the order O(1); one that does not, the edges of
/// the components between its endpoints' positions; a delete inside a component, that
/// component's edges.
///
/// When a batch changes more than [`recompute_above`](StronglyConnectedComponentsParams::recompute_above)
/// of the edges, or its searches scan more than `2 (n + m)` edges (twice a recomputation:
/// they look both ways), the components are recomputed from scratch by Tarjan's algorithm
/// instead (O(n + m)), as the report says: a batch costs at most a few recomputations. After
/// a batch whose repair cost more than a recomputation would have (or was abandoned), the
/// next 1, then 2, 4, … up to 64 batches recompute without trying (with a finite
/// threshold), so a stream that repairs badly (large batches against a giant component)
/// pays little more than recomputing. A restored checkpoint starts without a pause.
///
/// Components are labelled by their smallest node id.
///
/// ```
/// use spate_graph::{EdgeEvent, StronglyConnectedComponents};
///
/// let mut scc = StronglyConnectedComponents::params().build()?;
/// scc.update(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(2, 3), EdgeEvent::insert(3, 4)]);
/// assert_eq!(scc.count(), 4);
/// let report = scc.update(&[EdgeEvent::insert(4, 2)]); // closes the cycle 2 → 3 → 4 → 2
/// assert_eq!((report.components, report.merged), (2, 2));
/// assert_eq!(scc.nontrivial(), vec![vec![2, 3, 4]]);
/// assert_eq!(scc.component_of(4), Some(2));
/// scc.update(&[EdgeEvent::delete(3, 4)]);
/// assert_eq!(scc.count(), 4);
/// # Ok::<(), spate_graph::GraphError>(())
/// ```
///
/// A checkpoint holds the parameters, the graph, the window and the batch number; the
/// components are derived state, recomputed when it is decoded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "SccRepr", into = "SccRepr")]
pub struct StronglyConnectedComponents {
    recompute_above: f64,
    graph: InOutGraph,
    window: Option<EdgeWindow>,
    batches: u64,
    parts: Parts,
    backoff: Backoff,
}

/// After a repair that cost more than a recomputation, recompute directly for a while.
#[derive(Clone, Copy, Debug, Default)]
struct Backoff {
    /// Batches still to recompute without trying.
    skip: u32,
    /// The length of the last pause (0, then 1, 2, 4, … up to 64).
    length: u32,
}

#[derive(Serialize, Deserialize)]
struct SccRepr {
    recompute_above: f64,
    graph: InOutGraph,
    window: Option<EdgeWindow>,
    batches: u64,
}

impl From<StronglyConnectedComponents> for SccRepr {
    fn from(s: StronglyConnectedComponents) -> Self {
        SccRepr {
            recompute_above: s.recompute_above,
            graph: s.graph,
            window: s.window,
            batches: s.batches,
        }
    }
}

impl TryFrom<SccRepr> for StronglyConnectedComponents {
    type Error = GraphError;

    fn try_from(r: SccRepr) -> Result<Self, GraphError> {
        if r.recompute_above.is_nan() || r.recompute_above < 0.0 {
            return Err(GraphError::CorruptState {
                what: "invalid recompute fraction",
            });
        }
        if r.graph.rule() != WeightRule::Positive {
            return Err(GraphError::CorruptState {
                what: "the graph's weight rule is not the one of strongly connected components",
            });
        }
        let mut scc = StronglyConnectedComponents {
            recompute_above: r.recompute_above,
            graph: r.graph,
            window: r.window,
            batches: r.batches,
            parts: Parts::default(),
            backoff: Backoff::default(),
        };
        scc.recompute();
        Ok(scc)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Work {
    merged: usize,
    resplit: usize,
    scanned: usize,
}

impl StronglyConnectedComponents {
    /// Parameters: no window.
    #[must_use]
    pub fn params() -> StronglyConnectedComponentsParams {
        StronglyConnectedComponentsParams::default()
    }

    /// Apply one batch; the components are exact afterwards.
    pub fn update(&mut self, batch: &[EdgeEvent]) -> SccReport {
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
        let mut changes = Vec::new();
        let mut counts = self.graph.apply_batch(events, &mut changes);
        counts.expired = expired;
        self.grow();
        let added: Vec<u32> = self.graph.added().collect();
        for x in added {
            if self.parts.of[x as usize] == NONE {
                let id = self.graph.index().id(x);
                let p = self.parts.new_part(&[x], id);
                self.parts.push_last(p);
            }
        }
        self.parts.stamp += 1;
        self.parts.dirty.clear();
        let edges = self.graph.edge_count().max(1);
        let too_many = changes.len() as f64 > self.recompute_above * edges as f64;
        let attempt = !too_many && self.backoff.skip == 0;
        self.backoff.skip = self.backoff.skip.saturating_sub(1);
        let recompute_cost = self.graph.edge_count() + self.graph.node_count();
        let mut work = Work::default();
        let repaired = attempt && self.repair(&changes, &mut work);
        if attempt && self.recompute_above.is_finite() {
            self.backoff = if repaired && work.scanned <= recompute_cost {
                Backoff::default()
            } else {
                let length = (self.backoff.length * 2).clamp(1, MAX_BACKOFF);
                Backoff {
                    skip: length,
                    length,
                }
            };
        }
        let method = if repaired {
            RepairMethod::Incremental
        } else {
            for ch in &changes {
                self.graph.set_arc(ch.src, ch.dst, ch.after.map(|_| 1.0));
            }
            work = Work {
                scanned: self.recompute(),
                ..Work::default()
            };
            RepairMethod::Recompute
        };
        let mut released = Vec::new();
        self.graph.release_isolated(&mut released, &mut counts);
        for &x in &released {
            self.remove_node(x);
        }
        self.compact_if_sparse();
        self.batches += 1;
        SccReport {
            batch: self.batches,
            counts,
            method,
            components: self.parts.live,
            nontrivial: self.parts.live - self.parts.sizes.get(&1).map_or(0, |&n| n as usize),
            largest: self
                .parts
                .sizes
                .last_key_value()
                .map_or(0, |(&size, _)| size as usize),
            merged: work.merged,
            resplit_nodes: work.resplit,
            scanned_edges: work.scanned,
        }
    }

    fn grow(&mut self) {
        let n = self.graph.capacity();
        if self.parts.of.len() < n {
            self.parts.of.resize(n, NONE);
            self.parts.next.resize(n, NONE);
        }
    }

    fn size(&self, p: u32) -> usize {
        self.parts.size[p as usize] as usize
    }

    fn live_parts(&self) -> impl Iterator<Item = u32> + '_ {
        self.parts.order.iter().copied().filter(|&p| p != NONE)
    }

    /// A released node (no edges left) is a part of its own by now: drop it.
    fn remove_node(&mut self, x: u32) {
        let parts = &mut self.parts;
        let p = parts.of[x as usize];
        parts.of[x as usize] = NONE;
        if p == NONE {
            return;
        }
        let pi = p as usize;
        if parts.size[pi] == 1 {
            parts.free_part(p);
            return;
        }
        // Not reached (a node that lost its last edge was split off its component), but
        // cheap to keep right: unlink it.
        let mut prev = x;
        while parts.next[prev as usize] != x {
            prev = parts.next[prev as usize];
        }
        parts.next[prev as usize] = parts.next[x as usize];
        parts.head[pi] = prev;
        parts.resize(p, parts.size[pi] - 1);
    }

    /// Deletes, then inserts, then re-splits; false (arcs partly set) when the work bound
    /// is hit: the caller recomputes.
    fn repair(&mut self, changes: &[PairChange], work: &mut Work) -> bool {
        // Searches visit edges in both directions: twice what a recomputation would visit.
        let budget = 2 * (self.graph.edge_count() + self.graph.node_count());
        for ch in changes.iter().filter(|ch| ch.after.is_none()) {
            self.graph.set_arc(ch.src, ch.dst, None);
            let p = self.parts.of[ch.src as usize];
            if ch.before.is_some() && p == self.parts.of[ch.dst as usize] && ch.src != ch.dst {
                self.parts.mark_dirty(p);
            }
        }
        for ch in changes.iter().filter(|ch| ch.after.is_some()) {
            self.graph.set_arc(ch.src, ch.dst, Some(1.0));
            if ch.before.is_none() {
                self.insert(ch.src, ch.dst, work);
                if work.scanned > budget {
                    return false;
                }
            }
        }
        let mut dirty = std::mem::take(&mut self.parts.dirty);
        dirty.retain(|&p| self.parts.is_dirty(p));
        if !dirty.is_empty() {
            self.resplit(&dirty, work);
        }
        true
    }

    /// Pearce–Kelly for a new edge `u → v`.
    fn insert(&mut self, u: u32, v: u32, work: &mut Work) {
        let (pu, pv) = (self.parts.of[u as usize], self.parts.of[v as usize]);
        let (lower, upper) = (self.parts.ord[pv as usize], self.parts.ord[pu as usize]);
        if pu == pv || upper < lower {
            return;
        }
        self.parts.search += 1;
        let mark = self.parts.search;
        // Forward from v's part through parts up to u's position; backward from u's part
        // through parts down to v's position.
        let forward = self.reach(pv, mark, upper, true, work);
        let backward = self.reach(pu, mark, lower, false, work);
        let cycle = self.parts.forward_at[pu as usize] == mark;
        let mut positions: Vec<u32> = forward
            .iter()
            .chain(&backward)
            .map(|&p| self.parts.ord[p as usize])
            .collect();
        positions.sort_unstable();
        positions.dedup();
        let by_ord = |parts: &Parts, mut list: Vec<u32>| {
            list.sort_unstable_by_key(|&p| parts.ord[p as usize]);
            list
        };
        let on_cycle = |parts: &Parts, p: u32| {
            cycle && parts.forward_at[p as usize] == mark && parts.backward_at[p as usize] == mark
        };
        let before: Vec<u32> = backward
            .iter()
            .copied()
            .filter(|&p| !on_cycle(&self.parts, p))
            .collect();
        let after: Vec<u32> = forward
            .iter()
            .copied()
            .filter(|&p| !on_cycle(&self.parts, p))
            .collect();
        // The parts that reach `u` take the lowest positions (they never move up), then the
        // merged cycle, and the parts `v` reaches take the highest (they never move down), so
        // every edge from or to a part outside the searches still points forward. Positions
        // left over (a cycle merges several parts into one) become holes.
        let mut low = by_ord(&self.parts, before);
        if cycle {
            let merging: Vec<u32> = forward
                .iter()
                .copied()
                .filter(|&p| on_cycle(&self.parts, p))
                .collect();
            work.merged += merging.len() - 1;
            low.push(self.merge(&merging));
        }
        let high = by_ord(&self.parts, after);
        for &pos in &positions {
            self.parts.order[pos as usize] = NONE;
        }
        let top = &positions[positions.len() - high.len()..];
        for (&p, &pos) in low.iter().zip(&positions).chain(high.iter().zip(top)) {
            self.parts.order[pos as usize] = p;
            self.parts.ord[p as usize] = pos;
        }
    }

    /// Parts reachable from `start` (forward along out-edges, else backward along in-edges)
    /// through parts whose position is within `bound` (at most it forward, at least it
    /// backward), marked with `mark`; `start` included.
    fn reach(
        &mut self,
        start: u32,
        mark: u64,
        bound: u32,
        forward: bool,
        work: &mut Work,
    ) -> Vec<u32> {
        let parts = &mut self.parts;
        let seen = if forward {
            &mut parts.forward_at
        } else {
            &mut parts.backward_at
        };
        seen[start as usize] = mark;
        let mut found = vec![start];
        let mut next = 0;
        while next < found.len() {
            let p = found[next];
            next += 1;
            let head = parts.head[p as usize];
            let mut x = head;
            loop {
                let arcs = if forward {
                    self.graph.out_arcs(x)
                } else {
                    self.graph.in_arcs(x)
                };
                work.scanned += arcs.len();
                for arc in arcs {
                    let q = parts.of[arc.node as usize];
                    let within = if forward {
                        parts.ord[q as usize] <= bound
                    } else {
                        parts.ord[q as usize] >= bound
                    };
                    if q != p && within && seen[q as usize] != mark {
                        seen[q as usize] = mark;
                        found.push(q);
                    }
                }
                x = parts.next[x as usize];
                if x == head {
                    break;
                }
            }
        }
        found
    }

    /// Merges `list` (at least one part) into its largest part, which it returns: O(1) per
    /// part merged (the node lists are spliced).
    fn merge(&mut self, list: &[u32]) -> u32 {
        let parts = &mut self.parts;
        let target = list
            .iter()
            .copied()
            .max_by_key(|&p| parts.size[p as usize])
            .unwrap_or(list[0]);
        let t = target as usize;
        let mut dirty = false;
        for &p in list {
            dirty |= parts.is_dirty(p);
            if p == target {
                continue;
            }
            let pi = p as usize;
            // Relabel the absorbed nodes, then splice the two circles.
            let head = parts.head[pi];
            let mut x = head;
            loop {
                parts.of[x as usize] = target;
                x = parts.next[x as usize];
                if x == head {
                    break;
                }
            }
            let a = parts.head[t];
            parts.next.swap(a as usize, head as usize);
            parts.resize(target, parts.size[t] + parts.size[pi]);
            parts.label[t] = parts.label[t].min(parts.label[pi]);
            parts.dirty_at[pi] = 0;
            parts.free_part(p);
        }
        if dirty {
            parts.mark_dirty(target);
        }
        target
    }

    /// Tarjan on each dirty part's own nodes; its components replace it in the order.
    fn resplit(&mut self, dirty: &[u32], work: &mut Work) {
        let mut replacement: Vec<(u32, Vec<u32>)> = Vec::with_capacity(dirty.len());
        let mut members = Vec::new();
        let mut found: Vec<u32> = Vec::new();
        let mut ends: Vec<usize> = Vec::new();
        for &p in dirty {
            self.parts.members_into(p, &mut members);
            work.resplit += members.len();
            found.clear();
            ends.clear();
            let parts = &mut self.parts;
            work.scanned += parts.tarjan.run(
                &self.graph,
                &members,
                |y| parts.of[y as usize] == p,
                |component| {
                    found.extend_from_slice(component);
                    ends.push(found.len());
                },
            );
            let ord = parts.ord[p as usize];
            parts.free_part(p);
            // Tarjan finishes sinks first: reversed, a topological order.
            let mut new_parts = Vec::with_capacity(ends.len());
            let mut end = found.len();
            for k in (0..ends.len()).rev() {
                let start = if k == 0 { 0 } else { ends[k - 1] };
                debug_assert_eq!(end, ends[k]);
                let component = &found[start..end];
                let label = component
                    .iter()
                    .map(|&x| self.graph.index().id(x))
                    .min()
                    .unwrap_or(0);
                new_parts.push(self.parts.new_part(component, label));
                end = start;
            }
            replacement.push((ord, new_parts));
        }
        // Rebuild the order with each dirty part's components in its place, holes dropped.
        replacement.sort_unstable_by_key(|r| r.0);
        let old = std::mem::take(&mut self.parts.order);
        let mut at = 0;
        for (pos, &p) in old.iter().enumerate() {
            if at < replacement.len() && replacement[at].0 as usize == pos {
                for &q in &replacement[at].1 {
                    self.parts.push_last(q);
                }
                at += 1;
            } else if p != NONE {
                self.parts.push_last(p);
            }
        }
    }

    /// Components from scratch (Tarjan over the whole graph); returns the edges scanned.
    fn recompute(&mut self) -> usize {
        let n = self.graph.capacity();
        let mut parts = Parts {
            of: vec![NONE; n],
            next: vec![NONE; n],
            stamp: self.parts.stamp,
            search: self.parts.search,
            tarjan: std::mem::take(&mut self.parts.tarjan),
            ..Parts::default()
        };
        let live: Vec<u32> = (0..n as u32).filter(|&x| self.graph.is_live(x)).collect();
        let (mut found, mut ends) = (Vec::new(), Vec::new());
        let scanned = parts.tarjan.run(
            &self.graph,
            &live,
            |_| true,
            |c| {
                found.extend_from_slice(c);
                ends.push(found.len());
            },
        );
        let mut end = found.len();
        for k in (0..ends.len()).rev() {
            let start = if k == 0 { 0 } else { ends[k - 1] };
            let component = &found[start..end];
            let label = component
                .iter()
                .map(|&x| self.graph.index().id(x))
                .min()
                .unwrap_or(0);
            let p = parts.new_part(component, label);
            parts.push_last(p);
            end = start;
        }
        self.parts = parts;
        scanned
    }

    fn compact_if_sparse(&mut self) {
        if self.parts.order.len() > 2 * self.parts.live + 64 {
            let old = std::mem::take(&mut self.parts.order);
            for p in old.into_iter().filter(|&p| p != NONE) {
                self.parts.push_last(p);
            }
        }
    }

    /// Number of strongly connected components (single nodes included).
    #[must_use]
    pub fn count(&self) -> usize {
        self.parts.live
    }

    /// The component of `node`, labelled by its smallest node id; `None` if the node has no
    /// edges.
    #[must_use]
    pub fn component_of(&self, node: NodeId) -> Option<NodeId> {
        let x = self.graph.index().get(node)?;
        Some(self.parts.label[self.parts.of[x as usize] as usize])
    }

    fn ids(&self, p: u32) -> Vec<NodeId> {
        let mut slots = Vec::new();
        self.parts.members_into(p, &mut slots);
        let mut ids: Vec<NodeId> = slots.iter().map(|&x| self.graph.index().id(x)).collect();
        ids.sort_unstable();
        ids
    }

    /// Every component as a sorted list of node ids, the lists sorted by smallest id.
    /// O(n log n).
    #[must_use]
    pub fn components(&self) -> Vec<Vec<NodeId>> {
        let mut out: Vec<Vec<NodeId>> = self.live_parts().map(|p| self.ids(p)).collect();
        out.sort_unstable_by_key(|c| c[0]);
        out
    }

    /// The components of two nodes or more, as [`Self::components`] lists them.
    #[must_use]
    pub fn nontrivial(&self) -> Vec<Vec<NodeId>> {
        let mut out: Vec<Vec<NodeId>> = self
            .live_parts()
            .filter(|&p| self.size(p) > 1)
            .map(|p| self.ids(p))
            .collect();
        out.sort_unstable_by_key(|c| c[0]);
        out
    }

    /// The components in a topological order of the condensation (every edge between two
    /// components goes from an earlier one to a later one), as sorted node lists. O(n log n).
    #[must_use]
    pub fn topological_order(&self) -> Vec<Vec<NodeId>> {
        self.live_parts().map(|p| self.ids(p)).collect()
    }

    /// The `k` largest components as `(label, size)`, largest first, ties by smaller label.
    /// O(n + k log k).
    #[must_use]
    pub fn largest_components(&self, k: usize) -> Vec<(NodeId, usize)> {
        crate::topk::top_k(
            self.live_parts()
                .map(|p| (self.parts.label[p as usize], self.size(p))),
            k,
        )
    }

    /// Nodes in the graph.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Distinct directed edges in the graph.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Batches applied so far.
    #[must_use]
    pub fn batches(&self) -> u64 {
        self.batches
    }
}

/// Iterative Tarjan over the slots of an [`InOutGraph`], with reusable scratch space.
#[derive(Clone, Debug, Default)]
struct Tarjan {
    visited_at: Vec<u64>,
    round: u64,
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<u32>,
    calls: Vec<(u32, u32)>,
}

impl Tarjan {
    /// Emits the components of the subgraph induced by the nodes `in_scope` accepts,
    /// reachable from `starts` (all in scope), sinks first. Returns the edges scanned.
    fn run(
        &mut self,
        graph: &InOutGraph,
        starts: &[u32],
        in_scope: impl Fn(u32) -> bool,
        mut emit: impl FnMut(&[u32]),
    ) -> usize {
        let n = graph.capacity();
        if self.visited_at.len() < n {
            self.visited_at.resize(n, 0);
            self.index.resize(n, 0);
            self.low.resize(n, 0);
            self.on_stack.resize(n, false);
        }
        self.round += 1;
        let round = self.round;
        let mut counter = 0u32;
        let mut scanned = 0;
        for &s in starts {
            if self.visited_at[s as usize] == round {
                continue;
            }
            self.open(s, round, &mut counter);
            while let Some(&(v, k)) = self.calls.last() {
                let arcs = graph.out_arcs(v);
                if (k as usize) < arcs.len() {
                    if let Some(call) = self.calls.last_mut() {
                        call.1 += 1;
                    }
                    scanned += 1;
                    let w = arcs[k as usize].node;
                    if !in_scope(w) {
                        continue;
                    }
                    if self.visited_at[w as usize] != round {
                        self.open(w, round, &mut counter);
                    } else if self.on_stack[w as usize] {
                        let low = self.low[v as usize].min(self.index[w as usize]);
                        self.low[v as usize] = low;
                    }
                    continue;
                }
                self.calls.pop();
                if let Some(&(parent, _)) = self.calls.last() {
                    let low = self.low[parent as usize].min(self.low[v as usize]);
                    self.low[parent as usize] = low;
                }
                if self.low[v as usize] == self.index[v as usize] {
                    let at = self.stack.iter().rposition(|&x| x == v).unwrap_or(0);
                    for &x in &self.stack[at..] {
                        self.on_stack[x as usize] = false;
                    }
                    emit(&self.stack[at..]);
                    self.stack.truncate(at);
                }
            }
        }
        scanned
    }

    fn open(&mut self, v: u32, round: u64, counter: &mut u32) {
        let i = v as usize;
        self.visited_at[i] = round;
        self.index[i] = *counter;
        self.low[i] = *counter;
        *counter += 1;
        self.on_stack[i] = true;
        self.stack.push(v);
        self.calls.push((v, 0));
    }
}

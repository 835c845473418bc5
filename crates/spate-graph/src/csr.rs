//! Immutable compressed graphs for whole-graph passes (static PageRank, power iteration).

use crate::error::GraphError;
use crate::event::{EdgeEvent, NodeId};
use crate::graph::DirectedGraph;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Rows per slice: a slice's rows are summed side by side, one accumulator each, so a pass
/// keeps this many independent gathers in flight and its loop length changes once per slice
/// instead of once per row.
const LANES: usize = 8;

/// Source slots per chunk when building rows from a dynamic graph.
const BUILD_CHUNK: usize = 4096;

/// Work per rayon task (entries + rows): large enough to amortize scheduling, small enough
/// that a few cores stay balanced when the first rows hold the hubs' long in-lists.
const TASK_WORK: usize = 1 << 15;

/// Adds per-task partial sums in task order, so the result does not depend on how rayon
/// split the work (a float sum's rounding depends on its order).
pub(crate) fn ordered_sum(parts: impl IndexedParallelIterator<Item = f64>) -> f64 {
    parts.collect::<Vec<f64>>().into_iter().sum()
}

/// Sums a pull pass produces besides the new vector, over all rows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct PassSums {
    /// `Σ_v |next[v] − prev[v]|`: the L1 norm of the step (and so of `prev`'s residual).
    pub(crate) step: f64,
    /// `Σ_v next[v]`.
    pub(crate) sum: f64,
    /// `Σ next[v]` over dangling `v` (no out-weight), the mass PageRank redistributes.
    pub(crate) dangling: f64,
}

impl PassSums {
    fn add(self, o: Self) -> Self {
        Self {
            step: self.step + o.step,
            sum: self.sum + o.sum,
            dangling: self.dangling + o.dangling,
        }
    }
}

/// In-edge ("pull") rows: row `v` lists the sources of the edges into `v`. Pulling lets every
/// row be computed independently, so the pass parallelizes with no atomics.
///
/// Rows are stored in slices of [`LANES`] consecutive rows (the "sliced ELLPACK" layout of
/// sparse matrix–vector products): a slice is as long as its longest row, entries are
/// interleaved lane by lane (entry `j` of row `s·LANES + r` at `start[s] + j·LANES + r`), and
/// shorter rows are padded with the source `n` (one past the last node), whose scaled value is
/// always 0. The graph's numbering sorts rows by decreasing in-degree ([`locality_order`]), so
/// rows of a slice have nearly equal length and padding is small; each row's sources keep
/// their order, so a row sums exactly as a plain compressed row would.
///
/// Serializable for checkpoints of rows kept across batches; a deserialized value must pass
/// [`check`](Self::check) before a pass reads it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct InCsr {
    /// `start[s]`: first entry of slice `s`; one more element than there are slices.
    start: Vec<usize>,
    /// Lane-interleaved sources, `n` in padding.
    sources: Vec<u32>,
    /// Weights in the same layout (0 in padding); `None` when every weight is 1: the pass
    /// then streams only `sources`.
    pub(crate) weights: Option<Vec<f64>>,
    /// `1 / out-weight`, or 0 for a node with no out-edges (dangling).
    inv_out: Vec<f64>,
    /// Distinct edges (entries that are not padding).
    edges: usize,
    /// Row ranges of the parallel tasks: task `t` covers rows `tasks[t]..tasks[t + 1]`, a
    /// multiple of [`LANES`] except at the end. Fixed by the graph, so the pass's sums are
    /// added in the same order whatever the thread count.
    tasks: Vec<usize>,
}

/// `1/w`, or 0 where `w` is 0 (a dangling node): how every pass scales by out-weight.
#[inline]
pub(crate) fn inverse_weight(w: f64) -> f64 {
    if w > 0.0 { 1.0 / w } else { 0.0 }
}

/// [`inverse_weight`] of each weight.
fn inverse(weights: &[f64]) -> Vec<f64> {
    weights.iter().map(|&w| inverse_weight(w)).collect()
}

/// The node numbering of every compressed graph: by decreasing in-degree, ties by decreasing
/// out-degree (then the given order). Rows of a slice then have nearly equal length (little
/// padding), and the values gathered most — those of nodes with many out-edges, which on
/// real graphs mostly also have many in-edges — sit together in a small, cache-resident
/// prefix.
pub(crate) fn locality_order(
    nodes: impl Iterator<Item = u32>,
    in_degree: impl Fn(u32) -> usize,
    out_degree: impl Fn(u32) -> usize,
) -> Vec<u32> {
    // A radix sort on two keys: stable counting sorts, by the minor key first.
    let keyed: Vec<(usize, usize, u32)> = nodes.map(|u| (in_degree(u), out_degree(u), u)).collect();
    let by_out = counting_sort_descending(keyed, |k| k.1);
    counting_sort_descending(by_out, |k| k.0)
        .into_iter()
        .map(|k| k.2)
        .collect()
}

/// Stable sort by decreasing `key`, in O(len + max key).
fn counting_sort_descending<T: Copy>(items: Vec<T>, key: impl Fn(&T) -> usize) -> Vec<T> {
    let Some(max) = items.iter().map(&key).max() else {
        return items;
    };
    // at[max - k]: where the next item with key k goes.
    let mut at = vec![0usize; max + 2];
    for item in &items {
        at[max - key(item) + 1] += 1;
    }
    for i in 1..at.len() {
        at[i] += at[i - 1];
    }
    let mut sorted = items.clone();
    for item in items {
        let slot = &mut at[max - key(&item)];
        sorted[*slot] = item;
        *slot += 1;
    }
    sorted
}

/// Where entry `j` of row `v` sits, given the slices' starts: slices interleave their rows
/// lane by lane.
#[inline]
fn entry_of(start: &[usize], v: usize, j: usize) -> usize {
    start[v / LANES] + j * LANES + v % LANES
}

/// Splits `data` into the tasks' row ranges.
fn split_rows<'a>(mut data: &'a mut [f64], tasks: &[usize]) -> Vec<&'a mut [f64]> {
    let mut parts = Vec::with_capacity(tasks.len().saturating_sub(1));
    for w in tasks.windows(2) {
        let (head, tail) = data.split_at_mut(w[1] - w[0]);
        parts.push(head);
        data = tail;
    }
    parts
}

impl InCsr {
    /// Build from `(src, dst, weight)` triples over dense indices `< n`, each pair at most once,
    /// ordered by source within each destination (so each row's sources come out in
    /// increasing order, and the gather walks memory forward).
    pub(crate) fn from_triples(n: usize, triples: &[(u32, u32, f64)]) -> Self {
        let mut in_degree = vec![0usize; n];
        let mut out_weight = vec![0.0; n];
        for &(u, v, w) in triples {
            in_degree[v as usize] += 1;
            out_weight[u as usize] += w;
        }
        let unit = triples.iter().all(|t| t.2 == 1.0);
        let mut csr = Self::with_rows(&in_degree, unit);
        let mut fill = vec![0u32; n];
        for &(u, v, w) in triples {
            csr.place(&mut fill, u, v, w);
        }
        csr.inv_out = inverse(&out_weight);
        csr
    }

    /// Build over the graph's nodes, numbered in [`locality_order`]; returns the rows and the
    /// order (`order[local] = dense slot`). Each row lists its sources in slot order.
    ///
    /// In parallel and with no row sorting: chunks of sources, read in slot order (the order
    /// their out-lists were made, far kinder to the caches than the numbering's), bucket
    /// their edges by the task that owns the destination row; then each task places its
    /// buckets, chunk by chunk, in its own contiguous run of slices.
    pub(crate) fn from_graph(g: &DirectedGraph) -> (Self, Vec<u32>) {
        let live = g.live_mask();
        let slots = (0..live.len() as u32).filter(|&i| live[i as usize]);
        let order = locality_order(
            slots,
            |u| g.in_degree_of(u) as usize,
            |u| g.out_edges(u).len(),
        );
        let mut local = vec![u32::MAX; g.capacity()];
        for (l, &slot) in order.iter().enumerate() {
            local[slot as usize] = l as u32;
        }
        let in_degree: Vec<usize> = order.iter().map(|&v| g.in_degree_of(v) as usize).collect();
        let unit = g.is_unweighted();
        let mut csr = Self::with_rows(&in_degree, unit);
        let tasks = csr.tasks.len() - 1;
        let mut task_of_slice = vec![0u32; order.len().div_ceil(LANES)];
        for (t, rows) in csr.tasks.windows(2).enumerate() {
            task_of_slice[rows[0] / LANES..rows[1].div_ceil(LANES)].fill(t as u32);
        }
        // Per chunk of source slots, its edges as (destination row, source, weight) grouped
        // by task (a counting sort: count, then place), and where each task's group starts.
        let task_of = |v: u32| task_of_slice[v as usize / LANES] as usize;
        let chunks = live.len().div_ceil(BUILD_CHUNK);
        let buckets: Vec<(Vec<(u32, u32, f64)>, Vec<usize>)> = (0..chunks)
            .into_par_iter()
            .map(|c| {
                let slots = || {
                    (c * BUILD_CHUNK..((c + 1) * BUILD_CHUNK).min(live.len())).filter(|&u| live[u])
                };
                let mut at = vec![0usize; tasks + 1];
                for u in slots() {
                    for e in g.out_edges(u as u32) {
                        at[task_of(local[e.dst as usize]) + 1] += 1;
                    }
                }
                for t in 0..tasks {
                    at[t + 1] += at[t];
                }
                let bounds = at.clone();
                let mut grouped = vec![(0, 0, 0.0); at[tasks]];
                for u in slots() {
                    let src = local[u];
                    for e in g.out_edges(u as u32) {
                        let v = local[e.dst as usize];
                        let slot = &mut at[task_of(v)];
                        grouped[*slot] = (v, src, e.weight);
                        *slot += 1;
                    }
                }
                (grouped, bounds)
            })
            .collect();
        let mut runs: Vec<(&mut [u32], Option<&mut [f64]>)> = Vec::with_capacity(tasks);
        let (mut sources, mut weights) = (&mut csr.sources[..], csr.weights.as_deref_mut());
        for rows in csr.tasks.windows(2) {
            let len = csr.start[rows[1].div_ceil(LANES)] - csr.start[rows[0] / LANES];
            let (head, tail) = std::mem::take(&mut sources).split_at_mut(len);
            sources = tail;
            let head_weights = weights.take().map(|w| {
                let (head, tail) = w.split_at_mut(len);
                weights = Some(tail);
                head
            });
            runs.push((head, head_weights));
        }
        let (start, task_rows) = (&csr.start, &csr.tasks);
        runs.into_par_iter()
            .enumerate()
            .for_each(|(t, (sources, mut weights))| {
                let (first, base) = (task_rows[t], start[task_rows[t] / LANES]);
                let mut fill = vec![0usize; task_rows[t + 1] - first];
                for (grouped, bounds) in &buckets {
                    for &(v, u, w) in &grouped[bounds[t]..bounds[t + 1]] {
                        let v = v as usize;
                        let at = entry_of(start, v, fill[v - first]) - base;
                        fill[v - first] += 1;
                        sources[at] = u;
                        if let Some(ws) = weights.as_deref_mut() {
                            ws[at] = w;
                        }
                    }
                }
            });
        let out_weight: Vec<f64> = order.iter().map(|&u| g.out_weight_of(u)).collect();
        csr.inv_out = inverse(&out_weight);
        (csr, order)
    }

    /// Empty slices (every entry padding) sized for rows of the given in-degrees, and the
    /// task ranges.
    fn with_rows(in_degree: &[usize], unit: bool) -> Self {
        let n = in_degree.len();
        let mut start = Vec::with_capacity(n.div_ceil(LANES) + 1);
        let mut tasks = vec![0];
        let (mut total, mut work) = (0, 0);
        start.push(0);
        for (s, rows) in in_degree.chunks(LANES).enumerate() {
            let len = rows.iter().copied().max().unwrap_or(0) * LANES;
            total += len;
            start.push(total);
            work += len + LANES;
            if work >= TASK_WORK {
                tasks.push(((s + 1) * LANES).min(n));
                work = 0;
            }
        }
        if *tasks.last().expect("starts with 0") < n {
            tasks.push(n);
        }
        Self {
            start,
            sources: vec![Self::pad_for(n); total],
            weights: if unit { None } else { Some(vec![0.0; total]) },
            inv_out: Vec::new(),
            edges: in_degree.iter().sum(),
            tasks,
        }
    }

    /// The padding source for `n` nodes: one past the last node.
    fn pad_for(n: usize) -> u32 {
        u32::try_from(n).expect("node indices are u32, so n <= u32::MAX")
    }

    /// Appends edge `u → v` (weight `w`) to row `v`; `fill[v]` counts row `v`'s entries.
    #[inline]
    fn place(&mut self, fill: &mut [u32], u: u32, v: u32, w: f64) {
        let (v, j) = (v as usize, fill[v as usize] as usize);
        let at = entry_of(&self.start, v, j);
        self.sources[at] = u;
        if let Some(ws) = self.weights.as_mut() {
            ws[at] = w;
        }
        fill[v] += 1;
    }

    pub(crate) fn nodes(&self) -> usize {
        self.inv_out.len()
    }

    /// `1 / out-weight` per row (0: dangling).
    pub(crate) fn inv_out(&self) -> &[f64] {
        &self.inv_out
    }

    /// Row `v`'s value divided by its out-weight (0 for a dangling row), as a pass writes it.
    #[inline]
    pub(crate) fn scaled(&self, v: usize, value: f64) -> f64 {
        value * self.inv_out[v]
    }

    /// Replace row `v`'s out-weight (0: dangling) for later passes.
    pub(crate) fn set_out_weight(&mut self, v: usize, weight: f64) {
        self.inv_out[v] = inverse_weight(weight);
    }

    /// Whether the layout is consistent (what a pass relies on not to index out of bounds):
    /// for rows read back from a checkpoint.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let n = self.nodes();
        let slices = n.div_ceil(LANES);
        if self.start.len() != slices + 1 || self.start[0] != 0 {
            return Err("row slices do not match the rows");
        }
        if self
            .start
            .windows(2)
            .any(|w| w[1] < w[0] || (w[1] - w[0]) % LANES != 0)
        {
            return Err("row slices out of order");
        }
        if self.sources.len() != self.start[slices] {
            return Err("row entries do not match the slices");
        }
        let pad = u32::try_from(n).map_err(|_| "too many rows")?;
        if self.sources.iter().any(|&u| u > pad) {
            return Err("row entry out of range");
        }
        if self.sources.iter().filter(|&&u| u != pad).count() != self.edges {
            return Err("row entries do not match the edge count");
        }
        if let Some(w) = &self.weights
            && (w.len() != self.sources.len() || w.iter().any(|w| !w.is_finite()))
        {
            return Err("row weights do not match the entries");
        }
        if self.inv_out.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err("out-weight out of range");
        }
        let tasks = &self.tasks;
        if tasks.first() != Some(&0)
            || tasks.last() != Some(&n)
            || tasks.windows(2).any(|w| w[1] <= w[0] || w[0] % LANES != 0)
        {
            return Err("task ranges do not cover the rows");
        }
        Ok(())
    }

    pub(crate) fn edges(&self) -> usize {
        self.edges
    }

    /// A zeroed vector for scaled values: one slot per node plus the padding slot.
    pub(crate) fn scaled_vector(&self) -> Vec<f64> {
        vec![0.0; self.nodes() + 1]
    }

    /// `y[u] = x[u] / out-weight(u)` (0 for dangling `u`) into a [`Self::scaled_vector`];
    /// returns the sum of `x` over dangling nodes, whose mass PageRank redistributes.
    /// Partial sums are added in task order (as in [`pull`](Self::pull)), so results do not
    /// depend on the thread schedule.
    pub(crate) fn scale_by_out_weight(&self, x: &[f64], y: &mut [f64]) -> f64 {
        let n = self.nodes();
        assert_eq!(y.len(), n + 1, "a scaled vector has a padding slot");
        y[n] = 0.0;
        let per_task = split_rows(&mut y[..n], &self.tasks)
            .into_par_iter()
            .zip(self.tasks.par_windows(2))
            .map(|(y, rows)| {
                let (x, inv) = (&x[rows[0]..rows[1]], &self.inv_out[rows[0]..rows[1]]);
                let mut dangling = 0.0;
                for ((y, &x), &inv) in y.iter_mut().zip(x).zip(inv) {
                    *y = x * inv;
                    if inv == 0.0 {
                        dangling += x;
                    }
                }
                dangling
            });
        ordered_sum(per_task)
    }

    /// One pull pass: `next[v] = finish(v, Σ_{u→v} w_uv · y[u])` from a scaled vector `y`,
    /// and `next`'s own scaled vector into `y_next` (as [`scale_by_out_weight`] would, in the
    /// same pass); returns the step's L1 norm against `prev`, `Σ next` and its dangling part.
    /// `y` and `y_next` are [`Self::scaled_vector`]s.
    ///
    /// [`scale_by_out_weight`]: Self::scale_by_out_weight
    pub(crate) fn pull<F>(
        &self,
        y: &[f64],
        prev: &[f64],
        next: &mut [f64],
        y_next: &mut [f64],
        finish: F,
    ) -> PassSums
    where
        F: Fn(usize, f64) -> f64 + Sync,
    {
        let n = self.nodes();
        assert!(y.len() == n + 1 && y_next.len() == n + 1 && y[n] == 0.0);
        y_next[n] = 0.0;
        let parts: Vec<(&mut [f64], &mut [f64])> = split_rows(next, &self.tasks)
            .into_iter()
            .zip(split_rows(&mut y_next[..n], &self.tasks))
            .collect();
        let slices = self.slices();
        let per_task =
            parts
                .into_par_iter()
                .zip(self.tasks.par_windows(2))
                .map(|((next, y_next), rows)| {
                    let prev = &prev[rows[0]..rows[1]];
                    pull_rows(slices, rows[0], y, prev, next, y_next, &finish)
                });
        per_task
            .collect::<Vec<PassSums>>()
            .into_iter()
            .fold(PassSums::default(), PassSums::add)
    }

    /// The rows as a pass reads them.
    fn slices(&self) -> Slices<'_> {
        Slices {
            start: &self.start,
            sources: &self.sources,
            weights: self.weights.as_deref(),
            inv_out: &self.inv_out,
        }
    }

    /// Bytes one pull pass over plain compressed rows must move at least: the row offsets,
    /// sources, weights, one read of the scaled vector, one read of the previous vector and
    /// one write of the next.
    pub(crate) fn pass_bytes(&self) -> usize {
        let n = self.nodes();
        let m = self.edges();
        (n + 1) * std::mem::size_of::<usize>()
            + m * 4
            + self.weights.as_ref().map_or(0, |_| m * 8)
            + 3 * n * 8
    }
}

/// What a pass reads of an [`InCsr`], borrowed, so that [`pull_rows`] can be a free function
/// (function multiversioning does not take methods).
#[derive(Clone, Copy)]
struct Slices<'a> {
    start: &'a [usize],
    sources: &'a [u32],
    weights: Option<&'a [f64]>,
    inv_out: &'a [f64],
}

impl Slices<'_> {
    /// The row sums of slice `s`: lane `r` is `Σ w · y[u]` over row `s·LANES + r`'s sources,
    /// added in the row's order.
    #[inline(always)]
    fn sums(&self, s: usize, y: &[f64]) -> [f64; LANES] {
        let (a, b) = (self.start[s], self.start[s + 1]);
        let mut acc = [0.0; LANES];
        match self.weights {
            None => {
                for src in self.sources[a..b].chunks_exact(LANES) {
                    let src: &[u32; LANES] = src.try_into().expect("exact chunk");
                    for r in 0..LANES {
                        acc[r] += y[src[r] as usize];
                    }
                }
            }
            Some(w) => {
                for (src, w) in self.sources[a..b]
                    .chunks_exact(LANES)
                    .zip(w[a..b].chunks_exact(LANES))
                {
                    let src: &[u32; LANES] = src.try_into().expect("exact chunk");
                    let w: &[f64; LANES] = w.try_into().expect("exact chunk");
                    for r in 0..LANES {
                        acc[r] += w[r] * y[src[r] as usize];
                    }
                }
            }
        }
        acc
    }
}

/// [`InCsr::pull`] over the rows from `first` (a multiple of [`LANES`]) on, as many as `next`
/// holds. Sums are kept per lane and added at the end, so no row waits for the previous row's
/// additions.
///
/// Compiled twice, for baseline x86-64 and for AVX2, and picked once at run time: with AVX2
/// the per-row part (finish, step, sums, the scaled vector) runs 4 lanes wide instead of 2.
/// Rust never fuses a multiply and an add on its own, so both versions round alike and a
/// pass's results do not depend on the machine.
#[multiversion::multiversion(targets("x86_64+avx+avx2"))]
fn pull_rows<F>(
    rows: Slices<'_>,
    first: usize,
    y: &[f64],
    prev: &[f64],
    next: &mut [f64],
    y_next: &mut [f64],
    finish: &F,
) -> PassSums
where
    F: Fn(usize, f64) -> f64,
{
    let inv_out = &rows.inv_out[first..first + next.len()];
    let (mut step, mut sum, mut dangling) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
    let whole = next.len() / LANES * LANES;
    for (s, (((next, y_next), prev), inv)) in next[..whole]
        .chunks_exact_mut(LANES)
        .zip(y_next[..whole].chunks_exact_mut(LANES))
        .zip(prev[..whole].chunks_exact(LANES))
        .zip(inv_out[..whole].chunks_exact(LANES))
        .enumerate()
    {
        let v = first + s * LANES;
        let acc = rows.sums(v / LANES, y);
        for r in 0..LANES {
            let value = finish(v + r, acc[r]);
            step[r] += (value - prev[r]).abs();
            sum[r] += value;
            dangling[r] += if inv[r] == 0.0 { value } else { 0.0 };
            next[r] = value;
            y_next[r] = value * inv[r];
        }
    }
    // The last slice may hold fewer than LANES rows. (One loop over `chunks_mut` for both
    // made the static iteration 10-15% slower: the fixed-length lanes unroll.)
    let v = first + whole;
    if whole < next.len() {
        let acc = rows.sums(v / LANES, y);
        for r in 0..next.len() - whole {
            let value = finish(v + r, acc[r]);
            step[r] += (value - prev[whole + r]).abs();
            sum[r] += value;
            dangling[r] += if inv_out[whole + r] == 0.0 {
                value
            } else {
                0.0
            };
            next[whole + r] = value;
            y_next[whole + r] = value * inv_out[whole + r];
        }
    }
    PassSums {
        step: step.iter().sum(),
        sum: sum.iter().sum(),
        dangling: dangling.iter().sum(),
    }
}

/// An immutable directed graph in compressed form, the input of static [`crate::PageRank`].
///
/// Parallel edges are summed into one weighted edge; nodes are those that appear in an edge
/// (plus any added with [`CsrGraph::from_edges_and_nodes`]).
#[derive(Clone, Debug, Default)]
pub struct CsrGraph {
    pub(crate) ids: Vec<NodeId>,
    pub(crate) index: FxHashMap<NodeId, u32>,
    pub(crate) csr: InCsr,
}

impl CsrGraph {
    /// Build from `(src, dst, weight)` edges. Parallel edges are summed.
    ///
    /// # Errors
    /// [`GraphError::EdgeWeight`] for a weight that is not [`EdgeEvent::is_valid_weight`]
    /// (finite, between [`EdgeEvent::MIN_WEIGHT`] and [`EdgeEvent::MAX_WEIGHT`]), or one that
    /// takes its source's summed out-weight above [`EdgeEvent::MAX_WEIGHT`];
    /// [`GraphError::TooLarge`] beyond `u32::MAX` nodes.
    pub fn from_edges<I>(edges: I) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = (NodeId, NodeId, f64)>,
    {
        Self::from_edges_and_nodes(edges, std::iter::empty())
    }

    /// Build from edges plus extra (possibly isolated) nodes, as networkx does for a graph
    /// with isolated nodes.
    ///
    /// # Errors
    /// As [`CsrGraph::from_edges`].
    pub fn from_edges_and_nodes<I, J>(edges: I, nodes: J) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = (NodeId, NodeId, f64)>,
        J: IntoIterator<Item = NodeId>,
    {
        let mut ids = Vec::new();
        let mut index: FxHashMap<NodeId, u32> = FxHashMap::default();
        let mut intern = |id: NodeId, ids: &mut Vec<NodeId>| -> Result<u32, GraphError> {
            if let Some(&i) = index.get(&id) {
                return Ok(i);
            }
            let i = u32::try_from(ids.len()).map_err(|_| GraphError::TooLarge {
                what: "nodes",
                max: u64::from(u32::MAX),
            })?;
            ids.push(id);
            index.insert(id, i);
            Ok(i)
        };
        let mut pairs: FxHashMap<(u32, u32), f64> = FxHashMap::default();
        // Summed out-weight per node so far, bounded like a dynamic graph's.
        let mut out_weight: Vec<f64> = Vec::new();
        for (s, d, w) in edges {
            let bad = GraphError::EdgeWeight {
                src: s,
                dst: d,
                weight: w,
            };
            if !EdgeEvent::is_valid_weight(w) {
                return Err(bad);
            }
            let u = intern(s, &mut ids)?;
            let v = intern(d, &mut ids)?;
            out_weight.resize(ids.len(), 0.0);
            // Both terms are at most MAX_WEIGHT, so the sum is finite.
            let out = out_weight[u as usize] + w;
            if out > EdgeEvent::MAX_WEIGHT {
                return Err(bad);
            }
            out_weight[u as usize] = out;
            *pairs.entry((u, v)).or_insert(0.0) += w;
        }
        for id in nodes {
            intern(id, &mut ids)?;
        }
        let (mut in_degree, mut out_degree) = (vec![0usize; ids.len()], vec![0usize; ids.len()]);
        for &(u, v) in pairs.keys() {
            out_degree[u as usize] += 1;
            in_degree[v as usize] += 1;
        }
        let order = locality_order(
            0..ids.len() as u32,
            |u| in_degree[u as usize],
            |u| out_degree[u as usize],
        );
        let mut local = vec![0u32; ids.len()];
        for (l, &i) in order.iter().enumerate() {
            local[i as usize] = l as u32;
        }
        let mut triples: Vec<(u32, u32, f64)> = pairs
            .into_iter()
            .map(|((u, v), w)| (local[u as usize], local[v as usize], w))
            .collect();
        // Hash order is arbitrary; fix it so sums (and so results) are reproducible.
        triples.sort_unstable_by_key(|&(u, v, _)| (v, u));
        let csr = InCsr::from_triples(ids.len(), &triples);
        let ids: Vec<NodeId> = order.iter().map(|&i| ids[i as usize]).collect();
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        Ok(Self { ids, index, csr })
    }

    /// A compact snapshot of a dynamic graph's current edges.
    #[must_use]
    pub fn from_graph(g: &DirectedGraph) -> Self {
        let (csr, order) = InCsr::from_graph(g);
        let ids: Vec<NodeId> = order.iter().map(|&i| g.index().id(i)).collect();
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        Self { ids, index, csr }
    }

    /// Number of nodes.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.ids.len()
    }

    /// Number of distinct edges.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.csr.edges()
    }

    /// Whether every edge has weight exactly 1 (the pass then skips the weight array).
    #[must_use]
    pub fn is_unweighted(&self) -> bool {
        self.csr.weights.is_none()
    }

    /// The node ids in dense-index order.
    #[must_use]
    pub fn node_ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// Bytes a PageRank iteration must move at least (offsets, sources, weights if any, and
    /// three passes over rank vectors): the denominator of a memory-bandwidth comparison.
    #[must_use]
    pub fn pass_bytes(&self) -> usize {
        self.csr.pass_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Dense reference: `next[v] = finish(Σ_{u→v} w · y[u])` with each row summed in source
    /// order, as plain compressed rows would.
    fn reference(n: usize, triples: &[(u32, u32, f64)], y: &[f64]) -> Vec<f64> {
        let mut rows = vec![Vec::new(); n];
        for &(u, v, w) in triples {
            rows[v as usize].push((u, w));
        }
        rows.iter()
            .map(|row| {
                let mut sum = 0.0;
                for &(u, w) in row {
                    sum += w * y[u as usize];
                }
                0.5 * sum + 1.0
            })
            .collect()
    }

    /// Up to `n` nodes and skewed in-degrees (a few hubs), as sorted, distinct triples.
    fn graph(max_nodes: usize) -> impl Strategy<Value = (usize, Vec<(u32, u32, f64)>, bool)> {
        (1..max_nodes).prop_flat_map(|n| {
            let edge = (0..n as u32, 0..n as u32, 0..4u32, 1..5u32);
            (
                Just(n),
                prop::collection::vec(edge, 0..n * 6),
                any::<bool>(),
            )
                .prop_map(|(n, edges, weighted)| {
                    let mut triples: Vec<(u32, u32, f64)> = edges
                        .into_iter()
                        // Squeeze a quarter of destinations onto the first few nodes.
                        .map(|(u, v, hub, w)| {
                            let v = if hub == 0 { v % 3.min(n as u32) } else { v };
                            (u, v, if weighted { f64::from(w) } else { 1.0 })
                        })
                        .collect();
                    triples.sort_by_key(|&(u, v, _)| (v, u));
                    triples.dedup_by_key(|t| (t.0, t.1));
                    (n, triples, weighted)
                })
        })
    }

    proptest! {
        /// The sliced rows sum every row exactly as plain rows do, whatever the row lengths
        /// (padding, a last slice with fewer than LANES rows), and the pass's other outputs
        /// match their definitions.
        #[test]
        fn a_pull_pass_equals_plain_rows((n, triples, weighted) in graph(300)) {
            let csr = InCsr::from_triples(n, &triples);
            prop_assert_eq!(csr.edges(), triples.len());
            prop_assert_eq!(csr.weights.is_some(), weighted && triples.iter().any(|t| t.2 != 1.0));
            let x: Vec<f64> = (0..n).map(|i| 1.0 / (i + 2) as f64).collect();
            let mut y = csr.scaled_vector();
            let dangling = csr.scale_by_out_weight(&x, &mut y);
            let expected = reference(n, &triples, &y);
            let mut next = vec![0.0; n];
            let mut y_next = csr.scaled_vector();
            let sums = csr.pull(&y, &x, &mut next, &mut y_next, |_, s| 0.5 * s + 1.0);
            prop_assert_eq!(&next, &expected);

            let mut out_weight = vec![0.0; n];
            for &(u, _, w) in &triples {
                out_weight[u as usize] += w;
            }
            let is_dangling = |v: usize| out_weight[v] == 0.0;
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            let want_dangling: f64 = (0..n).filter(|&v| is_dangling(v)).map(|v| x[v]).sum();
            prop_assert!(close(dangling, want_dangling));
            let step: f64 = (0..n).map(|v| (next[v] - x[v]).abs()).sum();
            prop_assert!(close(sums.step, step));
            prop_assert!(close(sums.sum, next.iter().sum()));
            let next_dangling: f64 = (0..n).filter(|&v| is_dangling(v)).map(|v| next[v]).sum();
            prop_assert!(close(sums.dangling, next_dangling));
            for v in 0..n {
                let want = if is_dangling(v) { 0.0 } else { next[v] / out_weight[v] };
                prop_assert!(close(y_next[v], want));
            }
            prop_assert_eq!(y_next[n], 0.0);
        }
    }

    proptest! {
        /// The radix sort orders as a stable sort by (in-degree, out-degree), both decreasing.
        #[test]
        fn locality_order_is_a_stable_sort_by_degrees(
            degrees in prop::collection::vec((0..20usize, 0..20usize), 0..200),
        ) {
            let nodes = (0..degrees.len() as u32).rev();
            let order = locality_order(
                nodes.clone(),
                |u| degrees[u as usize].0,
                |u| degrees[u as usize].1,
            );
            let mut expected: Vec<u32> = nodes.collect();
            expected.sort_by_key(|&u| std::cmp::Reverse(degrees[u as usize]));
            prop_assert_eq!(order, expected);
        }
    }

    /// Task ranges cover every row once, end on slice boundaries and do not depend on the
    /// thread count; so neither do the pass's sums, bit for bit.
    #[test]
    fn a_pass_is_the_same_on_any_number_of_threads() {
        let n = 20_000;
        let triples: Vec<(u32, u32, f64)> = {
            let mut t: Vec<(u32, u32, f64)> = (0..n as u32)
                .flat_map(|v| {
                    (0..(v % 13) + (if v < 20 { 2000 } else { 0 })).map(move |k| {
                        (
                            (v.wrapping_mul(2_654_435_761).wrapping_add(k * 7919)) % n as u32,
                            v,
                            1.0,
                        )
                    })
                })
                .collect();
            t.sort_by_key(|&(u, v, _)| (v, u));
            t.dedup_by_key(|t| (t.0, t.1));
            t
        };
        let csr = InCsr::from_triples(n, &triples);
        assert!(csr.tasks.len() > 3, "several tasks: {:?}", csr.tasks);
        assert_eq!((csr.tasks[0], *csr.tasks.last().expect("an end")), (0, n));
        assert!(
            csr.tasks
                .windows(2)
                .all(|w| w[0] < w[1] && w[0] % LANES == 0)
        );
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| {
                let x: Vec<f64> = (0..n).map(|i| 1.0 / (i + 3) as f64).collect();
                let mut y = csr.scaled_vector();
                csr.scale_by_out_weight(&x, &mut y);
                let mut next = vec![0.0; n];
                let mut y_next = csr.scaled_vector();
                let sums = csr.pull(&y, &x, &mut next, &mut y_next, |_, s| 0.85 * s + 0.15);
                (next, y_next, sums)
            })
        };
        assert_eq!(run(1), run(4));
    }
}

//! Incremental PageRank over an edge stream: residual push from the previous ranks, with a
//! proven L1 error bound after every batch and a cost-model switch to warm-started power
//! iteration.
//!
//! # Method
//! The state is an unnormalized score vector `z` and its residual
//! `r = τ t + α P̃ z − z` (`τ` a teleport scale, see below; 1 until power iteration has
//! run), kept exact (up to rounding) across batches, where `P̃` is the
//! transition matrix *without* dangling redistribution and `t` the teleport vector
//! (`1 − α` per node, or per personalization source). Because networkx's dangling nodes spread
//! their mass along the personalization vector, its ranks are exactly `z*/Σz*` for the fixed
//! point `z* = t + α P̃ z*` (and of `τ z*` for `τ t`). This keeps every operation local: a new
//! node only adds `τ (1 − α)` to its own residual, and no step ever touches all nodes.
//!
//! * An edge change at `u` moves residual only at `u`'s out-neighbours: O(out-degree(u)).
//! * A push at `v` moves `r_v` into `z_v` and `α r_v` along `v`'s out-edges: O(out-degree(v)).
//! * The certificate: `x = z/Σz` has, in networkx's own column-stochastic iteration
//!   `x ↦ α(Pᵀx + (Σ_dangling x) p) + (1 − α) p`, the residual `(r − (Σr) p)/Σz`, so
//!   `‖x − x*‖₁ ≤ ‖r − (Σr) p‖₁ / ((1 − α) Σz)` — the `‖r‖₁/(1 − α)` bound of the normalized
//!   residual, proven, and computed exactly in O(n) after every batch.
//! * Warm-started power iteration runs over compressed in-edge rows that are built once and
//!   kept across batches: a later batch patches its changed sources' out-weights and adds a
//!   correction per changed edge, so a small batch costs its passes, not a rebuild, until the
//!   corrections have cost as much as a rebuild (or reach 1/8 of the graph). The kept rows
//!   are part of the checkpoint, so a restored updater continues bit for bit.
//! * Passes iterate networkx's own map (dangling mass spread along the teleport), up to
//!   scale: each adds the multiple `β t` of the teleport vector that keeps `Σz` fixed. The
//!   plain map's residual also carries an error in the total mass, which the ranks do not
//!   see but which shrinks only by α per pass; without it a 100-edge batch needs 3.2 passes
//!   instead of 3.8 and a 10,000-edge one 19 instead of 32. The last pair `(z, next)` is
//!   the plain map's for the teleport `β t`, so the state keeps a teleport scale `τ`
//!   (its residual is `τ t + α P̃ z − z`, with the same ranks) instead of converting back.
//! * Once power iteration has run, the state stays in the rows' numbering, with `z + r`
//!   (the next iterate) in place of `r`: a pass ends with exactly that pair and the next
//!   batch's passes start from it, so neither gathers, scatters nor sweeps the state.
//! * Before the passes, a head start pushes the residual a batch concentrated next to its
//!   changed edges (a few thousand edge visits), which passes would shrink only as fast as
//!   everything else.
//! * The certificate's sums are tracked from one solve to the next through every change the
//!   fix-up makes, with a bound on their rounding drift added to every bound derived from
//!   them, so a batch that needs no work costs no sweep over the state.

use super::rows::{KeptRows, KeptRowsRepr, NO_ROW, RowValues};
use super::{DEFAULT_DAMPING, Ranks, check_damping, check_personalization, check_tolerance};
use crate::csr::{inverse_weight, ordered_sum};
use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, NodeId};
use crate::graph::{DirectedGraph, GraphDelta};
use crate::window::EdgeWindow;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Fraction of the allowed residual a solve aims for, so that the next few small batches fit
/// in the slack and need no work at all.
const SLACK: f64 = 0.5;

/// The same fraction for power iteration: close to 1, as a batch that needs passes rarely
/// leaves room for the next, and stopping at 0.95 instead of 0.8 of the tolerance saves a
/// tenth of the passes of a stream of 10- and 100-edge batches (2.85 → 2.73 and 7.4 → 6.7 per
/// batch on soc-Epinions1).
const ITERATION_SLACK: f64 = 0.95;

/// Events per edge of the graph from which a batch goes straight to power iteration. On
/// soc-Epinions1 pushing stops paying between 0.02% and 0.2% (100 and 1,000 events on 489k
/// edges; a single changed edge costs a push ~36,000 visits there, a pass ~585,000), so at
/// 1% a push would need hundreds of passes' worth of visits; re-expressing the residual for
/// every changed source first would only add to the passes' cost. Smaller batches than
/// `LARGE_BATCH_MIN_EVENTS` always take the usual path: their fix-up is cheap, and on a small
/// graph the cost model's choice stays open.
const LARGE_BATCH: f64 = 0.01;
const LARGE_BATCH_MIN_EVENTS: usize = 1000;

/// A power iteration's head start (see [`IncrementalPageRank::head_start`]): each round
/// pushes the candidates holding this share of their residual (by residual per visit), ...
const HEAD_START_MASS: f64 = 0.6;
/// ... in this many rounds, ...
const HEAD_START_ROUNDS: usize = 4;
/// ... and the next round's candidates are the out-neighbours of the pushed nodes with at
/// most this out-degree (as the fix-up's are those of the changed sources): a push from a
/// node of higher degree spreads its residual too thin to be worth pushing again.
const HEAVY_DEGREE: usize = 16;

/// Prior for the learned push rate (see [`IncrementalPageRank`]'s cost model), measured on
/// soc-Epinions1 with batches of 1–100 edges.
const PUSH_RATE_PRIOR: f64 = 0.15;

/// A correction of the kept rows, or a row fixed after the pull, in streamed pass visits
/// (a few random accesses).
const CORRECTION_VISITS: f64 = 8.0;

/// Per-batch setup of power iteration over kept rows, in streamed pass visits per slot (a
/// gather into row order and a fresh scaled vector after pushes, the dead rows; the rows a
/// batch changed otherwise).
const SETUP_VISITS: f64 = 8.0;

/// How the state vectors `z` and `r` are indexed.
///
/// By slot (the graph's numbering) until the first power iteration; from then on by the kept
/// rows' numbering, which the passes work in, so a stream of batches that need passes never
/// permutes the state between the two (gathering it into row order and back cost ~0.8 ms of
/// a 100-edge batch's ~4.5 ms on soc-Epinions1). A push works by slot and moves the state back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
enum Home {
    #[default]
    Slots,
    /// By row of the kept rows (which then exist and give every live slot a row), and `r`
    /// holds the next iterate `z + r` instead of the residual: a power iteration ends with
    /// that vector and the next one starts from it (after the fix-up has moved it), so
    /// neither needs a sweep to form it, and its scaled vector is kept from the last pass.
    Rows,
}

/// How the updater may restore the error bound after a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateStrategy {
    /// Choose per batch by the cost model (push, with a fallback to power iteration).
    #[default]
    Auto,
    /// Always push (benchmarks; can be far slower than recomputing for large batches).
    Push,
    /// Always warm-started power iteration.
    PowerIteration,
}

/// What an update did to restore the error bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateMethod {
    /// Nothing: the previous ranks were still within tolerance of the new graph's.
    None,
    /// Residual push only.
    Push,
    /// Warm-started power iteration only.
    PowerIteration,
    /// Push ran out of its budget and handed over to power iteration.
    PushThenPowerIteration,
}

/// Machine constants of the cost model, in nanoseconds per edge visit. The defaults were
/// measured on the benchmark machine (2 cores); the choice only affects speed, never accuracy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// One edge visited by a push (sequential, random access).
    pub push_ns: f64,
    /// One edge visited by a power-iteration pass (parallel, streaming).
    pub iteration_ns: f64,
    /// One edge placed while building the compressed rows a power iteration needs.
    pub build_ns: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            push_ns: 22.0,
            iteration_ns: 1.0,
            build_ns: 31.0,
        }
    }
}

/// Per-batch account of an [`IncrementalPageRank::update`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageRankReport {
    /// Batch number, from 1.
    pub batch: u64,
    /// What the batch did to the graph.
    pub counts: BatchCounts,
    /// How the error bound was restored.
    pub method: UpdateMethod,
    /// Pushes performed.
    pub pushes: u64,
    /// Edges visited by pushes.
    pub push_edge_visits: u64,
    /// Power iterations performed.
    pub iterations: u64,
    /// Edges visited by power iterations (including building their compressed rows).
    pub iteration_edge_visits: u64,
    /// Edges visited to re-express the residual after the graph changed.
    pub fixup_edge_visits: u64,
    /// The cost model's prediction for pushing, in nanoseconds (0 when no work was needed).
    pub predicted_push_ns: f64,
    /// The cost model's prediction for power iteration, in nanoseconds.
    pub predicted_iteration_ns: f64,
    /// Error bound of the *previous* ranks against the new graph, before any work: what
    /// skipping the update would have cost (a looser form of the bound when the batch
    /// clearly needs work).
    pub stale_certificate: f64,
    /// Proven bound on the L1 distance of the current ranks to the exact PageRank.
    pub certificate: f64,
    /// `‖r‖₁ / Σz`: the residual of the normalized ranks.
    pub residual_l1: f64,
    /// Whether `certificate <= tolerance`. False when the tolerance is below what f64
    /// rounding can certify for this graph (see [`IncrementalPageRank::tolerance_floor`]:
    /// the batch then stops at that floor instead of iterating in vain) or when
    /// `max_iterations` cut the batch short; the ranks are still the best reached and
    /// `certificate` still bounds their error.
    #[serde(default = "converged_default")]
    pub converged: bool,
}

fn converged_default() -> bool {
    true
}

/// Checked configuration of [`IncrementalPageRank`]; see [`IncrementalPageRank::params`].
#[derive(Clone, Debug)]
pub struct IncrementalPageRankParams {
    damping: f64,
    tolerance: f64,
    sources: Vec<(NodeId, f64)>,
    window_batches: Option<usize>,
    strategy: UpdateStrategy,
    cost: CostModel,
    max_iterations: u64,
}

impl IncrementalPageRankParams {
    /// The damping factor α, in (0, 1). Default 0.85.
    #[must_use]
    pub fn damping(mut self, value: f64) -> Self {
        self.damping = value;
        self
    }

    /// Bound on the L1 error of the ranks after every batch. Default 1e-4.
    ///
    /// f64 rounding limits what can be certified: the floor is `8·n·ε / (0.95·(1 − α))`
    /// for a graph of `n` node slots (ε = 2.2e-16; ≈ 1.25e-14·n at α = 0.85, so ~1e-9 on a
    /// 76,000-node graph and ~1.3e-8 on 1M nodes; see
    /// [`IncrementalPageRank::tolerance_floor`]). A tolerance below the floor is accepted,
    /// but a batch then works only down to the floor, returns promptly with
    /// [`PageRankReport::converged`] `false` and a certificate at most the floor, and logs
    /// a warning (once per updater) — as networkx reports a failed convergence rather than
    /// iterating forever.
    #[must_use]
    pub fn tolerance(mut self, value: f64) -> Self {
        self.tolerance = value;
        self
    }

    /// Personalized PageRank: teleport and dangling mass go to these source nodes in
    /// proportion to the weights. The sources stay in the graph even without edges.
    #[must_use]
    pub fn personalization<I: IntoIterator<Item = (NodeId, f64)>>(mut self, sources: I) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// Keep only the edges inserted in the last `batches` batches (see [`EdgeWindow`]).
    #[must_use]
    pub fn window_batches(mut self, batches: usize) -> Self {
        self.window_batches = Some(batches);
        self
    }

    /// Force a method instead of the cost model's choice.
    #[must_use]
    pub fn strategy(mut self, strategy: UpdateStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Machine constants for the push/power-iteration choice.
    #[must_use]
    pub fn cost_model(mut self, cost: CostModel) -> Self {
        self.cost = cost;
        self
    }

    /// Power-iteration limit per batch (a safety net; the bound is reached long before).
    #[must_use]
    pub fn max_iterations(mut self, value: u64) -> Self {
        self.max_iterations = value;
        self
    }

    /// Check the parameters and create an updater over an empty graph.
    ///
    /// # Errors
    /// [`GraphError::Damping`], [`GraphError::Tolerance`], [`GraphError::WindowBatches`],
    /// [`GraphError::PersonalizationWeight`], [`GraphError::EmptyPersonalization`],
    /// [`GraphError::CostModel`] or [`GraphError::MaxIterations`].
    pub fn build(self) -> Result<IncrementalPageRank, GraphError> {
        check_damping(self.damping)?;
        check_tolerance(self.tolerance)?;
        if self.max_iterations == 0 {
            return Err(GraphError::MaxIterations);
        }
        for (name, value) in [
            ("push_ns", self.cost.push_ns),
            ("iteration_ns", self.cost.iteration_ns),
            ("build_ns", self.cost.build_ns),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(GraphError::CostModel { name, value });
            }
        }
        let window = self.window_batches.map(EdgeWindow::new).transpose()?;
        let mut graph = DirectedGraph::new();
        let mut teleport = Vec::new();
        if !self.sources.is_empty() {
            check_personalization(&self.sources)?;
            // Scaled so that equal weights give each source 1 − α, as every node gets without
            // personalization; only the direction of t matters. Weights so large that their
            // sum overflows, or so small that the scale does, are first divided by the
            // largest (which keeps the sum in [1, sources] and the scale finite).
            let len = self.sources.len() as f64;
            let scale_of = |unit: f64| {
                let total: f64 = self.sources.iter().map(|s| s.1 / unit).sum();
                (1.0 - self.damping) * len / total
            };
            let mut unit = 1.0;
            let mut scale = scale_of(unit);
            if !(scale.is_finite() && scale > 0.0) {
                unit = self.sources.iter().map(|s| s.1).fold(0.0, f64::max);
                scale = scale_of(unit);
            }
            for &(node, w) in &self.sources {
                let i = graph.pin(node) as usize;
                if teleport.len() <= i {
                    teleport.resize(i + 1, 0.0);
                }
                teleport[i] += w / unit * scale;
            }
            if !(teleport.iter().all(|t| t.is_finite()) && teleport.iter().any(|&t| t > 0.0)) {
                return Err(GraphError::EmptyPersonalization);
            }
        }
        let n = graph.capacity();
        teleport.resize(n, 0.0);
        let r = teleport.clone();
        let mut pr = IncrementalPageRank {
            damping: self.damping,
            tolerance: self.tolerance,
            strategy: self.strategy,
            cost: self.cost,
            max_iterations: self.max_iterations,
            personalized: !self.sources.is_empty(),
            teleport,
            graph,
            window,
            z: vec![0.0; n],
            r,
            home: Home::Slots,
            tracked: None,
            batches: 0,
            push_rate: PUSH_RATE_PRIOR,
            certificate: 0.0,
            frontier: Vec::new(),
            rows: None,
            rent_ns: 0.0,
            teleport_scale: 1.0,
            dangling_hint: None,
            scratch: Scratch::default(),
        };
        pr.certificate = pr.norms().certificate(pr.damping);
        Ok(pr)
    }
}

/// Incremental PageRank over a stream of edge batches, with a proven L1 error bound after
/// every batch.
///
/// Each [`update`](Self::update) applies a batch (inserts, deletes, window expiries), moves the
/// residual where the graph changed, and — only if the bound then exceeds the tolerance —
/// pushes residual or, when the batch is too large for pushing to win, runs warm-started power
/// iteration. See the [module docs](self) for the method and the certificate.
///
/// # Cost model
/// Pushing is predicted to cost `ν (n + m) (‖r‖₁ − target) / target` edge visits, with the
/// rate `ν` learned from earlier pushes; power iteration `build + k (n + m)` with
/// `k = max(1, ⌈ln(target'/‖r‖₁) / ln α⌉ − 1)` (it contracts the residual by at least α per
/// pass, stops at its own target `target'` with less slack than a push's, and takes its first
/// step from the known residual without a pass). Both are converted
/// to time with [`CostModel`] and the cheaper runs; a push that exceeds twice the power
/// iteration's predicted time hands over to power iteration (keeping its progress), so a batch
/// never costs much more than a warm-started recomputation. A batch of at least 1% of the
/// edges (and 1,000 events) skips the model and goes straight to power iteration, without
/// first re-expressing the residual source by source.
///
/// ```
/// use spate_graph::{EdgeEvent, IncrementalPageRank};
///
/// let mut pr = IncrementalPageRank::params().tolerance(1e-6).build()?;
/// let report = pr.update(&[
///     EdgeEvent::insert(1, 2),
///     EdgeEvent::insert(2, 3),
///     EdgeEvent::insert(3, 1),
///     EdgeEvent::insert(4, 1),
/// ]);
/// assert!(report.certificate <= 1e-6);
/// let top = pr.top_k(1);
/// assert_eq!(top[0].0, 1);
/// pr.update(&[EdgeEvent::delete(4, 1)]);
/// assert_eq!(pr.node_count(), 3);
/// assert!((pr.rank(1).unwrap_or(0.0) - 1.0 / 3.0).abs() <= 1e-6);
/// # Ok::<(), spate_graph::GraphError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "PageRankState")]
pub struct IncrementalPageRank {
    damping: f64,
    tolerance: f64,
    strategy: UpdateStrategy,
    cost: CostModel,
    max_iterations: u64,
    personalized: bool,
    /// Teleport per dense index (personalized mode only; empty-graph slots are 0).
    teleport: Vec<f64>,
    graph: DirectedGraph,
    window: Option<EdgeWindow>,
    /// Indexed as `home` says.
    z: Vec<f64>,
    r: Vec<f64>,
    home: Home,
    /// The sums of `z` and `r` since the last solve (`None`: unknown, a sweep finds them).
    tracked: Option<TrackedSums>,
    batches: u64,
    push_rate: f64,
    certificate: f64,
    /// Nodes (slots) whose residual changed since the last solve: where a push looks first.
    frontier: Vec<u32>,
    /// Compressed rows from the last power iteration, kept current by corrections (part of
    /// the state so that a restored updater continues bit for bit).
    rows: Option<KeptRows>,
    /// Push time (predicted ns) spent while the rows were missing or due for a rebuild: once
    /// it reaches the cost of building them, they are built (rent, then buy: at most twice
    /// the better choice).
    rent_ns: f64,
    /// `τ`: the state's residual is `τ·t + α P̃ z − z` (the fixed point is `τ·z*`, with the
    /// same ranks). Power iteration sets it (see `power_iterate`); new nodes enter with
    /// `τ·t_v`.
    teleport_scale: f64,
    /// The last pass's mass on dangling rows, `D(z)` of the next iterate the state holds: the
    /// next power iteration's first pass starts from it (`None`: found by a sweep).
    dangling_hint: Option<f64>,
    #[serde(skip)]
    scratch: Scratch,
}

fn unit_scale() -> f64 {
    1.0
}

/// The checkpointed fields, validated before they become an [`IncrementalPageRank`].
#[derive(Deserialize)]
struct PageRankState {
    damping: f64,
    tolerance: f64,
    strategy: UpdateStrategy,
    cost: CostModel,
    max_iterations: u64,
    personalized: bool,
    teleport: Vec<f64>,
    graph: DirectedGraph,
    window: Option<EdgeWindow>,
    z: Vec<f64>,
    r: Vec<f64>,
    #[serde(default)]
    home: Home,
    #[serde(default)]
    tracked: Option<TrackedSums>,
    batches: u64,
    push_rate: f64,
    certificate: f64,
    frontier: Vec<u32>,
    #[serde(default)]
    rows: Option<KeptRowsRepr>,
    #[serde(default)]
    rent_ns: f64,
    #[serde(default = "unit_scale")]
    teleport_scale: f64,
    #[serde(default)]
    dangling_hint: Option<f64>,
}

impl TryFrom<PageRankState> for IncrementalPageRank {
    type Error = GraphError;

    fn try_from(s: PageRankState) -> Result<Self, GraphError> {
        let n = s.graph.capacity();
        // Checked against the graph before anything is sized by the rows' slots.
        let rows = s
            .rows
            .map(|rows| KeptRows::from_repr(rows, n))
            .transpose()
            .map_err(|what| GraphError::CorruptState { what })?;
        let indices = match (s.home, &rows) {
            (Home::Slots, _) => Some(n),
            (Home::Rows, Some(rows)) => {
                // Every node's state must have a row to live in.
                let row_of = rows.row_of();
                let homeless =
                    s.graph.index().iter().any(|(slot, _)| {
                        row_of.get(slot as usize).is_none_or(|&row| row == NO_ROW)
                    });
                (!homeless).then_some(rows.rows())
            }
            (Home::Rows, None) => None,
        };
        if indices.is_none_or(|len| s.z.len() != len || s.r.len() != len)
            || (s.personalized && s.teleport.len() != n)
        {
            return Err(GraphError::CorruptState {
                what: "PageRank vectors do not match the graph",
            });
        }
        if !(s.rent_ns.is_finite() && s.rent_ns >= 0.0) {
            return Err(GraphError::CorruptState {
                what: "PageRank cost account out of range",
            });
        }
        if !(s.teleport_scale.is_finite() && s.teleport_scale > 0.0)
            || s.dangling_hint.is_some_and(|d| !d.is_finite())
        {
            return Err(GraphError::CorruptState {
                what: "PageRank teleport scale out of range",
            });
        }
        if s.tracked.is_some_and(|t| !t.valid()) {
            return Err(GraphError::CorruptState {
                what: "PageRank sums out of range",
            });
        }
        if check_damping(s.damping).is_err()
            || check_tolerance(s.tolerance).is_err()
            || s.max_iterations == 0
        {
            return Err(GraphError::CorruptState {
                what: "PageRank parameters out of range",
            });
        }
        // NaN or infinite state gives NaN ranks (and a NaN certificate that compares as
        // converged); sums that overflow give zero ranks.
        let finite = |v: &[f64]| v.iter().map(|x| x.abs()).sum::<f64>().is_finite();
        if !(finite(&s.z) && finite(&s.r)) || s.certificate.is_nan() || s.certificate < 0.0 {
            return Err(GraphError::CorruptState {
                what: "PageRank scores or residuals not finite",
            });
        }
        if s.teleport.iter().any(|t| t.is_nan() || *t < 0.0)
            || !finite(&s.teleport)
            || (s.personalized && !s.teleport.iter().any(|&t| t > 0.0))
        {
            return Err(GraphError::CorruptState {
                what: "PageRank teleport vector out of range",
            });
        }
        // A zero or NaN cost would make push budgets unlimited.
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let cost = [s.cost.push_ns, s.cost.iteration_ns, s.cost.build_ns];
        if !(cost.into_iter().all(positive) && s.push_rate.is_finite() && s.push_rate >= 0.0) {
            return Err(GraphError::CorruptState {
                what: "PageRank cost model out of range",
            });
        }
        Ok(Self {
            damping: s.damping,
            tolerance: s.tolerance,
            strategy: s.strategy,
            cost: s.cost,
            max_iterations: s.max_iterations,
            personalized: s.personalized,
            teleport: s.teleport,
            graph: s.graph,
            window: s.window,
            z: s.z,
            r: s.r,
            home: s.home,
            tracked: s.tracked,
            batches: s.batches,
            push_rate: s.push_rate,
            certificate: s.certificate,
            frontier: s
                .frontier
                .into_iter()
                .filter(|&v| (v as usize) < n)
                .collect(),
            rows,
            rent_ns: s.rent_ns,
            teleport_scale: s.teleport_scale,
            dangling_hint: s.dangling_hint,
            scratch: Scratch::default(),
        })
    }
}

/// Reusable buffers; not part of the state.
#[derive(Clone, Debug, Default)]
struct Scratch {
    events: Vec<EdgeEvent>,
    delta: GraphDelta,
    queue: NodeQueue,
    /// Membership flags of `frontier` (rebuilt from it after a restore).
    in_frontier: Vec<bool>,
    /// Out-weight before the batch of each changed source (scratch of `fix_residuals`).
    old_weight: FxHashMap<u32, f64>,
    passes: PassBuffers,
    /// Where the fix-up put concentrated residual (destinations of changed edges, nodes
    /// that entered): a power iteration's head start pushes from there.
    heavy: Vec<u32>,
    heavy_next: Vec<u32>,
    /// The vectors the state last moved out of (reused when it moves again).
    spare: (Vec<f64>, Vec<f64>),
    /// Which slots are dangling, for the dangling hint's bookkeeping.
    dangling: DanglingSlots,
    /// Whether an unconverged batch was logged already.
    warned: bool,
}

/// The dangling slots (no out-weight) as a bitset: a few kilobytes that stay in cache, where
/// the graph's out-weights are a cache miss per lookup. Derived from the graph (rebuilt after
/// a restore) and updated at the nodes each batch touches.
#[derive(Clone, Debug, Default)]
struct DanglingSlots {
    bits: Vec<u64>,
    ready: bool,
}

impl DanglingSlots {
    /// Bring the set up to date after a batch that touched `touched`.
    fn refresh(&mut self, graph: &DirectedGraph, touched: impl Iterator<Item = u32>) {
        let n = graph.capacity();
        self.bits.resize(n.div_ceil(64), 0);
        let set = |bits: &mut [u64], u: u32| {
            let (word, bit) = (u as usize / 64, 1u64 << (u % 64));
            if graph.out_weight_of(u) == 0.0 {
                bits[word] |= bit;
            } else {
                bits[word] &= !bit;
            }
        };
        if self.ready {
            touched.for_each(|u| set(&mut self.bits, u));
        } else {
            (0..n as u32).for_each(|u| set(&mut self.bits, u));
            self.ready = true;
        }
        debug_assert!(
            (0..n as u32).all(|u| self.contains(u) == (graph.out_weight_of(u) == 0.0)),
            "the dangling set follows the graph"
        );
    }

    #[inline]
    fn contains(&self, u: u32) -> bool {
        self.bits[u as usize / 64] & (1u64 << (u % 64)) != 0
    }
}

/// Vectors of a power iteration over the kept rows, by row; reused so that a small batch does
/// not pay fresh pages for them.
#[derive(Clone, Debug, Default)]
struct PassBuffers {
    /// `live` holds, by row, whether the row's slot holds a node (kept current while the
    /// state lives in rows; rebuilt after a restore).
    live_current: bool,
    live: Vec<bool>,
    /// `y` holds the state's next iterate scaled by out-weight (as the last pass left it),
    /// except at the rows in `stale` (changed since, or whose out-weight did).
    scaled_current: bool,
    stale: Vec<u32>,
    teleport: Vec<f64>,
    z: Vec<f64>,
    next: Vec<f64>,
    y: Vec<f64>,
    y_next: Vec<f64>,
    extra: Vec<f64>,
    seen: Vec<bool>,
    fixups: Vec<u32>,
}

/// The push queue: a FIFO of node slots, each in it at most once, in a ring of fixed
/// capacity. A node is offered with a flag instead of behind a branch, so a push's
/// neighbours are updated without mispredicted branches between their cache misses.
#[derive(Clone, Debug, Default)]
struct NodeQueue {
    /// Power-of-two length, more than the nodes: never full.
    ring: Vec<u32>,
    queued: Vec<bool>,
    head: usize,
    len: usize,
}

impl NodeQueue {
    /// An empty queue for `n` node slots.
    fn reset(&mut self, n: usize) {
        self.ring.clear();
        self.ring.resize((n + 1).next_power_of_two(), 0);
        self.queued.clear();
        self.queued.resize(n, false);
        (self.head, self.len) = (0, 0);
    }

    /// Appends `v` if `wanted` and not queued already.
    #[inline]
    fn offer(&mut self, v: u32, wanted: bool) {
        let take = wanted & !self.queued[v as usize];
        let mask = self.ring.len() - 1;
        // Written either way: when not taken, the slot stays free.
        self.ring[(self.head + self.len) & mask] = v;
        self.len += usize::from(take);
        self.queued[v as usize] |= take;
    }

    fn pop(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let v = self.ring[self.head & (self.ring.len() - 1)];
        self.head += 1;
        self.len -= 1;
        self.queued[v as usize] = false;
        Some(v)
    }
}

/// `‖r‖₁`, `Σr` and `Σz` over a run of slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct StateSums {
    residual: f64,
    sigma: f64,
    sum: f64,
}

impl StateSums {
    fn of(r: &[f64], z: &[f64]) -> Self {
        r.iter().zip(z).fold(Self::default(), |a, (&r, &z)| Self {
            residual: a.residual + r.abs(),
            sigma: a.sigma + r,
            sum: a.sum + z,
        })
    }

    /// From the next iterate `z + r` instead of `r`.
    fn of_next(next: &[f64], z: &[f64]) -> Self {
        next.iter()
            .zip(z)
            .fold(Self::default(), |a, (&next, &z)| Self {
                residual: a.residual + (next - z).abs(),
                sigma: a.sigma + (next - z),
                sum: a.sum + z,
            })
    }

    /// Chunk sums added in order.
    fn total(parts: Vec<Self>) -> Self {
        parts.into_iter().fold(Self::default(), |a, b| Self {
            residual: a.residual + b.residual,
            sigma: a.sigma + b.sigma,
            sum: a.sum + b.sum,
        })
    }
}

/// The state's sums between batches: as the last solve left them (exact), then moved along
/// with each change the fix-up makes, so that a batch learns its stale certificate without
/// a sweep over the state. `drift` bounds how far rounding has moved each sum from the
/// vectors' own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct TrackedSums {
    sums: StateSums,
    drift: f64,
}

impl TrackedSums {
    /// An entry of `r` went from `old` to `new`.
    #[inline]
    fn residual_changed(&mut self, old: f64, new: f64) {
        let s = &mut self.sums;
        s.residual += new.abs() - old.abs();
        s.sigma += new - old;
        // Two roundings per sum, each within an ulp of its operands.
        self.drift +=
            2.0 * f64::EPSILON * (s.residual.abs() + s.sigma.abs() + 2.0 * (old.abs() + new.abs()));
    }

    /// An entry of `z` went from `old` to `new`.
    #[inline]
    fn score_changed(&mut self, old: f64, new: f64) {
        let s = &mut self.sums;
        s.sum += new - old;
        self.drift += 2.0 * f64::EPSILON * (s.sum.abs() + 2.0 * (old.abs() + new.abs()));
    }

    fn valid(&self) -> bool {
        let s = &self.sums;
        [s.residual, s.sigma, s.sum, self.drift]
            .iter()
            .all(|x| x.is_finite())
            && self.drift >= 0.0
    }
}

/// Exact sums over the state vectors.
#[derive(Clone, Copy, Debug)]
struct Norms {
    /// `‖r‖₁`.
    residual: f64,
    /// `Σr`.
    sigma: f64,
    /// `‖r − (Σr) p‖₁`: `Σz` times the residual of the normalized ranks in networkx's own
    /// (column-stochastic) iteration.
    centered: f64,
    /// `Σz`.
    sum: f64,
    /// How far rounding may have moved tracked sums from a sweep's (0 after a sweep);
    /// `residual` and `centered` include it, `sum` has it taken off.
    drift: f64,
    /// The sums as given (without the drift).
    raw: StateSums,
    /// Whether any node is in the graph.
    nonempty: bool,
    /// Slots of the state vectors.
    nodes: usize,
}

impl Norms {
    /// Proven bound on the L1 distance of `z/Σz` to the exact PageRank.
    fn certificate(&self, damping: f64) -> f64 {
        if !self.nonempty {
            return 0.0;
        }
        if self.sum <= 0.0 {
            return f64::INFINITY;
        }
        // The last term covers rounding: normalizing sums n terms, each exact to an ulp.
        self.centered / ((1.0 - damping) * self.sum) + self.nodes as f64 * f64::EPSILON
    }
}

/// The `‖r‖₁ + |Σr|` (an upper bound of `‖r − (Σr) p‖₁`) under which the certificate is at most
/// `slack × tolerance`.
fn residual_target(damping: f64, tolerance: f64, sum: f64) -> f64 {
    SLACK * tolerance * (1.0 - damping) * sum.max(0.0)
}

/// The smallest tolerance f64 rounding lets a solve certify on `slots` node slots. A pass's
/// bound carries a rounding allowance `2·drift ≈ 4·m·ε·Σz` (`m ≤ slots` rows) and stops at
/// `ITERATION_SLACK·tol·(1 − α)·Σz`, so below `4·m·ε / (ITERATION_SLACK·(1 − α))` no pass
/// can stop; the certificate also adds `slots·ε`. Twice the larger leaves room for the step.
fn tolerance_floor(damping: f64, slots: usize) -> f64 {
    let rounding = slots as f64 * f64::EPSILON;
    2.0 * (4.0 * rounding / (ITERATION_SLACK * (1.0 - damping))).max(rounding)
}

/// Passes without a new smallest residual after which power iteration stops: the residual
/// shrinks by about α per pass until rounding noise, so this many passes without progress
/// mean it is at the noise (or not finite).
const STALLED_PASSES: u64 = 32;

impl IncrementalPageRank {
    /// Parameters: damping 0.85, tolerance 1e-4 (L1), uniform teleport, no window, automatic
    /// strategy.
    #[must_use]
    pub fn params() -> IncrementalPageRankParams {
        IncrementalPageRankParams {
            damping: DEFAULT_DAMPING,
            tolerance: 1e-4,
            sources: Vec::new(),
            window_batches: None,
            strategy: UpdateStrategy::Auto,
            cost: CostModel::default(),
            max_iterations: 100_000,
        }
    }

    /// Apply one batch and restore the error bound. Cost: O(events + Σ out-degree of the
    /// changed sources + the nodes of the graph) plus whatever push or power iteration the
    /// bound requires; an empty batch costs O(nodes).
    pub fn update(&mut self, batch: &[EdgeEvent]) -> PageRankReport {
        let (mut report, delta, large) = self.take_in(batch);
        if large {
            self.forget_departed(&delta);
            let iterated = self.power_iterate(&mut report, false);
            report.method = UpdateMethod::PowerIteration;
            self.solve(&mut report, Some(iterated));
        } else {
            report.fixup_edge_visits = self.fix_residuals(&delta);
            self.solve(&mut report, None);
        }
        self.scratch.delta = delta;
        report
    }

    /// Apply a batch to the graph and size the state for it; returns the report so far, the
    /// batch's changes, and whether the batch is large enough to go straight to power
    /// iteration.
    fn take_in(&mut self, batch: &[EdgeEvent]) -> (PageRankReport, GraphDelta, bool) {
        let mut events = std::mem::take(&mut self.scratch.events);
        // Reused: its vectors and set keep their capacity from batch to batch.
        let mut delta = std::mem::take(&mut self.scratch.delta);
        // A batch this large is past any point where pushing could win (see
        // `LARGE_BATCH`): skip re-expressing the residual edge by edge, which the passes
        // recompute exactly anyway.
        let large = |events: usize, edges: usize, strategy| {
            strategy != UpdateStrategy::Push
                && events >= LARGE_BATCH_MIN_EVENTS
                && events as f64 >= LARGE_BATCH * edges as f64
        };
        let (edges, strategy) = (self.graph.edge_count(), self.strategy);
        let (counts, expired, large) = match &mut self.window {
            Some(w) => {
                let expired = w.advance(batch, &mut events);
                let large = large(events.len(), edges, strategy);
                let counts = self.graph.apply_batch(&events, &mut delta);
                (counts, expired, large)
            }
            None => {
                let large = large(batch.len(), edges, strategy);
                (self.graph.apply_batch(batch, &mut delta), 0, large)
            }
        };
        self.scratch.events = events;
        self.batches += 1;
        self.scratch
            .dangling
            .refresh(&self.graph, delta.touched.iter().map(|t| t.node));
        let n = self.graph.capacity();
        if let Some(rows) = &mut self.rows {
            rows.record(&self.graph, &delta);
        }
        let len = match (self.home, &self.rows) {
            (Home::Rows, Some(rows)) => rows.rows(),
            _ => n,
        };
        self.z.resize(len, 0.0);
        self.r.resize(len, 0.0);
        if self.home == Home::Rows {
            self.track_row_liveness(&delta);
            // The changed sources' out-weights changed: so did their scaled values.
            if let Some(rows) = &self.rows {
                let row_of = rows.row_of();
                let stale = &mut self.scratch.passes.stale;
                stale.extend(delta.sources.iter().filter_map(|s| {
                    row_of
                        .get(s.node as usize)
                        .copied()
                        .filter(|&row| row != NO_ROW)
                }));
            }
            // Past a point a full rescale is cheaper (and the list stays bounded through a
            // long run of batches that need no passes).
            let passes = &mut self.scratch.passes;
            if passes.stale.len() > self.z.len() / 8 {
                passes.scaled_current = false;
                passes.stale.clear();
            }
        }
        if self.personalized {
            self.teleport.resize(n, 0.0);
        }
        let report = PageRankReport {
            batch: self.batches,
            counts: BatchCounts { expired, ..counts },
            method: UpdateMethod::None,
            pushes: 0,
            push_edge_visits: 0,
            iterations: 0,
            iteration_edge_visits: 0,
            fixup_edge_visits: 0,
            predicted_push_ns: 0.0,
            predicted_iteration_ns: 0.0,
            stale_certificate: 0.0,
            certificate: 0.0,
            residual_l1: 0.0,
            converged: true,
        };
        (report, delta, large)
    }

    /// The rows' numbering while the state lives in rows (`None`: it is indexed by slot).
    fn row_map(&self) -> Option<&[u32]> {
        row_map(self.home, &self.rows)
    }

    /// Keep the liveness by row current for the nodes a batch touched (the rows' slots are
    /// fixed, the nodes in them come and go).
    fn track_row_liveness(&mut self, delta: &GraphDelta) {
        let Some(rows) = &self.rows else { return };
        let (live, passes) = (self.graph.live_mask(), &mut self.scratch.passes);
        if !passes.live_current {
            rows_liveness(rows, live, &mut passes.live);
            passes.live_current = true;
            return;
        }
        passes.live.resize(rows.rows(), false);
        let row_of = rows.row_of();
        for t in &delta.touched {
            if let Some(&row) = row_of.get(t.node as usize)
                && row != NO_ROW
            {
                passes.live[row as usize] = live[t.node as usize];
            }
        }
    }

    /// Zero the state of the nodes the batch removed (their slots may be reused).
    fn forget_departed(&mut self, delta: &GraphDelta) {
        let live = self.graph.live_mask();
        let map = row_map(self.home, &self.rows);
        for t in &delta.touched {
            if !live[t.node as usize]
                && let Some(i) = index(map, t.node)
            {
                let residual = residual_at(map.is_some(), &self.z, &self.r, i);
                if let Some(tracked) = &mut self.tracked {
                    tracked.residual_changed(residual, 0.0);
                    tracked.score_changed(self.z[i], 0.0);
                }
                // A node without edges is dangling: its next iterate leaves the hint.
                if let Some(h) = &mut self.dangling_hint {
                    *h -= self.z[i] + residual;
                }
                self.z[i] = 0.0;
                self.r[i] = 0.0;
                if map.is_some() {
                    self.scratch.passes.stale.push(i as u32);
                }
            }
        }
    }

    /// Move the state to row order (the kept rows' numbering), from slot order.
    fn move_to_rows(&mut self) {
        let Some(rows) = &self.rows else { return };
        if self.home == Home::Rows {
            return;
        }
        let (live, passes) = (self.graph.live_mask(), &mut self.scratch.passes);
        rows_liveness(rows, live, &mut passes.live);
        passes.live_current = true;
        let (mut z, mut r) = std::mem::take(&mut self.scratch.spare);
        let (slots, state_z, state_r) = (rows.slots(), &self.z, &self.r);
        z.clear();
        r.clear();
        z.resize(slots.len(), 0.0);
        r.resize(slots.len(), 0.0);
        z.par_chunks_mut(SUM_CHUNK)
            .zip(r.par_chunks_mut(SUM_CHUNK))
            .zip(slots.par_chunks(SUM_CHUNK))
            .zip(passes.live.par_chunks(SUM_CHUNK))
            .for_each(|(((z, r), slots), live)| {
                for (((z, r), &s), &live) in z.iter_mut().zip(r).zip(slots).zip(live) {
                    if live {
                        *z = state_z[s as usize];
                        *r = state_z[s as usize] + state_r[s as usize];
                    }
                }
            });
        self.scratch.spare = (
            std::mem::replace(&mut self.z, z),
            std::mem::replace(&mut self.r, r),
        );
        self.scratch.passes.scaled_current = false;
        self.home = Home::Rows;
    }

    /// Move the state to slot order, from row order.
    fn move_to_slots(&mut self) {
        let Some(rows) = &self.rows else { return };
        if self.home == Home::Slots {
            return;
        }
        let n = self.graph.capacity();
        let (mut z, mut r) = std::mem::take(&mut self.scratch.spare);
        z.clear();
        r.clear();
        z.resize(n, 0.0);
        r.resize(n, 0.0);
        let live = self.graph.live_mask();
        for (row, &slot) in rows.slots().iter().enumerate() {
            let s = slot as usize;
            if live[s] {
                z[s] = self.z[row];
                r[s] = self.r[row] - self.z[row];
            }
        }
        self.scratch.spare = (
            std::mem::replace(&mut self.z, z),
            std::mem::replace(&mut self.r, r),
        );
        self.scratch.passes.live_current = false;
        self.scratch.passes.scaled_current = false;
        self.scratch.passes.stale.clear();
        self.home = Home::Slots;
    }

    /// Re-express the residual for the changed graph: for every changed source, retract its
    /// old contribution `α z_u w/W` and add the new one; nodes entering get their teleport,
    /// nodes leaving are zeroed (they have no edges left, so nothing else refers to them).
    fn fix_residuals(&mut self, delta: &GraphDelta) -> u64 {
        let a = self.damping;
        // Frontier flags by slot (the frontier is a push's, which works by slot).
        let n = self.graph.capacity();
        let mut flags = std::mem::take(&mut self.scratch.in_frontier);
        if flags.len() != n {
            flags.clear();
            flags.resize(n, false);
            for &v in &self.frontier {
                flags[v as usize] = true;
            }
        }
        let frontier = &mut self.frontier;
        let mut mark = |v: u32| {
            if !flags[v as usize] {
                flags[v as usize] = true;
                frontier.push(v);
            }
        };
        let mut visits = 0u64;
        // For a changed source `u` (out-weight `W` before, `W'` now) the residual at each
        // out-neighbour `v` moves by `α z_u (w'_v/W' − w_v/W)`: first as if only the
        // out-weight changed, `α z_u w'_v (1/W' − 1/W)` over the current edges, then
        // `α z_u (w'_v − w_v)/W` for each changed edge (deleted ones included).
        let mut old_weight = std::mem::take(&mut self.scratch.old_weight);
        old_weight.clear();
        let heavy = &mut self.scratch.heavy;
        // By slot, or by row while the state lives in rows (every node then has a row; a
        // node without one entered and left within the batch, with no state and no edges).
        let map = row_map(self.home, &self.rows);
        let (z, r) = (&self.z, &mut self.r);
        let mut tracked = self.tracked;
        let stale = &mut self.scratch.passes.stale;
        let z_of = |u: u32| index(map, u).map_or(0.0, |i| z[i]);
        // By row `r` holds `z + r`: adding to the residual adds to it.
        let by_row = map.is_some();
        // The dangling mass of the next iterate `z + r`: first the sources that became or
        // stopped being dangling, then every change at a dangling node.
        let dangling = &self.scratch.dangling;
        let mut hint = self.dangling_hint;
        if let Some(h) = &mut hint {
            for s in &delta.sources {
                let now = dangling.contains(s.node);
                if (s.weight == 0.0) != now
                    && let Some(i) = index(map, s.node)
                {
                    let next = z[i] + residual_at(by_row, z, r, i);
                    *h += if now { next } else { -next };
                }
            }
        }
        let mut add = |v: u32, x: f64| {
            if let Some(i) = index(map, v) {
                let old = residual_at(by_row, z, r, i);
                r[i] += x;
                if let Some(t) = &mut tracked {
                    t.residual_changed(old, residual_at(by_row, z, r, i));
                }
                if let Some(h) = &mut hint
                    && dangling.contains(v)
                {
                    *h += x;
                }
                if by_row {
                    stale.push(i as u32);
                }
            }
        };
        for s in &delta.sources {
            let u = s.node;
            old_weight.insert(u, s.weight);
            let zu = z_of(u);
            let c =
                a * zu * (inverse_weight(self.graph.out_weight_of(u)) - inverse_weight(s.weight));
            if c == 0.0 {
                continue;
            }
            let out = self.graph.out_edges(u);
            for e in out {
                add(e.dst, c * e.weight);
                mark(e.dst);
            }
            if out.len() <= HEAVY_DEGREE {
                heavy.extend(out.iter().map(|e| e.dst));
            }
            visits += out.len() as u64;
        }
        for e in &delta.edges {
            let zu = z_of(e.src);
            let before = old_weight.get(&e.src).copied().unwrap_or(0.0);
            let c = a * zu * (e.after - e.before) * inverse_weight(before);
            if c != 0.0 {
                add(e.dst, c);
                mark(e.dst);
                heavy.push(e.dst);
            }
            visits += 1;
        }
        self.scratch.old_weight = old_weight;
        // Only a hint: bounded through a long run of batches that need no solve.
        if heavy.len() > n {
            heavy.clear();
        }
        let live = self.graph.live_mask();
        for t in &delta.touched {
            if !t.live_before && !self.personalized && live[t.node as usize] {
                add(t.node, self.teleport_scale * (1.0 - a));
                mark(t.node);
                heavy.push(t.node);
            }
        }
        self.scratch.in_frontier = flags;
        self.tracked = tracked;
        self.dangling_hint = hint;
        self.forget_departed(delta);
        visits
    }

    /// Forget the frontier (after a solve has dealt with it).
    fn clear_frontier(&mut self) {
        self.scratch.heavy.clear();
        for &v in &self.frontier {
            if let Some(f) = self.scratch.in_frontier.get_mut(v as usize) {
                *f = false;
            }
        }
        self.frontier.clear();
    }

    /// The smallest tolerance f64 rounding can certify on the current graph (it grows with
    /// the node slots; see [`IncrementalPageRankParams::tolerance`]). A batch works down to
    /// the larger of this and the tolerance.
    #[must_use]
    pub fn tolerance_floor(&self) -> f64 {
        tolerance_floor(self.damping, self.graph.capacity().max(self.z.len()))
    }

    /// The tolerance a solve works to: the requested one, or the floor when that is lower
    /// (the requested one then cannot be certified).
    fn working_tolerance(&self) -> f64 {
        self.tolerance.max(self.tolerance_floor())
    }

    fn teleport_total(&self) -> f64 {
        if self.personalized {
            self.teleport.iter().sum()
        } else {
            (1.0 - self.damping) * self.graph.node_count() as f64
        }
    }

    /// The certificate's sums, exactly (two parallel passes over the state, one when the
    /// first shows the certificate is over the tolerance).
    fn norms(&self) -> Norms {
        self.norms_from(self.state_sums(), 0.0)
    }

    /// `‖r‖₁`, `Σr` and `Σz` by a sweep over the state.
    fn state_sums(&self) -> StateSums {
        // Fixed chunks whose partial sums are added in order: the same bits whatever the
        // thread schedule (a restored checkpoint must continue identically).
        let by_row = self.home == Home::Rows;
        let sums = self
            .r
            .par_chunks(SUM_CHUNK)
            .zip(self.z.par_chunks(SUM_CHUNK))
            .map(|(r, z)| {
                if by_row {
                    StateSums::of_next(r, z)
                } else {
                    StateSums::of(r, z)
                }
            })
            .collect::<Vec<StateSums>>();
        StateSums::total(sums)
    }

    /// [`norms`](Self::norms) from sums found elsewhere (a power iteration's last pass, or
    /// tracked since the last solve), each possibly off by `drift`.
    fn norms_from(&self, sums: StateSums, drift: f64) -> Norms {
        let StateSums {
            residual,
            sigma,
            sum,
        } = sums;
        // Sums tracked since a sweep may be off by `drift` each: widen every bound by it.
        let (residual, sum) = (residual.max(0.0) + 2.0 * drift, (sum - drift).max(0.0));
        // `‖r − (Σr) p‖₁` lies between `‖r‖₁ − |Σr|` and `‖r‖₁ + |Σr|`: when even the lower
        // end puts the certificate over the tolerance (a batch that needs work), the upper
        // end serves and the second pass is skipped.
        let (lower, upper) = (residual - sigma.abs(), residual + sigma.abs());
        let allowed = self.working_tolerance() * (1.0 - self.damping) * sum;
        let hopeless = sum > 0.0 && lower > allowed;
        // The teleport direction p: the live nodes uniformly, or the sources by weight.
        // Teleport and liveness by the state's index: by slot, or through the rows' slots.
        let row_slots = match (self.home, &self.rows) {
            (Home::Rows, Some(rows)) => Some(rows.slots()),
            _ => None,
        };
        // When even the upper end certifies the tolerance, a sweep would change nothing but
        // the reported bound, and is skipped. A sweep's shift uses the tracked `Σr`, which
        // may be off by `drift`: the bound grows by as much.
        let centered = if hopeless || upper <= allowed {
            upper
        } else if self.personalized {
            let shift = sigma / self.teleport_total();
            let teleport = &self.teleport;
            let chunks = self
                .r
                .par_chunks(SUM_CHUNK)
                .zip(self.z.par_chunks(SUM_CHUNK));
            ordered_sum(chunks.enumerate().map(|(c, (r, z))| {
                let first = c * SUM_CHUNK;
                r.iter()
                    .zip(z)
                    .enumerate()
                    .map(|(i, (&r, &z))| {
                        // By row, `r` holds `z + r`.
                        let (slot, r) = match row_slots {
                            Some(slots) => (slots[first + i] as usize, r - z),
                            None => (first + i, r),
                        };
                        (r - shift * teleport[slot]).abs()
                    })
                    .sum()
            })) + drift
        } else {
            let shift = sigma / self.graph.node_count().max(1) as f64;
            let live = match row_slots {
                Some(_) => &self.scratch.passes.live[..],
                None => self.graph.live_mask(),
            };
            let by_row = row_slots.is_some();
            ordered_sum(
                self.r
                    .par_chunks(SUM_CHUNK)
                    .zip(self.z.par_chunks(SUM_CHUNK))
                    .zip(live.par_chunks(SUM_CHUNK))
                    .map(|((r, z), live)| {
                        r.iter()
                            .zip(z)
                            .zip(live)
                            .map(|((&r, &z), &live)| {
                                let r = if by_row { r - z } else { r };
                                if live { (r - shift).abs() } else { r.abs() }
                            })
                            .sum()
                    }),
            ) + drift
        };
        Norms {
            residual,
            sigma,
            centered,
            sum,
            drift,
            raw: sums,
            nonempty: self.graph.node_count() > 0,
            nodes: self.graph.capacity().max(self.z.len()),
        }
    }

    /// Restore the bound from the current `z` and its exact residual `r`; `iterated` is the
    /// previous ranks' certificate on this graph and the state's sums when a power
    /// iteration has already run.
    fn solve(&mut self, report: &mut PageRankReport, iterated: Option<(f64, StateSums, f64)>) {
        let a = self.damping;
        let mut norms = match iterated {
            Some((_, sums, drift)) => self.norms_from(sums, drift),
            None => match self.tracked {
                Some(t) => self.norms_from(t.sums, t.drift),
                None => self.norms(),
            },
        };
        report.stale_certificate = iterated.map_or_else(|| norms.certificate(a), |i| i.0);
        let tolerance = self.working_tolerance();
        let mut rounds = 0;
        while norms.certificate(a) > tolerance && rounds < 16 {
            rounds += 1;
            let before = norms.certificate(a);
            let sigma = norms.sigma;
            let residual = norms.residual + sigma.abs();
            let target = residual_target(a, tolerance, norms.sum);
            let size = (self.graph.edge_count() + self.graph.capacity()) as f64;
            // Power iteration stops at its own target (less slack than a push's), and takes
            // its first step from the known residual without a pass.
            let iteration_target = ITERATION_SLACK / SLACK * target;
            let passes = if target > 0.0 {
                (((iteration_target / residual).ln() / a.ln()).ceil() - 1.0).max(1.0)
            } else {
                // No mass yet (a fresh graph): a cold start needs the passes of a recompute.
                (1e-3 * tolerance).ln() / a.ln()
            };
            // Kept rows cost their corrections per pass instead of a rebuild; without them,
            // pushing long enough to have paid for a rebuild counts the rebuild as paid.
            let build = size * self.cost.build_ns;
            let (build_ns, correction_visits) = match &self.rows {
                Some(rows) if self.rows_fresh(rows) => {
                    (0.0, rows.correction_count() as f64 * CORRECTION_VISITS)
                }
                _ if self.rent_ns >= build => (0.0, 0.0),
                _ => (build, 0.0),
            };
            // Gathering the state into row order and back: a few visits per slot.
            let setup_ns = SETUP_VISITS * self.graph.capacity() as f64;
            let power_ns = build_ns
                + (setup_ns + passes * (size + correction_visits)) * self.cost.iteration_ns;
            let excess = (residual - target).max(0.0) / target.max(f64::MIN_POSITIVE);
            let push_ns = self.push_rate * size * excess * self.cost.push_ns;
            report.predicted_push_ns += push_ns;
            report.predicted_iteration_ns += power_ns;
            let push_first = match self.strategy {
                UpdateStrategy::Auto => push_ns <= power_ns && target > 0.0,
                UpdateStrategy::Push => target > 0.0,
                UpdateStrategy::PowerIteration => false,
            };
            let mut iterate = !push_first;
            if push_first {
                let budget = match self.strategy {
                    UpdateStrategy::Auto => 2.0 * power_ns / self.cost.push_ns,
                    _ => f64::INFINITY,
                };
                let (done, visits, after) =
                    self.push(target, budget, norms.residual, sigma, report);
                if !self.rows.as_ref().is_some_and(|rows| self.rows_fresh(rows)) {
                    self.rent_ns += visits as f64 * self.cost.push_ns;
                }
                let removed = (residual - after).max(f64::MIN_POSITIVE);
                let observed = visits as f64 * target / (size * removed);
                self.push_rate = 0.7 * self.push_rate + 0.3 * observed;
                report.method = match report.method {
                    UpdateMethod::None | UpdateMethod::Push => UpdateMethod::Push,
                    other => other,
                };
                iterate = !done;
            } else {
                // Without pushes there is nothing to learn from: drift back to the prior so an
                // estimate inflated by one huge batch does not lock pushing out for good.
                self.push_rate = 0.98 * self.push_rate + 0.02 * PUSH_RATE_PRIOR;
            }
            norms = if iterate {
                self.head_start(report);
                let (_, sums, drift) = self.power_iterate(report, true);
                report.method = match report.method {
                    UpdateMethod::Push | UpdateMethod::PushThenPowerIteration => {
                        UpdateMethod::PushThenPowerIteration
                    }
                    _ => UpdateMethod::PowerIteration,
                };
                self.norms_from(sums, drift)
            } else {
                self.norms()
            };
            // A round that did not lower the bound will not do better next time.
            let after = norms.certificate(a);
            if after.is_nan() || after >= before {
                break;
            }
        }
        self.certificate = norms.certificate(a);
        report.converged = self.certificate <= self.tolerance;
        if !report.converged && !self.scratch.warned {
            self.scratch.warned = true;
            tracing::warn!(
                batch = report.batch,
                certificate = self.certificate,
                tolerance = self.tolerance,
                floor = self.tolerance_floor(),
                "incremental PageRank did not certify its tolerance (below the f64 floor for \
                 this graph, or max_iterations reached); ranks are certified to the bound given"
            );
        }
        self.tracked = Some(TrackedSums {
            sums: norms.raw,
            drift: norms.drift,
        });
        report.certificate = self.certificate;
        report.residual_l1 = if norms.sum > 0.0 {
            norms.centered / norms.sum
        } else {
            0.0
        };
    }

    /// Push residual until `‖r‖₁ + |Σr| ≤ target` or `budget` edge visits are spent. Each
    /// round pushes every node whose `|r_v| / (out-degree + 1)` — residual removed per edge
    /// visited — is above a threshold chosen from a histogram so that the round can remove the
    /// excess. Returns whether the target was reached, the visits, and the final
    /// `‖r‖₁ + |Σr|`.
    fn push(
        &mut self,
        target: f64,
        budget: f64,
        mut residual: f64,
        mut sigma: f64,
        report: &mut PageRankReport,
    ) -> (bool, u64, f64) {
        let a = self.damping;
        // Pushes follow the graph's out-edges, by slot, and move the sums untracked (the
        // solve sweeps for them after).
        self.move_to_slots();
        self.tracked = None;
        self.dangling_hint = None;
        let n = self.z.len();
        let mut queue = std::mem::take(&mut self.scratch.queue);
        queue.reset(n);
        let mut visits = 0u64;
        let mut hist = vec![0.0f64; 2048];
        // The first round looks only at the frontier (where this and the lazily skipped
        // batches put residual); later rounds, rarely needed, scan every node.
        let mut first = !self.frontier.is_empty();
        let done = 'rounds: loop {
            if residual + sigma.abs() <= target {
                break true;
            }
            hist.iter_mut().for_each(|h| *h = 0.0);
            let degree = |v: u32| (self.graph.out_edges(v).len() + 1) as f64;
            if first {
                for &v in &self.frontier {
                    let m = self.r[v as usize].abs();
                    if m > 0.0 {
                        hist[exponent(m / degree(v))] += m;
                    }
                }
                visits += self.frontier.len() as u64;
            } else {
                for v in 0..n as u32 {
                    let m = self.r[v as usize].abs();
                    if m > 0.0 {
                        hist[exponent(m / degree(v))] += m;
                    }
                }
                visits += n as u64;
            }
            let available: f64 = hist.iter().sum();
            if first && available < residual + sigma.abs() - target {
                // The frontier alone cannot remove the excess: scan everything instead.
                first = false;
                continue;
            }
            // Never ask for all the mass: a zero threshold would push every residual, however
            // small, around the whole graph.
            let need = (residual + sigma.abs() - target).min(0.9 * available);
            let mut bucket = hist.len() - 1;
            let mut mass = 0.0;
            while bucket > 1 {
                mass += hist[bucket];
                if mass >= need {
                    break;
                }
                bucket -= 1;
            }
            let threshold = threshold_of(bucket);
            let seeds: Box<dyn Iterator<Item = u32>> = if first {
                Box::new(self.frontier.iter().copied())
            } else {
                Box::new(0..n as u32)
            };
            for v in seeds {
                let m = self.r[v as usize].abs();
                if m > 0.0 && m >= threshold * degree(v) {
                    queue.offer(v, true);
                }
            }
            visits += if first { self.frontier.len() } else { n } as u64;
            let pushed = report.pushes;
            while let Some(v) = queue.pop() {
                let vi = v as usize;
                let rv = self.r[vi];
                let out = self.graph.out_edges(v);
                if rv.abs() < threshold * (out.len() + 1) as f64 {
                    continue;
                }
                self.z[vi] += rv;
                self.r[vi] = 0.0;
                residual -= rv.abs();
                sigma -= rv;
                report.pushes += 1;
                visits += out.len() as u64 + 1;
                let w = self.graph.out_weight_of(v);
                if w > 0.0 {
                    let c = a * rv / w;
                    for e in out {
                        let d = e.dst as usize;
                        let old = self.r[d];
                        let delta = c * e.weight;
                        let new = old + delta;
                        self.r[d] = new;
                        residual += new.abs() - old.abs();
                        sigma += delta;
                        // Only the degree-free test here (the degree is a cache miss); the
                        // exact one is made when the node is popped.
                        queue.offer(e.dst, new.abs() >= threshold);
                    }
                }
                if residual + sigma.abs() <= target {
                    break 'rounds true;
                }
                if visits as f64 > budget {
                    break 'rounds false;
                }
            }
            // A scan of every node that pushed nothing changed nothing: the next would do
            // the same forever (what is left is below the smallest threshold, or the target
            // is under the rounding allowance the residual carries). Power iteration takes
            // over.
            if !first && report.pushes == pushed {
                break false;
            }
            first = false;
        };
        self.scratch.queue = queue;
        report.push_edge_visits += visits;
        self.clear_frontier();
        let exact = self.r.iter().map(|r| r.abs()).sum::<f64>() + self.r.iter().sum::<f64>().abs();
        (done && exact <= target, visits, exact)
    }

    /// Before power iteration, push where the fix-up concentrated the batch's residual: the
    /// destinations of changed edges, nodes that entered, and the out-neighbours of changed
    /// sources of low out-degree (whose out-weight changed by a large fraction). Passes
    /// shrink that residual only as fast as everything else (by about half per pass on
    /// soc-Epinions1), while pushing it costs a few out-edges per node. Each of
    /// [`HEAD_START_ROUNDS`] rounds pushes, once each, the candidates holding the most residual
    /// per edge visited, until [`HEAD_START_MASS`] of theirs is pushed; the next round's
    /// candidates are where those pushes went. At most a pass's cost (in the cost model's
    /// units) is spent. `r` stays the exact residual of `z`; works in whichever order the
    /// state is (no move to slots).
    fn head_start(&mut self, report: &mut PageRankReport) {
        let mut candidates = std::mem::take(&mut self.scratch.heavy);
        let mut pushed_next = std::mem::take(&mut self.scratch.heavy_next);
        let a = self.damping;
        let map = row_map(self.home, &self.rows);
        let (graph, z, r) = (&self.graph, &mut self.z, &mut self.r);
        let (tracked, stale) = (&mut self.tracked, &mut self.scratch.passes.stale);
        let (hint, dangling) = (&mut self.dangling_hint, &self.scratch.dangling);
        // By row, `r` holds `z + r`.
        let by_row = map.is_some();
        let residual = |z: &[f64], r: &[f64], v: u32| {
            index(map, v).map_or(0.0, |i| residual_at(by_row, z, r, i))
        };
        let degree = |v: u32| (graph.out_edges(v).len() + 1) as f64;
        // At most what a pass costs, in the cost model's push visits.
        let budget = (graph.edge_count() + graph.capacity()) as f64 * self.cost.iteration_ns
            / self.cost.push_ns;
        let mut visits = 0u64;
        let mut hist = [0.0f64; 2048];
        'rounds: for _ in 0..HEAD_START_ROUNDS {
            if candidates.is_empty() {
                break;
            }
            // Residual mass by bucket of residual per visit, heaviest first.
            hist.iter_mut().for_each(|h| *h = 0.0);
            let mut total = 0.0;
            for &v in &candidates {
                let m = residual(z, r, v).abs();
                if m > 0.0 {
                    hist[exponent(m / degree(v))] += m;
                    total += m;
                }
            }
            visits += candidates.len() as u64;
            let (mut bucket, mut mass) = (hist.len() - 1, 0.0);
            while bucket > 1 {
                mass += hist[bucket];
                if mass >= HEAD_START_MASS * total {
                    break;
                }
                bucket -= 1;
            }
            let threshold = threshold_of(bucket).max(f64::MIN_POSITIVE);
            pushed_next.clear();
            for &v in &candidates {
                let Some(i) = index(map, v) else { continue };
                let rv = residual_at(by_row, z, r, i);
                let out = graph.out_edges(v);
                if rv.abs() < threshold * (out.len() + 1) as f64 {
                    continue;
                }
                let old_z = z[i];
                if by_row {
                    // `z` takes the next iterate's value: the residual there is 0.
                    z[i] = r[i];
                    stale.push(i as u32);
                } else {
                    z[i] += rv;
                    r[i] = 0.0;
                }
                if let Some(t) = tracked.as_mut() {
                    t.residual_changed(rv, 0.0);
                    t.score_changed(old_z, z[i]);
                }
                report.pushes += 1;
                visits += out.len() as u64 + 1;
                let w = graph.out_weight_of(v);
                if w > 0.0 {
                    let c = a * rv / w;
                    for e in out {
                        if let Some(d) = index(map, e.dst) {
                            let old = residual_at(by_row, z, r, d);
                            r[d] += c * e.weight;
                            if let Some(t) = tracked.as_mut() {
                                t.residual_changed(old, residual_at(by_row, z, r, d));
                            }
                            // The next iterate moved with the residual.
                            if let Some(h) = hint.as_mut()
                                && dangling.contains(e.dst)
                            {
                                *h += c * e.weight;
                            }
                            if by_row {
                                stale.push(d as u32);
                            }
                        }
                    }
                    if out.len() <= HEAVY_DEGREE {
                        pushed_next.extend(out.iter().map(|e| e.dst));
                    }
                }
                if visits as f64 > budget {
                    break 'rounds;
                }
            }
            std::mem::swap(&mut candidates, &mut pushed_next);
        }
        report.push_edge_visits += visits;
        candidates.clear();
        pushed_next.clear();
        self.scratch.heavy = candidates;
        self.scratch.heavy_next = pushed_next;
    }

    /// Whether the kept rows are still worth correcting rather than rebuilding (see
    /// [`KeptRows::fresh`]), in the cost model's nanoseconds.
    fn rows_fresh(&self, rows: &KeptRows) -> bool {
        let size = self.graph.edge_count() + self.graph.capacity();
        rows.fresh(size, size as f64 * self.cost.build_ns)
    }

    /// Warm-started power iteration from the current `z` until the certificate (with slack)
    /// holds; leaves the state by row: the final `z`, and in `r` the next iterate (so its
    /// exact residual is `r − z`), with the teleport scale and dangling hint of the last
    /// pass. With `residual_known` (`r` is `z`'s residual, as the
    /// fix-up and pushes keep it) the first step `z + r` is taken without a pass, since a pass
    /// from `z` would only compute that; otherwise returns a certificate of the starting `z`
    /// from the first pass (`(‖r‖₁ + |Σr|) / ((1 − α) Σz)`, which bounds the centered norm the
    /// exact certificate uses). Also returns the final state's [`StateSums`] and their drift.
    fn power_iterate(
        &mut self,
        report: &mut PageRankReport,
        residual_known: bool,
    ) -> (f64, StateSums, f64) {
        let a = self.damping;
        // Work in the compressed rows' cache-friendly numbering, kept from the last batch
        // while correcting them is cheaper than rebuilding (a rebuild renumbers the rows, so
        // the state goes back to slots first). The state stays in row order afterwards.
        if !self.rows.as_ref().is_some_and(|rows| self.rows_fresh(rows)) {
            self.move_to_slots();
            let rows = KeptRows::build(&self.graph);
            report.iteration_edge_visits += (rows.snapshot_edges() + rows.rows()) as u64;
            self.rent_ns = 0.0;
            self.rows = Some(rows);
        }
        self.move_to_rows();
        let Some(mut rows) = self.rows.take() else {
            unreachable!("the rows were built above")
        };
        let m = rows.rows();
        let n = rows.snapshot_rows();
        let mut buffers = std::mem::take(&mut self.scratch.passes);
        let PassBuffers {
            live_current: _,
            live,
            scaled_current,
            stale: stale_rows,
            teleport,
            z,
            next,
            y,
            y_next,
            extra,
            seen,
            fixups,
        } = &mut buffers;
        next.resize(m, 0.0);
        y.resize(n + 1, 0.0);
        y_next.resize(n + 1, 0.0);
        let inv_out = rows.inv_out();
        // The starting iterate: the next iterate `z + r` the state holds by row (one step
        // further, free when `r` is exact), or `z`; rows whose slot holds no node are 0 in
        // both. Its scaled vector is the last pass's but for the rows changed since, and
        // its sum the tracked `Σz + Σr` (with their drift) when known.
        let mut drift = 0.0;
        let mut sum = None;
        if residual_known {
            std::mem::swap(&mut self.r, z);
            z.resize(m, 0.0);
            if *scaled_current && stale_rows.len() <= m / 8 {
                for &row in stale_rows.iter() {
                    let row = row as usize;
                    if row < n {
                        y[row] = z[row] * inv_out[row];
                    }
                }
            } else {
                scale_rows(&z[..n], inv_out, &mut y[..n]);
            }
            debug_assert!(
                y[..n]
                    .iter()
                    .zip(&z[..n])
                    .zip(inv_out)
                    .all(|((&y, &z), &inv)| y.to_bits() == (z * inv).to_bits()),
                "the kept scaled vector is the starting iterate's"
            );
            if let Some(t) = self.tracked {
                let total = t.sums.sum + t.sums.sigma;
                drift = 2.0 * t.drift + f64::EPSILON * total.abs();
                sum = Some(total);
            }
        } else {
            std::mem::swap(&mut self.z, z);
            z.resize(m, 0.0);
            for (z, &live) in z.iter_mut().zip(live.iter()) {
                if !live {
                    *z = 0.0;
                }
            }
            scale_rows(&z[..n], inv_out, &mut y[..n]);
        }
        y[n] = 0.0;
        let mut sum = sum.unwrap_or_else(|| sum_of(z));
        let dead: Vec<u32> = live[..n]
            .iter()
            .enumerate()
            .filter(|&(_, &live)| !live)
            .map(|(row, _)| row as u32)
            .collect();
        let slots = rows.slots();
        if self.personalized {
            teleport.clear();
            teleport.extend(slots.iter().zip(live.iter()).map(|(&s, &live)| {
                if live { self.teleport[s as usize] } else { 0.0 }
            }));
        }
        // Only resized: a pass leaves `extra` zeroed.
        extra.resize(m, 0.0);
        rows.fixups(&dead, seen, fixups);
        // The passes add to each row, besides `α P̃ z`, the multiple `β t` of the teleport
        // vector that keeps `Σz` where it is: `β Σt = (1 − α) Σz + α D(z)`, `D(z)` the mass
        // on dangling rows. That is networkx's own map (dangling mass spread along the
        // teleport), up to scale. The plain map (`β = τ`) would also carry an error in the
        // total mass, which the ranks do not see but the certificate's centered norm still
        // largely counts, and which shrinks only by α per pass; on soc-Epinions1 this map
        // needs 3.2 instead of 3.8 passes per 100-edge batch and 19 instead of 32 per
        // 10,000-edge one. Any `β` leaves the centered norm of `next − z` that of `z`'s
        // residual (they differ by a multiple of `t`), so the bound `‖next − z‖₁ + |Σnext −
        // Σz|` certifies `z` whatever `β`; and the last pair `(z, next)` is the plain map's for
        // `τ = β`, which the state then takes: no sweep to convert it.
        let t_total = self.teleport_total();
        let per_teleport = if t_total > 0.0 { 1.0 / t_total } else { 0.0 };
        // With no mass the stale state certifies nothing (its bound stays infinite).
        let from_nothing = sum <= 0.0;
        if from_nothing {
            // No mass to keep: start from the teleport vector (scaled to the fixed point's
            // mass, so the first passes need not grow it).
            for (row, z) in z.iter_mut().enumerate() {
                let t = if self.personalized {
                    teleport[row]
                } else if live[row] {
                    1.0 - a
                } else {
                    0.0
                };
                *z = t / (1.0 - a);
            }
            scale_rows(&z[..n], inv_out, &mut y[..n]);
            sum = sum_of(z);
        }
        // The first pass's `D(z)` from the last pass (the batch moved it a little: the
        // first bound is looser by α times the difference, and the mass moves by as much).
        let mut dangling = match self.dangling_hint {
            Some(d) if residual_known && !from_nothing => d,
            _ => dangling_mass(z, &rows),
        };
        debug_assert!(
            (dangling - dangling_mass(z, &rows)).abs() <= 1e-9 * (1.0 + sum),
            "the dangling hint follows the state: {dangling} vs {}",
            dangling_mass(z, &rows)
        );
        let mut iterations = 0;
        let mut stale = f64::INFINITY;
        let tolerance = self.working_tolerance();
        let (mut best, mut stalled) = (f64::INFINITY, 0);
        let sums;
        let pass_visits = (rows.snapshot_edges() + m + rows.correction_count()) as u64;
        loop {
            let beta = ((1.0 - a) * sum + a * dangling) * per_teleport;
            let values = RowValues {
                live,
                teleport: self.personalized.then_some(&teleport[..]),
                teleport_scale: beta,
                damping: a,
            };
            let (step, total, next_dangling) =
                rows.pass(values, fixups, (z, y), (next, y_next), extra);
            iterations += 1;
            report.iteration_edge_visits += pass_visits;
            // `next − z` is a residual of `z`: stop on `‖r‖₁ + |Σr|`, with less slack than
            // a push (a batch large enough to need passes rarely leaves room for the next).
            // `Σr` is `Σnext − Σz`: two sums of n terms, each within n ulps of exact.
            drift += m as f64 * f64::EPSILON * (total.abs() + sum.abs());
            let residual = step + (total - sum).abs() + 2.0 * drift;
            if iterations == 1 && !from_nothing && !residual_known {
                stale = residual / ((1.0 - a) * sum) + self.graph.capacity() as f64 * f64::EPSILON;
            }
            let target = ITERATION_SLACK / SLACK * residual_target(a, tolerance, sum);
            if residual < best {
                (best, stalled) = (residual, 0);
            } else {
                stalled += 1;
            }
            if residual <= target || iterations >= self.max_iterations || stalled >= STALLED_PASSES
            {
                // The state is this iterate and the next one (the residual is their
                // difference), by row, for the teleport scale `β`; its sums are the pass's.
                sums = StateSums {
                    residual: step,
                    sigma: total - sum,
                    sum,
                };
                self.teleport_scale = beta;
                self.dangling_hint = Some(next_dangling);
                break;
            }
            std::mem::swap(z, next);
            std::mem::swap(y, y_next);
            sum = total;
            dangling = next_dangling;
            drift = 0.0;
        }
        std::mem::swap(&mut self.z, &mut buffers.z);
        std::mem::swap(&mut self.r, &mut buffers.next);
        std::mem::swap(&mut buffers.y, &mut buffers.y_next);
        buffers.scaled_current = true;
        buffers.stale.clear();
        let corrected = (rows.correction_count() + buffers.fixups.len()) as f64;
        rows.charge(iterations as f64 * corrected * CORRECTION_VISITS * self.cost.iteration_ns);
        self.scratch.passes = buffers;
        self.rows = Some(rows);
        report.iterations += iterations;
        self.clear_frontier();
        (stale, sums, drift)
    }

    /// The ranks of all nodes in the graph, summing to 1. O(n log n).
    #[must_use]
    pub fn ranks(&self) -> Ranks {
        let (scale, map) = (self.scale(), self.row_map());
        Ranks::from_pairs(
            self.graph
                .index()
                .iter()
                .map(|(i, id)| (id, value(&self.z, map, i) * scale))
                .collect(),
        )
    }

    /// The rank of one node, if it is in the graph. O(n) (it normalizes).
    #[must_use]
    pub fn rank(&self, node: NodeId) -> Option<f64> {
        let i = self.graph.index().get(node)?;
        Some(value(&self.z, self.row_map(), i) * self.scale())
    }

    /// The ranks of the given nodes (`None` for a node not in the graph), in one O(n + k)
    /// pass: for following chosen nodes batch by batch.
    #[must_use]
    pub fn ranks_of(&self, nodes: &[NodeId]) -> Vec<Option<f64>> {
        let (scale, map) = (self.scale(), self.row_map());
        nodes
            .iter()
            .map(|&id| {
                let i = self.graph.index().get(id)?;
                Some(value(&self.z, map, i) * scale)
            })
            .collect()
    }

    /// The `k` highest-ranked nodes, highest first. O(n + k log k).
    #[must_use]
    pub fn top_k(&self, k: usize) -> Vec<(NodeId, f64)> {
        let (scale, map) = (self.scale(), self.row_map());
        crate::topk::top_k(
            self.graph
                .index()
                .iter()
                .map(|(i, id)| (id, value(&self.z, map, i) * scale)),
            k,
        )
    }

    /// `1/Σz`: ranks are `z` times this (0 for an empty graph).
    fn scale(&self) -> f64 {
        let sum: f64 = self.z.iter().sum();
        if sum > 0.0 { 1.0 / sum } else { 0.0 }
    }

    /// Proven bound on the L1 distance of [`ranks`](Self::ranks) to the exact PageRank of the
    /// current graph.
    #[must_use]
    pub fn certificate(&self) -> f64 {
        self.certificate
    }

    /// The maintained graph.
    #[must_use]
    pub fn graph(&self) -> &DirectedGraph {
        &self.graph
    }

    /// Nodes in the graph.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Distinct edges in the graph.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Batches applied so far.
    #[must_use]
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// The damping factor.
    #[must_use]
    pub fn damping(&self) -> f64 {
        self.damping
    }

    /// The tolerance the certificate is kept under.
    #[must_use]
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }
}

/// The rows' numbering while the state lives in rows (`None`: it is indexed by slot); a
/// free function so that it borrows only the rows, not the state vectors.
fn row_map(home: Home, rows: &Option<KeptRows>) -> Option<&[u32]> {
    match (home, rows) {
        (Home::Rows, Some(rows)) => Some(rows.row_of()),
        _ => None,
    }
}

/// The residual at index `i`: `r[i]`, or by row (where `r` holds `z + r`) `r[i] − z[i]`.
#[inline]
fn residual_at(by_row: bool, z: &[f64], r: &[f64], i: usize) -> f64 {
    if by_row { r[i] - z[i] } else { r[i] }
}

/// Where a slot's state is: the slot itself, or its row under `map` (`None`: no row).
#[inline]
fn index(map: Option<&[u32]>, slot: u32) -> Option<usize> {
    match map {
        None => Some(slot as usize),
        Some(row_of) => match row_of.get(slot as usize) {
            Some(&row) if row != NO_ROW => Some(row as usize),
            _ => None,
        },
    }
}

/// A slot's entry of a state vector (0 without one).
#[inline]
fn value(v: &[f64], map: Option<&[u32]>, slot: u32) -> f64 {
    index(map, slot).map_or(0.0, |i| v[i])
}

/// Whether each row's slot holds a node.
fn rows_liveness(rows: &KeptRows, live: &[bool], out: &mut Vec<bool>) {
    out.clear();
    out.extend(rows.slots().iter().map(|&s| live[s as usize]));
}

/// `y = z / W` over rows, in parallel.
fn scale_rows(z: &[f64], inv_out: &[f64], y: &mut [f64]) {
    y.par_chunks_mut(SUM_CHUNK)
        .zip(z.par_chunks(SUM_CHUNK))
        .zip(inv_out.par_chunks(SUM_CHUNK))
        .for_each(|((y, z), inv)| {
            for ((y, &z), &inv) in y.iter_mut().zip(z).zip(inv) {
                *y = z * inv;
            }
        });
}

/// `Σ v`, in fixed chunks added in order.
fn sum_of(v: &[f64]) -> f64 {
    ordered_sum(v.par_chunks(SUM_CHUNK).map(|v| v.iter().sum::<f64>()))
}

/// `Σ z` over the dangling rows (no out-weight) of `rows`, `z` by row.
fn dangling_mass(z: &[f64], rows: &KeptRows) -> f64 {
    let n = rows.snapshot_rows();
    let snapshot = ordered_sum(
        z[..n]
            .par_chunks(SUM_CHUNK)
            .zip(rows.inv_out().par_chunks(SUM_CHUNK))
            .map(|(z, inv)| {
                z.iter()
                    .zip(inv)
                    .map(|(&z, &inv)| if inv == 0.0 { z } else { 0.0 })
                    .sum::<f64>()
            }),
    );
    let appended: f64 = (n..rows.rows())
        .filter(|&row| rows.inv_of(row) == 0.0)
        .map(|row| z[row])
        .sum();
    snapshot + appended
}

/// Histogram bucket of a positive float: its biased binary exponent.
#[inline]
fn exponent(x: f64) -> usize {
    ((x.to_bits() >> 52) & 0x7ff) as usize
}

/// Smallest value in a bucket.
#[inline]
fn threshold_of(bucket: usize) -> f64 {
    if bucket == 0 {
        0.0
    } else {
        f64::from_bits((bucket as u64) << 52)
    }
}

/// Entries per task in the parallel sums over node vectors.
const SUM_CHUNK: usize = 4096;

#[cfg(test)]
mod tests {
    use super::{Home, IncrementalPageRank, NodeQueue, UpdateMethod, UpdateStrategy, index};
    use crate::event::EdgeEvent;
    use std::collections::VecDeque;

    /// `τ t + α P̃ z − z` by slot, computed from scratch over the graph's out-edges.
    fn exact_residual(pr: &IncrementalPageRank) -> Vec<f64> {
        let g = &pr.graph;
        let map = pr.row_map();
        let n = g.capacity();
        let z: Vec<f64> = (0..n as u32)
            .map(|s| index(map, s).map_or(0.0, |i| pr.z[i]))
            .collect();
        let mut r = vec![0.0; n];
        for (slot, _) in g.index().iter() {
            let s = slot as usize;
            r[s] += pr.teleport_scale * (1.0 - pr.damping) - z[s];
            let w = g.out_weight_of(slot);
            for e in g.out_edges(slot) {
                r[e.dst as usize] += pr.damping * z[s] * e.weight / w;
            }
        }
        r
    }

    /// The residual as the updater holds it, by slot (by row, `r` holds `z + r`).
    fn held_residual(pr: &IncrementalPageRank) -> Vec<f64> {
        let map = pr.row_map();
        (0..pr.graph.capacity() as u32)
            .map(|s| {
                index(map, s).map_or(0.0, |i| match map {
                    Some(_) => pr.r[i] - pr.z[i],
                    None => pr.r[i],
                })
            })
            .collect()
    }

    /// A head start pushes the batch's heaviest residuals and keeps `r` the exact residual
    /// of `z`, whether the state is by slot or by row (checked against a from-scratch
    /// residual to 1e-12).
    #[test]
    fn a_head_start_keeps_the_residual_exact() {
        let wheel: Vec<EdgeEvent> = (0..40u64)
            .flat_map(|i| {
                [
                    EdgeEvent::insert(i, (i + 1) % 40),
                    EdgeEvent::insert(i, (i * 7 + 3) % 40),
                ]
            })
            .collect();
        let batch: Vec<EdgeEvent> = (0..10u64)
            .map(|i| EdgeEvent::insert(100 + i, i))
            .chain([
                EdgeEvent::delete(3, 4),
                EdgeEvent::insert_weighted(5, 9, 4.0),
            ])
            .collect();
        for (strategy, home) in [
            (UpdateStrategy::Push, Home::Slots),
            (UpdateStrategy::PowerIteration, Home::Rows),
        ] {
            let mut pr = IncrementalPageRank::params()
                .tolerance(1e-9)
                .strategy(strategy)
                .build()
                .expect("valid");
            pr.update(&wheel);
            // (A fresh graph has no mass to push: its first batch takes passes either way.)
            pr.update(&[EdgeEvent::insert(0, 20)]);
            assert_eq!(pr.home, home);
            let (mut report, delta, large) = pr.take_in(&batch);
            assert!(!large);
            pr.fix_residuals(&delta);
            let before: f64 = held_residual(&pr).iter().map(|r| r.abs()).sum();
            pr.head_start(&mut report);
            assert!(report.pushes > 0, "{report:?}");
            let (held, exact) = (held_residual(&pr), exact_residual(&pr));
            let after: f64 = held.iter().map(|r| r.abs()).sum();
            assert!(after < before, "{after} < {before}");
            for (s, (h, e)) in held.iter().zip(&exact).enumerate() {
                assert!((h - e).abs() <= 1e-12, "slot {s}: {h} vs {e}");
            }
        }
    }

    /// The sums tracked through the fix-up (no sweep between solves) stay within their drift
    /// bound of a sweep's, over a stream where most batches need no work (and so no sweep).
    #[test]
    fn tracked_sums_follow_the_state() {
        let n = 3000u64;
        let wheel: Vec<EdgeEvent> = (0..n)
            .flat_map(|i| {
                [
                    EdgeEvent::insert(i, (i + 1) % n),
                    EdgeEvent::insert(i, (i * 11 + 5) % n),
                ]
            })
            .collect();
        let mut pr = IncrementalPageRank::params()
            .tolerance(1e-2)
            .build()
            .expect("valid");
        pr.update(&wheel);
        let mut untouched = 0;
        for i in 0..300u64 {
            // A new dangling node per batch; the one of 50 batches ago leaves again.
            let edge = |i: u64| ((i * 7) % n, n + i);
            let mut batch = vec![EdgeEvent::insert(edge(i).0, edge(i).1)];
            if i >= 50 {
                batch.push(EdgeEvent::delete(edge(i - 50).0, edge(i - 50).1));
            }
            let report = pr.update(&batch);
            untouched += usize::from(report.method == UpdateMethod::None);
            let tracked = pr.tracked.expect("known after every solve");
            let swept = pr.state_sums();
            let close = |a: f64, b: f64| (a - b).abs() <= tracked.drift + 1e-12 * b.abs().max(1.0);
            assert!(
                close(tracked.sums.residual, swept.residual),
                "{i}: {tracked:?} {swept:?}"
            );
            assert!(
                close(tracked.sums.sigma, swept.sigma),
                "{i}: {tracked:?} {swept:?}"
            );
            assert!(
                close(tracked.sums.sum, swept.sum),
                "{i}: {tracked:?} {swept:?}"
            );
        }
        assert!(untouched > 100, "{untouched} batches without work");
    }

    /// A push whose residual is out of reach of its rounds (here: only a subnormal residual
    /// left, below the smallest threshold, while the residual it was given says more) returns
    /// not-done after a round that pushes nothing, instead of scanning forever.
    #[test]
    fn a_push_round_that_pushes_nothing_ends_the_push() {
        let mut pr = IncrementalPageRank::params()
            .strategy(UpdateStrategy::Push)
            .build()
            .expect("valid");
        pr.update(&[
            EdgeEvent::insert(1, 2),
            EdgeEvent::insert(2, 3),
            EdgeEvent::insert(3, 1),
        ]);
        let mut report = pr.update(&[]);
        pr.move_to_slots();
        pr.r.iter_mut().for_each(|r| *r = 0.0);
        pr.r[0] = 1e-310;
        let pushes = report.pushes;
        let (done, visits, after) = pr.push(1e-12, f64::INFINITY, 1.0, 0.0, &mut report);
        assert!(!done);
        assert_eq!(report.pushes, pushes);
        assert!(visits > 0 && after <= 2e-310, "{visits} {after:e}");
    }

    /// The ring queue behaves as a FIFO that holds each node at most once, checked against a
    /// `VecDeque` with explicit flags over a pseudo-random sequence of offers and pops, with
    /// every node queued at once at some point (the ring must never wrap onto itself).
    #[test]
    fn the_node_queue_is_a_fifo_without_duplicates() {
        let n = 37;
        let mut queue = NodeQueue::default();
        queue.reset(n);
        let (mut reference, mut flags) = (VecDeque::new(), vec![false; n]);
        let (mut x, mut longest) = (12_345u64, 0);
        for step in 0..20_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let v = ((x >> 33) % n as u64) as u32;
            let fill_phase = (step / 500) % 2 == 0;
            if fill_phase || (x >> 20) % 3 == 0 {
                let wanted = (x >> 40) % 4 != 0;
                queue.offer(v, wanted);
                if wanted && !flags[v as usize] {
                    flags[v as usize] = true;
                    reference.push_back(v);
                }
            } else {
                let expected = reference.pop_front();
                if let Some(u) = expected {
                    flags[u as usize] = false;
                }
                assert_eq!(queue.pop(), expected, "step {step}");
            }
            assert_eq!(queue.len, reference.len());
            longest = longest.max(queue.len);
        }
        assert_eq!(longest, n, "every node was queued at once");
    }
}

//! Degree and strength statistics of the directed graph, per batch.

use crate::error::GraphError;
use crate::event::{BatchCounts, EdgeEvent, NodeId};
use crate::graph::{DirectedGraph, GraphDelta};
use crate::window::EdgeWindow;
use serde::{Deserialize, Serialize};

/// Which degree a query is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DegreeKind {
    /// Distinct in-neighbours.
    In,
    /// Distinct out-neighbours.
    Out,
    /// In plus out (a reciprocated pair counts twice, a self-loop twice).
    Total,
}

/// Checked configuration of [`DegreeStats`].
#[derive(Clone, Debug, Default)]
pub struct DegreeStatsParams {
    window_batches: Option<usize>,
}

impl DegreeStatsParams {
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
    pub fn build(self) -> Result<DegreeStats, GraphError> {
        Ok(DegreeStats {
            window: self.window_batches.map(EdgeWindow::new).transpose()?,
            ..DegreeStats::default()
        })
    }
}

/// Per-batch account of a [`DegreeStats::update`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DegreesReport {
    /// Batch number, from 1.
    pub batch: u64,
    /// What the batch did to the graph.
    pub counts: BatchCounts,
    /// Largest total degree after the batch.
    pub max_degree: usize,
    /// Mean total degree after the batch (`2 m / n`).
    pub mean_degree: f64,
}

/// In-, out- and total-degree distributions, weighted strengths and top-k degree of the
/// directed graph, kept current per batch.
///
/// The distributions are histograms updated for the nodes a batch touched: O(batch) per
/// update. Top-k is a selection over all nodes at query time: O(n + k log k).
///
/// ```
/// use spate_graph::{DegreeKind, DegreeStats, EdgeEvent};
///
/// let mut d = DegreeStats::params().build()?;
/// d.update(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(3, 2), EdgeEvent::insert(3, 2)]);
/// assert_eq!(d.degree(2, DegreeKind::In), 2);
/// assert_eq!(d.in_strength(2), 3.0);
/// assert_eq!(d.distribution(DegreeKind::Out), vec![(0, 1), (1, 2)]);
/// assert_eq!(d.top_k(1, DegreeKind::Total), vec![(2, 2)]);
/// # Ok::<(), spate_graph::GraphError>(())
/// ```
///
/// A checkpoint holds the graph, the window and the batch number; the histograms are derived
/// state and are recomputed from the (validated) graph on decoding, O(n), so a checkpoint
/// cannot carry inconsistent ones.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "DegreeStatsRepr")]
pub struct DegreeStats {
    graph: DirectedGraph,
    window: Option<EdgeWindow>,
    /// `histogram[kind][d]` = live nodes with that degree.
    #[serde(skip)]
    hist_in: Vec<u64>,
    #[serde(skip)]
    hist_out: Vec<u64>,
    #[serde(skip)]
    hist_total: Vec<u64>,
    batches: u64,
    #[serde(skip)]
    events: Vec<EdgeEvent>,
}

/// The decoded form of a checkpoint: the serialized fields of [`DegreeStats`], in order.
#[derive(Deserialize)]
struct DegreeStatsRepr {
    graph: DirectedGraph,
    window: Option<EdgeWindow>,
    batches: u64,
}

impl From<DegreeStatsRepr> for DegreeStats {
    fn from(r: DegreeStatsRepr) -> Self {
        let mut d = DegreeStats {
            graph: r.graph,
            window: r.window,
            batches: r.batches,
            ..DegreeStats::default()
        };
        for (node, _) in d.graph.index().iter() {
            let i = d.graph.in_degree_of(node) as usize;
            let o = d.graph.out_edges(node).len();
            bump(&mut d.hist_in, i, true);
            bump(&mut d.hist_out, o, true);
            bump(&mut d.hist_total, i + o, true);
        }
        d
    }
}

fn bump(hist: &mut Vec<u64>, degree: usize, up: bool) {
    if hist.len() <= degree {
        hist.resize(degree + 1, 0);
    }
    if up {
        hist[degree] += 1;
    } else {
        hist[degree] = hist[degree].saturating_sub(1);
    }
}

impl DegreeStats {
    /// Parameters: no window.
    #[must_use]
    pub fn params() -> DegreeStatsParams {
        DegreeStatsParams::default()
    }

    /// Apply one batch.
    pub fn update(&mut self, batch: &[EdgeEvent]) -> DegreesReport {
        let mut events = std::mem::take(&mut self.events);
        let mut delta = GraphDelta::default();
        let (counts, expired) = match &mut self.window {
            Some(w) => {
                let expired = w.advance(batch, &mut events);
                (self.graph.apply_batch(&events, &mut delta), expired)
            }
            None => (self.graph.apply_batch(batch, &mut delta), 0),
        };
        self.events = events;
        for t in &delta.touched {
            if t.live_before {
                let (i, o) = (t.in_before as usize, t.out_before as usize);
                bump(&mut self.hist_in, i, false);
                bump(&mut self.hist_out, o, false);
                bump(&mut self.hist_total, i + o, false);
            }
            if self.graph.index().is_live(t.node) {
                let i = self.graph.in_degree_of(t.node) as usize;
                let o = self.graph.out_edges(t.node).len();
                bump(&mut self.hist_in, i, true);
                bump(&mut self.hist_out, o, true);
                bump(&mut self.hist_total, i + o, true);
            }
        }
        for h in [&mut self.hist_in, &mut self.hist_out, &mut self.hist_total] {
            while h.last() == Some(&0) {
                h.pop();
            }
        }
        self.batches += 1;
        let n = self.graph.node_count();
        DegreesReport {
            batch: self.batches,
            counts: BatchCounts { expired, ..counts },
            max_degree: self.hist_total.len().saturating_sub(1),
            mean_degree: if n == 0 {
                0.0
            } else {
                2.0 * self.graph.edge_count() as f64 / n as f64
            },
        }
    }

    /// Degree of `node` (0 if absent).
    #[must_use]
    pub fn degree(&self, node: NodeId, kind: DegreeKind) -> usize {
        match kind {
            DegreeKind::In => self.graph.in_degree(node),
            DegreeKind::Out => self.graph.out_degree(node),
            DegreeKind::Total => self.graph.in_degree(node) + self.graph.out_degree(node),
        }
    }

    /// Total weight entering `node`.
    #[must_use]
    pub fn in_strength(&self, node: NodeId) -> f64 {
        self.graph.in_weight(node)
    }

    /// Total weight leaving `node`.
    #[must_use]
    pub fn out_strength(&self, node: NodeId) -> f64 {
        self.graph.out_weight(node)
    }

    /// `(degree, nodes with that degree)` for every degree some node has, increasing.
    #[must_use]
    pub fn distribution(&self, kind: DegreeKind) -> Vec<(usize, u64)> {
        let hist = match kind {
            DegreeKind::In => &self.hist_in,
            DegreeKind::Out => &self.hist_out,
            DegreeKind::Total => &self.hist_total,
        };
        hist.iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(d, &n)| (d, n))
            .collect()
    }

    /// The `k` nodes of largest degree, largest first (ties by smaller id).
    #[must_use]
    pub fn top_k(&self, k: usize, kind: DegreeKind) -> Vec<(NodeId, usize)> {
        let g = &self.graph;
        crate::topk::top_k(
            g.index().iter().map(|(i, id)| {
                let (din, dout) = (g.in_degree_of(i) as usize, g.out_edges(i).len());
                let d = match kind {
                    DegreeKind::In => din,
                    DegreeKind::Out => dout,
                    DegreeKind::Total => din + dout,
                };
                (id, d)
            }),
            k,
        )
    }

    /// The maintained graph.
    #[must_use]
    pub fn graph(&self) -> &DirectedGraph {
        &self.graph
    }
}

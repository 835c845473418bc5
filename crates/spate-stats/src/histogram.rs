//! Fixed-bin histograms.

use crate::count_min::check_size;
use crate::error::StatsError;
use serde::{Deserialize, Serialize};

const MAX_BINS: usize = 1 << 24;

/// Checked parameters for [`Histogram`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramParams {
    bins: Bins,
}

#[derive(Debug, Clone, PartialEq)]
enum Bins {
    Uniform { lo: f64, hi: f64, bins: usize },
    Edges(Vec<f64>),
}

impl HistogramParams {
    /// `bins` equal-width bins over `[lo, hi]` (the default is 10 bins over `[0, 1]`).
    pub fn uniform(mut self, lo: f64, hi: f64, bins: usize) -> Self {
        self.bins = Bins::Uniform { lo, hi, bins };
        self
    }

    /// Explicit bin edges: at least two, finite and strictly increasing.
    pub fn edges(mut self, edges: Vec<f64>) -> Self {
        self.bins = Bins::Edges(edges);
        self
    }

    /// Validate the parameters.
    pub fn build(self) -> Result<Histogram, StatsError> {
        let (edges, uniform) = match self.bins {
            Bins::Uniform { lo, hi, bins } => {
                check_size("bins", bins, 1, MAX_BINS)?;
                if !lo.is_finite() {
                    return Err(StatsError::BadHistogramEdge {
                        index: 0,
                        value: lo,
                    });
                }
                if !(hi.is_finite() && hi > lo) {
                    return Err(StatsError::BadHistogramEdge {
                        index: bins,
                        value: hi,
                    });
                }
                // numpy's linspace: the same edges numpy.histogram would use.
                let step = (hi - lo) / bins as f64;
                let mut edges: Vec<f64> = (0..bins).map(|i| lo + i as f64 * step).collect();
                edges.push(hi);
                (edges, true)
            }
            Bins::Edges(edges) => {
                check_size("number of edges", edges.len(), 2, MAX_BINS + 1)?;
                for (i, &e) in edges.iter().enumerate() {
                    if !e.is_finite() || (i > 0 && e <= edges[i - 1]) {
                        return Err(StatsError::BadHistogramEdge { index: i, value: e });
                    }
                }
                (edges, false)
            }
        };
        let bins = edges.len() - 1;
        Ok(Histogram {
            edges,
            uniform,
            counts: vec![0; bins],
            below: 0,
            above: 0,
            skipped_non_finite: 0,
        })
    }
}

/// Counts of values in fixed bins, with numpy's conventions: bins are half-open
/// `[e_i, e_{i+1})` except the last, which is closed; values outside the edges are counted in
/// [`below`](Self::below) and [`above`](Self::above); NaN and ±∞ are skipped and counted.
///
/// Merging adds counts (exact, commutative, associative) and retracting subtracts them
/// (wrapping: merge-then-retract is exact). `Default` is 10 uniform bins over `[0, 1]`; an
/// empty histogram takes on the edges of whatever is merged into it, so `Default` is the
/// identity for every binning. Merging non-empty histograms with different edges is an error in
/// [`try_merge`](Self::try_merge) and a panic in [`Merge::merge`](spate_core::Merge::merge).
///
/// Cost per value: O(1) for uniform bins (one multiply plus an edge check), O(log bins) for
/// explicit edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    edges: Vec<f64>,
    uniform: bool,
    counts: Vec<u64>,
    below: u64,
    above: u64,
    skipped_non_finite: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        let edges = (0..=10).map(|i| f64::from(i) / 10.0).collect();
        Histogram {
            edges,
            uniform: true,
            counts: vec![0; 10],
            below: 0,
            above: 0,
            skipped_non_finite: 0,
        }
    }
}

impl Histogram {
    /// Start configuring a histogram (10 bins over `[0, 1]` unless changed).
    pub fn params() -> HistogramParams {
        HistogramParams {
            bins: Bins::Uniform {
                lo: 0.0,
                hi: 1.0,
                bins: 10,
            },
        }
    }

    /// The bin edges (one more than the number of bins).
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Count per bin.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Values below the first edge.
    pub fn below(&self) -> u64 {
        self.below
    }

    /// Values above the last edge.
    pub fn above(&self) -> u64 {
        self.above
    }

    /// NaN and ±∞ values skipped.
    pub fn skipped_non_finite(&self) -> u64 {
        self.skipped_non_finite
    }

    /// Finite values seen, in or out of range.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(self.below.wrapping_add(self.above), |a, &c| {
                a.wrapping_add(c)
            })
    }

    fn is_empty(&self) -> bool {
        self.total() == 0 && self.skipped_non_finite == 0
    }

    /// Add a batch of values.
    pub fn update(&mut self, batch: &[f64]) {
        let n = self.counts.len();
        let (lo, hi) = (self.edges[0], self.edges[n]);
        let scale = n as f64 / (hi - lo);
        for &x in batch {
            if !x.is_finite() {
                self.skipped_non_finite += 1;
            } else if x < lo {
                self.below += 1;
            } else if x > hi {
                self.above += 1;
            } else {
                let mut i = if self.uniform {
                    (((x - lo) * scale) as usize).min(n - 1)
                } else {
                    self.edges
                        .partition_point(|&e| e <= x)
                        .saturating_sub(1)
                        .min(n - 1)
                };
                // Rounding in the uniform formula can land one bin off; the edges decide.
                if x < self.edges[i] {
                    i -= 1;
                } else if i + 1 < n && x >= self.edges[i + 1] {
                    i += 1;
                }
                self.counts[i] += 1;
            }
        }
    }

    fn compatible(&self, other: &Self) -> Result<(), StatsError> {
        if self.edges == other.edges {
            Ok(())
        } else {
            Err(StatsError::IncompatibleMerge {
                summary: "Histogram",
                left: format!(
                    "{} bins over [{}, {}]",
                    self.counts.len(),
                    self.edges[0],
                    self.edges[self.counts.len()]
                ),
                right: format!(
                    "{} bins over [{}, {}]",
                    other.counts.len(),
                    other.edges[0],
                    other.edges[other.counts.len()]
                ),
            })
        }
    }

    /// Merge, or report that the two histograms have different edges.
    pub fn try_merge(&mut self, other: &Self) -> Result<(), StatsError> {
        if other.is_empty() {
            return Ok(());
        }
        if self.is_empty() {
            *self = other.clone();
            return Ok(());
        }
        self.compatible(other)?;
        for (a, &b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.wrapping_add(b);
        }
        self.below = self.below.wrapping_add(other.below);
        self.above = self.above.wrapping_add(other.above);
        self.skipped_non_finite = self
            .skipped_non_finite
            .wrapping_add(other.skipped_non_finite);
        Ok(())
    }

    /// Retract, or report that the two histograms have different edges.
    pub fn try_retract(&mut self, other: &Self) -> Result<(), StatsError> {
        if other.is_empty() {
            return Ok(());
        }
        self.compatible(other)?;
        for (a, &b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.wrapping_sub(b);
        }
        self.below = self.below.wrapping_sub(other.below);
        self.above = self.above.wrapping_sub(other.above);
        self.skipped_non_finite = self
            .skipped_non_finite
            .wrapping_sub(other.skipped_non_finite);
        Ok(())
    }
}

merge_via_try!(Histogram, retract);

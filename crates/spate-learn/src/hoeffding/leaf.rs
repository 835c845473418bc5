//! A Hoeffding tree leaf with adaptive naive Bayes prediction (River's
//! `LeafNaiveBayesAdaptive`).

use super::split::{Candidate, Dist, GaussianSplitter, total};
use serde::{Deserialize, Serialize};

/// How a leaf predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeafPrediction {
    /// The class frequencies at the leaf (River's `"mc"`).
    MajorityClass,
    /// Naive Bayes over the leaf's Gaussian estimators (River's `"nb"`).
    NaiveBayes,
    /// Naive Bayes or majority class, whichever has been right more often at this leaf
    /// (River's `"nba"`, the default).
    NaiveBayesAdaptive,
}

/// A leaf: its class distribution, and while active, one splitter per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Leaf {
    pub(crate) depth: usize,
    pub(crate) stats: Dist,
    /// `None` when the leaf is inactive (it no longer grows); empty until its first record.
    pub(crate) splitters: Option<Vec<GaussianSplitter>>,
    pub(crate) last_split_attempt_at: f64,
    mc_correct: f64,
    nb_correct: f64,
}

/// The first class of largest weight (insertion order breaks ties, as Python's `max`).
fn first_max(dist: &[(usize, f64)]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for &(c, w) in dist {
        if best.is_none_or(|(_, b)| w > b) {
            best = Some((c, w));
        }
    }
    best.map(|(c, _)| c)
}

impl Leaf {
    pub(crate) fn new(depth: usize, stats: Dist) -> Leaf {
        let last = total(&stats);
        Leaf {
            depth,
            stats,
            splitters: Some(Vec::new()),
            last_split_attempt_at: last,
            mc_correct: 0.0,
            nb_correct: 0.0,
        }
    }

    pub(crate) fn total_weight(&self) -> f64 {
        total(&self.stats)
    }

    pub(crate) fn is_active(&self) -> bool {
        self.splitters.is_some()
    }

    pub(crate) fn deactivate(&mut self) {
        self.splitters = None;
    }

    pub(crate) fn activate(&mut self) {
        if self.splitters.is_none() {
            self.splitters = Some(Vec::new());
        }
    }

    /// Learns one record: scores both predictors first (adaptive leaves), then updates the
    /// class weights and, while active, the splitters.
    pub(crate) fn learn(
        &mut self,
        x: &[f64],
        y: usize,
        w: f64,
        mode: LeafPrediction,
        nb: &mut Dist,
    ) {
        if mode == LeafPrediction::NaiveBayesAdaptive && self.is_active() {
            if self.stats.is_empty() || first_max(&self.stats) == Some(y) {
                self.mc_correct += w;
            }
            self.naive_bayes(x, nb);
            if first_max(nb) == Some(y) {
                self.nb_correct += w;
            }
        }
        match self.stats.iter_mut().find(|(c, _)| *c == y) {
            Some((_, weight)) => *weight += w,
            None => self.stats.push((y, w)),
        }
        if let Some(splitters) = &mut self.splitters {
            if splitters.is_empty() {
                splitters.resize(x.len(), GaussianSplitter::default());
            }
            for (s, &xi) in splitters.iter_mut().zip(x) {
                s.update(xi, y, w);
            }
        }
    }

    /// The leaf's class votes into `out` (cleared first), in the order of its classes.
    pub(crate) fn predict(
        &self,
        x: &[f64],
        mode: LeafPrediction,
        nb_threshold: f64,
        out: &mut Dist,
    ) {
        let use_nb = self.is_active()
            && match mode {
                LeafPrediction::MajorityClass => false,
                LeafPrediction::NaiveBayes => self.total_weight() >= nb_threshold,
                LeafPrediction::NaiveBayesAdaptive => self.nb_correct >= self.mc_correct,
            };
        if use_nb {
            self.naive_bayes(x, out);
        } else {
            out.clear();
            let sum = self.total_weight();
            for &(c, w) in &self.stats {
                out.push((c, if sum != 0.0 { w / sum } else { w }));
            }
        }
    }

    /// River's `do_naive_bayes_prediction`: log prior plus the log densities of every
    /// feature with spread, normalized by log-sum-exp; empty without weight.
    fn naive_bayes(&self, x: &[f64], out: &mut Dist) {
        out.clear();
        let sum = self.total_weight();
        if self.stats.is_empty() || sum == 0.0 {
            return;
        }
        let splitters = self.splitters.as_deref().unwrap_or(&[]);
        for &(c, weight) in &self.stats {
            if weight > 0.0 {
                let mut vote = (weight / sum).ln();
                for (s, &xi) in splitters.iter().zip(x) {
                    let lp = s.cond_log_proba(xi, c);
                    if lp > f64::NEG_INFINITY {
                        vote += lp;
                    }
                }
                out.push((c, vote));
            } else {
                out.push((c, 0.0));
            }
        }
        let max = out.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
        let mut s = 0.0;
        for &(_, v) in out.iter() {
            s += (v - max).exp();
        }
        let lse = max + s.ln();
        for (_, v) in out.iter_mut() {
            *v = (*v - lse).exp();
        }
    }

    /// Whether fewer than two classes have weight.
    pub(crate) fn is_pure(&self) -> bool {
        self.stats.iter().filter(|(_, w)| *w != 0.0).take(2).count() < 2
    }

    /// The candidates River weighs: a lone null split when one class holds more than
    /// `max_share` of the weight, else the null split (with pre-pruning) and each feature's
    /// best split, in feature order.
    pub(crate) fn candidates(
        &self,
        n_splits: usize,
        min_branch_fraction: f64,
        max_share: f64,
        merit_preprune: bool,
    ) -> Vec<Candidate> {
        let majority = self
            .stats
            .iter()
            .map(|s| s.1)
            .fold(f64::NEG_INFINITY, f64::max);
        if majority != 0.0 && majority / self.total_weight() > max_share {
            return vec![Candidate::null()];
        }
        let mut out = Vec::new();
        if merit_preprune {
            out.push(Candidate::null());
        }
        for (feature, s) in self.splitters.iter().flatten().enumerate() {
            out.push(s.best_split(feature, &self.stats, n_splits, min_branch_fraction));
        }
        out
    }

    /// How promising a split here is: the weight not in the majority class.
    pub(crate) fn promise(&self) -> f64 {
        let sum = self.total_weight();
        if sum > 0.0 {
            sum - self
                .stats
                .iter()
                .map(|s| s.1)
                .fold(f64::NEG_INFINITY, f64::max)
        } else {
            0.0
        }
    }

    /// A rough size in bytes, for the memory limit.
    pub(crate) fn size_bytes(&self) -> usize {
        let splitters: usize = self
            .splitters
            .iter()
            .flatten()
            .map(|s| 24 + s.classes.len() * std::mem::size_of::<super::split::ClassObserver>())
            .sum();
        std::mem::size_of::<Leaf>() + self.stats.len() * 16 + splitters
    }

    pub(crate) fn is_valid(&self, d: usize) -> bool {
        self.stats.iter().all(|(_, w)| w.is_finite() && *w >= 0.0)
            && self
                .splitters
                .as_ref()
                .is_none_or(|s| s.is_empty() || s.len() == d)
            && self.splitters.iter().flatten().all(|s| {
                s.classes
                    .iter()
                    .all(|o| o.gaussian.is_valid() && o.min <= o.max && o.log_pdf.fits(&o.gaussian))
            })
    }
}

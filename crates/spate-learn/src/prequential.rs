//! Prequential (test-then-train) evaluation: each record is predicted by the model as it
//! was before learning it, over the whole stream and over a sliding window of records.

use crate::error::{Result, corrupt, invalid};
use crate::learner::argmax;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Bins of the ROC AUC histograms.
const AUC_BINS: usize = 4096;
/// `asinh` of the largest finite logit of a probability (`ln(1/5e-324)`).
const ASINH_RANGE: f64 = 7.32;

/// The histogram bin of a score in `[0, 1]` (probabilities, Half-Space Trees scores), on
/// the `asinh(logit)` scale: nearly linear in the logit around 0.5 (bins 0.0036 wide) and
/// logarithmic in the logit towards 0 and 1, so probabilities as extreme as 1e-300 still
/// rank apart from 1e-200.
fn score_bin(score: f64) -> u16 {
    let p = if score.is_nan() {
        0.5
    } else {
        score.clamp(0.0, 1.0)
    };
    let logit = p.ln() - (-p).ln_1p();
    let t = if logit.is_nan() {
        0.5
    } else {
        (logit.asinh() + ASINH_RANGE) / (2.0 * ASINH_RANGE)
    };
    ((t.clamp(0.0, 1.0) * AUC_BINS as f64) as usize).min(AUC_BINS - 1) as u16
}

/// Scores of positives and negatives in histogram bins: a ROC AUC in bounded memory that
/// can also forget records (for windows).
///
/// The AUC counts a positive-negative pair in the same bin as half ordered, so it differs
/// from the exact AUC by at most half the share of pairs whose scores share a bin (4096 bins
/// on the `asinh(logit)` scale, 0.0036 wide in the logit near 0.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocAuc {
    positive: Vec<u32>,
    negative: Vec<u32>,
    n_positive: u64,
    n_negative: u64,
}

impl Default for RocAuc {
    fn default() -> Self {
        RocAuc {
            positive: vec![0; AUC_BINS],
            negative: vec![0; AUC_BINS],
            n_positive: 0,
            n_negative: 0,
        }
    }
}

impl RocAuc {
    fn add_bin(&mut self, positive: bool, bin: u16, sign: i64) {
        let (hist, n) = if positive {
            (&mut self.positive, &mut self.n_positive)
        } else {
            (&mut self.negative, &mut self.n_negative)
        };
        let slot = &mut hist[usize::from(bin)];
        *slot = (i64::from(*slot) + sign).max(0) as u32;
        *n = (*n as i64 + sign).max(0) as u64;
    }

    /// Adds a scored record (`score` in `[0, 1]`, higher meaning positive).
    pub fn add(&mut self, positive: bool, score: f64) {
        self.add_bin(positive, score_bin(score), 1);
    }

    /// The area under the ROC curve; NaN until there are positives and negatives.
    pub fn get(&self) -> f64 {
        if self.n_positive == 0 || self.n_negative == 0 {
            return f64::NAN;
        }
        let (mut below, mut area) = (0.0, 0.0);
        for (p, n) in self.positive.iter().zip(&self.negative) {
            let (p, n) = (f64::from(*p), f64::from(*n));
            area += p * (below + 0.5 * n);
            below += n;
        }
        area / (self.n_positive as f64 * self.n_negative as f64)
    }

    fn is_valid(&self) -> bool {
        self.positive.len() == AUC_BINS
            && self.negative.len() == AUC_BINS
            && self.positive.iter().map(|&v| u64::from(v)).sum::<u64>() == self.n_positive
            && self.negative.iter().map(|&v| u64::from(v)).sum::<u64>() == self.n_negative
    }
}

/// Classification metrics of predictions made before learning: accuracy, macro F1,
/// log-loss, ROC AUC and the confusion matrix. Records can be added and removed, so the same
/// type serves the whole stream and a sliding window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    k: usize,
    /// `k × k`, rows the true class, columns the predicted one.
    confusion: Vec<u64>,
    count: u64,
    log_loss_sum: f64,
    /// One histogram per class: the probability given to that class, split by whether it
    /// was the true class (one-vs-rest).
    auc: Vec<RocAuc>,
}

impl ClassificationMetrics {
    fn grow(&mut self, k: usize) {
        if k <= self.k {
            return;
        }
        let mut confusion = vec![0; k * k];
        for t in 0..self.k {
            confusion[t * k..t * k + self.k]
                .copy_from_slice(&self.confusion[t * self.k..(t + 1) * self.k]);
        }
        self.confusion = confusion;
        // The records before a class existed gave it probability 0: negatives at score 0.
        let zero = score_bin(0.0);
        for _ in self.k..k {
            let mut auc = RocAuc::default();
            auc.negative[usize::from(zero)] = self.count as u32;
            auc.n_negative = self.count;
            self.auc.push(auc);
        }
        self.k = k;
    }

    fn apply(&mut self, y: usize, predicted: usize, loss: f64, bins: &[u16], sign: i64) {
        self.grow((y + 1).max(predicted + 1).max(bins.len()));
        let cell = &mut self.confusion[y * self.k + predicted];
        *cell = (*cell as i64 + sign).max(0) as u64;
        self.count = (self.count as i64 + sign).max(0) as u64;
        self.log_loss_sum += sign as f64 * loss;
        let zero = score_bin(0.0);
        for c in 0..self.k {
            let bin = bins.get(c).copied().unwrap_or(zero);
            self.auc[c].add_bin(c == y, bin, sign);
        }
    }

    /// Records evaluated.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Share of records whose most probable class was the true one; NaN before any.
    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..self.k).map(|c| self.confusion[c * self.k + c]).sum();
        correct as f64 / self.count as f64
    }

    /// The F1 score of each class present (as a true or a predicted class), averaged
    /// (scikit-learn's `f1_score(average="macro")`); NaN before any record.
    pub fn macro_f1(&self) -> f64 {
        let (mut sum, mut classes) = (0.0, 0usize);
        for c in 0..self.k {
            let tp = self.confusion[c * self.k + c];
            let support: u64 = (0..self.k).map(|p| self.confusion[c * self.k + p]).sum();
            let predicted: u64 = (0..self.k).map(|t| self.confusion[t * self.k + c]).sum();
            if support + predicted == 0 {
                continue;
            }
            sum += 2.0 * tp as f64 / (support + predicted) as f64;
            classes += 1;
        }
        sum / classes as f64
    }

    /// Mean of `−ln p(true class)`, probabilities clamped to `[1e-15, 1 − 1e-15]` (River's
    /// `CrossEntropy`); NaN before any record.
    pub fn log_loss(&self) -> f64 {
        self.log_loss_sum / self.count as f64
    }

    /// ROC AUC: for two classes, of the probability of class 1; for more, the one-vs-rest
    /// AUCs of the classes with positives and negatives, averaged (scikit-learn's
    /// `roc_auc_score(multi_class="ovr", average="macro")`). NaN when undefined.
    pub fn roc_auc(&self) -> f64 {
        let defined: Vec<f64> = self
            .auc
            .iter()
            .map(RocAuc::get)
            .filter(|a| !a.is_nan())
            .collect();
        if self.k == 2 {
            return self.auc[1].get();
        }
        if defined.is_empty() {
            return f64::NAN;
        }
        defined.iter().sum::<f64>() / defined.len() as f64
    }

    /// The confusion matrix: `matrix[true][predicted]`.
    pub fn confusion(&self) -> Vec<Vec<u64>> {
        self.confusion
            .chunks(self.k.max(1))
            .take(self.k)
            .map(<[u64]>::to_vec)
            .collect()
    }

    fn is_valid(&self) -> bool {
        self.confusion.len() == self.k * self.k
            && self.auc.len() == self.k
            && self.auc.iter().all(RocAuc::is_valid)
            && self.confusion.iter().sum::<u64>() == self.count
            && self.log_loss_sum.is_finite()
    }
}

/// One record of the sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Entry {
    y: u32,
    predicted: u32,
    loss: f64,
    /// Number of AUC bins of this entry in the flat bin queue.
    bins: u32,
}

/// Test-then-train evaluation of a classifier, over all records and over the last `window`
/// records (River's `evaluate.progressive_val_score` with plain and rolling metrics).
///
/// Feed it each record's true class and the probabilities predicted before learning it.
/// Records predicted without any class known yet (an empty probability vector) are counted
/// in [`unpredicted`](Self::unpredicted) and not scored, as River skips them.
///
/// ```
/// use spate_learn::Prequential;
///
/// let mut eval = Prequential::new(2)?;
/// eval.update(0, &[0.9, 0.1]);
/// eval.update(1, &[0.8, 0.2]);
/// eval.update(1, &[0.3, 0.7]);
/// assert!((eval.overall().accuracy() - 2.0 / 3.0).abs() < 1e-12);
/// assert_eq!(eval.window().accuracy(), 0.5);
/// assert_eq!(eval.window().confusion(), vec![vec![0, 0], vec![1, 1]]);
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prequential {
    window_size: usize,
    overall: ClassificationMetrics,
    window: ClassificationMetrics,
    entries: VecDeque<Entry>,
    bins: VecDeque<u16>,
    unpredicted: u64,
    #[serde(skip)]
    scratch: Vec<u16>,
}

impl Prequential {
    /// An evaluator with a window of `window_size` records.
    ///
    /// # Errors
    /// [`LearnError::InvalidParameter`](crate::LearnError::InvalidParameter) for a window of 0
    /// or over 10 million records.
    pub fn new(window_size: usize) -> Result<Prequential> {
        if window_size == 0 || window_size > 10_000_000 {
            return Err(invalid(
                "window_size",
                window_size,
                "between 1 and 10000000",
            ));
        }
        Ok(Prequential {
            window_size,
            overall: ClassificationMetrics::default(),
            window: ClassificationMetrics::default(),
            entries: VecDeque::new(),
            bins: VecDeque::new(),
            unpredicted: 0,
            scratch: Vec::new(),
        })
    }

    /// Scores one record: its true class and the probabilities predicted before learning it.
    pub fn update(&mut self, y: usize, proba: &[f64]) {
        let Some(predicted) = argmax(proba) else {
            self.unpredicted += 1;
            return;
        };
        let p = proba.get(y).copied().unwrap_or(0.0);
        let loss = -p.clamp(1e-15, 1.0 - 1e-15).ln();
        let mut bins = std::mem::take(&mut self.scratch);
        bins.clear();
        bins.extend(proba.iter().map(|&p| score_bin(p)));
        self.overall.apply(y, predicted, loss, &bins, 1);
        self.window.apply(y, predicted, loss, &bins, 1);
        self.entries.push_back(Entry {
            y: y as u32,
            predicted: predicted as u32,
            loss,
            bins: bins.len() as u32,
        });
        self.bins.extend(bins.iter().copied());
        if self.entries.len() > self.window_size
            && let Some(old) = self.entries.pop_front()
        {
            bins.clear();
            bins.extend(self.bins.drain(..old.bins as usize));
            self.window
                .apply(old.y as usize, old.predicted as usize, old.loss, &bins, -1);
        }
        self.scratch = bins;
    }

    /// Metrics over every record scored.
    pub fn overall(&self) -> &ClassificationMetrics {
        &self.overall
    }

    /// Metrics over the last `window_size` records scored.
    pub fn window(&self) -> &ClassificationMetrics {
        &self.window
    }

    /// The window length in records.
    pub fn window_size(&self) -> usize {
        self.window_size
    }

    /// Records that could not be predicted (no class known yet).
    pub fn unpredicted(&self) -> u64 {
        self.unpredicted
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bins: u64 = self.entries.iter().map(|e| u64::from(e.bins)).sum();
        if self.window_size == 0
            || self.entries.len() > self.window_size
            || bins != self.bins.len() as u64
            || !self.overall.is_valid()
            || !self.window.is_valid()
            || self.window.count() != self.entries.len() as u64
            || self.bins.iter().any(|&b| usize::from(b) >= AUC_BINS)
        {
            return Err(corrupt(
                "Prequential",
                "the window does not fit its metrics",
            ));
        }
        Ok(())
    }
}

/// Test-then-train evaluation of an anomaly detector on labelled records: ROC AUC of the
/// scores against the labels (anomaly = positive), over all records and a sliding window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyEvaluation {
    window_size: usize,
    overall: RocAuc,
    window: RocAuc,
    entries: VecDeque<(bool, u16)>,
}

impl AnomalyEvaluation {
    /// An evaluator with a window of `window_size` records.
    ///
    /// # Errors
    /// [`LearnError::InvalidParameter`](crate::LearnError::InvalidParameter) for a window of 0
    /// or over 10 million records.
    pub fn new(window_size: usize) -> Result<AnomalyEvaluation> {
        if window_size == 0 || window_size > 10_000_000 {
            return Err(invalid(
                "window_size",
                window_size,
                "between 1 and 10000000",
            ));
        }
        Ok(AnomalyEvaluation {
            window_size,
            overall: RocAuc::default(),
            window: RocAuc::default(),
            entries: VecDeque::new(),
        })
    }

    /// Scores one record: whether it is an anomaly, and its score before learning it.
    pub fn update(&mut self, anomaly: bool, score: f64) {
        let bin = score_bin(score);
        self.overall.add_bin(anomaly, bin, 1);
        self.window.add_bin(anomaly, bin, 1);
        self.entries.push_back((anomaly, bin));
        if self.entries.len() > self.window_size
            && let Some((a, b)) = self.entries.pop_front()
        {
            self.window.add_bin(a, b, -1);
        }
    }

    /// ROC AUC over every labelled record.
    pub fn overall(&self) -> &RocAuc {
        &self.overall
    }

    /// ROC AUC over the last `window_size` labelled records.
    pub fn window(&self) -> &RocAuc {
        &self.window
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.window_size == 0
            || self.entries.len() > self.window_size
            || !self.overall.is_valid()
            || !self.window.is_valid()
        {
            return Err(corrupt("AnomalyEvaluation", "the window does not fit"));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_separated_and_tied_scores() {
        let mut auc = RocAuc::default();
        for s in [0.1, 0.2, 0.3] {
            auc.add(false, s);
        }
        for s in [0.7, 0.8] {
            auc.add(true, s);
        }
        assert_eq!(auc.get(), 1.0);
        auc.add(true, 0.1);
        // The new positive ties one negative and is below two: (2·3 + 0.5) / (3·3).
        assert!((auc.get() - 6.5 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn the_window_forgets_exactly() {
        let mut eval = Prequential::new(3).unwrap();
        let records = [
            (0, [0.9, 0.1]),
            (1, [0.6, 0.4]),
            (1, [0.2, 0.8]),
            (0, [0.3, 0.7]),
            (0, [0.8, 0.2]),
        ];
        for (y, p) in records {
            eval.update(y, &p);
        }
        let mut fresh = Prequential::new(3).unwrap();
        for (y, p) in &records[2..] {
            fresh.update(*y, p);
        }
        assert_eq!(eval.window().confusion(), fresh.window().confusion());
        assert!((eval.window().log_loss() - fresh.window().log_loss()).abs() < 1e-12);
        assert_eq!(eval.window().roc_auc(), fresh.window().roc_auc());
        assert_eq!(eval.overall().count(), 5);
        eval.validate().unwrap();
    }
}

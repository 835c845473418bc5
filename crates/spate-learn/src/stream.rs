//! DStream adapters: `train_on` / `predict_on` for the learners, through spate-ml's
//! [`TrainOn`] and [`PredictOn`].
//!
//! A learner here is sequential (each record changes the model the next one sees), so a
//! batch is absorbed in one round: every partition is packed once into a contiguous block,
//! the blocks are gathered in partition order (their order in the stream) without copying,
//! and the driver runs test-then-train over them: each record is predicted by the model as
//! it is, scored, then learnt. The model and its evaluation live in a managed state, saved
//! in every checkpoint and restored on recovery.

use crate::error::LearnError;
use crate::learner::{AnomalyDetector, Classifier, is_record_error};
use crate::prequential::{AnomalyEvaluation, Prequential};
use ndarray::ArrayView2;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use spate_core::{Data, Merge};
use spate_ml::{MlError, OnlineModel, PredictOn, Round, TrainOn};
use std::sync::Arc;

/// A learner error inside a stream, as spate-ml's error type.
pub(crate) fn to_ml(e: LearnError) -> MlError {
    match e {
        LearnError::DimensionMismatch { expected, found } => {
            MlError::DimensionMismatch { expected, found }
        }
        LearnError::LengthMismatch { rows, labels } => MlError::LengthMismatch {
            rows,
            targets: labels,
        },
        _ => MlError::IncompatibleStats,
    }
}

/// One partition's records packed into one row-major buffer, with a label per row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabeledRows {
    d: usize,
    x: Vec<f64>,
    y: Vec<usize>,
    mismatch: Option<(usize, usize)>,
}

impl LabeledRows {
    fn pack<'a>(n: usize, rows: impl Iterator<Item = (&'a [f64], usize)>) -> LabeledRows {
        let mut rows = rows.peekable();
        let d = rows.peek().map_or(0, |(r, _)| r.len());
        let mut out = LabeledRows {
            d,
            x: Vec::with_capacity(n * d),
            y: Vec::with_capacity(n),
            mismatch: None,
        };
        for (row, label) in rows {
            if row.len() == d {
                out.x.extend_from_slice(row);
                out.y.push(label);
            } else {
                out.mismatch.get_or_insert((d, row.len()));
            }
        }
        out
    }

    /// Rows in the block.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the block has no row.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty() && self.mismatch.is_none()
    }

    fn rows(&self) -> impl Iterator<Item = (&[f64], usize)> {
        let d = self.d.max(1);
        self.x.chunks_exact(d).zip(self.y.iter().copied())
    }
}

/// A packed partition shared by reference count: gathering the partitions of a batch at the
/// driver copies no record.
#[derive(Debug, Clone, Default)]
pub struct SharedRows(Arc<LabeledRows>);

impl Serialize for SharedRows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedRows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LabeledRows::deserialize(d).map(|v| SharedRows(Arc::new(v)))
    }
}

/// The partitions of a batch in stream order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Gathered(Vec<SharedRows>);

impl Merge for Gathered {
    fn merge(&mut self, other: &Self) {
        self.0.extend(other.0.iter().cloned());
    }
}

pub(crate) fn check_width(rows: &LabeledRows, d: usize) -> spate_ml::Result<()> {
    if let Some((expected, found)) = rows.mismatch {
        return Err(MlError::DimensionMismatch { expected, found });
    }
    if !rows.y.is_empty() && rows.d != d {
        return Err(MlError::DimensionMismatch {
            expected: d,
            found: rows.d,
        });
    }
    Ok(())
}

/// What training on one batch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifierReport {
    /// Records in the batch.
    pub rows: u64,
    /// Records learnt.
    pub learned: u64,
    /// Records skipped: NaN or infinite features, a label past the class limit.
    pub skipped: u64,
    /// Records whose prediction (made before learning them) was right.
    pub correct: u64,
    /// Records predicted (the others came before any class was known, or were skipped).
    pub predicted: u64,
}

/// A classifier trained on a stream test-then-train, with its [`Prequential`] evaluation.
///
/// ```
/// use spate_core::stream::{FastForwardClock, StreamingContext};
/// use spate_core::SpateContext;
/// use spate_learn::{GaussianNb, StreamClassifier, TrainOn, PredictOn};
/// use std::time::Duration;
///
/// let ssc = StreamingContext::builder(&SpateContext::sequential(2))
///     .batch_interval(Duration::from_secs(1))
///     .clock(FastForwardClock::new())
///     .build()?;
/// let (queue, records) = ssc.queue_stream::<(Vec<f64>, usize)>(true)?;
/// let trained = StreamClassifier::new(GaussianNb::new(1)?, 100)?.train_on(&records)?;
/// for b in 0..5 {
///     let x = f64::from(b) / 10.0;
///     queue.push(vec![(vec![x], 0), (vec![5.0 + x], 1), (vec![x + 0.05], 0), (vec![5.1 + x], 1)]);
/// }
/// queue.close();
/// ssc.start()?;
/// ssc.await_termination()?;
/// let learner = trained.latest_model();
/// assert_eq!(learner.evaluation().overall().count(), 19); // the first record had no class yet
/// assert!(learner.evaluation().overall().accuracy() > 0.8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamClassifier<M> {
    model: M,
    evaluation: Prequential,
    #[serde(skip)]
    proba: Vec<f64>,
}

impl<M: Classifier> StreamClassifier<M> {
    /// Wraps `model`, evaluated over the whole stream and the last `window` records.
    ///
    /// # Errors
    /// As [`Prequential::new`].
    pub fn new(model: M, window: usize) -> crate::Result<StreamClassifier<M>> {
        Ok(StreamClassifier {
            model,
            evaluation: Prequential::new(window)?,
            proba: Vec::new(),
        })
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Test-then-train metrics so far.
    pub fn evaluation(&self) -> &Prequential {
        &self.evaluation
    }

    /// Predicts, scores, then learns one record; `Ok(false)` when the model rejected it.
    fn test_then_train(
        &mut self,
        x: &[f64],
        y: usize,
        report: &mut ClassifierReport,
    ) -> crate::Result<()> {
        report.rows += 1;
        self.proba.resize(self.model.n_classes(), 0.0);
        if let Err(e) = self.model.predict_proba_into(x, &mut self.proba) {
            if is_record_error(&e) {
                report.skipped += 1;
                return Ok(());
            }
            return Err(e);
        }
        match self.model.learn_one(x, y) {
            Ok(()) => report.learned += 1,
            Err(e) if is_record_error(&e) => {
                report.skipped += 1;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        if let Some(p) = crate::learner::argmax(&self.proba) {
            report.predicted += 1;
            report.correct += u64::from(p == y);
        }
        self.evaluation.update(y, &self.proba);
        Ok(())
    }
}

impl<M: Classifier> OnlineModel for StreamClassifier<M> {
    type Batch<'a> = &'a SharedRows;
    type Stats = Gathered;
    type Report = ClassifierReport;

    fn summarize(&self, partition: &SharedRows) -> spate_ml::Result<Gathered> {
        check_width(&partition.0, self.model.n_features())?;
        Ok(Gathered(vec![partition.clone()]))
    }

    fn apply(&mut self, stats: Gathered) -> spate_ml::Result<Round<ClassifierReport>> {
        let mut report = ClassifierReport::default();
        for block in &stats.0 {
            check_width(&block.0, self.model.n_features())?;
            for (x, y) in block.0.rows() {
                self.test_then_train(x, y, &mut report).map_err(to_ml)?;
            }
        }
        Ok(Round::Done(report))
    }
}

impl<M: Classifier + Data> TrainOn for StreamClassifier<M> {
    type Record = (Vec<f64>, usize);
    type Block = SharedRows;
    const NAME: &'static str = "StreamClassifier";

    fn to_block(records: &[(Vec<f64>, usize)]) -> SharedRows {
        SharedRows(Arc::new(LabeledRows::pack(
            records.len(),
            records.iter().map(|(x, y)| (x.as_slice(), *y)),
        )))
    }

    fn block_view(block: &SharedRows) -> spate_ml::Result<Option<&SharedRows>> {
        if block.0.is_empty() {
            return Ok(None);
        }
        Ok(Some(block))
    }
}

impl<M: Classifier + Data> PredictOn for StreamClassifier<M> {
    type Prediction = usize;

    fn predict_rows(&self, rows: ArrayView2<'_, f64>) -> spate_ml::Result<Vec<Option<usize>>> {
        self.model.predict_many(rows).map_err(to_ml)
    }
}

/// What training a detector on one batch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorReport {
    /// Records learnt.
    pub learned: u64,
    /// Records skipped (NaN or infinite features).
    pub skipped: u64,
    /// The score of every record of the batch, in order, before it was learnt (NaN for a
    /// skipped record).
    pub scores: Vec<f64>,
}

/// Labels of detector records: is the record a known anomaly, a known normal, or unlabelled.
const NORMAL: usize = 0;
const ANOMALY: usize = 1;
const UNLABELLED: usize = 2;

/// An anomaly detector trained on a stream: each record is scored, then learnt; labelled
/// records (`Some(is_anomaly)`) feed an [`AnomalyEvaluation`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamDetector<M> {
    model: M,
    evaluation: AnomalyEvaluation,
}

impl<M: AnomalyDetector> StreamDetector<M> {
    /// Wraps `model`, evaluated over the whole stream and the last `window` labelled records.
    ///
    /// # Errors
    /// As [`AnomalyEvaluation::new`].
    pub fn new(model: M, window: usize) -> crate::Result<StreamDetector<M>> {
        Ok(StreamDetector {
            model,
            evaluation: AnomalyEvaluation::new(window)?,
        })
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// ROC AUC of the scores against the labels, so far.
    pub fn evaluation(&self) -> &AnomalyEvaluation {
        &self.evaluation
    }
}

impl<M: AnomalyDetector> OnlineModel for StreamDetector<M> {
    type Batch<'a> = &'a SharedRows;
    type Stats = Gathered;
    type Report = DetectorReport;

    fn summarize(&self, partition: &SharedRows) -> spate_ml::Result<Gathered> {
        check_width(&partition.0, self.model.n_features())?;
        Ok(Gathered(vec![partition.clone()]))
    }

    fn apply(&mut self, stats: Gathered) -> spate_ml::Result<Round<DetectorReport>> {
        let mut report = DetectorReport::default();
        for block in &stats.0 {
            check_width(&block.0, self.model.n_features())?;
            report.scores.reserve(block.0.len());
            for (x, label) in block.0.rows() {
                let score = match self.model.score_one(x) {
                    Ok(s) => s,
                    Err(e) if is_record_error(&e) => {
                        report.skipped += 1;
                        report.scores.push(f64::NAN);
                        continue;
                    }
                    Err(e) => return Err(to_ml(e)),
                };
                self.model.learn_one(x).map_err(to_ml)?;
                report.learned += 1;
                report.scores.push(score);
                if label != UNLABELLED {
                    self.evaluation.update(label == ANOMALY, score);
                }
            }
        }
        Ok(Round::Done(report))
    }
}

impl<M: AnomalyDetector + Data> TrainOn for StreamDetector<M> {
    type Record = (Vec<f64>, Option<bool>);
    type Block = SharedRows;
    const NAME: &'static str = "StreamDetector";

    fn to_block(records: &[(Vec<f64>, Option<bool>)]) -> SharedRows {
        let label = |l: &Option<bool>| match l {
            Some(true) => ANOMALY,
            Some(false) => NORMAL,
            None => UNLABELLED,
        };
        SharedRows(Arc::new(LabeledRows::pack(
            records.len(),
            records.iter().map(|(x, l)| (x.as_slice(), label(l))),
        )))
    }

    fn block_view(block: &SharedRows) -> spate_ml::Result<Option<&SharedRows>> {
        if block.0.is_empty() {
            return Ok(None);
        }
        Ok(Some(block))
    }
}

impl<M: AnomalyDetector + Data> PredictOn for StreamDetector<M> {
    type Prediction = f64;

    fn predict_rows(&self, rows: ArrayView2<'_, f64>) -> spate_ml::Result<Vec<Option<f64>>> {
        Ok(self
            .model
            .score_many(rows)
            .map_err(to_ml)?
            .into_iter()
            .map(|s| (!s.is_nan()).then_some(s))
            .collect())
    }
}

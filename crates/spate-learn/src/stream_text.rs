//! `train_on` for records with string features and string class labels: the encoders and
//! the class names live in the model's state, so they are checkpointed with it.

use crate::encode::LabelEncoder;
use crate::error::Result;
use crate::learner::{Classifier, argmax, is_record_error};
use crate::persist::Persist;
use crate::pipeline::Pipeline;
use crate::prequential::Prequential;
use crate::stream::{ClassifierReport, to_ml};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use spate_core::{Data, Merge};
use spate_ml::{OnlineModel, Round, TrainOn};
use std::sync::Arc;

/// A record of numeric features, string features and a class name.
pub type TextRecord = (Vec<f64>, Vec<String>, String);

/// The records of one partition, shared by reference count.
#[derive(Debug, Clone, Default)]
pub struct TextBlock(Arc<Vec<TextRecord>>);

impl Serialize for TextBlock {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl<'de> Deserialize<'de> for TextBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Vec::<TextRecord>::deserialize(d).map(|v| TextBlock(Arc::new(v)))
    }
}

/// The partitions of a batch in stream order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TextBlocks(Vec<TextBlock>);

impl Merge for TextBlocks {
    fn merge(&mut self, other: &Self) {
        self.0.extend(other.0.iter().cloned());
    }
}

/// A [`Pipeline`] classifier trained test-then-train on [`TextRecord`]s: class names are
/// numbered in order of first appearance by a [`LabelEncoder`] kept in the state, string
/// features go through the pipeline's encoder. A record with an empty or `NA` class name, a
/// NaN or infinite feature, or a class past the limit is skipped and counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamTextClassifier<M> {
    pipeline: Pipeline<M>,
    labels: LabelEncoder,
    evaluation: Prequential,
    #[serde(skip)]
    proba: Vec<f64>,
}

impl<M: Classifier> StreamTextClassifier<M> {
    /// Wraps a pipeline, evaluated over the whole stream and the last `window` records, with
    /// at most `max_classes` class names.
    ///
    /// # Errors
    /// As [`Prequential::new`].
    pub fn new(
        pipeline: Pipeline<M>,
        max_classes: usize,
        window: usize,
    ) -> Result<StreamTextClassifier<M>> {
        Ok(StreamTextClassifier {
            pipeline,
            labels: LabelEncoder::new(max_classes),
            evaluation: Prequential::new(window)?,
            proba: Vec::new(),
        })
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline<M> {
        &self.pipeline
    }

    /// The class names, by index.
    pub fn labels(&self) -> &LabelEncoder {
        &self.labels
    }

    /// Test-then-train metrics so far.
    pub fn evaluation(&self) -> &Prequential {
        &self.evaluation
    }

    /// Predicts, scores, then learns one record.
    pub fn test_then_train(
        &mut self,
        record: &TextRecord,
        report: &mut ClassifierReport,
    ) -> Result<()> {
        let (numeric, text, label) = record;
        report.rows += 1;
        if label.is_empty() || label == "NA" {
            report.skipped += 1;
            return Ok(());
        }
        let y = match self.labels.encode(label) {
            Ok(y) => y,
            Err(_) => {
                report.skipped += 1;
                return Ok(());
            }
        };
        let text: Vec<&str> = text.iter().map(String::as_str).collect();
        self.proba.resize(self.pipeline.n_classes(), 0.0);
        if let Err(e) = self
            .pipeline
            .predict_proba_mixed(numeric, &text, &mut self.proba)
        {
            if is_record_error(&e) {
                report.skipped += 1;
                return Ok(());
            }
            return Err(e);
        }
        match self.pipeline.learn_mixed(numeric, &text, y) {
            Ok(()) => report.learned += 1,
            Err(e) if is_record_error(&e) => {
                report.skipped += 1;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        if let Some(p) = argmax(&self.proba) {
            report.predicted += 1;
            report.correct += u64::from(p == y);
        }
        self.evaluation.update(y, &self.proba);
        Ok(())
    }
}

impl<M: Classifier> OnlineModel for StreamTextClassifier<M> {
    type Batch<'a> = &'a TextBlock;
    type Stats = TextBlocks;
    type Report = ClassifierReport;

    fn summarize(&self, partition: &TextBlock) -> spate_ml::Result<TextBlocks> {
        Ok(TextBlocks(vec![partition.clone()]))
    }

    fn apply(&mut self, stats: TextBlocks) -> spate_ml::Result<Round<ClassifierReport>> {
        let mut report = ClassifierReport::default();
        for block in &stats.0 {
            for record in block.0.iter() {
                self.test_then_train(record, &mut report).map_err(to_ml)?;
            }
        }
        Ok(Round::Done(report))
    }
}

impl<M: Classifier + Data> TrainOn for StreamTextClassifier<M> {
    type Record = TextRecord;
    type Block = TextBlock;
    const NAME: &'static str = "StreamTextClassifier";

    fn to_block(records: &[TextRecord]) -> TextBlock {
        TextBlock(Arc::new(records.to_vec()))
    }

    fn block_view(block: &TextBlock) -> spate_ml::Result<Option<&TextBlock>> {
        Ok((!block.0.is_empty()).then_some(block))
    }
}

impl<M: Classifier + Persist> Persist for StreamTextClassifier<M> {
    fn model_name(&self) -> String {
        format!("StreamTextClassifier({})", self.pipeline.model_name())
    }

    fn expected_name() -> Option<String> {
        Pipeline::<M>::expected_name().map(|p| format!("StreamTextClassifier({p})"))
    }

    fn validate(&self) -> Result<()> {
        self.pipeline.validate()?;
        self.evaluation.validate()?;
        if self.labels.len() < self.pipeline.n_classes() {
            return Err(crate::error::corrupt(
                "StreamTextClassifier",
                "fewer class names than classes",
            ));
        }
        Ok(())
    }
}

//! DStream adapters: train a model on a stream, and predict and evaluate with it per batch.
//!
//! Training is the [`OnlineModel`] loop run by the engine: per batch, each partition's records
//! are copied once into a matrix ([`RowBlock`] / [`LabeledBlock`]) and cached, then every
//! round summarizes the partitions in parallel on the executor (`Rdd::run_partitions`),
//! merges the summaries in partition order and applies them at the driver, until `apply`
//! says [`Round::Done`]. The model lives in a [`ManagedState`], so it is saved in every
//! checkpoint and restored by `StreamingContext::get_or_create`.

use crate::coreset_kmeans::{CoresetKMeans, WindowedCoresetKMeans};
use crate::error::{MlError, Result as MlResult};
use crate::kmeans::StreamingKMeans;
use crate::least_squares::StreamingLeastSquares;
use crate::metrics::{ClassificationMetrics, RegressionMetrics};
use crate::online::{OnlineModel, Round};
use crate::regression::Labeled;
use crate::sgd::{StreamingLinearRegressionWithSgd, StreamingLogisticRegressionWithSgd};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use spate_core::stream::ManagedState;
use spate_core::{Accumulator, BatchTime, Broadcast, DStream, Data, Merge, Rdd, Retract, Window};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

impl From<MlError> for spate_core::Error {
    /// An ML error inside a stream fails the batch with the error's message.
    fn from(e: MlError) -> spate_core::Error {
        spate_core::Error::Operator {
            operator: "spate-ml".into(),
            message: e.to_string(),
        }
    }
}

/// A value shared by reference count that serializes as the value itself, so a cached
/// partition is handed to every round of a batch without copying it.
#[derive(Debug)]
struct Shared<T>(Arc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Shared(Arc::new(v)))
    }
}

/// Copies rows of possibly different lengths into one row-major buffer (one allocation);
/// the first length that differs from the first row's is reported as `(expected, found)`.
fn pack_rows<'a>(
    rows: impl ExactSizeIterator<Item = &'a [f64]>,
) -> (Array2<f64>, Option<(usize, usize)>) {
    let n = rows.len();
    let mut rows = rows.peekable();
    let d = rows.peek().map_or(0, |r| r.len());
    let mut data = Vec::with_capacity(n * d);
    let mut mismatch = None;
    for row in rows {
        if row.len() == d {
            data.extend_from_slice(row);
        } else {
            mismatch.get_or_insert((d, row.len()));
        }
    }
    let kept = data.len().checked_div(d).unwrap_or(n);
    let matrix = Array2::from_shape_vec((kept, d), data).unwrap_or_else(|_| Array2::zeros((0, d)));
    (matrix, mismatch)
}

/// One partition of feature rows (`Vec<f64>` records) copied into a matrix.
///
/// Built once per partition and batch with a single allocation; clones share the matrix,
/// so the rounds of a batch (SGD iterations) read the cached partition without copying it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowBlock {
    rows: Shared<Array2<f64>>,
    mismatch: Option<(usize, usize)>,
}

impl RowBlock {
    /// The records of one partition, one row each.
    pub fn from_rows(rows: &[Vec<f64>]) -> RowBlock {
        let (matrix, mismatch) = pack_rows(rows.iter().map(Vec::as_slice));
        RowBlock {
            rows: Shared(Arc::new(matrix)),
            mismatch,
        }
    }

    /// Rows in the block.
    pub fn len(&self) -> usize {
        self.rows.0.nrows()
    }

    /// Whether the partition had no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.mismatch.is_none()
    }

    /// The rows as a matrix view.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] when the records did not all have the same length.
    pub fn view(&self) -> MlResult<ArrayView2<'_, f64>> {
        match self.mismatch {
            Some((expected, found)) => Err(MlError::DimensionMismatch { expected, found }),
            None => Ok(self.rows.0.view()),
        }
    }
}

/// One partition of labelled records `(features, target)` copied into a matrix and a vector.
///
/// Like [`RowBlock`]: one allocation for the features per partition and batch, shared by
/// every round of the batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabeledBlock {
    x: Shared<Array2<f64>>,
    y: Shared<Array1<f64>>,
    mismatch: Option<(usize, usize)>,
}

impl LabeledBlock {
    /// The records of one partition.
    pub fn from_records(records: &[(Vec<f64>, f64)]) -> LabeledBlock {
        let (x, mismatch) = pack_rows(records.iter().map(|(row, _)| row.as_slice()));
        let y: Array1<f64> = if mismatch.is_none() {
            records.iter().map(|(_, y)| *y).collect()
        } else {
            Array1::zeros(x.nrows())
        };
        LabeledBlock {
            x: Shared(Arc::new(x)),
            y: Shared(Arc::new(y)),
            mismatch,
        }
    }

    /// Records in the block.
    pub fn len(&self) -> usize {
        self.y.0.len()
    }

    /// Whether the partition had no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.mismatch.is_none()
    }

    /// Features and targets as views.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] when the feature vectors did not all have the same
    /// length.
    pub fn view(&self) -> MlResult<Labeled<'_>> {
        match self.mismatch {
            Some((expected, found)) => Err(MlError::DimensionMismatch { expected, found }),
            None => Ok((self.x.0.view(), self.y.0.view())),
        }
    }
}

/// An [`OnlineModel`] that can be trained on a DStream (Spark's `trainOn`).
///
/// Implemented by every model of this crate: the clustering models ([`StreamingKMeans`],
/// [`CoresetKMeans`], [`WindowedCoresetKMeans`]) on `Vec<f64>` records, the regressions on
/// `(features, target)` records.
pub trait TrainOn: OnlineModel<Report: Data> + Data {
    /// One record of the training stream.
    type Record: Data;
    /// One partition of records, as the model reads it.
    type Block: Data;
    /// The default name of the model's managed state (and of its errors).
    const NAME: &'static str;

    /// Copies one partition's records into a block (one allocation).
    fn to_block(records: &[Self::Record]) -> Self::Block;

    /// The block as the model's batch; `None` for an empty partition, which contributes
    /// nothing to a batch.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] when the records were ragged.
    fn block_view(block: &Self::Block) -> MlResult<Option<Self::Batch<'_>>>;

    /// Trains the model on every batch of `stream`, under the managed-state name
    /// [`NAME`](Self::NAME); see [`train_on_named`](Self::train_on_named).
    ///
    /// # Errors
    /// As [`train_on_named`](Self::train_on_named).
    fn train_on(self, stream: &DStream<Self::Record>) -> spate_core::Result<TrainedModel<Self>> {
        self.train_on_named(Self::NAME, stream)
    }

    /// Trains the model on every batch of `stream`; the model is kept in a managed state
    /// called `name` (unique per context), saved in every checkpoint and restored on
    /// recovery.
    ///
    /// Per batch: each partition is copied once into a [`Self::Block`] and cached; then in
    /// each round every partition is summarized in parallel on the executor, the summaries
    /// are merged in partition order and applied at the driver, until `apply` returns
    /// [`Round::Done`] (one round for k-means and least squares, up to `iterations` for
    /// SGD). The model changes atomically at the end of the batch: if a round fails, the
    /// batch fails and the model stays as it was before it. Empty batches are applied too
    /// (k-means discounts its weights on them, as Spark's `trainOn` does). Cost per batch:
    /// one copy of the batch plus `rounds ×` one parallel pass.
    ///
    /// The result is exactly the model that [`OnlineModel::update_partitions`] gives on the
    /// same batches split into the same non-empty partitions, on every executor.
    ///
    /// # Errors
    /// [`spate_core::Error::InvalidParameter`] when `name` is already registered, or
    /// [`spate_core::Error::Lifecycle`] when the context has started. A batch whose records
    /// do not fit the model (wrong number of features, ragged rows) fails with an error
    /// naming the model, which stops the context.
    fn train_on_named(
        self,
        name: impl Into<String>,
        stream: &DStream<Self::Record>,
    ) -> spate_core::Result<TrainedModel<Self>> {
        TrainedModel::new(self, name.into(), stream)
    }
}

/// A [`TrainOn`] model whose predictions can be streamed (Spark's `predictOn`).
pub trait PredictOn: TrainOn {
    /// One prediction: a cluster index, a target, a class.
    type Prediction: Data;

    /// Predictions for a block of feature rows; `None` where the model cannot predict (a
    /// k-means model still buffering for k-means++, a coreset model before its first point,
    /// a row with NaN for k-means).
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] when the rows do not have the model's features.
    fn predict_rows(&self, rows: ArrayView2<'_, f64>) -> MlResult<Vec<Option<Self::Prediction>>>;
}

/// A [`TrainOn`] model that can be evaluated on labelled records, with mergeable metrics.
pub trait EvaluateOn: TrainOn {
    /// The metrics: mergeable and retractable, for windows with an inverse.
    type Metrics: Data + Retract;

    /// The metrics of the model on one block of labelled records.
    ///
    /// # Errors
    /// [`MlError::DimensionMismatch`] when the rows do not have the model's features.
    fn evaluate_block(&self, block: Labeled<'_>) -> MlResult<Self::Metrics>;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The model before the latest batch's update, by batch time.
type Before<M> = Arc<Mutex<Option<(BatchTime, Broadcast<M>)>>>;

/// The driver-side handles predictions need: the model and its state before the last update.
struct Snapshots<M> {
    state: ManagedState<M>,
    before: Before<M>,
}

impl<M> Clone for Snapshots<M> {
    fn clone(&self) -> Self {
        Snapshots {
            state: self.state.clone(),
            before: Arc::clone(&self.before),
        }
    }
}

impl<M: Data> Snapshots<M> {
    /// The model as of batch `t`, before `t`'s update: the snapshot taken when `t` was
    /// trained, or the current model if `t` has not been trained yet.
    fn at(&self, t: BatchTime, sc: &spate_core::SpateContext) -> Broadcast<M> {
        if let Some((time, model)) = &*lock(&self.before)
            && *time == t
        {
            return model.clone();
        }
        sc.broadcast(self.state.get())
    }
}

/// A model being trained on a stream: its managed state, the per-batch reports, and the
/// operators that predict and evaluate with it.
///
/// Predictions and evaluations of batch `t` use the model **before** `t`'s update — test,
/// then train, as in prequential evaluation — whatever the order in which output operations
/// were registered; each batch's tasks read a broadcast snapshot of it.
pub struct TrainedModel<M: TrainOn> {
    name: String,
    snapshots: Snapshots<M>,
    reports: DStream<M::Report>,
    unpredicted: Accumulator<u64>,
}

impl<M: TrainOn> Clone for TrainedModel<M> {
    fn clone(&self) -> Self {
        TrainedModel {
            name: self.name.clone(),
            snapshots: self.snapshots.clone(),
            reports: self.reports.clone(),
            unpredicted: self.unpredicted.clone(),
        }
    }
}

impl<M: TrainOn> std::fmt::Debug for TrainedModel<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainedModel")
            .field("name", &self.name)
            .field("model", &M::NAME)
            .finish_non_exhaustive()
    }
}

/// An ML error inside a batch, as a core error naming the model.
fn batch_error<M: TrainOn>(name: &str, e: impl std::fmt::Display) -> spate_core::Error {
    spate_core::Error::Operator {
        operator: format!("{name} ({})", M::NAME),
        message: e.to_string(),
    }
}

/// Summarizes the blocks of one partition (one block per partition in practice).
fn summarize_partition<M: TrainOn>(model: &M, blocks: &[M::Block]) -> MlResult<Option<M::Stats>> {
    let mut acc: Option<M::Stats> = None;
    for block in blocks {
        if let Some(batch) = M::block_view(block)? {
            let stats = model.summarize(batch)?;
            match &mut acc {
                Some(a) => a.merge(&stats),
                None => acc = Some(stats),
            }
        }
    }
    Ok(acc)
}

/// Rounds of parallel summarize + ordered merge + apply over one batch, until done.
fn train_batch<M: TrainOn>(
    name: &str,
    model: &mut M,
    rdd: &Rdd<M::Record>,
) -> spate_core::Result<M::Report> {
    let blocks = rdd
        .map_partitions_ref(|records| vec![M::to_block(records)])
        .persist();
    let result = (|| loop {
        let partials = {
            let model = &*model;
            // Errors travel as text: every worker gets every partition's outcome.
            blocks.run_partitions(|_, blocks| {
                Ok(summarize_partition(model, &blocks).map_err(|e| e.to_string()))
            })?
        };
        let mut stats = M::Stats::default();
        for partial in partials {
            if let Some(s) = partial.map_err(|e| batch_error::<M>(name, e))? {
                stats.merge(&s);
            }
        }
        if let Round::Done(report) = model.apply(stats).map_err(|e| batch_error::<M>(name, e))? {
            return Ok(report);
        }
    })();
    blocks.unpersist();
    result
}

impl<M: TrainOn> TrainedModel<M> {
    fn new(
        model: M,
        name: String,
        stream: &DStream<M::Record>,
    ) -> spate_core::Result<TrainedModel<M>> {
        let ssc = stream.context();
        let state = ssc.managed_state(name.clone(), model)?;
        let snapshots = Snapshots {
            state,
            before: Arc::default(),
        };
        let unpredicted = ssc
            .spate_context()
            .accumulator::<u64>(format!("{name}: rows without a prediction"));
        let (train, model_name) = (snapshots.clone(), name.clone());
        let reports = stream.try_transform(move |rdd, t| {
            let sc = rdd.context();
            let before = sc.broadcast(train.state.get());
            let mut model = before.value().clone();
            let report = train_batch(&model_name, &mut model, rdd)?;
            train.state.set(model);
            *lock(&train.before) = Some((t, before));
            Ok(sc.parallelize(vec![report], 1))
        });
        // The output that makes training run every batch, in registration order.
        reports.foreach_rdd(|_, _| Ok(()))?;
        Ok(TrainedModel {
            name,
            snapshots,
            reports,
            unpredicted,
        })
    }

    /// The managed-state name of the model.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A copy of the model as it is now (Spark's `latestModel`).
    pub fn latest_model(&self) -> M {
        self.snapshots.state.get()
    }

    /// The managed state holding the model, e.g. to lock it from an output operation.
    pub fn state(&self) -> &ManagedState<M> {
        &self.snapshots.state
    }

    /// One report per batch: what training did with it (points, skipped rows, cost or loss).
    pub fn reports(&self) -> &DStream<M::Report> {
        &self.reports
    }

    /// Calls `f` after every batch's update with the batch time, its report and the updated
    /// model (locked for the duration of the call), on the batch thread, in batch order.
    ///
    /// # Errors
    /// As [`DStream::foreach_rdd`]; an error returned by `f` fails the batch.
    pub fn foreach_report(
        &self,
        mut f: impl FnMut(BatchTime, &M::Report, &M) -> spate_core::Result<()> + Send + 'static,
    ) -> spate_core::Result<()> {
        let state = self.snapshots.state.clone();
        self.reports.foreach_rdd(move |rdd, t| {
            for report in rdd.collect()? {
                f(t, &report, &state.lock())?;
            }
            Ok(())
        })
    }

    /// Rows that `predict_on` and `predict_on_values` dropped because the model could not
    /// predict them (k-means before its k-means++ seeding, rows with NaN), since the start.
    /// Counted once per successful task (as Spark's accumulators).
    pub fn unpredicted_rows(&self) -> u64 {
        self.unpredicted.value()
    }
}

/// Predictions for one partition's feature rows, with the rows that got none counted.
fn predict_partition<M: PredictOn>(
    model: &M,
    rows: &[Vec<f64>],
    dropped: &Accumulator<u64>,
) -> MlResult<Vec<Option<M::Prediction>>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let block = RowBlock::from_rows(rows);
    let predictions = model.predict_rows(block.view()?)?;
    dropped.add(predictions.iter().filter(|p| p.is_none()).count() as u64);
    Ok(predictions)
}

impl<M: PredictOn> TrainedModel<M> {
    /// The prediction for every record of `stream`, with the model as of each batch (before
    /// its update). Records the model cannot predict are dropped and counted in
    /// [`unpredicted_rows`](Self::unpredicted_rows). Cost: one copy of each partition into a
    /// matrix plus the model's prediction cost.
    pub fn predict_on(&self, stream: &DStream<Vec<f64>>) -> DStream<M::Prediction> {
        let (snapshots, dropped) = (self.snapshots.clone(), self.unpredicted.clone());
        stream.try_transform(move |rdd, t| {
            let model = snapshots.at(t, &rdd.context());
            let dropped = dropped.clone();
            Ok(rdd.try_map_partitions(move |rows: Vec<Vec<f64>>| {
                predict_partition(model.value(), &rows, &dropped)
                    .map(|p| p.into_iter().flatten().collect::<Vec<_>>())
            }))
        })
    }

    /// Like [`predict_on`](Self::predict_on) for keyed records: each key with its
    /// prediction (Spark's `predictOnValues`).
    pub fn predict_on_values<K: Data>(
        &self,
        stream: &DStream<(K, Vec<f64>)>,
    ) -> DStream<(K, M::Prediction)> {
        let (snapshots, dropped) = (self.snapshots.clone(), self.unpredicted.clone());
        stream.try_transform(move |rdd, t| {
            let model = snapshots.at(t, &rdd.context());
            let dropped = dropped.clone();
            Ok(rdd.try_map_partitions(move |records: Vec<(K, Vec<f64>)>| {
                let (keys, rows): (Vec<K>, Vec<Vec<f64>>) = records.into_iter().unzip();
                let predictions = predict_partition(model.value(), &rows, &dropped)?;
                Ok::<_, MlError>(
                    keys.into_iter()
                        .zip(predictions)
                        .filter_map(|(k, p)| p.map(|p| (k, p)))
                        .collect::<Vec<_>>(),
                )
            }))
        })
    }
}

impl<M: EvaluateOn> TrainedModel<M> {
    /// One record per batch: the metrics of the model as of the batch (before its update)
    /// on the batch's labelled records — test-then-train evaluation. Per-partition metrics
    /// are merged in partition order; an empty batch gives metrics with count 0. Cost: one
    /// copy of each partition plus one prediction per record.
    pub fn evaluate_on(&self, stream: &DStream<(Vec<f64>, f64)>) -> DStream<M::Metrics> {
        let snapshots = self.snapshots.clone();
        stream
            .try_transform(move |rdd, t| {
                let model = snapshots.at(t, &rdd.context());
                Ok(
                    rdd.try_map_partitions(move |records: Vec<(Vec<f64>, f64)>| {
                        if records.is_empty() {
                            return Ok(vec![M::Metrics::default()]);
                        }
                        let block = LabeledBlock::from_records(&records);
                        Ok::<_, MlError>(vec![model.value().evaluate_block(block.view()?)?])
                    }),
                )
            })
            .reduce(|mut a, b| {
                a.merge(&b);
                a
            })
    }

    /// The metrics of [`evaluate_on`](Self::evaluate_on) over a sliding window, kept
    /// incrementally: the batch entering is merged, the batch leaving retracted, O(1) per
    /// slide whatever the window length.
    ///
    /// # Errors
    /// [`spate_core::Error::WindowNotMultiple`] when the window is not a whole number of
    /// batches.
    pub fn evaluate_on_window(
        &self,
        stream: &DStream<(Vec<f64>, f64)>,
        window: Window,
    ) -> spate_core::Result<DStream<M::Metrics>> {
        self.evaluate_on(stream).merge_by_window(window)
    }
}

// ---------------------------------------------------------------- the models

/// `TrainOn` and `PredictOn` for a clustering model on `Vec<f64>` records; `None` predictions
/// while the model cannot predict yet.
macro_rules! clustering_model {
    ($model:ty, $name:literal, $ready:expr) => {
        impl TrainOn for $model {
            type Record = Vec<f64>;
            type Block = RowBlock;
            const NAME: &'static str = $name;

            fn to_block(records: &[Vec<f64>]) -> RowBlock {
                RowBlock::from_rows(records)
            }

            fn block_view(block: &RowBlock) -> MlResult<Option<ArrayView2<'_, f64>>> {
                if block.is_empty() {
                    return Ok(None);
                }
                block.view().map(Some)
            }
        }

        impl PredictOn for $model {
            type Prediction = usize;

            fn predict_rows(&self, rows: ArrayView2<'_, f64>) -> MlResult<Vec<Option<usize>>> {
                let ready: fn(&$model) -> bool = $ready;
                if !ready(self) {
                    return Ok(vec![None; rows.nrows()]);
                }
                self.predict_batch(rows)
            }
        }
    };
}

clustering_model!(
    StreamingKMeans,
    "StreamingKMeans",
    StreamingKMeans::is_initialized
);
clustering_model!(CoresetKMeans, "CoresetKMeans", |m| !m.coreset().is_empty());
clustering_model!(WindowedCoresetKMeans, "WindowedCoresetKMeans", |m| m
    .summary_points()
    > 0);

/// `TrainOn` for a model on `(features, target)` records, and `PredictOn` / `EvaluateOn`
/// through its `predict` and `evaluate`.
macro_rules! labeled_model {
    ($model:ty, $name:literal, $metrics:ty) => {
        impl TrainOn for $model {
            type Record = (Vec<f64>, f64);
            type Block = LabeledBlock;
            const NAME: &'static str = $name;

            fn to_block(records: &[(Vec<f64>, f64)]) -> LabeledBlock {
                LabeledBlock::from_records(records)
            }

            fn block_view(block: &LabeledBlock) -> MlResult<Option<Labeled<'_>>> {
                if block.is_empty() {
                    return Ok(None);
                }
                block.view().map(Some)
            }
        }

        impl PredictOn for $model {
            type Prediction = f64;

            fn predict_rows(&self, rows: ArrayView2<'_, f64>) -> MlResult<Vec<Option<f64>>> {
                Ok(self.predict(rows)?.into_iter().map(Some).collect())
            }
        }

        impl EvaluateOn for $model {
            type Metrics = $metrics;

            fn evaluate_block(&self, block: Labeled<'_>) -> MlResult<$metrics> {
                self.evaluate(block)
            }
        }
    };
}

labeled_model!(
    StreamingLinearRegressionWithSgd,
    "StreamingLinearRegressionWithSgd",
    RegressionMetrics
);
labeled_model!(
    StreamingLogisticRegressionWithSgd,
    "StreamingLogisticRegressionWithSgd",
    ClassificationMetrics
);
labeled_model!(
    StreamingLeastSquares,
    "StreamingLeastSquares",
    RegressionMetrics
);

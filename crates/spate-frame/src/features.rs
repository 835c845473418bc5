//! Numeric columns of frames, by name, as the contiguous buffers `spate-stats` summaries and
//! `spate-ml` models take: no per-row `Vec<f64>` anywhere.
//!
//! - [`FrameStream::summarize_columns`] runs any [`NumericSummary`] (moments, quantile
//!   sketches, histograms …) on named columns, one contiguous `f64` slice per column and
//!   partition; nulls are passed as NaN, which every summary skips and counts.
//! - [`Features`] turns named columns (and an optional target) into a row-major matrix per
//!   partition ([`FeatureBlock`]); rows with a null in any of them are skipped and counted.
//! - [`FrameStream::train`] trains any [`FrameModel`] (streaming k-means, least squares, SGD
//!   regressions) on those blocks: partitions are summarized in parallel, the summaries merged
//!   and applied once per batch, the model kept in a checkpointed managed state.
//!
//! ```
//! use polars::prelude::*;
//! use spate_frame::features::Features;
//!
//! let frame = df!("x" => [Some(1.0), None, Some(3.0)], "y" => [2_i64, 4, 6])?;
//! let block = Features::new(["x"]).target("y").block(&frame)?;
//! assert_eq!((block.rows(), block.skipped()), (2, 1));
//! let (x, y) = block.labeled()?;
//! assert_eq!(x.column(0).to_vec(), [1.0, 3.0]);
//! assert_eq!(y.to_vec(), [2.0, 6.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{FrameError, Result};
use crate::frame::Frame;
use crate::stream::FrameStream;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use spate_core::stream::ManagedState;
use spate_core::{DStream, Data, Merge};
use spate_ml::{Labeled, OnlineModel, Round, StreamingKMeans, StreamingLeastSquares, StreamingSgd};
use spate_stats::{NumericSummary, PerColumn};
use std::sync::{Arc, Mutex};

/// Whether `dtype` can be read as numbers.
fn numeric(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric() || matches!(dtype, DataType::Boolean)
}

/// Checks that every name is a numeric column of `schema`.
fn check_numeric<'a>(schema: &Schema, names: impl IntoIterator<Item = &'a String>) -> Result<()> {
    for name in names {
        let dtype = schema
            .get(name.as_str())
            .ok_or_else(|| FrameError::UnknownColumn {
                name: name.clone(),
                available: schema.iter_names().map(|n| n.to_string()).collect(),
            })?;
        if !numeric(dtype) {
            return Err(FrameError::ColumnType {
                name: name.clone(),
                dtype: dtype.to_string(),
                expected: "a numeric or boolean column",
            });
        }
    }
    Ok(())
}

/// Column `name` as `f64`, in one chunk.
fn f64_column(frame: &DataFrame, name: &str) -> Result<Float64Chunked> {
    let column = frame.column(name)?.cast(&DataType::Float64)?;
    Ok(column.f64()?.rechunk().into_owned())
}

/// Which columns are features (and which one, if any, the target).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Features {
    columns: Vec<String>,
    target: Option<String>,
}

impl Features {
    /// The named columns, in this order, as features.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Features {
        Features {
            columns: columns.into_iter().map(Into::into).collect(),
            target: None,
        }
    }

    /// Also a target column (for regressions).
    pub fn target(mut self, column: impl Into<String>) -> Features {
        self.target = Some(column.into());
        self
    }

    /// The feature columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Checks the columns against a schema.
    ///
    /// # Errors
    /// [`FrameError::UnknownColumn`], [`FrameError::ColumnType`] for a column that is not
    /// numeric, [`FrameError::InvalidParameter`] for no feature columns.
    pub fn check(&self, schema: &Schema) -> Result<()> {
        if self.columns.is_empty() {
            return Err(FrameError::invalid(
                "features",
                "[]",
                "name at least one column",
            ));
        }
        check_numeric(schema, self.columns.iter().chain(&self.target))
    }

    /// The rows of `frame` as a matrix (and target vector), skipping and counting rows with
    /// a null in any of the columns. One pass per column, one allocation for the matrix.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn block(&self, frame: &DataFrame) -> Result<FeatureBlock> {
        self.check(frame.schema())?;
        let columns: Vec<Float64Chunked> = self
            .columns
            .iter()
            .map(|n| f64_column(frame, n))
            .collect::<Result<_>>()?;
        let target = self
            .target
            .as_ref()
            .map(|t| f64_column(frame, t))
            .transpose()?;
        let n = frame.height();
        let mut keep = vec![true; n];
        for c in columns.iter().chain(&target) {
            if c.null_count() > 0 {
                for (k, v) in keep.iter_mut().zip(c.iter()) {
                    *k &= v.is_some();
                }
            }
        }
        let rows = keep.iter().filter(|k| **k).count();
        let d = columns.len();
        let mut x = Array2::<f64>::zeros((rows, d));
        for (j, c) in columns.iter().enumerate() {
            let mut i = 0;
            for (v, k) in c.iter().zip(&keep) {
                if *k {
                    x[[i, j]] = v.unwrap_or(f64::NAN);
                    i += 1;
                }
            }
        }
        let y = target.map(|t| {
            t.iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v.unwrap_or(f64::NAN))
                .collect::<Array1<f64>>()
        });
        Ok(FeatureBlock {
            x,
            y,
            skipped: (n - rows) as u64,
        })
    }
}

/// One partition's feature rows as a row-major matrix, and its target if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureBlock {
    x: Array2<f64>,
    y: Option<Array1<f64>>,
    skipped: u64,
}

impl FeatureBlock {
    /// Rows kept.
    pub fn rows(&self) -> usize {
        self.x.nrows()
    }

    /// Rows skipped for a null feature or target.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The feature matrix.
    pub fn features(&self) -> ArrayView2<'_, f64> {
        self.x.view()
    }

    /// Features and target.
    ///
    /// # Errors
    /// [`FrameError::InvalidParameter`] when the block has no target.
    pub fn labeled(&self) -> Result<(ArrayView2<'_, f64>, ArrayView1<'_, f64>)> {
        match &self.y {
            Some(y) => Ok((self.x.view(), y.view())),
            None => Err(FrameError::invalid(
                "target",
                "none",
                "this model needs a target column",
            )),
        }
    }
}

/// A `spate-ml` model that trains on [`FeatureBlock`]s.
pub trait FrameModel: OnlineModel<Report: Data> + Data {
    /// The block as the model's batch; `None` for an empty block.
    ///
    /// # Errors
    /// [`FrameError::InvalidParameter`] when the model needs a target the block lacks.
    fn batch_of(block: &FeatureBlock) -> Result<Option<Self::Batch<'_>>>;
}

impl FrameModel for StreamingKMeans {
    fn batch_of(block: &FeatureBlock) -> Result<Option<ArrayView2<'_, f64>>> {
        Ok((block.rows() > 0).then(|| block.features()))
    }
}

impl FrameModel for StreamingLeastSquares {
    fn batch_of(block: &FeatureBlock) -> Result<Option<Labeled<'_>>> {
        let batch = block.labeled()?;
        Ok((block.rows() > 0).then_some(batch))
    }
}

impl<L: spate_ml::Loss + Send + Sync + 'static> FrameModel for StreamingSgd<L>
where
    StreamingSgd<L>: Data,
{
    fn batch_of(block: &FeatureBlock) -> Result<Option<Labeled<'_>>> {
        let batch = block.labeled()?;
        Ok((block.rows() > 0).then_some(batch))
    }
}

/// A model trained on a frame stream; from [`FrameStream::train`].
pub struct TrainedFrameModel<M: FrameModel> {
    state: ManagedState<M>,
    reports: Arc<Mutex<Vec<(u64, M::Report, u64)>>>,
}

impl<M: FrameModel> TrainedFrameModel<M> {
    /// The model after the latest batch.
    pub fn latest_model(&self) -> M {
        self.state.get()
    }

    /// The managed state holding the model (saved in checkpoints).
    pub fn state(&self) -> &ManagedState<M> {
        &self.state
    }

    /// Per batch: its time (ms), the model's report, and the rows skipped for nulls.
    pub fn reports(&self) -> Vec<(u64, M::Report, u64)> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl FrameStream {
    /// Per batch, one summary per named column (each configured like `empty`), from one
    /// contiguous `f64` slice per column and partition; nulls are passed as NaN, which the
    /// summaries skip and count.
    ///
    /// # Errors
    /// [`FrameError::UnknownColumn`] or [`FrameError::ColumnType`] for a column that is not
    /// numeric.
    pub fn summarize_columns<S: NumericSummary>(
        &self,
        columns: &[&str],
        empty: S,
    ) -> Result<DStream<PerColumn<S>>> {
        let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        check_numeric(self.schema(), &names)?;
        Ok(self.stream().summarize(move |frames: &[Frame]| {
            let mut summaries = vec![empty.clone(); names.len()];
            let mut buffer = Vec::new();
            for frame in frames {
                for (name, summary) in names.iter().zip(&mut summaries) {
                    // Checked at build time; a frame without the column contributes nothing.
                    let Ok(values) = f64_column(frame, name) else {
                        continue;
                    };
                    match values.cont_slice() {
                        Ok(slice) => summary.update(slice),
                        Err(_) => {
                            buffer.clear();
                            buffer.extend(values.iter().map(|v| v.unwrap_or(f64::NAN)));
                            summary.update(&buffer);
                        }
                    }
                }
            }
            PerColumn::from(summaries)
        }))
    }

    /// Per partition, the named columns as a [`FeatureBlock`].
    ///
    /// # Errors
    /// As [`Features::check`].
    pub fn features(&self, features: Features) -> Result<DStream<FeatureBlock>> {
        features.check(self.schema())?;
        let schema = Arc::clone(self.schema());
        Ok(self.stream().transform(move |rdd, _| {
            let (features, schema) = (features.clone(), Arc::clone(&schema));
            rdd.try_map_partitions(move |frames: Vec<Frame>| {
                let frame = Frame::concat(&frames, &schema)?;
                features.block(frame.df()).map(|b| vec![b])
            })
        }))
    }

    /// Trains `model` on every batch (Spark's `trainOn`), features taken by name: each
    /// partition becomes one [`FeatureBlock`]; then, in rounds until the model is done with
    /// the batch, the partitions are summarized in parallel, the summaries merged in
    /// partition order and applied. The model lives in a managed state called `name`, saved
    /// in checkpoints and restored on recovery. Empty batches are applied too (k-means
    /// discounts its weights on them).
    ///
    /// # Errors
    /// As [`Features::check`]; the core's errors for a taken `name` or a started context. A
    /// batch the model cannot take (a wrong number of features) fails with the model's error.
    pub fn train<M: FrameModel>(
        &self,
        model: M,
        name: &str,
        features: Features,
    ) -> Result<TrainedFrameModel<M>> {
        let blocks = self.features(features)?;
        let state = self.context().managed_state(name, model)?;
        let reports: Arc<Mutex<Vec<(u64, M::Report, u64)>>> = Arc::default();
        let (model_state, sink) = (state.clone(), Arc::clone(&reports));
        blocks.foreach_rdd(move |rdd, time| {
            let rdd = rdd.persist();
            let skipped: u64 = rdd
                .run_partitions_ref(|_, blocks| {
                    Ok(blocks.iter().map(FeatureBlock::skipped).sum::<u64>())
                })?
                .into_iter()
                .sum();
            let mut model = model_state.get();
            let report = loop {
                let current = &model;
                let parts = rdd.run_partitions_ref(|_, blocks: &[FeatureBlock]| {
                    let mut stats = M::Stats::default();
                    for block in blocks {
                        if let Some(batch) = M::batch_of(block).map_err(spate_core::Error::from)? {
                            let s = current.summarize(batch).map_err(|e| {
                                spate_core::Error::Operator {
                                    operator: "spate-frame train".into(),
                                    message: e.to_string(),
                                }
                            })?;
                            stats.merge(&s);
                        }
                    }
                    Ok(stats)
                })?;
                let mut stats = M::Stats::default();
                for s in &parts {
                    stats.merge(s);
                }
                match model
                    .apply(stats)
                    .map_err(|e| spate_core::Error::Operator {
                        operator: "spate-frame train".into(),
                        message: e.to_string(),
                    })? {
                    Round::Done(report) => break report,
                    Round::Again => {}
                }
            };
            rdd.unpersist();
            model_state.set(model);
            if let Ok(mut r) = sink.lock() {
                r.push((time.millis(), report, skipped));
            }
            Ok(())
        })?;
        Ok(TrainedFrameModel { state, reports })
    }
}

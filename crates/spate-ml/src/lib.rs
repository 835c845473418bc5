//! Online machine learning for Spate: streaming and one-pass k-means, streaming regression.
//!
//! Every model here is a plain struct holding its state, trained one micro-batch at a time and
//! independent of any runtime. Training is split like rayon's fold + reduce (see
//! [`OnlineModel`]):
//!
//! - [`summarize`](OnlineModel::summarize)`(&self, partition) -> Stats` runs per partition,
//!   read-only, so a runtime may run it anywhere, in parallel;
//! - the `Stats` merge ([`spate_core::Merge`]) in partition order, and serialize, so they may
//!   cross threads or processes;
//! - [`apply`](OnlineModel::apply)`(&mut self, stats)` runs once per round on the driver.
//!
//! A DStream adapter (`train_on`) is therefore "partition map + global combine + apply", the
//! same on every runtime; [`OnlineModel::update`] does it for one in-memory batch.
//!
//! | model | Spark counterpart | `Stats` | rounds per batch |
//! |---|---|---|---|
//! | [`StreamingKMeans`] | `StreamingKMeans` | [`KMeansStats`]: per-cluster sums | 1 |
//! | [`CoresetKMeans`], [`WindowedCoresetKMeans`] | — (StreamKM++ one-pass k-means) | [`KMeansCoreset`]: bounded weighted summary | 1 |
//! | [`StreamingLinearRegressionWithSgd`] | `StreamingLinearRegressionWithSGD` | [`GradientStats`] | `iterations` |
//! | [`StreamingLogisticRegressionWithSgd`] | `StreamingLogisticRegressionWithSGD` | [`GradientStats`] | `iterations` |
//! | [`StreamingLeastSquares`] | — (exact OLS, or RLS with forgetting) | [`LeastSquaresStats`]: centred co-moments | 1 |
//!
//! Models are `Clone + Serialize + Deserialize` so they can be checkpointed, even in the
//! middle of a batch's SGD iterations. Parameters go through checked builders whose `build()`
//! returns a typed [`MlError`] before any data flows. Rows with NaN or infinity are skipped and
//! counted in each batch's report, never a panic; convergence is a report field, never an
//! error. [`RegressionMetrics`] and [`ClassificationMetrics`] evaluate predictions as
//! mergeable, retractable summaries, so rolling windows cost O(pane) per slide.
//!
//! # Example
//!
//! ```
//! use ndarray::{Array1, Array2, array, s};
//! use spate_core::Merge;
//! use spate_ml::{OnlineModel, Round, StreamingKMeans, StreamingLeastSquares, TimeUnit};
//!
//! // Forget half of the past every 1000 points; seed the centers by k-means++ once 4 points
//! // have arrived.
//! let mut kmeans = StreamingKMeans::params(2)
//!     .half_life(1000.0, TimeUnit::Points)
//!     .kmeans_plus_plus(4)
//!     .seed(7)
//!     .build()?;
//! let batch = array![[0.0, 0.1], [0.2, 0.0], [9.8, 10.0], [10.1, 9.9], [f64::NAN, 1.0]];
//!
//! // What a runtime does with a batch in two partitions.
//! let mut stats = kmeans.summarize(batch.slice(s![..2, ..]))?;
//! stats.merge(&kmeans.summarize(batch.slice(s![2.., ..]))?);
//! let Round::Done(report) = kmeans.apply(stats)? else { unreachable!("k-means takes one round") };
//! assert_eq!((report.points, report.skipped), (4, 1));
//! assert_ne!(kmeans.predict(array![0.0, 0.0].view())?, kmeans.predict(array![10.0, 10.0].view())?);
//!
//! // Exact least squares over everything seen so far, one batch at a time.
//! let mut ols = StreamingLeastSquares::params(2).build()?;
//! let x = Array2::from_shape_fn((50, 2), |(i, j)| ((i * (j + 3)) % 7) as f64 + 1e4);
//! let y: Array1<f64> = x.rows().into_iter().map(|r| 3.0 * r[0] - r[1] + 0.5).collect();
//! for (start, end) in [(0, 30), (30, 50)] {
//!     ols.update((x.slice(s![start..end, ..]), y.slice(s![start..end])))?;
//! }
//! assert!((ols.weights()[0] - 3.0).abs() < 1e-8 && (ols.intercept() - 0.5).abs() < 1e-4);
//! # Ok::<(), spate_ml::MlError>(())
//! ```
//!
//! # On a stream
//!
//! [`TrainOn::train_on`] is Spark's `trainOn`: the model lives in a managed state of the
//! streaming context (saved in every checkpoint, restored by `get_or_create`), and every batch
//! is summarized per partition on the executor, merged and applied. The [`TrainedModel`] it
//! returns predicts and evaluates with the model as of each batch (before its update), and
//! reports each batch.
//!
//! ```
//! use spate_core::stream::{FastForwardClock, StreamingContext};
//! use spate_core::{SpateContext, Window};
//! use spate_ml::{StreamingLeastSquares, TrainOn};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let ssc = StreamingContext::builder(&SpateContext::sequential(2))
//!     .batch_interval(Duration::from_secs(1))
//!     .clock(FastForwardClock::new())
//!     .build()?;
//! let (queue, rows) = ssc.queue_stream::<(Vec<f64>, f64)>(true)?;
//! let model = StreamingLeastSquares::params(1).build()?.train_on(&rows)?;
//! let rmse = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&rmse);
//! model
//!     .evaluate_on_window(&rows, Window::new(Duration::from_secs(2), Duration::from_secs(1)))?
//!     .foreach_rdd(move |rdd, _| {
//!         sink.lock().unwrap().extend(rdd.collect()?.iter().map(|m| m.rmse()));
//!         Ok(())
//!     })?;
//! for b in 0..3 {
//!     let x = f64::from(b);
//!     queue.push(vec![(vec![x], 2.0 * x + 1.0), (vec![x + 0.5], 2.0 * x + 2.0)]);
//! }
//! queue.close();
//! ssc.start()?;
//! ssc.await_termination()?;
//! let fitted = model.latest_model();
//! assert!((fitted.weights()[0] - 2.0).abs() < 1e-12 && (fitted.intercept() - 1.0).abs() < 1e-12);
//! // Each batch is predicted before it trains the model: batch 0 by the all-zero model,
//! // batches 1 and 2 (the last window) by a model that already fits the line.
//! let rmse = rmse.lock().unwrap();
//! assert!(rmse[0] > 1.0 && rmse[2] < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # With linfa
//!
//! The models implement linfa's traits, so they drop into code written for linfa: the
//! parameter builders implement `FitWith` (one more batch, from a `DatasetBase`) and the
//! one-pass clusterer `Fit`; fitted models implement `PredictInplace`, hence `Predict`, to
//! cluster indices (`Array1<usize>`, [`NO_CLUSTER`] where there is none) or targets
//! (`Array1<f64>`). In code that names a model's type, call `Predict::predict(&model, &x)`:
//! the models' own `predict` methods, which return typed errors, take precedence over trait
//! methods.
//!
//! ```
//! use linfa::prelude::*;
//! use ndarray::{Array1, array};
//! use spate_ml::StreamingLeastSquares;
//!
//! let batch = Dataset::new(array![[1.0], [2.0], [3.0]], array![3.0, 5.0, 7.0]);
//! let model = StreamingLeastSquares::params(1).fit_with(None, &batch)?;
//! let more = Dataset::new(array![[4.0]], array![9.0]);
//! let model = StreamingLeastSquares::params(1).fit_with(Some(model), &more)?;
//! let predicted: Array1<f64> = Predict::predict(&model, &array![[10.0]]);
//! assert!((predicted[0] - 21.0).abs() < 1e-9);
//! # Ok::<(), spate_ml::MlError>(())
//! ```
//!
//! # Where next
//!
//! [`StreamingKMeans`] for the exact update rule and the k-means++ warm-up; [`CoresetKMeans`]
//! for one pass over a time-ordered stream with near-batch quality in bounded memory (and
//! [`WindowedCoresetKMeans`] for the last batches only); [`StreamingSgd`]
//! for Spark's SGD semantics and mini-batch sampling; [`StreamingLeastSquares`] for exact and
//! forgetting least squares; [`TrainedModel`] for predictions and rolling evaluation on
//! streams; [`Standardizer`] to standardize features; `docs/benchmarks.md` for throughput
//! figures; `examples/streaming_kmeans.rs` and `examples/streaming_regression.rs` for whole
//! programs on real data.

mod checkpoint;
mod coreset;
mod coreset_kmeans;
mod dstream;
mod error;
mod kmeans;
mod least_squares;
mod linalg;
mod linfa_interop;
mod metrics;
mod online;
mod regression;
mod scale;
mod sgd;

pub use coreset::KMeansCoreset;
pub use coreset_kmeans::{
    CoresetKMeans, CoresetKMeansParams, CoresetReport, DEFAULT_LEVELS, DEFAULT_POINTS_PER_CLUSTER,
    KMeansCenters, WindowedCoresetKMeans,
};
pub use dstream::{EvaluateOn, LabeledBlock, PredictOn, RowBlock, TrainOn, TrainedModel};
pub use error::{MlError, Result};
pub use kmeans::{
    ClusterSplit, Init, KMeansReport, KMeansStats, StreamingKMeans, StreamingKMeansParams, TimeUnit,
};
pub use least_squares::{
    LeastSquaresParams, LeastSquaresReport, LeastSquaresStats, StreamingLeastSquares,
};
pub use linfa_interop::NO_CLUSTER;
pub use metrics::{ClassificationMetrics, RegressionMetrics};
pub use online::{OnlineModel, Round};
pub use regression::Labeled;
pub use scale::Standardizer;
pub use sgd::{
    DIVERGENCE_FACTOR, GradientStats, LogisticLoss, Loss, Regularizer, SgdParams, SgdReport,
    SquaredLoss, StreamingLinearRegressionWithSgd, StreamingLogisticRegressionWithSgd,
    StreamingSgd,
};

//! The DStream adapters: training through a stream gives exactly the model `update_partitions`
//! gives on the same batches and partitions, on the reference and the rayon executor;
//! predictions and evaluations use the model as of each batch; checkpoints restore the model.

use crate::common::{blobs, linear_targets, normal};
use ndarray::{Array1, Array2, ArrayView2};
use spate_core::stream::{CheckpointConfig, FastForwardClock, ReplaySource, StreamingContext};
use spate_core::{BatchTime, Data, Error, Merge, Retract, SpateContext, Window};
use spate_local::RayonRuntime;
use spate_ml::{
    ClassificationMetrics, CoresetKMeans, EvaluateOn, KMeansReport, OnlineModel, PredictOn,
    RegressionMetrics, StreamingKMeans, StreamingLeastSquares, StreamingLinearRegressionWithSgd,
    StreamingLogisticRegressionWithSgd, TimeUnit, TrainOn, TrainedModel, WindowedCoresetKMeans,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn executors() -> Vec<(&'static str, SpateContext)> {
    vec![
        ("sequential", SpateContext::sequential(2)),
        (
            "rayon(3)",
            SpateContext::builder(RayonRuntime::new(3).unwrap())
                .default_parallelism(3)
                .build()
                .unwrap(),
        ),
    ]
}

fn context(sc: &SpateContext, partitions: usize) -> StreamingContext {
    StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(partitions)
        .build()
        .unwrap()
}

/// The non-empty partitions the engine makes of a batch: contiguous slices of near-equal
/// size, as `SpateContext::parallelize` cuts them.
fn chunks<T>(batch: &[T], partitions: usize) -> Vec<&[T]> {
    let n = batch.len();
    (0..partitions)
        .map(|p| &batch[p * n / partitions..(p + 1) * n / partitions])
        .filter(|c| !c.is_empty())
        .collect()
}

fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    let d = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((rows.len(), d), rows.concat()).unwrap()
}

/// Batch sizes with empty batches and batches smaller than 7 partitions.
const SIZES: [usize; 10] = [5, 0, 300, 3, 1000, 17, 250, 0, 640, 90];

fn point_batches(d: usize, seed: u64) -> Vec<Vec<Vec<f64>>> {
    let total: usize = SIZES.iter().sum();
    let (points, _) = blobs(total, 4, d, 8.0, seed);
    let mut rows: Vec<Vec<f64>> = points.rows().into_iter().map(|r| r.to_vec()).collect();
    // Non-finite rows are skipped and counted, never a panic.
    rows[7][1] = f64::NAN;
    rows[1200][0] = f64::INFINITY;
    let mut rest = rows.into_iter();
    SIZES
        .iter()
        .map(|&n| rest.by_ref().take(n).collect())
        .collect()
}

fn labeled_batches(d: usize, seed: u64, logistic: bool) -> Vec<Vec<(Vec<f64>, f64)>> {
    let total: usize = SIZES.iter().sum();
    let x = normal(total, d, seed);
    let w: Vec<f64> = (0..d).map(|j| j as f64 - 1.5).collect();
    let mut y = linear_targets(&x, &w, 0.5, 0.3, seed + 1);
    if logistic {
        y.mapv_inplace(|v| f64::from(u8::from(v > 0.5)));
    }
    let mut records: Vec<(Vec<f64>, f64)> = x
        .rows()
        .into_iter()
        .zip(y)
        .map(|(r, y)| (r.to_vec(), y))
        .collect();
    records[11].1 = f64::NAN;
    records[600].0[0] = f64::NEG_INFINITY;
    let mut rest = records.into_iter();
    SIZES
        .iter()
        .map(|&n| rest.by_ref().take(n).collect())
        .collect()
}

/// What a streaming run observed, batch by batch.
struct Run<M: TrainOn, P, E> {
    model: M,
    reports: Vec<M::Report>,
    predictions: Vec<Vec<P>>,
    metrics: Vec<E>,
    windowed: Vec<E>,
    unpredicted: u64,
}

type Sink<T> = Arc<Mutex<Vec<T>>>;

fn take<T>(sink: &Sink<T>) -> Vec<T> {
    std::mem::take(&mut *sink.lock().unwrap())
}

fn collect_into<T: Data>(
    sink: &Sink<Vec<T>>,
) -> impl FnMut(spate_core::Rdd<T>, BatchTime) -> spate_core::Result<()> + Send + 'static {
    let sink = Arc::clone(sink);
    move |rdd, _| {
        sink.lock().unwrap().push(rdd.collect()?);
        Ok(())
    }
}

fn collect_one<T: Data>(
    sink: &Sink<T>,
) -> impl FnMut(spate_core::Rdd<T>, BatchTime) -> spate_core::Result<()> + Send + 'static {
    let sink = Arc::clone(sink);
    move |rdd, _| {
        let mut records = rdd.collect()?;
        assert_eq!(records.len(), 1, "one record per batch");
        sink.lock().unwrap().push(records.remove(0));
        Ok(())
    }
}

/// Trains `model` on `batches` through a stream; predicts on the features of the same
/// stream and, for labelled models, evaluates per batch and over a 3-batch window.
fn run_labeled<M>(
    sc: &SpateContext,
    partitions: usize,
    model: M,
    batches: &[Vec<(Vec<f64>, f64)>],
) -> Run<M, f64, M::Metrics>
where
    M: TrainOn<Record = (Vec<f64>, f64)> + PredictOn<Prediction = f64> + EvaluateOn,
{
    let ssc = context(sc, partitions);
    let records = ssc
        .source_stream(ReplaySource::new(batches.to_vec()))
        .unwrap();
    let (reports, predictions, metrics, windowed) = (
        Sink::default(),
        Sink::default(),
        Sink::default(),
        Sink::default(),
    );
    // These outputs run after the training output of each batch: predictions and metrics
    // must still use the model before the batch's update.
    let trained: TrainedModel<M> = model.train_on(&records).unwrap();
    let features = records.map(|(x, _)| x);
    trained
        .predict_on(&features)
        .foreach_rdd(collect_into(&predictions))
        .unwrap();
    trained
        .evaluate_on(&records)
        .foreach_rdd(collect_one(&metrics))
        .unwrap();
    trained
        .evaluate_on_window(
            &records,
            Window::new(Duration::from_secs(3), Duration::from_secs(1)),
        )
        .unwrap()
        .foreach_rdd(collect_one(&windowed))
        .unwrap();
    trained
        .reports()
        .foreach_rdd(collect_one(&reports))
        .unwrap();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    Run {
        model: trained.latest_model(),
        reports: take(&reports),
        predictions: take(&predictions),
        metrics: take(&metrics),
        windowed: take(&windowed),
        unpredicted: trained.unpredicted_rows(),
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

/// The reference: `update_partitions` on the same non-empty partitions, predictions and
/// metrics from the model before each batch, windows merged from the per-batch metrics.
fn check_labeled<M>(
    label: &str,
    model: M,
    batches: &[Vec<(Vec<f64>, f64)>],
    same_metrics: impl Fn(&M::Metrics, &M::Metrics) -> bool,
) where
    M: TrainOn<Record = (Vec<f64>, f64)>
        + PredictOn<Prediction = f64>
        + EvaluateOn
        + PartialEq
        + std::fmt::Debug
        + for<'a> OnlineModel<Batch<'a> = spate_ml::Labeled<'a>>,
    M::Report: PartialEq + std::fmt::Debug,
{
    for (executor, sc) in executors() {
        for partitions in [1, 2, 7] {
            let what = format!("{label} on {executor} with {partitions} partitions");
            let got = run_labeled(&sc, partitions, model.clone(), batches);
            let mut reference = model.clone();
            let mut reports = Vec::new();
            let mut metrics = Vec::new();
            for (b, batch) in batches.iter().enumerate() {
                let owned: Vec<(Array2<f64>, Array1<f64>)> = chunks(batch, partitions)
                    .into_iter()
                    .map(|c| {
                        let x: Vec<Vec<f64>> = c.iter().map(|(x, _)| x.clone()).collect();
                        (matrix(&x), c.iter().map(|(_, y)| *y).collect())
                    })
                    .collect();
                if !batch.is_empty() {
                    let (x, y) = (
                        matrix(&batch.iter().map(|(x, _)| x.clone()).collect::<Vec<_>>()),
                        batch.iter().map(|(_, y)| *y).collect::<Array1<f64>>(),
                    );
                    let want: Vec<u64> = reference
                        .predict_rows(x.view())
                        .unwrap()
                        .into_iter()
                        .map(|p| p.unwrap().to_bits())
                        .collect();
                    let have: Vec<u64> = got.predictions[b].iter().map(|p| p.to_bits()).collect();
                    assert_eq!(have, want, "{what}: predictions of batch {b}");
                    let m = reference.evaluate_block((x.view(), y.view())).unwrap();
                    assert!(
                        same_metrics(&got.metrics[b], &m),
                        "{what}: metrics of batch {b}"
                    );
                    metrics.push(m);
                } else {
                    assert!(got.predictions[b].is_empty());
                    metrics.push(M::Metrics::default());
                }
                let views: Vec<_> = owned.iter().map(|(x, y)| (x.view(), y.view())).collect();
                reports.push(reference.update_partitions(&views).unwrap());
            }
            assert_eq!(got.model, reference, "{what}: model");
            // Debug forms, so a NaN loss (a batch without a step) compares equal to itself.
            assert_eq!(
                format!("{:?}", got.reports),
                format!("{reports:?}"),
                "{what}: reports"
            );
            assert_eq!(got.unpredicted, 0);
            for (b, windowed) in got.windowed.iter().enumerate() {
                let mut want = M::Metrics::default();
                for m in &metrics[b.saturating_sub(2)..=b] {
                    want.merge(m);
                }
                assert!(
                    same_metrics(windowed, &want),
                    "{what}: window ending at batch {b}"
                );
            }
        }
    }
}

fn same_regression(a: &RegressionMetrics, b: &RegressionMetrics) -> bool {
    a.count() == b.count()
        && a.skipped() == b.skipped()
        && close(a.rmse(), b.rmse(), 1e-9)
        && close(a.mae(), b.mae(), 1e-9)
        && close(a.r2(), b.r2(), 1e-9)
}

fn same_classification(a: &ClassificationMetrics, b: &ClassificationMetrics) -> bool {
    a.count() == b.count()
        && a.skipped() == b.skipped()
        && close(a.accuracy(), b.accuracy(), 1e-12)
        && close(a.log_loss(), b.log_loss(), 1e-9)
}

#[test]
fn kmeans_through_a_stream_equals_update_partitions() {
    let batches = point_batches(3, 5);
    let models = [
        // k-means++ seeded once 400 points arrived: batches 0..=4 are buffered and replayed.
        StreamingKMeans::params(4)
            .decay(0.7)
            .kmeans_plus_plus(400)
            .seed(3)
            .build()
            .unwrap(),
        StreamingKMeans::params(3)
            .half_life(500.0, TimeUnit::Points)
            .random_centers(3, 0.0)
            .seed(9)
            .build()
            .unwrap(),
    ];
    for model in models {
        for (executor, sc) in executors() {
            for partitions in [1, 2, 7] {
                let what = format!("k-means on {executor} with {partitions} partitions");
                let ssc = context(&sc, partitions);
                let points = ssc
                    .source_stream(ReplaySource::new(batches.clone()))
                    .unwrap();
                let (predictions, reports) = (Sink::default(), Sink::default());
                let trained = model.clone().train_on_named("clusters", &points).unwrap();
                assert_eq!(trained.name(), "clusters");
                trained
                    .predict_on_values(&points.map(|p| (p[0].to_bits(), p)))
                    .foreach_rdd(collect_into(&predictions))
                    .unwrap();
                let seen = Arc::new(AtomicU64::new(0));
                let counter = Arc::clone(&seen);
                trained
                    .foreach_report(move |_, report: &KMeansReport, model: &StreamingKMeans| {
                        counter.fetch_add(report.points, Ordering::Relaxed);
                        assert!(model.is_initialized() || report.points == 0);
                        Ok(())
                    })
                    .unwrap();
                trained
                    .reports()
                    .foreach_rdd(collect_one(&reports))
                    .unwrap();
                ssc.start().unwrap();
                ssc.await_termination().unwrap();

                let mut reference = model.clone();
                let mut want_reports = Vec::new();
                let mut unpredicted = 0;
                for (b, batch) in batches.iter().enumerate() {
                    let rows = matrix(batch);
                    let got: Vec<(u64, usize)> = predictions.lock().unwrap()[b].clone();
                    let want: Vec<(u64, usize)> = if reference.is_initialized() && !batch.is_empty()
                    {
                        let p = reference.predict_batch(rows.view()).unwrap();
                        unpredicted += p.iter().filter(|p| p.is_none()).count() as u64;
                        batch
                            .iter()
                            .zip(p)
                            .filter_map(|(r, p)| p.map(|p| (r[0].to_bits(), p)))
                            .collect()
                    } else {
                        unpredicted += batch.len() as u64;
                        Vec::new()
                    };
                    assert_eq!(got, want, "{what}: predictions of batch {b}");
                    let owned: Vec<Array2<f64>> =
                        chunks(batch, partitions).into_iter().map(matrix).collect();
                    let views: Vec<ArrayView2<f64>> = owned.iter().map(|m| m.view()).collect();
                    want_reports.push(reference.update_partitions(&views).unwrap());
                }
                assert_eq!(trained.latest_model(), reference, "{what}: model");
                assert_eq!(*reports.lock().unwrap(), want_reports, "{what}: reports");
                assert_eq!(trained.unpredicted_rows(), unpredicted, "{what}");
                let points: u64 = want_reports.iter().map(|r| r.points).sum();
                assert_eq!(seen.load(Ordering::Relaxed), points);
            }
        }
    }
}

/// The coreset models through a stream: the same model, reports and predictions (made with
/// the model before each batch) as `update_partitions` on the same partitions.
fn check_clustering<M>(label: &str, model: M)
where
    M: TrainOn<Record = Vec<f64>>
        + PredictOn<Prediction = usize>
        + PartialEq
        + std::fmt::Debug
        + for<'a> OnlineModel<Batch<'a> = ArrayView2<'a, f64>>,
    M::Report: PartialEq + std::fmt::Debug,
{
    let batches = point_batches(3, 8);
    for (executor, sc) in executors() {
        for partitions in [1, 2, 7] {
            let what = format!("{label} on {executor} with {partitions} partitions");
            let ssc = context(&sc, partitions);
            let points = ssc
                .source_stream(ReplaySource::new(batches.clone()))
                .unwrap();
            let (predictions, reports) = (Sink::default(), Sink::default());
            let trained = model.clone().train_on(&points).unwrap();
            trained
                .predict_on(&points)
                .foreach_rdd(collect_into(&predictions))
                .unwrap();
            trained
                .reports()
                .foreach_rdd(collect_one(&reports))
                .unwrap();
            ssc.start().unwrap();
            ssc.await_termination().unwrap();
            let mut reference = model.clone();
            let mut want_reports = Vec::new();
            for (b, batch) in batches.iter().enumerate() {
                let want: Vec<usize> = if batch.is_empty() {
                    Vec::new()
                } else {
                    reference
                        .predict_rows(matrix(batch).view())
                        .unwrap()
                        .into_iter()
                        .flatten()
                        .collect()
                };
                assert_eq!(predictions.lock().unwrap()[b], want, "{what}: batch {b}");
                let owned: Vec<Array2<f64>> =
                    chunks(batch, partitions).into_iter().map(matrix).collect();
                let views: Vec<ArrayView2<f64>> = owned.iter().map(|m| m.view()).collect();
                want_reports.push(reference.update_partitions(&views).unwrap());
            }
            assert_eq!(trained.latest_model(), reference, "{what}: model");
            assert_eq!(*reports.lock().unwrap(), want_reports, "{what}: reports");
        }
    }
}

#[test]
fn coreset_kmeans_through_a_stream_equals_update_partitions() {
    let params = || CoresetKMeans::params(4).coreset_size(40).levels(3).seed(5);
    check_clustering("coreset k-means", params().build().unwrap());
    check_clustering(
        "windowed coreset k-means",
        WindowedCoresetKMeans::new(params(), 3).unwrap(),
    );
}

#[test]
fn sgd_through_a_stream_equals_update_partitions() {
    let model = StreamingLinearRegressionWithSgd::params(4)
        .step_size(0.2)
        .iterations(8)
        .mini_batch_fraction(0.6)
        .intercept(true)
        .seed(4)
        .build()
        .unwrap();
    check_labeled(
        "linear SGD",
        model,
        &labeled_batches(4, 1, false),
        same_regression,
    );
    let model = StreamingLogisticRegressionWithSgd::params(4)
        .step_size(1.0)
        .iterations(5)
        .intercept(true)
        .build()
        .unwrap();
    check_labeled(
        "logistic SGD",
        model,
        &labeled_batches(4, 2, true),
        same_classification,
    );
}

#[test]
fn least_squares_through_a_stream_equals_update_partitions() {
    let batches = labeled_batches(3, 3, false);
    let exact = StreamingLeastSquares::params(3).build().unwrap();
    check_labeled("OLS", exact, &batches, same_regression);
    let forgetting = StreamingLeastSquares::params(3)
        .forgetting_factor(0.995)
        .ridge(0.1)
        .build()
        .unwrap();
    check_labeled("RLS", forgetting, &batches, same_regression);
}

#[test]
fn ragged_records_fail_the_batch_with_the_model_name() {
    let sc = SpateContext::sequential(2);
    let ssc = context(&sc, 2);
    let batches = vec![
        vec![vec![1.0, 2.0], vec![3.0, 4.0]],
        vec![vec![1.0, 2.0], vec![3.0]],
    ];
    let points = ssc.source_stream(ReplaySource::new(batches)).unwrap();
    let model = StreamingKMeans::params(1)
        .random_centers(2, 0.0)
        .build()
        .unwrap();
    let trained = model.train_on(&points).unwrap();
    ssc.start().unwrap();
    let err = ssc.await_termination().unwrap_err().to_string();
    assert!(err.contains("StreamingKMeans"), "{err}");
    assert!(
        err.contains("data has 1 features but the model has 2"),
        "{err}"
    );
    // The failed batch left the model as it was after the first batch.
    assert_eq!(trained.latest_model().weights().sum(), 2.0);
}

#[test]
fn a_second_model_needs_its_own_name() {
    let sc = SpateContext::sequential(1);
    let ssc = context(&sc, 1);
    let (_queue, points) = ssc.queue_stream::<Vec<f64>>(true).unwrap();
    let model = StreamingKMeans::params(2).build().unwrap();
    model.clone().train_on(&points).unwrap();
    let err = model.clone().train_on(&points).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    model.train_on_named("second", &points).unwrap();
}

// ---------------------------------------------------------------- recovery

type Models = (
    StreamingKMeans,
    StreamingLeastSquares,
    StreamingLinearRegressionWithSgd,
);
type Handles = Arc<
    Mutex<
        Option<(
            TrainedModel<StreamingKMeans>,
            TrainedModel<StreamingLeastSquares>,
            TrainedModel<StreamingLinearRegressionWithSgd>,
        )>,
    >,
>;

fn recovery_input() -> Arc<Vec<Vec<(Vec<f64>, f64)>>> {
    let (x, _) = blobs(40 * 60, 3, 3, 5.0, 21);
    let y = linear_targets(&x, &[1.0, -2.0, 0.5], 3.0, 0.1, 22);
    let records: Vec<(Vec<f64>, f64)> = x
        .rows()
        .into_iter()
        .zip(y)
        .map(|(r, y)| (r.to_vec(), y))
        .collect();
    Arc::new(records.chunks(60).map(<[_]>::to_vec).collect())
}

/// Three models trained on one replayable stream; `fail_at` makes that batch fail after
/// training, as a crash between two checkpoints would.
fn recovery_program(
    sc: &SpateContext,
    handles: &Handles,
    metrics: &Arc<Mutex<BTreeMap<u64, u64>>>,
    fail_at: &Arc<AtomicU64>,
) -> spate_core::Result<StreamingContext> {
    let ssc = context(sc, 3);
    let records = ssc.source_stream(ReplaySource::shared(recovery_input()))?;
    let points = records.map(|(x, _)| x);
    let kmeans = StreamingKMeans::params(3)
        .decay(0.9)
        .kmeans_plus_plus(100)
        .build()?
        .train_on(&points)?;
    let ols = StreamingLeastSquares::params(3)
        .build()?
        .train_on(&records)?;
    let sgd = StreamingLinearRegressionWithSgd::params(3)
        .step_size(0.1)
        .iterations(20)
        .intercept(true)
        .build()?
        .train_on(&records)?;
    let sink = Arc::clone(metrics);
    ols.evaluate_on(&records).foreach_rdd(move |rdd, t| {
        let m: Vec<RegressionMetrics> = rdd.collect()?;
        sink.lock().unwrap().insert(t.0, m[0].rmse().to_bits());
        Ok(())
    })?;
    let fail_at = Arc::clone(fail_at);
    records.count().foreach_rdd(move |_, t| {
        if t.0 == fail_at.load(Ordering::Relaxed) {
            return Err(Error::Source {
                source_name: "test".into(),
                message: "simulated crash".into(),
            });
        }
        Ok(())
    })?;
    *handles.lock().unwrap() = Some((kmeans, ols, sgd));
    Ok(ssc)
}

fn latest(handles: &Handles) -> Models {
    let guard = handles.lock().unwrap();
    let (k, o, s) = guard.as_ref().unwrap();
    (k.latest_model(), o.latest_model(), s.latest_model())
}

#[test]
fn recovery_from_a_checkpoint_restores_the_models() {
    let sc = SpateContext::sequential(3);
    let handles = Handles::default();
    let metrics = Arc::default();
    let never = Arc::new(AtomicU64::new(0));
    let ssc = recovery_program(&sc, &handles, &metrics, &never).unwrap();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let want = latest(&handles);
    let want_metrics = metrics.lock().unwrap().clone();
    assert_eq!(want_metrics.len(), 40);

    for (every, crash_at) in [(3_u64, 11_u64), (1, 2), (4, 37)] {
        let dir = tempfile::tempdir().unwrap();
        let config = CheckpointConfig::every(every);
        let fail_at = Arc::new(AtomicU64::new(crash_at * 1000));
        let metrics: Arc<Mutex<BTreeMap<u64, u64>>> = Arc::default();
        let handles = Handles::default();
        let build = || recovery_program(&sc, &handles, &metrics, &fail_at);
        let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
        ssc.start().unwrap();
        let err = ssc.await_termination().unwrap_err();
        assert!(err.to_string().contains("simulated crash"), "{err}");
        // The crashed batch's updates are in memory but not in any checkpoint.
        assert_ne!(latest(&handles), want);

        fail_at.store(0, Ordering::Relaxed);
        let handles = Handles::default();
        let sc = SpateContext::builder(RayonRuntime::new(2).unwrap())
            .default_parallelism(2)
            .build()
            .unwrap();
        let build = || recovery_program(&sc, &handles, &metrics, &fail_at);
        let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
        let restored_at = (crash_at - 1) / every * every;
        assert_eq!(ssc.recovered_from(), Some(BatchTime(restored_at * 1000)));
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        assert!(
            latest(&handles) == want,
            "every={every} crash_at={crash_at}: models"
        );
        assert_eq!(
            *metrics.lock().unwrap(),
            want_metrics,
            "every={every} crash_at={crash_at}"
        );
    }
}

#[test]
fn retracting_metrics_undoes_merging() {
    // The windowed evaluation relies on this law of the metrics.
    let y = ndarray::array![1.0, 2.0, 3.0, 10.0];
    let p = ndarray::array![1.5, 2.0, 2.0, 7.0];
    let a = RegressionMetrics::from_predictions(y.view(), p.view()).unwrap();
    let b = RegressionMetrics::from_predictions(p.view(), y.view()).unwrap();
    let mut m = a;
    m.merge(&b);
    m.retract(&b);
    assert!(same_regression(&m, &a));
}

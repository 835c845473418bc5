//! Throughput of `spate-ml` per point/row against linfa and hand-written baselines.
//!
//! Run: `cargo bench -p spate-benches --bench ml`. Figures and ratios: docs/benchmarks.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use linfa::DatasetBase;
use linfa::traits::{Fit, FitWith};
use linfa_clustering::{IncrKMeansError, KMeans, KMeansInit};
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use spate_ml::{
    CoresetKMeans, OnlineModel, StreamingKMeans, StreamingLeastSquares,
    StreamingLinearRegressionWithSgd,
};
use std::hint::black_box;
use std::time::Duration;

const K: usize = 5;
const D: usize = 10;
const BATCH: usize = 1000;

fn blobs(n: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let centers = Array2::from_shape_simple_fn((K, D), || rng.random_range(-10.0..10.0));
    let mut points = Array2::zeros((n, D));
    for mut row in points.rows_mut() {
        let c = rng.random_range(0..K);
        for (j, x) in row.iter_mut().enumerate() {
            *x = centers[(c, j)] + rng.sample::<f64, _>(StandardNormal);
        }
    }
    (points, centers)
}

fn regression_data(n: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let x = Array2::from_shape_simple_fn((n, D), || rng.sample(StandardNormal));
    let w: Array1<f64> = (0..D).map(|j| j as f64 / 5.0 - 1.0).collect();
    let noise: Array1<f64> = (0..n)
        .map(|_| 0.1 * rng.sample::<f64, _>(StandardNormal))
        .collect();
    let y = x.dot(&w) + noise + 2.0;
    (x, y)
}

fn kmeans(c: &mut Criterion) {
    let n = 100_000;
    let (points, truth) = blobs(n, 1);
    let start = &truth + 0.5;
    let model = StreamingKMeans::params(K)
        .initial_centers(start.clone(), vec![0.0; K])
        .build()
        .unwrap();
    let mut group = c.benchmark_group("kmeans_k5_d10");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("spate_streaming_update", |b| {
        b.iter(|| {
            let mut m = model.clone();
            for batch in points.axis_chunks_iter(Axis(0), BATCH) {
                black_box(m.update(batch).unwrap());
            }
            m
        })
    });
    group.bench_function("spate_summarize_only", |b| {
        b.iter(|| black_box(model.summarize(points.view()).unwrap()))
    });
    group.bench_function("baseline_linfa_fit_with", |b| {
        let params = KMeans::params(K).init_method(KMeansInit::Precomputed(start.clone()));
        b.iter(|| {
            let mut m: Option<KMeans<f64, _>> = None;
            for batch in points.axis_chunks_iter(Axis(0), BATCH) {
                let dataset = DatasetBase::from(batch);
                m = Some(match params.fit_with(m.take(), &dataset) {
                    Ok(m) | Err(IncrKMeansError::NotConverged(m)) => m,
                    Err(e) => panic!("{e}"),
                });
            }
            m
        })
    });
    group.finish();
    // A batch refit costs O(window) per batch; measured per point of a 10k-point window.
    let window = points.slice(ndarray::s![..10_000, ..]).to_owned();
    let mut group = c.benchmark_group("kmeans_k5_d10_refit");
    group.throughput(Throughput::Elements(window.nrows() as u64));
    group.bench_function("baseline_linfa_batch_refit", |b| {
        let dataset = DatasetBase::from(window.clone());
        let params = KMeans::params(K)
            .n_runs(1)
            .init_method(KMeansInit::Precomputed(start.clone()));
        b.iter(|| params.fit(&dataset).unwrap())
    });
    group.finish();
}

/// One pass of the bounded-memory coreset clusterer beside Spark-rule streaming k-means, on
/// the same batches of a stream long enough (5·10^5 points, m = 200·k = 1000) for reductions
/// at two levels (62 of the raw buffer, 7 of level 1). Wall time; `kmeans_one_pass.rs`
/// measures the same in CPU time.
fn one_pass_kmeans(c: &mut Criterion) {
    let n = 500_000;
    let (points, truth) = blobs(n, 3);
    let mut group = c.benchmark_group("kmeans_one_pass_k5_d10");
    group.throughput(Throughput::Elements(n as u64));
    let coreset = CoresetKMeans::params(K).seed(1).build().unwrap();
    group.bench_function("spate_coreset_update", |b| {
        b.iter(|| {
            let mut m = coreset.clone();
            for batch in points.axis_chunks_iter(Axis(0), BATCH) {
                black_box(m.update(batch).unwrap());
            }
            m
        })
    });
    let streaming = StreamingKMeans::params(K)
        .initial_centers(&truth + 0.5, vec![0.0; K])
        .build()
        .unwrap();
    group.bench_function("baseline_spate_streaming_update", |b| {
        b.iter(|| {
            let mut m = streaming.clone();
            for batch in points.axis_chunks_iter(Axis(0), BATCH) {
                black_box(m.update(batch).unwrap());
            }
            m
        })
    });
    group.finish();
    // Extracting the centers from the summary of the whole stream (a query, cached until the
    // next update): 5 restarts of weighted k-means++ and Lloyd.
    let mut fed = coreset.clone();
    for batch in points.axis_chunks_iter(Axis(0), BATCH) {
        fed.update(batch).unwrap();
    }
    let mut group = c.benchmark_group("kmeans_one_pass_k5_d10_query");
    group.bench_function("spate_coreset_extract_centers", |b| {
        b.iter(|| {
            let fresh = fed.clone();
            black_box(fresh.centers().unwrap().to_owned())
        })
    });
    group.finish();
}

fn regression(c: &mut Criterion) {
    let n = 100_000;
    let (x, y) = regression_data(n, 2);
    let mut group = c.benchmark_group("regression_d10");
    group.throughput(Throughput::Elements(n as u64));
    let ols = StreamingLeastSquares::params(D).build().unwrap();
    group.bench_function("spate_exact_ols_update", |b| {
        b.iter(|| {
            let mut m = ols.clone();
            for (bx, by) in x
                .axis_chunks_iter(Axis(0), BATCH)
                .zip(y.axis_chunks_iter(Axis(0), BATCH))
            {
                black_box(m.update((bx, by)).unwrap());
            }
            m
        })
    });
    // One SGD iteration per batch: the figure is rows × iterations per second.
    let sgd = StreamingLinearRegressionWithSgd::params(D)
        .iterations(1)
        .build()
        .unwrap();
    group.bench_function(BenchmarkId::new("spate_sgd_update", "1_iteration"), |b| {
        b.iter(|| {
            let mut m = sgd.clone();
            for (bx, by) in x
                .axis_chunks_iter(Axis(0), BATCH)
                .zip(y.axis_chunks_iter(Axis(0), BATCH))
            {
                black_box(m.update((bx, by)).unwrap());
            }
            m
        })
    });
    group.bench_function("baseline_handwritten_gradient", |b| {
        let w = vec![0.1; D];
        b.iter(|| {
            let mut g = vec![0.0; D];
            for (row, &yi) in x.rows().into_iter().zip(&y) {
                let diff = row.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() - yi;
                for (gj, xj) in g.iter_mut().zip(row) {
                    *gj += diff * xj;
                }
            }
            g
        })
    });
    group.bench_function("baseline_linfa_linear_refit", |b| {
        let dataset = DatasetBase::new(x.clone(), y.clone());
        b.iter(|| LinearRegression::new().fit(&dataset).unwrap())
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = kmeans, one_pass_kmeans, regression }
criterion_main!(benches);

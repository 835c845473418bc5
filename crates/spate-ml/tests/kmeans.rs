//! StreamingKMeans against closed forms, Spark's rules, linfa and naive recomputation.

use crate::common::{blobs, max_abs_diff, naive_cost, normal, time_ordered_blobs};
use linfa::DatasetBase;
use linfa::traits::{Fit, FitWith};
use linfa_clustering::{IncrKMeansError, KMeans, KMeansInit};
use ndarray::{Array2, Axis, array, s};
use spate_core::Merge;
use spate_ml::{ClusterSplit, MlError, OnlineModel, StreamingKMeans, TimeUnit};

fn given(k: usize, d: usize) -> spate_ml::StreamingKMeansParams {
    StreamingKMeans::params(k).initial_centers(Array2::zeros((k, d)), vec![0.0; k])
}

#[test]
fn k1_decay1_tracks_the_grand_mean() {
    let data = normal(10_000, 4, 1) + 1e3;
    let mut model = given(1, 4).decay(1.0).build().unwrap();
    let mut start = 0;
    for size in [1, 10, 999, 3000, 2990, 3000] {
        model
            .update(data.slice(s![start..start + size, ..]))
            .unwrap();
        start += size;
    }
    assert_eq!(start, data.nrows());
    let mean = data.mean_axis(Axis(0)).unwrap();
    assert!(max_abs_diff(model.centers().row(0).iter().copied(), mean) < 1e-9);
    assert_eq!(model.weights()[0], 10_000.0);
}

#[test]
fn decay0_keeps_exactly_the_last_batch_mean() {
    let data = normal(3000, 3, 2) * 7.0 + 11.0;
    let mut model = given(1, 3).decay(0.0).build().unwrap();
    for batch in data.axis_chunks_iter(Axis(0), 700) {
        model.update(batch).unwrap();
    }
    let last = data.slice(s![2800.., ..]);
    let mut sums = [0.0; 3];
    for row in last.rows() {
        for (s, x) in sums.iter_mut().zip(row) {
            *s += x;
        }
    }
    let mean: Vec<f64> = sums.iter().map(|s| s / last.nrows() as f64).collect();
    assert_eq!(model.centers().row(0).to_vec(), mean);
}

#[test]
fn half_life_in_batches_halves_the_weight() {
    let h = 7;
    let mut model = StreamingKMeans::params(1)
        .half_life(h as f64, TimeUnit::Batches)
        .initial_centers(array![[0.0]], vec![1.0])
        .build()
        .unwrap();
    for _ in 0..h {
        model.update(Array2::<f64>::zeros((0, 1)).view()).unwrap();
    }
    assert!((model.weights()[0] - 0.5).abs() < 1e-12);
}

#[test]
fn half_life_in_points_halves_the_weight() {
    let h = 13;
    let mut model = StreamingKMeans::params(2)
        .half_life(h as f64, TimeUnit::Points)
        .initial_centers(array![[0.0], [100.0]], vec![1.0, 0.0])
        .build()
        .unwrap();
    let far = Array2::from_elem((h, 1), 100.0);
    let report = model.update(far.view()).unwrap();
    assert!(report.splits.is_empty());
    assert!((model.weights()[0] - 0.5).abs() < 1e-12);
    assert_eq!(model.weights()[1], h as f64);
    // Points mode: an empty batch does not forget.
    model.update(Array2::<f64>::zeros((0, 1)).view()).unwrap();
    assert!((model.weights()[0] - 0.5).abs() < 1e-12);
}

#[test]
fn points_mode_discounts_by_a_to_the_n() {
    let a = 0.97;
    let mut model = StreamingKMeans::params(2)
        .decay(a)
        .time_unit(TimeUnit::Points)
        .initial_centers(array![[0.0, 0.0], [5.0, 5.0]], vec![2.0, 3.0])
        .build()
        .unwrap();
    let batch = array![[0.1, 0.0], [0.0, 0.1], [5.0, 5.2]];
    model.update(batch.view()).unwrap();
    let discount = a.powi(3);
    let w0 = 2.0 * discount + 2.0;
    assert!((model.weights()[0] - w0).abs() < 1e-12);
    assert!((model.weights()[1] - (3.0 * discount + 1.0)).abs() < 1e-12);
    // λ = m / (w' + m), c ← (1 − λ)c + λ·mean.
    let lambda = 2.0 / w0;
    assert!((model.centers()[(0, 0)] - lambda * 0.05).abs() < 1e-12);
}

#[test]
fn a_dying_cluster_is_replaced_by_splitting_the_largest() {
    let mut model = StreamingKMeans::params(3)
        .initial_centers(array![[0.0, 0.0], [50.0, 50.0], [-3.0, 1.0]], vec![0.0; 3])
        .build()
        .unwrap();
    let batch = array![[49.0, 50.0], [51.0, 50.0], [-3.0, 1.0]];
    let report = model.update(batch.view()).unwrap();
    // Cluster 0 got nothing: weight 0 < 1e-8 × 2, so Spark splits cluster 1 (the first heaviest).
    assert_eq!(
        report.splits,
        vec![ClusterSplit {
            dying: 0,
            largest: 1
        }]
    );
    assert_eq!(model.weights().to_vec(), vec![1.0, 1.0, 1.0]);
    let p = 1e-14 * 50.0;
    assert_eq!(model.centers().row(1).to_vec(), vec![50.0 + p, 50.0 + p]);
    assert_eq!(model.centers().row(0).to_vec(), vec![50.0 - p, 50.0 - p]);
}

#[test]
fn non_finite_rows_are_skipped_and_counted() {
    let mut model = given(2, 2).build().unwrap();
    let batch = array![
        [1.0, 1.0],
        [f64::NAN, 0.0],
        [f64::INFINITY, 1.0],
        [3.0, f64::NEG_INFINITY],
        [1.0, 3.0]
    ];
    let report = model.update(batch.view()).unwrap();
    assert_eq!((report.points, report.skipped), (2, 3));
    assert!(model.centers().iter().all(|v| v.is_finite()));
    assert_eq!(
        model.predict(array![f64::NAN, 0.0].view()),
        Err(MlError::NonFinitePoint)
    );
    assert_eq!(model.predict_batch(batch.view()).unwrap()[1], None);
    // The same in a k-means++ warm-up.
    let mut model = StreamingKMeans::params(2)
        .kmeans_plus_plus(2)
        .build()
        .unwrap();
    let report = model.update(batch.view()).unwrap();
    assert_eq!((report.points, report.skipped), (2, 3));
    assert!(model.centers().iter().all(|v| v.is_finite()));
}

#[test]
fn invalid_parameters_are_typed_errors() {
    let p = StreamingKMeans::params;
    assert_eq!(p(0).build().unwrap_err(), MlError::InvalidK { k: 0 });
    assert_eq!(
        p(2).decay(1.5).build().unwrap_err(),
        MlError::InvalidDecay { decay: 1.5 }
    );
    assert_eq!(
        p(2).decay(-0.1).build().unwrap_err(),
        MlError::InvalidDecay { decay: -0.1 }
    );
    assert!(matches!(
        p(2).decay(f64::NAN).build(),
        Err(MlError::InvalidDecay { .. })
    ));
    for h in [0.0, -1.0, f64::INFINITY] {
        assert_eq!(
            p(2).half_life(h, TimeUnit::Points).build().unwrap_err(),
            MlError::InvalidHalfLife { half_life: h }
        );
    }
    assert_eq!(
        p(2).initial_centers(Array2::zeros((3, 2)), vec![0.0; 3])
            .build()
            .unwrap_err(),
        MlError::InitialCentersShape { rows: 3, k: 2 }
    );
    assert_eq!(
        p(2).initial_centers(Array2::zeros((2, 2)), vec![0.0])
            .build()
            .unwrap_err(),
        MlError::InitialWeights { len: 1, k: 2 }
    );
    assert_eq!(
        p(2).initial_centers(Array2::zeros((2, 2)), vec![0.0, -1.0])
            .build()
            .unwrap_err(),
        MlError::InitialWeights { len: 2, k: 2 }
    );
    assert_eq!(
        p(1).initial_centers(array![[f64::NAN]], vec![0.0])
            .build()
            .unwrap_err(),
        MlError::NonFiniteParameter {
            what: "initial centers"
        }
    );
    assert_eq!(
        p(2).random_centers(0, 1.0).build().unwrap_err(),
        MlError::ZeroDimension
    );
    assert_eq!(
        p(3).kmeans_plus_plus(2).build().unwrap_err(),
        MlError::BufferTooSmall { points: 2, k: 3 }
    );
}

#[test]
fn shape_errors_are_reported_not_panicked() {
    let mut model = given(2, 3).build().unwrap();
    let wrong = Array2::<f64>::zeros((4, 2));
    assert_eq!(
        model.update(wrong.view()).unwrap_err(),
        MlError::DimensionMismatch {
            expected: 3,
            found: 2
        }
    );
    assert!(matches!(
        model.predict(array![1.0].view()),
        Err(MlError::DimensionMismatch { .. })
    ));
    // Summaries of differently shaped models do not merge silently.
    let other = given(2, 2).build().unwrap();
    let mut stats = model.summarize(Array2::zeros((2, 3)).view()).unwrap();
    stats.merge(&other.summarize(wrong.view()).unwrap());
    assert_eq!(model.apply(stats).unwrap_err(), MlError::IncompatibleStats);
    let stats = other.summarize(wrong.view()).unwrap();
    assert_eq!(model.apply(stats).unwrap_err(), MlError::IncompatibleStats);
    let warm = StreamingKMeans::params(2).build().unwrap();
    assert_eq!(
        warm.predict(array![1.0].view()),
        Err(MlError::NotInitialized {
            buffered: 0,
            needed: 2
        })
    );
}

#[test]
fn random_centers_are_seeded() {
    let a = StreamingKMeans::params(3)
        .random_centers(4, 2.0)
        .seed(9)
        .build()
        .unwrap();
    let b = StreamingKMeans::params(3)
        .random_centers(4, 2.0)
        .seed(9)
        .build()
        .unwrap();
    let c = StreamingKMeans::params(3)
        .random_centers(4, 2.0)
        .seed(10)
        .build()
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a.centers(), c.centers());
    assert_eq!(a.weights().to_vec(), vec![2.0; 3]);
    assert_eq!(a.centers().dim(), (3, 4));
}

/// Decay 1 with weight-0 initial centers is linfa's mini-batch k-means (`fit_with`): both assign
/// a batch with the centers from before it and move each center to the running mean of all
/// points ever assigned to it (linfa per point, Spark per batch). They differ only when a
/// cluster gets no point in a batch, where Spark splits the largest, so the blobs here are
/// well separated and seeded near their true centers.
#[test]
fn decay1_equals_linfa_fit_with_and_the_naive_running_mean() {
    let (k, d) = (4, 3);
    let (points, truth) = blobs(8000, k, d, 30.0, 3);
    let start = &truth + 0.5;
    let mut model = StreamingKMeans::params(k)
        .decay(1.0)
        .initial_centers(start.clone(), vec![0.0; k])
        .build()
        .unwrap();
    let params = KMeans::params(k).init_method(KMeansInit::Precomputed(start.clone()));
    let mut linfa_model: Option<KMeans<f64, _>> = None;
    // Independent naive recomputation: assign with the current centers, accumulate per-cluster
    // sums and counts over all batches, center = cumulative sum / cumulative count.
    let mut naive = start.clone();
    let mut sums = Array2::<f64>::zeros((k, d));
    let mut counts = vec![0.0; k];
    for batch in points.axis_chunks_iter(Axis(0), 500) {
        let report = model.update(batch).unwrap();
        assert!(report.splits.is_empty());
        let dataset = DatasetBase::from(batch.to_owned());
        linfa_model = Some(match params.fit_with(linfa_model.take(), &dataset) {
            Ok(m) | Err(IncrKMeansError::NotConverged(m)) => m,
            Err(e) => panic!("linfa failed: {e}"),
        });
        for row in batch.rows() {
            let c = (0..k)
                .min_by(|&a, &b| {
                    let da: f64 = row
                        .iter()
                        .zip(naive.row(a))
                        .map(|(x, y)| (x - y).powi(2))
                        .sum();
                    let db: f64 = row
                        .iter()
                        .zip(naive.row(b))
                        .map(|(x, y)| (x - y).powi(2))
                        .sum();
                    da.total_cmp(&db)
                })
                .unwrap();
            sums.row_mut(c).zip_mut_with(&row, |s, x| *s += x);
            counts[c] += 1.0;
        }
        for (c, count) in counts.iter().enumerate() {
            let row = &sums.row(c) / *count;
            naive.row_mut(c).assign(&row);
        }
    }
    let linfa_model = linfa_model.unwrap();
    assert!(
        max_abs_diff(
            model.centers().iter().copied(),
            linfa_model.centroids().iter().copied()
        ) < 1e-9
    );
    assert!(max_abs_diff(model.centers().iter().copied(), naive.iter().copied()) < 1e-9);
    assert_eq!(
        model.weights().to_vec(),
        linfa_model.cluster_count().to_vec()
    );
}

/// One pass over Gaussian blobs in batches of 1000, k-means++ over the first batch: the best of
/// three seeds is within 2% of linfa's batch k-means (3 k-means++ restarts of at most 30
/// iterations each: linfa's per-point allocations make its defaults, 10 × 300, take ~30 s here,
/// and the reference is checked to be no worse than the true centers).
#[test]
fn one_pass_on_blobs_is_within_2_percent_of_linfa_batch_kmeans() {
    let (k, d) = (5, 10);
    let (points, truth) = blobs(100_000, k, d, 10.0, 4);
    let best = [1, 2, 3]
        .into_iter()
        .map(|seed| {
            let mut model = StreamingKMeans::params(k)
                .seed(seed)
                .kmeans_plus_plus(1000)
                .build()
                .unwrap();
            for batch in points.axis_chunks_iter(Axis(0), 1000) {
                model.update(batch).unwrap();
            }
            (model.cost(points.view()).unwrap(), model)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    let (best, model) = best;
    assert!((best - naive_cost(&points, &model.centers().to_owned())).abs() < 1e-9 * best);
    let batch = KMeans::params(k)
        .n_runs(3)
        .max_n_iterations(30)
        .fit(&DatasetBase::from(points.clone()))
        .unwrap();
    let reference = naive_cost(&points, batch.centroids());
    // The reference is a real optimum: no worse than the true centers.
    assert!(reference <= naive_cost(&points, &truth));
    assert!(
        best <= 1.02 * reference,
        "streaming {best} vs linfa {reference}"
    );
}

#[test]
fn kmeans_plus_plus_buffers_then_replays_in_order() {
    let (points, _) = blobs(600, 3, 2, 20.0, 5);
    let mut model = StreamingKMeans::params(3)
        .kmeans_plus_plus(250)
        .decay(0.5)
        .build()
        .unwrap();
    let batches: Vec<_> = points.axis_chunks_iter(Axis(0), 100).collect();
    let first = model.update(batches[0]).unwrap();
    assert_eq!((first.batches, first.points), (0, 0));
    assert!(!model.is_initialized());
    model.update(batches[1]).unwrap();
    let third = model.update(batches[2]).unwrap();
    assert_eq!((third.batches, third.points), (3, 300));
    assert!(model.is_initialized());
    // Decay 0.5 per batch over the three replayed batches.
    let total: f64 = model.weights().sum();
    assert!((total - (100.0 * 0.25 + 100.0 * 0.5 + 100.0)).abs() < 1e-9);
    let report = model.update(batches[3]).unwrap();
    assert_eq!((report.batches, report.points), (1, 100));
    assert!(report.cost > 0.0);
}

#[test]
fn checkpoint_round_trip_continues_identically() {
    let (points, _) = blobs(3000, 3, 2, 20.0, 6);
    let mut model = StreamingKMeans::params(3)
        .kmeans_plus_plus(1500)
        .seed(2)
        .build()
        .unwrap();
    for (i, batch) in points.axis_chunks_iter(Axis(0), 500).enumerate() {
        let bytes = bincode::serialize(&model).unwrap();
        let mut restored: StreamingKMeans = bincode::deserialize(&bytes).unwrap();
        assert!(restored == model, "batch {i}");
        let a = model.update(batch).unwrap();
        let b = restored.update(batch).unwrap();
        assert_eq!(a, b);
        assert!(restored == model, "batch {i}");
    }
}

#[test]
fn non_contiguous_views_give_the_same_result() {
    let data = normal(500, 3, 7);
    let transposed = data.t().to_owned();
    let mut a = given(2, 3).build().unwrap();
    let mut b = a.clone();
    a.update(data.view()).unwrap();
    b.update(transposed.t()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn corrupt_checkpoints_and_tampered_stats_are_errors() {
    let mut model = given(2, 2).build().unwrap();
    let mut json = serde_json::to_value(&model).unwrap();
    json["centers"] = serde_json::json!([1.0, 2.0, 3.0]);
    let err = serde_json::from_value::<StreamingKMeans>(json).unwrap_err();
    assert!(
        err.to_string()
            .contains("corrupt StreamingKMeans checkpoint"),
        "{err}"
    );
    // Summaries arrive from other processes: inconsistent lengths are refused, not indexed.
    let stats = model.summarize(array![[1.0, 2.0]].view()).unwrap();
    let mut json = serde_json::to_value(&stats).unwrap();
    json["sums"] = serde_json::json!([1.0]);
    let tampered: spate_ml::KMeansStats = serde_json::from_value(json).unwrap();
    assert_eq!(
        model.apply(tampered.clone()).unwrap_err(),
        MlError::IncompatibleStats
    );
    let mut merged = stats.clone();
    merged.merge(&tampered);
    assert_eq!(model.apply(merged).unwrap_err(), MlError::IncompatibleStats);
}

/// Issue 22 §1: two batches holding one blob each, the k-means++ buffer spanning both. The
/// seeds land one per blob; replaying the first batch must not count the second blob's center
/// (weight 0 until its batch is replayed) as dying and overwrite it with a split.
#[test]
fn kmeans_plus_plus_over_time_ordered_batches_keeps_one_center_per_blob() {
    let first = array![[0.0, 0.0], [0.2, 0.1], [-0.1, 0.1], [0.1, -0.2]];
    let second = &first + 50.0;
    let mut model = StreamingKMeans::params(2)
        .kmeans_plus_plus(8)
        .seed(3)
        .build()
        .unwrap();
    assert_eq!(model.update(first.view()).unwrap().batches, 0);
    let report = model.update(second.view()).unwrap();
    assert_eq!((report.batches, report.points), (2, 8));
    assert!(report.splits.is_empty(), "{:?}", report.splits);
    let centers = model.centers();
    let near = |x: f64| centers.rows().into_iter().any(|c| (c[0] - x).abs() < 1.0);
    assert!(near(0.05) && near(50.05), "centers {centers}");
    assert_eq!(model.weights().to_vec(), vec![4.0, 4.0]);
}

/// The same on a longer time-ordered stream: 5 blobs arriving one after another, the warm-up
/// buffer spanning all of them. One pass ends with one center per blob, so its cost is that
/// of the true centers (within 1%).
#[test]
fn kmeans_plus_plus_on_time_ordered_blobs_finds_every_blob() {
    let (k, d) = (5, 4);
    let (points, truth) = time_ordered_blobs(10_000, k, d, 8);
    for seed in 0..3 {
        let mut model = StreamingKMeans::params(k)
            .kmeans_plus_plus(points.nrows())
            .seed(seed)
            .build()
            .unwrap();
        for batch in points.axis_chunks_iter(Axis(0), 500) {
            model.update(batch).unwrap();
        }
        let cost = model.cost(points.view()).unwrap();
        let ideal = naive_cost(&points, &truth);
        assert!(cost <= 1.01 * ideal, "seed {seed}: {cost} vs {ideal}");
    }
}

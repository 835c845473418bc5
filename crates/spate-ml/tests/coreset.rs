//! The one-pass coreset clusterers against linfa's batch k-means, the true centers, naive
//! recomputation, and their own bounds (memory, weights, windows, checkpoints).

use crate::common::{blobs, naive_cost, rng, time_ordered_blobs};
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_clustering::KMeans;
use ndarray::{Array2, Axis, array, concatenate, s};
use rand::Rng;
use spate_core::Merge;
use spate_ml::{
    CoresetKMeans, KMeansCoreset, MlError, OnlineModel, StreamingKMeans, WindowedCoresetKMeans,
};

/// Best of seeds 0, 1, 2 of one pass over `points` in batches of `batch`, and the summary size.
fn best_of_three(
    params: impl Fn(u64) -> CoresetKMeans,
    points: &Array2<f64>,
    batch: usize,
) -> (f64, CoresetKMeans) {
    (0..3)
        .map(|seed| {
            let mut model = params(seed);
            for b in points.axis_chunks_iter(Axis(0), batch) {
                model.update(b).unwrap();
            }
            (model.cost(points.view()).unwrap(), model)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap()
}

/// Issue 22 §2 on a time-ordered stream: 5 blobs arriving one after another (the order that
/// defeats a one-pass update), 100,000 points in 10 dimensions in batches of 1000. The best of
/// three seeds is within 1% of linfa's batch k-means (3 k-means++ runs of at most 30
/// iterations, checked to be no worse than the true centers), while Spark-rule streaming
/// k-means with k-means++ on the first batch ends far from it.
#[test]
fn one_pass_on_time_ordered_blobs_is_within_1_percent_of_linfa_batch_kmeans() {
    let (k, d) = (5, 10);
    let (points, truth) = time_ordered_blobs(100_000, k, d, 11);
    let (best, model) = best_of_three(
        |seed| CoresetKMeans::params(k).seed(seed).build().unwrap(),
        &points,
        1000,
    );
    let centers = model.centers().unwrap().to_owned();
    assert!((best - naive_cost(&points, &centers)).abs() < 1e-9 * best);
    let batch = KMeans::params(k)
        .n_runs(3)
        .max_n_iterations(30)
        .fit(&DatasetBase::from(points.clone()))
        .unwrap();
    let reference = naive_cost(&points, batch.centroids());
    assert!(reference <= naive_cost(&points, &truth) * (1.0 + 1e-12));
    assert!(
        best <= 1.01 * reference,
        "coreset {best} vs linfa {reference}"
    );
    let streaming = (0..3)
        .map(|seed| {
            let mut m = StreamingKMeans::params(k)
                .kmeans_plus_plus(1000)
                .seed(seed)
                .build()
                .unwrap();
            for b in points.axis_chunks_iter(Axis(0), 1000) {
                m.update(b).unwrap();
            }
            m.cost(points.view()).unwrap()
        })
        .fold(f64::INFINITY, f64::min);
    assert!(streaming > 1.5 * reference, "streaming {streaming}");
}

/// Memory independent of the stream length: with m = 50 and 2 levels the summary can hold at
/// most 8m + 7m·2 = 1100 weighted points; the summary of 20,000 points and that of 220,000
/// points both fit, and the weights always add up exactly to the points summarized.
#[test]
fn summary_size_is_bounded_after_ten_times_more_points() {
    let (points, _) = blobs(220_000, 4, 3, 10.0, 2);
    let mut model = CoresetKMeans::params(4)
        .coreset_size(50)
        .levels(2)
        .build()
        .unwrap();
    let mut sizes = Vec::new();
    for (i, b) in points.axis_chunks_iter(Axis(0), 1000).enumerate() {
        let report = model.update(b).unwrap();
        assert!(report.summary_points <= 1100);
        let coreset = model.coreset();
        assert_eq!(coreset.capacity(), 1100);
        assert!(coreset.len() <= coreset.capacity());
        let (_, weights) = coreset.weighted_points();
        assert_eq!(weights.sum(), coreset.points() as f64);
        if i + 1 == 20 || i + 1 == 220 {
            sizes.push((coreset.points(), coreset.len(), coreset.reductions()));
        }
    }
    let [(n1, len1, r1), (n2, len2, r2)] = sizes[..] else {
        unreachable!()
    };
    assert_eq!((n1, n2), (20_000, 220_000));
    assert!(len1 <= 1100 && len2 <= 1100, "{len1} {len2}");
    // The top level kept reducing in place: far more reductions, not more points.
    assert!(r2 > 10 * r1 / 2, "{r1} {r2}");
    // Still a good summary after all those reductions.
    let full = model.cost(points.view()).unwrap();
    let batch = KMeans::params(4)
        .n_runs(3)
        .max_n_iterations(30)
        .fit(&DatasetBase::from(
            points.slice(s![..50_000, ..]).to_owned(),
        ))
        .unwrap();
    let reference = naive_cost(&points, batch.centroids());
    assert!(full <= 1.03 * reference, "{full} vs {reference}");
}

/// The coreset property, checked directly: for arbitrary sets of k centers, the weighted cost
/// on the summary of 60,000 points in at most 3,000 weighted points is within 2% of the cost
/// on all the points (StreamKM++'s (1 ± ε) bound; 0.5% at most measured).
#[test]
fn the_summary_cost_approximates_the_full_cost_for_any_centers() {
    let (points, _) = time_ordered_blobs(60_000, 6, 4, 5);
    let mut model = CoresetKMeans::params(6)
        .coreset_size(200)
        .seed(9)
        .build()
        .unwrap();
    for b in points.axis_chunks_iter(Axis(0), 700) {
        model.update(b).unwrap();
    }
    let (rows, weights) = model.coreset().weighted_points();
    assert!(rows.nrows() <= 3000, "{}", rows.nrows());
    let mut r = rng(4);
    for trial in 0..20 {
        let k = 1 + trial % 8;
        let centers = Array2::from_shape_simple_fn((k, 4), || r.random_range(-20.0..20.0));
        let full = naive_cost(&points, &centers);
        let summary: f64 = rows
            .rows()
            .into_iter()
            .zip(&weights)
            .map(|(row, w)| {
                let one = row.to_owned().insert_axis(Axis(0));
                w * naive_cost(&one, &centers)
            })
            .sum();
        assert!(
            (summary - full).abs() <= 0.02 * full,
            "trial {trial}: summary {summary} vs full {full}"
        );
    }
}

#[test]
fn partition_summaries_merge_into_an_equally_good_model() {
    let (points, truth) = time_ordered_blobs(30_000, 4, 3, 6);
    let ideal = naive_cost(&points, &truth);
    for partitions in [1, 2, 7] {
        let mut model = CoresetKMeans::params(4)
            .coreset_size(200)
            .seed(1)
            .build()
            .unwrap();
        for b in points.axis_chunks_iter(Axis(0), 3000) {
            let parts: Vec<_> = b
                .axis_chunks_iter(Axis(0), b.nrows().div_ceil(partitions))
                .collect();
            model.update_partitions(&parts).unwrap();
        }
        assert_eq!(model.coreset().points(), 30_000);
        let cost = model.cost(points.view()).unwrap();
        assert!(
            cost <= 1.01 * ideal,
            "{partitions} partitions: {cost} vs {ideal}"
        );
    }
}

#[test]
fn merge_has_the_empty_summary_as_identity() {
    let model = CoresetKMeans::params(2).coreset_size(10).build().unwrap();
    let (points, _) = blobs(95, 2, 2, 5.0, 1);
    let stats = model.summarize(points.view()).unwrap();
    assert_eq!(stats.points(), 95);
    let mut left = KMeansCoreset::default();
    left.merge(&stats);
    assert_eq!(left, stats);
    let mut right = stats.clone();
    right.merge(&KMeansCoreset::default());
    assert_eq!(right, stats);
}

#[test]
fn non_finite_and_overflowing_rows_are_skipped_and_counted() {
    let mut model = CoresetKMeans::params(2).coreset_size(4).build().unwrap();
    assert_eq!(model.centers().unwrap_err(), MlError::EmptySummary);
    let batch = array![
        [1.0, 1.0],
        [f64::NAN, 0.0],
        [f64::INFINITY, 1.0],
        [1e200, 0.0],
        [3.0, f64::NEG_INFINITY],
        [9.0, 9.0],
        [1.5, 1.0],
    ];
    let report = model.update(batch.view()).unwrap();
    assert_eq!((report.points, report.skipped), (3, 4));
    assert!(model.centers().unwrap().iter().all(|v| v.is_finite()));
    assert_eq!(model.predict_batch(batch.view()).unwrap()[1], None);
    assert_eq!(
        model.predict(array![f64::NAN, 0.0].view()),
        Err(MlError::NonFinitePoint)
    );
    assert_eq!(
        model.predict(array![9.0, 8.0].view()),
        model.predict(array![9.0, 9.0].view())
    );
}

#[test]
fn invalid_parameters_are_typed_errors() {
    let p = CoresetKMeans::params;
    assert_eq!(p(0).build().unwrap_err(), MlError::InvalidK { k: 0 });
    assert!(matches!(
        p(5).coreset_size(4).build(),
        Err(MlError::InvalidCoresetSize { size: 4, k: 5, .. })
    ));
    assert!(matches!(
        p(1).coreset_size(1).build(),
        Err(MlError::InvalidCoresetSize { size: 1, .. })
    ));
    assert!(matches!(
        p(2).coreset_size(usize::MAX).build(),
        Err(MlError::InvalidCoresetSize { .. })
    ));
    assert!(matches!(
        p(2).levels(0).build(),
        Err(MlError::InvalidLevels { levels: 0, .. })
    ));
    assert!(matches!(
        p(2).levels(1000).build(),
        Err(MlError::InvalidLevels { levels: 1000, .. })
    ));
    assert_eq!(
        p(2).restarts(0).build().unwrap_err(),
        MlError::InvalidRestarts
    );
    assert_eq!(
        p(2).max_iterations(0).build().unwrap_err(),
        MlError::InvalidMaxIterations
    );
    assert_eq!(
        WindowedCoresetKMeans::new(p(2), 0).unwrap_err(),
        MlError::InvalidWindow { batches: 0 }
    );
    // k·200 overflowing is a size error too, not a panic.
    assert!(matches!(
        p(usize::MAX / 2).build(),
        Err(MlError::InvalidCoresetSize { .. })
    ));
}

#[test]
fn shape_errors_and_tampered_summaries_are_errors() {
    let mut model = CoresetKMeans::params(2).coreset_size(4).build().unwrap();
    model.update(Array2::zeros((3, 3)).view()).unwrap();
    assert_eq!(
        model.update(Array2::zeros((2, 2)).view()).unwrap_err(),
        MlError::DimensionMismatch {
            expected: 3,
            found: 2
        }
    );
    assert!(matches!(
        model.predict(array![1.0].view()),
        Err(MlError::DimensionMismatch { .. })
    ));
    // A summary made with another coreset size does not merge silently.
    let other = CoresetKMeans::params(2).coreset_size(5).build().unwrap();
    let stats = other.summarize(Array2::zeros((2, 3)).view()).unwrap();
    assert_eq!(model.apply(stats).unwrap_err(), MlError::IncompatibleStats);
    // Summaries arrive from other processes: inconsistent contents are refused.
    // 40 rows: a full buffer of 8m = 32 rows reduced to a level of m = 4, and 8 rows left.
    let rows = Array2::from_shape_fn((40, 3), |(i, j)| (i * 3 + j) as f64);
    let stats = model.summarize(rows.view()).unwrap();
    let mut json = serde_json::to_value(&stats).unwrap();
    json["levels"][0]["weights"][0] = serde_json::json!(-1.0);
    let tampered: KMeansCoreset = serde_json::from_value(json).unwrap();
    assert_eq!(
        model.apply(tampered.clone()).unwrap_err(),
        MlError::IncompatibleStats
    );
    let mut merged = stats.clone();
    merged.merge(&tampered);
    assert_eq!(model.apply(merged).unwrap_err(), MlError::IncompatibleStats);
    // And so are corrupt checkpoints.
    let mut json = serde_json::to_value(&model).unwrap();
    json["coreset"]["buffer"] = serde_json::json!([1.0, 2.0]);
    let err = serde_json::from_value::<CoresetKMeans>(json).unwrap_err();
    assert!(
        err.to_string().contains("corrupt CoresetKMeans checkpoint"),
        "{err}"
    );
}

#[test]
fn checkpoint_round_trip_continues_identically() {
    let (points, _) = blobs(5000, 3, 2, 20.0, 6);
    let mut model = CoresetKMeans::params(3)
        .coreset_size(60)
        .seed(2)
        .build()
        .unwrap();
    let mut windowed =
        WindowedCoresetKMeans::new(CoresetKMeans::params(3).coreset_size(60), 3).unwrap();
    for (i, batch) in points.axis_chunks_iter(Axis(0), 400).enumerate() {
        let mut restored: CoresetKMeans =
            bincode::deserialize(&bincode::serialize(&model).unwrap()).unwrap();
        assert!(restored == model, "batch {i}");
        assert_eq!(
            model.update(batch).unwrap(),
            restored.update(batch).unwrap()
        );
        assert!(restored == model, "batch {i}");
        assert_eq!(restored.centers().unwrap(), model.centers().unwrap());
        let mut restored: WindowedCoresetKMeans =
            bincode::deserialize(&bincode::serialize(&windowed).unwrap()).unwrap();
        assert_eq!(
            windowed.update(batch).unwrap(),
            restored.update(batch).unwrap()
        );
        assert_eq!(restored.centers().unwrap(), windowed.centers().unwrap());
    }
}

/// The windowed variant follows a drift that the whole-stream model averages away: blobs that
/// move after 20 batches are found where they went once the window holds only new batches,
/// and its memory stays within `window × m` points.
#[test]
fn the_window_forgets_batches_that_left_it() {
    let (k, d, m, window) = (3, 2, 60, 5);
    let (before, truth) = blobs(20_000, k, d, 10.0, 3);
    let after = &before + 40.0;
    let moved = &truth + 40.0;
    let stream = concatenate![Axis(0), before, after];
    let mut windowed =
        WindowedCoresetKMeans::new(CoresetKMeans::params(k).coreset_size(m).seed(1), window)
            .unwrap();
    let mut whole = CoresetKMeans::params(k)
        .coreset_size(m)
        .seed(1)
        .build()
        .unwrap();
    for b in stream.axis_chunks_iter(Axis(0), 1000) {
        let report = windowed.update(b).unwrap();
        assert!(report.summary_points <= window * m);
        whole.update(b).unwrap();
    }
    assert_eq!(windowed.window_points(), 5000);
    let recent = stream.slice(s![35_000.., ..]).to_owned();
    let ideal = naive_cost(&recent, &moved);
    let got = windowed.cost(recent.view()).unwrap();
    assert!(got <= 1.02 * ideal, "windowed {got} vs {ideal}");
    // The whole-stream model spends centers on the old blobs.
    assert!(whole.cost(recent.view()).unwrap() > 2.0 * ideal);
    // An empty batch is a pane too: five of them empty the window.
    for _ in 0..window {
        windowed.update(Array2::zeros((0, d)).view()).unwrap();
    }
    assert_eq!(windowed.window_points(), 0);
    assert_eq!(windowed.centers().unwrap_err(), MlError::EmptySummary);
}

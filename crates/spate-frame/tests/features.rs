//! Columns by name into spate-stats summaries and spate-ml models: the same results as the
//! libraries' own batch APIs on the same numbers, nulls skipped and counted.

use crate::common::*;
use ndarray::Array2;
use polars::prelude::*;
use spate_core::Merge;
use spate_frame::features::Features;
use spate_ml::{OnlineModel, StreamingKMeans, StreamingLeastSquares};
use spate_stats::{Moments, PerColumn};
use std::sync::{Arc, Mutex};

fn batches() -> Vec<Vec<DataFrame>> {
    let mut rng = Rng::new(21);
    (0..5)
        .map(|_| vec![flights(&mut rng, 60, false), flights(&mut rng, 30, false)])
        .collect()
}

#[test]
fn column_summaries_equal_moments_of_the_non_null_values() {
    let input = batches();
    let schema = input[0][0].schema().as_ref().clone();
    let ssc = context(2);
    let frames = replay(&ssc, input.clone(), &schema);
    let stats = frames
        .summarize_columns(&["arr_delay", "dep_delay"], Moments::new())
        .unwrap();
    let got: Arc<Mutex<Vec<PerColumn<Moments>>>> = Arc::default();
    let sink = Arc::clone(&got);
    stats
        .foreach_rdd(move |rdd, _| {
            sink.lock().unwrap().extend(rdd.collect()?);
            Ok(())
        })
        .unwrap();
    run(&ssc);
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 5);
    for (summary, batch) in got.iter().zip(&input) {
        let rows = stack(batch, &schema);
        for (j, name) in ["arr_delay", "dep_delay"].iter().enumerate() {
            let values: Vec<f64> = rows
                .column(name)
                .unwrap()
                .cast(&DataType::Float64)
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .flatten()
                .collect();
            let m = &summary.columns()[j];
            let want = Moments::from_slice(&values);
            assert_eq!(m.count(), want.count(), "{name}");
            assert_eq!(
                m.skipped_non_finite(),
                rows.column(name).unwrap().null_count() as u64,
                "{name}: nulls are counted"
            );
            let (a, b) = (m.mean().unwrap(), want.mean().unwrap());
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{name}: {a} vs {b}"
            );
        }
    }
    assert!(
        frames
            .summarize_columns(&["carrier"], Moments::new())
            .is_err(),
        "text is not numeric"
    );
}

#[test]
fn models_train_on_named_columns_as_on_their_matrices() {
    let input = batches();
    let schema = input[0][0].schema().as_ref().clone();
    let ssc = context(2);
    let frames = replay(&ssc, input.clone(), &schema);
    let kmeans = StreamingKMeans::params(3).seed(3).build().unwrap();
    let ols = StreamingLeastSquares::params(2).build().unwrap();
    let trained_k = frames
        .train(
            kmeans.clone(),
            "kmeans",
            Features::new(["dep_delay", "distance"]),
        )
        .unwrap();
    let trained_r = frames
        .train(
            ols.clone(),
            "ols",
            Features::new(["dep_delay", "distance"]).target("arr_delay"),
        )
        .unwrap();
    run(&ssc);

    // The same batches, as matrices built by hand, through the models' own batch API.
    let (mut k_ref, mut r_ref) = (kmeans, ols);
    let mut skipped = Vec::new();
    for batch in &input {
        let mut xs = Vec::new();
        let mut labeled = Vec::new();
        let mut nulls = 0;
        for frame in batch {
            let cols: Vec<Vec<Option<f64>>> = ["dep_delay", "distance", "arr_delay"]
                .iter()
                .map(|c| {
                    frame
                        .column(c)
                        .unwrap()
                        .cast(&DataType::Float64)
                        .unwrap()
                        .f64()
                        .unwrap()
                        .iter()
                        .collect()
                })
                .collect();
            let mut x = Vec::new();
            let mut xl = Vec::new();
            let mut y = Vec::new();
            for i in 0..frame.height() {
                if let (Some(a), Some(b)) = (cols[0][i], cols[1][i]) {
                    x.extend([a, b]);
                    if let Some(t) = cols[2][i] {
                        xl.extend([a, b]);
                        y.push(t);
                    } else {
                        nulls += 1;
                    }
                } else {
                    nulls += 1;
                }
            }
            xs.push(Array2::from_shape_vec((x.len() / 2, 2), x).unwrap());
            labeled.push((
                Array2::from_shape_vec((y.len(), 2), xl).unwrap(),
                ndarray::Array1::from(y),
            ));
        }
        let views: Vec<_> = xs
            .iter()
            .filter(|x| x.nrows() > 0)
            .map(|x| x.view())
            .collect();
        k_ref.update_partitions(&views).unwrap();
        let views: Vec<_> = labeled
            .iter()
            .filter(|(x, _)| x.nrows() > 0)
            .map(|(x, y)| (x.view(), y.view()))
            .collect();
        r_ref.update_partitions(&views).unwrap();
        skipped.push(nulls);
    }
    assert_eq!(trained_k.latest_model().centers(), k_ref.centers());
    let (w, w_ref) = (
        trained_r.latest_model().weights().to_vec(),
        r_ref.weights().to_vec(),
    );
    for (a, b) in w.iter().zip(&w_ref) {
        assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    }
    let reported: Vec<u64> = trained_r.reports().iter().map(|(_, _, s)| *s).collect();
    assert_eq!(
        reported, skipped,
        "rows with a null feature or target are skipped and counted"
    );
    let mut merged = PerColumn::<Moments>::default();
    merged.merge(&PerColumn::default());
    assert!(merged.is_empty());
}

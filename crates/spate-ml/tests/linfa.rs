//! The models used through linfa's traits (`Fit`, `FitWith`, `Predict`) give what the native
//! API gives, and agree with linfa's own models where those compute the same thing.

use crate::common::{blobs, linear_targets, normal};
use linfa::prelude::*;
use linfa_clustering::KMeans;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2, Axis, array, s};
use spate_ml::{
    CoresetKMeans, NO_CLUSTER, OnlineModel, StreamingKMeans, StreamingLeastSquares,
    StreamingLinearRegressionWithSgd, StreamingLogisticRegressionWithSgd, WindowedCoresetKMeans,
};

/// What code written against linfa sees of a model: `Predict` on borrowed records. (Code that
/// names a Spate model's type calls it as `Predict::predict(&model, &x)`: the models' own
/// `predict` methods, which return typed errors, take precedence over trait methods.)
fn linfa_predict<'a, R, T, M>(model: &M, records: &'a R) -> T
where
    &'a R: Records,
    M: Predict<&'a R, T>,
{
    model.predict(records)
}

/// `Predict` on an owned dataset: the records come back with the predicted targets.
fn linfa_predict_dataset<T, S, M>(
    model: &M,
    dataset: DatasetBase<Array2<f64>, T>,
) -> DatasetBase<Array2<f64>, S>
where
    M: Predict<DatasetBase<Array2<f64>, T>, DatasetBase<Array2<f64>, S>>,
{
    model.predict(dataset)
}

fn clusters(native: Vec<Option<usize>>) -> Array1<usize> {
    native
        .into_iter()
        .map(|c| c.unwrap_or(NO_CLUSTER))
        .collect()
}

/// `fit_with` over the batches of a linfa dataset is `update` over the same batches, and
/// `predict` (on an array, on a dataset) is `predict_batch`.
#[test]
fn streaming_kmeans_through_linfa_traits_equals_the_native_api() {
    let (points, truth) = blobs(3000, 3, 4, 15.0, 1);
    let params = StreamingKMeans::params(3)
        .decay(0.9)
        .initial_centers(&truth + 0.3, vec![0.0; 3]);
    let mut native = params.clone().build().unwrap();
    let mut through_linfa: Option<StreamingKMeans> = None;
    for batch in points.axis_chunks_iter(Axis(0), 500) {
        native.update(batch).unwrap();
        let dataset = DatasetBase::from(batch);
        through_linfa = Some(params.fit_with(through_linfa, &dataset).unwrap());
    }
    let model = through_linfa.unwrap();
    assert_eq!(model, native);
    let mut queries = points.slice(s![..50, ..]).to_owned();
    queries[(3, 1)] = f64::NAN;
    let want = clusters(native.predict_batch(queries.view()).unwrap());
    assert_eq!(want[3], NO_CLUSTER);
    let on_array: Array1<usize> = linfa_predict(&model, &queries);
    assert_eq!(on_array, want);
    let on_dataset: DatasetBase<_, Array1<usize>> =
        linfa_predict_dataset(&model, DatasetBase::from(queries.clone()));
    assert_eq!(on_dataset.targets(), &want);
    let same_bits =
        |a: &Array2<f64>, b: &Array2<f64>| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
    assert!(same_bits(on_dataset.records(), &queries));
}

/// A model without centers yet predicts no cluster for any row, and a fresh model comes
/// from the parameters when `fit_with` is given none.
#[test]
fn a_model_without_centers_predicts_no_cluster() {
    let warm = StreamingKMeans::params(2)
        .kmeans_plus_plus(100)
        .build()
        .unwrap();
    let rows = array![[1.0, 2.0], [3.0, 4.0]];
    let warm = StreamingKMeans::params(2)
        .kmeans_plus_plus(100)
        .fit_with(Some(warm), &DatasetBase::from(rows.clone()))
        .unwrap();
    assert!(!warm.is_initialized());
    let none: Array1<usize> = linfa_predict(&warm, &rows);
    assert_eq!(none, array![NO_CLUSTER, NO_CLUSTER]);
    let empty = CoresetKMeans::params(2).build().unwrap();
    let none: Array1<usize> = linfa_predict(&empty, &rows);
    assert_eq!(none, array![NO_CLUSTER, NO_CLUSTER]);
}

#[test]
#[should_panic(expected = "the records have 3 columns but the model has 2 features")]
fn records_of_the_wrong_width_panic_as_in_linfa() {
    let model = StreamingKMeans::params(1)
        .initial_centers(array![[0.0, 0.0]], vec![1.0])
        .build()
        .unwrap();
    let _: Array1<usize> = linfa_predict(&model, &Array2::<f64>::zeros((2, 3)));
}

/// The coreset clusterer through `Fit` finds the same partition of well separated blobs as
/// linfa's batch `KMeans` (up to the numbering of the clusters), and `FitWith` batch by batch
/// equals `update`.
#[test]
fn coreset_kmeans_through_linfa_traits_matches_linfa_kmeans() {
    let (points, _) = blobs(6000, 4, 3, 30.0, 2);
    let dataset = DatasetBase::from(points.clone());
    let params = CoresetKMeans::params(4).coreset_size(100).seed(3);
    let fitted = params.fit(&dataset).unwrap();
    let mut native = params.clone().build().unwrap();
    native.update(points.view()).unwrap();
    assert_eq!(fitted, native);
    let ours: Array1<usize> = linfa_predict(&fitted, &points);
    let linfa_model = KMeans::params(4).n_runs(3).fit(&dataset).unwrap();
    let theirs: Array1<usize> = linfa_model.predict(&points);
    // The same partition: a one-to-one map between the two numberings.
    let mut map = [None; 4];
    for (&a, &b) in ours.iter().zip(&theirs) {
        assert_eq!(
            *map[a].get_or_insert(b),
            b,
            "cluster {a} split between two of linfa's"
        );
    }
    // Batch by batch through FitWith, the windowed variant through predict.
    let mut incremental: Option<CoresetKMeans> = None;
    for batch in points.axis_chunks_iter(Axis(0), 1000) {
        incremental = Some(
            params
                .fit_with(incremental, &DatasetBase::from(batch))
                .unwrap(),
        );
    }
    let mut native = params.clone().build().unwrap();
    let mut windowed = WindowedCoresetKMeans::new(params.clone(), 2).unwrap();
    for batch in points.axis_chunks_iter(Axis(0), 1000) {
        native.update(batch).unwrap();
        windowed.update(batch).unwrap();
    }
    assert_eq!(incremental.unwrap(), native);
    let recent = points.slice(s![4000.., ..]);
    let want = clusters(windowed.predict_batch(recent).unwrap());
    let got: Array1<usize> = linfa_predict(&windowed, &recent);
    assert_eq!(got, want);
    let got: Array1<usize> = linfa_predict(windowed.fitted().unwrap(), &recent);
    assert_eq!(got, want);
}

/// Exact least squares fitted through `FitWith` in three batches predicts what linfa-linear's
/// `LinearRegression` fitted on all the rows at once predicts (to 1e-8), and what the native
/// API predicts (exactly).
#[test]
fn least_squares_through_linfa_traits_matches_linfa_linear() {
    let x = normal(900, 3, 4) * 2.0 + 5.0;
    let y = linear_targets(&x, &[1.5, -2.0, 0.5], 3.0, 0.1, 5);
    let params = StreamingLeastSquares::params(3);
    let mut model: Option<StreamingLeastSquares> = None;
    let mut native = params.clone().build().unwrap();
    for (bx, by) in x
        .axis_chunks_iter(Axis(0), 300)
        .zip(y.axis_chunks_iter(Axis(0), 300))
    {
        model = Some(params.fit_with(model, &DatasetBase::new(bx, by)).unwrap());
        native.update((bx, by)).unwrap();
    }
    let model = model.unwrap();
    assert_eq!(model, native);
    let queries = normal(20, 3, 6);
    let ours: Array1<f64> = linfa_predict(&model, &queries);
    assert_eq!(ours, native.predict(queries.view()).unwrap());
    let linfa_model = LinearRegression::new()
        .fit(&Dataset::new(x.clone(), y.clone()))
        .unwrap();
    let theirs: Array1<f64> = linfa_model.predict(&queries);
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-8, "{worst}");
    // Predict on a dataset keeps the records and fills the targets; NaN rows give NaN.
    let mut with_nan = queries.clone();
    with_nan[(0, 0)] = f64::NAN;
    let predicted: DatasetBase<_, Array1<f64>> =
        linfa_predict_dataset(&model, Dataset::from(with_nan));
    assert!(predicted.targets()[0].is_nan());
    assert_eq!(predicted.targets()[1], ours[1]);
}

/// The SGD regressions through `FitWith` equal the native API, predictions included (the
/// logistic regression predicts the class as its target).
#[test]
fn sgd_regressions_through_linfa_traits_equal_the_native_api() {
    let x = normal(600, 2, 7);
    let y = linear_targets(&x, &[2.0, -1.0], 0.5, 0.2, 8);
    let params = StreamingLinearRegressionWithSgd::params(2)
        .step_size(0.5)
        .iterations(20)
        .intercept(true);
    let mut native = params.clone().build().unwrap();
    let mut model = None;
    let labels = y.mapv(|v| f64::from(u8::from(v > 0.5)));
    let logistic = StreamingLogisticRegressionWithSgd::params(2).iterations(10);
    let mut native_logistic = logistic.clone().build().unwrap();
    let mut model_logistic = None;
    for start in [0, 200, 400] {
        let (bx, by, bl) = (
            x.slice(s![start..start + 200, ..]),
            y.slice(s![start..start + 200]),
            labels.slice(s![start..start + 200]),
        );
        native.update((bx, by)).unwrap();
        model = Some(params.fit_with(model, &DatasetBase::new(bx, by)).unwrap());
        native_logistic.update((bx, bl)).unwrap();
        model_logistic = Some(
            logistic
                .fit_with(model_logistic, &DatasetBase::new(bx, bl))
                .unwrap(),
        );
    }
    let (model, model_logistic) = (model.unwrap(), model_logistic.unwrap());
    assert_eq!(model, native);
    assert_eq!(model_logistic, native_logistic);
    let predicted: Array1<f64> = linfa_predict(&model, &x);
    assert_eq!(predicted, native.predict(x.view()).unwrap());
    let classes: Array1<f64> = linfa_predict(&model_logistic, &x);
    assert_eq!(classes, native_logistic.predict(x.view()).unwrap());
    assert!(classes.iter().all(|&c| c == 0.0 || c == 1.0));
}

/// Parameter errors come back through linfa's `Fit` as the crate's typed errors.
#[test]
fn parameter_errors_come_back_through_linfa() {
    let dataset = DatasetBase::from(Array2::<f64>::zeros((4, 2)));
    assert_eq!(
        CoresetKMeans::params(0).fit(&dataset).unwrap_err(),
        spate_ml::MlError::InvalidK { k: 0 }
    );
    let nan = DatasetBase::from(Array2::from_elem((4, 2), f64::NAN));
    assert_eq!(
        CoresetKMeans::params(2).fit(&nan).unwrap_err(),
        spate_ml::MlError::EmptySummary
    );
    let linfa_error: spate_ml::MlError = linfa::Error::NotEnoughSamples.into();
    assert!(linfa_error.to_string().contains("not enough samples"));
}

//! linfa's traits on this crate's models, so they drop into code written for linfa.
//!
//! - **Fitting**: the parameter builders implement linfa's [`FitWith`] (every model: train a
//!   given model, or a new one built from the parameters, on one more batch held in a
//!   [`DatasetBase`]) and, for the one-pass clusterer, [`Fit`]. This is the shape of linfa's
//!   own incremental k-means (`KMeans::params(k).fit_with(model, &dataset)`).
//! - **Predicting**: fitted models implement [`PredictInplace`], hence linfa's `Predict` on
//!   arrays and datasets: the clustering models give an `Array1<usize>` of cluster indices,
//!   the regressions an `Array1<f64>` of targets (class 0/1 for the logistic regression).
//!
//! linfa's prediction traits cannot return an error, so:
//! - a row with NaN or infinity gets [`NO_CLUSTER`] from a clustering model (NaN from a
//!   regression);
//! - a clustering model that has no centers yet (a k-means++ warm-up, a coreset model before
//!   its first point) gives [`NO_CLUSTER`] for every row;
//! - records whose number of columns differs from the model's panic with a message naming
//!   both, as linfa's own models panic on mismatched shapes. The native methods
//!   (`predict_batch`, `predict`) return these cases as typed errors instead.

use crate::coreset_kmeans::{
    CoresetKMeans, CoresetKMeansParams, KMeansCenters, WindowedCoresetKMeans,
};
use crate::error::{MlError, Result};
use crate::kmeans::{StreamingKMeans, StreamingKMeansParams};
use crate::least_squares::{LeastSquaresParams, StreamingLeastSquares};
use crate::online::OnlineModel;
use crate::sgd::{Loss, SgdParams, StreamingSgd};
use linfa::DatasetBase;
use linfa::traits::{Fit, FitWith, PredictInplace};
use ndarray::{Array1, ArrayBase, ArrayView2, Data, Ix1, Ix2};

/// The cluster index linfa's prediction traits give a row that has no cluster: a row with NaN
/// or infinity, or any row while the model has no centers yet.
pub const NO_CLUSTER: usize = usize::MAX;

impl From<linfa::Error> for MlError {
    fn from(e: linfa::Error) -> MlError {
        MlError::Linfa {
            message: e.to_string(),
        }
    }
}

/// Panics, as linfa's own models do, on records of the wrong shape.
fn check_columns(model: &str, expected: usize, found: usize) {
    assert_eq!(
        expected, found,
        "{model}: the records have {found} columns but the model has {expected} features"
    );
}

/// Fills `targets` with the clusters `predict_batch` gives, or [`NO_CLUSTER`].
fn fill_clusters(
    model: &str,
    dim: Option<usize>,
    records: ArrayView2<'_, f64>,
    targets: &mut Array1<usize>,
    predict_batch: impl FnOnce(ArrayView2<'_, f64>) -> Result<Vec<Option<usize>>>,
) {
    assert_eq!(
        records.nrows(),
        targets.len(),
        "{model}: {} records but {} targets",
        records.nrows(),
        targets.len()
    );
    if let Some(d) = dim {
        check_columns(model, d, records.ncols());
    }
    match predict_batch(records) {
        Ok(clusters) => {
            for (t, c) in targets.iter_mut().zip(clusters) {
                *t = c.unwrap_or(NO_CLUSTER);
            }
        }
        // No centers yet (the shape was checked above).
        Err(_) => targets.fill(NO_CLUSTER),
    }
}

/// `PredictInplace` to cluster indices for a clustering model.
macro_rules! predict_clusters {
    ($model:ty, $name:literal, $dim:expr) => {
        impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for $model {
            /// The nearest center of every row; [`NO_CLUSTER`] for a row with NaN or infinity
            /// and for every row while the model has no centers.
            ///
            /// # Panics
            /// When the records do not have the model's number of features, or `targets`
            /// has another length than the records (as linfa's models do).
            fn predict_inplace(&self, records: &ArrayBase<D, Ix2>, targets: &mut Array1<usize>) {
                let dim: fn(&$model) -> Option<usize> = $dim;
                fill_clusters($name, dim(self), records.view(), targets, |r| {
                    self.predict_batch(r)
                });
            }

            fn default_target(&self, records: &ArrayBase<D, Ix2>) -> Array1<usize> {
                Array1::from_elem(records.nrows(), NO_CLUSTER)
            }
        }
    };
}

predict_clusters!(StreamingKMeans, "StreamingKMeans", StreamingKMeans::dim);
predict_clusters!(CoresetKMeans, "CoresetKMeans", CoresetKMeans::dim);
predict_clusters!(
    WindowedCoresetKMeans,
    "WindowedCoresetKMeans",
    WindowedCoresetKMeans::dim
);
predict_clusters!(KMeansCenters, "KMeansCenters", |c| Some(
    c.centers().ncols()
));

/// `PredictInplace` to targets for a regression.
macro_rules! predict_targets {
    ($model:ty, $name:literal $(, $param:ident : $bound:path)?) => {
        impl<D: Data<Elem = f64> $(, $param: $bound)?> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>>
            for $model
        {
            /// The predicted target of every row; NaN for a row with NaN or infinity.
            ///
            /// # Panics
            /// When the records do not have the model's number of features, or `targets`
            /// has another length than the records (as linfa's models do).
            fn predict_inplace(&self, records: &ArrayBase<D, Ix2>, targets: &mut Array1<f64>) {
                assert_eq!(
                    records.nrows(),
                    targets.len(),
                    "{}: {} records but {} targets",
                    $name,
                    records.nrows(),
                    targets.len()
                );
                // Prediction fails only on records of the wrong shape.
                match self.predict(records.view()) {
                    Ok(predicted) => targets.assign(&predicted),
                    Err(e) => panic!("{}: {e}", $name),
                }
            }

            fn default_target(&self, records: &ArrayBase<D, Ix2>) -> Array1<f64> {
                Array1::from_elem(records.nrows(), f64::NAN)
            }
        }
    };
}

predict_targets!(StreamingLeastSquares, "StreamingLeastSquares");
predict_targets!(
    StreamingSgd<crate::sgd::SquaredLoss>,
    "StreamingLinearRegressionWithSgd"
);
predict_targets!(
    StreamingSgd<crate::sgd::LogisticLoss>,
    "StreamingLogisticRegressionWithSgd"
);

impl<'a, D: Data<Elem = f64>, T> FitWith<'a, ArrayBase<D, Ix2>, T, MlError>
    for StreamingKMeansParams
{
    type ObjectIn = Option<StreamingKMeans>;
    type ObjectOut = StreamingKMeans;

    /// Trains `model` (or a new model built from these parameters) on the dataset's records
    /// as one batch; the targets are ignored.
    ///
    /// # Errors
    /// As [`StreamingKMeansParams::build`] and [`OnlineModel::update`].
    fn fit_with(
        &self,
        model: Option<StreamingKMeans>,
        dataset: &'a DatasetBase<ArrayBase<D, Ix2>, T>,
    ) -> Result<StreamingKMeans> {
        let mut model = match model {
            Some(m) => m,
            None => self.clone().build()?,
        };
        model.update(dataset.records.view())?;
        Ok(model)
    }
}

impl<'a, D: Data<Elem = f64>, T> FitWith<'a, ArrayBase<D, Ix2>, T, MlError>
    for CoresetKMeansParams
{
    type ObjectIn = Option<CoresetKMeans>;
    type ObjectOut = CoresetKMeans;

    /// Adds the dataset's records, as one batch, to the summary of `model` (or of a new model
    /// built from these parameters); the targets are ignored.
    ///
    /// # Errors
    /// As [`CoresetKMeansParams::build`] and [`OnlineModel::update`].
    fn fit_with(
        &self,
        model: Option<CoresetKMeans>,
        dataset: &'a DatasetBase<ArrayBase<D, Ix2>, T>,
    ) -> Result<CoresetKMeans> {
        let mut model = match model {
            Some(m) => m,
            None => self.clone().build()?,
        };
        model.update(dataset.records.view())?;
        Ok(model)
    }
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, MlError> for CoresetKMeansParams {
    type Object = CoresetKMeans;

    /// One pass over the dataset's records in their order; the targets are ignored.
    ///
    /// # Errors
    /// As [`CoresetKMeansParams::build`] and [`OnlineModel::update`], and
    /// [`MlError::EmptySummary`] when no record is finite.
    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<CoresetKMeans> {
        let mut model = self.clone().build()?;
        model.update(dataset.records.view())?;
        model.fitted()?;
        Ok(model)
    }
}

impl<'a, D: Data<Elem = f64>, DT: Data<Elem = f64>>
    FitWith<'a, ArrayBase<D, Ix2>, ArrayBase<DT, Ix1>, MlError> for LeastSquaresParams
{
    type ObjectIn = Option<StreamingLeastSquares>;
    type ObjectOut = StreamingLeastSquares;

    /// Trains `model` (or a new model built from these parameters) on the dataset as one
    /// batch.
    ///
    /// # Errors
    /// As [`LeastSquaresParams::build`] and [`OnlineModel::update`].
    fn fit_with(
        &self,
        model: Option<StreamingLeastSquares>,
        dataset: &'a DatasetBase<ArrayBase<D, Ix2>, ArrayBase<DT, Ix1>>,
    ) -> Result<StreamingLeastSquares> {
        let mut model = match model {
            Some(m) => m,
            None => self.clone().build()?,
        };
        model.update((dataset.records.view(), dataset.targets.view()))?;
        Ok(model)
    }
}

impl<'a, L: Loss + 'a, D: Data<Elem = f64>, DT: Data<Elem = f64>>
    FitWith<'a, ArrayBase<D, Ix2>, ArrayBase<DT, Ix1>, MlError> for SgdParams<L>
{
    type ObjectIn = Option<StreamingSgd<L>>;
    type ObjectOut = StreamingSgd<L>;

    /// Trains `model` (or a new model built from these parameters) on the dataset as one
    /// batch: the configured number of SGD iterations over it, as Spark's `trainOn` does per
    /// batch.
    ///
    /// # Errors
    /// As [`SgdParams::build`] and [`OnlineModel::update`].
    fn fit_with(
        &self,
        model: Option<StreamingSgd<L>>,
        dataset: &'a DatasetBase<ArrayBase<D, Ix2>, ArrayBase<DT, Ix1>>,
    ) -> Result<StreamingSgd<L>> {
        let mut model = match model {
            Some(m) => m,
            None => self.clone().build()?,
        };
        model.update((dataset.records.view(), dataset.targets.view()))?;
        Ok(model)
    }
}

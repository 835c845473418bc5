//! linfa interoperability: fitted classifiers predict through linfa's `Predict`, learn from
//! a `linfa::Dataset`, and the parameter builders continue training through `FitWith`.

use crate::error::{LearnError, Result};
use crate::hoeffding::{HoeffdingTree, HoeffdingTreeParams};
use crate::learner::{BatchReport, Classifier};
use crate::logistic::{SoftmaxParams, SoftmaxRegression};
use crate::naive_bayes::{GaussianNb, MultinomialNb, MultinomialNbParams};
use crate::passive_aggressive::{PaParams, PassiveAggressive};
use crate::pipeline::Pipeline;
use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::{FitWith, PredictInplace};
use ndarray::{Array1, ArrayBase, Data, Ix2};

/// The class linfa predictions hold for a row the model could not predict: before any
/// learning, or a row with a NaN or infinite feature, or of the wrong width.
pub const NO_PREDICTION: usize = usize::MAX;

/// Learning from a linfa dataset: its records in order, its targets as class indices.
///
/// ```
/// use linfa::Dataset;
/// use linfa::traits::Predict;
/// use ndarray::array;
/// use spate_learn::{GaussianNb, LearnDataset};
///
/// let data = Dataset::new(array![[0.0, 1.0], [0.1, 0.9], [5.0, 5.0], [5.2, 4.9]], array![0usize, 0, 1, 1]);
/// let mut nb = GaussianNb::new(2)?;
/// nb.learn_dataset(&data)?;
/// let predicted: ndarray::Array1<usize> = nb.predict(&array![[0.05, 0.95], [5.1, 5.0]]);
/// assert_eq!(predicted.to_vec(), vec![0, 1]);
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
pub trait LearnDataset {
    /// Learns every record of `dataset` in order, as `learn_many`.
    ///
    /// # Errors
    /// As [`Classifier::learn_many`].
    fn learn_dataset<D, T>(
        &mut self,
        dataset: &DatasetBase<ArrayBase<D, Ix2>, T>,
    ) -> Result<BatchReport>
    where
        D: Data<Elem = f64>,
        T: AsSingleTargets<Elem = usize>;
}

impl<M: Classifier> LearnDataset for M {
    fn learn_dataset<D, T>(
        &mut self,
        dataset: &DatasetBase<ArrayBase<D, Ix2>, T>,
    ) -> Result<BatchReport>
    where
        D: Data<Elem = f64>,
        T: AsSingleTargets<Elem = usize>,
    {
        let targets = dataset.as_single_targets();
        let labels: Vec<usize> = targets.iter().copied().collect();
        self.learn_many(dataset.records.view(), &labels)
    }
}

/// Writes a batch prediction into linfa's target array.
fn fill(predictions: Result<Vec<Option<usize>>>, y: &mut Array1<usize>) {
    for (i, slot) in y.iter_mut().enumerate() {
        *slot = match &predictions {
            Ok(p) => p.get(i).copied().flatten().unwrap_or(NO_PREDICTION),
            Err(_) => NO_PREDICTION,
        };
    }
}

/// `PredictInplace` (hence linfa's `Predict` on arrays and datasets) for a classifier.
macro_rules! linfa_predict {
    ($($ty:ty),*) => {$(
        impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for $ty {
            fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
                fill(self.predict_many(x.view()), y);
            }

            fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
                Array1::from_elem(x.nrows(), NO_PREDICTION)
            }
        }
    )*};
}

linfa_predict!(
    SoftmaxRegression,
    GaussianNb,
    MultinomialNb,
    PassiveAggressive,
    HoeffdingTree
);

impl<D: Data<Elem = f64>, M: Classifier> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>>
    for Pipeline<M>
{
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        fill(self.predict_many(x.view()), y);
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::from_elem(x.nrows(), NO_PREDICTION)
    }
}

/// linfa's incremental fitting: `params.fit_with(None, &dataset)` builds a model and learns
/// the dataset, `params.fit_with(Some(model), &next)` continues training it.
macro_rules! linfa_fit_with {
    ($params:ty => $model:ty) => {
        impl<'a, D, T> FitWith<'a, ArrayBase<D, Ix2>, T, LearnError> for $params
        where
            D: Data<Elem = f64> + 'a,
            T: AsSingleTargets<Elem = usize> + 'a,
        {
            type ObjectIn = Option<$model>;
            type ObjectOut = $model;

            fn fit_with(
                &self,
                model: Option<$model>,
                dataset: &'a DatasetBase<ArrayBase<D, Ix2>, T>,
            ) -> Result<$model> {
                let mut model = match model {
                    Some(m) => m,
                    None => self.clone().build()?,
                };
                model.learn_dataset(dataset)?;
                Ok(model)
            }
        }
    };
}

linfa_fit_with!(SoftmaxParams => SoftmaxRegression);
linfa_fit_with!(MultinomialNbParams => MultinomialNb);
linfa_fit_with!(PaParams => PassiveAggressive);
linfa_fit_with!(HoeffdingTreeParams => HoeffdingTree);

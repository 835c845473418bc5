//! linfa: predictions through `Predict`, training from a `Dataset` and through `FitWith`.

use crate::data::elec2;
use linfa::Dataset;
use linfa::traits::{FitWith, Predict};
use ndarray::{Array1, Array2};
use spate_learn::{Classifier, HoeffdingTree, LearnDataset, NO_PREDICTION, SoftmaxRegression};

#[test]
fn classifiers_drop_into_linfa_code() {
    let data = elec2();
    let x = Array2::from_shape_vec((data.x.len(), 6), data.x.concat()).unwrap();
    let y = Array1::from(data.y.clone());
    let train = Dataset::new(
        x.slice(ndarray::s![..3000, ..]).to_owned(),
        y.slice(ndarray::s![..3000]).to_owned(),
    );
    let test = x.slice(ndarray::s![3000.., ..]).to_owned();

    // FitWith: build and learn, then continue on the next dataset.
    let params = HoeffdingTree::params(6);
    let tree = params.fit_with(None, &train).unwrap();
    let mut by_hand = HoeffdingTree::params(6).build().unwrap();
    by_hand.learn_dataset(&train).unwrap();
    let predicted: Array1<usize> = tree.predict(&test);
    let expected: Vec<usize> = by_hand
        .predict_many(test.view())
        .unwrap()
        .into_iter()
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(predicted.to_vec(), expected);
    let accuracy = predicted
        .iter()
        .zip(&data.y[3000..])
        .filter(|(p, y)| p == y)
        .count() as f64
        / predicted.len() as f64;
    assert!(accuracy > 0.7, "{accuracy}");

    // A dataset in, a dataset with predicted targets out.
    let with_targets = tree.predict(Dataset::from(test.clone()));
    assert_eq!(with_targets.targets().to_vec(), expected);

    // An untrained model says so with NO_PREDICTION, never a made-up class.
    let empty = SoftmaxRegression::params(6).build().unwrap();
    let none: Array1<usize> = empty.predict(&test);
    assert!(none.iter().all(|&p| p == NO_PREDICTION));
}

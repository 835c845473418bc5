//! Saved models load back identical; foreign, newer, mismatched and corrupt files are typed
//! errors.

use crate::data::elec2;
use spate_learn::{
    AnomalyDetector, Classifier, GaussianNb, HalfSpaceTrees, HoeffdingTree, LearnError,
    MultinomialNb, PassiveAggressive, Persist, Pipeline, Scaler, SoftmaxRegression, StandardScaler,
};

/// Trains on elec2, saves, loads, and checks the loaded model predicts and keeps learning
/// exactly as the original.
fn round_trip<M: Classifier + Persist>(mut model: M) {
    let data = elec2();
    let (head, tail) = data.x.split_at(2000);
    for (x, &y) in head.iter().zip(&data.y) {
        model.learn_one(x, y).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    model.save(&path).unwrap();
    let mut loaded = M::load(&path).unwrap();
    for (x, &y) in tail.iter().zip(&data.y[2000..]) {
        assert_eq!(
            model.predict_proba_one(x).unwrap(),
            loaded.predict_proba_one(x).unwrap()
        );
        model.learn_one(x, y).unwrap();
        loaded.learn_one(x, y).unwrap();
    }
}

#[test]
fn every_classifier_round_trips_exactly() {
    round_trip(
        SoftmaxRegression::params(6)
            .intercept(true)
            .build()
            .unwrap(),
    );
    round_trip(GaussianNb::new(6).unwrap());
    round_trip(MultinomialNb::params(6).build().unwrap());
    round_trip(PassiveAggressive::params(6).build().unwrap());
    round_trip(HoeffdingTree::params(6).build().unwrap());
    let tree = HoeffdingTree::params(6).grace_period(50.0).build().unwrap();
    round_trip(
        Pipeline::new(tree)
            .scaler(Scaler::Standard(StandardScaler::new(6).unwrap()))
            .unwrap(),
    );
}

#[test]
fn half_space_trees_round_trip() {
    let mut hst = HalfSpaceTrees::params(2)
        .window_size(10)
        .seed(3)
        .build()
        .unwrap();
    for i in 0..35 {
        hst.learn_one(&[f64::from(i % 10) / 10.0, 0.5]).unwrap();
    }
    let back = HalfSpaceTrees::from_json(&hst.to_json().unwrap(), "mem".as_ref()).unwrap();
    assert_eq!(
        back.score_one(&[0.95, 0.1]).unwrap(),
        hst.score_one(&[0.95, 0.1]).unwrap()
    );
}

#[test]
fn foreign_newer_mismatched_and_corrupt_files_are_clear_errors() {
    let model = GaussianNb::new(2).unwrap();
    let json = model.to_json().unwrap();
    let origin = std::path::Path::new("model.json");
    let load = |text: &str| GaussianNb::from_json(text, origin);

    assert!(matches!(
        load("not json"),
        Err(LearnError::NotAModelFile { .. })
    ));
    assert!(matches!(
        load("{\"format\": \"other\"}"),
        Err(LearnError::NotAModelFile { .. })
    ));
    assert!(matches!(
        load("[1, 2]"),
        Err(LearnError::NotAModelFile { .. })
    ));
    let newer = json.replace("\"version\":1", "\"version\":2");
    assert!(matches!(
        load(&newer),
        Err(LearnError::NewerFormat {
            found: 2,
            supported: 1,
            ..
        })
    ));
    assert!(matches!(
        SoftmaxRegression::from_json(&json, origin),
        Err(LearnError::WrongModel { .. })
    ));
    // Hand-edited state: a count vector that does not fit the classes.
    let mut trained = GaussianNb::new(2).unwrap();
    trained.learn_one(&[1.0, 2.0], 1).unwrap();
    let text = trained
        .to_json()
        .unwrap()
        .replace("\"counts\":[0.0,1.0]", "\"counts\":[1.0]");
    assert!(
        matches!(load(&text), Err(LearnError::CorruptModel { .. })),
        "{text}"
    );
    // A tree whose split points outside the arena must not load (it would loop or panic).
    let mut tree = HoeffdingTree::params(1).grace_period(10.0).build().unwrap();
    for i in 0..200 {
        tree.learn_one(&[f64::from(i % 20)], usize::from(i % 20 < 10))
            .unwrap();
    }
    assert!(!tree.splits().is_empty());
    let text = tree.to_json().unwrap().replace("\"left\":1", "\"left\":99");
    assert!(matches!(
        HoeffdingTree::from_json(&text, origin),
        Err(LearnError::CorruptModel { .. })
    ));
    let text = tree.to_json().unwrap().replace("\"left\":1", "\"left\":0");
    assert!(matches!(
        HoeffdingTree::from_json(&text, origin),
        Err(LearnError::CorruptModel { .. })
    ));
    // A missing file and a file that is not there are I/O errors, naming the path.
    let err = GaussianNb::load("/nonexistent/model.json").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/model.json"));
}

#[test]
fn saving_replaces_the_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    std::fs::write(&path, "old").unwrap();
    GaussianNb::new(3).unwrap().save(&path).unwrap();
    assert!(GaussianNb::load(&path).is_ok());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary left"
    );
    // A directory that does not exist: an error, not a panic.
    assert!(matches!(
        GaussianNb::new(3)
            .unwrap()
            .save(dir.path().join("missing/m.json")),
        Err(LearnError::Io { .. })
    ));
}

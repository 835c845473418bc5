//! Every learner against River or scikit-learn on the same records in the same order.
//!
//! Fixtures: `tests/fixtures/*.json` from `tests/fixtures/make_fixtures.py` (River 0.26.1,
//! scikit-learn 1.9.1, versions recorded in each file). Deterministic learners must match
//! to 1e-9 relative (+1e-12 absolute) at every stored record, and predict the same class at
//! every record (a disagreement is allowed only where our two best probabilities are within
//! 1e-9, a tie that rounding may break either way).

use crate::data::{Labelled, assert_close, elec2, fixture, floats, kdd};
use spate_learn::{
    Classifier, FeatureHasher, GaussianNb, HoeffdingTree, LeafPrediction, MinMaxScaler,
    MultinomialNb, OneHotEncoder, PaVariant, PassiveAggressive, Pipeline, Scaler,
    SoftmaxRegression, StandardScaler, Transformer,
};

const REL: f64 = 1e-9;
const ABS: f64 = 1e-12;

/// Runs `model` test-then-train over `data` and compares with the fixture `name`.
fn prequential_matches<M: Classifier>(name: &str, mut model: M, data: &Labelled) -> M {
    let f = fixture(name);
    let preds: Vec<i64> = f["pred"]
        .as_array()
        .expect("pred")
        .iter()
        .map(|v| v.as_i64().expect("int"))
        .collect();
    let every = f["proba_every"].as_u64().expect("proba_every") as usize;
    let probas = f["proba"].as_array().expect("proba");
    assert_eq!(preds.len(), data.x.len());
    let (mut ties, mut compared) = (0, 0);
    for (i, (x, &y)) in data.x.iter().zip(&data.y).enumerate() {
        let p = model.predict_proba_one(x).expect("predict");
        let ours = model
            .predict_one(x)
            .expect("predict")
            .map_or(-1, |c| c as i64);
        if ours != preds[i] {
            let theirs = preds[i] as usize;
            let gap = (p[ours as usize] - p.get(theirs).copied().unwrap_or(0.0)).abs();
            assert!(
                gap < 1e-9,
                "{name}: record {i} predicted {ours}, River {theirs} (probabilities {p:?})"
            );
            ties += 1;
        }
        if i % every == 0 {
            let want = &probas[i / every];
            assert_eq!(want[0].as_u64(), Some(i as u64));
            assert_close(
                &format!("{name} record {i}"),
                &p,
                &floats(&want[1]),
                REL,
                ABS,
            );
            compared += 1;
        }
        model.learn_one(x, y).expect("learn");
    }
    assert!(ties <= 2, "{name}: {ties} ties");
    assert!(compared > 200);
    model
}

fn standardized<M: Classifier>(model: M, d: usize) -> Pipeline<M> {
    Pipeline::new(model)
        .scaler(Scaler::Standard(StandardScaler::new(d).expect("scaler")))
        .expect("pipeline")
}

#[test]
fn softmax_regression_matches_river_on_elec2() {
    let data = elec2();
    let model = SoftmaxRegression::params(6)
        .learning_rate(0.05)
        .build()
        .unwrap();
    prequential_matches("softmax_elec2", model, &data);
}

#[test]
fn scaled_softmax_regression_matches_a_river_pipeline_on_kdd() {
    let data = kdd();
    let model = SoftmaxRegression::params(38)
        .learning_rate(0.01)
        .l2(0.001)
        .build()
        .unwrap();
    prequential_matches("softmax_kdd_scaled", standardized(model, 38), &data);
}

#[test]
fn gaussian_naive_bayes_matches_river() {
    prequential_matches("gnb_elec2", GaussianNb::new(6).unwrap(), &elec2());
    prequential_matches("gnb_kdd", GaussianNb::new(38).unwrap(), &kdd());
}

#[test]
fn multinomial_naive_bayes_matches_river() {
    let model = MultinomialNb::params(6).alpha(1.0).build().unwrap();
    prequential_matches("mnb_elec2", model, &elec2());
    let model = MultinomialNb::params(38).alpha(0.5).build().unwrap();
    prequential_matches("mnb_kdd", model, &kdd());
}

#[test]
fn passive_aggressive_matches_river_one_vs_rest() {
    let model = PassiveAggressive::params(6)
        .c(1.0)
        .variant(PaVariant::PaI)
        .build()
        .unwrap();
    prequential_matches("pa1_elec2", model, &elec2());
    let model = PassiveAggressive::params(38)
        .c(0.1)
        .variant(PaVariant::PaII)
        .build()
        .unwrap();
    prequential_matches("pa2_kdd_scaled", standardized(model, 38), &kdd());
}

fn splits_match(name: &str, tree: &HoeffdingTree) {
    let f = fixture(name);
    let want = f["splits"].as_array().expect("splits");
    let got = tree.splits();
    assert_eq!(got.len(), want.len(), "{name}: splits {got:?}");
    assert!(!got.is_empty(), "{name}: the reference tree should split");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.depth as u64, w[0].as_u64().unwrap(), "{name}: {got:?}");
        assert_eq!(g.feature as u64, w[1].as_u64().unwrap(), "{name}: {got:?}");
        assert_close(name, &[g.threshold], &[w[2].as_f64().unwrap()], REL, ABS);
    }
    assert_eq!(tree.n_leaves() as u64, f["n_leaves"].as_u64().unwrap());
}

#[test]
fn hoeffding_tree_splits_and_predicts_as_river_on_elec2() {
    let tree = HoeffdingTree::params(6).build().unwrap();
    let tree = prequential_matches("hoeffding_elec2", tree, &elec2());
    splits_match("hoeffding_elec2", &tree);

    let tree = HoeffdingTree::params(6)
        .grace_period(100.0)
        .tau(0.1)
        .leaf_prediction(LeafPrediction::MajorityClass)
        .build()
        .unwrap();
    let tree = prequential_matches("hoeffding_mc_elec2", tree, &elec2());
    splits_match("hoeffding_mc_elec2", &tree);
}

#[test]
fn hoeffding_tree_splits_and_predicts_as_river_on_kdd() {
    let tree = HoeffdingTree::params(38)
        .grace_period(50.0)
        .delta(0.01)
        .tau(0.3)
        .build()
        .unwrap();
    let tree = prequential_matches("hoeffding_kdd", tree, &kdd());
    splits_match("hoeffding_kdd", &tree);
}

#[test]
fn standard_scaler_matches_river() {
    let data = elec2();
    let f = fixture("standard_scaler_elec2");
    let mut scaler = StandardScaler::new(6).unwrap();
    let want = f["transformed"].as_array().unwrap();
    for (i, x) in data.x.iter().enumerate() {
        scaler.learn_one(x).unwrap();
        if i % 10 == 0 {
            let w = &want[i / 10];
            assert_close(
                "standard",
                &scaler.transform_one(x).unwrap(),
                &floats(&w[1]),
                REL,
                ABS,
            );
        }
    }
    assert_close("means", scaler.means(), &floats(&f["means"]), REL, ABS);
    assert_close("vars", scaler.variances(), &floats(&f["vars"]), REL, ABS);
}

#[test]
fn min_max_scaler_matches_river_before_and_after_learning() {
    let data = kdd();
    let f = fixture("minmax_scaler_kdd");
    let mut scaler = MinMaxScaler::new(38).unwrap();
    let want = f["transformed"].as_array().unwrap();
    for (i, x) in data.x.iter().enumerate() {
        let before = scaler.transform_one(x).unwrap();
        scaler.learn_one(x).unwrap();
        if i % 20 == 0 {
            let w = &want[i / 20];
            if i > 0 {
                assert_close("min-max before", &before, &floats(&w[1]), REL, ABS);
            }
            assert_close(
                "min-max after",
                &scaler.transform_one(x).unwrap(),
                &floats(&w[2]),
                REL,
                ABS,
            );
        }
    }
}

const KDD_TEXT: [&str; 3] = ["protocol_type", "service", "flag"];

fn kdd_text(data: &crate::data::Labelled, row: usize) -> Vec<&str> {
    KDD_TEXT
        .iter()
        .map(|c| {
            let j = data.header.iter().position(|h| h == c).unwrap();
            data.rows[row][j].as_str()
        })
        .collect()
}

#[test]
fn one_hot_encoder_matches_river() {
    let data = kdd();
    let f = fixture("one_hot_kdd");
    let mut enc = OneHotEncoder::new(&KDD_TEXT, 64).unwrap();
    let want = f["transformed"].as_array().unwrap();
    for i in 0..data.rows.len() {
        let values = kdd_text(&data, i);
        enc.learn_one(&values).unwrap();
        if i % 20 == 0 {
            let w = &want[i / 20];
            let names = enc.output_names();
            let out = enc.transform_one(&values).unwrap();
            let mut ones: Vec<&str> = out
                .iter()
                .zip(&names)
                .filter(|(v, _)| **v == 1.0)
                .map(|(_, n)| n.as_str())
                .collect();
            ones.sort_unstable();
            let theirs: Vec<&str> = w[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(ones, theirs, "record {i}");
            let known: usize = enc.categories().iter().map(Vec::len).sum();
            assert_eq!(known as u64, w[2].as_u64().unwrap(), "record {i}");
        }
    }
    for (j, c) in KDD_TEXT.iter().enumerate() {
        let mut ours = enc.categories()[j].clone();
        ours.sort();
        let theirs: Vec<String> = f["categories"][c]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ours, theirs);
    }
    assert_eq!(enc.overflow(), 0);
}

#[test]
fn feature_hasher_matches_scikit_learn() {
    let data = kdd();
    for (n, alternate) in [(64usize, true), (1 << 20, false)] {
        let f = fixture(&format!("feature_hasher_kdd_{n}"));
        let hasher = FeatureHasher::new(&KDD_TEXT, n)
            .unwrap()
            .alternate_sign(alternate);
        for w in f["hashed"].as_array().unwrap() {
            let i = w[0].as_u64().unwrap() as usize;
            let out = hasher.transform_one(&kdd_text(&data, i)).unwrap();
            let nonzero: Vec<(u64, f64)> = out
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(k, v)| (k as u64, *v))
                .collect();
            let mut theirs: Vec<(u64, f64)> = w[1]
                .as_array()
                .unwrap()
                .iter()
                .zip(w[2].as_array().unwrap())
                .map(|(k, v)| (k.as_u64().unwrap(), v.as_f64().unwrap()))
                .filter(|(_, v)| *v != 0.0)
                .collect();
            theirs.sort_by_key(|p| p.0);
            assert_eq!(nonzero, theirs, "record {i}, {n} features");
        }
    }
}

//! Prequential metrics against scikit-learn's on the same predictions, and Half-Space Trees
//! against River's ROC AUC on a labelled stream.

use crate::data::{Labelled, assert_close, csv, elec2, fixture, kdd};
use spate_learn::{
    AnomalyDetector, AnomalyEvaluation, Classifier, GaussianNb, HalfSpaceTrees, MinMaxScaler,
    Pipeline, Prequential, Scaler,
};

/// Gaussian naive Bayes (which matches River to 1e-9) test-then-train over `data`.
fn evaluate(data: &Labelled, window: usize) -> Prequential {
    let mut model = GaussianNb::new(data.x[0].len()).unwrap();
    let mut eval = Prequential::new(window).unwrap();
    for (x, &y) in data.x.iter().zip(&data.y) {
        eval.update(y, &model.predict_proba_one(x).unwrap());
        model.learn_one(x, y).unwrap();
    }
    eval
}

fn matches(what: &str, ours: &spate_learn::ClassificationMetrics, theirs: &serde_json::Value) {
    assert_eq!(ours.count(), theirs["count"].as_u64().unwrap(), "{what}");
    let exact = |name: &str, v: f64| {
        assert_close(
            &format!("{what} {name}"),
            &[v],
            &[theirs[name].as_f64().unwrap()],
            1e-9,
            1e-12,
        )
    };
    exact("accuracy", ours.accuracy());
    exact("macro_f1", ours.macro_f1());
    exact("log_loss", ours.log_loss());
    // Binned AUC (4096 logit bins) against scikit-learn's exact one.
    assert_close(
        &format!("{what} roc_auc"),
        &[ours.roc_auc()],
        &[theirs["roc_auc"].as_f64().unwrap()],
        0.0,
        2e-3,
    );
    let confusion: Vec<Vec<u64>> = theirs["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(ours.confusion(), confusion, "{what} confusion");
}

#[test]
fn prequential_metrics_match_scikit_learn_overall_and_windowed() {
    for (name, data) in [("elec2", elec2()), ("kdd", kdd())] {
        let f = fixture(&format!("metrics_gnb_{name}"));
        let window = f["window"].as_u64().unwrap() as usize;
        let eval = evaluate(&data, window);
        assert_eq!(
            eval.unpredicted(),
            1,
            "only the first record comes before any class"
        );
        matches(&format!("{name} overall"), eval.overall(), &f["overall"]);
        matches(&format!("{name} window"), eval.window(), &f["last_window"]);
    }
}

#[test]
fn half_space_trees_rank_kdd_http_attacks_as_well_as_river() {
    let (header, rows) = csv("datasets/kddcup99-10pct-http-every10th.csv.gz");
    let f = fixture("hst_kdd_http");
    let columns: Vec<usize> = f["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            header
                .iter()
                .position(|h| h == c.as_str().unwrap())
                .unwrap()
        })
        .collect();
    let label = header.iter().position(|h| h == "label").unwrap();
    let river: Vec<f64> = crate::data::floats(&f["roc_auc"]);
    let mut ours = Vec::new();
    for seed in 0..river.len() as u64 {
        let hst = HalfSpaceTrees::params(3).seed(seed).build().unwrap();
        let mut model = Pipeline::detector(hst)
            .detector_scaler(Scaler::MinMax(MinMaxScaler::new(3).unwrap()))
            .unwrap();
        let mut eval = AnomalyEvaluation::new(1000).unwrap();
        for r in &rows {
            let x: Vec<f64> = columns.iter().map(|&j| r[j].parse().unwrap()).collect();
            eval.update(r[label] != "normal.", model.score_one(&x).unwrap());
            model.learn_one(&x).unwrap();
        }
        ours.push(eval.overall().get());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (m_ours, m_river) = (mean(&ours), mean(&river));
    // Random trees from different generators: the means over 10 seeds (standard deviation
    // about 0.03 per seed, 0.01 for the mean) must agree within 0.05, and rank far better
    // than chance.
    assert!(
        (m_ours - m_river).abs() < 0.05,
        "mean ROC AUC {m_ours:.4} (ours {ours:?}) vs River {m_river:.4} ({river:?})"
    );
    assert!(m_ours > 0.7, "mean ROC AUC {m_ours}");
}

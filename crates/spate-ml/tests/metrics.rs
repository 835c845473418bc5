//! Rolling evaluation summaries against naive formulas.

use crate::common::normal;
use ndarray::{Array1, array, s};
use spate_core::{Merge, Retract};
use spate_ml::{ClassificationMetrics, MlError, RegressionMetrics};

#[test]
fn regression_metrics_match_the_formulas_and_merge() {
    let data = normal(1000, 2, 41);
    let (y, p) = (
        data.column(0).to_owned() + 1e6,
        data.column(1).to_owned() * 0.1 + 1e6,
    );
    let n = y.len() as f64;
    let mean = y.sum() / n;
    let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let sse: f64 = y.iter().zip(&p).map(|(a, b)| (a - b).powi(2)).sum();
    let sae: f64 = y.iter().zip(&p).map(|(a, b)| (a - b).abs()).sum();
    let mut m =
        RegressionMetrics::from_predictions(y.slice(s![..300]), p.slice(s![..300])).unwrap();
    m.merge(&RegressionMetrics::from_predictions(y.slice(s![300..]), p.slice(s![300..])).unwrap());
    assert_eq!(m.count(), 1000);
    assert!((m.rmse() - (sse / n).sqrt()).abs() < 1e-9);
    assert!((m.mae() - sae / n).abs() < 1e-9);
    assert!((m.r2() - (1.0 - sse / sst)).abs() < 1e-9);
    // A rolling window: retracting the first pane leaves the second.
    let first =
        RegressionMetrics::from_predictions(y.slice(s![..300]), p.slice(s![..300])).unwrap();
    m.retract(&first);
    let second =
        RegressionMetrics::from_predictions(y.slice(s![300..]), p.slice(s![300..])).unwrap();
    assert_eq!(m.count(), second.count());
    assert!((m.r2() - second.r2()).abs() < 1e-9 && (m.rmse() - second.rmse()).abs() < 1e-9);
}

#[test]
fn classification_metrics_match_the_formulas() {
    let y = array![1.0, 0.0, 1.0, 0.0, 2.0];
    let p = array![0.9, 0.2, 0.4, 0.0, 0.5];
    let m = ClassificationMetrics::from_probabilities(y.view(), p.view(), 0.5).unwrap();
    assert_eq!((m.count(), m.skipped()), (4, 1));
    assert!((m.accuracy() - 0.75).abs() < 1e-15);
    let expected = -(0.9_f64.ln() + 0.8_f64.ln() + 0.4_f64.ln() + (1.0 - 1e-15_f64).ln()) / 4.0;
    assert!((m.log_loss() - expected).abs() < 1e-12);
    let mut merged = m;
    merged.merge(&m);
    merged.retract(&m);
    assert_eq!(merged, m);
    assert_eq!(
        ClassificationMetrics::from_probabilities(y.view(), p.slice(s![..2]), 0.5).unwrap_err(),
        MlError::LengthMismatch {
            rows: 2,
            targets: 5
        }
    );
    let empty =
        RegressionMetrics::from_predictions(Array1::zeros(0).view(), Array1::zeros(0).view())
            .unwrap();
    assert!(empty.rmse().is_nan());
}

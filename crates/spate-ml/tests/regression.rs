//! Streaming least squares, RLS and SGD against independent references.

use crate::common::{gauss_solve, linear_targets, max_abs_diff, normal, qr_least_squares, rng};
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2, Axis, array, s};
use rand::Rng;
use spate_ml::{
    MlError, OnlineModel, Regularizer, StreamingLeastSquares, StreamingLinearRegressionWithSgd,
    StreamingLogisticRegressionWithSgd,
};

fn feed_ols(model: &mut StreamingLeastSquares, x: &Array2<f64>, y: &Array1<f64>) {
    let mut start = 0;
    for (i, size) in [1, 2, 97, 400, 1500].iter().cycle().enumerate() {
        let end = (start + size).min(x.nrows());
        let (bx, by) = (x.slice(s![start..end, ..]), y.slice(s![start..end]));
        // Alternate one and three partitions per batch.
        if i % 2 == 0 {
            model.update((bx, by)).unwrap();
        } else {
            let cut = [0, (end - start) / 3, 2 * (end - start) / 3, end - start];
            let parts: Vec<_> = cut
                .windows(2)
                .map(|c| (bx.slice(s![c[0]..c[1], ..]), by.slice(s![c[0]..c[1]])))
                .collect();
            model.update_partitions(&parts).unwrap();
        }
        start = end;
        if start == x.nrows() {
            break;
        }
    }
}

#[test]
fn exact_ols_equals_batch_least_squares_also_offset_by_1e4() {
    let w = [1.5, -2.0, 0.25, 0.0, 3.0];
    for offset in [0.0, 1e4] {
        let x = normal(5000, 5, 11) + offset;
        let y = linear_targets(&x, &w, 7.0, 0.5, 12);
        let mut model = StreamingLeastSquares::params(5).build().unwrap();
        feed_ols(&mut model, &x, &y);
        assert_eq!(model.rows(), 5000);
        let (qr_w, qr_b) = qr_least_squares(&x, &y, true);
        assert!(
            max_abs_diff(model.weights().iter().copied(), qr_w.iter().copied()) < 1e-8,
            "offset {offset}"
        );
        assert!(
            (model.intercept() - qr_b).abs() < 1e-8 * (1.0 + offset),
            "offset {offset}"
        );
        // Predictions agree to 1e-8 whatever the offset (the intercept absorbs it).
        let ours = model.predict(x.view()).unwrap();
        let theirs = x.dot(&Array1::from(qr_w)) + qr_b;
        assert!(max_abs_diff(ours.iter().copied(), theirs.iter().copied()) < 1e-8);
    }
}

#[test]
fn exact_ols_matches_linfa_linear() {
    let x = normal(3000, 4, 13);
    let y = linear_targets(&x, &[0.5, 1.0, -1.0, 2.0], -3.0, 1.0, 14);
    let mut model = StreamingLeastSquares::params(4).build().unwrap();
    feed_ols(&mut model, &x, &y);
    let linfa = LinearRegression::new()
        .fit(&DatasetBase::new(x.clone(), y.clone()))
        .unwrap();
    assert!(
        max_abs_diff(
            model.weights().iter().copied(),
            linfa.params().iter().copied()
        ) < 1e-8
    );
    assert!((model.intercept() - linfa.intercept()).abs() < 1e-8);
}

#[test]
fn ols_through_the_origin() {
    let x = normal(2000, 3, 15) + 5.0;
    let y = linear_targets(&x, &[1.0, 2.0, 3.0], 0.0, 0.1, 16);
    let mut model = StreamingLeastSquares::params(3)
        .intercept(false)
        .build()
        .unwrap();
    feed_ols(&mut model, &x, &y);
    let (qr_w, _) = qr_least_squares(&x, &y, false);
    assert!(max_abs_diff(model.weights().iter().copied(), qr_w) < 1e-8);
    assert_eq!(model.intercept(), 0.0);
}

/// Classic RLS, row by row: `k = P x / (λ + xᵀ P x)`, `w += k (y − xᵀ w)`, `P = (P − k xᵀ P) / λ`,
/// from `P₀ = I/δ`.
#[test]
fn forgetting_equals_classic_recursive_least_squares() {
    let (lambda, delta, d) = (0.995, 0.5, 3);
    let x = normal(1500, d, 17);
    let y = linear_targets(&x, &[1.0, -1.0, 0.5], 0.0, 0.3, 18);
    let mut model = StreamingLeastSquares::params(d)
        .intercept(false)
        .forgetting_factor(lambda)
        .ridge(delta)
        .build()
        .unwrap();
    feed_ols(&mut model, &x, &y);
    let mut p = Array2::<f64>::eye(d) / delta;
    let mut w = Array1::<f64>::zeros(d);
    for (row, &yi) in x.rows().into_iter().zip(&y) {
        let px = p.dot(&row);
        let k = &px / (lambda + row.dot(&px));
        w = &w + &(&k * (yi - row.dot(&w)));
        let kxp = k
            .view()
            .insert_axis(Axis(1))
            .dot(&px.view().insert_axis(Axis(0)));
        p = (&p - &kxp) / lambda;
    }
    assert!(max_abs_diff(model.weights().iter().copied(), w.iter().copied()) < 1e-8);
}

/// With an intercept, forgetting is weighted least squares with weights `λ^age` and the
/// decayed ridge on the slopes only: solved here from the raw weighted normal equations.
#[test]
fn forgetting_with_intercept_equals_weighted_least_squares() {
    let (lambda, delta, d) = (0.99, 0.1, 2);
    let x = normal(800, d, 19) * 3.0;
    let y = linear_targets(&x, &[2.0, -0.5], 4.0, 0.2, 20);
    let mut model = StreamingLeastSquares::params(d)
        .forgetting_factor(lambda)
        .ridge(delta)
        .build()
        .unwrap();
    feed_ols(&mut model, &x, &y);
    let n = x.nrows();
    let mut a = Array2::<f64>::zeros((d + 1, d + 1));
    let mut b = vec![0.0; d + 1];
    for (i, (row, &yi)) in x.rows().into_iter().zip(&y).enumerate() {
        let wt = lambda.powi((n - 1 - i) as i32);
        let z: Vec<f64> = row.iter().copied().chain([1.0]).collect();
        for r in 0..=d {
            for c in 0..=d {
                a[(r, c)] += wt * z[r] * z[c];
            }
            b[r] += wt * z[r] * yi;
        }
    }
    for r in 0..d {
        a[(r, r)] += delta * lambda.powi(n as i32);
    }
    let sol = gauss_solve(a, b);
    assert!(max_abs_diff(model.weights().iter().copied(), sol[..d].iter().copied()) < 1e-8);
    assert!((model.intercept() - sol[d]).abs() < 1e-8);
}

#[test]
fn collinear_features_get_weight_zero_and_still_fit() {
    let base = normal(500, 2, 21);
    let mut x = Array2::zeros((500, 3));
    x.slice_mut(s![.., ..2]).assign(&base);
    let doubled = &base.column(0) * 2.0;
    x.column_mut(2).assign(&doubled);
    let y = linear_targets(&base, &[1.0, 1.0], 0.0, 0.0, 22);
    let mut model = StreamingLeastSquares::params(3).build().unwrap();
    let report = model.update((x.view(), y.view())).unwrap();
    assert_eq!(report.rank, 2);
    let fit = model.evaluate((x.view(), y.view())).unwrap();
    assert!(fit.rmse() < 1e-9);
}

#[test]
fn least_squares_skips_non_finite_rows_and_checks_shapes() {
    let mut model = StreamingLeastSquares::params(1).build().unwrap();
    let x = array![[0.0], [f64::NAN], [1.0], [2.0], [f64::INFINITY]];
    let y = array![1.0, 0.0, 3.0, f64::NAN, 2.0];
    let report = model.update((x.view(), y.view())).unwrap();
    assert_eq!((report.rows, report.skipped), (2, 3));
    assert!((model.weights()[0] - 2.0).abs() < 1e-12);
    assert_eq!(
        model.update((x.view(), y.slice(s![..2]))).unwrap_err(),
        MlError::LengthMismatch {
            rows: 5,
            targets: 2
        }
    );
    let wide = Array2::zeros((2, 2));
    assert_eq!(
        model.update((wide.view(), y.slice(s![..2]))).unwrap_err(),
        MlError::DimensionMismatch {
            expected: 1,
            found: 2
        }
    );
    let p = StreamingLeastSquares::params;
    assert_eq!(p(0).build().unwrap_err(), MlError::ZeroDimension);
    assert_eq!(
        p(1).forgetting_factor(0.0).build().unwrap_err(),
        MlError::InvalidForgetting { factor: 0.0 }
    );
    assert_eq!(
        p(1).forgetting_factor(1.1).build().unwrap_err(),
        MlError::InvalidForgetting { factor: 1.1 }
    );
    assert_eq!(
        p(1).ridge(-1.0).build().unwrap_err(),
        MlError::InvalidRidge { ridge: -1.0 }
    );
}

#[test]
fn sgd_linear_regression_recovers_the_true_weights() {
    let w = [1.0, -2.0, 0.5, 0.0, 3.0];
    let x = normal(20_000, 5, 23);
    let y = linear_targets(&x, &w, 0.0, 0.1, 24);
    let mut model = StreamingLinearRegressionWithSgd::params(5).build().unwrap();
    for (bx, by) in x
        .axis_chunks_iter(Axis(0), 500)
        .zip(y.axis_chunks_iter(Axis(0), 500))
    {
        model.update((bx, by)).unwrap();
    }
    assert!(
        max_abs_diff(model.weights().iter().copied(), w) < 0.05,
        "{:?}",
        model.weights()
    );
}

#[test]
fn sgd_logistic_regression_recovers_the_true_weights() {
    let w = [1.5, -1.0, 0.5];
    let x = normal(100_000, 3, 25);
    let mut r = rng(26);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|row| {
            let p = 1.0 / (1.0 + (-row.dot(&Array1::from(w.to_vec()))).exp());
            f64::from(r.random::<f64>() < p)
        })
        .collect();
    let mut model = StreamingLogisticRegressionWithSgd::params(3)
        .step_size(1.0)
        .build()
        .unwrap();
    for (bx, by) in x
        .axis_chunks_iter(Axis(0), 10_000)
        .zip(y.axis_chunks_iter(Axis(0), 10_000))
    {
        model.update((bx, by)).unwrap();
    }
    assert!(
        max_abs_diff(model.weights().iter().copied(), w) < 0.05,
        "{:?}",
        model.weights()
    );
    let metrics = model.evaluate((x.view(), y.view())).unwrap();
    assert!(
        metrics.accuracy() > 0.7 && metrics.log_loss() < 0.55,
        "{metrics:?}"
    );
}

/// Spark's `GradientDescent.runMiniBatchSGD` with `SquaredL2Updater`, written out naively.
#[test]
fn sgd_follows_sparks_update_rule_exactly() {
    let x = array![[1.0, 2.0], [0.5, -1.0], [-1.5, 0.25]];
    let y = array![1.0, 0.0, 1.0];
    let (step, reg, iters) = (0.7, 0.1, 4);
    let mut model = StreamingLogisticRegressionWithSgd::params(2)
        .step_size(step)
        .iterations(iters)
        .regularization(Regularizer::L2(reg))
        .intercept(true)
        .convergence_tol(0.0)
        .initial_weights(vec![0.1, -0.2])
        .build()
        .unwrap();
    let report = model.update((x.view(), y.view())).unwrap();
    let mut w = vec![0.1, -0.2, 0.0];
    for i in 1..=iters {
        let mut g = [0.0; 3];
        for (row, &yi) in x.rows().into_iter().zip(&y) {
            let z = [row[0], row[1], 1.0];
            let margin: f64 = z.iter().zip(&w).map(|(a, b)| a * b).sum();
            let mult = 1.0 / (1.0 + (-margin).exp()) - yi;
            for j in 0..3 {
                g[j] += mult * z[j] / 3.0;
            }
        }
        let s = step / (i as f64).sqrt();
        for j in 0..3 {
            w[j] = w[j] * (1.0 - s * reg) - s * g[j];
        }
    }
    assert!(
        max_abs_diff(
            model.weights().iter().copied().chain([model.intercept()]),
            w
        ) < 1e-14
    );
    assert_eq!(
        (report.rows, report.steps, report.converged),
        (3, iters, false)
    );
}

#[test]
fn sgd_stops_early_on_convergence_and_skips_empty_batches() {
    let x = normal(200, 2, 27);
    let y = linear_targets(&x, &[1.0, 1.0], 0.0, 0.0, 28);
    let mut model = StreamingLinearRegressionWithSgd::params(2)
        .step_size(1.0)
        .iterations(500)
        .convergence_tol(1e-3)
        .build()
        .unwrap();
    let report = model.update((x.view(), y.view())).unwrap();
    assert!(report.converged && report.steps < 500, "{report:?}");
    let before = model.clone();
    let empty = model
        .update((Array2::zeros((0, 2)).view(), Array1::zeros(0).view()))
        .unwrap();
    assert_eq!((empty.rows, empty.steps), (0, 0));
    assert_eq!(model, before);
}

#[test]
fn sgd_l1_and_mini_batches() {
    let x = normal(4000, 3, 29);
    let y = linear_targets(&x, &[2.0, 0.0, -1.0], 0.0, 0.1, 30);
    let mut model = StreamingLinearRegressionWithSgd::params(3)
        .mini_batch_fraction(0.25)
        .regularization(Regularizer::L1(0.05))
        .step_size(0.5)
        .build()
        .unwrap();
    for (bx, by) in x
        .axis_chunks_iter(Axis(0), 400)
        .zip(y.axis_chunks_iter(Axis(0), 400))
    {
        let stats = model.summarize((bx, by)).unwrap();
        // Roughly a quarter of the rows are sampled.
        assert!((60..140).contains(&stats.sampled()), "{}", stats.sampled());
        model.update((bx, by)).unwrap();
    }
    // L1 shrinks the irrelevant weight to exactly 0 and the others towards 0.
    assert_eq!(model.weights()[1], 0.0);
    assert!(model.weights()[0] > 1.8 && model.weights()[2] < -0.8);
}

#[test]
fn sgd_skips_invalid_rows_and_validates_parameters() {
    let mut model = StreamingLogisticRegressionWithSgd::params(1)
        .build()
        .unwrap();
    let x = array![[1.0], [2.0], [f64::NAN], [0.5]];
    let y = array![1.0, 0.5, 1.0, 0.0];
    let report = model.update((x.view(), y.view())).unwrap();
    assert_eq!((report.rows, report.skipped), (2, 2));
    let p = StreamingLinearRegressionWithSgd::params;
    assert_eq!(p(0).build().unwrap_err(), MlError::ZeroDimension);
    assert_eq!(
        p(1).step_size(0.0).build().unwrap_err(),
        MlError::InvalidStepSize { step: 0.0 }
    );
    assert_eq!(
        p(1).iterations(0).build().unwrap_err(),
        MlError::InvalidIterations { iterations: 0 }
    );
    assert_eq!(
        p(1).mini_batch_fraction(1.5).build().unwrap_err(),
        MlError::InvalidMiniBatchFraction { fraction: 1.5 }
    );
    assert_eq!(
        p(1).regularization(Regularizer::L2(-1.0))
            .build()
            .unwrap_err(),
        MlError::InvalidRegularization { reg: -1.0 }
    );
    assert_eq!(
        p(1).convergence_tol(-1.0).build().unwrap_err(),
        MlError::InvalidConvergenceTol { tol: -1.0 }
    );
    assert_eq!(
        p(2).initial_weights(vec![1.0]).build().unwrap_err(),
        MlError::InitialWeights { len: 1, k: 2 }
    );
    assert_eq!(
        StreamingLogisticRegressionWithSgd::params(1)
            .threshold(2.0)
            .build()
            .unwrap_err(),
        MlError::InvalidThreshold { threshold: 2.0 }
    );
}

#[test]
fn sgd_models_round_trip_through_a_checkpoint() {
    let x = normal(300, 2, 31);
    let y = linear_targets(&x, &[1.0, 2.0], 0.0, 0.1, 32);
    let mut model = StreamingLinearRegressionWithSgd::params(2)
        .mini_batch_fraction(0.5)
        .build()
        .unwrap();
    model.update((x.view(), y.view())).unwrap();
    // Checkpoint in the middle of a batch's iterations: the next round continues identically.
    let stats = model.summarize((x.view(), y.view())).unwrap();
    model.apply(stats).unwrap();
    let mut restored: StreamingLinearRegressionWithSgd =
        bincode::deserialize(&bincode::serialize(&model).unwrap()).unwrap();
    assert_eq!(restored, model);
    assert_eq!(
        model.update((x.view(), y.view())).unwrap(),
        restored.update((x.view(), y.view())).unwrap()
    );
    assert_eq!(restored, model);
}

#[test]
fn corrupt_regression_checkpoints_are_errors() {
    let model = StreamingLeastSquares::params(2).build().unwrap();
    let mut json = serde_json::to_value(&model).unwrap();
    json["weights"] = serde_json::json!([1.0]);
    assert!(serde_json::from_value::<StreamingLeastSquares>(json).is_err());
    let model = StreamingLinearRegressionWithSgd::params(2)
        .intercept(true)
        .build()
        .unwrap();
    let mut json = serde_json::to_value(&model).unwrap();
    json["weights"] = serde_json::json!([1.0, 2.0]);
    let err = serde_json::from_value::<StreamingLinearRegressionWithSgd>(json).unwrap_err();
    assert!(
        err.to_string().contains("corrupt StreamingSgd checkpoint"),
        "{err}"
    );
}

/// One case of `fixtures/extreme_regression.json` (see `gen_extreme_regression.py`: the
/// exact least-squares solution of the same floats in rational arithmetic).
#[derive(serde::Deserialize)]
struct ExtremeCase {
    name: String,
    rows: Vec<Vec<f64>>,
    targets: Vec<f64>,
    weights: Vec<f64>,
    intercept: f64,
    zero_model_rmse: f64,
    zero_model_mae: f64,
}

fn extreme_cases() -> Vec<ExtremeCase> {
    #[derive(serde::Deserialize)]
    struct Fixture {
        cases: Vec<ExtremeCase>,
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/extreme_regression.json"
    ))
    .unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture.cases.len(), 4);
    fixture.cases
}

fn assert_rel(case: &str, what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{case}: {what} {got:e} vs exact {want:e}"
    );
}

/// Before: on values near 1e200 the co-moments overflowed and the fit was x = 0, intercept
/// 4e200 (exact: 2 and -1e200). Every column is now kept at its own power-of-two scale, so the
/// weights match exact rational least squares, fed in uneven batches and partitions.
#[test]
fn least_squares_at_extreme_magnitudes_matches_exact_arithmetic() {
    for case in extreme_cases() {
        let d = case.rows[0].len();
        let x = Array2::from_shape_vec(
            (case.rows.len(), d),
            case.rows.iter().flatten().copied().collect(),
        )
        .unwrap();
        let y = Array1::from(case.targets.clone());
        let mut model = StreamingLeastSquares::params(d).build().unwrap();
        feed_ols(&mut model, &x, &y);
        for (j, (&got, &want)) in model.weights().iter().zip(&case.weights).enumerate() {
            assert_rel(&case.name, &format!("weight {j}"), got, want, 1e-9);
        }
        assert_rel(
            &case.name,
            "intercept",
            model.intercept(),
            case.intercept,
            1e-9,
        );
        // The error of the all-zero prediction, in batches merged together.
        let zeros = Array1::zeros(y.len());
        let mut metrics = spate_ml::RegressionMetrics::default();
        for (ys, ps) in y
            .axis_chunks_iter(Axis(0), 71)
            .zip(zeros.axis_chunks_iter(Axis(0), 71))
        {
            spate_core::Merge::merge(
                &mut metrics,
                &spate_ml::RegressionMetrics::from_predictions(ys, ps).unwrap(),
            );
        }
        assert_rel(
            &case.name,
            "RMSE",
            metrics.rmse(),
            case.zero_model_rmse,
            1e-12,
        );
        assert_rel(&case.name, "MAE", metrics.mae(), case.zero_model_mae, 1e-12);
    }
}

/// Before: `--step-size 10` ended with weights ~1e27 and a larger step with NaN weights, both
/// reported as a normal fit. Now a diverging batch is reported, and the model keeps the
/// weights it had before that batch.
#[test]
fn diverging_sgd_is_reported_and_keeps_the_last_good_weights() {
    let x = normal(300, 3, 11);
    let y = linear_targets(&x, &[2.0, -1.0, 0.5], 3.0, 0.1, 12);
    let mut good = StreamingLinearRegressionWithSgd::params(3)
        .step_size(0.5)
        .intercept(true)
        .build()
        .unwrap();
    let report = good.update((x.view(), y.view())).unwrap();
    assert!(!report.diverged);
    let before = good.weights().to_owned();
    for step in [10.0, 1e6] {
        let mut model = StreamingLinearRegressionWithSgd::params(3)
            .step_size(step)
            .initial_weights(before.to_vec())
            .build()
            .unwrap();
        let report = model.update((x.view(), y.view())).unwrap();
        assert!(report.diverged, "step {step}: {report:?}");
        assert_eq!(model.weights(), before.view(), "step {step}");
    }
    // Two steps per batch that overshoot a little each time: the weights grow batch after
    // batch (×~1e2 per batch) without any one batch growing its loss 1e6 times over its
    // first step's. The growth is still caught, against the model's first loss.
    let mut creeping = StreamingLinearRegressionWithSgd::params(3)
        .step_size(10.0)
        .iterations(2)
        .intercept(true)
        .build()
        .unwrap();
    let diverged_at = (1..=30).find(|_| {
        creeping
            .update((x.view(), y.view()))
            .map(|r| r.diverged)
            .unwrap()
    });
    assert!(diverged_at.is_some_and(|b| b > 1), "{diverged_at:?}");
    // Stable steps on the same data, batch after batch, never trip the detector.
    for _ in 0..20 {
        let report = good.update((x.view(), y.view())).unwrap();
        assert!(!report.diverged, "step 0.5: {report:?}");
    }
    assert!((good.weights()[0] - 2.0).abs() < 0.05, "{}", good.weights());
}

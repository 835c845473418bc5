//! Covariance and correlation against a two-pass reference.

use crate::common::rng;
use ndarray::{Array1, Array2, Axis, s};
use proptest::prelude::*;
use rand_distr::{Distribution, StandardNormal};
use spate_core::{Merge, Retract};
use spate_stats::{CovarianceMatrix, StatsError};

/// Correlated rows: x = offset + L z with a fixed mixing matrix.
fn rows(seed: u64, n: usize, offset: f64) -> Array2<f64> {
    let mut r = rng(seed);
    let mix = [[2.0, 0.0, 0.0], [1.0, 0.5, 0.0], [-0.3, 0.2, 0.1]];
    Array2::from_shape_fn((n, 3), |_| 0.0)
        .map_axis(Axis(1), |_| {
            let z: [f64; 3] = std::array::from_fn(|_| StandardNormal.sample(&mut r));
            Array1::from_shape_fn(3, |i| {
                offset + (0..3).map(|j| mix[i][j] * z[j]).sum::<f64>()
            })
        })
        .into_iter()
        .flat_map(|v| v.to_vec())
        .collect::<Array1<f64>>()
        .into_shape_with_order((n, 3))
        .unwrap()
}

/// Two-pass sample covariance with the mean corrected as in `common::two_pass`.
fn reference(x: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let n = x.nrows() as f64;
    let m = x.mean_axis(Axis(0)).unwrap();
    let a = (x - &m).sum_axis(Axis(0)) / n;
    let c = x - &m - &a;
    (m + a, c.t().dot(&c) / (n - 1.0))
}

fn max_rel(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs())) / scale
}

fn split_merge(x: &Array2<f64>, cuts: &[f64], batch: usize) -> CovarianceMatrix {
    let n = x.nrows();
    let mut idx: Vec<usize> = cuts.iter().map(|c| (c * n as f64) as usize).collect();
    idx.extend([0, n]);
    idx.sort_unstable();
    let mut total = CovarianceMatrix::default();
    for w in idx.windows(2) {
        let mut part = CovarianceMatrix::new();
        let mut start = w[0];
        while start < w[1] {
            let end = (start + batch).min(w[1]);
            part.update(x.slice(s![start..end, ..])).unwrap();
            start = end;
        }
        total.merge(&part);
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_split_matches_two_pass(
        seed in any::<u64>(), n in 2usize..3000,
        cuts in prop::collection::vec(0.0f64..1.0, 0..8), batch in 1usize..2500,
        offset in prop_oneof![Just(0.0), Just(1e9)],
    ) {
        let x = rows(seed, n, offset);
        let got = split_merge(&x, &cuts, batch);
        let (mean, cov) = reference(&x);
        let tol = if offset == 0.0 { 1e-9 } else { 1e-7 };
        prop_assert_eq!(got.count(), n as u64);
        let gm = got.mean().unwrap();
        for j in 0..3 {
            prop_assert!((gm[j] - mean[j]).abs() <= 1e-12 * mean[j].abs().max(1.0));
        }
        let e = max_rel(&got.covariance().unwrap(), &cov);
        prop_assert!(e <= tol, "covariance error {:e}", e);
    }
}

#[test]
fn correlation_matches_reference_and_handles_constant_columns() {
    let x = rows(3, 5000, 10.0);
    let c = CovarianceMatrix::new();
    let mut c2 = c.clone();
    c2.update(x.view()).unwrap();
    let (_, cov) = reference(&x);
    let corr = c2.correlation().unwrap();
    for i in 0..3 {
        for j in 0..3 {
            let want = cov[[i, j]] / (cov[[i, i]] * cov[[j, j]]).sqrt();
            assert!((corr[[i, j]] - want).abs() < 1e-12);
        }
    }
    let mut flat = CovarianceMatrix::new();
    flat.update(ndarray::array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]].view())
        .unwrap();
    let r = flat.correlation().unwrap();
    assert_eq!(r[[0, 0]], 1.0);
    assert!(r[[0, 1]].is_nan());
}

#[test]
fn non_finite_rows_and_dimension_errors() {
    let mut c = CovarianceMatrix::new();
    c.update(
        ndarray::array![
            [1.0, 2.0],
            [f64::NAN, 1.0],
            [3.0, 4.0],
            [5.0, f64::INFINITY]
        ]
        .view(),
    )
    .unwrap();
    assert_eq!((c.count(), c.skipped_rows()), (2, 2));
    assert_eq!(c.mean().unwrap().to_vec(), vec![2.0, 3.0]);
    let wide = ndarray::Array2::<f64>::zeros((2, 3));
    assert!(matches!(
        c.update(wide.view()),
        Err(StatsError::DimensionMismatch {
            expected: 2,
            found: 3
        })
    ));
    let mut other = CovarianceMatrix::new();
    other.update(wide.view()).unwrap();
    assert!(c.try_merge(&other).is_err());
    let mut id = c.clone();
    id.merge(&CovarianceMatrix::default());
    assert_eq!(id, c);
}

/// 10^5 slides of a 50-pane window (8 rows per pane, offset 1e6): merge the new pane, retract
/// the oldest, and compare with recomputation.
#[test]
fn window_with_retraction_matches_recomputation() {
    let (pane_rows, panes, slides) = (8, 50, 100_000);
    let all = rows(9, pane_rows * (slides + panes), 1e6);
    let mut window = CovarianceMatrix::default();
    let pane = |i: usize| all.slice(s![i * pane_rows..(i + 1) * pane_rows, ..]);
    let summary = |i: usize| {
        let mut c = CovarianceMatrix::new();
        c.update(pane(i)).unwrap();
        c
    };
    for i in 0..slides + panes {
        window.merge(&summary(i));
        if i >= panes {
            window.retract(&summary(i - panes));
        }
        if i >= panes && (i % 20_000 == 0 || i == slides + panes - 1) {
            let x = all
                .slice(s![(i + 1 - panes) * pane_rows..(i + 1) * pane_rows, ..])
                .to_owned();
            let (_, cov) = reference(&x);
            let e = max_rel(&window.covariance().unwrap(), &cov);
            assert!(e <= 1e-10, "slide {i}: error {e:e}");
        }
    }
}

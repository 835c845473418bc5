use ndarray::{Array2, array};
use spate_plot::{Pca2, PlotError, column_pair};

/// Deterministic pseudo-random numbers in [-1, 1) (a 64-bit LCG; quality is irrelevant here).
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn pca_of_2d_data_is_a_rotation() {
    let e = noise(1, 400);
    let data = Array2::from_shape_fn((200, 2), |(i, j)| {
        let (a, b) = (3.0 * e[2 * i], 0.5 * e[2 * i + 1]);
        if j == 0 { 10.0 + a + b } else { -4.0 + a - b }
    });
    let pca = Pca2::fit(data.view()).unwrap();
    let p = pca.project(data.view()).unwrap();
    for i in 0..200 {
        for j in [0, 57, 199] {
            let d_orig = ((data[[i, 0]] - data[[j, 0]]).powi(2)
                + (data[[i, 1]] - data[[j, 1]]).powi(2))
            .sqrt();
            let d_proj = ((p[i].0 - p[j].0).powi(2) + (p[i].1 - p[j].1).powi(2)).sqrt();
            assert!((d_orig - d_proj).abs() < 1e-9);
        }
    }
    // Projected coordinates are centred and uncorrelated.
    let n = p.len() as f64;
    let (m0, m1) = p.iter().fold((0.0, 0.0), |a, q| (a.0 + q.0, a.1 + q.1));
    assert!((m0 / n).abs() < 1e-9 && (m1 / n).abs() < 1e-9);
    let cov01: f64 = p.iter().map(|q| q.0 * q.1).sum::<f64>() / (n - 1.0);
    assert!(cov01.abs() < 1e-9);
}

#[test]
fn explained_variance_matches_the_closed_form_2x2_eigenvalues() {
    let e = noise(7, 600);
    let data = Array2::from_shape_fn((300, 2), |(i, j)| {
        let (a, b) = (e[2 * i], e[2 * i + 1]);
        if j == 0 { 2.0 * a } else { a + 0.3 * b }
    });
    let n = 300.0;
    let mean = data.mean_axis(ndarray::Axis(0)).unwrap();
    let c = &data - &mean;
    let sxx = c.column(0).dot(&c.column(0)) / (n - 1.0);
    let syy = c.column(1).dot(&c.column(1)) / (n - 1.0);
    let sxy = c.column(0).dot(&c.column(1)) / (n - 1.0);
    let mid = (sxx + syy) / 2.0;
    let r = (((sxx - syy) / 2.0).powi(2) + sxy * sxy).sqrt();

    let pca = Pca2::fit(data.view()).unwrap();
    let [v1, v2] = pca.explained_variance();
    assert!((v1 - (mid + r)).abs() < 1e-12 * (mid + r));
    assert!((v2 - (mid - r)).abs() < 1e-9);
    // Components are orthonormal.
    let comp = pca.components();
    assert!((comp.row(0).dot(&comp.row(0)) - 1.0).abs() < 1e-12);
    assert!((comp.row(1).dot(&comp.row(1)) - 1.0).abs() < 1e-12);
    assert!(comp.row(0).dot(&comp.row(1)).abs() < 1e-12);
}

#[test]
fn points_on_a_line_in_3d_project_onto_the_first_component() {
    // Points t·u + c with u = (1, 2, 2)/3: all variance is along u.
    let u = [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0];
    let data = Array2::from_shape_fn((50, 3), |(i, j)| {
        (i as f64 - 20.0) * -u[j] + [5.0, 1.0, -2.0][j]
    });
    let pca = Pca2::fit(data.view()).unwrap();
    let comp = pca.components();
    for j in 0..3 {
        // Sign is fixed: the largest-magnitude entry of each component is positive.
        assert!((comp[[0, j]] - u[j]).abs() < 1e-12, "{comp}");
    }
    assert!(pca.explained_variance()[1] < 1e-12 * pca.explained_variance()[0]);
    let centroid = array![5.0, 1.0, -2.0];
    let (a, b) = pca.project_point(centroid.view()).unwrap();
    let mean_t = (0..50).map(|i| -(i as f64 - 20.0)).sum::<f64>() / 50.0;
    assert!((a + mean_t).abs() < 1e-9 && b.abs() < 1e-9, "{a} {b}");
}

#[test]
fn rows_with_non_finite_values_are_left_out_of_the_fit() {
    let data = array![
        [1.0, 2.0],
        [f64::NAN, 0.0],
        [2.0, 4.5],
        [3.0, 6.0],
        [0.0, f64::INFINITY]
    ];
    let pca = Pca2::fit(data.view()).unwrap();
    assert_eq!(pca.rows_skipped(), 2);
    let clean = array![[1.0, 2.0], [2.0, 4.5], [3.0, 6.0]];
    let reference = Pca2::fit(clean.view()).unwrap();
    assert_eq!(pca.components(), reference.components());
    let p = pca.project(data.view()).unwrap();
    assert!(p[1].0.is_nan() && p[0].0.is_finite());
}

#[test]
fn shape_errors() {
    let one_col = array![[1.0], [2.0]];
    assert!(matches!(
        Pca2::fit(one_col.view()),
        Err(PlotError::TooFewColumns { columns: 1 })
    ));
    let one_row = array![[1.0, 2.0], [f64::NAN, 1.0]];
    assert!(matches!(
        Pca2::fit(one_row.view()),
        Err(PlotError::TooFewRows { rows: 1 })
    ));
    let pca = Pca2::fit(array![[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]].view()).unwrap();
    assert!(matches!(
        pca.project(array![[1.0, 2.0, 3.0]].view()),
        Err(PlotError::LengthMismatch {
            expected: 2,
            got: 3,
            ..
        })
    ));
    assert!(pca.project_point(array![1.0].view()).is_err());
}

#[test]
fn column_pair_selects_and_checks_columns() {
    let data = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    assert_eq!(
        column_pair(data.view(), 2, 0).unwrap(),
        vec![(3.0, 1.0), (6.0, 4.0)]
    );
    assert!(matches!(
        column_pair(data.view(), 0, 3),
        Err(PlotError::ColumnOutOfRange {
            column: 3,
            columns: 3
        })
    ));
}

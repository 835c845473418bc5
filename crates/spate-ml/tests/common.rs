//! Deterministic synthetic data shared by the tests.

use ndarray::{Array1, Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

pub(crate) fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// `n` rows of independent standard normals.
pub(crate) fn normal(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = rng(seed);
    Array2::from_shape_simple_fn((n, d), || rng.sample(StandardNormal))
}

/// Gaussian blobs: `k` true centers uniform in `[-spread, spread]^d`, unit variance, points in
/// random cluster order. Returns the points and the true centers.
pub(crate) fn blobs(
    n: usize,
    k: usize,
    d: usize,
    spread: f64,
    seed: u64,
) -> (Array2<f64>, Array2<f64>) {
    let mut rng = rng(seed);
    let centers = Array2::from_shape_simple_fn((k, d), || rng.random_range(-spread..spread));
    let mut points = Array2::zeros((n, d));
    for mut row in points.rows_mut() {
        let c = rng.random_range(0..k);
        for (j, x) in row.iter_mut().enumerate() {
            let z: f64 = rng.sample(StandardNormal);
            *x = centers[(c, j)] + z;
        }
    }
    (points, centers)
}

/// The blobs of [`blobs`] sorted by their true cluster: a time-ordered stream in which each
/// blob arrives in its own run of batches.
pub(crate) fn time_ordered_blobs(
    n: usize,
    k: usize,
    d: usize,
    seed: u64,
) -> (Array2<f64>, Array2<f64>) {
    let (points, truth) = blobs(n, k, d, 20.0, seed);
    let nearest = |row: ndarray::ArrayView1<'_, f64>| {
        (0..k)
            .min_by(|&a, &b| {
                let da: f64 = row
                    .iter()
                    .zip(truth.row(a))
                    .map(|(x, y)| (x - y).powi(2))
                    .sum();
                let db: f64 = row
                    .iter()
                    .zip(truth.row(b))
                    .map(|(x, y)| (x - y).powi(2))
                    .sum();
                da.total_cmp(&db)
            })
            .unwrap()
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| nearest(points.row(i)));
    (points.select(Axis(0), &order), truth)
}

/// Sum of squared distances of every row to its nearest center, computed naively.
pub(crate) fn naive_cost(points: &Array2<f64>, centers: &Array2<f64>) -> f64 {
    points
        .rows()
        .into_iter()
        .map(|p| {
            centers
                .rows()
                .into_iter()
                .map(|c| {
                    p.iter()
                        .zip(c.iter())
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}

pub(crate) fn max_abs_diff(
    a: impl IntoIterator<Item = f64>,
    b: impl IntoIterator<Item = f64>,
) -> f64 {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[allow(dead_code)]
pub(crate) fn vector(values: &[f64]) -> Array1<f64> {
    Array1::from(values.to_vec())
}

/// Least squares by Householder QR of the design matrix (with a column of ones when
/// `intercept`): an independent reference that never forms the normal equations.
/// Returns the slopes and the intercept.
pub(crate) fn qr_least_squares(
    x: &Array2<f64>,
    y: &Array1<f64>,
    intercept: bool,
) -> (Vec<f64>, f64) {
    let (n, d) = x.dim();
    let p = d + usize::from(intercept);
    let mut a = Array2::<f64>::ones((n, p));
    a.slice_mut(ndarray::s![.., ..d]).assign(x);
    let mut b = y.clone();
    for k in 0..p {
        let norm = a
            .slice(ndarray::s![k.., k])
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt();
        let alpha = if a[(k, k)] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = a.slice(ndarray::s![k.., k]).to_vec();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|x| x * x).sum();
        if vnorm2 == 0.0 {
            continue;
        }
        for j in k..p {
            let s: f64 = (k..n).map(|i| v[i - k] * a[(i, j)]).sum::<f64>() * 2.0 / vnorm2;
            for i in k..n {
                a[(i, j)] -= s * v[i - k];
            }
        }
        let s: f64 = (k..n).map(|i| v[i - k] * b[i]).sum::<f64>() * 2.0 / vnorm2;
        for i in k..n {
            b[i] -= s * v[i - k];
        }
    }
    let mut w = vec![0.0; p];
    for k in (0..p).rev() {
        let s: f64 = (k + 1..p).map(|j| a[(k, j)] * w[j]).sum();
        w[k] = (b[k] - s) / a[(k, k)];
    }
    let bias = if intercept { w[d] } else { 0.0 };
    w.truncate(d);
    (w, bias)
}

/// Solve a small dense system by Gaussian elimination with partial pivoting.
pub(crate) fn gauss_solve(mut a: Array2<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| a[(i, k)].abs().total_cmp(&a[(j, k)].abs()))
            .unwrap();
        for j in 0..n {
            a.swap((k, j), (p, j));
        }
        b.swap(k, p);
        for i in k + 1..n {
            let f = a[(i, k)] / a[(k, k)];
            for j in k..n {
                a[(i, j)] -= f * a[(k, j)];
            }
            b[i] -= f * b[k];
        }
    }
    let mut x = vec![0.0; n];
    for k in (0..n).rev() {
        let s: f64 = (k + 1..n).map(|j| a[(k, j)] * x[j]).sum();
        x[k] = (b[k] - s) / a[(k, k)];
    }
    x
}

/// `y = x·w + bias + noise·N(0, 1)`.
pub(crate) fn linear_targets(
    x: &Array2<f64>,
    w: &[f64],
    bias: f64,
    noise: f64,
    seed: u64,
) -> Array1<f64> {
    let mut rng = rng(seed);
    x.rows()
        .into_iter()
        .map(|r| {
            let z: f64 = rng.sample(StandardNormal);
            r.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + bias + noise * z
        })
        .collect()
}

//! Deterministic synthetic data shared by the tests.

use ndarray::{Array1, Array2};
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

//! Independent references and helpers shared by the tests.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// Two-pass reference: (mean, population variance, skewness, excess kurtosis).
///
/// With an offset of 1e6 or more the mean itself cannot be held in one `f64` closer than half
/// an ulp of the offset (~1e-10 at 1e6), and that error shifts the third central moment at
/// first order. So the deviations are taken in two steps: from the rounded mean `m` (exact,
/// the values are close to it), then from the tiny residual mean `a` of those deviations.
pub fn two_pass(xs: &[f64]) -> (f64, f64, f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let a = xs.iter().map(|x| x - m).sum::<f64>() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &x in xs {
        let d = (x - m) - a;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
    (m + a, m2, m3 / m2.powf(1.5), m4 / (m2 * m2) - 3.0)
}

pub fn rel_err(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

#[track_caller]
pub fn assert_close(what: &str, got: f64, want: f64, tol: f64) {
    let e = rel_err(got, want);
    assert!(
        e <= tol,
        "{what}: got {got}, want {want}, relative error {e:e} > {tol:e}"
    );
}

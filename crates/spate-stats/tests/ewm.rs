//! Exponentially weighted moments against the direct weighted formula.

use crate::common::{assert_close, rng};
use proptest::prelude::*;
use rand_distr::{Distribution, Normal};
use spate_core::Merge;
use spate_stats::{EwMoments, StatsError};

/// pandas `ewm(alpha, adjust=True)` mean and `var(bias=True)`, computed directly.
fn direct(xs: &[f64], alpha: f64) -> (f64, f64) {
    let n = xs.len();
    let w: Vec<f64> = (0..n)
        .map(|i| (1.0 - alpha).powi((n - 1 - i) as i32))
        .collect();
    let sw: f64 = w.iter().sum();
    let mean = xs.iter().zip(&w).map(|(x, w)| w * x).sum::<f64>() / sw;
    let var = xs
        .iter()
        .zip(&w)
        .map(|(x, w)| w * (x - mean).powi(2))
        .sum::<f64>()
        / sw;
    (mean, var)
}

fn data(seed: u64, n: usize) -> Vec<f64> {
    let d = Normal::new(100.0, 5.0).unwrap();
    let mut r = rng(seed);
    (0..n).map(|_| d.sample(&mut r)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ordered_merge_of_any_split_equals_direct(
        seed in any::<u64>(),
        n in 1usize..800,
        cuts in prop::collection::vec(0.0f64..1.0, 0..6),
        alpha in 0.001f64..1.0,
    ) {
        let xs = data(seed, n);
        let mut idx: Vec<usize> = cuts.iter().map(|c| (c * n as f64) as usize).collect();
        idx.extend([0, n]);
        idx.sort_unstable();
        let params = EwMoments::params().alpha(alpha);
        let mut total = EwMoments::default();
        for w in idx.windows(2) {
            let mut part = params.build().unwrap();
            part.update(&xs[w[0]..w[1]]);
            total.merge(&part);
        }
        let (mean, var) = direct(&xs, alpha);
        assert_close("mean", total.mean().unwrap(), mean, 1e-12);
        // Variance is relative to its own size, which can be tiny for large alpha.
        prop_assert!((total.variance().unwrap() - var).abs() <= 1e-10 * var.max(1e-6 * 25.0));
        prop_assert_eq!(total.count(), n as u64);
    }
}

#[test]
fn half_life_and_validation() {
    let e = EwMoments::params().half_life(10.0).build().unwrap();
    assert!(((1.0 - e.alpha()).powi(10) - 0.5).abs() < 1e-15);
    assert!(matches!(
        EwMoments::params().alpha(0.0).build(),
        Err(StatsError::OutOfRange { .. })
    ));
    assert!(EwMoments::params().alpha(1.0).build().is_ok());
    assert!(EwMoments::params().half_life(-1.0).build().is_err());
    let mut a = EwMoments::params().alpha(0.5).build().unwrap();
    a.update(&[1.0, f64::NAN]);
    let mut b = EwMoments::params().alpha(0.2).build().unwrap();
    b.update(&[2.0]);
    assert!(matches!(
        a.try_merge(&b),
        Err(StatsError::IncompatibleMerge { .. })
    ));
    assert_eq!(a.skipped_non_finite(), 1);
    // The empty default adopts the other's alpha.
    let mut d = EwMoments::default();
    d.merge(&a);
    assert_eq!(d, a);
}

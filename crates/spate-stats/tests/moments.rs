//! Moments against a two-pass reference, merge laws, and a 10^6-slide window with retraction.

use crate::common::{assert_close, rng, two_pass};
use proptest::prelude::*;
use rand::Rng;
use rand_distr::{Distribution, LogNormal, StandardNormal};
use spate_core::{Merge, Retract};
use spate_stats::Moments;
use std::collections::VecDeque;

/// Standardized statistics are compared with an absolute floor of 1 (skewness near 0 has no
/// meaningful relative error).
fn assert_matches(m: &Moments, xs: &[f64], tol: f64) {
    let (mean, var, skew, kurt) = two_pass(xs);
    assert_eq!(m.count(), xs.len() as u64);
    assert_close("mean", m.mean().unwrap(), mean, tol);
    assert_close("variance", m.population_variance().unwrap(), var, tol);
    let skew_err = (m.skewness().unwrap() - skew).abs() / skew.abs().max(1.0);
    assert!(
        skew_err <= tol,
        "skewness {} vs {skew}: {skew_err:e}",
        m.skewness().unwrap()
    );
    let kurt_err = (m.kurtosis().unwrap() - kurt).abs() / kurt.abs().max(1.0);
    assert!(
        kurt_err <= tol,
        "kurtosis {} vs {kurt}: {kurt_err:e}",
        m.kurtosis().unwrap()
    );
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!((m.min(), m.max()), (Some(lo), Some(hi)));
}

fn sample(seed: u64, n: usize, offset: f64, heavy: bool) -> Vec<f64> {
    let mut r = rng(seed);
    let ln = LogNormal::new(0.0, 1.5).unwrap();
    (0..n)
        .map(|_| {
            let z: f64 = if heavy {
                ln.sample(&mut r)
            } else {
                r.sample(StandardNormal)
            };
            offset + 3.0 * z
        })
        .collect()
}

/// Cut `xs` at the given fractions into partitions, each fed in batches of `batch` values,
/// and merge the partitions in order.
fn split_and_merge(xs: &[f64], cuts: &[f64], batch: usize) -> Moments {
    let mut idx: Vec<usize> = cuts
        .iter()
        .map(|c| (c * xs.len() as f64) as usize)
        .collect();
    idx.push(0);
    idx.push(xs.len());
    idx.sort_unstable();
    let mut total = Moments::default();
    for w in idx.windows(2) {
        let mut part = Moments::default();
        for b in xs[w[0]..w[1]].chunks(batch.max(1)) {
            part.update(b);
        }
        total.merge(&part);
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_matches_two_pass(
        seed in any::<u64>(),
        n in 2usize..6000,
        cuts in prop::collection::vec(0.0f64..1.0, 0..9),
        batch in 1usize..3000,
        heavy in any::<bool>(),
    ) {
        let xs = sample(seed, n, 0.0, heavy);
        assert_matches(&split_and_merge(&xs, &cuts, batch), &xs, 1e-9);
    }

    #[test]
    fn large_offset_matches_two_pass(
        seed in any::<u64>(),
        n in 2usize..6000,
        cuts in prop::collection::vec(0.0f64..1.0, 0..9),
        batch in 1usize..3000,
    ) {
        let xs = sample(seed, n, 1e9, false);
        assert_matches(&split_and_merge(&xs, &cuts, batch), &xs, 1e-7);
    }

    #[test]
    fn merge_laws(seed in any::<u64>(), na in 0usize..300, nb in 0usize..300, nc in 0usize..300) {
        let a = Moments::from_slice(&sample(seed, na, 5.0, true));
        let b = Moments::from_slice(&sample(seed ^ 1, nb, -2.0, false));
        let c = Moments::from_slice(&sample(seed ^ 2, nc, 1e6, false));
        let mut left = a.clone();
        left.merge(&b);
        left.merge(&c);
        let mut bc = b.clone();
        bc.merge(&c);
        let mut right = a.clone();
        right.merge(&bc);
        let mut swapped = c.clone();
        swapped.merge(&b);
        swapped.merge(&a);
        for other in [&right, &swapped] {
            prop_assert_eq!(left.count(), other.count());
            for (x, y) in [
                (left.mean(), other.mean()),
                (left.population_variance(), other.population_variance()),
                (left.skewness(), other.skewness()),
                (left.kurtosis(), other.kurtosis()),
            ] {
                match (x, y) {
                    (Some(x), Some(y)) => prop_assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0)),
                    (x, y) => prop_assert_eq!(x, y),
                }
            }
        }
        let mut with_identity = a.clone();
        with_identity.merge(&Moments::default());
        prop_assert_eq!(&with_identity, &a);
        let mut from_identity = Moments::default();
        from_identity.merge(&a);
        prop_assert_eq!(&from_identity, &a);
    }

    #[test]
    fn merge_then_retract_restores(seed in any::<u64>(), na in 2usize..300, nb in 0usize..300) {
        let a = Moments::from_slice(&sample(seed, na, 1e3, true));
        let b = Moments::from_slice(&sample(seed ^ 7, nb, -1e3, false));
        let mut ab = a.clone();
        ab.merge(&b);
        ab.retract(&b);
        prop_assert_eq!(ab.count(), a.count());
        for (x, y) in [
            (ab.mean(), a.mean()),
            (ab.population_variance(), a.population_variance()),
            (ab.skewness(), a.skewness()),
            (ab.kurtosis(), a.kurtosis()),
        ] {
            let (x, y) = (x.unwrap(), y.unwrap());
            prop_assert!((x - y).abs() <= 1e-13 * x.abs().max(1.0), "{} vs {}", x, y);
        }
    }
}

#[test]
fn non_finite_values_are_skipped_in_every_path() {
    let mut xs = sample(3, 5000, 1.0, false);
    let clean = xs.clone();
    xs.insert(17, f64::NAN);
    xs.insert(2500, f64::INFINITY);
    xs.push(f64::NEG_INFINITY);
    let mut m = Moments::default();
    m.update(&xs);
    assert_eq!(m.skipped_non_finite(), 3);
    assert_matches(&m, &clean, 1e-12);
    let mut it = Moments::default();
    it.update_iter(xs.iter().copied());
    assert_eq!(it.skipped_non_finite(), 3);
    assert_matches(&it, &clean, 1e-12);
}

#[test]
fn bincode_round_trip_is_exact() {
    let m = Moments::from_slice(&sample(9, 1000, 1e9, true));
    let bin = bincode::serialize(&m).unwrap();
    assert_eq!(bincode::deserialize::<Moments>(&bin).unwrap(), m);
}

/// A window of 64 panes of 4 values slides 10^6 times: each slide merges a new pane and
/// retracts the oldest. The stream is built to be hard on retraction: an offset of 1e6, a
/// random-walk drift (so the shift must be rebased), and bursts whose spread is 1000 times
/// the usual one passing through the window. Every 10 000 slides and at the end the window's
/// moments must equal a two-pass recomputation over its values. The issue asks for 1e-9; the
/// test asserts 1e-12 (observed: ≤ 2e-15 for the variance, ≤ 2e-14 absolute for skewness and
/// kurtosis, the same as a fresh `Moments::from_slice` of the window).
#[test]
fn window_with_retraction_matches_recomputation_after_a_million_slides() {
    const PANE: usize = 4;
    const PANES: usize = 64;
    const SLIDES: usize = 1_000_000;
    let mut r = rng(42);
    let mut level = 1e6;
    let mut window = Moments::default();
    let mut panes: VecDeque<(Moments, [f64; PANE])> = VecDeque::with_capacity(PANES + 1);
    let mut checked = 0;
    for slide in 0..SLIDES + PANES {
        let burst = (slide / 1000) % 97 == 13;
        let mut vals = [0.0; PANE];
        for v in &mut vals {
            level += 0.05 * r.sample::<f64, _>(StandardNormal);
            let z: f64 = r.sample(StandardNormal);
            *v = level + if burst { 1000.0 * z } else { z };
        }
        let pane = Moments::from_slice(&vals);
        window.merge(&pane);
        panes.push_back((pane, vals));
        if panes.len() > PANES {
            let (old, _) = panes.pop_front().unwrap();
            window.retract(&old);
        }
        if slide >= PANES && (slide % 10_000 == 0 || slide == SLIDES + PANES - 1) {
            let xs: Vec<f64> = panes.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            let (mean, var, skew, kurt) = two_pass(&xs);
            assert_eq!(window.count(), xs.len() as u64);
            assert_close("mean", window.mean().unwrap(), mean, 1e-12);
            assert_close(
                "variance",
                window.population_variance().unwrap(),
                var,
                1e-12,
            );
            assert!((window.skewness().unwrap() - skew).abs() <= 1e-12 * skew.abs().max(1.0));
            assert!((window.kurtosis().unwrap() - kurt).abs() <= 1e-12 * kurt.abs().max(1.0));
            checked += 1;
        }
    }
    assert_eq!(checked, 101);
}

/// One case of `fixtures/extreme_moments.json` (see `gen_extreme_moments.py`: exact rational
/// arithmetic on the same floats, rounded to f64 at the end).
#[derive(serde::Deserialize)]
struct ExtremeCase {
    name: String,
    values: Vec<f64>,
    count: u64,
    mean: f64,
    population_sd: f64,
    sample_sd: f64,
    sum: Option<f64>,
    skewness: Option<f64>,
    kurtosis: Option<f64>,
}

/// Relative error up to `rel`, with an absolute floor of a few subnormal steps (results in
/// the subnormal range have only as many bits as their magnitude allows).
fn assert_rel(case: &str, what: &str, got: f64, want: f64, rel: f64) {
    let err = (got - want).abs();
    assert!(
        err <= rel * want.abs() + 1e-322,
        "{case}: {what} {got:e} vs exact {want:e} (relative error {:e})",
        err / want.abs()
    );
}

/// Before: values ≥ 1e150 gave sd 0 (their squares overflowed), 1e300 a NaN mean (the block
/// sum overflowed), values near 1e-200 sd 0 (squares underflowed). Now every statistic matches
/// exact rational arithmetic, whole and split into unevenly sized, separately merged batches.
#[test]
fn moments_at_extreme_magnitudes_match_exact_arithmetic() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/extreme_moments.json"
    ))
    .unwrap();
    #[derive(serde::Deserialize)]
    struct Fixture {
        cases: Vec<ExtremeCase>,
    }
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture.cases.len(), 8);
    for case in &fixture.cases {
        let whole = Moments::from_slice(&case.values);
        let mut split = Moments::new();
        for (i, chunk) in case.values.chunks(37).enumerate() {
            // Alternate between updating in place and merging a separate summary.
            if i % 2 == 0 {
                split.update(chunk);
            } else {
                split.merge(&Moments::from_slice(chunk));
            }
        }
        for (how, m) in [("whole", &whole), ("split", &split)] {
            let name = format!("{} ({how})", case.name);
            assert_eq!(m.count(), case.count, "{name}");
            assert_rel(&name, "mean", m.mean().unwrap(), case.mean, 1e-13);
            assert_rel(
                &name,
                "population sd",
                m.population_std_dev().unwrap(),
                case.population_sd,
                1e-12,
            );
            assert_rel(
                &name,
                "sample sd",
                m.sample_std_dev().unwrap(),
                case.sample_sd,
                1e-12,
            );
            match case.sum {
                Some(sum) => assert_rel(&name, "sum", m.sum().unwrap(), sum, 1e-13),
                None => assert!(m.sum().unwrap().is_infinite(), "{name}"),
            }
            let abs = |x: Option<f64>| x.unwrap().abs().max(1.0);
            let skew = m.skewness().unwrap();
            assert!(
                (skew - case.skewness.unwrap()).abs() <= 1e-10 * abs(case.skewness),
                "{name}: skewness {skew} vs {:?}",
                case.skewness
            );
            let kurt = m.kurtosis().unwrap();
            assert!(
                (kurt - case.kurtosis.unwrap()).abs() <= 1e-10 * abs(case.kurtosis),
                "{name}: kurtosis {kurt} vs {:?}",
                case.kurtosis
            );
        }
    }
}

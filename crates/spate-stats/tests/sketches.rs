//! Quantile sketch, HyperLogLog, count-min, Space-Saving and histograms against exact
//! references, plus their merge laws.

use crate::common::rng;
use proptest::prelude::*;
use rand::Rng;
use rand_distr::{Distribution, LogNormal, Zipf};
use spate_core::{Merge, Retract};
use spate_stats::{
    CountMinSketch, Histogram, HyperLogLog, QuantileSketch, SpaceSaving, StatsError,
};
use std::collections::HashMap;

fn lognormal(seed: u64, n: usize) -> Vec<f64> {
    let d = LogNormal::new(0.0, 1.5).unwrap();
    let mut r = rng(seed);
    (0..n).map(|_| d.sample(&mut r)).collect()
}

fn zipf_items(seed: u64, n: usize, distinct: u64) -> Vec<u64> {
    let d = Zipf::new(distinct as f64, 1.1).unwrap();
    let mut r = rng(seed);
    (0..n).map(|_| d.sample(&mut r) as u64).collect()
}

/// Cut `n` into `parts` uneven contiguous ranges.
fn ranges(n: usize, parts: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut r = rng(seed);
    let mut cuts: Vec<usize> = (0..parts - 1).map(|_| r.random_range(0..=n)).collect();
    cuts.extend([0, n]);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

// ---------------------------------------------------------------- quantiles

#[test]
fn quantile_rank_error_on_lognormal_merged_from_many_partitions() {
    let xs = lognormal(1, 200_000);
    let mut merged = QuantileSketch::default();
    let mut single = QuantileSketch::default();
    single.update(&xs);
    for (a, b) in ranges(xs.len(), 11, 2) {
        let mut part = QuantileSketch::params()
            .relative_accuracy(0.01)
            .build()
            .unwrap();
        for batch in xs[a..b].chunks(777) {
            part.update(batch);
        }
        merged.merge(&part);
    }
    let mut sorted = xs.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mut worst: f64 = 0.0;
    for i in 0..=1000 {
        let q = f64::from(i) / 1000.0;
        let v = merged.quantile(q).unwrap().unwrap();
        // Any rank in [#(x < v), #(x ≤ v)] is consistent with v.
        let lo = sorted.partition_point(|&x| x < v) as f64 / n;
        let hi = sorted.partition_point(|&x| x <= v) as f64 / n;
        let err = if q < lo {
            lo - q
        } else if q > hi {
            q - hi
        } else {
            0.0
        };
        worst = worst.max(err);
        assert_eq!(
            single.quantile(q).unwrap(),
            Some(v),
            "merge must not change quantiles"
        );
    }
    assert!(worst <= 0.01, "rank error {worst}");
    // Observed ≈ 0.0027, the bound α·max f(x)·x for this distribution.
    assert!(
        worst <= 0.004,
        "rank error {worst} exceeds the analytic bound"
    );
    assert_eq!(merged.min(), Some(sorted[0]));
    assert_eq!(merged.max(), sorted.last().copied());
}

#[test]
fn quantile_sketch_edge_cases() {
    let mut q = QuantileSketch::default();
    assert_eq!(q.quantile(0.5), Ok(None));
    assert!(matches!(
        q.quantile(1.5),
        Err(StatsError::QuantileOutOfRange { .. })
    ));
    assert!(matches!(
        q.quantile(f64::NAN),
        Err(StatsError::QuantileOutOfRange { .. })
    ));
    q.update(&[f64::NAN, f64::INFINITY, -3.0, 0.0, 5.0]);
    assert_eq!((q.count(), q.skipped_non_finite()), (3, 2));
    assert_eq!(q.quantile(0.0), Ok(Some(-3.0)));
    assert!(
        QuantileSketch::params()
            .relative_accuracy(0.0)
            .build()
            .is_err()
    );
    assert!(QuantileSketch::params().max_bins(10).build().is_err());
    let mut other = QuantileSketch::params()
        .relative_accuracy(0.05)
        .build()
        .unwrap();
    other.update(&[1.0]);
    assert!(matches!(
        q.try_merge(&other),
        Err(StatsError::IncompatibleMerge { .. })
    ));
    let bytes = bincode::serialize(&q).unwrap();
    let back: QuantileSketch = bincode::deserialize(&bytes).unwrap();
    for p in [0.0, 0.3, 0.5, 1.0] {
        assert_eq!(back.quantile(p), q.quantile(p));
    }
}

/// Before: values below 1e-9 all fell into the zero bucket, so 1e-10 … 9e-10 had a median
/// of 1e-10 (the minimum) where the value of that rank is 5e-10.
#[test]
fn tiny_and_huge_magnitudes_keep_the_relative_guarantee() {
    for scale in [1e-10, 1e-200, 1e-300, 1.0, 1e150, 1e300] {
        for sign in [1.0, -1.0] {
            let values: Vec<f64> = (1..=9).map(|k| sign * k as f64 * scale).collect();
            let mut q = QuantileSketch::default();
            q.update(&values);
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for p in [0.05, 0.25, 0.5, 0.75, 0.95] {
                // The value at rank ⌊p (n − 1)⌋, the reference the guarantee names.
                let want = sorted[(p * 8.0) as usize];
                let got = q.quantile(p).unwrap().unwrap();
                assert!(
                    ((got - want) / want).abs() <= 0.01 + 1e-12,
                    "scale {scale:e}, sign {sign}, p {p}: {got:e} vs {want:e}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- HyperLogLog

#[test]
fn hll_relative_error_at_p14() {
    for (seed, n) in [
        (1u64, 10u64),
        (2, 100),
        (3, 1_000),
        (4, 10_000),
        (5, 100_000),
        (6, 1_000_000),
    ] {
        let mut h = HyperLogLog::params().precision(14).build().unwrap();
        let base = rng(seed).random::<u64>();
        let items: Vec<u64> = (0..n)
            .map(|i| base.wrapping_add(i.wrapping_mul(0x9E37_79B9)))
            .collect();
        for batch in items.chunks(4096) {
            h.update(batch);
            h.update(batch); // duplicates do not count
        }
        let err = (h.estimate() - n as f64).abs() / n as f64;
        assert!(
            err <= 0.025,
            "n = {n}: estimate {} (error {err})",
            h.estimate()
        );
    }
}

#[test]
fn hll_merge_equals_single_pass_exactly() {
    let items = zipf_items(7, 100_000, 50_000);
    let mut single = HyperLogLog::default();
    single.update(&items);
    let mut merged = HyperLogLog::default();
    for (a, b) in ranges(items.len(), 8, 3) {
        let mut part = HyperLogLog::default();
        part.update(&items[a..b]);
        merged.merge(&part);
    }
    assert_eq!(merged, single);
    let strings: Vec<String> = items.iter().map(|i| format!("user-{i}")).collect();
    let mut s = HyperLogLog::default();
    s.update(&strings);
    let distinct = items.iter().collect::<std::collections::HashSet<_>>().len() as f64;
    assert!((s.estimate() - distinct).abs() / distinct <= 0.025);
}

#[test]
fn hll_parameters_and_non_finite() {
    assert!(HyperLogLog::params().precision(3).build().is_err());
    assert!(HyperLogLog::params().precision(19).build().is_err());
    let mut a = HyperLogLog::params().precision(10).build().unwrap();
    a.update_f64(&[1.0, 0.0, -0.0, f64::NAN, 1.0]);
    assert_eq!(a.skipped_non_finite(), 1);
    assert!((a.estimate() - 2.0).abs() < 0.01);
    let mut b = HyperLogLog::default();
    b.update(&[1u8]);
    assert!(matches!(
        a.try_merge(&b),
        Err(StatsError::IncompatibleMerge { .. })
    ));
    let mut empty = HyperLogLog::default();
    empty.merge(&a);
    assert_eq!(empty, a);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn hll_merge_is_commutative_associative_idempotent(
        xs in prop::collection::vec(any::<u32>(), 0..400),
        ys in prop::collection::vec(any::<u32>(), 0..400),
        zs in prop::collection::vec(any::<u32>(), 0..400),
    ) {
        let sk = |v: &[u32]| { let mut h = HyperLogLog::params().precision(8).build().unwrap(); h.update(v); h };
        let (a, b, c) = (sk(&xs), sk(&ys), sk(&zs));
        let mut ab_c = a.clone(); ab_c.merge(&b); ab_c.merge(&c);
        let mut bc = b.clone(); bc.merge(&c);
        let mut a_bc = a.clone(); a_bc.merge(&bc);
        let mut cba = c.clone(); cba.merge(&b); cba.merge(&a);
        prop_assert_eq!(&ab_c, &a_bc);
        prop_assert_eq!(&ab_c, &cba);
        let mut twice = ab_c.clone(); twice.merge(&ab_c);
        prop_assert_eq!(&twice, &ab_c);
        let mut id = a.clone(); id.merge(&HyperLogLog::default());
        prop_assert_eq!(&id, &a);
    }

    #[test]
    fn quantiles_do_not_depend_on_the_split(
        seed in any::<u64>(), n in 1usize..3000, parts in 1usize..10,
    ) {
        let xs = lognormal(seed, n);
        let mut single = QuantileSketch::default();
        single.update(&xs);
        let mut merged = QuantileSketch::default();
        for (a, b) in ranges(n, parts, seed) {
            let mut part = QuantileSketch::default();
            part.update(&xs[a..b]);
            // Merging in reverse order too: commutative.
            let mut tmp = part.clone();
            tmp.merge(&merged);
            merged = tmp;
        }
        for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.999, 1.0] {
            prop_assert_eq!(merged.quantile(q).unwrap(), single.quantile(q).unwrap());
        }
        prop_assert_eq!(merged.count(), n as u64);
    }

    #[test]
    fn count_min_merge_and_retract_are_exact(
        seed in any::<u64>(), n in 0usize..3000, parts in 1usize..8,
    ) {
        let items = zipf_items(seed, n, 500);
        let params = CountMinSketch::params().width(64).depth(3);
        let mut single = params.build().unwrap();
        single.update(&items);
        let mut merged = CountMinSketch::default();
        let mut pieces = Vec::new();
        for (a, b) in ranges(n, parts, seed) {
            let mut part = params.build().unwrap();
            part.update(&items[a..b]);
            merged.merge(&part);
            pieces.push(part);
        }
        if n > 0 {
            prop_assert_eq!(&merged, &single);
        }
        for p in pieces.iter().skip(1) {
            merged.retract(p);
        }
        prop_assert_eq!(&merged, &pieces[0]);
    }

    #[test]
    fn space_saving_guarantees_hold_for_any_split(
        seed in any::<u64>(), parts in 1usize..9, capacity in 5usize..60,
    ) {
        let items = zipf_items(seed, 5000, 2000);
        let truth = exact_counts(&items);
        let mut merged = SpaceSaving::<u64>::default();
        let mut reversed = SpaceSaving::<u64>::default();
        for (a, b) in ranges(items.len(), parts, seed ^ 5) {
            let mut part = SpaceSaving::params().capacity(capacity).build().unwrap();
            part.update(&items[a..b]);
            merged.merge(&part);
            let mut tmp = part.clone();
            tmp.merge(&reversed);
            reversed = tmp;
        }
        check_space_saving(&merged, &truth, items.len() as u64)?;
        check_space_saving(&reversed, &truth, items.len() as u64)?;
    }
}

// ---------------------------------------------------------------- count-min

#[test]
fn count_min_never_undercounts_and_respects_epsilon() {
    let items = zipf_items(11, 200_000, 20_000);
    let truth = exact_counts(&items);
    let (eps, delta) = (0.001, 0.01);
    let mut cm = CountMinSketch::params()
        .epsilon(eps)
        .delta(delta)
        .build()
        .unwrap();
    assert_eq!((cm.width(), cm.depth()), (2719, 5));
    for batch in items.chunks(1000) {
        cm.update(batch);
    }
    assert_eq!(cm.total(), items.len() as u64);
    let bound = (eps * items.len() as f64) as u64;
    let mut over = 0;
    for (item, &c) in &truth {
        let e = cm.estimate(item);
        assert!(e >= c);
        if e - c > bound {
            over += 1;
        }
    }
    let rate = f64::from(over) / truth.len() as f64;
    assert!(
        rate <= delta,
        "{over} of {} items exceed the bound",
        truth.len()
    );
    assert!(CountMinSketch::params().epsilon(1.5).build().is_err());
    assert!(CountMinSketch::params().width(0).build().is_err());
}

// ---------------------------------------------------------------- Space-Saving

fn exact_counts(items: &[u64]) -> HashMap<u64, u64> {
    let mut m = HashMap::new();
    for &i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

fn check_space_saving(
    s: &SpaceSaving<u64>,
    truth: &HashMap<u64, u64>,
    total: u64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(s.total(), total);
    let bound = total / s.capacity() as u64;
    for c in s.top(usize::MAX) {
        let t = truth.get(&c.item).copied().unwrap_or(0);
        prop_assert!(c.count >= t, "{:?} undercounts {}", c, t);
        prop_assert!(c.count - c.error <= t, "{:?} lower bound above {}", c, t);
        prop_assert!(c.error <= bound, "{:?} error above N/k = {}", c, bound);
    }
    for (item, &t) in truth {
        if t > bound {
            prop_assert!(
                s.get(item).is_some(),
                "heavy item {} ({}) not monitored",
                item,
                t
            );
        }
    }
    Ok(())
}

#[test]
fn space_saving_finds_the_heavy_hitters() {
    let items = zipf_items(21, 100_000, 10_000);
    let truth = exact_counts(&items);
    let mut s = SpaceSaving::params().capacity(200).build().unwrap();
    for batch in items.chunks(999) {
        s.update(batch);
    }
    check_space_saving(&s, &truth, items.len() as u64).unwrap();
    let mut exact: Vec<(u64, u64)> = truth.iter().map(|(&k, &v)| (v, k)).collect();
    exact.sort_unstable_by(|a, b| b.cmp(a));
    let top: Vec<u64> = s.top(10).iter().map(|c| c.item).collect();
    let want: Vec<u64> = exact.iter().take(10).map(|&(_, k)| k).collect();
    assert_eq!(top, want);
    let json = serde_json::to_string(&s).unwrap();
    let back: SpaceSaving<u64> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let mut a = SpaceSaving::params().capacity(3).build().unwrap();
    a.update(&["x".to_string(), "y".to_string()]);
    let mut b = SpaceSaving::params().capacity(4).build().unwrap();
    b.update(&["x".to_string()]);
    assert!(matches!(
        a.try_merge(&b),
        Err(StatsError::IncompatibleMerge { .. })
    ));
    let mut ab = a.clone();
    ab.merge(&SpaceSaving::default());
    assert_eq!(ab, a);
}

// ---------------------------------------------------------------- histograms

/// Reference binning by linear scan, numpy's rule: [e_i, e_i+1), last bin closed.
fn reference_bin(edges: &[f64], x: f64) -> Option<usize> {
    let n = edges.len() - 1;
    if x < edges[0] || x > edges[n] {
        return None;
    }
    if x == edges[n] {
        return Some(n - 1);
    }
    (0..n).find(|&i| edges[i] <= x && x < edges[i + 1])
}

#[test]
fn histogram_matches_reference_binning() {
    let mut r = rng(5);
    let xs: Vec<f64> = (0..50_000)
        .map(|_| r.random_range(-0.5..10.5))
        .chain([0.0, 10.0, 3.3, f64::NAN])
        .collect();
    for params in [
        Histogram::params().uniform(0.0, 10.0, 7),
        Histogram::params().edges(vec![0.0, 0.1, 1.0, 3.3, 9.99, 10.0]),
    ] {
        let mut h = params.clone().build().unwrap();
        for batch in xs.chunks(4096) {
            h.update(batch);
        }
        let edges = h.edges().to_vec();
        let mut want = vec![0u64; edges.len() - 1];
        let (mut below, mut above) = (0, 0);
        for &x in xs.iter().filter(|x| x.is_finite()) {
            match reference_bin(&edges, x) {
                Some(i) => want[i] += 1,
                None if x < edges[0] => below += 1,
                None => above += 1,
            }
        }
        assert_eq!(h.counts(), &want[..]);
        assert_eq!(
            (h.below(), h.above(), h.skipped_non_finite()),
            (below, above, 1)
        );
        // Merge of halves equals the whole; retract undoes it.
        let mut first = params.clone().build().unwrap();
        first.update(&xs[..20_000]);
        let mut second = params.clone().build().unwrap();
        second.update(&xs[20_000..]);
        let mut merged = first.clone();
        merged.merge(&second);
        assert_eq!(merged, h);
        merged.retract(&second);
        assert_eq!(merged, first);
    }
    assert!(Histogram::params().edges(vec![0.0, 0.0]).build().is_err());
    assert!(Histogram::params().edges(vec![0.0]).build().is_err());
    assert!(Histogram::params().uniform(1.0, 0.0, 3).build().is_err());
    assert!(
        Histogram::params()
            .uniform(0.0, f64::INFINITY, 3)
            .build()
            .is_err()
    );
}

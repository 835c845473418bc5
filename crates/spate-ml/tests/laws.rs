//! Property tests: merge laws of the summaries, and results independent of partition split.

use crate::common::{blobs, linear_targets, max_abs_diff, normal};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, s};
use proptest::prelude::*;
use spate_core::Merge;
use spate_ml::{
    CoresetKMeans, KMeansCoreset, KMeansStats, LeastSquaresStats, OnlineModel, StreamingKMeans,
    StreamingLeastSquares, StreamingLinearRegressionWithSgd, StreamingLogisticRegressionWithSgd,
};

/// Cut `0..n` at the given fractions into contiguous, possibly empty, partitions.
fn cuts(n: usize, fractions: &[f64]) -> Vec<usize> {
    let mut c: Vec<usize> = fractions.iter().map(|f| (f * n as f64) as usize).collect();
    c.push(0);
    c.push(n);
    c.sort_unstable();
    c
}

fn parts<'a>(x: ArrayView2<'a, f64>, c: &[usize]) -> Vec<ArrayView2<'a, f64>> {
    c.windows(2)
        .map(|w| x.slice_move(s![w[0]..w[1], ..]))
        .collect()
}

fn labeled<'a>(
    x: ArrayView2<'a, f64>,
    y: ArrayView1<'a, f64>,
    c: &[usize],
) -> Vec<(ArrayView2<'a, f64>, ArrayView1<'a, f64>)> {
    c.windows(2)
        .map(|w| {
            (
                x.slice_move(s![w[0]..w[1], ..]),
                y.slice_move(s![w[0]..w[1]]),
            )
        })
        .collect()
}

fn close(a: &KMeansStats, b: &KMeansStats) -> bool {
    a.points() == b.points()
        && a.skipped() == b.skipped()
        && (a.cost() - b.cost()).abs() <= 1e-9 * a.cost().abs()
}

/// What every merge of coreset summaries keeps exactly, whatever the grouping and order: the
/// points and skipped rows, weights that add up to the points, and the memory bound.
fn coreset_invariants(c: &KMeansCoreset, points: u64, skipped: u64) -> Result<(), TestCaseError> {
    prop_assert_eq!((c.points(), c.skipped()), (points, skipped));
    let (rows, weights) = c.weighted_points();
    prop_assert_eq!(weights.sum(), points as f64);
    prop_assert!(weights.iter().all(|&w| w >= 1.0));
    prop_assert!(c.len() <= c.capacity());
    prop_assert_eq!(rows.nrows(), c.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Merging coreset summaries is randomized, so not exactly associative or commutative; but
    /// every grouping and order keeps the counts, the total weight and the bound, and the
    /// empty summary is an identity.
    #[test]
    fn coreset_merges_keep_counts_weights_and_bounds_in_any_grouping(
        seed in 0u64..1000,
        f in proptest::collection::vec(0.0f64..1.0, 3),
    ) {
        let (mut points, _) = blobs(2500, 3, 4, 5.0, seed);
        points[(7, 2)] = f64::NAN;
        let model = CoresetKMeans::params(3).coreset_size(20).levels(2).seed(seed).build().unwrap();
        let c = cuts(points.nrows(), &f);
        let s: Vec<KMeansCoreset> =
            parts(points.view(), &c).into_iter().map(|p| model.summarize(p).unwrap()).collect();
        let mut left = s[0].clone();
        for x in &s[1..] {
            left.merge(x);
        }
        let mut pairs = s[0].clone();
        pairs.merge(&s[1]);
        let mut rest = s[2].clone();
        rest.merge(&s[3]);
        pairs.merge(&rest);
        let mut reversed = s[3].clone();
        for x in s[..3].iter().rev() {
            reversed.merge(x);
        }
        for merged in [&left, &pairs, &reversed] {
            coreset_invariants(merged, 2499, 1)?;
        }
        let mut with_identity = KMeansCoreset::default();
        with_identity.merge(&left);
        with_identity.merge(&KMeansCoreset::default());
        prop_assert_eq!(&with_identity, &left);
    }

    #[test]
    fn kmeans_stats_merge_is_associative_commutative_with_identity(
        seed in 0u64..1000,
        f in proptest::collection::vec(0.0f64..1.0, 2),
    ) {
        let (points, _) = blobs(300, 3, 4, 5.0, seed);
        let model = StreamingKMeans::params(3).random_centers(4, 0.0).seed(seed).build().unwrap();
        let c = cuts(points.nrows(), &f);
        let s: Vec<KMeansStats> = parts(points.view(), &c).into_iter().map(|p| model.summarize(p).unwrap()).collect();
        let mut left = s[0].clone();
        left.merge(&s[1]);
        left.merge(&s[2]);
        let mut bc = s[1].clone();
        bc.merge(&s[2]);
        let mut right = s[0].clone();
        right.merge(&bc);
        let mut swapped = s[2].clone();
        swapped.merge(&s[0]);
        swapped.merge(&s[1]);
        let mut with_identity = KMeansStats::default();
        with_identity.merge(&left);
        with_identity.merge(&KMeansStats::default());
        prop_assert!(close(&left, &right));
        prop_assert!(close(&left, &swapped));
        prop_assert_eq!(&with_identity, &left);
        let whole = model.summarize(points.view()).unwrap();
        prop_assert!(close(&left, &whole));
    }

    #[test]
    fn least_squares_stats_merge_is_associative_with_identity(
        seed in 0u64..1000,
        f in proptest::collection::vec(0.0f64..1.0, 2),
        lambda in prop_oneof![Just(1.0), 0.9f64..1.0],
    ) {
        let x = normal(300, 2, seed) + 1e3;
        let y = linear_targets(&x, &[2.0, -1.0], 5.0, 1.0, seed + 1);
        let model = StreamingLeastSquares::params(2).forgetting_factor(lambda).build().unwrap();
        let s: Vec<LeastSquaresStats> =
            labeled(x.view(), y.view(), &cuts(300, &f)).into_iter().map(|p| model.summarize(p).unwrap()).collect();
        let mut left = s[0].clone();
        left.merge(&s[1]);
        left.merge(&s[2]);
        let mut bc = s[1].clone();
        bc.merge(&s[2]);
        let mut right = s[0].clone();
        right.merge(&bc);
        let mut with_identity = LeastSquaresStats::default();
        with_identity.merge(&left);
        with_identity.merge(&LeastSquaresStats::default());
        prop_assert_eq!(&with_identity, &left);
        let (mut a, mut b) = (model.clone(), model.clone());
        a.apply(left).unwrap();
        b.apply(right).unwrap();
        prop_assert!(max_abs_diff(a.weights().iter().copied(), b.weights().iter().copied()) < 1e-9);
        prop_assert!((a.intercept() - b.intercept()).abs() < 1e-6);
    }

    #[test]
    fn gradient_stats_merge_is_commutative(seed in 0u64..1000, cut in 0usize..=200) {
        let x = normal(200, 3, seed);
        let y = linear_targets(&x, &[1.0, 2.0, 3.0], 0.0, 1.0, seed + 1);
        let model = StreamingLinearRegressionWithSgd::params(3).intercept(true).build().unwrap();
        let a = model.summarize((x.slice(s![..cut, ..]), y.slice(s![..cut]))).unwrap();
        let b = model.summarize((x.slice(s![cut.., ..]), y.slice(s![cut..]))).unwrap();
        let (mut ab, mut ba) = (a.clone(), b.clone());
        ab.merge(&b);
        ba.merge(&a);
        prop_assert_eq!((ab.rows(), ab.sampled()), (ba.rows(), ba.sampled()));
        let (mut m1, mut m2) = (model.clone(), model.clone());
        m1.apply(ab).unwrap();
        m2.apply(ba).unwrap();
        prop_assert!(max_abs_diff(m1.weights().iter().copied(), m2.weights().iter().copied()) < 1e-12);
    }

    #[test]
    fn kmeans_does_not_depend_on_partitioning(
        seed in 0u64..1000,
        f in proptest::collection::vec(0.0f64..1.0, 0..6),
        decay in 0.0f64..=1.0,
    ) {
        let (points, _) = blobs(1200, 4, 3, 8.0, seed);
        let build = || StreamingKMeans::params(4).decay(decay).kmeans_plus_plus(300).seed(seed).build().unwrap();
        let (mut one, mut many) = (build(), build());
        for batch in points.axis_chunks_iter(ndarray::Axis(0), 200) {
            let a = one.update(batch).unwrap();
            let b = many.update_partitions(&parts(batch, &cuts(batch.nrows(), &f))).unwrap();
            prop_assert_eq!(a.points, b.points);
            prop_assert_eq!(a.splits, b.splits);
        }
        prop_assert!(max_abs_diff(one.centers().iter().copied(), many.centers().iter().copied()) < 1e-9);
        prop_assert!(max_abs_diff(one.weights().iter().copied(), many.weights().iter().copied()) < 1e-9);
    }

    #[test]
    fn least_squares_does_not_depend_on_partitioning(
        seed in 0u64..1000,
        f in proptest::collection::vec(0.0f64..1.0, 0..6),
        lambda in prop_oneof![Just(1.0), 0.9f64..1.0],
    ) {
        let x = normal(600, 3, seed) + 100.0;
        let y = linear_targets(&x, &[1.0, -2.0, 0.5], 3.0, 1.0, seed + 1);
        let build = || StreamingLeastSquares::params(3).forgetting_factor(lambda).ridge(1e-3).build().unwrap();
        let (mut one, mut many) = (build(), build());
        for start in (0..600).step_by(150) {
            let (bx, by) = (x.slice(s![start..start + 150, ..]), y.slice(s![start..start + 150]));
            one.update((bx, by)).unwrap();
            many.update_partitions(&labeled(bx, by, &cuts(150, &f))).unwrap();
        }
        prop_assert!(max_abs_diff(one.weights().iter().copied(), many.weights().iter().copied()) < 1e-9);
        prop_assert!((one.intercept() - many.intercept()).abs() < 1e-7);
    }

    #[test]
    fn sgd_does_not_depend_on_partitioning(
        seed in 0u64..1000,
        f in proptest::collection::vec(0.0f64..1.0, 0..6),
        fraction in prop_oneof![Just(1.0), 0.2f64..1.0],
    ) {
        let x = normal(400, 3, seed);
        let y = linear_targets(&x, &[1.0, -2.0, 0.5], 0.0, 0.5, seed + 1);
        let labels: Array1<f64> = y.mapv(|v| f64::from(v > 0.0));
        let build = || StreamingLinearRegressionWithSgd::params(3).intercept(true).mini_batch_fraction(fraction).seed(seed).build().unwrap();
        let build_logistic = || StreamingLogisticRegressionWithSgd::params(3).mini_batch_fraction(fraction).build().unwrap();
        let (mut one, mut many) = (build(), build());
        let (mut lone, mut lmany) = (build_logistic(), build_logistic());
        for start in (0..400).step_by(100) {
            let (bx, by, bl) = (x.slice(s![start..start + 100, ..]), y.slice(s![start..start + 100]), labels.slice(s![start..start + 100]));
            let c = cuts(100, &f);
            let a = one.update((bx, by)).unwrap();
            let b = many.update_partitions(&labeled(bx, by, &c)).unwrap();
            prop_assert_eq!((a.rows, a.steps, a.converged), (b.rows, b.steps, b.converged));
            lone.update((bx, bl)).unwrap();
            lmany.update_partitions(&labeled(bx, bl, &c)).unwrap();
        }
        prop_assert!(max_abs_diff(one.weights().iter().copied(), many.weights().iter().copied()) < 1e-9);
        prop_assert!(max_abs_diff(lone.weights().iter().copied(), lmany.weights().iter().copied()) < 1e-9);
    }
}

#[test]
fn cuts_cover_the_range() {
    assert_eq!(cuts(10, &[0.5, 0.25]), vec![0, 2, 5, 10]);
    let x = Array2::<f64>::zeros((10, 1));
    assert_eq!(parts(x.view(), &cuts(10, &[0.5])).len(), 2);
}

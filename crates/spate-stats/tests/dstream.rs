//! The DStream adapters against direct computations over the same data, on the reference
//! runtime and on rayon with 1, 2 and 7 partitions per batch; windows with an inverse
//! against recomputation over many slides; driver-side state restored from a checkpoint.

use crate::common::{assert_close, rel_err, rng, two_pass};
use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal, Zipf};
use spate_core::stream::{
    CheckpointConfig, FastForwardClock, ManagedState, QueueHandle, ReplaySource, StreamingContext,
};
use spate_core::{BatchTime, DStream, Data, Error, SpateContext, Window};
use spate_local::RayonRuntime;
use spate_stats::{
    Adwin, BinarySample, CountMinSketch, CovarianceMatrix, DStreamColumnStatsExt, DStreamSketchExt,
    DStreamStatsExt, DStreamTestExt, DriftReport, EwMoments, Histogram, HyperLogLog, Moments,
    PageHinkley, QuantileSketch, SpaceSaving, StreamingTest, TestMethod, TestResult,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every runtime and partition count the adapters must agree on.
fn setups() -> Vec<(String, SpateContext, usize)> {
    let mut out = Vec::new();
    for p in [1, 2, 7] {
        out.push((
            format!("sequential, {p} partitions"),
            SpateContext::sequential(p),
            p,
        ));
        let rayon = SpateContext::builder(RayonRuntime::new(2).unwrap())
            .default_parallelism(2)
            .build()
            .unwrap();
        out.push((format!("rayon(2), {p} partitions"), rayon, p));
    }
    out
}

type Collected<U> = Arc<Mutex<Vec<(BatchTime, Vec<U>)>>>;

/// A streaming context with 1 s batches on a fast-forward clock, fed by a queue.
struct Run<T> {
    ssc: StreamingContext,
    queue: QueueHandle<T>,
    input: DStream<T>,
}

impl<T: Data> Run<T> {
    fn new(sc: &SpateContext, partitions: usize) -> Run<T> {
        let ssc = StreamingContext::builder(sc)
            .batch_interval(Duration::from_secs(1))
            .clock(FastForwardClock::new())
            .partitions(partitions)
            .build()
            .unwrap();
        let (queue, input) = ssc.queue_stream::<T>(true).unwrap();
        Run { ssc, queue, input }
    }

    fn collect<U: Data>(&self, stream: &DStream<U>) -> Collected<U> {
        let out: Collected<U> = Arc::default();
        let sink = Arc::clone(&out);
        stream
            .foreach_rdd(move |rdd, t| {
                let records = rdd.collect()?;
                sink.lock().unwrap().push((t, records));
                Ok(())
            })
            .unwrap();
        out
    }

    /// One batch per element of `batches`, run to the end.
    fn run(self, batches: &[Vec<T>]) {
        for batch in batches {
            self.queue.push(batch.clone());
        }
        self.queue.close();
        self.ssc.start().unwrap();
        self.ssc.await_termination().unwrap();
    }
}

/// The single record of every batch, in batch order.
fn one_per_batch<U: Clone>(collected: &Collected<U>, batches: usize) -> Vec<U> {
    let got = collected.lock().unwrap();
    assert_eq!(got.len(), batches, "one RDD per batch");
    got.iter()
        .map(|(t, records)| {
            assert_eq!(records.len(), 1, "one record at {t}");
            records[0].clone()
        })
        .collect()
}

/// Batches `(time - length, time]` of 1 s batches, concatenated (batch k has time k s).
fn window_values<T: Clone>(batches: &[Vec<T>], time: BatchTime, length: u64) -> Vec<T> {
    let last = (time.0 / 1000) as usize;
    let first = last.saturating_sub(length as usize);
    batches[first..last].concat()
}

/// Runs `per_batch` and `windowed` (over windows of `length` batches sliding by `slide`) on
/// every setup, and checks each batch's summary and each window's against the same records
/// with `check`.
fn check_batches_and_windows<T: Data, S: Data>(
    batches: &[Vec<T>],
    (length, slide): (u64, u64),
    per_batch: impl Fn(&DStream<T>) -> DStream<S>,
    windowed: impl Fn(&DStream<T>, Window) -> spate_core::Result<DStream<S>>,
    check: impl Fn(&S, &[T]),
) {
    let window = Window::new(Duration::from_secs(length), Duration::from_secs(slide));
    for (_, sc, partitions) in setups() {
        let run = Run::<T>::new(&sc, partitions);
        let got = run.collect(&per_batch(&run.input));
        let got_windows = run.collect(&windowed(&run.input, window).unwrap());
        run.run(batches);

        for (summary, records) in one_per_batch(&got, batches.len()).iter().zip(batches) {
            check(summary, records);
        }
        let got_windows = got_windows.lock().unwrap();
        assert_eq!(got_windows.len(), batches.len() / slide as usize);
        for (t, summary) in got_windows.iter() {
            check(&summary[0], &window_values(batches, *t, length));
        }
    }
}

/// Batch sizes that cross the moments kernel's 2048-value blocks and include empty batches.
const SIZES: [usize; 8] = [0, 1, 3, 500, 2048, 2049, 4000, 37];

/// Lognormal (σ = 1.5) values scaled by 3 plus `offset`, every 97th a NaN.
fn value_batches(seed: u64, count: usize, offset: f64) -> Vec<Vec<f64>> {
    let d = LogNormal::new(0.0, 1.5).unwrap();
    let mut r = rng(seed);
    let mut i = 0_usize;
    (0..count)
        .map(|b| {
            (0..SIZES[b % SIZES.len()])
                .map(|_| {
                    i += 1;
                    if i.is_multiple_of(97) {
                        f64::NAN
                    } else {
                        offset + 3.0 * d.sample(&mut r)
                    }
                })
                .collect()
        })
        .collect()
}

/// `m` against the two-pass reference over the finite values of `xs`: counts exactly,
/// moments to `tol` relative (standardized ones with an absolute floor of 1), extremes
/// exactly when `extremes`.
#[track_caller]
fn assert_moments(m: &Moments, xs: &[f64], tol: f64, extremes: bool) {
    let finite: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    assert_eq!(m.count(), finite.len() as u64);
    assert_eq!(m.skipped_non_finite(), (xs.len() - finite.len()) as u64);
    if finite.is_empty() {
        assert_eq!(m.mean(), None);
        return;
    }
    let (mean, var, skew, kurt) = two_pass(&finite);
    assert_close("mean", m.mean().unwrap(), mean, tol);
    assert_close("variance", m.population_variance().unwrap(), var, tol);
    if var > 0.0 {
        let (s, k) = (m.skewness().unwrap(), m.kurtosis().unwrap());
        assert!(
            (s - skew).abs() / skew.abs().max(1.0) <= tol,
            "skewness {s} vs {skew}"
        );
        assert!(
            (k - kurt).abs() / kurt.abs().max(1.0) <= tol,
            "kurtosis {k} vs {kurt}"
        );
    }
    if extremes {
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((m.min(), m.max()), (Some(lo), Some(hi)));
    }
}

// ---------------------------------------------------------------- moments

#[test]
fn per_batch_and_windowed_moments_match_a_two_pass_reference() {
    let batches = value_batches(1, 24, 1e6);
    let window = Window::new(Duration::from_secs(5), Duration::from_secs(2));
    for (name, sc, partitions) in setups() {
        let run = Run::<f64>::new(&sc, partitions);
        let per_batch = run.collect(&run.input.stats());
        let inverse = run.collect(&run.input.windowed_stats(window).unwrap());
        let recompute = run.collect(&run.input.windowed_stats_recompute(window).unwrap());
        run.run(&batches);

        for (m, xs) in one_per_batch(&per_batch, batches.len())
            .iter()
            .zip(&batches)
        {
            assert_moments(m, xs, 1e-9, true);
        }
        let (inverse, recompute) = (inverse.lock().unwrap(), recompute.lock().unwrap());
        assert_eq!(
            inverse.len(),
            batches.len() / 2,
            "{name}: one window every 2 batches"
        );
        for ((t, inv), (t2, rec)) in inverse.iter().zip(recompute.iter()) {
            assert_eq!(t, t2);
            let xs = window_values(&batches, *t, 5);
            assert_moments(&inv[0], &xs, 1e-9, false);
            assert_moments(&rec[0], &xs, 1e-9, true);
        }
    }
}

#[test]
fn windowed_moments_with_an_inverse_equal_recomputation_over_many_slides() {
    // 10^4 slides of a 40-batch window over values offset by 1e6: the inverse path retracts a
    // batch at every slide and must not drift from the merge of the window's batches.
    let mut r = rng(7);
    let d = Normal::new(1e6, 25.0).unwrap();
    let batches: Vec<Vec<f64>> = (0..10_000)
        .map(|b| (0..(b % 13 + 1) * 3).map(|_| d.sample(&mut r)).collect())
        .collect();
    let window = Window::new(Duration::from_secs(40), Duration::from_secs(1));
    let run = Run::<f64>::new(&SpateContext::sequential(2), 2);
    let inverse = run.collect(&run.input.windowed_stats(window).unwrap());
    let recompute = run.collect(&run.input.windowed_stats_recompute(window).unwrap());
    run.run(&batches);

    let inverse = one_per_batch(&inverse, batches.len());
    let recompute = one_per_batch(&recompute, batches.len());
    let mut worst: f64 = 0.0;
    for (inv, rec) in inverse.iter().zip(&recompute) {
        assert_eq!(inv.count(), rec.count());
        for (a, b) in [
            (inv.mean(), rec.mean()),
            (inv.population_variance(), rec.population_variance()),
        ] {
            worst = worst.max(rel_err(a.unwrap(), b.unwrap()));
        }
        for (a, b) in [
            (inv.skewness(), rec.skewness()),
            (inv.kurtosis(), rec.kurtosis()),
        ] {
            let (a, b) = (a.unwrap(), b.unwrap());
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
        }
    }
    assert!(worst <= 1e-9, "worst relative difference {worst:e}");
    let last = BatchTime(batches.len() as u64 * 1000);
    assert_moments(
        &inverse[batches.len() - 1],
        &window_values(&batches, last, 40),
        1e-9,
        false,
    );
}

#[test]
fn per_column_moments_skip_and_count_missing_values() {
    // Three columns, each with its own missing values (NaN), as a CSV with gaps gives them.
    let mut r = rng(3);
    let batches: Vec<Vec<Vec<f64>>> = (0..12)
        .map(|b| {
            (0..SIZES[b % SIZES.len()])
                .map(|_| {
                    let x: f64 = r.sample(rand_distr::StandardNormal);
                    let row = vec![x, 100.0 + 2.0 * x + r.random::<f64>(), r.random::<f64>()];
                    row.into_iter()
                        .map(|v| {
                            if r.random_range(0..20) == 0 {
                                f64::NAN
                            } else {
                                v
                            }
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let column = |rows: &[Vec<f64>], j: usize| rows.iter().map(|row| row[j]).collect::<Vec<_>>();
    let window = Window::new(Duration::from_secs(3), Duration::from_secs(1));
    for (name, sc, partitions) in setups() {
        let run = Run::<Vec<f64>>::new(&sc, partitions);
        let per_batch = run.collect(&run.input.column_stats());
        let inverse = run.collect(&run.input.windowed_column_stats(window).unwrap());
        let recompute = run.collect(&run.input.windowed_column_stats_recompute(window).unwrap());
        run.run(&batches);

        for (stats, rows) in one_per_batch(&per_batch, batches.len())
            .iter()
            .zip(&batches)
        {
            assert_eq!(stats.len(), if rows.is_empty() { 0 } else { 3 }, "{name}");
            for (j, m) in stats.columns().iter().enumerate() {
                assert_moments(m, &column(rows, j), 1e-9, true);
            }
        }
        let inverse = one_per_batch(&inverse, batches.len());
        let recompute = one_per_batch(&recompute, batches.len());
        for (k, (inv, rec)) in inverse.iter().zip(&recompute).enumerate() {
            let rows = window_values(&batches, BatchTime((k as u64 + 1) * 1000), 3);
            for j in 0..inv.len().max(rec.len()) {
                assert_moments(inv.get(j).unwrap(), &column(&rows, j), 1e-9, false);
                assert_moments(rec.get(j).unwrap(), &column(&rows, j), 1e-9, true);
            }
        }
    }
}

// ---------------------------------------------------------------- quantiles and histograms

/// `sketch` agrees with a sketch built directly over `xs`, and each of its quantiles is
/// within the relative accuracy of a value of the right rank in the sorted data.
#[track_caller]
fn assert_quantiles(sketch: &QuantileSketch, xs: &[f64]) {
    let mut direct = QuantileSketch::params()
        .relative_accuracy(0.01)
        .build()
        .unwrap();
    direct.update(xs);
    let mut sorted: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sketch.count(), sorted.len() as u64);
    assert_eq!(
        sketch.skipped_non_finite(),
        (xs.len() - sorted.len()) as u64
    );
    for i in 0..=20 {
        let q = f64::from(i) / 20.0;
        let got = sketch.quantile(q).unwrap();
        assert_eq!(
            got,
            direct.quantile(q).unwrap(),
            "q = {q}: merged partitions differ"
        );
        if let Some(v) = got {
            let exact = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
            assert!(
                (v - exact).abs() <= 0.01 * exact.abs() + 1e-12,
                "q = {q}: {v} vs {exact}"
            );
        }
    }
}

#[test]
fn quantile_sketches_per_batch_and_window_equal_one_sketch_over_the_same_values() {
    let empty = || {
        QuantileSketch::params()
            .relative_accuracy(0.01)
            .build()
            .unwrap()
    };
    check_batches_and_windows(
        &value_batches(11, 16, 0.0),
        (4, 2),
        |v| v.quantiles(empty()),
        |v, w| v.windowed_quantiles(empty(), w),
        assert_quantiles,
    );
}

/// Counts per bin by a linear scan over explicit edges: `[e_i, e_{i+1})`, the last closed.
fn bin_counts(xs: &[f64], edges: &[f64]) -> (Vec<u64>, u64, u64) {
    let bins = edges.len() - 1;
    let (mut counts, mut below, mut above) = (vec![0; bins], 0, 0);
    for &x in xs.iter().filter(|x| x.is_finite()) {
        if x < edges[0] {
            below += 1;
        } else if x > edges[bins] {
            above += 1;
        } else {
            let i = (0..bins).find(|&i| x < edges[i + 1]).unwrap_or(bins - 1);
            counts[i] += 1;
        }
    }
    (counts, below, above)
}

#[test]
fn histograms_per_batch_and_window_count_exactly() {
    let edges: Vec<f64> = (0..=30).map(|i| f64::from(i) * 0.5).collect();
    let empty = || Histogram::params().edges(edges.clone()).build().unwrap();
    check_batches_and_windows(
        &value_batches(5, 16, 0.0),
        (6, 1),
        |v| v.histogram(empty()),
        |v, w| v.windowed_histogram(empty(), w),
        |h, xs| {
            let (counts, below, above) = bin_counts(xs, &edges);
            assert_eq!(
                (h.counts(), h.below(), h.above()),
                (&counts[..], below, above)
            );
            let skipped = xs.iter().filter(|x| !x.is_finite()).count() as u64;
            assert_eq!(h.skipped_non_finite(), skipped);
        },
    );
}

// ---------------------------------------------------------------- item sketches

fn item_batches(seed: u64, count: usize) -> Vec<Vec<u64>> {
    let d = Zipf::new(2000.0, 1.1).unwrap();
    let mut r = rng(seed);
    (0..count)
        .map(|b| {
            (0..300 + 97 * (b % 5))
                .map(|_| d.sample(&mut r) as u64)
                .collect()
        })
        .collect()
}

fn exact_counts(items: &[u64]) -> HashMap<u64, u64> {
    let mut counts = HashMap::new();
    for &i in items {
        *counts.entry(i).or_insert(0) += 1;
    }
    counts
}

#[test]
fn distinct_counts_frequencies_and_heavy_hitters_match_direct_sketches() {
    let batches = item_batches(21, 14);
    let window = Window::new(Duration::from_secs(4), Duration::from_secs(2));
    let hll = || HyperLogLog::params().precision(12).build().unwrap();
    let cms = || {
        CountMinSketch::params()
            .width(512)
            .depth(4)
            .build()
            .unwrap()
    };
    let top = || SpaceSaving::<u64>::params().capacity(50).build().unwrap();
    for (name, sc, partitions) in setups() {
        let run = Run::<u64>::new(&sc, partitions);
        let distinct = run.collect(&run.input.count_approx_distinct(hll()));
        let distinct_w = run.collect(
            &run.input
                .windowed_count_approx_distinct(hll(), window)
                .unwrap(),
        );
        let freq = run.collect(&run.input.count_min(cms()));
        let freq_w = run.collect(&run.input.windowed_count_min(cms(), window).unwrap());
        let heavy = run.collect(&run.input.top_k(top()));
        let heavy_w = run.collect(&run.input.windowed_top_k(top(), window).unwrap());
        run.run(&batches);

        let check = |items: &[u64], h: &HyperLogLog, c: &CountMinSketch, s: &SpaceSaving<u64>| {
            // Register maxima and counters merge exactly: the partition sketches merged
            // equal one sketch over the same items.
            let mut direct = hll();
            direct.update(items);
            assert_eq!(h, &direct, "{name}");
            let exact = exact_counts(items);
            let distinct = exact.len() as f64;
            assert!(
                (h.estimate() - distinct).abs() <= 0.05 * distinct,
                "{name}: {distinct}"
            );
            let mut direct = cms();
            direct.update(items);
            assert_eq!(c.total(), items.len() as u64);
            for (item, &n) in &exact {
                assert_eq!(c.estimate(item), direct.estimate(item), "{name}");
                assert!(c.estimate(item) >= n);
            }
            // Space-Saving's guarantees for the merged stream.
            assert_eq!(s.total(), items.len() as u64);
            let monitored: HashSet<u64> = s.top(usize::MAX).iter().map(|c| c.item).collect();
            for counter in s.top(usize::MAX) {
                let truth = exact.get(&counter.item).copied().unwrap_or(0);
                assert!(counter.count - counter.error <= truth && truth <= counter.count);
            }
            let threshold = items.len() as u64 / s.capacity() as u64;
            for (item, &n) in &exact {
                assert!(
                    n <= threshold || monitored.contains(item),
                    "{name}: {item} ({n})"
                );
            }
        };
        let distinct = one_per_batch(&distinct, batches.len());
        let freq = one_per_batch(&freq, batches.len());
        let heavy = one_per_batch(&heavy, batches.len());
        for (k, items) in batches.iter().enumerate() {
            check(items, &distinct[k], &freq[k], &heavy[k]);
        }
        let (distinct_w, freq_w, heavy_w) = (
            distinct_w.lock().unwrap(),
            freq_w.lock().unwrap(),
            heavy_w.lock().unwrap(),
        );
        assert_eq!(distinct_w.len(), batches.len() / 2);
        for k in 0..distinct_w.len() {
            let t = distinct_w[k].0;
            assert_eq!((freq_w[k].0, heavy_w[k].0), (t, t));
            let items = window_values(&batches, t, 4);
            check(
                &items,
                &distinct_w[k].1[0],
                &freq_w[k].1[0],
                &heavy_w[k].1[0],
            );
        }
    }
}

// ---------------------------------------------------------------- covariance

/// The covariance of the rows of length `dim` without NaN, by a naive two-pass loop.
fn naive_covariance(rows: &[Vec<f64>], dim: usize) -> (u64, Vec<Vec<f64>>) {
    let kept: Vec<&Vec<f64>> = rows
        .iter()
        .filter(|r| r.len() == dim && r.iter().all(|x| x.is_finite()))
        .collect();
    let n = kept.len() as f64;
    let mean: Vec<f64> = (0..dim)
        .map(|j| kept.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let cov = (0..dim)
        .map(|a| {
            (0..dim)
                .map(|b| {
                    kept.iter()
                        .map(|r| (r[a] - mean[a]) * (r[b] - mean[b]))
                        .sum::<f64>()
                        / (n - 1.0)
                })
                .collect()
        })
        .collect();
    (kept.len() as u64, cov)
}

#[track_caller]
fn assert_covariance(got: &CovarianceMatrix, rows: &[Vec<f64>]) {
    let (n, want) = naive_covariance(rows, 3);
    assert_eq!(got.count(), n);
    assert_eq!(got.skipped_rows(), rows.len() as u64 - n);
    let c = got.covariance().unwrap();
    for a in 0..3 {
        for b in 0..3 {
            let scale = (want[a][a] * want[b][b]).sqrt();
            assert!(
                (c[[a, b]] - want[a][b]).abs() <= 1e-9 * scale,
                "cov[{a}][{b}] = {} vs {}",
                c[[a, b]],
                want[a][b]
            );
        }
    }
}

#[test]
fn covariance_per_batch_and_window_matches_a_naive_reference() {
    let mut r = rng(8);
    let mut normal = move || -> f64 { r.sample(rand_distr::StandardNormal) };
    let batches: Vec<Vec<Vec<f64>>> = (0..10)
        .map(|b| {
            (0..200 + 350 * (b % 4))
                .map(|i| {
                    let (x, e) = (normal(), normal());
                    match i % 101 {
                        7 => vec![x, f64::NAN, 1.0],
                        13 => vec![x, x],
                        _ => vec![1e4 + x, 3.0 * x + e, x - 2.0 * e],
                    }
                })
                .collect()
        })
        .collect();
    check_batches_and_windows(
        &batches,
        (3, 1),
        |rows| rows.covariance(3).unwrap(),
        |rows, w| rows.windowed_covariance(3, w),
        assert_covariance,
    );
    let run = Run::<Vec<f64>>::new(&SpateContext::sequential(1), 1);
    assert!(matches!(
        run.input.covariance(0),
        Err(Error::InvalidParameter { .. })
    ));
}

// ---------------------------------------------------------------- in stream order

/// N(0, 1) for the first half of the batches, then N(2, 1); every 50th value NaN.
fn shifting_batches(seed: u64, count: usize, size: usize) -> Vec<Vec<f64>> {
    let mut r = rng(seed);
    let (before, after) = (
        Normal::new(0.0, 1.0).unwrap(),
        Normal::new(2.0, 1.0).unwrap(),
    );
    (0..count)
        .map(|b| {
            (0..size)
                .map(|i| match (i % 50, b < count / 2) {
                    (49, _) => f64::NAN,
                    (_, true) => before.sample(&mut r),
                    (_, false) => after.sample(&mut r),
                })
                .collect()
        })
        .collect()
}

#[test]
fn drift_detectors_see_the_stream_in_order_exactly_once() {
    let batches = shifting_batches(4, 40, 150);
    let adwin = || Adwin::params().build().unwrap();
    let ph = || {
        PageHinkley::params()
            .delta(0.5)
            .threshold(25.0)
            .build()
            .unwrap()
    };
    let (mut direct_adwin, mut direct_ph) = (adwin(), ph());
    let want_adwin: Vec<DriftReport> = batches.iter().map(|b| direct_adwin.update(b)).collect();
    for batch in &batches {
        direct_ph.update(batch);
    }
    assert!(direct_adwin.detections() > 0 && direct_ph.detections() > 0);

    for (name, sc, partitions) in setups() {
        let run = Run::<f64>::new(&sc, partitions);
        let a = run.ssc.managed_state("adwin", adwin()).unwrap();
        let p = run.ssc.managed_state("page-hinkley", ph()).unwrap();
        let got_adwin = run.collect(&run.input.detect_drift(&a).unwrap());
        // Nothing reads the Page-Hinkley reports: the detector must advance all the same.
        let _unread = run.input.detect_drift(&p).unwrap();
        run.run(&batches);

        assert_eq!(
            one_per_batch(&got_adwin, batches.len()),
            want_adwin,
            "{name}"
        );
        assert_eq!(a.get(), direct_adwin, "{name}");
        assert_eq!(p.get(), direct_ph, "{name}");
    }
}

#[test]
fn exponentially_weighted_moments_follow_the_whole_stream() {
    let batches = shifting_batches(9, 20, 333);
    let empty = || EwMoments::params().alpha(0.01).build().unwrap();
    let mut direct = empty();
    let want: Vec<EwMoments> = batches
        .iter()
        .map(|b| {
            direct.update(b);
            direct.clone()
        })
        .collect();
    for (name, sc, partitions) in setups() {
        let run = Run::<f64>::new(&sc, partitions);
        let state = run.ssc.managed_state("ewm", empty()).unwrap();
        let got = run.collect(&run.input.ew_stats(&state).unwrap());
        run.run(&batches);

        for (g, w) in one_per_batch(&got, batches.len()).iter().zip(&want) {
            assert_eq!(g.count(), w.count(), "{name}");
            assert_close("ew mean", g.mean().unwrap(), w.mean().unwrap(), 1e-11);
            assert_close(
                "ew variance",
                g.variance().unwrap(),
                w.variance().unwrap(),
                1e-11,
            );
        }
        assert_eq!(state.get().count(), direct.count());
    }
}

fn ab_batches(seed: u64, count: usize) -> Vec<Vec<BinarySample>> {
    let mut r = rng(seed);
    let (control, experiment) = (
        Normal::new(10.0, 2.0).unwrap(),
        Normal::new(10.4, 3.0).unwrap(),
    );
    (0..count)
        .map(|b| {
            (0..(b % 4) * 60)
                .map(|i| {
                    let is_experiment = r.random_range(0..3) == 0;
                    let value = match (i % 71, is_experiment) {
                        (70, _) => f64::NAN,
                        (_, true) => experiment.sample(&mut r),
                        (_, false) => control.sample(&mut r),
                    };
                    BinarySample {
                        is_experiment,
                        value,
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn streaming_test_matches_the_test_applied_batch_by_batch() {
    let batches = ab_batches(12, 24);
    for (peace, window, method) in [(0, 0, TestMethod::Welch), (3, 5, TestMethod::Student)] {
        let params = StreamingTest::params()
            .peace_period(peace)
            .window_size(window)
            .method(method);
        let mut direct = params.build().unwrap();
        let want: Vec<Option<TestResult>> = batches.iter().map(|b| direct.update(b)).collect();
        assert!(want.iter().filter(|r| r.is_some()).count() >= 10);
        for (name, sc, partitions) in setups() {
            let run = Run::<BinarySample>::new(&sc, partitions);
            let test = run
                .ssc
                .managed_state("ab", params.build().unwrap())
                .unwrap();
            let got = run.collect(&run.input.streaming_test(&test).unwrap());
            run.run(&batches);

            let got = got.lock().unwrap();
            assert_eq!(got.len(), batches.len(), "{name}");
            for ((_, g), w) in got.iter().zip(&want) {
                assert_eq!(g.len(), usize::from(w.is_some()), "{name}");
                // Partition summaries round differently from one summary of the batch (f64
                // block sums, ≈1e-16); the p-value tolerance is 1e-9.
                if let (Some(g), Some(w)) = (g.first(), w) {
                    assert_eq!(g.method, w.method);
                    assert_close("p-value", g.p_value, w.p_value, 1e-9);
                    assert_close("statistic", g.statistic, w.statistic, 1e-9);
                    assert_close("df", g.degrees_of_freedom, w.degrees_of_freedom, 1e-9);
                }
            }
            assert_eq!(test.get().batches_seen(), batches.len() as u64);
        }
    }
}

// ---------------------------------------------------------------- recovery

type Outputs = Arc<Mutex<BTreeMap<(u64, &'static str), String>>>;

/// The driver-side states of the recovery program.
#[derive(Clone, Debug, PartialEq)]
struct Driver {
    adwin: Adwin,
    ewm: EwMoments,
    test: StreamingTest,
}

/// The managed states of a built program.
struct States {
    adwin: ManagedState<Adwin>,
    ewm: ManagedState<EwMoments>,
    test: ManagedState<StreamingTest>,
}

/// The managed states of the program built last.
#[derive(Default)]
struct Handles(Mutex<Option<States>>);

impl Handles {
    fn get(&self) -> Driver {
        let guard = self.0.lock().unwrap();
        let states = guard.as_ref().unwrap();
        Driver {
            adwin: states.adwin.get(),
            ewm: states.ewm.get(),
            test: states.test.get(),
        }
    }
}

/// Drift detection, EW moments, an A/B test and windowed moments over one replayed
/// stream; batch `fail_at` fails after every adapter has run (a crash).
fn program(
    sc: &SpateContext,
    data: Arc<Vec<Vec<BinarySample>>>,
    out: &Outputs,
    handles: &Handles,
    fail_at: &Arc<AtomicU64>,
) -> spate_core::Result<StreamingContext> {
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(3)
        .build()?;
    let samples = ssc.source_stream(ReplaySource::shared(data))?;
    let values = samples.map(|s| s.value);
    let adwin = ssc.managed_state("adwin", Adwin::params().build().unwrap())?;
    let ewm = ssc.managed_state("ewm", EwMoments::params().alpha(0.02).build().unwrap())?;
    let test = ssc.managed_state(
        "ab test",
        StreamingTest::params()
            .peace_period(2)
            .window_size(6)
            .build()
            .unwrap(),
    )?;
    *handles.0.lock().unwrap() = Some(States {
        adwin: adwin.clone(),
        ewm: ewm.clone(),
        test: test.clone(),
    });

    let record = |name: &'static str| {
        let out = Arc::clone(out);
        move |rdd: spate_core::Rdd<String>, t: BatchTime| {
            out.lock()
                .unwrap()
                .insert((t.0, name), rdd.collect()?.join(";"));
            Ok(())
        }
    };
    values
        .detect_drift(&adwin)?
        .map(|r| format!("{r:?}"))
        .foreach_rdd(record("drift"))?;
    values
        .ew_stats(&ewm)?
        .map(|m| format!("{:?}", m.mean()))
        .foreach_rdd(record("ewm"))?;
    samples
        .streaming_test(&test)?
        .map(|r| format!("{r:?}"))
        .foreach_rdd(record("test"))?;
    values
        .windowed_stats(Window::new(Duration::from_secs(4), Duration::from_secs(2)))?
        .map(|m| format!("{} {:?} {:?}", m.count(), m.mean(), m.population_variance()))
        .foreach_rdd(record("window"))?;
    let fail_at = Arc::clone(fail_at);
    samples.count().foreach_rdd(move |_, t| {
        if t.0 == fail_at.load(Ordering::Relaxed) {
            return Err(Error::Source {
                source_name: "test".into(),
                message: "simulated crash".into(),
            });
        }
        Ok(())
    })?;
    Ok(ssc)
}

#[test]
fn driver_side_state_is_restored_from_a_checkpoint() {
    let data: Vec<Vec<BinarySample>> = shifting_batches(31, 30, 120)
        .into_iter()
        .enumerate()
        .map(|(b, values)| {
            values
                .into_iter()
                .enumerate()
                .map(|(i, value)| BinarySample {
                    is_experiment: (i + b) % 3 == 0,
                    value,
                })
                .collect()
        })
        .collect();
    let data = Arc::new(data);
    let handles = Handles::default();

    let want_out: Outputs = Arc::default();
    let never = Arc::new(AtomicU64::new(0));
    let ssc = program(
        &SpateContext::sequential(2),
        Arc::clone(&data),
        &want_out,
        &handles,
        &never,
    )
    .unwrap();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let want_state = handles.get();
    let want_out = want_out.lock().unwrap().clone();
    assert!(want_state.adwin.detections() > 0);

    for (every, crash_at) in [(4, 14), (5, 23)] {
        let dir = tempfile::tempdir().unwrap();
        let out: Outputs = Arc::default();
        let fail_at = Arc::new(AtomicU64::new(crash_at * 1000));
        let config = CheckpointConfig::every(every);
        let sc = SpateContext::builder(RayonRuntime::new(2).unwrap())
            .default_parallelism(2)
            .build()
            .unwrap();
        let build = || program(&sc, Arc::clone(&data), &out, &handles, &fail_at);
        let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
        ssc.start().unwrap();
        let err = ssc.await_termination().unwrap_err();
        assert!(err.to_string().contains("simulated crash"), "{err}");

        // A new process: fresh contexts and states, restored from the last checkpoint.
        fail_at.store(0, Ordering::Relaxed);
        let sc = SpateContext::builder(RayonRuntime::new(2).unwrap())
            .default_parallelism(2)
            .build()
            .unwrap();
        let build = || program(&sc, Arc::clone(&data), &out, &handles, &fail_at);
        let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
        let last = (crash_at - 1) / every * every;
        assert_eq!(ssc.recovered_from(), Some(BatchTime(last * 1000)));
        assert_eq!(
            handles.get().test.batches_seen(),
            last,
            "restored, not rebuilt"
        );
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        assert_eq!(
            handles.get(),
            want_state,
            "every {every}, crash at {crash_at}"
        );
        assert_eq!(
            *out.lock().unwrap(),
            want_out,
            "every {every}, crash at {crash_at}"
        );
    }
}

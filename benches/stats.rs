//! spate-stats throughput: values per second per core for moments (against a hand-written
//! two-pass loop, the baseline) and per-value cost of each sketch.
//!
//! Run: `cargo bench -p spate-benches --bench stats`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Zipf};
use rand_xoshiro::Xoshiro256PlusPlus;
use spate_stats::{
    CountMinSketch, CovarianceMatrix, EwMoments, Histogram, HyperLogLog, Moments, QuantileSketch,
    SpaceSaving,
};
use std::hint::black_box;
use std::time::Duration;

const N: usize = 1 << 20;

fn values() -> Vec<f64> {
    let mut r = Xoshiro256PlusPlus::seed_from_u64(1);
    let d = LogNormal::new(0.0, 1.5).expect("valid lognormal");
    (0..N).map(|_| 1e6 + d.sample(&mut r)).collect()
}

/// The baseline: a hand-written two-pass loop computing the same four central sums in plain
/// `f64` (no blocking, no compensated combination, no NaN handling).
fn two_pass(xs: &[f64]) -> [f64; 5] {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &x in xs {
        let d = x - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    [n, mean, m2, m3, m4]
}

/// Per-value Welford/Terriberry update of the same moments: what a naive streaming
/// implementation does.
fn welford(xs: &[f64]) -> [f64; 5] {
    let (mut n, mut mean, mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &x in xs {
        let n1 = n;
        n += 1.0;
        let delta = x - mean;
        let delta_n = delta / n;
        let delta_n2 = delta_n * delta_n;
        let term1 = delta * delta_n * n1;
        mean += delta_n;
        m4 += term1 * delta_n2 * (n * n - 3.0 * n + 3.0) + 6.0 * delta_n2 * m2 - 4.0 * delta_n * m3;
        m3 += term1 * delta_n * (n - 2.0) - 3.0 * delta_n * m2;
        m2 += term1;
    }
    [n, mean, m2, m3, m4]
}

fn config(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("stats");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g
}

fn moments(c: &mut Criterion) {
    let xs = values();
    let mut g = config(c);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("moments/baseline_two_pass_loop", |b| {
        b.iter(|| two_pass(black_box(&xs)))
    });
    g.bench_function("moments/naive_welford_per_value", |b| {
        b.iter(|| welford(black_box(&xs)))
    });
    g.bench_function("moments/Moments::update", |b| {
        b.iter(|| {
            let mut m = Moments::new();
            m.update(black_box(&xs));
            m
        })
    });
    for batch in [64usize, 1024] {
        g.bench_with_input(
            BenchmarkId::new("moments/Moments::update_batches", batch),
            &batch,
            |b, &batch| {
                b.iter(|| {
                    let mut m = Moments::new();
                    for chunk in xs.chunks(batch) {
                        m.update(black_box(chunk));
                    }
                    m
                })
            },
        );
    }
    g.bench_function("moments/EwMoments::update", |b| {
        b.iter(|| {
            let mut m = EwMoments::default();
            m.update(black_box(&xs));
            m
        })
    });
    g.finish();
}

fn sketches(c: &mut Criterion) {
    let xs = values();
    let mut r = Xoshiro256PlusPlus::seed_from_u64(2);
    let zipf = Zipf::new(100_000.0, 1.1).expect("valid zipf");
    let items: Vec<u64> = (0..N).map(|_| zipf.sample(&mut r) as u64).collect();
    let uniform: Vec<f64> = (0..N).map(|_| r.random_range(0.0..100.0)).collect();
    let mut g = config(c);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("sketch/QuantileSketch::update", |b| {
        b.iter(|| {
            let mut s = QuantileSketch::default();
            s.update(black_box(&xs));
            s
        })
    });
    g.bench_function("sketch/HyperLogLog::update_u64", |b| {
        b.iter(|| {
            let mut s = HyperLogLog::default();
            s.update(black_box(&items));
            s
        })
    });
    g.bench_function("sketch/CountMinSketch::update_u64", |b| {
        b.iter(|| {
            let mut s = CountMinSketch::default();
            s.update(black_box(&items));
            s
        })
    });
    g.bench_function("sketch/SpaceSaving100::update_u64", |b| {
        b.iter(|| {
            let mut s = SpaceSaving::<u64>::default();
            s.update(black_box(&items));
            s
        })
    });
    let hist = Histogram::params()
        .uniform(0.0, 100.0, 100)
        .build()
        .expect("valid bins");
    g.bench_function("sketch/Histogram100::update", |b| {
        b.iter(|| {
            let mut s = hist.clone();
            s.update(black_box(&uniform));
            s
        })
    });
    g.finish();

    let rows = Array2::from_shape_fn((N / 10, 10), |(i, j)| xs[i * 10 + j]);
    let mut g = config(c);
    g.throughput(Throughput::Elements((N / 10) as u64));
    g.bench_function("covariance/CovarianceMatrix::update_d10_rows", |b| {
        b.iter(|| {
            let mut s = CovarianceMatrix::new();
            s.update(black_box(rows.view())).expect("fixed width");
            s
        })
    });
    g.finish();
}

criterion_group!(benches, moments, sketches);
criterion_main!(benches);

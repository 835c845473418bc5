//! spate-stats through a stream: `stats()` against `Moments::update` and the bare engine,
//! and windowed moments with an inverse against recomputation as the window grows. Prints
//! its figures (wall clock, best of 3).
//!
//! Run: `cargo bench -p spate-benches --bench stats_stream`. Figures: docs/benchmarks.md.

use spate::local::RayonRuntime;
use spate::prelude::*;
use spate::stats::{DStreamStatsExt, Moments};
use spate_benches::replay;
use std::time::Duration;

/// Wall-clock seconds to run `batches` through `build` on a fast-forward clock, best of 3.
fn time_stream(
    sc: &SpateContext,
    partitions: usize,
    batches: &[Vec<f64>],
    build: impl Fn(&DStream<f64>) -> DStream<f64>,
) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let (ssc, input) = replay(sc, batches.iter().cloned(), partitions);
        build(&input)
            .foreach_rdd(|rdd, _| {
                std::hint::black_box(rdd.collect()?);
                Ok(())
            })
            .expect("output");
        let started = std::time::Instant::now();
        ssc.start().expect("start");
        ssc.await_termination().expect("run");
        best = best.min(started.elapsed().as_secs_f64());
    }
    best
}

/// Throughput of `stats()` through the engine against `Moments::update` on the same values
/// and against the engine alone (`count()`), and the cost per slide of windowed moments with
/// an inverse against recomputation as the window grows.
fn main() {
    let big: Vec<Vec<f64>> = (0..20)
        .map(|b| {
            (0..1_000_000)
                .map(|i| 1e6 + ((i * 7919 + b) % 1000) as f64)
                .collect()
        })
        .collect();
    let values = 20e6;
    let started = std::time::Instant::now();
    let mut direct = Moments::new();
    for batch in &big {
        direct.update(batch);
    }
    let direct = values / started.elapsed().as_secs_f64() / 1e6;
    println!("baseline Moments::update, one thread: {direct:.0} M values/s");
    let rayon = |threads| {
        SpateContext::builder(RayonRuntime::new(threads).expect("pool"))
            .default_parallelism(threads)
            .build()
            .expect("context")
    };
    for (name, sc, partitions) in [
        ("sequential, 1 partition", SpateContext::sequential(1), 1),
        ("rayon(2), 2 partitions", rayon(2), 2),
    ] {
        let engine = time_stream(&sc, partitions, &big, |v| v.count().map(|n| n as f64));
        let stats = time_stream(&sc, partitions, &big, |v| {
            v.stats().map(|m| m.mean().unwrap_or(0.0))
        });
        println!(
            "{name}: count() {:.0} M values/s, stats() {:.0} M values/s ({:.2} × baseline)",
            values / engine / 1e6,
            values / stats / 1e6,
            values / stats / 1e6 / direct
        );
    }
    let small: Vec<Vec<f64>> = (0..3000_u32)
        .map(|b| (0..100_u32).map(|i| f64::from(i * 31 + b)).collect())
        .collect();
    let sc = SpateContext::sequential(1);
    let per_batch = time_stream(&sc, 1, &small, |v| v.stats().map(|m| m.count() as f64));
    println!(
        "per-batch stats() of 100 values: {:.1} µs per batch",
        per_batch / 3e-3
    );
    for length in [10, 100, 1000] {
        let window = Window::new(Duration::from_secs(length), Duration::from_secs(1));
        let inverse = time_stream(&sc, 1, &small, |v| {
            v.windowed_stats(window)
                .expect("window")
                .map(|m| m.count() as f64)
        });
        let recompute = time_stream(&sc, 1, &small, |v| {
            v.windowed_stats_recompute(window)
                .expect("window")
                .map(|m| m.count() as f64)
        });
        println!(
            "window of {length} batches: inverse {:.1} µs per slide, recompute {:.1} µs per slide",
            inverse / 3e-3,
            recompute / 3e-3
        );
    }
}

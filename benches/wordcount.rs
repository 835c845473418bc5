//! Word count throughput through `Rdd` and `DStream` against a hand-written single-thread
//! `HashMap` loop (the per-core limit), per-batch overhead of an empty batch, and the cost
//! of a windowed `reduce_by_key_and_window` per slide with and without an inverse.
//!
//! Run: `cargo bench -p spate-benches --bench wordcount`. Figures: docs/benchmarks.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spate::prelude::*;
use spate_benches::{
    corpus, dstream_wordcount, rdd_wordcount, rdd_wordcount_per_word, replay, wordcount_baseline,
};
use std::time::{Duration, Instant};

const CORPUS_BYTES: usize = 50 << 20;

fn count_words(lines: &[String]) -> u64 {
    lines.iter().map(|l| spate::words(l).len() as u64).sum()
}

fn sc(threads: usize) -> SpateContext {
    spate::local::local_context_with_threads(threads).expect("thread pool")
}

fn throughput(c: &mut Criterion) {
    let lines = corpus(CORPUS_BYTES);
    let words = count_words(&lines);
    let batches: Vec<Vec<String>> = lines.chunks(20_000).map(<[String]>::to_vec).collect();
    eprintln!(
        "corpus: {} lines, {} MB, {words} words, {} batches of 20 000 lines",
        lines.len(),
        lines.iter().map(|l| l.len() + 1).sum::<usize>() >> 20,
        batches.len()
    );
    let mut g = c.benchmark_group("wordcount_50MB");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(words));
    g.bench_function("baseline_hashmap_1_thread", |b| {
        b.iter(|| wordcount_baseline(&lines).len())
    });
    for threads in [1, 2] {
        let sc = sc(threads);
        g.bench_with_input(BenchmarkId::new("rdd", threads), &threads, |b, &t| {
            b.iter(|| rdd_wordcount(&sc, lines.to_vec(), 4 * t))
        });
        g.bench_with_input(
            BenchmarkId::new("rdd_per_word", threads),
            &threads,
            |b, &t| b.iter(|| rdd_wordcount_per_word(&sc, lines.to_vec(), 4 * t)),
        );
        g.bench_with_input(
            BenchmarkId::new("dstream_window", threads),
            &threads,
            |b, &t| b.iter(|| dstream_wordcount(&sc, batches.to_vec(), 2 * t)),
        );
    }
    g.finish();
}

/// Per-batch overhead: a graph of a few operators over empty batches.
fn empty_batches(c: &mut Criterion) {
    let mut g = c.benchmark_group("empty_batch");
    g.sample_size(10);
    for threads in [1, 2] {
        let sc = sc(threads);
        g.bench_with_input(BenchmarkId::new("per_batch", threads), &threads, |b, _| {
            b.iter_custom(|iters| {
                let n = 1000;
                let ssc = StreamingContext::builder(&sc)
                    .batch_interval(Duration::from_millis(100))
                    .clock(FastForwardClock::new())
                    .partitions(2)
                    .build()
                    .expect("context");
                let (queue, input) = ssc.queue_stream::<String>(true).expect("queue");
                for _ in 0..n * iters {
                    queue.push(Vec::new());
                }
                queue.close();
                input
                    .map(|l| (l, 1_u64))
                    .reduce_by_key(|a, b| a + b)
                    .foreach_rdd(|rdd, _| rdd.count().map(drop))
                    .expect("output");
                let start = Instant::now();
                ssc.start().expect("start");
                ssc.await_termination().expect("run");
                start.elapsed() / n as u32
            })
        });
    }
    g.finish();
}

/// Per-slide cost of a windowed count over a bounded vocabulary, as the window grows: the
/// inverse version must stay flat (O(batch)), recomputation grows with the window (O(window)).
fn window_cost(c: &mut Criterion) {
    let lines = corpus(2 << 20);
    let batch: Vec<String> = lines[..2_000].to_vec();
    let sc = sc(2);
    let mut g = c.benchmark_group("window_slide");
    g.sample_size(10);
    for length in [10_u64, 50, 200] {
        for inverse in [true, false] {
            let name = if inverse { "with_inverse" } else { "recompute" };
            g.bench_with_input(BenchmarkId::new(name, length), &length, |b, &len| {
                b.iter_custom(|iters| {
                    // Warm the window up to full length, then time `iters` slides.
                    let warm = len as usize;
                    let batches = std::iter::repeat_n(&batch, warm + iters as usize).cloned();
                    let (ssc, input) = replay(&sc, batches, 2);
                    let pairs = input
                        .flat_map(|l: String| spate::words(&l))
                        .map(|w| (w, 1_u64));
                    let w = Window::new(Duration::from_secs(len), Duration::from_secs(1));
                    let windowed = if inverse {
                        pairs.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, w)
                    } else {
                        pairs.reduce_by_key_and_window(|a, b| a + b, w)
                    }
                    .expect("window");
                    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                    let t2 = std::sync::Arc::clone(&times);
                    windowed
                        .foreach_rdd(move |rdd, _| {
                            let start = Instant::now();
                            let n = rdd.count()?;
                            t2.lock().expect("times").push((start.elapsed(), n));
                            Ok(())
                        })
                        .expect("output");
                    let processing = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                    let p2 = std::sync::Arc::clone(&processing);
                    struct Times(std::sync::Arc<std::sync::Mutex<Vec<Duration>>>);
                    impl StreamingListener for Times {
                        fn on_batch_completed(&self, info: &BatchInfo) {
                            self.0
                                .lock()
                                .expect("times")
                                .push(Duration::from_millis(info.processing_time_ms));
                        }
                    }
                    ssc.add_listener(Times(p2));
                    ssc.start().expect("start");
                    ssc.await_termination().expect("run");
                    let all = processing.lock().expect("times");
                    all[warm..].iter().sum()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, throughput, empty_batches, window_cost);
criterion_main!(benches);

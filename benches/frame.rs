//! spate-frame: SQL over frame streams, against polars in batch mode. Prints its figures
//! (wall clock, best of 3, embedded runtime on 2 threads).
//!
//! 1. Cost per slide of a sliding-window grouped aggregate over a 2.5M-row stream, the
//!    incremental plan (per-batch partials, merged and retracted) against re-running polars
//!    over the whole window at every slide, for windows of 10, 25 and 50 batches.
//! 2. A whole file as a stream (10k-row batches, per-batch SQL) against one polars query over
//!    the whole file (CSV read and aggregated once); the stream with and without the
//!    source's read-ahead.
//! 3. The overhead of per-batch SQL on a 1,000-row batch: the query alone through
//!    `SqlQuery::run`, and a whole batch of a stream.
//!
//! Run: `cargo bench -p spate-benches --bench frame [-- --part N]` (`--part` runs one of the
//! three). Figures: docs/benchmarks.md.

use spate::prelude::*;
use spate::stream::ReplaySource;
use spate_frame::polars::prelude::*;
use spate_frame::polars::sql::SQLContext;
use spate_frame::{Frame, FrameFileSource, FrameStream, SqlQuery, WindowStrategy};
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

const QUERY: &str = "SELECT k, count(*) AS n, avg(v) AS mean, sum(w) AS total, max(v) AS hi \
                     FROM batch WHERE w > 0 GROUP BY k";
const ROWS_PER_BATCH: usize = 10_000;
const BATCHES: usize = 250;
const GROUPS: u64 = 50;

/// One batch of the synthetic stream: a key among `GROUPS`, a float, an integer.
fn batch(b: usize, rows: usize) -> DataFrame {
    let mut state = (b as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut k = Vec::with_capacity(rows);
    let mut v = Vec::with_capacity(rows);
    let mut w = Vec::with_capacity(rows);
    for _ in 0..rows {
        let x = next();
        k.push(format!("key{:02}", x % GROUPS));
        v.push((x >> 20) as f64 / (1u64 << 44) as f64 * 100.0);
        w.push((x >> 50) as i64 - 100);
    }
    df!("k" => k, "v" => v, "w" => w).expect("frame")
}

fn context(sc: &SpateContext) -> StreamingContext {
    StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()
        .expect("context")
}

/// Runs `batches` (two frames each) through `build`, collecting each result; returns the mean
/// time (ms) to compute a result (the `collect` of its RDD, where the lazy batch runs) after
/// the first `skip` batches, and the whole run's seconds.
fn run(
    sc: &SpateContext,
    batches: &[DataFrame],
    skip: usize,
    build: impl Fn(&FrameStream) -> FrameStream,
) -> (f64, f64) {
    let input: Vec<Vec<Frame>> = batches
        .iter()
        .map(|b| {
            let half = b.height() / 2;
            vec![
                Frame::new(b.slice(0, half)),
                Frame::new(b.slice(half as i64, b.height() - half)),
            ]
        })
        .collect();
    let ssc = context(sc);
    let schema = batches[0].schema().clone();
    let frames = FrameStream::new(
        ssc.source_stream(ReplaySource::new(input)).expect("source"),
        schema,
    );
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&times);
    build(&frames)
        .stream()
        .foreach_rdd(move |rdd, _| {
            let started = Instant::now();
            black_box(rdd.collect()?);
            sink.lock()
                .expect("times")
                .push(started.elapsed().as_secs_f64() * 1e3);
            Ok(())
        })
        .expect("output");
    let started = Instant::now();
    ssc.start().expect("start");
    ssc.await_termination().expect("run");
    let total = started.elapsed().as_secs_f64();
    let times = times.lock().expect("times");
    let tail = &times[skip.min(times.len())..];
    let mean = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
    (mean, total)
}

fn best_of_3(f: impl Fn() -> (f64, f64)) -> (f64, f64) {
    (0..3)
        .map(|_| f())
        .fold((f64::INFINITY, f64::INFINITY), |a, b| {
            (a.0.min(b.0), a.1.min(b.1))
        })
}

/// The part given by `--part N`, if any (all parts run without it).
fn part_option() -> Option<u32> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--part")?;
    let part = args.get(at + 1).and_then(|v| v.parse().ok());
    assert!(matches!(part, Some(1..=3)), "--part takes 1, 2 or 3");
    part
}

fn main() {
    let only = part_option();
    let runs = |part: u32| only.is_none_or(|p| p == part);
    let sc = spate::local::local_context_with_threads(2).expect("pool");
    let batches: Vec<DataFrame> = (0..BATCHES).map(|b| batch(b, ROWS_PER_BATCH)).collect();
    let q = SqlQuery::new(QUERY);
    assert_eq!(
        q.window_strategy(batches[0].schema()).expect("plan"),
        WindowStrategy::Incremental
    );

    if runs(1) {
        sliding_windows(&sc, &batches);
    }
    if runs(2) {
        file_as_stream(&sc, &batches);
    }
    if runs(3) {
        per_batch_overhead(&sc, &q);
    }
}

/// Part 1: incremental against recomputed windows.
fn sliding_windows(sc: &SpateContext, batches: &[DataFrame]) {
    println!(
        "1. sliding window, {BATCHES} batches x {ROWS_PER_BATCH} rows, {GROUPS} groups, slide 1 batch"
    );
    println!("| window (batches) | incremental ms/slide | recompute ms/slide | ratio |");
    println!("|---|---|---|---|");
    for length in [10_u64, 25, 50] {
        let window = Window::new(Duration::from_secs(length), Duration::from_secs(1));
        let skip = length as usize;
        let (inc, _) = best_of_3(|| {
            run(sc, batches, skip, |f| {
                f.window(window).sql(QUERY).expect("sql")
            })
        });
        let (rec, _) = best_of_3(|| {
            run(sc, batches, skip, |f| {
                f.window(window)
                    .frames()
                    .expect("window")
                    .sql(QUERY)
                    .expect("sql")
            })
        });
        println!("| {length} | {inc:.2} | {rec:.2} | {:.1}x |", rec / inc);
    }
}

/// Part 2: a file as a stream against one polars query over it.
fn file_as_stream(sc: &SpateContext, batches: &[DataFrame]) {
    println!(
        "\n2. a {}-row CSV file: as a stream of {ROWS_PER_BATCH}-row batches vs one polars query",
        BATCHES * ROWS_PER_BATCH
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stream.csv");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("csv"));
        let mut all = DataFrame::empty_with_schema(batches[0].schema());
        for b in batches {
            all.vstack_mut(b).expect("stack");
        }
        CsvWriter::new(&mut file)
            .finish(&mut all)
            .expect("write csv");
        file.flush().expect("flush");
    }
    let streaming = |read_ahead: bool| {
        best_of_3(|| {
            let ssc = context(sc);
            let source = FrameFileSource::options(&path)
                .rows_per_batch(ROWS_PER_BATCH)
                .frames_per_batch(2)
                .read_ahead(read_ahead)
                .build()
                .expect("source");
            let schema = source.schema();
            let frames = FrameStream::new(ssc.source_stream(source).expect("stream"), schema);
            frames
                .sql(QUERY)
                .expect("sql")
                .stream()
                .foreach_rdd(|rdd, _| {
                    black_box(rdd.collect()?);
                    Ok(())
                })
                .expect("output");
            let started = Instant::now();
            ssc.start().expect("start");
            ssc.await_termination().expect("run");
            (0.0, started.elapsed().as_secs_f64())
        })
        .1
    };
    let (ahead, inline) = (streaming(true), streaming(false));
    let (_, batch_mode) = best_of_3(|| {
        let started = Instant::now();
        let df = CsvReadOptions::default()
            .try_into_reader_with_file_path(Some(path.clone()))
            .expect("reader")
            .finish()
            .expect("read");
        let mut ctx = SQLContext::new();
        ctx.register("batch", df.lazy());
        black_box(ctx.execute(QUERY).expect("plan").collect().expect("run"));
        (0.0, started.elapsed().as_secs_f64())
    });
    println!("| streaming (per-batch SQL) s | without read-ahead s | polars batch s | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| {ahead:.3} | {inline:.3} | {batch_mode:.3} | {:.2}x |",
        ahead / batch_mode
    );
}

/// Part 3: the overhead of per-batch SQL.
fn per_batch_overhead(sc: &SpateContext, q: &SqlQuery) {
    println!("\n3. per-batch SQL on a 1,000-row batch");
    let small = batch(7, 1_000);
    let iterations = 2_000;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(q.run(small.clone()).expect("run"));
        }
        best = best.min(started.elapsed().as_secs_f64() / iterations as f64 * 1e3);
    }
    let small_batches: Vec<DataFrame> = (0..500).map(|b| batch(b, 1_000)).collect();
    let (per_batch, _) = best_of_3(|| run(sc, &small_batches, 0, |f| f.sql(QUERY).expect("sql")));
    println!("| SqlQuery::run ms | stream ms/batch |");
    println!("|---|---|");
    println!("| {best:.3} | {per_batch:.3} |");
}

//! The live UI's cost on the batch thread, and the Redis source's throughput into a word
//! count, each side by side with its baseline in the same process.
//!
//! 1. UI overhead: a graph of a few operators over small batches (10 records), run with the
//!    UI off, with it on, and with it on while a client polls `/api/batches?since=…` and
//!    `/metrics` every 20 ms. Two listeners registered around the UI's time its
//!    `on_batch_completed` on the batch thread (the same pair without the UI measures the
//!    timing itself); the per-batch wall time of the whole job is reported too.
//! 2. Redis source: Moby-Dick's lines (×`--copies`) in a Redis stream, counted by a
//!    word-count DStream reading them with `RedisStreamSource` (bounded, `--batch-lines`
//!    entries per batch), against the same lines from a file with `FileReplaySource`.
//!    Needs `redis-server` (Debian package); skipped with a message without it.
//!
//! Run: `cargo bench -p spate-benches --bench ui_redis [-- --rounds 5 --copies 10]`.
//! Figures: docs/benchmarks.md.

use spate::prelude::*;
use spate::redis::RedisStreamSource;
use spate::redis::testing::LocalRedis;
use spate::ui::UiServer;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sc() -> SpateContext {
    spate::local::local_context_with_threads(2).expect("thread pool")
}

// ------------------------------------------------------------------ 1. UI overhead

/// Stamps the time before the listeners that follow it run.
struct Before(Arc<Mutex<Option<Instant>>>);

impl StreamingListener for Before {
    fn on_batch_completed(&self, _: &BatchInfo) {
        *self.0.lock().expect("stamp") = Some(Instant::now());
    }
}

/// Adds up the time since [`Before`]'s stamp: the listeners registered in between.
struct After {
    stamp: Arc<Mutex<Option<Instant>>>,
    total_ns: Arc<AtomicU64>,
}

impl StreamingListener for After {
    fn on_batch_completed(&self, _: &BatchInfo) {
        if let Some(t) = self.stamp.lock().expect("stamp").take() {
            self.total_ns
                .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Ui {
    Off,
    On,
    Polled,
}

/// GETs `path` once (HTTP/1.0, body read to the end).
fn get(addr: std::net::SocketAddr, path: &str) -> usize {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return 0;
    };
    let _ = write!(s, "GET {path} HTTP/1.0\r\n\r\n");
    let mut body = Vec::new();
    let _ = s.read_to_end(&mut body);
    body.len()
}

/// (listener ns per batch, job wall µs per batch) for `batches` batches of 10 records.
fn ui_run(mode: Ui, batches: usize) -> (f64, f64) {
    let data: Vec<Vec<u64>> = (0..batches)
        .map(|b| (0..10).map(|i| (b * 10 + i) as u64 % 97).collect())
        .collect();
    let ssc = StreamingContext::builder(&sc())
        .batch_interval(Duration::from_millis(100))
        .clock(FastForwardClock::new())
        .partitions(2)
        .build()
        .expect("context");
    ssc.source_stream(spate::stream::ReplaySource::new(data))
        .expect("source")
        .map(|x| (x, 1_u64))
        .reduce_by_key(|a, b| a + b)
        .foreach_rdd(|rdd, _| rdd.count().map(drop))
        .expect("output");
    let stamp = Arc::new(Mutex::new(None));
    let total_ns = Arc::new(AtomicU64::new(0));
    ssc.add_listener(Before(Arc::clone(&stamp)));
    let ui = (mode != Ui::Off).then(|| {
        UiServer::options("127.0.0.1:0")
            .start(&ssc)
            .expect("UI starts")
    });
    ssc.add_listener(After {
        stamp,
        total_ns: Arc::clone(&total_ns),
    });
    let polling = Arc::new(AtomicBool::new(mode == Ui::Polled));
    let poller = ui.as_ref().filter(|_| mode == Ui::Polled).map(|ui| {
        let addr = ui.local_addr();
        let polling = Arc::clone(&polling);
        std::thread::spawn(move || {
            let mut bytes = 0;
            let mut since = 0_u64;
            while polling.load(Ordering::Relaxed) {
                bytes += get(addr, &format!("/api/batches?since={since}"));
                bytes += get(addr, "/metrics");
                since += 2_000; // about 20 ms of fast-forwarded batches of 100 ms
                std::thread::sleep(Duration::from_millis(20));
            }
            bytes
        })
    });
    let started = Instant::now();
    ssc.start().expect("start");
    ssc.await_termination().expect("run");
    let wall = started.elapsed();
    polling.store(false, Ordering::Relaxed);
    if let Some(p) = poller {
        let served = p.join().expect("poller");
        assert!(served > 0, "the poller was served");
    }
    assert_eq!(ssc.batch_history().len(), batches);
    (
        total_ns.load(Ordering::Relaxed) as f64 / batches as f64,
        wall.as_secs_f64() * 1e6 / batches as f64,
    )
}

fn ui_overhead(rounds: usize) {
    let batches = 5_000;
    println!(
        "## UI overhead: {batches} batches of 10 records per run, 2 worker threads, {rounds} rounds"
    );
    let modes = [
        (Ui::Off, "UI off"),
        (Ui::On, "UI on"),
        (Ui::Polled, "UI on, polled every 20 ms"),
    ];
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); modes.len()];
    for _ in 0..rounds {
        for (i, (mode, _)) in modes.iter().enumerate() {
            results[i].push(ui_run(*mode, batches));
        }
    }
    println!("| run | listener ns/batch (median, min–max) | job µs/batch (median, min–max) |");
    println!("|---|---|---|");
    for (i, (_, name)) in modes.iter().enumerate() {
        let listener: Vec<f64> = results[i].iter().map(|r| r.0).collect();
        let job: Vec<f64> = results[i].iter().map(|r| r.1).collect();
        println!(
            "| {name} | {:.0} ({:.0}–{:.0}) | {:.1} ({:.1}–{:.1}) |",
            median(&listener),
            min(&listener),
            max(&listener),
            median(&job),
            min(&job),
            max(&job)
        );
    }
}

// ------------------------------------------------------------------ 2. Redis source

fn word_count(ssc: &StreamingContext, lines: DStream<String>) -> Arc<AtomicU64> {
    let words = Arc::new(AtomicU64::new(0));
    let sink = Arc::clone(&words);
    lines
        .map_partitions_ref(spate::count_words)
        .reduce_by_key(|a, b| a + b)
        .foreach_rdd(move |rdd, _| {
            let n: u64 = rdd.collect()?.iter().map(|(_, n)| n).sum();
            sink.fetch_add(n, Ordering::Relaxed);
            Ok(())
        })
        .expect("output");
    let _ = ssc;
    words
}

/// (lines per second, words counted) of a word count over `source`.
fn count_from<S: Source<Item = String>>(source: S, batch_lines: usize) -> (f64, u64, u64) {
    let ssc = StreamingContext::builder(&sc())
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(2)
        .build()
        .expect("context");
    let lines = ssc.source_stream(source).expect("source");
    let words = word_count(&ssc, lines);
    let started = Instant::now();
    ssc.start().expect("start");
    ssc.await_termination().expect("run");
    let secs = started.elapsed().as_secs_f64();
    let n: u64 = ssc.batch_history().iter().map(|b| b.records_in).sum();
    let _ = batch_lines;
    (n as f64 / secs, n, words.load(Ordering::Relaxed))
}

fn redis_throughput(rounds: usize, copies: usize, batch_lines: usize) {
    let Some(server) = LocalRedis::start().expect("redis-server starts") else {
        println!("## Redis source: SKIPPED (no redis-server; apt-get install redis-server)");
        return;
    };
    let book = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/moby-dick.txt"),
    )
    .expect("datasets/moby-dick.txt");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("book.txt");
    let text = book.repeat(copies);
    std::fs::write(&path, &text).expect("write");
    let lines: Vec<&str> = text.lines().collect();
    let client = redis::Client::open(("127.0.0.1", server.port())).expect("client");
    let mut con = client.get_connection().expect("connect");
    let fill = Instant::now();
    for chunk in lines.chunks(5_000) {
        let mut pipe = redis::pipe();
        for l in chunk {
            pipe.cmd("XADD")
                .arg("book")
                .arg("*")
                .arg("line")
                .arg(*l)
                .ignore();
        }
        pipe.exec(&mut con).expect("XADD");
    }
    println!(
        "## Redis source: {} entries ({copies}× Moby-Dick) added in {:.2} s; word count, {batch_lines} entries per batch, 2 worker threads, {rounds} rounds",
        lines.len(),
        fill.elapsed().as_secs_f64()
    );
    let url = server.url("book") + "?bounded=true";
    let (mut from_redis, mut from_file, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let source = RedisStreamSource::options(&url)
            .entries_per_batch(batch_lines as u64)
            .build()
            .expect("source");
        let (rate, n, words_redis) = count_from(source, batch_lines);
        assert_eq!(n as usize, lines.len());
        from_redis.push(rate);
        let file = FileReplaySource::options(&path)
            .lines_per_batch(batch_lines as u64)
            .build()
            .expect("file");
        let (rate, n, words_file) = count_from(file, batch_lines);
        assert_eq!(n as usize, lines.len());
        assert_eq!(words_redis, words_file, "same words from both sources");
        from_file.push(rate);
        // The source alone, no engine: XRANGE and decoding.
        let mut source = RedisStreamSource::options(&url)
            .entries_per_batch(batch_lines as u64)
            .build()
            .expect("source");
        source.start().expect("start");
        let started = Instant::now();
        let mut n = 0;
        while !source.is_exhausted() {
            n += source
                .next_batch(BatchTime(0), None)
                .expect("batch")
                .records
                .len();
        }
        raw.push(n as f64 / started.elapsed().as_secs_f64());
    }
    println!("| input | entries (lines) per second (median, min–max) |");
    println!("|---|---|");
    for (name, rates) in [
        (
            "word count from a Redis stream (`RedisStreamSource`)",
            &from_redis,
        ),
        ("word count from a file (`FileReplaySource`)", &from_file),
        (
            "`RedisStreamSource` alone (XRANGE + decoding, no engine)",
            &raw,
        ),
    ] {
        println!(
            "| {name} | {:.0} ({:.0}–{:.0}) |",
            median(rates),
            min(rates),
            max(rates)
        );
    }
    let ratios: Vec<f64> = from_file
        .iter()
        .zip(&from_redis)
        .map(|(f, r)| f / r)
        .collect();
    println!(
        "file ÷ Redis, per round: {}",
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn main() {
    let rounds = arg("--rounds", 5);
    ui_overhead(rounds);
    println!();
    redis_throughput(rounds, arg("--copies", 10), arg("--batch-lines", 10_000));
}

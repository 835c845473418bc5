//! The same windowed word count (and an empty-batch program) on the embedded runtime, on 2
//! timely workers in one process, and on 2 timely processes of one worker each connected
//! over loopback TCP — all on the same cores, in one run, taking turns repetition by
//! repetition, so the ratios hold on a noisy machine. The word count reads its lines twice:
//! from an in-memory queue (the leader sends every worker its partitions) and from a file
//! (`FileReplaySource`, as `spate wordcount` reads one: every worker reads the file and
//! builds the lines of its own partitions).
//!
//! Run: `cargo bench -p spate-benches --bench distributed [-- --mb 20] [--batch-lines 20000]
//! [--reps 5] [--empty-batches 2000]`. The bench starts its second process itself (this
//! binary with `--child`).

use spate::prelude::*;
use spate_benches::{corpus, dstream_wordcount, dstream_wordcount_file};
use spate_timely::{TimelyConfig, execute};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Partitions of every stream (the default parallelism).
const PARTITIONS: usize = 8;

struct Options {
    mb: usize,
    batch_lines: usize,
    reps: usize,
    /// Empty batches per overhead measurement (0: none, e.g. to profile the word count).
    empty_batches: u32,
    child: Option<(usize, String)>,
    /// The corpus as a file (given to the second process).
    input: Option<PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        mb: 20,
        batch_lines: 20_000,
        reps: 5,
        empty_batches: 2000,
        child: None,
        input: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--mb" => o.mb = value().parse().expect("--mb N"),
            "--batch-lines" => o.batch_lines = value().parse().expect("--batch-lines N"),
            "--reps" => o.reps = value().parse().expect("--reps N"),
            "--empty-batches" => o.empty_batches = value().parse().expect("--empty-batches N"),
            "--input" => o.input = Some(PathBuf::from(value())),
            "--child" => {
                let process = value().parse().expect("--child PROCESS HOSTFILE");
                let hosts = args.get(i + 2).cloned().expect("--child PROCESS HOSTFILE");
                o.child = Some((process, hosts));
                i += 1;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// What one program run measures: the windowed count's wall time (lines from a queue, and
/// from a file) and the mean time of an empty batch.
#[derive(Clone, Copy)]
struct Figures {
    windowed: Duration,
    windowed_file: Duration,
    empty_batch: Duration,
}

/// Returns once every worker has called it, so that all start their clocks together: a job
/// whose result needs a task of every worker. Without it, a process that reached the clock
/// later (its own start-up and input copy) would count the wait for it — up to 70 ms seen —
/// as the program's time.
fn barrier(sc: &SpateContext) {
    sc.parallelize(vec![0_u8; sc.workers()], sc.workers())
        .count()
        .expect("barrier");
}

/// The measured programs, run by every worker (SPMD): the windowed word count over
/// `batches`, then `empty_batches` empty batches through queue → map → reduce_by_key →
/// foreach_rdd.
fn program(sc: &SpateContext, batches: &[Vec<String>], file: &Path, empty_batches: u32) -> Figures {
    // The run's own copy of the input is made before the clock starts: on a program thread
    // of its own it costs 2–3× what it does on a warm one (fresh malloc arena, page faults),
    // which is no part of the runtime's work.
    let input = batches.to_vec();
    barrier(sc);
    let started = Instant::now();
    let distinct = dstream_wordcount(sc, input, PARTITIONS);
    let windowed = started.elapsed();
    assert!(distinct > 0);
    let lines_per_batch = batches.first().map_or(1, Vec::len) as u64;
    barrier(sc);
    let started = Instant::now();
    let from_file = dstream_wordcount_file(sc, file, lines_per_batch, PARTITIONS);
    let windowed_file = started.elapsed();
    assert_eq!(from_file, distinct);
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_millis(100))
        .clock(FastForwardClock::new())
        .partitions(2)
        .build()
        .expect("context");
    let (queue, input) = ssc.queue_stream::<String>(true).expect("queue");
    for _ in 0..empty_batches {
        queue.push(Vec::new());
    }
    queue.close();
    input
        .map(|l| (l, 1_u64))
        .reduce_by_key(|a, b| a + b)
        .foreach_rdd(|rdd, _| rdd.count().map(drop))
        .expect("output");
    barrier(sc);
    let started = Instant::now();
    ssc.start().expect("start");
    ssc.await_termination().expect("run");
    Figures {
        windowed,
        windowed_file,
        empty_batch: started.elapsed() / empty_batches.max(1),
    }
}

fn batches(o: &Options) -> Vec<Vec<String>> {
    corpus(o.mb << 20)
        .chunks(o.batch_lines)
        .map(<[String]>::to_vec)
        .collect()
}

fn free_ports(n: usize) -> Vec<String> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("address").to_string())
        .collect()
}

/// Process `process` of 2, one worker each; the figures of its worker (the leader's, for
/// process 0, which waits for the other at every round).
fn two_processes(
    process: usize,
    hosts: Vec<String>,
    batches: Arc<Vec<Vec<String>>>,
    file: PathBuf,
    empty_batches: u32,
) -> Figures {
    let config = TimelyConfig::cluster(1, 2, process, hosts);
    let figures = execute(&config, move |sc| {
        program(&sc, &batches, &file, empty_batches)
    })
    .expect("timely");
    figures[0]
}

fn main() {
    let o = options();
    let batches = Arc::new(batches(&o));
    if let Some((process, hostfile)) = o.child {
        let hosts = TimelyConfig::read_hostfile(hostfile.as_ref()).expect("hostfile");
        let file = o.input.clone().expect("--input FILE");
        for _ in 0..o.reps {
            two_processes(
                process,
                hosts.clone(),
                Arc::clone(&batches),
                file.clone(),
                o.empty_batches,
            );
        }
        return;
    }
    let words: usize = batches
        .iter()
        .flatten()
        .map(|l| l.split_whitespace().count())
        .sum();
    println!(
        "windowed word count (10 s / 2 s, inverse) over {} MB, {} batches of {} lines ({words} words), {PARTITIONS} partitions; {} empty batches; best of {}",
        o.mb,
        batches.len(),
        o.batch_lines,
        o.empty_batches,
        o.reps
    );
    let best = |runs: &[Figures]| Figures {
        windowed: runs.iter().map(|f| f.windowed).min().expect("a run"),
        windowed_file: runs.iter().map(|f| f.windowed_file).min().expect("a run"),
        empty_batch: runs.iter().map(|f| f.empty_batch).min().expect("a run"),
    };
    // The slower worker's figures are a program's.
    let slowest = |figures: Vec<Figures>| Figures {
        windowed: figures.iter().map(|f| f.windowed).max().expect("a worker"),
        windowed_file: figures
            .iter()
            .map(|f| f.windowed_file)
            .max()
            .expect("a worker"),
        empty_batch: figures
            .iter()
            .map(|f| f.empty_batch)
            .max()
            .expect("a worker"),
    };

    let hosts = free_ports(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let hostfile = dir.path().join("hosts");
    std::fs::write(&hostfile, hosts.join("\n")).expect("hostfile");
    let file = dir.path().join("corpus.txt");
    let mut text = batches
        .iter()
        .flatten()
        .fold(String::new(), |mut text, line| {
            text.push_str(line);
            text.push('\n');
            text
        });
    text.shrink_to_fit();
    std::fs::write(&file, text).expect("corpus file");
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .args(["--mb", &o.mb.to_string()])
        .args(["--batch-lines", &o.batch_lines.to_string()])
        .args(["--reps", &o.reps.to_string()])
        .args(["--empty-batches", &o.empty_batches.to_string()])
        .arg("--input")
        .arg(&file)
        .arg("--child")
        .arg("1")
        .arg(&hostfile)
        .stdin(Stdio::null())
        .spawn()
        .expect("second process");

    // The runtimes take turns, one run each per repetition, so that a slow spell of the
    // machine falls on all of them rather than on whichever ran then.
    let sc = spate::local::local_context_with_threads(2).expect("local context");
    let empty_batches = o.empty_batches;
    let mut runs: [Vec<Figures>; 3] = Default::default();
    for _ in 0..o.reps {
        runs[0].push(program(&sc, &batches, &file, empty_batches));
        let (b, f) = (Arc::clone(&batches), file.clone());
        let figures = execute(&TimelyConfig::threads_in_process(2), move |sc| {
            program(&sc, &b, &f, empty_batches)
        })
        .expect("timely");
        runs[1].push(slowest(figures));
        runs[2].push(two_processes(
            0,
            hosts.clone(),
            Arc::clone(&batches),
            file.clone(),
            empty_batches,
        ));
    }
    assert!(child.wait().expect("second process").success());
    let rows = [
        ("embedded (spate-local, rayon, 2 threads)", best(&runs[0])),
        ("timely, 2 workers in 1 process", best(&runs[1])),
        (
            "timely, 2 processes x 1 worker, loopback TCP",
            best(&runs[2]),
        ),
    ];

    let base = rows[0].1;
    println!(
        "| runtime | word count, queue | M words/s | ÷ embedded | word count, file | ÷ embedded | empty batch | ÷ embedded |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, f) in &rows {
        let empty = if o.empty_batches == 0 {
            "– | –".to_string()
        } else {
            format!(
                "{:.0} µs | {:.2}×",
                f.empty_batch.as_secs_f64() * 1e6,
                f.empty_batch.as_secs_f64() / base.empty_batch.as_secs_f64()
            )
        };
        println!(
            "| {name} | {:.0} ms | {:.1} | {:.2}× | {:.0} ms | {:.2}× | {empty} |",
            f.windowed.as_secs_f64() * 1e3,
            words as f64 / f.windowed.as_secs_f64() / 1e6,
            f.windowed.as_secs_f64() / base.windowed.as_secs_f64(),
            f.windowed_file.as_secs_f64() * 1e3,
            f.windowed_file.as_secs_f64() / base.windowed_file.as_secs_f64(),
        );
    }
}

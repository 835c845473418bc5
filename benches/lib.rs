//! Shared helpers for the benchmarks: corpus generation, dataset paths, and the word count
//! formulations the `wordcount` (wall time) and `wordcount_cpu` (CPU time) benches both run.

use spate::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The repository's `datasets/` folder.
pub fn datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets")
}

/// A text corpus of at least `bytes` bytes: the lines of *Moby-Dick* (bundled in
/// `datasets/`) repeated, so word frequencies follow real English.
pub fn corpus(bytes: usize) -> Vec<String> {
    let path = datasets().join("moby-dick.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run from the repository)", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut size = 0;
    while size < bytes {
        for line in &lines {
            size += line.len() + 1;
            out.push((*line).to_string());
        }
    }
    out
}

/// The hand-written per-core baseline for word count: one thread, one hash map (FxHash, the
/// fastest hasher for short strings we know), words lowercased into a reused buffer so a
/// word already counted costs no allocation.
pub fn wordcount_baseline(lines: &[String]) -> rustc_hash::FxHashMap<String, u64> {
    let mut counts: rustc_hash::FxHashMap<String, u64> = rustc_hash::FxHashMap::default();
    let mut word = String::new();
    for line in lines {
        for piece in line.split(|c: char| !c.is_alphanumeric()) {
            if piece.is_empty() {
                continue;
            }
            word.clear();
            if piece.is_ascii() {
                word.push_str(piece);
                word.make_ascii_lowercase();
            } else {
                word.push_str(&piece.to_lowercase());
            }
            match counts.get_mut(word.as_str()) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(word.clone(), 1);
                }
            }
        }
    }
    counts
}

/// Word count through an `Rdd`, counting each partition in one hash map
/// (`map_partitions_ref(count_words)`), then `reduce_by_key`; returns the distinct words.
pub fn rdd_wordcount(sc: &SpateContext, lines: Vec<String>, partitions: usize) -> usize {
    sc.parallelize(lines, partitions)
        .map_partitions_ref(spate::count_words)
        .reduce_by_key(|a, b| a + b)
        .count()
        .expect("job") as usize
}

/// The record-at-a-time formulation: one `String` per word, then `(word, 1)` pairs.
pub fn rdd_wordcount_per_word(sc: &SpateContext, lines: Vec<String>, partitions: usize) -> usize {
    sc.parallelize(lines, partitions)
        .flat_map(|l: String| spate::words(&l))
        .map(|w| (w, 1_u64))
        .reduce_by_key(|a, b| a + b)
        .count()
        .expect("job") as usize
}

/// A streaming context on 1 s batches and a fast-forward clock with `partitions` per batch,
/// replaying `batches` from a closed queue as fast as the machine allows, with the stream of
/// their records.
pub fn replay<T: Data>(
    sc: &SpateContext,
    batches: impl IntoIterator<Item = Vec<T>>,
    partitions: usize,
) -> (StreamingContext, DStream<T>) {
    let ssc = fast_forward_context(sc, partitions);
    let (queue, records) = ssc.queue_stream::<T>(true).expect("queue");
    for batch in batches {
        queue.push(batch);
    }
    queue.close();
    (ssc, records)
}

/// A streaming context on 1 s batches and a fast-forward clock, `partitions` per batch.
fn fast_forward_context(sc: &SpateContext, partitions: usize) -> StreamingContext {
    StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(partitions)
        .build()
        .expect("context")
}

/// Registers an output that applies `record` to the record count of every RDD of
/// `stream`, runs the context to the end of its input and returns `counts` after the run.
fn run_counting<T: Data>(
    ssc: StreamingContext,
    stream: DStream<T>,
    record: impl Fn(&AtomicUsize, usize) + Send + Sync + 'static,
) -> usize {
    let counts = Arc::new(AtomicUsize::new(0));
    let sink = Arc::clone(&counts);
    stream
        .foreach_rdd(move |rdd, _| {
            record(&sink, rdd.count()? as usize);
            Ok(())
        })
        .expect("output");
    ssc.start().expect("start");
    ssc.await_termination().expect("run");
    counts.load(Ordering::Relaxed)
}

/// A per-batch streaming word count (Spark's `NetworkWordCount`: each 1 s batch counted
/// on its own) over `batches`; returns the number of distinct words summed over batches.
pub fn dstream_wordcount_per_batch(
    sc: &SpateContext,
    batches: Vec<Vec<String>>,
    partitions: usize,
) -> usize {
    let (ssc, lines) = replay(sc, batches, partitions);
    let counts = lines
        .map_partitions_ref(spate::count_words)
        .reduce_by_key(|a, b| a + b);
    run_counting(ssc, counts, |sum, n| {
        sum.fetch_add(n, Ordering::Relaxed);
    })
}

/// A windowed streaming word count (10 s window sliding every 2 s, with an inverse) over
/// `batches` on 1 s batches; returns the number of distinct words in the last window.
pub fn dstream_wordcount(sc: &SpateContext, batches: Vec<Vec<String>>, partitions: usize) -> usize {
    let (ssc, lines) = replay(sc, batches, partitions);
    windowed_wordcount(ssc, lines)
}

/// The windowed word count of [`dstream_wordcount`] over the lines of the file at `path`,
/// `lines_per_batch` a batch (`FileReplaySource`, as `spate wordcount` reads a file): with
/// several workers, every worker reads the file and builds the lines of its own partitions.
pub fn dstream_wordcount_file(
    sc: &SpateContext,
    path: &std::path::Path,
    lines_per_batch: u64,
    partitions: usize,
) -> usize {
    let ssc = fast_forward_context(sc, partitions);
    let source = spate::io::FileReplaySource::options(path)
        .lines_per_batch(lines_per_batch)
        .build()
        .expect("input file");
    let lines = ssc.source_stream(source).expect("source");
    windowed_wordcount(ssc, lines)
}

fn windowed_wordcount(ssc: StreamingContext, lines: DStream<String>) -> usize {
    let counts = lines
        .map_partitions_ref(spate::count_words)
        .reduce_by_key_and_window_inv(
            |a, b| a + b,
            |a, b| a - b,
            Window::new(Duration::from_secs(10), Duration::from_secs(2)),
        )
        .expect("window");
    run_counting(ssc, counts, |last, n| last.store(n, Ordering::Relaxed))
}

/// A real edge stream bundled in `datasets/` (see its README), in time order.
pub struct EdgeStream {
    /// Dataset name.
    pub name: &'static str,
    /// The edges, sorted by time (ties in file order); weights are the file's (1 if none).
    pub edges: Vec<spate::graph::EdgeRecord>,
}

/// The bundled temporal graphs as edge streams: CollegeMsg (59,835 messages), bitcoin-otc
/// (35,592 ratings) and bitcoin-alpha (24,186 ratings), each replayed in time order.
pub fn temporal_edge_streams() -> Vec<EdgeStream> {
    use spate::graph::{Columns, EdgeListFormat};
    [
        ("CollegeMsg", "CollegeMsg.txt.gz", Columns::SrcDstTime),
        (
            "bitcoin-otc",
            "soc-sign-bitcoinotc.csv.gz",
            Columns::SrcDstWeightTime,
        ),
        (
            "bitcoin-alpha",
            "soc-sign-bitcoinalpha.csv.gz",
            Columns::SrcDstWeightTime,
        ),
    ]
    .into_iter()
    .map(|(name, file, columns)| {
        let path = datasets().join(file);
        let mut list = EdgeListFormat::new()
            .columns(columns)
            .strict(true)
            .read_path(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run from the repository)", path.display()));
        list.sort_by_time();
        EdgeStream {
            name,
            edges: list.edges,
        }
    })
    .collect()
}

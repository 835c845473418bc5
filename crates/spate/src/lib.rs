//! Spate: streaming analytics and machine learning over micro-batch RDDs.
//!
//! Spate rebuilds the ideas of Spark Streaming in Rust: a stream is a sequence of small,
//! partitioned, lazily evaluated collections ([`Rdd`]s), one per batch interval
//! ([`DStream`]), with windows, state carried across batches, event time with watermarks,
//! checkpoints and recovery. It runs embedded by default (tasks on a rayon pool, no server
//! to install), and its logical plan is kept apart from the runtime that executes it.
//!
//! This crate gathers the others behind one dependency:
//!
//! | module | crate | what |
//! |---|---|---|
//! | (root), [`stream`] | `spate-core` | RDDs, DStreams, windows, state, checkpoints |
//! | [`local`] | `spate-local` | the embedded runtime (rayon) |
//! | [`io`] | `spate-io` | sources (files, directories, sockets, CSV, generators) and sinks |
//! | [`stats`] | `spate-stats` | streaming statistics, sketches, tests, drift detection |
//! | [`ml`] | `spate-ml` | streaming k-means and regression |
//! | [`learn`] | `spate-learn` | River-class online classifiers, anomaly detection, online preprocessing, prequential evaluation |
//! | [`graph`] | `spate-graph` | incremental PageRank, components, shortest paths, triangles |
//! | [`plot`] | `spate-plot` | charts to PNG and SVG |
//! | `ui` (feature `ui`) | `spate-ui` | a live web UI, JSON API and Prometheus metrics of a running job |
//! | `redis` (feature `redis`) | `spate-redis` | Redis Streams source (offsets in checkpoints) and an idempotent per-batch sink |
//!
//! # Example
//!
//! A streaming word count over a file replayed as 2 lines per batch:
//!
//! ```
//! use spate::prelude::*;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("book.txt");
//! std::fs::write(&path, "It was the best of times,\nit was the worst of times.\n")?;
//!
//! let ssc = StreamingContext::builder(&spate::local_context()?)
//!     .batch_interval(Duration::from_secs(1))
//!     .clock(FastForwardClock::new())
//!     .build()?;
//! let lines = ssc.source_stream(FileReplaySource::options(&path).lines_per_batch(2).build()?)?;
//! let counts = lines
//!     .flat_map(|line: String| spate::words(&line))
//!     .map(|w| (w, 1_u64))
//!     .reduce_by_key(|a, b| a + b);
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&seen);
//! counts.foreach_rdd(move |rdd, _time| {
//!     sink.lock().unwrap().extend(rdd.collect()?);
//!     Ok(())
//! })?;
//! ssc.start()?;
//! ssc.await_termination()?;
//! let seen = seen.lock().unwrap();
//! assert!(seen.contains(&("times".to_string(), 2)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where to go next: the [`Rdd`] and [`DStream`] docs list every operator with its cost;
//! `docs/architecture.md` explains the plan and the runtime boundary.

#![warn(missing_docs)]

pub use spate_core::{
    Accumulator, BatchTime, Broadcast, ContextStats, DEFAULT_PARALLELISM, DStream, Data, Error,
    HashPartitioner, Key, Merge, Partitioner, RangePartitioner, Rdd, Result, Retract, Runtime,
    SequentialRuntime, SpateContext, SpateContextBuilder, StreamingContext, TaskContext, Window,
    codec, runtime, stream,
};
pub use spate_graph as graph;
pub use spate_io as io;
pub use spate_learn as learn;
pub use spate_local as local;
pub use spate_ml as ml;
pub use spate_plot as plot;
#[cfg(feature = "redis")]
pub use spate_redis as redis;
pub use spate_stats as stats;
#[cfg(feature = "ui")]
pub use spate_ui as ui;

/// A context on the embedded runtime, one worker thread per core: the default way to run.
pub fn local_context() -> Result<SpateContext> {
    spate_local::local_context()
}

/// The words of a line for word counting: split on characters that are not alphanumeric,
/// lowercased, empty pieces dropped.
pub fn words(line: &str) -> Vec<String> {
    line.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A word as [`count_words`] produces it: a string kept inline up to 24 bytes
/// ([`compact_str::CompactString`]; it derefs to `str`, displays, orders, hashes and
/// serializes as a `String` does), so counting and shuffling words allocates only for the
/// rare longer ones.
pub type Word = compact_str::CompactString;

/// Word counts of a batch of lines, for a word count's map side: the same words as
/// [`words`], counted in one hash map per batch with a reused lowercase buffer, so a word
/// seen before in the batch costs no allocation (and a new one none either, up to 24 bytes:
/// see [`Word`]). Use it with [`DStream::map_partitions_ref`] and then `reduce_by_key` to
/// combine partitions; it is several times faster than `flat_map(words)` followed by
/// `map(|w| (w, 1))`.
///
/// ```
/// let mut counts = spate::count_words(&["The whale, the WHALE!".to_string()]);
/// counts.sort();
/// assert_eq!(counts, vec![("the".into(), 2), ("whale".into(), 2)]);
/// ```
pub fn count_words(lines: &[String]) -> Vec<(Word, u64)> {
    thread_local! {
        /// How many distinct words this thread's previous call found: a stream's batches
        /// have similar vocabularies, so the map starts at about its final size instead of
        /// growing (and rehashing) from empty in every batch.
        static LAST_DISTINCT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    // A word takes at least two bytes with its separator, which bounds the hint for a
    // small input after a large one.
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let capacity = LAST_DISTINCT.with(|d| d.get()).min(bytes / 2);
    let mut counts: rustc_hash::FxHashMap<Word, u64> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(capacity, Default::default());
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
                    counts.insert(Word::new(&word), 1);
                }
            }
        }
    }
    LAST_DISTINCT.with(|d| d.set(counts.len()));
    counts.into_iter().collect()
}

/// The names most programs need.
pub mod prelude {
    pub use spate_core::stream::{
        BatchInfo, CheckpointConfig, EmitMode, EventWindows, FastForwardClock, JoinKind, LateData,
        ManagedState, ManualClock, Source, StateSpec, StreamingListener, SystemClock,
    };
    pub use spate_core::{
        BatchTime, DStream, Data, HashPartitioner, Key, Merge, Rdd, Retract, SpateContext,
        StreamingContext, Window,
    };
    pub use spate_io::{
        CsvSource, DStreamSinkExt, DirectorySource, FileReplaySource, RateSource, SocketTextSource,
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn count_words_agrees_with_words() {
        let lines: Vec<String> = [
            "It's the Whale--MOBY Dick! 1851",
            "ÜBER straße Straße",
            "",
            "the the THE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut want: std::collections::HashMap<String, u64> = Default::default();
        for l in &lines {
            for w in super::words(l) {
                *want.entry(w).or_default() += 1;
            }
        }
        let got: std::collections::HashMap<String, u64> = super::count_words(&lines)
            .into_iter()
            .map(|(w, n)| (w.to_string(), n))
            .collect();
        assert_eq!(got, want);
        assert_eq!(got["the"], 4);
        assert_eq!(got["straße"], 2);
    }

    #[test]
    fn words_split_on_non_alphanumerics_and_lowercase() {
        assert_eq!(
            super::words("It's the Whale--MOBY Dick! 1851"),
            vec!["it", "s", "the", "whale", "moby", "dick", "1851"]
        );
        assert!(super::words(" ,; ").is_empty());
        assert_eq!(super::words("Ünïcödé straße"), vec!["ünïcödé", "straße"]);
    }
}

//! Spate's sources and sinks: where streams come from and where their batches go.
//!
//! Every source implements the core's [`Source`] trait, so any of them becomes a
//! [`DStream`](spate_core::DStream) through
//! [`StreamingContext::source_stream`](spate_core::StreamingContext::source_stream):
//!
//! | source | records | Spark name | replayable (offset) | ends |
//! |---|---|---|---|---|
//! | [`FileReplaySource`] — a text file (plain or gzip), N lines or a rate per batch | `String` | — | yes (byte, line) | at end of file |
//! | [`DirectorySource`] — lines of files that appear in a directory | `String` | `textFileStream` | yes (files read, position) | never |
//! | [`SocketTextSource`] — lines from a TCP server, bounded buffer, reconnects | `String` | `socketTextStream` | no (at most once) | never |
//! | [`CsvSource`] — numeric columns of a CSV file with a header (plain or gzip) | `Vec<f64>` | — | yes (byte, line) | at end of file |
//! | [`RateSource`] — a generator function, N per batch or per second | any | `rate` | yes (records emitted) | at its limit |
//! | [`QueueSource`] — batches pushed from any thread (re-exported from the core) | any | `queueStream` | no | when closed and drained |
//!
//! Sinks write each batch collected at the driver: [`TextFileSink`] and [`CsvFileSink`]
//! write one file per batch, `DIR/{prefix}-{time}.{suffix}`, atomically (temporary name,
//! fsync, rename), so a batch recomputed after recovery replaces its file instead of
//! duplicating it; [`write_csv_file`] does the same for a one-off file such as final
//! totals, and [`write_atomic`] for any file; [`StdoutSink`] prints. [`DStreamSinkExt`] adds them to every
//! [`DStream`](spate_core::DStream) as `write_text_files`, `write_csv_files` and
//! `write_stdout`.
//!
//! Bad input never panics and is never lost silently: invalid UTF-8, over-long lines and
//! malformed rows are skipped, counted in [`SourceBatch::skipped`] (which the context reports
//! in its batch metrics) and, where the source has one, written to a dead-letter file.
//! Configuration goes through builders ending in a fallible `build()`, which returns an
//! [`IoError`] before any data flows.
//!
//! Where to go next: [`LineReader`] is the bounded line splitter under every text source,
//! [`CsvRowParser`] the row parser under [`CsvSource`]; the core's
//! [`Source`] docs explain how offsets drive checkpoint recovery.
//!
//! # Example
//! A word count over a replayed file, on a clock that runs batches back to back:
//! ```
//! use spate_core::stream::{FastForwardClock, StreamingContext};
//! use spate_core::SpateContext;
//! use spate_io::FileReplaySource;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("words.txt");
//! std::fs::write(&path, "the cat\nthe dog\nthe end\n")?;
//!
//! let ssc = StreamingContext::builder(&SpateContext::sequential(2))
//!     .batch_interval(Duration::from_secs(1))
//!     .clock(FastForwardClock::new())
//!     .build()?;
//! let lines = ssc.source_stream(FileReplaySource::options(&path).lines_per_batch(2).build()?)?;
//! let totals = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
//! let sink = Arc::clone(&totals);
//! lines
//!     .flat_map(|l: String| l.split_whitespace().map(String::from).collect::<Vec<_>>())
//!     .map(|w| (w, 1_u64))
//!     .reduce_by_key(|a, b| a + b)
//!     .foreach_rdd(move |rdd, _time| {
//!         let mut totals = sink.lock().unwrap();
//!         for (word, n) in rdd.collect()? {
//!             *totals.entry(word).or_insert(0) += n;
//!         }
//!         Ok(())
//!     })?;
//! ssc.start()?;
//! ssc.await_termination()?; // the file is exhausted after two batches
//! assert_eq!(totals.lock().unwrap()["the"], 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod csv;
mod directory;
mod error;
mod file_replay;
mod lines;
mod rate;
mod replay;
mod sink;
mod socket;
mod text;

pub use csv::{CsvBuilder, CsvRowParser, CsvSource, CsvTextSource, DEFAULT_ROWS_PER_BATCH};
pub use directory::{DirectoryBuilder, DirectorySource, DirectoryStats};
pub use error::{IoError, Result};
pub use file_replay::{DEFAULT_LINES_PER_BATCH, FileReplayBuilder, FileReplaySource};
pub use lines::{DEFAULT_MAX_LINE_BYTES, GIVE_UP_BYTES, Line, LineReader, SkipReason, split_lines};
pub use rate::RateSource;
pub use sink::{
    CsvFileSink, CsvRecord, CsvRow, DStreamSinkExt, StdoutSink, TextFileSink,
    remove_stale_temporaries_of, write_atomic, write_csv_file,
};
pub use socket::{SocketBuilder, SocketStats, SocketTextSource};
pub use spate_core::stream::{QueueHandle, QueueSource, Source, SourceBatch, SourceOffset};
pub use text::FilePosition;

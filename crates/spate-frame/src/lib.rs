//! DataFrames and SQL over Spate streams, with [polars].
//!
//! A *frame stream* is a `DStream<Frame>`: every micro-batch is a handful of polars
//! `DataFrame`s (typically one per partition), so columns keep their names and types —
//! strings, categoricals, integers, floats, booleans, dates and datetimes — and missing
//! values stay null. Work is done a frame at a time with polars; no per-row records appear on
//! the hot path. [`FrameStream`] pairs the DStream with its schema, known when the stream is
//! built, so queries are planned and checked before any data flows.
//!
//! | what | where |
//! |---|---|
//! | a batch chunk as a record (Arrow IPC in checkpoints) | [`Frame`] |
//! | CSV / NDJSON / Parquet files replayed in row batches; a watched directory | [`FrameFileSource`], [`FrameDirectorySource`] |
//! | SQL per batch | [`FrameStream::sql`] |
//! | SQL per sliding window, incremental where possible | [`FrameStream::window`], [`WindowedFrames::sql`] |
//! | SQL per event-time window, with watermarks and late rows | [`FrameStream::event_time`], [`EventWindowedFrames::sql`] |
//! | joins with static tables | [`SqlQuery::table`] |
//! | per-batch Parquet/CSV files, a Parquet dataset directory | [`FrameFileSink`], [`FrameStream::write_files`] |
//!
//! # Which windowed queries are incremental
//!
//! A windowed query is computed from per-pane partial aggregates — each batch aggregated
//! once when it arrives, a slide merging the entering batches' partials and retracting the
//! leaving ones, as the core's `reduce_by_key_and_window_inv` does — when it is a single
//! `SELECT … FROM batch [JOIN static tables] [WHERE …] [GROUP BY …] [HAVING …] [ORDER BY …]
//! [LIMIT …]` whose aggregates are `COUNT(*)`, `COUNT(x)`, `SUM`, `TOTAL`, `AVG`, `MIN`,
//! `MAX`, `VAR`/`VARIANCE`/`VAR_SAMP` and `STDDEV`/`STDEV`/`STDDEV_SAMP` of any row
//! expression (without `DISTINCT`, `FILTER` or `OVER`), where the batch is the left side of
//! its `INNER`, `LEFT` or `CROSS` joins, and every other column is a `GROUP BY` key. The
//! query is parsed with polars' own SQL parser (`sqlparser`) to decide. Anything else
//! (`DISTINCT`, `MEDIAN`, `COUNT(DISTINCT …)`, window functions, subqueries, set operations,
//! row-level queries) is recomputed with polars over the window's rows at every slide;
//! [`SqlQuery::window_strategy`] says which, and why. Both give what polars gives on the
//! window's rows in batch mode.
//!
//! # Example
//!
//! Delays by carrier over a sliding window of three 2-row batches:
//!
//! ```
//! use polars::prelude::*;
//! use spate_core::stream::{FastForwardClock, ReplaySource, StreamingContext};
//! use spate_core::{SpateContext, Window};
//! use spate_frame::{Frame, FrameStream};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let ssc = StreamingContext::builder(&SpateContext::sequential(2))
//!     .batch_interval(Duration::from_secs(1))
//!     .clock(FastForwardClock::new())
//!     .build()?;
//! let batch = |carriers: [&str; 2], delays: [Option<f64>; 2]| {
//!     df!("carrier" => carriers, "delay" => delays).map(Frame::new)
//! };
//! let batches = vec![
//!     vec![batch(["AA", "UA"], [Some(10.0), Some(3.0)])?],
//!     vec![batch(["AA", "AA"], [None, Some(20.0)])?],
//!     vec![batch(["UA", "DL"], [Some(-5.0), Some(1.0)])?],
//! ];
//! let schema = batches[0][0].schema();
//! let flights = FrameStream::new(ssc.source_stream(ReplaySource::new(batches))?, schema);
//! let delays = flights
//!     .window(Window::new(Duration::from_secs(3), Duration::from_secs(1)))
//!     .sql("SELECT carrier, count(*) AS flights, avg(delay) AS mean_delay \
//!           FROM batch GROUP BY carrier ORDER BY carrier")?;
//! let windows = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&windows);
//! delays.stream().foreach_rdd(move |rdd, _| {
//!     sink.lock().unwrap().extend(rdd.collect()?);
//!     Ok(())
//! })?;
//! ssc.start()?;
//! ssc.await_termination()?;
//!
//! let last = windows.lock().unwrap()[2].clone(); // the window of all three batches
//! assert_eq!(last.column("carrier")?.str()?.get(0), Some("AA"));
//! assert_eq!(last.column("flights")?.u32()?.get(0), Some(3));
//! assert_eq!(last.column("mean_delay")?.f64()?.get(0), Some(15.0)); // the null is skipped
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where to go next: [`FrameStream`] for the operations, [`EventTimeFrames`] for event
//! time, [`features`] for handing columns to `spate-stats` and `spate-ml`, and the `spate sql`
//! command for all of this from the command line.
//!
//! [polars]: https://pola.rs

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod event_time;
pub mod features;
mod frame;
mod records;
mod sink;
mod source;
mod sql;
mod stream;

pub use error::{FrameError, Result};
pub use event_time::{EventTimeFrames, EventTimeSql, EventWindowedFrames};
pub use frame::Frame;
pub use records::{
    FrameRecordsExt, frame_from_records, frame_from_records_with, records_from_frame,
};
pub use sink::FrameFileSink;
pub use source::{
    DEFAULT_INFER_SCHEMA_ROWS, DEFAULT_MAX_ROW_BYTES, DEFAULT_ROWS_PER_BATCH, FileFormat,
    FrameDirectoryBuilder, FrameDirectorySource, FrameFileBuilder, FrameFileSource, SourceStats,
};
pub use sql::{BATCH_TABLE, SqlQuery, WindowStrategy};
pub use stream::{FrameStream, WindowedFrames};

/// polars, as this crate uses it (its `DataFrame`, `Schema`, `df!` …).
pub use polars;

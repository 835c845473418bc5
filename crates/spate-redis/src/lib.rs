//! Redis Streams for Spate: a replayable source whose position is saved in Spate's
//! checkpoints, and a sink that writes each batch's results idempotently by batch time.
//!
//! | type | what |
//! |---|---|
//! | [`RedisStreamSource`] | the entries of a stream as `String` records, a bounded number per batch, resumable after the last entry delivered |
//! | [`RedisHashSink`] | each batch's `(key, value)` rows as the hash `PREFIX:TIME`, replaced whole when a batch is rewritten |
//! | [`RedisUrl`] | `redis://[USER:PASSWORD@]HOST[:PORT]/KEY[?OPTIONS]` |
//! | [`testing::LocalRedis`] | a private `redis-server` on a free loopback port, for tests |
//!
//! # The entries a source reads
//!
//! Each entry of the stream is one record: the value of one field, `line` unless configured
//! (`XADD events * line "the text of one record"`). Other fields are ignored. For text jobs
//! the value is the text; for CSV jobs one row (no line breaks); for edge lists one edge
//! line. An entry without the field, with a value that is not UTF-8, or longer than the
//! limit (1 MiB by default) is skipped and counted, never turned into an empty record.
//!
//! # Offsets and exactly-once
//!
//! A stream is an append-only log whose entry IDs increase, so the ID of the last entry
//! delivered is the source's whole position ([`Source::offset`](spate_core::stream::Source::offset)).
//! The streaming context saves it in every checkpoint next to the state; after a crash
//! (even `kill -9`) the job restarts from its newest checkpoint, [`seek`](spate_core::stream::Source::seek)s
//! the source to the saved ID, and reads the entries after it again. No consumer group is
//! used: the position lives in Spate's checkpoint, not on the server, so it moves with the
//! state it belongs to (a consumer group's acknowledged IDs could run ahead of or behind
//! the checkpointed state).
//!
//! Every entry therefore reaches the state exactly once: those up to the checkpoint are in
//! the restored state, those after it are read once more into it. Outputs written by batch
//! time — per-batch files, or this crate's [`RedisHashSink`] — are replaced when a batch is
//! recomputed. The batches after the checkpoint are recomputed with the same entries
//! (each batch takes the next `entries_per_batch` entries) as long as the entries were
//! already in the stream when they were first read — a backlog, or a bounded source; for
//! entries arriving while the job runs, a recomputed batch may take more entries than the
//! one before the crash (those that arrived in between), so per-batch outputs after the
//! checkpoint can be grouped differently, while the state and totals stay exactly-once.
//! Trimming the stream (`XTRIM`, `MAXLEN`) past the checkpointed ID loses the trimmed
//! entries for a restarted job.
//!
//! # A Kafka source in the same shape
//!
//! The [`Source`](spate_core::stream::Source) trait is all a broker source implements:
//! `start` (connect, resolve the starting position), `next_batch(time, max_records)` (read
//! at most that many records after the position, never blocking for new ones), `offset`
//! (the position after the last batch, serialized) and `seek` (resume after a position),
//! `is_exhausted` (for bounded reads) and `stop`. For Kafka, the position is one offset per
//! partition of the topic, a `Vec<(partition, next_offset)>` in place of one entry ID;
//! `next_batch` polls the assigned partitions up to `max_records` in total and advances each
//! partition's offset; `seek` assigns the partitions and seeks each one; offsets are not
//! committed to the broker (or only for monitoring), since the checkpoint holds them. A
//! topic's partitions map onto Spate's record stream as one source reading all of them
//! (records of different partitions have no order between them, as entries of different
//! Redis streams would not); a multi-process runtime would give each worker its share of
//! the partitions. [`RetryPolicy`], [`RedisStats`] and the skip-and-count handling of
//! malformed records carry over unchanged.
//!
//! # Example
//!
//! A word count over a bounded stream, with results per batch in Redis hashes:
//!
//! ```
//! use spate_core::stream::{FastForwardClock, StreamingContext};
//! use spate_core::SpateContext;
//! use spate_redis::testing::LocalRedis;
//! use spate_redis::{RedisHashSink, RedisStreamSource};
//! use std::time::Duration;
//!
//! // A private server; this example needs `redis-server` installed.
//! let Some(server) = LocalRedis::start()? else { return Ok(()) };
//! let client = redis::Client::open(("127.0.0.1", server.port()))?;
//! let mut con = client.get_connection()?;
//! for line in ["the cat", "the dog", "a cat"] {
//!     redis::cmd("XADD").arg("lines").arg("*").arg("line").arg(line).exec(&mut con)?;
//! }
//!
//! let ssc = StreamingContext::builder(&SpateContext::sequential(2))
//!     .batch_interval(Duration::from_secs(1))
//!     .clock(FastForwardClock::new())
//!     .build()?;
//! let source = RedisStreamSource::options(server.url("lines") + "?bounded=true")
//!     .entries_per_batch(2)
//!     .build()?;
//! let sink = RedisHashSink::open(&server.url("counts"))?;
//! ssc.source_stream(source)?
//!     .flat_map(|line: String| line.split(' ').map(String::from).collect::<Vec<_>>())
//!     .map(|word| (word, 1_u64))
//!     .reduce_by_key(|a, b| a + b)
//!     .foreach_rdd(move |rdd, time| Ok(sink.write_batch(time, &rdd.collect()?)?))?;
//! ssc.start()?;
//! ssc.await_termination()?; // bounded: ends after the third entry
//!
//! let batches: Vec<u64> = redis::cmd("ZRANGE").arg("counts:batches").arg(0).arg(-1).query(&mut con)?;
//! assert_eq!(batches.len(), 2); // 2 entries, then 1
//! let first: std::collections::HashMap<String, u64> =
//!     redis::cmd("HGETALL").arg(format!("counts:{}", batches[0])).query(&mut con)?;
//! assert_eq!(first["the"], 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod entry_id;
mod error;
mod link;
mod sink;
mod source;
pub mod testing;
mod url;

pub use entry_id::EntryId;
pub use error::{Error, Result};
pub use link::{RedisStats, RetryPolicy};
pub use sink::RedisHashSink;
pub use source::{
    DEFAULT_ENTRIES_PER_BATCH, DEFAULT_FIELD, DEFAULT_MAX_ENTRY_BYTES, MAX_ENTRIES_PER_BATCH,
    RedisSourceBuilder, RedisStreamSource, StartFrom,
};
pub use url::{DEFAULT_PORT, RedisUrl};

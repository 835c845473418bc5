//! `redis://` inputs and outputs, shared by the commands that accept them.
//!
//! An input `redis://HOST:PORT/STREAM[?field=F&start=…&bounded=true]` reads the entries of
//! a Redis stream (one record per entry, the value of field `line` unless `field` says
//! otherwise); an output `redis://HOST:PORT/PREFIX` writes each batch's rows to the hash
//! `PREFIX:TIME` and other results to `PREFIX:NAME`. See the `spate-redis` crate docs.

use spate::BatchTime;
use spate::io::{CsvFileSink, CsvRecord};
use spate::redis::{RedisHashSink, RedisStreamSource, RedisUrl};
use std::fmt::Display;
use std::path::Path;

const SCHEME: &str = "redis://";

/// Whether an `--input` or `--output` names a Redis stream or key prefix.
pub fn is_redis(text: &str) -> bool {
    text.starts_with(SCHEME)
}

/// Whether the input's URL asks for a bounded read (`bounded=true`): the job then ends at
/// the entry that was last when it started, and its batches follow the input rather than
/// the clock (unless `--realtime`).
pub fn is_bounded(url: &str) -> bool {
    RedisUrl::parse(url).is_ok_and(|u| u.option("bounded") == Some("true"))
}

/// The stream at `url` as text records, at most `per_batch` entries per batch.
pub fn line_source(url: &str, per_batch: u64) -> spate::Result<RedisStreamSource> {
    Ok(RedisStreamSource::options(url)
        .entries_per_batch(per_batch)
        .build()?)
}

/// Where a command writes per-batch results: CSV files in a directory or Redis hashes.
#[derive(Clone)]
pub enum BatchSink {
    /// `DIR/{prefix}-{time}.csv`.
    Files(CsvFileSink),
    /// The hash `PREFIX:TIME` of a Redis server.
    Redis(RedisHashSink),
}

impl BatchSink {
    /// A sink for `output`: a `redis://` URL, else a directory (created if missing) holding
    /// `{prefix}-{time}.csv` files with `header`.
    pub fn open(output: &Path, prefix: &str, header: &[&str]) -> spate::Result<BatchSink> {
        match output.to_str().filter(|o| is_redis(o)) {
            Some(url) => Ok(BatchSink::Redis(RedisHashSink::open(url)?)),
            None => Ok(BatchSink::Files(CsvFileSink::new(output, prefix, header)?)),
        }
    }

    /// Writes (replaces) the results of batch `time`.
    pub fn write_batch<K: Display, V: Display>(
        &self,
        time: BatchTime,
        rows: &[(K, V)],
    ) -> spate::Result<()>
    where
        (K, V): CsvRecord,
    {
        match self {
            BatchSink::Files(sink) => sink.write_batch(time, rows).map(drop).map_err(Into::into),
            BatchSink::Redis(sink) => sink.write_batch(time, rows).map_err(Into::into),
        }
    }
}

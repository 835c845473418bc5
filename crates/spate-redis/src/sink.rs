//! [`RedisHashSink`]: per-batch results written to Redis hashes, idempotently by batch time.

use crate::error::{Error, Result};
use crate::link::{Failure, Link, RedisStats, RetryPolicy};
use crate::url::{RedisUrl, duration_option};
use spate_core::BatchTime;
use std::fmt::Display;
use std::sync::{Arc, Mutex};

/// How many field/value pairs one `HSET` carries (a batch's rows are split into several,
/// all inside one transaction).
const PAIRS_PER_HSET: usize = 1000;

/// The URL options a sink understands.
const SINK_OPTIONS: &[&str] = &["retry_for", "timeout"];

/// Writes each batch's `(key, value)` rows to the hash `PREFIX:TIME` (the batch time in
/// milliseconds) and records the batch in the sorted set `PREFIX:batches` (score and member
/// the batch time), in one `MULTI`/`EXEC` transaction that first deletes the hash:
///
/// ```text
/// MULTI
/// DEL   PREFIX:1700000001000
/// HSET  PREFIX:1700000001000 whale 3 the 14 …      (1000 pairs per HSET)
/// ZADD  PREFIX:batches 1700000001000 1700000001000
/// EXEC
/// ```
///
/// Writing a batch again (a batch recomputed after recovery from a checkpoint) replaces its
/// hash whole, so the stored results are exactly-once whatever was written before the crash.
/// A batch without rows leaves no hash but is listed in `PREFIX:batches`. Rows with equal
/// keys: the last one wins. Readers list batches with `ZRANGE PREFIX:batches 0 -1` and read
/// one with `HGETALL PREFIX:TIME`; [`write_named`](RedisHashSink::write_named) writes other
/// results (e.g. final totals) to `PREFIX:NAME` the same way.
///
/// The sink connects when created (an unreachable server is an error at once); if the server
/// goes away later, a write waits and retries with back-off for up to the [`RetryPolicy`]'s
/// `give_up_after`, then fails (stopping the job; a restart rewrites the batches after its
/// checkpoint). It is cheap to clone: clones share one connection.
#[derive(Clone)]
pub struct RedisHashSink {
    url: RedisUrl,
    link: Arc<Mutex<Link>>,
    stats: RedisStats,
}

impl RedisHashSink {
    /// A sink writing under the prefix of `url` (`redis://HOST:PORT/PREFIX`, options
    /// `retry_for`, `timeout`, `db`), connected now.
    pub fn open(url: &str) -> Result<RedisHashSink> {
        RedisHashSink::with_retry(url, RetryPolicy::default())
    }

    /// Like [`open`](RedisHashSink::open) with a retry policy (URL options override it).
    pub fn with_retry(url: &str, mut retry: RetryPolicy) -> Result<RedisHashSink> {
        let url = RedisUrl::parse(url)?;
        url.check_options(SINK_OPTIONS)?;
        if let Some(t) = url.option("retry_for") {
            retry.give_up_after = duration_option("retry_for", t)?;
        }
        if let Some(t) = url.option("timeout") {
            retry.timeout = duration_option("timeout", t)?;
        }
        let stats = RedisStats::default();
        let mut link = Link::new(&url, retry, stats.clone())?;
        link.connect_now()?;
        Ok(RedisHashSink {
            url,
            link: Arc::new(Mutex::new(link)),
            stats,
        })
    }

    /// The hash a batch goes to: `PREFIX:TIME`.
    pub fn key_for(&self, time: BatchTime) -> String {
        format!("{}:{}", self.url.key(), time.0)
    }

    /// The sorted set listing the batches written: `PREFIX:batches`.
    pub fn index_key(&self) -> String {
        format!("{}:batches", self.url.key())
    }

    /// The sink's counters (batches written, reconnections), shared.
    pub fn stats(&self) -> RedisStats {
        self.stats.clone()
    }

    /// Replaces the hash of batch `time` with `rows` and lists the batch; see the type's
    /// docs.
    pub fn write_batch<K: Display, V: Display>(
        &self,
        time: BatchTime,
        rows: &[(K, V)],
    ) -> Result<()> {
        let key = self.key_for(time);
        let mut pipe = replace_hash(&key, rows);
        pipe.cmd("ZADD")
            .arg(self.index_key())
            .arg(time.0)
            .arg(time.0)
            .ignore();
        self.run(&pipe, &key)?;
        self.stats.add_batch_written();
        Ok(())
    }

    /// Replaces the hash `PREFIX:NAME` with `rows` (not listed among the batches).
    pub fn write_named<K: Display, V: Display>(&self, name: &str, rows: &[(K, V)]) -> Result<()> {
        let key = format!("{}:{name}", self.url.key());
        self.run(&replace_hash(&key, rows), &key)
    }

    /// Runs a transaction, waiting out an unreachable server within the retry budget.
    fn run(&self, pipe: &redis::Pipeline, key: &str) -> Result<()> {
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match link.run(|c| pipe.query::<()>(c)) {
                Ok(()) => return Ok(()),
                Err(Failure::Unavailable(_)) => std::thread::sleep(link.retry_in()),
                Err(Failure::GaveUp(e)) => return Err(e),
                Err(Failure::Refused(message)) => {
                    return Err(Error::Refused {
                        address: link.address(),
                        command: "MULTI/HSET/EXEC",
                        key: key.to_string(),
                        message,
                    });
                }
            }
        }
    }
}

/// `MULTI; DEL key; HSET key …; … EXEC` (the caller may add commands before running it).
fn replace_hash<K: Display, V: Display>(key: &str, rows: &[(K, V)]) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.atomic();
    pipe.cmd("DEL").arg(key).ignore();
    for chunk in rows.chunks(PAIRS_PER_HSET) {
        let cmd = pipe.cmd("HSET").arg(key);
        for (k, v) in chunk {
            cmd.arg(k.to_string()).arg(v.to_string());
        }
        cmd.ignore();
    }
    pipe
}

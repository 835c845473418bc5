//! [`RedisStreamSource`]: the entries of a Redis stream as text records, replayable.

use crate::entry_id::EntryId;
use crate::error::{Error, Result};
use crate::link::{Failure, Link, RedisStats, RetryPolicy};
use crate::url::{RedisUrl, duration_option};
use serde::{Deserialize, Serialize};
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceBatch, SourceOffset};

/// Entries per batch when none is given.
pub const DEFAULT_ENTRIES_PER_BATCH: u64 = 1000;

/// The field read from each entry when none is given.
pub const DEFAULT_FIELD: &str = "line";

/// The longest field value kept, by default (1 MiB); longer entries are skipped.
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 1 << 20;

/// The most entries one batch may ask for.
pub const MAX_ENTRIES_PER_BATCH: u64 = 1_000_000;

/// How many malformed entries are logged one by one (the rest are only counted).
const LOGGED_SKIPS: u64 = 10;

/// The URL options a source understands.
const SOURCE_OPTIONS: &[&str] = &["field", "start", "bounded", "retry_for", "timeout"];

/// Where a source starts when it does not resume from a checkpoint (Kafka's
/// `auto.offset.reset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// The first entry of the stream (`earliest`). The default, like replaying a file.
    Beginning,
    /// Only entries added after the source starts (`latest`, Redis's `$`).
    End,
    /// The entries after this ID.
    After(EntryId),
}

/// The position the source records in checkpoints.
#[derive(Serialize, Deserialize)]
struct Position {
    kind: String,
    key: String,
    /// The last entry delivered, as (ms, seq); `None` before the first.
    last: Option<(u64, u64)>,
}

const POSITION_KIND: &str = "redis-stream/v1";

/// The entries of a Redis stream, oldest first, as `String` records: the value of one field
/// of each entry (`line` unless [`field`](RedisSourceBuilder::field) says otherwise).
///
/// - **Batches**: each batch reads at most `min(entries_per_batch, max_records)` entries
///   after the last one delivered, with one `XRANGE` (never blocking for new entries: a
///   batch takes what is there).
/// - **Offsets**: [`offset`](Source::offset) is the ID of the last entry delivered; after a
///   [`seek`](Source::seek) the next batch starts with the entry after it. The core records
///   offsets in its checkpoints, so a job killed and restarted re-reads exactly the entries
///   after its last checkpoint (see the [crate] docs for what makes this exactly-once).
/// - **Malformed entries** (no such field, a value that is not UTF-8 or longer than
///   [`max_entry_bytes`](RedisSourceBuilder::max_entry_bytes)) are skipped, counted in the
///   batch's `skipped` and in [`RedisStats::skipped`], and logged (the first ten).
/// - **A server that goes away**: the batch is empty and the source reconnects with
///   exponential back-off ([`RetryPolicy`]); reconnections are counted. If the server stays
///   unreachable longer than the policy's `give_up_after`, the batch fails with
///   [`Error::Unreachable`] and the job stops. At start, an unreachable server is an error
///   at once.
/// - **Bounded** sources ([`bounded`](RedisSourceBuilder::bounded)) end after the entry
///   that was last when they started, so a job over them finishes; unbounded ones never end.
pub struct RedisStreamSource {
    url: RedisUrl,
    field: String,
    per_batch: u64,
    start_from: StartFrom,
    bounded: bool,
    max_entry_bytes: usize,
    link: Link,
    stats: RedisStats,
    last: Option<EntryId>,
    /// For a bounded source: the last entry to deliver (`None`: the stream was empty).
    end: Option<EntryId>,
    started: bool,
}

/// Configures a [`RedisStreamSource`]; see [`RedisStreamSource::options`].
#[derive(Clone, Debug)]
pub struct RedisSourceBuilder {
    url: String,
    field: Option<String>,
    per_batch: u64,
    start_from: Option<StartFrom>,
    bounded: Option<bool>,
    max_entry_bytes: usize,
    retry: RetryPolicy,
}

impl RedisSourceBuilder {
    /// The field whose value becomes the record (default `line`; URL option `field`).
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Entries read per batch at most (default 1000); a rate limit may lower it.
    pub fn entries_per_batch(mut self, entries: u64) -> Self {
        self.per_batch = entries;
        self
    }

    /// Where to start without a checkpoint (default the beginning; URL option
    /// `start=beginning|end|ID`).
    pub fn start_from(mut self, start: StartFrom) -> Self {
        self.start_from = Some(start);
        self
    }

    /// End after the entry that is last when the source starts (URL option
    /// `bounded=true`); default: never end.
    pub fn bounded(mut self, bounded: bool) -> Self {
        self.bounded = Some(bounded);
        self
    }

    /// The longest field value kept (default 1 MiB); longer entries are skipped and
    /// counted.
    pub fn max_entry_bytes(mut self, bytes: usize) -> Self {
        self.max_entry_bytes = bytes;
        self
    }

    /// How to ride out a server that goes away (URL options `retry_for` and `timeout`
    /// set its `give_up_after` and `timeout`).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Checks the URL and options. Connects only when the context starts the source.
    pub fn build(self) -> Result<RedisStreamSource> {
        let url = RedisUrl::parse(&self.url)?;
        url.check_options(SOURCE_OPTIONS)?;
        let field = match (self.field, url.option("field")) {
            (Some(f), _) => f,
            (None, Some(f)) => f.to_string(),
            (None, None) => DEFAULT_FIELD.to_string(),
        };
        if field.is_empty() {
            return Err(Error::InvalidOption {
                name: "field",
                value: String::new(),
                reason: "must name a field of the entries",
            });
        }
        if !(1..=MAX_ENTRIES_PER_BATCH).contains(&self.per_batch) {
            return Err(Error::InvalidOption {
                name: "entries_per_batch",
                value: self.per_batch.to_string(),
                reason: "must be between 1 and 1,000,000",
            });
        }
        if !(1..=512 << 20).contains(&self.max_entry_bytes) {
            return Err(Error::InvalidOption {
                name: "max_entry_bytes",
                value: self.max_entry_bytes.to_string(),
                reason: "must be between 1 and 512 MiB (the largest Redis value)",
            });
        }
        let start_from = match (self.start_from, url.option("start")) {
            (Some(s), _) => s,
            (None, None | Some("beginning")) => StartFrom::Beginning,
            (None, Some("end")) => StartFrom::End,
            (None, Some(id)) => StartFrom::After(id.parse().map_err(|_| Error::InvalidOption {
                name: "start",
                value: id.to_string(),
                reason: "must be beginning, end or an entry ID such as 1700000000000-0",
            })?),
        };
        let bounded = match (self.bounded, url.option("bounded")) {
            (Some(b), _) => b,
            (None, None | Some("false")) => false,
            (None, Some("true")) => true,
            (None, Some(other)) => {
                return Err(Error::InvalidOption {
                    name: "bounded",
                    value: other.to_string(),
                    reason: "must be true or false",
                });
            }
        };
        let mut retry = self.retry;
        if let Some(t) = url.option("retry_for") {
            retry.give_up_after = duration_option("retry_for", t)?;
        }
        if let Some(t) = url.option("timeout") {
            retry.timeout = duration_option("timeout", t)?;
        }
        let stats = RedisStats::default();
        Ok(RedisStreamSource {
            link: Link::new(&url, retry, stats.clone())?,
            url,
            field,
            per_batch: self.per_batch,
            start_from,
            bounded,
            max_entry_bytes: self.max_entry_bytes,
            stats,
            last: match start_from {
                StartFrom::After(id) => Some(id),
                _ => None,
            },
            end: None,
            started: false,
        })
    }
}

impl RedisStreamSource {
    /// Starts configuring a source on `url`: `redis://[USER:PASSWORD@]HOST[:PORT]/KEY`
    /// with optional `?field=F&start=beginning|end|ID&bounded=true|false&retry_for=60s&timeout=5s&db=N`.
    pub fn options(url: impl Into<String>) -> RedisSourceBuilder {
        RedisSourceBuilder {
            url: url.into(),
            field: None,
            per_batch: DEFAULT_ENTRIES_PER_BATCH,
            start_from: None,
            bounded: None,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            retry: RetryPolicy::default(),
        }
    }

    /// The source's counters (entries, skips, reconnections), shared.
    pub fn stats(&self) -> RedisStats {
        self.stats.clone()
    }

    /// The last entry delivered, if any.
    pub fn last_delivered(&self) -> Option<EntryId> {
        self.last
    }

    /// The URL read (without credentials).
    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    fn refused(&self, command: &'static str, message: String) -> Error {
        Error::Refused {
            address: self.url.address(),
            command,
            key: self.url.key().to_string(),
            message,
        }
    }

    fn protocol(&self, command: &'static str, message: impl Into<String>) -> Error {
        Error::Protocol {
            address: self.url.address(),
            command,
            message: message.into(),
        }
    }

    /// The stream's last entry now, or `None` if it is empty or absent. Fails unless the
    /// server answers.
    fn newest_entry(&mut self) -> Result<Option<EntryId>> {
        let key = self.url.key().to_string();
        let reply = self.link.run(|c| {
            redis::cmd("XREVRANGE")
                .arg(&key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query::<redis::Value>(c)
        });
        let value = match reply {
            Ok(v) => v,
            Err(Failure::Refused(m)) => return Err(self.refused("XREVRANGE", m)),
            Err(Failure::GaveUp(e)) => return Err(e),
            Err(Failure::Unavailable(m)) => {
                return Err(Error::Unreachable {
                    address: self.url.address(),
                    waited: None,
                    attempts: 1,
                    message: m,
                });
            }
        };
        let entries = entries_of(value).map_err(|m| self.protocol("XREVRANGE", m))?;
        match entries.into_iter().next() {
            Some((id, _)) => Ok(Some(id)),
            None => Ok(None),
        }
    }

    /// Turns one `XRANGE` reply into records, advancing the position past every entry.
    fn decode(&mut self, reply: redis::Value) -> Result<SourceBatch<String>> {
        let entries = entries_of(reply).map_err(|m| self.protocol("XRANGE", m))?;
        let mut records = Vec::with_capacity(entries.len());
        let (mut skipped, mut bytes) = (0_u64, 0_u64);
        for (id, fields) in entries {
            if self.last.is_some_and(|last| id <= last) {
                return Err(
                    self.protocol("XRANGE", format!("entry {id} is not after {:?}", self.last))
                );
            }
            self.last = Some(id);
            match self.take_field(fields) {
                Ok(value) => {
                    bytes += value.len() as u64;
                    records.push(value);
                }
                Err(reason) => {
                    skipped += 1;
                    let total = self.stats.skipped() + skipped;
                    if total <= LOGGED_SKIPS {
                        tracing::warn!(
                            stream = %self.url,
                            entry = %id,
                            "skipping an entry: {reason}{}",
                            if total == LOGGED_SKIPS { " (further skips are only counted)" } else { "" }
                        );
                    }
                }
            }
        }
        self.stats.add_entries(records.len() as u64, skipped);
        Ok(SourceBatch {
            records,
            skipped,
            bytes,
        })
    }

    /// The value of the source's field in `fields` (name, value, name, value …).
    fn take_field(&self, fields: Vec<redis::Value>) -> std::result::Result<String, String> {
        let mut fields = fields.into_iter();
        while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
            if bulk_bytes(&name) != Some(self.field.as_bytes()) {
                continue;
            }
            let redis::Value::BulkString(value) = value else {
                return Err(format!("field `{}` is not a string", self.field));
            };
            if value.len() > self.max_entry_bytes {
                return Err(format!(
                    "field `{}` has {} bytes, over the limit of {}",
                    self.field,
                    value.len(),
                    self.max_entry_bytes
                ));
            }
            return String::from_utf8(value).map_err(|e| {
                format!(
                    "field `{}` is not UTF-8 (after byte {})",
                    self.field,
                    e.utf8_error().valid_up_to()
                )
            });
        }
        Err(format!("no field `{}`", self.field))
    }
}

fn bulk_bytes(value: &redis::Value) -> Option<&[u8]> {
    match value {
        redis::Value::BulkString(b) => Some(b),
        redis::Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The (ID, fields) of the entries of an `XRANGE`/`XREVRANGE` reply.
fn entries_of(
    reply: redis::Value,
) -> std::result::Result<Vec<(EntryId, Vec<redis::Value>)>, String> {
    let redis::Value::Array(entries) = reply else {
        return Err(format!("expected an array of entries, got {reply:?}"));
    };
    entries
        .into_iter()
        .map(|entry| {
            let redis::Value::Array(parts) = entry else {
                return Err(format!("expected [id, fields], got {entry:?}"));
            };
            let mut parts = parts.into_iter();
            let (Some(id), Some(fields)) = (parts.next(), parts.next()) else {
                return Err("an entry without an ID or fields".to_string());
            };
            let id = bulk_bytes(&id)
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(|| format!("an entry ID that is not text: {id:?}"))?
                .parse::<EntryId>()?;
            let fields = match fields {
                redis::Value::Array(f) => f,
                redis::Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                redis::Value::Nil => Vec::new(),
                other => return Err(format!("entry {id}: fields are {other:?}")),
            };
            Ok((id, fields))
        })
        .collect()
}

impl Source for RedisStreamSource {
    type Item = String;

    /// `redis-stream(KEY)`: the name enters the checkpoint's graph fingerprint, so it names
    /// the stream but not the server (a job may resume against a moved server).
    fn name(&self) -> String {
        format!("redis-stream({})", self.url.key())
    }

    /// Connects (an unreachable server or a key that is not a stream is an error now) and
    /// resolves `start=end` and the end of a bounded source.
    fn start(&mut self) -> spate_core::Result<()> {
        self.link.connect_now()?;
        let key = self.url.key().to_string();
        let kind = self
            .link
            .run(|c| redis::cmd("TYPE").arg(&key).query::<String>(c))
            .map_err(|f| match f {
                Failure::Refused(m) => self.refused("TYPE", m),
                Failure::GaveUp(e) => e,
                Failure::Unavailable(m) => Error::Unreachable {
                    address: self.url.address(),
                    waited: None,
                    attempts: 1,
                    message: m,
                },
            })?;
        if kind != "stream" && kind != "none" {
            return Err(self
                .refused("TYPE", format!("the key holds a {kind}, not a stream"))
                .into());
        }
        if kind == "none" {
            tracing::warn!(stream = %self.url, "the stream does not exist (yet); reading it as empty");
        }
        if self.start_from == StartFrom::End {
            self.last = self.newest_entry()?;
        }
        if self.bounded {
            self.end = self.newest_entry()?;
        }
        self.started = true;
        tracing::info!(stream = %self.url, field = %self.field, bounded = self.bounded, end = ?self.end, "reading a Redis stream");
        Ok(())
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<String>> {
        let count = max_records.map_or(self.per_batch, |m| m.min(self.per_batch));
        if count == 0 || self.is_exhausted() {
            return Ok(SourceBatch::default());
        }
        let from = match self.last {
            Some(last) => match last.next() {
                Some(next) => next.to_string(),
                None => return Ok(SourceBatch::default()),
            },
            None => "-".to_string(),
        };
        let to = match (self.bounded, self.end) {
            (true, Some(end)) => end.to_string(),
            _ => "+".to_string(),
        };
        let key = self.url.key().to_string();
        let reply = self.link.run(|c| {
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(&from)
                .arg(&to)
                .arg("COUNT")
                .arg(count)
                .query::<redis::Value>(c)
        });
        match reply {
            Ok(value) => Ok(self.decode(value)?),
            Err(Failure::Unavailable(reason)) => {
                tracing::debug!(stream = %self.url, "no batch from Redis: {reason}");
                Ok(SourceBatch::default())
            }
            Err(Failure::GaveUp(e)) => Err(e.into()),
            Err(Failure::Refused(m)) => Err(self.refused("XRANGE", m).into()),
        }
    }

    /// A bounded source is exhausted after its end entry (at once if the stream was empty
    /// when it started); an unbounded one never is.
    fn is_exhausted(&self) -> bool {
        self.bounded
            && self.started
            && match self.end {
                None => true,
                Some(end) => self.last.is_some_and(|last| last >= end),
            }
    }

    fn offset(&self) -> Option<SourceOffset> {
        SourceOffset::encode(&Position {
            kind: POSITION_KIND.to_string(),
            key: self.url.key().to_string(),
            last: self.last.map(|id| (id.ms, id.seq)),
        })
        .ok()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        let bad = |reason: &str| Error::BadOffset {
            key: self.url.key().to_string(),
            offset: format!("{} bytes", offset.0.len()),
            reason: reason.to_string(),
        };
        let position: Position = offset
            .decode()
            .map_err(|_| bad("it is not a Redis stream position"))?;
        if position.kind != POSITION_KIND {
            return Err(bad("it is not a Redis stream position").into());
        }
        if position.key != self.url.key() {
            return Err(bad(&format!("it is a position in stream `{}`", position.key)).into());
        }
        self.last = position.last.map(|(ms, seq)| EntryId { ms, seq });
        Ok(())
    }
}

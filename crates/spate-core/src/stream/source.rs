//! Where streams come from: the [`Source`] trait and the in-memory queue source.
//!
//! At every batch time the context asks each source for the records of that batch. A
//! *replayable* source also reports an [`SourceOffset`] after each batch and can
//! [`seek`](Source::seek) back to one, which is what checkpoint recovery uses to reprocess
//! exactly the batches after the last checkpoint. Sockets, files, directories, generators
//! live in `spate-io`; the queue source is here because tests and examples everywhere use it.

use crate::data::Data;
use crate::error::{Error, Result};
use crate::storage::lock;
use crate::time::BatchTime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// The records of one batch, and what the source had to skip to produce them.
#[derive(Debug)]
pub struct SourceBatch<T> {
    /// The batch's records.
    pub records: Vec<T>,
    /// Input units (lines, messages) that could not be turned into records: malformed,
    /// invalid UTF-8, over-long. They are counted in the batch metrics, never dropped
    /// silently.
    pub skipped: u64,
    /// Bytes read for this batch, if the source knows.
    pub bytes: u64,
}

impl<T> SourceBatch<T> {
    /// A batch of `records` with nothing skipped.
    pub fn new(records: Vec<T>) -> SourceBatch<T> {
        SourceBatch {
            records,
            skipped: 0,
            bytes: 0,
        }
    }
}

impl<T> Default for SourceBatch<T> {
    fn default() -> Self {
        SourceBatch::new(Vec::new())
    }
}

/// A batch read by one of several workers: the partitions it owns, and what the whole batch
/// held (see [`Source::next_batch_parts`]).
#[derive(Debug)]
pub struct PartedBatch<T> {
    /// By partition: its records if the worker asked for it, `None` otherwise.
    pub parts: Vec<Option<Vec<T>>>,
    /// Records of the whole batch.
    pub records: u64,
    /// Input units skipped in the whole batch (see [`SourceBatch::skipped`]).
    pub skipped: u64,
    /// Bytes read for the whole batch, if the source knows.
    pub bytes: u64,
    /// A digest of the batch's raw input (0 if the source has none): every worker must find
    /// the same, or they read different inputs and the batch fails.
    pub digest: u64,
}

impl<T> PartedBatch<T> {
    /// Splits a whole batch into `partitions` as [`crate::split_range`] does, keeping the
    /// partitions `keep` selects.
    pub fn split(batch: SourceBatch<T>, partitions: usize, keep: &dyn Fn(usize) -> bool) -> Self {
        let records = batch.records.len();
        let parts = crate::context::split_even(batch.records, partitions)
            .into_iter()
            .enumerate()
            .map(|(p, part)| keep(p).then_some(part))
            .collect();
        PartedBatch {
            parts,
            records: records as u64,
            skipped: batch.skipped,
            bytes: batch.bytes,
            digest: 0,
        }
    }
}

/// A serialized position in a replayable source (a byte offset, a file list …).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceOffset(pub Vec<u8>);

impl SourceOffset {
    /// Encodes a position.
    pub fn encode<P: Serialize>(position: &P) -> Result<SourceOffset> {
        bincode::serialize(position)
            .map(SourceOffset)
            .map_err(|e| Error::Serialization {
                what: "source offset".into(),
                message: e.to_string(),
            })
    }

    /// Decodes a position written by [`encode`](SourceOffset::encode).
    pub fn decode<P: DeserializeOwned>(&self) -> Result<P> {
        bincode::deserialize(&self.0).map_err(|e| Error::Serialization {
            what: "source offset".into(),
            message: e.to_string(),
        })
    }
}

/// A stream's origin, polled once per batch by the context's batch generator.
///
/// Implementations that read from the outside world (sockets) typically run a receiver
/// thread from [`start`](Source::start) into a bounded buffer and drain it in
/// [`next_batch`](Source::next_batch).
pub trait Source: Send + 'static {
    /// The record type.
    type Item: Data;

    /// A short name for logs and metrics.
    fn name(&self) -> String;

    /// Called once when the context starts.
    fn start(&mut self) -> Result<()> {
        Ok(())
    }

    /// The records of the batch ending at `time`: at most `max_records` if given (rate
    /// limiting); records beyond it stay in the source for later batches.
    fn next_batch(
        &mut self,
        time: BatchTime,
        max_records: Option<u64>,
    ) -> Result<SourceBatch<Self::Item>>;

    /// Whether every worker may read this source itself when several workers run the
    /// stream: each then reads the whole batch with
    /// [`next_batch_parts`](Source::next_batch_parts) and keeps the partitions it owns,
    /// instead of the leader reading it and sending every worker its partitions. Only for
    /// input every process reaches alike (the same file at the same path); the workers
    /// compare each batch's counts and [`digest`](PartedBatch::digest) before committing
    /// it. Every worker then also starts, seeks and stops the source. A batch must depend
    /// on the source's position only, not on when it is read: the workers read at
    /// different moments, and those other than the leader may read one batch the leader
    /// then does not run (the stream stops; checkpoints hold the leader's offsets). The
    /// answer must not change once the source is built (the workers compare it at start).
    /// Default: `false`.
    fn read_by_every_worker(&self) -> bool {
        false
    }

    /// What [`next_batch`](Source::next_batch) returns, split into `partitions` partitions
    /// as [`crate::split_range`] splits a batch, keeping only those `keep` selects: a
    /// source that can should skip building the records of the others. Called instead of
    /// `next_batch` on every worker when [`read_by_every_worker`](Source::read_by_every_worker).
    /// Default: `next_batch`, split, with digest 0.
    fn next_batch_parts(
        &mut self,
        time: BatchTime,
        max_records: Option<u64>,
        partitions: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Result<PartedBatch<Self::Item>> {
        let batch = self.next_batch(time, max_records)?;
        Ok(PartedBatch::split(batch, partitions, keep))
    }

    /// Whether the source is finished and will never produce another record. A context
    /// whose sources are all finished stops by itself after processing the last batch.
    /// It is also asked right after [`seek`](Source::seek) during recovery (a restarted job
    /// whose input was fully consumed stops without running a batch), so it must be
    /// correct then too.
    fn is_exhausted(&self) -> bool {
        false
    }

    /// The position after the last batch returned, for replayable sources.
    fn offset(&self) -> Option<SourceOffset> {
        None
    }

    /// Rewinds to a position reported by [`offset`](Source::offset).
    fn seek(&mut self, offset: &SourceOffset) -> Result<()> {
        let _ = offset;
        Err(Error::Source {
            source_name: self.name(),
            message: "this source is not replayable".into(),
        })
    }

    /// Releases resources; called once when the context stops.
    fn stop(&mut self) {}
}

/// The producer side of a queue stream: push batches (or records) from any thread.
#[derive(Clone)]
pub struct QueueHandle<T> {
    queue: Arc<Mutex<QueueState<T>>>,
}

struct QueueState<T> {
    batches: VecDeque<Vec<T>>,
    closed: bool,
}

impl<T: Data> QueueHandle<T> {
    /// Enqueues one batch's worth of records.
    pub fn push(&self, records: Vec<T>) {
        lock(&self.queue).batches.push_back(records);
    }

    /// Marks the queue finished: once drained, the source is exhausted.
    pub fn close(&self) {
        lock(&self.queue).closed = true;
    }

    /// Batches waiting to be consumed.
    pub fn pending(&self) -> usize {
        lock(&self.queue).batches.len()
    }
}

/// An in-memory queue of batches (Spark's `queueStream`): with `one_at_a_time`, each batch
/// takes one queued `Vec`; otherwise it takes everything queued.
pub struct QueueSource<T> {
    queue: Arc<Mutex<QueueState<T>>>,
    one_at_a_time: bool,
}

impl<T: Data> QueueSource<T> {
    /// A queue source and its producer handle.
    pub fn new(one_at_a_time: bool) -> (QueueHandle<T>, QueueSource<T>) {
        let queue = Arc::new(Mutex::new(QueueState {
            batches: VecDeque::new(),
            closed: false,
        }));
        (
            QueueHandle {
                queue: Arc::clone(&queue),
            },
            QueueSource {
                queue,
                one_at_a_time,
            },
        )
    }
}

impl<T: Data> Source for QueueSource<T> {
    type Item = T;

    fn name(&self) -> String {
        "queue".to_string()
    }

    fn next_batch(&mut self, _time: BatchTime, max_records: Option<u64>) -> Result<SourceBatch<T>> {
        let mut q = lock(&self.queue);
        let mut records = Vec::new();
        let limit = max_records.map_or(usize::MAX, |m| m as usize);
        while let Some(front) = q.batches.front_mut() {
            let room = limit - records.len();
            if front.len() > room {
                records.extend(front.drain(..room));
                break;
            }
            if let Some(batch) = q.batches.pop_front() {
                records.extend(batch);
            }
            if self.one_at_a_time || records.len() >= limit {
                break;
            }
        }
        Ok(SourceBatch::new(records))
    }

    fn is_exhausted(&self) -> bool {
        let q = lock(&self.queue);
        q.closed && q.batches.is_empty()
    }
}

/// A replayable in-memory source: fixed batches delivered one per batch interval, with the
/// batch index as offset, so checkpoint recovery can replay them. For tests, examples and
/// benchmarks; exhausted after the last batch.
///
/// ```
/// use spate_core::stream::{ReplaySource, Source};
/// use spate_core::BatchTime;
///
/// let mut source = ReplaySource::new(vec![vec![1, 2], vec![3]]);
/// assert_eq!(source.next_batch(BatchTime(1000), None)?.records, vec![1, 2]);
/// let offset = source.offset().unwrap();
/// assert_eq!(source.next_batch(BatchTime(2000), None)?.records, vec![3]);
/// assert!(source.is_exhausted());
/// source.seek(&offset)?;
/// assert_eq!(source.next_batch(BatchTime(2000), None)?.records, vec![3]);
/// # Ok::<(), spate_core::Error>(())
/// ```
pub struct ReplaySource<T> {
    batches: std::sync::Arc<Vec<Vec<T>>>,
    next: usize,
}

impl<T: Data> ReplaySource<T> {
    /// A source delivering `batches` in order, one per batch.
    pub fn new(batches: Vec<Vec<T>>) -> ReplaySource<T> {
        ReplaySource {
            batches: std::sync::Arc::new(batches),
            next: 0,
        }
    }

    /// A source delivering shared `batches` in order: several runs of a program (a first
    /// run and its restart from a checkpoint) can replay one input without copying it.
    pub fn shared(batches: std::sync::Arc<Vec<Vec<T>>>) -> ReplaySource<T> {
        ReplaySource { batches, next: 0 }
    }
}

impl<T: Data> Source for ReplaySource<T> {
    type Item = T;

    fn name(&self) -> String {
        "replay".into()
    }

    /// The next batch whole (the rate limit does not split batches: a replayed batch is
    /// the unit of the test input).
    fn next_batch(
        &mut self,
        _time: BatchTime,
        _max_records: Option<u64>,
    ) -> Result<SourceBatch<T>> {
        let batch = self.batches.get(self.next).cloned().unwrap_or_default();
        self.next = (self.next + 1).min(self.batches.len());
        Ok(SourceBatch::new(batch))
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.batches.len()
    }

    fn offset(&self) -> Option<SourceOffset> {
        SourceOffset::encode(&(self.next as u64)).ok()
    }

    fn seek(&mut self, offset: &SourceOffset) -> Result<()> {
        let next: u64 = offset.decode()?;
        if next as usize > self.batches.len() {
            return Err(Error::Source {
                source_name: self.name(),
                message: format!(
                    "offset {next} is past the last batch ({})",
                    self.batches.len()
                ),
            });
        }
        self.next = next as usize;
        Ok(())
    }
}

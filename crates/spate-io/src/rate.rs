//! [`RateSource`]: records made by a generator function at a fixed rate.

use crate::error::IoError;
use crate::text::Quota;
use serde::{Deserialize, Serialize};
use spate_core::stream::{Source, SourceBatch, SourceOffset};
use spate_core::{BatchTime, Data};
use std::time::Duration;

#[derive(Serialize, Deserialize)]
struct RateOffset {
    emitted: u64,
    batches: u64,
}

/// Generates records `generator(0)`, `generator(1)`, … at a fixed number per batch or per
/// second (Spark's `rate` source): synthetic load for benchmarks and soak tests.
///
/// Replayable: the offset is the number of records emitted (and of batches served, for the
/// rate schedule), so a deterministic generator replays the same records after recovery.
/// With a [`limit`](Self::limit) the source is exhausted after that many records.
/// `max_records` caps a batch; records not emitted are not carried over.
///
/// ```
/// use spate_io::{RateSource, Source};
/// use spate_core::BatchTime;
///
/// let mut squares = RateSource::new(3, |i| i * i).limit(5);
/// assert_eq!(squares.next_batch(BatchTime(1), None)?.records, [0, 1, 4]);
/// assert_eq!(squares.next_batch(BatchTime(2), None)?.records, [9, 16]);
/// assert!(squares.is_exhausted());
/// # Ok::<(), spate_core::Error>(())
/// ```
pub struct RateSource<T> {
    generator: Box<dyn Fn(u64) -> T + Send>,
    quota: Quota,
    limit: Option<u64>,
    emitted: u64,
    batches: u64,
}

impl<T: Data> RateSource<T> {
    /// `per_batch` records every batch, the `i`-th (from 0) being `generator(i)`.
    pub fn new(per_batch: u64, generator: impl Fn(u64) -> T + Send + 'static) -> RateSource<T> {
        RateSource {
            generator: Box::new(generator),
            quota: Quota::PerBatch(per_batch),
            limit: None,
            emitted: 0,
            batches: 0,
        }
    }

    /// `rate` records per second of stream time in a context with this `batch_interval`;
    /// fractional rates are spread exactly over batches.
    pub fn per_second(
        rate: f64,
        batch_interval: Duration,
        generator: impl Fn(u64) -> T + Send + 'static,
    ) -> Result<RateSource<T>, IoError> {
        let mut source = RateSource::new(0, generator);
        source.quota = Quota::per_second("rate", rate, batch_interval)?;
        Ok(source)
    }

    /// Stops after `total` records in all.
    pub fn limit(mut self, total: u64) -> RateSource<T> {
        self.limit = Some(total);
        self
    }

    /// Records emitted so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }
}

impl<T: Data> Source for RateSource<T> {
    type Item = T;

    fn name(&self) -> String {
        "rate".into()
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<T>> {
        let mut n = self.quota.for_batch(self.batches);
        self.batches += 1;
        if let Some(max) = max_records {
            n = n.min(max);
        }
        if let Some(limit) = self.limit {
            n = n.min(limit.saturating_sub(self.emitted));
        }
        let end = self.emitted.saturating_add(n);
        let records = (self.emitted..end).map(&self.generator).collect();
        self.emitted = end;
        Ok(SourceBatch::new(records))
    }

    fn is_exhausted(&self) -> bool {
        self.limit.is_some_and(|l| self.emitted >= l)
    }

    fn offset(&self) -> Option<SourceOffset> {
        SourceOffset::encode(&RateOffset {
            emitted: self.emitted,
            batches: self.batches,
        })
        .ok()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        let at: RateOffset = offset.decode()?;
        self.emitted = at.emitted;
        self.batches = at.batches;
        Ok(())
    }
}

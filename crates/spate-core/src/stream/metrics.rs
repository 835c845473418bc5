//! Per-batch metrics and listeners.

use crate::time::BatchTime;
use serde::{Deserialize, Serialize};

/// What happened in one batch.
///
/// Delays follow Spark's definitions: *scheduling delay* is how long the batch waited after
/// its time before processing started; *processing time* is how long its jobs took; *total
/// delay* is their sum, the batch's end-to-end latency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchInfo {
    /// The batch time.
    pub batch_time: BatchTime,
    /// Records the sources delivered for this batch.
    pub records_in: u64,
    /// Records per second of batch interval.
    pub input_rate: f64,
    /// Input units the sources skipped (malformed, oversized, invalid UTF-8).
    pub records_skipped: u64,
    /// Records event-time operators found behind the watermark (dropped or routed to a
    /// late-data stream).
    pub records_late: u64,
    /// Bytes the sources read, where known.
    pub bytes_in: u64,
    /// Milliseconds between the batch time and the start of processing.
    pub scheduling_delay_ms: u64,
    /// Milliseconds spent processing the batch.
    pub processing_time_ms: u64,
    /// `scheduling_delay_ms + processing_time_ms`.
    pub total_delay_ms: u64,
    /// Entries held by stateful operators after the batch.
    pub state_size: u64,
    /// The rate limit sources were given for this batch, if any (records per batch).
    pub rate_limit: Option<u64>,
    /// Milliseconds the batch thread spent on a checkpoint after this batch, if one was
    /// taken: waiting for the previous checkpoint's files and taking the snapshot (freezing
    /// the state, encoding window panes and the manifest), and with
    /// [`CheckpointConfig::synchronous`](super::CheckpointConfig::synchronous) serializing
    /// the state and writing the files. The default serializes and writes in the background
    /// while the next batches run.
    pub checkpoint_ms: Option<u64>,
    /// The checkpoint whose files were found written by the end of this batch, if one was:
    /// the checkpoint taken after this batch when written synchronously, an earlier one
    /// (usually the last) when written in the background. With several workers, a
    /// checkpoint is reported once every worker has written its part.
    #[serde(default)]
    pub checkpoint_written: Option<BatchTime>,
    /// Bytes of the files of [`checkpoint_written`](Self::checkpoint_written): the
    /// serialized state of every stateful operator, window pane and managed state, plus
    /// source offsets (every worker's part and the manifest). The exact size of the job's
    /// state as stored, known only once a checkpoint is written.
    #[serde(default)]
    pub checkpoint_bytes: Option<u64>,
}

/// Receives streaming events. All methods default to doing nothing.
pub trait StreamingListener: Send + Sync + 'static {
    /// Called on the batch generator thread after every completed batch.
    fn on_batch_completed(&self, info: &BatchInfo) {
        let _ = info;
    }

    /// Called once when the context has stopped, with the error if it stopped because a
    /// batch failed.
    fn on_stopped(&self, error: Option<&crate::Error>) {
        let _ = error;
    }
}

/// A shared listener is a listener, so one value can be registered and still be read.
impl<L: StreamingListener> StreamingListener for std::sync::Arc<L> {
    fn on_batch_completed(&self, info: &BatchInfo) {
        (**self).on_batch_completed(info);
    }

    fn on_stopped(&self, error: Option<&crate::Error>) {
        (**self).on_stopped(error);
    }
}

//! The one error type of the core, grouped by the phase in which an error is found.
//!
//! Plan errors are found while a program builds its RDDs and DStreams, before any data flows.
//! Execution errors happen while a job runs. Checkpoint errors concern files on disk.
//! [`Error::Internal`] means a bug in Spate itself.

use std::path::PathBuf;
use std::time::Duration;

/// Result with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- Plan errors: caught before data flows. ----
    /// A window or slide duration is zero or not a multiple of the parent stream's interval.
    #[error(
        "{what} {duration:?} is not a positive multiple of the parent stream's interval {interval:?}; \
         choose a {what} that is a whole number of batches"
    )]
    WindowNotMultiple {
        /// `"window length"` or `"slide"`.
        what: &'static str,
        /// The offending duration.
        duration: Duration,
        /// The interval it must be a multiple of.
        interval: Duration,
    },

    /// Two streams combined in one operator run at different intervals.
    #[error(
        "{operator} needs both streams on the same interval, got {left:?} and {right:?}; \
         window the faster stream first"
    )]
    IntervalMismatch {
        /// The operator, e.g. `"join"`.
        operator: &'static str,
        /// Interval of the left stream.
        left: Duration,
        /// Interval of the right stream.
        right: Duration,
    },

    /// Two streams from different streaming contexts were combined.
    #[error("{operator} combines streams from two different StreamingContexts")]
    ContextMismatch {
        /// The operator, e.g. `"union"`.
        operator: &'static str,
    },

    /// A parameter is out of range.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// Name of the parameter as the user spelt it.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// What would be valid.
        reason: &'static str,
    },

    /// The streaming context is in the wrong lifecycle state for the call.
    #[error("cannot {action}: the streaming context is {state}")]
    Lifecycle {
        /// What the user tried, e.g. `"add an output operation"`.
        action: &'static str,
        /// The state it was in, e.g. `"already started"`.
        state: &'static str,
    },

    /// `start` was called on a context without any output operation.
    #[error(
        "no output operations registered: nothing would ever run; \
         add foreach_rdd, print or save_as_text_files before start()"
    )]
    NoOutputOperations,

    /// An operation needs a checkpoint directory and none was set.
    #[error("{operation} needs a checkpoint directory; set one with `checkpoint_dir(...)`")]
    NoCheckpointDir {
        /// The operation that needs it.
        operation: &'static str,
    },

    // ---- Execution errors. ----
    /// A task kept failing after the configured number of attempts.
    #[error(
        "task for partition {partition} of {stage} failed {attempts} times; last failure: {message}"
    )]
    TaskFailed {
        /// A description of the stage, e.g. `"rdd 12 (reduce_by_key)"`.
        stage: String,
        /// The partition index.
        partition: usize,
        /// How many attempts were made.
        attempts: u32,
        /// The panic message or error of the last attempt.
        message: String,
    },

    /// A batch failed; the streaming context stopped.
    #[error("batch at {time} failed: {source}")]
    BatchFailed {
        /// The batch time, as milliseconds since the context's zero time.
        time: crate::BatchTime,
        /// Why.
        #[source]
        source: Box<Error>,
    },

    /// A source could not produce its batch.
    #[error("source `{source_name}` failed: {message}")]
    Source {
        /// The source's name.
        source_name: String,
        /// What went wrong.
        message: String,
    },

    /// A user-supplied function or library operator failed on the data of a batch.
    #[error("{operator} failed: {message}")]
    Operator {
        /// The operator, e.g. `"StreamingKMeans \"model\""`.
        operator: String,
        /// What went wrong.
        message: String,
    },

    /// An I/O error, with the path or address involved.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file, directory or address.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A record could not be serialized or deserialized.
    #[error("serialization failed for {what}: {message}")]
    Serialization {
        /// What was being (de)serialized.
        what: String,
        /// The encoder's message.
        message: String,
    },

    /// An RDD of a stateful stream was computed after its batch ended.
    #[error(
        "the state of batch {time} was already folded into later state; a stateful \
         stream's RDD can only be computed during its batch: collect it inside foreach_rdd"
    )]
    StateExpired {
        /// The batch whose RDD was requested.
        time: crate::BatchTime,
    },

    /// The runtime could not be started (threads, pools).
    #[error("the runtime could not start: {message}")]
    Runtime {
        /// What failed.
        message: String,
    },

    /// Another worker of the program failed; every worker stops with this error.
    #[error("worker {worker} of the program failed: {message}")]
    PeerFailed {
        /// The worker that failed.
        worker: usize,
        /// Its error.
        message: String,
    },

    /// The workers of a program stopped doing the same thing: a program whose actions or
    /// output operations depend on something that differs between workers (the time, a
    /// random number, a local file), or a bug.
    #[error(
        "the workers diverged: this worker is at {ours}, worker {worker} at {theirs}; \
         every worker must run the same program on the same inputs"
    )]
    WorkersDiverged {
        /// A worker that disagreed.
        worker: usize,
        /// What this worker was doing.
        ours: String,
        /// What that worker was doing.
        theirs: String,
    },

    /// The workers of a distributed program were not started alike.
    #[error(
        "worker {worker} was started differently: its {what} is {theirs}, this worker's is \
         {ours}; start every process with the same program, arguments and worker count"
    )]
    ProgramMismatch {
        /// What differs (plan fingerprint, worker count, partition count …).
        what: &'static str,
        /// The worker that differs.
        worker: usize,
        /// This worker's value.
        ours: String,
        /// That worker's value.
        theirs: String,
    },

    /// A source that every worker reads itself gave another worker a different batch (a
    /// file that differs between machines, say); the batch fails before its state commits.
    #[error(
        "worker {worker} read different input from source `{source_name}` (records, skipped, \
         bytes, digest): {theirs}, this worker {ours}; a source every worker reads must be \
         the same on every machine (the same file at the same path)"
    )]
    InputDiffers {
        /// The source.
        source_name: String,
        /// The worker whose batch differs.
        worker: usize,
        /// What this worker read.
        ours: String,
        /// What that worker read.
        theirs: String,
    },

    /// The context was stopped while the call was waiting.
    #[error("the streaming context was stopped")]
    Stopped,

    // ---- Checkpoint errors. ----
    /// A checkpoint file is damaged (checksum mismatch, truncated, undecodable).
    #[error("checkpoint {path} is corrupt: {reason}")]
    CorruptCheckpoint {
        /// The damaged file or directory.
        path: PathBuf,
        /// What check failed.
        reason: String,
    },

    /// A checkpoint was written by a different program.
    #[error(
        "checkpoint in {path} was written by a different stream graph \
         (fingerprint {found:016x}, this program has {expected:016x}); \
         use a fresh checkpoint directory or run the program that wrote it"
    )]
    IncompatibleCheckpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// The fingerprint of this program's graph.
        expected: u64,
        /// The fingerprint stored in the checkpoint.
        found: u64,
    },

    // ---- Bugs. ----
    /// An invariant of Spate itself was broken: this is a bug, please report it.
    #[error("internal error (this is a bug in Spate): {0}")]
    Internal(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An invalid parameter.
    pub fn invalid(name: &'static str, value: impl std::fmt::Debug, reason: &'static str) -> Self {
        Error::InvalidParameter {
            name,
            value: format!("{value:?}"),
            reason,
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }
}

//! Checkpoints of a running stream graph, and recovery from them.
//!
//! After every `every_batches` batches, once the batch's state has been folded (see
//! [`state`](super::state)), the context writes a checkpoint holding everything needed to
//! continue as if nothing happened:
//!
//! - the batch time, the zero time and the interval;
//! - every replayable source's offset after that batch;
//! - every stateful operator's state (keyed state, incremental windows, watermarks);
//! - the frozen RDDs that windows will still read (their panes);
//! - every [`ManagedState`](super::ManagedState) (models and summaries of the library
//!   crates);
//! - a fingerprint of the stream graph, so a checkpoint is never restored into a
//!   different program.
//!
//! A checkpoint of batch `T` is a set of files, usable only once all of them are on disk and
//! verify:
//!
//! 1. every worker `k` of `W` writes `checkpoint-T.part-k-of-W`: the state partitions and
//!    pane partitions it owns;
//! 2. after a round in which every worker reports the random id it gave its part, the
//!    leader writes the manifest `checkpoint-T.ckpt`: offsets, managed states, operator-wide
//!    state (watermarks) and the id of every part, so a part left by another write of
//!    batch `T` (a run that crashed before its manifest) is never taken for this one.
//!
//! Each file is written to a temporary name, fsynced, renamed into place and the directory
//! fsynced ([`codec::write_atomic`](crate::codec::write_atomic)), and carries a CRC-32 of its
//! content.
//!
//! The batch thread only takes the snapshot: it *freezes* every state partition (clones
//! the pointer to its committed state, see [`state`](super::state), so the files hold
//! exactly the state after batch `T` whatever later batches fold in), encodes the window
//! panes and the manifest, and runs the round above. A background thread then serializes
//! the frozen partitions (letting go of each as soon as it is serialized), writes the part,
//! the leader's manifest after it, and prunes old checkpoints, while the next batches run.
//! A batch that folds into a partition the thread still holds folds into a copy, so memory
//! holds at most one extra copy of the state. At most one checkpoint is in flight per
//! worker: the next one, and the end of the stream, wait for it, and a finished stream's
//! last checkpoint is on disk. A manifest may therefore reach the disk before another
//! worker's part; a restore checks every part it reads against the manifest's ids and falls
//! back to the previous checkpoint when one is missing, and that one is complete (its
//! writers finished before starting the next). [`CheckpointConfig::synchronous`] serializes
//! (on the worker's threads) and writes on the batch thread instead.
//!
//! Recovery takes the newest manifest whose parts all verify, falling back to older
//! ones (with a log line) when one is damaged; with several workers, each verifies the parts
//! it reads and the newest checkpoint all can read is taken. Worker `w` of `W'` reads the
//! parts `k` with `k mod W' = w` and sends every partition to its owner, so a program may
//! restart with another number of workers (the parts must then be readable by the workers
//! that read them: a shared directory). The sources are sought to the recorded offsets and
//! the stream resumes with the next batch. Batches after the checkpoint are recomputed from
//! the replayed input, and their outputs rewritten under the same names, so state and
//! idempotent outputs are exactly-once.
//!
//! Non-replayable sources (a socket) cannot be rewound: records they delivered after the
//! last checkpoint are lost on a crash (at-most-once for those records).

mod restore;
mod write;

pub(crate) use write::Checkpointer;

use super::StreamingContext;
use super::context::Inner;
use super::source::SourceOffset;
use crate::codec;
use crate::collective::Round;
use crate::error::{Error, Result};
use crate::partitioner::stable_hash;
use crate::runtime::owner_of;
use crate::scheduler::round;
use crate::storage::lock;
use crate::time::BatchTime;
use serde::{Deserialize, Serialize};
// Byte blocks inside parts: bincode writes and reads them whole (a `Vec<u8>` would go
// element by element), with the same encoding on disk.
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The format of manifests and parts; older formats are refused with a clear error.
/// Format 3: parts are named in the manifest by a random id (format 2: length and CRC-32).
const FORMAT: u32 = 3;
const PREFIX: &str = "checkpoint-";
const MANIFEST: &str = ".ckpt";
const PART: &str = ".part-";

/// When to write checkpoints and how many to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// Write a checkpoint after every this many batches (default 10).
    pub every_batches: u64,
    /// Keep this many most recent checkpoints (default 3; at least 2 so that a damaged
    /// newest one has a fallback).
    pub keep: usize,
    /// Write the files on a background thread while the next batches run (default `true`);
    /// `false` writes them on the batch thread before the next batch starts.
    pub background: bool,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            every_batches: 10,
            keep: 3,
            background: true,
        }
    }
}

impl CheckpointConfig {
    /// A checkpoint every `n` batches.
    pub fn every(n: u64) -> CheckpointConfig {
        CheckpointConfig {
            every_batches: n,
            ..CheckpointConfig::default()
        }
    }

    /// Keeps the `k` most recent checkpoints.
    pub fn keep(mut self, k: usize) -> CheckpointConfig {
        self.keep = k;
        self
    }

    /// Writes every checkpoint on the batch thread, so it is on disk before the next batch
    /// starts (the default snapshots on the batch thread and writes in the background).
    pub fn synchronous(mut self) -> CheckpointConfig {
        self.background = false;
        self
    }

    fn check(&self) -> Result<()> {
        if self.every_batches == 0 {
            return Err(Error::invalid("every_batches", 0, "must be at least 1"));
        }
        if self.keep < 2 {
            return Err(Error::invalid(
                "keep",
                self.keep,
                "must be at least 2, so a damaged checkpoint has a fallback",
            ));
        }
        Ok(())
    }
}

/// What the leader writes last: everything but the partitioned state, and how to check the
/// parts. (The parts' ids, which differ between two writes of the same state, come right
/// after the format, fingerprint and batch time, here and in [`Part`]: tests compare files
/// without them.)
#[derive(Serialize, Deserialize)]
struct Manifest {
    format: u32,
    fingerprint: u64,
    batch_time: u64,
    /// The id of each worker's part, by worker.
    parts: Vec<u64>,
    zero_ms: u64,
    batch_ms: u64,
    workers: usize,
    sources: Vec<Option<SourceOffset>>,
    /// Operator state that is the same on every worker (watermarks), by node.
    shared: Vec<(usize, Vec<u8>)>,
    managed: Vec<(String, Vec<u8>)>,
    /// What each saved value is: `node #id records`, `node #id state`, `managed NAME`, with
    /// the Rust type it had. A changed type is refused, never decoded as garbage.
    types: Vec<(String, String)>,
    /// The backpressure controller's state, if the stream has one.
    rate: Option<super::backpressure::RateState>,
}

/// What one worker writes: the state partitions and pane partitions it owns.
#[derive(Serialize, Deserialize)]
struct Part {
    format: u32,
    fingerprint: u64,
    batch_time: u64,
    /// Random, so that the manifest names this very write of the part.
    id: u64,
    worker: usize,
    workers: usize,
    /// By stateful node: (partition, state).
    states: Vec<(usize, Vec<(usize, ByteBuf)>)>,
    /// By node: its remembered panes, with the partitions this worker held.
    panes: Vec<(usize, Vec<Pane>)>,
}

/// A frozen RDD of one batch: its time, hash partition count if any, its partition count,
/// and the partitions one worker holds.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Pane {
    pub time: u64,
    pub hash_partitions: Option<usize>,
    pub partitions: usize,
    pub parts: Vec<(usize, ByteBuf)>,
}

fn manifest_name(t: u64) -> String {
    format!("{PREFIX}{t:020}{MANIFEST}")
}

fn part_name(t: u64, worker: usize, workers: usize) -> String {
    format!("{PREFIX}{t:020}{PART}{worker}-of-{workers}")
}

fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    bincode::serialize(value).map_err(|e| Error::Serialization {
        what: what.into(),
        message: e.to_string(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    bincode::deserialize(bytes).map_err(|e| Error::Serialization {
        what: what.into(),
        message: e.to_string(),
    })
}

/// The checkpoint files of a directory.
#[derive(Default)]
struct Listing {
    /// Manifests by batch time.
    manifests: BTreeMap<u64, PathBuf>,
    /// Parts by batch time: (worker, workers, path).
    parts: BTreeMap<u64, Vec<(usize, usize, PathBuf)>>,
}

fn list(dir: &Path) -> Result<Listing> {
    let mut found = Listing::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if let Some(time) = rest
            .strip_suffix(MANIFEST)
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.manifests.insert(time, entry.path());
        } else if let Some((time, part)) = rest.split_once(PART)
            && let Ok(time) = time.parse::<u64>()
            && let Some((k, w)) = part.split_once("-of-")
            && let (Ok(k), Ok(w)) = (k.parse::<usize>(), w.parse::<usize>())
        {
            found
                .parts
                .entry(time)
                .or_default()
                .push((k, w, entry.path()));
        }
    }
    Ok(found)
}

/// Removes temporary files left by a checkpoint write that was interrupted.
fn remove_partial_writes(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(&format!(".{PREFIX}")) {
            tracing::info!(path = %entry.path().display(), "removing an interrupted checkpoint write");
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// A fingerprint of the stream graph's shape: operators, parameters, edges, sources,
/// outputs and managed states. Two builds of the same program agree; a changed program
/// almost surely does not.
pub(crate) fn fingerprint(inner: &Inner) -> u64 {
    use std::fmt::Write;
    let graph = lock(&inner.graph);
    let mut desc = format!("batch={};", inner.batch_ms);
    for node in &graph.nodes {
        let m = node.meta();
        let parents: Vec<usize> = m.parents.iter().map(|p| p.meta().id).collect();
        let _ = write!(
            desc,
            "node {} {} slide={} [{}] parents={:?};",
            m.id, m.name, m.slide_ms, m.params, parents
        );
    }
    for input in &graph.inputs {
        let _ = write!(desc, "input {};", input.name());
    }
    for output in &graph.outputs {
        let _ = write!(desc, "output {} of {};", output.name, output.node.meta().id);
    }
    for managed in &graph.managed {
        let _ = write!(desc, "managed {};", managed.name());
    }
    stable_hash(&desc)
}

/// What every checkpointed value is, and its Rust type.
fn value_types(graph: &super::context::Graph) -> Vec<(String, String)> {
    let mut types = Vec::new();
    for node in &graph.nodes {
        let id = node.meta().id;
        types.push((
            format!("node #{id} records"),
            node.record_type().to_string(),
        ));
        if let Some(state) = node.stateful() {
            types.push((format!("node #{id} state"), state.state_type().to_string()));
        }
    }
    for m in &graph.managed {
        types.push((format!("managed {}", m.name()), m.value_type().to_string()));
    }
    types
}

//! Checkpoints of a running stream graph, and recovery from them.
//!
//! After every `every_batches` batches, once the batch's state has been folded (see
//! [`state`](super::state)), the context writes one checkpoint file holding everything
//! needed to continue as if nothing happened:
//!
//! - the batch time, the zero time and the interval;
//! - every replayable source's offset after that batch;
//! - every stateful operator's state (keyed state, incremental windows);
//! - the frozen RDDs that windows will still read (their panes);
//! - every [`ManagedState`] (models and summaries of the library crates);
//! - a fingerprint of the stream graph, so a checkpoint is never restored into a
//!   different program.
//!
//! The file is written to a temporary name, fsynced, renamed into place and the directory
//! fsynced ([`codec::write_atomic`](crate::codec::write_atomic)); it carries a CRC-32 of its
//! content. Recovery takes the newest file that verifies, falling back to older ones (with a
//! log line) when the newest is damaged, seeks the sources to the recorded offsets and
//! resumes with the next batch. Batches after the checkpoint are recomputed from the
//! replayed input, and their outputs rewritten under the same names, so state and
//! idempotent outputs are exactly-once.
//!
//! Non-replayable sources (a socket) cannot be rewound: records they delivered after the
//! last checkpoint are lost on a crash (at-most-once for those records).

use super::StreamingContext;
use super::context::Inner;
use super::source::SourceOffset;
use crate::codec;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::partitioner::stable_hash;
use crate::storage::lock;
use crate::time::BatchTime;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

const FORMAT: u32 = 1;
const PREFIX: &str = "checkpoint-";
const SUFFIX: &str = ".ckpt";

/// When to write checkpoints and how many to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// Write a checkpoint after every this many batches (default 10).
    pub every_batches: u64,
    /// Keep this many most recent checkpoints (default 3; at least 2 so that a damaged
    /// newest one has a fallback).
    pub keep: usize,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            every_batches: 10,
            keep: 3,
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

#[derive(Serialize, Deserialize)]
struct CheckpointData {
    format: u32,
    fingerprint: u64,
    batch_time: u64,
    zero_ms: u64,
    batch_ms: u64,
    sources: Vec<Option<SourceOffset>>,
    states: Vec<(usize, Vec<u8>)>,
    panes: Vec<(usize, Vec<Pane>)>,
    managed: Vec<(String, Vec<u8>)>,
}

/// A frozen RDD of one batch: its time, hash partition count if any, and its partitions.
#[derive(Serialize, Deserialize)]
pub(crate) struct Pane {
    pub time: u64,
    pub hash_partitions: Option<usize>,
    pub partitions: Vec<u8>,
}

/// Writes checkpoints for a running context.
pub(crate) struct Checkpointer {
    dir: PathBuf,
    config: CheckpointConfig,
    batches_since: u64,
}

impl Checkpointer {
    /// Called after every batch: writes a checkpoint when one is due; returns how long it
    /// took in ms and its size in bytes.
    pub fn after_batch(&mut self, inner: &Inner, t: BatchTime) -> Result<Option<(u64, u64)>> {
        self.batches_since += 1;
        if self.batches_since < self.config.every_batches {
            return Ok(None);
        }
        self.batches_since = 0;
        self.write(inner, t).map(Some)
    }

    /// Writes a checkpoint of the state after batch `t` unless the last one written is of
    /// `t` already; returns how long it took in ms and its size in bytes, if it wrote one.
    pub fn write_pending(&mut self, inner: &Inner, t: BatchTime) -> Result<Option<(u64, u64)>> {
        if self.batches_since == 0 {
            return Ok(None);
        }
        self.batches_since = 0;
        self.write(inner, t).map(Some)
    }

    /// Writes a checkpoint of the state after batch `t` now; returns how long it took in ms
    /// and its size in bytes.
    pub fn write(&mut self, inner: &Inner, t: BatchTime) -> Result<(u64, u64)> {
        let started = std::time::Instant::now();
        let data = snapshot(inner, t)?;
        let bytes = bincode::serialize(&data).map_err(|e| Error::Serialization {
            what: "checkpoint".into(),
            message: e.to_string(),
        })?;
        let path = self.dir.join(format!("{PREFIX}{:020}{SUFFIX}", t.0));
        codec::write_atomic(&path, &bytes)?;
        let mut existing = list(&self.dir)?;
        while existing.len() > self.config.keep {
            let (_, old) = existing.remove(0);
            std::fs::remove_file(&old).map_err(|e| Error::io(&old, e))?;
        }
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            batch = t.0,
            bytes = bytes.len(),
            ms,
            path = %path.display(),
            "checkpoint written"
        );
        Ok((ms, bytes.len() as u64))
    }
}

/// Checkpoint files in `dir`, oldest first.
fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(time) = name
            .strip_prefix(PREFIX)
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push((time, entry.path()));
        }
    }
    found.sort();
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

fn snapshot(inner: &Inner, t: BatchTime) -> Result<CheckpointData> {
    let fingerprint = fingerprint(inner);
    let graph = lock(&inner.graph);
    let mut states = Vec::new();
    let mut panes = Vec::new();
    for node in &graph.nodes {
        let id = node.meta().id;
        if let Some(state) = node.stateful() {
            states.push((id, state.snapshot()?));
        }
        let node_panes = node.snapshot_panes()?;
        if !node_panes.is_empty() {
            panes.push((id, node_panes));
        }
    }
    Ok(CheckpointData {
        format: FORMAT,
        fingerprint,
        batch_time: t.0,
        zero_ms: inner.shared.zero(),
        batch_ms: inner.batch_ms,
        sources: graph.inputs.iter().map(|i| i.offset()).collect(),
        states,
        panes,
        managed: graph
            .managed
            .iter()
            .map(|m| Ok((m.name().to_string(), m.snapshot()?)))
            .collect::<Result<_>>()?,
    })
}

/// Decodes and verifies the newest usable checkpoint in `dir`.
fn newest_valid(dir: &Path, expected: u64) -> Result<Option<(PathBuf, CheckpointData)>> {
    for (_, path) in list(dir)?.into_iter().rev() {
        let decoded = codec::read_verified(&path).and_then(|bytes| {
            bincode::deserialize::<CheckpointData>(&bytes).map_err(|e| Error::CorruptCheckpoint {
                path: path.clone(),
                reason: format!("undecodable: {e}"),
            })
        });
        match decoded {
            Ok(data) if data.format != FORMAT => {
                tracing::warn!(path = %path.display(), format = data.format, "unknown checkpoint format; trying an older checkpoint");
            }
            Ok(data) => {
                if data.fingerprint != expected {
                    return Err(Error::IncompatibleCheckpoint {
                        path: dir.to_path_buf(),
                        expected,
                        found: data.fingerprint,
                    });
                }
                return Ok(Some((path, data)));
            }
            Err(e) => {
                tracing::warn!("{e}; falling back to the previous checkpoint");
            }
        }
    }
    Ok(None)
}

impl StreamingContext {
    /// Builds the stream graph with `build` and, if `dir` holds a checkpoint of the same
    /// graph, restores it: state, window panes, managed states and source offsets, so the
    /// stream continues after the checkpointed batch. Checkpoints are then written to `dir`
    /// as `config` says.
    ///
    /// Unlike Spark, which deserializes the graph from the checkpoint, the graph is always
    /// rebuilt by `build` (closures cannot be serialized); the checkpoint must have been
    /// written by a program building the same graph, which a fingerprint checks
    /// ([`Error::IncompatibleCheckpoint`] otherwise).
    pub fn get_or_create(
        dir: impl Into<PathBuf>,
        config: CheckpointConfig,
        build: impl FnOnce() -> Result<StreamingContext>,
    ) -> Result<StreamingContext> {
        let ssc = build()?;
        ssc.enable_checkpoints(dir, config)?;
        ssc.recover()?;
        Ok(ssc)
    }

    /// Writes checkpoints to `dir` while running (without restoring anything).
    pub fn enable_checkpoints(
        &self,
        dir: impl Into<PathBuf>,
        config: CheckpointConfig,
    ) -> Result<()> {
        self.ensure_not_started("enable checkpoints")?;
        config.check()?;
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        remove_partial_writes(&dir)?;
        *lock(&self.inner.checkpointer) = Some(Checkpointer {
            dir,
            config,
            batches_since: 0,
        });
        Ok(())
    }

    /// The batch time of the checkpoint this context was restored from, if any.
    pub fn recovered_from(&self) -> Option<BatchTime> {
        *lock(&self.inner.recovered_from)
    }

    fn recover(&self) -> Result<()> {
        let dir = match lock(&self.inner.checkpointer).as_ref() {
            Some(c) => c.dir.clone(),
            None => {
                return Err(Error::NoCheckpointDir {
                    operation: "recover",
                });
            }
        };
        let expected = fingerprint(&self.inner);
        let Some((path, data)) = newest_valid(&dir, expected)? else {
            tracing::info!(dir = %dir.display(), "no checkpoint found; starting fresh");
            return Ok(());
        };
        if data.batch_ms != self.inner.batch_ms {
            return Err(Error::IncompatibleCheckpoint {
                path: dir,
                expected,
                found: data.fingerprint,
            });
        }
        let started = std::time::Instant::now();
        let graph = lock(&self.inner.graph);
        for (id, bytes) in &data.states {
            let node = graph.nodes.iter().find(|n| n.meta().id == *id);
            match node.and_then(|n| n.stateful()) {
                Some(state) => state.restore(bytes)?,
                None => {
                    return Err(Error::CorruptCheckpoint {
                        path,
                        reason: format!("state for unknown operator #{id}"),
                    });
                }
            }
        }
        for (id, panes) in data.panes {
            if let Some(node) = graph.nodes.iter().find(|n| n.meta().id == id) {
                node.restore_panes(&self.inner.sc, panes)?;
            }
        }
        for (name, bytes) in &data.managed {
            if let Some(m) = graph.managed.iter().find(|m| m.name() == name) {
                m.restore(bytes)?;
            }
        }
        if data.sources.len() != graph.inputs.len() {
            return Err(Error::CorruptCheckpoint {
                path,
                reason: "source count differs from the graph".into(),
            });
        }
        drop(graph);
        *lock(&self.inner.resume_offsets) = data.sources;
        self.inner
            .shared
            .zero_ms
            .store(data.zero_ms, std::sync::atomic::Ordering::Relaxed);
        let at = BatchTime(data.batch_time);
        *lock(&self.inner.resume_at) = Some(at.plus_ms(self.inner.batch_ms));
        *lock(&self.inner.recovered_from) = Some(at);
        tracing::info!(
            path = %path.display(),
            batch = at.0,
            restore_ms = started.elapsed().as_millis() as u64,
            "restored from checkpoint"
        );
        Ok(())
    }
}

/// A value owned by the program but saved in every checkpoint and restored on recovery:
/// the model of an online algorithm, a running summary. Update it from output operations
/// (`foreach_rdd`), which run once per batch in order.
pub struct ManagedState<S> {
    name: String,
    value: Arc<Mutex<S>>,
}

impl<S> Clone for ManagedState<S> {
    fn clone(&self) -> Self {
        ManagedState {
            name: self.name.clone(),
            value: Arc::clone(&self.value),
        }
    }
}

impl<S: Data> ManagedState<S> {
    /// The state's name (unique within its context).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Locks the value for reading or updating.
    pub fn lock(&self) -> MutexGuard<'_, S> {
        lock(&self.value)
    }

    /// A copy of the value.
    pub fn get(&self) -> S {
        lock(&self.value).clone()
    }

    /// Replaces the value.
    pub fn set(&self, value: S) {
        *lock(&self.value) = value;
    }
}

pub(crate) trait AnyManaged: Send + Sync {
    fn name(&self) -> &str;
    fn snapshot(&self) -> Result<Vec<u8>>;
    fn restore(&self, bytes: &[u8]) -> Result<()>;
}

impl<S: Data> AnyManaged for ManagedState<S> {
    fn name(&self) -> &str {
        &self.name
    }

    fn snapshot(&self) -> Result<Vec<u8>> {
        bincode::serialize(&*lock(&self.value)).map_err(|e| Error::Serialization {
            what: format!("managed state `{}`", self.name),
            message: e.to_string(),
        })
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        let value: S = bincode::deserialize(bytes).map_err(|e| Error::Serialization {
            what: format!("managed state `{}`", self.name),
            message: e.to_string(),
        })?;
        *lock(&self.value) = value;
        Ok(())
    }
}

impl StreamingContext {
    /// Registers a value that is checkpointed with the stream and restored on recovery.
    /// Names must be unique; register before `start` (and before `get_or_create` returns).
    pub fn managed_state<S: Data>(
        &self,
        name: impl Into<String>,
        initial: S,
    ) -> Result<ManagedState<S>> {
        self.ensure_not_started("register managed state")?;
        let name = name.into();
        let mut graph = lock(&self.inner.graph);
        if graph.managed.iter().any(|m| m.name() == name) {
            return Err(Error::invalid(
                "managed state name",
                name,
                "is already registered",
            ));
        }
        let state = ManagedState {
            name,
            value: Arc::new(Mutex::new(initial)),
        };
        graph.managed.push(Arc::new(state.clone()));
        Ok(state)
    }
}

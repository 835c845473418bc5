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
//! 2. after a round in which every worker reports its part's length and CRC-32, the leader
//!    writes the manifest `checkpoint-T.ckpt`: offsets, managed states, operator-wide state
//!    (watermarks) and the length and CRC-32 of every part.
//!
//! Each file is written to a temporary name, fsynced, renamed into place and the directory
//! fsynced ([`codec::write_atomic`](crate::codec::write_atomic)), and carries a CRC-32 of its
//! content.
//!
//! The batch thread only takes the snapshot: it serializes the state (the partitions in
//! parallel on the worker's threads), so the files hold exactly the state after batch `T`,
//! and computes every part's length and CRC-32 (the round above exchanges them, so the
//! leader's manifest names them before they are written). A background thread then writes
//! the part, the leader's manifest after it, and prunes old checkpoints, while the next
//! batches run. At most one checkpoint is in flight per worker: the next one, and the end of
//! the stream, wait for it, so memory holds at most one snapshot and a finished stream's
//! last checkpoint is on disk. A manifest may therefore reach the disk before another
//! worker's part; a restore verifies every part against the manifest's length and CRC and
//! falls back to the previous checkpoint when one is missing, and that one is complete (its
//! writers finished before starting the next). [`CheckpointConfig::synchronous`] writes on
//! the batch thread instead.
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

use super::StreamingContext;
use super::context::Inner;
use super::source::SourceOffset;
use crate::codec;
use crate::collective::Round;
use crate::error::{Error, Result};
use crate::partitioner::stable_hash;
use crate::runtime::{owner_of, run_collect};
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
const FORMAT: u32 = 2;
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
/// parts.
#[derive(Serialize, Deserialize)]
struct Manifest {
    format: u32,
    fingerprint: u64,
    batch_time: u64,
    zero_ms: u64,
    batch_ms: u64,
    workers: usize,
    sources: Vec<Option<SourceOffset>>,
    /// Operator state that is the same on every worker (watermarks), by node.
    shared: Vec<(usize, Vec<u8>)>,
    managed: Vec<(String, Vec<u8>)>,
    /// (length, CRC-32) of the payload of each worker's part, by worker.
    parts: Vec<(u64, u32)>,
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

/// Writes checkpoints for a running context.
pub(crate) struct Checkpointer {
    dir: PathBuf,
    config: CheckpointConfig,
    batches_since: u64,
    /// The checkpoint a background thread is writing, if any.
    in_flight: Option<InFlight>,
}

/// A checkpoint being written by a background thread.
struct InFlight {
    batch: u64,
    handle: std::thread::JoinHandle<Result<()>>,
}

impl Checkpointer {
    fn new(dir: PathBuf, config: CheckpointConfig) -> Checkpointer {
        Checkpointer {
            dir,
            config,
            batches_since: 0,
            in_flight: None,
        }
    }

    /// Called after every batch: writes a checkpoint when one is due; returns how long it
    /// held the batch thread in ms and its size in bytes.
    pub fn after_batch(&mut self, inner: &Inner, t: BatchTime) -> Result<Option<(u64, u64)>> {
        self.batches_since += 1;
        if self.batches_since < self.config.every_batches {
            return Ok(None);
        }
        self.batches_since = 0;
        self.write(inner, t).map(Some)
    }

    /// Writes a checkpoint of the state after batch `t` unless the last one written is of
    /// `t` already, and waits until it is on disk; returns how long it took in ms and its
    /// size in bytes, if it wrote one.
    pub fn write_pending(&mut self, inner: &Inner, t: BatchTime) -> Result<Option<(u64, u64)>> {
        if self.batches_since == 0 {
            self.finish()?;
            return Ok(None);
        }
        self.batches_since = 0;
        let written = self.write(inner, t)?;
        self.finish()?;
        Ok(Some(written))
    }

    /// Checkpoints the state after batch `t`: waits for the previous checkpoint's files,
    /// snapshots this worker's part (and the leader its manifest, after a round that
    /// exchanges the parts' lengths and checksums), and writes the files in the background
    /// (or at once when the configuration says so). Returns how long it held the batch
    /// thread in ms and the size in bytes of the state (the parts of every worker, without
    /// the manifest).
    pub fn write(&mut self, inner: &Inner, t: BatchTime) -> Result<(u64, u64)> {
        let started = std::time::Instant::now();
        // One checkpoint in flight at most: memory holds one snapshot, and a failed write
        // fails the stream here rather than going unnoticed.
        self.finish()?;
        let env = &inner.sc.env;
        let (me, workers) = (env.worker(), env.workers());
        let fingerprint = fingerprint(inner);
        let encoded = snapshot_part(inner, t, fingerprint).and_then(|part| {
            let bytes = encode(&part, "checkpoint part")?;
            let summary = (bytes.len() as u64, crc32fast::hash(&bytes));
            Ok((bytes, summary))
        });
        let (part, parts): (Vec<u8>, Vec<(u64, u32)>) = if workers == 1 {
            let (bytes, summary) = encoded?;
            (bytes, vec![summary])
        } else {
            // A failed snapshot goes into the round, so every worker stops on it.
            let (bytes, mine) = match encoded {
                Ok((bytes, summary)) => (bytes, encode(&summary, "checkpoint part summary")),
                Err(e) => (Vec::new(), Err(e)),
            };
            let parts = round(env, Round::Checkpoint, mine.map(|m| vec![m; workers]))?
                .iter()
                .map(|bytes| decode(bytes, "checkpoint part summary"))
                .collect::<Result<_>>()?;
            (bytes, parts)
        };
        let bytes: u64 = parts.iter().map(|(len, _)| len).sum();
        let mut files = vec![(self.dir.join(part_name(t.0, me, workers)), part)];
        if me == 0 {
            let manifest = snapshot_manifest(inner, t, fingerprint, parts)?;
            let encoded = encode(&manifest, "checkpoint manifest")?;
            files.push((self.dir.join(manifest_name(t.0)), encoded));
        }
        let (dir, keep) = (self.dir.clone(), self.config.keep);
        let job = move || write_files(&dir, keep, me, t, files);
        if self.config.background {
            let handle = std::thread::Builder::new()
                .name("spate-checkpoint".into())
                .spawn(job)
                .map_err(|e| Error::io("spate-checkpoint thread", e))?;
            self.in_flight = Some(InFlight { batch: t.0, handle });
        } else {
            job()?;
        }
        Ok((started.elapsed().as_millis() as u64, bytes))
    }

    /// Waits until the checkpoint being written in the background, if any, is on disk;
    /// returns its error if writing it failed.
    pub fn finish(&mut self) -> Result<()> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(());
        };
        in_flight.handle.join().unwrap_or_else(|payload| {
            Err(Error::internal(format!(
                "the thread writing checkpoint {} panicked: {}",
                in_flight.batch,
                crate::scheduler::panic_message(&*payload)
            )))
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::error!("writing the last checkpoint failed: {e}");
        }
    }
}

/// Writes a checkpoint's files in order (this worker's part first, then the leader's
/// manifest) and keeps the newest `keep` checkpoints of this worker.
fn write_files(
    dir: &Path,
    keep: usize,
    me: usize,
    t: BatchTime,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let mut bytes = 0;
    for (path, payload) in &files {
        codec::write_atomic(path, payload)?;
        bytes += payload.len();
    }
    prune(dir, keep, me)?;
    tracing::info!(
        batch = t.0,
        bytes,
        write_ms = started.elapsed().as_millis() as u64,
        dir = %dir.display(),
        "checkpoint written"
    );
    Ok(())
}

/// Keeps the newest `keep` checkpoints: the leader its manifests, every worker its parts.
fn prune(dir: &Path, keep: usize, me: usize) -> Result<()> {
    let listing = list(dir)?;
    if me == 0 {
        let manifests: Vec<u64> = listing.manifests.keys().copied().collect();
        for &t in manifests.iter().rev().skip(keep) {
            remove(&listing.manifests[&t])?;
        }
    }
    let mine: Vec<u64> = listing
        .parts
        .iter()
        .filter(|(_, parts)| parts.iter().any(|(k, _, _)| *k == me))
        .map(|(t, _)| *t)
        .collect();
    for &t in mine.iter().rev().skip(keep) {
        for (k, _, path) in &listing.parts[&t] {
            if *k == me {
                remove(path)?;
            }
        }
    }
    Ok(())
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
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

/// This worker's part of the checkpoint of batch `t`. The state partitions are serialized
/// in parallel on the worker's threads (a large state is most of a checkpoint's cost on the
/// batch thread).
fn snapshot_part(inner: &Inner, t: BatchTime, fingerprint: u64) -> Result<Part> {
    let (me, workers) = (inner.sc.worker(), inner.sc.workers());
    let nodes = lock(&inner.graph).nodes.clone();
    // (node index, partition) of every state partition this worker owns.
    let mut owned: Vec<(usize, usize)> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        if let Some(state) = node.stateful() {
            owned.extend(
                (0..state.partitions())
                    .filter(|&p| owner_of(p, workers) == me)
                    .map(|p| (i, p)),
            );
        }
    }
    let serialized = run_collect(&*inner.sc.env.runtime, owned.len(), |k| {
        let (i, p) = owned[k];
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let state = nodes[i]
                .stateful()
                .ok_or_else(|| Error::internal("a stateful node lost its state"))?;
            let mut one = state.snapshot_partitions(&[p])?;
            one.pop()
                .ok_or_else(|| Error::internal("a state partition was not serialized"))
        }))
        .unwrap_or_else(|payload| {
            Err(Error::Serialization {
                what: "operator state".into(),
                message: format!(
                    "serializing panicked: {}",
                    crate::scheduler::panic_message(&*payload)
                ),
            })
        })
    })?;
    // By stateful node, in the graph's order, even those with no partition on this worker.
    let mut states: Vec<(usize, Vec<(usize, ByteBuf)>)> = nodes
        .iter()
        .filter(|node| node.stateful().is_some())
        .map(|node| (node.meta().id, Vec::new()))
        .collect();
    for ((i, p), bytes) in owned.into_iter().zip(serialized) {
        let id = nodes[i].meta().id;
        if let Some((_, parts)) = states.iter_mut().find(|(n, _)| *n == id) {
            parts.push((p, ByteBuf::from(bytes?)));
        }
    }
    let mut panes = Vec::new();
    for node in &nodes {
        let node_panes = node.snapshot_panes()?;
        if !node_panes.is_empty() {
            panes.push((node.meta().id, node_panes));
        }
    }
    Ok(Part {
        format: FORMAT,
        fingerprint,
        batch_time: t.0,
        worker: me,
        workers,
        states,
        panes,
    })
}

/// The leader's manifest of the checkpoint of batch `t`.
fn snapshot_manifest(
    inner: &Inner,
    t: BatchTime,
    fingerprint: u64,
    parts: Vec<(u64, u32)>,
) -> Result<Manifest> {
    let graph = lock(&inner.graph);
    let mut shared = Vec::new();
    for node in &graph.nodes {
        if let Some(state) = node.stateful() {
            shared.push((node.meta().id, state.snapshot_shared()?));
        }
    }
    Ok(Manifest {
        format: FORMAT,
        fingerprint,
        batch_time: t.0,
        zero_ms: inner.shared.zero(),
        batch_ms: inner.batch_ms,
        workers: inner.sc.workers(),
        sources: graph.inputs.iter().map(|i| i.offset()).collect(),
        shared,
        managed: graph
            .managed
            .iter()
            .map(|m| Ok((m.name().to_string(), m.snapshot()?)))
            .collect::<Result<_>>()?,
        parts,
        types: value_types(&graph),
        rate: inner.rate_state(),
    })
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

/// Reads and checks a manifest: CRC, format, fingerprint.
fn read_manifest(path: &Path, dir: &Path, expected: u64) -> Result<Manifest> {
    let bytes = codec::read_verified(path)?;
    let manifest: Manifest =
        bincode::deserialize(&bytes).map_err(|e| Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason: format!("undecodable ({e}); it may be from an older Spate (format 1)"),
        })?;
    if manifest.format != FORMAT {
        return Err(Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason: format!(
                "checkpoint format {} (this Spate reads format {FORMAT})",
                manifest.format
            ),
        });
    }
    if manifest.fingerprint != expected {
        return Err(Error::IncompatibleCheckpoint {
            path: dir.to_path_buf(),
            expected,
            found: manifest.fingerprint,
        });
    }
    Ok(manifest)
}

/// Reads and checks worker `k`'s part of a checkpoint against its manifest entry.
fn read_part(path: &Path, expected: (u64, u32), fingerprint: u64, t: u64) -> Result<Part> {
    let bytes = codec::read_verified(path)?;
    let corrupt = |reason: String| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    if (bytes.len() as u64, crc32fast::hash(&bytes)) != expected {
        return Err(corrupt(
            "does not match the checkpoint's manifest (a part of another write)".into(),
        ));
    }
    let part: Part =
        bincode::deserialize(&bytes).map_err(|e| corrupt(format!("undecodable: {e}")))?;
    if part.format != FORMAT || part.fingerprint != fingerprint || part.batch_time != t {
        return Err(corrupt("belongs to another checkpoint".into()));
    }
    Ok(part)
}

/// The parts of checkpoint `t` (written by `old` workers) that worker `me` of `new` reads.
fn parts_to_read(me: usize, new: usize, old: usize) -> impl Iterator<Item = usize> {
    (0..old).filter(move |k| owner_of(*k, new) == me)
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
    /// ([`Error::IncompatibleCheckpoint`] otherwise). With several workers, every worker
    /// calls this, and they restore together.
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
        *lock(&self.inner.checkpointer) = Some(Checkpointer::new(dir, config));
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
        let inner = &self.inner;
        let env = &inner.sc.env;
        let (me, workers) = (env.worker(), env.workers());
        let expected = fingerprint(inner);
        let listing = list(&dir)?;
        let started = std::time::Instant::now();
        // Which checkpoints this worker can use: the leader needs a valid manifest, every
        // worker the parts it reads. A checkpoint is a batch time and the number of workers
        // that wrote it.
        let usable = usable_checkpoints(&dir, &listing, me, workers, expected);
        // With the leader's count of manifests, so every worker takes the same decision.
        let (chosen, manifests): (Option<(u64, usize)>, usize) = if workers == 1 {
            (usable?.into_iter().next(), listing.manifests.len())
        } else {
            let mine =
                usable.and_then(|u| encode(&(u, listing.manifests.len()), "usable checkpoints"));
            let all: Vec<(Vec<(u64, usize)>, usize)> =
                round(env, Round::Restore, mine.map(|m| vec![m; workers]))?
                    .iter()
                    .map(|b| decode(b, "usable checkpoints"))
                    .collect::<Result<_>>()?;
            // The newest checkpoint the leader has a manifest for and every worker can read.
            let chosen = all[0]
                .0
                .iter()
                .copied()
                .find(|c| all.iter().all(|(u, _)| u.contains(c)));
            (chosen, all[0].1)
        };
        let Some((t, old)) = chosen else {
            if manifests > 0 {
                // Starting over would silently drop the state those checkpoints hold.
                return Err(Error::CorruptCheckpoint {
                    path: dir.clone(),
                    reason: format!(
                        "none of its {manifests} checkpoints can be restored (see the warnings \
                         above: damaged, incomplete, or written by another Spate version); use \
                         a fresh checkpoint directory"
                    ),
                });
            }
            tracing::info!(dir = %dir.display(), "no checkpoint found; starting fresh");
            return Ok(());
        };
        // Every worker reads its parts and sends each partition to its owner; the leader
        // sends the manifest along.
        let loaded = self.load_parts(&dir, &listing, (t, old), expected);
        let (manifest, routed) = if workers == 1 {
            let (manifest, parts) = loaded?;
            (
                manifest.ok_or_else(|| Error::internal("no manifest loaded"))?,
                parts,
            )
        } else {
            let outgoing = loaded.and_then(|(manifest, parts)| {
                let manifest = manifest
                    .map(|m| encode(&m, "checkpoint manifest"))
                    .transpose()?;
                let mut by_owner: Vec<Routed> = vec![Routed::default(); workers];
                for (owner, item) in parts.into_items(workers) {
                    by_owner[owner].push(item);
                }
                by_owner
                    .into_iter()
                    .map(|r| encode(&(&manifest, r), "restored partitions"))
                    .collect()
            });
            let received = round(env, Round::Restore, outgoing)?;
            let mut manifest = None;
            let mut mine = Routed::default();
            for (from, bytes) in received.iter().enumerate() {
                let (m, routed): (Option<Vec<u8>>, Routed) = decode(bytes, "restored partitions")?;
                if from == 0 {
                    manifest = m;
                }
                mine.extend(routed);
            }
            let manifest = manifest
                .ok_or_else(|| Error::internal("the leader sent no manifest"))
                .and_then(|m| decode::<Manifest>(&m, "checkpoint manifest"))?;
            (manifest, mine)
        };
        self.apply(&dir, manifest, routed)?;
        tracing::info!(
            dir = %dir.display(),
            batch = t,
            restore_ms = started.elapsed().as_millis() as u64,
            "restored from checkpoint"
        );
        Ok(())
    }

    /// Reads checkpoint `t` written by `old` workers: the manifest (leader) and the parts
    /// this worker reads.
    fn load_parts(
        &self,
        dir: &Path,
        listing: &Listing,
        (t, old): (u64, usize),
        expected: u64,
    ) -> Result<(Option<Manifest>, Routed)> {
        let env = &self.inner.sc.env;
        let (me, workers) = (env.worker(), env.workers());
        let manifest = match listing.manifests.get(&t) {
            Some(path) if me == 0 => Some(read_manifest(path, dir, expected)?),
            _ => None,
        };
        let mut routed = Routed::default();
        for k in parts_to_read(me, workers, old) {
            let path = find_part(dir, listing, t, k, old)?;
            let bytes = codec::read_verified(path)?;
            let part: Part = decode(&bytes, "checkpoint part")?;
            routed.absorb(part);
        }
        Ok((manifest, routed))
    }

    /// Installs a restored checkpoint: this worker's state and pane partitions, the shared
    /// state, managed states, offsets and times.
    fn apply(&self, dir: &Path, manifest: Manifest, routed: Routed) -> Result<()> {
        let inner = &self.inner;
        if manifest.batch_ms != inner.batch_ms {
            return Err(Error::IncompatibleCheckpoint {
                path: dir.to_path_buf(),
                expected: fingerprint(inner),
                found: manifest.fingerprint,
            });
        }
        let graph = lock(&inner.graph);
        let ours = value_types(&graph);
        for (what, theirs) in &manifest.types {
            match ours.iter().find(|(w, _)| w == what) {
                Some((_, mine)) if mine == theirs => {}
                Some((_, mine)) => {
                    return Err(Error::CorruptCheckpoint {
                        path: dir.to_path_buf(),
                        reason: format!(
                            "{what} was saved as `{theirs}`, this program has `{mine}`: the \
                             program changed; use a fresh checkpoint directory"
                        ),
                    });
                }
                None => {}
            }
        }
        let stateful = |id: usize| {
            graph
                .nodes
                .iter()
                .find(|n| n.meta().id == id)
                .and_then(|n| n.stateful())
                .ok_or_else(|| Error::CorruptCheckpoint {
                    path: dir.to_path_buf(),
                    reason: format!("state for unknown operator #{id}"),
                })
        };
        for (id, parts) in routed.states {
            let parts = parts.into_iter().map(|(p, b)| (p, b.into_vec())).collect();
            stateful(id)?.restore_partitions(parts, &*inner.sc.env.runtime)?;
        }
        for (id, bytes) in &manifest.shared {
            stateful(*id)?.restore_shared(bytes)?;
        }
        for (id, panes) in routed.panes {
            if let Some(node) = graph.nodes.iter().find(|n| n.meta().id == id) {
                node.restore_panes(&inner.sc, panes.into_values().collect())?;
            }
        }
        for (name, bytes) in &manifest.managed {
            if let Some(m) = graph.managed.iter().find(|m| m.name() == name) {
                m.restore(bytes)?;
            }
        }
        if manifest.sources.len() != graph.inputs.len() {
            return Err(Error::CorruptCheckpoint {
                path: dir.to_path_buf(),
                reason: "source count differs from the graph".into(),
            });
        }
        drop(graph);
        if let (Some(state), Some(rate)) = (manifest.rate, lock(&inner.rate).as_mut()) {
            rate.restore(state);
        }
        *lock(&inner.resume_offsets) = manifest.sources;
        inner
            .shared
            .zero_ms
            .store(manifest.zero_ms, std::sync::atomic::Ordering::Relaxed);
        let at = BatchTime(manifest.batch_time);
        *lock(&inner.resume_at) = Some(at.plus_ms(inner.batch_ms));
        *lock(&inner.recovered_from) = Some(at);
        Ok(())
    }
}

/// Part `k` of the `old` parts of checkpoint `t`.
fn find_part<'a>(
    dir: &Path,
    listing: &'a Listing,
    t: u64,
    k: usize,
    old: usize,
) -> Result<&'a PathBuf> {
    listing
        .parts
        .get(&t)
        .and_then(|parts| parts.iter().find(|(kk, w, _)| *kk == k && *w == old))
        .map(|(_, _, p)| p)
        .ok_or_else(|| Error::CorruptCheckpoint {
            path: dir.to_path_buf(),
            reason: format!("part {k} of {old} of checkpoint {t} is missing"),
        })
}

/// The checkpoints worker `me` can restore, newest first, as (batch time, workers that
/// wrote it): for the leader, those with a valid manifest whose parts it reads verify; for
/// the others, those whose parts they read verify. A damaged checkpoint is logged and
/// skipped; a checkpoint of another program is an error.
fn usable_checkpoints(
    dir: &Path,
    listing: &Listing,
    me: usize,
    workers: usize,
    expected: u64,
) -> Result<Vec<(u64, usize)>> {
    let mut candidates: Vec<(u64, usize)> = Vec::new();
    if me == 0 {
        for (&t, path) in listing.manifests.iter().rev() {
            match read_manifest(path, dir, expected) {
                Ok(m) => candidates.push((t, m.parts.len())),
                Err(e @ Error::IncompatibleCheckpoint { .. }) => return Err(e),
                Err(e) => tracing::warn!("{e}; falling back to the previous checkpoint"),
            }
        }
    } else {
        for (&t, parts) in listing.parts.iter().rev() {
            let mut olds: Vec<usize> = parts.iter().map(|(_, w, _)| *w).collect();
            olds.sort_unstable();
            olds.dedup();
            candidates.extend(olds.into_iter().map(|w| (t, w)));
        }
    }
    let mut usable = Vec::new();
    for (t, old) in candidates {
        let check = || -> Result<()> {
            let summaries = match listing.manifests.get(&t) {
                Some(path) if me == 0 => Some(read_manifest(path, dir, expected)?.parts),
                _ => None,
            };
            for k in parts_to_read(me, workers, old) {
                let path = find_part(dir, listing, t, k, old)?;
                match &summaries {
                    Some(s) => {
                        read_part(path, s[k], expected, t)?;
                    }
                    None => {
                        let bytes = codec::read_verified(path)?;
                        let part: Part = decode(&bytes, "checkpoint part")?;
                        if part.fingerprint != expected || part.batch_time != t {
                            return Err(Error::CorruptCheckpoint {
                                path: path.clone(),
                                reason: "belongs to another checkpoint".into(),
                            });
                        }
                    }
                }
            }
            Ok(())
        };
        match check() {
            Ok(()) => usable.push((t, old)),
            Err(e @ Error::IncompatibleCheckpoint { .. }) => return Err(e),
            Err(e) => tracing::warn!("{e}; falling back to the previous checkpoint"),
        }
    }
    Ok(usable)
}

/// Restored partitions on their way to their owners.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Routed {
    /// By stateful node: (partition, state).
    states: BTreeMap<usize, Vec<(usize, ByteBuf)>>,
    /// By node, by pane time: the pane with the partitions gathered so far.
    panes: BTreeMap<usize, BTreeMap<u64, Pane>>,
}

/// One restored partition, and the partition it is.
enum RoutedItem {
    State(usize, usize, ByteBuf),
    Pane(usize, Pane),
}

impl Routed {
    fn absorb(&mut self, part: Part) {
        for (id, parts) in part.states {
            self.states.entry(id).or_default().extend(parts);
        }
        for (id, panes) in part.panes {
            for pane in panes {
                self.add_pane(id, pane);
            }
        }
    }

    fn add_pane(&mut self, id: usize, pane: Pane) {
        let slot = self.panes.entry(id).or_default();
        match slot.get_mut(&pane.time) {
            Some(existing) => existing.parts.extend(pane.parts),
            None => {
                slot.insert(pane.time, pane);
            }
        }
    }

    fn push(&mut self, item: RoutedItem) {
        match item {
            RoutedItem::State(id, p, bytes) => {
                self.states.entry(id).or_default().push((p, bytes));
            }
            RoutedItem::Pane(id, pane) => self.add_pane(id, pane),
        }
    }

    fn extend(&mut self, other: Routed) {
        for (id, parts) in other.states {
            self.states.entry(id).or_default().extend(parts);
        }
        for (id, panes) in other.panes {
            for pane in panes.into_values() {
                self.add_pane(id, pane);
            }
        }
    }

    /// Every partition with the worker (of `workers`) that owns it.
    fn into_items(self, workers: usize) -> Vec<(usize, RoutedItem)> {
        let mut items = Vec::new();
        for (id, parts) in self.states {
            for (p, bytes) in parts {
                items.push((owner_of(p, workers), RoutedItem::State(id, p, bytes)));
            }
        }
        for (id, panes) in self.panes {
            for pane in panes.into_values() {
                for (p, bytes) in pane.parts {
                    let one = Pane {
                        time: pane.time,
                        hash_partitions: pane.hash_partitions,
                        partitions: pane.partitions,
                        parts: vec![(p, bytes)],
                    };
                    items.push((owner_of(p, workers), RoutedItem::Pane(id, one)));
                }
            }
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_blocks_encode_as_the_plain_byte_vectors_of_earlier_parts() {
        // Parts written before byte blocks were `ByteBuf`s held `Vec<u8>`s: the encodings
        // are the same, so those parts still decode.
        let plain: Vec<(usize, Vec<(usize, Vec<u8>)>)> = vec![
            (3, vec![(1, vec![1, 2, 255]), (2, Vec::new())]),
            (7, Vec::new()),
        ];
        let blocks: Vec<(usize, Vec<(usize, ByteBuf)>)> = plain
            .iter()
            .map(|(n, parts)| {
                let parts = parts
                    .iter()
                    .map(|(p, b)| (*p, ByteBuf::from(b.clone())))
                    .collect();
                (*n, parts)
            })
            .collect();
        let old = bincode::serialize(&plain).unwrap();
        assert_eq!(old, bincode::serialize(&blocks).unwrap());
        let read: Vec<(usize, Vec<(usize, ByteBuf)>)> = bincode::deserialize(&old).unwrap();
        assert_eq!(read, blocks);
    }
}

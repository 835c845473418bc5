//! Writing checkpoints: the snapshot on the batch thread, the files in the background.

use super::*;
use crate::runtime::{Runtime, run_collect};
use crate::stream::state::FrozenState;
use std::sync::Mutex;

/// Writes checkpoints for a running context.
pub(crate) struct Checkpointer {
    pub(super) dir: PathBuf,
    config: CheckpointConfig,
    batches_since: u64,
    /// The checkpoint a background thread is writing, if any.
    in_flight: Option<InFlight>,
    /// The last checkpoint this worker finished writing, not yet reported: its batch time
    /// and the bytes of its files.
    written: Option<(u64, u64)>,
    /// With several workers: bytes written so far of each checkpoint not every worker has
    /// finished, and how many have.
    partial: BTreeMap<u64, (usize, u64)>,
}

/// A checkpoint being written by a background thread, which returns the bytes written.
struct InFlight {
    batch: u64,
    handle: std::thread::JoinHandle<Result<u64>>,
}

impl Checkpointer {
    pub(super) fn new(dir: PathBuf, config: CheckpointConfig) -> Checkpointer {
        Checkpointer {
            dir,
            config,
            batches_since: 0,
            in_flight: None,
            written: None,
            partial: BTreeMap::new(),
        }
    }

    /// Called after every batch: writes a checkpoint when one is due; returns how long it
    /// held the batch thread in ms.
    pub fn after_batch(&mut self, inner: &Inner, t: BatchTime) -> Result<Option<u64>> {
        self.batches_since += 1;
        if self.batches_since < self.config.every_batches {
            return Ok(None);
        }
        self.batches_since = 0;
        self.write(inner, t).map(Some)
    }

    /// The checkpoint this worker finished writing since the last call, if any: its batch
    /// time and the bytes of its files (a write that failed is returned as its error).
    pub fn take_written(&mut self) -> Result<Option<(u64, u64)>> {
        if self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.handle.is_finished())
        {
            self.finish()?;
        }
        Ok(self.written.take())
    }

    /// With several workers (each gets every report, so all agree): adds the checkpoints
    /// the workers report finished (by worker, as [`take_written`](Self::take_written)
    /// gave them) to those reported before; returns the newest checkpoint every worker has
    /// now finished, with the bytes of all its files, if there is one.
    pub fn all_written(&mut self, reports: &[Option<(u64, u64)>]) -> Option<(u64, u64)> {
        let workers = reports.len();
        for &(t, bytes) in reports.iter().flatten() {
            let entry = self.partial.entry(t).or_insert((0, 0));
            entry.0 += 1;
            entry.1 += bytes;
        }
        let done = self
            .partial
            .iter()
            .rev()
            .find(|(_, (n, _))| *n == workers)
            .map(|(&t, &(_, bytes))| (t, bytes));
        if let Some((t, _)) = done {
            // Older checkpoints some worker never reported (a failed write) are moot now.
            self.partial.retain(|&u, _| u > t);
        }
        done
    }

    /// Writes a checkpoint of the state after batch `t` unless the last one written is of
    /// `t` already, and waits until it is on disk; returns whether it wrote one.
    pub fn write_pending(&mut self, inner: &Inner, t: BatchTime) -> Result<bool> {
        if self.batches_since == 0 {
            self.finish()?;
            return Ok(false);
        }
        self.batches_since = 0;
        self.write(inner, t)?;
        self.finish()?;
        Ok(true)
    }

    /// Checkpoints the state after batch `t`: waits for the previous checkpoint's files,
    /// snapshots this worker's part (and the leader its manifest, after a round that
    /// exchanges the parts' ids), and serializes and writes the files in the background (or
    /// at once when the configuration says so). Returns how long it held the batch thread
    /// in ms.
    pub fn write(&mut self, inner: &Inner, t: BatchTime) -> Result<u64> {
        let started = std::time::Instant::now();
        // One checkpoint in flight at most: memory holds one snapshot, and a failed write
        // fails the stream here rather than going unnoticed.
        self.finish()?;
        let env = &inner.sc.env;
        let (me, workers) = (env.worker(), env.workers());
        let fingerprint = fingerprint(inner);
        let id = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            (t.0, me, std::process::id()),
        );
        let snapshot = snapshot_part(inner, t, fingerprint, id);
        let (snapshot, ids) = if workers == 1 {
            (snapshot?, vec![id])
        } else {
            // A failed snapshot goes into the round, so every worker stops on it.
            let (snapshot, mine) = match snapshot {
                Ok(snapshot) => (Some(snapshot), encode(&id, "checkpoint part id")),
                Err(e) => (None, Err(e)),
            };
            let ids = round(env, Round::Checkpoint, mine.map(|m| vec![m; workers]))?
                .iter()
                .map(|bytes| decode(bytes, "checkpoint part id"))
                .collect::<Result<_>>()?;
            let snapshot =
                snapshot.ok_or_else(|| Error::internal("a failed snapshot passed the round"))?;
            (snapshot, ids)
        };
        let manifest = if me == 0 {
            let manifest = snapshot_manifest(inner, t, fingerprint, ids)?;
            let encoded = encode(&manifest, "checkpoint manifest")?;
            Some((self.dir.join(manifest_name(t.0)), encoded))
        } else {
            None
        };
        let part_path = self.dir.join(part_name(t.0, me, workers));
        let (dir, keep) = (self.dir.clone(), self.config.keep);
        if self.config.background {
            let job = move || {
                let part = (part_path, snapshot.serialize(None)?);
                write_files(&dir, keep, me, t, [Some(part), manifest])
            };
            let handle = std::thread::Builder::new()
                .name("spate-checkpoint".into())
                .spawn(job)
                .map_err(|e| Error::io("spate-checkpoint thread", e))?;
            self.in_flight = Some(InFlight { batch: t.0, handle });
        } else {
            let part = (part_path, snapshot.serialize(Some(&*env.runtime))?);
            let bytes = write_files(&dir, keep, me, t, [Some(part), manifest])?;
            self.written = Some((t.0, bytes));
        }
        Ok(started.elapsed().as_millis() as u64)
    }

    /// Waits until the checkpoint being written in the background, if any, is on disk;
    /// returns its error if writing it failed.
    pub fn finish(&mut self) -> Result<()> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(());
        };
        let bytes = in_flight.handle.join().unwrap_or_else(|payload| {
            Err(Error::internal(format!(
                "the thread writing checkpoint {} panicked: {}",
                in_flight.batch,
                crate::scheduler::panic_message(&*payload)
            )))
        })?;
        self.written = Some((in_flight.batch, bytes));
        Ok(())
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
/// manifest) and keeps the newest `keep` checkpoints of this worker; returns the bytes
/// written.
fn write_files(
    dir: &Path,
    keep: usize,
    me: usize,
    t: BatchTime,
    files: [Option<(PathBuf, Vec<u8>)>; 2],
) -> Result<u64> {
    let started = std::time::Instant::now();
    let mut bytes = 0;
    for (path, payload) in files.iter().flatten() {
        codec::write_atomic(path, payload)?;
        bytes += payload.len() as u64;
    }
    prune(dir, keep, me)?;
    tracing::info!(
        batch = t.0,
        bytes,
        write_ms = started.elapsed().as_millis() as u64,
        dir = %dir.display(),
        "checkpoint written"
    );
    Ok(bytes)
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

/// This worker's part of a checkpoint with its state partitions frozen, not yet serialized.
struct PartSnapshot {
    /// Everything but the states.
    part: Part,
    /// By stateful node, in the graph's order: (partition, frozen state).
    frozen: Vec<(usize, Vec<(usize, FrozenState)>)>,
}

impl PartSnapshot {
    /// Serializes the frozen states (in parallel on `runtime`'s threads if given, else on
    /// this thread, letting go of each as soon as it is serialized) and encodes the part.
    fn serialize(self, runtime: Option<&dyn Runtime>) -> Result<Vec<u8>> {
        let PartSnapshot { mut part, frozen } = self;
        let mut index = Vec::new();
        let mut calls = Vec::new();
        for (id, parts) in frozen {
            for (p, call) in parts {
                index.push((id, p));
                calls.push(call);
            }
        }
        let serialized = match runtime {
            Some(runtime) => {
                let calls: Vec<_> = calls.into_iter().map(|c| Mutex::new(Some(c))).collect();
                run_collect(runtime, calls.len(), |k| {
                    lock(&calls[k])
                        .take()
                        .ok_or_else(|| Error::internal("a state partition was serialized twice"))
                        .and_then(serialize_frozen)
                })?
            }
            None => calls.into_iter().map(serialize_frozen).collect(),
        };
        for ((id, p), bytes) in index.into_iter().zip(serialized) {
            if let Some((_, parts)) = part.states.iter_mut().find(|(n, _)| *n == id) {
                parts.push((p, ByteBuf::from(bytes?)));
            }
        }
        encode(&part, "checkpoint part")
    }
}

fn serialize_frozen(call: FrozenState) -> Result<Vec<u8>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|payload| {
        Err(Error::Serialization {
            what: "operator state".into(),
            message: format!(
                "serializing panicked: {}",
                crate::scheduler::panic_message(&*payload)
            ),
        })
    })
}

/// This worker's part of the checkpoint of batch `t`, with the state partitions it owns
/// frozen (serializing them is left to [`PartSnapshot::serialize`]) and its window panes
/// encoded.
fn snapshot_part(inner: &Inner, t: BatchTime, fingerprint: u64, id: u64) -> Result<PartSnapshot> {
    let (me, workers) = (inner.sc.worker(), inner.sc.workers());
    let nodes = lock(&inner.graph).nodes.clone();
    // By stateful node, in the graph's order, even those with no partition on this worker.
    let mut states = Vec::new();
    let mut frozen = Vec::new();
    for node in &nodes {
        if let Some(state) = node.stateful() {
            let id = node.meta().id;
            let parts = (0..state.partitions())
                .filter(|&p| owner_of(p, workers) == me)
                .map(|p| Ok((p, state.freeze_partition(p)?)))
                .collect::<Result<Vec<_>>>()?;
            states.push((id, Vec::with_capacity(parts.len())));
            frozen.push((id, parts));
        }
    }
    let mut panes = Vec::new();
    for node in &nodes {
        let node_panes = node.snapshot_panes()?;
        if !node_panes.is_empty() {
            panes.push((node.meta().id, node_panes));
        }
    }
    Ok(PartSnapshot {
        part: Part {
            format: FORMAT,
            fingerprint,
            batch_time: t.0,
            worker: me,
            workers,
            id,
            states,
            panes,
        },
        frozen,
    })
}

/// The leader's manifest of the checkpoint of batch `t`.
fn snapshot_manifest(
    inner: &Inner,
    t: BatchTime,
    fingerprint: u64,
    parts: Vec<u64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_reported_once_every_worker_has_written_its_part() {
        let mut leader = Checkpointer::new(PathBuf::from("unused"), CheckpointConfig::every(1));
        // Three workers; worker 1 is slow to finish checkpoint 10.
        assert_eq!(
            leader.all_written(&[Some((10, 5)), None, Some((10, 7))]),
            None
        );
        assert_eq!(leader.all_written(&[None, None, None]), None);
        assert_eq!(
            leader.all_written(&[None, Some((10, 6)), None]),
            Some((10, 18))
        );
        // Checkpoint 20 finishes everywhere at once; 30 never does on worker 2 (its write
        // failed), and once 40 has, 30 is forgotten.
        assert_eq!(
            leader.all_written(&[Some((20, 1)), Some((20, 1)), Some((20, 1))]),
            Some((20, 3))
        );
        assert_eq!(
            leader.all_written(&[Some((30, 1)), Some((30, 1)), None]),
            None
        );
        assert_eq!(
            leader.all_written(&[Some((40, 2)), Some((40, 2)), Some((40, 2))]),
            Some((40, 6))
        );
        assert!(leader.partial.is_empty());
    }
}

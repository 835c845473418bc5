//! What a context keeps between tasks: cached partitions, shuffle outputs, counters.
//!
//! Locks here are taken once per partition read or write, never per record.

use crate::executor::SharedExecutor;
use crate::plan::SharedBatch;
use rustc_hash::FxHashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every structure
/// guarded here stays consistent across a panic (updates are single inserts or removes).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The shared environment of one [`SpateContext`](crate::SpateContext).
pub(crate) struct Env {
    pub executor: SharedExecutor,
    pub blocks: BlockStore,
    pub shuffles: ShuffleStore,
    pub counters: Counters,
    next_id: AtomicU64,
    pub max_task_attempts: AtomicU32,
    pub checkpoint_dir: RwLock<Option<PathBuf>>,
}

impl Env {
    pub fn new(executor: SharedExecutor) -> Env {
        Env {
            executor,
            blocks: BlockStore::default(),
            shuffles: ShuffleStore::default(),
            counters: Counters::default(),
            next_id: AtomicU64::new(1),
            max_task_attempts: AtomicU32::new(4),
            checkpoint_dir: RwLock::new(None),
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn checkpoint_dir(&self) -> Option<PathBuf> {
        self.checkpoint_dir
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Counts of scheduler events, for metrics and for tests that check recomputation happened.
#[derive(Default)]
pub(crate) struct Counters {
    pub tasks: AtomicU64,
    pub task_failures: AtomicU64,
    pub recomputed_shuffle_outputs: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
}

/// Scheduler event counts of a context, see [`SpateContext::stats`](crate::SpateContext::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextStats {
    /// Tasks started, including retries.
    pub tasks: u64,
    /// Task attempts that failed (panicked or returned an error).
    pub task_failures: u64,
    /// Shuffle map outputs that were missing when read and were recomputed from lineage.
    pub recomputed_shuffle_outputs: u64,
    /// Partitions of persisted RDDs served from the cache.
    pub cache_hits: u64,
    /// Partitions of persisted RDDs that had to be computed (first use or lost).
    pub cache_misses: u64,
    /// Partitions currently held in the cache.
    pub cached_partitions: usize,
    /// Shuffles whose outputs are currently held.
    pub live_shuffles: usize,
}

impl Counters {
    pub fn snapshot(&self) -> ContextStats {
        ContextStats {
            tasks: self.tasks.load(Ordering::Relaxed),
            task_failures: self.task_failures.load(Ordering::Relaxed),
            recomputed_shuffle_outputs: self.recomputed_shuffle_outputs.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
            cached_partitions: 0,
            live_shuffles: 0,
        }
    }
}

/// Partitions of persisted RDDs, keyed by (rdd id, partition).
#[derive(Default)]
pub(crate) struct BlockStore {
    blocks: Mutex<FxHashMap<(u64, usize), SharedBatch>>,
}

impl BlockStore {
    pub fn get(&self, rdd: u64, partition: usize) -> Option<SharedBatch> {
        lock(&self.blocks).get(&(rdd, partition)).cloned()
    }

    pub fn put(&self, rdd: u64, partition: usize, batch: SharedBatch) {
        lock(&self.blocks).insert((rdd, partition), batch);
    }

    pub fn remove(&self, rdd: u64, partition: usize) -> bool {
        lock(&self.blocks).remove(&(rdd, partition)).is_some()
    }

    pub fn remove_rdd(&self, rdd: u64) {
        lock(&self.blocks).retain(|(id, _), _| *id != rdd);
    }

    pub fn len(&self) -> usize {
        lock(&self.blocks).len()
    }
}

/// The buckets written by one map task: bucket `p` goes to reduce partition `p`.
pub(crate) type MapOutput = Arc<Vec<SharedBatch>>;

/// Map outputs of live shuffles, keyed by shuffle id then map partition.
///
/// Outputs are kept (not consumed) when read, so a shuffled RDD used by two jobs, or a
/// retried reduce task, reads them again instead of recomputing the map side. They are
/// dropped with the shuffle's plan node.
#[derive(Default)]
pub(crate) struct ShuffleStore {
    outputs: Mutex<FxHashMap<u64, Vec<Option<MapOutput>>>>,
}

impl ShuffleStore {
    pub fn get(&self, shuffle: u64, map: usize) -> Option<MapOutput> {
        lock(&self.outputs)
            .get(&shuffle)
            .and_then(|maps| maps.get(map).cloned().flatten())
    }

    pub fn put(&self, shuffle: u64, map: usize, maps: usize, output: MapOutput) {
        let mut all = lock(&self.outputs);
        let slots = all.entry(shuffle).or_insert_with(|| vec![None; maps]);
        if slots.len() < maps {
            slots.resize(maps, None);
        }
        slots[map] = Some(output);
    }

    /// Map partitions whose output is missing.
    pub fn missing(&self, shuffle: u64, maps: usize) -> Vec<usize> {
        let all = lock(&self.outputs);
        match all.get(&shuffle) {
            None => (0..maps).collect(),
            Some(slots) => (0..maps)
                .filter(|&m| slots.get(m).is_none_or(Option::is_none))
                .collect(),
        }
    }

    pub fn remove(&self, shuffle: u64) {
        lock(&self.outputs).remove(&shuffle);
    }

    pub fn lose(&self, shuffle: u64, map: usize) -> bool {
        let mut all = lock(&self.outputs);
        match all.get_mut(&shuffle).and_then(|s| s.get_mut(map)) {
            Some(slot) => slot.take().is_some(),
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.outputs).len()
    }
}

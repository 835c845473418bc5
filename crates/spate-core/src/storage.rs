//! What a worker keeps between tasks: cached partitions, shuffle outputs, counters, and the
//! runtime and collective rounds its jobs use.
//!
//! Locks here are taken once per partition read or write, never per record.

use crate::accumulator::{AccumulatorRegistry, EncodedUpdate};
use crate::collective::Collective;
use crate::runtime::SharedRuntime;
use rustc_hash::FxHashMap;
use std::any::Any;
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
    pub runtime: SharedRuntime,
    pub collective: Collective,
    pub store: Arc<dyn PartitionStore>,
    pub counters: Counters,
    pub accumulators: AccumulatorRegistry,
    /// Accumulator updates of finished tasks, to send in the next round (several workers):
    /// (stage, partition, updates).
    pub pending_updates: Mutex<Vec<(u64, usize, Vec<EncodedUpdate>)>>,
    next_id: AtomicU64,
    next_stage: AtomicU64,
    pub default_parallelism: usize,
    pub max_task_attempts: AtomicU32,
    pub checkpoint_dir: RwLock<Option<PathBuf>>,
}

impl Env {
    pub fn new(
        runtime: SharedRuntime,
        store: Arc<dyn PartitionStore>,
        default_parallelism: usize,
    ) -> Env {
        Env {
            collective: Collective::new(Arc::clone(&runtime)),
            runtime,
            store,
            counters: Counters::default(),
            accumulators: AccumulatorRegistry::default(),
            pending_updates: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            next_stage: AtomicU64::new(0),
            default_parallelism: default_parallelism.max(1),
            max_task_attempts: AtomicU32::new(4),
            checkpoint_dir: RwLock::new(None),
        }
    }

    /// A new id for a node, shuffle or accumulator. Every worker of a program builds the
    /// same plan in the same order, so ids agree across workers.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A new stage number; every worker numbers its stages alike.
    pub fn next_stage(&self) -> u64 {
        self.next_stage.fetch_add(1, Ordering::Relaxed)
    }

    pub fn workers(&self) -> usize {
        self.collective.workers()
    }

    pub fn worker(&self) -> usize {
        self.collective.worker()
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

/// One partition held in memory: an `Arc<Vec<T>>` of the node's record type, type-erased.
pub type SharedPartition = Arc<dyn Any + Send + Sync>;

/// The buckets one map task of a shuffle wrote: entry `r` goes to reduce partition `r`.
/// On a worker, only the buckets of the reduce partitions it owns are present.
pub type MapOutput = Arc<Vec<Option<SharedPartition>>>;

/// Where a worker keeps partitions between tasks: partitions of persisted RDDs and the map
/// outputs of live shuffles. The core reads and writes it once per partition, never per
/// record. [`MemoryStore`] (the default) keeps everything in memory; a runtime may supply
/// another store (one that spills, say) with
/// [`SpateContextBuilder::partition_store`](crate::SpateContextBuilder::partition_store).
///
/// # Contract
/// What is put is returned by later gets until it is removed (or lost: a store may drop
/// entries, and the core recomputes a lost cached partition from lineage; a lost map output
/// is recomputed on a single worker and fails the job on several).
pub trait PartitionStore: Send + Sync + 'static {
    /// Partition `partition` of persisted RDD `rdd`, if held.
    fn get_block(&self, rdd: u64, partition: usize) -> Option<SharedPartition>;
    /// Holds a partition of a persisted RDD.
    fn put_block(&self, rdd: u64, partition: usize, block: SharedPartition);
    /// Drops one partition; returns whether it was held.
    fn remove_block(&self, rdd: u64, partition: usize) -> bool;
    /// Drops every partition of `rdd`.
    fn remove_rdd(&self, rdd: u64);
    /// How many partitions are held.
    fn block_count(&self) -> usize;

    /// The output of map partition `map` of shuffle `shuffle`, if held.
    fn get_map_output(&self, shuffle: u64, map: usize) -> Option<MapOutput>;
    /// Holds the output of map partition `map` (of `maps`) of `shuffle`.
    fn put_map_output(&self, shuffle: u64, map: usize, maps: usize, output: MapOutput);
    /// The map partitions of `shuffle` (of `maps`) whose output is not held.
    fn missing_map_outputs(&self, shuffle: u64, maps: usize) -> Vec<usize>;
    /// Drops every output of `shuffle`.
    fn remove_shuffle(&self, shuffle: u64);
    /// Drops the output of one map partition; returns whether it was held.
    fn lose_map_output(&self, shuffle: u64, map: usize) -> bool;
    /// How many shuffles have outputs held.
    fn shuffle_count(&self) -> usize;
}

/// The default [`PartitionStore`]: everything in memory, one lock per map, taken once per
/// partition.
#[derive(Default)]
pub struct MemoryStore {
    blocks: Mutex<FxHashMap<(u64, usize), SharedPartition>>,
    outputs: Mutex<FxHashMap<u64, Vec<Option<MapOutput>>>>,
}

impl PartitionStore for MemoryStore {
    fn get_block(&self, rdd: u64, partition: usize) -> Option<SharedPartition> {
        lock(&self.blocks).get(&(rdd, partition)).cloned()
    }

    fn put_block(&self, rdd: u64, partition: usize, block: SharedPartition) {
        lock(&self.blocks).insert((rdd, partition), block);
    }

    fn remove_block(&self, rdd: u64, partition: usize) -> bool {
        lock(&self.blocks).remove(&(rdd, partition)).is_some()
    }

    fn remove_rdd(&self, rdd: u64) {
        lock(&self.blocks).retain(|(id, _), _| *id != rdd);
    }

    fn block_count(&self) -> usize {
        lock(&self.blocks).len()
    }

    fn get_map_output(&self, shuffle: u64, map: usize) -> Option<MapOutput> {
        lock(&self.outputs)
            .get(&shuffle)
            .and_then(|maps| maps.get(map).cloned().flatten())
    }

    fn put_map_output(&self, shuffle: u64, map: usize, maps: usize, output: MapOutput) {
        let mut all = lock(&self.outputs);
        let slots = all.entry(shuffle).or_insert_with(|| vec![None; maps]);
        if slots.len() < maps.max(map + 1) {
            slots.resize(maps.max(map + 1), None);
        }
        slots[map] = Some(output);
    }

    fn missing_map_outputs(&self, shuffle: u64, maps: usize) -> Vec<usize> {
        let all = lock(&self.outputs);
        match all.get(&shuffle) {
            None => (0..maps).collect(),
            Some(slots) => (0..maps)
                .filter(|&m| slots.get(m).is_none_or(Option::is_none))
                .collect(),
        }
    }

    fn remove_shuffle(&self, shuffle: u64) {
        lock(&self.outputs).remove(&shuffle);
    }

    fn lose_map_output(&self, shuffle: u64, map: usize) -> bool {
        let mut all = lock(&self.outputs);
        match all.get_mut(&shuffle).and_then(|s| s.get_mut(map)) {
            Some(slot) => slot.take().is_some(),
            None => false,
        }
    }

    fn shuffle_count(&self) -> usize {
        lock(&self.outputs).len()
    }
}

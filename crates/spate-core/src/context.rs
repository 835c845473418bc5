//! [`SpateContext`]: the entry point for batch computations over RDDs.

use crate::accumulator::{Accumulator, Broadcast};
use crate::data::{Data, Merge};
use crate::error::{Error, Result};
use crate::plan::{MemorySource, Node, Op, SharedBatch, TypeOps};
use crate::rdd::Rdd;
use crate::runtime::{Runtime, SequentialRuntime, SharedRuntime};
use crate::storage::{ContextStats, Env, MemoryStore, PartitionStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The default number of partitions of a context, when the program does not choose one.
///
/// A fixed number, not the machine's core count: a program's partitioning — hence its
/// floating-point sums, record order and samples — is the same on every machine and every
/// runtime. Choose another with [`SpateContextBuilder::default_parallelism`].
pub const DEFAULT_PARALLELISM: usize = 8;

/// Creates RDDs and holds what their jobs share: the runtime, cached partitions, shuffle
/// outputs and the checkpoint directory. Cloning is cheap and clones share everything.
///
/// Every worker of a distributed program has its own context on its own runtime (see
/// [`crate::runtime`]); the program runs on each, identically.
///
/// ```
/// use spate_core::SpateContext;
///
/// let sc = SpateContext::sequential(2);
/// let squares = sc.parallelize((1..=4).collect(), 2).map(|x: i64| x * x);
/// assert_eq!(squares.collect().unwrap(), vec![1, 4, 9, 16]);
/// ```
#[derive(Clone)]
pub struct SpateContext {
    pub(crate) env: Arc<Env>,
}

impl std::fmt::Debug for SpateContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpateContext")
            .field("runtime", &self.env.runtime.name())
            .field("default_parallelism", &self.env.default_parallelism)
            .finish()
    }
}

/// Configures a [`SpateContext`]; see [`SpateContext::builder`].
pub struct SpateContextBuilder {
    runtime: SharedRuntime,
    default_parallelism: usize,
    store: Option<Arc<dyn PartitionStore>>,
}

impl SpateContextBuilder {
    /// The default number of partitions of new RDDs and streams (default
    /// [`DEFAULT_PARALLELISM`]). Results depend on partition counts (the order of
    /// floating-point sums, of records), never on the runtime or the machine.
    pub fn default_parallelism(mut self, partitions: usize) -> Self {
        self.default_parallelism = partitions;
        self
    }

    /// Where the context keeps cached partitions and shuffle outputs (default: a
    /// [`MemoryStore`]).
    pub fn partition_store(mut self, store: Arc<dyn PartitionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Checks the configuration and creates the context.
    pub fn build(self) -> Result<SpateContext> {
        if self.default_parallelism == 0 {
            return Err(Error::invalid(
                "default_parallelism",
                0,
                "must be at least 1",
            ));
        }
        let workers = self.runtime.workers();
        let worker = self.runtime.worker();
        if workers == 0 || worker >= workers {
            return Err(Error::Runtime {
                message: format!(
                    "runtime `{}` reports worker {worker} of {workers}",
                    self.runtime.name()
                ),
            });
        }
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::default()));
        Ok(SpateContext {
            env: Arc::new(Env::new(self.runtime, store, self.default_parallelism)),
        })
    }
}

impl SpateContext {
    /// Starts configuring a context on `runtime`.
    pub fn builder(runtime: impl Runtime) -> SpateContextBuilder {
        SpateContext::builder_shared(Arc::new(runtime))
    }

    /// Starts configuring a context on a shared runtime.
    pub fn builder_shared(runtime: SharedRuntime) -> SpateContextBuilder {
        SpateContextBuilder {
            runtime,
            default_parallelism: DEFAULT_PARALLELISM,
            store: None,
        }
    }

    /// A context on `runtime` with [`DEFAULT_PARALLELISM`] partitions by default.
    ///
    /// # Panics
    /// If the runtime reports a worker index outside its worker count (a broken runtime);
    /// [`builder`](SpateContext::builder) returns an error instead.
    pub fn new(runtime: impl Runtime) -> SpateContext {
        SpateContext::builder(runtime)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A context on the reference runtime: one worker, every task on the calling thread, in
    /// order, with `parallelism` as the default number of partitions.
    pub fn sequential(parallelism: usize) -> SpateContext {
        SpateContext::builder(SequentialRuntime)
            .default_parallelism(parallelism.max(1))
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The runtime's name, for logs.
    pub fn runtime_name(&self) -> String {
        self.env.runtime.name()
    }

    /// The default number of partitions of new RDDs and streams.
    pub fn default_parallelism(&self) -> usize {
        self.env.default_parallelism
    }

    /// This worker's index (0 on a single-worker runtime).
    pub fn worker(&self) -> usize {
        self.env.worker()
    }

    /// How many workers run the program.
    pub fn workers(&self) -> usize {
        self.env.workers()
    }

    /// Whether this is worker 0, which polls the stream sources and should perform the side
    /// effects that must happen once (printing, writing a collected result to a file):
    /// every worker runs the program's driver code, so guard them with this.
    pub fn is_leader(&self) -> bool {
        self.env.worker() == 0
    }

    /// An RDD of `data` split into `partitions` contiguous slices of near-equal size.
    pub fn parallelize<T: Data>(&self, data: Vec<T>, partitions: usize) -> Rdd<T> {
        self.parallelize_named("parallelize", data, partitions)
    }

    pub(crate) fn parallelize_named<T: Data>(
        &self,
        name: &'static str,
        data: Vec<T>,
        partitions: usize,
    ) -> Rdd<T> {
        self.named_partitions_rdd(name, split_even(data, partitions))
    }

    /// An RDD with exactly the given partitions.
    pub fn parallelize_partitions<T: Data>(&self, partitions: Vec<Vec<T>>) -> Rdd<T> {
        self.named_partitions_rdd("parallelize", partitions)
    }

    pub(crate) fn named_partitions_rdd<T: Data>(
        &self,
        name: &'static str,
        partitions: Vec<Vec<T>>,
    ) -> Rdd<T> {
        let parts: Vec<SharedBatch> = partitions
            .into_iter()
            .map(|p| Arc::new(p) as SharedBatch)
            .collect();
        self.shared_partitions_rdd(name, parts, None)
    }

    pub(crate) fn shared_partitions_rdd<T: Data>(
        &self,
        name: &'static str,
        parts: Vec<SharedBatch>,
        partitioner: Option<crate::partitioner::PartitionerTag>,
    ) -> Rdd<T> {
        self.placed_partitions_rdd(name, parts.into_iter().map(Some).collect(), partitioner)
    }

    /// An RDD of partitions of which this worker holds only those it owns (`None` for the
    /// others): a stream batch after the leader scattered it, a materialized result.
    pub(crate) fn placed_partitions_rdd<T: Data>(
        &self,
        name: &'static str,
        mut parts: Vec<Option<SharedBatch>>,
        partitioner: Option<crate::partitioner::PartitionerTag>,
    ) -> Rdd<T> {
        if parts.is_empty() {
            parts.push(Some(Arc::new(Vec::<T>::new())));
        }
        let ops = TypeOps::of::<T>();
        let partitions = parts.len();
        let source = MemorySource { parts, ops };
        Rdd::from_node(Node::new(
            &self.env,
            name,
            partitions,
            partitioner,
            ops,
            Op::Source(Arc::new(source)),
        ))
    }

    /// An RDD with no records (one empty partition).
    pub fn empty<T: Data>(&self) -> Rdd<T> {
        self.parallelize_partitions(vec![Vec::new()])
    }

    /// The lines of a UTF-8 text file, split into `partitions` partitions. Line endings
    /// (`\n` or `\r\n`) are removed.
    pub fn text_file(&self, path: impl AsRef<Path>, partitions: usize) -> Result<Rdd<String>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
            .collect();
        Ok(self.parallelize(lines, partitions))
    }

    /// The union of several RDDs of the same type.
    pub fn union<T: Data>(&self, rdds: &[Rdd<T>]) -> Rdd<T> {
        match rdds {
            [] => self.empty(),
            [only] => only.clone(),
            [first, rest @ ..] => {
                let parents = std::iter::once(first)
                    .chain(rest)
                    .map(|r| Arc::clone(&r.node))
                    .collect::<Vec<_>>();
                let partitions = parents.iter().map(|p| p.partitions).sum();
                Rdd::from_node(Node::new(
                    &self.env,
                    "union",
                    partitions,
                    None,
                    TypeOps::of::<T>(),
                    Op::Union { parents },
                ))
            }
        }
    }

    /// Shares a read-only value with every task.
    pub fn broadcast<T: Data>(&self, value: T) -> Broadcast<T> {
        Broadcast::new(value)
    }

    /// A new accumulator starting at `T::default()`.
    pub fn accumulator<T: Merge + Data>(&self, name: impl Into<String>) -> Accumulator<T> {
        Accumulator::new(self.env.next_id(), name, &self.env.accumulators)
    }

    /// Sets the directory that [`Rdd::checkpoint`] writes to (created if missing).
    pub fn set_checkpoint_dir(&self, dir: impl Into<PathBuf>) -> Result<()> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        *self
            .env
            .checkpoint_dir
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(dir);
        Ok(())
    }

    /// The checkpoint directory, if set.
    pub fn checkpoint_dir(&self) -> Option<PathBuf> {
        self.env.checkpoint_dir()
    }

    /// How many times a task is attempted before its job fails (default 4, like Spark).
    pub fn set_max_task_attempts(&self, attempts: u32) -> Result<()> {
        if attempts == 0 {
            return Err(Error::invalid(
                "max_task_attempts",
                attempts,
                "must be at least 1",
            ));
        }
        self.env
            .max_task_attempts
            .store(attempts, Ordering::Relaxed);
        Ok(())
    }

    /// Scheduler counters: tasks, failures, recomputations, cache use.
    pub fn stats(&self) -> ContextStats {
        let mut stats = self.env.counters.snapshot();
        stats.cached_partitions = self.env.store.block_count();
        stats.live_shuffles = self.env.store.shuffle_count();
        stats
    }

    /// Fault injection for tests and drills: simulates the loss of cached partition `p` of
    /// `rdd` (as if the memory holding it were gone). Returns whether it was cached. The next
    /// read recomputes it from lineage.
    pub fn lose_cached_partition<T: Data>(&self, rdd: &Rdd<T>, p: usize) -> bool {
        self.env.store.remove_block(rdd.node.id, p)
    }

    /// Fault injection: drops every shuffle map output that `rdd`'s lineage has written for
    /// map partition `m`. Returns how many outputs were dropped; they are recomputed from
    /// lineage when next read.
    pub fn lose_shuffle_outputs<T: Data>(&self, rdd: &Rdd<T>, m: usize) -> usize {
        let mut lost = 0;
        let mut stack = vec![Arc::clone(&rdd.node)];
        while let Some(node) = stack.pop() {
            if let Op::CoPartition { deps, .. } = &node.op {
                for dep in deps {
                    if let crate::plan::Dep::Shuffle(s) = dep {
                        lost += usize::from(self.env.store.lose_map_output(s.id, m));
                    }
                }
            }
            stack.extend(node.parents().into_iter().map(|(p, _)| p));
        }
        lost
    }
}

/// Splits `data` into `partitions` contiguous slices of near-equal size (the first ones get
/// the remainder last): how `parallelize` and stream batches are partitioned.
pub(crate) fn split_even<T>(data: Vec<T>, partitions: usize) -> Vec<Vec<T>> {
    let partitions = partitions.max(1);
    let n = data.len();
    let mut parts = Vec::with_capacity(partitions);
    let mut rest = data.into_iter();
    for p in 0..partitions {
        parts.push(
            rest.by_ref()
                .take(split_range(n, partitions, p).len())
                .collect::<Vec<T>>(),
        );
    }
    parts
}

/// The records of partition `p` when `records` records are split into `partitions`
/// partitions, as [`SpateContext::parallelize`] and the stream sources split them:
/// contiguous ranges in order, whose sizes differ by at most one.
///
/// ```
/// use spate_core::split_range;
/// let parts: Vec<_> = (0..3).map(|p| split_range(10, 3, p)).collect();
/// assert_eq!(parts, [0..3, 3..6, 6..10]);
/// ```
pub fn split_range(records: usize, partitions: usize, p: usize) -> std::ops::Range<usize> {
    let partitions = partitions.max(1);
    let bound = |p: usize| {
        // records · p / partitions without overflow for any record count.
        ((records as u128 * p.min(partitions) as u128) / partitions as u128) as usize
    };
    bound(p)..bound(p + 1)
}

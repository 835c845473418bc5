//! [`SpateContext`]: the entry point for batch computations over RDDs.

use crate::accumulator::{Accumulator, Broadcast};
use crate::data::{Data, Merge};
use crate::error::{Error, Result};
use crate::executor::{Executor, SequentialExecutor, SharedExecutor};
use crate::plan::{MemorySource, Node, Op, SharedBatch, TypeOps};
use crate::rdd::Rdd;
use crate::storage::{ContextStats, Env};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Creates RDDs and holds what their jobs share: the executor, cached partitions, shuffle
/// outputs and the checkpoint directory. Cloning is cheap and clones share everything.
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
            .field("executor", &self.env.executor.name())
            .finish()
    }
}

impl SpateContext {
    /// A context that runs tasks on `executor`.
    pub fn new(executor: impl Executor) -> SpateContext {
        SpateContext::with_executor(Arc::new(executor))
    }

    /// A context on a shared executor.
    pub fn with_executor(executor: SharedExecutor) -> SpateContext {
        SpateContext {
            env: Arc::new(Env::new(executor)),
        }
    }

    /// A context on the reference runtime: every task on the calling thread, in order, with
    /// `parallelism` as the default number of partitions.
    pub fn sequential(parallelism: usize) -> SpateContext {
        SpateContext::new(SequentialExecutor::with_parallelism(parallelism))
    }

    /// The executor's name, for logs.
    pub fn executor_name(&self) -> String {
        self.env.executor.name()
    }

    /// The default number of partitions: the executor's parallelism.
    pub fn default_parallelism(&self) -> usize {
        self.env.executor.parallelism().max(1)
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
        let partitions = partitions.max(1);
        let n = data.len();
        let mut parts = Vec::with_capacity(partitions);
        let mut rest = data.into_iter();
        for p in 0..partitions {
            let size = (p + 1) * n / partitions - p * n / partitions;
            parts.push(rest.by_ref().take(size).collect::<Vec<T>>());
        }
        self.named_partitions_rdd(name, parts)
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
        mut parts: Vec<SharedBatch>,
        partitioner: Option<crate::partitioner::PartitionerTag>,
    ) -> Rdd<T> {
        if parts.is_empty() {
            parts.push(Arc::new(Vec::<T>::new()));
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
        Accumulator::new(name)
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
        stats.cached_partitions = self.env.blocks.len();
        stats.live_shuffles = self.env.shuffles.len();
        stats
    }

    /// Fault injection for tests and drills: simulates the loss of cached partition `p` of
    /// `rdd` (as if the memory holding it were gone). Returns whether it was cached. The next
    /// read recomputes it from lineage.
    pub fn lose_cached_partition<T: Data>(&self, rdd: &Rdd<T>, p: usize) -> bool {
        self.env.blocks.remove(rdd.node.id, p)
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
                        lost += usize::from(self.env.shuffles.lose(s.id, m));
                    }
                }
            }
            stack.extend(node.parents().into_iter().map(|(p, _)| p));
        }
        lost
    }
}

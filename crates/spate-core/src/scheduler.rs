//! Runs jobs over the plan: stages split at shuffles, tasks retried from lineage.
//!
//! A job computes some partitions of one node. Before its final stage runs, every shuffle the
//! stage reads is materialized by a map stage (recursively, parents first); shuffles whose
//! outputs are already held are skipped. Inside a stage, each task computes one partition by
//! walking the node's narrow lineage on one thread, batch-at-a-time: a chain of `map`,
//! `filter` and `flat_map` is a chain of loops over one partition's `Vec`, with no hand-off
//! between threads.
//!
//! Fault tolerance comes from lineage: a task that panics or fails is retried up to the
//! context's attempt limit, recomputing its partition from its parents; a cached partition
//! or a shuffle map output that is missing when read is recomputed the same way.

use crate::accumulator;
use crate::error::{Error, Result};
use crate::plan::{Batch, Dep, NarrowFn, Node, Op, SharedBatch, ShuffleDep};
use crate::storage::{Env, MapOutput, lock};
use std::cell::Cell;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Where the current thread is: which task of which stage, which attempt.
///
/// User closures can read it (for example to make a test fail only on a first attempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskContext {
    /// The id of the RDD whose partitions the stage computes.
    pub rdd: u64,
    /// The partition this task computes.
    pub partition: usize,
    /// 0 for the first attempt, 1 for the first retry, …
    pub attempt: u32,
}

thread_local! {
    static CURRENT_TASK: Cell<Option<TaskContext>> = const { Cell::new(None) };
}

impl TaskContext {
    /// The task running on this thread, if any.
    pub fn get() -> Option<TaskContext> {
        CURRENT_TASK.with(Cell::get)
    }
}

/// Restores the previous task context when a task ends, even by panic.
struct TaskScope(Option<TaskContext>);

impl TaskScope {
    fn enter(ctx: TaskContext) -> TaskScope {
        TaskScope(CURRENT_TASK.with(|c| c.replace(Some(ctx))))
    }
}

impl Drop for TaskScope {
    fn drop(&mut self) {
        CURRENT_TASK.with(|c| c.set(self.0));
    }
}

/// Computes partition `p` of `node` on this thread, from the cache or from lineage.
pub(crate) fn compute(node: &Arc<Node>, p: usize) -> Result<Batch> {
    if !node.is_persisted() {
        return compute_op(node, p);
    }
    let env = &node.env;
    if let Some(shared) = env.blocks.get(node.id, p) {
        env.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        return (node.ops.clone_shared)(&shared);
    }
    env.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
    let shared = (node.ops.share)(compute_op(node, p)?)?;
    env.blocks.put(node.id, p, Arc::clone(&shared));
    (node.ops.clone_shared)(&shared)
}

/// Partition `p` of `node` as a shared batch, for readers that only look at it: partitions
/// already in memory (cached, or held by a source) are handed out without copying.
pub(crate) fn compute_shared(node: &Arc<Node>, p: usize) -> Result<SharedBatch> {
    let env = &node.env;
    if node.is_persisted() {
        if let Some(shared) = env.blocks.get(node.id, p) {
            env.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(shared);
        }
        env.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
    }
    let shared = match &node.op {
        Op::Source(source) => source.compute_shared(p, &node.ops)?,
        _ => (node.ops.share)(compute_op(node, p)?)?,
    };
    if node.is_persisted() {
        env.blocks.put(node.id, p, Arc::clone(&shared));
    }
    Ok(shared)
}

fn compute_op(node: &Arc<Node>, p: usize) -> Result<Batch> {
    match &node.op {
        Op::Source(source) => source.compute(p),
        Op::Narrow {
            parent,
            f: NarrowFn::Owned(f),
        } => f(p, compute(parent, p)?),
        Op::Narrow {
            parent,
            f: NarrowFn::Borrowed(f),
        } => f(p, &compute_shared(parent, p)?),
        Op::Union { parents } => {
            let mut local = p;
            for parent in parents {
                if local < parent.partitions {
                    return compute(parent, local);
                }
                local -= parent.partitions;
            }
            Err(Error::internal(format!(
                "partition {p} out of range for {}",
                node.describe()
            )))
        }
        Op::CoPartition { deps, f } => {
            let inputs = deps
                .iter()
                .map(|dep| match dep {
                    Dep::OneToOne(parent) => Ok(vec![compute_shared(parent, p)?]),
                    Dep::Shuffle(shuffle) => fetch(shuffle, p),
                })
                .collect::<Result<Vec<_>>>()?;
            f(p, inputs)
        }
    }
}

/// Reads bucket `p` of every map output of `shuffle`, recomputing lost outputs.
fn fetch(shuffle: &Arc<ShuffleDep>, p: usize) -> Result<Vec<SharedBatch>> {
    let env = &shuffle.env;
    let maps = shuffle.parent.partitions;
    let mut buckets = Vec::with_capacity(maps);
    for m in 0..maps {
        let output = match env.shuffles.get(shuffle.id, m) {
            Some(output) => output,
            None => {
                env.counters
                    .recomputed_shuffle_outputs
                    .fetch_add(1, Ordering::Relaxed);
                write_map_output(shuffle, m)?
            }
        };
        let bucket = output.get(p).ok_or_else(|| {
            Error::internal(format!(
                "shuffle {} has no bucket {p} (of {})",
                shuffle.id,
                output.len()
            ))
        })?;
        buckets.push(Arc::clone(bucket));
    }
    Ok(buckets)
}

/// Runs the map side of `shuffle` for map partition `m` and stores its buckets.
fn write_map_output(shuffle: &Arc<ShuffleDep>, m: usize) -> Result<MapOutput> {
    let input = compute(&shuffle.parent, m)?;
    let buckets = (shuffle.write)(input)?;
    if buckets.len() != shuffle.partitions {
        return Err(Error::internal(format!(
            "shuffle {} wrote {} buckets, expected {}",
            shuffle.id,
            buckets.len(),
            shuffle.partitions
        )));
    }
    let shared = buckets
        .into_iter()
        .map(shuffle.bucket_ops.share)
        .collect::<Result<Vec<_>>>()?;
    let output = Arc::new(shared);
    shuffle.env.shuffles.put(
        shuffle.id,
        m,
        shuffle.parent.partitions,
        Arc::clone(&output),
    );
    Ok(output)
}

/// Like [`run_job`], handing each partition to `f` by reference.
pub(crate) fn run_job_shared<R: Send>(
    node: &Arc<Node>,
    partitions: &[usize],
    f: impl Fn(usize, &SharedBatch) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    prepare_shuffles(node)?;
    run_stage(node, partitions, |p| f(p, &compute_shared(node, p)?))
}

/// Computes `partitions` of `node` and applies `f` to each, in parallel on the context's
/// executor; results come back in the order of `partitions`.
pub(crate) fn run_job<R: Send>(
    node: &Arc<Node>,
    partitions: &[usize],
    f: impl Fn(usize, Batch) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    prepare_shuffles(node)?;
    tracing::trace!(rdd = node.id, partitions = partitions.len(), "result stage");
    run_stage(node, partitions, |p| f(p, compute(node, p)?))
}

/// Materializes every shuffle that the stage of `node` reads and that is not held yet.
fn prepare_shuffles(node: &Arc<Node>) -> Result<()> {
    let mut shuffles = Vec::new();
    let mut seen = HashSet::new();
    stage_shuffles(node, &mut shuffles, &mut seen);
    for shuffle in shuffles {
        let missing = node
            .env
            .shuffles
            .missing(shuffle.id, shuffle.parent.partitions);
        if missing.is_empty() {
            continue;
        }
        prepare_shuffles(&shuffle.parent)?;
        tracing::trace!(
            shuffle = shuffle.id,
            tasks = missing.len(),
            "shuffle map stage"
        );
        run_stage(&shuffle.parent, &missing, |m| {
            write_map_output(&shuffle, m).map(drop)
        })?;
    }
    Ok(())
}

/// The shuffles read by the stage that computes `node`: reachable over narrow edges,
/// stopping at persisted nodes that are fully cached.
fn stage_shuffles(node: &Arc<Node>, out: &mut Vec<Arc<ShuffleDep>>, seen: &mut HashSet<u64>) {
    if !seen.insert(node.id) {
        return;
    }
    if node.is_persisted()
        && (0..node.partitions).all(|p| node.env.blocks.get(node.id, p).is_some())
    {
        return;
    }
    match &node.op {
        Op::Source(_) => {}
        Op::Narrow { parent, .. } => stage_shuffles(parent, out, seen),
        Op::Union { parents } => {
            for parent in parents {
                stage_shuffles(parent, out, seen);
            }
        }
        Op::CoPartition { deps, .. } => {
            for dep in deps {
                match dep {
                    Dep::OneToOne(parent) => stage_shuffles(parent, out, seen),
                    Dep::Shuffle(shuffle) => {
                        if !out.iter().any(|s| s.id == shuffle.id) {
                            out.push(Arc::clone(shuffle));
                        }
                    }
                }
            }
        }
    }
}

/// Runs one task per entry of `partitions` on the executor, each with retries.
fn run_stage<R: Send>(
    node: &Arc<Node>,
    partitions: &[usize],
    task: impl Fn(usize) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let env = &node.env;
    let slots: Vec<Mutex<Option<Result<R>>>> =
        partitions.iter().map(|_| Mutex::new(None)).collect();
    env.executor.run(partitions.len(), &|i| {
        let result = run_task(env, node, partitions[i], &task);
        *lock(&slots[i]) = Some(result);
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(Error::internal("executor skipped a task")))
        })
        .collect()
}

/// Runs one task, retrying on panic or retryable error up to the attempt limit.
fn run_task<R>(
    env: &Env,
    node: &Node,
    partition: usize,
    task: &(impl Fn(usize) -> Result<R> + Sync),
) -> Result<R> {
    let attempts = env.max_task_attempts.load(Ordering::Relaxed).max(1);
    let mut last_failure = String::new();
    for attempt in 0..attempts {
        env.counters.tasks.fetch_add(1, Ordering::Relaxed);
        let _scope = TaskScope::enter(TaskContext {
            rdd: node.id,
            partition,
            attempt,
        });
        accumulator::begin_task();
        let outcome = catch_unwind(AssertUnwindSafe(|| task(partition)));
        match outcome {
            Ok(Ok(value)) => {
                accumulator::commit_task();
                return Ok(value);
            }
            Ok(Err(error)) if !is_retryable(&error) => {
                accumulator::abort_task();
                return Err(error);
            }
            Ok(Err(error)) => last_failure = error.to_string(),
            Err(panic) => last_failure = panic_message(panic.as_ref()),
        }
        accumulator::abort_task();
        env.counters.task_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            rdd = node.id,
            partition,
            attempt,
            "task failed, {}: {last_failure}",
            if attempt + 1 < attempts {
                "retrying from lineage"
            } else {
                "giving up"
            }
        );
    }
    Err(Error::TaskFailed {
        stage: node.describe(),
        partition,
        attempts,
        message: last_failure,
    })
}

fn is_retryable(error: &Error) -> bool {
    !matches!(
        error,
        Error::Internal(_) | Error::TaskFailed { .. } | Error::Stopped | Error::StateExpired { .. }
    )
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

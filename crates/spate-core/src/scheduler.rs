//! Runs jobs over the plan: stages split at shuffles, tasks retried from lineage.
//!
//! A job computes some partitions of one node. Before its final stage runs, every shuffle the
//! stage reads is materialized by a map stage (recursively, parents first); shuffles whose
//! outputs are already held are skipped. Inside a stage, each task computes one partition by
//! walking the node's narrow lineage on one thread, batch-at-a-time: a chain of `map`,
//! `filter` and `flat_map` is a chain of loops over one partition's `Vec`, with no hand-off
//! between threads.
//!
//! Every worker of a program runs the same jobs (see [`crate::runtime`]); each runs the
//! tasks of the partitions it owns. A map stage ends with a shuffle round that sends every
//! bucket, encoded, to the owner of its reduce partition; a job's results are gathered to
//! every worker in one round, so the program continues identically everywhere. With one
//! worker there are no rounds and nothing is encoded.
//!
//! Fault tolerance comes from lineage: a task that panics or fails is retried up to the
//! context's attempt limit, recomputing its partition from its parents; a cached partition
//! that is missing when read is recomputed the same way, and so is a lost shuffle map output
//! on a single worker (on several, the map output lives on another worker: the job fails and
//! a stream restarts from its checkpoint).

use crate::accumulator::{self, EncodedUpdate, TaskUpdates};
use crate::collective::Round;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::packed;
use crate::plan::{Batch, Dep, NarrowFn, Node, Op, SharedBatch, ShuffleDep};
use crate::runtime::{owner_of, run_collect};
use crate::storage::{Env, MapOutput, lock};
use std::cell::Cell;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
    if let Some(shared) = env.store.get_block(node.id, p) {
        env.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        return (node.ops.clone_shared)(&shared);
    }
    env.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
    let shared = (node.ops.share)(compute_op(node, p)?)?;
    env.store.put_block(node.id, p, Arc::clone(&shared));
    (node.ops.clone_shared)(&shared)
}

/// Partition `p` of `node` as a shared batch, for readers that only look at it: partitions
/// already in memory (cached, or held by a source) are handed out without copying.
pub(crate) fn compute_shared(node: &Arc<Node>, p: usize) -> Result<SharedBatch> {
    let env = &node.env;
    if node.is_persisted() {
        if let Some(shared) = env.store.get_block(node.id, p) {
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
        env.store.put_block(node.id, p, Arc::clone(&shared));
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

/// Reads bucket `p` of every map output of `shuffle`, recomputing lost outputs (on a single
/// worker; on several, a map output lives where its map task ran).
fn fetch(shuffle: &Arc<ShuffleDep>, p: usize) -> Result<Vec<SharedBatch>> {
    let env = &shuffle.env;
    let maps = shuffle.parent.partitions;
    let mut buckets = Vec::with_capacity(maps);
    for m in 0..maps {
        let output = match env.store.get_map_output(shuffle.id, m) {
            Some(output) => output,
            None if env.workers() == 1 => {
                env.counters
                    .recomputed_shuffle_outputs
                    .fetch_add(1, Ordering::Relaxed);
                write_map_output(shuffle, m)?
            }
            None => {
                return Err(Error::Operator {
                    operator: format!("shuffle {}", shuffle.id),
                    message: format!(
                        "the output of map partition {m} was lost; with several workers it \
                         cannot be recomputed here (the stream restarts from its checkpoint)"
                    ),
                });
            }
        };
        let bucket = output.get(p).cloned().flatten().ok_or_else(|| {
            Error::internal(format!(
                "shuffle {} has no bucket {p} (of {}) on worker {}",
                shuffle.id,
                output.len(),
                env.worker()
            ))
        })?;
        buckets.push(bucket);
    }
    Ok(buckets)
}

/// The buckets map partition `m` of `shuffle` writes.
fn map_buckets(shuffle: &Arc<ShuffleDep>, m: usize) -> Result<Vec<SharedBatch>> {
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
    buckets.into_iter().map(shuffle.bucket_ops.share).collect()
}

/// Runs the map side of `shuffle` for map partition `m` and stores its buckets (one worker).
fn write_map_output(shuffle: &Arc<ShuffleDep>, m: usize) -> Result<MapOutput> {
    let output: MapOutput = Arc::new(map_buckets(shuffle, m)?.into_iter().map(Some).collect());
    shuffle.env.store.put_map_output(
        shuffle.id,
        m,
        shuffle.parent.partitions,
        Arc::clone(&output),
    );
    Ok(output)
}

/// Computes `partitions` of `node` and applies `f` to each; every worker gets every result,
/// in the order of `partitions`. Each worker runs the tasks of the partitions it owns.
pub(crate) fn run_job<R: Data>(
    node: &Arc<Node>,
    partitions: &[usize],
    f: impl Fn(usize, Batch) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    prepare_shuffles(node)?;
    tracing::trace!(rdd = node.id, partitions = partitions.len(), "result stage");
    gather_results(node, partitions, |p| f(p, compute(node, p)?))
}

/// Like [`run_job`], handing each partition to `f` by reference.
pub(crate) fn run_job_shared<R: Data>(
    node: &Arc<Node>,
    partitions: &[usize],
    f: impl Fn(usize, &SharedBatch) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    prepare_shuffles(node)?;
    gather_results(node, partitions, |p| f(p, &compute_shared(node, p)?))
}

/// Computes those of `partitions` of `node` that this worker owns and applies `f` to each;
/// returns `(partition, result)` for them. No results cross workers (materialized partitions,
/// state computed for its side effect), but every worker must call it, as it may shuffle.
pub(crate) fn run_local<R: Send>(
    node: &Arc<Node>,
    partitions: &[usize],
    f: impl Fn(usize, &SharedBatch) -> Result<R> + Sync,
) -> Result<Vec<(usize, R)>> {
    prepare_shuffles(node)?;
    let mine = owned(node, partitions);
    let results = run_stage(node, &mine, |p| f(p, &compute_shared(node, p)?))?;
    Ok(mine.into_iter().zip(results).collect())
}

/// The entries of `partitions` that this worker owns.
fn owned(node: &Node, partitions: &[usize]) -> Vec<usize> {
    let env = &node.env;
    let workers = env.workers();
    if workers == 1 {
        return partitions.to_vec();
    }
    let me = env.worker();
    partitions
        .iter()
        .copied()
        .filter(|&p| node.owner(p, workers) == me)
        .collect()
}

/// Runs the owned tasks of a result stage and gathers every worker's results.
fn gather_results<R: Data>(
    node: &Arc<Node>,
    partitions: &[usize],
    task: impl Fn(usize) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let env = &node.env;
    if env.workers() == 1 {
        return run_stage(node, partitions, task);
    }
    let me = env.worker();
    let workers = env.workers();
    let mine: Vec<usize> = (0..partitions.len())
        .filter(|&i| node.owner(partitions[i], workers) == me)
        .collect();
    let local = run_stage(
        node,
        &mine.iter().map(|&i| partitions[i]).collect::<Vec<_>>(),
        task,
    )
    .and_then(|results| {
        let indexed: Vec<(usize, R)> = mine.iter().copied().zip(results).collect();
        bincode::serialize(&indexed).map_err(|e| Error::Serialization {
            what: format!("results of {}", node.describe()),
            message: e.to_string(),
        })
    });
    let received = round(env, Round::Results, local.map(|b| vec![b; workers]))?;
    let mut slots: Vec<Option<R>> = (0..partitions.len()).map(|_| None).collect();
    for bytes in received {
        let indexed: Vec<(usize, R)> =
            bincode::deserialize(&bytes).map_err(|e| Error::Serialization {
                what: format!("results of {}", node.describe()),
                message: e.to_string(),
            })?;
        for (i, r) in indexed {
            match slots.get_mut(i) {
                Some(slot @ None) => *slot = Some(r),
                _ => return Err(Error::internal(format!("result {i} delivered twice"))),
            }
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| {
                Error::internal(format!("no worker computed partition {}", partitions[i]))
            })
        })
        .collect()
}

/// One collective round of a job: sends `mine[v]` to worker `v` together with the
/// accumulator updates of this worker's finished tasks, merges every worker's updates (in
/// stage and partition order, so every worker gets the same values) and returns the
/// payloads.
pub(crate) fn round(env: &Env, kind: Round, mine: Result<Vec<Vec<u8>>>) -> Result<Vec<Vec<u8>>> {
    let updates = std::mem::take(&mut *lock(&env.pending_updates));
    let mine = mine.and_then(|bodies| {
        let tail = bincode::serialize(&updates).map_err(|e| Error::Serialization {
            what: "accumulator updates".into(),
            message: e.to_string(),
        })?;
        Ok(bodies
            .into_iter()
            .map(|mut body| {
                let len = body.len() as u64;
                // Room for the collective's trailer too (packed messages have it already).
                body.reserve(tail.len() + 8 + crate::collective::TRAILER);
                body.extend_from_slice(&tail);
                body.extend_from_slice(&len.to_le_bytes());
                body
            })
            .collect())
    });
    let received = env.collective.exchange(kind, mine)?;
    let mut all_updates: Vec<(u64, usize, Vec<EncodedUpdate>)> = Vec::new();
    let mut bodies = Vec::with_capacity(received.len());
    for (from, mut bytes) in received.into_iter().enumerate() {
        let bad = || Error::internal(format!("a malformed {kind:?} message from worker {from}"));
        let n = bytes.len();
        let len_at = n.checked_sub(8).ok_or_else(bad)?;
        let len = u64::from_le_bytes(bytes[len_at..].try_into().map_err(|_| bad())?) as usize;
        if len > len_at {
            return Err(bad());
        }
        let updates: Vec<(u64, usize, Vec<EncodedUpdate>)> =
            bincode::deserialize(&bytes[len..len_at]).map_err(|e| Error::Serialization {
                what: "accumulator updates".into(),
                message: e.to_string(),
            })?;
        all_updates.extend(updates);
        bytes.truncate(len);
        bodies.push(bytes);
    }
    all_updates.sort_by_key(|(stage, partition, _)| (*stage, *partition));
    for (_, _, updates) in &all_updates {
        env.accumulators.merge_encoded(updates)?;
    }
    Ok(bodies)
}

/// Materializes every shuffle that the stage of `node` reads and that is not held yet.
fn prepare_shuffles(node: &Arc<Node>) -> Result<()> {
    let mut shuffles = Vec::new();
    let mut seen = HashSet::new();
    stage_shuffles(node, &mut shuffles, &mut seen);
    for shuffle in shuffles {
        let missing = node
            .env
            .store
            .missing_map_outputs(shuffle.id, shuffle.parent.partitions);
        if missing.is_empty() {
            continue;
        }
        prepare_shuffles(&shuffle.parent)?;
        tracing::trace!(
            shuffle = shuffle.id,
            tasks = missing.len(),
            "shuffle map stage"
        );
        if node.env.workers() == 1 {
            run_stage(&shuffle.parent, &missing, |m| {
                write_map_output(&shuffle, m).map(drop)
            })?;
        } else {
            exchange_map_outputs(&shuffle, &missing)?;
        }
    }
    Ok(())
}

/// The map stage of a shuffle on several workers: each runs its own map tasks, sends each
/// bucket to the owner of its reduce partition (encoded, empty buckets omitted), and keeps
/// the buckets of the reduce partitions it owns.
fn exchange_map_outputs(shuffle: &Arc<ShuffleDep>, missing: &[usize]) -> Result<()> {
    let env = &shuffle.env;
    let (me, workers) = (env.worker(), env.workers());
    let reduces = shuffle.partitions;
    let local_maps = owned(&shuffle.parent, missing);
    let outputs = run_stage(&shuffle.parent, &local_maps, |m| map_buckets(shuffle, m));
    // Buckets this worker keeps, and the ones it sends, packed per receiver as
    // (map, reduce, bytes).
    let mut kept: Vec<(usize, usize, SharedBatch)> = Vec::new();
    let ops = &shuffle.bucket_ops;
    let outgoing = outputs.and_then(|outputs| {
        let mut sent: Vec<Vec<(u32, u32, SharedBatch)>> = vec![Vec::new(); workers];
        for (&m, buckets) in local_maps.iter().zip(outputs) {
            for (r, bucket) in buckets.into_iter().enumerate() {
                let to = owner_of(r, workers);
                if to == me {
                    kept.push((m, r, bucket));
                } else if (ops.len)(&bucket) > 0 {
                    sent[to].push((m as u32, r as u32, bucket));
                }
            }
        }
        sent.iter()
            .map(|buckets| packed::pack(buckets, |_| *ops, &shuffle.id))
            .collect::<Result<Vec<_>>>()
    });
    let received = round(env, Round::Shuffle, outgoing)?;
    let mut outputs: Vec<Vec<Option<SharedBatch>>> = missing
        .iter()
        .map(|_| {
            (0..reduces)
                .map(|r| (owner_of(r, workers) == me).then(ops.empty))
                .collect()
        })
        .collect();
    let slot_of = |m: usize| missing.binary_search(&m).ok();
    for (m, r, bucket) in kept {
        let i = slot_of(m).ok_or_else(|| Error::internal("a kept bucket of an unknown map"))?;
        outputs[i][r] = Some(bucket);
    }
    for bytes in received {
        let (id, list): (u64, _) = packed::unpack(&bytes)?;
        if id != shuffle.id {
            return Err(Error::internal(format!(
                "buckets of shuffle {id} in a round of shuffle {}",
                shuffle.id
            )));
        }
        for (m, r, bucket) in list {
            let (m, r) = (m as usize, r as usize);
            let i = slot_of(m)
                .filter(|_| r < reduces && owner_of(r, workers) == me)
                .ok_or_else(|| Error::internal(format!("a misrouted bucket ({m}, {r})")))?;
            let batch = (ops.decode)(bucket)?;
            outputs[i][r] = Some((ops.share)(batch)?);
        }
    }
    let maps = shuffle.parent.partitions;
    for (&m, output) in missing.iter().zip(outputs) {
        env.store
            .put_map_output(shuffle.id, m, maps, Arc::new(output));
    }
    Ok(())
}

/// The shuffles read by the stage that computes `node`: reachable over narrow edges,
/// stopping at persisted nodes whose partitions are all cached (on a single worker).
fn stage_shuffles(node: &Arc<Node>, out: &mut Vec<Arc<ShuffleDep>>, seen: &mut HashSet<u64>) {
    if !seen.insert(node.id) {
        return;
    }
    // A fully cached node needs none of its upstream shuffles. With several workers the walk
    // goes on: each worker holds different partitions, and all must reach the same
    // shuffles (those already held are skipped by every worker alike).
    let env = &node.env;
    if env.workers() == 1
        && node.is_persisted()
        && (0..node.partitions).all(|p| env.store.get_block(node.id, p).is_some())
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

/// Runs one task per entry of `partitions` (all owned by this worker) on the runtime's
/// threads, each with retries; returns the results in the order of `partitions`. The
/// accumulator updates of the tasks are merged in partition order: at once on a single
/// worker, in the job's next round on several.
fn run_stage<R: Send>(
    node: &Arc<Node>,
    partitions: &[usize],
    task: impl Fn(usize) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let env = &node.env;
    let stage = env.next_stage();
    let outcomes = run_collect(&*env.runtime, partitions.len(), |i| {
        run_task(env, node, partitions[i], &task)
    })?;
    let mut results = Vec::with_capacity(partitions.len());
    let mut updates = Vec::new();
    for (outcome, &p) in outcomes.into_iter().zip(partitions) {
        let (value, task_updates) = outcome?;
        results.push(value);
        if !task_updates.is_empty() {
            updates.push((p, task_updates));
        }
    }
    if env.workers() == 1 {
        for (_, task_updates) in updates {
            task_updates.commit();
        }
    } else if !updates.is_empty() {
        let encoded = updates
            .iter()
            .map(|(p, u)| Ok((stage, *p, u.encode()?)))
            .collect::<Result<Vec<_>>>()?;
        lock(&env.pending_updates).extend(encoded);
    }
    Ok(results)
}

/// Runs one task, retrying on panic or retryable error up to the attempt limit.
fn run_task<R>(
    env: &Env,
    node: &Node,
    partition: usize,
    task: &(impl Fn(usize) -> Result<R> + Sync),
) -> Result<(R, TaskUpdates)> {
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
            Ok(Ok(value)) => return Ok((value, accumulator::finish_task())),
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
        Error::Internal(_)
            | Error::TaskFailed { .. }
            | Error::Stopped
            | Error::StateExpired { .. }
            | Error::PeerFailed { .. }
            | Error::WorkersDiverged { .. }
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

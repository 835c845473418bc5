//! The logical plan: a lineage graph of type-erased nodes built from a few primitives.
//!
//! Every RDD is a [`Node`]. Its [`Op`] is one of four primitives:
//!
//! - [`Op::Source`]: partitions that come from outside the graph (a collection, a batch of a
//!   stream, checkpoint files, a materialized result);
//! - [`Op::Narrow`]: a per-partition map from one parent partition to one output partition
//!   (`map`, `filter`, `flat_map`, `map_partitions`, map-side combine …);
//! - [`Op::Union`]: the partitions of several parents side by side;
//! - [`Op::CoPartition`]: output partition `p` built from partition `p` of every dependency,
//!   where each dependency is either one-to-one (already partitioned alike) or a keyed
//!   shuffle ([`ShuffleDep`]) that routes every parent record to its partition, optionally
//!   combining on the map side (`reduce_by_key`, `join`, `cogroup`, `repartition` …).
//!
//! Records travel between nodes as [`Batch`]es: a boxed `Vec<T>` per partition, so the
//! runtime moves whole partitions and user closures run in tight loops over contiguous data.
//! Nothing here executes anything; see [`crate::scheduler`] for that.

use crate::data::Data;
use crate::error::{Error, Result};
use crate::partitioner::PartitionerTag;
use crate::storage::Env;
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One partition's records: always a `Vec<T>` of the node's record type.
pub(crate) type Batch = Box<dyn std::any::Any + Send>;

/// A partition kept in a store and shared between readers: an `Arc<Vec<T>>`.
pub(crate) type SharedBatch = crate::storage::SharedPartition;

/// A narrow operator's function: it takes its input partition by value, or reads it by
/// reference (so a partition held in memory — a stream batch, a cached RDD — is read
/// without copying its records).
#[derive(Clone)]
pub(crate) enum NarrowFn {
    Owned(Arc<dyn Fn(usize, Batch) -> Result<Batch> + Send + Sync>),
    Borrowed(Arc<dyn Fn(usize, &SharedBatch) -> Result<Batch> + Send + Sync>),
}
/// A co-partitioned operator's function: the inputs of its partition, one list per
/// dependency (one partition for a one-to-one dependency, one bucket per map partition for
/// a shuffle). Inputs are shared: a partition held in memory (a cache, a remembered stream
/// batch, a stored shuffle bucket) is handed over without copying, so a function that only
/// reads its inputs copies nothing; [`take_shared`] gives owned records, moving them when
/// the task holds the only reference.
pub(crate) type ZipFn = Arc<dyn Fn(usize, Vec<Vec<SharedBatch>>) -> Result<Batch> + Send + Sync>;
pub(crate) type WriteFn = Arc<dyn Fn(Batch) -> Result<Vec<Batch>> + Send + Sync>;

/// Monomorphized operations on the batches of one record type, so that the type-erased
/// plan can clone, store, count and serialize partitions without knowing `T`.
#[derive(Clone, Copy)]
pub(crate) struct TypeOps {
    pub share: fn(Batch) -> Result<SharedBatch>,
    pub clone_shared: fn(&SharedBatch) -> Result<Batch>,
    pub encode: fn(&Batch) -> Result<Vec<u8>>,
    pub decode: fn(&[u8]) -> Result<Batch>,
    /// Encodes a shared partition (to ship it to another worker or into a checkpoint).
    pub encode_shared: fn(&SharedBatch) -> Result<Vec<u8>>,
    /// Encodes a shared partition at the end of a buffer (see `packed`).
    pub encode_shared_into: fn(&SharedBatch, &mut Vec<u8>) -> Result<()>,
    /// The length of a shared partition's encoding, without encoding it.
    pub encoded_len: fn(&SharedBatch) -> Result<u64>,
    /// A shared partition with no records.
    pub empty: fn() -> SharedBatch,
    /// The number of records of a shared partition (0 if it is not of this type).
    pub len: fn(&SharedBatch) -> usize,
}

impl TypeOps {
    pub fn of<T: Data>() -> TypeOps {
        TypeOps {
            share: |b| Ok(Arc::new(downcast::<T>(b)?) as SharedBatch),
            clone_shared: |s| {
                s.downcast_ref::<Vec<T>>()
                    .map(|v| Box::new(v.clone()) as Batch)
                    .ok_or_else(|| type_error::<T>())
            },
            encode: |b| {
                let v = b
                    .downcast_ref::<Vec<T>>()
                    .ok_or_else(|| type_error::<T>())?;
                bincode::serialize(v).map_err(codec_error::<T>)
            },
            decode: |bytes| {
                let v: Vec<T> = bincode::deserialize(bytes).map_err(codec_error::<T>)?;
                Ok(Box::new(v) as Batch)
            },
            encode_shared: |s| bincode::serialize(view_shared::<T>(s)?).map_err(codec_error::<T>),
            encode_shared_into: |s, out| {
                bincode::serialize_into(out, view_shared::<T>(s)?).map_err(codec_error::<T>)
            },
            encoded_len: |s| {
                bincode::serialized_size(view_shared::<T>(s)?).map_err(codec_error::<T>)
            },
            empty: || Arc::new(Vec::<T>::new()) as SharedBatch,
            len: |s| s.downcast_ref::<Vec<T>>().map_or(0, Vec::len),
        }
    }
}

/// A partition of `T` that bincode could not encode or decode.
fn codec_error<T>(e: bincode::Error) -> Error {
    Error::Serialization {
        what: format!("partition of {}", std::any::type_name::<T>()),
        message: e.to_string(),
    }
}

fn type_error<T>() -> Error {
    Error::internal(format!(
        "a partition did not hold the expected record type {}",
        std::any::type_name::<T>()
    ))
}

/// Unboxes a partition into its records.
pub(crate) fn downcast<T: 'static>(batch: Batch) -> Result<Vec<T>> {
    batch
        .downcast::<Vec<T>>()
        .map(|b| *b)
        .map_err(|_| type_error::<T>())
}

/// The records of a shared partition, read in place.
pub(crate) fn view_shared<T: 'static>(shared: &SharedBatch) -> Result<&[T]> {
    shared
        .downcast_ref::<Vec<T>>()
        .map(Vec::as_slice)
        .ok_or_else(|| type_error::<T>())
}

/// The records of a shared partition, owned: moved out when the caller holds the only
/// reference (a partition computed for this task), cloned otherwise (a cached partition or
/// a stored shuffle bucket, which must stay intact for other readers and retries).
pub(crate) fn take_shared<T: Clone + Send + Sync + 'static>(shared: SharedBatch) -> Result<Vec<T>> {
    take_all(std::iter::once(shared))
}

/// The records of several shared partitions, in order, owned (see [`take_shared`]).
pub(crate) fn take_all<T: Clone + Send + Sync + 'static>(
    batches: impl IntoIterator<Item = SharedBatch>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for batch in batches {
        let records = batch.downcast::<Vec<T>>().map_err(|_| type_error::<T>())?;
        match Arc::try_unwrap(records) {
            Ok(owned) if out.is_empty() => out = owned,
            Ok(mut owned) => out.append(&mut owned),
            Err(shared) => out.extend_from_slice(&shared),
        }
    }
    Ok(out)
}

/// Boxes records into a partition.
pub(crate) fn boxed<T: Send + 'static>(records: Vec<T>) -> Batch {
    Box::new(records)
}

/// Partitions that come from outside the graph.
pub(crate) trait PartitionSource: Send + Sync {
    /// The records of partition `p`.
    fn compute(&self, p: usize) -> Result<Batch>;

    /// Partition `p` shared, for readers that only look at it; sources that hold their
    /// partitions in memory hand them out without copying.
    fn compute_shared(&self, p: usize, ops: &TypeOps) -> Result<SharedBatch> {
        (ops.share)(self.compute(p)?)
    }
}

/// A node of the lineage graph: one RDD.
pub(crate) struct Node {
    pub id: u64,
    pub name: Cow<'static, str>,
    pub partitions: usize,
    pub partitioner: Option<PartitionerTag>,
    pub ops: TypeOps,
    pub op: Op,
    pub persisted: AtomicBool,
    pub env: Arc<Env>,
}

/// The four primitives; see the module docs.
pub(crate) enum Op {
    Source(Arc<dyn PartitionSource>),
    Narrow { parent: Arc<Node>, f: NarrowFn },
    Union { parents: Vec<Arc<Node>> },
    CoPartition { deps: Vec<Dep>, f: ZipFn },
}

/// How an output partition of [`Op::CoPartition`] depends on one input.
pub(crate) enum Dep {
    /// Partition `p` of the parent, which is partitioned like the output.
    OneToOne(Arc<Node>),
    /// Bucket `p` of every map partition of a shuffle.
    Shuffle(Arc<ShuffleDep>),
}

/// A keyed exchange: each partition of `parent` is split into `partitions` buckets by
/// `write` (which may combine records on the way), and output partition `p` reads bucket
/// `p` of every parent partition.
pub(crate) struct ShuffleDep {
    pub id: u64,
    pub parent: Arc<Node>,
    pub partitions: usize,
    pub write: WriteFn,
    pub bucket_ops: TypeOps,
    pub env: Arc<Env>,
}

impl Drop for ShuffleDep {
    fn drop(&mut self) {
        self.env.store.remove_shuffle(self.id);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.persisted.load(Ordering::Relaxed) {
            self.env.store.remove_rdd(self.id);
        }
    }
}

impl Node {
    pub fn new(
        env: &Arc<Env>,
        name: impl Into<Cow<'static, str>>,
        partitions: usize,
        partitioner: Option<PartitionerTag>,
        ops: TypeOps,
        op: Op,
    ) -> Arc<Node> {
        Arc::new(Node {
            id: env.next_id(),
            name: name.into(),
            partitions,
            partitioner,
            ops,
            op,
            persisted: AtomicBool::new(false),
            env: Arc::clone(env),
        })
    }

    pub fn is_persisted(&self) -> bool {
        self.persisted.load(Ordering::Relaxed)
    }

    /// The worker that owns partition `p` of this node when `workers` workers run the
    /// program: sources and co-partitioned nodes place partition `p` on worker `p mod W`;
    /// narrow nodes and unions compute where their input partition lives.
    pub fn owner(&self, p: usize, workers: usize) -> usize {
        if workers <= 1 {
            return 0;
        }
        match &self.op {
            Op::Narrow { parent, .. } => parent.owner(p, workers),
            Op::Union { parents } => {
                let mut local = p;
                for parent in parents {
                    if local < parent.partitions {
                        return parent.owner(local, workers);
                    }
                    local -= parent.partitions;
                }
                crate::runtime::owner_of(p, workers)
            }
            Op::Source(_) | Op::CoPartition { .. } => crate::runtime::owner_of(p, workers),
        }
    }

    /// `"rdd 12 (reduce_by_key)"`, for logs and errors.
    pub fn describe(&self) -> String {
        format!("rdd {} ({})", self.id, self.name)
    }

    /// The nodes this node reads directly, with `true` for a shuffle edge.
    pub fn parents(&self) -> Vec<(Arc<Node>, bool)> {
        match &self.op {
            Op::Source(_) => Vec::new(),
            Op::Narrow { parent, .. } => vec![(Arc::clone(parent), false)],
            Op::Union { parents } => parents.iter().map(|p| (Arc::clone(p), false)).collect(),
            Op::CoPartition { deps, .. } => deps
                .iter()
                .map(|d| match d {
                    Dep::OneToOne(n) => (Arc::clone(n), false),
                    Dep::Shuffle(s) => (Arc::clone(&s.parent), true),
                })
                .collect(),
        }
    }

    /// An indented lineage listing, like Spark's `toDebugString`.
    pub fn lineage(&self) -> String {
        let mut out = String::new();
        self.lineage_into(&mut out, 0, false);
        out
    }

    fn lineage_into(&self, out: &mut String, depth: usize, shuffle: bool) {
        use std::fmt::Write;
        let marker = if shuffle { "+-(shuffle) " } else { "" };
        let cached = if self.is_persisted() { " [cached]" } else { "" };
        let _ = writeln!(
            out,
            "{:indent$}{marker}({}) {}{cached}",
            "",
            self.partitions,
            self.describe(),
            indent = depth * 2
        );
        for (parent, is_shuffle) in self.parents() {
            parent.lineage_into(out, depth + 1, is_shuffle);
        }
    }
}

/// A source of fixed, in-memory partitions (a parallelized collection, a stream batch, a
/// materialized result). Each compute clones the partition: the source stays intact so that
/// a failed task can be retried. A partition is `None` on a worker that does not own it (a
/// stream batch or a materialized result is held only by its owners).
pub(crate) struct MemorySource {
    pub parts: Vec<Option<SharedBatch>>,
    pub ops: TypeOps,
}

impl MemorySource {
    fn part(&self, p: usize) -> Result<&SharedBatch> {
        match self.parts.get(p) {
            Some(Some(part)) => Ok(part),
            Some(None) => Err(Error::internal(format!(
                "partition {p} is held by another worker; a task read it on the wrong worker"
            ))),
            None => Err(Error::internal(format!("partition {p} out of range"))),
        }
    }
}

impl PartitionSource for MemorySource {
    fn compute(&self, p: usize) -> Result<Batch> {
        (self.ops.clone_shared)(self.part(p)?)
    }

    fn compute_shared(&self, p: usize, _ops: &TypeOps) -> Result<SharedBatch> {
        self.part(p).cloned()
    }
}

//! The stream graph: one node per DStream, each producing an RDD per batch time.
//!
//! A node's `compute(t)` builds the RDD of batch `t` from its parents' RDDs of the same or
//! earlier batches. Results are memoized per batch, so a DStream read by two output
//! operations or by a window is planned once. Nodes remember their RDDs for as long as a
//! downstream window needs them and forget them afterwards, which keeps memory bounded.

use crate::data::Data;
use crate::error::Result;
use crate::rdd::Rdd;
use crate::storage::lock;
use crate::time::BatchTime;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Values every node of one context shares.
pub(crate) struct GraphShared {
    /// The context's zero time: batch times are `zero + k·interval`.
    pub zero_ms: AtomicU64,
    /// Set for the last batch after every source is exhausted.
    final_flush: AtomicBool,
    next_node: AtomicUsize,
}

impl GraphShared {
    pub fn new() -> GraphShared {
        GraphShared {
            zero_ms: AtomicU64::new(0),
            final_flush: AtomicBool::new(false),
            next_node: AtomicUsize::new(0),
        }
    }

    pub fn zero(&self) -> u64 {
        self.zero_ms.load(Ordering::Relaxed)
    }

    pub fn is_final_flush(&self) -> bool {
        self.final_flush.load(Ordering::Relaxed)
    }

    pub fn set_final_flush(&self) {
        self.final_flush.store(true, Ordering::Relaxed);
    }
}

/// Type-erased view of a node, for walking the graph.
pub(crate) trait AnyNode: Send + Sync {
    fn meta(&self) -> &NodeMeta;

    /// Forgets RDDs of batches older than `t - remember`.
    fn forget_old(&self, t: BatchTime);

    /// After batch `t`: a node whose RDDs later batches will read (a window's input) has
    /// its RDD of `t` computed now and frozen in memory, cutting its lineage, so its
    /// ancestors need not remember anything and a window holds only its own panes.
    fn freeze(&self, t: BatchTime) -> Result<()>;

    /// The frozen RDDs later batches will read (window panes), for a checkpoint.
    fn snapshot_panes(&self) -> Result<Vec<super::checkpoint::Pane>>;

    /// Restores frozen RDDs from a checkpoint.
    fn restore_panes(
        &self,
        sc: &crate::SpateContext,
        panes: Vec<super::checkpoint::Pane>,
    ) -> Result<()>;

    /// Hooks of stateful nodes, if this is one.
    fn stateful(&self) -> Option<&dyn StatefulNode> {
        None
    }

    /// The name of the node's record type, checked against checkpoints.
    fn record_type(&self) -> &'static str;
}

/// Extra behaviour of nodes that keep state across batches.
pub(crate) trait StatefulNode: Send + Sync {
    /// Called after every output operation of batch `t` succeeded: make the batch's state
    /// changes the new base state.
    fn commit(&self, t: BatchTime) -> Result<()>;

    /// Entries held, for metrics.
    fn state_size(&self) -> usize;

    /// Called once before the first batch (e.g. to load an initial state).
    fn on_start(&self) -> Result<()> {
        Ok(())
    }

    /// How many state partitions the operator has.
    fn partitions(&self) -> usize;

    /// Partition `p`'s committed state, frozen for a checkpoint that serializes it later.
    fn freeze_partition(&self, p: usize) -> Result<super::state::FrozenState>;

    /// Replaces the state of the given partitions from a checkpoint, decoding them on
    /// `runtime`'s threads.
    fn restore_partitions(
        &self,
        parts: Vec<(usize, Vec<u8>)>,
        runtime: &dyn crate::runtime::Runtime,
    ) -> Result<()>;

    /// Operator state that is not partitioned (a watermark), the same on every worker after
    /// a commit: written once per checkpoint.
    fn snapshot_shared(&self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    /// Restores what [`snapshot_shared`](StatefulNode::snapshot_shared) wrote.
    fn restore_shared(&self, bytes: &[u8]) -> Result<()> {
        let _ = bytes;
        Ok(())
    }

    /// Records the last committed batch found behind the watermark.
    fn late_records(&self) -> u64 {
        0
    }

    /// The name of the operator's state type, checked against checkpoints.
    fn state_type(&self) -> &'static str;

    /// Whether the operator needs a final batch with the watermark at +∞ when every source
    /// is exhausted (event-time operators, to emit their last windows).
    fn needs_final_flush(&self) -> bool {
        false
    }

    /// With several workers, before [`commit`](StatefulNode::commit): what this worker's
    /// tasks of batch `t` observed that every worker needs to commit alike (event-time
    /// operators: the largest event times and late counts of their partitions), encoded.
    fn batch_observations(&self, t: BatchTime) -> Result<Vec<u8>> {
        let _ = t;
        Ok(Vec::new())
    }

    /// Takes in another worker's [`batch_observations`](StatefulNode::batch_observations).
    fn absorb_observations(&self, t: BatchTime, bytes: &[u8]) -> Result<()> {
        let _ = (t, bytes);
        Ok(())
    }
}

/// What every node has, whatever its record type.
pub(crate) struct NodeMeta {
    pub id: usize,
    pub name: &'static str,
    /// The node's interval: it produces an RDD at `zero + k·slide`.
    pub slide_ms: u64,
    pub parents: Vec<Arc<dyn AnyNode>>,
    pub shared: Arc<GraphShared>,
    /// How long generated RDDs are kept, beyond the current batch.
    remember_ms: AtomicU64,
    /// Whether generated RDDs are cached (they are read by several batches).
    persist: AtomicBool,
    /// A description of the node's parameters, part of the graph fingerprint.
    pub params: String,
}

impl NodeMeta {
    pub fn remember_ms(&self) -> u64 {
        self.remember_ms.load(Ordering::Relaxed)
    }

    /// Keeps this node's RDDs for at least `ms` and has them cached; the parents then must
    /// keep theirs for as long, since a recomputation may need them.
    pub fn require_remember(&self, ms: u64) {
        self.remember_ms.fetch_max(ms, Ordering::Relaxed);
        self.persist.store(true, Ordering::Relaxed);
    }

    pub fn is_valid_time(&self, t: BatchTime) -> bool {
        let zero = self.shared.zero();
        t.0 > zero && (t.0 - zero).is_multiple_of(self.slide_ms)
    }
}

type ComputeFn<T> = Box<dyn Fn(BatchTime) -> Result<Option<Rdd<T>>> + Send + Sync>;

/// A DStream's node: how to compute its RDD for a batch, and the RDDs it remembers.
pub(crate) struct StreamNode<T> {
    meta: NodeMeta,
    compute: ComputeFn<T>,
    generated: Mutex<BTreeMap<BatchTime, Option<Rdd<T>>>>,
    stateful: Option<Arc<dyn StatefulNode>>,
}

impl<T: Data> StreamNode<T> {
    pub fn new(
        shared: &Arc<GraphShared>,
        name: &'static str,
        slide_ms: u64,
        parents: Vec<Arc<dyn AnyNode>>,
        params: String,
        compute: impl Fn(BatchTime) -> Result<Option<Rdd<T>>> + Send + Sync + 'static,
    ) -> Arc<StreamNode<T>> {
        Self::with_state(shared, name, slide_ms, parents, params, None, compute)
    }

    pub fn with_state(
        shared: &Arc<GraphShared>,
        name: &'static str,
        slide_ms: u64,
        parents: Vec<Arc<dyn AnyNode>>,
        params: String,
        stateful: Option<Arc<dyn StatefulNode>>,
        compute: impl Fn(BatchTime) -> Result<Option<Rdd<T>>> + Send + Sync + 'static,
    ) -> Arc<StreamNode<T>> {
        Arc::new(StreamNode {
            meta: NodeMeta {
                id: shared.next_node.fetch_add(1, Ordering::Relaxed),
                name,
                slide_ms,
                parents,
                shared: Arc::clone(shared),
                remember_ms: AtomicU64::new(0),
                persist: AtomicBool::new(stateful.is_some()),
                params,
            },
            compute: Box::new(compute),
            generated: Mutex::new(BTreeMap::new()),
            stateful,
        })
    }

    /// The RDD of batch `t`, computed once per batch; `None` if the node produces nothing
    /// at `t` (for example a window between two slides).
    pub fn get_or_compute(&self, t: BatchTime) -> Result<Option<Rdd<T>>> {
        if !self.meta.is_valid_time(t) {
            return Ok(None);
        }
        if let Some(found) = lock(&self.generated).get(&t) {
            return Ok(found.clone());
        }
        let rdd = (self.compute)(t)?;
        if let Some(rdd) = &rdd
            && self.meta.persist.load(Ordering::Relaxed)
        {
            let _ = rdd.persist();
        }
        lock(&self.generated).insert(t, rdd.clone());
        Ok(rdd)
    }

    /// Replaces the remembered RDD of batch `t` (e.g. by its materialized form).
    pub fn replace_generated(&self, t: BatchTime, rdd: Rdd<T>) {
        lock(&self.generated).insert(t, Some(rdd));
    }

    /// The remembered RDDs, oldest first.
    pub fn generated(&self) -> Vec<(BatchTime, Rdd<T>)> {
        lock(&self.generated)
            .iter()
            .filter_map(|(t, r)| r.clone().map(|r| (*t, r)))
            .collect()
    }
}

impl<T: Data> AnyNode for StreamNode<T> {
    fn meta(&self) -> &NodeMeta {
        &self.meta
    }

    fn forget_old(&self, t: BatchTime) {
        let remember = self.meta.remember_ms();
        let mut generated = lock(&self.generated);
        let old: Vec<BatchTime> = generated
            .keys()
            .copied()
            .filter(|time| time.0.saturating_add(remember) <= t.0)
            .collect();
        for time in old {
            if let Some(Some(rdd)) = generated.remove(&time) {
                rdd.unpersist();
            }
        }
    }

    fn freeze(&self, t: BatchTime) -> Result<()> {
        if self.meta.remember_ms() == 0 || self.stateful.is_some() {
            return Ok(());
        }
        if let Some(rdd) = self.get_or_compute(t)?
            && rdd.name() != "materialized"
        {
            self.replace_generated(t, rdd.materialize()?);
        }
        Ok(())
    }

    fn snapshot_panes(&self) -> Result<Vec<super::checkpoint::Pane>> {
        if self.meta.remember_ms() == 0 {
            return Ok(Vec::new());
        }
        self.generated()
            .into_iter()
            .map(|(t, rdd)| {
                let all: Vec<usize> = (0..rdd.num_partitions()).collect();
                let ops = rdd.node.ops;
                // Each worker saves the partitions it holds (a frozen pane's, or a cached
                // stateful RDD's); computing them involves no other worker.
                let parts = crate::scheduler::run_local(&rdd.node, &all, |_, shared| {
                    (ops.encode_shared)(shared)
                })?;
                Ok(super::checkpoint::Pane {
                    time: t.0,
                    hash_partitions: match rdd.node.partitioner {
                        Some(crate::partitioner::PartitionerTag::Hash(n)) => Some(n),
                        _ => None,
                    },
                    partitions: rdd.num_partitions(),
                    parts: parts
                        .into_iter()
                        .map(|(p, bytes)| (p, serde_bytes::ByteBuf::from(bytes)))
                        .collect(),
                })
            })
            .collect()
    }

    fn restore_panes(
        &self,
        sc: &crate::SpateContext,
        panes: Vec<super::checkpoint::Pane>,
    ) -> Result<()> {
        let ops = crate::plan::TypeOps::of::<T>();
        let mut generated = lock(&self.generated);
        for pane in panes {
            let mut parts: Vec<Option<crate::plan::SharedBatch>> = vec![None; pane.partitions];
            for (p, bytes) in pane.parts {
                let slot = parts
                    .get_mut(p)
                    .ok_or_else(|| crate::Error::Serialization {
                        what: format!("window pane of `{}`", self.meta.name),
                        message: format!("partition {p} of {}", pane.partitions),
                    })?;
                let batch = (ops.decode)(&bytes).map_err(|e| crate::Error::Serialization {
                    what: format!("window pane of `{}`", self.meta.name),
                    message: e.to_string(),
                })?;
                *slot = Some((ops.share)(batch)?);
            }
            let tag = pane
                .hash_partitions
                .map(crate::partitioner::PartitionerTag::Hash);
            let rdd = sc.placed_partitions_rdd::<T>("materialized", parts, tag);
            generated.insert(BatchTime(pane.time), Some(rdd));
        }
        Ok(())
    }

    fn stateful(&self) -> Option<&dyn StatefulNode> {
        self.stateful.as_deref()
    }

    fn record_type(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

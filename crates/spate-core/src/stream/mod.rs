//! [`DStream`]: a stream of micro-batch RDDs, and the [`StreamingContext`] that runs it.
//!
//! A DStream is a node of the stream graph. For every batch time it produces an RDD built
//! from its parents' RDDs, so everything an RDD can do per batch a DStream can do per batch
//! (see [`DStream::transform`]). On top of that come windows over several batches
//! ([`DStream::window`], [`DStream::reduce_by_key_and_window`] …) and state carried across
//! batches ([`DStream::update_state_by_key`], [`DStream::map_with_state`]).
//!
//! Operators that combine two streams, or that window a stream, check their inputs when the
//! graph is built and return a typed error (for instance a window that is not a multiple of
//! the batch interval), before any data flows.

mod backpressure;
mod checkpoint;
mod clock;
mod context;
mod distributed;
mod event_time;
mod managed;
mod metrics;
mod node;
mod output;
mod source;
mod state;
mod window;

pub use backpressure::{Backpressure, PidRateEstimator};
pub use checkpoint::CheckpointConfig;
pub use clock::{Clock, FastForwardClock, ManualClock, SystemClock};
pub use context::{StreamingContext, StreamingContextBuilder};
pub use event_time::{
    EmitMode, EventTime, EventTimeStream, EventWindowed, EventWindows, IntervalJoined, JoinKind,
    LateData, WindowResult,
};
pub use managed::ManagedState;
pub use metrics::{BatchInfo, StreamingListener};
pub use output::batch_path;
pub use source::{
    PartedBatch, QueueHandle, QueueSource, ReplaySource, Source, SourceBatch, SourceOffset,
};
pub use state::{MapWithStateStream, State, StateSpec};

use crate::data::{Data, Key, Merge};
use crate::error::{Error, Result};
use crate::rdd::Rdd;
use crate::time::BatchTime;
use node::{AnyNode, StreamNode};
use std::sync::Arc;
use std::time::Duration;

/// A stream of RDDs, one per batch interval (or per slide, for windowed streams).
///
/// A cheap handle: cloning shares the node. Transformations add nodes to the context's
/// graph; nothing runs until an output operation is registered and the context started.
#[must_use = "lazy: nothing runs until an output operation is registered and the context started"]
pub struct DStream<T> {
    pub(crate) node: Arc<StreamNode<T>>,
    pub(crate) ssc: StreamingContext,
}

impl<T> Clone for DStream<T> {
    fn clone(&self) -> Self {
        DStream {
            node: Arc::clone(&self.node),
            ssc: self.ssc.clone(),
        }
    }
}

impl<T: Data> std::fmt::Debug for DStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let meta = self.node_meta();
        write!(
            f,
            "DStream({} #{}, every {} ms)",
            meta.name, meta.id, meta.slide_ms
        )
    }
}

impl<T: Data> DStream<T> {
    pub(crate) fn node_meta(&self) -> &node::NodeMeta {
        AnyNode::meta(&*self.node)
    }

    pub(crate) fn any_node(&self) -> Arc<dyn AnyNode> {
        Arc::clone(&self.node) as Arc<dyn AnyNode>
    }

    pub(crate) fn slide_ms(&self) -> u64 {
        self.node_meta().slide_ms
    }

    /// The streaming context this stream belongs to.
    pub fn context(&self) -> &StreamingContext {
        &self.ssc
    }

    /// How often this stream produces an RDD: the batch interval, or the window's slide.
    pub fn slide_duration(&self) -> Duration {
        Duration::from_millis(self.slide_ms())
    }

    /// The RDD of batch `time`, computing it if needed; `None` between slides. Meant for
    /// output operations and tests; transformations should use [`transform`](Self::transform).
    pub fn rdd_at(&self, time: BatchTime) -> Result<Option<Rdd<T>>> {
        self.node.get_or_compute(time)
    }

    /// A child node computing, per batch, an RDD from this stream's RDD.
    pub(crate) fn derive<U: Data>(
        &self,
        name: &'static str,
        params: String,
        f: impl Fn(&Rdd<T>, BatchTime) -> Result<Rdd<U>> + Send + Sync + 'static,
    ) -> DStream<U> {
        let parent = Arc::clone(&self.node);
        let node = StreamNode::new(
            self.ssc.shared(),
            name,
            self.slide_ms(),
            vec![self.any_node()],
            params,
            move |t| match parent.get_or_compute(t)? {
                Some(rdd) => Ok(Some(f(&rdd, t)?)),
                None => Ok(None),
            },
        );
        self.ssc.register(node)
    }

    /// A child node computing, per batch, an RDD from this stream's and `other`'s RDDs.
    pub(crate) fn derive2<U: Data, R: Data>(
        &self,
        name: &'static str,
        other: &DStream<U>,
        f: impl Fn(&Rdd<T>, &Rdd<U>, BatchTime) -> Result<Rdd<R>> + Send + Sync + 'static,
    ) -> Result<DStream<R>> {
        self.check_compatible(name, other)?;
        let left = Arc::clone(&self.node);
        let right = Arc::clone(&other.node);
        let sc = self.ssc.spate_context().clone();
        let node = StreamNode::new(
            self.ssc.shared(),
            name,
            self.slide_ms(),
            vec![self.any_node(), other.any_node()],
            String::new(),
            move |t| {
                let l = left.get_or_compute(t)?.unwrap_or_else(|| sc.empty());
                let r = right.get_or_compute(t)?.unwrap_or_else(|| sc.empty());
                Ok(Some(f(&l, &r, t)?))
            },
        );
        Ok(self.ssc.register(node))
    }

    pub(crate) fn check_compatible<U: Data>(
        &self,
        operator: &'static str,
        other: &DStream<U>,
    ) -> Result<()> {
        if !Arc::ptr_eq(&self.ssc.inner, &other.ssc.inner) {
            return Err(Error::ContextMismatch { operator });
        }
        if self.slide_ms() != other.slide_ms() {
            return Err(Error::IntervalMismatch {
                operator,
                left: self.slide_duration(),
                right: other.slide_duration(),
            });
        }
        Ok(())
    }

    // ---------------------------------------------------------------- per-batch operators

    /// Applies `f` to every record.
    pub fn map<U: Data>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> DStream<U> {
        let f = Arc::new(f);
        self.derive("map", String::new(), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.map(move |x| f(x)))
        })
    }

    /// Replaces every record by the records `f` returns for it.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(T) -> I + Send + Sync + 'static,
    ) -> DStream<U> {
        let f = Arc::new(f);
        self.derive("flat_map", String::new(), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.flat_map(move |x| f(x)))
        })
    }

    /// Keeps the records for which `f` is true.
    pub fn filter(&self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> DStream<T> {
        let f = Arc::new(f);
        self.derive("filter", String::new(), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.filter(move |x| f(x)))
        })
    }

    /// Transforms whole partitions of every batch (the batch-at-a-time escape hatch).
    pub fn map_partitions<U: Data>(
        &self,
        f: impl Fn(Vec<T>) -> Vec<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        let f = Arc::new(f);
        self.derive("map_partitions", String::new(), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.map_partitions(move |p| f(p)))
        })
    }

    /// Like [`map_partitions`](DStream::map_partitions), reading each partition by
    /// reference: a batch's partitions (held in memory while the batch is remembered) are
    /// not copied, so summarizing a batch costs no per-record clone.
    pub fn map_partitions_ref<U: Data>(
        &self,
        f: impl Fn(&[T]) -> Vec<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        let f = Arc::new(f);
        self.derive("map_partitions_ref", String::new(), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.map_partitions_ref(move |p| f(p)))
        })
    }

    /// Each partition of every batch as one `Vec` record.
    pub fn glom(&self) -> DStream<Vec<T>> {
        self.derive("glom", String::new(), |rdd, _| Ok(rdd.glom()))
    }

    /// Redistributes every batch evenly over `partitions` partitions.
    pub fn repartition(&self, partitions: usize) -> DStream<T> {
        self.derive("repartition", format!("{partitions}"), move |rdd, _| {
            Ok(rdd.repartition(partitions))
        })
    }

    /// The records of both streams, batch by batch.
    pub fn union(&self, other: &DStream<T>) -> Result<DStream<T>> {
        self.derive2("union", other, |a, b, _| Ok(a.union(b)))
    }

    /// One record per batch: the number of records in the batch (0 for an empty batch).
    pub fn count(&self) -> DStream<u64> {
        self.derive("count", String::new(), |rdd, _| {
            Ok(rdd.global_combine(|records: &[T]| Some(records.len() as u64), |a, b| a + b))
        })
    }

    /// At most one record per batch: all records combined with `f`; nothing for an empty
    /// batch.
    pub fn reduce(&self, f: impl Fn(T, T) -> T + Send + Sync + 'static) -> DStream<T> {
        let f = Arc::new(f);
        self.derive("reduce", String::new(), move |rdd, _| {
            let (f1, f2) = (Arc::clone(&f), Arc::clone(&f));
            Ok(rdd.global_combine_owned(
                move |records| records.into_iter().reduce(|a, b| f1(a, b)),
                move |a, b| f2(a, b),
            ))
        })
    }

    /// Per batch, one summary merged from per-partition summaries: `summarize` runs on
    /// every partition (in parallel), the results are merged with [`Merge`]. The building
    /// block for online models and statistics: partition-map plus global combine.
    pub fn summarize<S: Data + Merge>(
        &self,
        summarize: impl Fn(&[T]) -> S + Send + Sync + 'static,
    ) -> DStream<S> {
        let f = Arc::new(summarize);
        self.derive("summarize", String::new(), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.global_combine(
                move |records: &[T]| Some(f(records)),
                |mut a: S, b: S| {
                    a.merge(&b);
                    a
                },
            ))
        })
    }

    /// Applies an arbitrary RDD-to-RDD function to every batch.
    pub fn transform<U: Data>(
        &self,
        f: impl Fn(&Rdd<T>, BatchTime) -> Rdd<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        self.derive("transform", String::new(), move |rdd, t| Ok(f(rdd, t)))
    }

    /// Like [`transform`](Self::transform) with a fallible function (for example one that
    /// sorts, which runs a sampling job); an error fails the batch.
    pub fn try_transform<U: Data>(
        &self,
        f: impl Fn(&Rdd<T>, BatchTime) -> Result<Rdd<U>> + Send + Sync + 'static,
    ) -> DStream<U> {
        self.derive("transform", String::new(), f)
    }

    /// Applies a function of both streams' RDDs to every batch.
    pub fn transform_with<U: Data, R: Data>(
        &self,
        other: &DStream<U>,
        f: impl Fn(&Rdd<T>, &Rdd<U>, BatchTime) -> Rdd<R> + Send + Sync + 'static,
    ) -> Result<DStream<R>> {
        self.derive2("transform_with", other, move |a, b, t| Ok(f(a, b, t)))
    }

    /// Keeps every batch's RDD cached while it is remembered (useful when several outputs
    /// read the stream).
    pub fn persist(&self) -> DStream<T> {
        self.node_meta().require_remember(0);
        self.clone()
    }

    /// Same as [`persist`](Self::persist).
    pub fn cache(&self) -> DStream<T> {
        self.persist()
    }
}

impl<T: Key> DStream<T> {
    /// Per batch, how many times each distinct record occurs.
    pub fn count_by_value(&self) -> DStream<(T, u64)> {
        self.map(|r| (r, 1_u64)).reduce_by_key(|a, b| a + b)
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Applies `f` to every value.
    pub fn map_values<U: Data>(
        &self,
        f: impl Fn(V) -> U + Send + Sync + 'static,
    ) -> DStream<(K, U)> {
        let f = Arc::new(f);
        self.derive("map_values", String::new(), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.map_values(move |v| f(v)))
        })
    }

    /// Replaces every value by the values `f` returns for it.
    pub fn flat_map_values<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> DStream<(K, U)> {
        let f = Arc::new(f);
        self.derive("flat_map_values", String::new(), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.flat_map_values(move |v| f(v)))
        })
    }

    /// Per batch, the values of each key merged with `f`, into the context's default number
    /// of partitions.
    pub fn reduce_by_key(&self, f: impl Fn(V, V) -> V + Send + Sync + 'static) -> DStream<(K, V)> {
        let partitions = self.ssc.default_partitions();
        self.reduce_by_key_into(f, partitions)
    }

    /// Per batch, the values of each key merged with `f`, into `partitions` partitions.
    pub fn reduce_by_key_into(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        partitions: usize,
    ) -> DStream<(K, V)> {
        let f = Arc::new(f);
        self.derive("reduce_by_key", format!("{partitions}"), move |rdd, _| {
            let f = Arc::clone(&f);
            Ok(rdd.reduce_by_key_into(move |a, b| f(a, b), partitions))
        })
    }

    /// Per batch, the values of each key merged with their [`Merge`] implementation.
    pub fn merge_by_key(&self) -> DStream<(K, V)>
    where
        V: Merge,
    {
        self.reduce_by_key(|mut a, b| {
            a.merge(&b);
            a
        })
    }

    /// Per batch, Spark's `combineByKey` (see [`Rdd::combine_by_key`]).
    pub fn combine_by_key<C: Data>(
        &self,
        create: impl Fn(V) -> C + Send + Sync + 'static,
        merge_value: impl Fn(&mut C, V) + Send + Sync + 'static,
        merge_combiners: impl Fn(&mut C, C) + Send + Sync + 'static,
    ) -> DStream<(K, C)> {
        let partitions = self.ssc.default_partitions();
        let (create, merge_value, merge_combiners) = (
            Arc::new(create),
            Arc::new(merge_value),
            Arc::new(merge_combiners),
        );
        self.derive("combine_by_key", format!("{partitions}"), move |rdd, _| {
            let (c, mv, mc) = (
                Arc::clone(&create),
                Arc::clone(&merge_value),
                Arc::clone(&merge_combiners),
            );
            Ok(rdd.combine_by_key(
                move |v| c(v),
                move |acc, v| mv(acc, v),
                move |acc, o| mc(acc, o),
                crate::HashPartitioner::new(partitions),
            ))
        })
    }

    /// Per batch, all values of each key.
    pub fn group_by_key(&self) -> DStream<(K, Vec<V>)> {
        self.derive("group_by_key", String::new(), |rdd, _| {
            Ok(rdd.group_by_key())
        })
    }

    /// Per batch, the inner join with `other`'s batch of the same time.
    pub fn join<W: Data>(&self, other: &DStream<(K, W)>) -> Result<DStream<(K, (V, W))>> {
        self.derive2("join", other, |a, b, _| Ok(a.join(b)))
    }

    /// Per batch, the left outer join with `other`'s batch of the same time.
    pub fn left_outer_join<W: Data>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (V, Option<W>))>> {
        self.derive2("left_outer_join", other, |a, b, _| Ok(a.left_outer_join(b)))
    }

    /// Per batch, the right outer join with `other`'s batch of the same time.
    pub fn right_outer_join<W: Data>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Option<V>, W))>> {
        self.derive2("right_outer_join", other, |a, b, _| {
            Ok(a.right_outer_join(b))
        })
    }

    /// Per batch, the full outer join with `other`'s batch of the same time.
    pub fn full_outer_join<W: Data>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Option<V>, Option<W>))>> {
        self.derive2("full_outer_join", other, |a, b, _| Ok(a.full_outer_join(b)))
    }

    /// Per batch, the values of each key in both streams.
    pub fn cogroup<W: Data>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Vec<V>, Vec<W>))>> {
        self.derive2("cogroup", other, |a, b, _| Ok(a.cogroup(b)))
    }
}

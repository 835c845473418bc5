//! State carried across batches: the keyed-state primitive and the operators built on it
//! (`update_state_by_key`, `map_with_state`, and incremental windows in `window.rs`).
//!
//! # The keyed-state primitive
//!
//! A [`StateStore`] holds one partition of state per output partition, keyed by the same
//! hash partitioner as the operator's input, so the batch's records reach their state
//! without a second shuffle. A task for partition `p` of batch `t` reads the committed
//! state and the batch's records and returns its output records together with a *delta*;
//! the delta is held as pending, and only when every output operation of batch `t` has
//! succeeded are all deltas applied ("keyed state folded at batch end"). Hence:
//!
//! - a failed or retried task recomputes from the same committed state: no double counting;
//! - a failed batch leaves the state as it was after the previous batch;
//! - after the fold, a checkpoint sees a consistent state for one batch time.
//!
//! Each partition's committed state sits behind an `Arc`, so a checkpoint *freezes* it by
//! cloning the pointer (O(partitions), whatever the state's size) and serializes it on its
//! own thread while later batches run. A fold finding its partition still held by such a
//! snapshot applies the delta to a copy ([`PartState::apply_shared`]); the checkpoint
//! thread lets go of each partition as soon as it has serialized it, so copies are rare.

use super::DStream;
use super::node::{StatefulNode, StreamNode};
use crate::data::{Data, Key};
use crate::error::{Error, Result};
use crate::partitioner::HashPartitioner;
use crate::plan::{Node, Op, SharedBatch, TypeOps, ZipFn, boxed, take_all, take_shared};
use crate::rdd::Rdd;
use crate::runtime::{Runtime, run_collect};
use crate::storage::lock;
use crate::time::{BatchTime, whole_millis};
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

/// One partition of an operator's state, and how a batch's changes are applied to it.
pub(crate) trait PartState:
    Default + Clone + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// The changes one batch makes to the partition.
    type Delta: Send + 'static;

    /// Folds a batch's changes into the committed state.
    fn apply(&mut self, delta: Self::Delta);

    /// Folds a batch's changes into a committed state that a checkpoint may still hold: in
    /// place when nothing else holds it, on a copy otherwise.
    fn apply_shared(state: &mut Arc<Self>, delta: Self::Delta) {
        Arc::make_mut(state).apply(delta);
    }

    /// Entries held, for metrics.
    fn len(&self) -> usize;
}

struct Slot<P: PartState> {
    /// Shared with a checkpoint being written, if one froze it.
    state: Arc<P>,
    pending: Option<(BatchTime, P::Delta)>,
    /// The last batch folded into `state`.
    committed: Option<BatchTime>,
}

/// Committed state plus the pending deltas of the batch in progress, one slot per partition.
pub(crate) struct StateStore<P: PartState> {
    slots: Vec<Mutex<Slot<P>>>,
}

impl<P: PartState> StateStore<P> {
    pub fn new(partitions: usize) -> StateStore<P> {
        StateStore {
            slots: (0..partitions.max(1))
                .map(|_| {
                    Mutex::new(Slot {
                        state: Arc::new(P::default()),
                        pending: None,
                        committed: None,
                    })
                })
                .collect(),
        }
    }

    pub fn partitions(&self) -> usize {
        self.slots.len()
    }

    /// Runs `f` on the committed state of partition `p` and records its delta as pending
    /// for batch `t` (replacing the delta of an earlier attempt).
    pub fn compute<R>(
        &self,
        p: usize,
        t: BatchTime,
        f: impl FnOnce(&P) -> (R, P::Delta),
    ) -> Result<R> {
        let slot = self
            .slots
            .get(p)
            .ok_or_else(|| Error::internal(format!("state partition {p} out of range")))?;
        let mut slot = lock(slot);
        if slot.committed.is_some_and(|c| c >= t) {
            // The state has moved past `t`: recomputing batch t now would apply it twice.
            return Err(Error::StateExpired { time: t });
        }
        let (out, delta) = f(&slot.state);
        slot.pending = Some((t, delta));
        Ok(out)
    }

    /// Reads partition `p` (committed state and the pending delta, if any).
    pub fn read<R>(
        &self,
        p: usize,
        f: impl FnOnce(&P, Option<&(BatchTime, P::Delta)>) -> R,
    ) -> Result<R> {
        let slot = self
            .slots
            .get(p)
            .ok_or_else(|| Error::internal(format!("state partition {p} out of range")))?;
        let slot = lock(slot);
        Ok(f(&slot.state, slot.pending.as_ref()))
    }

    /// Partitions without a pending delta for batch `t`.
    pub fn missing(&self, t: BatchTime) -> Vec<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| lock(s).pending.as_ref().is_none_or(|(pt, _)| *pt != t))
            .map(|(p, _)| p)
            .collect()
    }

    /// Applies every pending delta of batch `t`.
    pub fn commit(&self, t: BatchTime) {
        for slot in &self.slots {
            let mut slot = lock(slot);
            match slot.pending.take() {
                Some((pt, delta)) if pt == t => {
                    P::apply_shared(&mut slot.state, delta);
                    slot.committed = Some(t);
                }
                Some(other) => slot.pending = Some(other),
                None => {}
            }
        }
    }

    /// Replaces partition `p`'s committed state.
    pub fn set(&self, p: usize, state: P) {
        if let Some(slot) = self.slots.get(p) {
            let mut slot = lock(slot);
            slot.state = Arc::new(state);
            slot.pending = None;
        }
    }

    pub fn len(&self) -> usize {
        self.slots.iter().map(|s| lock(s).state.len()).sum()
    }

    /// Partition `p`'s committed state as it is now, to be serialized later on another
    /// thread: the fold of a later batch leaves it untouched.
    pub fn freeze(&self, p: usize) -> Result<FrozenState> {
        let slot = self
            .slots
            .get(p)
            .ok_or_else(|| Error::internal(format!("state partition {p} out of range")))?;
        let state = Arc::clone(&lock(slot).state);
        Ok(Box::new(move || {
            bincode::serialize(&*state).map_err(|e| Error::Serialization {
                what: "operator state".into(),
                message: e.to_string(),
            })
        }))
    }

    /// Replaces the committed state of the given partitions by their serialized form,
    /// decoding them in parallel on `runtime`'s threads.
    pub fn restore_partitions(
        &self,
        parts: Vec<(usize, Vec<u8>)>,
        runtime: &dyn Runtime,
    ) -> Result<()> {
        if let Some((p, _)) = parts.iter().find(|(p, _)| *p >= self.slots.len()) {
            return Err(Error::Serialization {
                what: "operator state".into(),
                message: format!(
                    "a checkpoint holds partition {p}, the operator has {}",
                    self.slots.len()
                ),
            });
        }
        let decoded = run_collect(runtime, parts.len(), |i| {
            let (p, bytes) = &parts[i];
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let state: P = bincode::deserialize(bytes).map_err(|e| Error::Serialization {
                    what: "operator state".into(),
                    message: e.to_string(),
                })?;
                self.set(*p, state);
                Ok(())
            }))
            .unwrap_or_else(|_| Err(Error::internal("state decoding panicked")))
        })?;
        decoded.into_iter().collect()
    }
}

/// A state partition frozen by a checkpoint: serializes it when called (on the checkpoint's
/// thread), and lets go of it then.
pub(crate) type FrozenState = Box<dyn FnOnce() -> Result<Vec<u8>> + Send>;

/// Connects a [`StateStore`] to the node whose tasks fill it.
pub(crate) struct StatefulOp<P: PartState, T> {
    pub store: Arc<StateStore<P>>,
    pub node: OnceLock<Weak<StreamNode<T>>>,
    pub on_start: Mutex<Option<Box<dyn FnOnce(&StateStore<P>) -> Result<()> + Send>>>,
}

impl<P: PartState, T: Data> StatefulOp<P, T> {
    pub fn new(store: Arc<StateStore<P>>) -> Arc<StatefulOp<P, T>> {
        Arc::new(StatefulOp {
            store,
            node: OnceLock::new(),
            on_start: Mutex::new(None),
        })
    }

    pub fn attach(&self, node: &Arc<StreamNode<T>>) {
        let _ = self.node.set(Arc::downgrade(node));
    }
}

impl<P: PartState, T: Data> StatefulNode for StatefulOp<P, T> {
    fn commit(&self, t: BatchTime) -> Result<()> {
        let Some(node) = self.node.get().and_then(Weak::upgrade) else {
            return Ok(());
        };
        let Some(rdd) = node.get_or_compute(t)? else {
            return Ok(());
        };
        let missing = self.store.missing(t);
        // Nothing downstream read these partitions this batch; compute them (each on its
        // owner) so the state still advances. With several workers every worker takes part,
        // as the computation may shuffle.
        if !missing.is_empty() || rdd.context().workers() > 1 {
            rdd.run_partitions_subset(&missing)?;
        }
        if super::node::AnyNode::meta(&*node).remember_ms() > 0 {
            // Later batches will read this batch's output after the fold: freeze it now so
            // it can never be recomputed against the new state.
            node.replace_generated(t, rdd.materialize()?);
        }
        self.store.commit(t);
        Ok(())
    }

    fn state_size(&self) -> usize {
        self.store.len()
    }

    fn on_start(&self) -> Result<()> {
        match lock(&self.on_start).take() {
            Some(load) => load(&self.store),
            None => Ok(()),
        }
    }

    fn partitions(&self) -> usize {
        self.store.partitions()
    }

    fn state_type(&self) -> &'static str {
        std::any::type_name::<P>()
    }

    fn freeze_partition(&self, p: usize) -> Result<FrozenState> {
        self.store.freeze(p)
    }

    fn restore_partitions(
        &self,
        parts: Vec<(usize, Vec<u8>)>,
        runtime: &dyn Runtime,
    ) -> Result<()> {
        self.store.restore_partitions(parts, runtime)
    }
}

/// What identifies a stateful operator: name, parameters (for the graph fingerprint), its
/// interval, its store and how to load an initial state.
pub(crate) struct StatefulParts<P: PartState> {
    pub name: &'static str,
    pub params: String,
    pub slide_ms: u64,
    pub store: Arc<StateStore<P>>,
    pub on_start: Option<Box<dyn FnOnce(&StateStore<P>) -> Result<()> + Send>>,
}

/// Builds the per-batch node of a stateful operator: partition `p` of batch `t` is
/// `task(store, p, t, inputs)` over the given dependencies, and the node is registered with
/// its store.
pub(crate) fn stateful_stream<P: PartState, In: Data, Out: Data>(
    input: &DStream<In>,
    op: StatefulParts<P>,
    deps: impl Fn(BatchTime) -> Result<Option<Vec<crate::plan::Dep>>> + Send + Sync + 'static,
    task: impl Fn(&StateStore<P>, usize, BatchTime, Vec<Vec<SharedBatch>>) -> Result<Vec<Out>>
    + Send
    + Sync
    + 'static,
) -> DStream<Out> {
    stateful_stream_with(input, op, |op| op as Arc<dyn StatefulNode>, deps, task)
}

/// [`stateful_stream`] whose commit hooks are `wrap(op)`, for operators that commit more
/// than their store (event-time operators also advance a watermark).
pub(crate) fn stateful_stream_with<P: PartState, In: Data, Out: Data>(
    input: &DStream<In>,
    op: StatefulParts<P>,
    wrap: impl FnOnce(Arc<StatefulOp<P, Out>>) -> Arc<dyn StatefulNode>,
    deps: impl Fn(BatchTime) -> Result<Option<Vec<crate::plan::Dep>>> + Send + Sync + 'static,
    task: impl Fn(&StateStore<P>, usize, BatchTime, Vec<Vec<SharedBatch>>) -> Result<Vec<Out>>
    + Send
    + Sync
    + 'static,
) -> DStream<Out> {
    let StatefulParts {
        name,
        params,
        slide_ms,
        store,
        on_start,
    } = op;
    let op = StatefulOp::<P, Out>::new(Arc::clone(&store));
    *lock(&op.on_start) = on_start;
    let sc = input.ssc.spate_context().clone();
    let task = Arc::new(task);
    let node = StreamNode::with_state(
        input.ssc.shared(),
        name,
        slide_ms,
        vec![input.any_node()],
        params,
        Some(wrap(Arc::clone(&op))),
        move |t| {
            let Some(deps) = deps(t)? else {
                return Ok(None);
            };
            let partitions = store.partitions();
            let store = Arc::clone(&store);
            let task = Arc::clone(&task);
            let zip: ZipFn = Arc::new(move |p, inputs| Ok(boxed(task(&store, p, t, inputs)?)));
            Ok(Some(Rdd::from_node(Node::new(
                &sc.env,
                name,
                partitions,
                None,
                TypeOps::of::<Out>(),
                Op::CoPartition { deps, f: zip },
            ))))
        },
    );
    op.attach(&node);
    input.ssc.register(node)
}

/// Serde helpers for state maps: a map is written as a sequence of pairs (bincode lays
/// both out the same way) and read back into a map allocated once at its exact size,
/// instead of growing and rehashing as serde's generic map reader does. Restoring 1M keys
/// is dominated by this.
pub(crate) mod exact_map {
    use rustc_hash::FxHashMap;
    use serde::de::{Deserialize, Deserializer};
    use serde::ser::{Serialize, Serializer};
    use std::hash::Hash;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &FxHashMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(deserializer: D) -> Result<FxHashMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        let pairs: Vec<(K, V)> = Vec::deserialize(deserializer)?;
        let mut map = FxHashMap::with_capacity_and_hasher(pairs.len(), Default::default());
        map.extend(pairs);
        Ok(map)
    }
}

// ------------------------------------------------------------------ update_state_by_key

/// State of `update_state_by_key`: the whole map is replaced every batch.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound = "K: Key, S: Data")]
pub(crate) struct FullState<K: Key, S: Data> {
    #[serde(with = "exact_map")]
    pub map: FxHashMap<K, S>,
}

impl<K: Key, S: Data> Default for FullState<K, S> {
    fn default() -> Self {
        FullState {
            map: FxHashMap::default(),
        }
    }
}

impl<K: Key, S: Data> PartState for FullState<K, S> {
    type Delta = FxHashMap<K, S>;

    fn apply(&mut self, delta: Self::Delta) {
        self.map = delta;
    }

    fn apply_shared(state: &mut Arc<Self>, delta: Self::Delta) {
        // The delta is the new map: a snapshot holding the old one costs no copy.
        *state = Arc::new(FullState { map: delta });
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Loads an initial state RDD into a store partitioned by `HashPartitioner(n)`.
fn load_initial<K: Key, S: Data, P: PartState>(
    initial: Rdd<(K, S)>,
    into: impl Fn(Vec<(K, S)>) -> P + Send + 'static,
) -> Box<dyn FnOnce(&StateStore<P>) -> Result<()> + Send> {
    Box::new(move |store: &StateStore<P>| {
        let sc = initial.context();
        let (me, workers) = (sc.worker(), sc.workers());
        let parts = initial
            .partition_by(HashPartitioner::new(store.partitions()))
            .collect_partitions()?;
        for (p, records) in parts.into_iter().enumerate() {
            if crate::runtime::owner_of(p, workers) == me {
                store.set(p, into(records));
            }
        }
        Ok(())
    })
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Keeps a state per key across batches (Spark's `updateStateByKey`): every batch,
    /// `update(new_values, previous_state)` is called for **every** key that has a state or
    /// new values; returning `None` removes the key. The stream holds the full state after
    /// each batch.
    ///
    /// Cost: O(state + batch) per batch, since every key is visited. For large states
    /// where most keys are idle prefer [`map_with_state`](Self::map_with_state), which
    /// costs O(batch) and supports timeouts.
    pub fn update_state_by_key<S: Data>(
        &self,
        update: impl Fn(&[V], Option<S>) -> Option<S> + Send + Sync + 'static,
    ) -> DStream<(K, S)> {
        self.update_state_by_key_with(update, self.ssc.default_partitions(), None)
    }

    /// [`update_state_by_key`](Self::update_state_by_key) with a partition count and an
    /// optional initial state.
    pub fn update_state_by_key_with<S: Data>(
        &self,
        update: impl Fn(&[V], Option<S>) -> Option<S> + Send + Sync + 'static,
        partitions: usize,
        initial: Option<Rdd<(K, S)>>,
    ) -> DStream<(K, S)> {
        let partitions = partitions.max(1);
        let store = Arc::new(StateStore::<FullState<K, S>>::new(partitions));
        let parent = Arc::clone(&self.node);
        let on_start = initial.map(|rdd| {
            load_initial(rdd, |records| FullState {
                map: records.into_iter().collect(),
            })
        });
        stateful_stream(
            self,
            StatefulParts {
                name: "update_state_by_key",
                params: format!("{partitions}"),
                slide_ms: self.slide_ms(),
                store,
                on_start,
            },
            move |t| {
                Ok(parent
                    .get_or_compute(t)?
                    .map(|rdd| vec![rdd.dep_for_hash(partitions)]))
            },
            move |store, p, t, inputs| {
                let mut groups: FxHashMap<K, Vec<V>> = FxHashMap::default();
                for batch in inputs.into_iter().flatten() {
                    for (k, v) in take_shared::<(K, V)>(batch)? {
                        groups.entry(k).or_default().push(v);
                    }
                }
                store.compute(p, t, |state| {
                    let mut next: FxHashMap<K, S> =
                        FxHashMap::with_capacity_and_hasher(state.map.len(), Default::default());
                    for (k, s) in &state.map {
                        let values = groups.remove(k).unwrap_or_default();
                        if let Some(s) = update(&values, Some(s.clone())) {
                            next.insert(k.clone(), s);
                        }
                    }
                    for (k, values) in groups {
                        if let Some(s) = update(&values, None) {
                            next.insert(k, s);
                        }
                    }
                    let out: Vec<(K, S)> =
                        next.iter().map(|(k, s)| (k.clone(), s.clone())).collect();
                    (out, next)
                })
            },
        )
    }
}

// ------------------------------------------------------------------ map_with_state

/// The state of one key as seen by a [`map_with_state`](DStream::map_with_state) function.
#[derive(Debug)]
pub struct State<S> {
    value: Option<S>,
    timing_out: bool,
    removed: bool,
}

impl<S> State<S> {
    /// Whether the key has a state.
    pub fn exists(&self) -> bool {
        self.value.is_some()
    }

    /// The key's state, if any.
    pub fn get(&self) -> Option<&S> {
        self.value.as_ref()
    }

    /// Sets the key's state. Ignored (the state is removed anyway) when the key is timing
    /// out.
    pub fn update(&mut self, value: S) {
        if self.timing_out {
            tracing::warn!("State::update on a key that is timing out is ignored");
            return;
        }
        self.value = Some(value);
        self.removed = false;
    }

    /// Removes the key's state.
    pub fn remove(&mut self) {
        self.value = None;
        self.removed = true;
    }

    /// Whether this call is the key's timeout: it got no data for the spec's timeout, and
    /// its state is removed after this call.
    pub fn is_timing_out(&self) -> bool {
        self.timing_out
    }
}

type MapStateFn<K, V, S, U> = dyn Fn(&K, Option<V>, &mut State<S>) -> U + Send + Sync;

/// How [`map_with_state`](DStream::map_with_state) maps records and keeps state: the
/// function, an optional idle timeout, a partition count and an initial state.
pub struct StateSpec<K, V, S, U> {
    func: Arc<MapStateFn<K, V, S, U>>,
    timeout: Option<Duration>,
    partitions: Option<usize>,
    initial: Option<Rdd<(K, S)>>,
}

impl<K: Key, V: Data, S: Data, U: Data> StateSpec<K, V, S, U> {
    /// A spec calling `f(key, value, state)` for every record, and `f(key, None, state)`
    /// with `state.is_timing_out()` for keys that time out. Each call's return value is one
    /// record of the mapped stream.
    pub fn function(f: impl Fn(&K, Option<V>, &mut State<S>) -> U + Send + Sync + 'static) -> Self {
        StateSpec {
            func: Arc::new(f),
            timeout: None,
            partitions: None,
            initial: None,
        }
    }

    /// Removes the state of keys that received no record for `timeout` (checked at every
    /// batch: a key last seen in batch `b` times out in the first batch `t` with
    /// `b < t - timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The number of state partitions (default: the context's default).
    pub fn partitions(mut self, partitions: usize) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// State to start from.
    pub fn initial_state(mut self, initial: Rdd<(K, S)>) -> Self {
        self.initial = Some(initial);
        self
    }
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Timed<S> {
    state: S,
    last_seen_ms: u64,
}

/// State of `map_with_state`: the map and, when a timeout is set, buckets of keys by the
/// batch they were last seen in, so finding timed-out keys costs O(expired), not O(state).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound = "K: Key, S: Data")]
pub(crate) struct TimedState<K: Key, S: Data> {
    #[serde(with = "exact_map")]
    map: FxHashMap<K, Timed<S>>,
    seen: VecDeque<(u64, Vec<K>)>,
}

impl<K: Key, S: Data> Default for TimedState<K, S> {
    fn default() -> Self {
        TimedState {
            map: FxHashMap::default(),
            seen: VecDeque::new(),
        }
    }
}

pub(crate) struct TimedDelta<K, S> {
    changes: FxHashMap<K, Option<Timed<S>>>,
    expired_buckets: usize,
    seen_now: Option<(u64, Vec<K>)>,
}

impl<K: Key, S: Data> PartState for TimedState<K, S> {
    type Delta = TimedDelta<K, S>;

    fn apply(&mut self, delta: Self::Delta) {
        for _ in 0..delta.expired_buckets {
            self.seen.pop_front();
        }
        for (k, change) in delta.changes {
            match change {
                Some(v) => {
                    self.map.insert(k, v);
                }
                None => {
                    self.map.remove(&k);
                }
            }
        }
        if let Some(bucket) = delta.seen_now {
            self.seen.push_back(bucket);
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The two streams of [`map_with_state`](DStream::map_with_state).
pub struct MapWithStateStream<K, S, U> {
    mapped: DStream<U>,
    snapshots: DStream<(K, S)>,
}

impl<K: Key, S: Data, U: Data> MapWithStateStream<K, S, U> {
    /// One record per call of the state function.
    pub fn mapped(&self) -> DStream<U> {
        self.mapped.clone()
    }

    /// The full state after every batch (Spark's `stateSnapshots`). O(state) per batch.
    pub fn state_snapshots(&self) -> DStream<(K, S)> {
        self.snapshots.clone()
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Maps every record with access to its key's state (Spark's `mapWithState`): the
    /// function sees each record in batch order, may read, update or remove the state, and
    /// returns one output record. Keys idle for the spec's timeout get a last call with
    /// `is_timing_out()` and are removed, which keeps memory bounded.
    ///
    /// Cost: O(batch + timed-out keys) per batch, independent of the state size.
    pub fn map_with_state<S: Data, U: Data>(
        &self,
        spec: StateSpec<K, V, S, U>,
    ) -> Result<MapWithStateStream<K, S, U>> {
        let partitions = spec.partitions.unwrap_or(self.ssc.default_partitions());
        if partitions == 0 {
            return Err(Error::invalid("partitions", 0, "must be at least 1"));
        }
        let timeout_ms = spec
            .timeout
            .map(|d| whole_millis("timeout", d))
            .transpose()?;
        let store = Arc::new(StateStore::<TimedState<K, S>>::new(partitions));
        let parent = Arc::clone(&self.node);
        let func = Arc::clone(&spec.func);
        let on_start = spec.initial.map(|rdd| {
            load_initial(rdd, move |records: Vec<(K, S)>| {
                // Initial keys count as seen at time 0, so they time out like any other.
                let seen = match timeout_ms {
                    Some(_) if !records.is_empty() => {
                        VecDeque::from([(0, records.iter().map(|(k, _)| k.clone()).collect())])
                    }
                    _ => VecDeque::new(),
                };
                let map = records
                    .into_iter()
                    .map(|(k, state)| {
                        (
                            k,
                            Timed {
                                state,
                                last_seen_ms: 0,
                            },
                        )
                    })
                    .collect();
                TimedState { map, seen }
            })
        });
        let mapped = stateful_stream(
            self,
            StatefulParts {
                name: "map_with_state",
                params: format!("{partitions} {timeout_ms:?}"),
                slide_ms: self.slide_ms(),
                store: Arc::clone(&store),
                on_start,
            },
            move |t| {
                Ok(parent
                    .get_or_compute(t)?
                    .map(|rdd| vec![rdd.dep_for_hash(partitions)]))
            },
            move |store, p, t, inputs| {
                let records = take_all::<(K, V)>(inputs.into_iter().flatten())?;
                store.compute(p, t, |state| {
                    map_partition(state, records, t, timeout_ms, &*func)
                })
            },
        );
        let snapshot_store = Arc::clone(&store);
        let snapshots = mapped.derive("state_snapshots", String::new(), move |rdd, t| {
            let store = Arc::clone(&snapshot_store);
            Ok(rdd.narrow("state_snapshots", None, move |p, _| {
                store.read(p, |state, pending| {
                    let mut out: FxHashMap<K, S> = state
                        .map
                        .iter()
                        .map(|(k, v)| (k.clone(), v.state.clone()))
                        .collect();
                    if let Some((pt, delta)) = pending
                        && *pt == t
                    {
                        for (k, change) in &delta.changes {
                            match change {
                                Some(v) => {
                                    out.insert(k.clone(), v.state.clone());
                                }
                                None => {
                                    out.remove(k);
                                }
                            }
                        }
                    }
                    out.into_iter().collect()
                })
            }))
        });
        Ok(MapWithStateStream { mapped, snapshots })
    }
}

/// One partition of one batch of `map_with_state`.
fn map_partition<K: Key, V: Data, S: Data, U: Data>(
    state: &TimedState<K, S>,
    records: Vec<(K, V)>,
    t: BatchTime,
    timeout_ms: Option<u64>,
    func: &MapStateFn<K, V, S, U>,
) -> (Vec<U>, TimedDelta<K, S>) {
    let mut out = Vec::with_capacity(records.len());
    let mut changes: FxHashMap<K, Option<Timed<S>>> = FxHashMap::default();
    for (k, v) in records {
        let current = match changes.get_mut(&k) {
            Some(change) => change.take().map(|c| c.state),
            None => state.map.get(&k).map(|e| e.state.clone()),
        };
        let mut st = State {
            value: current,
            timing_out: false,
            removed: false,
        };
        out.push(func(&k, Some(v), &mut st));
        let change = st.value.map(|s| Timed {
            state: s,
            last_seen_ms: t.0,
        });
        changes.insert(k, change);
    }
    let mut expired_buckets = 0;
    let mut seen_now = None;
    if let Some(timeout) = timeout_ms {
        let threshold = t.0.saturating_sub(timeout);
        for (bucket_time, keys) in &state.seen {
            if *bucket_time >= threshold {
                break;
            }
            expired_buckets += 1;
            for k in keys {
                if changes.contains_key(k) {
                    continue; // seen again this batch
                }
                let Some(entry) = state.map.get(k) else {
                    continue; // removed since
                };
                if entry.last_seen_ms != *bucket_time {
                    continue; // seen in a later batch; a later bucket holds it
                }
                let mut st = State {
                    value: Some(entry.state.clone()),
                    timing_out: true,
                    removed: false,
                };
                out.push(func(k, None, &mut st));
                changes.insert(k.clone(), None);
            }
        }
        let alive: Vec<K> = changes
            .iter()
            .filter(|(_, c)| c.as_ref().is_some_and(|c| c.last_seen_ms == t.0))
            .map(|(k, _)| k.clone())
            .collect();
        if !alive.is_empty() {
            seen_now = Some((t.0, alive));
        }
    }
    (
        out,
        TimedDelta {
            changes,
            expired_buckets,
            seen_now,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(changes: &[(&str, u64)]) -> TimedDelta<String, u64> {
        TimedDelta {
            changes: changes
                .iter()
                .map(|&(k, v)| {
                    let value = Timed {
                        state: v,
                        last_seen_ms: 0,
                    };
                    (k.to_string(), Some(value))
                })
                .collect(),
            expired_buckets: 0,
            seen_now: None,
        }
    }

    fn decode(bytes: &[u8]) -> Vec<(String, u64)> {
        let state: TimedState<String, u64> = bincode::deserialize(bytes).unwrap();
        let mut entries: Vec<_> = state.map.into_iter().map(|(k, v)| (k, v.state)).collect();
        entries.sort();
        entries
    }

    #[test]
    fn a_frozen_partition_keeps_the_state_of_its_batch_while_later_batches_fold() {
        let store = StateStore::<TimedState<String, u64>>::new(1);
        let fold = |t: u64, changes: &[(&str, u64)]| {
            let delta = timed(changes);
            store.compute(0, BatchTime(t), |_| ((), delta)).unwrap();
            store.commit(BatchTime(t));
        };
        fold(1, &[("a", 1), ("b", 1)]);
        let frozen = store.freeze(0).unwrap();
        // Folded while the checkpoint holds the partition: into a copy.
        fold(2, &[("a", 2), ("c", 1)]);
        let after_two = store.freeze(0).unwrap();
        assert_eq!(
            decode(&frozen().unwrap()),
            [("a".into(), 1), ("b".into(), 1)]
        );
        // Nothing holds it any more: the next fold is in place, and the store has moved on.
        fold(3, &[("b", 5)]);
        assert_eq!(
            decode(&after_two().unwrap()),
            [("a".into(), 2), ("b".into(), 1), ("c".into(), 1)]
        );
        let now = store.freeze(0).unwrap();
        assert_eq!(
            decode(&now().unwrap()),
            [("a".into(), 2), ("b".into(), 5), ("c".into(), 1)]
        );
    }

    #[test]
    fn a_replaced_state_leaves_the_frozen_one_untouched() {
        let store = StateStore::<FullState<u32, u32>>::new(2);
        let fold = |t: u64, entries: &[(u32, u32)]| {
            let map: FxHashMap<u32, u32> = entries.iter().copied().collect();
            store.compute(1, BatchTime(t), |_| ((), map)).unwrap();
            store.commit(BatchTime(t));
        };
        fold(1, &[(7, 1)]);
        let frozen = store.freeze(1).unwrap();
        fold(2, &[(7, 2), (8, 1)]);
        let read = |bytes: Vec<u8>| {
            let state: FullState<u32, u32> = bincode::deserialize(&bytes).unwrap();
            let mut entries: Vec<_> = state.map.into_iter().collect();
            entries.sort();
            entries
        };
        assert_eq!(read(frozen().unwrap()), [(7, 1)]);
        assert_eq!(read(store.freeze(1).unwrap()().unwrap()), [(7, 2), (8, 1)]);
        assert!(store.freeze(2).is_err(), "a partition out of range");
    }
}

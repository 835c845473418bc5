//! Windowed operators: computations over the last `length` of a stream, every `slide`.
//!
//! Two strategies, as in Spark:
//!
//! - **Recompute** ([`DStream::window`], [`DStream::reduce_by_key_and_window`]): each slide
//!   unions the batches in the window (each batch reduced first where possible) and
//!   reduces again. Cost per slide: O(window).
//! - **Incremental** ([`DStream::reduce_by_key_and_window_inv`],
//!   [`DStream::merge_by_key_and_window`], [`DStream::count_by_value_and_window`]): the
//!   window's aggregate per key is kept in keyed state; each slide adds the batches that
//!   enter and subtracts, with the inverse function, the batches that leave. Cost per slide:
//!   O(entering + leaving batches), independent of the window length; emitting the window
//!   is O(keys in the window). A key is dropped as soon as no batch in the window has it.
//!
//! Both keep memory bounded: a stream remembers its batches only as long as a window needs
//! them.

use super::DStream;
use super::node::{AnyNode, StreamNode};
use super::state::{PartState, StateStore, StatefulParts, stateful_stream};
use crate::data::{Data, Key, Retract};
use crate::error::{Error, Result};
use crate::plan::{SharedBatch, view_shared};
use crate::time::{BatchTime, Window};
use rustc_hash::FxHashMap;
use std::sync::Arc;

impl<T: Data> DStream<T> {
    /// The records of the last `window.length`, every `window.slide`. Both must be
    /// multiples of this stream's interval.
    pub fn window(&self, window: Window) -> Result<DStream<T>> {
        let (length, slide) = window.check(self.slide_ms())?;
        let parent = Arc::clone(&self.node);
        let parent_slide = self.slide_ms();
        self.node_meta().require_remember(length);
        let sc = self.ssc.spate_context().clone();
        let node = StreamNode::new(
            self.ssc.shared(),
            "window",
            slide,
            vec![self.any_node()],
            format!("{length} {slide}"),
            move |t| {
                let mut rdds = Vec::new();
                for time in window_times(&*parent, t, length, parent_slide) {
                    if let Some(rdd) = parent.get_or_compute(time)? {
                        rdds.push(rdd);
                    }
                }
                Ok(Some(sc.union(&rdds)))
            },
        );
        Ok(self.ssc.register(node))
    }

    /// One record per slide: the number of records in the window.
    pub fn count_by_window(&self, window: Window) -> Result<DStream<u64>> {
        self.count().reduce_by_window(|a, b| a + b, window)
    }

    /// At most one record per slide: the window's records combined with `f` (which must be
    /// associative and commutative). Each batch is reduced once, then the window's batch
    /// results are reduced: O(batches in the window) per slide.
    pub fn reduce_by_window(
        &self,
        f: impl Fn(T, T) -> T + Send + Sync + 'static,
        window: Window,
    ) -> Result<DStream<T>> {
        let f = Arc::new(f);
        let g = Arc::clone(&f);
        self.reduce(move |a, b| f(a, b))
            .window(window)
            .map(|w| w.reduce(move |a, b| g(a, b)))
    }
}

impl<T: Data> DStream<T> {
    /// At most one record per slide: the window's records combined with `f`,
    /// incrementally — batches entering the window are merged in with `f`, batches leaving
    /// it are taken out with `inv` (`inv(f(a, b), b) == a`). Cost per slide: O(entering +
    /// leaving batches), independent of the window length. Nothing is emitted for an empty
    /// window.
    pub fn reduce_by_window_inv(
        &self,
        f: impl Fn(T, T) -> T + Send + Sync + 'static,
        inv: impl Fn(T, T) -> T + Send + Sync + 'static,
        window: Window,
    ) -> Result<DStream<T>> {
        let f = Arc::new(f);
        let g = Arc::clone(&f);
        Ok(self
            .reduce(move |a, b| f(a, b))
            .map(|r| ((), r))
            .incremental_window_into(
                "reduce_by_window_inv",
                Arc::new(move |a, b| g(a, b)),
                Arc::new(inv),
                window,
                1,
            )?
            .map(|((), r)| r))
    }

    /// At most one record per slide: the window's summaries merged with their [`Retract`]
    /// implementation, incrementally (see [`reduce_by_window_inv`](Self::reduce_by_window_inv)).
    pub fn merge_by_window(&self, window: Window) -> Result<DStream<T>>
    where
        T: Retract,
    {
        self.reduce_by_window_inv(
            |mut a, b| {
                a.merge(&b);
                a
            },
            |mut a, b| {
                a.retract(&b);
                a
            },
            window,
        )
    }
}

impl<T: Key> DStream<T> {
    /// Per slide, how many times each distinct record occurs in the window; incremental
    /// (see [`reduce_by_key_and_window_inv`](DStream::reduce_by_key_and_window_inv)).
    pub fn count_by_value_and_window(&self, window: Window) -> Result<DStream<(T, u64)>> {
        self.map(|r| (r, 1_u64))
            .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, window)
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Per slide, the values of each key in the window merged with `f`, by recomputation:
    /// every batch is reduced by key once, and each slide reduces the window's batch
    /// results again. Cost per slide: O(keys × batches in the window).
    pub fn reduce_by_key_and_window(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        window: Window,
    ) -> Result<DStream<(K, V)>> {
        let f = Arc::new(f);
        let g = Arc::clone(&f);
        Ok(self
            .reduce_by_key(move |a, b| f(a, b))
            .window(window)?
            .reduce_by_key(move |a, b| g(a, b)))
    }

    /// Per slide, all values of each key in the window.
    pub fn group_by_key_and_window(&self, window: Window) -> Result<DStream<(K, Vec<V>)>> {
        Ok(self.window(window)?.group_by_key())
    }

    /// Per slide, the values of each key in the window merged with `f`, incrementally:
    /// batches entering the window are merged in with `f`, batches leaving it are taken out
    /// with `inv` (`inv(f(a, b), b) == a`). Cost per slide: O(entering + leaving batches),
    /// independent of the window length; emitting the window is O(keys in it).
    ///
    /// Keys are dropped when no batch in the window contains them, so memory is bounded by
    /// the keys of the window (Spark needs a filter function for this).
    pub fn reduce_by_key_and_window_inv(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        inv: impl Fn(V, V) -> V + Send + Sync + 'static,
        window: Window,
    ) -> Result<DStream<(K, V)>> {
        self.incremental_window(
            "reduce_by_key_and_window_inv",
            Arc::new(f),
            Arc::new(inv),
            window,
        )
    }

    /// Per slide, the values of each key in the window merged with their [`Retract`]
    /// implementation, incrementally (see
    /// [`reduce_by_key_and_window_inv`](Self::reduce_by_key_and_window_inv)).
    pub fn merge_by_key_and_window(&self, window: Window) -> Result<DStream<(K, V)>>
    where
        V: Retract,
    {
        self.incremental_window(
            "merge_by_key_and_window",
            Arc::new(|mut a: V, b: V| {
                a.merge(&b);
                a
            }),
            Arc::new(|mut a: V, b: V| {
                a.retract(&b);
                a
            }),
            window,
        )
    }

    fn incremental_window(
        &self,
        name: &'static str,
        f: Arc<dyn Fn(V, V) -> V + Send + Sync>,
        inv: Arc<dyn Fn(V, V) -> V + Send + Sync>,
        window: Window,
    ) -> Result<DStream<(K, V)>> {
        let partitions = self.ssc.default_partitions();
        self.incremental_window_into(name, f, inv, window, partitions)
    }

    pub(crate) fn incremental_window_into(
        &self,
        name: &'static str,
        f: Arc<dyn Fn(V, V) -> V + Send + Sync>,
        inv: Arc<dyn Fn(V, V) -> V + Send + Sync>,
        window: Window,
        partitions: usize,
    ) -> Result<DStream<(K, V)>> {
        let parent_slide = self.slide_ms();
        let (length, slide) = window.check(parent_slide)?;
        let reduce = Arc::clone(&f);
        // Each batch is reduced by key once, into the partitioning of the window state, and
        // remembered until it has left the window.
        let per_batch = self.reduce_by_key_into(move |a, b| reduce(a, b), partitions);
        per_batch.node_meta().require_remember(length + slide);
        let batches = Arc::clone(&per_batch.node);
        let deps_batches = Arc::clone(&per_batch.node);
        let store = Arc::new(StateStore::<WindowState<K, V>>::new(partitions));
        Ok(stateful_stream(
            &per_batch,
            StatefulParts {
                name,
                params: format!("{length} {slide} {partitions}"),
                slide_ms: slide,
                store,
                on_start: None,
            },
            move |t| {
                let mut deps = Vec::new();
                let leaving = window_times(&*deps_batches, t.minus_ms(length), slide, parent_slide);
                let entering = window_times(&*deps_batches, t, slide, parent_slide);
                for time in leaving.into_iter().chain(entering) {
                    let rdd = deps_batches.get_or_compute(time)?.ok_or_else(|| {
                        Error::internal(format!("window lost the batch at {time}"))
                    })?;
                    deps.push(rdd.dep_for_hash(partitions));
                }
                Ok(Some(deps))
            },
            move |store, p, t, inputs| {
                let n_leaving =
                    window_times(&*batches, t.minus_ms(length), slide, parent_slide).len();
                // The batches are remembered by the stream, so they are read in place: a
                // key is cloned once per slide into the changes, not once per batch.
                let (leaving, entering) = inputs.split_at(n_leaving.min(inputs.len()));
                let leaving = views_of::<K, V>(leaving)?;
                let entering = views_of::<K, V>(entering)?;
                store.compute(p, t, |state| {
                    // Every key of the largest batch changes: start the changes at that size.
                    let largest = leaving.iter().chain(&entering).map(|b| b.len()).max();
                    let mut delta: FxHashMap<K, Option<(V, u32)>> =
                        FxHashMap::with_capacity_and_hasher(
                            largest.unwrap_or(0),
                            Default::default(),
                        );
                    // Leaving first: a key that leaves and re-enters restarts from an exact
                    // value instead of accumulating rounding.
                    for (k, v) in leaving.iter().copied().flatten() {
                        update(&mut delta, state, k, |slot| match slot {
                            Some((acc, n)) if n > 1 => Some((inv(acc, v.clone()), n - 1)),
                            _ => None,
                        });
                    }
                    for (k, v) in entering.iter().copied().flatten() {
                        update(&mut delta, state, k, |slot| match slot {
                            Some((acc, n)) => Some((f(acc, v.clone()), n + 1)),
                            None => Some((v.clone(), 1)),
                        });
                    }
                    let mut out: Vec<(K, V)> = Vec::with_capacity(state.map.len());
                    for (k, (v, _)) in &state.map {
                        if !delta.contains_key(k) {
                            out.push((k.clone(), v.clone()));
                        }
                    }
                    for (k, entry) in &delta {
                        if let Some((v, _)) = entry {
                            out.push((k.clone(), v.clone()));
                        }
                    }
                    (out, delta)
                })
            },
        ))
    }
}

/// The records of several dependencies' partitions, in order, read in place.
fn views_of<K: Key, V: Data>(inputs: &[Vec<SharedBatch>]) -> Result<Vec<&[(K, V)]>> {
    inputs.iter().flatten().map(view_shared).collect()
}

/// The batches of `parent` in `(t - length, t]` that are after the zero time, oldest first.
fn window_times(
    parent: &dyn AnyNode,
    t: BatchTime,
    length: u64,
    parent_slide: u64,
) -> Vec<BatchTime> {
    let zero = parent.meta().shared.zero();
    let mut times = Vec::new();
    let mut k = 0;
    while k * parent_slide < length {
        let time = t.0.saturating_sub(k * parent_slide);
        if time <= zero || time > t.0 {
            break;
        }
        times.push(BatchTime(time));
        k += 1;
    }
    times.reverse();
    times
}

/// Replaces the window entry of `k` (from this slide's changes, else the committed state)
/// by `change(entry)`; `k` is cloned only the first time the slide changes it.
fn update<K: Key, V: Data>(
    delta: &mut FxHashMap<K, Option<(V, u32)>>,
    state: &WindowState<K, V>,
    k: &K,
    change: impl FnOnce(Option<(V, u32)>) -> Option<(V, u32)>,
) {
    match delta.get_mut(k) {
        Some(slot) => *slot = change(slot.take()),
        None => {
            let entry = change(state.map.get(k).cloned());
            delta.insert(k.clone(), entry);
        }
    }
}

/// The window's aggregate per key, with the number of batches in the window that have it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound = "K: Key, V: Data")]
pub(crate) struct WindowState<K: Key, V: Data> {
    #[serde(with = "super::state::exact_map")]
    map: FxHashMap<K, (V, u32)>,
}

impl<K: Key, V: Data> Default for WindowState<K, V> {
    fn default() -> Self {
        WindowState {
            map: FxHashMap::default(),
        }
    }
}

impl<K: Key, V: Data> PartState for WindowState<K, V> {
    type Delta = FxHashMap<K, Option<(V, u32)>>;

    fn apply(&mut self, delta: Self::Delta) {
        for (k, entry) in delta {
            match entry {
                Some(e) => {
                    self.map.insert(k, e);
                }
                None => {
                    self.map.remove(&k);
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

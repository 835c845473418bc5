//! Event time: windows and joins keyed by a timestamp inside each record, independent of
//! the batch it arrived in, with watermarks for late and out-of-order data.
//!
//! # Watermarks
//!
//! A stream's watermark is the largest event time seen so far minus the allowed lateness.
//! It is computed from the batches processed so far and applies to the next batch (as in
//! Spark Structured Streaming): in batch `t`, a record whose event time is below the
//! watermark is *late*; it is either dropped and counted or routed to a late-data side
//! output ([`LateData`]). Everything else is on time and is never lost.
//!
//! A window `[start, end)` is *final* once the watermark reaches `end`: no on-time record
//! can fall into it any more. Final windows are emitted (in [`EmitMode::Final`], once each;
//! in [`EmitMode::Update`] also as provisional results whenever they change) and their
//! state is freed, so memory is bounded by the windows the watermark keeps open.
//!
//! When every source of the context is exhausted, one last batch runs with the watermark at
//! +∞, emitting every remaining window (and unmatched outer-join rows), as at the end of a
//! bounded input in Flink.

use super::DStream;
use super::node::StatefulNode;
use super::state::{PartState, StateStore, StatefulOp, StatefulParts, stateful_stream_with};
use crate::data::{Data, Key};
use crate::error::{Error, Result};
use crate::plan::take_all;
use crate::storage::lock;
use crate::time::{BatchTime, whole_millis};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Event time in milliseconds (any epoch; may be negative).
pub type EventTime = i64;

/// How event-time windows are formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventWindows {
    /// Consecutive windows `[k·size, (k+1)·size)`.
    Tumbling {
        /// Window length in ms.
        size_ms: i64,
    },
    /// Overlapping windows `[k·slide, k·slide + size)`.
    Sliding {
        /// Window length in ms.
        size_ms: i64,
        /// Distance between window starts in ms.
        slide_ms: i64,
    },
    /// Per key, maximal runs of records less than `gap` apart: `[first, last + gap)`.
    Session {
        /// Inactivity gap in ms.
        gap_ms: i64,
    },
}

impl EventWindows {
    /// Tumbling windows of `size`.
    pub fn tumbling(size: Duration) -> Result<EventWindows> {
        Ok(EventWindows::Tumbling {
            size_ms: positive_ms("size", size)?,
        })
    }

    /// Sliding windows of `size` starting every `slide`.
    pub fn sliding(size: Duration, slide: Duration) -> Result<EventWindows> {
        let size_ms = positive_ms("size", size)?;
        let slide_ms = positive_ms("slide", slide)?;
        if slide_ms > size_ms {
            return Err(Error::invalid(
                "slide",
                slide,
                "must not exceed the window size (records would fall between windows)",
            ));
        }
        Ok(EventWindows::Sliding { size_ms, slide_ms })
    }

    /// Session windows closing after `gap` without records.
    pub fn session(gap: Duration) -> Result<EventWindows> {
        Ok(EventWindows::Session {
            gap_ms: positive_ms("gap", gap)?,
        })
    }

    /// The windows `[start, end)` that contain event time `x` (for sessions: the window
    /// `[x, x + gap)` before merging).
    pub fn assign(&self, x: EventTime) -> Vec<(EventTime, EventTime)> {
        match *self {
            EventWindows::Tumbling { size_ms } => {
                let start = x.div_euclid(size_ms) * size_ms;
                vec![(start, start + size_ms)]
            }
            EventWindows::Sliding { size_ms, slide_ms } => {
                let last = x.div_euclid(slide_ms);
                let first = (x - size_ms).div_euclid(slide_ms) + 1;
                (first..=last)
                    .map(|k| (k * slide_ms, k * slide_ms + size_ms))
                    .collect()
            }
            EventWindows::Session { gap_ms } => vec![(x, x.saturating_add(gap_ms))],
        }
    }
}

fn positive_ms(name: &'static str, d: Duration) -> Result<i64> {
    let ms = whole_millis(name, d)?;
    i64::try_from(ms).map_err(|_| Error::invalid(name, d, "is too long"))
}

/// What happens to records behind the watermark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LateData {
    /// Drop them; they are counted in [`BatchInfo::records_late`](super::BatchInfo).
    Drop,
    /// Route them to the operator's late-data stream (and count them).
    SideOutput,
}

/// When window results are emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmitMode {
    /// Once per window, when the watermark passes its end.
    Final,
    /// Also a provisional result for every window a batch changed.
    Update,
}

/// The aggregate of one key in one event-time window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowResult<K, A> {
    /// The key.
    pub key: K,
    /// Window start (inclusive), ms.
    pub start: EventTime,
    /// Window end (exclusive), ms.
    pub end: EventTime,
    /// The aggregate.
    pub value: A,
    /// Whether the window is closed (the watermark passed its end): no later result for
    /// this window will follow.
    pub is_final: bool,
}

/// A stream whose records carry an event time.
pub struct EventTimeStream<T> {
    stream: DStream<T>,
    timestamp: Arc<dyn Fn(&T) -> EventTime + Send + Sync>,
    lateness_ms: i64,
}

impl<T> Clone for EventTimeStream<T> {
    fn clone(&self) -> Self {
        EventTimeStream {
            stream: self.stream.clone(),
            timestamp: Arc::clone(&self.timestamp),
            lateness_ms: self.lateness_ms,
        }
    }
}

impl<T: Data> DStream<T> {
    /// Declares the event time of every record (ms, from `timestamp`) and how late a record
    /// may arrive relative to the largest event time seen (`allowed_lateness`).
    pub fn with_event_time(
        &self,
        timestamp: impl Fn(&T) -> EventTime + Send + Sync + 'static,
        allowed_lateness: Duration,
    ) -> Result<EventTimeStream<T>> {
        let lateness_ms = i64::try_from(allowed_lateness.as_millis())
            .map_err(|_| Error::invalid("allowed_lateness", allowed_lateness, "is too long"))?;
        Ok(EventTimeStream {
            stream: self.clone(),
            timestamp: Arc::new(timestamp),
            lateness_ms,
        })
    }
}

// ------------------------------------------------------------------ watermarks

/// Watermark bookkeeping of one operator: committed per-input maxima, and what the tasks of
/// the batch in progress observed (keyed by batch and partition, so retries overwrite).
struct WatermarkCell {
    inner: Mutex<WatermarkInner>,
    flush: Arc<super::node::GraphShared>,
}

#[derive(Serialize, Deserialize)]
struct WatermarkInner {
    lateness: Vec<i64>,
    max_seen: Vec<Option<EventTime>>,
    #[serde(skip)]
    observed: BTreeMap<(u64, usize), (Vec<Option<EventTime>>, u64)>,
    #[serde(skip)]
    last_late: u64,
}

impl WatermarkCell {
    fn new(lateness: Vec<i64>, shared: Arc<super::node::GraphShared>) -> Arc<WatermarkCell> {
        let sides = lateness.len();
        Arc::new(WatermarkCell {
            inner: Mutex::new(WatermarkInner {
                lateness,
                max_seen: vec![None; sides],
                observed: BTreeMap::new(),
                last_late: 0,
            }),
            flush: shared,
        })
    }

    /// The watermark for the batch in progress: the minimum over inputs of
    /// `max_seen - lateness`, −∞ until every input has seen a record, +∞ in the final flush.
    fn current(&self) -> EventTime {
        if self.flush.is_final_flush() {
            return EventTime::MAX;
        }
        let inner = lock(&self.inner);
        inner
            .max_seen
            .iter()
            .zip(&inner.lateness)
            .map(|(m, l)| m.map_or(EventTime::MIN, |m| m.saturating_sub(*l)))
            .min()
            .unwrap_or(EventTime::MIN)
    }

    fn observe(&self, t: BatchTime, p: usize, maxima: Vec<Option<EventTime>>, late: u64) {
        lock(&self.inner).observed.insert((t.0, p), (maxima, late));
    }

    /// This worker's observations of batch `t`, encoded for the other workers.
    fn encode_observations(&self, t: BatchTime) -> Result<Vec<u8>> {
        let inner = lock(&self.inner);
        let mine: Vec<(usize, &(Vec<Option<EventTime>>, u64))> = inner
            .observed
            .range((t.0, 0)..=(t.0, usize::MAX))
            .map(|((_, p), v)| (*p, v))
            .collect();
        bincode::serialize(&mine).map_err(|e| Error::Serialization {
            what: "watermark observations".into(),
            message: e.to_string(),
        })
    }

    /// Adds another worker's observations of batch `t`.
    fn absorb(&self, t: BatchTime, bytes: &[u8]) -> Result<()> {
        let theirs: Vec<(usize, (Vec<Option<EventTime>>, u64))> = bincode::deserialize(bytes)
            .map_err(|e| Error::Serialization {
                what: "watermark observations".into(),
                message: e.to_string(),
            })?;
        let mut inner = lock(&self.inner);
        for (p, v) in theirs {
            inner.observed.insert((t.0, p), v);
        }
        Ok(())
    }

    fn advance(&self, t: BatchTime) {
        let mut inner = lock(&self.inner);
        let mut late = 0;
        let done: Vec<(u64, usize)> = inner
            .observed
            .range(..=(t.0, usize::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in done {
            if let Some((maxima, l)) = inner.observed.remove(&key)
                && key.0 == t.0
            {
                late += l;
                for (side, m) in maxima.into_iter().enumerate() {
                    if let (Some(m), Some(slot)) = (m, inner.max_seen.get_mut(side)) {
                        *slot = Some(slot.map_or(m, |s| s.max(m)));
                    }
                }
            }
        }
        inner.last_late = late;
    }
}

/// A stateful event-time operator: its store plus its watermark, committed together.
struct EventTimeOp<P: PartState, T> {
    op: Arc<StatefulOp<P, T>>,
    watermark: Arc<WatermarkCell>,
}

impl<P: PartState, T: Data> StatefulNode for EventTimeOp<P, T> {
    fn commit(&self, t: BatchTime) -> Result<()> {
        self.op.commit(t)?;
        self.watermark.advance(t);
        Ok(())
    }

    fn state_size(&self) -> usize {
        self.op.state_size()
    }

    fn partitions(&self) -> usize {
        self.op.partitions()
    }

    fn state_type(&self) -> &'static str {
        self.op.state_type()
    }

    fn freeze_partition(&self, p: usize) -> Result<super::state::FrozenState> {
        self.op.freeze_partition(p)
    }

    fn restore_partitions(
        &self,
        parts: Vec<(usize, Vec<u8>)>,
        runtime: &dyn crate::runtime::Runtime,
    ) -> Result<()> {
        self.op.restore_partitions(parts, runtime)
    }

    fn snapshot_shared(&self) -> Result<Vec<u8>> {
        bincode::serialize(&*lock(&self.watermark.inner)).map_err(|e| Error::Serialization {
            what: "watermark".into(),
            message: e.to_string(),
        })
    }

    fn restore_shared(&self, bytes: &[u8]) -> Result<()> {
        let restored: WatermarkInner =
            bincode::deserialize(bytes).map_err(|e| Error::Serialization {
                what: "watermark".into(),
                message: e.to_string(),
            })?;
        if restored.max_seen.len() != lock(&self.watermark.inner).max_seen.len() {
            return Err(Error::Serialization {
                what: "watermark".into(),
                message: "a checkpoint's watermark has another number of inputs".into(),
            });
        }
        let mut inner = lock(&self.watermark.inner);
        inner.max_seen = restored.max_seen;
        inner.observed.clear();
        Ok(())
    }

    fn late_records(&self) -> u64 {
        lock(&self.watermark.inner).last_late
    }

    fn needs_final_flush(&self) -> bool {
        true
    }

    fn batch_observations(&self, t: BatchTime) -> Result<Vec<u8>> {
        self.watermark.encode_observations(t)
    }

    fn absorb_observations(&self, t: BatchTime, bytes: &[u8]) -> Result<()> {
        self.watermark.absorb(t, bytes)
    }
}

// ------------------------------------------------------------------ windows

#[derive(Clone, Serialize, Deserialize)]
struct Win<A> {
    start: EventTime,
    end: EventTime,
    acc: A,
}

/// Open windows of one partition, indexed by end time so closing them costs O(closed).
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "K: Key, A: Data")]
struct WindowPart<K: Key, A: Data> {
    #[serde(with = "super::state::exact_map")]
    windows: FxHashMap<K, Vec<Win<A>>>,
    by_end: BTreeMap<EventTime, Vec<K>>,
    open: usize,
}

impl<K: Key, A: Data> Default for WindowPart<K, A> {
    fn default() -> Self {
        WindowPart {
            windows: FxHashMap::default(),
            by_end: BTreeMap::new(),
            open: 0,
        }
    }
}

struct WindowDelta<K, A> {
    changes: FxHashMap<K, Vec<Win<A>>>,
    close_through: Option<EventTime>,
    index: Vec<(EventTime, K)>,
}

impl<K: Key, A: Data> PartState for WindowPart<K, A> {
    type Delta = WindowDelta<K, A>;

    fn apply(&mut self, delta: Self::Delta) {
        if let Some(w) = delta.close_through {
            let closed: Vec<EventTime> = self.by_end.range(..=w).map(|(e, _)| *e).collect();
            for end in closed {
                self.by_end.remove(&end);
            }
        }
        for (k, wins) in delta.changes {
            let before = self.windows.get(&k).map_or(0, Vec::len);
            self.open = (self.open + wins.len()).saturating_sub(before);
            if wins.is_empty() {
                self.windows.remove(&k);
            } else {
                self.windows.insert(k, wins);
            }
        }
        for (end, k) in delta.index {
            self.by_end.entry(end).or_default().push(k);
        }
    }

    fn len(&self) -> usize {
        self.open
    }
}

/// Output of the window task: results and late records in one stream, split afterwards.
#[derive(Clone, Serialize, Deserialize)]
enum WindowOut<K, A, T> {
    Result(WindowResult<K, A>),
    Late(T),
}

/// The streams of an event-time window aggregation.
pub struct EventWindowed<K, A, T> {
    results: DStream<WindowResult<K, A>>,
    late: DStream<T>,
}

impl<K: Key, A: Data, T: Data> EventWindowed<K, A, T> {
    /// Window results (see [`EmitMode`]).
    pub fn results(&self) -> DStream<WindowResult<K, A>> {
        self.results.clone()
    }

    /// Records that arrived behind the watermark (empty unless [`LateData::SideOutput`]).
    pub fn late(&self) -> DStream<T> {
        self.late.clone()
    }
}

type CreateFn<V, A> = Arc<dyn Fn(V) -> A + Send + Sync>;
type AddFn<A, V> = Arc<dyn Fn(&mut A, V) + Send + Sync>;
type MergeFn<A> = Arc<dyn Fn(&mut A, A) + Send + Sync>;

impl<K: Key, V: Data> EventTimeStream<(K, V)> {
    /// Per key and event-time window, the values folded with `create` / `add`, windows
    /// merged with `merge` (sessions). See the [module docs](self) for watermark semantics.
    ///
    /// Cost per batch: O(records × windows per record + windows closed).
    pub fn aggregate_by_key_and_window<A: Data>(
        &self,
        windows: EventWindows,
        create: impl Fn(V) -> A + Send + Sync + 'static,
        add: impl Fn(&mut A, V) + Send + Sync + 'static,
        merge: impl Fn(&mut A, A) + Send + Sync + 'static,
        mode: EmitMode,
        late: LateData,
    ) -> Result<EventWindowed<K, A, (K, V)>> {
        let create: CreateFn<V, A> = Arc::new(create);
        let add: AddFn<A, V> = Arc::new(add);
        let merge: MergeFn<A> = Arc::new(merge);
        let input = &self.stream;
        let ssc = input.context().clone();
        let partitions = ssc.default_partitions();
        let store = Arc::new(StateStore::<WindowPart<K, A>>::new(partitions));
        let watermark = WatermarkCell::new(vec![self.lateness_ms], Arc::clone(ssc.shared()));
        let wm = Arc::clone(&watermark);
        let parent = Arc::clone(&input.node);
        let ts = Arc::clone(&self.timestamp);
        let node = stateful_stream_with(
            input,
            StatefulParts {
                name: "event_window",
                params: format!(
                    "{windows:?} {} {mode:?} {late:?} {partitions}",
                    self.lateness_ms
                ),
                slide_ms: input.slide_ms(),
                store,
                on_start: None,
            },
            move |op| {
                Arc::new(EventTimeOp {
                    op,
                    watermark: Arc::clone(&wm),
                }) as Arc<dyn StatefulNode>
            },
            move |t| {
                Ok(Some(vec![match parent.get_or_compute(t)? {
                    Some(rdd) => rdd.dep_for_hash(partitions),
                    None => ssc
                        .spate_context()
                        .empty::<(K, V)>()
                        .dep_for_hash(partitions),
                }]))
            },
            move |store, p, t, inputs| {
                let records = take_all::<(K, V)>(inputs.into_iter().flatten())?;
                let w = watermark.current();
                let mut max_ts = None;
                let mut n_late = 0;
                let mut out: Vec<WindowOut<K, A, (K, V)>> = Vec::new();
                let results = store.compute(p, t, |state| {
                    let mut changes: FxHashMap<K, Vec<Win<A>>> = FxHashMap::default();
                    let mut index = Vec::new();
                    let mut touched: Vec<(K, EventTime)> = Vec::new();
                    for record in records {
                        let x = ts(&record);
                        max_ts = Some(max_ts.map_or(x, |m: EventTime| m.max(x)));
                        if x < w {
                            n_late += 1;
                            if late == LateData::SideOutput {
                                out.push(WindowOut::Late(record));
                            }
                            continue;
                        }
                        let (k, v) = record;
                        let wins = changes
                            .entry(k.clone())
                            .or_insert_with(|| state.windows.get(&k).cloned().unwrap_or_default());
                        for (start, end, new_end) in
                            fold_into(wins, windows, x, v, &*create, &*add, &*merge)
                        {
                            if new_end {
                                index.push((end, k.clone()));
                            }
                            if mode == EmitMode::Update {
                                touched.push((k.clone(), start));
                            }
                        }
                    }
                    let mut emitted = Vec::new();
                    let closing: Vec<&K> = state
                        .by_end
                        .range(..=w)
                        .flat_map(|(_, keys)| keys.iter())
                        .collect();
                    let mut close_through = None;
                    if !closing.is_empty() {
                        close_through = Some(w);
                    }
                    for k in closing {
                        let wins = changes
                            .entry(k.clone())
                            .or_insert_with(|| state.windows.get(k).cloned().unwrap_or_default());
                        let mut i = 0;
                        while i < wins.len() {
                            if wins[i].end <= w {
                                let done = wins.remove(i);
                                emitted.push(WindowResult {
                                    key: k.clone(),
                                    start: done.start,
                                    end: done.end,
                                    value: done.acc,
                                    is_final: true,
                                });
                            } else {
                                i += 1;
                            }
                        }
                    }
                    if mode == EmitMode::Update {
                        touched.sort_by_key(|(_, s)| *s);
                        let mut seen = rustc_hash::FxHashSet::default();
                        for (k, start) in touched {
                            let open = changes.get(&k).and_then(|ws| {
                                ws.iter().find(|win| win.start <= start && start < win.end)
                            });
                            if let Some(win) = open
                                && seen.insert((k.clone(), win.start))
                            {
                                emitted.push(WindowResult {
                                    key: k.clone(),
                                    start: win.start,
                                    end: win.end,
                                    value: win.acc.clone(),
                                    is_final: false,
                                });
                            }
                        }
                    }
                    (
                        emitted,
                        WindowDelta {
                            changes,
                            close_through,
                            index,
                        },
                    )
                })?;
                watermark.observe(t, p, vec![max_ts], n_late);
                out.extend(results.into_iter().map(WindowOut::Result));
                Ok(out)
            },
        );
        let results = node.map_partitions(|outs| {
            outs.into_iter()
                .filter_map(|o| match o {
                    WindowOut::Result(r) => Some(r),
                    WindowOut::Late(_) => None,
                })
                .collect()
        });
        let late = node.map_partitions(|outs| {
            outs.into_iter()
                .filter_map(|o| match o {
                    WindowOut::Late(r) => Some(r),
                    WindowOut::Result(_) => None,
                })
                .collect()
        });
        Ok(EventWindowed { results, late })
    }

    /// Per key and event-time window, the values merged with `f`.
    pub fn reduce_by_key_and_window(
        &self,
        windows: EventWindows,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        mode: EmitMode,
        late: LateData,
    ) -> Result<EventWindowed<K, V, (K, V)>> {
        let f = Arc::new(f);
        let (f1, f2) = (Arc::clone(&f), Arc::clone(&f));
        self.aggregate_by_key_and_window(
            windows,
            |v| v,
            move |acc: &mut V, v| replace_with(acc, v, &*f1),
            move |acc: &mut V, other| replace_with(acc, other, &*f2),
            mode,
            late,
        )
    }

    /// Per key and event-time window, the number of records.
    pub fn count_by_key_and_window(
        &self,
        windows: EventWindows,
        mode: EmitMode,
        late: LateData,
    ) -> Result<EventWindowed<K, u64, (K, V)>> {
        self.aggregate_by_key_and_window(
            windows,
            |_| 1_u64,
            |acc: &mut u64, _| *acc += 1,
            |acc: &mut u64, other| *acc += other,
            mode,
            late,
        )
    }
}

/// `*acc = f(acc, v)` for a function taking both by value.
fn replace_with<V: Clone>(acc: &mut V, v: V, f: &dyn Fn(V, V) -> V) {
    *acc = f(acc.clone(), v);
}

/// Folds value `v` at event time `x` into a key's open windows. Returns the windows that
/// now hold it as `(start, end, indexed)`, where `indexed` says the window's end is new and
/// must be added to the end-time index.
fn fold_into<V: Clone, A>(
    wins: &mut Vec<Win<A>>,
    windows: EventWindows,
    x: EventTime,
    v: V,
    create: &dyn Fn(V) -> A,
    add: &dyn Fn(&mut A, V),
    merge: &dyn Fn(&mut A, A),
) -> Vec<(EventTime, EventTime, bool)> {
    match windows {
        EventWindows::Session { gap_ms } => {
            let mut start = x;
            let mut end = x.saturating_add(gap_ms);
            let mut acc = create(v);
            let mut old_end = None;
            let mut i = 0;
            while i < wins.len() {
                if wins[i].start < end && start < wins[i].end {
                    let other = wins.remove(i);
                    old_end = Some(old_end.map_or(other.end, |e: EventTime| e.max(other.end)));
                    start = start.min(other.start);
                    end = end.max(other.end);
                    merge(&mut acc, other.acc);
                } else {
                    i += 1;
                }
            }
            wins.push(Win { start, end, acc });
            vec![(start, end, old_end != Some(end))]
        }
        _ => windows
            .assign(x)
            .into_iter()
            .map(
                |(start, end)| match wins.iter_mut().find(|w| w.start == start) {
                    Some(w) => {
                        add(&mut w.acc, v.clone());
                        (start, end, false)
                    }
                    None => {
                        wins.push(Win {
                            start,
                            end,
                            acc: create(v.clone()),
                        });
                        (start, end, true)
                    }
                },
            )
            .collect(),
    }
}

// ------------------------------------------------------------------ interval joins

/// Which rows an interval join emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinKind {
    /// Matching pairs only.
    Inner,
    /// Also left records that never matched, with `None` on the right.
    LeftOuter,
    /// Also right records that never matched, with `None` on the left.
    RightOuter,
    /// Both kinds of unmatched records.
    FullOuter,
}

#[derive(Clone, Serialize, Deserialize)]
struct Buffered<V> {
    ts: EventTime,
    value: V,
    matched: bool,
}

/// Buffered records of both sides of one partition, indexed by the time after which each
/// can no longer match.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "K: Key, V: Data, W: Data")]
struct JoinPart<K: Key, V: Data, W: Data> {
    #[serde(with = "super::state::exact_map")]
    left: FxHashMap<K, Vec<Buffered<V>>>,
    #[serde(with = "super::state::exact_map")]
    right: FxHashMap<K, Vec<Buffered<W>>>,
    expiry: BTreeMap<EventTime, Vec<K>>,
    buffered: usize,
}

impl<K: Key, V: Data, W: Data> Default for JoinPart<K, V, W> {
    fn default() -> Self {
        JoinPart {
            left: FxHashMap::default(),
            right: FxHashMap::default(),
            expiry: BTreeMap::new(),
            buffered: 0,
        }
    }
}

struct JoinDelta<K, V, W> {
    left: FxHashMap<K, Vec<Buffered<V>>>,
    right: FxHashMap<K, Vec<Buffered<W>>>,
    expire_through: Option<EventTime>,
    index: Vec<(EventTime, K)>,
}

impl<K: Key, V: Data, W: Data> PartState for JoinPart<K, V, W> {
    type Delta = JoinDelta<K, V, W>;

    fn apply(&mut self, delta: Self::Delta) {
        if let Some(w) = delta.expire_through {
            let gone: Vec<EventTime> = self.expiry.range(..=w).map(|(e, _)| *e).collect();
            for e in gone {
                self.expiry.remove(&e);
            }
        }
        for (k, v) in delta.left {
            if v.is_empty() {
                self.left.remove(&k);
            } else {
                self.left.insert(k, v);
            }
        }
        for (k, v) in delta.right {
            if v.is_empty() {
                self.right.remove(&k);
            } else {
                self.right.insert(k, v);
            }
        }
        for (e, k) in delta.index {
            self.expiry.entry(e).or_default().push(k);
        }
        self.buffered = self.left.values().map(Vec::len).sum::<usize>()
            + self.right.values().map(Vec::len).sum::<usize>();
    }

    fn len(&self) -> usize {
        self.buffered
    }
}

#[derive(Clone, Serialize, Deserialize)]
enum JoinOut<K, V, W> {
    Row(K, Option<V>, Option<W>),
    LateLeft(K, V),
    LateRight(K, W),
}

/// The streams of an interval join.
pub struct IntervalJoined<K, V, W> {
    rows: DStream<(K, (Option<V>, Option<W>))>,
    late_left: DStream<(K, V)>,
    late_right: DStream<(K, W)>,
}

impl<K: Key, V: Data, W: Data> IntervalJoined<K, V, W> {
    /// Joined rows; an outer row has `None` on the side without a match.
    pub fn rows(&self) -> DStream<(K, (Option<V>, Option<W>))> {
        self.rows.clone()
    }

    /// Left records that arrived behind the watermark.
    pub fn late_left(&self) -> DStream<(K, V)> {
        self.late_left.clone()
    }

    /// Right records that arrived behind the watermark.
    pub fn late_right(&self) -> DStream<(K, W)> {
        self.late_right.clone()
    }
}

impl<K: Key, V: Data> EventTimeStream<(K, V)> {
    /// Joins records of `self` (time `a`) with records of `other` (time `b`) of the same
    /// key when `b - lower <= a <= b + upper`, i.e. `a.time BETWEEN b.time - lower AND
    /// b.time + upper`.
    ///
    /// The watermark is the minimum of both inputs' watermarks. A buffered left record is
    /// dropped once no on-time right record can match it (`a + lower <` watermark), a right
    /// record once `b + upper <` watermark; for outer joins, a record dropped without ever
    /// matching is emitted then with `None` on the other side, so outer rows appear as soon
    /// as the watermark proves no match can arrive. Join state is bounded by the records
    /// within `lower + upper + lateness` of the watermark. Late records (behind the
    /// watermark on arrival) never join; they go to [`IntervalJoined::late_left`] /
    /// [`late_right`](IntervalJoined::late_right) and are counted.
    pub fn interval_join<W: Data>(
        &self,
        other: &EventTimeStream<(K, W)>,
        lower: Duration,
        upper: Duration,
        kind: JoinKind,
    ) -> Result<IntervalJoined<K, V, W>> {
        self.stream
            .check_compatible("interval_join", &other.stream)?;
        let lower = i64::try_from(lower.as_millis())
            .map_err(|_| Error::invalid("lower", lower, "is too long"))?;
        let upper = i64::try_from(upper.as_millis())
            .map_err(|_| Error::invalid("upper", upper, "is too long"))?;
        let ssc = self.stream.context().clone();
        let partitions = ssc.default_partitions();
        let store = Arc::new(StateStore::<JoinPart<K, V, W>>::new(partitions));
        let watermark = WatermarkCell::new(
            vec![self.lateness_ms, other.lateness_ms],
            Arc::clone(ssc.shared()),
        );
        let wm = Arc::clone(&watermark);
        let (left, right) = (
            Arc::clone(&self.stream.node),
            Arc::clone(&other.stream.node),
        );
        let (lts, rts) = (Arc::clone(&self.timestamp), Arc::clone(&other.timestamp));
        let sc = ssc.spate_context().clone();
        let node: DStream<JoinOut<K, V, W>> = stateful_stream_with(
            &self.stream,
            StatefulParts {
                name: "interval_join",
                params: format!("{lower} {upper} {kind:?} {partitions}"),
                slide_ms: self.stream.slide_ms(),
                store,
                on_start: None,
            },
            move |op| {
                Arc::new(EventTimeOp {
                    op,
                    watermark: Arc::clone(&wm),
                }) as Arc<dyn StatefulNode>
            },
            move |t| {
                let l = left.get_or_compute(t)?.unwrap_or_else(|| sc.empty());
                let r = right.get_or_compute(t)?.unwrap_or_else(|| sc.empty());
                Ok(Some(vec![
                    l.dep_for_hash(partitions),
                    r.dep_for_hash(partitions),
                ]))
            },
            move |store, p, t, mut inputs| {
                let right_in = take_all::<(K, W)>(inputs.pop().unwrap_or_default())?;
                let left_in = take_all::<(K, V)>(inputs.pop().unwrap_or_default())?;
                let w = watermark.current();
                let mut out = Vec::new();
                let (mut lmax, mut rmax, mut late) = (None, None, 0_u64);
                let rows = store.compute(p, t, |state| {
                    join_partition(
                        state,
                        left_in,
                        right_in,
                        JoinParams {
                            w,
                            lower,
                            upper,
                            kind,
                            lts: &*lts,
                            rts: &*rts,
                        },
                        &mut JoinObserved {
                            lmax: &mut lmax,
                            rmax: &mut rmax,
                            late: &mut late,
                            out: &mut out,
                        },
                    )
                })?;
                watermark.observe(t, p, vec![lmax, rmax], late);
                out.extend(rows);
                Ok(out)
            },
        );
        Ok(IntervalJoined {
            rows: node.map_partitions(|outs| {
                outs.into_iter()
                    .filter_map(|o| match o {
                        JoinOut::Row(k, v, w) => Some((k, (v, w))),
                        _ => None,
                    })
                    .collect()
            }),
            late_left: node.map_partitions(|outs| {
                outs.into_iter()
                    .filter_map(|o| match o {
                        JoinOut::LateLeft(k, v) => Some((k, v)),
                        _ => None,
                    })
                    .collect()
            }),
            late_right: node.map_partitions(|outs| {
                outs.into_iter()
                    .filter_map(|o| match o {
                        JoinOut::LateRight(k, w) => Some((k, w)),
                        _ => None,
                    })
                    .collect()
            }),
        })
    }
}

struct JoinParams<'a, K, V, W> {
    w: EventTime,
    lower: i64,
    upper: i64,
    kind: JoinKind,
    lts: &'a (dyn Fn(&(K, V)) -> EventTime + Send + Sync),
    rts: &'a (dyn Fn(&(K, W)) -> EventTime + Send + Sync),
}

struct JoinObserved<'a, K, V, W> {
    lmax: &'a mut Option<EventTime>,
    rmax: &'a mut Option<EventTime>,
    late: &'a mut u64,
    out: &'a mut Vec<JoinOut<K, V, W>>,
}

/// One partition of one batch of an interval join.
fn join_partition<K: Key, V: Data, W: Data>(
    state: &JoinPart<K, V, W>,
    left_in: Vec<(K, V)>,
    right_in: Vec<(K, W)>,
    params: JoinParams<'_, K, V, W>,
    seen: &mut JoinObserved<'_, K, V, W>,
) -> (Vec<JoinOut<K, V, W>>, JoinDelta<K, V, W>) {
    let JoinParams {
        w,
        lower,
        upper,
        kind,
        lts,
        rts,
    } = params;
    let mut rows = Vec::new();
    let mut left: FxHashMap<K, Vec<Buffered<V>>> = FxHashMap::default();
    let mut right: FxHashMap<K, Vec<Buffered<W>>> = FxHashMap::default();
    let mut index = Vec::new();
    // New right records are buffered first, so a new left record sees old and new right
    // records; a new right record then probes only the *old* left records (new × new pairs
    // are found exactly once, by the left side).
    let mut new_right: Vec<(K, usize)> = Vec::new();
    for record in right_in {
        let b = rts(&record);
        *seen.rmax = Some(seen.rmax.map_or(b, |m| m.max(b)));
        if b < w {
            *seen.late += 1;
            seen.out.push(JoinOut::LateRight(record.0, record.1));
            continue;
        }
        let (k, value) = record;
        let buf = right
            .entry(k.clone())
            .or_insert_with(|| state.right.get(&k).cloned().unwrap_or_default());
        buf.push(Buffered {
            ts: b,
            value,
            matched: false,
        });
        new_right.push((k.clone(), buf.len() - 1));
        index.push((b.saturating_add(upper), k));
    }
    let old_left_len: FxHashMap<K, usize> = state
        .left
        .iter()
        .map(|(k, v)| (k.clone(), v.len()))
        .collect();
    for record in left_in {
        let a = lts(&record);
        *seen.lmax = Some(seen.lmax.map_or(a, |m| m.max(a)));
        if a < w {
            *seen.late += 1;
            seen.out.push(JoinOut::LateLeft(record.0, record.1));
            continue;
        }
        let (k, value) = record;
        let mut matched = false;
        let rbuf = right
            .entry(k.clone())
            .or_insert_with(|| state.right.get(&k).cloned().unwrap_or_default());
        for r in rbuf.iter_mut() {
            if r.ts.saturating_sub(lower) <= a && a <= r.ts.saturating_add(upper) {
                rows.push(JoinOut::Row(
                    k.clone(),
                    Some(value.clone()),
                    Some(r.value.clone()),
                ));
                r.matched = true;
                matched = true;
            }
        }
        let lbuf = left
            .entry(k.clone())
            .or_insert_with(|| state.left.get(&k).cloned().unwrap_or_default());
        lbuf.push(Buffered {
            ts: a,
            value,
            matched,
        });
        index.push((a.saturating_add(lower), k));
    }
    for (k, i) in new_right {
        let old = old_left_len.get(&k).copied().unwrap_or(0);
        let lbuf = left
            .entry(k.clone())
            .or_insert_with(|| state.left.get(&k).cloned().unwrap_or_default());
        let rbuf = right.get_mut(&k);
        let Some(r) = rbuf.and_then(|b| b.get_mut(i)) else {
            continue;
        };
        for l in lbuf.iter_mut().take(old) {
            if r.ts.saturating_sub(lower) <= l.ts && l.ts <= r.ts.saturating_add(upper) {
                rows.push(JoinOut::Row(
                    k.clone(),
                    Some(l.value.clone()),
                    Some(r.value.clone()),
                ));
                l.matched = true;
                r.matched = true;
            }
        }
    }
    // Expire what no on-time record can match any more.
    let expiring: Vec<&K> = state
        .expiry
        .range(..w)
        .flat_map(|(_, keys)| keys.iter())
        .collect();
    let expire_through = (!expiring.is_empty()).then(|| w.saturating_sub(1));
    let emit_left = matches!(kind, JoinKind::LeftOuter | JoinKind::FullOuter);
    let emit_right = matches!(kind, JoinKind::RightOuter | JoinKind::FullOuter);
    for k in expiring {
        let lbuf = left
            .entry(k.clone())
            .or_insert_with(|| state.left.get(k).cloned().unwrap_or_default());
        lbuf.retain(|l| {
            let keep = l.ts.saturating_add(lower) >= w;
            if !keep && !l.matched && emit_left {
                rows.push(JoinOut::Row(k.clone(), Some(l.value.clone()), None));
            }
            keep
        });
        let rbuf = right
            .entry(k.clone())
            .or_insert_with(|| state.right.get(k).cloned().unwrap_or_default());
        rbuf.retain(|r| {
            let keep = r.ts.saturating_add(upper) >= w;
            if !keep && !r.matched && emit_right {
                rows.push(JoinOut::Row(k.clone(), None, Some(r.value.clone())));
            }
            keep
        });
    }
    (
        rows,
        JoinDelta {
            left,
            right,
            expire_through,
            index,
        },
    )
}

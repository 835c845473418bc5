//! [`StreamingContext`]: owns the stream graph and runs it, one micro-batch per interval.

use super::DStream;
use super::clock::{Clock, SystemClock};
use super::metrics::{BatchInfo, StreamingListener};
use super::node::{AnyNode, GraphShared, StreamNode};
use super::source::{QueueHandle, QueueSource, Source, SourceOffset};
use crate::context::{SpateContext, split_even};
use crate::data::Data;
use crate::error::{Error, Result};
use crate::plan::{SharedBatch, TypeOps};
use crate::rdd::Rdd;
use crate::scheduler::panic_message;
use crate::storage::lock;
use crate::time::{BatchTime, whole_millis};
use std::collections::{BTreeMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How many completed batches' metrics the context keeps for [`StreamingContext::batch_history`].
const HISTORY: usize = 10_000;

const RUN: u8 = 0;
const STOP_GRACEFUL: u8 = 1;
const STOP_NOW: u8 = 2;

/// A source registered with the context, type-erased.
pub(crate) trait AnyInput: Send + Sync {
    fn name(&self) -> String;
    fn start(&self) -> Result<()>;
    /// Polls the source for batch `t`; returns (records, skipped, bytes).
    fn fetch(&self, t: BatchTime, max_records: Option<u64>) -> Result<(u64, u64, u64)>;
    fn is_exhausted(&self) -> bool;
    fn offset(&self) -> Option<SourceOffset>;
    fn seek(&self, offset: &SourceOffset) -> Result<()>;
    fn stop(&self);
    /// Polls the source for batch `t` and splits the records into `partitions` partitions
    /// (the leader of several workers); returns them with (records, skipped, bytes).
    fn poll_split(
        &self,
        t: BatchTime,
        max_records: Option<u64>,
        partitions: usize,
    ) -> Result<(Vec<SharedBatch>, (u64, u64, u64))>;
    /// Whether every worker reads this source itself (see [`Source::read_by_every_worker`]).
    fn read_by_every_worker(&self) -> bool;
    /// Reads batch `t` on this worker, keeping the partitions `keep` selects; returns them
    /// (`None` for the others) with what the whole batch held.
    fn poll_parts(
        &self,
        t: BatchTime,
        max_records: Option<u64>,
        partitions: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Result<(Vec<Option<SharedBatch>>, InputCounts)>;
    /// The operations of the record type, to ship partitions between workers.
    fn ops(&self) -> TypeOps;
    /// Installs the batch of `t` from the partitions this worker owns.
    fn install(&self, t: BatchTime, parts: Vec<Option<SharedBatch>>) -> Result<()>;
}

struct InputNode<S: Source> {
    source: Mutex<S>,
    name: String,
    fetched: Arc<Mutex<BTreeMap<BatchTime, Rdd<S::Item>>>>,
    node: std::sync::OnceLock<Arc<StreamNode<S::Item>>>,
    sc: SpateContext,
    partitions: usize,
}

impl<S: Source> AnyInput for InputNode<S> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn start(&self) -> Result<()> {
        lock(&self.source).start()
    }

    fn fetch(&self, t: BatchTime, max_records: Option<u64>) -> Result<(u64, u64, u64)> {
        let batch = lock(&self.source).next_batch(t, max_records)?;
        let n = batch.records.len() as u64;
        let rdd = self
            .sc
            .parallelize_named("input", batch.records, self.partitions);
        lock(&self.fetched).insert(t, rdd);
        // Hand the batch to the stream node right away, so its lifetime follows the
        // node's remember rules even if no output reads this input.
        if let Some(node) = self.node.get() {
            node.get_or_compute(t)?;
        }
        Ok((n, batch.skipped, batch.bytes))
    }

    fn is_exhausted(&self) -> bool {
        lock(&self.source).is_exhausted()
    }

    fn offset(&self) -> Option<SourceOffset> {
        lock(&self.source).offset()
    }

    fn seek(&self, offset: &SourceOffset) -> Result<()> {
        lock(&self.source).seek(offset)
    }

    fn stop(&self) {
        lock(&self.source).stop();
    }

    fn poll_split(
        &self,
        t: BatchTime,
        max_records: Option<u64>,
        partitions: usize,
    ) -> Result<(Vec<SharedBatch>, (u64, u64, u64))> {
        let batch = lock(&self.source).next_batch(t, max_records)?;
        let n = batch.records.len() as u64;
        let parts = split_even(batch.records, partitions)
            .into_iter()
            .map(|p| Arc::new(p) as SharedBatch)
            .collect();
        Ok((parts, (n, batch.skipped, batch.bytes)))
    }

    fn read_by_every_worker(&self) -> bool {
        lock(&self.source).read_by_every_worker()
    }

    fn poll_parts(
        &self,
        t: BatchTime,
        max_records: Option<u64>,
        partitions: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Result<(Vec<Option<SharedBatch>>, InputCounts)> {
        let batch = lock(&self.source).next_batch_parts(t, max_records, partitions, keep)?;
        if batch.parts.len() != partitions {
            return Err(Error::Source {
                source_name: self.name.clone(),
                message: format!(
                    "next_batch_parts returned {} partitions for {partitions}",
                    batch.parts.len()
                ),
            });
        }
        let parts = batch
            .parts
            .into_iter()
            .map(|p| p.map(|records| Arc::new(records) as SharedBatch))
            .collect();
        let counts = InputCounts {
            records: batch.records,
            skipped: batch.skipped,
            bytes: batch.bytes,
            digest: batch.digest,
        };
        Ok((parts, counts))
    }

    fn ops(&self) -> TypeOps {
        TypeOps::of::<S::Item>()
    }

    fn install(&self, t: BatchTime, parts: Vec<Option<SharedBatch>>) -> Result<()> {
        let rdd = self.sc.placed_partitions_rdd("input", parts, None);
        lock(&self.fetched).insert(t, rdd);
        if let Some(node) = self.node.get() {
            node.get_or_compute(t)?;
        }
        Ok(())
    }
}

/// An output operation: runs a job for every batch.
pub(crate) struct OutputOp {
    pub name: &'static str,
    pub node: Arc<dyn AnyNode>,
    pub run: Box<dyn Fn(BatchTime) -> Result<()> + Send + Sync>,
}

#[derive(Default)]
pub(crate) struct Graph {
    pub inputs: Vec<Arc<dyn AnyInput>>,
    pub outputs: Vec<Arc<OutputOp>>,
    /// Every node, in creation (hence topological) order.
    pub nodes: Vec<Arc<dyn AnyNode>>,
    pub managed: Vec<Arc<dyn super::managed::AnyManaged>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    Initialized,
    Active,
    Stopped,
}

struct RunState {
    lifecycle: Lifecycle,
    last_completed: Option<BatchTime>,
    failure: Option<Error>,
    failure_text: Option<String>,
}

pub(crate) struct Inner {
    pub sc: SpateContext,
    pub batch_ms: u64,
    pub clock: Arc<dyn Clock>,
    pub shared: Arc<GraphShared>,
    pub graph: Mutex<Graph>,
    pub partitions: usize,
    pub(crate) max_records_per_batch: Option<u64>,
    pub(crate) rate: Mutex<Option<super::backpressure::RateController>>,
    run: Mutex<RunState>,
    run_signal: Condvar,
    stop_mode: AtomicU8,
    /// The last batch to run (ms), or `u64::MAX` for no limit; see [`StreamingContext::stop_after`].
    stop_after_ms: AtomicU64,
    listeners: Mutex<Vec<Arc<dyn StreamingListener>>>,
    history: Mutex<VecDeque<BatchInfo>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    generator: Mutex<Option<std::thread::ThreadId>>,
    /// The first batch time to run, when recovering from a checkpoint.
    pub(crate) resume_at: Mutex<Option<BatchTime>>,
    /// Source offsets to seek to when recovering, by input index.
    pub(crate) resume_offsets: Mutex<Vec<Option<SourceOffset>>>,
    pub(crate) recovered_from: Mutex<Option<BatchTime>>,
    pub(crate) checkpointer: Mutex<Option<super::checkpoint::Checkpointer>>,
}

/// Runs a graph of [`DStream`]s: every batch interval it polls the sources, runs the output
/// operations, commits state and records metrics.
///
/// ```
/// use spate_core::SpateContext;
/// use spate_core::stream::{ManualClock, StreamingContext};
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let ssc = StreamingContext::builder(&SpateContext::sequential(2))
///     .batch_interval(Duration::from_secs(1))
///     .clock(clock.clone())
///     .build()?;
/// let (queue, lines) = ssc.queue_stream::<String>(true)?;
/// let totals = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&totals);
/// lines
///     .flat_map(|l: String| l.split(' ').map(String::from).collect::<Vec<_>>())
///     .map(|w| (w, 1_u64))
///     .reduce_by_key(|a, b| a + b)
///     .foreach_rdd(move |rdd, _time| {
///         let mut counts = rdd.collect()?;
///         counts.sort();
///         sink.lock().unwrap().push(counts);
///         Ok(())
///     })?;
/// ssc.start()?;
/// queue.push(vec!["a b a".to_string()]);
/// clock.advance(Duration::from_secs(1));
/// ssc.await_batch(spate_core::BatchTime(1000))?;
/// ssc.stop(false)?;
/// assert_eq!(totals.lock().unwrap()[0], vec![("a".to_string(), 2), ("b".to_string(), 1)]);
/// # Ok::<(), spate_core::Error>(())
/// ```
#[derive(Clone)]
pub struct StreamingContext {
    pub(crate) inner: Arc<Inner>,
}

/// Configures a [`StreamingContext`]; see [`StreamingContext::builder`].
pub struct StreamingContextBuilder {
    sc: SpateContext,
    batch: Duration,
    clock: Option<Arc<dyn Clock>>,
    partitions: Option<usize>,
    max_records_per_batch: Option<u64>,
    backpressure: Option<super::backpressure::Backpressure>,
}

impl StreamingContextBuilder {
    /// The micro-batch interval (default 1 s).
    pub fn batch_interval(mut self, interval: Duration) -> Self {
        self.batch = interval;
        self
    }

    /// The clock that drives batches (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// A shared clock.
    pub fn shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How many partitions input batches and keyed operators use (default: the context's
    /// parallelism).
    pub fn partitions(mut self, partitions: usize) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// The most records a source may deliver per batch (default: unlimited).
    pub fn max_records_per_batch(mut self, max: u64) -> Self {
        self.max_records_per_batch = Some(max);
        self
    }

    /// Enables backpressure: the records sources may deliver per batch adapt to the
    /// processing rate (see [`Backpressure`](super::Backpressure)).
    pub fn backpressure(mut self, config: super::backpressure::Backpressure) -> Self {
        self.backpressure = Some(config);
        self
    }

    /// Checks the configuration and creates the context.
    pub fn build(self) -> Result<StreamingContext> {
        let batch_ms = whole_millis("batch_interval", self.batch)?;
        if self.partitions == Some(0) {
            return Err(Error::invalid("partitions", 0, "must be at least 1"));
        }
        if self.max_records_per_batch == Some(0) {
            return Err(Error::invalid(
                "max_records_per_batch",
                0,
                "must be at least 1",
            ));
        }
        if let Some(bp) = &self.backpressure {
            bp.check()?;
        }
        let partitions = self
            .partitions
            .unwrap_or_else(|| self.sc.default_parallelism());
        let rate = self
            .backpressure
            .map(|bp| super::backpressure::RateController::new(bp, batch_ms));
        Ok(StreamingContext {
            inner: Arc::new(Inner {
                batch_ms,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock::new())),
                shared: Arc::new(GraphShared::new()),
                graph: Mutex::new(Graph::default()),
                partitions,
                max_records_per_batch: self.max_records_per_batch,
                rate: Mutex::new(rate),
                run: Mutex::new(RunState {
                    lifecycle: Lifecycle::Initialized,
                    last_completed: None,
                    failure: None,
                    failure_text: None,
                }),
                run_signal: Condvar::new(),
                stop_mode: AtomicU8::new(RUN),
                stop_after_ms: AtomicU64::new(u64::MAX),
                listeners: Mutex::new(Vec::new()),
                history: Mutex::new(VecDeque::new()),
                thread: Mutex::new(None),
                generator: Mutex::new(None),
                resume_at: Mutex::new(None),
                resume_offsets: Mutex::new(Vec::new()),
                recovered_from: Mutex::new(None),
                checkpointer: Mutex::new(None),
                sc: self.sc,
            }),
        })
    }
}

impl StreamingContext {
    /// Starts configuring a context on `sc`.
    pub fn builder(sc: &SpateContext) -> StreamingContextBuilder {
        StreamingContextBuilder {
            sc: sc.clone(),
            batch: Duration::from_secs(1),
            clock: None,
            partitions: None,
            max_records_per_batch: None,
            backpressure: None,
        }
    }

    /// A context on `sc` with the system clock and the given batch interval.
    pub fn new(sc: &SpateContext, batch_interval: Duration) -> Result<StreamingContext> {
        StreamingContext::builder(sc)
            .batch_interval(batch_interval)
            .build()
    }

    /// The batch context's RDD context.
    pub fn spate_context(&self) -> &SpateContext {
        &self.inner.sc
    }

    /// The batch interval.
    pub fn batch_interval(&self) -> Duration {
        Duration::from_millis(self.inner.batch_ms)
    }

    /// The default number of partitions of input batches and keyed operators.
    pub fn default_partitions(&self) -> usize {
        self.inner.partitions
    }

    pub(crate) fn shared(&self) -> &Arc<GraphShared> {
        &self.inner.shared
    }

    pub(crate) fn register<T: Data>(&self, node: Arc<StreamNode<T>>) -> DStream<T> {
        lock(&self.inner.graph)
            .nodes
            .push(Arc::clone(&node) as Arc<dyn AnyNode>);
        DStream {
            node,
            ssc: self.clone(),
        }
    }

    pub(crate) fn ensure_not_started(&self, action: &'static str) -> Result<()> {
        match lock(&self.inner.run).lifecycle {
            Lifecycle::Initialized => Ok(()),
            Lifecycle::Active => Err(Error::Lifecycle {
                action,
                state: "already started",
            }),
            Lifecycle::Stopped => Err(Error::Lifecycle {
                action,
                state: "stopped",
            }),
        }
    }

    pub(crate) fn add_output(&self, op: OutputOp) -> Result<()> {
        self.ensure_not_started("add an output operation")?;
        lock(&self.inner.graph).outputs.push(Arc::new(op));
        Ok(())
    }

    /// A stream fed by `source`.
    pub fn source_stream<S: Source>(&self, source: S) -> Result<DStream<S::Item>> {
        self.ensure_not_started("add a source")?;
        let name = source.name();
        let fetched = Arc::new(Mutex::new(BTreeMap::new()));
        let input = Arc::new(InputNode {
            source: Mutex::new(source),
            name: name.clone(),
            fetched: Arc::clone(&fetched),
            node: std::sync::OnceLock::new(),
            sc: self.inner.sc.clone(),
            partitions: self.inner.partitions,
        });
        let sc = self.inner.sc.clone();
        let node = StreamNode::new(
            &self.inner.shared,
            "source",
            self.inner.batch_ms,
            Vec::new(),
            name,
            move |t| {
                let taken = lock(&fetched).remove(&t);
                Ok(Some(taken.unwrap_or_else(|| sc.empty())))
            },
        );
        let _ = input.node.set(Arc::clone(&node));
        lock(&self.inner.graph).inputs.push(input);
        Ok(self.register(node))
    }

    /// An in-memory queue stream (Spark's `queueStream`) and the handle to feed it.
    pub fn queue_stream<T: Data>(
        &self,
        one_at_a_time: bool,
    ) -> Result<(QueueHandle<T>, DStream<T>)> {
        let (handle, source) = QueueSource::new(one_at_a_time);
        Ok((handle, self.source_stream(source)?))
    }

    /// The union of several streams of the same type and interval.
    pub fn union<T: Data>(&self, streams: &[DStream<T>]) -> Result<DStream<T>> {
        let (first, rest) = streams
            .split_first()
            .ok_or_else(|| Error::invalid("streams", "[]", "union needs at least one stream"))?;
        rest.iter().try_fold(first.clone(), |acc, s| acc.union(s))
    }

    /// Registers a listener for batch events.
    pub fn add_listener(&self, listener: impl StreamingListener) {
        lock(&self.inner.listeners).push(Arc::new(listener));
    }

    /// Metrics of completed batches, oldest first (the last 10 000).
    pub fn batch_history(&self) -> Vec<BatchInfo> {
        lock(&self.inner.history).iter().cloned().collect()
    }

    /// Starts generating batches on a background thread.
    pub fn start(&self) -> Result<()> {
        {
            let run = lock(&self.inner.run);
            match run.lifecycle {
                Lifecycle::Initialized => {}
                Lifecycle::Active => {
                    return Err(Error::Lifecycle {
                        action: "start",
                        state: "already started",
                    });
                }
                Lifecycle::Stopped => {
                    return Err(Error::Lifecycle {
                        action: "start",
                        state: "stopped (create a new context to run again)",
                    });
                }
            }
        }
        let first = self.prepare_start()?;
        lock(&self.inner.run).lifecycle = Lifecycle::Active;
        let inner = Arc::clone(&self.inner);
        let handle = std::thread::Builder::new()
            .name("spate-batches".into())
            .spawn(move || {
                let runtime = Arc::clone(&inner.sc.env.runtime);
                runtime.drive(Box::new(move || {
                    if inner.sc.workers() > 1 {
                        crate::runtime::set_current_worker(inner.sc.worker(), inner.sc.workers());
                    }
                    run_loop(inner, first)
                }));
            })
            .map_err(|e| Error::io("spate-batches thread", e))?;
        *lock(&self.inner.generator) = Some(handle.thread().id());
        *lock(&self.inner.thread) = Some(handle);
        Ok(())
    }

    /// Validates the graph, fixes the zero time and starts sources; returns the first batch.
    fn prepare_start(&self) -> Result<BatchTime> {
        let inner = &self.inner;
        let (inputs, nodes) = {
            let graph = lock(&inner.graph);
            if graph.outputs.is_empty() {
                return Err(Error::NoOutputOperations);
            }
            (graph.inputs.clone(), graph.nodes.clone())
        };
        let resume_at = *lock(&inner.resume_at);
        let mut first = match resume_at {
            Some(t) => t,
            None => {
                let now = inner.clock.now_ms();
                let zero = if inner.clock.aligns_start() {
                    now - now % inner.batch_ms
                } else {
                    now
                };
                inner.shared.zero_ms.store(zero, Ordering::Relaxed);
                BatchTime(zero + inner.batch_ms)
            }
        };
        let recovered_from = *lock(&inner.recovered_from);
        let recovering = recovered_from.is_some();
        let distributed = inner.sc.workers() > 1;
        if distributed {
            // Every worker checks that all built the same program alike, and takes the
            // leader's zero time, so batch times (and output names) agree everywhere.
            let zero = super::distributed::start_round(
                inner,
                super::distributed::StartReport {
                    fingerprint: super::checkpoint::fingerprint(inner),
                    workers: inner.sc.workers(),
                    partitions: inner.partitions,
                    default_parallelism: inner.sc.default_parallelism(),
                    batch_ms: inner.batch_ms,
                    recovered_from: recovered_from.map(|t| t.0),
                    read_by_every_worker: inputs.iter().map(|i| i.read_by_every_worker()).collect(),
                    zero_ms: inner.shared.zero(),
                },
            )?;
            inner.shared.zero_ms.store(zero, Ordering::Relaxed);
            if resume_at.is_none() {
                first = BatchTime(zero + inner.batch_ms);
            }
        }
        if !recovering {
            for node in &nodes {
                if let Some(state) = node.stateful() {
                    state.on_start()?;
                }
            }
        }
        let offsets = std::mem::take(&mut *lock(&inner.resume_offsets));
        // The leader reads every source (and scatters the batches of most); the other
        // workers read only those every worker reads.
        let leader = inner.sc.is_leader();
        for (i, input) in inputs.iter().enumerate() {
            if !leader && !input.read_by_every_worker() {
                continue;
            }
            input.start()?;
            match offsets.get(i) {
                Some(Some(offset)) => input.seek(offset)?,
                Some(None) => tracing::warn!(
                    source = %input.name(),
                    "source is not replayable: records it delivered after the checkpoint are not replayed"
                ),
                None => {}
            }
        }
        if !recovering && let Some(checkpointer) = lock(&inner.checkpointer).as_mut() {
            // A first checkpoint before any batch fixes the zero time, the initial state and
            // the sources' starting offsets, so a crash before the first periodic checkpoint
            // still restarts with the same batch times (and the same output names).
            checkpointer.write(inner, BatchTime(first.0 - inner.batch_ms))?;
            checkpointer.finish()?;
        }
        tracing::info!(
            batch_ms = inner.batch_ms,
            first_batch = first.0,
            inputs = inputs.len(),
            runtime = %inner.sc.runtime_name(),
            "streaming context started"
        );
        Ok(first)
    }

    /// Runs no batch after the one at `time`: the generator stops once that batch has
    /// completed (or at once, if it has already completed).
    /// Unlike calling [`stop`](Self::stop) after [`await_batch`](Self::await_batch), no later
    /// batch can slip in between. May be called before or after [`start`](Self::start); the
    /// earliest time given wins.
    pub fn stop_after(&self, time: BatchTime) {
        self.inner.stop_after_ms.fetch_min(time.0, Ordering::SeqCst);
        self.inner.clock.wake();
    }

    /// Stops generating batches. With `graceful`, the batch in progress finishes and one
    /// more batch runs at once to drain data the sources already hold; otherwise only the
    /// batch in progress finishes. Returns when the generator thread has exited, or at once
    /// when called from inside an output operation.
    pub fn stop(&self, graceful: bool) -> Result<()> {
        let mode = if graceful { STOP_GRACEFUL } else { STOP_NOW };
        self.inner.stop_mode.fetch_max(mode, Ordering::SeqCst);
        self.inner.clock.wake();
        {
            let mut run = lock(&self.inner.run);
            if run.lifecycle == Lifecycle::Initialized {
                run.lifecycle = Lifecycle::Stopped;
                self.inner.run_signal.notify_all();
                return Ok(());
            }
        }
        let on_generator = *lock(&self.inner.generator) == Some(std::thread::current().id());
        if on_generator {
            return Ok(());
        }
        let handle = lock(&self.inner.thread).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        Ok(())
    }

    /// Writes a checkpoint of the state after the last completed batch, unless the periodic
    /// schedule already wrote it: for a program that stops before its input is exhausted (a
    /// batch limit, a signal), so that a restart continues right after the last batch
    /// instead of recomputing the batches since the last periodic checkpoint.
    ///
    /// Call it once the context has stopped ([`await_termination`](Self::await_termination)
    /// returned). After a failed batch it writes nothing: the restart then recomputes from the
    /// last checkpoint, which is the exactly-once path. Returns the batch checkpointed, if it
    /// wrote one.
    pub fn write_final_checkpoint(&self) -> Result<Option<BatchTime>> {
        let last = {
            let run = lock(&self.inner.run);
            if run.lifecycle != Lifecycle::Stopped {
                return Err(Error::Lifecycle {
                    action: "write a final checkpoint",
                    state: "not stopped yet (call it after await_termination)",
                });
            }
            if run.failure.is_some() || run.failure_text.is_some() {
                return Ok(None);
            }
            run.last_completed
        };
        let Some(t) = last else {
            return Ok(None);
        };
        let written = match lock(&self.inner.checkpointer).as_mut() {
            Some(checkpointer) => checkpointer.write_pending(&self.inner, t)?,
            None => false,
        };
        Ok(written.then_some(t))
    }

    /// Blocks until the context stops; returns the error that stopped it, if any.
    pub fn await_termination(&self) -> Result<()> {
        let mut run = lock(&self.inner.run);
        while run.lifecycle != Lifecycle::Stopped {
            run = self
                .inner
                .run_signal
                .wait(run)
                .unwrap_or_else(|p| p.into_inner());
        }
        take_failure(&mut run)
    }

    /// Like [`await_termination`](Self::await_termination) with a timeout: `Ok(true)` if the
    /// context stopped, `Ok(false)` if the time ran out first.
    pub fn await_termination_or_timeout(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut run = lock(&self.inner.run);
        while run.lifecycle != Lifecycle::Stopped {
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            run = self
                .inner
                .run_signal
                .wait_timeout(run, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        take_failure(&mut run).map(|()| true)
    }

    /// Blocks until the batch at `time` has completed. Fails if the context stops first.
    /// With a [`ManualClock`](super::ManualClock), advance the clock, then call this.
    pub fn await_batch(&self, time: BatchTime) -> Result<()> {
        let mut run = lock(&self.inner.run);
        loop {
            if run.last_completed.is_some_and(|t| t >= time) {
                return Ok(());
            }
            if run.lifecycle == Lifecycle::Stopped {
                take_failure(&mut run)?;
                return Err(Error::Stopped);
            }
            run = self
                .inner
                .run_signal
                .wait(run)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The time of the last completed batch.
    pub fn last_completed_batch(&self) -> Option<BatchTime> {
        lock(&self.inner.run).last_completed
    }

    /// The context's zero time: batch `k` has time `zero + k·interval`.
    pub fn zero_time(&self) -> BatchTime {
        BatchTime(self.inner.shared.zero())
    }
}

fn take_failure(run: &mut RunState) -> Result<()> {
    if let Some(e) = run.failure.take() {
        return Err(e);
    }
    if let Some(text) = &run.failure_text {
        return Err(Error::Source {
            source_name: "streaming context".into(),
            message: format!("stopped after a failed batch: {text}"),
        });
    }
    Ok(())
}

/// The batch generator: waits for each batch time, runs the batch, repeats.
fn run_loop(inner: Arc<Inner>, first: BatchTime) {
    // Marks the context stopped however this thread ends, even by a panic outside the
    // guarded batch (a logger writing to a closed pipe), so `await_termination` returns.
    let mut termination = Termination {
        inner: &inner,
        failure: None,
    };
    termination.failure = if inner.sc.workers() > 1 {
        super::distributed::run_loop(&inner, first)
    } else {
        run_loop_single(&inner, first)
    };
    // The last checkpoint is on disk before the context reports itself stopped.
    if let Some(checkpointer) = lock(&inner.checkpointer).as_mut()
        && let Err(e) = checkpointer.finish()
    {
        tracing::error!("writing a checkpoint failed: {e}");
        termination.failure.get_or_insert(e);
    }
    let inputs = lock(&inner.graph).inputs.clone();
    let leader = inner.sc.is_leader();
    for input in inputs {
        if (leader || input.read_by_every_worker())
            && let Err(payload) = catch_unwind(AssertUnwindSafe(|| input.stop()))
        {
            tracing::error!("stopping a source panicked: {}", panic_message(&*payload));
        }
    }
    let listeners = lock(&inner.listeners).clone();
    for l in &listeners {
        let failure = termination.failure.as_ref();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| l.on_stopped(failure))) {
            tracing::error!(
                "a listener's on_stopped panicked: {}",
                panic_message(&*payload)
            );
        }
    }
}

/// The batch loop of a single worker; returns the failure that stopped it, if any.
fn run_loop_single(inner: &Inner, first: BatchTime) -> Option<Error> {
    let mut t = first;
    let mut progress = Progress::default();
    loop {
        match progress.next(inner, t) {
            Next::Stop => return None,
            Next::Retry => continue,
            Next::Run => {}
        }
        // A panic on this thread (in an output operation, which runs on the driver, or in a
        // listener) fails the batch like an error: the context stops and `await_termination`
        // reports it, instead of waiting forever for a thread that is gone.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let info = run_batch(inner, t)?;
            publish(inner, info);
            Ok(())
        }))
        .unwrap_or_else(|payload| Err(driver_panic(&*payload)));
        if let Err(e) = outcome {
            tracing::error!(batch = t.0, "batch failed, stopping the context: {e}");
            return Some(Error::BatchFailed {
                time: t,
                source: Box::new(e),
            });
        }
        progress.after_batch(inner, t);
        t = t.plus_ms(inner.batch_ms);
    }
}

/// What the batch generator does next.
pub(crate) enum Next {
    /// Run the batch.
    Run,
    /// Stop the context.
    Stop,
    /// Woken before the batch time: decide again.
    Retry,
}

/// The generator's view of how the stream is going: the decisions the (leading) worker
/// takes before and after every batch.
#[derive(Default)]
pub(crate) struct Progress {
    /// A graceful stop was requested: run one more batch at once, then stop.
    draining: bool,
    /// The last batch has run (the requested last one, or the final flush).
    finished: bool,
    /// The strongest stop request other workers reported.
    pub peer_stop: u8,
}

impl Progress {
    /// Before batch `t`: stop, run it (after waiting for its time), or wait again.
    pub(crate) fn next(&mut self, inner: &Inner, t: BatchTime) -> Next {
        // Taken before the stop flags are read: a stop after this returns the wait below.
        let wakes = inner.clock.wakes();
        let mode = inner.stop_mode.load(Ordering::SeqCst).max(self.peer_stop);
        if self.finished || mode == STOP_NOW || (self.draining && mode != RUN) {
            return Next::Stop;
        }
        if t.0 > inner.stop_after_ms.load(Ordering::SeqCst) {
            tracing::info!(batch = t.0, "stopping after the requested last batch");
            return Next::Stop;
        }
        if all_exhausted(inner) && !inner.shared.is_final_flush() && !needs_final_flush(inner) {
            // Nothing left to read (for example, restarted after the input was consumed).
            tracing::info!(batch = t.0, "all sources exhausted; stopping");
            return Next::Stop;
        }
        if mode == STOP_GRACEFUL {
            // Process one more batch immediately, with whatever the sources hold.
            self.draining = true;
        } else if inner.clock.wait_until_since(t.0, wakes) < t.0 {
            return Next::Retry; // woken early: re-check the stop flags
        }
        Next::Run
    }

    /// After batch `t` completed: whether it was the last, or the next is the final flush.
    pub(crate) fn after_batch(&mut self, inner: &Inner, t: BatchTime) {
        if t.0 >= inner.stop_after_ms.load(Ordering::SeqCst) {
            tracing::info!(batch = t.0, "the requested last batch completed; stopping");
            self.finished = true;
        } else if all_exhausted(inner) {
            if inner.shared.is_final_flush() || !needs_final_flush(inner) {
                tracing::info!(batch = t.0, "all sources exhausted; stopping");
                self.finished = true;
            } else {
                // One more batch, with watermarks at +∞, to emit what event-time operators
                // hold.
                inner.shared.set_final_flush();
                self.draining = false;
            }
        }
    }

    /// The local stop request, for the leader.
    pub(crate) fn local_stop(inner: &Inner) -> u8 {
        inner.stop_mode.load(Ordering::SeqCst)
    }
}

/// Publishes the end of the batch generator when dropped: the context is stopped, with the
/// failure that stopped it (or a panic of the generator itself), and waiters are woken.
struct Termination<'a> {
    inner: &'a Inner,
    failure: Option<Error>,
}

impl Drop for Termination<'_> {
    fn drop(&mut self) {
        let failure = self.failure.take().or_else(|| {
            std::thread::panicking().then(|| Error::Operator {
                operator: "batch driver".into(),
                message: "the batch thread panicked outside a batch".into(),
            })
        });
        let mut run = lock(&self.inner.run);
        run.failure_text = failure.as_ref().map(ToString::to_string);
        run.failure = failure;
        run.lifecycle = Lifecycle::Stopped;
        self.inner.run_signal.notify_all();
    }
}

/// The error for a panic on the batch thread outside the tasks (which retry on their own).
pub(crate) fn driver_panic(payload: &(dyn std::any::Any + Send)) -> Error {
    Error::Operator {
        operator: "batch driver (an output operation or a listener)".into(),
        message: format!("panicked: {}", panic_message(payload)),
    }
}

fn needs_final_flush(inner: &Inner) -> bool {
    lock(&inner.graph)
        .nodes
        .iter()
        .any(|n| n.stateful().is_some_and(|s| s.needs_final_flush()))
}

fn all_exhausted(inner: &Inner) -> bool {
    let graph = lock(&inner.graph);
    !graph.inputs.is_empty() && graph.inputs.iter().all(|i| i.is_exhausted())
}

/// What the sources delivered for a batch, for its metrics.
#[derive(Clone, Debug, Default)]
pub(crate) struct InputStats {
    pub records: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub limit: Option<u64>,
    pub scheduling_delay_ms: u64,
    /// What each source read by every worker held, by source: the workers compare these
    /// before committing the batch.
    pub read_by_every_worker: Vec<(usize, InputCounts)>,
}

/// What the whole batch of a source held, as one worker read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct InputCounts {
    pub records: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub digest: u64,
}

/// Runs every step of one batch on a single worker.
pub(crate) fn run_batch(inner: &Inner, t: BatchTime) -> Result<BatchInfo> {
    let started = Instant::now();
    let scheduling_delay_ms = inner.clock.now_ms().saturating_sub(t.0);
    let inputs = lock(&inner.graph).inputs.clone();
    let limit = inner.rate_limit();
    let mut stats = InputStats {
        limit,
        scheduling_delay_ms,
        ..InputStats::default()
    };
    for input in &inputs {
        let (n, s, b) = input.fetch(t, limit)?;
        stats.records += n;
        stats.skipped += s;
        stats.bytes += b;
    }
    finish_batch(inner, t, started, stats)
}

impl Inner {
    /// The backpressure controller's state, for a checkpoint.
    pub(crate) fn rate_state(&self) -> Option<super::backpressure::RateState> {
        lock(&self.rate).as_ref().map(|r| r.snapshot())
    }

    /// The records a source may deliver this batch: the configured cap and the rate
    /// controller's limit, whichever is smaller.
    pub(crate) fn rate_limit(&self) -> Option<u64> {
        let rate_limit = lock(&self.rate).as_ref().and_then(|r| r.limit());
        match (self.max_records_per_batch, rate_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Everything a batch does once its input is in place: output operations, the state
/// commit (after a round confirming the batch on every worker, when there are several),
/// window panes, forgetting, the checkpoint and the metrics.
pub(crate) fn finish_batch(
    inner: &Inner,
    t: BatchTime,
    started: Instant,
    input: InputStats,
) -> Result<BatchInfo> {
    let nodes = lock(&inner.graph).nodes.clone();
    // Outputs run without the graph lock held: user code in them may build streams.
    let outputs = lock(&inner.graph).outputs.clone();
    for op in &outputs {
        (op.run)(t).inspect_err(|_| {
            tracing::debug!(output = op.name, node = op.node.meta().id, "output failed");
        })?;
    }
    if inner.sc.workers() > 1 {
        super::distributed::confirm_batch(inner, t, &nodes, &input.read_by_every_worker)?;
    }
    let (mut state_size, mut records_late) = (0, 0);
    for node in &nodes {
        if let Some(state) = node.stateful() {
            state.commit(t)?;
            state_size += state.state_size() as u64;
            records_late += state.late_records();
        }
    }
    for node in &nodes {
        node.freeze(t)?;
    }
    for node in &nodes {
        node.forget_old(t);
    }
    let (checkpoint_ms, checkpoint_written) = {
        let mut checkpointer = lock(&inner.checkpointer);
        let checkpointing = checkpointer.is_some();
        let (ms, written) = match checkpointer.as_mut() {
            Some(c) => (c.after_batch(inner, t)?, c.take_written()),
            None => (None, Ok(None)),
        };
        if inner.sc.workers() > 1 && (checkpointing || nodes.iter().any(|n| n.stateful().is_some()))
        {
            // Every worker holds the state of its own partitions and writes its own part of
            // a checkpoint: the batch's figures are sums (a round, which a program without
            // state or checkpoints does without: every worker built the same graph, so all
            // skip it alike).
            let (total, reports) = super::distributed::batch_end(inner, state_size, written)?;
            state_size = total;
            let all = checkpointer.as_mut().and_then(|c| c.all_written(&reports));
            (ms, all)
        } else {
            (ms, written?)
        }
    };
    let processing_time_ms = started.elapsed().as_millis() as u64;
    if let Some(rate) = lock(&inner.rate).as_mut() {
        rate.on_batch(
            t.0,
            input.records,
            processing_time_ms,
            input.scheduling_delay_ms,
        );
    }
    Ok(BatchInfo {
        batch_time: t,
        records_in: input.records,
        input_rate: input.records as f64 * 1000.0 / inner.batch_ms as f64,
        records_skipped: input.skipped,
        records_late,
        bytes_in: input.bytes,
        scheduling_delay_ms: input.scheduling_delay_ms,
        processing_time_ms,
        total_delay_ms: input.scheduling_delay_ms + processing_time_ms,
        state_size,
        rate_limit: input.limit,
        checkpoint_ms,
        checkpoint_written: checkpoint_written.map(|(t, _)| BatchTime(t)),
        checkpoint_bytes: checkpoint_written.map(|(_, bytes)| bytes),
    })
}

pub(crate) fn publish(inner: &Inner, info: BatchInfo) {
    tracing::info!(
        batch = info.batch_time.0,
        records = info.records_in,
        skipped = info.records_skipped,
        scheduling_delay_ms = info.scheduling_delay_ms,
        processing_ms = info.processing_time_ms,
        state = info.state_size,
        "batch completed"
    );
    let listeners = lock(&inner.listeners).clone();
    for l in &listeners {
        l.on_batch_completed(&info);
    }
    {
        let mut history = lock(&inner.history);
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(info.clone());
    }
    let mut run = lock(&inner.run);
    run.last_completed = Some(info.batch_time);
    inner.run_signal.notify_all();
}

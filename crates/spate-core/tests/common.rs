//! Test helpers: runtimes to run the same program on, and naive references.

use spate_core::{Result, Runtime, SpateContext};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs tasks on `threads` scoped OS threads that pull task indices from a shared counter:
/// a deliberately different schedule from the sequential reference.
pub struct ThreadsRuntime {
    pub threads: usize,
}

/// A context on [`ThreadsRuntime`] with `threads` threads and as many default partitions.
pub fn threads_context(threads: usize) -> SpateContext {
    SpateContext::builder(ThreadsRuntime { threads })
        .default_parallelism(threads)
        .build()
        .unwrap()
}

impl Runtime for ThreadsRuntime {
    fn name(&self) -> String {
        format!("threads({})", self.threads)
    }

    fn worker(&self) -> usize {
        0
    }

    fn workers(&self) -> usize {
        1
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn exchange(&self, outgoing: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
        Ok(outgoing)
    }

    fn run_tasks(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..self.threads {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        task(n - 1 - i);
                    }
                });
            }
        });
    }
}

/// Several workers in one process, exchanging bytes over channels: the reference for the
/// runtime boundary's collective contract, so that the core's tests run SPMD programs
/// without an external engine (spate-timely runs the same tests on timely dataflow).
pub struct ChannelRuntime {
    worker: usize,
    workers: usize,
    /// To every worker (including this one).
    outbox: Vec<std::sync::mpsc::Sender<Vec<u8>>>,
    /// From every worker, in sender order.
    inbox: std::sync::Mutex<Vec<std::sync::mpsc::Receiver<Vec<u8>>>>,
}

impl ChannelRuntime {
    /// The runtimes of `workers` workers connected to each other.
    pub fn mesh(workers: usize) -> Vec<ChannelRuntime> {
        let mut senders: Vec<Vec<std::sync::mpsc::Sender<Vec<u8>>>> = vec![Vec::new(); workers];
        let mut receivers: Vec<Vec<std::sync::mpsc::Receiver<Vec<u8>>>> =
            (0..workers).map(|_| Vec::new()).collect();
        for outbox in senders.iter_mut() {
            for inbox in receivers.iter_mut() {
                let (tx, rx) = std::sync::mpsc::channel();
                outbox.push(tx);
                inbox.push(rx);
            }
        }
        senders
            .into_iter()
            .zip(receivers)
            .enumerate()
            .map(|(worker, (outbox, inbox))| ChannelRuntime {
                worker,
                workers,
                outbox,
                inbox: std::sync::Mutex::new(inbox),
            })
            .collect()
    }
}

impl Runtime for ChannelRuntime {
    fn name(&self) -> String {
        format!("channels(worker {} of {})", self.worker, self.workers)
    }

    fn worker(&self) -> usize {
        self.worker
    }

    fn workers(&self) -> usize {
        self.workers
    }

    fn threads(&self) -> usize {
        2
    }

    fn run_tasks(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        ThreadsRuntime { threads: 2 }.run_tasks(n, task);
    }

    fn exchange(&self, outgoing: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
        let inbox = self.inbox.lock().unwrap();
        for (to, bytes) in outgoing.into_iter().enumerate() {
            // A peer that has finished drops its receivers; its absence shows below.
            let _ = self.outbox[to].send(bytes);
        }
        inbox
            .iter()
            .enumerate()
            .map(|(from, rx)| {
                rx.recv_timeout(std::time::Duration::from_secs(60))
                    .map_err(|e| spate_core::Error::Runtime {
                        message: format!("worker {from} did not answer: {e}"),
                    })
            })
            .collect()
    }
}

/// `workers` contexts of one SPMD execution, each with `partitions` default partitions.
pub type SpmdFactory = fn(workers: usize, partitions: usize) -> Vec<SpateContext>;

/// Contexts of `workers` workers exchanging over channels.
pub fn channel_contexts(workers: usize, partitions: usize) -> Vec<SpateContext> {
    ChannelRuntime::mesh(workers)
        .into_iter()
        .map(|runtime| {
            SpateContext::builder(runtime)
                .default_parallelism(partitions)
                .build()
                .unwrap()
        })
        .collect()
}

/// Runs `body` as an SPMD program on the contexts of one execution, each on its own
/// thread, and returns every worker's result, in worker order. A panic on any worker fails
/// the test with that worker's message.
pub fn on_contexts<R: Send>(
    contexts: Vec<SpateContext>,
    body: impl Fn(SpateContext) -> R + Sync,
) -> Vec<R> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = contexts
            .into_iter()
            .map(|sc| {
                let body = &body;
                scope.spawn(move || body(sc))
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(w, h)| match h.join() {
                Ok(r) => r,
                Err(payload) => {
                    let text = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    panic!("worker {w} panicked: {text}")
                }
            })
            .collect()
    })
}

/// Runs `body` on `workers` workers exchanging over channels.
pub fn on_workers<R: Send>(
    workers: usize,
    partitions: usize,
    body: impl Fn(SpateContext) -> R + Sync,
) -> Vec<R> {
    on_contexts(channel_contexts(workers, partitions), body)
}

/// The multi-worker setups every test runs on: channels here, and whatever the including
/// test crate adds (`crate::extra::spmd_setups`, e.g. timely workers).
fn spmd_setups() -> Vec<(usize, SpmdFactory)> {
    let mut setups: Vec<(usize, SpmdFactory)> = vec![(2, channel_contexts), (3, channel_contexts)];
    setups.extend(crate::extra::spmd_setups());
    setups
}

/// Runs `body` on every reference setup: the sequential runtime, a multi-threaded one, and
/// every multi-worker setup, all with `partitions` default partitions. Returns each setup's
/// results (one per worker) so a test can compare them.
pub fn on_every_runtime<R: Send>(
    partitions: usize,
    body: impl Fn(SpateContext) -> R + Sync,
) -> Vec<Vec<R>> {
    let mut results = vec![
        vec![body(SpateContext::sequential(partitions))],
        vec![body(
            SpateContext::builder(ThreadsRuntime { threads: 3 })
                .default_parallelism(partitions)
                .build()
                .unwrap(),
        )],
    ];
    for (workers, factory) in spmd_setups() {
        results.push(on_contexts(factory(workers, partitions), &body));
    }
    results
}

/// Runs a test body on every setup (see [`on_every_runtime`]), with 3 default partitions.
pub fn each_context(body: impl Fn(SpateContext) + Sync) {
    on_every_runtime(3, body);
}

/// Sorts a clone, for order-insensitive comparisons.
pub fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

use spate_core::stream::{ManualClock, QueueHandle, StreamingContext};
use spate_core::{BatchTime, DStream, Data};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A streaming context on a manual clock with 1 s batches, fed by a queue.
pub struct Harness<T> {
    pub ssc: StreamingContext,
    pub clock: ManualClock,
    pub queue: QueueHandle<T>,
    pub input: DStream<T>,
    batches_run: u64,
}

/// Collected output: (batch time, records) per batch the stream produced.
pub type Collected<U> = Arc<Mutex<Vec<(BatchTime, Vec<U>)>>>;

impl<T: Data> Harness<T> {
    pub fn new(sc: &SpateContext, partitions: usize) -> Harness<T> {
        let clock = ManualClock::new();
        let ssc = StreamingContext::builder(sc)
            .batch_interval(Duration::from_secs(1))
            .clock(clock.clone())
            .partitions(partitions)
            .build()
            .unwrap();
        let (queue, input) = ssc.queue_stream::<T>(true).unwrap();
        Harness {
            ssc,
            clock,
            queue,
            input,
            batches_run: 0,
        }
    }

    /// Registers an output collecting every RDD of `stream`.
    pub fn collect<U: Data>(&self, stream: &DStream<U>) -> Collected<U> {
        let out: Collected<U> = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&out);
        stream
            .foreach_rdd(move |rdd, t| {
                let records = rdd.collect()?;
                sink.lock().unwrap().push((t, records));
                Ok(())
            })
            .unwrap();
        out
    }

    /// Feeds one batch per element of `batches` and waits for each to complete.
    pub fn run(&mut self, batches: Vec<Vec<T>>) {
        if self.batches_run == 0 {
            self.ssc.start().unwrap();
        }
        for batch in batches {
            self.queue.push(batch);
            self.clock.advance(Duration::from_secs(1));
            self.batches_run += 1;
            self.ssc
                .await_batch(BatchTime(self.batches_run * 1000))
                .unwrap();
        }
    }

    pub fn stop(&self) {
        self.ssc.stop(false).unwrap();
    }
}

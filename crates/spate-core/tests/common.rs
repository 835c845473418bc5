//! Test helpers: executors to run the same program on, and naive references.

use spate_core::{Executor, SpateContext};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs tasks on `threads` scoped OS threads that pull task indices from a shared counter:
/// a deliberately different schedule from the sequential reference.
pub struct ThreadsExecutor {
    pub threads: usize,
}

impl Executor for ThreadsExecutor {
    fn name(&self) -> String {
        format!("threads({})", self.threads)
    }

    fn parallelism(&self) -> usize {
        self.threads
    }

    fn run(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
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

/// The contexts every RDD test runs on.
pub fn contexts() -> Vec<SpateContext> {
    vec![
        SpateContext::sequential(2),
        SpateContext::new(ThreadsExecutor { threads: 3 }),
    ]
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

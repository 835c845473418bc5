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

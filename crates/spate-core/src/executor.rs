//! The runtime boundary: what executes the tasks of a stage.
//!
//! The core plans jobs (which partitions, which stages, in which order, retries) and hands
//! each stage to an [`Executor`] as a set of independent tasks. The executor decides where and
//! how they run. [`SequentialExecutor`] runs them one after another on the calling thread: it
//! is the reference runtime used by doc examples and as the oracle in tests. The embedded
//! runtime (`spate-local`) runs them on a rayon pool.

use std::sync::Arc;

/// Runs the independent tasks of one stage.
///
/// # Contract
/// `run(n, task)` calls `task(i)` exactly once for every `i` in `0..n`, in any order and on
/// any threads, and returns only when all calls have returned. `task` never panics (the core
/// catches panics of user code inside the task) and never calls `run` itself.
pub trait Executor: Send + Sync + 'static {
    /// A short name for logs, e.g. `"sequential"` or `"rayon(2)"`.
    fn name(&self) -> String;

    /// How many tasks can make progress at once; the default partition count of new RDDs.
    fn parallelism(&self) -> usize;

    /// Runs `task(0) .. task(n-1)` and waits for all of them.
    fn run(&self, n: usize, task: &(dyn Fn(usize) + Sync));
}

/// Runs every task on the calling thread, in partition order: the obviously correct runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialExecutor {
    parallelism: usize,
}

impl SequentialExecutor {
    /// A sequential executor that still reports `parallelism` as the default partition count,
    /// so that a program's partitioning is the same as on a parallel runtime.
    pub fn with_parallelism(parallelism: usize) -> SequentialExecutor {
        SequentialExecutor {
            parallelism: parallelism.max(1),
        }
    }
}

impl Executor for SequentialExecutor {
    fn name(&self) -> String {
        "sequential".to_string()
    }

    fn parallelism(&self) -> usize {
        self.parallelism.max(1)
    }

    fn run(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        for i in 0..n {
            task(i);
        }
    }
}

/// A shared executor.
pub type SharedExecutor = Arc<dyn Executor>;

//! Spate's embedded runtime: one worker whose tasks run on a [rayon] thread pool.
//!
//! The core plans jobs and stages; this crate only decides where a stage's tasks run. A
//! program on it is a single worker (no rounds, nothing serialized between tasks), so
//! everything that works on the reference [`SequentialRuntime`](spate_core::SequentialRuntime)
//! works here unchanged, in parallel, with the same results record for record.
//!
//! ```
//! use spate_core::SpateContext;
//! use spate_local::RayonRuntime;
//!
//! let sc = SpateContext::new(RayonRuntime::new(2).unwrap());
//! let total = sc
//!     .parallelize((1..=1000_u64).collect(), 8)
//!     .map(|x| x * 2)
//!     .reduce(|a, b| a + b)
//!     .unwrap();
//! assert_eq!(total, Some(1_001_000));
//! ```
//!
//! [rayon]: https://docs.rs/rayon

#![warn(missing_docs)]

use rayon::prelude::*;
use spate_core::{Error, Result, Runtime, SpateContext};

/// Runs the tasks of a stage on a dedicated rayon thread pool, one task per partition.
pub struct RayonRuntime {
    pool: rayon::ThreadPool,
    threads: usize,
}

impl RayonRuntime {
    /// A runtime with `threads` threads (0 means one per core).
    pub fn new(threads: usize) -> Result<RayonRuntime> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("spate-worker-{i}"))
            .build()
            .map_err(|e| Error::Runtime {
                message: format!("rayon pool of {threads} threads: {e}"),
            })?;
        let threads = pool.current_num_threads();
        Ok(RayonRuntime { pool, threads })
    }
}

impl Runtime for RayonRuntime {
    fn name(&self) -> String {
        format!("rayon({})", self.threads)
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

    fn run_tasks(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        // One task per partition; with_max_len(1) stops rayon from batching several
        // partitions onto one thread when it could spread them.
        self.pool
            .install(|| (0..n).into_par_iter().with_max_len(1).for_each(task));
    }

    fn exchange(&self, outgoing: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
        Ok(outgoing)
    }
}

/// A context on the embedded runtime with one thread per core and
/// [`DEFAULT_PARALLELISM`](spate_core::DEFAULT_PARALLELISM) partitions by default.
pub fn local_context() -> Result<SpateContext> {
    local_context_with_threads(0)
}

/// A context on the embedded runtime with `threads` threads (0: one per core). The thread
/// count never changes results: partition counts come from the program.
pub fn local_context_with_threads(threads: usize) -> Result<SpateContext> {
    SpateContext::builder(RayonRuntime::new(threads)?).build()
}

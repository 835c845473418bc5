//! Spate's embedded runtime: the tasks of each stage run on a [rayon] thread pool.
//!
//! The core plans jobs and stages; this crate only decides where tasks run. Everything
//! that works on the reference [`SequentialExecutor`](spate_core::SequentialExecutor) works
//! here unchanged, in parallel.
//!
//! ```
//! use spate_core::SpateContext;
//! use spate_local::RayonExecutor;
//!
//! let sc = SpateContext::new(RayonExecutor::new(2).unwrap());
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
use spate_core::{Error, Executor, Result, SpateContext};

/// Runs the tasks of a stage on a dedicated rayon thread pool, one task per partition.
pub struct RayonExecutor {
    pool: rayon::ThreadPool,
    threads: usize,
}

impl RayonExecutor {
    /// An executor with `threads` worker threads (0 means one per core).
    pub fn new(threads: usize) -> Result<RayonExecutor> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("spate-worker-{i}"))
            .build()
            .map_err(|e| Error::Runtime {
                message: format!("rayon pool of {threads} threads: {e}"),
            })?;
        let threads = pool.current_num_threads();
        Ok(RayonExecutor { pool, threads })
    }
}

impl Executor for RayonExecutor {
    fn name(&self) -> String {
        format!("rayon({})", self.threads)
    }

    fn parallelism(&self) -> usize {
        self.threads
    }

    fn run(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        // One task per partition; with_max_len(1) stops rayon from batching several
        // partitions onto one thread when it could spread them.
        self.pool
            .install(|| (0..n).into_par_iter().with_max_len(1).for_each(task));
    }
}

/// A context on the embedded runtime with one worker thread per core.
pub fn local_context() -> Result<SpateContext> {
    Ok(SpateContext::new(RayonExecutor::new(0)?))
}

/// A context on the embedded runtime with `threads` worker threads.
pub fn local_context_with_threads(threads: usize) -> Result<SpateContext> {
    Ok(SpateContext::new(RayonExecutor::new(threads)?))
}

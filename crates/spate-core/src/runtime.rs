//! The runtime boundary: what a runtime must provide for a Spate program to run on it.
//!
//! Spate programs are SPMD, as timely dataflow programs are: every worker runs the whole
//! program and builds the same plan. A [`Runtime`] tells the core which worker it is and how
//! many there are, runs the tasks this worker owns on its threads, and moves bytes between
//! workers. Everything else — stages, shuffles, actions, accumulators, stream state,
//! watermarks, checkpoints — is written once in the core in terms of these calls.
//!
//! Partition `p` of a node is *owned* by worker `p mod W` (`W` = [`Runtime::workers`]):
//! its tasks run there, its cached blocks, shuffle buckets and state live there. Narrow
//! operators and unions keep their input's placement (see `docs/architecture.md`).
//!
//! [`SequentialRuntime`] (one worker, tasks in order on the calling thread) is the
//! obviously correct reference. The embedded runtime (`spate-local`) runs one worker's
//! tasks on a rayon pool; `spate-timely` runs workers as timely dataflow workers, in one
//! process or several.

use crate::error::{Error, Result};
use crate::storage::lock;
use std::cell::Cell;
use std::sync::{Arc, Mutex};

thread_local! {
    static CURRENT_WORKER: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// The worker (index, count) whose program or stream this thread runs, if a runtime of
/// several workers said so: the batch thread of a [`StreamingContext`] sets it from its
/// context, and runtimes set it on the threads that run a worker's program. `None` on any
/// other thread (and with one worker, where it does not matter).
///
/// Programs use it for effects that must happen once however many workers run the
/// program — printing a result, writing a file — through [`on_leader`].
///
/// [`StreamingContext`]: crate::stream::StreamingContext
pub fn current_worker() -> Option<(usize, usize)> {
    CURRENT_WORKER.with(Cell::get)
}

/// Whether this thread acts for the leader (worker 0), or for no worker in particular:
/// `true` unless [`current_worker`] names another worker.
pub fn on_leader() -> bool {
    current_worker().is_none_or(|(worker, _)| worker == 0)
}

/// Marks this thread as running worker `worker` of `workers` (see [`current_worker`]).
/// Runtimes call it on the threads they start for a worker's program.
pub fn set_current_worker(worker: usize, workers: usize) {
    CURRENT_WORKER.with(|c| c.set(Some((worker, workers))));
}

/// What the core needs from a runtime.
///
/// # Contract
/// - Every worker of a program has a distinct [`worker`](Runtime::worker) index in
///   `0..workers()`, and all report the same [`workers`](Runtime::workers).
/// - [`run_tasks`](Runtime::run_tasks)`(n, task)` calls `task(i)` exactly once for every `i`
///   in `0..n`, in any order and on any of this worker's threads, and returns when all calls
///   have returned. `task` never panics (the core catches panics of user code) and never
///   calls back into the runtime.
/// - [`exchange`](Runtime::exchange) is *collective*: every worker calls it the same number
///   of times, in the same order (the core guarantees this, since every worker runs the same
///   program). Call `k` of worker `w` sends `outgoing[v]` to worker `v` and returns, at index
///   `u`, the bytes worker `u` sent to `w` in its call `k` (its own `outgoing[w]` at index
///   `w`). Bytes arrive unchanged. It returns an error only when the runtime itself failed
///   (a lost connection); the core frames its messages so that a peer's program failure is
///   reported through the returned bytes, not as a runtime error.
/// - With one worker, `exchange(vec![b])` returns `vec![b]`; the core never calls
///   `exchange` then, so a single-worker runtime may implement it trivially.
pub trait Runtime: Send + Sync + 'static {
    /// A short name for logs, e.g. `"sequential"`, `"rayon(2)"`, `"timely(worker 1 of 4)"`.
    fn name(&self) -> String;

    /// This worker's index, in `0..workers()`.
    fn worker(&self) -> usize;

    /// How many workers run the program.
    fn workers(&self) -> usize;

    /// How many of this worker's tasks can run at once (for logs and sizing; the partition
    /// counts of a program never depend on it).
    fn threads(&self) -> usize;

    /// Runs `task(0) .. task(n-1)` on this worker's threads and waits for all of them.
    fn run_tasks(&self, n: usize, task: &(dyn Fn(usize) + Sync));

    /// Sends `outgoing[v]` to every worker `v` and returns what every worker sent to this
    /// one, indexed by sender. Collective; see the trait's contract.
    fn exchange(&self, outgoing: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>>;

    /// Runs `driver`, a stream's batch loop, which calls [`run_tasks`](Runtime::run_tasks)
    /// and [`exchange`](Runtime::exchange) for as long as the stream runs. The default
    /// calls it on the calling thread (a thread of its own, started for the stream). A
    /// runtime whose tasks run on a pool it owns may run the loop on one of the pool's
    /// threads instead, so that each stage's tasks start in place rather than being handed
    /// to the pool and back; that thread is then the loop's until the stream stops.
    fn drive(&self, driver: Box<dyn FnOnce() + Send + '_>) {
        driver();
    }

    /// Called on every worker before the rounds of batch `epoch` of a stream (1 for the
    /// first batch after the zero time), in the same order on all: a runtime may timestamp
    /// its rounds with it. The default does nothing.
    fn begin_epoch(&self, epoch: u64) {
        let _ = epoch;
    }

    /// Sends `mine` to every worker and returns every worker's bytes, indexed by worker.
    /// Collective. The default sends through [`exchange`](Runtime::exchange).
    fn all_gather(&self, mine: Vec<u8>) -> Result<Vec<Vec<u8>>> {
        let workers = self.workers();
        self.exchange(vec![mine; workers])
    }

    /// Returns once every worker has called it. Collective. The default exchanges empty
    /// messages.
    fn barrier(&self) -> Result<()> {
        self.all_gather(Vec::new()).map(drop)
    }
}

/// A shared runtime.
pub type SharedRuntime = Arc<dyn Runtime>;

/// The worker that owns partition `p` when `workers` workers run a program: `p mod W`.
#[inline]
pub fn owner_of(p: usize, workers: usize) -> usize {
    p % workers.max(1)
}

/// Runs `task(0) .. task(n-1)` on `runtime`'s threads, as
/// [`run_tasks`](Runtime::run_tasks) does, and returns their results in task order; an error
/// only when the runtime skipped a task (a broken runtime).
pub(crate) fn run_collect<R: Send>(
    runtime: &dyn Runtime,
    n: usize,
    task: impl Fn(usize) -> R + Sync,
) -> Result<Vec<R>> {
    let slots: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    runtime.run_tasks(n, &|i| {
        let result = task(i);
        *lock(&slots[i]) = Some(result);
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .ok_or_else(|| Error::internal("the runtime skipped a task"))
        })
        .collect()
}

/// One worker, every task on the calling thread in partition order: the reference runtime,
/// used by doc examples and as the oracle the other runtimes must match record for record.
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialRuntime;

impl Runtime for SequentialRuntime {
    fn name(&self) -> String {
        "sequential".to_string()
    }

    fn worker(&self) -> usize {
        0
    }

    fn workers(&self) -> usize {
        1
    }

    fn threads(&self) -> usize {
        1
    }

    fn run_tasks(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        for i in 0..n {
            task(i);
        }
    }

    fn exchange(&self, outgoing: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
        Ok(outgoing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_owned_round_robin() {
        assert_eq!(
            (0..7).map(|p| owner_of(p, 3)).collect::<Vec<_>>(),
            vec![0, 1, 2, 0, 1, 2, 0]
        );
        assert_eq!(owner_of(5, 1), 0);
        assert_eq!(owner_of(5, 0), 0);
    }

    #[test]
    fn the_sequential_runtime_runs_every_task_in_order_and_echoes_exchanges() {
        let seen = std::sync::Mutex::new(Vec::new());
        SequentialRuntime.run_tasks(4, &|i| seen.lock().unwrap().push(i));
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(
            SequentialRuntime.all_gather(b"x".to_vec()).unwrap(),
            vec![b"x".to_vec()]
        );
    }
}

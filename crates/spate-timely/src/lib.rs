//! Spate's distributed runtime: every worker of a Spate program is a [timely dataflow]
//! worker, in one process or in several.
//!
//! Spate programs are SPMD (see [`spate_core::runtime`]): every worker runs the whole
//! program. [`execute`] starts the timely workers this process hosts and runs the program
//! once per worker, each with its own [`SpateContext`] on a [`TimelyRuntime`]:
//!
//! - the program runs on a thread of its own, beside the timely worker thread, inside a
//!   rayon pool of [`TimelyConfig::threads`] threads (default 1: one rayon thread per timely
//!   worker, so library operators that use rayon do not oversubscribe the machine); a
//!   stage's tasks run on that pool;
//! - every collective round of the core is one timestamp of a timely dataflow built once per
//!   worker: the bytes for each worker go through a timely exchange channel keyed by the
//!   receiving worker. Every worker sends one message to every worker in each round, so a
//!   round completes once all of its messages have arrived (a probe on the timestamp ends
//!   the wait too, when a stopped worker will send nothing more, and the round then fails).
//!   The worker thread is driven with `step_or_park`, woken by the program's requests and by
//!   the network. A timestamp is `epoch · 2³² + round`: batch `i` of a
//!   stream is epoch `i`, and rounds are synchronous, so at most one epoch is in flight (the
//!   program waits for each round before going on, which is the runtime's backpressure);
//! - with several processes, each process connects to the others itself (a handshake that
//!   checks every process was started with the same process and worker counts, failing
//!   fast with a clear error otherwise) and hands the connections to timely.
//!
//! ```
//! use spate_timely::{TimelyConfig, execute};
//!
//! // Two workers in this process; each runs the program and gets the same result.
//! let totals = execute(&TimelyConfig::threads_in_process(2), |sc| {
//!     sc.parallelize((1..=100_u64).collect(), 8)
//!         .map(|x| (x % 3, x))
//!         .reduce_by_key(|a, b| a + b)
//!         .collect()
//!         .unwrap()
//! })
//! .unwrap();
//! assert_eq!(totals.len(), 2);
//! assert_eq!(totals[0], totals[1]);
//! ```
//!
//! [timely dataflow]: https://docs.rs/timely

#![warn(missing_docs)]

mod config;
mod mesh;
mod worker;

pub use config::TimelyConfig;
pub use worker::{Execution, TimelyRuntime, execute};

//! Spate's core: partitioned, lazily evaluated RDDs and micro-batch DStreams.
//!
//! This crate holds the user-facing API, the logical plan it builds, and the scheduler that
//! runs the plan on a [`Runtime`]: the boundary that the embedded runtime (`spate-local`) and
//! the distributed one (`spate-timely`) implement. It knows nothing of either.

#![warn(missing_docs)]

mod accumulator;
pub mod codec;
mod collective;
mod context;
pub mod data;
mod error;
mod packed;
pub mod partitioner;
mod plan;
mod rdd;
pub mod runtime;
mod scheduler;
pub mod storage;
pub mod stream;
mod time;

pub use accumulator::{Accumulator, Broadcast};
pub use context::{DEFAULT_PARALLELISM, SpateContext, SpateContextBuilder, split_range};
pub use data::{Data, Key, Merge, Retract};
pub use error::{Error, Result};
pub use partitioner::{HashPartitioner, Partitioner, RangePartitioner};
pub use rdd::Rdd;
pub use runtime::{Runtime, SequentialRuntime};
pub use scheduler::TaskContext;
pub use storage::{ContextStats, MemoryStore, PartitionStore};
pub use stream::{DStream, StreamingContext};
pub use time::{BatchTime, Window};

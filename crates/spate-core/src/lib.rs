//! Spate's core: partitioned, lazily evaluated RDDs and micro-batch DStreams.
//!
//! This crate holds the user-facing API and the logical plan it builds. It knows nothing of the
//! runtime that executes the plan.

#![warn(missing_docs)]

mod accumulator;
pub mod codec;
mod context;
pub mod data;
mod error;
pub mod executor;
pub mod partitioner;
mod plan;
mod rdd;
mod scheduler;
mod storage;
pub mod stream;
mod time;

pub use accumulator::{Accumulator, Broadcast};
pub use context::SpateContext;
pub use data::{Data, Key, Merge, Retract};
pub use error::{Error, Result};
pub use executor::{Executor, SequentialExecutor};
pub use partitioner::{HashPartitioner, Partitioner, RangePartitioner};
pub use rdd::Rdd;
pub use scheduler::TaskContext;
pub use storage::ContextStats;
pub use stream::{DStream, StreamingContext};
pub use time::{BatchTime, Window};

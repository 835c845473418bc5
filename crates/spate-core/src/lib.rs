//! Spate's core: partitioned, lazily evaluated RDDs and micro-batch DStreams.
//!
//! This crate holds the user-facing API and the logical plan it builds. It knows nothing of the
//! runtime that executes the plan.

#![warn(missing_docs)]

pub mod data;

pub use data::{Data, Key, Merge, Retract};

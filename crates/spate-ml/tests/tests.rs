//! The integration tests of `spate-ml`, in one binary so linfa is linked once.

// Tests unwrap freely: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;
mod coreset;
mod dstream;
mod kmeans;
mod laws;
mod metrics;
mod regression;

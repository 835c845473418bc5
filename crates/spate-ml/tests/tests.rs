//! The integration tests of `spate-ml`, in one binary so linfa is linked once.

// Tests unwrap freely: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;
mod coreset;
mod dstream;
mod kmeans;
mod laws;
mod linfa;
mod metrics;
mod regression;
mod sklearn;

#[path = "fixtures/kmeans/datasets.rs"]
mod kmeans_datasets;

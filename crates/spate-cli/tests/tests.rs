//! The `spate` binary end to end, as a user runs it.

mod kmeans;
mod kmeans_recovery;
mod pagerank;
mod recovery;
mod redis;
mod regress;
mod stats;
mod ui;
mod wordcount;

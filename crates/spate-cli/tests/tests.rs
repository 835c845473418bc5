//! The `spate` binary end to end, as a user runs it.

mod classify;
mod classify_recovery;
mod distributed;
mod graph;
mod kmeans;
mod kmeans_coreset;
mod kmeans_recovery;
mod pagerank;
mod polish;
mod recovery;
mod redis;
mod regress;
mod reliability;
mod sql;
mod stats;
mod ui;
mod wordcount;

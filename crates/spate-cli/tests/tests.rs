//! The `spate` binary end to end, as a user runs it.

mod kmeans;
mod kmeans_coreset;
mod kmeans_recovery;
mod pagerank;
mod recovery;
mod regress;
mod stats;
mod wordcount;

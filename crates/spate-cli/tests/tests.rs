//! The `spate` binary end to end, as a user runs it.

mod kmeans;
mod kmeans_recovery;
mod pagerank;
mod recovery;
mod regress;
mod sql;
mod stats;
mod wordcount;

//! The `spate` binary end to end, as a user runs it.

mod pagerank;
mod recovery;
mod wordcount;

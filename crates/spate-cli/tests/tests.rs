//! The `spate` binary end to end, as a user runs it.

mod recovery;
mod wordcount;

//! The integration tests of `spate-io`, in one binary (one link instead of one per file).

#![allow(clippy::unwrap_used)]

mod common;
mod corpus;
mod csv;
mod directory;
mod file_replay;
mod rate;
mod recovery;
mod sink;
mod socket;

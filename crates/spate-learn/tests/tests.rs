//! spate-learn's integration tests: one binary, one module per concern.

#![allow(clippy::unwrap_used)]

mod data;
mod reference;

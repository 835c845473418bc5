//! spate-learn's integration tests: one binary, one module per concern.

#![allow(clippy::unwrap_used)]

mod bad_input;
mod data;
mod evaluation;
mod interop;
mod persistence;
mod reference;
mod stream;

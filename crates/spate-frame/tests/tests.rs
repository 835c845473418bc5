//! The crate's one integration-test binary (one binary links polars once).

// Tests state what they expect by panicking.
#![allow(clippy::unwrap_used)]
// Rows are addressed by index across several columns at once.
#![allow(clippy::needless_range_loop)]

mod common;
mod event_time;
mod features;
mod io;
mod roundtrip;
mod window;

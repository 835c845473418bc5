//! The crate's one integration-test binary (one binary links polars once).

mod common;
mod event_time;
mod features;
mod io;
mod roundtrip;
mod window;

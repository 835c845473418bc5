//! The crate's one integration-test binary (one binary keeps linking cheap on 2 cores).

mod common;
mod covariance;
mod drift;
mod dstream;
mod ewm;
mod moments;
mod sketches;
mod ttest;

//! Streaming statistics for Spate: mergeable moments, sketches, tests and drift detection.
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod dd;
pub mod error;
pub mod moments;

pub use error::StatsError;
pub use moments::Moments;

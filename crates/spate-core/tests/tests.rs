//! Integration tests of spate-core, in one binary (see STYLE.md: one test binary per crate).

mod common;
mod rdd_faults;
mod rdd_ops;
mod stream_event_time;
mod stream_ops;
mod stream_recovery;

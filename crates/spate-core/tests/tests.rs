//! Integration tests of spate-core, in one binary (see STYLE.md: one test binary per crate).

mod common;
mod spmd;

/// No setups beyond the core's own (spate-timely's tests add timely workers).
mod extra {
    pub fn spmd_setups() -> Vec<(usize, crate::common::SpmdFactory)> {
        Vec::new()
    }
}
mod rdd_faults;
mod rdd_ops;
mod stream_event_time;
mod stream_ops;
mod stream_recovery;

//! spate-timely's tests: the core's operator tests and SPMD programs run on timely workers
//! (threads of one process, and two processes connected over loopback TCP), plus the
//! runtime's own behaviour. One test binary (see STYLE.md).

// The core's tests, compiled here as they are there (spate-core allows this lint).
#![allow(clippy::type_complexity)]

#[path = "../../spate-core/tests/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "../../spate-core/tests/rdd_ops.rs"]
mod rdd_ops;
mod runtime;
#[path = "../../spate-core/tests/spmd.rs"]
mod spmd;
#[path = "../../spate-core/tests/stream_ops.rs"]
mod stream_ops;

/// The timely setups the core's tests also run on.
mod extra {
    use crate::common::SpmdFactory;

    pub fn spmd_setups() -> Vec<(usize, SpmdFactory)> {
        vec![
            (2, crate::runtime::timely_threads),
            (2, crate::runtime::timely_processes),
        ]
    }
}

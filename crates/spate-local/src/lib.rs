//! Spate's embedded runtime: executes the plan's tasks on a rayon thread pool.

//! Shared helpers for the benchmarks (corpus generation, dataset loading).

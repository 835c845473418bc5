//! Shared helpers for the examples (dataset paths, output folders).

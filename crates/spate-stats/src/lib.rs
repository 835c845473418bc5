//! Streaming statistics for Spate: mergeable moments, sketches, tests and drift detection.

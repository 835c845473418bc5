//! Integration tests of spate-graph.

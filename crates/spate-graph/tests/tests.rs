//! Integration tests of spate-graph: every algorithm against an independent reference
//! (networkx fixtures, naive recomputation, brute force). One binary, modules per topic.

mod common;
mod components;
mod degrees;
mod pagerank_incremental;
mod pagerank_static;
mod parser;
mod triangles;

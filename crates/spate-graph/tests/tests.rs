//! Integration tests of spate-graph: every algorithm against an independent reference
//! (networkx fixtures, naive recomputation, brute force). One binary, modules per topic.

mod checkpoints;
mod common;
mod components;
mod degrees;
mod dstream;
mod interop;
mod pagerank_incremental;
mod pagerank_static;
mod parser;
mod paths;
mod scc;
mod traversal;
mod triangles;
mod undirected;

/// Every state and event type is `spate_core::Data`, so a DStream adapter can carry, shuffle
/// and checkpoint them.
#[test]
fn states_and_events_are_data() {
    fn data<T: spate_core::Data>() {}
    data::<spate_graph::EdgeEvent>();
    data::<spate_graph::EdgeRecord>();
    data::<spate_graph::IncrementalPageRank>();
    data::<spate_graph::PageRankReport>();
    data::<spate_graph::Ranks>();
    data::<spate_graph::ConnectedComponents>();
    data::<spate_graph::ComponentsReport>();
    data::<spate_graph::DegreeStats>();
    data::<spate_graph::TriangleCount>();
    data::<spate_graph::SampledTriangles>();
    data::<spate_graph::TrianglesReport>();
    data::<spate_graph::DirectedGraph>();
    data::<spate_graph::EdgeWindow>();
    data::<spate_graph::ShortestPaths>();
    data::<spate_graph::ShortestPathsReport>();
    data::<spate_graph::StronglyConnectedComponents>();
    data::<spate_graph::SccReport>();
}

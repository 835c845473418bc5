//! Incremental graph analytics over edge streams for Spate: PageRank, weakly and strongly
//! connected components, shortest paths, degrees and triangles, kept current batch by batch.
//!
//! Every algorithm is a plain struct holding its state, configured by a checked parameter
//! builder, and fed one micro-batch of [`EdgeEvent`]s at a time:
//!
//! * `Algo::params()…build()?` validates parameters before any data flows;
//! * `update(&mut self, batch: &[EdgeEvent]) -> Report` applies a batch and returns what it did
//!   (graph counts, work counters, and for PageRank the error certificate); weighted
//!   shortest paths return a `Result`, refusing a batch with a negative weight;
//! * query methods (`ranks`, `top_k`, `component_of`, `count`, …) read the current result;
//! * the state is `Clone + Serialize + Deserialize`, so it can be checkpointed; decoding
//!   validates it ([`GraphError::CorruptState`]).
//!
//! Nothing here knows about a runtime: the DStream adapter ([`TrackOn::track`]) calls
//! `update` once per batch at the driver, with the algorithm in a checkpointed managed state,
//! and [`EdgeListSource`] replays an edge-list file as a stream.
//!
//! ```
//! use spate_graph::{ConnectedComponents, EdgeEvent, IncrementalPageRank};
//!
//! let mut pagerank = IncrementalPageRank::params()
//!     .damping(0.85)
//!     .tolerance(1e-4)
//!     .build()?;
//! let mut components = ConnectedComponents::params().build()?;
//!
//! let batches = [
//!     vec![EdgeEvent::insert(1, 2), EdgeEvent::insert(2, 3), EdgeEvent::insert(3, 1)],
//!     vec![EdgeEvent::insert(4, 1), EdgeEvent::insert_weighted(5, 6, 2.0)],
//!     vec![EdgeEvent::delete(3, 1)],
//! ];
//! for batch in &batches {
//!     let report = pagerank.update(batch);
//!     components.update(batch);
//!     // The certificate is a proven bound on the L1 error of the ranks.
//!     assert!(report.certificate <= 1e-4);
//! }
//! assert_eq!(components.count(), 2);
//! let top = pagerank.top_k(3);
//! assert_eq!(top.len(), 3);
//! # Ok::<(), spate_graph::GraphError>(())
//! ```
//!
//! # What is where
//! * [`pagerank`]: [`PageRank`] (exact static solver over a [`CsrGraph`], the networkx
//!   definition) and [`IncrementalPageRank`] (residual push with a certificate, falling back
//!   to warm-started power iteration by a cost model; personalized; windowed).
//! * [`ConnectedComponents`]: weakly connected components (petgraph's union-find for inserts,
//!   a search of the affected components for deletes).
//! * [`StronglyConnectedComponents`]: strongly connected components, kept in a topological
//!   order of the condensation (Pearce–Kelly for inserts, Tarjan on the hit component for
//!   deletes), recomputed when a batch changes too much.
//! * [`ShortestPaths`]: hop counts or non-negative weighted distances from a set of sources,
//!   repaired per batch (only what an insert improves, only the invalidated part of the
//!   shortest-path tree on a delete), recomputed when a batch changes too much.
//! * [`DegreeStats`]: degree distributions, strengths and top-k degree.
//! * [`TriangleCount`] (exact) and [`SampledTriangles`] (fixed memory, unbiased).
//! * [`DirectedGraph`]: the dynamic weighted multigraph the directed algorithms maintain,
//!   which converts to and from a petgraph [`StableDiGraph`](petgraph::stable_graph::StableDiGraph)
//!   ([`DirectedGraph::to_stable_graph`]) so petgraph's algorithms run on it;
//!   [`EdgeWindow`]: sliding windows (edges older than `W` batches expire).
//! * [`EdgeListFormat`]: edge-list files (`src dst [weight] [time]`, gzip, CRLF, comments),
//!   with malformed lines counted and reported by line number.
//! * Streams: [`EdgeListSource`] (a replayable source of edge events from a file, in file
//!   or time order) and [`TrackOn`] / [`Tracked`] (any algorithm here kept current over a
//!   `DStream<EdgeEvent>`, checkpointed with the stream, with per-batch reports).
//!
//! Next: `examples/pagerank_stream.rs` replays real temporal graphs through a streaming
//! context, `spate pagerank` (the CLI) ranks an edge-list file batch by batch, and `spate
//! graph bfs|sssp|scc` keeps distances or strong components of one.
//!
//! Graph semantics shared by all: node ids are arbitrary `u64`; parallel edges are summed as
//! weights (shortest paths take the cheapest live instance instead: a length, not a flow); a
//! delete retracts one inserted instance; a node is in the graph while it has an edge; events
//! with a weight the algorithm cannot use (non-finite or non-positive; for weighted shortest
//! paths NaN, infinite or above 1e290, zero being a length and a negative weight an error)
//! and deletes of absent edges are counted in the report, never applied and never a panic.

mod components;
mod csr;
mod degrees;
mod dstream;
mod error;
mod event;
mod graph;
mod inout;
mod interop;
mod io;
mod nodes;
pub mod pagerank;
mod paths;
mod scc;
mod sets;
mod source;
mod topk;
mod triangles;
mod undirected;
mod window;

pub use components::{ComponentsReport, ConnectedComponents, ConnectedComponentsParams};
pub use csr::CsrGraph;
pub use degrees::{DegreeKind, DegreeStats, DegreeStatsParams, DegreesReport};
pub use dstream::{
    ComponentsBatch, DEFAULT_TOP, DegreesBatch, PageRankBatch, SccBatch, ShortestPathsBatch,
    TrackOn, Tracked, TrackedBatch, TrackedComponents, TrackedDegrees, TrackedPageRank, TrackedScc,
    TrackedShortestPaths, TrackedTriangles, TrianglesBatch,
};
pub use error::{GraphError, MalformedReason};
pub use event::{BatchCounts, EdgeEvent, EdgeOp, NodeId};
pub use graph::DirectedGraph;
pub use interop::{PetgraphSnapshot, SummedEdge, node_indices};
pub use io::{
    Columns, EdgeList, EdgeListFormat, EdgeListReader, EdgeRecord, MalformedLine, ParseStats,
};
pub use pagerank::{
    CostModel, IncrementalPageRank, IncrementalPageRankParams, PageRank, PageRankParams,
    PageRankReport, PageRankResult, Ranks, UpdateMethod, UpdateStrategy,
};
pub use paths::{
    DEFAULT_RECOMPUTE_ABOVE, Metric, RepairMethod, ShortestPaths, ShortestPathsParams,
    ShortestPathsReport,
};
pub use scc::{SccReport, StronglyConnectedComponents, StronglyConnectedComponentsParams};
pub use source::{EdgeListSource, EdgeListSourceOptions, EdgeOrder};
pub use triangles::{
    SampledTriangles, SampledTrianglesParams, TriangleCount, TriangleCountParams, TrianglesReport,
};
pub use window::EdgeWindow;

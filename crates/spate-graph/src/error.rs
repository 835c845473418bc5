//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in `spate-graph`, by phase: parameters (rejected by a
/// `build()` before any data flows), input (I/O and parsing), data that a computation cannot
/// use, and checkpoints that do not decode into a consistent state.
///
/// Streaming updates themselves never fail: an edge event the graph cannot use (a non-positive
/// weight, a delete of an absent edge) is counted in the batch report instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The damping factor is not in the open interval (0, 1).
    #[error("damping {value} is outside (0, 1); PageRank's usual value is 0.85")]
    Damping {
        /// The rejected value.
        value: f64,
    },
    /// The tolerance is not a finite positive number.
    #[error(
        "tolerance {value} must be finite and > 0 (it bounds the L1 error of the ranks, e.g. 1e-4)"
    )]
    Tolerance {
        /// The rejected value.
        value: f64,
    },
    /// An iteration limit of zero.
    #[error("max_iterations is 0: allow at least one iteration")]
    MaxIterations,
    /// A personalization weight that is negative, NaN or infinite.
    #[error("personalization weight {weight} of node {node} must be finite and >= 0")]
    PersonalizationWeight {
        /// The node the weight was given for.
        node: u64,
        /// The rejected weight.
        weight: f64,
    },
    /// Personalization was requested but no source node has a positive weight.
    #[error("personalization weights sum to zero: give at least one source node a positive weight")]
    EmptyPersonalization,
    /// None of the personalization source nodes is in the graph being ranked.
    #[error("none of the {sources} personalization source nodes is in the graph")]
    SourcesNotInGraph {
        /// How many source nodes were given.
        sources: usize,
    },
    /// An edge source asked to deliver zero edges per batch.
    #[error("batch of 0 edges: an edge source must deliver at least 1 edge per batch")]
    BatchEdges,
    /// A sliding window of zero batches.
    #[error("window of 0 batches: a window must hold at least the current batch")]
    WindowBatches,
    /// A triangle-sampling memory budget too small to hold a wedge.
    #[error("memory budget of {edges} edges is too small: sampling needs at least {min} edges")]
    MemoryBudget {
        /// The rejected budget.
        edges: usize,
        /// The smallest budget accepted.
        min: usize,
    },
    /// A cost-model constant that is not a finite positive number.
    #[error(
        "cost model constant `{name}` = {value} must be finite and > 0 (nanoseconds per edge visit)"
    )]
    CostModel {
        /// Which constant.
        name: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// An edge given to a static graph builder has a weight PageRank cannot use.
    #[error(
        "edge {src} -> {dst} has weight {weight}; weights must lie between f64::MIN_POSITIVE \
         and 1e300, and a node's out-weights must sum to at most 1e300"
    )]
    EdgeWeight {
        /// Source node.
        src: u64,
        /// Destination node.
        dst: u64,
        /// The rejected weight.
        weight: f64,
    },
    /// Two nodes of a petgraph graph carry the same node id.
    #[error("node id {node} appears on two petgraph nodes; node ids must be unique")]
    DuplicateNode {
        /// The repeated id.
        node: u64,
    },
    /// A petgraph edge of multiplicity 0, or parallel edges whose multiplicities sum past
    /// `u32::MAX`.
    #[error(
        "edge {src} -> {dst}: multiplicity must be between 1 and 4294967295 (summed over parallel edges)"
    )]
    EdgeMultiplicity {
        /// Source node.
        src: u64,
        /// Destination node.
        dst: u64,
    },
    /// Shortest paths without a source node.
    #[error("no source nodes: shortest paths need at least one source")]
    NoSources,
    /// A recompute threshold that is negative or NaN.
    #[error("recompute fraction {value} must be >= 0 (0 always recomputes, infinity never does)")]
    RecomputeFraction {
        /// The rejected value.
        value: f64,
    },
    /// An edge with a negative weight given to weighted shortest paths.
    #[error(
        "edge {src} -> {dst} has negative weight {weight}: weighted shortest paths need \
         weights >= 0 (Dijkstra's algorithm is wrong with negative edges); map the weights \
         to non-negative lengths first, or use hop counts"
    )]
    NegativeWeight {
        /// Source node.
        src: u64,
        /// Destination node.
        dst: u64,
        /// The rejected weight.
        weight: f64,
    },
    /// A graph with more nodes or edges than 32-bit indices can address.
    #[error("graph too large: {what} exceeds {max}")]
    TooLarge {
        /// Which quantity overflowed ("nodes" or "edges").
        what: &'static str,
        /// The largest supported count.
        max: u64,
    },
    /// An edge-list file could not be opened or read.
    #[error("reading {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Reading an edge list from a stream failed.
    #[error("reading edge list: {source}")]
    Io {
        /// The underlying I/O error.
        #[from]
        source: std::io::Error,
    },
    /// A malformed line in strict parsing mode (lenient mode counts such lines instead).
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: MalformedReason,
    },
    /// A checkpoint decoded into an inconsistent state (truncated, corrupt or from another
    /// version).
    #[error("checkpoint is corrupt: {what}")]
    CorruptState {
        /// The invariant that failed.
        what: &'static str,
    },
}

/// Why an edge-list line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum MalformedReason {
    /// Not 2, 3 or 4 fields (or not the count the column layout asks for).
    FieldCount {
        /// Fields found on the line.
        found: usize,
    },
    /// Field `field` (0-based) is not a non-negative integer node id.
    NodeId {
        /// 0-based field index.
        field: usize,
    },
    /// The weight field is not 0 or a number of usable magnitude
    /// ([`EdgeEvent::MIN_WEIGHT`](crate::EdgeEvent::MIN_WEIGHT) to
    /// [`EdgeEvent::MAX_WEIGHT`](crate::EdgeEvent::MAX_WEIGHT), either sign).
    Weight,
    /// The time field is not a finite number.
    Time,
    /// The line is not valid UTF-8.
    NotUtf8,
    /// The line is longer than
    /// [`EdgeListFormat::MAX_LINE_BYTES`](crate::EdgeListFormat::MAX_LINE_BYTES); it was
    /// skipped without being held in memory.
    LineTooLong,
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MalformedReason::FieldCount { found } => {
                write!(
                    f,
                    "expected `src dst [weight] [time]`, found {found} fields"
                )
            }
            MalformedReason::NodeId { field } => {
                write!(
                    f,
                    "field {} is not a non-negative integer node id",
                    field + 1
                )
            }
            MalformedReason::Weight => write!(
                f,
                "weight is not 0 or a number of magnitude between 2.2e-308 and 1e300"
            ),
            MalformedReason::Time => write!(f, "time is not a finite number"),
            MalformedReason::NotUtf8 => write!(f, "line is not valid UTF-8"),
            MalformedReason::LineTooLong => write!(
                f,
                "line is longer than {} bytes (binary data, or no \\n line endings?)",
                crate::EdgeListFormat::MAX_LINE_BYTES
            ),
        }
    }
}

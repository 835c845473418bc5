//! DStream adapters: keep an algorithm current over a stream of edge batches.
//!
//! [`TrackOn::track`] puts the algorithm in a [`ManagedState`] (saved in every checkpoint,
//! restored by `StreamingContext::get_or_create`) and updates it once per batch, at the
//! driver, in batch order, with the batch's events in the order the stream's RDD collects
//! them (file order for an [`EdgeListSource`](crate::EdgeListSource)). Each update yields a
//! [`TrackedBatch`]: the algorithm's report, its top-k and the time the update took,
//! available as a DStream ([`Tracked::batches`]) and to callbacks that also see the updated
//! algorithm ([`Tracked::on_batch`]).
//!
//! Feed the batch stream itself, not a windowed one (whose RDDs repeat batches): sliding
//! windows are the algorithms' own `window_batches(W)` parameter.

use crate::components::{ComponentsReport, ConnectedComponents};
use crate::degrees::{DegreeKind, DegreeStats, DegreesReport};
use crate::error::GraphError;
use crate::event::{EdgeEvent, NodeId};
use crate::pagerank::{IncrementalPageRank, PageRankReport};
use crate::paths::{ShortestPaths, ShortestPathsReport};
use crate::scc::{SccReport, StronglyConnectedComponents};
use crate::triangles::{SampledTriangles, TriangleCount, TrianglesReport};
use serde::{Deserialize, Serialize};
use spate_core::stream::ManagedState;
use spate_core::{BatchTime, DStream, Data};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How many top entries a [`TrackedBatch`] holds unless [`TrackOn::track_top`] says otherwise.
pub const DEFAULT_TOP: usize = 10;

impl From<GraphError> for spate_core::Error {
    /// A graph error inside a stream program (a parameter or file rejected while the stream
    /// graph is built) as a core error carrying its message.
    fn from(e: GraphError) -> spate_core::Error {
        spate_core::Error::Source {
            source_name: "spate-graph".into(),
            message: e.to_string(),
        }
    }
}

/// An algorithm of this crate that can follow a DStream of [`EdgeEvent`]s.
pub trait TrackOn: Data {
    /// What one update reports.
    type Report: Data;
    /// The score of a top-k entry (a rank, a degree, a component size, a triangle count).
    type Score: Data;

    /// Apply one batch (the algorithm's own `update`).
    ///
    /// # Errors
    /// What the algorithm's `update` returns ([`GraphError::NegativeWeight`] for weighted
    /// shortest paths; the other algorithms never fail): the batch fails and the context
    /// stops with that error.
    fn track_batch(&mut self, batch: &[EdgeEvent]) -> Result<Self::Report, GraphError>;

    /// The `k` best entries after the batch, best first.
    fn top(&self, k: usize) -> Vec<(NodeId, Self::Score)>;

    /// Keep `self` current over every batch of `stream`, under the managed-state name `name`
    /// (unique per context), with the top [`DEFAULT_TOP`] entries in each batch's report.
    ///
    /// # Errors
    /// As [`track_top`](Self::track_top).
    fn track(
        self,
        stream: &DStream<EdgeEvent>,
        name: impl Into<String>,
    ) -> spate_core::Result<Tracked<Self>> {
        self.track_top(stream, name, DEFAULT_TOP)
    }

    /// Like [`track`](Self::track) with the top `k` entries in each batch's report.
    ///
    /// Cost per batch: collecting the batch at the driver (O(batch)), the algorithm's update,
    /// and its top-k query (O(n + k log k)).
    ///
    /// # Errors
    /// [`spate_core::Error::InvalidParameter`] if `name` is already registered, or
    /// [`spate_core::Error::Lifecycle`] if the context has started.
    fn track_top(
        self,
        stream: &DStream<EdgeEvent>,
        name: impl Into<String>,
        k: usize,
    ) -> spate_core::Result<Tracked<Self>> {
        Tracked::new(self, name.into(), stream, k)
    }
}

/// What one batch's update did: the algorithm's report, its top-k after the batch and the
/// wall-clock time of the update itself (not of collecting the batch or the top-k query).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackedBatch<R, S> {
    /// The batch.
    pub time: BatchTime,
    /// The algorithm's report.
    pub report: R,
    /// The top entries after the batch, best first.
    pub top: Vec<(NodeId, S)>,
    /// How long the update took.
    pub update_time: Duration,
}

/// A callback run after every batch's update, with the updated algorithm.
type Listener<A> = Box<
    dyn FnMut(
            &A,
            &TrackedBatch<<A as TrackOn>::Report, <A as TrackOn>::Score>,
        ) -> spate_core::Result<()>
        + Send,
>;

type Listeners<A> = Arc<Mutex<Vec<Listener<A>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An algorithm kept current over a stream; see [`TrackOn::track`].
pub struct Tracked<A: TrackOn> {
    name: String,
    state: ManagedState<A>,
    batches: DStream<TrackedBatch<A::Report, A::Score>>,
    listeners: Listeners<A>,
}

/// [`IncrementalPageRank`] over a stream.
pub type TrackedPageRank = Tracked<IncrementalPageRank>;
/// One batch of a [`TrackedPageRank`]: the report (certificate, method, work) and top ranks.
pub type PageRankBatch = TrackedBatch<PageRankReport, f64>;
/// [`ConnectedComponents`] over a stream.
pub type TrackedComponents = Tracked<ConnectedComponents>;
/// One batch of [`TrackedComponents`]: the top entries are the largest components as
/// `(smallest node id, size)`.
pub type ComponentsBatch = TrackedBatch<ComponentsReport, usize>;
/// [`ShortestPaths`] over a stream.
pub type TrackedShortestPaths = Tracked<ShortestPaths>;
/// One batch of [`TrackedShortestPaths`]: the top entries are the farthest reachable nodes
/// with their distances.
pub type ShortestPathsBatch = TrackedBatch<ShortestPathsReport, f64>;
/// [`StronglyConnectedComponents`] over a stream.
pub type TrackedScc = Tracked<StronglyConnectedComponents>;
/// One batch of [`TrackedScc`]: the top entries are the largest strongly connected
/// components as `(smallest node id, size)`.
pub type SccBatch = TrackedBatch<SccReport, usize>;
/// [`DegreeStats`] over a stream.
pub type TrackedDegrees = Tracked<DegreeStats>;
/// One batch of [`TrackedDegrees`]: the top entries are by total degree.
pub type DegreesBatch = TrackedBatch<DegreesReport, usize>;
/// [`TriangleCount`] over a stream.
pub type TrackedTriangles = Tracked<TriangleCount>;
/// One batch of [`TrackedTriangles`] or [`SampledTriangles`]: the top entries are nodes by
/// triangles through them (none for the sampler, which keeps no per-node counts).
pub type TrianglesBatch = TrackedBatch<TrianglesReport, u64>;

impl<A: TrackOn> Clone for Tracked<A> {
    fn clone(&self) -> Self {
        Tracked {
            name: self.name.clone(),
            state: self.state.clone(),
            batches: self.batches.clone(),
            listeners: Arc::clone(&self.listeners),
        }
    }
}

impl<A: TrackOn> std::fmt::Debug for Tracked<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracked")
            .field("name", &self.name)
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

impl<A: TrackOn> Tracked<A> {
    fn new(
        algorithm: A,
        name: String,
        stream: &DStream<EdgeEvent>,
        k: usize,
    ) -> spate_core::Result<Tracked<A>> {
        let state = stream.context().managed_state(name.clone(), algorithm)?;
        let listeners: Listeners<A> = Arc::default();
        let (update, notify) = (state.clone(), Arc::clone(&listeners));
        let batches = stream.try_transform(move |rdd, time| {
            let events = rdd.collect()?;
            let mut algorithm = update.lock();
            let started = Instant::now();
            let report = algorithm.track_batch(&events)?;
            let update_time = started.elapsed();
            let batch = TrackedBatch {
                time,
                report,
                top: algorithm.top(k),
                update_time,
            };
            for listener in lock(&notify).iter_mut() {
                listener(&algorithm, &batch)?;
            }
            Ok(rdd.context().parallelize(vec![batch], 1))
        });
        // The output that makes the update run every batch, in registration order.
        batches.foreach_rdd(|_, _| Ok(()))?;
        Ok(Tracked {
            name,
            state,
            batches,
            listeners,
        })
    }

    /// The managed-state name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The algorithm's managed state: `state().lock()` reads it in place (between batches, or
    /// after the context stopped), `state().get()` copies it.
    pub fn state(&self) -> &ManagedState<A> {
        &self.state
    }

    /// One [`TrackedBatch`] per batch (an RDD of one record).
    pub fn batches(&self) -> DStream<TrackedBatch<A::Report, A::Score>> {
        self.batches.clone()
    }

    /// Run `f` after every batch's update, at the driver, in batch order, with the updated
    /// algorithm and the batch's report (for queries beyond the top-k: ranks of chosen
    /// nodes, component labels, …). Callbacks run in registration order, from the first batch
    /// after they are registered; an error fails the batch (and stops the context).
    pub fn on_batch(
        &self,
        f: impl FnMut(&A, &TrackedBatch<A::Report, A::Score>) -> spate_core::Result<()> + Send + 'static,
    ) {
        lock(&self.listeners).push(Box::new(f));
    }
}

impl TrackOn for IncrementalPageRank {
    type Report = PageRankReport;
    type Score = f64;

    fn track_batch(&mut self, batch: &[EdgeEvent]) -> Result<PageRankReport, GraphError> {
        Ok(self.update(batch))
    }

    fn top(&self, k: usize) -> Vec<(NodeId, f64)> {
        self.top_k(k)
    }
}

impl TrackOn for ConnectedComponents {
    type Report = ComponentsReport;
    type Score = usize;

    fn track_batch(&mut self, batch: &[EdgeEvent]) -> Result<ComponentsReport, GraphError> {
        Ok(self.update(batch))
    }

    fn top(&self, k: usize) -> Vec<(NodeId, usize)> {
        self.largest_components(k)
    }
}

impl TrackOn for DegreeStats {
    type Report = DegreesReport;
    type Score = usize;

    fn track_batch(&mut self, batch: &[EdgeEvent]) -> Result<DegreesReport, GraphError> {
        Ok(self.update(batch))
    }

    fn top(&self, k: usize) -> Vec<(NodeId, usize)> {
        self.top_k(k, DegreeKind::Total)
    }
}

impl TrackOn for TriangleCount {
    type Report = TrianglesReport;
    type Score = u64;

    fn track_batch(&mut self, batch: &[EdgeEvent]) -> Result<TrianglesReport, GraphError> {
        Ok(self.update(batch))
    }

    fn top(&self, k: usize) -> Vec<(NodeId, u64)> {
        self.top_k(k)
    }
}

impl TrackOn for SampledTriangles {
    type Report = TrianglesReport;
    type Score = u64;

    fn track_batch(&mut self, batch: &[EdgeEvent]) -> Result<TrianglesReport, GraphError> {
        Ok(self.update(batch))
    }

    /// Always empty: the sampler keeps no per-node counts.
    fn top(&self, _k: usize) -> Vec<(NodeId, u64)> {
        Vec::new()
    }
}

impl TrackOn for ShortestPaths {
    type Report = ShortestPathsReport;
    type Score = f64;

    fn track_batch(&mut self, batch: &[EdgeEvent]) -> Result<ShortestPathsReport, GraphError> {
        self.update(batch)
    }

    /// The farthest reachable nodes.
    fn top(&self, k: usize) -> Vec<(NodeId, f64)> {
        self.farthest(k)
    }
}

impl TrackOn for StronglyConnectedComponents {
    type Report = SccReport;
    type Score = usize;

    fn track_batch(&mut self, batch: &[EdgeEvent]) -> Result<SccReport, GraphError> {
        Ok(self.update(batch))
    }

    fn top(&self, k: usize) -> Vec<(NodeId, usize)> {
        self.largest_components(k)
    }
}

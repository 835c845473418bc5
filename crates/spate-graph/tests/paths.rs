//! Incremental shortest paths against Dijkstra / breadth-first search recomputed from a naive
//! model of the stream after every batch.

use crate::common::{StreamShape, random_stream};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use spate_graph::{
    EdgeEvent, EdgeOp, GraphError, Metric, NodeId, RepairMethod, ShortestPaths, ShortestPathsParams,
};
use std::collections::{BTreeMap, BTreeSet};

/// The obviously correct model: every live instance's weight, per edge.
#[derive(Clone, Debug, Default)]
pub(crate) struct PathsModel {
    pub(crate) edges: BTreeMap<(NodeId, NodeId), Vec<f64>>,
}

impl PathsModel {
    pub(crate) fn apply(&mut self, events: &[EdgeEvent], accept: impl Fn(f64) -> bool) {
        for e in events {
            if !accept(e.weight) {
                continue;
            }
            let key = (e.src, e.dst);
            match e.op {
                EdgeOp::Insert => self.edges.entry(key).or_default().push(e.weight),
                EdgeOp::Delete => {
                    if let Some(ws) = self.edges.get_mut(&key) {
                        if let Some(i) = ws.iter().position(|&w| (w - e.weight).abs() <= w * 1e-12)
                        {
                            ws.swap_remove(i);
                        }
                        if ws.is_empty() {
                            self.edges.remove(&key);
                        }
                    }
                }
            }
        }
    }

    /// Distances from `sources` by Bellman-Ford-style relaxation to a fixed point (slow and
    /// simple): hop counts or cheapest-instance weights. Sources are at 0 even without edges.
    pub(crate) fn distances(&self, sources: &[NodeId], metric: Metric) -> BTreeMap<NodeId, f64> {
        let mut dist: BTreeMap<NodeId, f64> = sources.iter().map(|&s| (s, 0.0)).collect();
        loop {
            let mut changed = false;
            for (&(u, v), ws) in &self.edges {
                let Some(&du) = dist.get(&u) else { continue };
                let len = match metric {
                    Metric::Hops => 1.0,
                    Metric::Weighted => ws.iter().copied().fold(f64::INFINITY, f64::min),
                };
                let d = du + len;
                if dist.get(&v).is_none_or(|&dv| d < dv) {
                    dist.insert(v, d);
                    changed = true;
                }
            }
            if !changed {
                return dist;
            }
        }
    }
}

fn accept(metric: Metric) -> impl Fn(f64) -> bool {
    move |w| match metric {
        Metric::Hops => EdgeEvent::is_valid_weight(w),
        Metric::Weighted => (0.0..=ShortestPaths::MAX_WEIGHT).contains(&w),
    }
}

/// Checks `paths` against the model after every batch: distances, paths, changes.
fn follow(
    params: ShortestPathsParams,
    metric: Metric,
    sources: &[NodeId],
    batches: &[Vec<EdgeEvent>],
    window: Option<usize>,
) -> Vec<RepairMethod> {
    let mut params = params.sources(sources.iter().copied()).metric(metric);
    if let Some(w) = window {
        params = params.window_batches(w);
    }
    let mut paths = params.build().expect("valid");
    let mut model = PathsModel::default();
    let mut before: BTreeMap<NodeId, f64> = sources.iter().map(|&s| (s, 0.0)).collect();
    let mut methods = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let report = paths.update(batch).expect("no negative weights");
        methods.push(report.method);
        model = match window {
            Some(w) => {
                let mut m = PathsModel::default();
                for b in &batches[i.saturating_sub(w - 1)..=i] {
                    m.apply(b, accept(metric));
                }
                m
            }
            None => {
                model.apply(batch, accept(metric));
                model
            }
        };
        let expected = model.distances(sources, metric);
        let got: BTreeMap<NodeId, f64> = paths.distances().into_iter().collect();
        // Weights are multiples of 1/8 and sums stay small: exact in f64.
        assert_eq!(got, expected, "batch {i}");
        assert_eq!(report.reachable, expected.len(), "batch {i}");
        for (&node, &d) in &expected {
            let path = paths.path_to(node).expect("reachable");
            assert!(sources.contains(&path[0]), "batch {i}");
            assert_eq!(*path.last().expect("non-empty"), node);
            let mut length = 0.0;
            for hop in path.windows(2) {
                let ws = &model.edges[&(hop[0], hop[1])];
                length += match metric {
                    Metric::Hops => 1.0,
                    Metric::Weighted => ws.iter().copied().fold(f64::INFINITY, f64::min),
                };
            }
            assert_eq!(length, d, "batch {i}: path to {node}");
        }
        // Changes: exactly the nodes whose distance differs from the batch before.
        let keys: BTreeSet<NodeId> = before.keys().chain(expected.keys()).copied().collect();
        let diff: Vec<(NodeId, Option<f64>)> = keys
            .into_iter()
            .filter(|k| before.get(k) != expected.get(k))
            .map(|k| (k, expected.get(&k).copied()))
            .collect();
        assert_eq!(paths.changes(), &diff[..], "batch {i}");
        assert_eq!(report.changed, diff.len());
        before = expected;
    }
    methods
}

fn shape(weighted: bool, delete: f64) -> StreamShape {
    StreamShape {
        nodes: 120,
        batches: 50,
        batch: 40,
        delete,
        weighted,
    }
}

fn sources() -> Vec<NodeId> {
    vec![0, 7 * 1_000_003, 999]
}

#[test]
fn incremental_hops_are_exact_after_every_batch_with_deletes() {
    let batches = random_stream(41, shape(false, 0.4));
    let methods = follow(
        ShortestPaths::params().recompute_above(f64::INFINITY),
        Metric::Hops,
        &sources(),
        &batches,
        None,
    );
    assert!(methods.iter().all(|&m| m == RepairMethod::Incremental));
}

#[test]
fn incremental_weighted_distances_are_exact_after_every_batch_with_deletes() {
    let batches = random_stream(42, shape(true, 0.4));
    let methods = follow(
        ShortestPaths::params().recompute_above(f64::INFINITY),
        Metric::Weighted,
        &sources(),
        &batches,
        None,
    );
    assert!(methods.iter().all(|&m| m == RepairMethod::Incremental));
}

#[test]
fn recompute_and_the_default_threshold_agree_with_the_model() {
    for metric in [Metric::Hops, Metric::Weighted] {
        let batches = random_stream(43, shape(metric == Metric::Weighted, 0.3));
        let always = follow(
            ShortestPaths::params().recompute_above(0.0),
            metric,
            &sources(),
            &batches,
            None,
        );
        assert!(always.iter().all(|&m| m == RepairMethod::Recompute));
        let default = follow(ShortestPaths::params(), metric, &sources(), &batches, None);
        // Small batches on a grown graph are repaired, the first ones recomputed.
        assert!(default.contains(&RepairMethod::Incremental), "{metric:?}");
        assert!(default.contains(&RepairMethod::Recompute), "{metric:?}");
    }
}

#[test]
fn windowed_expiry_is_repaired() {
    for metric in [Metric::Hops, Metric::Weighted] {
        // Inserts only: the window's expiry is the only delete.
        let batches = random_stream(44, shape(metric == Metric::Weighted, 0.0));
        follow(
            ShortestPaths::params().recompute_above(f64::INFINITY),
            metric,
            &sources(),
            &batches,
            Some(4),
        );
    }
}

/// A dense random stream over few nodes with zero-length edges (zero-length cycles
/// included) and parallel instances of different weights.
fn zero_heavy_stream(seed: u64) -> Vec<Vec<EdgeEvent>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut live: Vec<EdgeEvent> = Vec::new();
    (0..60)
        .map(|_| {
            (0..12)
                .map(|_| {
                    if rng.random_bool(0.45) && !live.is_empty() {
                        let i = rng.random_range(0..live.len());
                        live.swap_remove(i).inverse()
                    } else {
                        let w = [0.0, 0.0, 0.5, 1.0, 2.0][rng.random_range(0..5)];
                        let e = EdgeEvent::insert_weighted(
                            rng.random_range(0..14),
                            rng.random_range(0..14),
                            w,
                        );
                        live.push(e);
                        e
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn zero_length_edges_and_parallel_instances() {
    for seed in 0..20 {
        let batches = zero_heavy_stream(seed);
        follow(
            ShortestPaths::params().recompute_above(f64::INFINITY),
            Metric::Weighted,
            &[0, 1],
            &batches,
            None,
        );
    }
}

#[test]
fn negative_weights_are_an_error_and_change_nothing() {
    let mut paths = ShortestPaths::params()
        .sources([1])
        .metric(Metric::Weighted)
        .window_batches(2)
        .build()
        .expect("valid");
    paths
        .update(&[EdgeEvent::insert_weighted(1, 2, 3.0)])
        .expect("fine");
    let err = paths
        .update(&[
            EdgeEvent::insert_weighted(2, 3, 1.0),
            EdgeEvent::insert_weighted(3, 4, -2.5),
        ])
        .expect_err("negative");
    assert!(matches!(
        err,
        GraphError::NegativeWeight {
            src: 3,
            dst: 4,
            weight: -2.5
        }
    ));
    assert!(err.to_string().contains("negative weight -2.5"), "{err}");
    // Nothing of the batch was applied, and the window did not slide.
    assert_eq!(paths.distance(3), None);
    assert_eq!(paths.batches(), 1);
    paths.update(&[]).expect("fine");
    assert_eq!(paths.distance(2), Some(3.0));
    paths.update(&[]).expect("fine");
    assert_eq!(paths.distance(2), None);
    // Zero is a length; NaN, infinities and overflowing weights are counted, not applied.
    let report = paths
        .update(&[
            EdgeEvent::insert_weighted(1, 5, 0.0),
            EdgeEvent::insert_weighted(1, 6, f64::NAN),
            EdgeEvent::insert_weighted(1, 6, f64::INFINITY),
            EdgeEvent::insert_weighted(1, 6, 1e291),
        ])
        .expect("fine");
    assert_eq!(paths.distance(5), Some(0.0));
    assert_eq!(paths.distance(6), None);
    assert_eq!(report.counts.rejected, 3);
    // Hop counts do not look at weights beyond the crate's usual rule: counted, no error.
    let mut hops = ShortestPaths::params().sources([1]).build().expect("valid");
    let report = hops
        .update(&[
            EdgeEvent::insert_weighted(1, 2, -1.0),
            EdgeEvent::insert(1, 3),
        ])
        .expect("hop counts accept any batch");
    assert_eq!(report.counts.rejected, 1);
    assert_eq!(hops.distances(), vec![(1, 0.0), (3, 1.0)]);
}

#[test]
fn invalid_parameters_are_rejected() {
    assert!(matches!(
        ShortestPaths::params().build(),
        Err(GraphError::NoSources)
    ));
    for bad in [-0.5, f64::NAN] {
        assert!(matches!(
            ShortestPaths::params()
                .sources([1])
                .recompute_above(bad)
                .build(),
            Err(GraphError::RecomputeFraction { .. })
        ));
    }
    assert!(matches!(
        ShortestPaths::params()
            .sources([1])
            .window_batches(0)
            .build(),
        Err(GraphError::WindowBatches)
    ));
}

#[test]
fn sources_are_at_zero_before_they_have_edges() {
    let mut paths = ShortestPaths::params()
        .sources([5, 5, 9])
        .build()
        .expect("valid");
    assert_eq!(paths.sources(), &[5, 9]);
    assert_eq!(paths.distances(), vec![(5, 0.0), (9, 0.0)]);
    paths.update(&[EdgeEvent::insert(9, 5)]).expect("fine");
    assert_eq!(paths.distance(5), Some(0.0));
    paths.update(&[EdgeEvent::delete(9, 5)]).expect("fine");
    assert_eq!(paths.node_count(), 2);
    assert_eq!(paths.path_to(9), Some(vec![9]));
}

#[test]
fn checkpoint_roundtrip_continues_identically() {
    for metric in [Metric::Hops, Metric::Weighted] {
        let batches = random_stream(45, shape(metric == Metric::Weighted, 0.3));
        let mut a = ShortestPaths::params()
            .sources(sources())
            .metric(metric)
            .window_batches(6)
            .build()
            .expect("valid");
        for b in &batches[..20] {
            a.update(b).expect("fine");
        }
        let mut b: ShortestPaths =
            serde_json::from_str(&serde_json::to_string(&a).expect("ser")).expect("de");
        assert_eq!(a.distances(), b.distances());
        for batch in &batches[20..] {
            let (ra, rb) = (
                a.update(batch).expect("fine"),
                b.update(batch).expect("fine"),
            );
            assert_eq!(ra, rb);
            assert_eq!(a.distances(), b.distances());
        }
    }
}

#[test]
fn a_corrupt_checkpoint_is_rejected() {
    let mut paths = ShortestPaths::params()
        .sources([1])
        .metric(Metric::Weighted)
        .build()
        .expect("valid");
    paths
        .update(&[EdgeEvent::insert_weighted(1, 2, 0.0)])
        .expect("fine");
    let json = serde_json::to_value(&paths).expect("ser");
    let mut hops = json.clone();
    hops["config"]["metric"] = "Hops".into();
    let err = serde_json::from_value::<ShortestPaths>(hops).expect_err("rule mismatch");
    assert!(err.to_string().contains("weight rule"), "{err}");
    let mut no_sources = json.clone();
    no_sources["config"]["sources"] = serde_json::json!([]);
    assert!(serde_json::from_value::<ShortestPaths>(no_sources).is_err());
    let mut negative = json;
    negative["graph"]["edges"][0][2][0] = (-1.0).into();
    assert!(serde_json::from_value::<ShortestPaths>(negative).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The distances do not depend on how the stream is split into batches, nor on the
    /// recompute threshold.
    #[test]
    fn batching_and_threshold_do_not_matter(
        seed in 0u64..1_000_000,
        split in 1usize..30,
        threshold in prop_oneof![Just(0.0), Just(0.05), Just(0.5), Just(f64::INFINITY)],
        weighted in any::<bool>(),
    ) {
        let metric = if weighted { Metric::Weighted } else { Metric::Hops };
        let shape = StreamShape { nodes: 25, batches: 1, batch: 150, delete: 0.4, weighted };
        let events = random_stream(seed, shape).concat();
        let sources = [0, 3 * 1_000_003];
        let mut paths = ShortestPaths::params()
            .sources(sources)
            .metric(metric)
            .recompute_above(threshold)
            .build()
            .expect("valid");
        for chunk in events.chunks(split) {
            paths.update(chunk).expect("fine");
        }
        let mut model = PathsModel::default();
        model.apply(&events, accept(metric));
        let got: BTreeMap<NodeId, f64> = paths.distances().into_iter().collect();
        prop_assert_eq!(got, model.distances(&sources, metric));
    }
}

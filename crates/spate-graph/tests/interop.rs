//! petgraph snapshots: round trips in both directions, and petgraph's own algorithms on a
//! converted graph against Spate's.

use crate::common::{Reference, StreamShape, random_stream};
use petgraph::stable_graph::StableDiGraph;
use spate_graph::{
    DirectedGraph, EdgeEvent, GraphError, Metric, NodeId, PetgraphSnapshot, ShortestPaths,
    StronglyConnectedComponents, SummedEdge, node_indices,
};
use std::collections::BTreeMap;

/// `(src, dst) -> (multiplicity, summed weight)` of a snapshot, by node id.
fn snapshot_edges(g: &PetgraphSnapshot) -> BTreeMap<(NodeId, NodeId), (u32, f64)> {
    let mut out = BTreeMap::new();
    for e in g.edge_indices() {
        let (a, b) = g.edge_endpoints(e).expect("live edge");
        let w = g[e];
        let previous = out.insert((g[a], g[b]), (w.multiplicity, w.weight));
        assert!(previous.is_none(), "one petgraph edge per pair");
    }
    out
}

fn graph_edges(g: &DirectedGraph) -> BTreeMap<(NodeId, NodeId), (u32, f64)> {
    g.edges()
        .map(|(u, v, w)| ((u, v), (g.edge_multiplicity(u, v).expect("present"), w)))
        .collect()
}

fn sorted_nodes(g: &DirectedGraph) -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = g.nodes().collect();
    nodes.sort_unstable();
    nodes
}

#[test]
fn a_streamed_graph_round_trips_with_ids_weights_and_multiplicities() {
    let batches = random_stream(
        31,
        StreamShape {
            nodes: 120,
            batches: 30,
            batch: 60,
            delete: 0.35,
            weighted: true,
        },
    );
    let mut graph = DirectedGraph::new();
    let mut reference = Reference::default();
    for (i, batch) in batches.iter().enumerate() {
        graph.apply(batch);
        reference.apply(batch);
        let snapshot = graph.to_stable_graph();
        // The snapshot is the reference multigraph: same pairs, instances and summed weights
        // (sums in a different order: equal within rounding).
        let edges = snapshot_edges(&snapshot);
        assert_eq!(edges.len(), reference.edges.len(), "batch {i}");
        for ((pair, (count, weight)), (rpair, (rcount, rweight))) in
            edges.iter().zip(&reference.edges)
        {
            assert_eq!((pair, count), (rpair, rcount), "batch {i}");
            assert!((weight - rweight).abs() <= 1e-12 * rweight, "batch {i}");
        }
        // Nodes in increasing id order, each id once; indices find them.
        let ids: Vec<NodeId> = snapshot.node_indices().map(|n| snapshot[n]).collect();
        assert_eq!(ids, sorted_nodes(&graph));
        let index = node_indices(&snapshot);
        assert!(ids.iter().all(|id| snapshot[index[id]] == *id));
        // And back: exactly the same graph.
        let back = DirectedGraph::from_stable_graph(&snapshot).expect("valid snapshot");
        assert_eq!(graph_edges(&back), graph_edges(&graph), "batch {i}");
        assert_eq!(sorted_nodes(&back), sorted_nodes(&graph));
        // The round trip is a fixed point.
        let again = back.to_stable_graph();
        assert_eq!(snapshot_edges(&again), edges);
    }
    assert!(graph.edge_count() > 100);
}

#[test]
fn a_petgraph_graph_round_trips_merging_parallel_edges_and_keeping_isolated_nodes() {
    let mut g: PetgraphSnapshot = StableDiGraph::new();
    let a = g.add_node(7);
    let b = g.add_node(u64::MAX);
    let c = g.add_node(3);
    g.add_node(42);
    let removed = g.add_node(99);
    g.add_edge(a, b, SummedEdge::single(1.5));
    g.add_edge(
        a,
        b,
        SummedEdge {
            weight: 2.0,
            multiplicity: 3,
        },
    );
    g.add_edge(b, c, SummedEdge::single(0.25));
    g.add_edge(c, c, SummedEdge::single(1.0));
    // Holes in petgraph's indices are fine.
    g.remove_node(removed);
    let graph = DirectedGraph::from_stable_graph(&g).expect("valid");
    assert_eq!(graph.edge_weight(7, u64::MAX), Some(3.5));
    assert_eq!(graph.edge_multiplicity(7, u64::MAX), Some(4));
    assert_eq!(graph.edge_weight(3, 3), Some(1.0));
    assert_eq!(sorted_nodes(&graph), vec![3, 7, 42, u64::MAX]);
    let back = graph.to_stable_graph();
    let lone_back = node_indices(&back)[&42];
    assert_eq!(back.neighbors_undirected(lone_back).count(), 0);
    assert_eq!(
        snapshot_edges(&back),
        BTreeMap::from([
            ((3, 3), (1, 1.0)),
            ((7, u64::MAX), (4, 3.5)),
            ((u64::MAX, 3), (1, 0.25)),
        ])
    );
    // The isolated node stays while the others come and go.
    let mut graph = graph;
    graph.apply(&[EdgeEvent::delete_weighted(3, 3, 1.0)]);
    assert!(graph.contains_node(42));
    assert_eq!(graph.node_count(), 4);
}

#[test]
fn unusable_petgraph_graphs_are_typed_errors() {
    let edge = |w: SummedEdge| {
        let mut g: PetgraphSnapshot = StableDiGraph::new();
        let (a, b) = (g.add_node(1), g.add_node(2));
        g.add_edge(a, b, w);
        DirectedGraph::from_stable_graph(&g)
    };
    for weight in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-310, 1e301] {
        assert!(
            matches!(
                edge(SummedEdge::single(weight)),
                Err(GraphError::EdgeWeight { src: 1, dst: 2, .. })
            ),
            "{weight}"
        );
    }
    assert!(matches!(
        edge(SummedEdge {
            weight: 1.0,
            multiplicity: 0
        }),
        Err(GraphError::EdgeMultiplicity { src: 1, dst: 2 })
    ));
    let mut g: PetgraphSnapshot = StableDiGraph::new();
    let (a, b) = (g.add_node(1), g.add_node(2));
    for _ in 0..2 {
        g.add_edge(
            a,
            b,
            SummedEdge {
                weight: 1.0,
                multiplicity: u32::MAX,
            },
        );
    }
    assert!(matches!(
        DirectedGraph::from_stable_graph(&g),
        Err(GraphError::EdgeMultiplicity { .. })
    ));
    // Out-weights of one node that sum past the bound.
    let mut g: PetgraphSnapshot = StableDiGraph::new();
    let (a, b, c) = (g.add_node(1), g.add_node(2), g.add_node(3));
    g.add_edge(a, b, SummedEdge::single(1e300));
    g.add_edge(a, c, SummedEdge::single(1e300));
    assert!(matches!(
        DirectedGraph::from_stable_graph(&g),
        Err(GraphError::EdgeWeight { src: 1, .. })
    ));
    let mut g: PetgraphSnapshot = StableDiGraph::new();
    g.add_node(5);
    g.add_node(5);
    let err = DirectedGraph::from_stable_graph(&g).expect_err("duplicate");
    assert!(matches!(err, GraphError::DuplicateNode { node: 5 }));
    assert!(err.to_string().contains("node id 5"), "{err}");
}

/// A random stream as the crate's tests use, keeping at most one live instance per edge
/// (so an edge's summed weight, which the snapshot carries, is also its cheapest instance).
fn simple_stream(seed: u64, weighted: bool) -> Vec<Vec<EdgeEvent>> {
    let mut live: BTreeMap<(NodeId, NodeId), f64> = BTreeMap::new();
    random_stream(
        seed,
        StreamShape {
            nodes: 90,
            batches: 25,
            batch: 50,
            delete: 0.3,
            weighted,
        },
    )
    .into_iter()
    .map(|batch| {
        batch
            .into_iter()
            .filter(|e| match e.op {
                spate_graph::EdgeOp::Insert => live.insert((e.src, e.dst), e.weight).is_none(),
                spate_graph::EdgeOp::Delete => {
                    live.get(&(e.src, e.dst)) == Some(&e.weight)
                        && live.remove(&(e.src, e.dst)).is_some()
                }
            })
            .collect()
    })
    .collect()
}

#[test]
fn petgraph_tarjan_on_the_snapshot_finds_the_same_strong_components() {
    let batches = random_stream(
        32,
        StreamShape {
            nodes: 70,
            batches: 30,
            batch: 40,
            delete: 0.3,
            weighted: true,
        },
    );
    let mut graph = DirectedGraph::new();
    let mut scc = StronglyConnectedComponents::params()
        .build()
        .expect("valid");
    let mut nontrivial_seen = 0;
    for (i, batch) in batches.iter().enumerate() {
        graph.apply(batch);
        scc.update(batch);
        let snapshot = graph.to_stable_graph();
        let mut theirs: Vec<Vec<NodeId>> = petgraph::algo::tarjan_scc(&snapshot)
            .into_iter()
            .map(|c| {
                let mut ids: Vec<NodeId> = c.into_iter().map(|n| snapshot[n]).collect();
                ids.sort_unstable();
                ids
            })
            .collect();
        theirs.sort_unstable_by_key(|c| c[0]);
        assert_eq!(scc.components(), theirs, "batch {i}");
        nontrivial_seen += scc.nontrivial().len();
    }
    assert!(nontrivial_seen > 0);
}

#[test]
fn petgraph_dijkstra_on_the_snapshot_finds_the_same_distances() {
    for (metric, weighted) in [(Metric::Hops, false), (Metric::Weighted, true)] {
        let sources = [0, 5 * 1_000_003];
        let mut graph = DirectedGraph::new();
        let mut paths = ShortestPaths::params()
            .sources(sources)
            .metric(metric)
            .build()
            .expect("valid");
        for (i, batch) in simple_stream(33, weighted).iter().enumerate() {
            graph.apply(batch);
            paths.update(batch).expect("non-negative");
            let snapshot = graph.to_stable_graph();
            let index = node_indices(&snapshot);
            let mut theirs: BTreeMap<NodeId, f64> = sources.iter().map(|&s| (s, 0.0)).collect();
            for s in sources {
                let Some(&start) = index.get(&s) else {
                    continue;
                };
                let lengths = petgraph::algo::dijkstra(&snapshot, start, None, |e| match metric {
                    Metric::Hops => 1.0,
                    Metric::Weighted => e.weight().weight,
                });
                for (n, d) in lengths {
                    let slot = theirs.entry(snapshot[n]).or_insert(f64::INFINITY);
                    *slot = slot.min(d);
                }
            }
            let ours: BTreeMap<NodeId, f64> = paths.distances().into_iter().collect();
            // Weights are multiples of 1/8: sums are exact whatever the order.
            assert_eq!(ours, theirs, "{metric:?} batch {i}");
        }
        assert!(paths.reachable_count() > 10, "{metric:?}");
    }
}

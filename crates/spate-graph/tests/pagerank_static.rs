//! Static PageRank against networkx fixtures (see tests/fixtures/pagerank/README.md).

use crate::common::{Reference, fixture};
use flate2::read::GzDecoder;
use spate_graph::{Columns, CsrGraph, EdgeEvent, EdgeListFormat, GraphError, PageRank, Ranks};
use std::io::{BufRead, BufReader};

fn networkx_ranks(name: &str) -> Ranks {
    let file = std::fs::File::open(fixture(&format!("pagerank/{name}.ranks.gz"))).expect("fixture");
    let pairs = BufReader::new(GzDecoder::new(file))
        .lines()
        .map(|line| {
            let line = line.expect("readable");
            let (node, rank) = line.split_once(' ').expect("two fields");
            (node.parse().expect("id"), rank.parse().expect("rank"))
        })
        .collect();
    Ranks::from_pairs(pairs)
}

fn pairs_file(name: &str) -> Vec<(u64, f64)> {
    let text = std::fs::read_to_string(fixture(&format!("pagerank/{name}"))).expect("fixture");
    text.lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').expect("two fields");
            (a.parse().expect("id"), b.parse().expect("weight"))
        })
        .collect()
}

fn edges(name: &str, format: EdgeListFormat) -> Vec<(u64, u64, f64)> {
    let list = format
        .read_path(fixture(&format!("pagerank/{name}")))
        .expect("parses");
    assert_eq!(list.stats.malformed, 0);
    list.edges
        .iter()
        .map(|e| (e.src, e.dst, e.weight))
        .collect()
}

fn exact(graph: &CsrGraph, sources: Option<Vec<(u64, f64)>>) -> Ranks {
    let mut params = PageRank::params().tolerance(1e-12);
    if let Some(s) = sources {
        params = params.personalization(s);
    }
    let result = params.build().expect("valid").run(graph).expect("runs");
    assert!(result.converged && result.error_bound <= 1e-12);
    assert!((result.ranks.sum() - 1.0).abs() < 1e-12);
    result.ranks
}

fn check(name: &str, ours: &Ranks) {
    let expected = networkx_ranks(name);
    assert_eq!(ours.len(), expected.len(), "{name}: node sets differ");
    let l1 = ours.l1_distance(&expected);
    assert!(l1 <= 1e-8, "{name}: L1 to networkx {l1:e}");
}

#[test]
fn tiny_graph_with_dangling_self_loop_parallel_and_isolated_nodes() {
    let e = edges("tiny.edges", EdgeListFormat::new());
    let g = CsrGraph::from_edges_and_nodes(e, [9]).expect("valid");
    assert!(!g.is_unweighted());
    check("tiny", &exact(&g, None));
}

#[test]
fn random_weighted_multigraph() {
    let g =
        CsrGraph::from_edges(edges("random_multi.edges", EdgeListFormat::new())).expect("valid");
    check("random_multi", &exact(&g, None));
}

#[test]
fn personalized_with_a_source_outside_the_graph() {
    let g =
        CsrGraph::from_edges(edges("random_multi.edges", EdgeListFormat::new())).expect("valid");
    let sources = pairs_file("random_multi_personalized.personalization");
    check("random_multi_personalized", &exact(&g, Some(sources)));
}

#[test]
fn college_msg_slice_with_repeated_messages() {
    let format = EdgeListFormat::new().columns(Columns::SrcDstTime);
    let g = CsrGraph::from_edges(edges("college_msg_5000.edges.gz", format)).expect("valid");
    // Repeated messages are parallel edges: summed weights, so the graph is weighted.
    assert!(!g.is_unweighted());
    check("college_msg_5000", &exact(&g, None));
}

#[test]
fn epinions_slice_crlf_with_comment_header() {
    let list = EdgeListFormat::new()
        .read_path(fixture("pagerank/epinions_10000.edges.gz"))
        .expect("parses");
    assert_eq!(
        (list.stats.edges, list.stats.skipped, list.stats.malformed),
        (10_000, 4, 0)
    );
    let g =
        CsrGraph::from_edges(list.edges.iter().map(|e| (e.src, e.dst, e.weight))).expect("valid");
    assert!(g.is_unweighted());
    check("epinions_10000", &exact(&g, None));
}

#[test]
fn snapshot_of_a_dynamic_graph_ranks_like_the_edge_list() {
    let e = edges("random_multi.edges", EdgeListFormat::new());
    let mut graph = spate_graph::DirectedGraph::new();
    let events: Vec<_> = e
        .iter()
        .map(|&(u, v, w)| EdgeEvent::insert_weighted(u, v, w))
        .collect();
    graph.apply(&events);
    let g = CsrGraph::from_graph(&graph);
    assert_eq!(g.node_count(), graph.node_count());
    check("random_multi", &exact(&g, None));
}

#[test]
fn error_bound_is_honest_at_a_loose_tolerance() {
    let e = edges("random_multi.edges", EdgeListFormat::new());
    let g = CsrGraph::from_edges(e).expect("valid");
    let loose = PageRank::params()
        .tolerance(1e-3)
        .build()
        .expect("valid")
        .run(&g)
        .expect("runs");
    let truth = networkx_ranks("random_multi");
    let err = loose.ranks.l1_distance(&truth);
    assert!(loose.converged);
    assert!(
        err <= loose.error_bound,
        "error {err:e} above bound {:e}",
        loose.error_bound
    );
}

#[test]
fn iteration_limit_is_a_status_not_an_error() {
    let g = Reference::default().csr();
    let empty = PageRank::params()
        .build()
        .expect("valid")
        .run(&g)
        .expect("runs");
    assert!(empty.converged && empty.ranks.is_empty());
    let g =
        CsrGraph::from_edges(edges("random_multi.edges", EdgeListFormat::new())).expect("valid");
    let r = PageRank::params()
        .max_iterations(2)
        .build()
        .expect("valid")
        .run(&g)
        .expect("runs");
    assert_eq!(r.iterations, 2);
    assert!(!r.converged);
}

#[test]
fn parameters_are_checked_before_any_data() {
    assert!(matches!(
        PageRank::params().damping(1.0).build(),
        Err(GraphError::Damping { .. })
    ));
    assert!(matches!(
        PageRank::params().tolerance(0.0).build(),
        Err(GraphError::Tolerance { .. })
    ));
    assert!(matches!(
        PageRank::params().max_iterations(0).build(),
        Err(GraphError::MaxIterations)
    ));
    assert!(matches!(
        PageRank::params().personalization([(1, -1.0)]).build(),
        Err(GraphError::PersonalizationWeight { node: 1, .. })
    ));
    assert!(matches!(
        PageRank::params().personalization([(1, 0.0)]).build(),
        Err(GraphError::EmptyPersonalization)
    ));
    let g = CsrGraph::from_edges([(1, 2, 1.0)]).expect("valid");
    let pr = PageRank::params()
        .personalization([(5, 1.0)])
        .build()
        .expect("valid");
    assert!(matches!(
        pr.run(&g),
        Err(GraphError::SourcesNotInGraph { sources: 1 })
    ));
    assert!(matches!(
        CsrGraph::from_edges([(1, 2, f64::NAN)]),
        Err(GraphError::EdgeWeight { src: 1, dst: 2, .. })
    ));
}

/// A static graph refuses weights whose inverse or summed out-weight overflows, and ranks the
/// rest finitely.
#[test]
fn overflowing_weights_are_refused_by_a_static_graph() {
    for edges in [
        vec![(1, 2, 1e-310)],
        vec![(1, 2, 1e308)],
        vec![(1, 2, 1e300), (1, 3, 1e300)],
        vec![(1, 2, 1e300), (1, 2, 1e300)],
    ] {
        let err = CsrGraph::from_edges(edges.clone()).expect_err("overflows");
        assert!(
            matches!(err, GraphError::EdgeWeight { src: 1, .. }),
            "{edges:?}: {err}"
        );
    }
    let g = CsrGraph::from_edges([
        (1, 2, 1e300),
        (2, 1, f64::MIN_POSITIVE),
        (2, 3, 1.0),
        (3, 1, 1e300),
    ])
    .expect("usable");
    let result = PageRank::params()
        .build()
        .expect("valid")
        .run(&g)
        .expect("runs");
    assert!(result.ranks.iter().all(|(_, r)| r.is_finite() && r > 0.0));
}

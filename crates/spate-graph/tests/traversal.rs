//! Shortest paths and strongly connected components over real temporal edge streams with a
//! sliding window, against networkx after every batch (fixtures written by
//! `tests/fixtures/traversal/generate.py`, which documents the replay and the references).

use crate::common::{dataset, fixture};
use flate2::read::GzDecoder;
use spate_graph::{
    Columns, EdgeEvent, EdgeListFormat, EdgeRecord, Metric, NodeId, RepairMethod, ShortestPaths,
    StronglyConnectedComponents,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

const BATCH: usize = 1000;
const WINDOW: usize = 10;
const SOURCES: usize = 3;

/// A bundled temporal graph in time order, as the fixture script replays it.
fn stream(name: &str) -> Vec<EdgeRecord> {
    let (file, columns) = match name {
        "college_msg" => ("CollegeMsg.txt.gz", Columns::SrcDstTime),
        "bitcoin_otc" => ("soc-sign-bitcoinotc.csv.gz", Columns::SrcDstWeightTime),
        "bitcoin_alpha" => ("soc-sign-bitcoinalpha.csv.gz", Columns::SrcDstWeightTime),
        _ => unreachable!("no stream {name}"),
    };
    let mut list = EdgeListFormat::new()
        .columns(columns)
        .strict(true)
        .read_path(dataset(file))
        .expect("bundled dataset parses");
    list.sort_by_time();
    list.edges
}

/// The nodes with the most out-edges, ties to the smaller id.
fn sources(edges: &[EdgeRecord]) -> Vec<NodeId> {
    let mut out: BTreeMap<NodeId, usize> = BTreeMap::new();
    for e in edges {
        *out.entry(e.src).or_default() += 1;
    }
    let mut ranked: Vec<(NodeId, usize)> = out.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().take(SOURCES).map(|r| r.0).collect()
}

/// Batches of inserts: unweighted, or with length `11 - rating`.
fn batches(edges: &[EdgeRecord], rating_lengths: bool) -> Vec<Vec<EdgeEvent>> {
    edges
        .chunks(BATCH)
        .map(|chunk| {
            chunk
                .iter()
                .map(|e| {
                    if rating_lengths {
                        EdgeEvent::insert_weighted(e.src, e.dst, 11.0 - e.weight)
                    } else {
                        EdgeEvent::insert(e.src, e.dst)
                    }
                })
                .collect()
        })
        .collect()
}

fn fixture_lines(name: &str) -> Vec<Vec<String>> {
    let file = std::fs::File::open(fixture(&format!("traversal/{name}"))).expect("fixture");
    BufReader::new(GzDecoder::new(file))
        .lines()
        .map(|l| {
            l.expect("utf-8")
                .split(' ')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `batch -> (node -> distance)` from a `batch node distance` fixture.
fn distances(name: &str) -> BTreeMap<usize, BTreeMap<NodeId, f64>> {
    let mut out: BTreeMap<usize, BTreeMap<NodeId, f64>> = BTreeMap::new();
    for f in fixture_lines(name) {
        let parse = |i: usize| f[i].parse::<f64>().expect("number");
        out.entry(parse(0) as usize)
            .or_default()
            .insert(f[1].parse().expect("node id"), parse(2));
    }
    out
}

/// Runs shortest paths at three thresholds (the default, always repaired, always
/// recomputed) and compares every batch with networkx. Distances are whole numbers (hops, or
/// sums of integer lengths): compared exactly.
fn check_paths(name: &str, metric: Metric) {
    let edges = stream(name);
    let sources = sources(&edges);
    let batches = batches(&edges, metric == Metric::Weighted);
    let suffix = if metric == Metric::Hops {
        "bfs"
    } else {
        "sssp"
    };
    let expected = distances(&format!("{name}.{suffix}.gz"));
    assert_eq!(expected.len(), batches.len());
    for threshold in [None, Some(f64::INFINITY), Some(0.0)] {
        let mut params = ShortestPaths::params()
            .sources(sources.iter().copied())
            .metric(metric)
            .window_batches(WINDOW);
        if let Some(t) = threshold {
            params = params.recompute_above(t);
        }
        let mut paths = params.build().expect("valid");
        let mut incremental = 0;
        for (i, batch) in batches.iter().enumerate() {
            let report = paths.update(batch).expect("non-negative lengths");
            incremental += usize::from(report.method == RepairMethod::Incremental);
            let got: BTreeMap<NodeId, f64> = paths.distances().into_iter().collect();
            assert_eq!(
                got,
                expected[&(i + 1)],
                "{name} {metric:?} threshold {threshold:?} batch {}",
                i + 1
            );
        }
        match threshold {
            Some(0.0) => assert_eq!(incremental, 0),
            Some(_) => assert_eq!(incremental, batches.len(), "{name}"),
            None => {}
        }
    }
}

#[test]
fn bfs_matches_networkx_on_college_msg() {
    check_paths("college_msg", Metric::Hops);
}

#[test]
fn bfs_matches_networkx_on_bitcoin_otc() {
    check_paths("bitcoin_otc", Metric::Hops);
}

#[test]
fn bfs_matches_networkx_on_bitcoin_alpha() {
    check_paths("bitcoin_alpha", Metric::Hops);
}

#[test]
fn weighted_paths_match_networkx_on_bitcoin_otc() {
    check_paths("bitcoin_otc", Metric::Weighted);
}

#[test]
fn weighted_paths_match_networkx_on_bitcoin_alpha() {
    check_paths("bitcoin_alpha", Metric::Weighted);
}

/// Components per batch at the default and the two extreme thresholds, against networkx.
fn check_scc(name: &str) {
    let edges = stream(name);
    let batches = batches(&edges, false);
    let mut count: BTreeMap<usize, usize> = BTreeMap::new();
    let mut nontrivial: BTreeMap<usize, Vec<Vec<NodeId>>> = BTreeMap::new();
    for f in fixture_lines(&format!("{name}.scc.gz")) {
        let batch: usize = f[0].parse().expect("batch");
        let numbers: Vec<NodeId> = f[1..].iter().map(|x| x.parse().expect("id")).collect();
        if numbers.len() == 1 {
            count.insert(batch, numbers[0] as usize);
        } else {
            nontrivial.entry(batch).or_default().push(numbers);
        }
    }
    assert_eq!(count.len(), batches.len());
    for threshold in [None, Some(f64::INFINITY), Some(0.0)] {
        let mut params = StronglyConnectedComponents::params().window_batches(WINDOW);
        if let Some(t) = threshold {
            params = params.recompute_above(t);
        }
        let mut scc = params.build().expect("valid");
        for (i, batch) in batches.iter().enumerate() {
            let report = scc.update(batch);
            let b = i + 1;
            assert_eq!(
                report.components, count[&b],
                "{name} {threshold:?} batch {b}"
            );
            let expected = nontrivial.get(&b).cloned().unwrap_or_default();
            assert_eq!(scc.nontrivial(), expected, "{name} {threshold:?} batch {b}");
        }
    }
}

#[test]
fn scc_matches_networkx_on_college_msg() {
    check_scc("college_msg");
}

#[test]
fn scc_matches_networkx_on_bitcoin_otc() {
    check_scc("bitcoin_otc");
}

#[test]
fn scc_matches_networkx_on_bitcoin_alpha() {
    check_scc("bitcoin_alpha");
}

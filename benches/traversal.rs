//! Incremental shortest paths and strongly connected components against recomputation from
//! scratch, per batch, on real edge streams, side by side in one run.
//!
//! Each algorithm runs three times over the same windowed stream: `incremental` never
//! recomputes (`recompute_above(f64::INFINITY)`; the SCC work bound still applies), `recompute`
//! always does (`recompute_above(0.0)`: breadth-first search, Dijkstra or Tarjan over the
//! whole window after every batch), and `default` is the shipped threshold, which picks per
//! batch. The table gives the mean time per batch (the whole update: window, graph and
//! result) and the ratio recompute / incremental, then the mean edges each scanned per batch
//! (the work of the traversal itself, without the graph's upkeep) and their ratio.
//!
//! Streams: CollegeMsg, bitcoin-otc and bitcoin-alpha in time order, and soc-Epinions1 in
//! file order; batches of 100 edges with a window of 100 batches and of 1,000 edges with a
//! window of 10 (so each batch also expires the batch that many batches older, and the
//! graph holds 10,000 edge instances), and on soc-Epinions1 also 1,000 edges with a window
//! of 200 (200,000). Shortest paths start from the 3 nodes with the most out-edges;
//! weighted lengths are `11 - rating` on the bitcoin graphs.
//!
//! Run: `cargo bench -p spate-benches --bench traversal` (`SPATE_BENCH_ROUNDS`, default 3:
//! rounds, each running every variant once, in rotating order; the table gives medians).

use spate::graph::{
    EdgeEvent, EdgeListFormat, EdgeRecord, Metric, RepairMethod, ShortestPaths,
    StronglyConnectedComponents,
};
use spate_benches::{datasets, temporal_edge_streams};
use std::collections::BTreeMap;
use std::time::Instant;

/// `(edges per batch, window in batches)`: windows of 10,000 edges either way.
const CASES: [(usize, usize); 2] = [(100, 100), (1000, 10)];
/// soc-Epinions1 also runs with a window of 200,000 edges.
const LARGE: (usize, usize) = (1000, 200);

#[derive(Clone, Copy, PartialEq)]
enum Algo {
    Bfs,
    Sssp,
    Scc,
}

impl Algo {
    fn name(self) -> &'static str {
        match self {
            Algo::Bfs => "BFS",
            Algo::Sssp => "SSSP",
            Algo::Scc => "SCC",
        }
    }
}

/// Mean milliseconds per batch, the batches the update repaired incrementally, and the mean
/// edges it scanned per batch (the algorithm's own work counter).
fn run(
    algo: Algo,
    sources: &[u64],
    batches: &[Vec<EdgeEvent>],
    window: usize,
    threshold: Option<f64>,
) -> (f64, usize, f64) {
    let mut incremental = 0;
    let mut scanned = 0;
    let started = Instant::now();
    match algo {
        Algo::Bfs | Algo::Sssp => {
            let metric = if algo == Algo::Bfs {
                Metric::Hops
            } else {
                Metric::Weighted
            };
            let mut params = ShortestPaths::params()
                .sources(sources.iter().copied())
                .metric(metric)
                .window_batches(window);
            if let Some(t) = threshold {
                params = params.recompute_above(t);
            }
            let mut paths = params.build().expect("valid");
            for b in batches {
                let r = paths.update(b).expect("non-negative");
                incremental += usize::from(r.method == RepairMethod::Incremental);
                scanned += r.scanned_edges;
            }
        }
        Algo::Scc => {
            let mut params = StronglyConnectedComponents::params().window_batches(window);
            if let Some(t) = threshold {
                params = params.recompute_above(t);
            }
            let mut scc = params.build().expect("valid");
            for b in batches {
                let r = scc.update(b);
                incremental += usize::from(r.method == RepairMethod::Incremental);
                scanned += r.scanned_edges;
            }
        }
    }
    let n = batches.len() as f64;
    (
        started.elapsed().as_secs_f64() * 1e3 / n,
        incremental,
        scanned as f64 / n,
    )
}

fn sources(edges: &[EdgeRecord]) -> Vec<u64> {
    let mut out: BTreeMap<u64, usize> = BTreeMap::new();
    for e in edges {
        *out.entry(e.src).or_default() += 1;
    }
    let mut ranked: Vec<(u64, usize)> = out.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().take(3).map(|r| r.0).collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("SPATE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut streams: Vec<(&str, Vec<EdgeRecord>, bool)> = temporal_edge_streams()
        .into_iter()
        .map(|s| (s.name, s.edges, s.name.starts_with("bitcoin")))
        .collect();
    let epinions = EdgeListFormat::new()
        .read_path(datasets().join("soc-Epinions1.txt.gz"))
        .expect("the bundled soc-Epinions1");
    streams.push(("soc-Epinions1", epinions.edges, false));
    println!("## Incremental vs recomputed traversals ({rounds} rounds, median ms per batch)");
    println!();
    println!(
        "| stream | algorithm | batch | window | incremental ms | recompute ms | ratio | default ms | default repairs | edges scanned: incremental | recompute | ratio |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, edges, rated) in &streams {
        let sources = sources(edges);
        let algos: &[Algo] = if *rated {
            &[Algo::Bfs, Algo::Sssp, Algo::Scc]
        } else {
            &[Algo::Bfs, Algo::Scc]
        };
        let mut cases = CASES.to_vec();
        if *name == "soc-Epinions1" {
            cases.push(LARGE);
        }
        for &(size, window) in &cases {
            for &algo in algos {
                let batches: Vec<Vec<EdgeEvent>> = edges
                    .chunks(size)
                    .map(|c| {
                        c.iter()
                            .map(|e| {
                                if algo == Algo::Sssp {
                                    EdgeEvent::insert_weighted(e.src, e.dst, 11.0 - e.weight)
                                } else {
                                    EdgeEvent::insert(e.src, e.dst)
                                }
                            })
                            .collect()
                    })
                    .collect();
                let variants = [Some(f64::INFINITY), Some(0.0), None];
                let mut times: [Vec<f64>; 3] = Default::default();
                let mut repaired = 0;
                let mut work = [0.0; 3];
                for round in 0..rounds {
                    for k in 0..3 {
                        let v = (k + round) % 3;
                        let (ms, inc, scanned) = run(algo, &sources, &batches, window, variants[v]);
                        times[v].push(ms);
                        work[v] = scanned;
                        if v == 2 {
                            repaired = inc;
                        }
                    }
                }
                let ratios: Vec<f64> = times[1].iter().zip(&times[0]).map(|(r, i)| r / i).collect();
                let [inc, rec, def] = times.map(median);
                println!(
                    "| {name} | {} | {size} | {window} | {inc:.3} | {rec:.3} | {:.2} | {def:.3} | {repaired}/{} | {:.0} | {:.0} | {:.1} |",
                    algo.name(),
                    median(ratios),
                    batches.len(),
                    work[0],
                    work[1],
                    work[1] / work[0].max(1.0),
                );
            }
        }
    }
}

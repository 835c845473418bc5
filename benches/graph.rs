//! spate-graph benchmarks on soc-Epinions1 (75,879 nodes, 508,837 edges).
//!
//! * `pagerank_update/{incremental,push,power_iteration,full_recompute}/B`: time per batch of
//!   `B` edge events at equal, *proven* accuracy (L1 error bound ≤ 1e-4 after every batch).
//!   The stream is the edge list in a seeded random order; the graph starts with all but the
//!   last 20,000 edges, and batches alternate between inserting the next `B` edges and
//!   deleting the `B` oldest, so the graph stays at ~489k edges. `incremental` is the cost
//!   model's choice; `push` and `power_iteration` force one method (the two sides of the
//!   switch); `full_recompute` applies the batch, snapshots the graph into compressed rows and
//!   runs the static solver from the uniform vector, the baseline.
//! * `pagerank_static/iteration`: one static iteration over the full graph;
//!   `pagerank_static/bandwidth_limit`: a parallel streaming sum over as many bytes as an
//!   iteration must move at least (rows, sources, three rank vectors), on the same threads
//!   (on soc-Epinions1 these 4.5 MB fit in the L3 cache, so this is cache bandwidth);
//!   `pagerank_static/dram_bandwidth_limit`: the same bytes at main-memory speed (a streaming
//!   sum over a 512 MiB buffer, its time scaled to one iteration's bytes).
//!   `pagerank_static/snapshot`: compressed rows from the dynamic graph, which the full
//!   recompute and the updater's power-iteration fallback build every batch.
//!   `SPATE_GRAPH_BENCH_STATIC_ONLY=1` runs only this group and the line below.
//! * A line before the summary and the static group gives the iteration's ratio to
//!   the main-memory limit from rounds that time one of each in turn: the median of the
//!   per-round ratios. On a shared VM both drift by tens of percent over seconds, so timing
//!   them minutes apart, as the criterion group does, adds that drift to the ratio.
//!
//! Before criterion runs, a summary table is printed (mean per-batch times over a fixed number
//! of batches, methods chosen, work counters, ratios, and the measured error of the final
//! ranks; `SPATE_GRAPH_BENCH_SIZES=100,1000` limits its batch sizes).
//! `SPATE_GRAPH_BENCH_SUMMARY_ONLY=1` prints only that and the static line,
//! `SPATE_GRAPH_BENCH_NO_SUMMARY=1` skips both, `SPATE_GRAPH_BENCH_TRACE=1` adds a line per
//! batch (method, time, the cost model's predictions, work).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use spate_graph::{
    CsrGraph, DirectedGraph, EdgeEvent, EdgeListFormat, IncrementalPageRank, PageRank,
    PageRankReport, UpdateMethod, UpdateStrategy,
};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const TOLERANCE: f64 = 1e-4;
const HELD_OUT: usize = 20_000;
const SIZES: [usize; 5] = [1, 10, 100, 1000, 10_000];
/// The main-memory baseline's buffer: 512 MiB, far beyond any cache.
const DRAM_BUFFER_BYTES: usize = 512 << 20;

/// The bundled copy (see `datasets/README.md`).
fn dataset() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/soc-Epinions1.txt.gz")
}

/// The edge list in a seeded random order.
fn load() -> Vec<(u64, u64)> {
    let list = EdgeListFormat::new()
        .read_path(dataset())
        .expect("the bundled datasets/soc-Epinions1.txt.gz");
    assert_eq!(list.stats.malformed, 0);
    let mut edges: Vec<(u64, u64)> = list.edges.iter().map(|e| (e.src, e.dst)).collect();
    edges.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(42));
    edges
}

/// A sliding window over the cyclic edge order: live edges are `start..end` (mod m).
#[derive(Clone)]
struct Stream<'a> {
    edges: &'a [(u64, u64)],
    start: usize,
    end: usize,
    insert_next: bool,
}

impl<'a> Stream<'a> {
    fn new(edges: &'a [(u64, u64)]) -> Self {
        Self {
            edges,
            start: 0,
            end: edges.len() - HELD_OUT,
            insert_next: true,
        }
    }

    fn initial(&self) -> Vec<EdgeEvent> {
        self.edges[..self.end]
            .iter()
            .map(|&(u, v)| EdgeEvent::insert(u, v))
            .collect()
    }

    fn next_batch(&mut self, b: usize, out: &mut Vec<EdgeEvent>) {
        out.clear();
        let m = self.edges.len();
        if self.insert_next {
            for i in self.end..self.end + b {
                let (u, v) = self.edges[i % m];
                out.push(EdgeEvent::insert(u, v));
            }
            self.end += b;
        } else {
            for i in self.start..self.start + b {
                let (u, v) = self.edges[i % m];
                out.push(EdgeEvent::delete(u, v));
            }
            self.start += b;
        }
        self.insert_next = !self.insert_next;
    }
}

fn updater(strategy: UpdateStrategy, initial: &[EdgeEvent]) -> IncrementalPageRank {
    let mut pr = IncrementalPageRank::params()
        .tolerance(TOLERANCE)
        .strategy(strategy)
        .build()
        .expect("valid parameters");
    let report = pr.update(initial);
    assert!(report.certificate <= TOLERANCE);
    pr
}

/// The baseline: apply the batch, snapshot, rank from scratch to the same proven bound.
#[derive(Clone)]
struct FullRecompute {
    graph: DirectedGraph,
    solver: PageRank,
}

impl FullRecompute {
    fn new(initial: &[EdgeEvent]) -> Self {
        let mut graph = DirectedGraph::new();
        graph.apply(initial);
        let solver = PageRank::params()
            .tolerance(TOLERANCE)
            .build()
            .expect("valid parameters");
        Self { graph, solver }
    }

    fn update(&mut self, batch: &[EdgeEvent]) -> usize {
        self.graph.apply(batch);
        self.recompute()
    }

    fn recompute(&self) -> usize {
        let csr = CsrGraph::from_graph(&self.graph);
        let result = self.solver.run(&csr).expect("no personalization");
        assert!(result.converged && result.error_bound <= TOLERANCE);
        result.iterations
    }
}

#[derive(Default)]
struct Tally {
    batches: usize,
    /// Batches whose time is in `time`, and their push visits.
    timed: usize,
    timed_push_visits: u64,
    time: Duration,
    none: usize,
    push: usize,
    power: usize,
    push_then_power: usize,
    push_visits: u64,
    iteration_visits: u64,
    iterations: u64,
    max_certificate: f64,
}

impl Tally {
    /// Counts `r`; its time `t` unless `None` (a batch whose caches a timed baseline
    /// recompute had just flushed).
    fn add(&mut self, r: &PageRankReport, t: Option<Duration>) {
        self.batches += 1;
        if let Some(t) = t {
            self.time += t;
            self.timed += 1;
            self.timed_push_visits += r.push_edge_visits;
        }
        match r.method {
            UpdateMethod::None => self.none += 1,
            UpdateMethod::Push => self.push += 1,
            UpdateMethod::PowerIteration => self.power += 1,
            UpdateMethod::PushThenPowerIteration => self.push_then_power += 1,
        }
        self.push_visits += r.push_edge_visits;
        self.iteration_visits += r.iteration_edge_visits;
        self.iterations += r.iterations;
        self.max_certificate = self.max_certificate.max(r.certificate);
    }

    fn mean_ms(&self) -> f64 {
        self.time.as_secs_f64() * 1e3 / self.timed.max(1) as f64
    }
}

/// The full recompute timed between the incremental updates of [`run_tally`]: it applies
/// every batch, and recomputes (timed, with that batch's apply) on every `stride`-th; the
/// incremental update right after such a recompute, whose caches it flushed, is counted but
/// not timed.
struct Baseline<'a> {
    full: &'a mut FullRecompute,
    stride: usize,
    time: Duration,
    timed: usize,
}

impl Baseline<'_> {
    fn mean_ms(&self) -> f64 {
        self.time.as_secs_f64() * 1e3 / self.timed.max(1) as f64
    }
}

fn run_tally(
    pr: &mut IncrementalPageRank,
    stream: &mut Stream,
    b: usize,
    n: usize,
    mut baseline: Option<&mut Baseline>,
) -> Tally {
    let mut batch = Vec::new();
    let mut tally = Tally::default();
    for i in 0..n {
        stream.next_batch(b, &mut batch);
        let mut cold = false;
        if let Some(base) = baseline.as_deref_mut() {
            if i % base.stride == 0 {
                cold = true;
                let t = Instant::now();
                base.full.update(&batch);
                base.time += t.elapsed();
                base.timed += 1;
            } else {
                base.full.graph.apply(&batch);
            }
        }
        let t = Instant::now();
        let r = pr.update(&batch);
        let elapsed = t.elapsed();
        if std::env::var_os("SPATE_GRAPH_BENCH_TRACE").is_some() {
            println!(
                "    batch {}: {:?} {:.3} ms; predicted push {:.3} ms, power {:.3} ms; push visits {}, passes {}, stale certificate {:.2e}",
                r.batch,
                r.method,
                elapsed.as_secs_f64() * 1e3,
                r.predicted_push_ns / 1e6,
                r.predicted_iteration_ns / 1e6,
                r.push_edge_visits,
                r.iterations,
                r.stale_certificate
            );
        }
        tally.add(&r, (!cold).then_some(elapsed));
    }
    tally
}

/// The batch sizes of the summary: `SPATE_GRAPH_BENCH_SIZES` (comma-separated), else all.
fn summary_sizes() -> Vec<usize> {
    match std::env::var("SPATE_GRAPH_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|b| {
                b.trim()
                    .parse()
                    .expect("SPATE_GRAPH_BENCH_SIZES: batch sizes")
            })
            .collect(),
        Err(_) => SIZES.to_vec(),
    }
}

fn summary(edges: &[(u64, u64)]) {
    let stream0 = Stream::new(edges);
    let initial = stream0.initial();
    println!(
        "## spate-graph summary (soc-Epinions1, tolerance {TOLERANCE:e}, {} threads)",
        rayon::current_num_threads()
    );
    let full0 = FullRecompute::new(&initial);
    let auto0 = updater(UpdateStrategy::Auto, &initial);
    let power0 = updater(UpdateStrategy::PowerIteration, &initial);
    let push0 = updater(UpdateStrategy::Push, &initial);
    println!(
        "| batch | incremental ms | methods (none/push/power/push→power) | push ms | power-iteration ms | full recompute ms | full ÷ incremental |"
    );
    for b in summary_sizes() {
        // Long enough that the kept rows are rebuilt at least once at 10 to 1,000 edges
        // (their corrections grow with every batch until a rebuild pays).
        let n: usize = match b {
            1 => 200,
            10 => 800,
            100 => 200,
            1000 => 40,
            _ => 8,
        };
        // The baseline on the same batches, timed on about 10 of them spread over the run
        // (between the incremental updates, so both see the same machine: on a shared VM
        // the speed drifts by tens of percent over seconds).
        let mut full = full0.clone();
        let mut baseline = Baseline {
            full: &mut full,
            // Odd: the stream alternates insert and delete batches, both get timed.
            stride: n.div_ceil(10).max(2) | 1,
            time: Duration::ZERO,
            timed: 0,
        };
        let mut auto = auto0.clone();
        let mut st = stream0.clone();
        let ta = run_tally(&mut auto, &mut st, b, n, Some(&mut baseline));
        let full_ms = baseline.mean_ms();
        let mut power = power0.clone();
        let mut st = stream0.clone();
        let tp = run_tally(&mut power, &mut st, b, n, None);
        let push_ms = if b <= 1000 {
            let mut push = push0.clone();
            let mut st = stream0.clone();
            format!("{:.3}", run_tally(&mut push, &mut st, b, n, None).mean_ms())
        } else {
            "—".into()
        };
        println!(
            "| {b} | {:.3} | {}/{}/{}/{} | {push_ms} | {:.3} | {full_ms:.1} | {:.1}× |",
            ta.mean_ms(),
            ta.none,
            ta.push,
            ta.power,
            ta.push_then_power,
            tp.mean_ms(),
            full_ms / ta.mean_ms()
        );
        println!(
            "    incremental: push visits/batch {:.0}, iteration visits/batch {:.0}, iterations/batch {:.2}, max certificate {:.2e}",
            ta.push_visits as f64 / n as f64,
            ta.iteration_visits as f64 / n as f64,
            ta.iterations as f64 / n as f64,
            ta.max_certificate
        );
        println!(
            "    power: iteration visits/batch {:.0}, iterations/batch {:.2}; ns per iteration visit {:.2}",
            tp.iteration_visits as f64 / n as f64,
            tp.iterations as f64 / n as f64,
            tp.time.as_secs_f64() * 1e9 / tp.iteration_visits.max(1) as f64
        );
        if ta.push_visits > 0 && ta.power == 0 && ta.push_then_power == 0 {
            println!(
                "    ns per push visit {:.2}",
                ta.time.as_secs_f64() * 1e9 / ta.timed_push_visits.max(1) as f64
            );
        }
        // Measured accuracy of the final state against a tight recomputation.
        let exact = PageRank::params()
            .tolerance(1e-12)
            .build()
            .expect("valid")
            .run(&CsrGraph::from_graph(auto.graph()))
            .expect("runs");
        println!(
            "    final L1 error {:.2e} (certificate {:.2e})",
            auto.ranks().l1_distance(&exact.ranks),
            auto.certificate()
        );
    }
}

fn bandwidth_sum(data: &[u64]) -> u64 {
    data.par_chunks(1 << 14)
        .map(|c| c.iter().fold(0u64, |a, &x| a.wrapping_add(x)))
        .reduce(|| 0, u64::wrapping_add)
}

fn benches(c: &mut Criterion) {
    let edges = load();
    let static_only = std::env::var_os("SPATE_GRAPH_BENCH_STATIC_ONLY").is_some();
    let print_summary = std::env::var_os("SPATE_GRAPH_BENCH_NO_SUMMARY").is_none();
    // The ratio first, in a fresh process: the summary builds and frees a few GB of graphs.
    if print_summary || static_only {
        static_ratio(&edges);
    }
    if print_summary && !static_only {
        summary(&edges);
    }
    if std::env::var_os("SPATE_GRAPH_BENCH_SUMMARY_ONLY").is_some() {
        return;
    }
    if static_only {
        return static_pass(c, &edges);
    }
    let stream0 = Stream::new(&edges);
    let initial = stream0.initial();

    let mut group = c.benchmark_group("pagerank_update");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for strategy in [
        UpdateStrategy::Auto,
        UpdateStrategy::Push,
        UpdateStrategy::PowerIteration,
    ] {
        let name = match strategy {
            UpdateStrategy::Auto => "incremental",
            UpdateStrategy::Push => "push",
            UpdateStrategy::PowerIteration => "power_iteration",
        };
        let base = updater(strategy, &initial);
        for &b in &SIZES {
            if strategy == UpdateStrategy::Push && b > 1000 {
                continue;
            }
            let mut pr = base.clone();
            let mut stream = stream0.clone();
            let mut batch = Vec::new();
            group.bench_with_input(BenchmarkId::new(name, b), &b, |bench, &b| {
                bench.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        stream.next_batch(b, &mut batch);
                        let t = Instant::now();
                        black_box(pr.update(&batch));
                        total += t.elapsed();
                    }
                    total
                });
            });
        }
    }
    let mut full = FullRecompute::new(&initial);
    let mut stream = stream0.clone();
    let mut batch = Vec::new();
    for &b in &SIZES {
        group.bench_with_input(BenchmarkId::new("full_recompute", b), &b, |bench, &b| {
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    stream.next_batch(b, &mut batch);
                    let t = Instant::now();
                    black_box(full.update(&batch));
                    total += t.elapsed();
                }
                total
            });
        });
    }
    group.finish();
    static_pass(c, &edges);
}

/// The static solver stopped after `iterations` (its tolerance is never reached).
fn static_solver(iterations: usize) -> PageRank {
    PageRank::params()
        .tolerance(1e-300)
        .max_iterations(iterations)
        .build()
        .expect("valid")
}

/// One static iteration, by difference: (21 iterations − 1 iteration) / 20, so that
/// allocation and the final sort of the ranks are not counted.
fn one_iteration(graph: &CsrGraph, one: &PageRank, many: &PageRank) -> Duration {
    let t = Instant::now();
    black_box(many.run(graph).expect("runs"));
    let long = t.elapsed();
    let t = Instant::now();
    black_box(one.run(graph).expect("runs"));
    long.saturating_sub(t.elapsed()) / 20
}

/// The main-memory limit for `words` words: a streaming sum over `dram`, scaled.
fn dram_limit(dram: &[u64], words: usize) -> Duration {
    let t = Instant::now();
    black_box(bandwidth_sum(black_box(dram)));
    t.elapsed()
        .mul_f64((words * 8) as f64 / (dram.len() * 8) as f64)
}

/// Prints the static iteration's ratio to the main-memory limit over rounds that time one
/// of each in turn.
fn static_ratio(edges: &[(u64, u64)]) {
    const ROUNDS: usize = 40;
    let graph = CsrGraph::from_edges(edges.iter().map(|&(u, v)| (u, v, 1.0))).expect("valid");
    let words = graph.pass_bytes() / 8;
    let dram: Vec<u64> = (0..DRAM_BUFFER_BYTES as u64 / 8).collect();
    let (one, many) = (static_solver(1), static_solver(21));
    // Warm-up: the buffer's pages and the pool's threads.
    dram_limit(&dram, words);
    one_iteration(&graph, &one, &many);
    let mut rounds: Vec<(f64, f64)> = (0..ROUNDS)
        .map(|_| {
            let pass = one_iteration(&graph, &one, &many).as_secs_f64() * 1e6;
            let limit = dram_limit(&dram, words).as_secs_f64() * 1e6;
            (pass, limit)
        })
        .collect();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut ratios: Vec<f64> = rounds.iter().map(|&(p, l)| p / l).collect();
    let within = ratios.iter().filter(|&&r| r <= 2.0).count();
    let (mut passes, mut limits): (Vec<f64>, Vec<f64>) = rounds.drain(..).unzip();
    let ratio = median(&mut ratios);
    let (q1, q3) = (ratios[ROUNDS / 4], ratios[3 * ROUNDS / 4]);
    println!(
        "static pass: {ROUNDS} rounds, iteration median {:.0} µs, main-memory limit median \
         {:.0} µs; ratio median {ratio:.2}× (middle half {q1:.2}–{q3:.2}×, {within} of \
         {ROUNDS} rounds within 2×)",
        median(&mut passes),
        median(&mut limits),
    );
}

/// The `pagerank_static` group: one static iteration, the snapshot, and the two bandwidth
/// baselines.
fn static_pass(c: &mut Criterion, edges: &[(u64, u64)]) {
    let full_graph = CsrGraph::from_edges(edges.iter().map(|&(u, v)| (u, v, 1.0))).expect("valid");
    let words = full_graph.pass_bytes() / 8;
    let data: Vec<u64> = (0..words as u64).collect();
    let mut group = c.benchmark_group("pagerank_static");
    group.sample_size(20);
    let (one, many) = (static_solver(1), static_solver(21));
    group.bench_function("iteration", |bench| {
        bench.iter_custom(|iters| {
            (0..iters)
                .map(|_| one_iteration(&full_graph, &one, &many))
                .sum()
        });
    });
    // Compressed rows from a dynamic graph, as the full recompute and the incremental
    // updater's power-iteration fallback build every batch.
    let mut dynamic = DirectedGraph::new();
    dynamic.apply(
        &edges
            .iter()
            .map(|&(u, v)| EdgeEvent::insert(u, v))
            .collect::<Vec<_>>(),
    );
    group.bench_function("snapshot", |bench| {
        bench.iter(|| CsrGraph::from_graph(black_box(&dynamic)))
    });
    group.bench_function("bandwidth_limit", |bench| {
        bench.iter(|| bandwidth_sum(black_box(&data)))
    });
    // The same bytes at main-memory speed: a streaming sum over a buffer 16× the L3, its
    // time scaled down to one iteration's bytes.
    let dram: Vec<u64> = (0..DRAM_BUFFER_BYTES as u64 / 8).collect();
    group.bench_function("dram_bandwidth_limit", |bench| {
        bench.iter_custom(|iters| (0..iters).map(|_| dram_limit(&dram, words)).sum())
    });
    group.finish();
    println!(
        "static pass: {} nodes, {} edges, {} bytes per iteration at least",
        full_graph.node_count(),
        full_graph.edge_count(),
        full_graph.pass_bytes()
    );
}

criterion_group!(graph, benches);
criterion_main!(graph);

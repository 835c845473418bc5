//! Streaming PageRank over real edge streams, against recomputing from scratch.
//!
//! 1. **bitcoin-otc** (SNAP, 35,592 timestamped ratings) replayed in time order through a
//!    streaming context, 500 ratings per batch: positive ratings are trust edges weighted by
//!    the rating, negative ones (distrust) cannot be PageRank weights and are counted as
//!    rejected. PageRank (L1 error bound 1e-4 after every batch) and connected components are
//!    tracked per batch; the top 20 nodes and the update time of every batch are reported
//!    next to the time a full recompute to the same bound takes.
//! 2. **soc-Epinions1** (508,837 edges) streamed in file order, 20,000 edges per batch, the
//!    same way; then, on the full graph, batches of 1 … 10,000 edge changes (deletes and
//!    re-inserts of random edges) timed incrementally and by full recompute.
//!
//! Writes CSVs and plots (rank trajectories of the top nodes, update time per batch and vs
//! batch size on log-log axes, component counts over time) to the folder given as
//! `--out DIR` (default: `spate-examples/pagerank_stream` in the temporary directory).
//!
//! Run with `cargo run --release --example pagerank_stream` (add `-- --runtime timely -w 2` for
//! timely workers; the full recomputes and the batch-size sweep, which only time the
//! machine, run on the leader alone).

use spate::graph::{
    ConnectedComponents, CsrGraph, DirectedGraph, EdgeEvent, EdgeListFormat, EdgeListSource,
    EdgeOrder, IncrementalPageRank, NodeId, PageRank, TrackOn, TrackedComponents, TrackedPageRank,
};
use spate::plot::{LegendPosition, LineChart, Panels, Series};
use spate::prelude::*;
use spate_examples::{Output, say};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

const TOLERANCE: f64 = 1e-4;
const TOP: usize = 20;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets")
        .join(name)
}

/// One batch as the example reports it.
#[derive(Clone, Debug, Default)]
struct BatchRow {
    events: usize,
    rejected: usize,
    nodes: usize,
    edges: usize,
    method: String,
    update_ms: f64,
    full_ms: f64,
    certificate: f64,
    components: usize,
    largest: usize,
    top: Vec<(NodeId, f64)>,
}

/// What the callbacks collect while a stream runs.
#[derive(Default)]
struct Run {
    rows: Vec<BatchRow>,
    /// Rank per batch of every node that was ever in a batch's top 20, from that batch on.
    followed: BTreeMap<NodeId, Vec<(usize, f64)>>,
}

/// The time a full recompute of the current graph to the same bound takes: snapshot into
/// compressed rows and power iteration from the uniform vector.
fn full_recompute_ms(graph: &DirectedGraph, solver: &PageRank) -> anyhow::Result<f64> {
    let started = Instant::now();
    let csr = CsrGraph::from_graph(graph);
    let result = solver.run(&csr)?;
    anyhow::ensure!(result.converged, "full recompute did not converge");
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

/// Streams `path` through a context, `batch` edges per batch, tracking PageRank and
/// components; returns the per-batch rows and the final PageRank state.
fn stream(
    sc: &SpateContext,
    out: &Output,
    path: &Path,
    batch: usize,
    order: EdgeOrder,
) -> anyhow::Result<(Run, IncrementalPageRank)> {
    // Only the leader times full recomputes: they are measurements, not results.
    let leader = out.is_leader();
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()?;
    let source = EdgeListSource::options(path)
        .batch_edges(batch)
        .order(order)
        .build()?;
    let edges = ssc.source_stream(source)?;
    // The full recompute's own graph: each batch is applied to it (timed, as the
    // incremental update applies the batch to its graph too) before PageRank reports, so
    // the recompute is timed as apply + snapshot + solve. Registered first, so it runs
    // first in every batch.
    let baseline = Arc::new(Mutex::new((DirectedGraph::new(), 0.0f64)));
    let feed = Arc::clone(&baseline);
    edges.foreach_rdd(move |rdd, _| {
        let events = rdd.collect()?;
        if !leader {
            return Ok(());
        }
        let mut baseline = lock(&feed);
        let started = Instant::now();
        baseline.0.apply(&events);
        baseline.1 = started.elapsed().as_secs_f64() * 1e3;
        Ok(())
    })?;
    // Registered next, so it runs before PageRank and PageRank's callback can read it.
    let components: TrackedComponents =
        ConnectedComponents::params()
            .build()?
            .track_top(&edges, "components", 1)?;
    let pagerank: TrackedPageRank = IncrementalPageRank::params()
        .tolerance(TOLERANCE)
        .build()?
        .track_top(&edges, "pagerank", TOP)?;
    let run = Arc::new(Mutex::new(Run::default()));
    let counts = Arc::new(Mutex::new((0, 0)));
    let sink = Arc::clone(&counts);
    components.on_batch(move |_, b| {
        *sink
            .lock()
            .map_err(|_| spate::Error::Internal("poisoned".into()))? =
            (b.report.components, b.report.largest);
        Ok(())
    });
    let solver = PageRank::params().tolerance(TOLERANCE).build()?;
    let sink = Arc::clone(&run);
    let console = out.clone();
    pagerank.on_batch(move |pr, b| {
        let full_ms = if !leader {
            0.0
        } else {
            let baseline = lock(&baseline);
            baseline.1
                + full_recompute_ms(&baseline.0, &solver)
                    .map_err(|e| spate::Error::Internal(e.to_string()))?
        };
        let (components, largest) = *lock(&counts);
        let mut run = lock(&sink);
        let index = run.rows.len();
        let r = &b.report;
        let row = BatchRow {
            events: r.counts.events,
            rejected: r.counts.rejected,
            nodes: r.counts.nodes,
            edges: r.counts.edges,
            method: format!("{:?}", r.method),
            update_ms: b.update_time.as_secs_f64() * 1e3,
            full_ms,
            certificate: r.certificate,
            components,
            largest,
            top: b.top.clone(),
        };
        if console.is_leader() {
            let top: Vec<String> = row.top.iter().take(3).map(|(n, _)| n.to_string()).collect();
            say!(
                console,
                "  batch {:>3}: {:>5} nodes {:>6} edges, {:>4} rejected | update {:>7.2} ms ({:<14}) vs full {:>7.2} ms | {:>4} components | top {}",
                index + 1,
                row.nodes,
                row.edges,
                row.rejected,
                row.update_ms,
                row.method,
                row.full_ms,
                row.components,
                top.join(", ")
            );
        }
        for &(node, _) in &b.top {
            run.followed.entry(node).or_default();
        }
        let nodes: Vec<NodeId> = run.followed.keys().copied().collect();
        for (node, rank) in nodes.iter().zip(pr.ranks_of(&nodes)) {
            if let (Some(rank), Some(series)) = (rank, run.followed.get_mut(node)) {
                series.push((index, rank));
            }
        }
        run.rows.push(row);
        Ok(())
    });
    ssc.start()?;
    ssc.await_termination()?;
    let state = pagerank.state().get();
    let run = std::mem::take(&mut *lock(&run));
    Ok((run, state))
}

fn write_rows(out: &Output, file: &str, rows: &[BatchRow]) -> anyhow::Result<()> {
    let mut csv = String::from(
        "batch,events,rejected,nodes,edges,method,update_ms,full_recompute_ms,certificate,components,largest_component\n",
    );
    for (i, r) in rows.iter().enumerate() {
        writeln!(
            csv,
            "{},{},{},{},{},{},{:.4},{:.4},{:e},{},{}",
            i + 1,
            r.events,
            r.rejected,
            r.nodes,
            r.edges,
            r.method,
            r.update_ms,
            r.full_ms,
            r.certificate,
            r.components,
            r.largest
        )?;
    }
    out.write(file, csv)
}

fn write_top(out: &Output, file: &str, rows: &[BatchRow]) -> anyhow::Result<()> {
    let mut csv = String::from("batch,position,node,rank\n");
    for (i, r) in rows.iter().enumerate() {
        for (p, (node, rank)) in r.top.iter().enumerate() {
            writeln!(csv, "{},{},{node},{rank:e}", i + 1, p + 1)?;
        }
    }
    out.write(file, csv)
}

fn summarize(out: &Output, name: &str, rows: &[BatchRow]) {
    let update: f64 = rows.iter().map(|r| r.update_ms).sum();
    let full: f64 = rows.iter().map(|r| r.full_ms).sum();
    let rejected: usize = rows.iter().map(|r| r.rejected).sum();
    let last = rows.last().cloned().unwrap_or_default();
    say!(
        out,
        "{name}: {} batches, {} nodes and {} edges at the end ({rejected} events rejected); \
         updates took {update:.1} ms in all, full recomputes would have taken {full:.1} ms \
         ({:.1}×); {} components, the largest with {} nodes",
        rows.len(),
        last.nodes,
        last.edges,
        full / update.max(1e-9),
        last.components,
        last.largest
    );
    say!(
        out,
        "{name}: top {} nodes after the last batch:",
        last.top.len().min(10)
    );
    for (i, (node, rank)) in last.top.iter().take(10).enumerate() {
        say!(out, "  {:>2}. node {node:>6}  {rank:.5}", i + 1);
    }
}

/// Times batches of `b` edge changes on the full graph: deletes of `b` random present edges,
/// then their re-inserts, alternating, so the graph stays the same size.
struct Sweep {
    edges: Vec<(NodeId, NodeId)>,
    next: usize,
    pending: Vec<EdgeEvent>,
}

impl Sweep {
    fn batch(&mut self, b: usize) -> Vec<EdgeEvent> {
        if !self.pending.is_empty() {
            return std::mem::take(&mut self.pending);
        }
        let m = self.edges.len();
        let out: Vec<EdgeEvent> = (0..b)
            .map(|i| {
                let (u, v) = self.edges[(self.next + i) % m];
                EdgeEvent::delete(u, v)
            })
            .collect();
        self.next += b;
        self.pending = out.iter().map(EdgeEvent::inverse).collect();
        out
    }
}

fn batch_size_sweep(
    out: &Output,
    state: &IncrementalPageRank,
    edges: Vec<(NodeId, NodeId)>,
) -> anyhow::Result<Vec<(usize, f64, f64, String)>> {
    let solver = PageRank::params().tolerance(TOLERANCE).build()?;
    let mut rows = Vec::new();
    for (b, n) in [(1, 40), (10, 40), (100, 20), (1000, 6), (10_000, 4)] {
        let mut pr = state.clone();
        let mut sweep = Sweep {
            edges: edges.clone(),
            next: 0,
            pending: Vec::new(),
        };
        let mut methods = BTreeMap::new();
        let mut incremental = Duration::ZERO;
        for _ in 0..n {
            let batch = sweep.batch(b);
            let started = Instant::now();
            let report = pr.update(&batch);
            incremental += started.elapsed();
            anyhow::ensure!(report.certificate <= TOLERANCE);
            *methods.entry(format!("{:?}", report.method)).or_insert(0) += 1;
        }
        // The baseline: apply each batch to a plain graph and recompute from scratch (the
        // apply is timed too, as it is in the incremental update).
        let mut graph = pr.graph().clone();
        let mut sweep = Sweep {
            edges: edges.clone(),
            next: 0,
            pending: Vec::new(),
        };
        let runs = n.min(4);
        let mut full = 0.0;
        for _ in 0..runs {
            let batch = sweep.batch(b);
            let started = Instant::now();
            graph.apply(&batch);
            full += started.elapsed().as_secs_f64() * 1e3 + full_recompute_ms(&graph, &solver)?;
        }
        let incremental_ms = incremental.as_secs_f64() * 1e3 / n as f64;
        let full_ms = full / runs as f64;
        let methods: Vec<String> = methods.iter().map(|(m, k)| format!("{m} ×{k}")).collect();
        say!(
            out,
            "  {b:>6} edges per batch: incremental {incremental_ms:>8.3} ms, full recompute {full_ms:>8.2} ms ({:>6.1}×) [{}]",
            full_ms / incremental_ms,
            methods.join(", ")
        );
        rows.push((b, incremental_ms, full_ms, methods.join(" ")));
    }
    Ok(rows)
}

fn main() -> anyhow::Result<()> {
    spate_examples::run(pagerank_stream)
}

fn pagerank_stream(sc: &SpateContext) -> anyhow::Result<()> {
    let out = Output::new(sc, "pagerank_stream")?;

    say!(
        out,
        "bitcoin-otc in time order, 500 ratings per batch (PageRank L1 bound {TOLERANCE:e}):"
    );
    let (bitcoin, _) = stream(
        sc,
        &out,
        &dataset("soc-sign-bitcoinotc.csv.gz"),
        500,
        EdgeOrder::Time,
    )?;
    summarize(&out, "bitcoin-otc", &bitcoin.rows);
    write_rows(&out, "bitcoin_batches.csv", &bitcoin.rows)?;
    write_top(&out, "bitcoin_top20.csv", &bitcoin.rows)?;

    say!(
        out,
        "\nsoc-Epinions1 in file order, 20,000 edges per batch:"
    );
    let epinions_path = dataset("soc-Epinions1.txt.gz");
    let (epinions, state) = stream(sc, &out, &epinions_path, 20_000, EdgeOrder::File)?;
    summarize(&out, "soc-Epinions1", &epinions.rows);
    write_rows(&out, "epinions_batches.csv", &epinions.rows)?;
    write_top(&out, "epinions_top20.csv", &epinions.rows)?;
    // The rest times the machine and plots: the leader's work alone.
    if !out.is_leader() {
        return Ok(());
    }

    say!(
        out,
        "\nsoc-Epinions1, update time vs batch size (deletes and re-inserts of random edges):"
    );
    let mut edges: Vec<(NodeId, NodeId)> = EdgeListFormat::new()
        .read_path(&epinions_path)?
        .edges
        .iter()
        .map(|e| (e.src, e.dst))
        .collect();
    // A fixed pseudo-random order (a multiplicative hash), so runs are comparable.
    edges.sort_by_key(|&(u, v)| (u ^ (v << 20)).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let sweep = batch_size_sweep(&out, &state, edges)?;
    let mut csv = String::from("batch_edges,incremental_ms,full_recompute_ms,speedup,methods\n");
    for (b, inc, full, methods) in &sweep {
        writeln!(csv, "{b},{inc:.4},{full:.4},{:.2},{methods}", full / inc)?;
    }
    out.write("batch_size.csv", csv)?;

    // Plots.
    let mut trajectories = Panels::new("PageRank of the final top 8 nodes, batch by batch");
    for (name, run) in [("bitcoin-otc", &bitcoin), ("soc-Epinions1", &epinions)] {
        let mut chart = LineChart::new(name)
            .x_label("batch")
            .y_label("PageRank")
            .legend(LegendPosition::Right);
        let last = run.rows.last().map(|r| r.top.clone()).unwrap_or_default();
        for (node, _) in last.iter().take(8) {
            let points = run.followed.get(node).map_or(&[][..], Vec::as_slice);
            chart = chart.series(Series::new(
                format!("node {node}"),
                points.iter().map(|&(i, r)| (i as f64 + 1.0, r)),
            ));
        }
        trajectories = trajectories.panel(chart);
    }
    trajectories.save(out.path("rank_trajectories.png"))?;

    let mut per_batch = Panels::new("Update time per batch: incremental vs full recompute");
    for (name, run) in [
        ("bitcoin-otc, 500 ratings per batch", &bitcoin),
        ("soc-Epinions1, 20,000 edges per batch", &epinions),
    ] {
        let x = |i: usize| i as f64 + 1.0;
        per_batch = per_batch.panel(
            LineChart::new(name)
                .x_label("batch")
                .y_label("ms")
                .log_y(true)
                .series(Series::new(
                    "incremental",
                    run.rows
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (x(i), r.update_ms)),
                ))
                .series(Series::new(
                    "full recompute",
                    run.rows.iter().enumerate().map(|(i, r)| (x(i), r.full_ms)),
                )),
        );
    }
    per_batch.save(out.path("update_time_per_batch.png"))?;

    LineChart::new("soc-Epinions1: time per batch vs batch size (L1 bound 1e-4)")
        .x_label("edge changes per batch")
        .y_label("ms per batch")
        .log_x(true)
        .log_y(true)
        .series(Series::new("incremental", sweep.iter().map(|s| (s.0 as f64, s.1))).markers(true))
        .series(
            Series::new("full recompute", sweep.iter().map(|s| (s.0 as f64, s.2))).markers(true),
        )
        .save(out.path("update_time_vs_batch_size.png"))?;

    let mut components = Panels::new("Weakly connected components over time");
    for (name, run) in [("bitcoin-otc", &bitcoin), ("soc-Epinions1", &epinions)] {
        components = components.panel(
            LineChart::new(name)
                .x_label("batch")
                .y_label("components")
                .legend(LegendPosition::Hidden)
                .series(
                    Series::new(
                        "components",
                        run.rows
                            .iter()
                            .enumerate()
                            .map(|(i, r)| (i as f64 + 1.0, r.components as f64)),
                    )
                    .step(true),
                ),
        );
    }
    components.save(out.path("components.png"))?;
    say!(out, "\nwrote CSVs and plots to {}", out.dir().display());
    Ok(())
}

//! `spate graph bfs|sssp|scc`: replays an edge-list file as a stream of edge batches and keeps
//! shortest-path distances from source nodes (hop counts or weighted) or strongly connected
//! components current after every batch, writing the result after the last batch.

use crate::common::{Progress, RunEnd, errln, init_logging, interactive, outln};
use crate::job::{Identity, JobArgs, Output, Span};
use crate::pagerank::{Format, Order, edge_format, format_name};
use anyhow::{Context, bail};
use spate::graph::{
    EdgeEvent, EdgeListSource, Metric, NodeId, RepairMethod, ShortestPaths, ShortestPathsBatch,
    StronglyConnectedComponents, TrackOn, TrackedScc, TrackedShortestPaths,
};
use spate::prelude::*;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Traversals of an edge stream, kept current batch by batch.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(subcommand)]
    algorithm: Algorithm,
}

#[derive(clap::Subcommand, Clone, Debug)]
enum Algorithm {
    /// Hop distances from the source nodes (breadth-first search), repaired per batch. Edge
    /// weights in the file are ignored: every line is one edge.
    Bfs(PathArgs),
    /// Weighted distances from the source nodes (Dijkstra), repaired per batch. Weights
    /// (the third column, 1 if absent) must be >= 0: a negative weight stops the job with an
    /// error naming the edge. Parallel edges count by their cheapest live instance.
    Sssp(PathArgs),
    /// Strongly connected components, kept per batch. Edge weights in the file are ignored.
    Scc(StreamArgs),
}

/// What every traversal reads and how it replays it.
#[derive(clap::Args, Clone, Debug)]
struct StreamArgs {
    /// The standard job options; --input is the edge list (`src dst [weight] [time]`,
    /// whitespace- or comma-separated, `#` comments, plain or .gz; node ids any u64),
    /// --records-per-batch counts edges, --output is the CSV file written after the last
    /// batch.
    #[command(flatten)]
    pub job: JobArgs,
    /// Column layout: `snap` reads `src dst [time]` (a third column is a time) or
    /// `src dst weight time`; `csv` reads `src,dst[,weight[,time]]`. Default: `csv` for a
    /// .csv or .csv.gz file, `snap` otherwise.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Replay order: as in the file, or sorted by the time column.
    #[arg(long, value_enum, default_value_t = Order::File)]
    order: Order,
    /// Keep only the edges of the last N batches (older edges expire): a number of
    /// batches, or a multiple of --batch.
    #[arg(long, value_name = "N", alias = "window-batches", value_parser = Span::parse)]
    window: Option<Span>,
    /// Recompute from scratch when a batch changes more than this fraction of the edges
    /// (or, for distances, invalidates more than this fraction of the nodes); 0 always
    /// recomputes, `inf` never does.
    #[arg(long, default_value_t = spate::graph::DEFAULT_RECOMPUTE_ABOVE)]
    recompute_above: f64,
    /// How many entries to print at the end (the farthest nodes, or the largest components).
    #[arg(long, default_value_t = 10)]
    top: usize,
}

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  Hop distances from node 1 over the bitcoin-otc trust network in time order:
    spate graph bfs -i datasets/soc-sign-bitcoinotc.csv.gz --order time --source 1 \\
        -n 500 -o out/distances.csv

  Strongly connected components of the last 20 batches of edges:
    spate graph scc -i edges.txt --window 20 -o out/components.csv";

#[derive(clap::Args, Clone, Debug)]
struct PathArgs {
    /// A source node (at distance 0); repeat for several.
    #[arg(long = "source", required = true)]
    sources: Vec<NodeId>,
    #[command(flatten)]
    stream: StreamArgs,
}

impl Args {
    /// The standard job options of the algorithm's command.
    pub fn job(&self) -> &JobArgs {
        match &self.algorithm {
            Algorithm::Bfs(a) | Algorithm::Sssp(a) => &a.stream.job,
            Algorithm::Scc(a) => &a.job,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    match args.algorithm {
        Algorithm::Bfs(a) => paths(a, Metric::Hops),
        Algorithm::Sssp(a) => paths(a, Metric::Weighted),
        Algorithm::Scc(a) => scc(a),
    }
}

/// Starts the job the way every traversal does; `build` registers the algorithm.
/// What a traversal's job ran: its context, its handle, how long it took, how it ended.
struct Ran<H> {
    ssc: StreamingContext,
    handle: H,
    elapsed: Duration,
    end: RunEnd,
}

fn run_stream<H: Send + 'static>(
    args: &StreamArgs,
    command: &str,
    identity: Identity,
    unweighted: bool,
    build: impl Fn(&DStream<EdgeEvent>, Option<usize>) -> spate::Result<H>,
) -> anyhow::Result<Ran<H>> {
    let job = &args.job;
    // This command prints its own line per batch (unless --quiet).
    init_logging(job, true);
    let edges = job
        .input_path()
        .context("--input must be an edge-list file")?
        .to_path_buf();
    if edges.is_dir() || !edges.exists() {
        bail!("--input {}: no such file", edges.display());
    }
    let output = job.required_output()?.to_path_buf();
    job.refuse_dead_letter(command)?;
    let window = match args.window {
        Some(w) => Some(w.batches("--window", job.batch)? as usize),
        None => None,
    };
    let identity = identity
        .with("--format", format_name(args.format, &edges))
        .with("--order", args.order)
        .with_option("--window", window)
        .with("--recompute-above", args.recompute_above);
    let _prepared = job.prepare(&identity, &[Output::File("--output", &output)])?;
    let progress = interactive() && !job.quiet;
    let sc = job.spate_context()?;
    let handle: Arc<Mutex<Option<H>>> = Arc::default();
    let ssc =
        crate::common::build_or_recover(job.checkpoint.as_deref(), job.checkpoint_every, || {
            let ssc = job.streaming_context(&sc)?;
            let source = EdgeListSource::options(&edges)
                .format(edge_format(args.format, &edges))
                .batch_edges(usize::try_from(job.records_per_batch).unwrap_or(usize::MAX))
                .order(args.order.edge_order())
                .build()?;
            let mut edges = ssc.source_stream(source)?;
            if unweighted {
                edges = edges.map(|e| EdgeEvent { weight: 1.0, ..e });
            }
            *handle
                .lock()
                .map_err(|_| spate::Error::Internal("handle lock poisoned".into()))? =
                Some(build(&edges, window)?);
            Ok(ssc)
        })?;
    let bar = progress.then(|| Arc::new(Progress::new(None)));
    if let Some(bar) = &bar {
        ssc.add_listener(Arc::clone(bar));
    }
    let started = Instant::now();
    let end = crate::common::run(&ssc, job)?;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let handle = handle
        .lock()
        .map_err(|_| anyhow::anyhow!("internal error: the handle lock was poisoned"))?
        .take()
        .context("internal error: the stream was not built")?;
    Ok(Ran {
        ssc,
        handle,
        elapsed: started.elapsed(),
        end,
    })
}

fn paths(args: PathArgs, metric: Metric) -> anyhow::Result<RunEnd> {
    let stream = &args.stream;
    let command = if metric == Metric::Hops {
        "graph bfs"
    } else {
        "graph sssp"
    };
    let sources: Vec<String> = args.sources.iter().map(u64::to_string).collect();
    let identity = Identity::of(command, &stream.job).with("--source", sources.join(","));
    let quiet = stream.job.quiet;
    let ran = run_stream(
        stream,
        command,
        identity,
        metric == Metric::Hops,
        |edges, window| {
            let mut params = ShortestPaths::params()
                .sources(args.sources.iter().copied())
                .metric(metric)
                .recompute_above(stream.recompute_above);
            if let Some(w) = window {
                params = params.window_batches(w);
            }
            let tracked: TrackedShortestPaths =
                params.build()?.track_top(edges, "shortest paths", 3)?;
            if !quiet {
                tracked.on_batch(|_, batch| {
                    print_paths_batch(batch);
                    Ok(())
                });
            }
            Ok(tracked)
        },
    )?;
    if !crate::common::is_leader() {
        return Ok(ran.end);
    }
    let (ssc, elapsed) = (&ran.ssc, ran.elapsed);
    let paths = ran.handle.state().lock();
    let output = stream.job.required_output()?;
    let mut distances = paths.distances();
    distances.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    errln!(
        "{} batches ({} in this run), {} nodes, {} edges, {} reachable from {} source(s); {:.2?}",
        paths.batches(),
        ssc.batch_history().len(),
        paths.node_count(),
        paths.edge_count(),
        distances.len(),
        paths.sources().len(),
        elapsed
    );
    if stream.top > 0 {
        outln!("farthest {} nodes:", stream.top.min(distances.len()));
        for (node, d) in paths.farthest(stream.top) {
            outln!("  {node:>20}  {d}");
        }
    }
    write(output, &["node", "distance"], &distances)?;
    errln!("wrote {} ({} nodes)", output.display(), distances.len());
    Ok(ran.end)
}

fn print_paths_batch(batch: &ShortestPathsBatch) {
    let r = &batch.report;
    outln!(
        "batch {:>5}: {:>6} events ({} rejected, {} expired), {} nodes, {} edges, {} reachable, \
         {} changed, {} in {:.2} ms",
        r.batch,
        r.counts.events,
        r.counts.rejected + r.counts.missing_deletes,
        r.counts.expired,
        r.counts.nodes,
        r.counts.edges,
        r.reachable,
        r.changed,
        method(r.method),
        batch.update_time.as_secs_f64() * 1e3,
    );
}

fn method(m: RepairMethod) -> &'static str {
    match m {
        RepairMethod::Incremental => "repaired",
        RepairMethod::Recompute => "recomputed",
    }
}

fn scc(args: StreamArgs) -> anyhow::Result<RunEnd> {
    let identity = Identity::of("graph scc", &args.job);
    let quiet = args.job.quiet;
    let ran = run_stream(&args, "graph scc", identity, true, |edges, window| {
        let mut params =
            StronglyConnectedComponents::params().recompute_above(args.recompute_above);
        if let Some(w) = window {
            params = params.window_batches(w);
        }
        let tracked: TrackedScc = params.build()?.track_top(edges, "strong components", 3)?;
        if !quiet {
            tracked.on_batch(|_, batch| {
                let r = &batch.report;
                outln!(
                    "batch {:>5}: {:>6} events ({} rejected, {} expired), {} nodes, {} edges, \
                     {} components ({} of 2+ nodes, largest {}), {} in {:.2} ms",
                    r.batch,
                    r.counts.events,
                    r.counts.rejected + r.counts.missing_deletes,
                    r.counts.expired,
                    r.counts.nodes,
                    r.counts.edges,
                    r.components,
                    r.nontrivial,
                    r.largest,
                    method(r.method),
                    batch.update_time.as_secs_f64() * 1e3,
                );
                Ok(())
            });
        }
        Ok(tracked)
    })?;
    if !crate::common::is_leader() {
        return Ok(ran.end);
    }
    let (ssc, elapsed) = (&ran.ssc, ran.elapsed);
    let scc = ran.handle.state().lock();
    let output = args.job.required_output()?;
    errln!(
        "{} batches ({} in this run), {} nodes, {} edges, {} strongly connected components; {:.2?}",
        scc.batches(),
        ssc.batch_history().len(),
        scc.node_count(),
        scc.edge_count(),
        scc.count(),
        elapsed
    );
    if args.top > 0 {
        outln!("largest components (smallest node id, size):");
        for (label, size) in scc.largest_components(args.top) {
            outln!("  {label:>20}  {size}");
        }
    }
    let mut labels: Vec<(NodeId, NodeId)> = scc
        .components()
        .into_iter()
        .flat_map(|c| {
            let label = c[0];
            c.into_iter().map(move |node| (node, label))
        })
        .collect();
    labels.sort_unstable();
    write(output, &["node", "component"], &labels)?;
    errln!("wrote {} ({} nodes)", output.display(), labels.len());
    Ok(ran.end)
}

/// Writes rows atomically (temporary file, fsync, rename).
fn write<T: std::fmt::Display, U: std::fmt::Display>(
    path: &Path,
    header: &[&str],
    rows: &[(T, U)],
) -> anyhow::Result<()> {
    spate::io::write_csv_file(path, header, rows)
        .with_context(|| format!("writing {}", path.display()))
}

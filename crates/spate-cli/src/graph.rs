//! `spate graph bfs|sssp|scc`: replays an edge-list file as a stream of edge batches and keeps
//! shortest-path distances from source nodes (hop counts or weighted) or strongly connected
//! components current after every batch, writing the result after the last batch.

use crate::common::{Progress, init_logging, interactive};
use anyhow::{Context, bail};
use spate::graph::{
    Columns, EdgeEvent, EdgeListFormat, EdgeListSource, EdgeOrder, Metric, NodeId, RepairMethod,
    ShortestPaths, ShortestPathsBatch, StronglyConnectedComponents, TrackOn, TrackedScc,
    TrackedShortestPaths,
};
use spate::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `println!` through [`print_line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        print_line(format_args!($($arg)*))
    };
}

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
    /// The edge list (`src dst [weight] [time]`, whitespace- or comma-separated, `#`
    /// comments, plain or .gz); node ids any u64.
    #[arg(long)]
    edges: PathBuf,
    /// Column layout: `snap` reads `src dst [time]` (a third column is a time) or
    /// `src dst weight time`; `csv` reads `src,dst[,weight[,time]]`. Default: `csv` for a
    /// .csv or .csv.gz file, `snap` otherwise.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Replay order: as in the file, or sorted by the time column.
    #[arg(long, value_enum, default_value_t = Order::File)]
    order: Order,
    /// Edges per batch.
    #[arg(long, default_value_t = 1000)]
    batch_edges: usize,
    /// Keep only the edges of the last W batches (older edges expire).
    #[arg(long)]
    window_batches: Option<usize>,
    /// Recompute from scratch when a batch changes more than this fraction of the edges
    /// (or, for distances, invalidates more than this fraction of the nodes); 0 always
    /// recomputes, `inf` never does.
    #[arg(long, default_value_t = spate::graph::DEFAULT_RECOMPUTE_ABOVE)]
    recompute_above: f64,
    /// Where to write the result after the last batch (CSV).
    #[arg(long)]
    output: PathBuf,
    /// How many entries to print at the end (the farthest nodes, or the largest components).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Checkpoint directory: the graph and the input position are saved there and a
    /// restarted job continues after the last checkpoint.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Write a checkpoint every this many batches.
    #[arg(long, default_value_t = 10)]
    checkpoint_every: u64,
    /// Stop after this many batches (with --checkpoint, a later run continues).
    #[arg(long)]
    max_batches: Option<u64>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Do not print a line per batch.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args, Clone, Debug)]
struct PathArgs {
    /// A source node (at distance 0); repeat for several.
    #[arg(long = "source", required = true)]
    sources: Vec<NodeId>,
    #[command(flatten)]
    stream: StreamArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Snap,
    Csv,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    File,
    Time,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.algorithm {
        Algorithm::Bfs(a) => paths(a, Metric::Hops),
        Algorithm::Sssp(a) => paths(a, Metric::Weighted),
        Algorithm::Scc(a) => scc(a),
    }
}

/// Starts the job the way every traversal does; `build` registers the algorithm.
fn run_stream<H: Send + 'static>(
    args: &StreamArgs,
    unweighted: bool,
    build: impl Fn(&DStream<EdgeEvent>) -> spate::Result<H>,
) -> anyhow::Result<(StreamingContext, H, Duration)> {
    if !args.edges.is_file() {
        bail!("--edges {}: no such file", args.edges.display());
    }
    let progress = interactive();
    init_logging(true);
    let sc = crate::common::spate_context(args.threads)?;
    let handle: Arc<Mutex<Option<H>>> = Arc::default();
    let ssc =
        crate::common::build_or_recover(args.checkpoint.as_deref(), args.checkpoint_every, || {
            // Batches follow the input, not a clock: replay as fast as the updates go.
            let ssc = StreamingContext::builder(&sc)
                .batch_interval(Duration::from_secs(1))
                .clock(FastForwardClock::new())
                .build()?;
            let source = EdgeListSource::options(&args.edges)
                .format(edge_format(args))
                .batch_edges(args.batch_edges)
                .order(match args.order {
                    Order::File => EdgeOrder::File,
                    Order::Time => EdgeOrder::Time,
                })
                .build()?;
            let mut edges = ssc.source_stream(source)?;
            if unweighted {
                edges = edges.map(|e| EdgeEvent { weight: 1.0, ..e });
            }
            *handle
                .lock()
                .map_err(|_| spate::Error::Internal("handle lock poisoned".into()))? =
                Some(build(&edges)?);
            Ok(ssc)
        })?;
    let bar = progress.then(|| Arc::new(Progress::new(None)));
    if let Some(bar) = &bar {
        ssc.add_listener(Arc::clone(bar));
    }
    let started = Instant::now();
    crate::common::run(&ssc, args.max_batches)?;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let handle = handle
        .lock()
        .map_err(|_| anyhow::anyhow!("handle lock poisoned"))?
        .take()
        .context("the stream was not built")?;
    Ok((ssc, handle, started.elapsed()))
}

fn paths(args: PathArgs, metric: Metric) -> anyhow::Result<()> {
    let stream = &args.stream;
    let (ssc, tracked, elapsed) = run_stream(stream, metric == Metric::Hops, |edges| {
        let mut params = ShortestPaths::params()
            .sources(args.sources.iter().copied())
            .metric(metric)
            .recompute_above(stream.recompute_above);
        if let Some(w) = stream.window_batches {
            params = params.window_batches(w);
        }
        let tracked: TrackedShortestPaths =
            params.build()?.track_top(edges, "shortest paths", 3)?;
        if !stream.quiet {
            tracked.on_batch(|_, batch| {
                print_paths_batch(batch);
                Ok(())
            });
        }
        Ok(tracked)
    })?;
    let paths = tracked.state().lock();
    let mut distances = paths.distances();
    distances.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    eprintln!(
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
    write(&stream.output, &["node", "distance"], &distances)?;
    eprintln!(
        "wrote {} ({} nodes)",
        stream.output.display(),
        distances.len()
    );
    Ok(())
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

fn scc(args: StreamArgs) -> anyhow::Result<()> {
    let (ssc, tracked, elapsed) = run_stream(&args, true, |edges| {
        let mut params =
            StronglyConnectedComponents::params().recompute_above(args.recompute_above);
        if let Some(w) = args.window_batches {
            params = params.window_batches(w);
        }
        let tracked: TrackedScc = params.build()?.track_top(edges, "strong components", 3)?;
        if !args.quiet {
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
    let scc = tracked.state().lock();
    eprintln!(
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
    write(&args.output, &["node", "component"], &labels)?;
    eprintln!("wrote {} ({} nodes)", args.output.display(), labels.len());
    Ok(())
}

/// Prints a line to stdout; a closed pipe (`spate graph … | head`) ends the process quietly,
/// as ripgrep does: the outputs are written atomically at the end, so nothing is left half
/// written.
fn print_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
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

fn edge_format(args: &StreamArgs) -> EdgeListFormat {
    let format = args.format.unwrap_or_else(|| {
        let name = args.edges.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".csv") || name.ends_with(".csv.gz") {
            Format::Csv
        } else {
            Format::Snap
        }
    });
    EdgeListFormat::new().columns(match format {
        Format::Snap => Columns::Temporal,
        Format::Csv => Columns::Auto,
    })
}

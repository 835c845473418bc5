//! `spate pagerank`: replays an edge-list file as a stream of edge batches and keeps PageRank
//! current after every batch with a proven L1 error bound, printing the top nodes per batch
//! and writing the final ranks of every node (and optionally a plot).

use crate::common::{Progress, init_logging, interactive};
use anyhow::{Context, bail};
use spate::graph::{
    Columns, EdgeListFormat, EdgeListSource, EdgeOrder, IncrementalPageRank, NodeId, PageRankBatch,
    TrackOn, TrackedPageRank,
};
use spate::plot::{LegendPosition, LineChart, Panels, Series};
use spate::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Streaming PageRank over an edge list (`src dst [weight] [time]`, whitespace- or
/// comma-separated, `#` comments, plain or .gz).
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The edge list: one edge per line, node ids any u64; CRLF and a UTF-8 BOM are tolerated.
    #[arg(long)]
    edges: PathBuf,
    /// Column layout: `snap` reads `src dst [time]` (a third column is a time, as in SNAP's
    /// temporal networks) or `src dst weight time`; `csv` reads `src,dst[,weight[,time]]`.
    /// Default: `csv` for a .csv or .csv.gz file, `snap` otherwise.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Replay order: as in the file, or sorted by the time column.
    #[arg(long, value_enum, default_value_t = Order::File)]
    order: Order,
    /// Edges per batch.
    #[arg(long, default_value_t = 1000)]
    batch_edges: usize,
    /// Bound on the L1 error of the ranks after every batch.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// Damping factor.
    #[arg(long, default_value_t = 0.85)]
    damping: f64,
    /// Rank only the edges of the last W batches (older edges expire).
    #[arg(long)]
    window_batches: Option<usize>,
    /// How many top nodes to print at the end (and per batch, up to 5, unless --quiet).
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Where to write `node,rank` for every node after the last batch, highest rank first.
    #[arg(long)]
    output: PathBuf,
    /// A PNG (or SVG) of the final top nodes' ranks, the update time and the error bound per
    /// batch.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Checkpoint directory: the ranks, the graph and the input position are saved there and
    /// a restarted job continues after the last checkpoint.
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

/// What the summary and the plot need, kept at the driver and checkpointed with the stream
/// so that a restarted job still reports every batch: per batch the update time (ms) and the
/// certificate; the rank per batch of every node that was ever among the per-batch top nodes
/// (from the batch it first entered them); and the events the graph rejected (weights ≤ 0 or
/// not finite, deletes of absent edges).
type History = (Vec<(f64, f64)>, BTreeMap<NodeId, Vec<(usize, f64)>>, u64);

/// Handles the stream-building closure leaves for the summary after the run.
type Handles = Arc<Mutex<Option<(TrackedPageRank, ManagedState<History>)>>>;

/// How many top nodes each batch adds to the followed set.
const FOLLOW: usize = 10;

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.edges.is_file() {
        bail!("--edges {}: no such file", args.edges.display());
    }
    let progress = interactive();
    // This command prints its own line per batch: keep the core's per-batch log lines
    // (info) out of the way unless RUST_LOG asks for them.
    init_logging(true);
    let sc = crate::common::spate_context(args.threads)?;
    let handles: Handles = Arc::default();
    let build = || build(&sc, &args, &handles);
    let ssc =
        crate::common::build_or_recover(args.checkpoint.as_deref(), args.checkpoint_every, build)?;
    let bar = progress.then(|| Arc::new(Progress::new(None)));
    if let Some(bar) = &bar {
        ssc.add_listener(Arc::clone(bar));
    }
    let started = Instant::now();
    crate::common::run(&ssc, args.max_batches)?;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let (tracked, history) = handles
        .lock()
        .map_err(|_| anyhow::anyhow!("handle lock poisoned"))?
        .take()
        .context("the stream was not built")?;
    let batch_history = ssc.batch_history();
    let edges_read: u64 = batch_history.iter().map(|b| b.records_in).sum();
    let malformed: u64 = batch_history.iter().map(|b| b.records_skipped).sum();
    let history = history.get();
    let pagerank = tracked.state().lock();
    let mut ranked = pagerank.ranks().into_vec();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    eprintln!(
        "{} batches ({} in this run), {edges_read} edges read, {malformed} malformed lines \
         skipped, {} events rejected; {} nodes, {} edges; error bound {:.2e} (tolerance {:e}); \
         {:.2?} on {}",
        pagerank.batches(),
        batch_history.len(),
        history.2,
        pagerank.node_count(),
        pagerank.edge_count(),
        pagerank.certificate(),
        pagerank.tolerance(),
        started.elapsed(),
        sc.executor_name()
    );
    if args.top > 0 {
        println!("top {} nodes:", args.top.min(ranked.len()));
        println!("  {:>4}  {:>20}  {:>12}", "rank", "node", "pagerank");
        for (i, (node, rank)) in ranked.iter().take(args.top).enumerate() {
            println!("  {:>4}  {node:>20}  {rank:>12.6e}", i + 1);
        }
    }
    write_ranks(&args.output, &ranked)?;
    eprintln!("wrote {} ({} nodes)", args.output.display(), ranked.len());
    if let Some(path) = &args.plot {
        let top: Vec<NodeId> = ranked.iter().take(FOLLOW).map(|r| r.0).collect();
        plot(path, &history, &top, pagerank.tolerance())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn edge_format(args: &Args) -> EdgeListFormat {
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

fn build(sc: &SpateContext, args: &Args, handles: &Handles) -> spate::Result<StreamingContext> {
    // Batches follow the input, not a clock: replay as fast as the updates go.
    let ssc = StreamingContext::builder(sc)
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
    let edges = ssc.source_stream(source)?;
    let mut params = IncrementalPageRank::params()
        .damping(args.damping)
        .tolerance(args.tolerance);
    if let Some(w) = args.window_batches {
        params = params.window_batches(w);
    }
    let tracked = params.build()?.track_top(&edges, "pagerank", FOLLOW)?;
    let history = ssc.managed_state("pagerank plot history", History::default())?;
    let record = history.clone();
    let quiet = args.quiet;
    tracked.on_batch(move |pr, batch| {
        let mut guard = record.lock();
        let (batches, ranks, rejected) = &mut *guard;
        let index = batches.len();
        let r = &batch.report;
        batches.push((batch.update_time.as_secs_f64() * 1e3, r.certificate));
        *rejected += (r.counts.rejected + r.counts.missing_deletes) as u64;
        for &(node, _) in &batch.top {
            ranks.entry(node).or_default();
        }
        let followed: Vec<NodeId> = ranks.keys().copied().collect();
        for (node, rank) in followed.iter().zip(pr.ranks_of(&followed)) {
            if let (Some(rank), Some(series)) = (rank, ranks.get_mut(node)) {
                series.push((index, rank));
            }
        }
        if !quiet {
            print_batch(batch);
        }
        Ok(())
    });
    *handles
        .lock()
        .map_err(|_| spate::Error::Internal("handle lock poisoned".into()))? =
        Some((tracked, history));
    Ok(ssc)
}

fn print_batch(batch: &PageRankBatch) {
    let r = &batch.report;
    let top: Vec<String> = batch
        .top
        .iter()
        .take(5)
        .map(|(node, rank)| format!("{node} {rank:.4e}"))
        .collect();
    println!(
        "batch {:>5}: {:>6} events ({} rejected, {} expired), {} nodes, {} edges, {:?} in {:.2} ms, \
         bound {:.1e} | {}",
        r.batch,
        r.counts.events,
        r.counts.rejected + r.counts.missing_deletes,
        r.counts.expired,
        r.counts.nodes,
        r.counts.edges,
        r.method,
        batch.update_time.as_secs_f64() * 1e3,
        r.certificate,
        top.join(", ")
    );
}

/// Writes `node,rank` rows atomically (temporary file, fsync, rename).
fn write_ranks(path: &Path, ranked: &[(NodeId, f64)]) -> anyhow::Result<()> {
    spate::io::write_csv_file(path, &["node", "rank"], ranked)
        .with_context(|| format!("writing {}", path.display()))
}

fn plot(path: &Path, history: &History, top: &[NodeId], tolerance: f64) -> anyhow::Result<()> {
    let (per_batch, followed, _) = history;
    let batches = per_batch.len();
    let mut ranks = LineChart::new("")
        .y_label("PageRank")
        .legend(LegendPosition::Right);
    for node in top {
        // A followed node has a rank at every batch from the one it entered the top nodes.
        let points = followed.get(node).map_or(&[][..], Vec::as_slice);
        ranks = ranks.series(Series::new(
            format!("node {node}"),
            points.iter().map(|&(i, rank)| (i as f64, rank)),
        ));
    }
    let times = LineChart::new("")
        .y_label("update time (ms)")
        .log_y(true)
        .legend(LegendPosition::Hidden)
        .series(Series::from_values("update", per_batch.iter().map(|b| b.0)));
    let bound = LineChart::new("")
        .y_label("L1 error bound")
        .x_label("batch")
        .log_y(true)
        .series(Series::from_values(
            "certificate",
            per_batch.iter().map(|b| b.1),
        ))
        .series(Series::from_values(
            "tolerance",
            std::iter::repeat_n(tolerance, batches),
        ));
    Panels::new(format!("Streaming PageRank: top {} nodes", top.len()))
        .panel(ranks)
        .panel(times)
        .panel(bound)
        .save(path)
        .with_context(|| format!("plotting to {}", path.display()))?;
    Ok(())
}

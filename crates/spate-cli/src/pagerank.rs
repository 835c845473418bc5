//! `spate pagerank`: replays an edge-list file as a stream of edge batches and keeps PageRank
//! current after every batch with a proven L1 error bound, printing the top nodes per batch
//! and writing the final ranks of every node (and optionally a plot).

use crate::common::{RunEnd, errln, init_logging, interactive, outln, runtime_name};
use crate::job::{Identity, JobArgs, Output, Span};
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
use std::time::Instant;

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  PageRank of the Bitcoin OTC trust network replayed in time order, 500 edges per batch,
  with a plot of the top nodes, the update time and the error bound:
    spate pagerank -i datasets/soc-sign-bitcoinotc.csv.gz --order time -n 500 \\
        -o out/ranks.csv --plot out/ranks.png

  Only the edges of the last 20 batches count (older ones expire):
    spate pagerank -i edges.txt --window 20 -o ranks.csv";

/// Streaming PageRank over an edge list (`src dst [weight] [time]`, whitespace- or
/// comma-separated, `#` comments, plain or .gz).
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The edge list (--input, also --edges): one edge per line, node ids any u64; CRLF and a
    /// UTF-8 BOM are tolerated.
    #[command(flatten)]
    pub job: JobArgs,
    /// Column layout: `snap` reads `src dst [time]` (a third column is a time, as in SNAP's
    /// temporal networks) or `src dst weight time`; `csv` reads `src,dst[,weight[,time]]`.
    /// Default: `csv` for a .csv or .csv.gz file, `snap` otherwise.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Replay order: as in the file, or sorted by the time column.
    #[arg(long, value_enum, default_value_t = Order::File)]
    order: Order,
    /// Bound on the L1 error of the ranks after every batch.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// Damping factor.
    #[arg(long, default_value_t = 0.85)]
    damping: f64,
    /// Rank only the edges of a sliding window (older edges expire): a number of batches
    /// (20) or a duration that is a multiple of --batch (20s).
    #[arg(long, value_name = "SPAN", value_parser = Span::parse, alias = "window-batches")]
    window: Option<Span>,
    /// How many top nodes to print at the end (and per batch, up to 5, unless --quiet).
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// A PNG (or SVG) of the final top 10 nodes' ranks, the update time and the error bound per
    /// batch. Only with --plot is a history kept (and checkpointed), and it is bounded: the
    /// ranks of at most 50 nodes are followed (each batch's top 10 join; the lowest-ranked
    /// leave), and each series keeps at most 512 points: past 512 batches a point stands for
    /// a run of consecutive batches (2, then 4, …) and shows the largest update time and
    /// error bound among them and the ranks after the last of them.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// Edge-list column layouts (`spate pagerank`, `spate graph`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Snap,
    Csv,
}

/// Edge replay orders (`spate pagerank`, `spate graph`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    File,
    Time,
}

impl Order {
    /// The source's replay order.
    pub(crate) fn edge_order(self) -> EdgeOrder {
        match self {
            Order::File => EdgeOrder::File,
            Order::Time => EdgeOrder::Time,
        }
    }
}

impl std::fmt::Display for Order {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Order::File => "file",
            Order::Time => "time",
        })
    }
}

/// What the summary and the plot need, kept at the driver and checkpointed with the stream
/// so that a restarted job still reports every batch: the events the graph rejected (weights
/// outside the usable range, deletes of absent edges) and, with --plot only, the plot's bounded
/// history.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Summary {
    rejected: u64,
    plot: Option<PlotHistory>,
}

/// The name the summary is checkpointed under. Checkpoints of earlier versions, which saved
/// an unbounded history under another name, are refused as written by a different stream
/// graph.
const SUMMARY_STATE: &str = "pagerank summary v2";

/// Handles the stream-building closure leaves for the summary after the run.
type Handles = Arc<Mutex<Option<(TrackedPageRank, ManagedState<Summary>)>>>;

/// How many top nodes each batch adds to the followed set (and the plot shows).
const FOLLOW: usize = 10;
/// The most nodes whose ranks the plot history follows.
const MAX_FOLLOWED: usize = 50;
/// The most points in each series of the plot history.
const MAX_POINTS: usize = 512;

/// The plot's history, bounded whatever the stream's length: the ranks of at most
/// [`MAX_FOLLOWED`] nodes and at most [`MAX_POINTS`] points per series. A point stands for
/// `stride` consecutive batches (aligned on batch numbers; the stride doubles, merging
/// neighbouring points, whenever a series would grow past the bound): the largest update
/// time and error bound among them, and the ranks after the last of them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct PlotHistory {
    /// Batches per point, a power of two.
    stride: u64,
    /// Per point: the last batch number it covers, the largest update time (ms) and the
    /// largest error bound.
    per_batch: Vec<(u64, f64, f64)>,
    /// Per followed node, per point since it was last followed: the last batch number the
    /// point covers and the rank after it.
    followed: BTreeMap<NodeId, Vec<(u64, f64)>>,
}

impl Default for PlotHistory {
    fn default() -> Self {
        PlotHistory {
            stride: 1,
            per_batch: Vec::new(),
            followed: BTreeMap::new(),
        }
    }
}

/// The point of batch `batch` (numbered from 1) when a point stands for `stride` batches.
fn point_of(batch: u64, stride: u64) -> u64 {
    batch.saturating_sub(1) / stride.max(1)
}

impl PlotHistory {
    /// Records batch `batch` (numbered from 1, increasing): its update time and error bound,
    /// its `top` nodes (which join the followed set) and the ranks of the followed nodes after
    /// it, from `ranks_of` (`None` for a node no longer in the graph).
    fn record(
        &mut self,
        batch: u64,
        update_ms: f64,
        certificate: f64,
        top: &[NodeId],
        ranks_of: impl FnOnce(&[NodeId]) -> Vec<Option<f64>>,
    ) {
        let new_point = self
            .per_batch
            .last()
            .is_none_or(|last| point_of(last.0, self.stride) != point_of(batch, self.stride));
        if new_point && self.per_batch.len() >= MAX_POINTS {
            self.coarsen();
        }
        let point = point_of(batch, self.stride);
        match self.per_batch.last_mut() {
            Some(last) if point_of(last.0, self.stride) == point => {
                *last = (batch, last.1.max(update_ms), last.2.max(certificate));
            }
            _ => self.per_batch.push((batch, update_ms, certificate)),
        }
        for &node in top {
            self.followed.entry(node).or_default();
        }
        let nodes: Vec<NodeId> = self.followed.keys().copied().collect();
        let ranks = ranks_of(&nodes);
        let stride = self.stride;
        for (node, rank) in nodes.iter().zip(&ranks) {
            let (Some(rank), Some(series)) = (rank, self.followed.get_mut(node)) else {
                continue;
            };
            match series.last_mut() {
                Some(last) if point_of(last.0, stride) == point => *last = (batch, *rank),
                _ => series.push((batch, *rank)),
            }
        }
        if self.followed.len() > MAX_FOLLOWED {
            // Drop the lowest-ranked nodes (those gone from the graph first), never one of
            // this batch's top nodes.
            let mut candidates: Vec<(Option<f64>, NodeId)> = nodes
                .iter()
                .zip(ranks.iter().chain(std::iter::repeat(&None)))
                .filter(|(node, _)| !top.contains(node))
                .map(|(&node, &rank)| (rank, node))
                .collect();
            candidates.sort_by(|a, b| match (a.0, b.0) {
                (None, None) => a.1.cmp(&b.1),
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => x.total_cmp(&y).then(a.1.cmp(&b.1)),
            });
            let excess = self.followed.len() - MAX_FOLLOWED;
            for (_, node) in candidates.into_iter().take(excess) {
                self.followed.remove(&node);
            }
        }
    }

    /// Doubles the stride, merging the points that fall in the same wider bucket.
    fn coarsen(&mut self) {
        self.stride = self.stride.max(1).saturating_mul(2);
        let stride = self.stride;
        let same = |a: u64, b: u64| point_of(a, stride) == point_of(b, stride);
        let mut merged: Vec<(u64, f64, f64)> = Vec::with_capacity(self.per_batch.len());
        for &point in &self.per_batch {
            match merged.last_mut() {
                Some(last) if same(last.0, point.0) => {
                    *last = (point.0, last.1.max(point.1), last.2.max(point.2));
                }
                _ => merged.push(point),
            }
        }
        self.per_batch = merged;
        for series in self.followed.values_mut() {
            let mut kept: Vec<(u64, f64)> = Vec::with_capacity(series.len());
            for &point in series.iter() {
                match kept.last_mut() {
                    Some(last) if same(last.0, point.0) => *last = point,
                    _ => kept.push(point),
                }
            }
            *series = kept;
        }
    }
}

/// Records one batch in the summary: the rejected events always, the plot history only when
/// `plot` (and none is kept otherwise, also when a checkpoint written with --plot is resumed
/// without it).
fn record_batch(
    summary: &mut Summary,
    plot: bool,
    batch: &PageRankBatch,
    ranks_of: impl FnOnce(&[NodeId]) -> Vec<Option<f64>>,
) {
    let r = &batch.report;
    summary.rejected += (r.counts.rejected + r.counts.missing_deletes) as u64;
    if !plot {
        summary.plot = None;
        return;
    }
    let top: Vec<NodeId> = batch.top.iter().map(|t| t.0).collect();
    summary
        .plot
        .get_or_insert_with(PlotHistory::default)
        .record(
            r.batch,
            batch.update_time.as_secs_f64() * 1e3,
            r.certificate,
            &top,
            ranks_of,
        );
}

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    let job = &args.job;
    let progress = interactive() && !job.quiet;
    // This command prints its own line per batch (unless --quiet): the batch log lines
    // would repeat it.
    init_logging(job, true);
    let edges = job
        .input_path()
        .context("--input must be an edge-list file")?
        .to_path_buf();
    if edges.is_dir() || !edges.exists() {
        bail!("--input {}: no such file", edges.display());
    }
    let output = job.required_output()?.to_path_buf();
    job.refuse_dead_letter("pagerank")?;
    if let Some(plot) = &args.plot {
        spate::plot::Format::from_path(plot)
            .map_err(|_| anyhow::anyhow!("--plot {}: give a .png or .svg file", plot.display()))?;
    }
    let window = match args.window {
        Some(w) => Some(w.batches("--window", job.batch)?),
        None => None,
    };
    let mut outputs = vec![Output::File("--output", &output)];
    if let Some(plot) = &args.plot {
        outputs.push(Output::File("--plot", plot));
    }
    let identity = Identity::of("pagerank", job)
        .with("--format", format_name(args.format, &edges))
        .with("--order", args.order)
        .with("--tolerance", args.tolerance)
        .with("--damping", args.damping)
        .with_option("--window", window.map(|w| format!("{w} batches")));
    let _prepared = job.prepare(&identity, &outputs)?;
    let sc = job.spate_context()?;
    let handles: Handles = Arc::default();
    let build = || build(&sc, &args, &edges, window, &handles);
    let ssc =
        crate::common::build_or_recover(job.checkpoint.as_deref(), job.checkpoint_every, build)?;
    let bar = progress.then(|| Arc::new(crate::common::Progress::new(None)));
    if let Some(bar) = &bar {
        ssc.add_listener(Arc::clone(bar));
    }
    let started = Instant::now();
    let end = crate::common::run(&ssc, job)?;
    if !crate::common::is_leader() {
        // Every worker ran the same job; the leader reports it and writes the outputs.
        return Ok(end);
    }
    if let Some(bar) = &bar {
        bar.finish();
    }
    let (tracked, summary) = handles
        .lock()
        .map_err(|_| anyhow::anyhow!("internal error: the handle lock was poisoned"))?
        .take()
        .context("internal error: the stream was not built")?;
    let batch_history = ssc.batch_history();
    let edges_read: u64 = batch_history.iter().map(|b| b.records_in).sum();
    let malformed: u64 = batch_history.iter().map(|b| b.records_skipped).sum();
    let summary = summary.get();
    let pagerank = tracked.state().lock();
    if pagerank.node_count() == 0 {
        bail!(
            "{} gave no valid edge ({edges_read} read, {malformed} malformed lines skipped, \
             {} rejected); nothing to rank",
            edges.display(),
            summary.rejected
        );
    }
    let mut ranked = pagerank.ranks().into_vec();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    errln!(
        "{} batches ({} in this run), {edges_read} edges read, {malformed} malformed lines \
         skipped, {} events rejected; {} nodes, {} edges; error bound {:.2e} (tolerance {:e}); \
         {:.2?} on {}",
        pagerank.batches(),
        batch_history.len(),
        summary.rejected,
        pagerank.node_count(),
        pagerank.edge_count(),
        pagerank.certificate(),
        pagerank.tolerance(),
        started.elapsed(),
        runtime_name(&sc)
    );
    if args.top > 0 {
        outln!("top {} nodes:", args.top.min(ranked.len()));
        outln!("  {:>4}  {:>20}  {:>12}", "rank", "node", "pagerank");
        for (i, (node, rank)) in ranked.iter().take(args.top).enumerate() {
            outln!("  {:>4}  {node:>20}  {rank:>12.6e}", i + 1);
        }
    }
    write_ranks(&output, &ranked)?;
    errln!("wrote {} ({} nodes)", output.display(), ranked.len());
    if let Some(path) = &args.plot {
        let top: Vec<NodeId> = ranked.iter().take(FOLLOW).map(|r| r.0).collect();
        let history = summary.plot.unwrap_or_default();
        plot(
            path,
            &history,
            &top,
            pagerank.tolerance(),
            job.batch.as_secs_f64() * 1e3,
        )?;
        errln!("wrote {}", path.display());
    }
    Ok(end)
}

/// The layout `format` names, or by default the one `edges`' extension suggests: `csv` for
/// a .csv or .csv.gz file, `snap` otherwise.
pub(crate) fn edge_format(format: Option<Format>, edges: &Path) -> EdgeListFormat {
    EdgeListFormat::new().columns(match resolved_format(format, edges) {
        Format::Snap => Columns::Temporal,
        Format::Csv => Columns::Auto,
    })
}

/// The layout `--format` names, or the one the file name implies when it is not given.
fn resolved_format(format: Option<Format>, edges: &Path) -> Format {
    format.unwrap_or_else(|| {
        let name = edges.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".csv") || name.ends_with(".csv.gz") {
            Format::Csv
        } else {
            Format::Snap
        }
    })
}

/// The layout's name as `--format` takes it, for a checkpoint's parameters.
pub(crate) fn format_name(format: Option<Format>, edges: &Path) -> String {
    use clap::ValueEnum;
    resolved_format(format, edges)
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string())
}

fn build(
    sc: &SpateContext,
    args: &Args,
    edges: &Path,
    window: Option<u64>,
    handles: &Handles,
) -> spate::Result<StreamingContext> {
    let job = &args.job;
    let ssc = job.streaming_context(sc)?;
    let batch_edges = usize::try_from(job.records_per_batch).unwrap_or(usize::MAX);
    let source = EdgeListSource::options(edges)
        .format(edge_format(args.format, edges))
        .batch_edges(batch_edges)
        .order(args.order.edge_order())
        .build()?;
    let edges = ssc.source_stream(source)?;
    let mut params = IncrementalPageRank::params()
        .damping(args.damping)
        .tolerance(args.tolerance);
    if let Some(w) = window {
        params = params.window_batches(usize::try_from(w).unwrap_or(usize::MAX));
    }
    let tracked = params.build()?.track_top(&edges, "pagerank", FOLLOW)?;
    let summary = ssc.managed_state(SUMMARY_STATE, Summary::default())?;
    let record = summary.clone();
    let quiet = job.quiet;
    let plot = args.plot.is_some();
    tracked.on_batch(move |pr, batch| {
        record_batch(&mut record.lock(), plot, batch, |nodes| pr.ranks_of(nodes));
        if !quiet {
            print_batch(batch);
        }
        Ok(())
    });
    *handles
        .lock()
        .map_err(|_| spate::Error::Internal("handle lock poisoned".into()))? =
        Some((tracked, summary));
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
    outln!(
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

/// Three panels over the batch numbers: the ranks of the final top nodes, each batch's update
/// time against the batch interval, and the error bound against the tolerance.
fn plot(
    path: &Path,
    history: &PlotHistory,
    top: &[NodeId],
    tolerance: f64,
    batch_ms: f64,
) -> anyhow::Result<()> {
    let per_batch = &history.per_batch;
    let mut ranks = LineChart::new("")
        .y_label("PageRank")
        .legend(LegendPosition::Right);
    for node in top {
        // A followed node has a rank at every point since it was last followed from (the
        // final top nodes were the last batch's top nodes, so they are followed).
        let points = history.followed.get(node).map_or(&[][..], Vec::as_slice);
        ranks = ranks.series(Series::new(
            format!("node {node}"),
            points.iter().map(|&(batch, rank)| (batch as f64, rank)),
        ));
    }
    let times = LineChart::new("")
        .y_label("update time (ms)")
        .log_y(true)
        .series(Series::new(
            "update time",
            per_batch.iter().map(|b| (b.0 as f64, b.1)),
        ))
        .reference_line("batch interval", batch_ms);
    let bound = LineChart::new("")
        .y_label("L1 error bound")
        .x_label("batch")
        .log_y(true)
        .series(Series::new(
            "certificate",
            per_batch.iter().map(|b| (b.0 as f64, b.2)),
        ))
        .reference_line("tolerance", tolerance);
    Panels::new(format!("Streaming PageRank: top {} nodes", top.len()))
        .panel(ranks)
        .panel(times)
        .panel(bound)
        .save(path)
        .with_context(|| format!("plotting to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate::graph::EdgeEvent;
    use std::collections::BTreeSet;
    use std::time::Duration;

    /// Runs `batches` batches through a 2-batch window whose top nodes change every batch
    /// (each batch brings 12 fresh hubs), recording each in a summary as the CLI does.
    /// Returns the summary, the ranker, every node that was ever among a batch's top 10, and
    /// the largest update time and error bound of any batch.
    fn run_batches(
        batches: u64,
        plot: bool,
    ) -> (Summary, IncrementalPageRank, BTreeSet<NodeId>, f64, f64) {
        let mut pr = IncrementalPageRank::params()
            .tolerance(1e-4)
            .window_batches(2)
            .build()
            .expect("valid parameters");
        let mut summary = Summary::default();
        let mut ever_top = BTreeSet::new();
        let (mut max_ms, mut max_bound) = (0.0f64, 0.0f64);
        for b in 1..=batches {
            let mut events = Vec::new();
            for j in 0..12u64 {
                let hub = b * 1_000 + j;
                for leaf in 0..=j {
                    events.push(EdgeEvent::insert(hub + 100 + leaf * 20, hub));
                }
            }
            // One rejected event per batch.
            events.push(EdgeEvent::insert_weighted(1, 2, -1.0));
            let report = pr.update(&events);
            assert_eq!(report.batch, b);
            // A made-up update time, largest on every 7th batch.
            let update_time = Duration::from_micros(if b % 7 == 0 { 900 + b } else { 100 });
            let batch = PageRankBatch {
                time: BatchTime(b * 1_000),
                report,
                top: pr.top_k(FOLLOW),
                update_time,
            };
            ever_top.extend(batch.top.iter().map(|t| t.0));
            max_ms = max_ms.max(update_time.as_secs_f64() * 1e3);
            max_bound = max_bound.max(report.certificate);
            record_batch(&mut summary, plot, &batch, |nodes| pr.ranks_of(nodes));
        }
        (summary, pr, ever_top, max_ms, max_bound)
    }

    #[test]
    fn the_plot_history_stays_bounded_while_the_top_nodes_change() {
        let batches = 3_000;
        let (summary, pr, ever_top, max_ms, max_bound) = run_batches(batches, true);
        assert_eq!(summary.rejected, batches);
        let history = summary.plot.expect("kept with --plot");
        // Far more nodes passed through the top 10 than are followed.
        assert!(ever_top.len() > 10 * MAX_FOLLOWED, "{}", ever_top.len());
        assert!(history.followed.len() <= MAX_FOLLOWED);
        assert!(history.per_batch.len() <= MAX_POINTS);
        assert!(history.per_batch.len() >= MAX_POINTS / 2);
        assert!(history.followed.values().all(|s| s.len() <= MAX_POINTS));
        assert_eq!(history.stride, 8, "3000 batches at most 512 per point");
        // The points run over every batch, in order, to the last one.
        let xs: Vec<u64> = history.per_batch.iter().map(|p| p.0).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(xs.last(), Some(&batches));
        // A point shows the worst of its batches: no spike is lost.
        let shown_ms = history.per_batch.iter().map(|p| p.1).fold(0.0, f64::max);
        let shown_bound = history.per_batch.iter().map(|p| p.2).fold(0.0, f64::max);
        assert_eq!(shown_ms, max_ms);
        assert_eq!(shown_bound, max_bound);
        // The final top nodes, which the plot shows, are followed, with their final ranks.
        for (node, rank) in pr.top_k(FOLLOW) {
            let series = history
                .followed
                .get(&node)
                .expect("final top node followed");
            assert_eq!(series.last(), Some(&(batches, rank)));
        }
    }

    #[test]
    fn without_plot_no_history_is_kept() {
        let (summary, ..) = run_batches(200, false);
        assert_eq!(
            summary,
            Summary {
                rejected: 200,
                plot: None
            }
        );
    }

    #[test]
    fn a_history_restored_from_a_checkpoint_is_dropped_without_plot() {
        let (mut summary, ..) = run_batches(30, true);
        assert!(summary.plot.is_some());
        let pr = IncrementalPageRank::params().build().expect("valid");
        let batch = PageRankBatch {
            time: BatchTime(31_000),
            report: IncrementalPageRank::params()
                .build()
                .expect("valid")
                .update(&[EdgeEvent::insert(1, 2)]),
            top: Vec::new(),
            update_time: Duration::from_millis(1),
        };
        record_batch(&mut summary, false, &batch, |nodes| pr.ranks_of(nodes));
        assert_eq!(summary.plot, None);
        assert_eq!(summary.rejected, 30);
    }
}

//! `spate sql`: SQL over a CSV, NDJSON or Parquet file (or a directory of them) replayed as a
//! stream of row batches, per batch, per sliding window or per event-time window, written as
//! one Parquet or CSV file per batch.
//!
//! The query names the current batch or window `batch`; `--table NAME=FILE` adds static
//! tables to join. Windowed grouped aggregates run incrementally from per-batch partials
//! when the query allows it (the plan is printed at the start). Each result goes to
//! `OUTPUT/result-TIME.EXT` (TIME: the batch time in ms, zero-padded), written atomically;
//! with `--checkpoint`, a killed job restarts where it left off and rewrites the files of the
//! batches after its last checkpoint, so every file is written exactly once. Malformed rows
//! are skipped and counted; with `--time-column`, rows behind the watermark are counted and,
//! with `--late-output`, written there.

use crate::common::{BatchLog, Progress, interactive, parse_duration};
use anyhow::{Context, bail};
use spate::prelude::*;
use spate_frame::{
    FileFormat, FrameDirectorySource, FrameFileSink, FrameFileSource, FrameStream, SourceStats,
    SqlQuery, WindowStrategy,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// SQL over a stream of row batches (the table `batch`), per batch or per window.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// A CSV, NDJSON or Parquet file (CSV and NDJSON plain or .gz), replayed in row batches,
    /// or a directory whose files (existing, then new ones) are read one per batch.
    #[arg(long)]
    input: PathBuf,
    /// Input format (default: from the file extension).
    #[arg(long, value_parser = parse_format)]
    format: Option<FileFormat>,
    /// The query, over the table `batch` (the current batch or window).
    #[arg(long)]
    query: String,
    /// A static table for joins, as NAME=FILE (CSV, NDJSON or Parquet); repeatable.
    #[arg(long = "table", value_parser = parse_table)]
    tables: Vec<(String, PathBuf)>,
    /// Batch interval (the clock of --window, --slide and the output file names).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    batch: Duration,
    /// Run the query over sliding windows of this length: of batches (a multiple of
    /// --batch), or of event time with --time-column.
    #[arg(long, value_parser = parse_duration)]
    window: Option<Duration>,
    /// How often the window slides (default: --batch; with --time-column, --window).
    #[arg(long, value_parser = parse_duration, requires = "window")]
    slide: Option<Duration>,
    /// Event-time column (datetime, date or integer milliseconds): windows follow it.
    #[arg(long, requires = "window")]
    time_column: Option<String>,
    /// How late a row may arrive behind the latest event time seen (with --time-column).
    #[arg(long, default_value = "0s", value_parser = parse_duration, requires = "time_column")]
    lateness: Duration,
    /// Rows per batch when replaying a file.
    #[arg(long, default_value_t = 10_000)]
    rows_per_batch: usize,
    /// Rows read to infer the column types of CSV and NDJSON input.
    #[arg(long, default_value_t = spate_frame::DEFAULT_INFER_SCHEMA_ROWS)]
    infer_schema_rows: usize,
    /// Directory for the result files.
    #[arg(long)]
    output: PathBuf,
    /// Result file format.
    #[arg(long, default_value = "parquet", value_parser = parse_output_format)]
    output_format: FileFormat,
    /// Also write the late rows (with --time-column) to this directory.
    #[arg(long, requires = "time_column")]
    late_output: Option<PathBuf>,
    /// Checkpoint directory: state and input position are saved there and a restarted job
    /// continues exactly where the last checkpoint left off.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Write a checkpoint every this many batches.
    #[arg(long, default_value_t = 5)]
    checkpoint_every: u64,
    /// Replay a file at the pace of the batch interval instead of as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Stop after this many batches (useful for directory input).
    #[arg(long)]
    max_batches: Option<u64>,
    /// Do not print a line per batch.
    #[arg(long)]
    quiet: bool,
}

fn parse_format(text: &str) -> Result<FileFormat, String> {
    FileFormat::from_name(text).ok_or_else(|| format!("`{text}`: use csv, ndjson or parquet"))
}

fn parse_output_format(text: &str) -> Result<FileFormat, String> {
    match FileFormat::from_name(text) {
        Some(f @ (FileFormat::Csv | FileFormat::Parquet)) => Ok(f),
        _ => Err(format!("`{text}`: results are written as parquet or csv")),
    }
}

fn parse_table(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("`{text}`: give a table as NAME=FILE")),
    }
}

/// What the job counts while it runs (since its start: a restarted job counts from 0).
#[derive(Default)]
struct Counts {
    result_rows: AtomicU64,
    late_rows: AtomicU64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.rows_per_batch == 0 {
        bail!("--rows-per-batch 0: a batch needs at least one row");
    }
    if args.infer_schema_rows == 0 {
        bail!("--infer-schema-rows 0: inferring types needs at least one row");
    }
    let meta = std::fs::metadata(&args.input).with_context(|| {
        format!(
            "--input {}: no such file or directory",
            args.input.display()
        )
    })?;
    let directory = meta.is_dir();
    let progress = interactive() && !directory && !args.quiet;
    crate::common::init_logging(progress);
    let query = static_tables(SqlQuery::new(&args.query), &args.tables)?;
    let sc = crate::common::spate_context(args.threads)?;
    let parts = sc.default_parallelism().max(1);
    let counts = Arc::new(Counts::default());
    let stats: Arc<Mutex<Option<SourceStats>>> = Arc::default();
    let build = || build(&sc, &args, directory, parts, &query, &counts, &stats);
    let ssc =
        crate::common::build_or_recover(args.checkpoint.as_deref(), args.checkpoint_every, build)?;
    let bar = progress.then(|| {
        // Text sources report the bytes they read; a gzip or Parquet file's size says
        // nothing about those, so the bar is a spinner then.
        let format = args.format.or_else(|| FileFormat::from_path(&args.input));
        let sized = !is_gzip(&args.input) && format != Some(FileFormat::Parquet);
        Arc::new(Progress::new(sized.then_some(meta.len())))
    });
    match &bar {
        Some(bar) => ssc.add_listener(Arc::clone(bar)),
        None if !args.quiet => ssc.add_listener(BatchLog),
        None => {}
    }
    let started = Instant::now();
    crate::common::run(&ssc, args.max_batches)?;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let history = ssc.batch_history();
    let skipped: u64 = history.iter().map(|b| b.records_skipped).sum();
    let rows = stats
        .lock()
        .map_err(|_| anyhow::anyhow!("a counter lock was poisoned"))?
        .as_ref()
        .map_or(0, SourceStats::rows);
    eprintln!(
        "{} batches, {rows} rows ({skipped} skipped), {} result rows{} in {:.2?} on {}; wrote {}",
        history.len(),
        counts.result_rows.load(Ordering::Relaxed),
        if args.time_column.is_some() {
            format!(", {} late rows", counts.late_rows.load(Ordering::Relaxed))
        } else {
            String::new()
        },
        started.elapsed(),
        sc.executor_name(),
        args.output.display()
    );
    Ok(())
}

/// The query with the `--table` files registered.
fn static_tables(mut query: SqlQuery, tables: &[(String, PathBuf)]) -> anyhow::Result<SqlQuery> {
    for (name, path) in tables {
        let mut source = FrameFileSource::options(path)
            .rows_per_batch(usize::MAX)
            .build()
            .with_context(|| format!("--table {name}={}", path.display()))?;
        let schema = source.schema();
        let batch = source.next_batch(BatchTime(0), None)?;
        let table = spate_frame::Frame::concat(&batch.records, &schema)?;
        if batch.skipped > 0 {
            eprintln!("--table {name}: {} malformed rows skipped", batch.skipped);
        }
        query = query.table(name.clone(), table.into_df())?;
    }
    Ok(query)
}

fn build(
    sc: &SpateContext,
    args: &Args,
    directory: bool,
    parts: usize,
    query: &SqlQuery,
    counts: &Arc<Counts>,
    stats: &Arc<Mutex<Option<SourceStats>>>,
) -> spate::Result<StreamingContext> {
    let mut builder = StreamingContext::builder(sc).batch_interval(args.batch);
    builder = if directory || args.realtime {
        builder.clock(SystemClock::new())
    } else {
        builder.clock(FastForwardClock::new())
    };
    let ssc = builder.build()?;
    let frames = if directory {
        let format = match args.format {
            Some(f) => f,
            None => directory_format(&args.input)?,
        };
        let source = FrameDirectorySource::options(&args.input, format)
            .include_existing(true)
            .infer_schema_rows(args.infer_schema_rows)
            .build()?;
        set_stats(stats, source.stats());
        let schema = source.schema();
        FrameStream::new(ssc.source_stream(source)?, schema)
    } else {
        let mut options = FrameFileSource::options(&args.input)
            .rows_per_batch(args.rows_per_batch)
            .frames_per_batch(parts)
            .infer_schema_rows(args.infer_schema_rows);
        if let Some(f) = args.format {
            options = options.format(f);
        }
        let source = options.build()?;
        set_stats(stats, source.stats());
        let schema = source.schema();
        FrameStream::new(ssc.source_stream(source)?, schema)
    };
    let results = match (&args.window, &args.time_column) {
        (None, _) => frames.sql(query.clone())?,
        (Some(length), None) => {
            let window = Window::new(*length, args.slide.unwrap_or(args.batch));
            let windows = frames.window(window);
            match windows.strategy(query)? {
                WindowStrategy::Incremental => {
                    eprintln!(
                        "plan: incremental (per-batch partial aggregates, merged and retracted per slide)"
                    )
                }
                WindowStrategy::Recompute { reason } => {
                    eprintln!("plan: recomputed over each window ({reason})")
                }
            }
            windows.sql(query.clone())?
        }
        (Some(length), Some(column)) => {
            let slide = args.slide.unwrap_or(*length);
            let windowed = frames
                .event_time(column, args.lateness)?
                .window(*length, slide)?
                .sql(query.clone())?;
            let late = windowed.late().clone();
            let sink = match &args.late_output {
                Some(dir) => {
                    Some(FrameFileSink::new(dir, "late", FileFormat::Parquet)?.skip_empty(true))
                }
                None => None,
            };
            let counter = Arc::clone(counts);
            let schema = Arc::clone(late.schema());
            late.stream().foreach_rdd(move |rdd, time| {
                let frames = rdd.collect()?;
                let rows = spate_frame::Frame::concat(&frames, &schema)?;
                counter
                    .late_rows
                    .fetch_add(rows.height() as u64, Ordering::Relaxed);
                if let Some(sink) = &sink {
                    sink.write_batch(time, rows.df())?;
                }
                Ok(())
            })?;
            windowed.results().clone()
        }
    };
    let sink = FrameFileSink::new(&args.output, "result", args.output_format)?;
    let counter = Arc::clone(counts);
    let schema = Arc::clone(results.schema());
    results.stream().foreach_rdd(move |rdd, time| {
        let frames = rdd.collect()?;
        let frame = spate_frame::Frame::concat(&frames, &schema)?;
        counter
            .result_rows
            .fetch_add(frame.height() as u64, Ordering::Relaxed);
        sink.write_batch(time, frame.df())?;
        Ok(())
    })?;
    Ok(ssc)
}

fn set_stats(slot: &Arc<Mutex<Option<SourceStats>>>, stats: SourceStats) {
    if let Ok(mut s) = slot.lock() {
        *s = Some(stats);
    }
}

/// The format of a directory's files: that of the first file with a known extension.
fn directory_format(dir: &Path) -> Result<FileFormat, spate::Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| spate::Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    names
        .iter()
        .find_map(|p| FileFormat::from_path(p))
        .ok_or_else(|| spate::Error::InvalidParameter {
            name: "--format",
            value: dir.display().to_string(),
            reason: "the directory has no csv, ndjson or parquet file yet; give --format",
        })
}

fn is_gzip(path: &Path) -> bool {
    let mut magic = [0_u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .map(|()| magic == [0x1f, 0x8b])
        .unwrap_or(false)
}

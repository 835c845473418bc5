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

use crate::common::{RunEnd, errln, interactive, parse_duration, runtime_name};
use crate::job::{Identity, JobArgs, Output, Span};
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
    /// The standard job options. --input is a CSV, NDJSON or Parquet file (CSV and NDJSON
    /// plain or .gz), replayed in batches of --records-per-batch rows, or a directory whose
    /// files (existing, then new ones) are read one per batch; --output is the directory
    /// of the result files.
    #[command(flatten)]
    pub job: JobArgs,
    /// Input format (default: from the file extension).
    #[arg(long, value_parser = parse_format)]
    format: Option<FileFormat>,
    /// The query, over the table `batch` (the current batch or window).
    #[arg(long)]
    query: String,
    /// A static table for joins, as NAME=FILE (CSV, NDJSON or Parquet); repeatable.
    #[arg(long = "table", value_parser = parse_table)]
    tables: Vec<(String, PathBuf)>,
    /// Run the query over sliding windows of this length: a number of batches or a multiple
    /// of --batch, or, with --time-column, a length of event time.
    #[arg(long, value_parser = Span::parse)]
    window: Option<Span>,
    /// How often the window slides (default: 1 batch; with --time-column, --window).
    #[arg(long, value_parser = Span::parse, requires = "window")]
    slide: Option<Span>,
    /// Event-time column (datetime, date or integer milliseconds): windows follow it.
    #[arg(long, requires = "window")]
    time_column: Option<String>,
    /// How late a row may arrive behind the latest event time seen (with --time-column).
    #[arg(long, default_value = "0s", value_parser = parse_lateness, requires = "time_column")]
    lateness: Duration,
    /// Rows read to infer the column types of CSV and NDJSON input.
    #[arg(long, default_value_t = spate_frame::DEFAULT_INFER_SCHEMA_ROWS)]
    infer_schema_rows: usize,
    /// Result file format.
    #[arg(long, default_value = "parquet", value_parser = parse_output_format)]
    output_format: FileFormat,
    /// Also write the late rows (with --time-column) to this directory.
    #[arg(long, requires = "time_column")]
    late_output: Option<PathBuf>,
}

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  Flights and mean departure delay per carrier over sliding windows of 5 batches:
    spate sql -i datasets/nycflights13-flights-every100th.csv -n 200 --window 5 \\
        -o out/delays --output-format csv \\
        --query \"SELECT carrier, count(*) AS flights, avg(dep_delay) AS mean_delay FROM batch GROUP BY carrier\"

Result files are OUTPUT/result-TIME.parquet (or .csv), one per batch or window, written
atomically; with --checkpoint each is written exactly once across restarts.";

/// The length of a window or slide as stream time: a duration as given, or that many
/// batches.
fn span_time(span: Span, batch: Duration, option: &str) -> anyhow::Result<Duration> {
    match span {
        Span::Time(t) => Ok(t),
        Span::Batches(_) => span.duration(option, batch),
    }
}

/// A lateness: `0s` (no late rows allowed) or a duration as for `--batch`.
fn parse_lateness(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Ok(d),
        _ => parse_duration(text),
    }
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

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    let job = &args.job;
    if args.infer_schema_rows == 0 {
        bail!("--infer-schema-rows 0: inferring types needs at least one row");
    }
    job.refuse_dead_letter("sql")?;
    let input = job
        .input_path()
        .context("--input must be a file or a directory")?
        .to_path_buf();
    let meta = std::fs::metadata(&input)
        .with_context(|| format!("--input {}: no such file or directory", input.display()))?;
    let directory = meta.is_dir();
    let progress = interactive() && !directory && !job.quiet;
    crate::common::init_logging(job, progress);
    let output = job.required_output()?.to_path_buf();
    let windows = match (args.window, args.time_column.is_some()) {
        (None, _) => None,
        (Some(length), false) => {
            // Processing-time windows are whole batches.
            let slide = args.slide.unwrap_or(Span::Batches(1));
            Some((
                length.duration("--window", job.batch)?,
                slide.duration("--slide", job.batch)?,
            ))
        }
        (Some(length), true) => {
            let length = span_time(length, job.batch, "--window")?;
            let slide = match args.slide {
                Some(slide) => span_time(slide, job.batch, "--slide")?,
                None => length,
            };
            Some((length, slide))
        }
    };
    let tables: Vec<String> = args
        .tables
        .iter()
        .map(|(name, path)| format!("{name}={}", path.display()))
        .collect();
    let identity = Identity::of("sql", job)
        .with("--query", &args.query)
        .with_option("--format", args.format.map(|f| format!("{f:?}")))
        .with("--table", tables.join(","))
        .with_option(
            "--window",
            windows.map(|(l, s)| {
                format!(
                    "{} sliding {}",
                    humantime::format_duration(l),
                    humantime::format_duration(s)
                )
            }),
        )
        .with_option("--time-column", args.time_column.as_ref())
        .with("--lateness", humantime::format_duration(args.lateness))
        .with("--infer-schema-rows", args.infer_schema_rows)
        .with("--output-format", format!("{:?}", args.output_format));
    let mut outputs = vec![Output::Directory("--output", &output, is_result_name)];
    if let Some(late) = &args.late_output {
        outputs.push(Output::Directory("--late-output", late, is_result_name));
    }
    let _prepared = job.prepare(&identity, &outputs)?;
    let query = static_tables(SqlQuery::new(&args.query), &args.tables)?;
    let sc = job.spate_context()?;
    let counts = Arc::new(Counts::default());
    let stats: Arc<Mutex<Option<SourceStats>>> = Arc::default();
    let build = || {
        let setup = Setup {
            args: &args,
            input: &input,
            output: &output,
            directory,
            windows,
        };
        build(&sc, &setup, &query, &counts, &stats)
    };
    let ssc =
        crate::common::build_or_recover(job.checkpoint.as_deref(), job.checkpoint_every, build)?;
    let total = {
        // Text sources report the bytes they read; a gzip or Parquet file's size says
        // nothing about those, so the bar is a spinner then.
        let format = args.format.or_else(|| FileFormat::from_path(&input));
        let sized = !directory && !is_gzip(&input) && format != Some(FileFormat::Parquet);
        sized.then_some(meta.len())
    };
    let bar = if job.quiet {
        None
    } else {
        crate::common::show_progress(&ssc, progress, total)
    };
    let started = Instant::now();
    let end = crate::common::run(&ssc, job)?;
    if let Some(bar) = &bar {
        bar.finish();
    }
    if !crate::common::is_leader() {
        return Ok(end);
    }
    let history = ssc.batch_history();
    let skipped: u64 = history.iter().map(|b| b.records_skipped).sum();
    let rows = stats
        .lock()
        .map_err(|_| anyhow::anyhow!("a counter lock was poisoned"))?
        .as_ref()
        .map_or(0, SourceStats::rows);
    if rows == 0 && ssc.recovered_from().is_none() {
        bail!(
            "{} gave no valid row in {} batches ({skipped} skipped); nothing to query",
            input.display(),
            history.len()
        );
    }
    errln!(
        "{} batches, {rows} rows ({skipped} skipped), {} result rows{} in {:.2?} on {}; wrote {}",
        history.len(),
        counts.result_rows.load(Ordering::Relaxed),
        if args.time_column.is_some() {
            format!(", {} late rows", counts.late_rows.load(Ordering::Relaxed))
        } else {
            String::new()
        },
        started.elapsed(),
        runtime_name(&sc),
        output.display()
    );
    Ok(end)
}

/// Whether a file name is one this command writes (`result-TIME.EXT`, `late-TIME.EXT`).
fn is_result_name(name: &str) -> bool {
    name.starts_with("result-") || name.starts_with("late-")
}

/// What `build` needs besides the query.
struct Setup<'a> {
    args: &'a Args,
    input: &'a Path,
    output: &'a Path,
    directory: bool,
    /// Window length and slide.
    windows: Option<(Duration, Duration)>,
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
            errln!("--table {name}: {} malformed rows skipped", batch.skipped);
        }
        query = query.table(name.clone(), table.into_df())?;
    }
    Ok(query)
}

fn build(
    sc: &SpateContext,
    setup: &Setup<'_>,
    query: &SqlQuery,
    counts: &Arc<Counts>,
    stats: &Arc<Mutex<Option<SourceStats>>>,
) -> spate::Result<StreamingContext> {
    let (args, job, directory) = (setup.args, &setup.args.job, setup.directory);
    let ssc = job
        .context_builder(sc, !directory && !job.realtime)
        .build()?;
    let parts = crate::job::PARTITIONS;
    let frames = if directory {
        let format = match args.format {
            Some(f) => f,
            None => directory_format(setup.input)?,
        };
        let source = FrameDirectorySource::options(setup.input, format)
            .include_existing(true)
            .infer_schema_rows(args.infer_schema_rows)
            .build()?;
        set_stats(stats, source.stats());
        let schema = source.schema();
        FrameStream::new(ssc.source_stream(source)?, schema)
    } else {
        let mut options = FrameFileSource::options(setup.input)
            .rows_per_batch(usize::try_from(job.records_per_batch).unwrap_or(usize::MAX))
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
    let results = match (setup.windows, &args.time_column) {
        (None, _) => frames.sql(query.clone())?,
        (Some((length, slide)), None) => {
            let window = Window::new(length, slide);
            let windows = frames.window(window);
            match windows.strategy(query)? {
                WindowStrategy::Incremental => {
                    errln!(
                        "plan: incremental (per-batch partial aggregates, merged and retracted per slide)"
                    )
                }
                WindowStrategy::Recompute { reason } => {
                    errln!("plan: recomputed over each window ({reason})")
                }
            }
            windows.sql(query.clone())?
        }
        (Some((length, slide)), Some(column)) => {
            let windowed = frames
                .event_time(column, args.lateness)?
                .window(length, slide)?
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
                if let Some(sink) = &sink
                    && crate::common::is_leader()
                {
                    sink.write_batch(time, rows.df())?;
                }
                Ok(())
            })?;
            windowed.results().clone()
        }
    };
    let sink = FrameFileSink::new(setup.output, "result", args.output_format)?;
    let counter = Arc::clone(counts);
    let schema = Arc::clone(results.schema());
    results.stream().foreach_rdd(move |rdd, time| {
        let frames = rdd.collect()?;
        let frame = spate_frame::Frame::concat(&frames, &schema)?;
        counter
            .result_rows
            .fetch_add(frame.height() as u64, Ordering::Relaxed);
        // Every worker computes the result; the leader writes it.
        if crate::common::is_leader() {
            sink.write_batch(time, frame.df())?;
        }
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

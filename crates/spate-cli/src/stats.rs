//! `spate stats`: streaming statistics of the numeric columns of a CSV file, per batch, per
//! sliding window of batches and over the whole file, written as one CSV and optionally
//! plotted.
//!
//! Missing values are per column: an empty, `NA` or non-numeric field (or NaN, ±∞) is
//! skipped and counted in that column's `missing`, and the row's other values still count.
//! Rows that cannot be split into the header's fields are skipped whole and counted.

use crate::common::BatchLog;
use anyhow::{Context, bail};
use spate::io::{CsvRowParser, FileReplaySource, SkipReason};
use spate::plot::{Band, LineChart, Panels, Series};
use spate::prelude::*;
use spate::stats::{DStreamColumnStatsExt, DStreamMergeExt, Moments, PerColumn, QuantileSketch};
use spate::stream::{SourceBatch, SourceOffset};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Quantile sketch buckets per sign: enough for values spanning a ratio of e^(2·α·65536)
/// (e^13 at α = 1e-4); memory grows only with the range the values actually span.
const QUANTILE_BINS: u32 = 65_536;
const HEADER: &str = "scope,first_batch,last_batch,column,count,missing,mean,sd,min,max,skewness,kurtosis,p05,p50,p95";

/// Count, mean, sd, min, max, skewness, kurtosis and p05/p50/p95 of CSV columns, per batch,
/// per window and in total.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// CSV file with a header line (plain or gzip).
    #[arg(long)]
    input: PathBuf,
    /// Columns to summarize, comma-separated (default: every numeric column).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// CSV rows per batch.
    #[arg(long, default_value_t = 1000)]
    batch_rows: u64,
    /// Also summarize sliding windows of this many batches.
    #[arg(long)]
    window: Option<u64>,
    /// Batches between two windows (default 1).
    #[arg(long, requires = "window")]
    slide: Option<u64>,
    /// Relative accuracy of p05, p50 and p95: each is within this fraction of a value of the
    /// right rank (they come from mergeable DDSketch sketches). Smaller costs memory in
    /// proportion to ln(max / min) / accuracy per column and batch.
    #[arg(long, default_value_t = 0.01)]
    quantile_accuracy: f64,
    /// Where to write the statistics: one row per scope (batch, window, total) and column.
    #[arg(long)]
    output: PathBuf,
    /// Plot (PNG or SVG) of the mean with mean ± sd and p05–p95 bands per column, over the
    /// windows if --window is given, else over the batches.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Do not print a line per batch.
    #[arg(long)]
    quiet: bool,
}

/// What every batch and window is summarized into: per column, moments and a quantile sketch.
type Summary = PerColumn<(Moments, QuantileSketch)>;

/// Summaries collected at the driver, by (first batch, last batch).
type Collected = Arc<Mutex<Vec<(u64, u64, Summary)>>>;

pub fn run(args: Args) -> anyhow::Result<()> {
    // Per-batch log lines come from BatchLog; the engine logs only warnings unless RUST_LOG.
    crate::common::init_logging(true);
    if args.batch_rows == 0 {
        bail!("--batch-rows 0: a batch needs at least one row");
    }
    let window = match (args.window, args.slide.unwrap_or(1)) {
        (Some(0), _) => bail!("--window 0: a window needs at least one batch"),
        (_, 0) => bail!("--slide 0: windows must move by at least one batch"),
        (Some(length), slide) => Some((length, slide)),
        (None, _) => None,
    };
    let started = Instant::now();
    let source = CsvColumns::open(&args.input, args.columns.as_deref(), args.batch_rows)?;
    let columns = source.columns.clone();
    let sc = crate::common::spate_context(args.threads)?;
    // One batch per interval of a clock that jumps to the next batch at once: batch k has
    // time k seconds.
    let ssc = StreamingContext::builder(&sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()?;
    if !args.quiet {
        ssc.add_listener(BatchLog);
    }
    let rows = ssc.source_stream(source)?;
    let empty = QuantileSketch::params()
        .relative_accuracy(args.quantile_accuracy)
        .max_bins(QUANTILE_BINS)
        .build()
        .context("--quantile-accuracy")?;
    let per_batch = rows.summarize_columns((Moments::new(), empty));
    let batches = collect(&per_batch, 1)?;
    let windows = match window {
        Some((length, slide)) => {
            let window = Window::new(Duration::from_secs(length), Duration::from_secs(slide));
            Some(collect(
                &per_batch.merge_by_window_recompute(window)?,
                length,
            )?)
        }
        None => None,
    };
    crate::common::run(&ssc, None)?;

    let batches = std::mem::take(&mut *lock(&batches)?);
    let windows = match &windows {
        Some(w) => std::mem::take(&mut *lock(w)?),
        None => Vec::new(),
    };
    let mut total = Summary::default();
    for (_, _, summary) in &batches {
        total.merge(summary);
    }
    let history = ssc.batch_history();
    let rows_in: u64 = history.iter().map(|b| b.records_in).sum();
    let skipped: u64 = history.iter().map(|b| b.records_skipped).sum();
    write_output(
        &args.output,
        &columns,
        &batches,
        &windows,
        &total,
        batches.len() as u64,
    )?;
    eprintln!(
        "{} batches, {rows_in} rows ({skipped} malformed rows skipped) in {:.2?} on {}; wrote {}",
        batches.len(),
        started.elapsed(),
        sc.runtime_name(),
        args.output.display()
    );
    print_total(&columns, &total);
    if let Some(path) = &args.plot {
        let (series, what) = if window.is_some() {
            (&windows, "window")
        } else {
            (&batches, "batch")
        };
        plot(path, &args.input, &columns, series, what)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> anyhow::Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| anyhow::anyhow!("a result lock was poisoned"))
}

/// Collects every summary of `stream`, labelled with the batches it covers (`length` batches
/// up to the one at its time).
fn collect(stream: &DStream<Summary>, length: u64) -> anyhow::Result<Collected> {
    let out: Collected = Arc::default();
    let sink = Arc::clone(&out);
    stream.foreach_rdd(move |rdd, time| {
        let last = time.millis() / 1000;
        let first = last.saturating_sub(length - 1).max(1);
        let mut merged = Summary::default();
        for summary in rdd.collect()? {
            merged.merge(&summary);
        }
        sink.lock()
            .map_err(|_| spate::Error::Runtime {
                message: "the stats sink lock was poisoned".into(),
            })?
            .push((first, last, merged));
        Ok(())
    })?;
    Ok(out)
}

/// The statistics of one column, as written: empty where undefined.
struct ColumnStats {
    count: u64,
    missing: u64,
    values: [Option<f64>; 9],
}

impl ColumnStats {
    fn of(summary: Option<&(Moments, QuantileSketch)>) -> ColumnStats {
        let Some((m, q)) = summary else {
            return ColumnStats {
                count: 0,
                missing: 0,
                values: [None; 9],
            };
        };
        let quantile = |p: f64| q.quantile(p).ok().flatten();
        ColumnStats {
            count: m.count(),
            missing: m.skipped_non_finite(),
            values: [
                m.mean(),
                m.sample_std_dev(),
                m.min(),
                m.max(),
                m.skewness(),
                m.kurtosis(),
                quantile(0.05),
                quantile(0.5),
                quantile(0.95),
            ],
        }
    }

    fn mean(&self) -> Option<f64> {
        self.values[0]
    }

    fn sd(&self) -> Option<f64> {
        self.values[1]
    }

    fn quantiles(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        (self.values[6], self.values[7], self.values[8])
    }
}

/// Shortest text that reads back as exactly `x`; empty when undefined.
fn number(x: Option<f64>) -> String {
    x.map(|x| format!("{x:?}")).unwrap_or_default()
}

/// A CSV field: quoted when it holds a delimiter, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn write_output(
    path: &Path,
    columns: &[String],
    batches: &[(u64, u64, Summary)],
    windows: &[(u64, u64, Summary)],
    total: &Summary,
    batch_count: u64,
) -> anyhow::Result<()> {
    let mut out = String::from(HEADER);
    out.push('\n');
    let scopes = [("batch", batches), ("window", windows)];
    let all = scopes
        .iter()
        .flat_map(|(scope, rows)| rows.iter().map(move |(a, b, s)| (*scope, *a, *b, s)))
        .chain(std::iter::once(("total", 1, batch_count, total)));
    for (scope, first, last, summary) in all {
        for (j, name) in columns.iter().enumerate() {
            let stats = ColumnStats::of(summary.get(j));
            let values: Vec<String> = stats.values.iter().map(|v| number(*v)).collect();
            out.push_str(&format!(
                "{scope},{first},{last},{},{},{},{}\n",
                field(name),
                stats.count,
                stats.missing,
                values.join(",")
            ));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(out.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn print_total(columns: &[String], total: &Summary) {
    let width = columns
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<width$} {:>9} {:>7} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "column", "count", "missing", "mean", "sd", "min", "p05", "p50", "p95", "max"
    );
    let cell = |x: Option<f64>| x.map(|x| format!("{x:.6}")).unwrap_or_else(|| "-".into());
    for (j, name) in columns.iter().enumerate() {
        let s = ColumnStats::of(total.get(j));
        let (p05, p50, p95) = s.quantiles();
        println!(
            "{name:<width$} {:>9} {:>7} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
            s.count,
            s.missing,
            cell(s.mean()),
            cell(s.sd()),
            cell(s.values[2]),
            cell(p05),
            cell(p50),
            cell(p95),
            cell(s.values[3]),
        );
    }
}

/// One panel per column: the mean with a mean ± sd band and a p05–p95 band, over the last
/// batch of each batch or window.
fn plot(
    path: &Path,
    input: &Path,
    columns: &[String],
    summaries: &[(u64, u64, Summary)],
    what: &str,
) -> anyhow::Result<()> {
    let name = input.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut panels = Panels::new(format!(
        "{} per {what}",
        name.unwrap_or_else(|| "input".into())
    ));
    for (j, column) in columns.iter().enumerate() {
        let stats: Vec<(f64, ColumnStats)> = summaries
            .iter()
            .map(|(_, last, s)| (*last as f64, ColumnStats::of(s.get(j))))
            .collect();
        let nan = f64::NAN;
        let mean = stats.iter().map(|(x, s)| (*x, s.mean().unwrap_or(nan)));
        let spread = stats.iter().map(|(x, s)| {
            let (m, sd) = (s.mean().unwrap_or(nan), s.sd().unwrap_or(nan));
            (*x, m - sd, m + sd)
        });
        let quantiles = stats.iter().map(|(x, s)| {
            let (p05, _, p95) = s.quantiles();
            (*x, p05.unwrap_or(nan), p95.unwrap_or(nan))
        });
        let series = Series::new("mean", mean)
            .band(Band::new("p05–p95", quantiles))
            .band(Band::new("mean ± sd", spread));
        let x_label = if j + 1 == columns.len() { "batch" } else { "" };
        panels = panels.panel(
            LineChart::new(column.as_str())
                .x_label(x_label)
                .y_label(column.as_str())
                .series(series),
        );
    }
    panels
        .save(path)
        .with_context(|| format!("plotting to {}", path.display()))?;
    Ok(())
}

/// Rows of a CSV file as `Vec<f64>` records of the selected columns, with a missing or
/// non-numeric field carried as NaN so that each column skips and counts it on its own; a row
/// with the wrong number of fields (or an unclosed quote) is skipped whole and counted.
///
/// A batch holds `batch_rows` lines of the file after the header. Replay (offsets) comes from
/// the line source underneath.
struct CsvColumns {
    lines: FileReplaySource,
    /// One parser per selected column, in record order.
    parsers: Vec<CsvRowParser>,
    columns: Vec<String>,
    name: String,
}

impl CsvColumns {
    fn open(path: &Path, columns: Option<&[String]>, batch_rows: u64) -> anyhow::Result<Self> {
        // The CSV source resolves the columns: named ones must exist, otherwise every column
        // that is numeric in the first rows.
        let names: Option<Vec<&str>> = columns.map(|c| c.iter().map(String::as_str).collect());
        let mut options = spate::io::CsvSource::options(path);
        if let Some(names) = &names {
            options = options.columns(names);
        }
        let columns = options
            .build()
            .with_context(|| format!("reading the header of {}", path.display()))?
            .column_names();
        let mut first = FileReplaySource::options(path).lines_per_batch(1).build()?;
        let header = first
            .next_batch(BatchTime(0), None)?
            .records
            .pop()
            .with_context(|| format!("{} has no header line", path.display()))?;
        let parsers = columns
            .iter()
            .map(|c| CsvRowParser::new(&header, Some(&[c.as_str()]), b','))
            .collect::<Result<_, _>>()?;
        Ok(CsvColumns {
            lines: FileReplaySource::options(path)
                .lines_per_batch(batch_rows)
                .build()?,
            parsers,
            columns,
            name: format!("csv-columns({})", path.display()),
        })
    }

    /// The record of one line, or `None` if the line is not a row of the file's shape.
    fn parse(&mut self, line: &str) -> Option<Vec<f64>> {
        let mut record = Vec::with_capacity(self.parsers.len());
        for parser in &mut self.parsers {
            match parser.parse(line.as_bytes()) {
                Ok(value) => record.push(value.first().copied().unwrap_or(f64::NAN)),
                Err(
                    SkipReason::Missing { .. }
                    | SkipReason::NotNumeric { .. }
                    | SkipReason::NonFinite { .. },
                ) => record.push(f64::NAN),
                Err(_) => return None,
            }
        }
        Some(record)
    }
}

impl Source for CsvColumns {
    type Item = Vec<f64>;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn start(&mut self) -> spate::Result<()> {
        self.lines.start()
    }

    fn next_batch(
        &mut self,
        time: BatchTime,
        max_records: Option<u64>,
    ) -> spate::Result<SourceBatch<Vec<f64>>> {
        let mut bytes = 0;
        if self.lines.position().line == 0 {
            bytes += self.lines.next_batch(time, Some(1))?.bytes;
        }
        let lines = self.lines.next_batch(time, max_records)?;
        let mut skipped = lines.skipped;
        let mut records = Vec::with_capacity(lines.records.len());
        for line in &lines.records {
            match self.parse(line) {
                Some(record) => records.push(record),
                None => skipped += 1,
            }
        }
        Ok(SourceBatch {
            records,
            skipped,
            bytes: bytes + lines.bytes,
        })
    }

    fn is_exhausted(&self) -> bool {
        self.lines.is_exhausted()
    }

    fn offset(&self) -> Option<SourceOffset> {
        self.lines.offset()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate::Result<()> {
        self.lines.seek(offset)
    }

    fn stop(&mut self) {
        self.lines.stop();
    }
}

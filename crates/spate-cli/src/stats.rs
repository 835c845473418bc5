//! `spate stats`: streaming statistics of the numeric columns of a CSV file, per batch, per
//! sliding window of batches and over the whole file, written as one CSV and optionally
//! plotted.
//!
//! Missing values are per column: an empty, `NA` or non-numeric field (or NaN, ±∞) is
//! skipped and counted in that column's `missing`, and the row's other values still count.
//! Rows that cannot be split into the header's fields are skipped whole and counted.

use crate::common::{RunEnd, errln, outln, runtime_name};
use crate::job::{Identity, JobArgs, Output, Span, csv_columns};
use crate::redis_io::LineInput;
use anyhow::{Context, bail};
use spate::io::{CsvRowParser, FileReplaySource};
use spate::plot::{Band, LineChart, Panels, Series};
use spate::prelude::*;
use spate::stats::{DStreamColumnStatsExt, DStreamMergeExt, Moments, PerColumn, QuantileSketch};
use spate::stream::{SourceBatch, SourceOffset};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  Statistics of every numeric column per batch of 250 rows, per window of 4 batches sliding
  by 1, and over the whole file, with a plot of the windows:
    spate stats -i datasets/elec2-first4032.csv -n 250 --window 4 -o out/stats.csv \\
        --plot out/stats.png

  Two columns only, quantiles within 0.1%:
    spate stats -i data.csv --columns price,demand --quantile-accuracy 0.001 -o stats.csv";

/// Quantile sketch buckets per sign: enough for values spanning a ratio of e^(2·α·65536)
/// (e^13 at α = 1e-4); memory grows only with the range the values actually span.
const QUANTILE_BINS: u32 = 65_536;
const HEADER: &str = "scope,first_batch,last_batch,column,count,missing,mean,sd,min,max,skewness,kurtosis,p05,p50,p95";

/// Count, mean, sd, min, max, skewness, kurtosis and p05/p50/p95 of CSV columns, per batch,
/// per window and in total.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub job: JobArgs,
    /// Columns to summarize, comma-separated (default: every numeric column).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Also summarize sliding windows of this length: a number of batches (4) or a duration
    /// that is a multiple of --batch (4s).
    #[arg(long, value_name = "SPAN", value_parser = Span::parse)]
    window: Option<Span>,
    /// How far the window slides (default: one batch).
    #[arg(long, value_name = "SPAN", value_parser = Span::parse, requires = "window")]
    slide: Option<Span>,
    /// Relative accuracy of p05, p50 and p95: each is within this fraction of a value of the
    /// right rank (they come from mergeable DDSketch sketches). Smaller costs memory in
    /// proportion to ln(max / min) / accuracy per column and batch.
    #[arg(long, default_value_t = 0.01)]
    quantile_accuracy: f64,
    /// Plot (PNG or SVG) of the mean with mean ± sd and p05–p95 bands per column, over the
    /// windows if --window is given, else over the batches.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// What every batch and window is summarized into: per column, moments and a quantile sketch.
type Summary = PerColumn<(Moments, QuantileSketch)>;

/// Summaries collected at the driver, by (first batch, last batch).
type Collected = Arc<Mutex<Vec<(u64, u64, Summary)>>>;

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    let job = &args.job;
    crate::common::init_logging(job, false);
    if job.checkpoint.is_some() {
        bail!(
            "spate stats keeps no checkpoint: it reads its file in one pass; run it again \
             without --checkpoint"
        );
    }
    let input = job.csv_input("stats", true)?;
    let output = job.required_output()?.to_path_buf();
    job.refuse_dead_letter("stats")?;
    if let Some(plot) = &args.plot {
        spate::plot::Format::from_path(plot)
            .map_err(|_| anyhow::anyhow!("--plot {}: give a .png or .svg file", plot.display()))?;
    }
    let window = match args.window {
        Some(length) => {
            let length = length.batches("--window", job.batch)?;
            let slide = args
                .slide
                .unwrap_or(Span::Batches(1))
                .batches("--slide", job.batch)?;
            Some((length, slide))
        }
        None => None,
    };
    let columns = csv_columns(&input, args.columns.as_deref())?;
    let mut outputs = vec![Output::File("--output", &output)];
    if let Some(plot) = &args.plot {
        outputs.push(Output::File("--plot", plot));
    }
    let _prepared = job.prepare(&Identity::of("stats", job), &outputs)?;
    let empty = QuantileSketch::params()
        .relative_accuracy(args.quantile_accuracy)
        .max_bins(QUANTILE_BINS)
        .build()
        .map_err(|e| anyhow::anyhow!("--quantile-accuracy {}: {e}", args.quantile_accuracy))?;
    let started = Instant::now();
    let source = CsvColumns::open(&input, &columns, job.records_per_batch)?;
    let sc = job.spate_context()?;
    let ssc = job.streaming_context(&sc)?;
    let progress = if job.quiet {
        None
    } else {
        let total = std::fs::metadata(&input).ok().map(|m| m.len());
        crate::common::show_progress(&ssc, crate::csv_job::progress_bar(job), total)
    };
    let rows = ssc.source_stream(source)?;
    let per_batch = rows.summarize_columns((Moments::new(), empty));
    let counter = Arc::new(AtomicU64::new(0));
    let batches = collect(&per_batch, 1, &counter, true)?;
    let windows = match window {
        Some((length, slide)) => {
            let window = Window::new(job.batch * length as u32, job.batch * slide as u32);
            Some(collect(
                &per_batch.merge_by_window_recompute(window)?,
                length,
                &counter,
                false,
            )?)
        }
        None => None,
    };
    let end = crate::common::run(&ssc, job)?;
    if !crate::common::is_leader() {
        // Every worker ran the same job; the leader reports it and writes the outputs.
        return Ok(end);
    }
    if let Some(progress) = &progress {
        progress.finish();
    }

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
    let counted: u64 = (0..columns.len())
        .map(|j| total.get(j).map_or(0, |(m, _)| m.count()))
        .sum();
    if counted == 0 {
        bail!(
            "{} has no numeric value in the columns {} ({rows_in} rows read, {skipped} \
             malformed); nothing to summarize",
            input.display(),
            columns.join(", ")
        );
    }
    write_output(
        &output,
        &columns,
        &batches,
        &windows,
        &total,
        batches.len() as u64,
    )?;
    errln!(
        "{} batches, {rows_in} rows ({skipped} malformed rows skipped) in {:.2?} on {}; wrote {}",
        batches.len(),
        started.elapsed(),
        runtime_name(&sc),
        output.display()
    );
    print_total(&columns, &total);
    if let Some(path) = &args.plot {
        let (series, what) = if window.is_some() {
            (&windows, "window")
        } else {
            (&batches, "batch")
        };
        plot(path, &input, &columns, series, what)?;
        errln!("wrote {}", path.display());
    }
    Ok(end)
}

fn lock<T>(m: &Mutex<T>) -> anyhow::Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| anyhow::anyhow!("a result lock was poisoned"))
}

/// Collects every summary of `stream`, labelled with the batches it covers (`length` batches
/// up to the current one, numbered from 1). The per-batch collector (`counts`) numbers the
/// batches; a window's collector, registered after it, reads the number of the same batch.
fn collect(
    stream: &DStream<Summary>,
    length: u64,
    batch: &Arc<AtomicU64>,
    counts: bool,
) -> anyhow::Result<Collected> {
    let out: Collected = Arc::default();
    let sink = Arc::clone(&out);
    let batch = Arc::clone(batch);
    stream.foreach_rdd(move |rdd, _| {
        let last = if counts {
            batch.fetch_add(1, Ordering::SeqCst) + 1
        } else {
            batch.load(Ordering::SeqCst)
        };
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
    spate::io::write_atomic(path, |file| file.write_all(out.as_bytes()))
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
    outln!(
        "{:<width$} {:>9} {:>7} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "column",
        "count",
        "missing",
        "mean",
        "sd",
        "min",
        "p05",
        "p50",
        "p95",
        "max"
    );
    let cell = |x: Option<f64>| match x {
        // Six decimals where they show the value, exponent form where they would not.
        Some(x) if x != 0.0 && !(1e-3..1e9).contains(&x.abs()) => format!("{x:.5e}"),
        Some(x) => format!("{x:.6}"),
        None => "-".into(),
    };
    for (j, name) in columns.iter().enumerate() {
        let s = ColumnStats::of(total.get(j));
        let (p05, p50, p95) = s.quantiles();
        outln!(
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
/// A batch holds `batch_rows` lines of the file after the header; each line is split once,
/// whatever the number of columns. Replay (offsets) comes from the line source underneath.
struct CsvColumns {
    lines: LineInput,
    parser: CsvRowParser,
    name: String,
}

impl CsvColumns {
    fn open(path: &Path, columns: &[String], batch_rows: u64) -> anyhow::Result<Self> {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        if let Some(url) = crate::redis_io::redis_url(path) {
            // A Redis stream's rows start after its header entry.
            let csv = crate::redis_io::RedisCsv::open(url)?;
            let parser = CsvRowParser::new(csv.header(), Some(&names), b',')
                .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
            return Ok(CsvColumns {
                lines: LineInput::Redis(csv.lines(batch_rows)?),
                parser,
                name: format!("csv-columns({url})"),
            });
        }
        let mut first = FileReplaySource::options(path).lines_per_batch(1).build()?;
        let header = first
            .next_batch(BatchTime(0), None)?
            .records
            .pop()
            .with_context(|| format!("{} has no header line", path.display()))?;
        let parser = CsvRowParser::new(&header, Some(&names), b',')
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(CsvColumns {
            lines: LineInput::File(
                FileReplaySource::options(path)
                    .lines_per_batch(batch_rows)
                    .build()?,
            ),
            parser,
            name: format!("csv-columns({})", path.display()),
        })
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
        // A file's first line is its header.
        if let LineInput::File(file) = &mut self.lines
            && file.position().line == 0
        {
            bytes += file.next_batch(time, Some(1))?.bytes;
        }
        let lines = self.lines.next_batch(time, max_records)?;
        let mut skipped = lines.skipped;
        let mut records = Vec::with_capacity(lines.records.len());
        for line in &lines.records {
            match self.parser.parse_or_nan(line.as_bytes()) {
                Ok(record) => records.push(record),
                Err(_) => skipped += 1,
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

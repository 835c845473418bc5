//! `spate kmeans`: streaming k-means over the numeric columns of a CSV file, with Spark's
//! forgetful update. Writes the final centers (in the input's units) to a CSV file, prints
//! the cost, and optionally plots a sample of the points with the centroids' trajectories.
//!
//! Also home of what `spate kmeans` and `spate regress` share: reading a CSV as a replayed
//! stream, the standardization prepass, and running a job with checkpoints.

use crate::common::{BatchLog, Progress, interactive, parse_duration};
use anyhow::{Context, bail};
use ndarray::Array2;
use spate::ml::{Init, KMeansReport, Standardizer, StreamingKMeans, TimeUnit, TrainOn};
use spate::plot::{Pca2, PointGroup, ScatterChart, Trajectory};
use spate::prelude::*;
use spate::stats::Moments;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Streaming k-means on the numeric columns of a CSV file with a header.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// CSV file with a header line (plain or gzip).
    #[arg(long)]
    input: PathBuf,
    /// Number of clusters.
    #[arg(long)]
    k: usize,
    /// Columns to cluster on, comma-separated (default: every numeric column).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Decay factor per time unit: 1 keeps all history, 0 only the last batch.
    #[arg(long, conflicts_with = "half_life")]
    decay: Option<f64>,
    /// Half-life of a point's weight, in --time-unit units.
    #[arg(long)]
    half_life: Option<f64>,
    /// Unit in which forgetting is counted.
    #[arg(long, value_enum, default_value_t = Unit::Batches)]
    time_unit: Unit,
    /// Initial centers: k-means++ over the first batch(es), or standard-normal random
    /// centers with weight 0 (Spark's setRandomCenters).
    #[arg(long, value_enum, default_value_t = InitArg::KmeansPlusPlus)]
    init: InitArg,
    /// With k-means++: seed the centers once this many valid points were buffered
    /// (default: k, i.e. the whole first batch).
    #[arg(long)]
    init_points: Option<usize>,
    /// Seed of the initialization.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Standardize every column to mean 0 and standard deviation 1 before clustering, with
    /// the mean and deviation of the whole file from a prepass; columns with zero spread
    /// are only centred. Centers are written back in the input's units.
    #[arg(long)]
    standardize: bool,
    /// Where to write the centers: a header of the column names, one row per center.
    #[arg(long)]
    output: PathBuf,
    /// Scatter plot (PNG or SVG) of a sample of the points, PCA-projected, coloured by
    /// cluster, with the centers' trajectories over the batches of this run.
    #[arg(long)]
    plot: Option<PathBuf>,
    #[command(flatten)]
    stream: StreamArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Unit {
    Batches,
    Points,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum InitArg {
    Random,
    #[value(name = "kmeans++")]
    KmeansPlusPlus,
}

/// What the job has seen, kept in a managed state so a restarted job reports the whole run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Summary {
    batches: u64,
    points: u64,
    skipped: u64,
    total_cost: f64,
    last_cost: f64,
    last_points: u64,
}

/// The driver-side handles the job reads after the stream stops.
#[derive(Default)]
struct Handles {
    summary: Option<ManagedState<Summary>>,
    model: Option<spate::ml::TrainedModel<StreamingKMeans>>,
}

/// Plot data of this run: a thinned sample of the points and the centers after each batch.
#[derive(Default)]
struct PlotData {
    sample: PointSample,
    trajectory: Vec<Array2<f64>>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.k == 0 {
        bail!("--k 0: k-means needs at least one cluster");
    }
    let columns = match &args.columns {
        Some(c) => c.clone(),
        None => numeric_columns(&args.input)?,
    };
    let started = Instant::now();
    crate::common::init_logging(args.stream.progress() || args.stream.quiet);
    let standardizer = if args.standardize {
        Some(prepass_standardizer(
            &args.input,
            &columns,
            args.stream.batch_rows,
        )?)
    } else {
        None
    };
    let params = params(&args, columns.len())?;
    let sc = args.stream.spate_context()?;
    let handles: Arc<Mutex<Handles>> = Arc::default();
    let plot: Arc<Mutex<PlotData>> = Arc::default();
    let build = || {
        let ssc = args.stream.context(&sc)?;
        let rows = ssc.source_stream(args.stream.csv_source(&args.input, &columns)?)?;
        let rows = match standardizer.clone() {
            Some(s) => rows.map(move |r| s.transform_row(r)),
            None => rows,
        };
        let summary = ssc.managed_state("kmeans summary", Summary::default())?;
        let model = params.clone().build()?.train_on(&rows)?;
        let plotting = args.plot.is_some();
        let (state, sink) = (summary.clone(), Arc::clone(&plot));
        model.foreach_report(move |_, report: &KMeansReport, model: &StreamingKMeans| {
            let mut s = state.lock();
            s.batches += 1;
            s.points += report.points;
            s.skipped += report.skipped;
            s.total_cost += report.cost;
            s.last_cost = report.cost;
            s.last_points = report.points;
            if plotting && model.is_initialized() {
                lock(&sink).trajectory.push(model.centers().to_owned());
            }
            Ok(())
        })?;
        if plotting {
            let sink = Arc::clone(&plot);
            rows.foreach_rdd(move |rdd, _| {
                let batch = rdd.collect()?;
                lock(&sink).sample.extend(batch);
                Ok(())
            })?;
        }
        let mut h = lock(&handles);
        h.summary = Some(summary);
        h.model = Some(model);
        Ok(ssc)
    };
    let run = args.stream.run(&args.input, build)?;

    let h = lock(&handles);
    let (Some(summary), Some(trained)) = (&h.summary, &h.model) else {
        bail!("internal error: the job was not built");
    };
    let summary = summary.get();
    let model = trained.latest_model();
    if !model.is_initialized() {
        bail!(
            "{} has too few valid rows to seed the centers: k-means++ waits for {} points",
            args.input.display(),
            args.init_points.unwrap_or(args.k)
        );
    }
    let centers = match &standardizer {
        Some(s) => s.inverse_transform(model.centers())?,
        None => model.centers().to_owned(),
    };
    let header: Vec<&str> = columns.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = centers
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&x| exact(x)).collect())
        .collect();
    spate::io::write_csv_file(&args.output, &header, &rows)
        .with_context(|| format!("writing {}", args.output.display()))?;
    run.print_input_summary();
    let space = if standardizer.is_some() {
        "standardized units"
    } else {
        "input units"
    };
    println!(
        "{} batches, {} points clustered ({} rows with NaN/inf skipped), k = {}, {} columns",
        summary.batches,
        summary.points,
        summary.skipped,
        args.k,
        columns.len()
    );
    println!(
        "final cost (last batch, {} points, before its update): {:.6e} ({space})",
        summary.last_points, summary.last_cost
    );
    println!(
        "cumulative cost over the stream: {:.6e}; mean per point {:.6e}",
        summary.total_cost,
        summary.total_cost / summary.points.max(1) as f64
    );
    eprintln!(
        "wrote {} in {:.2?} on {}",
        args.output.display(),
        started.elapsed(),
        sc.runtime_name()
    );
    if let Some(path) = &args.plot {
        let data = lock(&plot);
        plot_clusters(path, &model, &data, args.k, space)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn params(args: &Args, dim: usize) -> anyhow::Result<spate::ml::StreamingKMeansParams> {
    let unit = match args.time_unit {
        Unit::Batches => TimeUnit::Batches,
        Unit::Points => TimeUnit::Points,
    };
    let mut params = StreamingKMeans::params(args.k)
        .seed(args.seed)
        .time_unit(unit);
    params = match (args.decay, args.half_life) {
        (Some(a), _) => params.decay(a),
        (None, Some(h)) => params.half_life(h, unit),
        (None, None) => params,
    };
    params = match args.init {
        InitArg::Random => params.init(Init::Random { dim, weight: 0.0 }),
        InitArg::KmeansPlusPlus => params.init(Init::KMeansPlusPlus {
            buffer_points: args.init_points.unwrap_or(args.k),
        }),
    };
    // Validate now, before any data flows.
    params.clone().build()?;
    Ok(params)
}

fn plot_clusters(
    path: &Path,
    model: &StreamingKMeans,
    data: &PlotData,
    k: usize,
    space: &str,
) -> anyhow::Result<()> {
    let points = data.sample.to_matrix();
    if points.nrows() < 2 || points.ncols() < 2 {
        bail!("--plot needs at least 2 points with at least 2 columns");
    }
    let pca = Pca2::fit(points.view())?;
    let xy = pca.project(points.view())?;
    let labels: Vec<usize> = model
        .predict_batch(points.view())?
        .into_iter()
        .map(|p| p.unwrap_or(0))
        .collect();
    let mut chart = ScatterChart::new(format!(
        "streaming k-means, k = {k}: {} sampled points ({space}, PCA)",
        xy.len()
    ))
    .x_label("PC 1")
    .y_label("PC 2")
    .groups(PointGroup::by_label("cluster", &xy, &labels)?);
    for c in 0..k {
        let path: Vec<(f64, f64)> = data
            .trajectory
            .iter()
            .map(|centers| pca.project_point(centers.row(c)))
            .collect::<Result<_, _>>()?;
        chart = chart.trajectory(Trajectory::new(format!("center {c}"), path));
    }
    chart.save(path)?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------- shared with `spate regress`

/// How a job reads its CSV and runs: batch size, pace, checkpoints, threads.
#[derive(clap::Args, Clone, Debug)]
pub struct StreamArgs {
    /// CSV rows per batch.
    #[arg(long, default_value_t = 1000)]
    pub batch_rows: u64,
    /// Batch interval (the file is read as fast as possible unless --realtime).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub batch: Duration,
    /// Read one batch per --batch interval of wall-clock time.
    #[arg(long)]
    pub realtime: bool,
    /// Checkpoint directory: the model and the input position are saved there, and a
    /// restarted job continues exactly where the last checkpoint left off.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Write a checkpoint every this many batches.
    #[arg(long, default_value_t = 5)]
    pub checkpoint_every: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Append skipped CSV rows (missing or non-numeric values) to this file.
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
    /// Do not print a line per batch.
    #[arg(long)]
    pub quiet: bool,
}

/// Input counts of one run of a job (this process only: a restarted job counts from its
/// restart).
pub struct RunCounts {
    rows: u64,
    skipped: u64,
    batches: u64,
}

impl RunCounts {
    pub fn print_input_summary(&self) {
        println!(
            "this run: {} batches, {} CSV rows used, {} skipped by the CSV reader (a missing, NA or non-numeric value; never read as 0)",
            self.batches, self.rows, self.skipped
        );
    }
}

/// Adds up the input of every batch.
#[derive(Default)]
struct Counter {
    rows: AtomicU64,
    skipped: AtomicU64,
    batches: AtomicU64,
}

impl StreamingListener for Counter {
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.rows.fetch_add(info.records_in, Ordering::Relaxed);
        self.skipped
            .fetch_add(info.records_skipped, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
    }
}

impl StreamArgs {
    pub fn progress(&self) -> bool {
        interactive() && !self.quiet
    }

    pub fn spate_context(&self) -> anyhow::Result<SpateContext> {
        Ok(crate::common::spate_context(self.threads)?)
    }

    /// A streaming context on `sc`, replaying as fast as possible unless --realtime.
    pub fn context(&self, sc: &SpateContext) -> spate::Result<StreamingContext> {
        let builder = StreamingContext::builder(sc).batch_interval(self.batch);
        if self.realtime {
            builder.clock(SystemClock::new()).build()
        } else {
            builder.clock(FastForwardClock::new()).build()
        }
    }

    /// The CSV file as a replayable stream of the `columns`, in that order.
    pub fn csv_source(&self, path: &Path, columns: &[String]) -> spate::Result<CsvSource> {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        let mut options = CsvSource::options(path)
            .columns(&names)
            .rows_per_batch(self.batch_rows);
        if let Some(d) = &self.dead_letter {
            options = options.dead_letter(d);
        }
        Ok(options.build()?)
    }

    /// Builds the job (restoring it from --checkpoint if one is there), runs it until the
    /// file is consumed, and returns what it read.
    pub fn run(
        &self,
        input: &Path,
        build: impl FnOnce() -> spate::Result<StreamingContext>,
    ) -> anyhow::Result<RunCounts> {
        let ssc = crate::common::build_or_recover(
            self.checkpoint.as_deref(),
            self.checkpoint_every,
            build,
        )?;
        let counter = Arc::new(Counter::default());
        ssc.add_listener(Arc::clone(&counter));
        let bar = self.progress().then(|| {
            let total = std::fs::metadata(input).ok().map(|m| m.len());
            Arc::new(Progress::new(total))
        });
        match &bar {
            Some(bar) => ssc.add_listener(Arc::clone(bar)),
            None if !self.quiet => ssc.add_listener(BatchLog),
            None => {}
        }
        crate::common::run(&ssc, None)?;
        if let Some(bar) = &bar {
            bar.finish();
        }
        Ok(RunCounts {
            rows: counter.rows.load(Ordering::Relaxed),
            skipped: counter.skipped.load(Ordering::Relaxed),
            batches: counter.batches.load(Ordering::Relaxed),
        })
    }
}

/// The columns a `CsvSource` would pick by itself: every column whose values in the first
/// rows are numbers or missing.
pub fn numeric_columns(path: &Path) -> anyhow::Result<Vec<String>> {
    let source = CsvSource::options(path)
        .build()
        .with_context(|| format!("reading the header of {}", path.display()))?;
    Ok(source.column_names())
}

/// `x` as the shortest text that parses back to exactly `x` (exponent form for very large
/// or small magnitudes, unlike `Display`).
pub fn exact(x: f64) -> String {
    format!("{x:?}")
}

/// Mean and (population) standard deviation of every column over the whole file, read once
/// with the same row-skipping rules as the stream.
pub fn prepass_standardizer(
    path: &Path,
    columns: &[String],
    batch_rows: u64,
) -> anyhow::Result<Standardizer> {
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut source = CsvSource::options(path)
        .columns(&names)
        .rows_per_batch(batch_rows)
        .build()?;
    let mut moments = vec![Moments::new(); columns.len()];
    let mut column = Vec::new();
    let t = BatchTime(0);
    while !source.is_exhausted() {
        let batch = source.next_batch(t, None)?;
        for (j, m) in moments.iter_mut().enumerate() {
            column.clear();
            column.extend(batch.records.iter().map(|r| r[j]));
            m.update(&column);
        }
    }
    let means: Vec<f64> = moments.iter().map(|m| m.mean().unwrap_or(0.0)).collect();
    let sds: Vec<f64> = moments
        .iter()
        .map(|m| m.population_std_dev().unwrap_or(0.0))
        .collect();
    let standardizer = Standardizer::new(means, sds)?;
    let constant = standardizer.constant_columns();
    if !constant.is_empty() {
        let names: Vec<&str> = constant.iter().map(|&j| columns[j].as_str()).collect();
        eprintln!(
            "columns with zero spread are only centred, not scaled: {}",
            names.join(", ")
        );
    }
    Ok(standardizer)
}

/// A bounded, evenly thinned sample of a stream's rows: every row until the cap, then every
/// other kept row is dropped and the stride doubles, so the sample spans the whole stream.
#[derive(Default)]
pub struct PointSample {
    rows: Vec<Vec<f64>>,
    stride: u64,
    seen: u64,
}

const SAMPLE_CAP: usize = 4000;

impl PointSample {
    pub fn extend(&mut self, rows: Vec<Vec<f64>>) {
        self.stride = self.stride.max(1);
        for row in rows {
            if self.seen.is_multiple_of(self.stride) {
                self.rows.push(row);
                if self.rows.len() >= SAMPLE_CAP {
                    let mut i = 0;
                    self.rows.retain(|_| {
                        i += 1;
                        i % 2 == 1
                    });
                    self.stride *= 2;
                }
            }
            self.seen += 1;
        }
    }

    pub fn to_matrix(&self) -> Array2<f64> {
        let d = self.rows.first().map_or(0, Vec::len);
        Array2::from_shape_vec((self.rows.len(), d), self.rows.concat())
            .unwrap_or_else(|_| Array2::zeros((0, d)))
    }
}

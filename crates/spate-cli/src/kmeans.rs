//! `spate kmeans`: streaming k-means over the numeric columns of a CSV file, with Spark's
//! forgetful update. Writes the final centers (in the input's units) to a CSV file, prints
//! the cost, and optionally plots a sample of the points with the centroids' trajectories.

use crate::common::{RunEnd, errln, outln, runtime_name};
use crate::csv_job::{exact, prepass_standardizer};
use crate::job::{Identity, JobArgs, Output, Span, csv_columns};
use anyhow::{Context, bail};
use ndarray::Array2;
use spate::ml::{Init, KMeansReport, StreamingKMeans, TimeUnit, TrainOn};
use spate::plot::{Pca2, PointGroup, ScatterChart, Trajectory};
use spate::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The most clusters `--k` accepts: each costs a center, and every point is compared with
/// every center in every batch.
pub const MAX_K: usize = 100_000;

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  Four clusters of flights by delay, distance and air time, standardized, with a plot:
    spate kmeans -i datasets/nycflights13-flights-every100th.csv -k 4 \\
        --columns dep_delay,arr_delay,distance,air_time --standardize \\
        -o out/centers.csv --plot out/clusters.png

  Forget old batches (half-life of 5 batches), checkpointed so a rerun continues:
    spate kmeans -i points.csv -k 8 --half-life 5 --checkpoint ckpt -o centers.csv";

/// Streaming k-means on the numeric columns of a CSV file with a header.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub job: JobArgs,
    /// Number of clusters (1 to 100000).
    #[arg(short, long, value_parser = clap::value_parser!(u64).range(1..=MAX_K as u64))]
    k: u64,
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
    /// Batch-only: standardize every column to mean 0 and standard deviation 1 before
    /// clustering, with the mean and deviation of the whole file from a prepass, so every
    /// batch is scaled with statistics of rows not yet streamed (the file must be complete
    /// before the job starts). Columns with zero spread are only centred. Centers are
    /// written back in the input's units. For a live stream, scale with a running scaler
    /// instead (`spate classify --scale`, spate-learn's `StandardScaler`).
    #[arg(long)]
    standardize: bool,
    /// Scatter plot (PNG or SVG) of a sample of the points, PCA-projected, coloured by
    /// cluster, with the centers' trajectories over the batches of this run.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// `streaming`: Spark's update, centers move with every batch. `coreset`: one pass into
    /// a bounded summary (StreamKM++), centers extracted at the end, close to batch k-means.
    #[arg(long, value_enum, default_value_t = Method::Streaming)]
    method: Method,
    /// With --method coreset: weighted points per summary bucket (default 200·k).
    #[arg(long, value_name = "M")]
    coreset_size: Option<usize>,
    /// With --method coreset: cluster only the last N batches (a number of batches, or a
    /// multiple of --batch such as 30s).
    #[arg(long, value_name = "N", alias = "window-batches", value_parser = Span::parse)]
    window: Option<Span>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Streaming,
    Coreset,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Unit {
    Batches,
    Points,
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unit::Batches => "batches",
            Unit::Points => "points",
        })
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum InitArg {
    Random,
    #[value(name = "kmeans++")]
    KmeansPlusPlus,
}

impl std::fmt::Display for InitArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InitArg::Random => "random",
            InitArg::KmeansPlusPlus => "kmeans++",
        })
    }
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

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    let job = &args.job;
    crate::common::init_logging(job, crate::csv_job::progress_bar(job));
    let input = job.csv_input("kmeans", true)?;
    let output = job.required_output()?.to_path_buf();
    if let Some(plot) = &args.plot {
        spate::plot::Format::from_path(plot)
            .map_err(|_| anyhow::anyhow!("--plot {}: give a .png or .svg file", plot.display()))?;
    }
    let mut outputs = vec![Output::File("--output", &output)];
    if let Some(plot) = &args.plot {
        outputs.push(Output::File("--plot", plot));
    }
    let columns = csv_columns(&input, args.columns.as_deref())?;
    let window = match args.window {
        Some(w) if args.method == Method::Coreset => Some(w.batches("--window", job.batch)?),
        Some(_) => bail!("--window applies to --method coreset"),
        None => None,
    };
    if args.method == Method::Streaming && args.coreset_size.is_some() {
        bail!("--coreset-size applies to --method coreset");
    }
    let identity = Identity::of("kmeans", job)
        .with("-k", args.k)
        .with("--columns", columns.join(","))
        .with_option("--decay", args.decay)
        .with_option("--half-life", args.half_life)
        .with("--time-unit", args.time_unit)
        .with("--init", args.init)
        .with_option("--init-points", args.init_points)
        .with("--seed", args.seed)
        .with("--standardize", args.standardize)
        .with("--method", format!("{:?}", args.method).to_lowercase())
        .with_option("--coreset-size", args.coreset_size)
        .with_option("--window", window);
    let _prepared = job.prepare(&identity, &outputs)?;
    if args.method == Method::Coreset {
        let given = [
            (args.decay.is_some(), "--decay"),
            (args.half_life.is_some(), "--half-life"),
            (args.init_points.is_some(), "--init-points"),
        ];
        return crate::kmeans_coreset::run(crate::kmeans_coreset::Job {
            job,
            input: &input,
            k: args.k as usize,
            columns: &columns,
            seed: args.seed,
            standardize: args.standardize,
            output: &output,
            plot: args.plot.as_deref(),
            coreset_size: args.coreset_size,
            window_batches: window.map(|w| w as usize),
            streaming_only: given.iter().filter(|g| g.0).map(|g| g.1).collect(),
        });
    }
    let started = Instant::now();
    let params = params(&args, columns.len())?;
    let standardizer = if args.standardize {
        Some(prepass_standardizer(
            &input,
            &columns,
            job.records_per_batch,
        )?)
    } else {
        None
    };
    let sc = job.spate_context()?;
    let handles: Arc<Mutex<Handles>> = Arc::default();
    let plot: Arc<Mutex<PlotData>> = Arc::default();
    let build = || {
        let ssc = job.streaming_context(&sc)?;
        let rows = ssc.source_stream(crate::csv_job::csv_source(job, &input, &columns)?)?;
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
        // Registered with or without --plot, so that the stream graph (which a checkpoint
        // must match) does not depend on it: --plot may be added when a job is restarted.
        let sink = Arc::clone(&plot);
        rows.foreach_rdd(move |rdd, _| {
            if plotting {
                let batch = rdd.collect()?;
                lock(&sink).sample.extend(batch);
            }
            Ok(())
        })?;
        let mut h = lock(&handles);
        h.summary = Some(summary);
        h.model = Some(model);
        Ok(ssc)
    };
    let run = crate::csv_job::run(job, &input, build)?;
    if !crate::common::is_leader() {
        // Every worker ran the same job; the leader reports it and writes the outputs.
        return Ok(run.end);
    }

    let h = lock(&handles);
    let (Some(summary), Some(trained)) = (&h.summary, &h.model) else {
        bail!("internal error: the job was not built");
    };
    let summary = summary.get();
    let model = trained.latest_model();
    if summary.points == 0 && run.rows == 0 {
        bail!(
            "{} has no valid row in the columns {} ({} skipped: a missing, NA or \
             non-numeric value); nothing to cluster",
            input.display(),
            columns.join(", "),
            run.skipped
        );
    }
    if !model.is_initialized() {
        bail!(
            "{} has too few valid rows to seed the centers: k-means++ waits for {} points \
             and this run read {} valid rows ({} skipped); lower -k or --init-points",
            input.display(),
            args.init_points.unwrap_or(args.k as usize),
            run.rows,
            run.skipped
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
    spate::io::write_csv_file(&output, &header, &rows)
        .with_context(|| format!("writing {}", output.display()))?;
    outln!("{}", run.input_summary());
    let space = if standardizer.is_some() {
        "standardized units"
    } else {
        "input units"
    };
    outln!(
        "{} batches, {} points clustered ({} rows with NaN/inf skipped), k = {}, {} columns",
        summary.batches,
        summary.points,
        summary.skipped,
        args.k,
        columns.len()
    );
    outln!(
        "final cost (last batch, {} points, before its update): {:.6e} ({space})",
        summary.last_points,
        summary.last_cost
    );
    outln!(
        "cumulative cost over the stream: {:.6e}; mean per point {:.6e}",
        summary.total_cost,
        summary.total_cost / summary.points.max(1) as f64
    );
    errln!(
        "wrote {} in {:.2?} on {}",
        output.display(),
        started.elapsed(),
        runtime_name(&sc)
    );
    if let Some(path) = &args.plot {
        let data = lock(&plot);
        plot_clusters(path, &model, &data, args.k as usize, space)?;
        errln!("wrote {}", path.display());
    }
    Ok(run.end)
}

fn params(args: &Args, dim: usize) -> anyhow::Result<spate::ml::StreamingKMeansParams> {
    let unit = match args.time_unit {
        Unit::Batches => TimeUnit::Batches,
        Unit::Points => TimeUnit::Points,
    };
    let mut params = StreamingKMeans::params(args.k as usize)
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
            buffer_points: args.init_points.unwrap_or(args.k as usize),
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

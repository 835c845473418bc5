//! `spate kmeans --method coreset`: one pass over the CSV file into a bounded StreamKM++
//! summary (of the whole stream, or of its last `--window-batches` batches), from which the
//! centers are extracted at the end — close to batch k-means on a stream in any order, where
//! the Spark-rule update of `--method streaming` decides early.

use crate::common::{RunEnd, errln, outln, runtime_name};
use crate::csv_job::{exact, prepass_standardizer};
use crate::job::JobArgs;
use crate::kmeans::PointSample;
use anyhow::{Context, bail};
use ndarray::{Array2, ArrayView2};
use spate::ml::{
    CoresetKMeans, CoresetReport, KMeansCenters, MlError, PredictOn, TrainOn, TrainedModel,
    WindowedCoresetKMeans,
};
use spate::plot::{Pca2, PointGroup, ScatterChart, Trajectory};
use spate::prelude::*;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// What `spate kmeans` hands over for `--method coreset`.
pub struct Job<'a> {
    pub job: &'a JobArgs,
    pub input: &'a Path,
    pub k: usize,
    pub columns: &'a [String],
    pub seed: u64,
    pub standardize: bool,
    pub output: &'a Path,
    pub plot: Option<&'a Path>,
    pub coreset_size: Option<usize>,
    pub window_batches: Option<usize>,
    /// Options of `--method streaming` the user gave, which this method refuses.
    pub streaming_only: Vec<&'static str>,
}

/// What the job has seen, kept in a managed state so a restarted job reports the whole run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Summary {
    batches: u64,
    points: u64,
    skipped: u64,
}

/// The two one-pass models, as the job drives them.
trait OnePass:
    TrainOn<Record = Vec<f64>, Report = CoresetReport> + PredictOn<Prediction = usize>
{
    fn fitted(&self) -> Result<&KMeansCenters, MlError>;
    /// Weighted points held, and the most it can hold.
    fn summary_size(&self) -> (usize, usize);
    /// The points of the batches in the window (`None`: the whole stream counts).
    fn window_points(&self) -> Option<u64>;
}

impl OnePass for CoresetKMeans {
    fn fitted(&self) -> Result<&KMeansCenters, MlError> {
        CoresetKMeans::fitted(self)
    }

    fn summary_size(&self) -> (usize, usize) {
        (self.coreset().len(), self.coreset().capacity())
    }

    fn window_points(&self) -> Option<u64> {
        None
    }
}

impl OnePass for WindowedCoresetKMeans {
    fn fitted(&self) -> Result<&KMeansCenters, MlError> {
        WindowedCoresetKMeans::fitted(self)
    }

    fn summary_size(&self) -> (usize, usize) {
        (self.summary_points(), self.window() * self.coreset_size())
    }

    fn window_points(&self) -> Option<u64> {
        Some(WindowedCoresetKMeans::window_points(self))
    }
}

/// The driver-side handles the job reads after the stream stops.
type Handles<M> = (ManagedState<Summary>, TrainedModel<M>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn run(job: Job<'_>) -> anyhow::Result<RunEnd> {
    if let Some(option) = job.streaming_only.first() {
        bail!(
            "{option} applies to --method streaming; --method coreset keeps the whole stream \
             (give --window N to cluster only the last N batches)"
        );
    }
    let mut params = CoresetKMeans::params(job.k).seed(job.seed);
    if let Some(m) = job.coreset_size {
        params = params.coreset_size(m);
    }
    // Validate now, before any data flows.
    params.clone().build()?;
    match job.window_batches {
        None => run_with(&job, params.build()?),
        Some(window) => run_with(&job, WindowedCoresetKMeans::new(params, window)?),
    }
}

fn run_with<M: OnePass>(job: &Job<'_>, model: M) -> anyhow::Result<RunEnd> {
    let columns = job.columns;
    let started = Instant::now();
    let standardizer = if job.standardize {
        Some(prepass_standardizer(
            job.input,
            columns,
            job.job.records_per_batch,
        )?)
    } else {
        None
    };
    let sc = job.job.spate_context()?;
    let handles: Arc<Mutex<Option<Handles<M>>>> = Arc::default();
    let sample: Arc<Mutex<PointSample>> = Arc::default();
    let build = || {
        let ssc = job.job.streaming_context(&sc)?;
        let rows = ssc.source_stream(crate::csv_job::csv_source(job.job, job.input, columns)?)?;
        let rows = match standardizer.clone() {
            Some(s) => rows.map(move |r| s.transform_row(r)),
            None => rows,
        };
        let summary = ssc.managed_state("kmeans coreset summary", Summary::default())?;
        let trained = model.clone().train_on(&rows)?;
        let state = summary.clone();
        trained.foreach_report(move |_, report: &CoresetReport, _: &M| {
            let mut s = state.lock();
            s.batches += 1;
            s.points += report.points;
            s.skipped += report.skipped;
            Ok(())
        })?;
        // Registered with or without --plot, so that the stream graph (which a checkpoint
        // must match) does not depend on it.
        let (sink, plotting) = (Arc::clone(&sample), job.plot.is_some());
        rows.foreach_rdd(move |rdd, _| {
            if plotting {
                let batch = rdd.collect()?;
                lock(&sink).extend(batch);
            }
            Ok(())
        })?;
        *lock(&handles) = Some((summary, trained));
        Ok(ssc)
    };
    let run = crate::csv_job::run(job.job, job.input, build)?;
    if !crate::common::is_leader() {
        // Every worker ran the same job; the leader reports it and writes the outputs.
        return Ok(run.end);
    }

    let Some((summary, trained)) = lock(&handles).take() else {
        bail!("internal error: the job was not built");
    };
    let summary = summary.get();
    let model = trained.latest_model();
    let fitted = match model.fitted() {
        Ok(fitted) => fitted,
        Err(MlError::EmptySummary) => bail!(
            "{} has no valid rows{}: nothing to cluster",
            job.input.display(),
            if job.window_batches.is_some() {
                " in the last --window batches"
            } else {
                ""
            }
        ),
        Err(e) => return Err(e.into()),
    };
    let centers = match &standardizer {
        Some(s) => s.inverse_transform(fitted.centers())?,
        None => fitted.centers().to_owned(),
    };
    let header: Vec<&str> = columns.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = centers
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&x| exact(x)).collect())
        .collect();
    spate::io::write_csv_file(job.output, &header, &rows)
        .with_context(|| format!("writing {}", job.output.display()))?;
    outln!("{}", run.input_summary());
    let space = if standardizer.is_some() {
        "standardized units"
    } else {
        "input units"
    };
    let (held, capacity) = model.summary_size();
    outln!(
        "{} batches, {} points summarized ({} rows with NaN/inf skipped), k = {}, {} columns",
        summary.batches,
        summary.points,
        summary.skipped,
        job.k,
        columns.len()
    );
    outln!("summary: {held} weighted points (at most {capacity})");
    let of = match (job.window_batches, model.window_points()) {
        (Some(n), Some(points)) => format!("the {points} points of the last {n} batches"),
        _ => "all the points".to_string(),
    };
    outln!(
        "cost of the centers on the summary: {:.6e} ({space}; estimates their cost on {of})",
        fitted.summary_cost()
    );
    errln!(
        "wrote {} in {:.2?} on {}",
        job.output.display(),
        started.elapsed(),
        runtime_name(&sc)
    );
    if let Some(path) = job.plot {
        plot(path, fitted, &lock(&sample).to_matrix(), job.k, space)?;
        errln!("wrote {}", path.display());
    }
    Ok(run.end)
}

/// A sample of the points, PCA-projected and coloured by cluster, with the centers.
fn plot(
    path: &Path,
    fitted: &KMeansCenters,
    points: &Array2<f64>,
    k: usize,
    space: &str,
) -> anyhow::Result<()> {
    if points.nrows() < 2 || points.ncols() < 2 {
        bail!("--plot needs at least 2 points with at least 2 columns");
    }
    let pca = Pca2::fit(points.view())?;
    let xy = pca.project(points.view())?;
    let labels: Vec<usize> = fitted
        .predict_batch(points.view())?
        .into_iter()
        .map(|p| p.unwrap_or(0))
        .collect();
    let mut chart = ScatterChart::new(format!(
        "one-pass coreset k-means, k = {k}: {} sampled points ({space}, PCA)",
        xy.len()
    ))
    .x_label("PC 1")
    .y_label("PC 2")
    .groups(PointGroup::by_label("cluster", &xy, &labels)?);
    let centers: ArrayView2<'_, f64> = fitted.centers();
    for (c, center) in centers.rows().into_iter().enumerate() {
        let at = pca.project_point(center)?;
        chart = chart.trajectory(Trajectory::new(format!("center {c}"), [at]));
    }
    chart.save(path)?;
    Ok(())
}

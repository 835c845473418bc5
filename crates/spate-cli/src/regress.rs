//! `spate regress`: streaming linear regression of one CSV column on others, by exact
//! streaming least squares or by Spark's mini-batch SGD. Each batch is first predicted by the
//! model as it was (test-then-train), so the reported errors are out-of-sample; writes the
//! final weights, and optionally plots the error over time.

use crate::common::{RunEnd, errln, outln, runtime_name};
use crate::csv_job::{exact, prepass_standardizer};
use crate::job::{Identity, JobArgs, Output, Span, csv_columns};
use anyhow::{Context, bail};
use spate::ml::{
    EvaluateOn, RegressionMetrics, Regularizer, StreamingLeastSquares,
    StreamingLinearRegressionWithSgd, TrainOn,
};
use spate::plot::{LineChart, Series};
use spate::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  Arrival delay from departure delay, distance and air time, exact least squares, with the
  test-then-train error per batch plotted:
    spate regress -i datasets/nycflights13-flights-every100th.csv --target arr_delay \\
        --columns dep_delay,distance,air_time -o out/weights.csv --plot out/error.png

  Spark's streaming SGD, 20 steps per batch, checkpointed so a rerun continues:
    spate regress -i data.csv --target y --method sgd --iterations 20 --checkpoint ckpt \\
        -o weights.csv";

/// Streaming linear regression of a CSV column on other numeric columns.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub job: JobArgs,
    /// The column to predict.
    #[arg(long)]
    target: String,
    /// Feature columns, comma-separated (default: every other numeric column).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// `ols`: exact least squares over everything seen (or recursive least squares with
    /// --forgetting); `sgd`: Spark's StreamingLinearRegressionWithSGD.
    #[arg(long, value_enum, default_value_t = Method::Ols)]
    method: Method,
    /// OLS: forgetting factor per row in (0, 1]; 1 keeps all rows.
    #[arg(long, default_value_t = 1.0)]
    forgetting: f64,
    /// SGD: initial step size (iteration i of a batch steps by step/√i).
    #[arg(long, default_value_t = 0.1)]
    step_size: f64,
    /// SGD: gradient steps per batch.
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// SGD: fraction of each batch sampled per step.
    #[arg(long, default_value_t = 1.0)]
    mini_batch_fraction: f64,
    /// SGD: regularization.
    #[arg(long, value_enum, default_value_t = Penalty::None)]
    regularization: Penalty,
    /// SGD: regularization parameter.
    #[arg(long, default_value_t = 0.0)]
    reg_param: f64,
    /// Batch-only: standardize the features with the mean and deviation of the whole file,
    /// from a prepass, so every batch is scaled with statistics of rows not yet streamed
    /// (the file must be complete before the job starts); weights are still written in the
    /// input's units. Always on for sgd, whose steps need features of comparable scale.
    /// For a live stream use a running scaler (spate-learn's `StandardScaler`).
    #[arg(long)]
    standardize: bool,
    /// Plot (PNG or SVG) of the per-batch and rolling RMSE over the batches of this run.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// The rolling RMSE's window: a number of batches (10) or a duration that is a multiple
    /// of --batch (10s).
    #[arg(long, value_name = "SPAN", default_value = "10", value_parser = Span::parse)]
    window: Span,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Ols,
    Sgd,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Ols => "ols",
            Method::Sgd => "sgd",
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Penalty {
    None,
    L1,
    L2,
}

impl std::fmt::Display for Penalty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Penalty::None => "none",
            Penalty::L1 => "l1",
            Penalty::L2 => "l2",
        })
    }
}

/// Test-then-train metrics over the whole run, kept in a managed state so a restarted job
/// reports the whole stream.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Summary {
    batches: u64,
    metrics: RegressionMetrics,
}

/// Per-batch and rolling RMSE of this run by batch number (counted from the start of the
/// stream, also across restarts), for the plot.
#[derive(Default)]
struct Errors {
    batch: Vec<(u64, f64)>,
    rolling: Vec<(u64, f64)>,
}

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    let job = &args.job;
    crate::common::init_logging(job, crate::csv_job::progress_bar(job));
    let input = job.csv_input("regress", true)?;
    let output = job.required_output()?.to_path_buf();
    if let Some(plot) = &args.plot {
        spate::plot::Format::from_path(plot)
            .map_err(|_| anyhow::anyhow!("--plot {}: give a .png or .svg file", plot.display()))?;
    }
    let target = csv_columns(&input, Some(std::slice::from_ref(&args.target)))
        .map_err(|e| anyhow::anyhow!("--target: {e}"))?
        .remove(0);
    let features = match &args.columns {
        Some(c) => csv_columns(&input, Some(c))?,
        None => csv_columns(&input, None)?
            .into_iter()
            .filter(|c| *c != target)
            .collect(),
    };
    if features.is_empty() {
        bail!(
            "no feature columns: {} has no other numeric column; name them with --columns",
            input.display()
        );
    }
    if features.contains(&target) {
        bail!("--target {target} is also a feature column");
    }
    let window = args.window.batches("--window", job.batch)?;
    let window = u32::try_from(window).map_err(|_| {
        anyhow::anyhow!(
            "--window: {window} batches is too long a window (at most {})",
            u32::MAX
        )
    })?;
    let mut outputs = vec![Output::File("--output", &output)];
    if let Some(plot) = &args.plot {
        outputs.push(Output::File("--plot", plot));
    }
    let identity = Identity::of("regress", job)
        .with("--target", &target)
        .with("--columns", features.join(","))
        .with("--method", args.method.name())
        .with("--forgetting", args.forgetting)
        .with("--step-size", args.step_size)
        .with("--iterations", args.iterations)
        .with("--mini-batch-fraction", args.mini_batch_fraction)
        .with("--regularization", args.regularization)
        .with("--reg-param", args.reg_param)
        .with(
            "--standardize",
            args.standardize || args.method == Method::Sgd,
        )
        .with("--window", format!("{window} batches"));
    let _prepared = job.prepare(&identity, &outputs)?;
    let d = features.len();
    let context = Fit {
        args: &args,
        input: &input,
        output: &output,
        target: &target,
        features: &features,
        window,
    };
    match args.method {
        Method::Ols => {
            let model = StreamingLeastSquares::params(d)
                .forgetting_factor(args.forgetting)
                .build()?;
            fit(
                &context,
                model,
                |m| (m.weights().to_vec(), m.intercept()),
                |_| None,
                move |m: &StreamingLeastSquares| {
                    (m.rank() < d).then(|| {
                        format!(
                            "the least-squares solution is not unique: the features have rank \
                             {} of {d} (some are collinear, or there are fewer distinct rows \
                             than features); the weights written give the dependent features \
                             weight 0. Drop a feature, or add rows",
                            m.rank()
                        )
                    })
                },
            )
        }
        Method::Sgd => {
            let regularizer = match args.regularization {
                Penalty::None => Regularizer::None,
                Penalty::L1 => Regularizer::L1(args.reg_param),
                Penalty::L2 => Regularizer::L2(args.reg_param),
            };
            let model = StreamingLinearRegressionWithSgd::params(d)
                .step_size(args.step_size)
                .iterations(args.iterations)
                .mini_batch_fraction(args.mini_batch_fraction)
                .regularization(regularizer)
                .intercept(true)
                .build()?;
            let step = args.step_size;
            fit(
                &context,
                model,
                |m| (m.weights().to_vec(), m.intercept()),
                move |report: &spate::ml::SgdReport| {
                    report.diverged.then(|| {
                        format!(
                            "SGD diverged: the loss reached {:e}, over {:e} times the loss it \
                             started from (or a predictor of 0's); the weights before that \
                             batch are kept. Use a smaller --step-size (now {step})",
                            report.loss,
                            spate::ml::DIVERGENCE_FACTOR
                        )
                    })
                },
                |_| None,
            )
        }
    }
}

/// What a fit needs besides the model.
struct Fit<'a> {
    args: &'a Args,
    input: &'a Path,
    output: &'a Path,
    target: &'a str,
    features: &'a [String],
    window: u32,
}

type Handles<M> = Arc<Mutex<Option<(ManagedState<Summary>, spate::ml::TrainedModel<M>)>>>;

/// Trains `model` on the stream, writes its weights and prints the summary; `diverged` says
/// whether a batch's report shows a model that cannot go on (the job then fails with that
/// message), `caveat` what to warn of about the final model.
fn fit<M>(
    fit: &Fit<'_>,
    model: M,
    weights: impl Fn(&M) -> (Vec<f64>, f64),
    diverged: impl Fn(&M::Report) -> Option<String> + Send + 'static,
    caveat: impl Fn(&M) -> Option<String>,
) -> anyhow::Result<RunEnd>
where
    M: TrainOn<Record = (Vec<f64>, f64)> + EvaluateOn<Metrics = RegressionMetrics>,
{
    let Fit {
        args,
        input,
        output,
        target,
        features,
        window,
    } = *fit;
    let job = &args.job;
    let started = Instant::now();
    let standardizer = if args.standardize || args.method == Method::Sgd {
        Some(prepass_standardizer(
            input,
            features,
            job.records_per_batch,
        )?)
    } else {
        None
    };
    let mut columns = features.to_vec();
    columns.push(target.to_string());
    let sc = job.spate_context()?;
    let handles: Handles<M> = Arc::default();
    let errors: Arc<Mutex<Errors>> = Arc::default();
    let window = Window::new(job.batch * window, job.batch);
    let build = || {
        let ssc = job.streaming_context(&sc)?;
        let rows = ssc.source_stream(crate::csv_job::csv_source(job, input, &columns)?)?;
        let scale = standardizer.clone();
        let records = rows.map(move |mut row: Vec<f64>| {
            let y = row.pop().unwrap_or(f64::NAN);
            match &scale {
                Some(s) => (s.transform_row(row), y),
                None => (row, y),
            }
        });
        let summary = ssc.managed_state("regress summary", Summary::default())?;
        let trained = model.clone().train_on(&records)?;
        trained.foreach_report(move |_, report, _| match diverged(report) {
            Some(message) => Err(spate::Error::Operator {
                operator: "regression".into(),
                message,
            }),
            None => Ok(()),
        })?;
        let state = summary.clone();
        let sink = Arc::clone(&errors);
        let plotting = args.plot.is_some();
        trained.evaluate_on(&records).foreach_rdd(move |rdd, _| {
            for m in rdd.collect()? {
                let mut s = state.lock();
                s.batches += 1;
                s.metrics.merge(&m);
                if plotting {
                    lock(&sink).batch.push((s.batches, m.rmse()));
                }
            }
            Ok(())
        })?;
        // Registered with or without --plot, so that the stream graph (which a checkpoint
        // must match) does not depend on it: --plot may be added when a job is restarted.
        let (state, sink) = (summary.clone(), Arc::clone(&errors));
        trained
            .evaluate_on_window(&records, window)?
            .foreach_rdd(move |rdd, _| {
                // Runs after the per-batch output of the same batch: its number is set.
                let batch = state.lock().batches;
                for m in rdd.collect()? {
                    if plotting {
                        lock(&sink).rolling.push((batch, m.rmse()));
                    }
                }
                Ok(())
            })?;
        *lock(&handles) = Some((summary, trained));
        Ok(ssc)
    };
    let run = crate::csv_job::run(job, input, build)?;
    if !crate::common::is_leader() {
        // Every worker ran the same job; the leader reports it and writes the outputs.
        return Ok(run.end);
    }

    let guard = lock(&handles);
    let Some((summary, trained)) = guard.as_ref() else {
        bail!("internal error: the job was not built");
    };
    let summary = summary.get();
    let m = &summary.metrics;
    if m.count() == 0 {
        bail!(
            "{} has no valid row in {target} and {} ({} rows skipped: a missing, NA or \
             non-numeric value); nothing to fit",
            input.display(),
            features.join(", "),
            run.skipped
        );
    }
    let fitted = trained.latest_model();
    if let Some(caveat) = caveat(&fitted) {
        tracing::warn!("{caveat}");
    }
    let (w, b) = weights(&fitted);
    let (w, b) = match &standardizer {
        Some(s) => {
            let (w, b) = s.linear_to_original(ndarray::ArrayView1::from(&w[..]), b)?;
            (w.to_vec(), b)
        }
        None => (w, b),
    };
    let mut rows: Vec<(String, f64)> = features.iter().cloned().zip(w).collect();
    rows.push(("intercept".to_string(), b));
    let csv: Vec<(&str, String)> = rows.iter().map(|(f, w)| (f.as_str(), exact(*w))).collect();
    spate::io::write_csv_file(output, &["feature", "weight"], &csv)
        .with_context(|| format!("writing {}", output.display()))?;
    outln!("{}", run.input_summary());
    outln!(
        "{} batches, {} rows fitted ({} rows with NaN/inf skipped), {} features, method {}",
        summary.batches,
        m.count(),
        m.skipped(),
        features.len(),
        args.method.name()
    );
    outln!(
        "test-then-train error over the stream: RMSE {} MAE {} R² {:.6}",
        readable(m.rmse()),
        readable(m.mae()),
        m.r2()
    );
    if m.r2() < -1.0 {
        // Worse than predicting the mean by far, yet short of the divergence check's 1e6
        // factor: most likely steps too large for the data's scale.
        tracing::warn!(
            "the model predicts far worse than the mean of the target (R² {:.3e}); with \
             --method sgd this usually means a --step-size too large or features to \
             standardize (--standardize)",
            m.r2()
        );
    }
    let width = rows.iter().map(|(f, _)| f.len()).max().unwrap_or(7);
    for (f, w) in &rows {
        outln!("  {f:<width$}  {w:>14.6e}");
    }
    errln!(
        "wrote {} in {:.2?} on {}",
        output.display(),
        started.elapsed(),
        runtime_name(&sc)
    );
    if let Some(path) = &args.plot {
        let e = lock(&errors);
        plot_errors(path, &e, fit)?;
        errln!("wrote {}", path.display());
    }
    Ok(run.end)
}

/// `x` with 6 decimals, or in exponent form when that would hide it (very large or small).
fn readable(x: f64) -> String {
    if x != 0.0 && !(1e-3..1e9).contains(&x.abs()) {
        format!("{x:.6e}")
    } else {
        format!("{x:.6}")
    }
}

/// The per-batch and rolling RMSE over the batches of this run.
fn plot_errors(path: &Path, errors: &Errors, fit: &Fit<'_>) -> anyhow::Result<()> {
    let series = |name: &str, values: &[(u64, f64)]| {
        Series::new(name, values.iter().map(|&(b, v)| (b as f64, v)))
    };
    LineChart::new(format!(
        "{} ~ {} features ({}): error before each batch's update",
        fit.target,
        fit.features.len(),
        fit.args.method.name()
    ))
    .x_label("batch")
    .y_label(format!("RMSE of {}", fit.target))
    .series(series("per batch", &errors.batch))
    .series(series(
        &format!("last {} batches", fit.window),
        &errors.rolling,
    ))
    .save(path)
    .with_context(|| format!("plotting to {}", path.display()))?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

//! `spate regress`: streaming linear regression of one CSV column on others, by exact
//! streaming least squares or by Spark's mini-batch SGD. Each batch is first predicted by the
//! model as it was (test-then-train), so the reported errors are out-of-sample; writes the
//! final weights, and optionally plots the error over time.

use crate::kmeans::{StreamArgs, exact, numeric_columns, prepass_standardizer};
use anyhow::{Context, bail};
use spate::ml::{
    EvaluateOn, RegressionMetrics, Regularizer, StreamingLeastSquares,
    StreamingLinearRegressionWithSgd, TrainOn,
};
use spate::plot::{LineChart, Series};
use spate::prelude::*;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Streaming linear regression of a CSV column on other numeric columns.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// CSV file with a header line (plain or gzip).
    #[arg(long)]
    input: PathBuf,
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
    /// Standardize the features (mean and deviation of the whole file, from a prepass)
    /// before fitting; weights are still written in the input's units. Always on for sgd,
    /// whose steps need features of comparable scale.
    #[arg(long)]
    standardize: bool,
    /// Where to write the weights: `feature,weight` rows, then `intercept`.
    #[arg(long)]
    output: PathBuf,
    /// Plot (PNG or SVG) of the per-batch and rolling RMSE over the batches of this run.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Batches in the rolling RMSE window.
    #[arg(long, default_value_t = 10)]
    window: u32,
    #[command(flatten)]
    stream: StreamArgs,
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

/// Test-then-train metrics over the whole run, kept in a managed state so a restarted job
/// reports the whole stream.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Summary {
    batches: u64,
    metrics: RegressionMetrics,
}

/// Per-batch and rolling RMSE of this run, for the plot.
#[derive(Default)]
struct Errors {
    batch: Vec<f64>,
    rolling: Vec<f64>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let features = match &args.columns {
        Some(c) => c.clone(),
        None => numeric_columns(&args.input)?
            .into_iter()
            .filter(|c| *c != args.target)
            .collect(),
    };
    if features.is_empty() {
        bail!("no feature columns: name them with --columns");
    }
    if features.contains(&args.target) {
        bail!("--target {} is also a feature column", args.target);
    }
    if args.window == 0 {
        bail!("--window 0: the rolling window needs at least one batch");
    }
    crate::common::init_logging(args.stream.progress() || args.stream.quiet);
    let d = features.len();
    match args.method {
        Method::Ols => {
            let model = StreamingLeastSquares::params(d)
                .forgetting_factor(args.forgetting)
                .build()?;
            fit(&args, &features, model, |m| {
                (m.weights().to_vec(), m.intercept())
            })
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
            fit(&args, &features, model, |m| {
                (m.weights().to_vec(), m.intercept())
            })
        }
    }
}

type Handles<M> = Arc<Mutex<Option<(ManagedState<Summary>, spate::ml::TrainedModel<M>)>>>;

fn fit<M>(
    args: &Args,
    features: &[String],
    model: M,
    weights: impl Fn(&M) -> (Vec<f64>, f64),
) -> anyhow::Result<()>
where
    M: TrainOn<Record = (Vec<f64>, f64)> + EvaluateOn<Metrics = RegressionMetrics>,
{
    let started = Instant::now();
    let standardizer = if args.standardize || args.method == Method::Sgd {
        Some(prepass_standardizer(
            &args.input,
            features,
            args.stream.batch_rows,
        )?)
    } else {
        None
    };
    let mut columns = features.to_vec();
    columns.push(args.target.clone());
    let sc = args.stream.spate_context()?;
    let handles: Handles<M> = Arc::default();
    let errors: Arc<Mutex<Errors>> = Arc::default();
    let window = Window::new(args.stream.batch * args.window, args.stream.batch);
    let build = || {
        let ssc = args.stream.context(&sc)?;
        let rows = ssc.source_stream(args.stream.csv_source(&args.input, &columns)?)?;
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
        let state = summary.clone();
        let sink = Arc::clone(&errors);
        let plotting = args.plot.is_some();
        trained.evaluate_on(&records).foreach_rdd(move |rdd, _| {
            for m in rdd.collect()? {
                let mut s = state.lock();
                s.batches += 1;
                s.metrics.merge(&m);
                if plotting {
                    lock(&sink).batch.push(m.rmse());
                }
            }
            Ok(())
        })?;
        if plotting {
            let sink = Arc::clone(&errors);
            trained
                .evaluate_on_window(&records, window)?
                .foreach_rdd(move |rdd, _| {
                    for m in rdd.collect()? {
                        lock(&sink).rolling.push(m.rmse());
                    }
                    Ok(())
                })?;
        }
        *lock(&handles) = Some((summary, trained));
        Ok(ssc)
    };
    let run = args.stream.run(&args.input, build)?;

    let guard = lock(&handles);
    let Some((summary, trained)) = guard.as_ref() else {
        bail!("internal error: the job was not built");
    };
    let summary = summary.get();
    let fitted = trained.latest_model();
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
    spate::io::write_csv_file(&args.output, &["feature", "weight"], &csv)
        .with_context(|| format!("writing {}", args.output.display()))?;
    run.print_input_summary();
    let m = &summary.metrics;
    println!(
        "{} batches, {} rows fitted ({} rows with NaN/inf skipped), {} features, method {}",
        summary.batches,
        m.count(),
        m.skipped(),
        features.len(),
        args.method.name()
    );
    println!(
        "test-then-train error over the stream: RMSE {:.6} MAE {:.6} R² {:.6}",
        m.rmse(),
        m.mae(),
        m.r2()
    );
    let width = rows.iter().map(|(f, _)| f.len()).max().unwrap_or(7);
    for (f, w) in &rows {
        println!("  {f:<width$}  {w:>14.6e}");
    }
    eprintln!(
        "wrote {} in {:.2?} on {}",
        args.output.display(),
        started.elapsed(),
        sc.runtime_name()
    );
    if let Some(path) = &args.plot {
        let e = lock(&errors);
        let series = |name: &str, values: &[f64]| {
            Series::new(name, values.iter().enumerate().map(|(i, &v)| (i as f64, v)))
        };
        LineChart::new(format!(
            "{} ~ {} features ({}): error before each batch's update",
            args.target,
            features.len(),
            args.method.name()
        ))
        .x_label("batch")
        .y_label(format!("RMSE of {}", args.target))
        .series(series("per batch", &e.batch))
        .series(series(&format!("last {} batches", args.window), &e.rolling))
        .save(path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

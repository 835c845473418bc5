//! Streaming regression of flight arrival delays (nycflights13) with three online models,
//! evaluated test-then-train: every batch is predicted by each model as it was *before* the
//! batch updates it, so every error reported is out-of-sample.
//!
//! - target `arr_delay` (minutes); features known at departure, so nothing leaks from the
//!   arrival: `dep_delay`, `sched_dep_time`, `hour`, `distance`, `month` (`air_time` is only
//!   known after the flight and is left out, as the dataset's README advises);
//! - rows with a missing value (`NA`: cancelled and diverted flights) are skipped and counted
//!   by the CSV reader, never read as 0;
//! - the 336,776 flights of 2013 in file order (by day), 5,000 per batch (the bundled
//!   every-100th slice, 200 per batch, when `../shared/datasets` is absent);
//! - models: exact least squares over everything seen, recursive least squares forgetting with
//!   a half-life of ~14,000 flights, and Spark's `StreamingLinearRegressionWithSGD` (50 steps
//!   of size 0.1/√i per batch, on features standardized with a prepass).
//!
//! Writes `metrics.csv` (RMSE, MAE, R² per batch and over a rolling window of 10 batches, per
//! model) and `error.png` (error over time) to the folder given as `--out DIR` (default: `spate-examples/streaming_regression` in the temporary directory). The shared datasets are looked up in
//! `$SPATE_DATASETS`, else in `../shared/datasets`.
//!
//! Run with `cargo run --release --example streaming_regression` (add
//! `-- --runtime timely -w 2` for timely workers).

use spate::ml::{
    RegressionMetrics, Standardizer, StreamingLeastSquares, StreamingLinearRegressionWithSgd,
    TrainOn, TrainedModel,
};
use spate::plot::{LineChart, Panels, Series};
use spate::prelude::*;
use spate::stats::Moments;
use spate_examples::{Output, repo, say, shared_datasets};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FEATURES: [&str; 5] = ["dep_delay", "sched_dep_time", "hour", "distance", "month"];
const TARGET: &str = "arr_delay";
const MODELS: [&str; 3] = ["OLS", "RLS", "SGD"];
const WINDOW: u32 = 10;

fn columns() -> Vec<&'static str> {
    let mut c = FEATURES.to_vec();
    c.push(TARGET);
    c
}

/// Mean and deviation of every feature over the file, skipping rows as the stream does.
fn prepass(path: &Path) -> anyhow::Result<Standardizer> {
    let mut source = CsvSource::options(path)
        .columns(&columns())
        .rows_per_batch(50_000)
        .build()?;
    let mut moments = vec![Moments::new(); FEATURES.len()];
    let mut column = Vec::new();
    while !source.is_exhausted() {
        let batch = source.next_batch(BatchTime(0), None)?;
        for (j, m) in moments.iter_mut().enumerate() {
            column.clear();
            column.extend(batch.records.iter().map(|r| r[j]));
            m.update(&column);
        }
    }
    let means = moments.iter().map(|m| m.mean().unwrap_or(0.0)).collect();
    let sds = moments
        .iter()
        .map(|m| m.population_std_dev().unwrap_or(0.0))
        .collect();
    Ok(Standardizer::new(means, sds)?)
}

/// Per batch: each model's metrics on the batch and over the last `WINDOW` batches.
#[derive(Default)]
struct Batches {
    per_batch: BTreeMap<u64, [RegressionMetrics; 3]>,
    rolling: BTreeMap<u64, [RegressionMetrics; 3]>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers the outputs that record model `i`'s per-batch and rolling metrics.
fn record<M>(
    model: &TrainedModel<M>,
    records: &DStream<(Vec<f64>, f64)>,
    i: usize,
    window: Window,
    sink: &Arc<Mutex<Batches>>,
) -> anyhow::Result<()>
where
    M: spate::ml::EvaluateOn<Metrics = RegressionMetrics, Record = (Vec<f64>, f64)>,
{
    let s = Arc::clone(sink);
    model.evaluate_on(records).foreach_rdd(move |rdd, t| {
        for m in rdd.collect()? {
            lock(&s).per_batch.entry(t.0).or_default()[i] = m;
        }
        Ok(())
    })?;
    let s = Arc::clone(sink);
    model
        .evaluate_on_window(records, window)?
        .foreach_rdd(move |rdd, t| {
            for m in rdd.collect()? {
                lock(&s).rolling.entry(t.0).or_default()[i] = m;
            }
            Ok(())
        })?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    spate_examples::run(streaming_regression)
}

fn streaming_regression(sc: &SpateContext) -> anyhow::Result<()> {
    let out = Output::new(sc, "streaming_regression")?;
    let full = shared_datasets().join("nycflights13/flights.csv.gz");
    let (path, batch_rows) = if full.exists() {
        (full, 5000)
    } else {
        say!(
            out,
            "{} not found: using the bundled every-100th slice instead",
            full.display()
        );
        (
            repo().join("datasets/nycflights13-flights-every100th.csv"),
            200,
        )
    };
    say!(
        out,
        "Streaming regression of {TARGET} on {FEATURES:?} over {}, {batch_rows} rows per batch;",
        path.display()
    );
    say!(
        out,
        "each batch is predicted by every model before it updates them (test-then-train)."
    );
    let started = Instant::now();
    let standardizer = prepass(&path)?;
    say!(
        out,
        "prepass for SGD's standardization: means {:.1?}, sd {:.1?} ({:.2?})",
        standardizer.means().to_vec(),
        standardizer.scales().to_vec(),
        started.elapsed()
    );

    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()?;
    let rows = ssc.source_stream(
        CsvSource::options(&path)
            .columns(&columns())
            .rows_per_batch(batch_rows)
            .build()?,
    )?;
    let split = |mut row: Vec<f64>| {
        let y = row.pop().unwrap_or(f64::NAN);
        (row, y)
    };
    let raw = rows.map(split).cache();
    let scale = standardizer.clone();
    let standardized = raw.map(move |(x, y)| (scale.transform_row(x), y)).cache();
    let d = FEATURES.len();
    let ols = StreamingLeastSquares::params(d)
        .build()?
        .train_on_named("OLS", &raw)?;
    let rls = StreamingLeastSquares::params(d)
        .forgetting_factor(0.99995)
        .build()?
        .train_on_named("RLS", &raw)?;
    let sgd = StreamingLinearRegressionWithSgd::params(d)
        .step_size(0.1)
        .iterations(50)
        .intercept(true)
        .build()?
        .train_on_named("SGD", &standardized)?;
    let sink: Arc<Mutex<Batches>> = Arc::default();
    let window = Window::new(
        Duration::from_secs(u64::from(WINDOW)),
        Duration::from_secs(1),
    );
    record(&ols, &raw, 0, window, &sink)?;
    record(&rls, &raw, 1, window, &sink)?;
    record(&sgd, &standardized, 2, window, &sink)?;

    let started = Instant::now();
    ssc.start()?;
    ssc.await_termination()?;
    let elapsed = started.elapsed();
    let history = ssc.batch_history();
    let used: u64 = history.iter().map(|b| b.records_in).sum();
    let skipped: u64 = history.iter().map(|b| b.records_skipped).sum();
    say!(
        out,
        "{} batches: {used} flights used, {skipped} skipped for a missing value, in {elapsed:.2?} \
         ({:.0} rows/s through three models, end to end on {})",
        history.len(),
        used as f64 / elapsed.as_secs_f64(),
        sc.runtime_name()
    );

    let batches = lock(&sink);
    let mut total = [RegressionMetrics::default(); 3];
    for m in batches.per_batch.values() {
        for (t, m) in total.iter_mut().zip(m) {
            t.merge(m);
        }
    }
    say!(out, "test-then-train error over the whole stream:");
    for (name, m) in MODELS.iter().zip(&total) {
        say!(
            out,
            "  {name}: RMSE {:6.2} min, MAE {:6.2} min, R² {:.4}",
            m.rmse(),
            m.mae(),
            m.r2()
        );
    }
    say!(
        out,
        "final weights in the input's units (per minute of delay, per mile, …):"
    );
    let sgd_model = sgd.latest_model();
    let (sgd_w, sgd_b) =
        standardizer.linear_to_original(sgd_model.weights(), sgd_model.intercept())?;
    let fits = [
        (
            ols.latest_model().weights().to_vec(),
            ols.latest_model().intercept(),
        ),
        (
            rls.latest_model().weights().to_vec(),
            rls.latest_model().intercept(),
        ),
        (sgd_w.to_vec(), sgd_b),
    ];
    say!(
        out,
        "  {:<16}{:>14}{:>14}{:>14}",
        "",
        MODELS[0],
        MODELS[1],
        MODELS[2]
    );
    for (j, f) in FEATURES.iter().chain(["intercept"].iter()).enumerate() {
        let value = |(w, b): &(Vec<f64>, f64)| if j < d { w[j] } else { *b };
        say!(
            out,
            "  {f:<16}{:>14.5}{:>14.5}{:>14.5}",
            value(&fits[0]),
            value(&fits[1]),
            value(&fits[2])
        );
    }

    let mut csv = String::from("batch,rows");
    for name in MODELS {
        for what in ["rmse", "mae", "r2"] {
            write!(csv, ",{}_{what}", name.to_lowercase())?;
        }
        write!(csv, ",{}_rmse_last{WINDOW}", name.to_lowercase())?;
    }
    csv.push('\n');
    for (b, (t, m)) in batches.per_batch.iter().enumerate() {
        write!(csv, "{b},{}", m[0].count())?;
        let rolling = batches.rolling.get(t).copied().unwrap_or_default();
        for (m, r) in m.iter().zip(&rolling) {
            write!(csv, ",{},{},{},{}", m.rmse(), m.mae(), m.r2(), r.rmse())?;
        }
        csv.push('\n');
    }
    out.write("metrics.csv", csv)?;

    let series = |pick: &dyn Fn(&[RegressionMetrics; 3]) -> f64,
                  rows: &BTreeMap<u64, [RegressionMetrics; 3]>| {
        rows.values()
            .enumerate()
            // Batches numbered from 1, as in every other plot.
            .map(|(b, m)| (b as f64 + 1.0, pick(m)))
            .collect::<Vec<_>>()
    };
    let mut per_batch = LineChart::new("RMSE of each batch, predicted before it trains the models")
        .x_label("batch")
        .y_label("RMSE (minutes)");
    let mut rolling = LineChart::new(format!("RMSE over the last {WINDOW} batches"))
        .x_label("batch")
        .y_label("RMSE (minutes)");
    for (i, name) in MODELS.iter().enumerate() {
        per_batch = per_batch.series(Series::new(
            *name,
            series(&|m| m[i].rmse(), &batches.per_batch),
        ));
        rolling = rolling.series(Series::new(
            *name,
            series(&|m| m[i].rmse(), &batches.rolling),
        ));
    }
    if out.is_leader() {
        Panels::new(format!("nycflights13: {TARGET} ~ {}", FEATURES.join(" + ")))
            .panel(per_batch)
            .panel(rolling)
            .save(out.path("error.png"))?;
    }
    say!(
        out,
        "wrote metrics.csv and error.png to {}",
        out.dir().display()
    );
    Ok(())
}

//! Streaming statistics of the NSW electricity market (elec2, 45,312 half-hourly prices and
//! demands, May 1996 – Dec 1998), one day (48 rows) per batch.
//!
//! Per batch: moments and p05/p50/p95 of `nswprice` and `nswdemand`. Per 7-day window,
//! sliding by a day: the moments incrementally (the day entering is merged, the day leaving
//! retracted) and, as a check, by recomputation; quantiles by merging the days' sketches.
//! Page-Hinkley tests watch each column's daily means in order, on the driver, for changes
//! in their level. The days are replayed on the wall clock, one every 5 ms, so the batch metrics
//! (processing time, scheduling delay, input rate) are those of a live stream.
//!
//! Writes to the folder given as `--out DIR` (default: `spate-examples/streaming_stats` in the
//! temporary directory): `stats.png` (daily means, 7-day mean ± sd and p05–p95
//! bands, change marks), `batch_metrics.png`, and the CSVs behind them (`per_batch.csv`,
//! `per_window.csv`, `batch_metrics.csv`).
//!
//! Reads `elec2/elec.csv.gz` in `$SPATE_DATASETS` (default `../shared/datasets`), or the
//! bundled first 84 days (`datasets/elec2-first4032.csv`) when that is absent.
//!
//! Run with `cargo run --release --example streaming_stats`; add `-- --runtime timely -w 2`
//! (or `--processes 2 --process I`) to run it on timely workers, as every example can.

use anyhow::Context;
use spate::plot::{Band, LegendPosition, LineChart, Panels, Rgb, Series};
use spate::prelude::*;
use spate::stats::{
    DStreamColumnStatsExt, DStreamStatsExt, DriftReport, Moments, PageHinkley, PerColumn,
    QuantileSketch,
};
use spate_examples::{Output, repo, say, shared_datasets};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

const COLUMNS: [&str; 2] = ["nswprice", "nswdemand"];
/// Half-hourly rows per day: one batch.
const ROWS_PER_BATCH: u64 = 48;
/// Days per window; windows slide by one day.
const WINDOW_DAYS: u64 = 7;
/// Typical day-to-day spread (sd) of each column's daily mean in elec2, which sets the
/// drift detectors' scale.
const DAILY_SPREAD: [f64; 2] = [0.025, 0.1];
/// Wall-clock milliseconds per batch of the replay.
const BATCH_MS: u64 = 5;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The whole of elec2 if the shared datasets are there, else the bundled slice.
fn input(out: &Output) -> PathBuf {
    let full = shared_datasets().join("elec2/elec.csv.gz");
    if full.exists() {
        return full;
    }
    let slice = repo().join("datasets/elec2-first4032.csv");
    say!(
        out,
        "{} not found: using the bundled first 84 days, {}",
        full.display(),
        slice.display()
    );
    slice
}

/// Everything the output operations collect, by batch index (1-based).
#[derive(Default)]
struct Collected {
    per_batch: Vec<(u64, PerColumn<(Moments, QuantileSketch)>)>,
    windows: Vec<(u64, PerColumn<Moments>)>,
    windows_recomputed: Vec<(u64, PerColumn<Moments>)>,
    window_quantiles: Vec<(u64, PerColumn<QuantileSketch>)>,
    drift: [Vec<(u64, DriftReport)>; 2],
}

/// Registers an output that stores the one record of every batch with the batch index.
fn collect<T: Data>(
    stream: &DStream<T>,
    sink: &Arc<Mutex<Collected>>,
    store: impl Fn(&mut Collected, u64, T) + Send + 'static,
) -> spate::Result<()> {
    let sink = Arc::clone(sink);
    let ssc = stream.context().clone();
    stream.foreach_rdd(move |rdd, time| {
        let index = (time.millis() - ssc.zero_time().millis()) / BATCH_MS;
        for record in rdd.collect()? {
            store(&mut lock(&sink), index, record);
        }
        Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    spate_examples::run(stream_stats)
}

fn stream_stats(sc: &SpateContext) -> anyhow::Result<()> {
    let out = Output::new(sc, "streaming_stats")?;
    let path = input(&out);
    say!(
        out,
        "replaying {} on {}: {ROWS_PER_BATCH} rows (one day) per batch, one batch every {BATCH_MS} ms",
        path.display(),
        sc.runtime_name()
    );
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_millis(BATCH_MS))
        .clock(SystemClock::new())
        .build()?;
    let rows = ssc.source_stream(
        CsvSource::options(&path)
            .columns(&COLUMNS)
            .rows_per_batch(ROWS_PER_BATCH)
            .build()?,
    )?;
    let window = Window::new(
        Duration::from_millis(WINDOW_DAYS * BATCH_MS),
        Duration::from_millis(BATCH_MS),
    );
    let sketch = QuantileSketch::params().relative_accuracy(0.01).build()?;
    let sink = Arc::new(Mutex::new(Collected::default()));

    let per_batch = rows.summarize_columns((Moments::new(), sketch.clone()));
    collect(&per_batch, &sink, |c, i, s| c.per_batch.push((i, s)))?;
    collect(&rows.windowed_column_stats(window)?, &sink, |c, i, s| {
        c.windows.push((i, s))
    })?;
    collect(
        &rows.windowed_column_stats_recompute(window)?,
        &sink,
        |c, i, s| c.windows_recomputed.push((i, s)),
    )?;
    collect(
        &rows.windowed_column_quantiles(sketch, window)?,
        &sink,
        |c, i, s| c.window_quantiles.push((i, s)),
    )?;
    // Change detection on the daily means (the half-hourly values have a daily cycle that
    // any detector would flag): Page-Hinkley in both directions, with a tolerance δ of about
    // half the day-to-day spread of the column's daily mean and an alarm threshold λ of 20
    // times that spread.
    let mut detectors = Vec::new();
    for (j, name) in COLUMNS.iter().enumerate() {
        let spread = DAILY_SPREAD[j];
        let detector = PageHinkley::params()
            .delta(spread / 2.0)
            .threshold(20.0 * spread)
            .min_instances(WINDOW_DAYS)
            .build()?;
        let detector = ssc.managed_state(format!("page-hinkley {name}"), detector)?;
        let daily_mean =
            per_batch.map(move |s| s.get(j).and_then(|(m, _)| m.mean()).unwrap_or(f64::NAN));
        let reports = daily_mean.detect_drift(&detector)?;
        collect(&reports, &sink, move |c, i, r| c.drift[j].push((i, r)))?;
        detectors.push(detector);
    }

    let started = Instant::now();
    ssc.start()?;
    ssc.await_termination()?;
    let elapsed = started.elapsed();
    let history = ssc.batch_history();
    let collected = std::mem::take(&mut *lock(&sink));
    let rows_in: u64 = history.iter().map(|b| b.records_in).sum();
    let skipped: u64 = history.iter().map(|b| b.records_skipped).sum();
    say!(
        out,
        "{} batches, {rows_in} rows ({skipped} skipped) in {elapsed:.2?}",
        history.len()
    );

    report(&out, &collected, &detectors)?;
    write_csvs(&out, &collected, &history, ssc.zero_time())?;
    if out.is_leader() {
        plot_stats(&out.path("stats.png"), &collected)?;
        plot_metrics(&out.path("batch_metrics.png"), &history, ssc.zero_time())?;
    }
    say!(
        out,
        "wrote stats.png, batch_metrics.png, per_batch.csv, per_window.csv and batch_metrics.csv to {}",
        out.dir().display()
    );
    Ok(())
}

/// Prints the whole-stream statistics, the drift detections and how far the windows with an
/// inverse are from recomputation.
fn report(
    out: &Output,
    c: &Collected,
    detectors: &[ManagedState<PageHinkley>],
) -> anyhow::Result<()> {
    let mut total = PerColumn::<(Moments, QuantileSketch)>::default();
    for (_, s) in &c.per_batch {
        total.merge(s);
    }
    say!(
        out,
        "{:<10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  changes in the daily mean",
        "column",
        "count",
        "mean",
        "sd",
        "p05",
        "p50",
        "p95",
        "max"
    );
    for (j, name) in COLUMNS.iter().enumerate() {
        let (m, q) = total.get(j).context("no rows were read")?;
        let quantile = |p| q.quantile(p).ok().flatten().unwrap_or(f64::NAN);
        let days: Vec<String> = c.drift[j]
            .iter()
            .filter(|(_, r)| r.detections > 0)
            .map(|(day, _)| day.to_string())
            .collect();
        let at = if days.is_empty() {
            String::new()
        } else {
            format!(" (days {})", days.join(", "))
        };
        say!(
            out,
            "{name:<10} {:>7} {:>9.5} {:>9.5} {:>9.5} {:>9.5} {:>9.5} {:>9.5}  {}{at}",
            m.count(),
            m.mean().unwrap_or(f64::NAN),
            m.sample_std_dev().unwrap_or(f64::NAN),
            quantile(0.05),
            quantile(0.5),
            quantile(0.95),
            m.max().unwrap_or(f64::NAN),
            detectors[j].get().detections(),
        );
    }
    let mut worst: f64 = 0.0;
    for ((_, inverse), (_, recomputed)) in c.windows.iter().zip(&c.windows_recomputed) {
        for (a, b) in inverse.columns().iter().zip(recomputed.columns()) {
            for (x, y) in [
                (a.mean(), b.mean()),
                (a.population_variance(), b.population_variance()),
            ] {
                if let (Some(x), Some(y)) = (x, y) {
                    worst = worst.max((x - y).abs() / x.abs().max(y.abs()).max(f64::MIN_POSITIVE));
                }
            }
        }
    }
    say!(
        out,
        "{}-day windows, sliding daily: moments with an inverse vs recomputation, largest relative difference {worst:.1e} over {} windows",
        WINDOW_DAYS,
        c.windows.len()
    );
    Ok(())
}

fn number(x: Option<f64>) -> String {
    x.map(|x| format!("{x:?}")).unwrap_or_default()
}

fn write_csvs(
    out: &Output,
    c: &Collected,
    history: &[BatchInfo],
    zero: BatchTime,
) -> anyhow::Result<()> {
    let mut text = String::from(
        "batch,column,count,mean,sd,min,max,skewness,kurtosis,p05,p50,p95,drift_detections\n",
    );
    for (i, s) in &c.per_batch {
        for (j, name) in COLUMNS.iter().enumerate() {
            let Some((m, q)) = s.get(j) else { continue };
            let quantile = |p| q.quantile(p).ok().flatten();
            let drift = c.drift[j]
                .iter()
                .find(|(b, _)| b == i)
                .map_or(0, |(_, r)| r.detections);
            writeln!(
                text,
                "{i},{name},{},{},{},{},{},{},{},{},{},{},{drift}",
                m.count(),
                number(m.mean()),
                number(m.sample_std_dev()),
                number(m.min()),
                number(m.max()),
                number(m.skewness()),
                number(m.kurtosis()),
                number(quantile(0.05)),
                number(quantile(0.5)),
                number(quantile(0.95)),
            )?;
        }
    }
    out.write("per_batch.csv", text)?;

    let mut text =
        String::from("first_batch,last_batch,column,count,mean,sd,min,max,p05,p50,p95\n");
    for ((i, m), (_, q)) in c.windows_recomputed.iter().zip(&c.window_quantiles) {
        for (j, name) in COLUMNS.iter().enumerate() {
            let (Some(m), Some(q)) = (m.get(j), q.get(j)) else {
                continue;
            };
            let quantile = |p| q.quantile(p).ok().flatten();
            writeln!(
                text,
                "{},{i},{name},{},{},{},{},{},{},{},{}",
                i.saturating_sub(WINDOW_DAYS - 1).max(1),
                m.count(),
                number(m.mean()),
                number(m.sample_std_dev()),
                number(m.min()),
                number(m.max()),
                number(quantile(0.05)),
                number(quantile(0.5)),
                number(quantile(0.95)),
            )?;
        }
    }
    out.write("per_window.csv", text)?;

    let mut text = String::from(
        "batch,batch_time_ms,records_in,input_rate_per_s,processing_time_ms,scheduling_delay_ms,total_delay_ms\n",
    );
    for b in history {
        writeln!(
            text,
            "{},{},{},{},{},{},{}",
            (b.batch_time.millis() - zero.millis()) / BATCH_MS,
            b.batch_time.millis(),
            b.records_in,
            b.input_rate,
            b.processing_time_ms,
            b.scheduling_delay_ms,
            b.total_delay_ms
        )?;
    }
    out.write("batch_metrics.csv", text)?;
    Ok(())
}

/// Per column: the daily mean, the 7-day mean with mean ± sd and p05–p95 bands, and a mark
/// on the 7-day mean at each day where Page-Hinkley detected a change.
fn plot_stats(path: &Path, c: &Collected) -> anyhow::Result<()> {
    let mut panels = Panels::new("elec2: daily and 7-day statistics")
        .width(1200)
        .panel_height(360);
    for (j, name) in COLUMNS.iter().enumerate() {
        let daily = c.per_batch.iter().map(|(i, s)| {
            (
                *i as f64,
                s.get(j).and_then(|(m, _)| m.mean()).unwrap_or(f64::NAN),
            )
        });
        let window_mean = |i: u64| {
            c.windows
                .iter()
                .find(|(w, _)| *w == i)
                .and_then(|(_, s)| s.get(j)?.mean())
                .unwrap_or(f64::NAN)
        };
        let spread = c.windows.iter().map(|(i, s)| {
            let m = s.get(j);
            let mean = m.and_then(Moments::mean).unwrap_or(f64::NAN);
            let sd = m.and_then(Moments::sample_std_dev).unwrap_or(f64::NAN);
            (*i as f64, mean - sd, mean + sd)
        });
        let quantiles = c.window_quantiles.iter().map(|(i, s)| {
            let q = |p| {
                s.get(j)
                    .and_then(|q| q.quantile(p).ok().flatten())
                    .unwrap_or(f64::NAN)
            };
            (*i as f64, q(0.05), q(0.95))
        });
        // NaN between marks breaks the line, so each mark stands alone.
        let marks = c.drift[j]
            .iter()
            .filter(|(_, r)| r.detections > 0)
            .flat_map(|(i, _)| [(*i as f64, window_mean(*i)), (*i as f64, f64::NAN)]);
        let x_label = if j + 1 == COLUMNS.len() {
            "day (batch)"
        } else {
            ""
        };
        panels = panels.panel(
            LineChart::new(*name)
                .x_label(x_label)
                .y_label(format!("{name} (scaled to [0, 1])"))
                .legend(LegendPosition::Right)
                .series(Series::new("daily mean", daily).color(Rgb(170, 170, 170)))
                .series(
                    Series::new(
                        format!("{WINDOW_DAYS}-day mean"),
                        c.windows.iter().map(|(i, _)| (*i as f64, window_mean(*i))),
                    )
                    .color(Rgb::palette(0))
                    .band(Band::new(format!("{WINDOW_DAYS}-day p05–p95"), quantiles))
                    .band(Band::new(format!("{WINDOW_DAYS}-day mean ± sd"), spread)),
                )
                .series(
                    Series::new("change detected", marks)
                        .color(Rgb::palette(3))
                        .markers(true),
                ),
        );
    }
    panels
        .save(path)
        .with_context(|| format!("plotting {}", path.display()))?;
    Ok(())
}

/// Processing time, scheduling delay and input rate of every batch.
fn plot_metrics(path: &Path, history: &[BatchInfo], zero: BatchTime) -> anyhow::Result<()> {
    let x = |b: &BatchInfo| ((b.batch_time.millis() - zero.millis()) / BATCH_MS) as f64;
    let series = |name: &str, f: fn(&BatchInfo) -> f64| {
        Series::new(name, history.iter().map(|b| (x(b), f(b))))
    };
    Panels::new(format!("Batch metrics (one day every {BATCH_MS} ms)"))
        .panel(
            LineChart::new("")
                .y_label("processing (ms)")
                .series(series("processing time", |b| b.processing_time_ms as f64))
                .reference_line("batch interval", BATCH_MS as f64),
        )
        .panel(
            LineChart::new("")
                .y_label("delay (ms)")
                .series(series("scheduling delay", |b| b.scheduling_delay_ms as f64))
                .reference_line("batch interval", BATCH_MS as f64),
        )
        .panel(
            LineChart::new("")
                .y_label("rows / s")
                .x_label("day (batch)")
                .series(series("input rate", |b| b.input_rate)),
        )
        .save(path)
        .with_context(|| format!("plotting {}", path.display()))?;
    Ok(())
}

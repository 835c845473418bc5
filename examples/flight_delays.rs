//! Departure delays by airline over sliding event-time windows, with SQL over a frame stream
//! (nycflights13: every flight that left New York in 2013).
//!
//! The flights CSV is replayed in file order, 5,000 rows per batch, as a stream of polars
//! frames: every column keeps its type (the carrier a string, delays integers with nulls for
//! cancelled flights, `time_hour` a UTC datetime). A SQL query joins each window's flights
//! with a static table of airline names and averages the delays:
//!
//! ```sql
//! SELECT a.name AS airline, count(*) AS flights, count(f.dep_delay) AS departed,
//!        avg(f.dep_delay) AS mean_delay, max(f.dep_delay) AS worst
//! FROM batch f JOIN airlines a ON f.carrier = a.carrier
//! GROUP BY a.name
//! ```
//!
//! over 7-day windows of scheduled time (`time_hour`) sliding by a day, with 2 days of
//! allowed lateness (the file is sorted by date, not strictly by hour). The query is
//! incremental: each batch is aggregated once into per-day partials, and a window closes
//! when the watermark passes its end. Rows more than 2 days behind are counted as late.
//!
//! Writes to the folder given as `--out DIR` (default: `spate-examples/flight_delays` in the
//! temporary directory): `delays.csv` (one row per window and
//! airline), `delays.png` (the weekly mean delay of the six busiest airlines through the
//! year), and `windows/`, the results as a Parquet dataset (`pl.scan_parquet("windows/*.parquet")`).
//!
//! Reads `$SPATE_DATASETS/nycflights13/flights.csv.gz` (default `../shared/datasets`), or the
//! bundled every-100th slice (`datasets/nycflights13-flights-every100th.csv`, 200 rows per
//! batch) when that is absent.
//!
//! Run with `cargo run --release --example flight_delays` (add `-- --runtime timely -w 2` for
//! timely workers).

use spate::plot::{LineChart, Series};
use spate::prelude::*;
use spate_examples::{Output, repo, say, shared_datasets};
use spate_frame::polars::prelude::*;
use spate_frame::{Frame, FrameFileSink, FrameFileSource, FrameStream, SqlQuery, WindowStrategy};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const QUERY: &str = "SELECT a.name AS airline, count(*) AS flights, count(f.dep_delay) AS departed, \
                     avg(f.dep_delay) AS mean_delay, max(f.dep_delay) AS worst \
                     FROM batch f JOIN airlines a ON f.carrier = a.carrier GROUP BY a.name";

/// nycflights13's `airlines` table (CC0).
fn airlines() -> PolarsResult<DataFrame> {
    df!(
        "carrier" => ["9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL", "HA", "MQ", "OO", "UA", "US", "VX", "WN", "YV"],
        "name" => [
            "Endeavor Air Inc.", "American Airlines Inc.", "Alaska Airlines Inc.", "JetBlue Airways",
            "Delta Air Lines Inc.", "ExpressJet Airlines Inc.", "Frontier Airlines Inc.",
            "AirTran Airways Corporation", "Hawaiian Airlines Inc.", "Envoy Air", "SkyWest Airlines Inc.",
            "United Air Lines Inc.", "US Airways Inc.", "Virgin America", "Southwest Airlines Co.",
            "Mesa Airlines Inc.",
        ],
    )
}

fn main() -> anyhow::Result<()> {
    spate_examples::run(flight_delays)
}

fn flight_delays(sc: &SpateContext) -> anyhow::Result<()> {
    let out = Output::new(sc, "flight_delays")?;
    let full = shared_datasets().join("nycflights13/flights.csv.gz");
    let (input, rows_per_batch) = if full.exists() {
        (full, 5_000)
    } else {
        let slice = repo().join("datasets/nycflights13-flights-every100th.csv");
        say!(
            out,
            "{} not found: using the bundled every-100th slice",
            full.display()
        );
        (slice, 200)
    };
    say!(
        out,
        "replaying {} in batches of {rows_per_batch} rows",
        input.display()
    );

    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()?;
    let source = FrameFileSource::options(&input)
        .rows_per_batch(rows_per_batch)
        .frames_per_batch(sc.default_parallelism())
        .build()?;
    let stats = source.stats();
    let schema = source.schema();
    say!(out, "schema: {schema:?}");
    let flights = FrameStream::new(ssc.source_stream(source)?, schema);
    let query = SqlQuery::new(QUERY).table("airlines", airlines()?)?;
    let strategy = query.window_strategy(flights.schema())?;
    say!(out, "plan: {strategy:?}");
    anyhow::ensure!(
        strategy == WindowStrategy::Incremental,
        "the query should be incremental"
    );
    let day = Duration::from_secs(86_400);
    let windowed = flights
        .event_time("time_hour", 2 * day)?
        .window(7 * day, day)?
        .sql(query)?;
    windowed
        .results()
        .write_files(FrameFileSink::dataset(out.path("windows"))?)?;

    let collected: Arc<Mutex<Vec<DataFrame>>> = Arc::default();
    let sink = Arc::clone(&collected);
    let result_schema = Arc::clone(windowed.results().schema());
    windowed.results().stream().foreach_rdd(move |rdd, _| {
        let frame = Frame::concat(&rdd.collect()?, &result_schema)?;
        if frame.height() > 0 {
            sink.lock()
                .map_err(|_| spate::Error::Internal("poisoned".into()))?
                .push(frame.into_df());
        }
        Ok(())
    })?;
    let late_rows = Arc::new(Mutex::new(0_usize));
    let late_sink = Arc::clone(&late_rows);
    windowed.late().stream().foreach_rdd(move |rdd, _| {
        let n: usize = rdd.collect()?.iter().map(|f| f.height()).sum();
        *late_sink
            .lock()
            .map_err(|_| spate::Error::Internal("poisoned".into()))? += n;
        Ok(())
    })?;

    let started = Instant::now();
    ssc.start()?;
    ssc.await_termination()?;
    let elapsed = started.elapsed();
    let late = *late_rows.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    say!(
        out,
        "{} batches, {} rows ({} skipped, {late} late) in {elapsed:.2?}",
        ssc.batch_history().len(),
        stats.rows(),
        stats.skipped()
    );

    // One table of every window's results.
    let frames = collected.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let mut all = DataFrame::empty_with_schema(windowed.results().schema());
    for f in frames.iter() {
        all.vstack_mut(f)?;
    }
    // A query's groups come in no particular order (as in SQL): the rows are sorted by
    // window and airline, so the file is the same on every run and runtime.
    let mut rows: Vec<(i64, String, String)> = Vec::with_capacity(all.height());
    let starts = all
        .column("window_start")?
        .as_materialized_series()
        .to_physical_repr()
        .into_owned();
    let starts = starts.cast(&DataType::Int64)?;
    let starts = starts.i64()?;
    let airline = all.column("airline")?.str()?;
    let flights_n = all.column("flights")?.cast(&DataType::UInt64)?;
    let departed = all.column("departed")?.cast(&DataType::UInt64)?;
    let mean = all.column("mean_delay")?.f64()?.clone();
    let worst = all.column("worst")?.cast(&DataType::Int64)?;
    let day_ms = 86_400_000_i64;
    let mut by_airline: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut volume: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..all.height() {
        let (Some(start), Some(name)) = (starts.get(i), airline.get(i)) else {
            continue;
        };
        let n = flights_n.u64()?.get(i).unwrap_or(0);
        let m = mean.get(i);
        let mut row = String::new();
        write!(
            row,
            "{},{},\"{name}\",{n},{},{},{}",
            start,
            start + 7 * day_ms,
            departed.u64()?.get(i).unwrap_or(0),
            m.map(|m| format!("{m:?}")).unwrap_or_default(),
            worst
                .i64()?
                .get(i)
                .map(|w| w.to_string())
                .unwrap_or_default()
        )?;
        rows.push((start, name.to_string(), row));
        *volume.entry(name.to_string()).or_default() += n;
        if let Some(m) = m {
            // x: the day of 2013 the window ends on.
            let end_day = (start + 7 * day_ms - 1_356_998_400_000) as f64 / day_ms as f64;
            by_airline
                .entry(name.to_string())
                .or_default()
                .push((end_day, m));
        }
    }
    rows.sort_unstable();
    let mut csv =
        String::from("window_start,window_end,airline,flights,departed,mean_delay,worst\n");
    for (_, _, row) in &rows {
        csv.push_str(row);
        csv.push('\n');
    }
    out.write("delays.csv", csv)?;
    let mut busiest: Vec<(&String, &u64)> = volume.iter().collect();
    busiest.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut chart =
        LineChart::new("Mean departure delay over 7-day windows of 2013, six busiest airlines")
            .x_label("day of 2013 (window end)")
            .y_label("mean departure delay (minutes)");
    for (name, _) in busiest.iter().take(6) {
        let mut points = by_airline.get(*name).cloned().unwrap_or_default();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart = chart.series(Series::new(name.as_str(), points));
    }
    if out.is_leader() {
        chart.save(out.path("delays.png"))?;
    }
    say!(
        out,
        "{} window results; wrote delays.csv, delays.png and windows/ to {}",
        all.height(),
        out.dir().display()
    );
    Ok(())
}

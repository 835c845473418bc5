//! Event-time windows equal polars over each window's rows, where the rows are those the
//! core's watermark admits (recomputed in the test from its definition: the largest event
//! time of the earlier batches minus the lateness); late rows and rows without a time come
//! out on the late stream, exactly, and the core itself sees nothing late.

use crate::common::*;
use polars::prelude::*;
use spate_frame::{FrameStream, SqlQuery};
use std::collections::BTreeMap;
use std::time::Duration;

const TOL: f64 = 1e-9;

/// Batches of readings: a sensor, a value, and an event time that mostly advances with the
/// batch, sometimes lags by up to 6 s, and is sometimes null.
fn readings(seed: u64, batches: usize, rows: usize, datetime: bool) -> Vec<DataFrame> {
    let mut rng = Rng::new(seed);
    (0..batches)
        .map(|b| {
            let mut sensor = Vec::new();
            let mut value = Vec::new();
            let mut ts = Vec::new();
            for _ in 0..rows {
                sensor.push(["a", "b", "c"][rng.below(3) as usize]);
                value.push((rng.below(8) != 0).then(|| rng.unit() * 10.0 - 2.0));
                let base = b as i64 * 1000 + rng.below(1000) as i64;
                ts.push(match rng.below(12) {
                    0 => None,
                    1 | 2 => Some(base - rng.below(6000) as i64),
                    _ => Some(base),
                });
            }
            let mut df = df!("sensor" => sensor, "value" => value, "ts" => ts).unwrap();
            if datetime {
                // Microsecond datetimes in UTC, as CSV readers produce them.
                let us = df.column("ts").unwrap().i64().unwrap() * 1000;
                let col = us
                    .into_series()
                    .cast(&DataType::Datetime(
                        TimeUnit::Microseconds,
                        Some(TimeZone::UTC),
                    ))
                    .unwrap()
                    .with_name("ts".into());
                df.with_column(col.into_column()).unwrap();
            }
            df
        })
        .collect()
}

/// The reference: which rows are late per the watermark rule, and every window's query
/// result over its on-time rows, by window start.
fn reference(
    batches: &[DataFrame],
    lateness: i64,
    size: i64,
    slide: i64,
    query: &str,
) -> (DataFrame, BTreeMap<i64, DataFrame>) {
    let schema = batches[0].schema().as_ref().clone();
    let millis = |df: &DataFrame| -> Vec<Option<i64>> {
        let c = df
            .column("ts")
            .unwrap()
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let c = c.cast(&DataType::Int64).unwrap();
        let scale = if matches!(df.column("ts").unwrap().dtype(), DataType::Datetime(..)) {
            1000
        } else {
            1
        };
        c.i64()
            .unwrap()
            .iter()
            .map(|x| x.map(|x| x.div_euclid(scale)))
            .collect()
    };
    let mut max_seen: Option<i64> = None;
    let mut late = DataFrame::empty_with_schema(&schema);
    let mut on_time: Vec<(i64, DataFrame)> = Vec::new();
    for batch in batches {
        let w = max_seen.map_or(i64::MIN, |m| m - lateness);
        let ts = millis(batch);
        let keep: BooleanChunked = ts.iter().map(|x| Some(x.is_some_and(|x| x >= w))).collect();
        late.vstack_mut(&batch.filter(&!&keep).unwrap()).unwrap();
        for (i, x) in ts.iter().enumerate() {
            if let Some(x) = x
                && *x >= w
            {
                on_time.push((*x, batch.slice(i as i64, 1)));
            }
        }
        if let Some(m) = ts.iter().flatten().max() {
            max_seen = Some(max_seen.map_or(*m, |s| s.max(*m)));
        }
    }
    let mut windows: BTreeMap<i64, Vec<DataFrame>> = BTreeMap::new();
    for (x, row) in &on_time {
        let last = x.div_euclid(slide);
        let first = (x - size).div_euclid(slide) + 1;
        for k in first..=last {
            windows.entry(k * slide).or_default().push(row.clone());
        }
    }
    let results = windows
        .into_iter()
        .map(|(start, rows)| (start, polars_sql(query, stack(&rows, &schema), &[])))
        .collect();
    (late, results)
}

fn check(query: &str, datetime: bool, threads: usize, parts: usize) {
    let batches = readings(11, 15, 60, datetime);
    let schema = batches[0].schema().as_ref().clone();
    let ssc = context(threads);
    let input: Vec<Vec<DataFrame>> = batches
        .iter()
        .map(|b| {
            let per = b.height().div_ceil(parts);
            (0..parts).map(|p| b.slice((p * per) as i64, per)).collect()
        })
        .collect();
    let frames: FrameStream = replay(&ssc, input, &schema);
    let (lateness, size, slide) = (1500, 4000, 2000);
    let windowed = frames
        .event_time("ts", Duration::from_millis(lateness as u64))
        .unwrap()
        .window(
            Duration::from_millis(size as u64),
            Duration::from_millis(slide as u64),
        )
        .unwrap()
        .sql(SqlQuery::new(query))
        .unwrap();
    let results = collect(windowed.results());
    let late = collect(windowed.late());
    run(&ssc);

    let (want_late, want) = reference(&batches, lateness, size, slide, query);
    let late: Vec<DataFrame> = late
        .lock()
        .unwrap()
        .iter()
        .map(|(_, f)| f.clone())
        .collect();
    let got_late = stack(&late, &schema);
    assert!(
        want_late.height() > 10,
        "the input must have late rows to mean anything"
    );
    assert_frames_eq(&sorted(&got_late), &sorted(&want_late), 0.0, "late rows");

    let mut got: BTreeMap<i64, DataFrame> = BTreeMap::new();
    for (_, frame) in results.lock().unwrap().iter() {
        if frame.height() == 0 {
            continue;
        }
        let starts = frame
            .column("window_start")
            .unwrap()
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let starts = starts.cast(&DataType::Int64).unwrap();
        let mut by_start: BTreeMap<i64, Vec<IdxSize>> = BTreeMap::new();
        for (i, s) in starts.i64().unwrap().iter().flatten().enumerate() {
            by_start.entry(s).or_default().push(i as IdxSize);
        }
        for (start, idx) in by_start {
            let rows = frame.take(&IdxCa::from_vec("".into(), idx)).unwrap();
            let ends = rows
                .column("window_end")
                .unwrap()
                .as_materialized_series()
                .to_physical_repr()
                .into_owned();
            let end = ends
                .cast(&DataType::Int64)
                .unwrap()
                .i64()
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(end - start, size, "window [{start}, {end})");
            let body = rows.drop_many(["window_start", "window_end"]);
            assert!(
                got.insert(start, body).is_none(),
                "window {start} emitted twice"
            );
        }
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{query}: windows"
    );
    for (start, want) in &want {
        let ordered = query.contains("ORDER BY");
        let got = &got[start];
        let what = format!("{query}: window {start}");
        if ordered {
            assert_frames_eq(got, want, TOL, &what);
        } else {
            assert_frames_eq(&sorted(got), &sorted(want), TOL, &what);
        }
    }
    let core_late: u64 = ssc.batch_history().iter().map(|b| b.records_late).sum();
    assert_eq!(
        core_late, 0,
        "the split must leave nothing late for the core's operator"
    );
}

#[test]
fn incremental_event_time_windows_equal_polars_with_late_rows() {
    let query = "SELECT sensor, count(*) AS n, avg(value) AS mean, max(value) AS hi, \
                 min(ts) AS first_seen, var(value) AS v FROM batch GROUP BY sensor";
    assert_eq!(
        SqlQuery::new(query)
            .window_strategy(readings(1, 1, 1, false)[0].schema())
            .unwrap(),
        spate_frame::WindowStrategy::Incremental
    );
    check(query, false, 2, 2);
    check(query, true, 0, 1);
}

#[test]
fn recomputed_event_time_windows_equal_polars_with_late_rows() {
    check(
        "SELECT sensor, median(value) AS m, count(*) AS n FROM batch GROUP BY sensor ORDER BY sensor",
        true,
        2,
        3,
    );
}

#[test]
fn a_time_column_must_be_a_time() {
    let batches = readings(1, 1, 3, false);
    let ssc = context(0);
    let frames = replay(&ssc, vec![batches.clone()], batches[0].schema());
    assert!(matches!(
        frames.event_time("sensor", Duration::ZERO),
        Err(spate_frame::FrameError::ColumnType { .. })
    ));
    assert!(matches!(
        frames.event_time("nope", Duration::ZERO),
        Err(spate_frame::FrameError::UnknownColumn { .. })
    ));
}

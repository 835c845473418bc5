//! SQL per batch and per sliding window equals polars run in batch mode over the same rows
//! (each window recomputed from scratch with polars' own SQL context), for incremental and
//! recomputed queries, grouped and global, with static joins, nulls, NaN, infinities and
//! empty batches, on 1, 2 and 7 frames per batch and on both runtimes.

use crate::common::*;
use polars::prelude::*;
use spate_core::{BatchTime, Window};
use spate_frame::{SqlQuery, WindowStrategy};
use std::time::Duration;

/// Relative tolerance of incremental float aggregates against polars (partials use
/// double-double moments; polars sums in f64).
const TOL: f64 = 1e-9;

fn airlines() -> DataFrame {
    df!(
        "carrier" => ["AA", "UA", "DL", "B6"],
        "name" => ["American", "United", "Delta", "JetBlue"],
    )
    .unwrap()
}

/// Batches of random flights cut into `parts` frames each; batch 3 has no frames at all and
/// batch 6 only empty frames.
fn input(seed: u64, batches: usize, rows: usize, parts: usize, wild: bool) -> Vec<Vec<DataFrame>> {
    let mut rng = Rng::new(seed);
    (0..batches)
        .map(|b| {
            if b == 2 {
                return Vec::new();
            }
            let frame = flights(&mut rng, if b == 5 { 0 } else { rows }, wild);
            let per = rows.div_ceil(parts).max(1);
            (0..parts)
                .map(|p| frame.slice((p * per) as i64, per))
                .collect()
        })
        .collect()
}

/// The rows of the batches in the window ending at `t` (batch `k` has time `k` seconds).
fn window_rows(input: &[Vec<DataFrame>], t: BatchTime, length: u64, schema: &Schema) -> DataFrame {
    let last = t.millis() / 1000;
    let first = last.saturating_sub(length) + 1;
    let frames: Vec<DataFrame> = (first..=last)
        .filter_map(|k| input.get((k - 1) as usize))
        .flatten()
        .cloned()
        .collect();
    stack(&frames, schema)
}

/// Runs `query` over windows of `length`/`slide` batches and checks every slide against
/// polars over the window's rows.
fn check_window(
    query: &str,
    incremental: bool,
    threads: usize,
    parts: usize,
    wild: bool,
    length: u64,
    slide: u64,
) {
    let batches = input(7 + parts as u64, 12, 40, parts, wild);
    let schema = flights(&mut Rng::new(1), 1, false)
        .schema()
        .as_ref()
        .clone();
    let ssc = context(threads);
    let frames = replay(&ssc, batches.clone(), &schema);
    let q = SqlQuery::new(query).table("airlines", airlines()).unwrap();
    let strategy = q.window_strategy(&schema).unwrap();
    assert_eq!(
        strategy == WindowStrategy::Incremental,
        incremental,
        "{query}: {strategy:?}"
    );
    let window = Window::new(Duration::from_secs(length), Duration::from_secs(slide));
    let out = collect(&frames.window(window).sql(q).unwrap());
    run(&ssc);
    let out = out.lock().unwrap();
    assert_eq!(
        out.len() as u64,
        12 / slide,
        "{query}: one result per slide"
    );
    let ordered = query.contains("ORDER BY");
    for (t, got) in out.iter() {
        let rows = window_rows(&batches, *t, length, &schema);
        let want = polars_sql(query, rows, &[("airlines", airlines())]);
        let what = format!("{query} (window at {t}, {threads} threads, {parts} frames)");
        if ordered {
            assert_frames_eq(got, &want, TOL, &what);
        } else {
            assert_frames_eq(&sorted(got), &sorted(&want), TOL, &what);
        }
    }
}

const GROUPED: &str = "SELECT carrier, count(*) AS n, count(arr_delay) AS c, sum(dep_delay) AS s, \
     total(dep_delay) AS tot, avg(arr_delay) AS a, avg(dep_delay) AS ad, min(arr_delay) AS lo, \
     max(dep_delay) AS hi, var(arr_delay) AS v, stddev(dep_delay) AS sd, sum(arr_delay) AS sa \
     FROM batch GROUP BY carrier";

#[test]
fn grouped_aggregates_over_sliding_windows_equal_polars() {
    for (threads, parts) in [(0, 1), (2, 2), (2, 7)] {
        check_window(GROUPED, true, threads, parts, false, 4, 1);
    }
}

#[test]
fn nan_and_infinities_and_large_offsets_follow_polars() {
    check_window(GROUPED, true, 2, 2, true, 5, 1);
}

#[test]
fn filters_having_order_and_limit_are_incremental() {
    check_window(
        "SELECT carrier, avg(dep_delay) AS mean, count(*) AS n FROM batch WHERE distance > 500 \
         GROUP BY carrier HAVING count(*) > 3 ORDER BY mean DESC, carrier LIMIT 3",
        true,
        2,
        2,
        false,
        3,
        1,
    );
}

#[test]
fn global_aggregates_and_empty_windows_equal_polars() {
    // Windows of one batch include the empty ones (batches 3 and 6).
    check_window(
        "SELECT count(*) AS n, sum(arr_delay) AS s, min(carrier) AS first_carrier, \
         max(flag) AS any_flag, avg(distance) AS d FROM batch",
        true,
        2,
        2,
        false,
        1,
        1,
    );
    check_window("SELECT count(*) AS n FROM batch", true, 0, 1, false, 2, 2);
}

#[test]
fn expression_keys_and_ordinals_are_incremental() {
    check_window(
        "SELECT distance / 1000 AS band, flag, sum(distance) AS total, count(*) FROM batch \
         GROUP BY distance / 1000, flag",
        true,
        2,
        2,
        false,
        6,
        2,
    );
    check_window(
        "SELECT upper(carrier) AS c, max(arr_delay) - min(arr_delay) AS spread FROM batch GROUP BY 1",
        true,
        0,
        2,
        false,
        3,
        1,
    );
}

#[test]
fn joins_with_a_static_table_equal_polars() {
    check_window(
        "SELECT a.name, count(*) AS n, avg(b.dep_delay) AS d FROM batch b \
         JOIN airlines a ON b.carrier = a.carrier GROUP BY a.name",
        true,
        2,
        2,
        false,
        4,
        2,
    );
    check_window(
        "SELECT a.name, count(*) AS n FROM batch b LEFT JOIN airlines a ON b.carrier = a.carrier \
         GROUP BY a.name",
        true,
        2,
        2,
        false,
        3,
        1,
    );
}

#[test]
fn other_queries_are_recomputed_over_the_window() {
    for query in [
        "SELECT carrier, median(arr_delay) AS m FROM batch GROUP BY carrier",
        "SELECT DISTINCT carrier FROM batch",
        "SELECT carrier, dep_delay FROM batch WHERE dep_delay > 150 ORDER BY dep_delay, carrier",
        "SELECT count(DISTINCT carrier) AS carriers FROM batch",
    ] {
        check_window(query, false, 2, 2, false, 3, 1);
    }
}

#[test]
fn per_batch_sql_equals_polars_on_each_batch() {
    let batches = input(3, 8, 30, 3, true);
    let schema = flights(&mut Rng::new(1), 1, false)
        .schema()
        .as_ref()
        .clone();
    let ssc = context(2);
    let frames = replay(&ssc, batches.clone(), &schema);
    let query = "SELECT b.carrier, a.name, count(*) AS n, sum(arr_delay) AS s FROM batch b \
                 LEFT JOIN airlines a ON b.carrier = a.carrier GROUP BY b.carrier, a.name";
    let q = SqlQuery::new(query).table("airlines", airlines()).unwrap();
    let out = collect(&frames.sql(q).unwrap());
    run(&ssc);
    let out = out.lock().unwrap();
    assert_eq!(out.len(), 8);
    for (t, got) in out.iter() {
        let rows = window_rows(&batches, *t, 1, &schema);
        let want = polars_sql(query, rows, &[("airlines", airlines())]);
        assert_frames_eq(&sorted(got), &sorted(&want), 0.0, &format!("batch {t}"));
    }
}

#[test]
fn plan_errors_come_before_any_data_flows() {
    let schema = flights(&mut Rng::new(1), 1, false)
        .schema()
        .as_ref()
        .clone();
    let ssc = context(0);
    let frames = replay(&ssc, Vec::new(), &schema);
    for bad in [
        "SELECT nope FROM batch",
        "DELETE FROM batch",
        "SELECT count(* FROM batch",
        "SELECT * FROM missing_table",
    ] {
        let err = frames.sql(bad).unwrap_err();
        assert!(
            matches!(err, spate_frame::FrameError::Sql { .. }),
            "{bad}: {err}"
        );
        let err = frames
            .window(Window::new(Duration::from_secs(2), Duration::from_secs(1)))
            .sql(bad)
            .unwrap_err();
        assert!(
            matches!(err, spate_frame::FrameError::Sql { .. }),
            "{bad}: {err}"
        );
    }
    assert!(
        SqlQuery::new("SELECT 1")
            .table("batch", airlines())
            .is_err()
    );
    let err = frames
        .window(Window::new(
            Duration::from_millis(1500),
            Duration::from_secs(1),
        ))
        .sql("SELECT count(*) FROM batch")
        .unwrap_err();
    assert!(err.to_string().contains("multiple"), "{err}");
}

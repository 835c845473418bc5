//! Shared test helpers: running frame streams on a replayed input, and comparing frames with
//! polars run in batch mode.

use polars::prelude::*;
use polars::sql::SQLContext;
use spate_core::stream::{FastForwardClock, ReplaySource, StreamingContext};
use spate_core::{BatchTime, SpateContext};
use spate_frame::{Frame, FrameStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A context running batches back to back on `threads` worker threads (0: the sequential
/// reference runtime with 2 partitions).
pub(crate) fn context(threads: usize) -> StreamingContext {
    let sc = if threads == 0 {
        SpateContext::sequential(2)
    } else {
        spate_local::local_context_with_threads(threads).unwrap()
    };
    StreamingContext::builder(&sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()
        .unwrap()
}

/// A frame stream replaying `batches` (each a list of frames, one per partition).
pub(crate) fn replay(
    ssc: &StreamingContext,
    batches: Vec<Vec<DataFrame>>,
    schema: &Schema,
) -> FrameStream {
    let batches: Vec<Vec<Frame>> = batches
        .into_iter()
        .map(|b| b.into_iter().map(Frame::new).collect())
        .collect();
    FrameStream::new(
        ssc.source_stream(ReplaySource::new(batches)).unwrap(),
        Arc::new(schema.clone()),
    )
}

/// Collects every batch of `stream`: its time and its frames stacked.
pub(crate) fn collect(stream: &FrameStream) -> Arc<Mutex<Vec<(BatchTime, DataFrame)>>> {
    let out: Arc<Mutex<Vec<(BatchTime, DataFrame)>>> = Arc::default();
    let sink = Arc::clone(&out);
    let schema = Arc::clone(stream.schema());
    stream
        .stream()
        .foreach_rdd(move |rdd, t| {
            let frames = rdd.collect()?;
            let frame = Frame::concat(&frames, &schema)?;
            sink.lock().unwrap().push((t, frame.into_df()));
            Ok(())
        })
        .unwrap();
    out
}

/// Runs the context to the end of its input.
pub(crate) fn run(ssc: &StreamingContext) {
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
}

/// Polars in batch mode: `query` over `batch` with `tables`, through polars' own SQL context.
pub(crate) fn polars_sql(query: &str, batch: DataFrame, tables: &[(&str, DataFrame)]) -> DataFrame {
    let mut ctx = SQLContext::new();
    ctx.register("batch", batch.lazy());
    for (name, table) in tables {
        ctx.register(name, table.clone().lazy());
    }
    ctx.execute(query).unwrap().collect().unwrap()
}

/// All rows of `frames` stacked (an empty frame of `schema` for none).
pub(crate) fn stack(frames: &[DataFrame], schema: &Schema) -> DataFrame {
    let mut out = DataFrame::empty_with_schema(schema);
    for f in frames {
        out.vstack_mut(f).unwrap();
    }
    out
}

/// `frame` sorted by all its columns, for comparing results of queries without ORDER BY.
pub(crate) fn sorted(frame: &DataFrame) -> DataFrame {
    if frame.height() == 0 || frame.width() == 0 {
        return frame.clone();
    }
    let names: Vec<PlSmallStr> = frame.get_column_names_owned();
    frame
        .sort(
            names,
            SortMultipleOptions::default()
                .with_nulls_last(true)
                .with_maintain_order(true),
        )
        .unwrap()
}

/// Asserts that two frames are equal: same names, types and rows; floats within `tol`
/// relative (NaN equals NaN, nulls equal nulls).
pub(crate) fn assert_frames_eq(got: &DataFrame, want: &DataFrame, tol: f64, what: &str) {
    assert_eq!(
        got.schema(),
        want.schema(),
        "{what}: schemas differ\n got {got}\nwant {want}"
    );
    assert_eq!(
        got.height(),
        want.height(),
        "{what}: heights differ\n got {got}\nwant {want}"
    );
    for (g, w) in got.columns().iter().zip(want.columns()) {
        match w.dtype() {
            DataType::Float32 | DataType::Float64 => {
                let g = g.cast(&DataType::Float64).unwrap();
                let w = w.cast(&DataType::Float64).unwrap();
                for (i, (a, b)) in g
                    .f64()
                    .unwrap()
                    .iter()
                    .zip(w.f64().unwrap().iter())
                    .enumerate()
                {
                    let ok = match (a, b) {
                        (None, None) => true,
                        (Some(a), Some(b)) if a.is_nan() && b.is_nan() => true,
                        (Some(a), Some(b)) if a == b => true,
                        (Some(a), Some(b)) => (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0),
                        _ => false,
                    };
                    assert!(
                        ok,
                        "{what}: column {} row {i}: {a:?} vs {b:?}\n got {got}\nwant {want}",
                        w.name()
                    );
                }
            }
            _ => assert!(
                g.as_materialized_series()
                    .equals_missing(w.as_materialized_series()),
                "{what}: column {} differs\n got {got}\nwant {want}",
                w.name()
            ),
        }
    }
}

/// A small deterministic generator.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A random flights-like frame of `rows` rows: carrier (with nulls), integer and float
/// delays (with nulls, NaN and infinities when `wild`), a distance and a flag.
pub(crate) fn flights(rng: &mut Rng, rows: usize, wild: bool) -> DataFrame {
    const CARRIERS: [&str; 5] = ["AA", "UA", "DL", "B6", "WN"];
    let mut carrier = Vec::with_capacity(rows);
    let mut dep = Vec::with_capacity(rows);
    let mut arr = Vec::with_capacity(rows);
    let mut dist = Vec::with_capacity(rows);
    let mut flag = Vec::with_capacity(rows);
    for _ in 0..rows {
        carrier.push(match rng.below(20) {
            0 => None,
            k => Some(CARRIERS[(k % 5) as usize]),
        });
        dep.push((rng.below(10) != 0).then(|| rng.below(200) as i64 - 20));
        arr.push(match rng.below(40) {
            0 => None,
            1 if wild => Some(f64::NAN),
            2 if wild => Some(f64::INFINITY),
            3 if wild => Some(f64::NEG_INFINITY),
            _ => Some((rng.unit() - 0.3) * 120.0 + 1e6 * (wild as u8 as f64)),
        });
        dist.push(rng.below(3000) as i32 + 80);
        flag.push(rng.below(2) == 0);
    }
    df!(
        "carrier" => carrier,
        "dep_delay" => dep,
        "arr_delay" => arr,
        "distance" => dist,
        "flag" => flag,
    )
    .unwrap()
}

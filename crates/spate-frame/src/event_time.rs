//! Event-time windows over frame streams, on the core's watermarks.
//!
//! A time column of each row places it in event-time windows. The watermark is the core's:
//! the largest event time of the batches processed so far minus the allowed lateness; in
//! batch `t` a row whose time is below the watermark of `t` is *late*. Late rows (and rows
//! whose time is null, which no window can hold) are never silently dropped: they are routed
//! to [`EventTimeSql::late`], which also counts them. A window `[start, end)` is emitted once,
//! when the watermark passes its end, and when the input ends (the core's final flush).
//!
//! How a batch flows:
//! 1. each partition's frame is split, a whole column at a time, into on-time and late rows
//!    by the watermark of the batch (mirrored from the core's definition in a checkpointed
//!    managed state, so a restarted job splits exactly as the first run did);
//! 2. on-time rows are cut into *panes* of `gcd(size, slide)` of event time, whose rows all
//!    belong to the same windows, and aggregated per pane and group (incremental queries) or
//!    kept as frames (other queries);
//! 3. one record per pane and group goes to the core's `aggregate_by_key_and_window`, stamped
//!    with the pane's largest event time: the core assigns it to its windows, merges it,
//!    advances the watermark, closes final windows, checkpoints the open ones and flushes them
//!    at the end of the input;
//! 4. each closed window's query result is computed from its merged partials (or its rows),
//!    with `window_start` and `window_end` columns in front.

use crate::error::{FrameError, Result};
use crate::frame::Frame;
use crate::sql::partial::{AggKind, AggSpec, GroupKey, Partials, Scalar, ValueKind};
use crate::sql::{IncrementalQuery, SqlQuery, WindowQuery};
use crate::stream::{FrameStream, guard};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use spate_core::stream::{EmitMode, EventTime, EventWindows, LateData, ManagedState, WindowResult};
use spate_core::{BatchTime, DStream, Merge};
use std::sync::Arc;
use std::time::Duration;

/// The column added to rows for their event time in milliseconds.
const TIME: &str = "__t";

/// How a time column's values become milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeScale {
    /// Datetime: physical values in this many per millisecond (ns 1e6, µs 1e3, ms 1).
    Datetime(i64),
    /// Date: days.
    Date,
    /// Integers: already milliseconds.
    Millis,
}

impl TimeScale {
    fn of(name: &str, dtype: &DataType) -> Result<TimeScale> {
        Ok(match dtype {
            DataType::Datetime(TimeUnit::Nanoseconds, _) => TimeScale::Datetime(1_000_000),
            DataType::Datetime(TimeUnit::Microseconds, _) => TimeScale::Datetime(1_000),
            DataType::Datetime(TimeUnit::Milliseconds, _) => TimeScale::Datetime(1),
            DataType::Date => TimeScale::Date,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => TimeScale::Millis,
            other => {
                return Err(FrameError::ColumnType {
                    name: name.to_string(),
                    dtype: other.to_string(),
                    expected: "a datetime, a date or integer milliseconds",
                });
            }
        })
    }

    /// The column's values in milliseconds (floor for sub-millisecond datetimes).
    fn millis(self, column: &Column) -> Result<Int64Chunked> {
        let physical = column
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let values = physical.cast(&DataType::Int64)?;
        let values = values.i64()?;
        Ok(match self {
            TimeScale::Datetime(1) | TimeScale::Millis => values.clone(),
            TimeScale::Datetime(per_ms) => values.apply_values(|x| x.div_euclid(per_ms)),
            TimeScale::Date => values.apply_values(|d| d.saturating_mul(86_400_000)),
        })
    }

    /// The type of the `window_start`/`window_end` columns.
    fn window_type(self, dtype: &DataType) -> DataType {
        match (self, dtype) {
            (TimeScale::Datetime(_), DataType::Datetime(_, tz)) => {
                DataType::Datetime(TimeUnit::Milliseconds, tz.clone())
            }
            (TimeScale::Date, _) => DataType::Datetime(TimeUnit::Milliseconds, None),
            _ => DataType::Int64,
        }
    }
}

/// The largest event time of every batch so far, per batch: the core's watermark, mirrored
/// so that partitions can split rows before they reach the core's operator.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct WatermarkLog {
    /// `(batch time, largest event time through that batch)`, the last two batches.
    recent: Vec<(u64, Option<EventTime>)>,
}

impl WatermarkLog {
    /// The largest event time of the batches before `t`.
    fn max_before(&self, t: BatchTime) -> Option<EventTime> {
        self.recent
            .iter()
            .rev()
            .find(|(time, _)| *time < t.0)
            .and_then(|(_, m)| *m)
    }

    fn record(&mut self, t: BatchTime, batch_max: Option<EventTime>) {
        let before = self.max_before(t);
        let through = match (before, batch_max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.recent.retain(|(time, _)| *time < t.0);
        self.recent.push((t.0, through));
        let excess = self.recent.len().saturating_sub(2);
        self.recent.drain(..excess);
    }
}

/// A frame stream whose rows carry an event time; from [`FrameStream::event_time`].
#[derive(Clone, Debug)]
pub struct EventTimeFrames {
    frames: FrameStream,
    column: String,
    scale_dtype: DataType,
    lateness: Duration,
}

impl FrameStream {
    /// Declares `column` as the rows' event time (a datetime, a date, or integer
    /// milliseconds) and how late a row may arrive behind the largest event time seen
    /// (`allowed_lateness`).
    ///
    /// # Errors
    /// [`FrameError::UnknownColumn`] or [`FrameError::ColumnType`] for a column that is not
    /// in the schema or not a time.
    pub fn event_time(&self, column: &str, allowed_lateness: Duration) -> Result<EventTimeFrames> {
        let dtype = self
            .schema()
            .get(column)
            .ok_or_else(|| FrameError::UnknownColumn {
                name: column.to_string(),
                available: self.schema().iter_names().map(|n| n.to_string()).collect(),
            })?;
        TimeScale::of(column, dtype)?;
        if i64::try_from(allowed_lateness.as_millis()).is_err() {
            return Err(FrameError::invalid(
                "allowed_lateness",
                format!("{allowed_lateness:?}"),
                "is too long",
            ));
        }
        Ok(EventTimeFrames {
            frames: self.clone(),
            column: column.to_string(),
            scale_dtype: dtype.clone(),
            lateness: allowed_lateness,
        })
    }
}

impl EventTimeFrames {
    /// Sliding event-time windows `[k·slide, k·slide + size)` (tumbling when `slide ==
    /// size`).
    ///
    /// # Errors
    /// The core's window errors (zero or sub-millisecond durations, a slide longer than the
    /// size).
    pub fn window(&self, size: Duration, slide: Duration) -> Result<EventWindowedFrames> {
        let windows = EventWindows::sliding(size, slide)?;
        let (size_ms, slide_ms) = match windows {
            EventWindows::Sliding { size_ms, slide_ms } => (size_ms, slide_ms),
            _ => {
                return Err(FrameError::invalid(
                    "window",
                    format!("{size:?}"),
                    "must be sliding or tumbling",
                ));
            }
        };
        Ok(EventWindowedFrames {
            time: self.clone(),
            windows,
            pane_ms: gcd(size_ms, slide_ms),
        })
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Event-time windows of a frame stream; from [`EventTimeFrames::window`].
#[derive(Clone, Debug)]
pub struct EventWindowedFrames {
    time: EventTimeFrames,
    windows: EventWindows,
    pane_ms: i64,
}

/// The streams of an event-time query; from [`EventWindowedFrames::sql`].
#[derive(Clone, Debug)]
pub struct EventTimeSql {
    results: FrameStream,
    late: FrameStream,
}

impl EventTimeSql {
    /// One frame per batch: the results of the windows that closed in the batch, ordered by
    /// window start, with `window_start` and `window_end` in front of the query's columns.
    pub fn results(&self) -> &FrameStream {
        &self.results
    }

    /// The rows that arrived behind the watermark, or with a null time, as they arrived
    /// (the stream's schema); their count per batch is [`FrameStream::rows`].
    pub fn late(&self) -> &FrameStream {
        &self.late
    }
}

/// One piece of a partition after the watermark split.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Piece {
    /// On-time rows, with the event time in milliseconds as a last column `__t`.
    OnTime(Frame),
    Late(Frame),
    /// The largest event time of the partition's rows.
    Max(EventTime),
}

impl EventWindowedFrames {
    /// Runs `query` over the rows of every event-time window (the table `batch` holds the
    /// window's rows), once, when the window closes. Grouped aggregates that partials can
    /// hold are folded per pane as rows arrive; other queries keep each open window's rows.
    ///
    /// # Errors
    /// [`FrameError::Sql`] for a query that does not plan against the schema; a query whose
    /// output has a `window_start` or `window_end` column.
    pub fn sql(&self, query: impl Into<SqlQuery>) -> Result<EventTimeSql> {
        let query = query.into();
        let frames = &self.time.frames;
        let input = Arc::clone(frames.schema());
        let scale = TimeScale::of(&self.time.column, &self.time.scale_dtype)?;
        let window_type = scale.window_type(&self.time.scale_dtype);
        let mut with_time = input.as_ref().clone();
        with_time.insert(TIME.into(), DataType::Int64);
        let planned = WindowQuery::plan(&query, &input)?;
        let output = planned.output().clone();
        for name in ["window_start", "window_end"] {
            if output.contains(name) {
                return Err(FrameError::sql(
                    query.text(),
                    format!(
                        "the query's output has a column `{name}`, which the event-time windows add"
                    ),
                ));
            }
        }
        let mut result_schema = Schema::with_capacity(output.len() + 2);
        result_schema.insert("window_start".into(), window_type.clone());
        result_schema.insert("window_end".into(), window_type.clone());
        for (name, dtype) in output.iter() {
            result_schema.insert(name.clone(), dtype.clone());
        }
        let ssc = frames.context().clone();
        guard(
            &ssc,
            "event-time sql",
            &query,
            &format!(
                "{:?} {} {:?}",
                self.windows, self.time.column, self.time.lateness
            ),
        )?;
        let log = register_log(&ssc)?;
        let lateness = i64::try_from(self.time.lateness.as_millis()).unwrap_or(i64::MAX);
        let pieces = split_stream(frames, &self.time.column, scale, lateness, &log);
        let late = pieces.map_partitions(|pieces: Vec<Piece>| {
            pieces
                .into_iter()
                .filter_map(|p| match p {
                    Piece::Late(f) => Some(f),
                    _ => None,
                })
                .collect()
        });
        let maxima = pieces.map_partitions(|pieces: Vec<Piece>| {
            pieces
                .into_iter()
                .filter_map(|p| match p {
                    Piece::Max(m) => Some(m),
                    _ => None,
                })
                .collect()
        });
        let mirror = log.clone();
        maxima.foreach_rdd(move |rdd, t| {
            let batch_max = rdd.collect()?.into_iter().max();
            mirror.lock().record(t, batch_max);
            Ok(())
        })?;
        let on_time = pieces.map_partitions(|pieces: Vec<Piece>| {
            pieces
                .into_iter()
                .filter_map(|p| match p {
                    Piece::OnTime(f) => Some(f),
                    _ => None,
                })
                .collect()
        });
        let results = match planned {
            WindowQuery::Incremental(_) => {
                let q = match WindowQuery::plan_with_time(&query, &with_time, TIME)? {
                    Some(q) => Arc::new(q),
                    None => {
                        return Err(FrameError::sql(
                            query.text(),
                            "internal: the query split without its time column",
                        ));
                    }
                };
                incremental(
                    &on_time,
                    q,
                    self.windows,
                    self.pane_ms,
                    lateness,
                    window_type,
                    &result_schema,
                )?
            }
            WindowQuery::Recompute { query, .. } => recompute(
                &on_time,
                query,
                &input,
                self.windows,
                self.pane_ms,
                lateness,
                window_type,
                &result_schema,
            )?,
        };
        Ok(EventTimeSql {
            results: FrameStream::new(results, result_schema),
            late: FrameStream::new(late, input),
        })
    }
}

fn register_log(ssc: &spate_core::StreamingContext) -> Result<ManagedState<WatermarkLog>> {
    for n in 0.. {
        match ssc.managed_state(
            format!("spate-frame watermark #{n}"),
            WatermarkLog::default(),
        ) {
            Ok(state) => return Ok(state),
            Err(spate_core::Error::InvalidParameter { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("an unbounded range always yields a free name")
}

/// Splits every partition into on-time rows, late rows and its largest event time, by the
/// watermark of the batch; cached, since three streams read it.
fn split_stream(
    frames: &FrameStream,
    column: &str,
    scale: TimeScale,
    lateness: i64,
    log: &ManagedState<WatermarkLog>,
) -> DStream<Piece> {
    let (column, log, schema) = (column.to_string(), log.clone(), Arc::clone(frames.schema()));
    frames
        .stream()
        .transform(move |rdd, t| {
            // Read once per batch, when the batch's RDD is built: the batch's watermark.
            let watermark = log
                .lock()
                .max_before(t)
                .map_or(EventTime::MIN, |m| m.saturating_sub(lateness));
            let (column, schema) = (column.clone(), Arc::clone(&schema));
            rdd.try_map_partitions(move |frames: Vec<Frame>| {
                let rows = Frame::concat(&frames, &schema)?.into_df();
                split(rows, &column, scale, watermark)
            })
        })
        .persist()
}

fn split(
    rows: DataFrame,
    column: &str,
    scale: TimeScale,
    watermark: EventTime,
) -> Result<Vec<Piece>> {
    if rows.height() == 0 {
        return Ok(Vec::new());
    }
    let millis = scale.millis(rows.column(column)?)?;
    let mut out = Vec::with_capacity(3);
    if let Some(max) = millis.max() {
        out.push(Piece::Max(max));
    }
    let on_time: BooleanChunked = millis
        .iter()
        .map(|x| Some(x.is_some_and(|x| x >= watermark)))
        .collect();
    let late = rows.filter(&!&on_time)?;
    let mut kept = rows.filter(&on_time)?;
    let times = millis.filter(&on_time)?.with_name(TIME.into());
    kept.with_column(times.into_column())?;
    if late.height() > 0 {
        out.push(Piece::Late(Frame::new(late)));
    }
    if kept.height() > 0 {
        out.push(Piece::OnTime(Frame::new(kept)));
    }
    Ok(out)
}

impl WindowQuery {
    /// The incremental split of `query` with the time column carried through the pane query
    /// (as its last column), against `schema` (which has it).
    fn plan_with_time(
        query: &SqlQuery,
        schema: &Schema,
        time: &str,
    ) -> Result<Option<IncrementalQuery>> {
        IncrementalQuery::prepare_with_extra(query, schema, time)
    }
}

/// The pane of event time `x`: its start.
fn pane_of(x: EventTime, pane_ms: i64) -> EventTime {
    x.div_euclid(pane_ms) * pane_ms
}

/// Rows per (pane, group) folded into partials, through the core's event-time windows.
#[allow(clippy::too_many_arguments)]
fn incremental(
    on_time: &DStream<Frame>,
    q: Arc<IncrementalQuery>,
    windows: EventWindows,
    pane_ms: i64,
    lateness: i64,
    window_type: DataType,
    result_schema: &Schema,
) -> Result<DStream<Frame>> {
    // Keys plus the pane start; aggregates plus the largest event time of the group's rows.
    let mut spec = q.spec.clone();
    spec.keys.push(ValueKind::Int);
    spec.aggs.push(AggSpec {
        kind: AggKind::Max,
        arg: Some(ValueKind::Int),
    });
    let spec = Arc::new(spec);
    let panes = Arc::clone(&q);
    let records: DStream<(GroupKey, (EventTime, Partials))> = on_time.transform(move |rdd, _| {
        let (q, spec) = (Arc::clone(&panes), Arc::clone(&spec));
        rdd.try_map_partitions(move |frames: Vec<Frame>| {
            let mut out = Vec::new();
            for frame in frames {
                let rows = q.pane_rows(frame.into_df())?;
                let keyed = with_pane_column(rows, q.spec.keys.len(), pane_ms)?;
                for (mut key, mut partials) in spec.partials(&keyed, 0)? {
                    key.pop();
                    let max_ts = match partials.accs.pop() {
                        Some(crate::sql::partial::Acc::Extreme(v)) => match v.first() {
                            Some((_, Scalar::Int(x))) => *x,
                            _ => continue,
                        },
                        _ => continue,
                    };
                    partials.max.pop();
                    out.push((key, (max_ts, partials)));
                }
            }
            Ok::<_, FrameError>(out)
        })
    });
    let windowed = records
        .with_event_time(
            |(_, (ts, _))| *ts,
            Duration::from_millis(lateness.max(0) as u64),
        )?
        .aggregate_by_key_and_window(
            windows,
            |(_, p): (EventTime, Partials)| p,
            |acc: &mut Partials, (_, p): (EventTime, Partials)| acc.merge(&p),
            |acc: &mut Partials, other: Partials| acc.merge(&other),
            EmitMode::Final,
            LateData::Drop,
        )?;
    let schema = Arc::new(result_schema.clone());
    Ok(windowed.results().transform(move |rdd, _| {
        let (q, schema, window_type) = (Arc::clone(&q), Arc::clone(&schema), window_type.clone());
        rdd.repartition(1).try_map_partitions(
            move |results: Vec<WindowResult<GroupKey, Partials>>| {
                let mut by_window: std::collections::BTreeMap<
                    (EventTime, EventTime),
                    Vec<(GroupKey, Partials)>,
                > = Default::default();
                for r in results {
                    by_window
                        .entry((r.start, r.end))
                        .or_default()
                        .push((r.key, r.value));
                }
                let mut frames = Vec::with_capacity(by_window.len());
                for ((start, end), groups) in by_window {
                    let out = q.finish(&groups)?;
                    frames.push(Frame::new(with_window_columns(
                        out,
                        start,
                        end,
                        &window_type,
                    )?));
                }
                Ok::<_, FrameError>(vec![Frame::concat(&frames, &schema)?])
            },
        )
    }))
}

/// Rows per pane kept as frames, through the core's event-time windows; the query runs over
/// a window's rows when it closes.
#[allow(clippy::too_many_arguments)]
fn recompute(
    on_time: &DStream<Frame>,
    query: SqlQuery,
    input: &SchemaRef,
    windows: EventWindows,
    pane_ms: i64,
    lateness: i64,
    window_type: DataType,
    result_schema: &Schema,
) -> Result<DStream<Frame>> {
    let records: DStream<((), (EventTime, Frame))> = on_time.transform(move |rdd, _| {
        rdd.try_map_partitions(move |frames: Vec<Frame>| {
            let mut out = Vec::new();
            for frame in frames {
                out.extend(rows_by_pane(frame.into_df(), pane_ms)?);
            }
            Ok::<_, FrameError>(out.into_iter().map(|piece| ((), piece)).collect())
        })
    });
    let concat = |acc: &mut Frame, other: Frame| {
        let mut df = std::mem::take(acc).into_df();
        // Panes of one stream share a schema; a failure would be a bug upstream.
        if df.vstack_mut_owned(other.into_df()).is_err() {
            tracing::error!("event-time window rows with different schemas");
        }
        *acc = Frame::new(df);
    };
    let windowed = records
        .with_event_time(
            |(_, (ts, _))| *ts,
            Duration::from_millis(lateness.max(0) as u64),
        )?
        .aggregate_by_key_and_window(
            windows,
            |(_, rows): (EventTime, Frame)| rows,
            move |acc: &mut Frame, (_, rows): (EventTime, Frame)| concat(acc, rows),
            move |acc: &mut Frame, other: Frame| concat(acc, other),
            EmitMode::Final,
            LateData::Drop,
        )?;
    let (schema, input, query) = (
        Arc::new(result_schema.clone()),
        Arc::clone(input),
        Arc::new(query),
    );
    Ok(windowed.results().transform(move |rdd, _| {
        let (q, schema, input, window_type) = (
            Arc::clone(&query),
            Arc::clone(&schema),
            Arc::clone(&input),
            window_type.clone(),
        );
        rdd.repartition(1)
            .try_map_partitions(move |results: Vec<WindowResult<(), Frame>>| {
                let mut results = results;
                results.sort_by_key(|r| r.start);
                let mut frames = Vec::with_capacity(results.len());
                for r in results {
                    let rows = r.value.into_df().drop(TIME)?;
                    let rows = crate::sql::conform(rows, &input)?;
                    let out = q.run(rows)?;
                    frames.push(Frame::new(with_window_columns(
                        out,
                        r.start,
                        r.end,
                        &window_type,
                    )?));
                }
                Ok::<_, FrameError>(vec![Frame::concat(&frames, &schema)?])
            })
    }))
}

/// The pane query's rows with a pane-start column inserted after the `keys` key columns
/// (from the time column, the pane query's last).
fn with_pane_column(rows: DataFrame, keys: usize, pane_ms: i64) -> Result<DataFrame> {
    let time = rows.column(TIME)?.i64()?.clone();
    let panes = time
        .apply_values(|x| pane_of(x, pane_ms))
        .with_name("__p".into())
        .into_column();
    let mut columns = rows.into_columns();
    let time_column = columns.pop();
    columns.insert(keys, panes);
    columns.extend(time_column);
    Ok(DataFrame::new_infer_height(columns)?)
}

/// On-time rows cut into panes: `(largest event time, rows)` per pane.
fn rows_by_pane(rows: DataFrame, pane_ms: i64) -> Result<Vec<(EventTime, Frame)>> {
    let time = rows.column(TIME)?.i64()?.clone();
    let mut panes: std::collections::BTreeMap<EventTime, (EventTime, Vec<IdxSize>)> =
        Default::default();
    for (i, x) in time.into_no_null_iter().enumerate() {
        let entry = panes.entry(pane_of(x, pane_ms)).or_insert((x, Vec::new()));
        entry.0 = entry.0.max(x);
        entry.1.push(i as IdxSize);
    }
    panes
        .into_values()
        .map(|(max, idx)| {
            let idx = IdxCa::from_vec("".into(), idx);
            Ok((max, Frame::new(rows.take(&idx)?)))
        })
        .collect()
}

/// `out` with `window_start` and `window_end` columns in front.
fn with_window_columns(
    out: DataFrame,
    start: EventTime,
    end: EventTime,
    dtype: &DataType,
) -> Result<DataFrame> {
    let n = out.height();
    let bound = |name: &str, value: EventTime| -> Result<Column> {
        Ok(Int64Chunked::full(name.into(), value, n)
            .into_series()
            .cast(dtype)?
            .into_column())
    };
    let mut columns = vec![bound("window_start", start)?, bound("window_end", end)?];
    columns.extend(out.into_columns());
    Ok(DataFrame::new(n, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirrored_watermark_is_the_largest_time_of_earlier_batches() {
        let mut log = WatermarkLog::default();
        assert_eq!(log.max_before(BatchTime(1000)), None);
        log.record(BatchTime(1000), Some(50));
        log.record(BatchTime(2000), None);
        log.record(BatchTime(3000), Some(20));
        assert_eq!(log.max_before(BatchTime(3000)), Some(50));
        assert_eq!(log.max_before(BatchTime(4000)), Some(50));
        // Recording a batch again (a recomputed batch) gives the same result.
        log.record(BatchTime(3000), Some(70));
        assert_eq!(log.max_before(BatchTime(4000)), Some(70));
        assert_eq!(log.recent.len(), 2);
    }

    #[test]
    fn panes_are_aligned_and_hold_negative_times() {
        assert_eq!(pane_of(0, 10), 0);
        assert_eq!(pane_of(9, 10), 0);
        assert_eq!(pane_of(10, 10), 10);
        assert_eq!(pane_of(-1, 10), -10);
        assert_eq!(gcd(10_000, 4_000), 2_000);
    }
}

//! [`FrameStream`]: a `DStream<Frame>` with its schema, and SQL over its batches and windows.

use crate::error::{FrameError, Result};
use crate::frame::Frame;
use crate::sql::partial::{GroupKey, Partials};
use crate::sql::{IncrementalQuery, SqlQuery, WindowQuery, WindowStrategy};
use polars::prelude::SchemaRef;
use spate_core::stream::StreamingContext;
use spate_core::{DStream, Window};
use std::sync::Arc;

/// A stream of frames that all have one schema: the frame-level view of a `DStream<Frame>`.
///
/// Each batch of the stream is an RDD of [`Frame`]s, typically one per partition; SQL sees
/// the batch as one table, `batch`, made of all of them. The schema is known when the stream
/// is built (sources infer it from their input), so queries are planned and checked before
/// any data flows.
///
/// | operation | runs | cost |
/// |---|---|---|
/// | [`sql`](Self::sql) | the query on each batch | one polars query per batch |
/// | [`window`](Self::window)`(w).sql(q)` | the query on each window, every slide | incremental: O(groups of the entering and leaving batches); otherwise one polars query over the window's rows |
/// | [`event_time`](Self::event_time) | event-time windows with watermarks | see [`EventTimeFrames`](crate::EventTimeFrames) |
#[derive(Clone)]
pub struct FrameStream {
    stream: DStream<Frame>,
    schema: SchemaRef,
}

impl std::fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameStream({:?}, {:?})", self.stream, self.schema)
    }
}

impl FrameStream {
    /// A frame stream over `stream`, whose frames all have `schema`.
    pub fn new(stream: DStream<Frame>, schema: impl Into<SchemaRef>) -> FrameStream {
        FrameStream {
            stream,
            schema: schema.into(),
        }
    }

    /// The underlying DStream.
    pub fn stream(&self) -> &DStream<Frame> {
        &self.stream
    }

    /// The schema every frame of the stream has.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The streaming context.
    pub fn context(&self) -> &StreamingContext {
        self.stream.context()
    }

    /// Runs `query` on every batch (the table `batch` holds all the batch's rows), giving one
    /// frame per batch; an empty batch gives the query's result over no rows.
    ///
    /// # Errors
    /// [`FrameError::Sql`] when the query does not parse or plan against the schema (an
    /// unknown column, a type error), before any data flows.
    pub fn sql(&self, query: impl Into<SqlQuery>) -> Result<FrameStream> {
        let query = query.into();
        let output = query.check(&self.schema)?.schema().clone();
        guard(self.context(), "sql", &query, "")?;
        let input_schema = Arc::clone(&self.schema);
        let (q, out) = (Arc::new(query), Arc::clone(&output));
        let stream = self.stream.transform(move |rdd, _| {
            let (q, schema, out) = (Arc::clone(&q), Arc::clone(&input_schema), Arc::clone(&out));
            rdd.repartition(1)
                .try_map_partitions(move |frames: Vec<Frame>| {
                    let batch = Frame::concat(&frames, &schema)?;
                    // Polars types a few results differently on no rows; the schema is the contract.
                    let result = crate::sql::conform(q.run(batch.into_df())?, &out)?;
                    Ok::<_, FrameError>(vec![Frame::new(result)])
                })
        });
        Ok(FrameStream::new(stream, output))
    }

    /// The stream's sliding windows; see [`WindowedFrames::sql`].
    pub fn window(&self, window: Window) -> WindowedFrames {
        WindowedFrames {
            frames: self.clone(),
            window,
        }
    }

    /// Rows per batch.
    pub fn rows(&self) -> DStream<u64> {
        self.stream
            .map_partitions_ref(|frames: &[Frame]| {
                vec![frames.iter().map(|f| f.height() as u64).sum::<u64>()]
            })
            .reduce(|a, b| a + b)
    }
}

/// The sliding windows of a [`FrameStream`], from [`FrameStream::window`].
#[derive(Clone, Debug)]
pub struct WindowedFrames {
    frames: FrameStream,
    window: Window,
}

impl WindowedFrames {
    /// Runs `query` over every window (the table `batch` holds the window's rows), once per
    /// slide.
    ///
    /// Grouped aggregates that partials can hold (see [`WindowStrategy`] and the crate docs)
    /// are incremental: each batch is aggregated once, when it arrives, into per-group
    /// partials; a slide merges the partials of the batches that enter and retracts those of
    /// the batches that leave (the core's `merge_by_key_and_window`), so its cost does not
    /// grow with the window length. Other queries are recomputed over the window's rows.
    /// Both give what polars gives on the window's rows in batch mode (incremental float
    /// aggregates up to rounding: ~1e-12 relative).
    ///
    /// # Errors
    /// [`FrameError::Sql`] for a query that does not plan against the schema, and the core's
    /// window errors (a length or slide that is not a multiple of the batch interval).
    pub fn sql(&self, query: impl Into<SqlQuery>) -> Result<FrameStream> {
        let query = query.into();
        let planned = WindowQuery::plan(&query, &self.frames.schema)?;
        let output = planned.output().clone();
        let params = format!("{:?}", self.window);
        guard(self.frames.context(), "window sql", &query, &params)?;
        let stream = match planned {
            WindowQuery::Incremental(q) => {
                tracing::info!(query = query.text(), "windowed query runs incrementally");
                incremental(&self.frames, Arc::new(*q), self.window)?
            }
            WindowQuery::Recompute { query, reason, .. } => {
                tracing::info!(query = query.text(), %reason, "windowed query is recomputed per window");
                return FrameStream::new(
                    self.frames.stream.window(self.window)?,
                    Arc::clone(&self.frames.schema),
                )
                .sql(query);
            }
        };
        Ok(FrameStream::new(stream, output))
    }

    /// How `query` would run over these windows.
    ///
    /// # Errors
    /// As [`sql`](Self::sql).
    pub fn strategy(&self, query: &SqlQuery) -> Result<WindowStrategy> {
        query.window_strategy(&self.frames.schema)
    }

    /// The frames of every window (all the frames of its batches), every slide.
    ///
    /// # Errors
    /// The core's window errors.
    pub fn frames(&self) -> Result<FrameStream> {
        Ok(FrameStream::new(
            self.frames.stream.window(self.window)?,
            Arc::clone(&self.frames.schema),
        ))
    }
}

/// An incremental windowed query: pane partials per batch, the core's incremental window,
/// then the window query over one row per group.
fn incremental(
    frames: &FrameStream,
    q: Arc<IncrementalQuery>,
    window: Window,
) -> Result<DStream<Frame>> {
    let schema = Arc::clone(&frames.schema);
    let panes = Arc::clone(&q);
    let partials: DStream<(GroupKey, Partials)> = frames.stream.transform(move |rdd, t| {
        let (q, schema) = (Arc::clone(&panes), Arc::clone(&schema));
        rdd.try_map_partitions(move |frames: Vec<Frame>| {
            let rows = Frame::concat(&frames, &schema)?;
            q.pane_partials(rows.into_df(), t.millis())
        })
    });
    let windows = partials.merge_by_key_and_window(window)?;
    Ok(windows.transform(move |rdd, _| {
        let q = Arc::clone(&q);
        rdd.repartition(1)
            .try_map_partitions(move |groups: Vec<(GroupKey, Partials)>| {
                Ok::<_, FrameError>(vec![Frame::new(q.finish(&groups)?)])
            })
    }))
}

/// Registers a checkpointed marker named after the query, so that a checkpoint written by a
/// program with another query (or window) is refused on restart: the core's graph
/// fingerprint covers managed-state names but not closures.
pub(crate) fn guard(
    ssc: &StreamingContext,
    what: &str,
    query: &SqlQuery,
    params: &str,
) -> Result<()> {
    let mut desc = format!("{what} {params} {}", query.text());
    for name in query.table_names() {
        desc.push_str(&format!(" table {name}"));
    }
    let hash = spate_core::partitioner::stable_hash(&desc);
    for n in 0.. {
        let name = format!("spate-frame {what} {hash:016x} #{n}");
        match ssc.managed_state(name, ()) {
            Ok(_) => return Ok(()),
            Err(spate_core::Error::InvalidParameter { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

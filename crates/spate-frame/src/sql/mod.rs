//! SQL over frames: a query, the static tables it may join, and how it runs per batch and
//! per window.

pub(crate) mod partial;
pub(crate) mod plan;

use crate::error::{FrameError, Result};
use partial::{AggSpec, GroupKey, PartialSpec, Partials, ValueKind};
pub use plan::BATCH_TABLE;
use plan::{Split, Strategy};
use polars::prelude::*;
use polars::sql::SQLContext;

/// A SQL query over the current batch or window of a frame stream, which the query names as
/// the table `batch`, and the static tables (dimension tables) it may join.
///
/// The dialect is polars SQL. Only single `SELECT` queries are accepted; anything else is a
/// [`FrameError::Sql`] when the stream is built.
///
/// ```
/// use polars::prelude::*;
/// use spate_frame::SqlQuery;
///
/// let airlines = df!("carrier" => ["AA", "UA"], "name" => ["American", "United"])?;
/// let query = SqlQuery::new(
///     "SELECT a.name, count(*) AS flights FROM batch b JOIN airlines a ON b.carrier = a.carrier \
///      GROUP BY a.name",
/// )
/// .table("airlines", airlines)?;
/// let batch = df!("carrier" => ["AA", "AA", "UA", "DL"])?;
/// let out = query.run(batch)?.sort(["name"], Default::default())?;
/// assert_eq!(out.column("flights")?.u32()?.to_vec(), [Some(2), Some(1)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct SqlQuery {
    text: String,
    tables: Vec<(String, DataFrame)>,
}

impl SqlQuery {
    /// A query with no static tables.
    pub fn new(text: impl Into<String>) -> SqlQuery {
        SqlQuery {
            text: text.into(),
            tables: Vec::new(),
        }
    }

    /// Registers `frame` as the static table `name`, for joins.
    ///
    /// # Errors
    /// [`FrameError::TableName`] when `name` is `batch`, empty, or already registered.
    pub fn table(mut self, name: impl Into<String>, frame: DataFrame) -> Result<SqlQuery> {
        let name = name.into();
        if name.eq_ignore_ascii_case(BATCH_TABLE) {
            return Err(FrameError::TableName {
                name,
                reason: "`batch` is the current batch or window",
            });
        }
        if name.is_empty() {
            return Err(FrameError::TableName {
                name,
                reason: "a table needs a name",
            });
        }
        if self
            .tables
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            return Err(FrameError::TableName {
                name,
                reason: "is already registered",
            });
        }
        self.tables.push((name, frame));
        Ok(self)
    }

    /// The query text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The names of the static tables.
    pub fn table_names(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(|(n, _)| n.as_str())
    }

    /// Runs the query once over `batch`, with polars, in batch mode.
    ///
    /// # Errors
    /// [`FrameError::Sql`] when the query is not a single `SELECT`, [`FrameError::Polars`]
    /// when polars cannot plan or run it (an unknown column, a type error).
    pub fn run(&self, batch: DataFrame) -> Result<DataFrame> {
        plan::parse_select(&self.text)?;
        self.execute(&self.text, batch)
    }

    /// How the query runs over windows of a stream with this schema: incrementally from
    /// per-pane partials, or recomputed over the whole window (with the reason).
    ///
    /// # Errors
    /// As [`run`](Self::run), for a query that does not plan against `schema`.
    pub fn window_strategy(&self, schema: &Schema) -> Result<WindowStrategy> {
        Ok(match WindowQuery::plan(self, schema)? {
            WindowQuery::Incremental(_) => WindowStrategy::Incremental,
            WindowQuery::Recompute { reason, .. } => WindowStrategy::Recompute { reason },
        })
    }

    fn execute(&self, sql: &str, batch: DataFrame) -> Result<DataFrame> {
        let mut ctx = SQLContext::new();
        ctx.register(BATCH_TABLE, batch.lazy());
        for (name, table) in &self.tables {
            ctx.register(name, table.clone().lazy());
        }
        let lazy = ctx.execute(sql).map_err(|e| FrameError::sql(sql, e))?;
        Ok(lazy.collect()?)
    }

    /// The same static tables with another query text.
    fn with_text(&self, text: String) -> SqlQuery {
        SqlQuery {
            text,
            tables: self.tables.clone(),
        }
    }

    /// Runs the query on an empty batch of `schema`: checks it plans, and gives its output
    /// (the result over an empty batch or window).
    pub(crate) fn check(&self, schema: &Schema) -> Result<DataFrame> {
        plan::parse_select(&self.text)?;
        self.execute(&self.text, DataFrame::empty_with_schema(schema))
            .map_err(|e| match e {
                FrameError::Polars(p) => FrameError::sql(&self.text, p),
                other => other,
            })
    }
}

impl From<&str> for SqlQuery {
    fn from(text: &str) -> SqlQuery {
        SqlQuery::new(text)
    }
}

impl From<String> for SqlQuery {
    fn from(text: String) -> SqlQuery {
        SqlQuery::new(text)
    }
}

/// How a windowed query runs; see [`SqlQuery::window_strategy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowStrategy {
    /// From per-pane partial aggregates: each batch is aggregated once when it arrives, and
    /// a slide merges the entering panes and retracts the leaving ones. Cost per slide:
    /// O(groups of the entering and leaving batches + groups in the window).
    Incremental,
    /// Recomputed with polars over all the rows of the window at every slide: O(window).
    Recompute {
        /// Why the query cannot be computed from partials.
        reason: String,
    },
}

/// A windowed query, planned against a schema.
#[derive(Clone, Debug)]
pub(crate) enum WindowQuery {
    Incremental(Box<IncrementalQuery>),
    Recompute {
        query: SqlQuery,
        output: Schema,
        reason: String,
    },
}

impl WindowQuery {
    pub(crate) fn plan(query: &SqlQuery, schema: &Schema) -> Result<WindowQuery> {
        let empty = query.check(schema)?;
        let output = empty.schema().as_ref().clone();
        Ok(match plan::analyze(&query.text)? {
            Strategy::Incremental(split) => match IncrementalQuery::prepare(
                query,
                split.clone(),
                split.pane_sql(),
                schema,
                empty,
            ) {
                Ok(q) => WindowQuery::Incremental(Box::new(q)),
                Err(reason) => WindowQuery::Recompute {
                    query: query.clone(),
                    output,
                    reason,
                },
            },
            Strategy::Recompute(reason) => WindowQuery::Recompute {
                query: query.clone(),
                output,
                reason,
            },
        })
    }

    /// The schema of the query's results.
    pub(crate) fn output(&self) -> &Schema {
        match self {
            WindowQuery::Incremental(q) => &q.output,
            WindowQuery::Recompute { output, .. } => output,
        }
    }
}

/// An incremental windowed query, ready to run: the pane query, the window query, and the
/// types that connect them.
#[derive(Clone, Debug)]
pub(crate) struct IncrementalQuery {
    pane: SqlQuery,
    window: SqlQuery,
    pub(crate) spec: PartialSpec,
    key_types: Vec<DataType>,
    value_types: Vec<DataType>,
    output: Schema,
    /// The query's result over an empty window.
    empty: DataFrame,
}

impl IncrementalQuery {
    /// Types the split against `schema`; a query whose aggregate arguments partials cannot
    /// hold (a `SUM` of text, a `MIN` of a list) gives the reason to recompute instead.
    fn prepare(
        query: &SqlQuery,
        split: Split,
        pane_sql: String,
        schema: &Schema,
        empty: DataFrame,
    ) -> std::result::Result<IncrementalQuery, String> {
        let pane = query.with_text(pane_sql);
        let pane_out = pane
            .check(schema)
            .map_err(|e| format!("the pane query does not plan: {e}"))?;
        let types: Vec<DataType> = pane_out.schema().iter_values().cloned().collect();
        let mut keys = Vec::with_capacity(split.keys);
        for dtype in types.iter().take(split.keys) {
            keys.push(
                ValueKind::of(dtype)
                    .ok_or_else(|| format!("GROUP BY on a {dtype} column is recomputed"))?,
            );
        }
        let mut aggs = Vec::with_capacity(split.aggs.len());
        let mut value_types = Vec::with_capacity(split.aggs.len());
        let mut next = split.keys;
        for agg in &split.aggs {
            let arg = if agg.has_arg {
                let dtype = types.get(next).cloned().unwrap_or(DataType::Null);
                next += 1;
                let kind = ValueKind::of(&dtype)
                    .filter(|k| agg.kind.accepts(*k))
                    .ok_or_else(|| format!("{:?} of a {dtype} column is recomputed", agg.kind))?;
                Some((kind, dtype))
            } else {
                None
            };
            let spec = AggSpec {
                kind: agg.kind,
                arg: arg.as_ref().map(|(k, _)| *k),
            };
            value_types.push(match (&arg, agg.kind) {
                (Some((_, dtype)), partial::AggKind::Min | partial::AggKind::Max) => dtype.clone(),
                _ => spec.value_kind().physical(),
            });
            aggs.push(spec);
        }
        let spec = PartialSpec { keys, aggs };
        let key_types: Vec<DataType> = types.iter().take(split.keys).cloned().collect();
        let window = SqlQuery::new(split.window_sql);
        let window_schema = spec.window_schema(&key_types, &value_types);
        let out = window
            .check(&window_schema)
            .map_err(|e| format!("the window query does not plan: {e}"))?;
        if out.width() != empty.width() {
            return Err("the window query's columns differ from the query's".into());
        }
        Ok(IncrementalQuery {
            pane,
            window,
            spec,
            key_types,
            value_types,
            output: empty.schema().as_ref().clone(),
            empty,
        })
    }

    /// The split of `query` with the batch's column `column` carried through the pane query
    /// as its last column (`schema` has it); `None` when the query is not incremental.
    pub(crate) fn prepare_with_extra(
        query: &SqlQuery,
        schema: &Schema,
        column: &str,
    ) -> Result<Option<IncrementalQuery>> {
        let empty = query.check(schema)?;
        Ok(match plan::analyze(&query.text)? {
            Strategy::Incremental(split) => {
                let pane_sql = split.pane_sql_with(column);
                IncrementalQuery::prepare(query, split, pane_sql, schema, empty).ok()
            }
            Strategy::Recompute(_) => None,
        })
    }

    /// The partials of each group of one pane (batch) of rows.
    pub(crate) fn pane_partials(
        &self,
        rows: DataFrame,
        pane: u64,
    ) -> Result<Vec<(GroupKey, Partials)>> {
        if rows.height() == 0 {
            return Ok(Vec::new());
        }
        let pane_frame = self.pane.execute(&self.pane.text, rows)?;
        self.spec.partials(&pane_frame, pane)
    }

    /// The pane query's rows for `rows` (keys and aggregate arguments), for callers that add
    /// columns of their own before computing partials.
    pub(crate) fn pane_rows(&self, rows: DataFrame) -> Result<DataFrame> {
        self.pane.execute(&self.pane.text, rows)
    }

    /// The query's result for a window whose merged partials are `groups`.
    pub(crate) fn finish(&self, groups: &[(GroupKey, Partials)]) -> Result<DataFrame> {
        if groups.is_empty() {
            return Ok(self.empty.clone());
        }
        let frame = self
            .spec
            .window_frame(groups, &self.key_types, &self.value_types)?;
        let out = self.window.execute(&self.window.text, frame)?;
        conform(out, &self.output)
    }
}

/// `frame` with the names and types of `schema`, column by column (the window query names
/// its columns after `__k`/`__g`; the original query's names and types are the contract).
pub(crate) fn conform(frame: DataFrame, schema: &Schema) -> Result<DataFrame> {
    if frame.width() != schema.len() {
        return Err(FrameError::SchemaMismatch {
            reason: format!(
                "{} columns where the query gives {}",
                frame.width(),
                schema.len()
            ),
        });
    }
    let height = frame.height();
    let columns = frame
        .into_columns()
        .into_iter()
        .zip(schema.iter())
        .map(|(c, (name, dtype))| {
            let c = if c.dtype() == dtype {
                c
            } else {
                c.cast(dtype)?
            };
            Ok(c.with_name(name.clone()))
        })
        .collect::<Result<Vec<Column>>>()?;
    Ok(DataFrame::new(height, columns)?)
}

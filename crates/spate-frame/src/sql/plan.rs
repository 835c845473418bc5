//! Which windowed queries are incremental, and how they are split into a per-pane query and a
//! per-window query.
//!
//! A query is parsed with the same SQL parser and dialect polars uses (`sqlparser`, generic
//! dialect). It is computed incrementally when it is a single `SELECT` of this shape:
//!
//! ```sql
//! SELECT <expressions of group keys and aggregates>
//! FROM batch [alias] [[INNER | LEFT [OUTER] | CROSS] JOIN <static table> ...]
//! [WHERE <row filter>]
//! [GROUP BY <expressions>]
//! [HAVING <condition on group keys and aggregates>]
//! [ORDER BY ...] [LIMIT ...] [OFFSET ...]
//! ```
//!
//! where every aggregate is one of `COUNT(*)`, `COUNT(x)`, `SUM(x)`, `TOTAL(x)`, `AVG(x)`,
//! `MIN(x)`, `MAX(x)`, `VAR(x)` (`VARIANCE`, `VAR_SAMP`), `STDDEV(x)` (`STDEV`,
//! `STDDEV_SAMP`, `STDEV_SAMP`) without `DISTINCT`, `FILTER` or `OVER`, and `x` is any row
//! expression. The batch must be the left side of its joins: a join with a static table then
//! distributes over the panes of a window. Everything else — `DISTINCT`, window functions,
//! `MEDIAN`, `COUNT(DISTINCT …)`, subqueries, `UNION`, `WITH`, `RIGHT`/`FULL` joins, columns
//! that are neither grouped nor aggregated — is recomputed over the whole window with polars.
//!
//! The split: the *pane query* `SELECT <group keys> AS __k0.., <aggregate arguments> AS
//! __a0.. FROM <from> WHERE <where>` runs on each new batch, and its rows are folded into
//! per-group partials ([`partial`](super::partial)); the *window query* is the original
//! query with each aggregate replaced by its merged value `__g<j>`, each group key by
//! `__k<i>`, `HAVING` moved to `WHERE`, over one row per group.

use super::partial::AggKind;
use crate::error::{FrameError, Result};
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, JoinOperator,
    ObjectName, OrderByKind, Query, Select, SelectFlavor, SelectItem, SetExpr, Statement,
    TableFactor, Value, VisitMut, VisitorMut, visit_expressions,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserOptions};
use std::ops::ControlFlow;

/// The table name under which a query sees the current batch or window.
pub const BATCH_TABLE: &str = "batch";

/// Aggregates polars SQL knows that partials cannot hold: their presence forces a recompute.
const OTHER_AGGREGATES: &[&str] = &[
    "median",
    "first",
    "last",
    "quantile_cont",
    "quantile_disc",
    "string_agg",
    "listagg",
    "group_concat",
    "corr",
    "covar",
    "covar_pop",
    "covar_samp",
    "array_agg",
    "mode",
];

/// A query parsed and checked to be one `SELECT` statement.
pub(crate) fn parse_select(text: &str) -> Result<Query> {
    let statements = Parser::new(&GenericDialect)
        .with_options(ParserOptions::new().with_trailing_commas(true))
        .try_with_sql(text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| FrameError::sql(text, e))?;
    match <[Statement; 1]>::try_from(statements) {
        Ok([Statement::Query(query)]) => Ok(*query),
        Ok(_) => Err(FrameError::sql(
            text,
            "only SELECT queries are allowed (no DDL, DML or other statements)",
        )),
        Err(statements) => Err(FrameError::sql(
            text,
            format!("expected one statement, found {}", statements.len()),
        )),
    }
}

/// One aggregate of an incremental query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlannedAgg {
    pub kind: AggKind,
    /// Whether the pane query has an argument column (`__a<n>`) for it.
    pub has_arg: bool,
}

/// The two queries an incremental windowed query is split into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    /// The pane query's columns: group keys as `__k0..`, then aggregate arguments as
    /// `__a0..`.
    pub pane_items: Vec<String>,
    /// The pane query's `FROM … [WHERE …]`.
    pub pane_from: String,
    /// Per window, over a table `batch` of one row per group (`__k..`, `__g..`).
    pub window_sql: String,
    /// Number of group keys.
    pub keys: usize,
    /// The aggregates, in `__g` order.
    pub aggs: Vec<PlannedAgg>,
    /// What the batch is called in the pane query (its alias, or `batch`).
    pub batch_name: String,
}

impl Split {
    /// The pane query: one row per input row that passes the `WHERE` clause.
    pub(crate) fn pane_sql(&self) -> String {
        if self.pane_items.is_empty() {
            // COUNT(*) alone: the pane query still needs a column to count rows of.
            return format!("SELECT 1 AS __r {}", self.pane_from);
        }
        format!("SELECT {} {}", self.pane_items.join(", "), self.pane_from)
    }

    /// The pane query with the batch's column `column` carried as its last column.
    pub(crate) fn pane_sql_with(&self, column: &str) -> String {
        let mut items = self.pane_items.clone();
        items.push(format!(
            "\"{}\".\"{column}\" AS \"{column}\"",
            self.batch_name
        ));
        format!("SELECT {} {}", items.join(", "), self.pane_from)
    }
}

/// How a windowed query will run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    Incremental(Split),
    /// Recomputed over the whole window, with the reason it cannot be incremental.
    Recompute(String),
}

/// Decides how `text` runs over windows. Plan errors (does not parse, not a `SELECT`) are
/// errors; a valid query that partials cannot express is [`Strategy::Recompute`].
pub(crate) fn analyze(text: &str) -> Result<Strategy> {
    let query = parse_select(text)?;
    Ok(match split(&query) {
        Ok(split) => Strategy::Incremental(split),
        Err(reason) => Strategy::Recompute(reason),
    })
}

type NotIncremental = String;

fn split(query: &Query) -> std::result::Result<Split, NotIncremental> {
    if query.with.is_some() {
        return Err("WITH clauses are recomputed".into());
    }
    if query.fetch.is_some()
        || !query.locks.is_empty()
        || query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return Err("FETCH and dialect-specific query clauses are recomputed".into());
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err("set operations (UNION, INTERSECT, EXCEPT) and VALUES are recomputed".into());
    };
    check_select_shape(select)?;
    let batch_name = check_from(select)?;
    let GroupByExpr::Expressions(group_exprs, modifiers) = &select.group_by else {
        return Err("GROUP BY ALL is recomputed".into());
    };
    if !modifiers.is_empty() {
        return Err("GROUP BY modifiers (ROLLUP, CUBE, GROUPING SETS) are recomputed".into());
    }
    let mut projection = Vec::with_capacity(select.projection.len());
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                projection.push(e.clone())
            }
            _ => return Err("wildcards in SELECT are recomputed".into()),
        }
    }
    let keys: Vec<Expr> = group_exprs
        .iter()
        .map(|e| resolve_ordinal(e, &projection))
        .collect::<std::result::Result<_, _>>()?;
    for e in keys
        .iter()
        .chain(&projection)
        .chain(&select.selection)
        .chain(&select.having)
    {
        check_no_subquery(e)?;
    }
    let order_by: Vec<Expr> = match &query.order_by {
        None => Vec::new(),
        Some(o) => match &o.kind {
            OrderByKind::Expressions(exprs) => exprs.iter().map(|e| e.expr.clone()).collect(),
            OrderByKind::All(_) => return Err("ORDER BY ALL is recomputed".into()),
        },
    };
    for e in &order_by {
        check_no_subquery(e)?;
    }

    let mut rewriter = Rewriter::new(&keys);
    let mut window_select = select.as_ref().clone();
    for item in &mut window_select.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                rewriter.rewrite(e)?
            }
            _ => return Err("wildcards in SELECT are recomputed".into()),
        }
    }
    let mut having = select.having.clone();
    if let Some(h) = &mut having {
        rewriter.rewrite(h)?;
    }
    let mut window_query = query.clone();
    if let Some(o) = &mut window_query.order_by
        && let OrderByKind::Expressions(exprs) = &mut o.kind
    {
        for e in exprs {
            rewriter.rewrite(&mut e.expr)?;
        }
    }
    if rewriter.aggs.is_empty() && keys.is_empty() {
        return Err("queries without aggregates are recomputed over the window".into());
    }
    let aliases: Vec<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            _ => None,
        })
        .collect();
    for e in window_select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
    {
        check_only_partials(e, &[])?;
    }
    if let Some(h) = &having {
        check_only_partials(h, &[])?;
    }
    if let Some(o) = &window_query.order_by
        && let OrderByKind::Expressions(exprs) = &o.kind
    {
        for e in exprs {
            check_only_partials(&e.expr, &aliases)?;
        }
    }

    // The window query: the original over one row per group.
    window_select.from = parse_from(&format!("SELECT 1 FROM {BATCH_TABLE}"));
    window_select.selection = having;
    window_select.having = None;
    window_select.group_by = GroupByExpr::Expressions(Vec::new(), Vec::new());
    *window_query.body = SetExpr::Select(Box::new(window_select));

    // The pane query: keys and aggregate arguments per row.
    let items: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} AS __k{i}"))
        .collect();
    let mut items = items;
    let mut aggs = Vec::with_capacity(rewriter.aggs.len());
    let mut arg = 0;
    for agg in &rewriter.aggs {
        if let Some(e) = &agg.arg {
            items.push(format!("{e} AS __a{arg}"));
            arg += 1;
        }
        aggs.push(PlannedAgg {
            kind: agg.kind,
            has_arg: agg.arg.is_some(),
        });
    }
    let from: Vec<String> = select.from.iter().map(ToString::to_string).collect();
    let mut pane_from = format!("FROM {}", from.join(", "));
    if let Some(w) = &select.selection {
        pane_from.push_str(&format!(" WHERE {w}"));
    }
    Ok(Split {
        pane_items: items,
        pane_from,
        window_sql: window_query.to_string(),
        keys: keys.len(),
        aggs,
        batch_name,
    })
}

fn check_select_shape(select: &Select) -> std::result::Result<(), NotIncremental> {
    if select.distinct.is_some() || select.top.is_some() {
        return Err("SELECT DISTINCT and TOP are recomputed".into());
    }
    if select.into.is_some()
        || !select.lateral_views.is_empty()
        || select.prewhere.is_some()
        || !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || select.qualify.is_some()
        || select.value_table_mode.is_some()
        || select.exclude.is_some()
        || select.select_modifiers.is_some()
        || !select.optimizer_hints.is_empty()
        || select.flavor != SelectFlavor::Standard
    {
        return Err("dialect-specific SELECT clauses are recomputed".into());
    }
    if !select.named_window.is_empty() {
        return Err("window functions are recomputed".into());
    }
    Ok(())
}

/// Checks that the batch is the leftmost table and every join keeps its rows row by row;
/// returns what the batch is called in the query.
fn check_from(select: &Select) -> std::result::Result<String, NotIncremental> {
    let [from] = select.from.as_slice() else {
        return Err("comma joins are recomputed; write JOIN … ON".into());
    };
    let TableFactor::Table {
        name, alias, args, ..
    } = &from.relation
    else {
        return Err("subqueries in FROM are recomputed".into());
    };
    if args.is_some() || !is_batch(name) {
        return Err(format!(
            "the batch must be the first table in FROM (found {name})"
        ));
    }
    for join in &from.joins {
        match &join.join_operator {
            JoinOperator::Join(_)
            | JoinOperator::Inner(_)
            | JoinOperator::Left(_)
            | JoinOperator::LeftOuter(_)
            | JoinOperator::CrossJoin(_) => {}
            _ => {
                return Err(
                    "only INNER, LEFT and CROSS joins of the batch with static tables are incremental"
                        .into(),
                );
            }
        }
        match &join.relation {
            TableFactor::Table {
                name, args: None, ..
            } if !is_batch(name) => {}
            _ => {
                return Err("joins with subqueries or with the batch itself are recomputed".into());
            }
        }
    }
    Ok(alias
        .as_ref()
        .map_or_else(|| BATCH_TABLE.to_string(), |a| a.name.value.clone()))
}

fn is_batch(name: &ObjectName) -> bool {
    name.to_string().eq_ignore_ascii_case(BATCH_TABLE)
}

fn parse_from(sql: &str) -> Vec<sqlparser::ast::TableWithJoins> {
    match parse_select(sql).map(|q| *q.body) {
        Ok(SetExpr::Select(s)) => s.from,
        _ => Vec::new(),
    }
}

/// `GROUP BY 2` names the second projection expression.
fn resolve_ordinal(e: &Expr, projection: &[Expr]) -> std::result::Result<Expr, NotIncremental> {
    if let Expr::Value(v) = e
        && let Value::Number(n, _) = &v.value
    {
        let i: usize = n
            .parse()
            .map_err(|_| format!("GROUP BY {n} is not a column position"))?;
        return i
            .checked_sub(1)
            .and_then(|i| projection.get(i))
            .cloned()
            .ok_or_else(|| format!("GROUP BY {n} is out of range"));
    }
    Ok(e.clone())
}

fn check_no_subquery(e: &Expr) -> std::result::Result<(), NotIncremental> {
    let found = visit_expressions(e, |e| match e {
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    if found.is_break() {
        return Err("subqueries are recomputed".into());
    }
    Ok(())
}

/// After rewriting, an expression may only read group keys (`__k`), aggregates (`__g`) and,
/// in ORDER BY, projection aliases.
fn check_only_partials(e: &Expr, aliases: &[String]) -> std::result::Result<(), NotIncremental> {
    let mut bad = None;
    let _ = visit_expressions(e, |e| {
        let name = match e {
            Expr::Identifier(id) => id.value.clone(),
            Expr::CompoundIdentifier(ids) => ids
                .iter()
                .map(|i| i.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
            _ => return ControlFlow::Continue(()),
        };
        let partial = name.starts_with("__k") || name.starts_with("__g");
        if !partial && !aliases.contains(&name) {
            bad = Some(name);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    match bad {
        Some(name) => Err(format!(
            "column `{name}` is neither a GROUP BY key nor inside an aggregate"
        )),
        None => Ok(()),
    }
}

/// One distinct aggregate found in the query.
struct FoundAgg {
    text: String,
    kind: AggKind,
    arg: Option<Expr>,
}

/// Replaces aggregates by `__g<j>` and group keys by `__k<i>` in place.
struct Rewriter {
    keys: Vec<String>,
    /// For keys that are plain columns: the column name, so `b.carrier` and `carrier` both
    /// match `GROUP BY carrier`.
    key_columns: Vec<Option<String>>,
    aggs: Vec<FoundAgg>,
    error: Option<NotIncremental>,
}

impl Rewriter {
    fn new(keys: &[Expr]) -> Rewriter {
        Rewriter {
            keys: keys.iter().map(ToString::to_string).collect(),
            key_columns: keys.iter().map(column_name).collect(),
            aggs: Vec::new(),
            error: None,
        }
    }

    fn rewrite(&mut self, e: &mut Expr) -> std::result::Result<(), NotIncremental> {
        let _ = e.visit(self);
        match self.error.take() {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    /// The aggregate `e` denotes, `Ok(None)` if it is not an aggregate.
    fn aggregate(
        &self,
        e: &Expr,
    ) -> std::result::Result<Option<(AggKind, Option<Expr>)>, NotIncremental> {
        let Expr::Function(f) = e else {
            return Ok(None);
        };
        let name = f.name.to_string().to_ascii_lowercase();
        if OTHER_AGGREGATES.contains(&name.as_str()) {
            return Err(format!("{} is not incremental", name.to_uppercase()));
        }
        let Some(kind) = AggKind::from_sql_name(&name) else {
            if f.over.is_some() {
                return Err("window functions are recomputed".into());
            }
            return Ok(None);
        };
        if f.over.is_some() {
            return Err("window functions are recomputed".into());
        }
        if f.filter.is_some() || f.null_treatment.is_some() || !f.within_group.is_empty() {
            return Err(format!(
                "{} with FILTER or WITHIN GROUP is recomputed",
                name.to_uppercase()
            ));
        }
        let FunctionArguments::List(list) = &f.args else {
            return Err(format!("{}: unexpected arguments", name.to_uppercase()));
        };
        if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
            return Err(format!(
                "{}(DISTINCT …) and aggregate clauses are recomputed",
                name.to_uppercase()
            ));
        }
        let [arg] = list.args.as_slice() else {
            return Err(format!("{} takes one argument here", name.to_uppercase()));
        };
        let arg = match arg {
            FunctionArg::Unnamed(a) => a,
            _ => return Err("named aggregate arguments are recomputed".into()),
        };
        match (kind, arg) {
            (AggKind::Count, FunctionArgExpr::Wildcard) => Ok(Some((AggKind::CountStar, None))),
            (AggKind::Count, FunctionArgExpr::Expr(Expr::Value(v)))
                if !matches!(v.value, Value::Null) =>
            {
                Ok(Some((AggKind::CountStar, None)))
            }
            (kind, FunctionArgExpr::Expr(arg)) => {
                let nested = visit_expressions(arg, |inner| match inner {
                    Expr::Function(g)
                        if AggKind::from_sql_name(&g.name.to_string().to_ascii_lowercase())
                            .is_some() =>
                    {
                        ControlFlow::Break(())
                    }
                    _ => ControlFlow::Continue(()),
                });
                if nested.is_break() {
                    return Err("nested aggregates are recomputed".into());
                }
                Ok(Some((kind, Some(arg.clone()))))
            }
            _ => Err(format!("{}(*) is recomputed", name.to_uppercase())),
        }
    }

    fn key_index(&self, e: &Expr) -> Option<usize> {
        let text = e.to_string();
        if let Some(i) = self.keys.iter().position(|k| *k == text) {
            return Some(i);
        }
        let name = column_name(e)?;
        let mut matches = self
            .key_columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.as_deref() == Some(name.as_str()));
        match (matches.next(), matches.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }
}

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        match self.aggregate(e) {
            Err(reason) => {
                self.error = Some(reason);
                return ControlFlow::Break(());
            }
            Ok(Some((kind, arg))) => {
                let text = e.to_string();
                let j = match self.aggs.iter().position(|a| a.text == text) {
                    Some(j) => j,
                    None => {
                        self.aggs.push(FoundAgg { text, kind, arg });
                        self.aggs.len() - 1
                    }
                };
                *e = Expr::Identifier(Ident::new(format!("__g{j}")));
                return ControlFlow::Continue(());
            }
            Ok(None) => {}
        }
        if let Some(i) = self.key_index(e) {
            *e = Expr::Identifier(Ident::new(format!("__k{i}")));
        }
        ControlFlow::Continue(())
    }
}

/// The column a plain column reference names (its last part), if `e` is one.
fn column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(id) => Some(id.value.clone()),
        Expr::CompoundIdentifier(ids) => ids.last().map(|id| id.value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incremental(sql: &str) -> Split {
        match analyze(sql).unwrap() {
            Strategy::Incremental(s) => s,
            Strategy::Recompute(r) => panic!("{sql}: {r}"),
        }
    }

    fn recomputed(sql: &str) -> String {
        match analyze(sql).unwrap() {
            Strategy::Recompute(r) => r,
            Strategy::Incremental(s) => panic!("{sql} was split: {s:?}"),
        }
    }

    #[test]
    fn grouped_aggregates_are_split() {
        let s = incremental(
            "SELECT carrier, count(*) AS n, avg(dep_delay) AS mean, max(dep_delay) \
             FROM batch WHERE dep_delay IS NOT NULL GROUP BY carrier HAVING count(*) > 2 \
             ORDER BY mean DESC LIMIT 3",
        );
        assert_eq!(
            s.pane_sql(),
            "SELECT carrier AS __k0, dep_delay AS __a0, dep_delay AS __a1 FROM batch WHERE dep_delay IS NOT NULL"
        );
        assert_eq!(
            s.window_sql,
            "SELECT __k0, __g0 AS n, __g1 AS mean, __g2 FROM batch WHERE __g0 > 2 ORDER BY mean DESC LIMIT 3"
        );
        assert_eq!(s.keys, 1);
        let kinds: Vec<AggKind> = s.aggs.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [AggKind::CountStar, AggKind::Avg, AggKind::Max]);
    }

    #[test]
    fn joins_with_static_tables_and_qualified_keys_are_split() {
        let s = incremental(
            "SELECT a.name, sum(b.x * 2) FROM batch AS b JOIN airlines a ON b.carrier = a.carrier \
             GROUP BY a.name ORDER BY 2",
        );
        assert!(s.pane_sql().contains("JOIN airlines"), "{}", s.pane_sql());
        assert!(s.pane_sql_with("__t").contains("\"b\".\"__t\" AS \"__t\""));
        assert_eq!(s.batch_name, "b");
        assert!(
            s.window_sql.starts_with("SELECT __k0, __g0 FROM batch"),
            "{}",
            s.window_sql
        );
        let g = incremental("SELECT upper(carrier) AS c, count(1) FROM batch GROUP BY 1");
        assert_eq!(g.pane_sql(), "SELECT upper(carrier) AS __k0 FROM batch");
        let c = incremental("SELECT count(*) FROM batch");
        assert_eq!(c.pane_sql(), "SELECT 1 AS __r FROM batch");
        assert_eq!(g.aggs[0].kind, AggKind::CountStar);
    }

    #[test]
    fn what_partials_cannot_hold_is_recomputed() {
        for (sql, why) in [
            ("SELECT DISTINCT carrier FROM batch", "DISTINCT"),
            (
                "SELECT carrier, median(x) FROM batch GROUP BY carrier",
                "MEDIAN",
            ),
            ("SELECT count(DISTINCT carrier) FROM batch", "DISTINCT"),
            (
                "SELECT x, sum(x) OVER (PARTITION BY c) FROM batch",
                "window",
            ),
            ("SELECT * FROM batch WHERE x > 1", "wildcard"),
            ("SELECT x FROM batch WHERE x > 1", "without aggregates"),
            ("SELECT c, x, count(*) FROM batch GROUP BY c", "neither"),
            (
                "SELECT count(*) FROM batch WHERE x IN (SELECT y FROM t)",
                "subquer",
            ),
            (
                "SELECT count(*) FROM t RIGHT JOIN batch ON t.a = batch.a",
                "first table",
            ),
            (
                "SELECT count(*) FROM batch b RIGHT JOIN t ON t.a = b.a",
                "INNER, LEFT",
            ),
            (
                "SELECT count(*) FROM batch UNION SELECT count(*) FROM batch",
                "set operations",
            ),
        ] {
            let reason = recomputed(sql);
            assert!(reason.contains(why), "{sql}: {reason}");
        }
    }

    #[test]
    fn only_single_select_statements_are_accepted() {
        for sql in [
            "DROP TABLE batch",
            "CREATE TABLE x AS SELECT 1",
            "SELECT 1; SELECT 2",
            "SELEKT 1",
        ] {
            assert!(matches!(analyze(sql), Err(FrameError::Sql { .. })), "{sql}");
        }
    }
}

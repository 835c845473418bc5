//! Per-pane partial aggregates: what an incremental windowed query keeps per group.
//!
//! A pane's rows are grouped once, when the pane arrives, into one [`Acc`] per aggregate and
//! group; a window's result is then the panes' partials merged, and a pane that leaves the
//! window is retracted. Every partial here is mergeable ([`Merge`]) and retractable
//! ([`Retract`]), so the core's `reduce_by_key_and_window_inv` keeps the window:
//!
//! | aggregate | partial | retraction |
//! |---|---|---|
//! | `COUNT(*)`, `COUNT(x)` | a count | exact |
//! | `SUM`, `TOTAL`, `AVG` of integers or booleans | exact `i128` sum and count | exact |
//! | `SUM`, `TOTAL`, `AVG`, `VAR`, `STDDEV` of floats | [`Moments`] of the finite values (double-double power sums) and counts of NaN, +∞, −∞ | ≈1e-30 relative |
//! | `MIN`, `MAX` | the extreme of each pane in the window | drops the leaving pane's entry |

use crate::error::{FrameError, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use spate_core::{Merge, Retract};
use spate_stats::Moments;

/// How the values of a column are held in partials and keys: the physical form of its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    Bool,
    /// Signed integers and the temporal types (held as their physical `i64`).
    Int,
    UInt,
    Float,
    /// Strings, categoricals and enums (held as text).
    Str,
}

impl ValueKind {
    /// The kind of a polars type, or `None` for types partials do not hold (lists, structs,
    /// decimals, binary).
    pub(crate) fn of(dtype: &DataType) -> Option<ValueKind> {
        Some(match dtype {
            DataType::Boolean => ValueKind::Bool,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date
            | DataType::Datetime(_, _)
            | DataType::Duration(_)
            | DataType::Time => ValueKind::Int,
            DataType::UInt64 => ValueKind::UInt,
            DataType::Float32 | DataType::Float64 => ValueKind::Float,
            DataType::String | DataType::Categorical(_, _) | DataType::Enum(_, _) => ValueKind::Str,
            _ => return None,
        })
    }

    /// The polars type values of this kind are built in before the cast to the logical type.
    pub(crate) fn physical(self) -> DataType {
        match self {
            ValueKind::Bool => DataType::Boolean,
            ValueKind::Int => DataType::Int64,
            ValueKind::UInt => DataType::UInt64,
            ValueKind::Float => DataType::Float64,
            ValueKind::Str => DataType::String,
        }
    }

    /// `column` converted to this kind's physical type, in one chunk.
    fn convert(self, column: &Column) -> Result<Series> {
        let series = column.as_materialized_series();
        let physical = match self {
            ValueKind::Int => series.to_physical_repr().into_owned(),
            _ => series.clone(),
        };
        Ok(physical.cast(&self.physical())?.rechunk())
    }
}

/// One value of a group key or a `MIN`/`MAX` partial, in physical form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    /// The bits of an `f64`, with −0.0 folded into 0.0 and every NaN into one NaN, so keys
    /// group as polars groups them.
    Float(u64),
    Str(String),
}

impl Scalar {
    fn float(x: f64) -> Scalar {
        let x = if x == 0.0 {
            0.0
        } else if x.is_nan() {
            f64::NAN
        } else {
            x
        };
        Scalar::Float(x.to_bits())
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Float(bits) => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }

    fn is_nan(&self) -> bool {
        self.as_f64().is_some_and(f64::is_nan)
    }

    /// Whether `self` is a better extreme than `other` (`max`: larger, else smaller); NaN
    /// never wins over a number.
    fn beats(&self, other: &Scalar, max: bool) -> bool {
        use std::cmp::Ordering;
        let ord = match (self, other) {
            (Scalar::Float(a), Scalar::Float(b)) => {
                let (a, b) = (f64::from_bits(*a), f64::from_bits(*b));
                match (a.is_nan(), b.is_nan()) {
                    (true, _) => return false,
                    (false, true) => return true,
                    _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                }
            }
            (a, b) => a.cmp(b),
        };
        if max {
            ord == Ordering::Greater
        } else {
            ord == Ordering::Less
        }
    }
}

/// A group's key: one [`Scalar`] per `GROUP BY` expression (empty without `GROUP BY`).
pub(crate) type GroupKey = Vec<Scalar>;

/// Which aggregate a partial feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggKind {
    CountStar,
    Count,
    /// SQL `SUM`: NULL when the group has no non-null value.
    Sum,
    /// SQL `TOTAL`: 0 when the group has no non-null value.
    Total,
    Avg,
    Min,
    Max,
    /// Sample variance (`VAR`, `VARIANCE`, `VAR_SAMP`).
    Var,
    /// Sample standard deviation (`STDDEV`, `STDEV`, `STDDEV_SAMP`, `STDEV_SAMP`).
    Std,
}

impl AggKind {
    /// The aggregate a SQL function name (lowercase) denotes, if it is one partials support.
    pub(crate) fn from_sql_name(name: &str) -> Option<AggKind> {
        Some(match name {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "total" => AggKind::Total,
            "avg" => AggKind::Avg,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "var" | "variance" | "var_samp" => AggKind::Var,
            "stddev" | "stdev" | "stddev_samp" | "stdev_samp" => AggKind::Std,
            _ => return None,
        })
    }

    /// Whether the aggregate can be kept in partials for an argument of kind `arg`.
    pub(crate) fn accepts(self, arg: ValueKind) -> bool {
        match self {
            AggKind::CountStar | AggKind::Count | AggKind::Min | AggKind::Max => true,
            AggKind::Sum | AggKind::Total | AggKind::Avg | AggKind::Var | AggKind::Std => {
                matches!(
                    arg,
                    ValueKind::Bool | ValueKind::Int | ValueKind::UInt | ValueKind::Float
                )
            }
        }
    }
}

/// One aggregate of a query as partials compute it: its kind and the kind of its argument
/// column (`None` for `COUNT(*)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AggSpec {
    pub kind: AggKind,
    pub arg: Option<ValueKind>,
}

impl AggSpec {
    /// The physical type of the aggregate's value in a window frame (`__g` columns), before
    /// the cast to the query's output type.
    pub(crate) fn value_kind(&self) -> ValueKind {
        match (self.kind, self.arg) {
            (AggKind::CountStar | AggKind::Count, _) => ValueKind::UInt,
            (AggKind::Min | AggKind::Max, Some(kind)) => kind,
            (AggKind::Sum | AggKind::Total, Some(ValueKind::Float)) => ValueKind::Float,
            (AggKind::Sum | AggKind::Total, _) => ValueKind::Int,
            _ => ValueKind::Float,
        }
    }
}

/// Float partial: moments of the finite values, and the non-finite values counted apart so
/// that `SUM` and `AVG` follow IEEE rules as polars does (any NaN, or +∞ with −∞, gives NaN).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FloatAcc {
    moments: Moments,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
}

impl FloatAcc {
    fn non_null(&self) -> u64 {
        self.moments.count() + self.nan + self.pos_inf + self.neg_inf
    }

    /// The non-finite result the values force, if any.
    fn non_finite(&self) -> Option<f64> {
        if self.nan > 0 || (self.pos_inf > 0 && self.neg_inf > 0) {
            Some(f64::NAN)
        } else if self.pos_inf > 0 {
            Some(f64::INFINITY)
        } else if self.neg_inf > 0 {
            Some(f64::NEG_INFINITY)
        } else {
            None
        }
    }
}

/// The partial of one aggregate for one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Acc {
    Count(u64),
    IntSum {
        sum: i128,
        n: u64,
    },
    Float(Box<FloatAcc>),
    /// `(pane, extreme of the pane)`, sorted by pane. `MIN` and `MAX` cannot be retracted
    /// from one value, so each pane's extreme is kept until the pane leaves the window.
    Extreme(Vec<(u64, Scalar)>),
}

/// Merges `other` into `acc` (partials of the same aggregate); `max` picks the extreme.
fn merge_acc(acc: &mut Acc, other: &Acc, max: bool) {
    match (acc, other) {
        (Acc::Count(a), Acc::Count(b)) => *a = a.wrapping_add(*b),
        (Acc::IntSum { sum, n }, Acc::IntSum { sum: s, n: m }) => {
            *sum = sum.wrapping_add(*s);
            *n = n.wrapping_add(*m);
        }
        (Acc::Float(a), Acc::Float(b)) => {
            a.moments.merge(&b.moments);
            a.nan += b.nan;
            a.pos_inf += b.pos_inf;
            a.neg_inf += b.neg_inf;
        }
        (Acc::Extreme(panes), Acc::Extreme(others)) => {
            for (pane, value) in others {
                match panes.binary_search_by_key(pane, |(p, _)| *p) {
                    Ok(i) => {
                        if value.beats(&panes[i].1, max) {
                            panes[i].1 = value.clone();
                        }
                    }
                    Err(i) => panes.insert(i, (*pane, value.clone())),
                }
            }
        }
        _ => debug_assert!(false, "merging partials of different aggregates"),
    }
}

/// Removes `other`, merged earlier, from `acc`.
fn retract_acc(acc: &mut Acc, other: &Acc) {
    match (acc, other) {
        (Acc::Count(a), Acc::Count(b)) => *a = a.saturating_sub(*b),
        (Acc::IntSum { sum, n }, Acc::IntSum { sum: s, n: m }) => {
            *sum = sum.wrapping_sub(*s);
            *n = n.saturating_sub(*m);
        }
        (Acc::Float(a), Acc::Float(b)) => {
            a.moments.retract(&b.moments);
            a.nan = a.nan.saturating_sub(b.nan);
            a.pos_inf = a.pos_inf.saturating_sub(b.pos_inf);
            a.neg_inf = a.neg_inf.saturating_sub(b.neg_inf);
        }
        (Acc::Extreme(panes), Acc::Extreme(leaving)) => {
            panes.retain(|(p, _)| leaving.binary_search_by_key(p, |(q, _)| *q).is_err());
        }
        _ => debug_assert!(false, "retracting partials of different aggregates"),
    }
}

/// The partials of one group: one [`Acc`] per aggregate of the query, in order, plus whether
/// each `MIN`/`MAX` picks the largest value. Mergeable and retractable, so the core's
/// windows with an inverse keep them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Partials {
    pub accs: Vec<Acc>,
    /// Per aggregate: whether it is a `MAX` (decides how `Extreme` partials merge).
    pub max: Vec<bool>,
}

impl Merge for Partials {
    fn merge(&mut self, other: &Self) {
        if self.accs.is_empty() {
            *self = other.clone();
            return;
        }
        for ((acc, o), max) in self.accs.iter_mut().zip(&other.accs).zip(&self.max) {
            merge_acc(acc, o, *max);
        }
    }
}

impl Retract for Partials {
    fn retract(&mut self, other: &Self) {
        for (acc, o) in self.accs.iter_mut().zip(&other.accs) {
            retract_acc(acc, o);
        }
    }
}

/// What partials are computed from: the layout of a pane frame (the pane query's output:
/// `keys` key columns first, then one argument column per aggregate that has one).
#[derive(Clone, Debug)]
pub(crate) struct PartialSpec {
    pub keys: Vec<ValueKind>,
    pub aggs: Vec<AggSpec>,
}

impl PartialSpec {
    fn max_flags(&self) -> Vec<bool> {
        self.aggs.iter().map(|a| a.kind == AggKind::Max).collect()
    }

    /// The partials of every group of `pane_frame`, labelled with `pane` (the pane's batch
    /// time, which `MIN`/`MAX` partials remember). A frame without rows has no groups.
    ///
    /// Cost: one polars group-by, then one pass over each aggregate's argument column.
    pub(crate) fn partials(
        &self,
        pane_frame: &DataFrame,
        pane: u64,
    ) -> Result<Vec<(GroupKey, Partials)>> {
        if pane_frame.height() == 0 {
            return Ok(Vec::new());
        }
        let columns = pane_frame.columns();
        let arg_columns = self.aggs.iter().filter(|a| a.arg.is_some()).count();
        if columns.len() < self.keys.len() + arg_columns {
            return Err(FrameError::Sql {
                query: String::new(),
                reason: format!(
                    "internal: a pane frame has {} columns, {} expected",
                    columns.len(),
                    self.keys.len() + arg_columns
                ),
            });
        }
        let keys: Vec<Series> = self
            .keys
            .iter()
            .zip(columns)
            .map(|(kind, c)| kind.convert(c))
            .collect::<Result<_>>()?;
        let mut args = Vec::with_capacity(self.aggs.len());
        let mut next = self.keys.len();
        for agg in &self.aggs {
            match agg.arg {
                Some(kind) => {
                    args.push(Some(Values::new(agg.kind, kind, &columns[next])?));
                    next += 1;
                }
                None => args.push(None),
            }
        }
        let groups = group_rows(pane_frame, self.keys.len())?;
        let max = self.max_flags();
        let mut out = Vec::with_capacity(groups.len());
        let mut buffer = Vec::new();
        for rows in &groups {
            let key = match rows.first() {
                Some(&first) => keys.iter().map(|s| scalar_at(s, first as usize)).collect(),
                None => continue,
            };
            let accs = self
                .aggs
                .iter()
                .zip(&args)
                .map(|(agg, values)| match values {
                    None => Ok(Acc::Count(rows.len() as u64)),
                    Some(values) => values.partial(agg, rows, pane, &mut buffer),
                })
                .collect::<Result<_>>()?;
            out.push((
                key,
                Partials {
                    accs,
                    max: max.clone(),
                },
            ));
        }
        Ok(out)
    }

    /// A frame of `records` (merged window partials), one row per group: key columns
    /// `__k0…` then one `__g0…` column per aggregate with its final value, typed as
    /// `key_types` / the aggregates' value kinds.
    pub(crate) fn window_frame(
        &self,
        records: &[(GroupKey, Partials)],
        key_types: &[DataType],
        value_types: &[DataType],
    ) -> Result<DataFrame> {
        let mut columns = Vec::with_capacity(self.keys.len() + self.aggs.len());
        for (i, (kind, dtype)) in self.keys.iter().zip(key_types).enumerate() {
            let values = records
                .iter()
                .map(|(k, _)| k.get(i).unwrap_or(&Scalar::Null));
            let series = build_series(&format!("__k{i}"), *kind, values)?;
            columns.push(series.cast(dtype)?.into_column());
        }
        for (j, agg) in self.aggs.iter().enumerate() {
            let values: Vec<Scalar> = records
                .iter()
                .map(|(_, p)| p.accs.get(j).map_or(Scalar::Null, |acc| finalize(agg, acc)))
                .collect();
            let series = build_series(&format!("__g{j}"), agg.value_kind(), values.iter())?;
            let series = match value_types.get(j) {
                Some(dtype) if dtype != series.dtype() => series.cast(dtype)?,
                _ => series,
            };
            columns.push(series.into_column());
        }
        Ok(DataFrame::new(records.len(), columns)?)
    }

    /// The schema of [`window_frame`](Self::window_frame)'s frames, for planning.
    pub(crate) fn window_schema(&self, key_types: &[DataType], value_types: &[DataType]) -> Schema {
        let mut schema = Schema::with_capacity(key_types.len() + value_types.len());
        for (i, dtype) in key_types.iter().enumerate() {
            schema.insert(format!("__k{i}").into(), dtype.clone());
        }
        for (j, dtype) in value_types.iter().enumerate() {
            schema.insert(format!("__g{j}").into(), dtype.clone());
        }
        schema
    }
}

/// The row indices of each group of the first `keys` columns (one group of every row when
/// there are no keys).
fn group_rows(frame: &DataFrame, keys: usize) -> Result<Vec<Vec<IdxSize>>> {
    if keys == 0 {
        return Ok(vec![(0..frame.height() as IdxSize).collect()]);
    }
    let names: Vec<PlSmallStr> = frame
        .get_column_names_owned()
        .into_iter()
        .take(keys)
        .collect();
    let grouped = frame.group_by(names)?;
    let groups = grouped.get_groups();
    let mut out = Vec::with_capacity(groups.len());
    for g in groups.iter() {
        out.push(match g {
            GroupsIndicator::Idx((_, rows)) => rows.as_slice().to_vec(),
            GroupsIndicator::Slice([first, len]) => (first..first + len).collect(),
        });
    }
    Ok(out)
}

/// The value of `series` (a physical-kind series, one chunk) at `row`.
fn scalar_at(series: &Series, row: usize) -> Scalar {
    match series.get(row) {
        Ok(AnyValue::Boolean(b)) => Scalar::Bool(b),
        Ok(AnyValue::Int64(x)) => Scalar::Int(x),
        Ok(AnyValue::UInt64(x)) => Scalar::UInt(x),
        Ok(AnyValue::Float64(x)) => Scalar::float(x),
        Ok(AnyValue::String(s)) => Scalar::Str(s.to_string()),
        Ok(AnyValue::StringOwned(s)) => Scalar::Str(s.to_string()),
        _ => Scalar::Null,
    }
}

/// A column of one kind built from scalars (anything not of the kind becomes null).
fn build_series<'a>(
    name: &str,
    kind: ValueKind,
    values: impl Iterator<Item = &'a Scalar>,
) -> Result<Series> {
    let name = PlSmallStr::from(name);
    Ok(match kind {
        ValueKind::Bool => values
            .map(|v| match v {
                Scalar::Bool(b) => Some(*b),
                _ => None,
            })
            .collect::<BooleanChunked>()
            .with_name(name)
            .into_series(),
        ValueKind::Int => values
            .map(|v| match v {
                Scalar::Int(x) => Some(*x),
                _ => None,
            })
            .collect::<Int64Chunked>()
            .with_name(name)
            .into_series(),
        ValueKind::UInt => values
            .map(|v| match v {
                Scalar::UInt(x) => Some(*x),
                _ => None,
            })
            .collect::<UInt64Chunked>()
            .with_name(name)
            .into_series(),
        ValueKind::Float => values
            .map(|v| v.as_f64())
            .collect::<Float64Chunked>()
            .with_name(name)
            .into_series(),
        ValueKind::Str => values
            .map(|v| match v {
                Scalar::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect::<StringChunked>()
            .with_name(name)
            .into_series(),
    })
}

/// An aggregate's argument column in the form its partial reads.
enum Values {
    /// Moments (`SUM`/`AVG` of floats, `VAR`/`STDDEV` of any number).
    Float(Float64Chunked),
    /// Exact sums (`SUM`/`TOTAL`/`AVG` of integers and booleans).
    Int(Int64Chunked),
    /// `COUNT(x)`: which rows are not null.
    Valid(BooleanChunked),
    /// `MIN`/`MAX`: the column in its physical kind.
    Extreme(Series),
}

impl Values {
    fn new(agg: AggKind, kind: ValueKind, column: &Column) -> Result<Values> {
        let series = kind.convert(column)?;
        Ok(match (agg, kind) {
            (AggKind::Count | AggKind::CountStar, _) => Values::Valid(series.is_not_null()),
            (AggKind::Min | AggKind::Max, _) => Values::Extreme(series),
            (AggKind::Var | AggKind::Std, _) | (_, ValueKind::Float) => {
                Values::Float(series.cast(&DataType::Float64)?.f64()?.clone())
            }
            (_, _) => Values::Int(series.cast(&DataType::Int64)?.i64()?.clone()),
        })
    }

    /// The partial of `agg` over `rows` of this column, for pane `pane`.
    fn partial(
        &self,
        agg: &AggSpec,
        rows: &[IdxSize],
        pane: u64,
        buffer: &mut Vec<f64>,
    ) -> Result<Acc> {
        Ok(match self {
            Values::Float(ca) => {
                let mut acc = FloatAcc::default();
                buffer.clear();
                for &r in rows {
                    match ca.get(r as usize) {
                        Some(x) if x.is_finite() => buffer.push(x),
                        Some(x) if x.is_nan() => acc.nan += 1,
                        Some(x) if x > 0.0 => acc.pos_inf += 1,
                        Some(_) => acc.neg_inf += 1,
                        None => {}
                    }
                }
                acc.moments.update(buffer);
                Acc::Float(Box::new(acc))
            }
            Values::Int(ca) => {
                let (mut sum, mut n) = (0_i128, 0_u64);
                for &r in rows {
                    if let Some(x) = ca.get(r as usize) {
                        sum += i128::from(x);
                        n += 1;
                    }
                }
                Acc::IntSum { sum, n }
            }
            Values::Valid(valid) => {
                let n = rows
                    .iter()
                    .filter(|&&r| valid.get(r as usize).unwrap_or(false))
                    .count();
                Acc::Count(n as u64)
            }
            Values::Extreme(series) => {
                let max = agg.kind == AggKind::Max;
                let best = match series.dtype() {
                    DataType::Boolean => {
                        let ca = series.bool()?;
                        extreme(rows.iter().map(|&r| ca.get(r as usize)), max).map(Scalar::Bool)
                    }
                    DataType::Int64 => {
                        let ca = series.i64()?;
                        extreme(rows.iter().map(|&r| ca.get(r as usize)), max).map(Scalar::Int)
                    }
                    DataType::UInt64 => {
                        let ca = series.u64()?;
                        extreme(rows.iter().map(|&r| ca.get(r as usize)), max).map(Scalar::UInt)
                    }
                    DataType::Float64 => {
                        let ca = series.f64()?;
                        extreme(rows.iter().map(|&r| ca.get(r as usize)), max).map(Scalar::float)
                    }
                    _ => {
                        let ca = series.str()?;
                        extreme(rows.iter().map(|&r| ca.get(r as usize)), max)
                            .map(|s| Scalar::Str(s.to_string()))
                    }
                };
                Acc::Extreme(best.map(|b| vec![(pane, b)]).unwrap_or_default())
            }
        })
    }
}

/// The smallest (or, with `max`, largest) non-null value; NaN only when there is nothing
/// else (NaN is the one value not equal to itself).
#[allow(clippy::eq_op)]
fn extreme<T: PartialOrd + Copy>(values: impl Iterator<Item = Option<T>>, max: bool) -> Option<T> {
    let mut best: Option<T> = None;
    for v in values.flatten() {
        best = match best {
            None => Some(v),
            Some(b) if b != b => Some(v),
            Some(b) if v != v => Some(b),
            Some(b) if (max && v > b) || (!max && v < b) => Some(v),
            keep => keep,
        };
    }
    best
}

/// The final value of an aggregate from its merged partial, with polars SQL's semantics
/// (`SUM` of no values is NULL, `TOTAL` 0, `AVG` NULL; `VAR`/`STDDEV` need two values).
fn finalize(agg: &AggSpec, acc: &Acc) -> Scalar {
    let float = |x: Option<f64>| x.map_or(Scalar::Null, Scalar::float);
    match (agg.kind, acc) {
        (AggKind::CountStar | AggKind::Count, Acc::Count(n)) => Scalar::UInt(*n),
        (AggKind::Sum | AggKind::Total, Acc::IntSum { sum, n }) => {
            if *n == 0 && agg.kind == AggKind::Sum {
                Scalar::Null
            } else {
                // Wraps like polars' own integer sums.
                Scalar::Int(*sum as i64)
            }
        }
        (AggKind::Avg, Acc::IntSum { sum, n }) => float((*n > 0).then(|| *sum as f64 / *n as f64)),
        (AggKind::Sum | AggKind::Total, Acc::Float(f)) => {
            if f.non_null() == 0 {
                if agg.kind == AggKind::Sum {
                    Scalar::Null
                } else {
                    Scalar::float(0.0)
                }
            } else {
                float(Some(
                    f.non_finite()
                        .unwrap_or_else(|| f.moments.sum().unwrap_or(0.0)),
                ))
            }
        }
        (AggKind::Avg, Acc::Float(f)) => {
            if f.non_null() == 0 {
                Scalar::Null
            } else {
                float(f.non_finite().or(f.moments.mean()))
            }
        }
        (AggKind::Var | AggKind::Std, Acc::Float(f)) => {
            if f.non_null() < 2 {
                return Scalar::Null;
            }
            let var = if f.non_finite().is_some() {
                Some(f64::NAN)
            } else {
                f.moments.sample_variance()
            };
            float(if agg.kind == AggKind::Std {
                var.map(f64::sqrt)
            } else {
                var
            })
        }
        (AggKind::Min | AggKind::Max, Acc::Extreme(panes)) => {
            let max = agg.kind == AggKind::Max;
            let mut best: Option<&Scalar> = None;
            for (_, v) in panes {
                best = match best {
                    None => Some(v),
                    Some(b) if v.beats(b, max) || b.is_nan() => Some(v),
                    keep => keep,
                };
            }
            best.cloned().unwrap_or(Scalar::Null)
        }
        _ => Scalar::Null,
    }
}

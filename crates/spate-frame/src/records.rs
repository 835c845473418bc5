//! Typed records to frames and back, through serde.
//!
//! A record is a struct (or a map, or a tuple) of scalar fields; each field becomes a column:
//!
//! | Rust field | column |
//! |---|---|
//! | `bool` | Boolean |
//! | `i8`, `i16`, `i32` | Int32 |
//! | `i64` | Int64 |
//! | `u8`, `u16`, `u32` | UInt32 |
//! | `u64` | UInt64 |
//! | `f32` / `f64` | Float32 / Float64 |
//! | `String`, `&str`, `char`, unit enum variants | String |
//! | `Option<T>` | T's column, `None` as null |
//!
//! Types serde writes as strings (`chrono` dates and times) become String columns; give the
//! schema to [`frame_from_records_with`] to have them cast to Date or Datetime. Back from a
//! frame, Date and Datetime values are read as ISO-8601 strings, which is what those types
//! deserialize from, and categoricals as strings. Nested fields (vectors, structs) are
//! rejected with [`FrameError::Records`].

use crate::error::{FrameError, Result};
use crate::frame::Frame;
use crate::stream::FrameStream;
use polars::prelude::*;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Impossible, Serialize};
use spate_core::{DStream, Data};
use std::fmt::Display;
use std::sync::Arc;

/// Serializer and deserializer errors, as `FrameError::Records` in the end.
#[derive(Debug)]
struct RecordError(String);

impl Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RecordError {}

impl ser::Error for RecordError {
    fn custom<T: Display>(msg: T) -> Self {
        RecordError(msg.to_string())
    }
}

impl de::Error for RecordError {
    fn custom<T: Display>(msg: T) -> Self {
        RecordError(msg.to_string())
    }
}

impl From<RecordError> for FrameError {
    fn from(e: RecordError) -> FrameError {
        FrameError::Records(e.0)
    }
}

/// One scalar field value.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    Str(String),
}

/// A column being built; its type is fixed by its first non-null value.
enum Builder {
    Unknown(usize),
    Bool(Vec<Option<bool>>),
    I32(Vec<Option<i32>>),
    I64(Vec<Option<i64>>),
    U32(Vec<Option<u32>>),
    U64(Vec<Option<u64>>),
    F32(Vec<Option<f32>>),
    F64(Vec<Option<f64>>),
    Str(Vec<Option<String>>),
}

impl Builder {
    fn push(&mut self, name: &str, value: Value) -> std::result::Result<(), RecordError> {
        if let Builder::Unknown(nulls) = self {
            let n = *nulls;
            *self = match &value {
                Value::Null => {
                    *nulls += 1;
                    return Ok(());
                }
                Value::Bool(_) => Builder::Bool(vec![None; n]),
                Value::I32(_) => Builder::I32(vec![None; n]),
                Value::I64(_) => Builder::I64(vec![None; n]),
                Value::U32(_) => Builder::U32(vec![None; n]),
                Value::U64(_) => Builder::U64(vec![None; n]),
                Value::F32(_) => Builder::F32(vec![None; n]),
                Value::F64(_) => Builder::F64(vec![None; n]),
                Value::Str(_) => Builder::Str(vec![None; n]),
            };
        }
        match (self, value) {
            (Builder::Bool(v), Value::Bool(x)) => v.push(Some(x)),
            (Builder::I32(v), Value::I32(x)) => v.push(Some(x)),
            (Builder::I64(v), Value::I64(x)) => v.push(Some(x)),
            (Builder::U32(v), Value::U32(x)) => v.push(Some(x)),
            (Builder::U64(v), Value::U64(x)) => v.push(Some(x)),
            (Builder::F32(v), Value::F32(x)) => v.push(Some(x)),
            (Builder::F64(v), Value::F64(x)) => v.push(Some(x)),
            (Builder::Str(v), Value::Str(x)) => v.push(Some(x)),
            (b, Value::Null) => b.push_null(),
            (_, other) => {
                return Err(RecordError(format!(
                    "field `{name}` changes type between records (found {other:?})"
                )));
            }
        }
        Ok(())
    }

    fn push_null(&mut self) {
        match self {
            Builder::Unknown(n) => *n += 1,
            Builder::Bool(v) => v.push(None),
            Builder::I32(v) => v.push(None),
            Builder::I64(v) => v.push(None),
            Builder::U32(v) => v.push(None),
            Builder::U64(v) => v.push(None),
            Builder::F32(v) => v.push(None),
            Builder::F64(v) => v.push(None),
            Builder::Str(v) => v.push(None),
        }
    }

    fn len(&self) -> usize {
        match self {
            Builder::Unknown(n) => *n,
            Builder::Bool(v) => v.len(),
            Builder::I32(v) => v.len(),
            Builder::I64(v) => v.len(),
            Builder::U32(v) => v.len(),
            Builder::U64(v) => v.len(),
            Builder::F32(v) => v.len(),
            Builder::F64(v) => v.len(),
            Builder::Str(v) => v.len(),
        }
    }

    fn finish(self, name: &str) -> Column {
        let name = PlSmallStr::from(name);
        match self {
            Builder::Unknown(n) => Column::full_null(name, n, &DataType::Null),
            Builder::Bool(v) => {
                BooleanChunked::from_iter_options(name, v.into_iter()).into_column()
            }
            Builder::I32(v) => Int32Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Builder::I64(v) => Int64Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Builder::U32(v) => UInt32Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Builder::U64(v) => UInt64Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Builder::F32(v) => Float32Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Builder::F64(v) => Float64Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Builder::Str(v) => StringChunked::from_iter_options(name, v.into_iter()).into_column(),
        }
    }
}

/// Collects the columns of a sequence of records.
#[derive(Default)]
struct Columns {
    names: Vec<String>,
    builders: Vec<Builder>,
    rows: usize,
}

impl Columns {
    fn field(
        &mut self,
        position: usize,
        name: &str,
        value: Value,
    ) -> std::result::Result<(), RecordError> {
        let index = if self.names.get(position).is_some_and(|n| n == name) {
            position
        } else if let Some(i) = self.names.iter().position(|n| n == name) {
            i
        } else {
            self.names.push(name.to_string());
            self.builders.push(Builder::Unknown(self.rows));
            self.names.len() - 1
        };
        self.builders[index].push(name, value)
    }

    /// Ends a record: fields it did not have are null.
    fn end_record(&mut self) {
        self.rows += 1;
        for b in &mut self.builders {
            while b.len() < self.rows {
                b.push_null();
            }
        }
    }

    fn finish(self) -> Result<DataFrame> {
        let columns = self
            .names
            .iter()
            .zip(self.builders)
            .map(|(n, b)| b.finish(n))
            .collect();
        Ok(DataFrame::new(self.rows, columns)?)
    }
}

/// A frame with one row per record; see the [module docs](self) for the column types.
///
/// # Errors
/// [`FrameError::Records`] for a record that is not a struct, map or tuple of scalars, or a
/// field whose type changes between records.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use spate_frame::{frame_from_records, records_from_frame};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Flight { carrier: String, delay: Option<f64>, seats: u32 }
///
/// let flights = vec![
///     Flight { carrier: "AA".into(), delay: Some(3.5), seats: 180 },
///     Flight { carrier: "UA".into(), delay: None, seats: 150 },
/// ];
/// let frame = frame_from_records(&flights)?;
/// assert_eq!(frame.column("delay")?.null_count(), 1);
/// assert_eq!(records_from_frame::<Flight>(&frame)?, flights);
/// # Ok::<(), spate_frame::FrameError>(())
/// ```
pub fn frame_from_records<T: Serialize>(records: &[T]) -> Result<DataFrame> {
    let mut columns = Columns::default();
    for record in records {
        record.serialize(RecordSerializer {
            columns: &mut columns,
        })?;
        columns.end_record();
    }
    columns.finish()
}

/// [`frame_from_records`], then every column cast to `schema`'s type (strings to dates and
/// datetimes, widened integers back), with `schema`'s columns in its order; an empty slice
/// gives an empty frame of `schema`.
///
/// # Errors
/// As [`frame_from_records`]; [`FrameError::SchemaMismatch`] when a field of `schema` is
/// missing or does not cast.
pub fn frame_from_records_with<T: Serialize>(records: &[T], schema: &Schema) -> Result<DataFrame> {
    if records.is_empty() {
        return Ok(DataFrame::empty_with_schema(schema));
    }
    let frame = frame_from_records(records)?;
    let mut columns = Vec::with_capacity(schema.len());
    for (name, dtype) in schema.iter() {
        let column = frame.column(name).map_err(|_| FrameError::SchemaMismatch {
            reason: format!("the records have no field `{name}`"),
        })?;
        let cast = column
            .strict_cast(dtype)
            .map_err(|e| FrameError::SchemaMismatch {
                reason: format!("field `{name}` does not cast to {dtype}: {e}"),
            })?;
        columns.push(cast);
    }
    Ok(DataFrame::new(frame.height(), columns)?)
}

/// The rows of `frame` as records; see the [module docs](self) for the types read.
///
/// # Errors
/// [`FrameError::Records`] when a row does not deserialize as `T` (a missing column, a null
/// for a non-`Option` field, a value out of the field's range).
pub fn records_from_frame<T: DeserializeOwned>(frame: &DataFrame) -> Result<Vec<T>> {
    let columns: Vec<(&str, &Column)> = frame
        .columns()
        .iter()
        .map(|c| (c.name().as_str(), c))
        .collect();
    (0..frame.height())
        .map(|row| {
            T::deserialize(RowDeserializer {
                columns: &columns,
                row,
            })
            .map_err(FrameError::from)
        })
        .collect()
}

/// Typed records ↔ frame streams.
pub trait FrameRecordsExt {
    /// A frame stream of the records: each partition becomes one frame with `schema` (see
    /// [`frame_from_records_with`]). A partition whose records do not fit fails the batch.
    fn to_frames(&self, schema: Schema) -> FrameStream;
}

impl<T: Data + Serialize> FrameRecordsExt for DStream<T> {
    fn to_frames(&self, schema: Schema) -> FrameStream {
        let schema = Arc::new(schema);
        let s = Arc::clone(&schema);
        let frames = self.transform(move |rdd, _| {
            let s = Arc::clone(&s);
            rdd.try_map_partitions(move |records: Vec<T>| {
                frame_from_records_with(&records, &s).map(|df| vec![Frame::new(df)])
            })
        });
        FrameStream::new(frames, schema)
    }
}

impl FrameStream {
    /// The rows of every batch as typed records (one record per row: for typed APIs at the
    /// edges of a pipeline, not for the hot path).
    pub fn to_records<T: Data + DeserializeOwned>(&self) -> DStream<T> {
        self.stream().transform(|rdd, _| {
            rdd.try_map_partitions(|frames: Vec<Frame>| {
                let mut out = Vec::new();
                for frame in &frames {
                    out.extend(records_from_frame::<T>(frame.df())?);
                }
                Ok::<_, FrameError>(out)
            })
        })
    }
}

// ------------------------------------------------------------------ serializer

struct RecordSerializer<'a> {
    columns: &'a mut Columns,
}

fn not_a_record(what: &str) -> RecordError {
    RecordError(format!(
        "a record must be a struct, a map or a tuple of scalar fields, not {what}"
    ))
}

macro_rules! reject_record {
    ($($name:ident($($t:ty),*)),*) => {$(
        fn $name(self, $(_: $t),*) -> std::result::Result<(), RecordError> {
            Err(not_a_record(stringify!($name)))
        }
    )*};
}

impl<'a> ser::Serializer for RecordSerializer<'a> {
    type Ok = ();
    type Error = RecordError;
    type SerializeSeq = Impossible<(), RecordError>;
    type SerializeTuple = FieldsSerializer<'a>;
    type SerializeTupleStruct = FieldsSerializer<'a>;
    type SerializeTupleVariant = Impossible<(), RecordError>;
    type SerializeMap = FieldsSerializer<'a>;
    type SerializeStruct = FieldsSerializer<'a>;
    type SerializeStructVariant = Impossible<(), RecordError>;

    reject_record!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str)
    );

    fn serialize_some<T: Serialize + ?Sized>(
        self,
        value: &T,
    ) -> std::result::Result<(), RecordError> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> std::result::Result<(), RecordError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<(), RecordError> {
        Err(not_a_record("an enum variant"))
    }

    fn serialize_seq(
        self,
        _: Option<usize>,
    ) -> std::result::Result<Self::SerializeSeq, RecordError> {
        Err(not_a_record("a sequence"))
    }

    fn serialize_tuple(self, _: usize) -> std::result::Result<FieldsSerializer<'a>, RecordError> {
        Ok(FieldsSerializer::new(self.columns))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<FieldsSerializer<'a>, RecordError> {
        Ok(FieldsSerializer::new(self.columns))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, RecordError> {
        Err(not_a_record("an enum variant"))
    }

    fn serialize_map(
        self,
        _: Option<usize>,
    ) -> std::result::Result<FieldsSerializer<'a>, RecordError> {
        Ok(FieldsSerializer::new(self.columns))
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<FieldsSerializer<'a>, RecordError> {
        Ok(FieldsSerializer::new(self.columns))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, RecordError> {
        Err(not_a_record("an enum variant"))
    }
}

/// The fields of one record.
struct FieldsSerializer<'a> {
    columns: &'a mut Columns,
    position: usize,
    key: Option<String>,
}

impl<'a> FieldsSerializer<'a> {
    fn new(columns: &'a mut Columns) -> Self {
        FieldsSerializer {
            columns,
            position: 0,
            key: None,
        }
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> std::result::Result<(), RecordError> {
        let v = value
            .serialize(ValueSerializer)
            .map_err(|e| RecordError(format!("field `{name}`: {}", e.0)))?;
        self.columns.field(self.position, name, v)?;
        self.position += 1;
        Ok(())
    }
}

impl ser::SerializeStruct for FieldsSerializer<'_> {
    type Ok = ();
    type Error = RecordError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> std::result::Result<(), RecordError> {
        self.field(key, value)
    }

    fn end(self) -> std::result::Result<(), RecordError> {
        Ok(())
    }
}

impl ser::SerializeTuple for FieldsSerializer<'_> {
    type Ok = ();
    type Error = RecordError;

    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), RecordError> {
        let name = self.position.to_string();
        self.field(&name, value)
    }

    fn end(self) -> std::result::Result<(), RecordError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for FieldsSerializer<'_> {
    type Ok = ();
    type Error = RecordError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), RecordError> {
        ser::SerializeTuple::serialize_element(self, value)
    }

    fn end(self) -> std::result::Result<(), RecordError> {
        Ok(())
    }
}

impl ser::SerializeMap for FieldsSerializer<'_> {
    type Ok = ();
    type Error = RecordError;

    fn serialize_key<T: Serialize + ?Sized>(
        &mut self,
        key: &T,
    ) -> std::result::Result<(), RecordError> {
        match key.serialize(ValueSerializer)? {
            Value::Str(s) => {
                self.key = Some(s);
                Ok(())
            }
            other => Err(RecordError(format!(
                "map keys must be strings, found {other:?}"
            ))),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), RecordError> {
        let key = self.key.take().unwrap_or_default();
        self.field(&key, value)
    }

    fn end(self) -> std::result::Result<(), RecordError> {
        Ok(())
    }
}

/// Serializes one scalar field.
struct ValueSerializer;

fn nested(what: &str) -> RecordError {
    RecordError(format!(
        "{what} fields are not supported; flatten them into scalar fields"
    ))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = RecordError;
    type SerializeSeq = Impossible<Value, RecordError>;
    type SerializeTuple = Impossible<Value, RecordError>;
    type SerializeTupleStruct = Impossible<Value, RecordError>;
    type SerializeTupleVariant = Impossible<Value, RecordError>;
    type SerializeMap = Impossible<Value, RecordError>;
    type SerializeStruct = Impossible<Value, RecordError>;
    type SerializeStructVariant = Impossible<Value, RecordError>;

    fn serialize_bool(self, v: bool) -> std::result::Result<Value, RecordError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> std::result::Result<Value, RecordError> {
        Ok(Value::I32(v.into()))
    }
    fn serialize_i16(self, v: i16) -> std::result::Result<Value, RecordError> {
        Ok(Value::I32(v.into()))
    }
    fn serialize_i32(self, v: i32) -> std::result::Result<Value, RecordError> {
        Ok(Value::I32(v))
    }
    fn serialize_i64(self, v: i64) -> std::result::Result<Value, RecordError> {
        Ok(Value::I64(v))
    }
    fn serialize_u8(self, v: u8) -> std::result::Result<Value, RecordError> {
        Ok(Value::U32(v.into()))
    }
    fn serialize_u16(self, v: u16) -> std::result::Result<Value, RecordError> {
        Ok(Value::U32(v.into()))
    }
    fn serialize_u32(self, v: u32) -> std::result::Result<Value, RecordError> {
        Ok(Value::U32(v))
    }
    fn serialize_u64(self, v: u64) -> std::result::Result<Value, RecordError> {
        Ok(Value::U64(v))
    }
    fn serialize_f32(self, v: f32) -> std::result::Result<Value, RecordError> {
        Ok(Value::F32(v))
    }
    fn serialize_f64(self, v: f64) -> std::result::Result<Value, RecordError> {
        Ok(Value::F64(v))
    }
    fn serialize_char(self, v: char) -> std::result::Result<Value, RecordError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> std::result::Result<Value, RecordError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_bytes(self, _: &[u8]) -> std::result::Result<Value, RecordError> {
        Err(nested("byte-string"))
    }
    fn serialize_none(self) -> std::result::Result<Value, RecordError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(
        self,
        value: &T,
    ) -> std::result::Result<Value, RecordError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> std::result::Result<Value, RecordError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> std::result::Result<Value, RecordError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> std::result::Result<Value, RecordError> {
        Ok(Value::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> std::result::Result<Value, RecordError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<Value, RecordError> {
        Err(nested("enum-with-data"))
    }
    fn serialize_seq(
        self,
        _: Option<usize>,
    ) -> std::result::Result<Self::SerializeSeq, RecordError> {
        Err(nested("sequence"))
    }
    fn serialize_tuple(self, _: usize) -> std::result::Result<Self::SerializeTuple, RecordError> {
        Err(nested("tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, RecordError> {
        Err(nested("tuple-struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, RecordError> {
        Err(nested("enum-with-data"))
    }
    fn serialize_map(
        self,
        _: Option<usize>,
    ) -> std::result::Result<Self::SerializeMap, RecordError> {
        Err(nested("map"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStruct, RecordError> {
        Err(nested("struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, RecordError> {
        Err(nested("enum-with-data"))
    }
}

// ------------------------------------------------------------------ deserializer

/// One row of a frame, as a map of column name to value (or a sequence, for tuples).
struct RowDeserializer<'a> {
    columns: &'a [(&'a str, &'a Column)],
    row: usize,
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'_> {
    type Error = RecordError;

    fn deserialize_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, RecordError> {
        visitor.visit_map(RowFields {
            columns: self.columns,
            row: self.row,
            next: 0,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, RecordError> {
        visitor.visit_seq(RowFields {
            columns: self.columns,
            row: self.row,
            next: 0,
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, RecordError> {
        self.deserialize_tuple(len, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq
        map struct enum identifier ignored_any
    }
}

struct RowFields<'a> {
    columns: &'a [(&'a str, &'a Column)],
    row: usize,
    next: usize,
}

impl<'de> de::MapAccess<'de> for RowFields<'_> {
    type Error = RecordError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, RecordError> {
        match self.columns.get(self.next) {
            Some((name, _)) => seed.deserialize((*name).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, RecordError> {
        let (name, column) = self.columns[self.next];
        self.next += 1;
        let value = column
            .get(self.row)
            .map_err(|e| RecordError(format!("column `{name}`: {e}")))?;
        seed.deserialize(CellDeserializer(value))
            .map_err(|e| RecordError(format!("column `{name}`: {}", e.0)))
    }
}

impl<'de> de::SeqAccess<'de> for RowFields<'_> {
    type Error = RecordError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, RecordError> {
        if self.next >= self.columns.len() {
            return Ok(None);
        }
        de::MapAccess::next_value_seed(self, seed).map(Some)
    }
}

/// One cell of a frame.
struct CellDeserializer<'a>(AnyValue<'a>);

impl<'de> de::Deserializer<'de> for CellDeserializer<'_> {
    type Error = RecordError;

    fn deserialize_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, RecordError> {
        match self.0 {
            AnyValue::Null => visitor.visit_none(),
            AnyValue::Boolean(b) => visitor.visit_bool(b),
            AnyValue::UInt8(x) => visitor.visit_u8(x),
            AnyValue::UInt16(x) => visitor.visit_u16(x),
            AnyValue::UInt32(x) => visitor.visit_u32(x),
            AnyValue::UInt64(x) => visitor.visit_u64(x),
            AnyValue::Int8(x) => visitor.visit_i8(x),
            AnyValue::Int16(x) => visitor.visit_i16(x),
            AnyValue::Int32(x) => visitor.visit_i32(x),
            AnyValue::Int64(x) => visitor.visit_i64(x),
            AnyValue::Float32(x) => visitor.visit_f32(x),
            AnyValue::Float64(x) => visitor.visit_f64(x),
            AnyValue::String(s) => visitor.visit_str(s),
            AnyValue::StringOwned(s) => visitor.visit_str(s.as_str()),
            other => match text_of(&other) {
                Some(text) => visitor.visit_string(text),
                None => Err(RecordError(format!(
                    "values of type {} are not supported",
                    other.dtype()
                ))),
            },
        }
    }

    fn deserialize_option<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, RecordError> {
        match self.0 {
            AnyValue::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, RecordError> {
        match text_of(&self.0) {
            Some(text) => visitor.visit_enum(text.into_deserializer()),
            None => Err(RecordError(format!(
                "an enum variant needs a string, found {}",
                self.0
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, RecordError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct
        map struct identifier ignored_any
    }
}

/// Text of string-like and temporal values: dates and datetimes in ISO 8601.
fn text_of(value: &AnyValue<'_>) -> Option<String> {
    match value {
        AnyValue::String(s) => Some((*s).to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        AnyValue::Categorical(..)
        | AnyValue::CategoricalOwned(..)
        | AnyValue::Enum(..)
        | AnyValue::EnumOwned(..) => value.get_str().map(str::to_string),
        AnyValue::Date(_) => Some(value.to_string()),
        AnyValue::Datetime(_, _, tz) => {
            let text = value.to_string().replacen(' ', "T", 1);
            Some(if tz.is_some() {
                text.replace(" UTC", "Z")
            } else {
                text
            })
        }
        AnyValue::DatetimeOwned(_, _, tz) => {
            let text = value.to_string().replacen(' ', "T", 1);
            Some(if tz.is_some() {
                text.replace(" UTC", "Z")
            } else {
                text
            })
        }
        AnyValue::Time(_) | AnyValue::Duration(_, _) => Some(value.to_string()),
        _ => None,
    }
}

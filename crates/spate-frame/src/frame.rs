//! [`Frame`]: a polars `DataFrame` as a record of a Spate stream.

use crate::error::{FrameError, Result};
use polars::prelude::{DataFrame, IpcReader, IpcWriter, Schema, SchemaRef, SerReader, SerWriter};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One micro-batch chunk of a frame stream: a polars [`DataFrame`].
///
/// A frame is an ordinary record of the core (`Clone + Send + Sync + Serialize +
/// DeserializeOwned`), so a `DStream<Frame>` is checkpointed, windowed and shuffled like any
/// other stream. Each partition of a batch holds one frame (or a few): work is done a whole
/// frame at a time, never row by row.
///
/// - **Clone** shares the columns (polars columns are reference-counted): O(columns).
/// - **Serialization** is the Arrow IPC file format, uncompressed: dtypes (including
///   categorical, date and time types), nulls and NaN payloads survive a round trip exactly.
/// - **Equality** compares schemas and values, with nulls equal to nulls.
///
/// ```
/// use polars::prelude::*;
/// use spate_frame::Frame;
///
/// let frame = Frame::new(df!("carrier" => ["AA", "UA"], "delay" => [Some(3.5), None])?);
/// let bytes = bincode::serialize(&frame)?;
/// let back: Frame = bincode::deserialize(&bytes)?;
/// assert_eq!(back, frame);
/// assert_eq!(back.column("delay")?.null_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Frame {
    df: DataFrame,
}

impl Frame {
    /// Wraps a data frame.
    pub fn new(df: DataFrame) -> Frame {
        Frame { df }
    }

    /// A frame with no rows and the columns of `schema`.
    pub fn empty(schema: &Schema) -> Frame {
        Frame::new(DataFrame::empty_with_schema(schema))
    }

    /// The data frame.
    pub fn df(&self) -> &DataFrame {
        &self.df
    }

    /// The data frame, by value.
    pub fn into_df(self) -> DataFrame {
        self.df
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.df.height()
    }

    /// Whether the frame has no rows.
    pub fn is_empty(&self) -> bool {
        self.df.height() == 0
    }

    /// The frame's schema.
    pub fn schema(&self) -> SchemaRef {
        self.df.schema().clone()
    }

    /// The frame as Arrow IPC file bytes (uncompressed), the form it takes in checkpoints.
    ///
    /// # Errors
    /// [`FrameError::Polars`] when a column cannot be written as Arrow (polars object columns).
    pub fn to_ipc(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut df = self.df.clone();
        IpcWriter::new(&mut bytes)
            .with_parallel(false)
            .finish(&mut df)?;
        Ok(bytes)
    }

    /// A frame from bytes written by [`to_ipc`](Self::to_ipc) (or any Arrow IPC file).
    ///
    /// # Errors
    /// [`FrameError::Polars`] when the bytes are not an Arrow IPC file.
    pub fn from_ipc(bytes: &[u8]) -> Result<Frame> {
        let df = IpcReader::new(std::io::Cursor::new(bytes)).finish()?;
        Ok(Frame::new(df))
    }

    /// All `frames` stacked vertically, in order; `schema` gives the columns of the result
    /// when there are no frames. O(frames × columns): the chunks are shared, not copied.
    ///
    /// # Errors
    /// [`FrameError::SchemaMismatch`] when the frames have different schemas.
    pub fn concat<'a>(
        frames: impl IntoIterator<Item = &'a Frame>,
        schema: &Schema,
    ) -> Result<Frame> {
        let mut out: Option<DataFrame> = None;
        for frame in frames {
            match &mut out {
                None => out = Some(frame.df.clone()),
                Some(acc) => {
                    acc.vstack_mut(&frame.df)
                        .map_err(|e| FrameError::SchemaMismatch {
                            reason: e.to_string(),
                        })?;
                }
            }
        }
        Ok(match out {
            Some(df) => Frame::new(df),
            None => Frame::empty(schema),
        })
    }
}

impl std::ops::Deref for Frame {
    type Target = DataFrame;

    fn deref(&self) -> &DataFrame {
        &self.df
    }
}

impl From<DataFrame> for Frame {
    fn from(df: DataFrame) -> Frame {
        Frame::new(df)
    }
}

impl From<Frame> for DataFrame {
    fn from(frame: Frame) -> DataFrame {
        frame.df
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        self.df.schema() == other.df.schema() && self.df.equals_missing(&other.df)
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Frame({} rows, {:?})",
            self.df.height(),
            self.df.schema()
        )
    }
}

impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let bytes = self.to_ipc().map_err(serde::ser::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Frame, D::Error> {
        deserializer.deserialize_bytes(IpcBytes)
    }
}

/// Accepts the IPC bytes as a byte string or as a sequence of bytes (self-describing formats
/// such as JSON write `serialize_bytes` as an array).
struct IpcBytes;

impl<'de> Visitor<'de> for IpcBytes {
    type Value = Frame;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Arrow IPC bytes of a frame")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> std::result::Result<Frame, E> {
        Frame::from_ipc(bytes).map_err(E::custom)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Frame, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Frame::from_ipc(&bytes).map_err(de::Error::custom)
    }
}

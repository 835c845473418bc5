//! Newline-delimited JSON in row chunks: lines are split here, polars parses each chunk with
//! the stream's schema.

use super::{Chunk, Position, ReadOptions, RowReader, TextInput};
use crate::error::{FrameError, Result};
use polars::prelude::*;
use polars_io::json::{JsonFormat, JsonReader};
use std::io::Cursor;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

/// Splits a text input into lines of at most `max_bytes` (longer ones are consumed and
/// flagged).
struct Lines {
    path: PathBuf,
    input: TextInput,
    max_bytes: usize,
}

impl Lines {
    /// The next non-blank line into `raw`, without its line ending; `Some(false)` for a line
    /// that was too long, `None` at the end.
    fn next(&mut self, raw: &mut Vec<u8>) -> Result<Option<bool>> {
        loop {
            raw.clear();
            let mut too_long = false;
            let mut saw_any = false;
            loop {
                let buf = self
                    .input
                    .fill()
                    .map_err(|e| FrameError::io(&self.path, e))?;
                if buf.is_empty() {
                    break;
                }
                saw_any = true;
                let (take, found) = match memchr_newline(buf) {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                if raw.len() + take <= self.max_bytes {
                    raw.extend_from_slice(&buf[..take]);
                } else {
                    too_long = true;
                }
                self.input.consume(take);
                if found {
                    break;
                }
            }
            if !saw_any {
                return Ok(None);
            }
            while matches!(raw.last(), Some(b'\n' | b'\r')) {
                raw.pop();
            }
            if too_long {
                return Ok(Some(false));
            }
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(true));
        }
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|b| *b == b'\n')
}

/// The schema of an NDJSON file, inferred by polars from its first lines.
pub(crate) fn infer_schema(path: &Path, options: &ReadOptions) -> Result<Schema> {
    let mut lines = Lines {
        path: path.to_path_buf(),
        input: TextInput::open(path, 0)?,
        max_bytes: options.max_row_bytes,
    };
    let mut sample = Vec::new();
    let mut raw = Vec::new();
    let mut rows = 0;
    while rows < options.infer_schema_rows {
        match lines.next(&mut raw)? {
            None => break,
            Some(false) => continue,
            Some(true) => {
                sample.extend_from_slice(&raw);
                sample.push(b'\n');
                rows += 1;
            }
        }
    }
    if rows == 0 {
        return Err(FrameError::BadInput {
            path: path.to_path_buf(),
            reason: "no JSON lines to infer a schema from; give the schema".into(),
        });
    }
    if let Ok(schema) =
        polars_io::ndjson::infer_schema(&mut Cursor::new(&sample), NonZeroUsize::new(rows))
    {
        return Ok(schema);
    }
    // Some line is not a JSON object: infer from the lines that are.
    let good: Vec<u8> = sample
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter(|line| {
            polars_io::ndjson::infer_schema(&mut Cursor::new(*line), NonZeroUsize::new(1)).is_ok()
        })
        .flat_map(|line| line.iter().copied().chain(std::iter::once(b'\n')))
        .collect();
    polars_io::ndjson::infer_schema(&mut Cursor::new(&good), NonZeroUsize::new(rows)).map_err(|e| {
        FrameError::BadInput {
            path: path.to_path_buf(),
            reason: format!("cannot infer a schema from the first {rows} lines: {e}"),
        }
    })
}

/// An NDJSON file read in row chunks with a fixed schema.
pub(crate) struct NdjsonReader {
    path: PathBuf,
    lines: Lines,
    schema: SchemaRef,
    row: u64,
    done: bool,
}

impl NdjsonReader {
    pub(crate) fn open(
        path: &Path,
        schema: &SchemaRef,
        options: &ReadOptions,
        at: Position,
    ) -> Result<NdjsonReader> {
        Ok(NdjsonReader {
            path: path.to_path_buf(),
            lines: Lines {
                path: path.to_path_buf(),
                input: TextInput::open(path, at.byte)?,
                max_bytes: options.max_row_bytes,
            },
            schema: schema.clone(),
            row: at.row,
            done: false,
        })
    }

    fn parse(&self, bytes: Vec<u8>) -> PolarsResult<DataFrame> {
        JsonReader::new(Cursor::new(bytes))
            .with_json_format(JsonFormat::JsonLines)
            .with_schema(self.schema.clone())
            .finish()
    }
}

impl RowReader for NdjsonReader {
    fn next_rows(&mut self, max_rows: usize) -> Result<Chunk> {
        let start = self.lines.input.offset;
        let mut chunk = Vec::new();
        let mut rows: Vec<Vec<u8>> = Vec::new();
        let mut skipped = 0;
        let mut raw = Vec::new();
        while rows.len() < max_rows {
            match self.lines.next(&mut raw)? {
                None => {
                    self.done = true;
                    break;
                }
                Some(false) => {
                    skipped += 1;
                    tracing::warn!(file = %self.path.display(), "skipping a JSON line longer than the row limit");
                }
                Some(true) => {
                    chunk.extend_from_slice(&raw);
                    chunk.push(b'\n');
                    rows.push(std::mem::take(&mut raw));
                }
            }
        }
        if !self.done {
            self.done = self
                .lines
                .input
                .fill()
                .map_err(|e| FrameError::io(&self.path, e))?
                .is_empty();
        }
        let bytes = self.lines.input.offset - start;
        let frame = if rows.is_empty() {
            DataFrame::empty_with_schema(&self.schema)
        } else {
            match self.parse(chunk) {
                Ok(df) if df.height() == rows.len() => df,
                _ => {
                    let mut good = DataFrame::empty_with_schema(&self.schema);
                    for row in &rows {
                        let mut bytes = row.clone();
                        bytes.push(b'\n');
                        match self.parse(bytes) {
                            Ok(df) if df.height() == 1 => {
                                good.vstack_mut_owned(df)?;
                            }
                            _ => {
                                skipped += 1;
                                tracing::warn!(file = %self.path.display(), line = %String::from_utf8_lossy(row), "skipping a line that is not a JSON object of the schema");
                            }
                        }
                    }
                    good
                }
            }
        };
        self.row += frame.height() as u64 + skipped;
        Ok(Chunk {
            frame,
            skipped,
            bytes,
        })
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn position(&self) -> Position {
        Position {
            byte: self.lines.input.offset,
            row: self.row,
        }
    }
}

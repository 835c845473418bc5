//! Parquet files in row chunks: each chunk is a row slice read with polars.

use super::{Chunk, Position, RowReader};
use crate::error::{FrameError, Result};
use polars::prelude::*;
use std::path::{Path, PathBuf};

fn open(path: &Path) -> Result<ParquetReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| FrameError::io(path, e))?;
    Ok(ParquetReader::new(file))
}

fn unreadable(path: &Path, e: PolarsError) -> FrameError {
    FrameError::BadInput {
        path: path.to_path_buf(),
        reason: format!("not a readable Parquet file: {e}"),
    }
}

/// The schema in a Parquet file's footer.
pub(crate) fn schema(path: &Path) -> Result<Schema> {
    let arrow = open(path)?.schema().map_err(|e| unreadable(path, e))?;
    Ok(Schema::from_arrow_schema(arrow.as_ref()))
}

/// A Parquet file read in row slices.
pub(crate) struct ParquetRows {
    path: PathBuf,
    schema: SchemaRef,
    rows: u64,
    next: u64,
}

impl ParquetRows {
    pub(crate) fn open(path: &Path, schema: &SchemaRef, at: Position) -> Result<ParquetRows> {
        let mut reader = open(path)?;
        let rows = reader.num_rows().map_err(|e| unreadable(path, e))? as u64;
        if at.row > rows {
            return Err(FrameError::BadOffset {
                path: path.to_path_buf(),
                reason: format!(
                    "row {} is past the file's {rows} rows; was it rewritten?",
                    at.row
                ),
            });
        }
        let arrow = reader.schema().map_err(|e| unreadable(path, e))?;
        let found = Schema::from_arrow_schema(arrow.as_ref());
        for (name, _) in schema.iter() {
            if found.get(name).is_none() {
                return Err(FrameError::BadInput {
                    path: path.to_path_buf(),
                    reason: format!("the file has no column `{name}`"),
                });
            }
        }
        Ok(ParquetRows {
            path: path.to_path_buf(),
            schema: schema.clone(),
            rows,
            next: at.row,
        })
    }
}

impl RowReader for ParquetRows {
    fn next_rows(&mut self, max_rows: usize) -> Result<Chunk> {
        let n = (self.rows - self.next).min(max_rows as u64) as usize;
        if n == 0 {
            return Ok(Chunk {
                frame: DataFrame::empty_with_schema(&self.schema),
                skipped: 0,
                bytes: 0,
            });
        }
        let df = open(&self.path)?
            .with_slice(Some((self.next as usize, n)))
            .finish()
            .map_err(|e| unreadable(&self.path, e))?;
        let names: Vec<PlSmallStr> = self.schema.iter_names().cloned().collect();
        let df = crate::sql::conform(df.select(names)?, &self.schema)?;
        self.next += df.height() as u64;
        Ok(Chunk {
            frame: df,
            skipped: 0,
            bytes: 0,
        })
    }

    fn is_done(&self) -> bool {
        self.next >= self.rows
    }

    fn position(&self) -> Position {
        Position {
            byte: 0,
            row: self.next,
        }
    }
}
